"""Agent memory through the app's storage (PROTOCOL.md §9), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import signal
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import BaseModel

from streamwise import Agent, Streamwise, ToolContext, create_tool
from streamwise.agent import AgentOutput, MemoryOptions
from streamwise.errors import ConfigurationError, InvalidIdError, StorageError
from streamwise.storage import Message, MessageInput, Store
from streamwise.storage._schema import owners
from streamwise.testing import ScriptedModel
from tests.support import collect, types


class Q(BaseModel):
    q: str


def texts(messages: list[Message]) -> list[tuple[str, str]]:
    out = []
    for m in messages:
        text = "".join(p.get("text", "") for p in m["content"] if p["type"] == "text")
        out.append((m["role"], text))
    return out


async def test_memory_stores_both_messages_and_loads_history(db_url: str) -> None:
    model = ScriptedModel([{"text": "Hello Ann"}, {"text": "You are Ann"}])
    agent = Agent("a", model=model, instructions="be brief")
    async with Streamwise(agents=[agent], storage=db_url) as app:
        mem: MemoryOptions = {"thread": "t1", "resource": "u1"}
        out = agent.stream("I am Ann", memory=mem)
        assert await out.text == "Hello Ann"
        out2 = agent.stream("Who am I?", memory=mem)
        assert await out2.text == "You are Ann"
        sent = model.calls[1]["messages"]
        assert sent[0] == {"role": "system", "content": "be brief"}
        assert sent[1:] == [
            {"role": "user", "content": [{"type": "text", "text": "I am Ann"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Hello Ann"}]},
            {"role": "user", "content": "Who am I?"},
        ]
        stored = await app.storage.list_messages("t1")
        assert texts(stored) == [
            ("user", "I am Ann"), ("assistant", "Hello Ann"),
            ("user", "Who am I?"), ("assistant", "You are Ann"),
        ]  # fmt: skip
        answer = stored[1]
        assert answer["id"] == out.chunks[0]["payload"]["messageId"]
        assert answer["runId"] == out.run_id
        assert answer["content"][0] == {"type": "step-start"}
        assert answer["metadata"]["status"] == "success"
        assert answer["metadata"]["partial"] is False
        thread = await app.storage.get_thread("t1")
        assert thread is not None
        assert thread["resourceId"] == "u1"
        run = await app.storage.get_run(out.run_id)
        assert run is not None
        assert (run["status"], run["threadId"], run["targetId"]) == ("success", "t1", "a")


async def test_memory_last_messages_bounds_the_history(db_url: str) -> None:
    model = ScriptedModel([{"text": f"a{i}"} for i in range(3)])
    agent = Agent("a", model=model)
    async with Streamwise(agents=[agent], storage=db_url):
        for i in range(3):
            await agent.stream(f"q{i}", memory={"thread": "t", "last_messages": 1}).text
    assert model.calls[2]["messages"] == [
        {"role": "assistant", "content": [{"type": "text", "text": "a1"}]},
        {"role": "user", "content": "q2"},
    ]


async def test_memory_tool_results_and_data_parts_stored_outputs_and_transient_not(
    db_url: str,
) -> None:
    async def lookup(inp: Q, ctx: ToolContext) -> dict[str, str]:
        await ctx.writer.write("working")
        await ctx.writer.custom({"type": "data-progress", "data": {"pct": 50}, "transient": True})
        await ctx.writer.custom({"type": "data-card", "data": {"title": inp.q}, "id": "c1"})
        return {"answer": inp.q.upper()}

    tool = create_tool("lookup", "Looks up", Q, lookup)
    model = ScriptedModel([
        {"tool_calls": [{"name": "lookup", "args": {"q": "x"}, "id": "k1"}]},
        {"text": "done"},
        {"text": "again"},
    ])  # fmt: skip
    agent = Agent("a", model=model, tools=[tool])
    async with Streamwise(agents=[agent], storage=db_url) as app:
        out = agent.stream("go", memory={"thread": "t"})
        chunks = await collect(out)
        assert "tool-output" in [c["type"] for c in chunks]
        await agent.stream("more", memory={"thread": "t"}).text
        stored = await app.storage.list_messages("t")
    parts = stored[1]["content"]
    assert [p["type"] for p in parts] == [
        "step-start", "tool-invocation", "data-card", "step-start", "text",
    ]  # fmt: skip
    assert parts[1]["toolInvocation"] == {
        "state": "result", "toolCallId": "k1", "toolName": "lookup",
        "args": {"q": "x"}, "result": {"answer": "X"},
    }  # fmt: skip
    assert parts[2] == {"type": "data-card", "data": {"title": "x"}, "id": "c1"}
    assert "working" not in str(parts)
    # The next run's history has the tool call and its result, as the model needs them.
    assert model.calls[2]["messages"][:4] == [
        {"role": "user", "content": [{"type": "text", "text": "go"}]},
        {"role": "assistant", "content": [
            {"type": "tool-call", "toolCallId": "k1", "toolName": "lookup", "input": {"q": "x"}}]},
        {"role": "tool", "content": [
            {"type": "tool-result", "toolCallId": "k1", "toolName": "lookup",
             "output": {"answer": "X"}, "isError": False}]},
        {"role": "assistant", "content": [{"type": "text", "text": "done"}]},
    ]  # fmt: skip


async def test_memory_abort_keeps_partial_text(db_url: str) -> None:
    model = ScriptedModel([{"text": [f"w{i} " for i in range(1000)], "delay": 0.005}])
    agent = Agent("a", model=model)
    async with Streamwise(agents=[agent], storage=db_url) as app:
        out = agent.stream("talk", memory={"thread": "t"})
        seen = 0
        async for chunk in out:
            if chunk["type"] == "text-delta":
                seen += 1
                if seen == 3:
                    out.cancel()
        assert await out.status == "canceled"
        stored = await app.storage.list_messages("t")
        run = await app.storage.get_run(out.run_id)
    assert texts(stored)[0] == ("user", "talk")
    role, text = texts(stored)[1]
    assert role == "assistant"
    assert text.startswith("w0 w1 w2 ")
    assert text == "".join(c["payload"]["text"] for c in out.chunks if c["type"] == "text-delta")
    meta = stored[1]["metadata"]
    assert (meta["status"], meta["partial"], meta["finishReason"]) == ("canceled", True, "abort")
    assert run is not None
    assert run["status"] == "canceled"


async def test_memory_model_error_keeps_what_arrived(db_url: str) -> None:
    agent = Agent("a", model=ScriptedModel([{"text": "half an answer", "error": "model died"}]))
    async with Streamwise(agents=[agent], storage=db_url) as app:
        out = agent.stream("q", memory={"thread": "t"})
        chunks = await collect(out)
        assert chunks[-1]["type"] == "error"
        stored = await app.storage.list_messages("t")
        run = await app.storage.get_run(out.run_id)
    assert texts(stored) == [("user", "q"), ("assistant", "half an answer")]
    meta = stored[1]["metadata"]
    assert (meta["status"], meta["partial"]) == ("failed", True)
    assert "model died" in str(meta["error"])
    assert run is not None
    assert run["status"] == "failed"


async def test_memory_event_log_is_complete_when_readers_see_the_end(db_url: str) -> None:
    agent = Agent("a", model=ScriptedModel([{"text": [f"{i} " for i in range(2000)]}]))
    async with Streamwise(agents=[agent], storage=db_url) as app:
        out = agent.stream("q", memory={"thread": "t"})
        chunks = await collect(out)
        assert await app.storage.read_events(out.run_id) == chunks
        assert await app.storage.read_events(out.run_id, 1500) == chunks[1500:]


async def test_memory_explicit_storage_records_runs_without_memory(db_url: str) -> None:
    agent = Agent("a", model=ScriptedModel([{"text": "hi"}]))
    async with Streamwise(agents=[agent], storage=db_url) as app:
        out = agent.stream("q")
        chunks = await collect(out)
        assert await app.storage.read_events(out.run_id) == chunks
        run = await app.storage.get_run(out.run_id)
        assert run is not None
        assert (run["status"], run["threadId"]) == ("success", None)


async def test_memory_default_storage_untouched_by_runs_without_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "default.db"
    monkeypatch.setenv("STREAMWISE_DATABASE_URL", f"sqlite:///{db}")
    agent = Agent("a", model=ScriptedModel([{"text": "hi"}, {"text": "again"}]))
    async with Streamwise(agents=[agent]) as app:
        assert app.storage.url.path == str(db)
        await agent.stream("q").text
        assert not db.exists()
        await agent.stream("q", memory={"thread": "t"}).text
        assert db.exists()
        assert len(await app.storage.list_messages("t")) == 2


async def test_memory_options_checked_at_stream_time(db_url: str) -> None:
    lone = Agent("lone", model=ScriptedModel([]))
    with pytest.raises(ConfigurationError, match="has no storage"):
        lone.stream("q", memory={"thread": "t"})
    agent = Agent("a", model=ScriptedModel([]))
    async with Streamwise(agents=[agent], storage=db_url):
        with pytest.raises(InvalidIdError, match="thread id"):
            agent.stream("q", memory={"thread": "bad\nid"})
        with pytest.raises(ConfigurationError, match="last_messages"):
            agent.stream("q", memory={"thread": "t", "last_messages": -1})
        with pytest.raises(ConfigurationError, match="memory= takes"):
            agent.stream("q", memory={"resource": "u"})  # type: ignore[arg-type]


async def test_memory_thread_of_another_resource_fails_the_run(db_url: str) -> None:
    agent = Agent("a", model=ScriptedModel([{"text": "x"}, {"text": "y"}]))
    async with Streamwise(agents=[agent], storage=db_url) as app:
        await agent.stream("q", memory={"thread": "t", "resource": "alice"}).text
        out = agent.stream("q", memory={"thread": "t", "resource": "mallory"})
        chunks = await collect(out)
        assert chunks[-1]["type"] == "error"
        assert isinstance(await out.error, StorageError)
        assert len(await app.storage.list_messages("t")) == 2


async def test_memory_unreachable_database_ends_the_stream_with_error() -> None:
    agent = Agent("a", model=ScriptedModel([{"text": "x"}]))
    app = Streamwise(agents=[agent], storage="postgresql://u@127.0.0.1:1/db")
    out = agent.stream("q", memory={"thread": "t"})
    chunks = await collect(out)
    assert [c["type"] for c in chunks] == ["start", "error"]
    assert "cannot open the database" in chunks[-1]["payload"]["error"]["message"]
    await app.close()


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from streamwise import Agent, Streamwise
    from streamwise.testing import ScriptedModel

    async def main(url):
        model = ScriptedModel([{"text": [f"p{i} " for i in range(100000)], "delay": 0.002}])
        agent = Agent("a", model=model)
        app = Streamwise(agents=[agent], storage=url)
        out = agent.stream("hello", memory={"thread": "t", "resource": "u"}, run_id="doomed")
        n = 0
        async for chunk in out:
            if chunk["type"] == "text-delta":
                n += 1
                if n == 5:
                    await app.storage.flush_events()
                    print("ready", flush=True)

    asyncio.run(main(sys.argv[1]))
    """
)


