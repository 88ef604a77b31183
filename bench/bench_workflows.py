"""Workflow hot paths: per-run overhead of a 3-step workflow, and ``writer.write`` from steps.

Run: ``.venv/bin/python bench/bench_workflows.py`` (``--quick`` for a smoke run,
``--profile`` to profile the per-run path with pyinstrument).

- R1: a 3-step trivial workflow (each step adds one; pydantic schemas at every edge, the
  snapshot saved at every step start and end, in the in-memory store): ``create_run()``,
  ``stream()``, ``await out.status``, with no reader. Target ≤ 60 µs per run.
- R1 steady: the same for 20,000 runs in a row without clearing the store, which then holds
  its bound of 10,000 snapshots: the mean per run, including the garbage collector's full
  collections that retained snapshots cause.
- R2: the same as R1, with one reader iterating every chunk.
- R3: one step calling ``await ctx.writer.write(i)`` 100,000 times: cost per write. Target
  ≤ 2 µs per write.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

from pydantic import BaseModel

from streamwise import create_step, create_workflow
from streamwise.workflows import StepContext, Workflow

REPEAT = 7


class Value(BaseModel):
    value: int


async def add_one(ctx: StepContext) -> dict[str, int]:
    return {"value": ctx.input_data.value + 1}


def three_step() -> Workflow:
    wf = create_workflow("bench", Value, Value)
    for name in ("a", "b", "c"):
        wf.then(create_step(name, Value, Value, add_one))
    return wf.commit()


async def runs(n: int, *, read: bool, wf: Workflow | None = None) -> float:
    keep = wf is not None
    wf = wf or three_step()
    start = time.perf_counter()
    for _ in range(n):
        run = await wf.create_run()
        out = run.stream({"value": 0})
        if read:
            async for _chunk in out:
                pass
        await out.status
    elapsed = time.perf_counter() - start
    if not keep:
        wf.store = type(wf.store)()  # drop the snapshots kept by the in-memory store
    return elapsed / n


async def writes(n: int) -> float:
    async def write_many(ctx: StepContext) -> dict[str, int]:
        write = ctx.writer.write
        for i in range(n):
            await write(i)
        return {"value": n}

    wf = (
        create_workflow("w", Value, Value).then(create_step("w", Value, Value, write_many)).commit()
    )
    run = await wf.create_run()
    start = time.perf_counter()
    out = run.stream({"value": 0})
    await out.status
    elapsed = time.perf_counter() - start
    assert len(out.chunks) == n + 4
    return elapsed / n


def median_us(samples: list[float]) -> str:
    # The median, and the best sample (the least disturbed by other processes on the machine).
    return f"{statistics.median(samples) * 1e6:.2f} µs (best {min(samples) * 1e6:.2f} µs)"


async def main(quick: bool) -> None:
    n_runs = 200 if quick else 1_000
    n_writes = 10_000 if quick else 100_000
    await runs(200, read=False)  # warm up (imports, pydantic caches)
    r1 = [await runs(n_runs, read=False) for _ in range(REPEAT)]
    steady = await runs(2_000 if quick else 20_000, read=False, wf=three_step())
    r2 = [await runs(n_runs, read=True) for _ in range(REPEAT)]
    r3 = [await writes(n_writes) for _ in range(REPEAT)]
    print(f"R1 3-step workflow, no reader   : {median_us(r1)} per run   (target ≤ 60 µs)")
    print(f"R1 steady, store at its bound   : {steady * 1e6:.2f} µs per run (mean)")
    print(f"R2 3-step workflow, one reader  : {median_us(r2)} per run")
    print(f"R3 writer.write from a step     : {median_us(r3)} per write (target ≤ 2 µs)")


async def profile() -> None:
    from pyinstrument import Profiler

    await runs(200, read=False)
    profiler = Profiler(async_mode="disabled")
    profiler.start()
    await runs(5_000, read=False)
    profiler.stop()
    print(profiler.output_text(unicode=True, color=False, show_all=False))


if __name__ == "__main__":
    if "--profile" in sys.argv:
        asyncio.run(profile())
    else:
        asyncio.run(main("--quick" in sys.argv))
