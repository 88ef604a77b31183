"""Every failure path ends the stream with a terminal chunk, and the model sees tool errors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import BaseModel

from streamwise import Agent, ToolContext, create_tool
from streamwise.errors import ModelError, ScriptExhaustedError
from streamwise.testing import ScriptedModel
from tests.support import collect, types, until


class Num(BaseModel):
    n: int


class Out(BaseModel):
    doubled: int


async def boom(inp: Num, ctx: ToolContext) -> Any:
    raise RuntimeError(f"tool broke on {inp.n}")


async def double(inp: Num, ctx: ToolContext) -> Any:
    return {"doubled": inp.n * 2}


def agent_calling(tool_name: str, args: Any, *tools: Any) -> tuple[Agent, ScriptedModel]:
    model = ScriptedModel([
        {"tool_calls": [{"name": tool_name, "args": args, "id": "c1"}]},
        {"text": "recovered"},
    ])  # fmt: skip
    return Agent("a", model=model, tools=list(tools)), model


def tool_error(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    [err] = [c["payload"] for c in chunks if c["type"] == "tool-error"]
    assert isinstance(err, dict)
    return err


async def test_tool_that_raises_gives_tool_error_and_the_model_sees_it() -> None:
    agent, model = agent_calling("boom", {"n": 3}, create_tool("boom", "d", Num, boom))
    out = agent.stream("go")
    chunks = await collect(out)
    err = tool_error(chunks)
    assert err["error"]["message"] == "tool broke on 3"
    assert err["error"]["name"] == "RuntimeError"
    assert err["args"] == {"n": 3}
    assert types(chunks)[-1] == "finish"
    seen = model.calls[1]["messages"][-1]["content"][0]
    assert seen["isError"] is True
    assert "tool broke on 3" in seen["output"]["error"]["message"]
    assert await out.text == "recovered"


async def test_unknown_tool_gives_tool_error() -> None:
    agent, _ = agent_calling("nope", {}, create_tool("double", "d", Num, double))
    chunks = await collect(agent.stream("go"))
    err = tool_error(chunks)
    assert err["error"]["name"] == "UnknownToolError"
    assert "'nope'" in err["error"]["message"] and "double" in err["error"]["message"]
    assert types(chunks)[-1] == "finish"


async def test_invalid_arguments_give_tool_error_with_validation_details() -> None:
    agent, model = agent_calling("double", {"n": "many"}, create_tool("double", "d", Num, double))
    chunks = await collect(agent.stream("go"))
    err = tool_error(chunks)
    assert err["error"]["name"] == "ToolInputError"
    assert err["error"]["details"][0]["loc"] == ["n"]
    assert err["error"]["details"][0]["type"] == "int_parsing"
    assert model.calls[1]["messages"][-1]["content"][0]["isError"] is True


async def test_invalid_json_arguments_give_tool_error() -> None:
    agent, _ = agent_calling("double", '{"n": 1', create_tool("double", "d", Num, double))
    chunks = await collect(agent.stream("go"))
    call = next(c["payload"] for c in chunks if c["type"] == "tool-call")
    assert call["args"] == '{"n": 1'
    assert "not valid JSON" in tool_error(chunks)["error"]["message"]


async def test_output_schema_mismatch_gives_tool_error() -> None:
    async def wrong(inp: Num, ctx: ToolContext) -> Any:
        return {"tripled": 3}

    tool = create_tool("double", "d", Num, wrong, output_schema=Out)
    agent, _ = agent_calling("double", {"n": 1}, tool)
    err = tool_error(await collect(agent.stream("go")))
    assert err["error"]["name"] == "ToolOutputError"
    assert err["error"]["details"][0]["loc"] == ["doubled"]


async def test_model_error_ends_stream_with_error_and_awaitables_raise() -> None:
    model = ScriptedModel([{"text": "partial answer", "error": "provider exploded"}])
    out = Agent("a", model=model).stream("go")
    chunks = await collect(out)
    assert types(chunks)[-3:] == ["text-delta", "text-end", "error"]
    assert chunks[-1]["payload"]["error"]["message"] == "provider exploded"
    assert await out.status == "failed"
    with pytest.raises(ModelError, match="provider exploded") as info:
        await out.text
    assert info.value.run_id == out.run_id
    with pytest.raises(ModelError):
        await out.usage
    assert isinstance(await out.error, ModelError)


async def test_model_error_cancels_running_tools() -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def slow(inp: Num, ctx: ToolContext) -> Any:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    def script(messages: list[Any]) -> Any:
        return {"tool_calls": [{"name": "slow", "args": {"n": 1}}], "error": "later failure"}

    # The tool starts as soon as its call arrives; the model then fails in the same step.
    model = ScriptedModel(script)
    out = Agent("a", model=model, tools=[create_tool("slow", "d", Num, slow)]).stream("go")
    chunks = await collect(out)
    assert types(chunks)[-1] == "error"
    assert await out.status == "failed"


async def test_script_exhausted_is_a_clear_error() -> None:
    tool = create_tool("double", "d", Num, double)
    model = ScriptedModel([{"tool_calls": [{"name": "double", "args": {"n": 1}}]}])
    out = Agent("a", model=model, tools=[tool]).stream("go")
    chunks = await collect(out)
    assert chunks[-1]["type"] == "error"
    with pytest.raises(ScriptExhaustedError, match="only 1 turn"):
        await out.text


async def test_cancel_during_model_stream_ends_with_abort_and_keeps_partial_text() -> None:
    model = ScriptedModel([{"text": "a b c d e f g h", "delay": 0.01}])
    out = Agent("a", model=model).stream("go")
    seen: list[dict[str, Any]] = []
    async for chunk in out:
        seen.append(chunk)
        if chunk["type"] == "text-delta":
            assert out.cancel() is True
    assert seen[-1]["type"] == "abort"
    assert seen[-1]["payload"] == {}
    assert await out.status == "canceled"
    assert await out.finish_reason == "abort"
    assert await out.text == "a "
    assert out.cancel() is False


async def test_cancel_before_the_run_started_still_ends_with_abort() -> None:
    out = Agent("a", model=ScriptedModel([{"text": "x"}])).stream("go")
    out.cancel()
    chunks = await collect(out)
    assert types(chunks) == ["abort"]
    assert await out.status == "canceled"


async def test_cancel_cancels_running_tools_and_nested_runs() -> None:
    tool_cancelled = asyncio.Event()
    child_seen = asyncio.Event()
    child = Agent("child", model=ScriptedModel([{"text": "x " * 50, "delay": 0.01}]))

    async def nest(inp: Num, ctx: ToolContext) -> Any:
        out = child.stream("deep")
        try:
            async for chunk in out:
                await ctx.writer.write(chunk)
                if chunk["type"] == "text-delta":
                    child_seen.set()
        except asyncio.CancelledError:
            tool_cancelled.set()
            raise
        return "never"

    agent, _ = agent_calling("nest", {"n": 1}, create_tool("nest", "d", Num, nest))
    out = agent.stream("go")
    await child_seen.wait()
    out.cancel()
    chunks = await collect(out)
    assert chunks[-1]["type"] == "abort"
    assert tool_cancelled.is_set()
    [nested] = out.children
    assert await nested.status == "canceled"
    assert nested.chunks[-1]["type"] == "abort"


async def test_cancelling_only_a_nested_run_fails_just_its_tool() -> None:
    started = asyncio.Event()
    child = Agent("child", model=ScriptedModel([{"text": "x " * 50, "delay": 0.01}]))

    async def ask(inp: Num, ctx: ToolContext) -> Any:
        started.set()
        return (await child.generate("deep")).text

    agent, _ = agent_calling("ask", {"n": 1}, create_tool("ask", "d", Num, ask))
    out = agent.stream("go")
    await started.wait()
    await until(lambda: bool(out.children))
    out.children[0].cancel()
    chunks = await collect(out)
    assert tool_error(chunks)["error"]["name"] == "RunCanceledError"
    assert chunks[-1]["type"] == "finish"
    assert await out.text == "recovered"


async def test_generate_raises_the_model_error() -> None:
    agent = Agent("a", model=ScriptedModel([{"error": "nope"}]))
    with pytest.raises(ModelError, match="nope"):
        await agent.generate("x")


async def test_on_chunk_that_raises_fails_the_run_cleanly() -> None:
    def bad(chunk: dict[str, Any]) -> None:
        if chunk["type"] == "text-delta":
            raise ValueError("observer broke")

    out = Agent("a", model=ScriptedModel([{"text": "x y"}])).stream("go", on_chunk=bad)
    chunks = await collect(out)
    assert chunks[-1]["type"] == "error"
    assert chunks[-1]["payload"]["error"]["message"] == "observer broke"
