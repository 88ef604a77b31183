"""The control-flow constructs of the engine: parallel, branch, loops, foreach, sleep, map,
and a workflow used as a step (PROTOCOL.md §6).

Each is a function of the :class:`~._engine.Execution` of the stream; a single step is run by
``Execution.run_step``. Every construct that resumes consults ``ex.replayed(id)`` first, so that
what an earlier stream finished is reused, not run again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pydantic

from ..errors import RunError
from ._graph import BranchNode, ForeachNode, LoopNode, MapNode, Node, ParallelNode, SleepNode
from ._outcome import Outcome, call_id, now_ms
from ._step import Step, json_value, maybe_await, validation_message

if TYPE_CHECKING:
    from ._engine import Execution
    from ._workflow import Workflow

__all__ = ("nested", "run")


async def run(ex: Execution, node: Node, value: Any, prefix: str, path: tuple[int, ...]) -> Outcome:
    """Run one node of the graph."""
    if isinstance(node, ParallelNode):
        return await concurrently(ex, node.steps, value, prefix, path)
    if isinstance(node, BranchNode):
        return await branch(ex, node, value, prefix, path)
    if isinstance(node, LoopNode):
        return await loop(ex, node, value, prefix, path)
    if isinstance(node, ForeachNode):
        return await foreach(ex, node, value, prefix, path)
    if isinstance(node, SleepNode):
        return await sleep(ex, node, value, prefix)
    if isinstance(node, MapNode):
        return await map_value(ex, node, value, prefix)
    return await ex.run_unit(node.step, value, prefix, path)


async def concurrently(
    ex: Execution,
    units: Sequence[Step | Workflow],
    value: Any,
    prefix: str,
    path: tuple[int, ...],
) -> Outcome:
    """Every unit at once on ``value``; the output is ``{id: output}``.

    Units never raise (their failures are outcomes), so each branch finishes on its own; the
    first failure, else the first suspension, is the outcome of the whole.
    """
    async with asyncio.TaskGroup() as tg:
        tasks = [
            tg.create_task(ex.run_unit(unit, value, prefix, (*path, i)))
            for i, unit in enumerate(units)
        ]
    outcomes = [t.result() for t in tasks]
    for outcome in outcomes:
        if outcome.status == "failed":
            return outcome
    for outcome in outcomes:
        if outcome.status == "suspended":
            return outcome
    return Outcome(
        "success",
        {unit.id: o.output for unit, o in zip(units, outcomes, strict=True)},
        replayed=bool(outcomes) and all(o.replayed for o in outcomes),
    )


async def branch(
    ex: Execution, node: BranchNode, value: Any, prefix: str, path: tuple[int, ...]
) -> Outcome:
    """Every unit whose condition is true, at once."""
    chosen: list[Step | Workflow] = []
    if ex.replay:
        # Resuming: the branches taken are those with a stored entry; no re-evaluation.
        chosen = [unit for _, unit in node.branches if prefix + unit.id in ex.replay]
    if not chosen:
        ctx = ex.flow_context(value, prefix)
        try:
            for condition, unit in node.branches:
                if await maybe_await(condition(ctx)):
                    chosen.append(unit)
        except Exception as exc:
            return Outcome("failed", error=exc)
    return await concurrently(ex, chosen, value, prefix, path)


async def loop(
    ex: Execution, node: LoopNode, value: Any, prefix: str, path: tuple[int, ...]
) -> Outcome:
    """The unit, then again on its own output while (``dowhile``) / until (``dountil``)."""
    outcome = await ex.run_unit(node.step, value, prefix, path)
    if outcome.replayed:
        return outcome  # the loop had ended in an earlier stream
    iteration = 1
    while outcome.status == "success":
        ctx = ex.flow_context(outcome.output, prefix, iteration)
        try:
            verdict = bool(await maybe_await(node.condition(ctx)))
        except Exception as exc:
            return Outcome("failed", error=exc)
        if verdict == node.until:
            return outcome
        outcome = await ex.run_unit(node.step, outcome.output, prefix, path)
        iteration += 1
    return outcome


async def foreach(
    ex: Execution, node: ForeachNode, value: Any, prefix: str, path: tuple[int, ...]
) -> Outcome:
    """The unit once per item: one step-start, a progress event per item, one step-result.

    Items may suspend (a step unit only): the foreach suspends once every item has ended,
    and a resume runs the suspended items again, with the resume data, reusing the others.
    """
    sid = prefix + node.step.id
    resumed = ex.replayed(sid) if ex.replay else None
    if isinstance(resumed, Outcome):
        return resumed
    base, entry = ex.open_step(sid, value, resumed)
    await ex.save()
    value = base["payload"]
    if not isinstance(value, list):
        outcome = Outcome(
            "failed",
            error=RunError(
                f"foreach step {sid!r} needs a list as input, got {type(value).__name__}",
                run_id=ex.run_id,
            ),
        )
    else:
        before = resumed.get("foreach") if resumed is not None else None
        outcome = await _items(ex, node, sid, value, prefix, path, entry, before)
    ex.close_step(sid, base, entry, outcome, path)
    await ex.save()
    return outcome


async def _items(
    ex: Execution,
    node: ForeachNode,
    sid: str,
    items: list[Any],
    prefix: str,
    path: tuple[int, ...],
    entry: dict[str, Any],
    before: list[dict[str, Any]] | None,
) -> Outcome:
    unit = node.step
    total = len(items)
    results: list[Outcome] = [Outcome("failed")] * total
    todo = list(range(total))
    if before is not None and len(before) == total:
        # Resuming: items that succeeded keep their output; the suspended ones run again.
        todo = []
        for index, prior in enumerate(before):
            if prior.get("status") == "success":
                results[index] = Outcome("success", prior.get("output"))
            else:
                todo.append(index)
    resuming = before is not None
    gate = asyncio.Semaphore(node.concurrency)
    completed = total - len(todo)

    async def one(index: int) -> None:
        nonlocal completed
        item = items[index]
        async with gate:
            if isinstance(unit, Step):
                data = ex.resume_data if resuming else None
                outcome = await ex.execute(unit, sid, item, prefix, data, resuming)
            else:
                outcome = await nested_body(ex, unit, sid, item, (*path, index))
                if outcome.status == "suspended":
                    outcome = Outcome(
                        "failed",
                        error=RunError(
                            f"workflow {unit.id!r} suspended inside foreach step {sid!r}, "
                            "which is not supported; suspend in a step of the foreach instead",
                            run_id=ex.run_id,
                        ),
                    )
        results[index] = outcome
        completed += 1
        ex.emit(
            {
                "type": "workflow-step-progress",
                "runId": ex.run_id,
                "from": "WORKFLOW",
                "payload": {
                    "stepName": sid,
                    "id": sid,
                    "completedCount": completed,
                    "totalCount": total,
                    "currentIndex": index,
                    "iterationStatus": outcome.status,
                },
            }
        )

    async with asyncio.TaskGroup() as tg:
        for index in todo:
            tg.create_task(one(index))
    for outcome in results:
        if outcome.status == "failed":
            return outcome
    suspended = [o for o in results if o.status == "suspended"]
    if suspended:
        entry["foreach"] = [
            {"status": o.status, "output": o.output}
            if o.status == "success"
            else {"status": o.status, "suspendPayload": o.output}
            for o in results
        ]
        return Outcome("suspended", suspended[0].output)
    return Outcome("success", [o.output for o in results])


async def sleep(ex: Execution, node: SleepNode, value: Any, prefix: str) -> Outcome:
    """``workflow-step-waiting``, the wait, then ``workflow-step-result`` passing the value on."""
    sid = prefix + node.id
    resumed = ex.replayed(sid) if ex.replay else None
    if isinstance(resumed, Outcome):
        return resumed
    started_at = now_ms()
    entry: dict[str, Any] = {"status": "waiting", "payload": value, "startedAt": started_at}
    ex.steps[sid] = entry
    ex.emit(
        {
            "type": "workflow-step-waiting",
            "runId": ex.run_id,
            "from": "WORKFLOW",
            "payload": {
                "stepName": sid,
                "id": sid,
                "payload": value,
                "startedAt": started_at,
                "status": "waiting",
            },
        }
    )
    await ex.save()
    ctx = ex.flow_context(value, prefix)
    try:
        if node.until is not None:
            when = await maybe_await(node.until(ctx)) if callable(node.until) else node.until
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            seconds = (when - datetime.now(UTC)).total_seconds()
        else:
            raw = node.seconds
            seconds = float(await maybe_await(raw(ctx)) if callable(raw) else raw or 0.0)
    except Exception as exc:
        outcome = Outcome("failed", error=exc)
    else:
        if seconds > 0:
            await asyncio.sleep(seconds)
        outcome = Outcome("success", value)
    base = {
        "stepName": sid,
        "id": sid,
        "stepCallId": call_id(),
        "payload": value,
        "startedAt": started_at,
        "status": "running",
    }
    ex.close_step(sid, base, entry, outcome, ())
    await ex.save()
    return outcome


async def map_value(ex: Execution, node: MapNode, value: Any, prefix: str) -> Outcome:
    """``fn(ctx)`` as the next value, with the events of a step."""
    sid = prefix + node.id
    resumed = ex.replayed(sid) if ex.replay else None
    if isinstance(resumed, Outcome):
        return resumed
    base, entry = ex.open_step(sid, value)
    await ex.save()
    try:
        result = json_value(await maybe_await(node.fn(ex.flow_context(value, prefix))))
        outcome = Outcome("success", result)
    except Exception as exc:
        outcome = Outcome("failed", error=exc)
    ex.close_step(sid, base, entry, outcome, ())
    await ex.save()
    return outcome


async def nested(
    ex: Execution, workflow: Workflow, value: Any, prefix: str, path: tuple[int, ...]
) -> Outcome:
    """A workflow as a step: its own start and result around its steps' ``<id>.<step>`` events."""
    sid = prefix + workflow.id
    resumed = ex.replayed(sid) if ex.replay else None
    if isinstance(resumed, Outcome):
        return resumed
    base, entry = ex.open_step(sid, value, resumed)
    await ex.save()
    outcome = await nested_body(ex, workflow, sid, base["payload"], path)
    ex.close_step(sid, base, entry, outcome, path, leaf=False)
    await ex.save()
    return outcome


async def nested_body(
    ex: Execution, workflow: Workflow, sid: str, value: Any, path: tuple[int, ...]
) -> Outcome:
    """Validate a nested workflow's input, run its nodes under ``<sid>.``, validate its output."""
    if workflow.input_schema is not None:
        try:
            value = workflow.input_schema.model_validate(value).model_dump(mode="json")
        except pydantic.ValidationError as exc:
            return Outcome(
                "failed",
                error=RunError(
                    f"step {sid!r} (workflow {workflow.id!r}) got an input that fails its "
                    f"input_schema: {validation_message(exc)}",
                    run_id=ex.run_id,
                ),
            )
    outcome = await ex.run_sequence(workflow, value, sid + ".", path)
    if outcome.status == "success" and workflow.output_schema is not None:
        try:
            output = workflow.output_schema.model_validate(outcome.output)
        except pydantic.ValidationError as exc:
            return Outcome(
                "failed",
                error=RunError(
                    f"step {sid!r} (workflow {workflow.id!r}) returned an output that fails "
                    f"its output_schema: {validation_message(exc)}",
                    run_id=ex.run_id,
                ),
            )
        return Outcome("success", output.model_dump(mode="json"))
    return outcome
