"""The demo app: a research agent whose tool streams a nested writer agent and reports progress.

Runs without any API key through the scripted model. With ``OPENAI_API_KEY`` (or
``OPENAI_BASE_URL`` for any OpenAI-compatible server) or ``ANTHROPIC_API_KEY`` set, the same
agents use the real provider (``STREAMWISE_MODEL`` picks the model).

    streamwise run examples.app:app "What makes streaming UIs feel fast?"
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, Field

from streamwise import Agent, LanguageModel, Streamwise, ToolContext, create_tool
from streamwise.testing import ScriptedModel


class ResearchInput(BaseModel):
    """Arguments of the research tool."""

    topic: str = Field(description="What to research.")


class ResearchOutput(BaseModel):
    """What the research tool returns to the model."""

    topic: str
    notes: str


def _scripted_writer() -> ScriptedModel:
    def turn(messages: list[Any]) -> Any:
        topic = str(messages[-1]["content"]).removeprefix("Write three short notes on ")
        return {
            "text": f"1. {topic} arrives token by token, so users read while it is written. "
            "2. Tools report progress, so long waits are never silent. "
            "3. Nested agents stream through their parent, so nothing is hidden.",
            "chunk_size": 6,
            "delay": 0.01,
            "usage": {"inputTokens": 42, "outputTokens": 38},
        }

    return ScriptedModel(turn, model_id="scripted-writer")


def _scripted_researcher() -> ScriptedModel:
    def turn(messages: list[Any]) -> Any:
        if messages[-1]["role"] == "tool":
            return {
                "text": "Here is what I found: streaming shows work as it happens, progress "
                "keeps users oriented, and nested runs stay visible under their tool.",
                "chunk_size": 5,
                "delay": 0.01,
                "usage": {"inputTokens": 120, "outputTokens": 31},
            }
        question = str(messages[-1]["content"])
        return {
            "reasoning": "I should research this before answering.",
            "tool_calls": [{"name": "research", "args": {"topic": question[:60]}}],
            "delay": 0.05,
            "usage": {"inputTokens": 80, "outputTokens": 12},
        }

    return ScriptedModel(turn, model_id="scripted-researcher")


def pick_model(scripted: LanguageModel) -> str | LanguageModel:
    """A real provider when a key or base URL is set, else the scripted model."""
    if os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"):
        return "openai/" + os.environ.get("STREAMWISE_MODEL", "gpt-4.1-mini")
    if os.environ.get("ANTHROPIC_API_KEY"):
        return "anthropic/" + os.environ.get("STREAMWISE_MODEL", "claude-sonnet-4-5")
    return scripted


async def research(inp: ResearchInput, ctx: ToolContext) -> ResearchOutput:
    """Researches a topic by streaming the writer agent, reporting progress as it goes."""
    await ctx.writer.custom(
        {
            "type": "data-progress",
            "data": {"step": "asking the writer", "pct": 10},
            "transient": True,
        }
    )
    writer = ctx.app.get_agent("writer")
    out = writer.stream(f"Write three short notes on {inp.topic}")
    await out.pipe_to(ctx.writer)
    await ctx.writer.write({"status": "notes written"})
    await ctx.writer.custom(
        {"type": "data-progress", "data": {"step": "done", "pct": 100}, "transient": True}
    )
    return ResearchOutput(topic=inp.topic, notes=await out.text)


research_tool = create_tool(
    id="research",
    description="Research a topic; returns short notes.",
    input_schema=ResearchInput,
    output_schema=ResearchOutput,
    execute=research,
)

writer = Agent(
    "writer",
    instructions="Write three short, numbered notes on the topic.",
    model=pick_model(_scripted_writer()),
)

research_agent = Agent(
    "research",
    name="Research agent",
    instructions="Use the research tool, then answer in two sentences.",
    model=pick_model(_scripted_researcher()),
    tools=[research_tool],
)

app = Streamwise(agents=[research_agent, writer])
