"""The model interface: one streaming call in, stream parts out (like the AI SDK's LanguageModelV2).

A provider implements :class:`LanguageModel`: ``stream(request)`` returns an async iterator of
:data:`ModelPart` dicts. The agent loop turns parts into chunks (PROTOCOL.md §2). A provider
either yields an ``error`` part or raises; both end the run with an ``error`` chunk. Closing the
iterator (``aclose()``, which happens on cancel) must close the provider's HTTP stream.

Messages sent to the model (:data:`ModelMessage`) are plain dicts too::

    {"role": "system", "content": "You are…"}
    {"role": "user", "content": "Hi"}                      # or a list of {"type": "text", "text"}
    {"role": "assistant", "content": [
        {"type": "reasoning", "text": "…"},
        {"type": "text", "text": "…"},
        {"type": "tool-call", "toolCallId": "c1", "toolName": "search", "input": {"q": "x"}}]}
    {"role": "tool", "content": [
        {"type": "tool-result", "toolCallId": "c1", "toolName": "search",
         "output": {...}, "isError": False}]}
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal, NotRequired, Protocol, TypedDict, runtime_checkable

__all__ = (
    "FinishReason",
    "LanguageModel",
    "ModelMessage",
    "ModelPart",
    "ModelRequest",
    "ToolSpec",
)

FinishReason = Literal["stop", "length", "tool-calls", "content-filter", "error", "other", "abort"]

ModelMessage = dict[str, Any]
"""One message of the conversation sent to the model (see the module docstring)."""

ModelPart = dict[str, Any]
"""One stream part from the model. Types and keys:

- ``response-metadata``: ``id?``, ``modelId?``, ``timestamp?`` (ISO 8601 string)
- ``text-start`` / ``text-end``: ``id``; ``text-delta``: ``id``, ``delta``
- ``reasoning-start`` / ``reasoning-end``: ``id``; ``reasoning-delta``: ``id``, ``delta``
- ``tool-input-start``: ``id`` (the tool call id), ``toolName``; ``tool-input-delta``: ``id``,
  ``delta``; ``tool-input-end``: ``id``
- ``tool-call``: ``toolCallId``, ``toolName``, ``input`` (the arguments as a JSON **string**)
- ``source``: ``id``, ``sourceType`` (``url`` | ``document``), ``title?``, ``url?``,
  ``mimeType?``, ``filename?``
- ``file``: ``data`` (base64), ``mimeType``, ``filename?``
- ``finish``: ``finishReason`` (:data:`FinishReason`), ``usage`` (``inputTokens``,
  ``outputTokens``, ``totalTokens?``, ``reasoningTokens?``, ``cachedInputTokens?``)
- ``error``: ``error`` (an exception or a message)
"""


class ToolSpec(TypedDict):
    """A tool as the model sees it: name, description and the JSON Schema of its input."""

    name: str
    description: str
    inputSchema: dict[str, Any]


class ModelRequest(TypedDict):
    """One call to the model."""

    messages: list[ModelMessage]
    tools: list[ToolSpec]
    options: NotRequired[dict[str, Any]]
    """Provider options (``temperature``, ``max_output_tokens``, …), passed through."""


@runtime_checkable
class LanguageModel(Protocol):
    """A streaming chat model."""

    @property
    def provider(self) -> str:
        """The provider's name, e.g. ``openai``."""

    @property
    def model_id(self) -> str:
        """The model's id at the provider, e.g. ``gpt-4.1-mini``."""

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelPart]:
        """Start one model call and yield its stream parts until ``finish`` (or an error)."""
        ...
