"""Runs: suspend and resume (also from a fresh process), cancel, failure and retries."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from streamwise import Agent, create_step, create_workflow
from streamwise.errors import ConfigurationError, RunError, WorkflowRunBusyError
from streamwise.storage import Store
from streamwise.testing import ScriptedModel
from streamwise.workflows import InMemorySnapshotStore, JsonFileSnapshotStore, StepContext, Workflow
from tests.support import collect, types, until
from tests.workflows.flows import Decision, Item, Value, approval, arithmetic, three_step

ROOT = Path(__file__).parents[2]


async def suspend_in_another_process(where: str, run_id: str) -> str:
    """Run the approval workflow until it suspends, in a new Python process; its stdout."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.workflows.flows",
        where,
        run_id,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    raw, _ = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0
    stdout = raw.decode()
    assert stdout.split("\n")[-2] == "status suspended"
    assert "workflow-step-suspended" in stdout
    return stdout


async def test_resume_from_a_fresh_process(tmp_path: Path) -> None:
    store_path = tmp_path / "snapshots.json"
    await suspend_in_another_process(str(store_path), "appr-9")

    wf = approval(JsonFileSnapshotStore(store_path))  # a new workflow object, a new store object
    stored = await wf.store.load_snapshot("approval", "appr-9")
    assert stored is not None
    assert stored["status"] == "suspended"
    assert stored["suspendedPaths"] == {"approve": [1]}
    assert stored["steps"]["approve"]["suspendPayload"] == {"reason": "approve INVOICE?"}

    run = await wf.get_run("appr-9")
    assert run is not None
    out = run.resume_stream(resume_data={"approved": True})
    chunks = await collect(out)
    assert types(chunks) == [
        "workflow-start", "workflow-step-start", "workflow-step-result", "workflow-finish",
    ]  # fmt: skip
    assert chunks[1]["payload"]["resumePayload"] == {"approved": True}
    assert await out.result == {"item": "INVOICE", "approved": True}
    final = await wf.store.load_snapshot("approval", "appr-9")
    assert final is not None
    assert final["status"] == "success"
    assert final["result"] == {"item": "INVOICE", "approved": True}
    runs = await wf.list_runs()
    assert [r["runId"] for r in runs] == ["appr-9"]


async def test_resume_from_a_fresh_process_on_both_databases(db_url: str) -> None:
    url = db_url
    await suspend_in_another_process(url, "appr-sql")
    async with Store(url) as store:
        wf = approval(store)
        run = await wf.get_run("appr-sql")
        assert run is not None
        out = run.resume_stream(resume_data={"approved": True})
        assert await out.result == {"item": "INVOICE", "approved": True}
        (row,) = await wf.list_runs()
        assert row["status"] == "success"


async def test_two_resumes_through_a_shared_database_exactly_one_wins(tmp_path: Path) -> None:
    entered = asyncio.Event()
    release = asyncio.Event()

    async def gate(ctx: StepContext) -> dict[str, str]:
        if ctx.resume_data is None:
            await ctx.suspend({"reason": "wait"})
        entered.set()
        await release.wait()  # the winner holds its claim while the other tries
        return {"item": ctx.input_data.item}

    def gated(store: Store) -> Workflow:
        step = create_step("gate", Item, Item, gate)
        return create_workflow("gated", Item, Item, store=store).then(step).commit()

    async with Store(f"sqlite:///{tmp_path}/db.sqlite") as store:
        # Two workflow objects, as two server processes would have.
        here, there = gated(store), gated(store)
        run = await here.create_run(run_id="g1")
        assert (await run.start({"item": "x"})).status == "suspended"
        first = run.resume_stream(resume_data={})
        await entered.wait()
        second = (await there.create_run(run_id="g1")).resume_stream(resume_data={})
        assert types(await collect(second)) == ["workflow-start", "workflow-finish"]
        with pytest.raises(WorkflowRunBusyError, match="running in another stream"):
            await second.result
        release.set()
        assert await first.result == {"item": "x"}
        (row,) = await here.list_runs()
        assert row["status"] == "success"


