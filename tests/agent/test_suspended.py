"""Suspended runs outlive the process: approve, decline and resume from another app or process.

Every test runs on SQLite and PostgreSQL (``db_url``). A "second app" is a fresh ``Streamwise``
with fresh ``Agent`` objects on the same database: nothing is shared but the storage.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
from typing import Any

import pytest
from pydantic import BaseModel

from streamwise import Agent, Streamwise, ToolContext, create_tool
from streamwise.errors import ConfigurationError, RunNotContinuableError, RunNotSuspendedError
from streamwise.testing import ScriptedModel, Turn
from tests.agent.test_approval import Approval, Rec, deleting_agent
from tests.support import collect, types


class Verdict(BaseModel):
    ok: bool
    note: str


def paying_agent() -> tuple[Agent, list[Any]]:
    """An agent whose ``pay`` tool suspends itself until it is resumed with an Approval."""
    seen: list[Any] = []

    async def pay(inp: Rec, ctx: ToolContext) -> str:
        seen.append((ctx.resume_data, dict(ctx.runtime_context)))
        if ctx.resume_data is None:
            await ctx.suspend({"reason": f"pay {inp.id}?"})
        assert isinstance(ctx.resume_data, Approval)
        return "paid" if ctx.resume_data.approved else "skipped"

    tool = create_tool("pay", "Pay", Rec, pay, resume_schema=Approval)
    model = ScriptedModel(lambda messages: (
        {"text": f"result: {messages[-1]['content'][0]['output']}"}
        if messages[-1]["role"] == "tool"
        else {"tool_calls": [{"name": "pay", "args": {"id": "inv-7"}, "id": "p1"}]}
    ))  # fmt: skip
    return Agent("payer", model=model, tools=[tool]), seen


async def _done(inp: Rec, ctx: ToolContext) -> str:
    return "done"


async def _suspend(db_url: str, **options: Any) -> str:
    """Suspend a run of ``admin`` in an app that is then closed; return its run id."""
    agent, deleted = deleting_agent()
    async with Streamwise(agents=[agent], storage=db_url):
        out = agent.stream("delete r1", **options)
        await out.wait()
        assert await out.status == "suspended"
    assert deleted == []
    return out.run_id


async def test_suspended_run_is_approved_by_a_second_app_and_memory_keeps_one_answer(
    db_url: str,
) -> None:
    run_id = await _suspend(db_url, memory={"thread": "t", "resource": "u"})
    agent, deleted = deleting_agent()
    async with Streamwise(agents=[agent], storage=db_url) as app:
        assert agent.suspended_runs() == []
        resumed = agent.approve_tool_call(run_id)
        chunks = await collect(resumed)
        assert resumed.run_id == run_id
        assert types(chunks)[:2] == ["start", "tool-result"]
        assert await resumed.status == "success"
        assert await resumed.text == "after: {'deleted': True}"
        assert deleted == ["r1"]
        # Claimed: gone from the store, and a second approval finds nothing.
        assert await app.storage.load_suspended("admin", run_id) is None
        again = agent.approve_tool_call(run_id)
        assert types(await collect(again)) == ["error"]
        assert await again.status == "failed"
        assert isinstance(await again.error, RunNotSuspendedError)
        with pytest.raises(RunNotSuspendedError, match="not waiting"):
            await again.text
        # The thread holds one answer, continued in its place.
        messages = await app.storage.list_messages("t")
        assert [m["role"] for m in messages] == ["user", "assistant"]
        parts = messages[1]["content"]
        [tool] = [p["toolInvocation"] for p in parts if p["type"] == "tool-invocation"]
        assert (tool["state"], tool["result"]) == ("result", {"deleted": True})
        assert [p["text"] for p in parts if p["type"] == "text"] == ["after: {'deleted': True}"]
        run = await app.storage.get_run(run_id)
        assert run is not None
        assert run["status"] == "success"


async def test_suspended_run_declined_with_a_reason_by_a_second_app(db_url: str) -> None:
    run_id = await _suspend(db_url, require_tool_approval=True)
    agent, deleted = deleting_agent()
    async with Streamwise(agents=[agent], storage=db_url):
        resumed = agent.decline_tool_call(run_id, tool_call_id="c1", reason="not today")
        chunks = await collect(resumed)
        result = next(c for c in chunks if c["type"] == "tool-result")["payload"]["result"]
        assert result == "not today"
        assert await resumed.text == "after: not today"
    assert deleted == []


async def test_suspended_tool_resumed_with_data_by_a_second_app(db_url: str) -> None:
    first, seen = paying_agent()
    async with Streamwise(agents=[first], storage=db_url):
        out = first.stream("pay", runtime_context={"user": "ann", "client": object()})
        await out.wait()
        assert await out.status == "suspended"
    agent, seen_later = paying_agent()
    async with Streamwise(agents=[agent], storage=db_url):
        # A call that suspended itself waits for data, not approval: the error says so.
        wrong = agent.approve_tool_call(out.run_id)
        assert "waiting for approval" in str(await wrong.error)
        resumed = agent.resume_stream({"approved": True}, run_id=out.run_id)
        chunks = await collect(resumed)
        assert next(c for c in chunks if c["type"] == "tool-result")["payload"]["result"] == "paid"
        assert await resumed.text == "result: paid"
    # The runtime context's JSON values went with the run; the object could not.
    assert seen_later == [(Approval(approved=True), {"user": "ann"})]
    assert seen[0][0] is None


async def test_concurrent_approvals_from_two_apps_have_one_winner(db_url: str) -> None:
    run_id = await _suspend(db_url)
    one, deleted_one = deleting_agent()
    two, deleted_two = deleting_agent()
    async with (
        Streamwise(agents=[one], storage=db_url),
        Streamwise(agents=[two], storage=db_url),
    ):
        outs = [one.approve_tool_call(run_id), two.approve_tool_call(run_id)]
        await asyncio.gather(*(o.wait() for o in outs))
        statuses = sorted([await o.status for o in outs])
        assert statuses == ["failed", "success"]
        [loser] = [o for o in outs if o._status == "failed"]
        assert isinstance(await loser.error, RunNotSuspendedError)
    assert deleted_one + deleted_two == ["r1"]


async def test_approval_held_in_memory_races_one_from_another_app(db_url: str) -> None:
    here, deleted_here = deleting_agent()
    there, deleted_there = deleting_agent()
    async with (
        Streamwise(agents=[here], storage=db_url),
        Streamwise(agents=[there], storage=db_url),
    ):
        out = here.stream("delete r1")
        await out.wait()
        assert here.suspended_runs() == [out.run_id]
        # ``here`` holds the run (the fast path, checked at once); ``there`` reads the store.
        outs = [here.approve_tool_call(out.run_id), there.approve_tool_call(out.run_id)]
        await asyncio.gather(*(o.wait() for o in outs))
        assert sorted([await o.status for o in outs]) == ["failed", "success"]
    assert deleted_here + deleted_there == ["r1"]


async def test_run_known_in_memory_still_raises_at_once(db_url: str) -> None:
    agent, _ = paying_agent()
    async with Streamwise(agents=[agent], storage=db_url):
        out = agent.stream("pay")
        await out.wait()
        with pytest.raises(RunNotSuspendedError, match="waiting for approval"):
            agent.approve_tool_call(out.run_id)
        with pytest.raises(RunNotSuspendedError, match="no tool call nope"):
            agent.resume_stream({}, run_id=out.run_id, tool_call_id="nope")
        # Nothing was claimed by the failed attempts.
        resumed = agent.resume_stream({"approved": False}, run_id=out.run_id)
        assert await resumed.text == "result: skipped"


async def test_unknown_run_with_storage_fails_its_stream(db_url: str) -> None:
    agent, _ = deleting_agent()
    async with Streamwise(agents=[agent], storage=db_url):
        assert await agent.find_suspended("nope") is None
        out = agent.approve_tool_call("nope")
        chunks = await collect(out)
        assert types(chunks) == ["error"]
        assert chunks[0]["runId"] == "nope"
        assert await out.status == "failed"
        error = await out.error
        assert isinstance(error, RunNotSuspendedError)
        assert error.run_id == "nope"


async def test_find_suspended_reads_the_store_then_checks_at_once(db_url: str) -> None:
    run_id = await _suspend(db_url)
    agent, deleted = deleting_agent()
    async with Streamwise(agents=[agent], storage=db_url):
        [call] = await agent.find_suspended(run_id) or []
        assert call == {"toolCallId": "c1", "toolName": "delete", "args": {"id": "r1"},
                        "kind": "approval", "suspendPayload": None}  # fmt: skip
        assert agent.suspended_runs() == [run_id]
        with pytest.raises(RunNotSuspendedError, match="resume data"):
            agent.resume_stream({}, run_id=run_id)
        assert await agent.approve_tool_call(run_id).text == "after: {'deleted': True}"
        assert await agent.find_suspended(run_id) is None
    assert deleted == ["r1"]


async def test_find_suspended_sees_a_run_continued_by_another_app(db_url: str) -> None:
    run_id = await _suspend(db_url)
    here, _ = deleting_agent()
    there, deleted = deleting_agent()
    async with (
        Streamwise(agents=[here], storage=db_url),
        Streamwise(agents=[there], storage=db_url),
    ):
        assert await here.find_suspended(run_id) is not None
        assert await there.approve_tool_call(run_id).status == "success"
        assert await here.find_suspended(run_id) is None
        assert here.suspended_runs() == []
    assert deleted == ["r1"]


async def test_runs_dropped_from_memory_stay_in_the_store(db_url: str) -> None:
    agent, deleted = deleting_agent()
    agent.max_suspended_runs = 1
    async with Streamwise(agents=[agent], storage=db_url) as app:
        first = agent.stream("delete r1")
        second = agent.stream("delete r1")
        await asyncio.gather(first.wait(), second.wait())
        assert len(agent.suspended_runs()) == 1
        assert sorted(await app.storage.list_suspended("admin")) == sorted(
            [first.run_id, second.run_id]
        )
        outs = [agent.approve_tool_call(first.run_id), agent.approve_tool_call(second.run_id)]
        assert [await o.status for o in outs] == ["success", "success"]
        assert await app.storage.list_suspended("admin") == []
    assert deleted == ["r1", "r1"]


async def test_cancel_suspended_drops_the_run_everywhere(db_url: str) -> None:
    run_id = await _suspend(db_url, memory={"thread": "t"})
    agent, deleted = deleting_agent()
    async with Streamwise(agents=[agent], storage=db_url) as app:
        assert await agent.cancel_suspended(run_id)
        assert not await agent.cancel_suspended(run_id)
        run = await app.storage.get_run(run_id)
        assert run is not None
        assert run["status"] == "canceled"
        late = agent.approve_tool_call(run_id)
        assert isinstance(await late.error, RunNotSuspendedError)
    assert deleted == []


async def test_run_id_given_again_voids_what_the_old_run_waited_on(db_url: str) -> None:
    run_id = await _suspend(db_url)
    agent = Agent("admin", model=ScriptedModel([{"text": "a new run"}]))
    async with Streamwise(agents=[agent], storage=db_url) as app:
        out = agent.stream("hello", run_id=run_id)
        assert await out.text == "a new run"
        assert await app.storage.load_suspended("admin", run_id) is None
        late = agent.approve_tool_call(run_id)
        assert isinstance(await late.error, RunNotSuspendedError)


async def test_structured_output_run_continues_in_a_second_app(db_url: str) -> None:
    def turn(messages: list[Any]) -> Turn:
        if messages[-1]["role"] == "tool":
            return {"text": '{"ok": true, "note": "deleted"}'}
        return {"tool_calls": [{"name": "delete", "args": {"id": "r1"}, "id": "c1"}]}

    def make() -> Agent:
        tool = create_tool("delete", "Delete", Rec, _done, require_approval=True)
        return Agent("judge", model=ScriptedModel(turn), tools=[tool])

    first = make()
    async with Streamwise(agents=[first], storage=db_url):
        out = first.stream("go", output=Verdict)
        await out.wait()
    agent = make()
    async with Streamwise(agents=[agent], storage=db_url):
        resumed = agent.approve_tool_call(out.run_id)
        assert await resumed.object == Verdict(ok=True, note="deleted")


async def suspended_with_a_local_output_class(db_url: str) -> tuple[Agent, str]:
    """A run suspended (waiting for approval) with a structured-output class defined in a
    function, which another process cannot import by its path; and a fresh agent of the same
    id, as that other process would have. Returns the fresh agent and the run id."""

    class Local(BaseModel):
        ok: bool

    tool = create_tool("delete", "Delete", Rec, _done, require_approval=True)
    model = ScriptedModel([{"tool_calls": [{"name": "delete", "args": {"id": "r1"}}]}])
    first = Agent("judge", model=model, tools=[tool])
    async with Streamwise(agents=[first], storage=db_url):
        out = first.stream("go", output=Local)
        await out.wait()
    return Agent("judge", model=model, tools=[tool]), out.run_id


async def test_structured_output_class_that_cannot_be_imported_is_a_clear_error(
    db_url: str,
) -> None:
    agent, run_id = await suspended_with_a_local_output_class(db_url)
    async with Streamwise(agents=[agent], storage=db_url) as app:
        with pytest.raises(ConfigurationError, match="module level"):
            await agent.find_suspended(run_id)
        failed = agent.approve_tool_call(run_id)
        assert isinstance(await failed.error, ConfigurationError)
        # Not claimed: the run still waits, for a process that can import the class.
        assert await app.storage.load_suspended("judge", run_id) is not None


async def test_without_storage_suspended_runs_stay_in_the_process() -> None:
    agent, _ = deleting_agent()
    app = Streamwise(agents=[agent])
    assert agent.suspensions is None
    with pytest.raises(RunNotSuspendedError, match="not waiting"):
        agent.approve_tool_call("nope")
    assert await agent.find_suspended("nope") is None
    assert not await agent.cancel_suspended("nope")
    await app.close()


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from streamwise import Streamwise
    from tests.agent.test_approval import deleting_agent

    async def main(url):
        agent, deleted = deleting_agent()
        async with Streamwise(agents=[agent], storage=url):
            out = agent.stream("delete r1", memory={"thread": "t-proc"})
            await out.wait()
            print(await out.status, out.run_id, deleted, flush=True)

    asyncio.run(main(sys.argv[1]))
    """
)