async def test_memory_sigkill_mid_run_leaves_store_consistent_and_run_interrupted(
    db_url: str,
) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, db_url, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    assert line.strip() == b"ready"
    proc.send_signal(signal.SIGKILL)
    assert await proc.wait() == -signal.SIGKILL

    async with Store(db_url) as store:
        run = await store.get_run("doomed")
        assert run is not None
        assert run["status"] == "interrupted"
        assert run["endedAt"] is not None
        stored = await store.list_messages("t")
        assert texts(stored)[0] == ("user", "hello")
        assert stored[1]["role"] == "assistant"
        assert texts(stored)[1][1].startswith("p0 p1 p2 p3 p4 ")
        assert stored[1]["metadata"]["status"] == "interrupted"
        assert stored[1]["metadata"]["partial"] is True
        events = await store.read_events("doomed")
        assert [e["type"] for e in events[:3]] == ["start", "step-start", "text-start"]
        # Recovery happens once: a second store finds nothing left to recover.
        assert await store.recover_interrupted() == []
    async with Store(db_url) as again:
        assert len(await again.list_messages("t")) == 2


SAVE_CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from streamwise.storage import Store

    async def main(url, action):
        async with Store(url) as store:
            if action == "suspend":
                await store.save_snapshot("trip", "run-1", {
                    "status": "suspended", "input": {"city": "Paris"},
                    "steps": {"plan": {"status": "success", "output": {"days": 3}},
                              "approve": {"status": "suspended", "suspendPayload": {"ask": "ok?"}}},
                    "suspendedPaths": {"approve": [1]},
                })
            else:
                snap = await store.load_snapshot("trip", "run-1")
                print(snap["status"], snap["result"], flush=True)

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


