"""An agent run's event log replays every chunk as it was, from any offset, when a tool writes
while the model is still streaming text (its chunks land inside a stretch of text deltas), on
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import sqlalchemy as sa
from pydantic import BaseModel

from streamwise import Agent, Streamwise, ToolContext, create_tool
from streamwise.models import ModelPart, ModelRequest
from streamwise.storage import Store
from streamwise.storage._schema import events
from streamwise.testing import ScriptedModel
from tests.support import collect, types


class Q(BaseModel):
    q: str


class CallFirstModel(ScriptedModel):
    """Plays each turn with its tool calls first, then its text, one delta per loop turn (the
    tools run, and write, while the text streams)."""

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelPart]:
        parts = [p async for p in super().stream(request)]
        tool = [p for p in parts if p["type"].startswith("tool-")]
        finish = [p for p in parts if p["type"] == "finish"]
        for part in [*tool, *(p for p in parts if p not in tool and p not in finish), *finish]:
            await asyncio.sleep(0)
            yield part


async def test_events_replay_every_chunk_from_every_offset_with_tool_writes_inside_text(
    db_url: str,
) -> None:
    async def progress(inp: Q, ctx: ToolContext) -> str:
        for i in range(20):
            await ctx.writer.write(f"step {i}")
            await asyncio.sleep(0)
        return "ok"

    words = [f"w{i} " for i in range(40)]
    model = CallFirstModel([
        {"reasoning": ["think ", "more"], "text": words,
         "tool_calls": [{"name": "progress", "args": {"q": "x"}, "id": "c1"}]},
        {"text": words},
    ])  # fmt: skip
    agent = Agent("a", model=model, tools=[create_tool("progress", "P", Q, progress)])
    store = Store(db_url, event_batch_size=7, event_flush_interval=0.001)
    async with store, Streamwise(agents=[agent], storage=store):
        out = agent.stream("go", memory={"thread": "t"})
        chunks = await collect(out)
        kinds = types(chunks)
        first, last = kinds.index("text-delta"), len(kinds) - kinds[::-1].index("text-delta")
        # A tool's chunk sits between two text deltas of one stretch.
        assert "tool-output" in kinds[first:last]
        assert await store.read_events(out.run_id) == chunks
        # Each step's text and the run's are stored once, in its deltas (references to them
        # in its step-finish and finish chunks).
        async with store._tx() as conn:
            query = sa.select(events.c.chunks).where(events.c.run_id == out.run_id)
            stored = b"".join((await conn.execute(query)).scalars().all())
        assert stored.count(b'{"~text":[') == 3
        assert "".join(words).encode() not in stored
        for offset in range(len(chunks) + 1):
            assert await store.read_events(out.run_id, offset) == chunks[offset:], offset
