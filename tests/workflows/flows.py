"""Workflows shared by the workflow tests, and by the subprocess of the fresh-process test.

``python -m tests.workflows.flows <store.json | sqlite:///file.db> <run_id>`` starts the
approval workflow on a JSON-file store (or the SQLite store of ``streamwise.storage``), streams
it until it suspends, and prints the status: the test then resumes the run from its own
process.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from streamwise import create_step, create_workflow
from streamwise.workflows import JsonFileSnapshotStore, StepContext, Workflow, WorkflowSnapshotStore


class Value(BaseModel):
    value: int


class Item(BaseModel):
    item: str


class Approved(BaseModel):
    item: str
    approved: bool


class Decision(BaseModel):
    approved: bool


class Reason(BaseModel):
    reason: str


def arithmetic(id: str, fn: Any) -> Any:
    """A step that writes ``{step, i}`` once, then returns ``{value: fn(value)}``."""

    async def execute(ctx: StepContext) -> dict[str, int]:
        await ctx.writer.write({"step": id, "i": 0})
        return {"value": fn(ctx.input_data.value)}

    return create_step(id, Value, Value, execute)


def three_step() -> Workflow:
    """The workflow of reference-traces/wf-stream.raw: (3 + 1) * 2, squared."""
    return (
        create_workflow("threeStep", Value, Value)
        .then(arithmetic("add-one", lambda v: v + 1))
        .then(arithmetic("double", lambda v: v * 2))
        .then(arithmetic("square", lambda v: v * v))
        .commit()
    )


async def prepare(ctx: StepContext) -> dict[str, str]:
    return {"item": ctx.input_data.item.upper()}


async def approve(ctx: StepContext) -> dict[str, Any]:
    if ctx.resume_data is None:
        await ctx.suspend({"reason": f"approve {ctx.input_data.item}?"})
    return {"item": ctx.input_data.item, "approved": ctx.resume_data.approved}


def approval(store: WorkflowSnapshotStore | None = None) -> Workflow:
    """The workflow of reference-traces/appr-stream.raw and appr-resume.raw."""
    return (
        create_workflow("approval", Item, Approved, store=store)
        .then(create_step("prepare", Item, Item, prepare))
        .then(
            create_step(
                "approve", Item, Approved, approve, resume_schema=Decision, suspend_schema=Reason
            )
        )
        .commit()
    )


async def _suspend_in_this_process(where: str, run_id: str) -> None:
    if where.startswith(("sqlite:", "postgresql:")):
        from streamwise.storage import Store

        async with Store(where) as store:
            await _suspend(approval(store), run_id)
    else:
        await _suspend(approval(JsonFileSnapshotStore(Path(where))), run_id)


async def _suspend(wf: Workflow, run_id: str) -> None:
    run = await wf.create_run(run_id=run_id)
    out = run.stream({"item": "invoice"})
    async for chunk in out:
        print(chunk["type"], flush=True)
    print("status", await out.status, flush=True)


if __name__ == "__main__":
    asyncio.run(_suspend_in_this_process(sys.argv[1], sys.argv[2]))


TRACES = Path(__file__).parents[1] / "fixtures" / "reference-traces"
_TIMES = ("startedAt", "endedAt", "suspendedAt", "resumedAt")


def mastra_records(name: str) -> list[dict[str, Any]]:
    """The chunks of a reference capture in the record framing (one JSON per ``\\x1e``)."""
    import orjson

    raw = (TRACES / name).read_bytes()
    return [orjson.loads(r) for r in raw.split(b"\x1e") if r.strip()]


def masked(chunks: list[dict[str, Any]]) -> str:
    """The chunks as JSON text, keys in their order, with call ids and times masked.

    Call ids are numbered by first appearance, so a step-start and its step-result must still
    share theirs.
    """
    import orjson

    calls: dict[str, str] = {}

    def mask(value: Any) -> Any:
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if key in _TIMES:
                    out[key] = "<time>"
                elif key == "stepCallId":
                    out[key] = calls.setdefault(item, f"<call-{len(calls)}>")
                else:
                    out[key] = mask(item)
            return out
        if isinstance(value, list):
            return [mask(v) for v in value]
        return value

    return "\n".join(orjson.dumps(mask(c)).decode() for c in chunks)
