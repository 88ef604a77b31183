"""The output object of ``agent.stream()`` (PROTOCOL.md §3): chunks plus awaitable results."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..models import ModelMessage
from ..stream import Chunk, Deferred, RunOutput, RunStatus, Usage
from ..tools import AppRegistry

__all__ = ("AgentOutput", "GenerateResult", "StepResult")


@dataclass(slots=True)
class StepResult:
    """One model call of a run and the tool calls it made."""

    step_number: int
    text: str
    reasoning_text: str
    tool_calls: list[dict[str, Any]]
    tool_results: list[dict[str, Any]]
    tool_errors: list[dict[str, Any]]
    finish_reason: str
    usage: Usage
    response: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class GenerateResult:
    """What ``agent.generate()`` returns: the results of a run that was not streamed."""

    run_id: str
    text: str
    reasoning_text: str
    usage: Usage
    total_usage: Usage
    finish_reason: str | None
    tool_calls: list[dict[str, Any]]
    tool_results: list[dict[str, Any]]
    steps: list[StepResult]
    response: dict[str, Any]
    status: RunStatus
    object: Any = None
    suspended: list[dict[str, Any]] = field(default_factory=list)


class AgentOutput(RunOutput):
    """What ``agent.stream()`` returns at once, while the run goes on in its own task.

    Iterate it (``async for chunk in out``) for every chunk; each iterator replays from the
    first. Await ``out.text``, ``out.usage``… for results: they resolve at ``finish``, raise the
    run's error after ``error``, and resolve to the partial state after ``abort``.
    """

    source = "AGENT"

    def __init__(
        self,
        *,
        agent_id: str,
        run_id: str | None = None,
        on_chunk: Callable[[Chunk], Any] | None = None,
    ) -> None:
        super().__init__(run_id=run_id, on_chunk=on_chunk)
        self.agent_id = agent_id
        self.app: AppRegistry | None = None
        self._text: list[str] = []
        self._text_marks: list[list[Any]] = []
        self._text_joins: dict[int, tuple[str, int, int]] = {}
        self._reasoning: list[str] = []
        self._steps: list[StepResult] = []
        self._tool_calls: list[dict[str, Any]] = []
        self._tool_results: list[dict[str, Any]] = []
        self._finish_reason: str | None = None
        self._response: dict[str, Any] = {}
        self._response_messages: list[ModelMessage] = []
        self._object: Any = None
        self._suspended: list[dict[str, Any]] = []

    def _compact(self) -> None:
        # Each contiguous stretch of text deltas is rebuilt from the run's text pieces when a
        # reader comes later: the log keeps a placeholder, not two dicts, per delta.
        marks, pieces, log = self._text_marks, self._text, self._log
        n = len(marks)
        for k, (first, index, part_id, last) in enumerate(marks):
            count = (marks[k + 1][1] if k + 1 < n else len(pieces)) - index
            if last is None or count <= 0 or log.at(first + count - 1) is not last:
                continue  # still open, or a tool wrote between its deltas: kept as it is
            log.compact_text(
                first,
                count,
                run_id=self.run_id,
                source="AGENT",
                part_id=part_id,
                pieces=pieces,
                index=index,
            )

    def text_marks(self) -> tuple[list[list[Any]], list[str]]:
        """Where this run's own text deltas are, for storing them compactly.

        Returns ``(marks, pieces)``: ``pieces`` is the text of every ``text-delta`` the run
        wrote, in order. Each mark ``[offset, index, part_id, last]`` is a stretch of deltas of
        part ``part_id``: it starts at chunk ``offset`` with ``pieces[index]`` and holds the
        pieces up to the next mark's ``index``; ``last`` is its last chunk (None while the
        stretch is still being written). Other chunks (a tool's) may have been written between
        two deltas of a stretch: it is contiguous exactly when ``last`` is the chunk at
        ``offset + count - 1``. Both lists only grow.
        """
        return self._text_marks, self._text

    def text_joins(self) -> dict[int, tuple[str, int, int]]:
        """The texts this run made by joining its pieces (see :meth:`text_marks`): each step's
        text (in its ``step-finish``) and the run's (in its ``finish``), as
        ``id(text) -> (text, i, j)`` where ``text == "".join(pieces[i:j])``; for storing them
        once."""
        return self._text_joins

    def _joined(self, pieces: list[str], start: int) -> str:
        """The join of ``pieces``, which are the run's pieces from ``start`` on, noted in
        :meth:`text_joins`."""
        text = "".join(pieces)
        self._text_joins[id(text)] = (text, start, start + len(pieces))
        return text

    # -- streams ---------------------------------------------------------------------------

    @property
    def text_stream(self) -> AsyncIterator[str]:
        """The text of every ``text-delta`` of this run, as it arrives."""
        return self._text_stream()

    async def _text_stream(self) -> AsyncIterator[str]:
        async for chunk in self._log.read(0):
            if chunk["type"] == "text-delta" and chunk.get("runId") == self.run_id:
                yield chunk["payload"]["text"]

    @property
    def object_stream(self) -> AsyncIterator[Any]:
        """The partial objects of a structured-output run (``object`` chunks), as they grow."""
        return self._object_stream()

    async def _object_stream(self) -> AsyncIterator[Any]:
        async for chunk in self._log.read(0):
            if chunk["type"] == "object" and chunk.get("runId") == self.run_id:
                yield chunk["object"]

    # -- awaitables ------------------------------------------------------------------------

    def _ok(self, get: Callable[[], Any]) -> Callable[[], Any]:
        def value() -> Any:
            self._raise_if_failed()
            return get()

        return value

    @property
    def text(self) -> Awaitable[str]:
        """The text of every step, joined."""
        return Deferred(self, self._ok(lambda: "".join(self._text)))

    @property
    def reasoning_text(self) -> Awaitable[str]:
        """The reasoning text of every step, joined."""
        return Deferred(self, self._ok(lambda: "".join(self._reasoning)))

    @property
    def object(self) -> Awaitable[Any]:
        """The validated structured output (an instance of ``output``), or None without one."""
        return Deferred(self, self._ok(lambda: self._object))

    @property
    def suspended(self) -> Awaitable[list[dict[str, Any]]]:
        """The calls a suspended run waits on: ``{toolCallId, toolName, args, kind,
        suspendPayload}`` with ``kind`` ``approval`` or ``suspended`` (empty otherwise)."""
        return Deferred(self, self._ok(lambda: list(self._suspended)))

    @property
    def finish_reason(self) -> Awaitable[str | None]:
        """The last step's finish reason (``abort`` for a cancelled run)."""
        return Deferred(self, self._ok(lambda: self._finish_reason))

    @property
    def tool_calls(self) -> Awaitable[list[dict[str, Any]]]:
        """Every ``tool-call`` payload of the run."""
        return Deferred(self, self._ok(lambda: list(self._tool_calls)))

    @property
    def tool_results(self) -> Awaitable[list[dict[str, Any]]]:
        """Every ``tool-result`` payload of the run."""
        return Deferred(self, self._ok(lambda: list(self._tool_results)))

    @property
    def steps(self) -> Awaitable[list[StepResult]]:
        """One :class:`StepResult` per model call."""
        return Deferred(self, self._ok(lambda: list(self._steps)))

    @property
    def response(self) -> Awaitable[dict[str, Any]]:
        """``{id, modelId, timestamp, messages}``: the messages the run added."""
        return Deferred(
            self, self._ok(lambda: {**self._response, "messages": list(self._response_messages)})
        )

    async def result(self) -> GenerateResult:
        """Every result at once (what ``generate()`` returns)."""
        await self._finished.wait()
        self._raise_if_failed()
        total = self._total_usage or self._sum_usage()
        return GenerateResult(
            run_id=self.run_id,
            text="".join(self._text),
            reasoning_text="".join(self._reasoning),
            usage=total,
            total_usage=total,
            finish_reason=self._finish_reason,
            tool_calls=list(self._tool_calls),
            tool_results=list(self._tool_results),
            steps=list(self._steps),
            response={**self._response, "messages": list(self._response_messages)},
            status=self._status,
            object=self._object,
            suspended=list(self._suspended),
        )

    def _abort_chunk(self) -> Chunk:
        self._finish_reason = "abort"
        return super()._abort_chunk()