async def test_run_suspended_in_another_process_is_approved_here(db_url: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, db_url, stdout=asyncio.subprocess.PIPE
    )
    stdout, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0
    status, run_id, deleted_there = stdout.decode().split()
    assert (status, deleted_there) == ("suspended", "[]")

    agent, deleted = deleting_agent()
    async with Streamwise(agents=[agent], storage=db_url) as app:
        resumed = agent.approve_tool_call(run_id)
        assert await resumed.text == "after: {'deleted': True}"
        messages = await app.storage.list_messages("t-proc")
        assert [m["role"] for m in messages] == ["user", "assistant"]
        texts = [p["text"] for p in messages[1]["content"] if p["type"] == "text"]
        assert texts == ["after: {'deleted': True}"]
    assert deleted == ["r1"]


async def test_list_suspended_shows_stored_runs_and_runs_held_here(db_url: str) -> None:
    stored_id = await _suspend(db_url, memory={"thread": "t1", "resource": "u1"})
    agent, _ = deleting_agent()
    async with Streamwise(agents=[agent], storage=db_url):
        out = agent.stream("delete r1")
        await out.wait()
        runs = await agent.list_suspended()
        assert [r.run_id for r in runs] == [stored_id, out.run_id]
        first = runs[0]
        assert (first.thread_id, first.resource_id) == ("t1", "u1")
        assert first.tool_calls == [{"toolCallId": "c1", "toolName": "delete",
                                     "args": {"id": "r1"}, "kind": "approval",
                                     "suspendPayload": None}]  # fmt: skip
        assert first.suspended_at.tzinfo is not None
        assert runs[1].thread_id is None
        assert [r.run_id for r in await agent.list_suspended(thread_id="t1")] == [stored_id]
        assert await agent.list_suspended(resource_id="nobody") == []
        # Continued, a run leaves the list.
        assert await agent.approve_tool_call(stored_id).status == "success"
        assert [r.run_id for r in await agent.list_suspended()] == [out.run_id]


