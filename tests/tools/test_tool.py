"""Tools: schemas at the edge, the @tool decorator, writers and their errors."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from streamwise import Agent, ToolContext, create_tool, tool
from streamwise.errors import ConfigurationError, ToolInputError, WriterClosedError
from streamwise.testing import ScriptedModel
from tests.support import collect


class City(BaseModel):
    city: str


async def test_tool_decorator_builds_schema_from_signature() -> None:
    @tool
    async def forecast(city: str, ctx: ToolContext, days: int = 3) -> dict[str, Any]:
        """Weather for a city."""
        await ctx.writer.write(f"looking up {city}")
        return {"city": city, "days": days}

    assert forecast.id == "forecast"
    assert forecast.description == "Weather for a city."
    schema = forecast.json_schema()
    assert schema["required"] == ["city"]
    assert schema["properties"]["days"] == {"default": 3, "title": "Days", "type": "integer"}
    model = ScriptedModel([
        {"tool_calls": [{"name": "forecast", "args": {"city": "Paris"}}]}, {"text": "ok"},
    ])  # fmt: skip
    chunks = await collect(Agent("a", model=model, tools=[forecast]).stream("x"))
    outputs = [c["payload"]["output"] for c in chunks if c["type"] == "tool-output"]
    assert outputs == ["looking up Paris"]
    result = next(c for c in chunks if c["type"] == "tool-result")["payload"]["result"]
    assert result == {"city": "Paris", "days": 3}


async def test_tool_decorator_takes_a_pydantic_model_parameter_and_options() -> None:
    @tool(id="weather", description="Forecast")
    async def fn(inp: City) -> City:
        return City(city=inp.city.upper())

    assert fn.input_schema is City
    assert fn.description == "Forecast"
    assert fn.dump_output(await fn.execute(City(city="x"), None)) == {"city": "X"}  # type: ignore[arg-type]


def test_create_tool_rejects_bad_definitions() -> None:
    async def ok(inp: City, ctx: ToolContext) -> str:
        return ""

    def sync(inp: City, ctx: ToolContext) -> str:
        return ""

    with pytest.raises(ConfigurationError, match="tool id"):
        create_tool("has space", "d", City, ok)
    with pytest.raises(ConfigurationError, match="pydantic model"):
        create_tool("t", "d", dict, ok)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="async"):
        create_tool("t", "d", City, sync)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="async"):
        tool(sync)  # type: ignore[arg-type]
    t = create_tool("t", "d", City, ok)
    with pytest.raises(ConfigurationError, match="two tools named 't'"):
        Agent("a", model=ScriptedModel([]), tools=[t, t])


def test_parse_input_reports_json_and_schema_errors() -> None:
    async def ok(inp: City, ctx: ToolContext) -> str:
        return ""

    t = create_tool("t", "d", City, ok)
    assert t.parse_input('{"city": "Oslo"}') == City(city="Oslo")
    with pytest.raises(ToolInputError, match="not valid JSON"):
        t.parse_input("{")
    with pytest.raises(ToolInputError, match="city: Field required") as info:
        t.parse_input({})
    assert info.value.details()[0]["type"] == "missing"


async def test_writer_custom_rejects_non_data_chunks_and_missing_data() -> None:
    errors: list[str] = []

    async def misuse(inp: City, ctx: ToolContext) -> str:
        for bad in ({"type": "progress", "data": 1}, {"type": "data-progress"}, {"type": "data-"}):
            try:
                await ctx.writer.custom(bad)
            except ValueError as exc:
                errors.append(str(exc))
        return "done"

    model = ScriptedModel([
        {"tool_calls": [{"name": "m", "args": {"city": "x"}}]}, {"text": "ok"},
    ])  # fmt: skip
    await collect(Agent("a", model=model, tools=[create_tool("m", "d", City, misuse)]).stream("x"))
    assert len(errors) == 3
    assert "only forwards 'data-<name>' chunks" in errors[0]
    assert "needs a 'data' key" in errors[1]


async def test_writer_used_after_its_tool_ended_raises() -> None:
    kept: list[Any] = []

    async def leak(inp: City, ctx: ToolContext) -> str:
        kept.append(ctx.writer)
        return "done"

    model = ScriptedModel([
        {"tool_calls": [{"name": "leak", "args": {"city": "x"}}]}, {"text": "ok"},
    ])  # fmt: skip
    await collect(Agent("a", model=model, tools=[create_tool("leak", "d", City, leak)]).stream("x"))
    with pytest.raises(WriterClosedError, match="tool call 'leak'"):
        await kept[0].write("late")
    with pytest.raises(WriterClosedError):
        await kept[0].custom({"type": "data-x", "data": 1})
