"""The ``streamwise`` command: ``streamwise run MODULE:AGENT "prompt"`` renders a live run."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
from typing import Any

from rich.console import Console
from rich.text import Text

from ._render import StreamRenderer
from .agent import Agent
from .app import Streamwise
from .server._cli import add_dev_command, add_serve_command

__all__ = ("load_object", "main")


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


def _run(args: argparse.Namespace) -> int:
    agent = _pick_agent(load_object(args.target), args.agent)
    console = Console(highlight=False)
    try:
        return asyncio.run(run_and_render(agent, args.prompt, console, max_steps=args.max_steps))
    except KeyboardInterrupt:
        console.print("\n[yellow]cancelled[/yellow]")
        return 130


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``streamwise`` command."""
    parser = argparse.ArgumentParser(prog="streamwise", description="streamwise command line")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="stream one agent run in the terminal")
    run.add_argument("target", help="MODULE:AGENT (an Agent, or a Streamwise app)")
    run.add_argument("prompt", help="what to ask")
    run.add_argument("--agent", help="agent id, when TARGET is an app")
    run.add_argument("--max-steps", type=int, default=None)
    run.set_defaults(handler=_run)
    add_serve_command(sub)
    add_dev_command(sub)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