async def test_two_concurrent_resumes_second_gets_busy_and_every_stream_ends() -> None:
    wf = approval()
    run = await wf.create_run()
    assert (await run.start({"item": "x"})).status == "suspended"

    first = run.resume_stream(resume_data={"approved": True})
    with pytest.raises(WorkflowRunBusyError, match="already streaming"):
        run.resume_stream(resume_data={"approved": False})
    # Another run object for the same id (as a second HTTP request would make).
    other = await wf.get_run(run.run_id)
    assert other is not None
    with pytest.raises(WorkflowRunBusyError):
        other.resume_stream(resume_data={"approved": False})
    assert await first.result == {"item": "X", "approved": True}


async def test_resume_claimed_elsewhere_ends_failed_without_touching_the_snapshot(
    tmp_path: Path,
) -> None:
    store = JsonFileSnapshotStore(tmp_path / "s.json")
    wf = approval(store)
    run = await wf.create_run(run_id="r1")
    await run.start({"item": "x"})
    # Another process claimed it: its compare-and-set won.
    assert await store.compare_and_set_status("approval", "r1", "suspended", "running")
    assert not await store.compare_and_set_status("approval", "r1", "suspended", "running")
    out = run.resume_stream(resume_data={"approved": True})
    chunks = await collect(out)
    assert types(chunks) == ["workflow-start", "workflow-finish"]
    assert chunks[-1]["payload"]["workflowStatus"] == "failed"
    with pytest.raises(WorkflowRunBusyError, match="running in another stream"):
        await out.result
    snapshot = await store.load_snapshot("approval", "r1")
    assert snapshot is not None
    assert snapshot["status"] == "running"  # as the winner left it
    assert snapshot["steps"]["approve"]["status"] == "suspended"


async def test_resume_of_a_run_that_is_not_suspended_is_a_clear_error() -> None:
    wf = three_step()
    run = await wf.create_run()
    await run.start({"value": 1})
    out = run.resume_stream(resume_data={})
    await out.wait()
    with pytest.raises(RunError, match="is 'success', not suspended"):
        await out.result
    missing = await wf.create_run(run_id="nope")
    result = await missing.resume(resume_data={})
    assert result.status == "failed"
    assert isinstance(result.error, RunError)
    assert "no run 'nope'" in str(result.error)
    assert await wf.get_run("never-made") is None


def _raise(result: Any) -> None:
    if result.error is not None:
        raise result.error


async def test_resume_data_is_validated_against_the_resume_schema() -> None:
    wf = approval()
    run = await wf.create_run()
    await run.start({"item": "x"})
    out = run.resume_stream(step="approve", resume_data={"approved": "maybe"})
    chunks = await collect(out)
    failed = chunks[-2]["payload"]
    assert failed["status"] == "failed"
    assert "resume_schema" in failed["error"]["message"]
    assert "field 'approved'" in failed["error"]["message"]


async def test_suspend_payload_is_validated_against_the_suspend_schema() -> None:
    async def bad(ctx: StepContext) -> dict[str, str]:
        await ctx.suspend({"why": 1})
        raise AssertionError("not reached")

    class Reason(BaseModel):
        reason: str

    wf = (
        create_workflow("s")
        .then(create_step("bad", Item, Item, bad, suspend_schema=Reason))
        .commit()
    )
    out = (await wf.create_run()).stream({"item": "x"})
    chunks = await collect(out)
    assert "suspend_schema" in chunks[-2]["payload"]["error"]["message"]
    assert await out.status == "failed"


async def test_parallel_suspends_resume_one_at_a_time() -> None:
    def gate(id: str) -> Any:
        async def execute(ctx: StepContext) -> dict[str, int]:
            if ctx.resume_data is None:
                await ctx.suspend({"ask": id})
            await ctx.writer.write({"resumed": id})
            return {"value": ctx.input_data.value + ctx.resume_data["add"]}

        return create_step(id, Value, Value, execute)

    wf = create_workflow("two-gates", Value).parallel([gate("a"), gate("b")]).commit()
    run = await wf.create_run()
    first = await run.start({"value": 1})
    assert first.status == "suspended"
    assert sorted(first.suspended) == ["a", "b"]
    with pytest.raises(ConfigurationError, match="several steps are suspended"):
        _raise(await run.resume(resume_data={"add": 1}))

    second = run.resume_stream(step="a", resume_data={"add": 10})
    chunks = await collect(second)
    assert await second.status == "suspended"
    assert await second.suspended == ["b"]
    assert [c["payload"]["id"] for c in chunks if c["type"] == "workflow-step-result"] == ["a"]
    assert [c["payload"]["output"] for c in chunks if c["type"] == "workflow-step-output"] == [
        {"resumed": "a"}
    ]

    third = run.resume_stream(step="b", resume_data={"add": 100})
    chunks = await collect(third)
    assert await third.result == {"a": {"value": 11}, "b": {"value": 101}}
    assert [c["payload"]["id"] for c in chunks if c["type"] == "workflow-step-start"] == ["b"]


