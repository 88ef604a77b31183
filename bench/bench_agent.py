"""Agent streaming hot path, W1–W4 of the streaming-agents issue, against a raw baseline.

Run: ``.venv/bin/python bench/bench_agent.py`` (``--quick`` for a smoke run).

- baseline: a bare async generator yielding the same number of chunk dicts, read by
  ``async for`` — the least any Python streaming framework can do.
- W1: one run streaming 20,000 text deltas; overhead per chunk over the baseline.
- W2: a tool pipes a nested agent of 5,000 deltas, then the outer agent streams 1,000 deltas;
  cost per nested chunk (the nested run's own chunk plus its ``tool-output`` wrapping).
- W3: 1,000 concurrent runs of 200 deltas each, every run read to its end: wall time and the
  peak RSS it adds (measured in a fresh subprocess).
- W4: time from ``agent.stream()`` to the first chunk in the reader's hands.
- steady: W1 and W3 run back to back, as a server runs them (W1: 5 blocks of 10 runs, the
  median block's time per run; W3: 5 rounds of 1,000 runs, the median round), each in a fresh
  subprocess, with CPython's default collector and after ``streamwise.tune_gc()``; with the
  full collections per run and the time spent collecting (``gc.callbacks``). See
  bench/README.md, "Garbage collection in steady state".
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel

from streamwise import Agent, ToolContext, create_tool, tune_gc
from streamwise.testing import ScriptedModel

REPEAT = 7


async def baseline(n: int) -> int:
    async def gen() -> AsyncIterator[dict[str, Any]]:
        for _ in range(n):
            yield {"type": "text-delta", "runId": "r", "from": "AGENT",
                   "payload": {"id": "t", "text": "x"}}  # fmt: skip

    count = 0
    async for _ in gen():
        count += 1
    return count


def text_agent(n: int) -> Agent:
    return Agent("w1", model=ScriptedModel(lambda m: {"text": ["x"] * n}))


async def read(agent: Agent) -> int:
    count = 0
    async for _ in agent.stream("go"):
        count += 1
    return count


class Q(BaseModel):
    q: str


def nested_agent(inner: int, outer: int, *, pipe: bool = True) -> Agent:
    child = Agent("child", model=ScriptedModel(lambda m: {"text": ["y"] * inner}))

    async def ask(inp: Q, ctx: ToolContext) -> str:
        if not pipe:
            return ""
        out = child.stream(inp.q)
        await out.pipe_to(ctx.writer)
        return await out.text

    def script(messages: list[Any]) -> Any:
        if messages[-1]["role"] == "tool":
            return {"text": ["x"] * outer}
        return {"tool_calls": [{"name": "ask", "args": {"q": "go"}}]}

    return Agent("w2", model=ScriptedModel(script), tools=[create_tool("ask", "d", Q, ask)])


def best(samples: list[float]) -> float:
    return statistics.median(samples)


async def timed(coro_factory: Any, repeat: int = REPEAT) -> tuple[float, int]:
    samples = []
    count = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        count = await coro_factory()
        samples.append(time.perf_counter() - t0)
    return best(samples), count


async def w1(n: int) -> dict[str, float]:
    base, _ = await timed(lambda: baseline(n))
    agent = text_agent(n)
    t, count = await timed(lambda: read(agent))
    return {"chunks": count, "baseline_us_per_chunk": base / n * 1e6,
            "us_per_chunk": t / count * 1e6, "overhead_us_per_chunk": (t - base) / count * 1e6}  # fmt: skip


async def w2(inner: int, outer: int) -> dict[str, float]:
    with_child = nested_agent(inner, outer)
    without = nested_agent(inner, outer, pipe=False)
    t, count = await timed(lambda: read(with_child))
    t0, count0 = await timed(lambda: read(without))
    return {"chunks": count, "us_per_nested_chunk": (t - t0) / (count - count0) * 1e6}


def _memory_kb(field: str) -> int:
    """``VmRSS`` (resident now) or ``VmHWM`` (the peak) of this process, in KiB. Not
    ``ru_maxrss``: it starts from the parent's resident set when a process is forked and
    exec'd, which hid most of W3's memory here until 2026-11-24."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