async def test_list_suspended_without_storage_lists_the_runs_held_here() -> None:
    agent, _ = paying_agent()
    out = agent.stream("pay")
    await out.wait()
    [run] = await agent.list_suspended()
    assert run.run_id == out.run_id
    assert run.tool_calls[0]["kind"] == "suspended"
    assert run.tool_calls[0]["suspendPayload"] == {"reason": "pay inv-7?"}


async def test_continue_suspended_claims_before_it_returns(db_url: str) -> None:
    run_id = await _suspend(db_url)
    one, deleted_one = deleting_agent()
    two, deleted_two = deleting_agent()
    async with (
        Streamwise(agents=[one], storage=db_url),
        Streamwise(agents=[two], storage=db_url),
    ):
        results = await asyncio.gather(
            one.continue_suspended(run_id, "approve"),
            two.continue_suspended(run_id, "approve"),
            return_exceptions=True,
        )
        [won] = [r for r in results if not isinstance(r, BaseException)]
        [lost] = [r for r in results if isinstance(r, BaseException)]
        assert isinstance(lost, RunNotSuspendedError)
        assert await won.text == "after: {'deleted': True}"
        with pytest.raises(RunNotSuspendedError, match="not waiting"):
            await one.continue_suspended(run_id, "approve")
    assert deleted_one + deleted_two == ["r1"]