async def test_suspend_inside_nested_workflow_and_loop_then_resume() -> None:
    async def ask(ctx: StepContext) -> dict[str, int]:
        if ctx.resume_data is None:
            await ctx.suspend({"value": ctx.input_data.value})
        ctx.state["resumes"] = ctx.state.get("resumes", 0) + 1
        return {"value": ctx.input_data.value + 1}

    child = (
        create_workflow("child", Value, Value).then(create_step("ask", Value, Value, ask)).commit()
    )
    wf = (
        create_workflow("outer", Value, Value)
        .then(arithmetic("first", lambda v: v * 10))
        .dountil(child, lambda ctx: ctx.input_data["value"] >= 12)
        .then(arithmetic("last", lambda v: v))
        .commit()
    )
    run = await wf.create_run()
    out = run.stream({"value": 1})
    chunks = await collect(out)
    assert await out.status == "suspended"
    suspended = [c["payload"]["id"] for c in chunks if c["type"] == "workflow-step-suspended"]
    assert suspended == ["child.ask", "child"]
    assert await out.suspended == ["child.ask"]

    out = run.resume_stream(step=["child", "ask"], resume_data={"ok": True})
    chunks = await collect(out)
    assert await out.status == "suspended"  # the loop went round again and asked again
    starts = [c["payload"] for c in chunks if c["type"] == "workflow-step-start"]
    assert [s["id"] for s in starts] == ["child", "child.ask", "child", "child.ask"]
    assert starts[1]["resumePayload"] == {"ok": True}
    assert "resumePayload" not in starts[3]

    out = run.resume_stream(step="ask", resume_data={"ok": True})
    chunks = await collect(out)
    assert await out.result == {"value": 12}
    snapshot = await wf.store.load_snapshot("outer", run.run_id)
    assert snapshot is not None
    assert snapshot["state"] == {"resumes": 2}
    assert snapshot["steps"]["first"]["output"] == {"value": 10}
    assert [c["payload"]["id"] for c in chunks if c["type"] == "workflow-step-start"][-1] == "last"


async def test_snapshot_is_saved_at_every_step_start_and_end() -> None:
    saved: list[tuple[str, dict[str, str]]] = []

    class Recording(InMemorySnapshotStore):
        async def save_snapshot(
            self, workflow_id: str, run_id: str, snapshot: dict[str, Any]
        ) -> None:
            steps = {k: v["status"] for k, v in snapshot["steps"].items()}
            saved.append((snapshot["status"], steps))
            await super().save_snapshot(workflow_id, run_id, snapshot)

    wf = three_step()
    wf.store = Recording()
    await (await wf.create_run()).start({"value": 1})
    assert saved == [
        ("running", {"add-one": "running"}),
        ("running", {"add-one": "success"}),
        ("running", {"add-one": "success", "double": "running"}),
        ("running", {"add-one": "success", "double": "success"}),
        ("running", {"add-one": "success", "double": "success", "square": "running"}),
        ("running", {"add-one": "success", "double": "success", "square": "success"}),
        ("success", {"add-one": "success", "double": "success", "square": "success"}),
    ]


