"""AnthropicModel against recorded Messages API wire transcripts served on loopback.

The official ``anthropic`` SDK parses real ``event:`` / ``data:`` bytes
(``transcripts/anthropic_*.http``) from ``tests/models/wire_server.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from streamwise import Agent
from streamwise.errors import (
    ConfigurationError,
    ModelConnectionError,
    ModelError,
    ModelRateLimitError,
)
from streamwise.models import ModelPart, ModelRequest, resolve_model
from streamwise.models._anthropic_stream import anthropic_messages
from streamwise.models.anthropic import AnthropicModel
from tests.models.test_openai import TOOLS
from tests.models.wire_server import WireServer, load_transcript
from tests.support import collect, types

HI: ModelRequest = {"messages": [{"role": "user", "content": "hi"}], "tools": []}
MODEL = "claude-sonnet-4-6"


@pytest.fixture
async def model(server: WireServer) -> AsyncIterator[AnthropicModel]:
    m = AnthropicModel(MODEL, base_url=server.base_url, api_key="sk-ant-test", max_retries=1)
    yield m
    await m.client.close()


async def parts_of(model: AnthropicModel, request: ModelRequest = HI) -> list[ModelPart]:
    return [p async for p in model.stream(request)]


def no_timestamps(parts: list[ModelPart]) -> list[dict[str, Any]]:
    return [{k: v for k, v in p.items() if k != "timestamp"} for p in parts]


async def test_anthropic_text_maps_deltas_usage_and_metadata(
    server: WireServer, model: AnthropicModel
) -> None:
    server.queue(load_transcript("anthropic_text"))
    parts = await parts_of(model)
    tid = "msg_01XFDUDYJgAACzvnptvVoYEL:0"
    assert no_timestamps(parts) == [
        {"type": "response-metadata", "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "modelId": MODEL},
        {"type": "text-start", "id": tid},
        {"type": "text-delta", "id": tid, "delta": "Hello"},
        {"type": "text-delta", "id": tid, "delta": "! How can"},
        {"type": "text-delta", "id": tid, "delta": " I help you today?"},
        {"type": "text-end", "id": tid},
        {
            "type": "finish",
            "finishReason": "stop",
            # input_tokens (21) + cache reads (2048): cached tokens are part of the input
            "usage": {
                "inputTokens": 2069,
                "outputTokens": 12,
                "totalTokens": 2081,
                "cachedInputTokens": 2048,
            },
        },
    ]
    assert isinstance(parts[0]["timestamp"], str)


async def test_anthropic_thinking_becomes_reasoning_parts(
    server: WireServer, model: AnthropicModel
) -> None:
    server.queue(load_transcript("anthropic_thinking"))
    parts = await parts_of(model)
    assert [p["type"] for p in parts] == [
        "response-metadata",
        "reasoning-start", "reasoning-delta", "reasoning-delta", "reasoning-end",
        "text-start", "text-delta", "text-delta", "text-end",
        "finish",
    ]  # fmt: skip
    assert "".join(p["delta"] for p in parts if p["type"] == "reasoning-delta") == (
        "The user asks 9.11 vs 9.8. Compare decimals: 0.80 > 0.11."
    )
    assert parts[-1]["usage"] == {
        "inputTokens": 46,
        "outputTokens": 87,
        "totalTokens": 133,
        "cachedInputTokens": 0,
        "reasoningTokens": 64,
    }


async def test_anthropic_tool_use_streams_input_json(
    server: WireServer, model: AnthropicModel
) -> None:
    server.queue(load_transcript("anthropic_tool_use"))
    parts = await parts_of(model)
    tid = "toolu_01T1x1fJ34qAmk2tNTrN7Up6"
    assert parts[-7:] == [
        {"type": "tool-input-start", "id": tid, "toolName": "get_weather"},
        {"type": "tool-input-delta", "id": tid, "delta": '{"city'},
        {"type": "tool-input-delta", "id": tid, "delta": '": "Par'},
        {"type": "tool-input-delta", "id": tid, "delta": 'is"}'},
        {"type": "tool-input-end", "id": tid},
        {"type": "tool-call", "toolCallId": tid, "toolName": "get_weather", "input": '{"city": "Paris"}'},
        {
            "type": "finish",
            "finishReason": "tool-calls",
            "usage": {"inputTokens": 472, "outputTokens": 89, "totalTokens": 561, "cachedInputTokens": 0},
        },
    ]  # fmt: skip
    assert [p["type"] for p in parts[1:4]] == ["text-start", "text-delta", "text-end"]


async def test_anthropic_parallel_tool_use_blocks(
    server: WireServer, model: AnthropicModel
) -> None:
    server.queue(load_transcript("anthropic_parallel_tools"))
    parts = await parts_of(model)
    assert [(p["toolName"], p["input"]) for p in parts if p["type"] == "tool-call"] == [
        ("get_weather", '{"city": "Paris"}'),
        ("get_time", '{"tz": "Europe/Paris"}'),
    ]
    assert parts[-1]["usage"]["outputTokens"] == 96


async def test_anthropic_request_has_system_tools_and_tool_results(
    server: WireServer, model: AnthropicModel
) -> None:
    server.queue(load_transcript("anthropic_text"))
    request: ModelRequest = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris and Oslo?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "reasoning", "text": "two calls"},
                    {"type": "tool-call", "toolCallId": "t1", "toolName": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool-call", "toolCallId": "t2", "toolName": "get_weather", "input": '{"city": '},
                ],
            },
            {
                "role": "tool",
                "content": [
                    {"type": "tool-result", "toolCallId": "t1", "toolName": "get_weather", "output": {"sky": "clear"}, "isError": False},
                    {"type": "tool-result", "toolCallId": "t2", "toolName": "get_weather", "output": {"error": "bad JSON"}, "isError": True},
                ],
            },
        ],
        "tools": [{"name": "get_weather", "description": "Weather", "inputSchema": {"type": "object"}}],
        "options": {"temperature": 0.5, "max_output_tokens": 256},
    }  # fmt: skip
    await parts_of(model, request)
    (sent,) = server.requests
    assert sent.path == "/v1/messages"
    assert sent.json() == {
        "model": MODEL,
        "max_tokens": 256,
        "stream": True,
        "system": "Be brief.",
        "temperature": 0.5,
        "tools": [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Oslo?"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "t2", "name": "get_weather", "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": '{"sky":"clear"}', "is_error": False},
                    {"type": "tool_result", "tool_use_id": "t2", "content": '{"error":"bad JSON"}', "is_error": True},
                ],
            },
        ],
    }  # fmt: skip


def test_anthropic_messages_merge_consecutive_roles() -> None:
    system, messages = anthropic_messages(
        [
            {"role": "system", "content": "a"},
            {"role": "system", "content": "b"},
            {"role": "user", "content": "x"},
            {"role": "user", "content": [{"type": "text", "text": "y"}]},
        ]
    )
    assert system == "a\n\nb"
    assert messages == [
        {"role": "user", "content": [{"type": "text", "text": "x"}, {"type": "text", "text": "y"}]}
    ]


async def test_anthropic_thinking_option_is_sent(server: WireServer) -> None:
    thinking = {"type": "enabled", "budget_tokens": 1024}
    model = AnthropicModel(MODEL, base_url=server.base_url, api_key="k", thinking=thinking)
    server.queue(load_transcript("anthropic_thinking"))
    await parts_of(model)
    assert server.requests[0].json()["thinking"] == thinking
    await model.client.close()


# -- errors --------------------------------------------------------------------------------


async def test_anthropic_401_raises_a_clear_model_error(
    server: WireServer, model: AnthropicModel
) -> None:
    server.queue(load_transcript("anthropic_401"))
    with pytest.raises(
        ModelError,
        match=r"authentication failed \(HTTP 401\): authentication_error: invalid x-api-key",
    ) as e:
        await parts_of(model)
    assert type(e.value.__cause__).__name__ == "AuthenticationError"
    assert len(server.requests) == 1


async def test_anthropic_429_is_retried_then_succeeds(
    server: WireServer, model: AnthropicModel
) -> None:
    server.queue(load_transcript("anthropic_429"), load_transcript("anthropic_text"))
    parts = await parts_of(model)
    assert parts[-1]["finishReason"] == "stop"
    assert [r.headers["x-stainless-retry-count"] for r in server.requests] == ["0", "1"]


async def test_anthropic_429_after_the_retries_is_a_clear_error(server: WireServer) -> None:
    model = AnthropicModel(MODEL, base_url=server.base_url, api_key="k", max_retries=0)
    server.queue(load_transcript("anthropic_429"))
    with pytest.raises(ModelRateLimitError, match=r"rate limited \(HTTP 429\).*rate_limit_error"):
        await parts_of(model)
    await model.client.close()


async def test_anthropic_error_event_mid_stream_raises(
    server: WireServer, model: AnthropicModel
) -> None:
    server.queue(load_transcript("anthropic_error_event"))
    with pytest.raises(ModelError, match="error mid-stream: overloaded_error: Overloaded"):
        await parts_of(model)


async def test_anthropic_stream_cut_mid_body_raises(
    server: WireServer, model: AnthropicModel
) -> None:
    server.queue(load_transcript("anthropic_text").cut(4))
    with pytest.raises(ModelConnectionError, match="dropped mid-stream"):
        await parts_of(model)


async def test_anthropic_cancel_closes_the_http_stream(
    server: WireServer, model: AnthropicModel
) -> None:
    server.queue(load_transcript("anthropic_text").hold(4))
    stream = model.stream(HI)
    seen = [await anext(stream) for _ in range(3)]
    assert seen[-1]["type"] == "text-delta"
    await stream.aclose()
    await asyncio.wait_for(server.held_closed.wait(), 5)


# -- end to end through an Agent --------------------------------------------------------------


async def test_anthropic_agent_tool_loop_end_to_end(
    server: WireServer, model: AnthropicModel
) -> None:
    server.queue(load_transcript("anthropic_tool_use"), load_transcript("anthropic_thinking"))
    out = Agent("a", model=model, instructions="Be brief.", tools=TOOLS).stream("Paris?")
    chunks = await collect(out)
    assert types(chunks) == [
        "start", "step-start",
        "text-start", "text-delta", "text-end",
        "tool-call-input-streaming-start", "tool-call-delta", "tool-call-delta", "tool-call-delta",
        "tool-call-input-streaming-end", "tool-call", "tool-result", "step-finish",
        "step-start",
        "reasoning-start", "reasoning-delta", "reasoning-delta", "reasoning-end",
        "text-start", "text-delta", "text-delta", "text-end",
        "step-finish", "finish",
    ]  # fmt: skip
    assert await out.text == "I'll check the weather in Paris.9.8 is larger."
    second = server.requests[1].json()
    assert second["system"] == "Be brief."
    assert second["messages"][-1] == {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
                "content": '{"city":"Paris","sky":"clear","celsius":21}',
                "is_error": False,
            }
        ],
    }
    assert (await out.usage)["reasoningTokens"] == 64


async def test_anthropic_agent_error_event_ends_with_an_error_chunk(
    server: WireServer, model: AnthropicModel
) -> None:
    server.queue(load_transcript("anthropic_error_event"))
    out = Agent("a", model=model).stream("hi")
    chunks = await collect(out)
    assert types(chunks)[-1] == "error"
    assert "overloaded_error" in chunks[-1]["payload"]["error"]["message"]
    assert await out.status == "failed"


async def test_anthropic_agent_cancel_closes_the_connection(
    server: WireServer, model: AnthropicModel
) -> None:
    server.queue(load_transcript("anthropic_text").hold(4))
    out = Agent("a", model=model).stream("hi")
    seen = []
    async for chunk in out:
        seen.append(chunk["type"])
        if chunk["type"] == "text-delta":
            out.cancel()
    assert seen[-1] == "abort"
    await asyncio.wait_for(server.held_closed.wait(), 5)


# -- resolving "anthropic/<model>" -------------------------------------------------------------


async def test_anthropic_model_string_uses_the_environment(
    server: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
    server.queue(load_transcript("anthropic_text"))
    agent = Agent("a", model=f"anthropic/{MODEL}")
    assert isinstance(agent.model, AnthropicModel)
    assert (agent.model.provider, agent.model.model_id) == ("anthropic", MODEL)
    assert await agent.stream("hi").text == "Hello! How can I help you today?"
    assert "sk-ant-env" in str(server.requests[0].headers)
    await agent.model.client.close()


def test_anthropic_without_a_key_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    with pytest.raises(ConfigurationError, match="ANTHROPIC_API_KEY"):
        resolve_model(f"anthropic/{MODEL}")


async def test_anthropic_response_format_option_is_not_sent(
    server: WireServer, model: AnthropicModel
) -> None:
    """The agent puts the schema in the system prompt; Claude gets no unknown body field."""
    server.queue(load_transcript("anthropic_text"))
    request: ModelRequest = {
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [],
        "options": {"responseFormat": {"type": "json", "schema": {"type": "object"}}},
    }
    await parts_of(model, request)
    body = server.requests[0].json()
    assert "responseFormat" not in body
    assert "output_config" not in body


@pytest.mark.parametrize(
    ("transcript", "reason"),
    [
        ("anthropic_text", "stop"),
        ("anthropic_max_tokens", "length"),
        ("anthropic_refusal", "content-filter"),
        ("anthropic_tool_use", "tool-calls"),
    ],
)
async def test_anthropic_stop_reasons_are_mapped(
    server: WireServer, model: AnthropicModel, transcript: str, reason: str
) -> None:
    server.queue(load_transcript(transcript))
    parts = await parts_of(model)
    assert parts[-1]["finishReason"] == reason


def test_anthropic_messages_send_images_and_documents() -> None:
    png = "iVBORw0KGgo="
    _, messages = anthropic_messages(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in these?"},
                    {"type": "image", "image": "https://example.com/cat.png"},
                    {
                        "type": "file",
                        "mediaType": "image/png",
                        "data": f"data:image/png;base64,{png}",
                    },
                    {"type": "file", "mediaType": "application/pdf", "data": "JVBERi0="},
                ],
            }
        ]
    )
    assert messages[0]["content"] == [
        {"type": "text", "text": "What is in these?"},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
        },
    ]


async def test_anthropic_thinking_with_tools_sends_the_signed_thinking_back(
    server: WireServer,
) -> None:
    """With extended thinking, the API wants the last assistant turn's signed thinking back."""
    thinking = {"type": "enabled", "budget_tokens": 1024}
    model = AnthropicModel(MODEL, base_url=server.base_url, api_key="k", thinking=thinking)
    server.queue(load_transcript("anthropic_thinking_tool_use"), load_transcript("anthropic_text"))
    out = Agent("a", model=model, tools=TOOLS).stream("Weather in Paris?")
    await collect(out)
    assert await out.reasoning_text == "I need the weather for Paris; call get_weather."
    assistant = server.requests[1].json()["messages"][1]
    assert assistant["role"] == "assistant"
    assert [b["type"] for b in assistant["content"]] == ["thinking", "tool_use"]
    assert assistant["content"][0]["thinking"] == "I need the weather for Paris; call get_weather."
    assert assistant["content"][0]["signature"].startswith("EuYBCkQYAiJAgCs1le6")
    await model.close()


