"""Shared fixtures: scripted agents, and a collector that reads a run's chunks."""

from __future__ import annotations

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