async def _child(url: str, action: str) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SAVE_CHILD, url, action, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    return out


async def test_memory_snapshot_resumes_in_a_new_process(db_url: str) -> None:
    await _child(db_url, "suspend")
    async with Store(db_url) as store:
        snap: dict[str, Any] | None = await store.load_snapshot("trip", "run-1")
        assert snap is not None
        assert snap["status"] == "suspended"
        assert snap["steps"]["approve"]["suspendPayload"] == {"ask": "ok?"}
        assert await store.compare_and_set_status("trip", "run-1", "suspended", "running")
        assert not await store.compare_and_set_status("trip", "run-1", "suspended", "running")
        snap["steps"]["approve"] = {"status": "success", "output": True}
        await store.save_snapshot(
            "trip", "run-1", {**snap, "status": "success", "result": "booked"}
        )
    assert (await _child(db_url, "load")).split() == [b"success", b"booked"]


async def test_memory_events_written_while_the_run_goes_on(db_url: str) -> None:
    store = Store(db_url, event_flush_interval=0.01)
    written = asyncio.Event()
    write = store._write_pending

    async def spy(rows: list[dict[str, Any]]) -> None:
        await write(rows)
        if rows:
            written.set()

    store._write_pending = spy  # type: ignore[method-assign]
    agent = Agent(
        "a", model=ScriptedModel([{"text": [f"{i} " for i in range(400)], "delay": 0.005}])
    )
    async with Streamwise(agents=[agent], storage=store):
        out = agent.stream("q", memory={"thread": "t"})
        await asyncio.wait_for(written.wait(), 20)
        assert not out.done
        logged = await store.read_events(out.run_id)
        assert logged
        assert logged == out.chunks[: len(logged)]
        # The run's start was written with the first flush: recorded, input stored.
        run = await store.get_run(out.run_id)
        assert run is not None
        assert run["status"] == "running"
        assert texts(await store.list_messages("t")) == [("user", "q")]
        out.cancel()
        await out.wait()
        assert await store.read_events(out.run_id) == out.chunks
    await store.close()


