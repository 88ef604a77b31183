"""Stored messages → AI SDK UIMessages, checked by the real ``ai`` package's validateUIMessages."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from streamwise import Agent, Streamwise, ToolContext, create_tool
from streamwise.compat import to_ai_sdk_messages, to_ai_sdk_parts
from streamwise.models import ModelPart, ModelRequest
from streamwise.storage import Store

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = ROOT / "tests" / "js" / "validate_messages.mjs"


def validate(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """Run validateUIMessages from the installed ``ai`` package (scripts/setup_node.sh)."""
    node = shutil.which("node")
    assert node is not None, "node is needed: install Node.js 20+ and run scripts/setup.sh"
    assert (ROOT / "node_modules" / "ai").is_dir(), "run scripts/setup_node.sh (npm ci)"
    proc = subprocess.run(
        [node, str(VALIDATOR)],
        input=json.dumps(messages).encode(),
        capture_output=True,
        cwd=ROOT,
        timeout=30,
        check=False,
    )
    result: dict[str, Any] = json.loads(proc.stdout or b"{}")
    assert (proc.returncode == 0) == bool(result.get("ok")), proc.stderr.decode()
    return result


class Q(BaseModel):
    q: str


class RichModel:
    """A model whose answer has every kind of part: reasoning, sources, a file, tool calls."""

    provider = "test"
    model_id = "rich"

    def __init__(self) -> None:
        self.turn = 0

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelPart]:
        self.turn += 1
        if self.turn == 1:
            yield {"type": "reasoning-start", "id": "r"}
            yield {"type": "reasoning-delta", "id": "r", "delta": "Let me look."}
            yield {"type": "reasoning-end", "id": "r"}
            for i, name in enumerate(["lookup", "broken"]):
                yield {
                    "type": "tool-call",
                    "toolCallId": f"k{i}",
                    "toolName": name,
                    "input": '{"q": "x"}',
                }
            yield {
                "type": "finish",
                "finishReason": "tool-calls",
                "usage": {"inputTokens": 1, "outputTokens": 1},
            }
            return
        yield {
            "type": "source",
            "id": "s1",
            "sourceType": "url",
            "url": "https://example.com/a",
            "title": "A",
        }
        yield {
            "type": "source",
            "id": "s2",
            "sourceType": "document",
            "title": "Doc",
            "mimeType": "application/pdf",
            "filename": "d.pdf",
        }
        yield {"type": "file", "data": "aGVsbG8=", "mimeType": "text/plain"}
        yield {"type": "text-start", "id": "t"}
        yield {"type": "text-delta", "id": "t", "delta": "Here it is."}
        yield {"type": "text-end", "id": "t"}
        yield {
            "type": "finish",
            "finishReason": "stop",
            "usage": {"inputTokens": 1, "outputTokens": 1},
        }


async def test_messages_reload_of_a_stored_conversation_passes_validate_ui_messages() -> None:
    async def lookup(inp: Q, ctx: ToolContext) -> dict[str, str]:
        await ctx.writer.custom({"type": "data-card", "data": {"q": inp.q}, "id": "c1"})
        await ctx.writer.custom({"type": "data-progress", "data": 50, "transient": True})
        return {"found": inp.q}

    async def broken(inp: Q, ctx: ToolContext) -> str:
        raise RuntimeError("no luck")

    tools = [create_tool("lookup", "d", Q, lookup), create_tool("broken", "d", Q, broken)]
    agent = Agent("a", model=RichModel(), tools=tools)
    store = Store("sqlite://:memory:")
    async with Streamwise(agents=[agent], storage=store):
        await agent.stream("find x", memory={"thread": "t"}).text
        stored = await store.list_messages("t")
    await store.close()

    ui = to_ai_sdk_messages(stored)
    assert [m["role"] for m in ui] == ["user", "assistant"]
    assert ui[0] == {
        "id": stored[0]["id"],
        "role": "user",
        "parts": [{"type": "text", "text": "find x", "state": "done"}],
    }
    parts = ui[1]["parts"]
    assert [p["type"] for p in parts] == [
        "step-start", "reasoning", "tool-lookup", "tool-broken", "data-card",
        "step-start", "source-url", "source-document", "file", "text",
    ]  # fmt: skip
    assert parts[2] == {
        "type": "tool-lookup", "toolCallId": "k0", "state": "output-available",
        "input": {"q": "x"}, "output": {"found": "x"},
    }  # fmt: skip
    assert parts[3]["state"] == "output-error"
    assert "no luck" in parts[3]["errorText"]
    assert parts[8] == {
        "type": "file",
        "mediaType": "text/plain",
        "url": "data:text/plain;base64,aGVsbG8=",
    }

    result = validate(ui)
    assert result["ok"], result.get("error")
    assert [m["id"] for m in result["messages"]] == [m["id"] for m in ui]
    assert result["messages"][1]["parts"][2]["output"] == {"found": "x"}


async def test_messages_partial_answer_reloads_as_valid_ui_messages() -> None:
    stored: list[dict[str, Any]] = [
        {"id": "u1", "role": "user", "content": [{"type": "text", "text": "q"}]},
        {
            "id": "a1",
            "role": "assistant",
            "content": [
                {"type": "step-start"},
                {"type": "text", "text": "half"},
                {
                    "type": "tool-invocation",
                    "toolInvocation": {
                        "state": "call",
                        "toolCallId": "k",
                        "toolName": "slow",
                        "args": {"n": 1},
                    },
                },
            ],
            "metadata": {"status": "canceled", "partial": True},
        },
    ]
    ui = to_ai_sdk_messages(stored)
    assert ui[1]["parts"][2] == {
        "type": "tool-slow", "toolCallId": "k", "input": {"n": 1}, "state": "input-available",
    }  # fmt: skip
    assert ui[1]["metadata"] == {"status": "canceled", "partial": True}
    assert validate(ui)["ok"]


def test_messages_validator_rejects_what_is_not_a_ui_message() -> None:
    # A stored part is not a UI part: what the converter exists for.
    stored_part = {"type": "source", "source": {"id": "s", "sourceType": "url", "url": "u"}}
    result = validate([{"id": "x", "role": "user", "parts": [stored_part]}])
    assert result["ok"] is False
    assert "Invalid UI message part type" in result["error"]


def test_messages_skips_tool_role_and_empty_user_messages() -> None:
    ui = to_ai_sdk_messages([
        {"id": "1", "role": "tool", "content": [{"type": "text", "text": "x"}]},
        {"id": "2", "role": "user", "content": []},
        {"id": "3", "role": "user", "content": "plain"},
        {"id": "4", "role": "assistant", "content": []},
    ])  # fmt: skip
    assert ui == [
        {"id": "3", "role": "user", "parts": [{"type": "text", "text": "plain", "state": "done"}]},
        {"id": "4", "role": "assistant", "parts": []},
    ]


def test_messages_parts_mapping_of_each_kind() -> None:
    assert to_ai_sdk_parts([
        {"type": "reasoning", "text": "r"},
        {"type": "data-x", "data": [1], "id": 7},
        {"type": "source", "source": {"id": "s", "sourceType": "url", "url": "u"}},
        {"type": "source", "source": {"id": "s"}},
        {"type": "file", "mimeType": "image/png", "data": "https://x/y.png"},
        {"type": "unknown-thing"},
        {"type": "tool-invocation", "isError": True, "toolInvocation": {
            "state": "result", "toolCallId": "k", "toolName": "t", "args": {}, "result": {"error": "bad"}}},
    ]) == [
        {"type": "reasoning", "text": "r", "state": "done"},
        {"type": "data-x", "data": [1], "id": "7"},
        {"type": "source-url", "sourceId": "s", "url": "u"},
        {"type": "file", "mediaType": "image/png", "url": "https://x/y.png"},
        {"type": "tool-t", "toolCallId": "k", "input": {}, "state": "output-error", "errorText": "bad"},
    ]  # fmt: skip
