"""Human in the loop: tool calls that wait for approval, tools that suspend themselves."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import BaseModel

from streamwise import Agent, ToolContext, create_tool
from streamwise.errors import ConfigurationError, RunNotSuspendedError
from streamwise.testing import ScriptedModel
from tests.support import collect, types


class Rec(BaseModel):
    id: str


class Approval(BaseModel):
    approved: bool


class Reason(BaseModel):
    reason: str


def deleting_agent(*, require_approval: bool = True) -> tuple[Agent, list[str]]:
    deleted: list[str] = []

    async def delete(inp: Rec, ctx: ToolContext) -> dict[str, bool]:
        deleted.append(inp.id)
        return {"deleted": True}

    tool = create_tool("delete", "Delete a record", Rec, delete, require_approval=require_approval)
    model = ScriptedModel(lambda messages: (
        {"text": f"after: {messages[-1]['content'][0]['output']}"}
        if messages[-1]["role"] == "tool"
        else {"tool_calls": [{"name": "delete", "args": {"id": "r1"}, "id": "c1"}],
              "usage": {"inputTokens": 3, "outputTokens": 1}}
    ))  # fmt: skip
    return Agent("admin", model=model, tools=[tool]), deleted


async def test_approval_pauses_the_call_then_approve_runs_it_in_a_new_stream() -> None:
    agent, deleted = deleting_agent()
    out = agent.stream("delete r1")
    chunks = await collect(out)
    assert types(chunks)[-4:] == ["tool-call", "tool-call-approval", "step-finish", "finish"]
    approval = chunks[-3]["payload"]
    assert approval == {"toolCallId": "c1", "toolName": "delete", "args": {"id": "r1"},
                        "resumeSchema": None}  # fmt: skip
    assert chunks[-1]["payload"]["stepResult"]["reason"] == "suspended"
    assert await out.status == "suspended"
    assert await out.finish_reason == "suspended"
    assert (await out.suspended)[0]["kind"] == "approval"
    assert deleted == []
    assert agent.suspended_runs() == [out.run_id]

    resumed = agent.approve_tool_call(out.run_id)
    more = await collect(resumed)
    assert resumed.run_id == out.run_id
    assert types(more)[:2] == ["start", "tool-result"]
    assert types(more)[-1] == "finish"
    assert deleted == ["r1"]
    assert await resumed.text == "after: {'deleted': True}"
    assert await resumed.status == "success"
    with pytest.raises(RunNotSuspendedError, match="resumed already"):
        agent.approve_tool_call(out.run_id)


async def test_decline_tells_the_model_and_never_runs_the_tool() -> None:
    agent, deleted = deleting_agent()
    out = agent.stream("delete r1", require_tool_approval=True)
    await collect(out)
    resumed = agent.decline_tool_call(out.run_id, tool_call_id="c1")
    more = await collect(resumed)
    result = next(c for c in more if c["type"] == "tool-result")["payload"]["result"]
    assert result == "Tool call was not approved by the user"
    assert deleted == []
    assert await resumed.text == "after: Tool call was not approved by the user"


async def test_require_tool_approval_on_stream_pauses_any_tool() -> None:
    agent, deleted = deleting_agent(require_approval=False)
    out = agent.stream("delete r1", require_tool_approval=True)
    assert types(await collect(out))[-3] == "tool-call-approval"
    await collect(agent.approve_tool_call(out.run_id))
    assert deleted == ["r1"]


async def test_tool_that_suspends_itself_resumes_with_data() -> None:
    runs: list[Any] = []

    async def pay(inp: Rec, ctx: ToolContext) -> str:
        runs.append(ctx.resume_data)
        if ctx.resume_data is None:
            await ctx.writer.write("checking")
            await ctx.suspend({"reason": f"pay {inp.id}?"})
        assert isinstance(ctx.resume_data, Approval)
        return "paid" if ctx.resume_data.approved else "skipped"

    tool = create_tool("pay", "Pay", Rec, pay, resume_schema=Approval, suspend_schema=Reason)
    model = ScriptedModel([
        {"tool_calls": [{"name": "pay", "args": {"id": "inv-7"}, "id": "p1"}]},
        {"text": "done"},
    ])  # fmt: skip
    agent = Agent("payer", model=model, tools=[tool])
    out = agent.stream("pay it")
    chunks = await collect(out)
    suspended = next(c for c in chunks if c["type"] == "tool-call-suspended")["payload"]
    assert suspended["suspendPayload"] == {"reason": "pay inv-7?"}
    assert suspended["resumeSchema"]["properties"]["approved"]["type"] == "boolean"
    assert types(chunks).index("tool-output") < types(chunks).index("tool-call-suspended")
    assert "tool-result" not in types(chunks)
    assert await out.status == "suspended"

    with pytest.raises(RunNotSuspendedError, match="waiting for approval"):
        agent.approve_tool_call(out.run_id)
    resumed = agent.resume_stream({"approved": True}, run_id=out.run_id)
    more = await collect(resumed)
    assert next(c for c in more if c["type"] == "tool-result")["payload"]["result"] == "paid"
    assert runs == [None, Approval(approved=True)]
    assert await resumed.text == "done"
    # The model saw the tool result of the resumed call.
    assert model.calls[1]["messages"][-1]["content"][0]["output"] == "paid"


async def test_resume_with_bad_data_gives_tool_error() -> None:
    async def pay(inp: Rec, ctx: ToolContext) -> str:
        if ctx.resume_data is None:
            await ctx.suspend({"reason": "ok?"})
        return "paid"

    tool = create_tool("pay", "Pay", Rec, pay, resume_schema=Approval)
    model = ScriptedModel([{"tool_calls": [{"name": "pay", "args": {"id": "x"}}]}, {"text": "k"}])
    agent = Agent("payer", model=model, tools=[tool])
    out = agent.stream("pay")
    await collect(out)
    more = await collect(agent.resume_stream({"approved": "maybe"}, run_id=out.run_id))
    err = next(c for c in more if c["type"] == "tool-error")["payload"]["error"]
    assert err["name"] == "ValidationError"


async def test_concurrent_resumes_second_gets_a_clear_error() -> None:
    agent, deleted = deleting_agent()
    out = agent.stream("delete r1")
    await out.wait()
    first = agent.approve_tool_call(out.run_id)
    with pytest.raises(RunNotSuspendedError):
        agent.approve_tool_call(out.run_id)
    await asyncio.wait_for(first.wait(), 5)
    assert deleted == ["r1"]


async def test_unknown_run_and_ambiguous_resume_are_clear_errors() -> None:
    agent, _ = deleting_agent()
    with pytest.raises(RunNotSuspendedError, match="not waiting"):
        agent.approve_tool_call("nope")

    async def ask(inp: Rec, ctx: ToolContext) -> str:
        await ctx.suspend({"q": inp.id})

    tool = create_tool("ask", "Ask", Rec, ask)
    model = ScriptedModel([{"tool_calls": [{"name": "ask", "args": {"id": "a"}, "id": "A"},
                                           {"name": "ask", "args": {"id": "b"}, "id": "B"}]}])  # fmt: skip
    multi = Agent("m", model=model, tools=[tool])
    out = multi.stream("go")
    await out.wait()
    with pytest.raises(ConfigurationError, match="pass tool_call_id="):
        multi.resume_stream({}, run_id=out.run_id)
