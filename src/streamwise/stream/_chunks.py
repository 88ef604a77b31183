"""Chunk types of the stream protocol (PROTOCOL.md §1, §2, §6), as plain dicts.

A chunk is a JSON-ready ``dict`` with camelCase keys, exactly as it goes on the wire:
``{"type", "runId", "from", "payload"}``. Nothing is validated per chunk: the hot path builds
dicts inline in the agent loop, and these ``TypedDict``\\ s say what each type carries so that
readers can narrow with :func:`is_chunk`.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict, TypeGuard

__all__ = (
    "AGENT",
    "USER",
    "WORKFLOW",
    "Chunk",
    "ChunkFrom",
    "DataChunk",
    "ErrorInfo",
    "ErrorPayload",
    "FinishPayload",
    "StepFinishPayload",
    "StepStartPayload",
    "TextDeltaPayload",
    "ToolCallPayload",
    "ToolErrorPayload",
    "ToolOutputPayload",
    "ToolResultPayload",
    "Usage",
    "error_info",
    "is_chunk",
    "is_data_chunk",
)

ChunkFrom = Literal["AGENT", "WORKFLOW", "USER", "NETWORK", "SYSTEM"]
AGENT: ChunkFrom = "AGENT"
WORKFLOW: ChunkFrom = "WORKFLOW"
USER: ChunkFrom = "USER"

Chunk = dict[str, Any]
"""Any chunk. Plain on purpose: the hot path builds and forwards these without copying."""


class Usage(TypedDict):
    """Token usage, as in every ``step-finish`` / ``finish`` payload."""

    inputTokens: int
    outputTokens: int
    totalTokens: int
    reasoningTokens: int
    cachedInputTokens: int


class ErrorInfo(TypedDict):
    """An error as it travels in a chunk: a message, the error class name, optional details."""

    message: str
    name: str
    details: NotRequired[Any]


class TextDeltaPayload(TypedDict):
    """Payload of ``text-delta`` and ``reasoning-delta``: the increment only."""

    id: str
    text: str


class StepStartPayload(TypedDict):
    """Payload of ``step-start``."""

    messageId: str
    request: dict[str, Any]
    warnings: list[Any]
    startedAt: int


class ToolCallPayload(TypedDict):
    """Payload of ``tool-call``: ``args`` is the parsed JSON object the model sent."""

    toolCallId: str
    toolName: str
    args: Any


class ToolOutputPayload(TypedDict):
    """Payload of ``tool-output`` (``from: USER``): one per ``writer.write()`` in the tool."""

    output: Any
    toolCallId: str
    toolName: str


class ToolResultPayload(TypedDict):
    """Payload of ``tool-result``."""

    toolCallId: str
    toolName: str
    result: Any
    args: NotRequired[Any]


class ToolErrorPayload(TypedDict):
    """Payload of ``tool-error``."""

    toolCallId: str
    toolName: str
    error: ErrorInfo
    args: NotRequired[Any]


class StepFinishPayload(TypedDict):
    """Payload of ``step-finish``: ``output.usage`` is this step's own usage."""

    messageId: str
    stepResult: dict[str, Any]
    output: dict[str, Any]
    metadata: dict[str, Any]


class FinishPayload(TypedDict):
    """Payload of ``finish``: ``output.usage`` and ``totalUsage`` are the run's total usage."""

    messageId: str
    stepResult: dict[str, Any]
    output: dict[str, Any]
    totalUsage: Usage
    metadata: dict[str, Any]


class ErrorPayload(TypedDict):
    """Payload of ``error``."""

    error: ErrorInfo


class DataChunk(TypedDict):
    """A ``data-<name>`` chunk: no envelope (PROTOCOL.md §1)."""

    type: str
    data: Any
    id: NotRequired[str]
    transient: NotRequired[bool]


def is_chunk(chunk: Chunk, type_: str) -> bool:
    """True when ``chunk`` is of the given ``type``."""
    return chunk.get("type") == type_


def is_data_chunk(chunk: Chunk) -> TypeGuard[DataChunk]:
    """True for a top-level ``data-*`` chunk."""
    t = chunk.get("type")
    return isinstance(t, str) and t.startswith("data-")


def error_info(exc: BaseException) -> ErrorInfo:
    """The chunk form of an exception: its message, class name and details when it has any."""
    info: ErrorInfo = {"message": str(exc) or type(exc).__name__, "name": type(exc).__name__}
    details = getattr(exc, "details", None)
    if callable(details):
        value = details()
        if value:
            info["details"] = value
    return info
