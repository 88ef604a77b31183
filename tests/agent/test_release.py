"""An ended run is freed by reference counting as soon as nobody holds it.

A run that only the cyclic collector could free keeps every chunk it holds until a full
collection, and those full collections are what made steady-state streaming slow
(bench/README.md, "Garbage collection in steady state"). A failed run too: the frames in its
error's traceback are cleared once the run has ended (the traceback keeps its lines).
"""

from __future__ import annotations

import asyncio
import gc
import traceback
import weakref
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest
from pydantic import BaseModel

from streamwise import Agent, RunOutput, ToolContext, create_tool
from streamwise.agent import AgentOutput
from streamwise.errors import ModelError
from streamwise.testing import ScriptedModel
from tests.support import collect, until


class Q(BaseModel):
    q: str


@contextmanager
def collector_off() -> Iterator[None]:
    """No cyclic collection while the block runs: only reference counting frees objects."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def plain() -> RunOutput:
    return Agent("a", model=ScriptedModel([{"text": "a b c"}])).stream("hi")


def with_tool() -> RunOutput:
    async def ask(inp: Q, ctx: ToolContext) -> str:
        child = Agent("child", model=ScriptedModel([{"text": "x y"}]))
        nested = child.stream(inp.q)
        await nested.pipe_to(ctx.writer)
        return await nested.text

    return calling(ask, then={"text": "done"})


def failing() -> RunOutput:
    """A model error after some text: the run ends with status failed and its error."""
    return Agent("a", model=ScriptedModel([{"text": "a b", "error": "boom"}])).stream("hi")


def failing_tool() -> RunOutput:
    """A nested agent's run fails inside a tool (its error chained to the tool's), then the
    run that called the tool fails too."""

    async def ask(inp: Q, ctx: ToolContext) -> str:
        child = Agent("child", model=ScriptedModel([{"text": "x", "error": "inner"}]))
        try:
            return await child.stream(inp.q).text
        except Exception as exc:
            raise RuntimeError("the tool failed") from exc

    return calling(ask, then={"error": "after the tool"})


def calling(ask: Callable[[Q, ToolContext], Awaitable[str]], *, then: Any) -> RunOutput:
    """A run whose model calls the tool ``ask``, then plays the turn ``then``."""

    def script(messages: list[Any]) -> Any:
        if messages[-1]["role"] == "tool":
            return then
        return {"tool_calls": [{"name": "ask", "args": {"q": "go"}}]}

    tools = [create_tool("ask", "d", Q, ask)]
    return Agent("a", model=ScriptedModel(script), tools=tools).stream("hi")


async def read(out: RunOutput) -> None:
    await collect(out)


async def cancel(out: RunOutput) -> None:
    out.cancel()
    await out.wait()


@pytest.mark.parametrize(
    ("start", "finish"),
    [(plain, read), (with_tool, read), (plain, cancel), (failing, read), (failing_tool, read)],
    ids=["plain", "tool-with-nested-run", "cancelled", "failed", "failed-in-a-nested-run"],
)
async def test_ended_run_is_freed_without_the_collector(
    start: Callable[[], RunOutput], finish: Callable[[RunOutput], Awaitable[None]]
) -> None:
    with collector_off():
        out = start()
        await finish(out)
        assert out.done
        if start in (failing, failing_tool):
            assert await out.status == "failed"
        ref = weakref.ref(out)
        del out
        # Let the owner task's done callbacks run: they drop the task, the last holder.
        await until(lambda: ref() is None)


async def test_nested_run_knows_its_parent_while_the_parent_is_held() -> None:
    out = with_tool()
    await collect(out)
    (child,) = out.children
    assert child.parent is out
    assert out.parent is None


async def test_a_reader_that_raised_a_failed_runs_error_goes_on() -> None:
    """The frames cleared in a failed run's error are the run's own: a reader whose frame the
    error passed through (it raised it again) and that goes on is left running."""
    out = failing()
    assert isinstance(out, AgentOutput)

    async def reader() -> str:
        with suppress(ModelError):
            await out.text
        await until(lambda: out._task is None)  # the run's task is done: frames cleared
        await asyncio.sleep(0)
        return "went on"

    assert await asyncio.create_task(reader()) == "went on"
    error = await out.error
    assert isinstance(error, ModelError)
    # The traceback still names where the error was raised.
    assert "raise ModelError" in "".join(traceback.format_exception(error))
