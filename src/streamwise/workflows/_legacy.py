"""The legacy workflow stream (Mastra's ``streamLegacy``, PROTOCOL.md §6 end).

The same events with the ``workflow-`` prefix dropped and no envelope: ``{type, payload}``.
``start`` and ``finish`` carry the ``runId`` in their payload, and every ``step-result`` is
followed by a ``step-finish``. ``data-*`` chunks pass through unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from typing import TYPE_CHECKING, Any

from ..stream import Chunk, RunStatus, Usage

if TYPE_CHECKING:
    from ._output import WorkflowOutput

__all__ = ("LegacyWorkflowStream", "to_legacy")

_PREFIX = len("workflow-")


def to_legacy(chunk: Chunk) -> list[Chunk]:
    """The legacy chunks for one chunk of a workflow stream (pure; no event loop)."""
    kind = chunk.get("type", "")
    if kind.startswith("data-"):
        return [chunk]
    payload = chunk.get("payload") or {}
    if not kind.startswith("workflow-"):
        return [{"type": kind, "payload": payload}]
    name = kind[_PREFIX:]
    if name in ("start", "finish"):
        return [{"type": name, "payload": {"runId": chunk.get("runId"), **payload}}]
    if name == "step-result":
        return [
            {"type": "step-result", "payload": payload},
            {"type": "step-finish", "payload": {"id": payload.get("id"), "metadata": {}}},
        ]
    return [{"type": name, "payload": payload}]


class LegacyWorkflowStream:
    """A workflow stream seen with legacy names; ``status``/``result``/``usage`` as usual."""

    def __init__(self, output: WorkflowOutput) -> None:
        self.output = output
        self.run_id = output.run_id

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return self._read()

    async def _read(self) -> AsyncIterator[Chunk]:
        async for chunk in self.output:
            for legacy in to_legacy(chunk):
                yield legacy

    @property
    def status(self) -> Awaitable[RunStatus]:
        """How the run ended."""
        return self.output.status

    @property
    def result(self) -> Awaitable[Any]:
        """The workflow's output (raises the error of a failed run)."""
        return self.output.result

    @property
    def usage(self) -> Awaitable[Usage]:
        """The usage of every agent run inside the steps."""
        return self.output.usage

    def cancel(self) -> bool:
        """Cancel the run."""
        return self.output.cancel()
