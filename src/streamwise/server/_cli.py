"""``streamwise serve MODULE:APP`` and ``streamwise dev``: run the server with uvicorn."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import uvicorn

from ..app import Streamwise
from ._app import create_asgi_app

__all__ = ("add_dev_command", "add_serve_command", "demo_app", "load_target", "reload_factory")

_TARGET_ENV = "STREAMWISE_SERVE_TARGET"
DEFAULT_PORT = 4111  # Mastra's default, so a client's baseUrl carries over


def load_target(target: str) -> Any:
    """The ASGI app for ``module:attr`` (or ``path/to/file.py:attr``).

    ``attr`` may be a :class:`Streamwise` app (served with :func:`create_asgi_app`) or any ASGI
    app; it defaults to ``app``.

    Raises:
        SystemExit: the module or attribute cannot be found (the message says which).
    """
    module_name, _, attr = target.partition(":")
    attr = attr or "app"
    if module_name.endswith(".py"):
        path = Path(module_name).resolve()
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None or not path.exists():
            raise SystemExit(f"streamwise: no such file {module_name!r}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
    else:
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            raise SystemExit(f"streamwise: cannot import {module_name!r}: {exc}") from None
    value = getattr(module, attr, None)
    if value is None:
        raise SystemExit(f"streamwise: {module_name!r} has no attribute {attr!r}")
    if isinstance(value, Streamwise):
        return create_asgi_app(value)
    return value


def reload_factory() -> Any:
    """The app named by ``$STREAMWISE_SERVE_TARGET`` (uvicorn's ``--reload`` needs a factory)."""
    return load_target(os.environ[_TARGET_ENV])


def _run(target: str, host: str, port: int, reload: bool) -> int:
    if reload:
        os.environ[_TARGET_ENV] = target
        uvicorn.run(
            "streamwise.server._cli:reload_factory",
            factory=True,
            host=host,
            port=port,
            reload=True,
            reload_dirs=[os.getcwd()],
            server_header=False,
        )
    else:
        uvicorn.run(load_target(target), host=host, port=port, server_header=False)
    return 0


def _gc_switch(args: argparse.Namespace) -> None:
    # Through the environment, so that ServerSettings.from_env() sees it in uvicorn's reload
    # child process too.
    if args.no_gc_tuning:
        os.environ["STREAMWISE_GC_TUNING"] = "0"


def _serve(args: argparse.Namespace) -> int:
    _gc_switch(args)
    return _run(args.target, args.host, args.port, args.reload)


def demo_app() -> Streamwise:
    """A small app of scripted agents, served by ``streamwise dev`` when there is no example."""
    from ..agent import Agent
    from ..models import ScriptedModel

    def echo(messages: list[Any]) -> Any:
        last = messages[-1].get("content") if messages else ""
        text = last if isinstance(last, str) else "hello"
        return {"text": f"You said: {text}", "usage": {"inputTokens": 5, "outputTokens": 5}}

    return Streamwise(
        agents=[
            Agent("echo", instructions="Repeat what the user says.",
                  model=ScriptedModel(echo, model_id="echo"),
                  description="A scripted agent that echoes the last message."),
        ]
    )  # fmt: skip


def _dev(args: argparse.Namespace) -> int:
    _gc_switch(args)
    example = Path(args.example)
    if example.exists():
        return _run(f"{example}:app", args.host, args.port, args.reload)
    print(f"streamwise dev: {example} not found; serving the built-in demo app", file=sys.stderr)
    uvicorn.run(create_asgi_app(demo_app()), host=args.host, port=args.port, server_header=False)
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--reload", action="store_true", help="restart when a file changes")
    p.add_argument(
        "--no-gc-tuning",
        action="store_true",
        help="keep CPython's garbage collector settings (default: streamwise.tune_gc() at "
        "start-up; also STREAMWISE_GC_TUNING=0)",
    )


def add_serve_command(subparsers: Any) -> None:
    """Add ``streamwise serve MODULE:APP [--host --port --reload]``."""
    p = subparsers.add_parser("serve", help="serve a Streamwise app over HTTP")
    p.add_argument("target", metavar="MODULE:APP", help="e.g. myproject.app:app or app.py:app")
    _common(p)
    p.set_defaults(handler=_serve)


def add_dev_command(subparsers: Any) -> None:
    """Add ``streamwise dev``: serve ``examples/app.py`` (or a built-in demo app)."""
    p = subparsers.add_parser("dev", help="serve examples/app.py, or a built-in demo app")
    p.add_argument("--example", default="examples/app.py", help="file exposing `app`")
    _common(p)
    p.set_defaults(handler=_dev)
