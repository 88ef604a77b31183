"""An ended run is freed by reference counting as soon as nobody holds it.

A run that only the cyclic collector could free keeps every chunk it holds until a full
collection, and those full collections are what made steady-state streaming slow
(bench/README.md, "Garbage collection in steady state"). (A failed run is the exception: its
error's traceback holds the frames that ran it, which the collector frees.)
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from pydantic import BaseModel

from streamwise import Agent, RunOutput, ToolContext, create_tool
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

    def script(messages: list[Any]) -> Any:
        if messages[-1]["role"] == "tool":
            return {"text": "done"}
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
    [(plain, read), (with_tool, read), (plain, cancel)],
    ids=["plain", "tool-with-nested-run", "cancelled"],
)
async def test_ended_run_is_freed_without_the_collector(
    start: Callable[[], RunOutput], finish: Callable[[RunOutput], Awaitable[None]]
) -> None:
    with collector_off():
        out = start()
        await finish(out)
        assert out.done
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
