"""Steps: from an agent or a tool, writers in every path, usage, ctx.app, state."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from streamwise import Agent, Streamwise, ToolContext, create_step, create_tool, create_workflow
from streamwise.errors import NoAppError
from streamwise.testing import ScriptedModel
from streamwise.workflows import FlowContext, StepContext
from tests.support import collect, types, usage
from tests.workflows.flows import Value, arithmetic


class Prompt(BaseModel):
    prompt: str


class Text(BaseModel):
    text: str


def scripted_agent(id: str, text: str, inp: int, out: int) -> Agent:
    return Agent(id, model=ScriptedModel([{"text": text, "usage": usage(inp, out)}]))


async def test_agent_step_streams_its_chunks_wrapped_in_step_output() -> None:
    agent = scripted_agent("writer", "hello big world", 4, 3)
    wf = create_workflow("a", Prompt, Text).then(create_step(agent)).commit()
    out = (await wf.create_run()).stream({"prompt": "hi"})
    chunks = await collect(out)
    assert await out.result == {"text": "hello big world"}
    wrapped = [c for c in chunks if c["type"] == "workflow-step-output"]
    inner = [c["payload"]["output"] for c in wrapped]
    assert types(inner) == [
        "start", "step-start", "text-start", "text-delta", "text-delta", "text-delta",
        "text-end", "step-finish", "finish",
    ]  # fmt: skip
    assert all(c["from"] == "USER" and c["payload"]["stepName"] == "writer" for c in wrapped)
    assert all(i["from"] == "AGENT" and i["runId"] != out.run_id for i in inner)
    assert all(c["runId"] == out.run_id for c in wrapped)
    finish_usage = chunks[-1]["payload"]["output"]["usage"]
    assert finish_usage["inputTokens"] == 4
    assert finish_usage["outputTokens"] == 3
    assert finish_usage["totalTokens"] == 7


async def test_usage_adds_every_nested_agent_once_at_any_depth() -> None:
    # parallel agents, an agent in a nested workflow, and an agent calling a sub-agent tool.
    sub = scripted_agent("sub", "sub answer", 100, 10)
    caller = Agent(
        "caller",
        model=ScriptedModel(
            [
                {
                    "tool_calls": [{"name": "agent-sub", "args": {"prompt": "q"}}],
                    "usage": usage(1, 1),
                },
                {"text": "done", "usage": usage(2, 2)},
            ]
        ),
        agents=[sub],
    )
    left = scripted_agent("left", "l", 10, 1)
    right = scripted_agent("right", "r", 20, 2)
    inner = scripted_agent("inner", "i", 1000, 100)
    child = create_workflow("child", Prompt, Text).then(create_step(inner)).commit()

    wf = (
        create_workflow("usage", Prompt)
        .parallel([create_step(left), create_step(right)])
        .map(lambda ctx: {"prompt": ctx.input_data["left"]["text"]})
        .then(child)
        .map(lambda ctx: {"prompt": ctx.input_data["text"]})
        .then(create_step(caller))
        .commit()
    )
    out = (await wf.create_run()).stream({"prompt": "go"})
    chunks = await collect(out)
    assert await out.status == "success"
    expected_in = 10 + 20 + 1000 + 100 + 1 + 2
    expected_out = 1 + 2 + 100 + 10 + 1 + 2
    total = await out.usage
    assert total["inputTokens"] == expected_in
    assert total["outputTokens"] == expected_out
    assert chunks[-1]["payload"]["output"]["usage"]["inputTokens"] == expected_in
    # Each agent run is a direct child of the workflow run; the sub-agent is the caller's.
    assert sorted(c.run_id != out.run_id for c in out.children) == [True] * 4


async def test_tool_step_uses_tool_schemas_and_the_step_writer() -> None:
    class City(BaseModel):
        city: str

    class Forecast(BaseModel):
        summary: str

    async def forecast(inp: City, ctx: ToolContext) -> dict[str, str]:
        await ctx.writer.write({"looking": inp.city})
        return {"summary": f"sunny in {inp.city}"}

    tool = create_tool("forecast", "Weather", City, forecast, output_schema=Forecast)
    wf = create_workflow("t", City, Forecast).then(create_step(tool)).commit()
    out = (await wf.create_run()).stream({"city": "Paris"})
    chunks = await collect(out)
    assert await out.result == {"summary": "sunny in Paris"}
    (written,) = [c for c in chunks if c["type"] == "workflow-step-output"]
    assert written["payload"] == {
        "stepName": "forecast",
        "output": {"looking": "Paris"},
        "runId": out.run_id,
    }


async def test_writers_everywhere_and_custom_data_chunks_surface_at_top_level() -> None:
    async def chatty(ctx: StepContext) -> dict[str, int]:
        await ctx.writer.write({"at": ctx.step_id})
        await ctx.writer.custom({"type": "data-where", "data": {"at": ctx.step_id}})
        if ctx.step_id == "child.gate" and ctx.resume_data is None:
            await ctx.suspend({"why": "check"})
        return {"value": ctx.input_data.value + 1}

    def chat(id: str) -> Any:
        return create_step(id, Value, Value, chatty)

    child = create_workflow("child", Value, Value).then(chat("gate")).commit()
    piped = Agent(
        "piped",
        model=ScriptedModel([{"text": "x", "usage": usage(1, 1)}]),
        tools=[],
    )

    async def pipes_agent(ctx: StepContext) -> dict[str, int]:
        out = piped.stream("go")
        await out.pipe_to(ctx.writer)
        await ctx.writer.custom({"type": "data-piped", "data": 1, "transient": True})
        return {"value": ctx.input_data.value}

    wf = (
        create_workflow("everywhere", Value)
        .then(chat("plain"))
        .parallel([chat("p1"), chat("p2")])
        .map(lambda ctx: ctx.input_data["p1"])
        .dowhile(chat("loop"), lambda ctx: ctx.iteration_count < 2)
        .map(lambda ctx: [ctx.input_data, ctx.input_data])
        .foreach(chat("each"))
        .map(lambda ctx: ctx.input_data[0])
        .then(child)
        .then(create_step("agent", Value, Value, pipes_agent))
        .commit()
    )
    run = await wf.create_run()
    first = await collect(run.stream({"value": 0}))
    second = await collect(run.resume_stream(resume_data={"ok": True}))

    def where(chunks: list[dict[str, Any]]) -> list[str]:
        return [c["payload"]["output"]["at"] for c in chunks if c["type"] == "workflow-step-output"]

    assert where(first) == ["plain", "p1", "p2", "loop", "loop", "each", "each", "child.gate"]
    data = [c for c in first if c["type"] == "data-where"]
    assert [d["data"]["at"] for d in data] == where(first)
    assert set(data[0]) == {"type", "data"}  # unwrapped: no envelope (PROTOCOL.md §1)
    resumed_writes = [c["payload"]["output"] for c in second if c["type"] == "workflow-step-output"]
    assert resumed_writes[0] == {"at": "child.gate"}  # the writer of the resumed step
    assert [c["data"]["at"] for c in second if c["type"] == "data-where"] == ["child.gate"]
    assert {"type": "data-piped", "data": 1, "transient": True} in second
    agent_chunks = [o for o in resumed_writes if isinstance(o, dict) and "type" in o]
    assert types(agent_chunks)[0] == "start"


async def test_ctx_app_state_and_step_results() -> None:
    helper = scripted_agent("helper", "from the app", 0, 0)

    async def uses_app(ctx: StepContext) -> dict[str, str]:
        out = ctx.app.get_agent("helper").stream("q")
        ctx.state["seen"] = [*ctx.state.get("seen", []), ctx.step_id]
        return {"text": await out.text}

    async def reads(ctx: StepContext) -> dict[str, str]:
        first = ctx.get_step_result("ask")
        ctx.state["seen"].append(ctx.step_id)
        return {"text": first["text"] + f" / {ctx.runtime_context['who']}"}

    ask = create_step("ask", Text, Text, uses_app)
    wf = (
        create_workflow("app", Text, Text)
        .then(ask)
        .then(create_step("read", Text, Text, reads))
        .commit()
    )
    Streamwise(agents=[helper], workflows=[wf])
    run = await wf.create_run()
    out = run.stream({"text": "x"}, runtime_context={"who": "me"})
    assert await out.result == {"text": "from the app / me"}
    snapshot = await wf.store.load_snapshot("app", run.run_id)
    assert snapshot is not None
    assert snapshot["state"] == {"seen": ["ask", "read"]}

    alone = (
        create_workflow("alone", Text, Text).then(create_step("ask", Text, Text, uses_app)).commit()
    )
    out = (await alone.create_run()).stream({"text": "x"})
    chunks = await collect(out)
    assert "Streamwise(workflows=[...])" in chunks[-2]["payload"]["error"]["message"]
    with pytest.raises(NoAppError):
        await out.result


async def test_condition_errors_fail_the_run() -> None:
    def broken(ctx: FlowContext) -> bool:
        raise RuntimeError("bad condition")

    wf = create_workflow("c", Value).branch([(broken, arithmetic("x", lambda v: v))]).commit()
    out = (await wf.create_run()).stream({"value": 1})
    chunks = await collect(out)
    assert chunks[-1]["payload"]["metadata"]["errorMessage"] == "bad condition"
    assert await out.status == "failed"


async def test_workflow_inside_an_agent_tool_streams_and_adds_its_usage() -> None:
    inner = scripted_agent("inner", "deep", 7, 5)
    wf = create_workflow("in-tool", Prompt, Text).then(create_step(inner)).commit()

    async def run_workflow(inp: Prompt, ctx: ToolContext) -> dict[str, Any]:
        run = await wf.create_run()
        out = run.stream({"prompt": inp.prompt})
        await out.pipe_to(ctx.writer)
        return {"text": (await out.result)["text"]}

    tool = create_tool("run-wf", "Runs the workflow", Prompt, run_workflow)
    outer = Agent(
        "outer",
        model=ScriptedModel(
            [
                {"tool_calls": [{"name": "run-wf", "args": {"prompt": "p"}}], "usage": usage(1, 1)},
                {"text": "ok", "usage": usage(1, 1)},
            ]
        ),
        tools=[tool],
    )
    out = outer.stream("go")
    chunks = await collect(out)
    wrapped = [c["payload"]["output"] for c in chunks if c["type"] == "tool-output"]
    assert wrapped[0]["type"] == "workflow-start"
    assert wrapped[-1]["type"] == "workflow-finish"
    assert {w["from"] for w in wrapped} == {"WORKFLOW", "USER"}
    deep = [w["payload"]["output"] for w in wrapped if w["type"] == "workflow-step-output"]
    assert types(deep)[0] == "start"  # the agent inside the workflow, two levels down
    total = await out.usage
    assert total["inputTokens"] == 1 + 1 + 7
    assert total["outputTokens"] == 1 + 1 + 5
