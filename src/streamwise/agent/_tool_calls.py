"""Running one tool call: validation, execution, the writer, and every way it can end.

A call ends with ``tool-result``, with ``tool-error`` (the model will read the error), or — when
the tool called ``await ctx.suspend(payload)`` — with ``tool-call-suspended``, which pauses the
run until ``agent.resume_stream(...)``. Cancellation always propagates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import TripwireTriggered, UnknownToolError
from ..stream import ToolOutputWriter, error_info
from ..tools import AppRegistry, Tool, ToolContext, ToolSuspension
from ._output import AgentOutput

__all__ = ("CallSetup", "PendingCall", "approval_chunk", "call_tool", "suspended_chunk")

_NO_RESUME: Any = object()


@dataclass(slots=True)
class PendingCall:
    """A tool call waiting for a human: approval before it runs, or data after it suspended."""

    call: dict[str, Any]
    kind: Literal["approval", "suspended"]
    suspend_payload: Any = None

    @property
    def tool_call_id(self) -> str:
        """The id of the waiting call."""
        return str(self.call["toolCallId"])


@dataclass(slots=True)
class CallSetup:
    """What every tool call of one run shares."""

    agent_id: str
    tools: Mapping[str, Tool]
    runtime_context: Mapping[str, Any]
    registry: AppRegistry | None


def approval_chunk(run_id: str, call: dict[str, Any], tool: Tool | None) -> dict[str, Any]:
    """The ``tool-call-approval`` chunk for a call that waits for approval."""
    return {"type": "tool-call-approval", "runId": run_id, "from": "AGENT",
            "payload": {"toolCallId": call["toolCallId"], "toolName": call["toolName"],
                        "args": call["args"],
                        "resumeSchema": tool.resume_json_schema() if tool else None}}  # fmt: skip


def suspended_chunk(run_id: str, pending: PendingCall, tool: Tool | None) -> dict[str, Any]:
    """The ``tool-call-suspended`` chunk for a call that suspended itself."""
    call = pending.call
    return {"type": "tool-call-suspended", "runId": run_id, "from": "AGENT",
            "payload": {"toolCallId": call["toolCallId"], "toolName": call["toolName"],
                        "args": call["args"],
                        "resumeSchema": tool.resume_json_schema() if tool else None,
                        "suspendPayload": pending.suspend_payload}}  # fmt: skip


async def call_tool(
    out: AgentOutput,
    setup: CallSetup,
    call: dict[str, Any],
    outcomes: dict[str, dict[str, Any]],
    pending: list[PendingCall],
    *,
    resume_data: Any = _NO_RESUME,
) -> None:
    """Run one tool call and record its outcome (or its suspension)."""
    emit = out.emit
    name = call["toolName"]
    call_id = call["toolCallId"]
    writer = ToolOutputWriter(emit, run_id=out.run_id, tool_call_id=call_id, tool_name=name)
    tool = setup.tools.get(name)
    try:
        if tool is None:
            raise UnknownToolError(
                f"the model called tool {name!r}, which agent {setup.agent_id!r} does not have; "
                f"its tools: {', '.join(sorted(setup.tools)) or '(none)'}"
            )
        if resume_data is not _NO_RESUME and tool.resume_schema is not None:
            resume_data = tool.resume_schema.model_validate(resume_data)
        ctx = ToolContext(
            writer=writer,
            run_id=out.run_id,
            tool_call_id=call_id,
            tool_name=name,
            runtime_context=setup.runtime_context,
            agent_id=setup.agent_id,
            registry=setup.registry,
            resume_data=None if resume_data is _NO_RESUME else resume_data,
            suspend_schema=tool.suspend_schema,
        )
        result = await tool.run(call["args"], ctx)
    except TripwireTriggered:
        writer.close()
        raise  # stops the whole run, not just this call
    except ToolSuspension as suspension:
        writer.close()
        waiting = PendingCall(call, "suspended", suspension.payload)
        pending.append(waiting)
        emit(suspended_chunk(out.run_id, waiting, tool))
        return
    except Exception as exc:
        writer.close()
        outcome: dict[str, Any] = {"toolCallId": call_id, "toolName": name,
                                   "error": error_info(exc), "args": call["args"]}  # fmt: skip
        outcomes[call_id] = outcome
        emit({"type": "tool-error", "runId": out.run_id, "from": "AGENT", "payload": outcome})
        return
    writer.close()
    outcome = {"toolCallId": call_id, "toolName": name, "result": result, "args": call["args"]}
    outcomes[call_id] = outcome
    out._tool_results.append(outcome)
    emit({"type": "tool-result", "runId": out.run_id, "from": "AGENT", "payload": outcome})


DECLINED = "Tool call was not approved by the user"


def declined(
    out: AgentOutput,
    call: dict[str, Any],
    outcomes: dict[str, dict[str, Any]],
    reason: str | None = None,
) -> None:
    """Record a declined call: the model reads that the user did not approve it (and why)."""
    outcome = {"toolCallId": call["toolCallId"], "toolName": call["toolName"],
               "result": reason or DECLINED, "args": call["args"]}  # fmt: skip
    outcomes[call["toolCallId"]] = outcome
    out._tool_results.append(outcome)
    out.emit({"type": "tool-result", "runId": out.run_id, "from": "AGENT", "payload": outcome})
