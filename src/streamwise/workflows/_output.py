"""The output object of a workflow stream (PROTOCOL.md §3, §6): chunks plus awaitable results."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..stream import Chunk, Deferred, RunOutput, RunStatus, Usage, error_info

__all__ = ("WorkflowOutput", "WorkflowResult", "finish_usage")


def finish_usage(usage: Usage) -> dict[str, int]:
    """The usage of ``workflow-finish``, with the keys in the order of the reference trace."""
    return {
        "inputTokens": usage["inputTokens"],
        "outputTokens": usage["outputTokens"],
        "totalTokens": usage["totalTokens"],
        "cachedInputTokens": usage["cachedInputTokens"],
        "cacheCreationInputTokens": 0,
        "reasoningTokens": usage["reasoningTokens"],
    }


@dataclass(slots=True)
class WorkflowResult:
    """What ``run.start()`` and ``run.resume()`` return: how the run ended and its output.

    Attributes:
        run_id: the run's id.
        status: ``success``, ``failed``, ``suspended`` or ``canceled``.
        result: the workflow's output (``success`` only).
        error: the error a failed run ended with.
        steps: every step's snapshot entry, by step id.
        suspended: the ids of the suspended steps (``suspended`` only).
        usage: the usage of every agent run inside the steps.
    """

    run_id: str
    status: RunStatus
    result: Any
    error: BaseException | None
    steps: dict[str, Any]
    suspended: list[str]
    usage: Usage
    suspend_payloads: dict[str, Any] = field(default_factory=dict)


class WorkflowOutput(RunOutput):
    """What ``run.stream()`` and ``run.resume_stream()`` return at once.

    Iterate it for every chunk (each iterator replays from the first); await ``status``,
    ``result``, ``usage``, ``steps``. ``result`` raises the run's error when it failed; it is
    None when the run suspended or was cancelled.
    """

    source = "WORKFLOW"

    def __init__(
        self,
        *,
        workflow_id: str,
        run_id: str,
        on_chunk: Callable[[Chunk], Any] | None = None,
    ) -> None:
        super().__init__(run_id=run_id, on_chunk=on_chunk)
        self.workflow_id = workflow_id
        self._result: Any = None
        self._snapshot: dict[str, Any] = {}

    # -- terminal chunks -------------------------------------------------------------------

    def finish_chunk(
        self, status: RunStatus, usage: Usage, *, error: BaseException | None = None
    ) -> Chunk:
        """The ``workflow-finish`` chunk (always the last one, PROTOCOL.md §6)."""
        metadata: dict[str, Any] = {}
        if error is not None:
            info = error_info(error)
            metadata = {"error": info, "errorMessage": info["message"]}
        payload: dict[str, Any] = {
            "workflowStatus": status,
            "metadata": metadata,
            "output": {"usage": finish_usage(usage)},
        }
        if status == "success":
            payload["finalWorkflowResult"] = self._result
        return {
            "type": "workflow-finish",
            "runId": self.run_id,
            "from": "WORKFLOW",
            "payload": payload,
        }

    def _error_chunk(self, error: BaseException) -> Chunk:
        # An error outside any step (a bug, a store that failed): still a workflow-finish.
        return self.finish_chunk("failed", self._total_usage or self._sum_usage(), error=error)

    def _abort_chunk(self) -> Chunk:
        # Cancelled: workflow-canceled, then workflow-finish as the last chunk (PROTOCOL.md §6).
        # emit appends before its on_chunk hook runs: if the hook raises, the chunk is logged
        # all the same, and the workflow-finish below must still follow.
        with contextlib.suppress(Exception):
            self.emit(
                {
                    "type": "workflow-canceled",
                    "runId": self.run_id,
                    "from": "WORKFLOW",
                    "payload": {},
                }
            )
        return self.finish_chunk("canceled", self._total_usage or self._sum_usage())

    # -- awaitables ------------------------------------------------------------------------

    def _usage_value(self) -> Usage:
        # A failed workflow still reports the usage its steps spent.
        return self._total_usage or self._sum_usage()

    @property
    def result(self) -> Awaitable[Any]:
        """The workflow's output; None when it suspended or was cancelled.

        Raises:
            Exception: the error of a failed run.
        """
        return Deferred(self, self._result_value)

    def _result_value(self) -> Any:
        self._raise_if_failed()
        return self._result

    @property
    def steps(self) -> Awaitable[dict[str, Any]]:
        """Every step's snapshot entry (status, output or error, payload, times), by id."""
        return Deferred(self, lambda: dict(self._snapshot.get("steps", {})))

    @property
    def suspended(self) -> Awaitable[list[str]]:
        """The ids of the steps the run suspended at (empty unless ``suspended``)."""
        return Deferred(
            self,
            lambda: (
                list(self._snapshot.get("suspendedPaths", {}))
                if self._status == "suspended"
                else []
            ),
        )

    async def outcome(self) -> WorkflowResult:
        """Every result at once (what ``run.start()`` returns); never raises for a failed run."""
        await self._finished.wait()
        steps = dict(self._snapshot.get("steps", {}))
        suspended = (
            list(self._snapshot.get("suspendedPaths", {})) if self._status == "suspended" else []
        )
        return WorkflowResult(
            run_id=self.run_id,
            status=self._status,
            result=self._result,
            error=self._error,
            steps=steps,
            suspended=suspended,
            usage=self._usage_value(),
            suspend_payloads={s: steps.get(s, {}).get("suspendPayload") for s in suspended},
        )