async def test_memory_reader_going_away_does_not_lose_the_run(db_url: str) -> None:
    agent = Agent(
        "a", model=ScriptedModel([{"text": [f"{i} " for i in range(50)], "delay": 0.001}])
    )
    async with Streamwise(agents=[agent], storage=db_url) as app:
        out = agent.stream("q", memory={"thread": "t"})
        reader = aiter(out)
        async for chunk in reader:
            if chunk["type"] == "text-delta":
                break
        await reader.aclose()  # type: ignore[attr-defined]
        await out.wait()
        assert await out.status == "success"
        stored = await app.storage.list_messages("t")
    assert texts(stored)[1] == ("assistant", "".join(f"{i} " for i in range(50)))
    assert stored[1]["metadata"]["status"] == "success"


async def test_memory_data_parts_from_a_nested_run_are_stored_in_the_parent(db_url: str) -> None:
    async def card(inp: Q, ctx: ToolContext) -> str:
        await ctx.writer.custom({"type": "data-card", "data": {"q": inp.q}, "id": "deep"})
        return "ok"

    child = Agent(
        "child",
        model=ScriptedModel(
            [
                {"tool_calls": [{"name": "card", "args": {"q": "nested"}}]},
                {"text": "child done"},
            ]
        ),
        tools=[create_tool("card", "d", Q, card)],
    )
    parent = Agent(
        "parent",
        model=ScriptedModel(
            [
                {"tool_calls": [{"name": "agent-child", "args": {"prompt": "go"}, "id": "k"}]},
                {"text": "all done"},
            ]
        ),
        agents=[child],
    )
    async with Streamwise(agents=[parent], storage=db_url) as app:
        await parent.stream("q", memory={"thread": "t"}).text
        stored = await app.storage.list_messages("t")
    parts = stored[1]["content"]
    assert {"type": "data-card", "data": {"q": "nested"}, "id": "deep"} in parts
    assert [p["type"] for p in parts if p["type"] != "step-start"] == [
        "tool-invocation", "data-card", "text",
    ]  # fmt: skip
    assert parts[1]["toolInvocation"]["result"] == {"text": "child done"}


