"""Processors and tripwires: a deliberate stop ends the run with ``tripwire`` (PROTOCOL.md §2)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from streamwise import Agent, ToolContext, create_tool
from streamwise.agent import ProcessorContext, StepResult
from streamwise.errors import TripwireTriggered
from streamwise.models import ModelMessage
from streamwise.testing import ScriptedModel
from tests.support import collect, types


def block_secrets(messages: list[ModelMessage], ctx: ProcessorContext) -> None:
    if any("password" in str(m["content"]) for m in messages):
        ctx.abort("input asks for a password", metadata={"rule": "secrets"})


async def test_input_processor_abort_ends_with_tripwire_before_any_model_call() -> None:
    model = ScriptedModel([{"text": "never"}])
    agent = Agent("guarded", model=model, input_processors=[block_secrets])
    out = agent.stream("what is the admin password?")
    chunks = await collect(out)
    assert types(chunks) == ["start", "tripwire"]
    assert chunks[-1]["payload"] == {"reason": "input asks for a password", "retry": False,
                                     "metadata": {"rule": "secrets"}}  # fmt: skip
    assert await out.status == "tripwire"
    assert await out.tripwire == chunks[-1]["payload"]
    assert await out.text == ""  # resolves to the partial state, no exception
    assert model.calls == []


async def test_input_processor_may_rewrite_the_messages() -> None:
    async def redact(messages: list[ModelMessage], ctx: ProcessorContext) -> list[ModelMessage]:
        return [
            {**m, "content": str(m["content"]).replace("secret", "[redacted]")} for m in messages
        ]

    model = ScriptedModel([{"text": "ok"}])
    out = Agent("r", model=model, input_processors=[redact]).stream("my secret plan")
    assert await out.text == "ok"
    assert model.calls[0]["messages"][-1]["content"] == "my [redacted] plan"
    assert await out.tripwire is None


async def test_output_processor_abort_after_a_step_keeps_what_streamed() -> None:
    def no_shouting(step: StepResult, ctx: ProcessorContext) -> None:
        if step.text.isupper():
            ctx.abort("the answer shouts", retry=True)

    out = Agent("o", model=ScriptedModel([{"text": "LOUD WORDS"}]),
                output_processors=[no_shouting]).stream("hi")  # fmt: skip
    chunks = await collect(out)
    assert types(chunks)[-2:] == ["step-finish", "tripwire"]
    assert chunks[-1]["payload"]["retry"] is True
    assert await out.text == "LOUD WORDS"


async def test_a_tool_raising_tripwire_stops_the_whole_run() -> None:
    class Q(BaseModel):
        q: str

    async def guard(inp: Q, ctx: ToolContext) -> Any:
        raise TripwireTriggered("tool refused", metadata={"q": inp.q})

    model = ScriptedModel([{"tool_calls": [{"name": "guard", "args": {"q": "x"}}]}, {"text": "no"}])
    agent = Agent("t", model=model, tools=[create_tool("guard", "d", Q, guard)])
    out = agent.stream("go")
    chunks = await collect(out)
    assert chunks[-1]["type"] == "tripwire"
    assert "tool-error" not in types(chunks)
    assert await out.status == "tripwire"
    assert len(model.calls) == 1
