"""Structured output: ``object`` chunks as the JSON grows, ``object-result`` when valid."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from streamwise import Agent
from streamwise.agent._structured import ObjectAccumulator
from streamwise.errors import ConfigurationError, StructuredOutputError
from streamwise.testing import ScriptedModel
from tests.support import collect, types


class Weather(BaseModel):
    city: str
    temp: int


def test_accumulator_yields_growing_partials_and_validates() -> None:
    acc = ObjectAccumulator(Weather)
    partials = [
        acc.feed(d) for d in ['```json\n{"ci', 'ty": "Pa', 'ris", ', '"temp": 2', "1}\n```"]
    ]
    assert partials == [{}, {"city": "Pa"}, {"city": "Paris"}, {"city": "Paris", "temp": 2},
                        {"city": "Paris", "temp": 21}]  # fmt: skip
    assert acc.finish("r") == Weather(city="Paris", temp=21)
    acc.reset()
    acc.feed('{"city": 3}')
    with pytest.raises(
        StructuredOutputError, match="Weather: city: Input should be a valid string"
    ):
        acc.finish("r")


async def test_stream_with_output_emits_object_chunks_then_object_result() -> None:
    model = ScriptedModel([{"text": ['{"city": ', '"Oslo", ', '"temp": ', "-3}"]}])
    out = Agent("a", model=model, instructions="Be exact.").stream("weather?", output=Weather)
    chunks = await collect(out)
    assert types(chunks)[-3:] == ["step-finish", "object-result", "finish"]
    objects = [c["object"] for c in chunks if c["type"] == "object"]
    assert objects[-1] == {"city": "Oslo", "temp": -3}
    assert set(chunks[-2]) == {"type", "runId", "from", "object"}
    assert chunks[-2]["object"] == {"city": "Oslo", "temp": -3}
    assert await out.object == Weather(city="Oslo", temp=-3)
    assert [o async for o in out.object_stream] == objects
    system = model.calls[0]["messages"][0]["content"]
    assert system.startswith("Be exact.\n\nAnswer with one JSON object")
    assert model.calls[0]["options"]["responseFormat"]["schema"]["title"] == "Weather"


async def test_output_that_does_not_fit_ends_with_error() -> None:
    out = Agent("a", model=ScriptedModel([{"text": "sunny, about 20"}])).stream("x", output=Weather)
    chunks = await collect(out)
    assert chunks[-1]["type"] == "error"
    with pytest.raises(StructuredOutputError):
        await out.object


async def test_generate_with_output_and_bad_output_argument() -> None:
    agent = Agent("a", model=ScriptedModel([{"text": '{"city": "Rome", "temp": 30}'}]))
    result = await agent.generate("x", output=Weather)
    assert result.object == Weather(city="Rome", temp=30)
    with pytest.raises(ConfigurationError, match="pydantic model class"):
        agent.stream("x", output=dict)  # type: ignore[arg-type]