async def test_memory_stream_waiting_for_approval_is_stored_as_suspended(db_url: str) -> None:
    async def delete(inp: Q, ctx: ToolContext) -> dict[str, bool]:
        return {"deleted": True}

    tool = create_tool("delete", "Delete", Q, delete, require_approval=True)
    model = ScriptedModel([{"tool_calls": [{"name": "delete", "args": {"q": "r1"}, "id": "c1"}]}])
    agent = Agent("admin", model=model, tools=[tool])
    async with Streamwise(agents=[agent], storage=db_url) as app:
        out = agent.stream("delete r1", memory={"thread": "t"})
        assert await out.status == "suspended"
        stored = await app.storage.list_messages("t")
        run = await app.storage.get_run(out.run_id)
    parts = stored[1]["content"]
    assert parts[1]["toolInvocation"]["state"] == "call"
    assert (stored[1]["metadata"]["status"], stored[1]["metadata"]["partial"]) == (
        "suspended",
        True,
    )
    assert run is not None
    assert run["status"] == "suspended"


async def test_memory_run_id_given_again_starts_a_fresh_log(db_url: str) -> None:
    agent = Agent("a", model=ScriptedModel([{"text": "first answer"}, {"text": "second"}]))
    async with Streamwise(agents=[agent], storage=db_url) as app:
        await collect(agent.stream("q1", memory={"thread": "t"}, run_id="same"))
        out = agent.stream("q2", memory={"thread": "t"}, run_id="same")
        chunks = await collect(out)
        assert await app.storage.read_events("same") == chunks
        stored = await app.storage.list_messages("t")
    assert texts(stored) == [
        ("user", "q1"), ("assistant", "first answer"), ("user", "q2"), ("assistant", "second"),
    ]  # fmt: skip


async def test_memory_concurrent_runs_on_one_thread_keep_every_message(db_url: str) -> None:
    agent = Agent(
        "a",
        model=ScriptedModel(
            lambda messages: {"text": [f"re:{messages[-1]['content']} ", "done"], "delay": 0.001}
        ),
    )
    async with Streamwise(agents=[agent], storage=db_url) as app:
        outs = [agent.stream(f"q{i}", memory={"thread": "t", "last_messages": 0}) for i in range(8)]
        await asyncio.gather(*(o.wait() for o in outs))
        stored = texts(await app.storage.list_messages("t"))
    assert len(stored) == 16
    for i in range(8):
        assert stored.index(("user", f"q{i}")) < stored.index(("assistant", f"re:q{i} done"))


async def test_memory_approved_run_continues_its_log_and_stores_the_rest(db_url: str) -> None:
    from tests.agent.test_approval import deleting_agent

    agent, deleted = deleting_agent()
    async with Streamwise(agents=[agent], storage=db_url) as app:
        out = agent.stream("delete r1", memory={"thread": "t-appr", "resource": "u"})
        first = [c async for c in out]
        assert await out.status == "suspended"
        resumed = agent.approve_tool_call(out.run_id)
        second = [c async for c in resumed]
        assert await resumed.status == "success"
        store = app.storage
        messages = await store.list_messages("t-appr")
        # One answer, in its place: the approval request, then the result and the text.
        assert [m["role"] for m in messages] == ["user", "assistant"]
        parts = messages[1]["content"]
        [tool] = [p["toolInvocation"] for p in parts if p["type"] == "tool-invocation"]
        assert tool["toolName"] == "delete"
        assert tool["state"] == "result"
        assert tool["result"] == {"deleted": True}
        texts = [p.get("text") for p in parts if p["type"] == "text"]
        assert texts == ["after: {'deleted': True}"]
        assert await store.read_events(out.run_id) == first + second
        run = await store.get_run(out.run_id)
        assert run is not None
        assert run["status"] == "success"
    assert deleted == ["r1"]


