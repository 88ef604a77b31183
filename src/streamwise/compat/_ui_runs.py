"""What a run has done so far, as the data of an AI SDK UI part (PROTOCOL.md §8), sans-IO.

:class:`AgentProgress` folds a nested agent's chunks into its ``data-tool-agent`` part and says
when an update is due (bounded: see :mod:`._ui_stream`); :class:`WorkflowProgress` folds workflow
events into ``data-workflow`` / ``data-tool-workflow`` parts as Mastra's ``workflowRoute`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..stream import Chunk

__all__ = (
    "AgentProgress",
    "UIPart",
    "WorkflowProgress",
    "error_text",
    "finish_reason",
    "is_nested_chunk",
)

UIPart = dict[str, Any]
"""One part of the AI SDK UI message stream (a ``uiMessageChunkSchema`` object)."""

_FINISH_REASONS = frozenset({"stop", "length", "content-filter", "tool-calls", "error", "other"})


def finish_reason(reason: Any) -> str:
    """The AI SDK's finish reason for a streamwise one (``abort`` and unknown ones: ``other``)."""
    return str(reason) if reason in _FINISH_REASONS else "other"


def error_text(payload: Any) -> str:
    """The message of an ``error`` / ``tool-error`` payload (never its details)."""
    if isinstance(payload, Mapping):
        err = payload.get("error")
        if isinstance(err, Mapping):
            msg = err.get("message")
            if isinstance(msg, str) and msg:
                return msg
        if isinstance(err, str) and err:
            return err
    return "the run failed"


def is_nested_chunk(value: Any) -> bool:
    """True when a value a tool or step wrote is a whole chunk of a run."""
    return (
        isinstance(value, dict)
        and isinstance(value.get("type"), str)
        and isinstance(value.get("runId"), str)
        and value.get("from") in ("AGENT", "WORKFLOW", "USER")
    )


class AgentProgress:
    """What a nested agent run has done so far (the data of its ``data-tool-agent`` part)."""

    __slots__ = (
        "agent_id",
        "finish_reason",
        "reasoning",
        "run_id",
        "since_update",
        "status",
        "text",
        "tool_calls",
        "tool_results",
        "usage",
    )

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.agent_id = ""
        self.status = "running"
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.tool_calls: list[Any] = []
        self.tool_results: list[Any] = []
        self.finish_reason: str | None = None
        self.usage: Any = None
        self.since_update = 0

    def fold(self, chunk: Chunk, every: int) -> bool:
        """Fold one child chunk in; True when an update should be sent now."""
        t = chunk.get("type")
        payload = chunk.get("payload")
        p: Mapping[str, Any] = payload if isinstance(payload, Mapping) else {}
        if t == "text-delta":
            self.text.append(str(p.get("text", "")))
        elif t == "reasoning-delta":
            self.reasoning.append(str(p.get("text", "")))
        elif t == "start":
            self.agent_id = str(p.get("id", ""))
            return True
        elif t == "tool-call":
            self.tool_calls.append(dict(p))
            return True
        elif t in ("tool-result", "tool-error"):
            self.tool_results.append(dict(p))
            return True
        elif t == "finish":
            self.status = "finished"
            self.finish_reason = finish_reason(
                (p.get("stepResult") or {}).get("reason") if isinstance(p, Mapping) else None
            )
            output = p.get("output")
            if isinstance(output, Mapping):
                self.usage = output.get("usage")
            return True
        elif t == "error":
            self.status = "failed"
            return True
        elif t == "abort":
            self.status = "aborted"
            return True
        else:
            return t in ("text-end", "reasoning-end", "step-finish")
        self.since_update += 1
        return self.since_update >= every

    def part(self) -> UIPart:
        self.since_update = 0
        return {
            "type": "data-tool-agent",
            "id": self.run_id,
            "data": {
                "id": self.agent_id,
                "runId": self.run_id,
                "status": self.status,
                "text": "".join(self.text),
                "reasoning": "".join(self.reasoning),
                "toolCalls": self.tool_calls,
                "toolResults": self.tool_results,
                "finishReason": self.finish_reason,
                "usage": self.usage,
            },
        }


class WorkflowProgress:
    """What a workflow run has done so far (the data of its ``data-workflow`` part).

    As in Mastra's ``workflowRoute`` (``reference-traces/wfchat.raw``): running snapshots carry
    each step's status and input but not its output; a ``data-workflow-step`` part carries a
    step's output once, when it ends; the final snapshot carries every output.
    """

    __slots__ = ("name", "output", "outputs", "run_id", "status", "steps")

    def __init__(self, run_id: str, name: str = "") -> None:
        self.run_id = run_id
        self.name = name
        self.status = "running"
        self.steps: dict[str, dict[str, Any]] = {}
        self.outputs: dict[str, Any] = {}
        self.output: Any = None

    def data(self, *, with_outputs: bool) -> dict[str, Any]:
        if with_outputs:
            steps = {k: {**v, "output": self.outputs.get(k)} for k, v in self.steps.items()}
        else:
            steps = {k: dict(v) for k, v in self.steps.items()}
        return {"name": self.name, "status": self.status, "steps": steps, "output": self.output}

    def fold(self, chunk: Chunk, part_type: str) -> list[UIPart]:
        """Fold one workflow event in; return the parts to send for it."""
        t = chunk.get("type")
        payload = chunk.get("payload")
        p: Mapping[str, Any] = payload if isinstance(payload, Mapping) else {}
        step_id = str(p.get("id", p.get("stepName", "")))
        extra: list[UIPart] = []
        final = False
        if t == "workflow-start":
            self.name = str(p.get("workflowId", self.name))
            self.status = "running"
        elif t == "workflow-step-start":
            self.steps[step_id] = {
                "name": step_id,
                "status": "running",
                "input": p.get("payload"),
                "output": None,
                "suspendPayload": None,
                "resumePayload": p.get("resumePayload"),
            }
        elif t == "workflow-step-result":
            step = self._step(step_id)
            step["status"] = p.get("status", "success")
            self.outputs[step_id] = p.get("output")
            if p.get("status") == "failed" and "error" in p:
                step["error"] = p.get("error")
            if part_type == "data-workflow":
                extra.append(
                    {
                        "type": "data-workflow-step",
                        "id": f"{self.run_id}:{step_id}",
                        "data": {
                            "name": self.name,
                            "status": self.status,
                            "stepId": step_id,
                            "step": {**step, "output": p.get("output")},
                        },
                    }
                )
        elif t == "workflow-step-suspended":
            step = self._step(step_id)
            step["status"] = "suspended"
            step["suspendPayload"] = p.get("suspendPayload")
        elif t == "workflow-step-waiting":
            self._step(step_id)["status"] = "waiting"
        elif t == "workflow-canceled":
            self.status = "canceled"
        elif t == "workflow-finish":
            self.status = str(p.get("workflowStatus", "success"))
            self.output = p.get("output")
            final = True
        else:
            return []
        snapshot: UIPart = {
            "type": part_type,
            "id": self.run_id,
            "data": self.data(with_outputs=final),
        }
        return [snapshot, *extra]

    def _step(self, step_id: str) -> dict[str, Any]:
        step = self.steps.get(step_id)
        if step is None:
            step = {
                "name": step_id,
                "status": "running",
                "input": None,
                "output": None,
                "suspendPayload": None,
                "resumePayload": None,
            }
            self.steps[step_id] = step
        return step
