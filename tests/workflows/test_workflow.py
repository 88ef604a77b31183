"""The workflow stream against Mastra's captures, and every control-flow construct (§6)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from pydantic import BaseModel

from streamwise import create_step, create_workflow
from streamwise.errors import ConfigurationError
from streamwise.workflows import FlowContext, StepContext, Workflow
from tests.support import collect, types
from tests.workflows.flows import (
    TRACES,
    Value,
    approval,
    arithmetic,
    masked,
    mastra_records,
    three_step,
)


def step_events(chunks: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """``(type, step id)`` of every step event."""
    return [
        (c["type"], c["payload"]["id"])
        for c in chunks
        if c["type"].startswith("workflow-step-") and c["type"] != "workflow-step-output"
    ]


async def test_workflow_stream_matches_mastra_capture() -> None:
    run = await three_step().create_run(run_id="run-fixed-1")
    out = run.stream({"value": 3})
    chunks = await collect(out)
    assert masked(chunks) == masked(mastra_records("wf-stream.raw"))
    assert await out.status == "success"
    assert await out.result == {"value": 64}


async def test_workflow_suspend_and_resume_match_mastra_captures() -> None:
    wf = approval()
    run = await wf.create_run(run_id="appr-1")
    first = run.stream({"item": "invoice"})
    assert masked(await collect(first)) == masked(mastra_records("appr-stream.raw"))
    assert await first.status == "suspended"
    assert await first.result is None
    assert await first.suspended == ["approve"]

    second = run.resume_stream(step="approve", resume_data={"approved": True})
    chunks = await collect(second)
    assert masked(chunks) == masked(mastra_records("appr-resume.raw"))
    # The resumed step keeps its first start time (as in the capture).
    suspended_at = (await first.steps)["approve"]["startedAt"]
    assert chunks[1]["payload"]["startedAt"] == suspended_at
    assert await second.result == {"item": "INVOICE", "approved": True}


async def test_workflow_replay_from_an_offset_matches_mastra_observe_capture() -> None:
    out = (await three_step().create_run(run_id="run-fixed-1")).stream({"value": 3})
    await out.wait()
    assert masked([c async for c in out.read(2)]) == masked(mastra_records("observe.raw"))


def test_step_graph_matches_mastra_capture() -> None:
    listed = orjson.loads((TRACES / "workflows.json").read_bytes())
    assert three_step().step_graph() == listed["threeStep"]["stepGraph"]
    assert approval().step_graph() == listed["approval"]["stepGraph"]


async def test_workflow_several_readers_replay_the_same_chunks() -> None:
    out = (await three_step().create_run()).stream({"value": 1})
    a, b = await asyncio.gather(collect(out), collect(out))
    assert a == b
    assert await collect(out) == a
    assert types(a)[0] == "workflow-start"
    assert types(a)[-1] == "workflow-finish"


async def test_workflow_start_returns_result_without_reading() -> None:
    result = await (await three_step().create_run()).start({"value": 2})
    assert result.status == "success"
    assert result.result == {"value": 36}
    assert result.steps["square"]["output"] == {"value": 36}


class Pair(BaseModel):
    left: Value
    right: Value


async def test_parallel_runs_concurrently_and_interleaves() -> None:
    both_started = asyncio.Event()
    started: list[str] = []

    def side(id: str, delta: int) -> Any:
        async def execute(ctx: StepContext) -> dict[str, int]:
            started.append(id)
            if len(started) == 2:
                both_started.set()
            await both_started.wait()  # each waits for the other: only concurrency passes
            await ctx.writer.write({"from": id})
            return {"value": ctx.input_data.value + delta}

        return create_step(id, Value, Value, execute)

    async def total(ctx: StepContext) -> dict[str, int]:
        return {"value": ctx.input_data.left.value + ctx.input_data.right.value}

    wf = (
        create_workflow("par", Value, Value)
        .parallel([side("left", 1), side("right", 10)])
        .then(create_step("sum", Pair, Value, total))
        .commit()
    )
    out = (await wf.create_run()).stream({"value": 1})
    chunks = await collect(out)
    assert await out.result == {"value": 13}
    events = step_events(chunks)
    assert events[:2] == [("workflow-step-start", "left"), ("workflow-step-start", "right")]
    assert {e for e in events[2:4]} == {
        ("workflow-step-result", "left"),
        ("workflow-step-result", "right"),
    }
    outputs = [c["payload"]["stepName"] for c in chunks if c["type"] == "workflow-step-output"]
    assert sorted(outputs) == ["left", "right"]
    result = next(
        c for c in chunks if c["type"] == "workflow-step-start" and c["payload"]["id"] == "sum"
    )
    assert result["payload"]["payload"] == {"left": {"value": 2}, "right": {"value": 11}}


async def test_branch_runs_every_true_branch() -> None:
    class Out(BaseModel):
        model_config = {"extra": "allow"}

    wf = (
        create_workflow("br", Value, Out)
        .branch(
            [
                (lambda ctx: ctx.input_data["value"] > 0, arithmetic("pos", lambda v: v)),
                (lambda ctx: ctx.input_data["value"] > 100, arithmetic("big", lambda v: v)),
                (_is_odd, arithmetic("odd", lambda v: -v)),
            ]
        )
        .commit()
    )
    out = (await wf.create_run()).stream({"value": 3})
    chunks = await collect(out)
    assert await out.result == {"pos": {"value": 3}, "odd": {"value": -3}}
    ids = {i for _, i in step_events(chunks)}
    assert ids == {"pos", "odd"}


async def _is_odd(ctx: FlowContext) -> bool:
    return bool(ctx.input_data["value"] % 2)


async def test_dowhile_and_dountil_loop_on_their_own_output() -> None:
    seen: list[int] = []

    async def cond(ctx: FlowContext) -> bool:
        seen.append(ctx.iteration_count)
        return bool(ctx.input_data["value"] < 10)

    wf = (
        create_workflow("loops", Value, Value)
        .dowhile(arithmetic("inc", lambda v: v + 3), cond)
        .dountil(arithmetic("dec", lambda v: v - 1), lambda ctx: ctx.input_data["value"] <= 8)
        .commit()
    )
    out = (await wf.create_run()).stream({"value": 0})
    chunks = await collect(out)
    assert await out.result == {"value": 8}
    assert seen == [1, 2, 3, 4]
    events = step_events(chunks)
    assert events.count(("workflow-step-start", "inc")) == 4
    assert events.count(("workflow-step-result", "dec")) == 4
    outputs = [c for c in chunks if c["type"] == "workflow-step-output"]
    assert len(outputs) == 8


class Items(BaseModel):
    items: list[int]


async def test_foreach_runs_items_with_concurrency_and_reports_progress() -> None:
    running = 0
    peak = 0
    gate = asyncio.Event()

    async def square(ctx: StepContext) -> dict[str, int]:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        if peak == 2:
            gate.set()
        await gate.wait()
        await ctx.writer.write(ctx.input_data.value)
        running -= 1
        return {"value": ctx.input_data.value**2}

    wf = (
        create_workflow("each", Items)
        .map(lambda ctx: [{"value": v} for v in ctx.input_data["items"]])
        .foreach(create_step("sq", Value, Value, square), concurrency=2)
        .commit()
    )
    out = (await wf.create_run()).stream({"items": [1, 2, 3, 4, 5]})
    chunks = await collect(out)
    assert await out.result == [{"value": v * v} for v in (1, 2, 3, 4, 5)]
    assert peak == 2
    progress = [c["payload"] for c in chunks if c["type"] == "workflow-step-progress"]
    assert [p["completedCount"] for p in progress] == [1, 2, 3, 4, 5]
    assert {p["currentIndex"] for p in progress} == {0, 1, 2, 3, 4}
    assert all(p["totalCount"] == 5 and p["iterationStatus"] == "success" for p in progress)
    assert list(progress[0]) == [
        "stepName", "id", "completedCount", "totalCount", "currentIndex", "iterationStatus",
    ]  # fmt: skip
    assert step_events(chunks)[:2] == [
        ("workflow-step-start", "map-1"),
        ("workflow-step-result", "map-1"),
    ]
    assert step_events(chunks)[2] == ("workflow-step-start", "sq")
    assert step_events(chunks)[-1] == ("workflow-step-result", "sq")
    writes = [c["payload"] for c in chunks if c["type"] == "workflow-step-output"]
    assert sorted(w["output"] for w in writes) == [1, 2, 3, 4, 5]
    assert {w["stepName"] for w in writes} == {"sq"}


async def test_foreach_of_a_non_list_is_a_failed_step() -> None:
    wf = create_workflow("each", Value).foreach(arithmetic("sq", lambda v: v)).commit()
    out = (await wf.create_run()).stream({"value": 1})
    chunks = await collect(out)
    assert await out.status == "failed"
    failed = chunks[-2]["payload"]
    assert failed["status"] == "failed"
    assert "needs a list" in failed["error"]["message"]


async def test_sleep_and_sleep_until_emit_waiting_then_pass_the_value_on() -> None:
    wf = (
        create_workflow("sleepy", Value, Value)
        .sleep(0.001)
        .sleep_until(datetime.now(UTC) - timedelta(seconds=1))
        .sleep(lambda ctx: 0)
        .then(arithmetic("after", lambda v: v + 1))
        .commit()
    )
    out = (await wf.create_run()).stream({"value": 1})
    chunks = await collect(out)
    assert await out.result == {"value": 2}
    assert step_events(chunks)[:6] == [
        ("workflow-step-waiting", "sleep-1"),
        ("workflow-step-result", "sleep-1"),
        ("workflow-step-waiting", "sleep-2"),
        ("workflow-step-result", "sleep-2"),
        ("workflow-step-waiting", "sleep-3"),
        ("workflow-step-result", "sleep-3"),
    ]
    waiting = chunks[1]["payload"]
    assert list(waiting) == ["stepName", "id", "payload", "startedAt", "status"]
    assert waiting["status"] == "waiting"
    assert waiting["payload"] == {"value": 1}


async def test_map_reshapes_the_value_sync_or_async() -> None:
    async def add_state(ctx: FlowContext) -> dict[str, int]:
        return {"value": ctx.input_data["value"] + ctx.get_step_result("first")["value"]}

    wf = (
        create_workflow("mapped", Value, Value)
        .then(arithmetic("first", lambda v: v * 10))
        .map(lambda ctx: {"value": ctx.input_data["value"] + 1}, id="plus-one")
        .map(add_state)
        .commit()
    )
    out = (await wf.create_run()).stream({"value": 1})
    chunks = await collect(out)
    assert await out.result == {"value": 21}
    assert [i for t, i in step_events(chunks) if t == "workflow-step-start"] == [
        "first", "plus-one", "map-1",
    ]  # fmt: skip


def child_workflow() -> Workflow:
    return (
        create_workflow("child", Value, Value)
        .then(arithmetic("inner-a", lambda v: v + 1))
        .then(arithmetic("inner-b", lambda v: v * 3))
        .commit()
    )


async def test_nested_workflow_step_ids_are_prefixed() -> None:
    wf = (
        create_workflow("parent", Value, Value)
        .then(arithmetic("before", lambda v: v))
        .then(child_workflow())
        .then(arithmetic("after", lambda v: v - 1))
        .commit()
    )
    out = (await wf.create_run()).stream({"value": 1})
    chunks = await collect(out)
    assert await out.result == {"value": 5}
    assert step_events(chunks) == [
        ("workflow-step-start", "before"),
        ("workflow-step-result", "before"),
        ("workflow-step-start", "child"),
        ("workflow-step-start", "child.inner-a"),
        ("workflow-step-result", "child.inner-a"),
        ("workflow-step-start", "child.inner-b"),
        ("workflow-step-result", "child.inner-b"),
        ("workflow-step-result", "child"),
        ("workflow-step-start", "after"),
        ("workflow-step-result", "after"),
    ]
    writes = [c["payload"]["stepName"] for c in chunks if c["type"] == "workflow-step-output"]
    assert writes == ["before", "child.inner-a", "child.inner-b", "after"]
    assert all(c["runId"] == out.run_id for c in chunks)
    assert types(chunks).count("workflow-start") == 1


async def test_nested_workflow_in_parallel_and_foreach() -> None:
    wf = (
        create_workflow("outer", Value)
        .parallel([child_workflow(), arithmetic("side", lambda v: v)])
        .map(lambda ctx: [ctx.input_data["child"], ctx.input_data["side"]])
        .foreach(
            create_workflow("per-item", Value, Value)
            .then(arithmetic("twice", lambda v: v * 2))
            .commit()
        )
        .commit()
    )
    out = (await wf.create_run()).stream({"value": 1})
    chunks = await collect(out)
    assert await out.result == [{"value": 12}, {"value": 2}]
    ids = {i for _, i in step_events(chunks)}
    assert {"child.inner-a", "child.inner-b", "per-item", "per-item.twice"} <= ids


async def test_validation_error_names_the_step_and_the_field() -> None:
    async def wrong(ctx: StepContext) -> dict[str, str]:
        return {"valu": "x"}

    wf = (
        create_workflow("bad", Value, Value)
        .then(create_step("wrong", Value, Value, wrong))
        .then(arithmetic("never", lambda v: v))
        .commit()
    )
    out = (await wf.create_run()).stream({"value": 1})
    chunks = await collect(out)
    assert types(chunks) == [
        "workflow-start", "workflow-step-start", "workflow-step-result", "workflow-finish",
    ]  # fmt: skip
    error = chunks[2]["payload"]["error"]
    assert "step 'wrong'" in error["message"]
    assert "field 'value'" in error["message"]
    assert "output_schema" in error["message"]
    finish = chunks[-1]["payload"]
    assert finish["workflowStatus"] == "failed"
    assert finish["metadata"]["errorMessage"] == error["message"]
    assert "finalWorkflowResult" not in finish
    with pytest.raises(Exception, match="field 'value'"):
        await out.result


async def test_validation_of_step_input_and_workflow_input_and_output() -> None:
    class Text(BaseModel):
        text: str

    async def echo(ctx: StepContext) -> dict[str, str]:
        return {"text": "x"}

    mismatch = (
        create_workflow("edge", Value)
        .then(arithmetic("num", lambda v: v))
        .then(create_step("needs-text", Text, Text, echo))
        .commit()
    )
    out = (await mismatch.create_run()).stream({"value": 1})
    chunks = await collect(out)
    failed = chunks[-2]["payload"]
    assert failed["id"] == "needs-text"
    assert "step 'needs-text' got an input" in failed["error"]["message"]
    assert "field 'text'" in failed["error"]["message"]

    out = (await three_step().create_run()).stream({"value": "not a number"})
    chunks = await collect(out)
    assert types(chunks) == ["workflow-start", "workflow-finish"]
    assert "input of workflow 'threeStep'" in chunks[-1]["payload"]["metadata"]["errorMessage"]

    wrong_out = create_workflow("wo", Value, Text).then(arithmetic("n", lambda v: v)).commit()
    out = (await wrong_out.create_run()).stream({"value": 1})
    chunks = await collect(out)
    assert chunks[-1]["payload"]["workflowStatus"] == "failed"
    assert "output of workflow 'wo'" in chunks[-1]["payload"]["metadata"]["errorMessage"]


async def test_builder_misuse_is_a_clear_error() -> None:
    step = arithmetic("s", lambda v: v)
    with pytest.raises(ConfigurationError, match="two steps with the id 's'"):
        create_workflow("w").then(step).then(step)
    wf = create_workflow("w").then(step).commit()
    with pytest.raises(ConfigurationError, match="committed"):
        wf.then(arithmetic("t", lambda v: v))
    with pytest.raises(ConfigurationError, match="not committed"):
        await create_workflow("x").then(step).create_run()
    with pytest.raises(ConfigurationError, match="before it is committed"):
        create_workflow("y").then(create_workflow("z").then(step))
    with pytest.raises(ConfigurationError, match="no steps"):
        create_workflow("empty").commit()
    with pytest.raises(ConfigurationError, match=r"without '\.'"):
        create_step("a.b", Value, Value, step.execute)
    with pytest.raises(ConfigurationError, match="async function"):
        create_step("a", Value, Value, lambda ctx: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ConfigurationError, match="concurrency"):
        create_workflow("w2").foreach(step, concurrency=0)


async def test_step_graph_lists_every_construct() -> None:
    wf = (
        create_workflow("g", Value)
        .then(arithmetic("a", lambda v: v))
        .parallel([arithmetic("b", lambda v: v), arithmetic("c", lambda v: v)])
        .sleep(0)
        .commit()
    )
    graph = wf.step_graph()
    assert graph[0] == {"type": "step", "step": {"id": "a", "canSuspend": False}}
    assert graph[1]["type"] == "parallel"
    assert graph[2] == {"type": "sleep", "id": "sleep-1"}
    assert set(wf.steps) == {"a", "b", "c"}


async def test_app_storage_keeps_the_snapshots_of_its_workflows(tmp_path: Any) -> None:
    from streamwise import Streamwise
    from streamwise.storage import Store
    from streamwise.workflows import InMemorySnapshotStore

    url = f"sqlite:///{tmp_path}/app.db"
    wf = approval()
    async with Streamwise(workflows=[wf], storage=url) as app:
        assert wf.store is app.storage
        run = await wf.create_run()
        out = run.stream({"item": "invoice"})
        assert await out.status == "suspended"
    async with Store(url) as store:
        snapshot = await store.load_snapshot(wf.id, run.run_id)
        assert snapshot is not None
        assert snapshot["status"] == "suspended"
    own_store = InMemorySnapshotStore()
    own = approval(own_store)
    Streamwise(workflows=[own], storage="sqlite://:memory:")
    assert own.store is own_store  # a store given to the workflow stays its own
    local = approval()
    Streamwise(workflows=[local])  # no storage given: snapshots stay in this process
    assert isinstance(local.store, InMemorySnapshotStore)
