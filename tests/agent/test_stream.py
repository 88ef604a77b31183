"""The agent stream: chunk order and shapes (PROTOCOL.md §2) and the output object (§3)."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

from streamwise import Agent, create_tool
from streamwise.errors import ConfigurationError
from streamwise.testing import ScriptedModel, Turn
from tests.support import collect, types, usage


class Topic(BaseModel):
    topic: str


async def test_stream_text_only_order_and_envelope() -> None:
    agent = Agent("a", model=ScriptedModel([{"text": "hello big world", "usage": usage(4, 3)}]))
    out = agent.stream("hi")
    chunks = await collect(out)
    assert types(chunks) == [
        "start", "step-start", "text-start",
        "text-delta", "text-delta", "text-delta",
        "text-end", "step-finish", "finish",
    ]  # fmt: skip
    for c in chunks:
        assert set(c) == {"type", "runId", "from", "payload"}
        assert c["runId"] == out.run_id
        assert c["from"] == "AGENT"
    assert chunks[0]["payload"]["id"] == "a"
    assert chunks[1]["payload"]["messageId"] == chunks[0]["payload"]["messageId"]
    assert [c["payload"]["text"] for c in chunks if c["type"] == "text-delta"] == [
        "hello ", "big ", "world",
    ]  # fmt: skip
    assert await out.text == "hello big world"
    assert await out.finish_reason == "stop"
    assert await out.status == "success"
    total = await out.usage
    assert total == {"inputTokens": 4, "outputTokens": 3, "totalTokens": 7,
                     "reasoningTokens": 0, "cachedInputTokens": 0}  # fmt: skip
    assert chunks[-1]["payload"]["output"]["usage"] == total
    assert chunks[-1]["payload"]["totalUsage"] == total


async def test_stream_tool_call_order_and_payloads() -> None:
    async def lookup(inp: Topic, ctx: object) -> dict[str, str]:
        return {"summary": f"about {inp.topic}"}

    tool = create_tool("lookup", "Looks up a topic", Topic, lookup)
    model = ScriptedModel([
        {"tool_calls": [{"name": "lookup", "args": {"topic": "streams"}, "id": "call-1"}]},
        {"text": "done"},
    ])  # fmt: skip
    out = Agent("a", model=model, tools=[tool]).stream("hi")
    chunks = await collect(out)
    assert types(chunks) == [
        "start", "step-start",
        "tool-call-input-streaming-start", "tool-call-delta", "tool-call-input-streaming-end",
        "tool-call", "tool-result", "step-finish",
        "step-start", "text-start", "text-delta", "text-end", "step-finish", "finish",
    ]  # fmt: skip
    by_type = {c["type"]: c["payload"] for c in chunks}
    assert by_type["tool-call-delta"] == {
        "toolCallId": "call-1", "toolName": "lookup", "argsTextDelta": '{"topic":"streams"}',
    }  # fmt: skip
    assert by_type["tool-call"] == {
        "toolCallId": "call-1", "toolName": "lookup", "args": {"topic": "streams"},
    }  # fmt: skip
    assert by_type["tool-result"]["result"] == {"summary": "about streams"}
    first_finish = next(c for c in chunks if c["type"] == "step-finish")
    assert first_finish["payload"]["stepResult"]["reason"] == "tool-calls"
    assert first_finish["payload"]["stepResult"]["isContinued"] is True
    # The model saw the tool result in its second call.
    tool_msg = model.calls[1]["messages"][-1]
    assert tool_msg["role"] == "tool"
    assert tool_msg["content"][0]["output"] == {"summary": "about streams"}
    assert model.calls[0]["tools"][0]["inputSchema"]["properties"] == {
        "topic": {"title": "Topic", "type": "string"}
    }
    assert [c["toolName"] for c in await out.tool_calls] == ["lookup"]
    assert len(await out.steps) == 2


async def test_two_readers_see_identical_chunks() -> None:
    model = ScriptedModel([{"text": "a b c d e f", "delay": 0.001}])
    out = Agent("a", model=model).stream("hi")
    first, second = await asyncio.gather(collect(out), collect(out))
    late = await collect(out)  # a reader that starts after the end replays everything
    assert first == second == late
    assert first[-1]["type"] == "finish"


async def test_bookkeeping_runs_without_a_reader() -> None:
    seen: list[str] = []
    out = Agent("a", model=ScriptedModel([{"text": "x y"}])).stream(
        "hi", on_chunk=lambda c: seen.append(c["type"])
    )
    assert await out.text == "x y"
    assert seen[-1] == "finish"


async def test_text_stream_yields_only_this_runs_text() -> None:
    out = Agent("a", model=ScriptedModel([{"text": "one two", "reasoning": "hmm"}])).stream("q")
    assert [t async for t in out.text_stream] == ["one ", "two"]
    assert await out.reasoning_text == "hmm"


async def test_input_forms() -> None:
    model = ScriptedModel(lambda messages: {"text": str(len(messages))})
    agent = Agent("a", model=model, instructions="be brief")
    assert await agent.stream("x").text == "2"
    assert await agent.stream(["x", "y"]).text == "3"
    assert await agent.stream([{"role": "user", "content": "x"}]).text == "2"
    assert model.calls[0]["messages"][0] == {"role": "system", "content": "be brief"}
    with pytest.raises(ConfigurationError, match="role"):
        agent.stream([{"role": "robot", "content": "x"}])
    with pytest.raises(ConfigurationError, match="string"):
        agent.stream(42)  # type: ignore[arg-type]


async def test_instructions_from_runtime_context() -> None:
    model = ScriptedModel([{"text": "ok"}])
    agent = Agent("a", model=model, instructions=lambda rc: f"user is {rc['user']}")
    await agent.stream("x", runtime_context={"user": "ada"}).text
    assert model.calls[0]["messages"][0]["content"] == "user is ada"


async def test_generate_returns_results() -> None:
    agent = Agent("a", model=ScriptedModel([{"text": "hi there", "usage": usage(1, 2)}]))
    result = await agent.generate("hello")
    assert result.text == "hi there"
    assert result.usage["totalTokens"] == 3
    assert result.status == "success"
    assert result.finish_reason == "stop"


async def test_max_steps_stops_the_loop() -> None:
    call: Turn = {"tool_calls": [{"name": "lookup", "args": {"topic": "x"}}]}

    async def lookup(inp: Topic, ctx: object) -> str:
        return "r"

    tool = create_tool("lookup", "d", Topic, lookup)
    model = ScriptedModel([call, call, call])
    out = Agent("a", model=model, tools=[tool], max_steps=5).stream("q", max_steps=2)
    chunks = await collect(out)
    assert types(chunks).count("step-start") == 2
    assert await out.finish_reason == "tool-calls"
    assert len(model.calls) == 2


def test_model_string_errors_are_clear() -> None:
    with pytest.raises(ConfigurationError, match="provider/model"):
        Agent("a", model="gpt-4")
    with pytest.raises(ConfigurationError, match="unknown model provider 'nope'"):
        Agent("a", model="nope/x")


def test_async_on_chunk_is_refused_with_a_reason() -> None:
    async def hook(chunk: dict[str, object]) -> None:
        return None

    agent = Agent("a", model=ScriptedModel([{"text": "x"}]))
    with pytest.raises(ConfigurationError, match="plain function"):
        agent.stream("x", on_chunk=hook)


async def test_replay_window_bounds_a_long_run_without_touching_its_results(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from streamwise import RunOutput
    from streamwise.errors import ChunkLogTruncatedError

    monkeypatch.setattr(RunOutput, "replay_window", 8)
    out = Agent("a", model=ScriptedModel([{"text": ["x"] * 50}])).stream("go")
    assert await out.text == "x" * 50
    assert out.statistics().held <= 8
    with pytest.raises(ChunkLogTruncatedError):
        await collect(out)
    tail = [c async for c in out.read(out.statistics().chunks - 2)]
    assert types(tail) == ["step-finish", "finish"]