async def test_cancel_mid_step_cancels_nested_agent_and_ends_canceled() -> None:
    in_step = asyncio.Event()
    model = ScriptedModel([{"text": "a b c d e f g h", "delay": 0.05}])
    agent = Agent("slow", model=model)

    async def long(ctx: StepContext) -> dict[str, str]:
        out = agent.stream("go")
        in_step.set()
        await out.pipe_to(ctx.writer)
        return {"item": await out.text}

    wf = create_workflow("c").then(create_step("long", Item, Item, long)).commit()
    run = await wf.create_run()
    out = run.stream({"item": "x"})
    await in_step.wait()
    await until(lambda: any(c["type"] == "workflow-step-output" for c in out.chunks))
    assert run.cancel()
    chunks = await collect(out)
    assert types(chunks)[-2:] == ["workflow-canceled", "workflow-finish"]
    assert chunks[-1]["payload"]["workflowStatus"] == "canceled"
    assert await out.status == "canceled"
    assert await out.result is None
    (child,) = out.children
    assert child.done
    assert await child.status == "canceled"
    snapshot = await wf.store.load_snapshot("c", run.run_id)
    assert snapshot is not None
    assert snapshot["status"] == "canceled"
    assert snapshot["steps"]["long"]["status"] == "canceled"
    assert not run.cancel()


async def test_cancel_in_parallel_cancels_every_branch() -> None:
    started = 0
    both = asyncio.Event()
    cancelled: list[str] = []

    def forever(id: str) -> Any:
        async def execute(ctx: StepContext) -> dict[str, int]:
            nonlocal started
            started += 1
            if started == 2:
                both.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(id)
                raise
            return {"value": 0}

        return create_step(id, Value, Value, execute)

    wf = create_workflow("p").parallel([forever("a"), forever("b")]).commit()
    run = await wf.create_run()
    out = run.stream({"value": 1})
    await both.wait()
    run.cancel()
    assert types(await collect(out))[-2:] == ["workflow-canceled", "workflow-finish"]
    assert sorted(cancelled) == ["a", "b"]


async def test_failing_step_gives_failed_result_then_failed_finish() -> None:
    async def boom(ctx: StepContext) -> dict[str, int]:
        await ctx.writer.write("about to fail")
        raise ValueError("the database is on fire")

    wf = (
        create_workflow("f", Value)
        .then(create_step("boom", Value, Value, boom))
        .then(arithmetic("never", lambda v: v))
        .commit()
    )
    run = await wf.create_run()
    out = run.stream({"value": 1})
    chunks = await collect(out)
    assert types(chunks) == [
        "workflow-start", "workflow-step-start", "workflow-step-output",
        "workflow-step-result", "workflow-finish",
    ]  # fmt: skip
    result = chunks[3]["payload"]
    assert result["status"] == "failed"
    assert result["error"] == {"message": "the database is on fire", "name": "ValueError"}
    assert list(result) == [
        "stepName", "id", "stepCallId", "payload", "startedAt", "status", "error", "endedAt",
    ]  # fmt: skip
    finish = chunks[-1]["payload"]
    assert finish["workflowStatus"] == "failed"
    assert finish["metadata"] == {
        "error": {"message": "the database is on fire", "name": "ValueError"},
        "errorMessage": "the database is on fire",
    }
    with pytest.raises(ValueError, match="on fire"):
        await out.result
    outcome = await run.resume(resume_data=None)
    assert outcome.status == "failed"
    snapshot = await wf.store.load_snapshot("f", run.run_id)
    assert snapshot is not None
    assert snapshot["status"] == "failed"
    assert snapshot["error"]["message"] == "the database is on fire"


async def test_retries_with_backoff_then_succeed_or_fail() -> None:
    attempts: list[int] = []

    async def flaky(ctx: StepContext) -> dict[str, int]:
        attempts.append(ctx.retry_count)
        await ctx.writer.write({"attempt": ctx.retry_count})
        if ctx.retry_count < 2:
            raise ConnectionError("try again")
        return {"value": ctx.input_data.value}

    wf = (
        create_workflow("r", Value)
        .then(create_step("flaky", Value, Value, flaky, retries=2, retry_delay=0.001))
        .commit()
    )
    out = (await wf.create_run()).stream({"value": 5})
    chunks = await collect(out)
    assert await out.result == {"value": 5}
    assert attempts == [0, 1, 2]
    assert types(chunks).count("workflow-step-start") == 1
    assert types(chunks).count("workflow-step-output") == 3

    attempts.clear()
    wf2 = (
        create_workflow("r2", Value)
        .then(create_step("flaky", Value, Value, flaky, retries=1, retry_delay=0))
        .commit()
    )
    out = (await wf2.create_run()).stream({"value": 5})
    chunks = await collect(out)
    assert attempts == [0, 1]
    assert chunks[-2]["payload"]["error"]["message"] == "try again"
    assert await out.status == "failed"


