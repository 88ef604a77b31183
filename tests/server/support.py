"""A demo app for the server tests, and a real uvicorn server on a loopback port."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pydantic
import uvicorn

from streamwise import Agent, Streamwise, ToolContext, create_tool
from streamwise.server import ServerSettings, create_asgi_app
from streamwise.testing import ScriptedModel, Turn


class Topic(pydantic.BaseModel):
    topic: str


def _helper_model(words: int, delay: float) -> ScriptedModel:
    def turn(messages: list[Any]) -> Turn:
        t: Turn = {"text": ["sub "] * words, "usage": {"inputTokens": 5, "outputTokens": 3}}
        if delay:
            t["delay"] = delay
        return t

    return ScriptedModel(turn, model_id="mock-text")


def _research_model() -> ScriptedModel:
    def turn(messages: list[Any]) -> Turn:
        if messages[-1]["role"] == "tool":
            return {
                "text": ["done ", "done ", "done "],
                "usage": {"inputTokens": 5, "outputTokens": 3},
            }
        return {
            "tool_calls": [{"name": "researchTool", "args": {"topic": "streams"}}],
            "usage": {"inputTokens": 5, "outputTokens": 3},
        }

    return ScriptedModel(turn, model_id="mock-tool-caller")


async def _research(inp: Topic, ctx: ToolContext) -> dict[str, str]:
    await ctx.writer.custom({"type": "data-progress", "data": {"pct": 50}, "transient": True})
    helper = ctx.app.get_agent("helperAgent")
    out = helper.stream(f"research {inp.topic}")
    await out.pipe_to(ctx.writer)
    return {"topic": inp.topic, "summary": await out.text}


def _failing_turn(messages: list[Any]) -> Turn:
    return {"text": "partial ", "error": "model exploded"}


def demo_app(
    *, slow_words: int = 50, slow_delay: float = 0.01, long_words: int = 10_000
) -> Streamwise:
    """Agents: plain, research (nested helper via a tool), slow, failing, long."""
    research_tool = create_tool(
        "researchTool",
        "Looks something up by asking a helper agent (streams its output).",
        Topic,
        _research,
    )

    def plain_turn(messages: list[Any]) -> Turn:
        return {"text": "hello from streamwise", "usage": {"inputTokens": 4, "outputTokens": 3}}

    return Streamwise(
        agents=[
            Agent("plainAgent", instructions="You are a test agent.",
                  model=ScriptedModel(plain_turn, model_id="mock-text")),
            Agent("researchAgent", instructions="Use researchTool, then answer.",
                  model=_research_model(), tools=[research_tool]),
            Agent("helperAgent", model=_helper_model(3, 0.0)),
            Agent("slowAgent", model=_helper_model(slow_words, slow_delay)),
            Agent("longAgent", model=_helper_model(long_words, 0.0)),
            Agent("failingAgent", model=ScriptedModel(_failing_turn)),
        ]
    )  # fmt: skip


@contextmanager
def running_server(
    app: Streamwise | None = None,
    settings: ServerSettings | None = None,
    *,
    lifespan: bool = False,
) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a free loopback port; yield the base URL.

    The listening socket is bound before the thread starts, so clients can connect at once.
    With ``lifespan``, the app's shutdown runs in the server's own event loop (an app with
    storage closes its store there, where its connections live).
    """
    # gc_tuning off: a start-up must not freeze the collector of the test process.
    settings = settings or ServerSettings(heartbeat_interval=0, gc_tuning=False)
    asgi = create_asgi_app(app or demo_app(), settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        asgi,
        log_level="warning",
        lifespan="on" if lifespan else "off",
        timeout_graceful_shutdown=1,
        server_header=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
