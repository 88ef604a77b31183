"""The agent stream against a real Mastra capture (tests/fixtures/reference-traces).

The capture: ``researchAgent`` calls ``researchTool``, which pipes ``helperAgent``'s stream into
its writer, then answers. The same scenario here must give the same chunk types in the same
order, with the same envelope and the payload keys the clients read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel

from streamwise import Agent, Streamwise, ToolContext, create_tool
from streamwise.testing import ScriptedModel
from tests.support import collect

TRACES = Path(__file__).parents[1] / "fixtures" / "reference-traces"


def mastra_chunks() -> list[dict[str, Any]]:
    raw = (TRACES / "agent-stream.raw").read_bytes()
    events = [line[6:] for line in raw.split(b"\n") if line.startswith(b"data: ")]
    assert events[-1] == b"[DONE]"
    return [orjson.loads(e) for e in events[:-1]]


def shape(chunk: dict[str, Any]) -> tuple[Any, ...]:
    """Type, envelope keys, and the nested chunk's shape for tool-output."""
    inner = ()
    if chunk["type"] == "tool-output":
        inner = shape(chunk["payload"]["output"])
    return (chunk["type"], chunk["from"], *sorted(chunk), inner)


class Topic(BaseModel):
    topic: str


async def our_chunks() -> list[dict[str, Any]]:
    async def research(inp: Topic, ctx: ToolContext) -> dict[str, str]:
        out = ctx.app.get_agent("helperAgent").stream(f"research {inp.topic}")
        await out.pipe_to(ctx.writer)
        return {"topic": inp.topic, "summary": await out.text}

    helper = Agent(
        "helperAgent",
        model=ScriptedModel(
            [{"text": ["sub ", "sub ", "sub "], "usage": {"inputTokens": 5, "outputTokens": 3}}]
        ),
    )
    model = ScriptedModel([
        {"tool_calls": [{"name": "researchTool", "args": {"topic": "streams"}, "id": "call-1"}],
         "usage": {"inputTokens": 5, "outputTokens": 3}},
        {"text": ["done ", "done ", "done "], "usage": {"inputTokens": 5, "outputTokens": 3}},
    ])  # fmt: skip
    tool = create_tool("researchTool", "Looks something up", Topic, research)
    agent = Agent("researchAgent", model=model, tools=[tool])
    Streamwise(agents=[agent, helper])
    return await collect(agent.stream("hi"))


async def test_agent_stream_matches_mastra_types_order_and_envelopes() -> None:
    theirs, ours = mastra_chunks(), await our_chunks()
    assert [shape(c) for c in ours] == [shape(c) for c in theirs]


# Payload keys that are Mastra internals (its step list, message lists, raw usage, model
# metadata); everything else Mastra sends, we send too.
INTERNAL = {"rawReason", "processorRetryCount", "messages", "steps", "modelMetadata", "request",
            "raw", "cacheCreationInputTokens", "type"}  # fmt: skip


def paths(value: Any, depth: int = 0) -> set[str]:
    if not isinstance(value, dict) or depth == 3:
        return set()
    found = set()
    for key, inner in value.items():
        if key in INTERNAL:
            continue
        found.add(key)
        if not (key == "output" and isinstance(inner, dict) and "runId" in inner):
            found |= {f"{key}.{p}" for p in paths(inner, depth + 1)}
    return found


async def test_agent_stream_payload_keys_cover_what_mastra_sends() -> None:
    theirs, ours = mastra_chunks(), await our_chunks()
    for mine, ref in zip(ours, theirs, strict=True):
        missing = paths(ref["payload"]) - paths(mine["payload"])
        assert not missing, (ref["type"], missing)


async def test_usage_total_adds_the_sub_agent_that_mastra_misses() -> None:
    theirs, ours = mastra_chunks(), await our_chunks()
    helper_usage = 8  # the helper's one step: 5 in + 3 out, in both captures
    assert theirs[-1]["payload"]["output"]["usage"]["totalTokens"] == 16  # mastra#15567
    assert ours[-1]["payload"]["output"]["usage"]["totalTokens"] == 16 + helper_usage