def test_anthropic_module_exports_only_the_model() -> None:
    from streamwise.models import anthropic as module

    assert module.__all__ == ("AnthropicModel",)


async def test_anthropic_auth_token_from_the_environment_is_used(
    server: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "tok-env")
    model = AnthropicModel(MODEL, base_url=server.base_url)
    server.queue(load_transcript("anthropic_text"))
    await parts_of(model)
    assert server.requests[0].headers["authorization"] == "Bearer tok-env"
    await model.close()


async def test_anthropic_signed_thinking_goes_back_from_memory_not_the_model_object(
    server: WireServer, tmp_path: Path
) -> None:
    """The signature rides on the reasoning part (chunk, message, storage), so a conversation
    reloaded by another model object (another process) still sends valid thinking back."""
    from streamwise import Streamwise

    thinking = {"type": "enabled", "budget_tokens": 1024}
    url = f"sqlite:///{tmp_path}/memory.db"
    first = AnthropicModel(MODEL, base_url=server.base_url, api_key="k", thinking=thinking)
    server.queue(load_transcript("anthropic_thinking_tool_use"), load_transcript("anthropic_text"))
    agent = Agent("a", model=first, tools=TOOLS)
    async with Streamwise(agents=[agent], storage=url):
        chunks = await collect(agent.stream("Weather in Paris?", memory={"thread": "t"}))
    end = next(c for c in chunks if c["type"] == "reasoning-end")
    signature = end["payload"]["providerMetadata"]["anthropic"]["signature"]
    assert signature.startswith("EuYBCkQYAiJAgCs1le6")
    await first.close()

    fresh = AnthropicModel(MODEL, base_url=server.base_url, api_key="k", thinking=thinking)
    server.queue(load_transcript("anthropic_text"))
    again = Agent("a", model=fresh, tools=TOOLS)
    async with Streamwise(agents=[again], storage=url):
        await collect(again.stream("And tomorrow?", memory={"thread": "t"}))
    history = server.requests[-1].json()["messages"]
    thinking_blocks = [
        b for m in history if m["role"] == "assistant" for b in m["content"]
        if b["type"] == "thinking"
    ]  # fmt: skip
    assert thinking_blocks == [{
        "type": "thinking",
        "thinking": "I need the weather for Paris; call get_weather.",
        "signature": signature,
    }]  # fmt: skip
    await fresh.close()
