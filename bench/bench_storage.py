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

Medians of ``REPEAT`` runs of each, interleaved, after a warm-up run (which opens the database),
each run after a full collection (``gc.collect()``: a previous run's garbage is not charged to
the next);
``W1 no reader`` awaits the run's end without reading it: the storage cost alone (a reader that
falls behind its producer reads chunks rebuilt after the run compacts them, and the end hook's
database waits let it catch up first, which muddles the read comparison);
``W1 tokens`` is the same with realistic tokens (:func:`realistic_tokens`, no reader): the
text it stores is 5.1 times W1's;
``1-delta run`` isolates the fixed per-run cost (the database work at the start and end);
``W1 steady`` runs blocks of 10 runs back to back with no collection in between, as a server
would (medians of 7 blocks of each, interleaved);
``W3 concurrent`` starts 1,000 runs of 200 deltas at once (W3 of the agent issue), each read to
its end, each with memory on a thread of its own (1,000 users at once): wall time, median of 3
rounds of each, run last, after ``streamwise.tune_gc()`` (as the server runs).
The PostgreSQL database is emptied first: point it at a throwaway database only.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from streamwise import Agent, Streamwise, tune_gc
from streamwise.agent import MemoryOptions
from streamwise.testing import ScriptedModel

REPEAT = 31


def text_agent(n: int, *, tokens: bool = False) -> Agent:
    """W1's agent: ``n`` deltas of ``"x"``, or with ``tokens`` of realistic tokens."""
    pieces = realistic_tokens(n) if tokens else ["x"] * n
    return Agent("w1", model=ScriptedModel(lambda m: {"text": list(pieces)}))


def realistic_tokens(n: int) -> list[str]:
    """``n`` tokens shaped like a model's (a space and a word of 1–9 letters, now and then
    punctuation: 5.1 characters on average), the same every run."""
    rng = random.Random(7)
    letters = "etaoinshrdlucmfwypvbgkjqxz"
    weights = [26 - i for i in range(26)]
    out = []
    for _ in range(n):
        word = "".join(rng.choices(letters, weights, k=rng.choice([1, 2, 3, 3, 4, 4, 5, 6, 7, 9])))
        out.append(rng.choice([",", ".", "\n\n"]) if rng.random() < 0.08 else " " + word)
    return out


async def run_once(agent: Agent, thread: str | None, *, read: bool = True) -> float:
    gc.collect()  # each sample starts from the same heap: no collection of a previous run's garbage
    t0 = time.perf_counter()
    out = agent.stream("go", memory={"thread": thread} if thread else None)
    if read:
        async for _ in out:
            pass
    else:
        await out.wait()
    elapsed = time.perf_counter() - t0
    assert await out.status == "success", await out.error
    return elapsed


def compare(plain: list[float], stored: list[float]) -> dict[str, float]:
    """The medians of both, in ms, and what storage adds."""
    p, m = statistics.median(plain), statistics.median(stored)
    return {
        "plain_ms": p * 1e3,
        "memory_ms": m * 1e3,
        "added_ms": (m - p) * 1e3,
        "overhead_pct": (m - p) / p * 100,
    }


async def w1(
    n: int, url: str, repeat: int, *, read: bool = True, tokens: bool = False
) -> dict[str, float]:
    plain_agent = text_agent(n, tokens=tokens)
    agent = text_agent(n, tokens=tokens)
    plain: list[float] = []
    stored: list[float] = []
    async with Streamwise(agents=[agent], storage=url):
        await run_once(agent, "warm-up")
        await run_once(plain_agent, None)
        # Interleaved, so that a noisy neighbour slows both alike.
        for i in range(repeat):
            plain.append(await run_once(plain_agent, None, read=read))
            stored.append(await run_once(agent, f"bench-{i}-{read}", read=read))
    return compare(plain, stored)


