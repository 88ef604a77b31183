"""An ended agent run lets go of its text-delta chunks and rebuilds them for later readers."""

from __future__ import annotations

import asyncio

from streamwise import Agent, ToolContext, create_tool
from streamwise.testing import ScriptedModel
from tests.support import collect


async def test_late_reader_gets_every_chunk_rebuilt_equal_to_the_live_ones() -> None:
    agent = Agent("a", model=ScriptedModel([{"text": [f"{i} " for i in range(500)]}]))
    out = agent.stream("go")
    live = await collect(out)
    # The run has ended: its text deltas are held as placeholders now, rebuilt when read.
    late = await collect(out)
    assert late == live
    deltas = [i for i, c in enumerate(live) if c["type"] == "text-delta"]
    assert len(deltas) == 500
    assert all(late[i] is not live[i] for i in deltas)  # rebuilt, not kept
    assert all(late[i] is live[i] for i in range(len(live)) if i not in deltas)
    # Every way of reading agrees, from any offset (inside the stretch too).
    assert out.chunks == live
    for offset in (0, 1, 3, 250, 502, len(live) - 1, len(live)):
        assert out.chunks_from(offset) == live[offset:]
        assert [c async for c in out.read(offset)] == live[offset:]
    assert out.chunk_at(100) == live[100]
    assert out.chunks_between(200, 300) == live[200:300]
    assert await out.text == "".join(f"{i} " for i in range(500))


async def test_stretch_a_tool_wrote_into_is_kept_as_it_was() -> None:
    """A tool that writes while the model still streams text puts its chunks inside a stretch
    of deltas: that stretch is not compacted (its chunks stay the objects written)."""
    from tests.storage.test_events_fidelity import CallFirstModel, Q

    async def progress(inp: Q, ctx: ToolContext) -> str:
        for i in range(10):
            await ctx.writer.write(f"step {i}")
            await asyncio.sleep(0)
        return "ok"

    words = [f"w{i} " for i in range(40)]
    model = CallFirstModel([
        {"text": words, "tool_calls": [{"name": "progress", "args": {"q": "x"}, "id": "c1"}]},
        {"text": words},
    ])  # fmt: skip
    agent = Agent("a", model=model, tools=[create_tool("progress", "P", Q, progress)])
    out = agent.stream("go")
    live = await collect(out)
    late = await collect(out)
    assert late == live
    kinds = [c["type"] for c in live]
    first_step = [i for i, c in enumerate(live) if c["type"] == "text-delta"][:40]
    assert "tool-output" in kinds[first_step[0] : first_step[-1]]  # the tool wrote inside
    assert all(late[i] is live[i] for i in first_step)  # kept as written
    second_step = [i for i, c in enumerate(live) if c["type"] == "text-delta"][40:]
    assert all(late[i] is not live[i] for i in second_step)  # contiguous: compacted