async def test_continue_suspended_checks_a_run_held_here_and_its_stored_copy(db_url: str) -> None:
    here, deleted_here = paying_agent()
    there, deleted_there = paying_agent()
    async with (
        Streamwise(agents=[here], storage=db_url),
        Streamwise(agents=[there], storage=db_url),
    ):
        out = here.stream("pay")
        await out.wait()
        with pytest.raises(RunNotSuspendedError, match="waiting for approval"):
            await here.continue_suspended(out.run_id, "approve")
        # ``there`` claims the stored copy first: ``here`` loses, though it holds the run.
        resumed = await there.continue_suspended(
            out.run_id, "resume", resume_data={"approved": True}
        )
        with pytest.raises(RunNotSuspendedError, match="another process"):
            await here.continue_suspended(out.run_id, "resume", resume_data={"approved": True})
        assert await resumed.text == "result: paid"
    assert [d[0] for d in deleted_here + deleted_there].count(Approval(approved=True)) == 1


async def test_continue_suspended_refuses_a_run_it_cannot_load_and_leaves_it_stored(
    db_url: str,
) -> None:
    agent, run_id = await suspended_with_a_local_output_class(db_url)
    async with Streamwise(agents=[agent], storage=db_url) as app:
        with pytest.raises(RunNotContinuableError, match="cannot be continued here") as caught:
            await agent.continue_suspended(run_id, "approve")
        assert caught.value.run_id == run_id
        assert "Local cannot be imported" in str(caught.value)
        assert await app.storage.load_suspended("judge", run_id) is not None
        # Still listed: another process may be able to continue it.
        assert [r.run_id for r in await agent.list_suspended()] == [run_id]


async def test_continue_suspended_without_storage_and_a_bad_action() -> None:
    agent, deleted = deleting_agent()
    out = agent.stream("delete r1")
    await out.wait()
    with pytest.raises(ConfigurationError, match="action must be"):
        await agent.continue_suspended(out.run_id, "maybe")  # type: ignore[arg-type]
    declined = await agent.continue_suspended(out.run_id, "decline", reason="no")
    assert await declined.text == "after: no"
    with pytest.raises(RunNotSuspendedError):
        await agent.continue_suspended(out.run_id, "approve")
    assert deleted == []
