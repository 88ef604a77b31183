"""Nested streaming (PROTOCOL.md §5): live, attributed, at any depth; usage adds up once."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel

from streamwise import Agent, Streamwise, ToolContext, create_tool
from streamwise.testing import ScriptedModel
from tests.support import collect, types, usage


class Ask(BaseModel):
    q: str


def asking_tool(name: str, child: Agent) -> Any:
    async def execute(inp: Ask, ctx: ToolContext) -> Any:
        out = child.stream(inp.q)
        await out.pipe_to(ctx.writer)
        return {"answer": await out.text}

    return create_tool(name, f"asks {child.id}", Ask, execute)


def caller(agent_id: str, tool: Any, answer: str, u: tuple[int, int]) -> Agent:
    model = ScriptedModel([
        {"tool_calls": [{"name": tool.id, "args": {"q": "deeper"}}], "usage": usage(*u)},
        {"text": answer, "usage": usage(*u)},
    ])  # fmt: skip
    return Agent(agent_id, model=model, tools=[tool])


async def test_three_levels_of_nesting_stream_live_and_usage_adds_up_once() -> None:
    leaf = Agent("leaf", model=ScriptedModel([{"text": "leaf words", "usage": usage(1, 2)}]))
    middle = caller("middle", asking_tool("ask_leaf", leaf), "middle done", (10, 20))
    top = caller("top", asking_tool("ask_middle", middle), "top done", (100, 200))

    out = top.stream("start")
    chunks = await collect(out)

    wrapped = [c for c in chunks if c["type"] == "tool-output"]
    middle_chunks = [c["payload"]["output"] for c in wrapped]
    assert {c["runId"] for c in middle_chunks} == {middle_run := middle_chunks[0]["runId"]}
    assert middle_run != out.run_id
    leaf_chunks = [c["payload"]["output"] for c in middle_chunks if c["type"] == "tool-output"]
    assert types(leaf_chunks) == [
        "start", "step-start", "text-start", "text-delta", "text-delta", "text-end",
        "step-finish", "finish",
    ]  # fmt: skip
    assert all(c["from"] == "AGENT" for c in leaf_chunks)
    assert leaf_chunks[0]["payload"]["id"] == "leaf"
    # Every level wraps with its own tool attribution.
    assert {c["payload"]["toolName"] for c in wrapped} == {"ask_middle"}
    assert {c["payload"]["toolName"] for c in middle_chunks if c["type"] == "tool-output"} == {
        "ask_leaf"
    }
    # Usage: each step keeps its own, the totals add every nested run once.
    leaf_finish = leaf_chunks[-1]["payload"]
    assert leaf_finish["totalUsage"]["totalTokens"] == 3
    middle_finish = next(c for c in middle_chunks if c["type"] == "finish")["payload"]
    assert middle_finish["output"]["usage"]["inputTokens"] == 2 * 10 + 1
    top_total = await out.total_usage
    assert top_total["inputTokens"] == 2 * 100 + 2 * 10 + 1
    assert top_total["outputTokens"] == 2 * 200 + 2 * 20 + 2
    assert top_total["totalTokens"] == top_total["inputTokens"] + top_total["outputTokens"]
    assert chunks[-1]["payload"]["totalUsage"] == top_total == await out.usage
    top_steps = [c["payload"]["output"]["usage"] for c in chunks if c["type"] == "step-finish"]
    assert [u["inputTokens"] for u in top_steps] == [100, 100]


async def test_nested_usage_counts_once_even_when_piped_twice_or_not_at_all() -> None:
    child = Agent("child", model=ScriptedModel([{"text": "hi", "usage": usage(7, 1)}] * 2))

    async def twice(inp: Ask, ctx: ToolContext) -> Any:
        piped = child.stream("one")
        await piped.pipe_to(ctx.writer)
        await piped.pipe_to(ctx.writer)  # the same run read again: still one run's usage
        quiet = await child.generate("two")  # never streamed, still counted
        return quiet.text

    out = caller("top", create_tool("twice", "d", Ask, twice), "ok", (0, 0)).stream("go")
    await collect(out)
    assert (await out.usage)["inputTokens"] == 14
    assert len(out.children) == 2


async def test_parallel_tools_that_write_keep_per_tool_order_before_their_results() -> None:
    gate = {"a": asyncio.Event(), "b": asyncio.Event()}

    async def writer_tool(inp: Ask, ctx: ToolContext) -> Any:
        me, other = (inp.q, "b" if inp.q == "a" else "a")
        for i in range(3):
            await ctx.writer.write({"tool": me, "i": i})
            gate[other].set()  # let the other tool write next: forces interleaving
            await gate[me].wait()
            gate[me].clear()
        gate[other].set()
        return f"{me} done"

    tool = create_tool("w", "writes", Ask, writer_tool)
    model = ScriptedModel([
        {"tool_calls": [{"name": "w", "args": {"q": "a"}, "id": "A"},
                        {"name": "w", "args": {"q": "b"}, "id": "B"}]},
        {"text": "end"},
    ])  # fmt: skip
    out = Agent("p", model=model, tools=[tool]).stream("go")
    chunks = await collect(out)
    outputs = [c for c in chunks if c["type"] == "tool-output"]
    sources = [c["payload"]["output"]["tool"] for c in outputs]
    assert sources.count("a") == sources.count("b") == 3
    assert sources != sorted(sources)  # they interleaved
    for call_id, name in (("A", "a"), ("B", "b")):
        mine = [
            c["payload"]["output"]["i"] for c in outputs if c["payload"]["toolCallId"] == call_id
        ]
        assert mine == [0, 1, 2]
        assert all(c["payload"]["output"]["tool"] == name for c in outputs
                   if c["payload"]["toolCallId"] == call_id)  # fmt: skip
        result_at = next(i for i, c in enumerate(chunks)
                         if c["type"] == "tool-result" and c["payload"]["toolCallId"] == call_id)  # fmt: skip
        last_output_at = max(i for i, c in enumerate(chunks) if c["type"] == "tool-output"
                             and c["payload"]["toolCallId"] == call_id)  # fmt: skip
        assert last_output_at < result_at
    assert types(chunks).index("step-finish") > max(
        i for i, c in enumerate(chunks) if c["type"] == "tool-result"
    )


async def test_data_chunks_surface_top_level_from_any_depth_and_keep_transient() -> None:
    async def leaf_tool(inp: Ask, ctx: ToolContext) -> Any:
        await ctx.writer.custom({"type": "data-progress", "data": {"pct": 50}, "transient": True})
        await ctx.writer.custom({"type": "data-note", "data": "kept", "id": "n1"})
        return "ok"

    leaf = caller("leaf", create_tool("leafy", "d", Ask, leaf_tool), "leaf", (0, 0))
    top = caller("top", asking_tool("ask", leaf), "top", (0, 0))
    chunks = await collect(top.stream("go"))
    data = [c for c in chunks if c["type"].startswith("data-")]
    assert data == [
        {"type": "data-progress", "data": {"pct": 50}, "transient": True},
        {"type": "data-note", "data": "kept", "id": "n1"},
    ]


async def test_agents_become_streaming_tools() -> None:
    helper = Agent("helper", description="knows things",
                   model=ScriptedModel([{"text": "the answer", "usage": usage(3, 4)}]))  # fmt: skip
    model = ScriptedModel([
        {"tool_calls": [{"name": "agent-helper", "args": {"prompt": "what?"}}]},
        {"text": "relayed"},
    ])  # fmt: skip
    boss = Agent("boss", model=model, agents=[helper])
    out = boss.stream("go")
    chunks = await collect(out)
    spec = model.calls[0]["tools"][0]
    assert spec["name"] == "agent-helper" and spec["description"] == "knows things"
    nested = [c["payload"]["output"] for c in chunks if c["type"] == "tool-output"]
    assert nested[0]["type"] == "start" and nested[0]["payload"]["id"] == "helper"
    result = next(c for c in chunks if c["type"] == "tool-result")
    assert result["payload"]["result"] == {"text": "the answer"}
    assert (await out.usage)["outputTokens"] == 4


async def test_ctx_app_finds_agents_and_explains_when_missing() -> None:
    async def lookup(inp: Ask, ctx: ToolContext) -> Any:
        return await ctx.app.get_agent("helper").stream(inp.q).text

    helper = Agent("helper", model=ScriptedModel([{"text": "found"}]))
    boss = caller("boss", create_tool("lookup", "d", Ask, lookup), "ok", (0, 0))
    chunks = await collect(boss.stream("go"))
    err = next(c for c in chunks if c["type"] == "tool-error")["payload"]["error"]
    assert err["name"] == "NoAppError" and "Streamwise(agents=" in err["message"]

    boss = caller("boss", create_tool("lookup", "d", Ask, lookup), "ok", (0, 0))
    Streamwise(agents=[boss, helper])
    chunks = await collect(boss.stream("go"))
    assert next(c for c in chunks if c["type"] == "tool-result")["payload"]["result"] == "found"
