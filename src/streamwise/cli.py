"""The ``streamwise`` command.

- ``streamwise run MODULE:AGENT "prompt"`` renders a live run in the terminal (a workflow:
  ``streamwise run MODULE:WORKFLOW '{"input": …}'``);
- ``streamwise ask URL AGENT "prompt"`` does the same for an agent served over HTTP;
- ``streamwise serve MODULE:APP`` / ``streamwise dev`` serve an app (``streamwise.server``).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import importlib
import os
import sys
import time
import urllib.parse
from typing import Any

import orjson
from rich.console import Console
from rich.text import Text

from ._render import StreamRenderer
from .agent import Agent
from .app import Streamwise
from .server._cli import add_dev_command, add_serve_command
from .workflows import Workflow

__all__ = ("ask_over_http", "load_object", "main")


def load_object(spec: str) -> Any:
    """The object named by ``module:attribute`` (the current directory is importable)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise SystemExit(f"expected MODULE:NAME (e.g. examples.app:research), got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SystemExit(f"cannot import {module_name!r}: {exc}") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise SystemExit(f"module {module_name!r} has no {attr!r}") from None


def _pick_agent(obj: Any, agent_id: str | None) -> Agent:
    if isinstance(obj, Agent):
        return obj
    if isinstance(obj, Streamwise):
        agents = obj.agents
        if agent_id:
            return obj.get_agent(agent_id)
        if agents:
            return next(iter(agents.values()))
        raise SystemExit("the app has no agents")
    raise SystemExit(f"expected an Agent or a Streamwise app, got {type(obj).__name__}")


async def run_and_render(
    agent: Agent, prompt: str, console: Console, *, max_steps: int | None
) -> int:
    """Stream one run of ``agent`` to the console; 0 when it finished, 1 otherwise."""
    renderer = StreamRenderer()
    out = agent.stream(prompt, max_steps=max_steps)
    try:
        async for chunk in out:
            for text, style in renderer.render(chunk):
                console.print(Text(text, style=style), end="", soft_wrap=True)
    except asyncio.CancelledError:
        out.cancel()
        raise
    status = await out.status
    return 0 if status == "success" else 1


async def run_workflow_and_render(workflow: Workflow, input_json: str, console: Console) -> int:
    """Stream one run of ``workflow`` (input: a JSON document) to the console."""
    try:
        input_data = orjson.loads(input_json)
    except orjson.JSONDecodeError as exc:
        raise SystemExit(f"a workflow's input is a JSON document: {exc}") from None
    renderer = StreamRenderer()
    run = await workflow.create_run()
    out = run.stream(input_data)
    try:
        async for chunk in out:
            for text, style in renderer.render(chunk):
                console.print(Text(text, style=style), end="", soft_wrap=True)
    except asyncio.CancelledError:
        out.cancel()
        raise
    status = await out.status
    return 0 if status in ("success", "suspended") else 1


def _run(args: argparse.Namespace) -> int:
    target = load_object(args.target)
    console = Console(highlight=False)
    try:
        if isinstance(target, Workflow):
            return asyncio.run(run_workflow_and_render(target, args.prompt, console))
        agent = _pick_agent(target, args.agent)
        return asyncio.run(run_and_render(agent, args.prompt, console, max_steps=args.max_steps))
    except KeyboardInterrupt:
        console.print("\n[yellow]cancelled[/yellow]")
        return 130


def ask_over_http(
    base_url: str, agent_id: str, prompt: str, console: Console, *, wait: float = 10.0
) -> int:
    """Stream one run of a served agent (``POST /api/agents/:id/stream``) to the console.

    Retries the connection for up to ``wait`` seconds (the server may still be starting).
    Returns 0 when the run finished, 1 otherwise.
    """
    url = urllib.parse.urlsplit(base_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise SystemExit(f"expected a base URL like http://127.0.0.1:4111, got {base_url!r}")
    conn_type = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    body = orjson.dumps({"messages": [{"role": "user", "content": prompt}]})
    path = f"{url.path.rstrip('/')}/api/agents/{urllib.parse.quote(agent_id)}/stream"
    headers = {"content-type": "application/json", "accept": "text/event-stream"}
    if os.environ.get("STREAMWISE_API_KEY"):
        headers["authorization"] = f"Bearer {os.environ['STREAMWISE_API_KEY']}"
    deadline = time.monotonic() + wait
    while True:
        conn = conn_type(url.hostname, url.port, timeout=300)
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            break
        except ConnectionRefusedError:
            conn.close()
            if time.monotonic() > deadline:
                raise SystemExit(f"nothing answers at {base_url}") from None
            time.sleep(0.1)
    try:
        if response.status != 200:
            raise SystemExit(f"{response.status} from {path}: {response.read().decode()[:300]}")
        renderer = StreamRenderer()
        final = None
        for raw in response:
            line = raw.rstrip(b"\r\n")
            if not line.startswith(b"data: ") or line == b"data: [DONE]":
                continue
            chunk = orjson.loads(line[6:])
            final = chunk.get("type")
            for text, style in renderer.render(chunk):
                console.print(Text(text, style=style), end="", soft_wrap=True)
        return 0 if final == "finish" else 1
    finally:
        conn.close()


def _ask(args: argparse.Namespace) -> int:
    console = Console(highlight=False)
    return ask_over_http(args.url, args.agent, args.prompt, console, wait=args.wait)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``streamwise`` command."""
    parser = argparse.ArgumentParser(prog="streamwise", description="streamwise command line")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="stream one agent or workflow run in the terminal")
    run.add_argument("target", help="MODULE:NAME (an Agent, a Streamwise app, or a Workflow)")
    run.add_argument("prompt", help="what to ask (a workflow: its input as JSON)")
    run.add_argument("--agent", help="agent id, when TARGET is an app")
    run.add_argument("--max-steps", type=int, default=None)
    run.set_defaults(handler=_run)
    ask = sub.add_parser("ask", help="stream one run of an agent served over HTTP")
    ask.add_argument("url", help="the server's base URL, e.g. http://127.0.0.1:4111")
    ask.add_argument("agent", help="agent id")
    ask.add_argument("prompt", help="what to ask")
    ask.add_argument("--wait", type=float, default=10.0, help="seconds to wait for the server")
    ask.set_defaults(handler=_ask)
    add_serve_command(sub)
    add_dev_command(sub)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