async def test_second_stream_of_a_running_run_is_busy() -> None:
    release = asyncio.Event()

    async def wait(ctx: StepContext) -> dict[str, int]:
        await release.wait()
        return {"value": 1}

    wf = create_workflow("b").then(create_step("w", Value, Value, wait)).commit()
    run = await wf.create_run()
    out = run.stream({"value": 1})
    with pytest.raises(WorkflowRunBusyError):
        run.stream({"value": 1})
    release.set()
    assert await out.result == {"value": 1}


async def test_on_chunk_sees_every_chunk_in_order() -> None:
    seen: list[str] = []
    run = await three_step().create_run()
    out = run.stream({"value": 1}, on_chunk=lambda c: seen.append(c["type"]))
    assert types(await collect(out)) == seen


async def test_usage_of_resume_decision_type() -> None:
    # Decision is the resume schema: ctx.resume_data is an instance of it.
    wf = approval()
    run = await wf.create_run()
    await run.start({"item": "y"})
    result = await run.resume(step="approve", resume_data=Decision(approved=False))
    assert result.result == {"item": "Y", "approved": False}


async def test_get_run_of_a_running_run_observes_its_stream() -> None:
    release = asyncio.Event()

    async def wait(ctx: StepContext) -> dict[str, int]:
        await ctx.writer.write("waiting")
        await release.wait()
        return {"value": 2}

    wf = create_workflow("obs").then(create_step("w", Value, Value, wait)).commit()
    run = await wf.create_run()
    out = run.stream({"value": 1})
    await until(lambda: len(out.chunks) >= 3)
    observed = await wf.get_run(run.run_id)
    assert observed is not None
    assert observed.output is out
    release.set()
    replay = [c async for c in observed.output.read(2)]
    assert types(replay) == ["workflow-step-output", "workflow-step-result", "workflow-finish"]


async def test_foreach_items_suspend_then_resume_runs_only_those_items() -> None:
    calls: list[tuple[int, Any]] = []

    async def check(ctx: StepContext) -> dict[str, int]:
        value = ctx.input_data.value
        calls.append((value, ctx.resume_data))
        if value % 2 and ctx.resume_data is None:
            await ctx.suspend({"odd": value})
        await ctx.writer.write({"item": value})
        return {"value": value * 10}

    wf = (
        create_workflow("each-approve", Value)
        .map(lambda ctx: [{"value": v} for v in range(4)])
        .foreach(create_step("check", Value, Value, check, resume_schema=Decision), concurrency=2)
        .commit()
    )
    run = await wf.create_run()
    first = run.stream({"value": 0})
    chunks = await collect(first)
    assert await first.status == "suspended"
    assert await first.suspended == ["check"]
    suspended = [c for c in chunks if c["type"] == "workflow-step-suspended"]
    assert [s["payload"]["suspendPayload"] for s in suspended] == [{"odd": 1}]
    progress = [
        c["payload"]["iterationStatus"] for c in chunks if c["type"] == "workflow-step-progress"
    ]
    assert sorted(progress) == ["success", "success", "suspended", "suspended"]

    calls.clear()
    second = run.resume_stream(step="check", resume_data={"approved": True})
    chunks = await collect(second)
    assert await second.result == [{"value": 0}, {"value": 10}, {"value": 20}, {"value": 30}]
    assert sorted(v for v, _ in calls) == [1, 3]  # only the suspended items ran again
    assert all(isinstance(d, Decision) for _, d in calls)
    start = next(c for c in chunks if c["type"] == "workflow-step-start")["payload"]
    assert start["resumePayload"] == {"approved": True}
    progress_counts = [
        c["payload"]["completedCount"] for c in chunks if c["type"] == "workflow-step-progress"
    ]
    assert progress_counts == [3, 4]
    writes = [c["payload"]["output"] for c in chunks if c["type"] == "workflow-step-output"]
    assert sorted(w["item"] for w in writes) == [1, 3]