async def test_memory_two_new_runs_making_one_thread_for_two_resources(db_url: str) -> None:
    """Two processes (two stores) start runs on one new thread for two resources: both read
    the thread as new; the run written second stores neither its input nor its answer in the
    other resource's thread (the run itself is recorded)."""
    async with Store(db_url) as first, Store(db_url) as second:
        stores = {"r1": first, "r2": second}
        resources = {"r1": "alice", "r2": "mallory"}
        for run, store in stores.items():
            history = await store.begin_agent_run(
                run,
                agent_id="a",
                thread_id="t",
                resource_id=resources[run],
                last_messages=10,
                messages=[{"role": "user", "content": f"from {resources[run]}", "runId": run}],
            )
            assert history == []
        # r2's start is written first (its flush), then r1 ends.
        await second.flush_events()
        for run in ("r1", "r2"):
            answer: MessageInput = {"role": "assistant", "content": f"to {run}", "runId": run}
            await stores[run].end_agent_run(
                run, status="success", thread_id="t", resource_id=resources[run], message=answer
            )
        thread = await first.get_thread("t")
        assert thread is not None
        assert thread["resourceId"] == "mallory"
        assert texts(await first.list_messages("t")) == [
            ("user", "from mallory"),
            ("assistant", "to r2"),
        ]
        for run in ("r1", "r2"):
            recorded = await first.get_run(run)
            assert recorded is not None
            assert recorded["status"] == "success"


class _Weather(BaseModel):
    city: str
    temp: int


async def test_memory_event_log_of_structured_output_is_every_chunk(db_url: str) -> None:
    """Structured output writes `object` chunks between text deltas: the log still replays
    every chunk as it was (the stretches of deltas around them are packed apart)."""
    pieces = ['{"city": ', '"Oslo", ', '"temp": ', "-3}"]
    agent = Agent("a", model=ScriptedModel([{"text": pieces}]))
    async with Streamwise(agents=[agent], storage=db_url) as app:
        out = agent.stream("weather?", output=_Weather, memory={"thread": "t"})
        chunks = await collect(out)
        assert "object" in types(chunks)
        assert await app.storage.read_events(out.run_id) == chunks
        [answer] = [m for m in await app.storage.list_messages("t") if m["role"] == "assistant"]
        assert [p["text"] for p in answer["content"] if p["type"] == "text"] == ["".join(pieces)]


async def test_memory_bounded_replay_window_loses_nothing(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that keeps only its last 64 chunks in memory: the chunks that leave the window
    before a flush are packed as they go, so the event log and the answer are whole."""
    monkeypatch.setattr(AgentOutput, "replay_window", 64)
    pieces = [f"{i} " for i in range(3000)]
    agent = Agent("a", model=ScriptedModel([{"text": pieces}]))
    async with Streamwise(agents=[agent], storage=db_url) as app:
        out = agent.stream("q", memory={"thread": "t"})
        await out.wait()
        assert await out.status == "success"
        assert out.statistics().dropped > 0  # the window did drop chunks
        events = await app.storage.read_events(out.run_id)
        assert len(events) == out.statistics().chunks
        assert "".join(e["payload"]["text"] for e in events if e["type"] == "text-delta") == (
            "".join(pieces)
        )
        stats = out.statistics()
        assert events[-stats.held :] == out.chunks_from(stats.chunks - stats.held)
        stored = texts(await app.storage.list_messages("t"))
        assert stored == [("user", "q"), ("assistant", "".join(pieces))]


async def test_memory_refused_run_leaves_no_event_rows_behind(db_url: str) -> None:
    agent = Agent("a", model=ScriptedModel([{"text": "x"}, {"text": "y"}]))
    async with Streamwise(agents=[agent], storage=db_url) as app:
        await agent.stream("q", memory={"thread": "t", "resource": "alice"}).text
        out = agent.stream("q", memory={"thread": "t", "resource": "mallory"})
        await out.wait()
        assert isinstance(await out.error, StorageError)
        await app.storage.flush_events()
        assert await app.storage.get_run(out.run_id) is None
        assert await app.storage.read_events(out.run_id) == []


async def test_memory_runs_keep_their_stores_heartbeat_fresh(db_url: str) -> None:
    """A store's heartbeat rides on its runs' writes (at most every quarter of stale_after):
    another process never takes a busy store for gone."""
    agent = Agent("a", model=ScriptedModel(lambda messages: {"text": "ok"}))
    async with Store(db_url, stale_after=0.2) as store, Streamwise(agents=[agent], storage=store):
        await agent.stream("first", memory={"thread": "t"}).wait()

        async def heartbeat() -> int:
            async with store._tx() as conn:
                query = sa.select(owners.c.heartbeat_at).where(owners.c.id == store.owner_id)
                return int((await conn.execute(query)).scalar_one())

        before = await heartbeat()
        await asyncio.sleep(0.1)  # more than a quarter of stale_after
        await agent.stream("second", memory={"thread": "t"}).wait()
        assert await heartbeat() > before
