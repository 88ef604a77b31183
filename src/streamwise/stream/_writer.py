"""Writers: how tools and workflow steps put their own chunks into a run (PROTOCOL.md §4).

``write(x)`` wraps ``x`` (any JSON value, or a whole child chunk) in the owner's envelope;
``custom({...})`` forwards a ``data-*`` chunk unwrapped to the top level. Both append
synchronously to the run's log, so calls are ordered exactly as they are made, also from
parallel tools, and a write that is not awaited can never "lock" anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from ..errors import WriterClosedError
from ._chunks import Chunk

__all__ = ("ChunkWriter", "StepOutputWriter", "ToolOutputWriter", "Writer", "check_data_chunk")

Emit = Callable[[Chunk], None]


@runtime_checkable
class ChunkWriter(Protocol):
    """Anything a run's output can be piped into (``await output.pipe_to(writer)``)."""

    async def write(self, value: Any) -> None:
        """Write one value, wrapped in the writer's envelope."""

    async def custom(self, chunk: Mapping[str, Any]) -> None:
        """Write one ``data-*`` chunk to the top level."""


def check_data_chunk(chunk: Mapping[str, Any]) -> Chunk:
    """Validate a ``custom()`` chunk and return a copy of it.

    Raises:
        ValueError: the type is not ``data-*``, or the chunk has no ``data``.
    """
    if not isinstance(chunk, Mapping):
        raise ValueError(
            f"writer.custom() takes a dict like {{'type': 'data-x', 'data': ...}}, got {type(chunk).__name__}"
        )
    t = chunk.get("type")
    if not isinstance(t, str) or not t.startswith("data-") or len(t) == 5:
        raise ValueError(
            f"writer.custom() only forwards 'data-<name>' chunks; got type {t!r}. "
            "Use writer.write(value) for anything else."
        )
    if "data" not in chunk:
        raise ValueError(f"a {t!r} chunk needs a 'data' key (PROTOCOL.md §4)")
    if "transient" in chunk and not isinstance(chunk["transient"], bool):
        raise ValueError(f"'transient' of a {t!r} chunk must be a bool")
    return dict(chunk)


class Writer:
    """Base writer: subclasses say how ``write()`` wraps a value."""

    __slots__ = ("_closed", "_emit", "_owner")

    def __init__(self, emit: Emit, owner: str) -> None:
        self._emit = emit
        self._owner = owner
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once the tool or step that owns this writer has ended."""
        return self._closed

    def close(self) -> None:
        """End this writer: later writes raise :class:`WriterClosedError`."""
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise WriterClosedError(
                f"the writer of {self._owner} was used after it ended; await every write "
                "inside the tool or step, and do not keep the writer"
            )

    async def write(self, value: Any) -> None:  # pragma: no cover - overridden
        """Write one value, wrapped in this writer's envelope."""
        raise NotImplementedError

    async def custom(self, chunk: Mapping[str, Any]) -> None:
        """Forward a ``data-*`` chunk unwrapped, as a top-level chunk of the run.

        Raises:
            ValueError: not a ``data-*`` chunk, or no ``data``.
            WriterClosedError: the owner has ended.
        """
        self._check_open()
        self._emit(check_data_chunk(chunk))


class ToolOutputWriter(Writer):
    """The writer of one tool call: ``write(x)`` becomes a ``tool-output`` chunk."""

    __slots__ = ("_run_id", "_tool_call_id", "_tool_name")

    def __init__(self, emit: Emit, *, run_id: str, tool_call_id: str, tool_name: str) -> None:
        super().__init__(emit, f"tool call {tool_name!r} ({tool_call_id})")
        self._run_id = run_id
        self._tool_call_id = tool_call_id
        self._tool_name = tool_name

    async def write(self, value: Any) -> None:
        """Emit ``{type:'tool-output', from:'USER', payload:{output: value, toolCallId, toolName}}``."""
        if self._closed:
            self._check_open()
        self._emit(
            {
                "type": "tool-output",
                "runId": self._run_id,
                "from": "USER",
                "payload": {
                    "output": value,
                    "toolCallId": self._tool_call_id,
                    "toolName": self._tool_name,
                },
            }
        )


class StepOutputWriter(Writer):
    """The writer of one workflow step: ``write(x)`` becomes ``workflow-step-output``."""

    __slots__ = ("_run_id", "_step_name")

    def __init__(self, emit: Emit, *, run_id: str, step_name: str) -> None:
        super().__init__(emit, f"step {step_name!r}")
        self._run_id = run_id
        self._step_name = step_name

    async def write(self, value: Any) -> None:
        """Emit ``{type:'workflow-step-output', from:'USER', payload:{output, runId, stepName}}``."""
        if self._closed:
            self._check_open()
        self._emit(
            {
                "type": "workflow-step-output",
                "runId": self._run_id,
                "from": "USER",
                # Key order as in Mastra's capture (reference-traces/wf-stream.raw).
                "payload": {"stepName": self._step_name, "output": value, "runId": self._run_id},
            }
        )