async def w1_steady(n: int, url: str, blocks: int) -> dict[str, float]:
    """W1 as a server runs it: blocks of 10 runs back to back, no collection between them (the
    garbage collector's own work, large here, is in both columns)."""
    plain_agent = text_agent(n)
    agent = text_agent(n)

    async def block(which: Agent, tag: str) -> float:
        t0 = time.perf_counter()
        for i in range(10):
            out = which.stream("go", memory={"thread": f"{tag}-{i}"} if which is agent else None)
            async for _ in out:
                pass
        return (time.perf_counter() - t0) / 10

    plain: list[float] = []
    stored: list[float] = []
    async with Streamwise(agents=[agent], storage=url):
        await block(agent, "steady-warm-up")
        await block(plain_agent, "plain")
        for b in range(blocks):
            plain.append(await block(plain_agent, "plain"))
            stored.append(await block(agent, f"steady-{b}"))
    return compare(plain, stored)


async def w3_concurrent(url: str, runs: int, rounds: int) -> dict[str, float]:
    """W3 with memory: ``runs`` runs of 200 deltas started at once, each read to its end."""
    plain_agent = text_agent(200)
    agent = text_agent(200)

    async def round_of(which: Agent, tag: str) -> float:
        async def one(i: int) -> None:
            memory: MemoryOptions | None = None
            if which is agent:
                memory = {"thread": f"{tag}-{i}"}
            async for _ in which.stream("go", memory=memory):
                pass

        gc.collect()
        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(runs)))
        return time.perf_counter() - t0

    plain: list[float] = []
    stored: list[float] = []
    async with Streamwise(agents=[agent], storage=url):
        await round_of(agent, "w3-warm-up")
        for r in range(rounds):
            plain.append(await round_of(plain_agent, "plain"))
            stored.append(await round_of(agent, f"w3-{r}"))
    return compare(plain, stored)


async def fixed_cost(url: str, repeat: int) -> dict[str, float]:
    """What memory adds to a one-delta run: the per-run database round trips alone."""
    plain_agent, agent = text_agent(1), text_agent(1)
    plain: list[float] = []
    stored: list[float] = []
    async with Streamwise(agents=[agent], storage=url):
        await run_once(agent, "warm-up")
        for i in range(repeat):
            plain.append(await run_once(plain_agent, None))
            stored.append(await run_once(agent, f"small-{i}"))
    return {"added_ms_per_run": (statistics.median(stored) - statistics.median(plain)) * 1e3}


async def main(quick: bool) -> None:
    n = 2_000 if quick else 20_000
    repeat = 3 if quick else REPEAT
    with tempfile.TemporaryDirectory() as tmp:
        targets = {"sqlite": f"sqlite:///{Path(tmp) / 'bench.db'}"}
        pg = os.environ.get("STREAMWISE_TEST_POSTGRES_URL")
        if pg:
            targets["postgresql"] = pg
        for name, url in targets.items():
            if name == "postgresql":
                await reset_postgres(url)
            for label, row in (
                (f"W1 {n} deltas", await w1(n, url, repeat)),
                ("W1 no reader", await w1(n, url, repeat, read=False)),
                ("W1 tokens", await w1(n, url, repeat, read=False, tokens=True)),
                ("1-delta run", await fixed_cost(url, repeat * 3)),
                ("W1 steady", await w1_steady(n, url, 3 if quick else 7)),
            ):
                show(label, name, row)
        # Last: with the collector tuned as the server tunes it at start-up (tune_gc), for
        # W3's many objects at once; with CPython's defaults, collections are most of W3.
        tune_gc()
        for name, url in targets.items():
            show("W3 concurrent", name, await w3_concurrent(url, 100 if quick else 1000, 3))


def show(label: str, target: str, row: dict[str, float]) -> None:
    cells = ", ".join(f"{k}={v:.2f}" for k, v in row.items())
    print(f"{label:16} {target:10} {cells}")


async def reset_postgres(url: str) -> None:
    """Start from an empty database (the test database of scripts/setup_postgres.sh)."""
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main("--quick" in sys.argv))
