"""``streamwise serve`` and ``streamwise dev`` start a real server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from streamwise.cli import main
from streamwise.server._cli import demo_app, load_target


@contextmanager
def serving(*args: str) -> Iterator[str]:
    """Run ``streamwise <args> --port 0``; yield its URL once uvicorn says where it listens."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamwise.cli", *args, "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            m = re.search(r"Uvicorn running on (http://\S+)", line)
            if m:
                yield m.group(1)
                break
        else:
            raise AssertionError("the server did not start")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()


def test_cli_serve_runs_the_named_app() -> None:
    with serving("serve", "tests.server.cli_target:app") as url:
        agents = httpx.get(f"{url}/api/agents", timeout=10).json()
        r = httpx.post(f"{url}/api/agents/plainAgent/generate", json={"messages": "hi"}, timeout=10)
    assert "researchAgent" in agents
    assert r.json()["text"] == "hello from streamwise"


def test_cli_dev_falls_back_to_the_demo_app() -> None:
    with serving("dev", "--example", "no/such/app.py") as url:
        r = httpx.post(f"{url}/api/agents/echo/generate", json={"messages": "ping"}, timeout=10)
    assert r.json()["text"] == "You said: ping"


def test_cli_load_target_errors_are_clear() -> None:
    with pytest.raises(SystemExit, match="cannot import 'no_such_module'"):
        load_target("no_such_module:app")
    with pytest.raises(SystemExit, match="has no attribute 'nope'"):
        load_target("tests.server.cli_target:nope")
    with pytest.raises(SystemExit, match="no such file"):
        load_target("missing.py:app")


def test_cli_without_command_prints_help() -> None:
    assert main([]) == 2
    assert demo_app().agents["echo"].id == "echo"
