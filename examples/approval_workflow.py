"""An approval workflow that streams: an agent drafts, two checks run in parallel, a human approves.

Runs without any API key through the scripted model (``OPENAI_API_KEY`` / ``ANTHROPIC_API_KEY``
switch the drafting agent to a real provider). It prints every event of the first stream, which
ends ``suspended`` at the approval step, then resumes the run with an approval and prints the
events of the resume stream::

    python examples/approval_workflow.py
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

if __package__ in (None, ""):  # run as a script: make ``examples`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamwise import Agent, Chunk, LanguageModel, Streamwise, create_step, create_workflow
from streamwise.testing import ScriptedModel
from streamwise.workflows import FlowContext, StepContext


class Topic(BaseModel):
    """The workflow's input."""

    topic: str


class Draft(BaseModel):
    """The drafting agent's output (a step made from an agent outputs ``{text}``)."""

    text: str


class WordCount(BaseModel):
    """Output of the word-count check."""

    words: int


class Tone(BaseModel):
    """Output of the tone check."""

    tone: str


class Review(BaseModel):
    """What the approval step is given: the draft and both checks."""

    text: str
    words: int
    tone: str


class Question(BaseModel):
    """What the run asks the human when it suspends."""

    question: str
    draft: str


class Decision(BaseModel):
    """What the human answers (``resume_data``)."""

    approved: bool
    reviewer: str


class Published(BaseModel):
    """The workflow's output."""

    text: str
    approved: bool
    reviewer: str


def pick_model() -> str | LanguageModel:
    """A real provider when a key is set, else a scripted model that streams a draft."""
    if os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"):
        return "openai/" + os.environ.get("STREAMWISE_MODEL", "gpt-4.1-mini")
    if os.environ.get("ANTHROPIC_API_KEY"):
        return "anthropic/" + os.environ.get("STREAMWISE_MODEL", "claude-sonnet-4-5")
    return ScriptedModel(
        lambda messages: {
            "text": "Streaming shows the work as it happens, so nobody stares at a spinner.",
            "chunk_size": 12,
            "delay": 0.02,
            "usage": {"inputTokens": 24, "outputTokens": 15},
        },
        model_id="scripted-drafter",
    )


drafter = Agent(
    "drafter",
    instructions="Write one friendly sentence about the topic.",
    model=pick_model(),
)


async def count_words(ctx: StepContext) -> WordCount:
    """Counts the draft's words."""
    return WordCount(words=len(ctx.input_data.text.split()))


async def check_tone(ctx: StepContext) -> Tone:
    """A toy tone check that reports its progress as a transient data chunk."""
    await ctx.writer.custom({"type": "data-check", "data": {"check": "tone"}, "transient": True})
    return Tone(tone="friendly" if "!" not in ctx.input_data.text else "excited")


async def approve(ctx: StepContext) -> Published:
    """Suspends for a human decision; runs again with ``ctx.resume_data`` once resumed."""
    if ctx.resume_data is None:
        await ctx.suspend(Question(question="Publish this draft?", draft=ctx.input_data.text))
    decision: Decision = ctx.resume_data
    await ctx.writer.write({"decided_by": decision.reviewer})
    return Published(
        text=ctx.input_data.text, approved=decision.approved, reviewer=decision.reviewer
    )


def _prompt(ctx: FlowContext) -> dict[str, str]:
    return {"prompt": f"Write one sentence about {ctx.input_data['topic']}."}


def _review(ctx: FlowContext) -> dict[str, Any]:
    checks = ctx.input_data
    draft = ctx.get_step_result("drafter")["text"]
    return {"text": draft, "words": checks["word-count"]["words"], "tone": checks["tone"]["tone"]}


approval_workflow = (
    create_workflow("approval-demo", Topic, Published)
    .map(_prompt)
    .then(create_step(drafter))
    .parallel(
        [
            create_step("word-count", Draft, WordCount, count_words),
            create_step("tone", Draft, Tone, check_tone),
        ]
    )
    .map(_review)
    .then(
        create_step(
            "approve",
            Review,
            Published,
            approve,
            resume_schema=Decision,
            suspend_schema=Question,
        )
    )
    .commit()
)

app = Streamwise(agents=[drafter], workflows=[approval_workflow])


def describe(chunk: Chunk) -> str | None:
    """One line for an event (None for the agent's text deltas, printed inline)."""
    kind = chunk["type"]
    payload = chunk.get("payload") or {}
    if kind == "workflow-step-output":
        inner = payload["output"]
        if isinstance(inner, dict) and inner.get("type") == "text-delta":
            print(inner["payload"]["text"], end="", flush=True)
            return None
        if isinstance(inner, dict) and "type" in inner:
            return f"    {payload['stepName']} ▸ {inner['type']}"
        return f"    {payload['stepName']} ▸ {inner}"
    if kind.startswith("data-"):
        return f"  {kind} {chunk.get('data')}"
    if kind == "workflow-step-result":
        detail = payload.get("output", payload.get("error"))
        return f"  {kind} {payload['id']} {payload['status']}: {detail}"
    if kind == "workflow-step-suspended":
        return f"  {kind} {payload['id']}: {payload['suspendPayload']}"
    if kind == "workflow-finish":
        return f"{kind} {payload['workflowStatus']} usage={payload['output']['usage']}"
    if "id" in payload:
        return f"  {kind} {payload['id']}"
    return f"{kind} {payload}"


async def show(out: Any) -> None:
    """Print every event of a stream as it arrives."""
    inline = False
    async for chunk in out:
        line = describe(chunk)
        if line is None:
            inline = True
            continue
        if inline:
            print()
            inline = False
        print(line)


async def main() -> None:
    """Stream until the approval, then resume with an approval."""
    run = await approval_workflow.create_run()
    first = run.stream({"topic": "streaming UIs"})
    await show(first)
    print("status:", await first.status, "| waiting at:", await first.suspended)
    print()
    second = run.resume_stream(step="approve", resume_data={"approved": True, "reviewer": "you"})
    await show(second)
    print("status:", await second.status)
    print("result:", await second.result)


if __name__ == "__main__":
    asyncio.run(main())
