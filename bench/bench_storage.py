"""What memory and event logging add to a run (W1 of the storage issue), SQLite and PostgreSQL.

Run: ``.venv/bin/python bench/bench_storage.py`` (``--quick`` for a smoke run; PostgreSQL is
measured too when ``STREAMWISE_TEST_POSTGRES_URL`` is set, see ``scripts/setup_postgres.sh``).

W1: one run streaming 20,000 text deltas (``ScriptedModel`` with ``text=[...20000 pieces]``),
read to its end by one reader, timed from ``agent.stream()`` until the reader has the terminal
chunk (which is after the end hooks: the event log flushed, the answer stored).

- ``plain``: the agent alone (no app, no storage).
- ``memory``: the same agent in a ``Streamwise`` app with a SQLite file (or PostgreSQL), run with
  ``memory={"thread": …}``: the history is loaded, the input stored, every chunk folded into the
  answer and logged to the run's event log, the answer stored.

Medians of ``REPEAT`` runs, after a warm-up run (which opens the database).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from streamwise import Agent, Streamwise
from streamwise.testing import ScriptedModel

REPEAT = 9


def text_agent(n: int) -> Agent:
    return Agent("w1", model=ScriptedModel(lambda m: {"text": ["x"] * n}))


async def run_once(agent: Agent, thread: str | None) -> float:
    t0 = time.perf_counter()
    out = agent.stream("go", memory={"thread": thread} if thread else None)
    async for _ in out:
        pass
    return time.perf_counter() - t0


async def measure(agent: Agent, *, memory: bool, repeat: int) -> float:
    await run_once(agent, "warm-up" if memory else None)
    samples = []
    for i in range(repeat):
        samples.append(await run_once(agent, f"bench-{i}" if memory else None))
    return statistics.median(samples)


async def w1(n: int, url: str, repeat: int) -> dict[str, float]:
    plain = await measure(text_agent(n), memory=False, repeat=repeat)
    agent = text_agent(n)
    async with Streamwise(agents=[agent], storage=url):
        stored = await measure(agent, memory=True, repeat=repeat)
    return {
        "plain_ms": plain * 1e3,
        "memory_ms": stored * 1e3,
        "added_ms": (stored - plain) * 1e3,
        "overhead_pct": (stored - plain) / plain * 100,
        "added_us_per_chunk": (stored - plain) / (n + 6) * 1e6,
    }


async def main(quick: bool) -> None:
    n = 2_000 if quick else 20_000
    repeat = 3 if quick else REPEAT
    with tempfile.TemporaryDirectory() as tmp:
        targets = {"sqlite": f"sqlite:///{Path(tmp) / 'bench.db'}"}
        pg = os.environ.get("STREAMWISE_TEST_POSTGRES_URL")
        if pg:
            targets["postgresql"] = pg
        for name, url in targets.items():
            row = await w1(n, url, repeat)
            cells = ", ".join(f"{k}={v:.2f}" for k, v in row.items())
            print(f"W1 {n} deltas, {name:10} {cells}")


if __name__ == "__main__":
    asyncio.run(main("--quick" in sys.argv))