async def test_a_failing_store_still_ends_the_stream() -> None:
    class Broken(InMemorySnapshotStore):
        async def save_snapshot(
            self, workflow_id: str, run_id: str, snapshot: dict[str, Any]
        ) -> None:
            raise OSError("disk full")

    wf = three_step()
    wf.store = Broken()
    out = (await wf.create_run()).stream({"value": 1})
    chunks = await collect(out)
    assert chunks[-1]["type"] == "workflow-finish"
    assert chunks[-1]["payload"]["workflowStatus"] == "failed"
    assert chunks[-1]["payload"]["metadata"]["errorMessage"] == "disk full"
    assert await out.status == "failed"


async def test_cancel_before_the_run_started_still_ends_with_finish() -> None:
    run = await three_step().create_run()
    out = run.stream({"value": 1})
    assert run.cancel()
    chunks = await collect(out)
    assert types(chunks) == ["workflow-canceled", "workflow-finish"]
    assert chunks[-1]["payload"]["workflowStatus"] == "canceled"
    assert await out.status == "canceled"


async def test_a_suspended_run_can_be_canceled_and_then_not_resumed() -> None:
    from streamwise.errors import RunError
    from tests.workflows.flows import approval

    wf = approval()
    run = await wf.create_run()
    assert await run.stream({"item": "invoice"}).status == "suspended"
    assert run.cancel() is False  # no stream is running
    assert await run.cancel_suspended() is True
    assert await run.cancel_suspended() is False
    assert (await wf.store.load_snapshot(wf.id, run.run_id) or {})["status"] == "canceled"
    again = run.resume_stream(resume_data={"approved": True})
    assert await again.status == "failed"
    with pytest.raises(RunError, match="'canceled', not suspended"):
        await again.result


WORKFLOW_CHILD = """
import asyncio, sys
from streamwise import create_step, create_workflow
from streamwise.storage import Store
from tests.workflows.flows import Item

async def first(ctx):
    return {"item": ctx.input_data.item + "!"}

async def stall(ctx):
    print("running", flush=True)
    await asyncio.Event().wait()  # until the process is killed
    return {"item": ctx.input_data.item}

async def main(url):
    async with Store(url) as store:
        wf = create_workflow("stalls", Item, Item, store=store).then(
            create_step("first", Item, Item, first)).then(
            create_step("stall", Item, Item, stall)).commit()
        run = await wf.create_run(run_id="doomed-wf")
        await run.stream({"item": "x"}).status

asyncio.run(main(sys.argv[1]))
"""


async def _never_runs(ctx: StepContext) -> dict[str, str]:
    raise AssertionError("an interrupted run is not resumed")


async def test_a_workflow_run_killed_mid_step_is_marked_interrupted_then_restarted(
    db_url: str,
) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WORKFLOW_CHILD, db_url, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    assert (await asyncio.wait_for(proc.stdout.readline(), 30)).strip() == b"running"
    proc.kill()
    assert await proc.wait() != 0
    async with Store(db_url) as store:  # opening recovers what the dead process left running
        snapshot = await store.load_snapshot("stalls", "doomed-wf")
        assert snapshot is not None
        assert snapshot["status"] == "interrupted"
        run = await store.get_run("doomed-wf")
        assert run is not None
        assert run["status"] == "interrupted"

        async def finish(ctx: StepContext) -> dict[str, str]:
            return {"item": ctx.input_data.item + "?"}

        wf = (
            create_workflow("stalls", Item, Item, store=store)
            .then(create_step("first", Item, Item, _never_runs))  # succeeded: replayed
            .then(create_step("stall", Item, Item, finish))  # was running: runs again
            .commit()
        )
        again = (await wf.create_run(run_id="doomed-wf")).resume_stream(resume_data={})
        with pytest.raises(RunError, match="'interrupted', not suspended"):
            await again.result
        restarted = (await wf.create_run(run_id="doomed-wf")).restart_stream()
        events = [(c["type"], c["payload"].get("id")) for c in await collect(restarted)]
        assert events == [
            ("workflow-start", None),
            ("workflow-step-start", "stall"),
            ("workflow-step-result", "stall"),
            ("workflow-finish", None),
        ]
        assert await restarted.result == {"item": "x!?"}
        record = await store.get_run("doomed-wf")
        assert record is not None
        assert record["status"] == "success"
        once = (await wf.create_run(run_id="doomed-wf")).restart_stream()
        with pytest.raises(RunError, match="'success', not interrupted"):
            await once.result
