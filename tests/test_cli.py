"""The terminal renderer and ``streamwise run``."""

from __future__ import annotations

import pytest

from streamwise._render import StreamRenderer
from streamwise.cli import main


def test_renderer_indents_nested_runs_under_their_tool() -> None:
    r = StreamRenderer()
    inner = {
        "type": "text-delta",
        "runId": "child",
        "from": "AGENT",
        "payload": {"id": "t", "text": "deep"},
    }
    chunks = [
        {"type": "text-delta", "runId": "top", "from": "AGENT", "payload": {"id": "t", "text": "hi "}},
        {"type": "tool-call", "runId": "top", "from": "AGENT",
         "payload": {"toolCallId": "c", "toolName": "ask", "args": {"q": 1}}},
        {"type": "tool-output", "runId": "top", "from": "USER",
         "payload": {"output": {"type": "start", "runId": "child", "from": "AGENT",
                                "payload": {"id": "helper"}}, "toolCallId": "c", "toolName": "ask"}},
        {"type": "tool-output", "runId": "top", "from": "USER",
         "payload": {"output": inner, "toolCallId": "c", "toolName": "ask"}},
        {"type": "tool-output", "runId": "top", "from": "USER",
         "payload": {"output": {"type": "tool-output", "runId": "child", "from": "USER",
                                "payload": {"output": {**inner, "runId": "grandchild"},
                                            "toolCallId": "d", "toolName": "x"}},
                     "toolCallId": "c", "toolName": "ask"}},
        {"type": "finish", "runId": "top", "from": "AGENT",
         "payload": {"totalUsage": {"inputTokens": 3, "outputTokens": 4, "totalTokens": 7}}},
    ]  # fmt: skip
    text = "".join(seg for c in chunks for seg, _ in r.render(c))
    assert text == (
        'hi \n⚙ ask({"q":1})\n  ▶ helper\n  deep\n  │ deep\n'
        "usage: 3 in, 4 out, 7 total (every nested run included)\n\n"
    )


def test_cli_run_streams_the_example_app(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "examples.app:app", "streaming"]) == 0
    out = capsys.readouterr().out
    assert "⚙ research(" in out
    assert "  ▶ writer" in out
    assert "✓ research →" in out
    assert "usage: 242 in, 81 out, 323 total" in out


def test_cli_reports_bad_targets() -> None:
    with pytest.raises(SystemExit, match="MODULE:NAME"):
        main(["run", "examples.app", "x"])
    with pytest.raises(SystemExit, match="has no 'nope'"):
        main(["run", "examples.app:nope", "x"])


def test_cli_ask_streams_a_served_agent(capsys: pytest.CaptureFixture[str]) -> None:
    from examples.app import app

    from tests.server.support import running_server

    with running_server(app) as url:
        assert main(["ask", url, "research", "streaming"]) == 0
    out = capsys.readouterr().out
    assert "⚙ research(" in out
    assert "  ▶ writer" in out
    assert "usage: 242 in, 81 out, 323 total" in out


def test_cli_ask_reports_an_unknown_agent_and_no_server() -> None:
    from examples.app import app

    from tests.server.support import running_server

    with running_server(app) as url, pytest.raises(SystemExit, match="404"):
        main(["ask", url, "nobody", "hi"])
    with pytest.raises(SystemExit, match="nothing answers"):
        main(["ask", "http://127.0.0.1:9", "research", "hi", "--wait", "0"])


def test_cli_run_streams_a_workflow_until_it_suspends(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "examples.approval_workflow:approval_workflow", '{"topic": "x"}']) == 0
    out = capsys.readouterr().out
    assert "▶ drafter running" in out
    assert "■ word-count success → " in out
    assert "⏸ approve suspended: " in out
    assert "workflow suspended; usage: 24 in, 15 out, 39 total" in out
    with pytest.raises(SystemExit, match="JSON document"):
        main(["run", "examples.approval_workflow:approval_workflow", "not json"])