async def w3_inner(runs: int, deltas: int) -> None:
    agent = text_agent(deltas)
    rss0 = _memory_kb("VmRSS")
    t0 = time.perf_counter()
    counts = await asyncio.gather(*(read(agent) for _ in range(runs)))
    wall = time.perf_counter() - t0
    peak = _memory_kb("VmHWM")
    assert all(c == deltas + 6 for c in counts), counts[:3]
    print(json.dumps({"wall_s": wall, "added_rss_mb": (peak - rss0) / 1024}))


def w3(runs: int, deltas: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--w3-inner", str(runs), str(deltas)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout)
    return result


async def w4(samples: int) -> dict[str, float]:
    agent = text_agent(10)
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        out = agent.stream("go")
        async for _chunk in out:
            times.append(time.perf_counter() - t0)
            break
        await out.wait()
    return {"median_us": statistics.median(times) * 1e6, "p99_us": sorted(times)[int(samples * .99)] * 1e6}  # fmt: skip


class GCMeter:
    """Collections per generation and the time spent in them, from ``gc.callbacks``."""

    def __init__(self) -> None:
        self.collections = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._t0 = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            generation = info["generation"]
            self.collections[generation] += 1
            self.seconds[generation] += time.perf_counter() - self._t0

    def snapshot(self) -> tuple[list[int], list[float]]:
        return list(self.collections), list(self.seconds)


async def steady_inner(work: str, tuned: bool, quick: bool) -> None:
    if tuned:
        tune_gc()  # what a server's start-up does, after the imports and the app are built
    meter = GCMeter()
    scale = 10 if quick else 1
    if work == "w1":
        agent, runs, per_block = text_agent(20_000), 1, 10
        await read(agent)  # warm-up
    else:
        agent, runs, per_block = text_agent(200), 1_000 // scale, 1
        await asyncio.gather(*(read(agent) for _ in range(runs // 10)))
    blocks = []
    collections0, seconds0 = meter.snapshot()
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(per_block):
            if work == "w1":
                await read(agent)
            else:
                await asyncio.gather(*(read(agent) for _ in range(runs)))
        blocks.append((time.perf_counter() - t0) / per_block)
    collections1, seconds1 = meter.snapshot()
    n = 5 * per_block
    unit = "ms_per_run" if work == "w1" else "s_per_round"
    print(json.dumps({
        unit: statistics.median(blocks) * (1e3 if work == "w1" else 1),
        "full_gc_per_run" if work == "w1" else "full_gc_per_round": (collections1[2] - collections0[2]) / n,
        "gc_ms_per_run" if work == "w1" else "gc_ms_per_round": (sum(seconds1) - sum(seconds0)) / n * 1e3,
        "tracked_objects": len(gc.get_objects()),
    }))  # fmt: skip


def steady(work: str, *, tuned: bool, quick: bool) -> dict[str, float]:
    args = [work, "tuned" if tuned else "default", "quick" if quick else "full"]
    out = subprocess.run(
        [sys.executable, __file__, "--steady-inner", *args],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout)
    return result


async def main(quick: bool) -> None:
    scale = 10 if quick else 1
    rows = {
        "W1 20k deltas": await w1(20_000 // scale),
        "W2 nested 5k + 1k": await w2(5_000 // scale, 1_000 // scale),
        "W3 1k runs x 200": w3(1_000 // scale, 200),
        "W4 first chunk": await w4(1_000 // scale),
        "W1 steady, default": steady("w1", tuned=False, quick=quick),
        "W1 steady, tune_gc": steady("w1", tuned=True, quick=quick),
        "W3 steady, default": steady("w3", tuned=False, quick=quick),
        "W3 steady, tune_gc": steady("w3", tuned=True, quick=quick),
    }
    for name, row in rows.items():
        cells = ", ".join(
            f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
        )
        print(f"{name:20} {cells}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--w3-inner":
        asyncio.run(w3_inner(int(sys.argv[2]), int(sys.argv[3])))
    elif len(sys.argv) > 1 and sys.argv[1] == "--steady-inner":
        asyncio.run(steady_inner(sys.argv[2], sys.argv[3] == "tuned", sys.argv[4] == "quick"))
    else:
        asyncio.run(main("--quick" in sys.argv))
