"""Shared fixtures: scripted agents, and a collector that reads a run's chunks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from streamwise import Chunk, RunOutput


async def collect(out: RunOutput) -> list[Chunk]:
    """Every chunk of a run, read to its end."""
    return [chunk async for chunk in out]


def types(chunks: list[Chunk]) -> list[str]:
    """The ``type`` of each chunk."""
    return [c["type"] for c in chunks]


def usage(inp: int, out: int) -> dict[str, Any]:
    """A scripted usage dict."""
    return {"inputTokens": inp, "outputTokens": out}


async def until(predicate: Callable[[], bool], *, max_turns: int = 10_000) -> None:
    """Yield to the event loop until ``predicate()`` holds (no wall-clock waiting).

    Like trio's ``wait_all_tasks_blocked``: lets the other tasks run, turn by turn; fails the
    test instead of hanging when the condition never comes.
    """
    for _ in range(max_turns):
        if predicate():
            return
        await asyncio.sleep(0)  # one scheduler turn, not a timed wait
    raise AssertionError("condition not reached after letting every task run")


async def eventually(predicate: Callable[[], bool]) -> None:
    """Poll ``predicate()`` every 2 ms until it holds, for what runs on timers or threads (a
    store's flusher, a database): fails the test after about 10 seconds instead of hanging."""
    for _ in range(5000):
        if predicate():
            return
        await asyncio.sleep(0.002)
    raise AssertionError("condition not reached in about 10 seconds")
