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
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel

from streamwise import Agent, ToolContext, create_tool
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


async def w3_inner(runs: int, deltas: int) -> None:
    agent = text_agent(deltas)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    counts = await asyncio.gather(*(read(agent) for _ in range(runs)))
    wall = time.perf_counter() - t0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert all(c == deltas + 6 for c in counts), counts[:3]
    print(json.dumps({"wall_s": wall, "added_rss_mb": (rss1 - rss0) / 1024}))


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


async def main(quick: bool) -> None:
    scale = 10 if quick else 1
    rows = {
        "W1 20k deltas": await w1(20_000 // scale),
        "W2 nested 5k + 1k": await w2(5_000 // scale, 1_000 // scale),
        "W3 1k runs x 200": w3(1_000 // scale, 200),
        "W4 first chunk": await w4(1_000 // scale),
    }
    for name, row in rows.items():
        cells = ", ".join(
            f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
        )
        print(f"{name:20} {cells}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--w3-inner":
        asyncio.run(w3_inner(int(sys.argv[2]), int(sys.argv[3])))
    else:
        asyncio.run(main("--quick" in sys.argv))
