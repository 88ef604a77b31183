"""OpenAICompatible against recorded OpenAI wire transcripts served on loopback.

Every test runs the official ``openai`` SDK against real HTTP bytes (``transcripts/*.http``) from
``tests/models/wire_server.py``; the main cases also run end to end through an ``Agent``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pydantic
import pytest

from streamwise import Agent, create_tool
from streamwise.errors import (
    ConfigurationError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelRateLimitError,
)
from streamwise.models import ModelPart, ModelRequest, resolve_model
from streamwise.models._openai_chat import ChatStreamState, chat_messages
from streamwise.models._openai_responses import responses_input
from streamwise.models.openai import OpenAICompatible
from tests.models.wire_server import WireServer, load_transcript
from tests.support import collect, types

HI: ModelRequest = {"messages": [{"role": "user", "content": "hi"}], "tools": []}


class City(pydantic.BaseModel):
    city: str


class Zone(pydantic.BaseModel):
    tz: str


async def get_weather(inp: City, ctx: object) -> dict[str, Any]:
    return {"city": inp.city, "sky": "clear", "celsius": 21}


async def get_time(inp: Zone, ctx: object) -> str:
    return f"12:00 in {inp.tz}"


TOOLS = [
    create_tool("get_weather", "The weather in a city", City, get_weather),
    create_tool("get_time", "The time in a time zone", Zone, get_time),
]


@pytest.fixture
async def model(server: WireServer) -> AsyncIterator[OpenAICompatible]:
    m = OpenAICompatible(
        "gpt-4o-mini", base_url=f"{server.base_url}/v1", api_key="sk-test", max_retries=1
    )
    yield m
    await m.client.close()


async def parts_of(model: OpenAICompatible, request: ModelRequest = HI) -> list[ModelPart]:
    return [p async for p in model.stream(request)]


def without_ids(parts: list[ModelPart]) -> list[dict[str, Any]]:
    """Parts with their generated block ids dropped (tool call ids are the provider's)."""
    return [
        {k: v for k, v in p.items() if not (k == "id" and p["type"].startswith(("text", "reas")))}
        for p in parts
    ]


# -- Chat Completions: parts -------------------------------------------------------------------


async def test_openai_chat_text_maps_deltas_usage_and_metadata(
    server: WireServer, model: OpenAICompatible
) -> None:
    server.queue(load_transcript("openai_chat_text"))
    parts = await parts_of(model)
    assert without_ids(parts) == [
        {
            "type": "response-metadata",
            "id": "chatcmpl-AQx1hTkq3Yb2zVYxX6cEe9RrJm4Tn",
            "modelId": "gpt-4o-mini-2024-07-18",
            "timestamp": "2024-11-07T12:00:00+00:00",
        },
        {"type": "text-start"},
        {"type": "text-delta", "delta": "Hello"},
        {"type": "text-delta", "delta": "!"},
        {"type": "text-delta", "delta": " How"},
        {"type": "text-delta", "delta": " can I help?"},
        {"type": "text-end"},
        {
            "type": "finish",
            "finishReason": "stop",
            "usage": {
                "inputTokens": 1164,
                "outputTokens": 7,
                "totalTokens": 1171,
                "cachedInputTokens": 1024,
                "reasoningTokens": 0,
            },
        },
    ]
    assert len({p["id"] for p in parts if p["type"].startswith("text")}) == 1


async def test_openai_chat_reasoning_content_becomes_reasoning_parts(
    server: WireServer, model: OpenAICompatible
) -> None:
    server.queue(load_transcript("openai_chat_reasoning"))
    parts = without_ids(await parts_of(model))
    assert [p["type"] for p in parts] == [
        "response-metadata",
        "reasoning-start", "reasoning-delta", "reasoning-delta", "reasoning-delta", "reasoning-end",
        "text-start", "text-delta", "text-delta", "text-end",
        "finish",
    ]  # fmt: skip
    reasoning = "".join(p["delta"] for p in parts if p["type"] == "reasoning-delta")
    assert reasoning == "The user asks 9.11 vs 9.8; 0.8 > 0.11."
    assert parts[-1]["usage"]["reasoningTokens"] == 40
    assert parts[-1]["usage"]["outputTokens"] == 52


async def test_openai_chat_one_tool_call_streams_its_arguments(
    server: WireServer, model: OpenAICompatible
) -> None:
    server.queue(load_transcript("openai_chat_tool_call"))
    parts = await parts_of(model)
    cid = "call_k3Nf0sPq1xWb7YtZr2LdVc9M"
    assert parts[1:] == [
        {"type": "tool-input-start", "id": cid, "toolName": "get_weather"},
        {"type": "tool-input-delta", "id": cid, "delta": '{"'},
        {"type": "tool-input-delta", "id": cid, "delta": "city"},
        {"type": "tool-input-delta", "id": cid, "delta": '":"'},
        {"type": "tool-input-delta", "id": cid, "delta": "Paris"},
        {"type": "tool-input-delta", "id": cid, "delta": '"}'},
        {"type": "tool-input-end", "id": cid},
        {
            "type": "tool-call",
            "toolCallId": cid,
            "toolName": "get_weather",
            "input": '{"city":"Paris"}',
        },
        {
            "type": "finish",
            "finishReason": "tool-calls",
            "usage": {
                "inputTokens": 82,
                "outputTokens": 15,
                "totalTokens": 97,
                "cachedInputTokens": 0,
                "reasoningTokens": 0,
            },
        },
    ]


async def test_openai_chat_parallel_tool_calls_are_assembled_by_index(
    server: WireServer, model: OpenAICompatible
) -> None:
    server.queue(load_transcript("openai_chat_parallel_tools"))
    parts = await parts_of(model)
    calls = [p for p in parts if p["type"] == "tool-call"]
    assert calls == [
        {
            "type": "tool-call",
            "toolCallId": "call_Vb1nQz7Ww3xYk0aPo4LmT8sR",
            "toolName": "get_weather",
            "input": '{"city": "Paris"}',
        },
        {
            "type": "tool-call",
            "toolCallId": "call_Hx5cRt2Uy9pLm3NqZ6aBv1sD",
            "toolName": "get_time",
            "input": '{"tz": "Europe/Paris"}',
        },
    ]
    starts = [p["id"] for p in parts if p["type"] == "tool-input-start"]
    ends = [p["id"] for p in parts if p["type"] == "tool-input-end"]
    assert starts == ends == [c["toolCallId"] for c in calls]
    assert parts[-1]["finishReason"] == "tool-calls"


def test_chat_stream_state_interleaved_indexes_and_null_choices() -> None:
    """vLLM-style: tool call deltas of two indexes interleave; the usage chunk has choices null."""
    base: dict[str, Any] = {"id": "cmpl-1", "object": "chat.completion.chunk", "created": 1}

    def chunk(delta: Any, finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    def call(index: int, args: str, name: str | None = None) -> dict[str, Any]:
        fn: dict[str, Any] = {"arguments": args}
        tc: dict[str, Any] = {"index": index, "function": fn}
        if name:
            fn["name"] = name
            tc.update(id=f"c{index}", type="function")
        return {"tool_calls": [tc]}

    counts = {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11}
    state = ChatStreamState()
    parts: list[ModelPart] = []
    for c in [
        chunk(call(0, '{"city"', "get_weather")),
        chunk(call(1, '{"tz"', "get_time")),
        chunk(call(0, ': "Oslo"}')),
        chunk(call(1, ': "UTC"}')),
        chunk({}, "tool_calls"),
        {**base, "choices": None, "usage": counts},
    ]:
        parts.extend(state.feed(c))
    parts.extend(state.end())
    calls = {p["toolCallId"]: p["input"] for p in parts if p["type"] == "tool-call"}
    assert calls == {"c0": '{"city": "Oslo"}', "c1": '{"tz": "UTC"}'}
    assert parts[-1] == {
        "type": "finish",
        "finishReason": "tool-calls",
        "usage": {"inputTokens": 5, "outputTokens": 6, "totalTokens": 11},
    }


def test_chat_stream_state_tool_calls_without_index_or_as_objects() -> None:
    """Servers that send each call whole, without `index`, or arguments as an object."""
    state = ChatStreamState()
    parts: list[ModelPart] = []
    for tool_calls, finish in [
        ([{"id": "a", "function": {"name": "f", "arguments": {"x": 1}}}], None),
        ([{"id": "b", "function": {"name": "g", "arguments": '{"y"'}}], None),
        ([{"function": {"arguments": ": 2}"}}], "tool_calls"),
    ]:
        delta = {"content": None, "tool_calls": tool_calls}
        parts.extend(
            state.feed({"id": "x", "choices": [{"delta": delta, "finish_reason": finish}]})
        )
    calls = [
        (p["toolCallId"], p["toolName"], p["input"]) for p in parts if p["type"] == "tool-call"
    ]
    assert calls == [("a", "f", '{"x":1}'), ("b", "g", '{"y": 2}')]


# -- Chat Completions: the request ----------------------------------------------------------


async def test_openai_chat_request_converts_messages_tools_and_options(
    server: WireServer, model: OpenAICompatible
) -> None:
    server.queue(load_transcript("openai_chat_text"))
    request: ModelRequest = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "reasoning", "text": "call the tool"},
                    {"type": "text", "text": "Checking."},
                    {
                        "type": "tool-call",
                        "toolCallId": "call_1",
                        "toolName": "get_weather",
                        "input": {"city": "Paris"},
                    },
                ],
            },
            {
                "role": "tool",
                "content": [
                    {
                        "type": "tool-result",
                        "toolCallId": "call_1",
                        "toolName": "get_weather",
                        "output": {"sky": "clear"},
                        "isError": False,
                    }
                ],
            },
        ],
        "tools": [
            {
                "name": "get_weather",
                "description": "The weather in a city",
                "inputSchema": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ],
        "options": {"temperature": 0.2, "max_output_tokens": 64},
    }
    await parts_of(model, request)
    (sent,) = server.requests
    assert sent.method == "POST"
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.json() == {
        "model": "gpt-4o-mini",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": "Checking.",
                "reasoning_content": "call the tool",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": '{"sky":"clear"}'},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "The weather in a city",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                },
            }
        ],
        "temperature": 0.2,
        "max_tokens": 64,
    }


def test_chat_messages_keep_invalid_tool_json_as_text() -> None:
    msgs = chat_messages(
        [
            {
                "role": "assistant",
                "content": [
                    {"type": "tool-call", "toolCallId": "c", "toolName": "t", "input": '{"a": '}
                ],
            }
        ]
    )
    assert msgs == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "t", "arguments": '{"a": '}}
            ],
        }
    ]


# -- errors --------------------------------------------------------------------------------


async def test_openai_401_raises_a_clear_model_error(
    server: WireServer, model: OpenAICompatible
) -> None:
    server.queue(load_transcript("openai_401"))
    with pytest.raises(
        ModelError, match=r"authentication failed \(HTTP 401\).*OPENAI_API_KEY"
    ) as e:
        await parts_of(model)
    assert "Incorrect API key provided" in str(e.value)
    assert isinstance(e.value, ModelAuthenticationError)
    assert type(e.value.__cause__).__name__ == "AuthenticationError"
    assert len(server.requests) == 1  # a 401 is not retried


async def test_openai_429_is_retried_then_succeeds(
    server: WireServer, model: OpenAICompatible
) -> None:
    server.queue(load_transcript("openai_429"), load_transcript("openai_chat_text"))
    parts = await parts_of(model)
    assert parts[-1]["finishReason"] == "stop"
    assert [r.headers["x-stainless-retry-count"] for r in server.requests] == ["0", "1"]


async def test_openai_429_after_the_retries_is_a_clear_error(server: WireServer) -> None:
    model = OpenAICompatible(
        "gpt-4o-mini", base_url=f"{server.base_url}/v1", api_key="k", max_retries=0
    )
    server.queue(load_transcript("openai_429"))
    with pytest.raises(ModelRateLimitError, match=r"rate limited \(HTTP 429\), still after 0"):
        await parts_of(model)
    await model.client.close()


async def test_openai_stream_cut_mid_body_raises(
    server: WireServer, model: OpenAICompatible
) -> None:
    server.queue(load_transcript("openai_chat_text").cut(3))
    seen: list[ModelPart] = []

    async def read() -> None:
        async for part in model.stream(HI):
            seen.append(part)

    with pytest.raises(ModelConnectionError, match="dropped mid-stream"):
        await read()
    assert [p.get("delta") for p in seen if p["type"] == "text-delta"] == ["Hello", "!"]


async def test_openai_error_event_mid_stream_raises(
    server: WireServer, model: OpenAICompatible
) -> None:
    server.queue(load_transcript("openai_chat_error_event"))
    with pytest.raises(ModelError, match="error mid-stream: server_error: The server had an error"):
        await parts_of(model)


async def test_openai_cancel_closes_the_http_stream(
    server: WireServer, model: OpenAICompatible
) -> None:
    server.queue(load_transcript("openai_chat_text").hold(3))
    stream = model.stream(HI)
    seen = [await anext(stream) for _ in range(3)]
    assert seen[-1]["type"] == "text-delta"
    await stream.aclose()
    await asyncio.wait_for(server.held_closed.wait(), 5)


# -- end to end through an Agent --------------------------------------------------------------


async def test_openai_agent_streams_text_chunks(
    server: WireServer, model: OpenAICompatible
) -> None:
    server.queue(load_transcript("openai_chat_text"))
    out = Agent("a", model=model, instructions="Be brief.").stream("hi")
    chunks = await collect(out)
    assert types(chunks) == [
        "start", "step-start", "text-start",
        "text-delta", "text-delta", "text-delta", "text-delta",
        "text-end", "step-finish", "finish",
    ]  # fmt: skip
    assert await out.text == "Hello! How can I help?"
    assert await out.usage == {
        "inputTokens": 1164,
        "outputTokens": 7,
        "totalTokens": 1171,
        "reasoningTokens": 0,
        "cachedInputTokens": 1024,
    }
    finish = chunks[-1]["payload"]
    assert finish["metadata"]["modelId"] == "gpt-4o-mini-2024-07-18"
    assert finish["metadata"]["id"] == "chatcmpl-AQx1hTkq3Yb2zVYxX6cEe9RrJm4Tn"
    assert server.requests[0].json()["messages"][0] == {"role": "system", "content": "Be brief."}


async def test_openai_agent_runs_parallel_tools_and_sends_results_back(
    server: WireServer, model: OpenAICompatible
) -> None:
    server.queue(load_transcript("openai_chat_parallel_tools"), load_transcript("openai_chat_text"))
    out = Agent("a", model=model, tools=TOOLS).stream("Weather and time in Paris?")
    chunks = await collect(out)
    kinds = types(chunks)
    assert kinds[:2] == ["start", "step-start"]
    assert kinds.count("tool-call-delta") == 6
    assert kinds.count("tool-call") == 2
    assert sorted(c["payload"]["toolName"] for c in chunks if c["type"] == "tool-result") == [
        "get_time",
        "get_weather",
    ]
    assert kinds[-1] == "finish"
    assert chunks[-1]["payload"]["stepResult"]["reason"] == "stop"
    first_delta = next(c for c in chunks if c["type"] == "tool-call-delta")["payload"]
    assert first_delta == {
        "toolCallId": "call_Vb1nQz7Ww3xYk0aPo4LmT8sR",
        "toolName": "get_weather",
        "argsTextDelta": '{"ci',
    }
    second = server.requests[1].json()["messages"]
    assert second[-3]["tool_calls"][1]["function"] == {
        "name": "get_time",
        "arguments": '{"tz":"Europe/Paris"}',
    }
    assert second[-2:] == [
        {
            "role": "tool",
            "tool_call_id": "call_Vb1nQz7Ww3xYk0aPo4LmT8sR",
            "content": '{"city":"Paris","sky":"clear","celsius":21}',
        },
        {
            "role": "tool",
            "tool_call_id": "call_Hx5cRt2Uy9pLm3NqZ6aBv1sD",
            "content": "12:00 in Europe/Paris",
        },
    ]
    usage = await out.usage
    assert usage["inputTokens"] == 96 + 1164


async def test_openai_agent_turns_invalid_tool_json_into_a_tool_error_the_model_sees(
    server: WireServer, model: OpenAICompatible
) -> None:
    server.queue(
        load_transcript("openai_chat_invalid_tool_json"), load_transcript("openai_chat_text")
    )
    out = Agent("a", model=model, tools=TOOLS).stream("Weather in Paris?")
    chunks = await collect(out)
    call = next(c for c in chunks if c["type"] == "tool-call")["payload"]
    assert call["args"] == '{"city": "Paris\'}'
    error = next(c for c in chunks if c["type"] == "tool-error")["payload"]
    assert error["toolCallId"] == "call_Qe4rT6yU8iO0pA2sD4fG6hJ8"
    assert "JSON" in error["error"]["message"]
    assert await out.text == "Hello! How can I help?"
    resent = server.requests[1].json()["messages"]
    assert resent[-2]["tool_calls"][0]["function"]["arguments"] == '{"city": "Paris\'}'
    assert resent[-1]["role"] == "tool"
    assert "JSON" in resent[-1]["content"]


async def test_openai_agent_error_ends_the_run_with_an_error_chunk(
    server: WireServer, model: OpenAICompatible
) -> None:
    server.queue(load_transcript("openai_401"))
    out = Agent("a", model=model).stream("hi")
    chunks = await collect(out)
    assert types(chunks) == ["start", "step-start", "error"]
    assert chunks[-1]["payload"]["error"]["name"] == "ModelAuthenticationError"
    assert "HTTP 401" in chunks[-1]["payload"]["error"]["message"]
    assert await out.status == "failed"


async def test_openai_agent_cut_stream_ends_with_an_error_chunk(
    server: WireServer, model: OpenAICompatible
) -> None:
    server.queue(load_transcript("openai_chat_text").cut(4))
    chunks = await collect(Agent("a", model=model).stream("hi"))
    assert types(chunks)[-1] == "error"
    assert "dropped mid-stream" in chunks[-1]["payload"]["error"]["message"]


async def test_openai_agent_cancel_closes_the_connection(
    server: WireServer, model: OpenAICompatible
) -> None:
    server.queue(load_transcript("openai_chat_text").hold(3))
    out = Agent("a", model=model).stream("hi")
    seen = []
    async for chunk in out:
        seen.append(chunk["type"])
        if chunk["type"] == "text-delta":
            out.cancel()
    assert seen[-1] == "abort"
    await asyncio.wait_for(server.held_closed.wait(), 5)
    assert await out.status == "canceled"


# -- the Responses API ------------------------------------------------------------------------


@pytest.fixture
async def responses_model(server: WireServer) -> AsyncIterator[OpenAICompatible]:
    m = OpenAICompatible(
        "o4-mini", base_url=f"{server.base_url}/v1", api_key="sk-test", api="responses"
    )
    yield m
    await m.client.close()


async def test_openai_responses_reasoning_summary_and_text(
    server: WireServer, responses_model: OpenAICompatible
) -> None:
    server.queue(load_transcript("openai_responses_reasoning_text"))
    parts = await parts_of(responses_model)
    assert [p["type"] for p in parts] == [
        "response-metadata",
        "reasoning-start", "reasoning-delta", "reasoning-delta", "reasoning-delta", "reasoning-end",
        "text-start", "text-delta", "text-delta", "text-delta", "text-end",
        "finish",
    ]  # fmt: skip
    assert parts[0]["id"] == "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b"
    assert "".join(p["delta"] for p in parts if p["type"] == "text-delta") == "9.8 is larger."
    assert parts[-1] == {
        "type": "finish",
        "finishReason": "stop",
        "usage": {
            "inputTokens": 1290,
            "outputTokens": 210,
            "totalTokens": 1500,
            "cachedInputTokens": 1152,
            "reasoningTokens": 192,
        },
    }
    assert server.requests[0].path == "/v1/responses"


async def test_openai_responses_function_calls_and_request(
    server: WireServer, responses_model: OpenAICompatible
) -> None:
    server.queue(load_transcript("openai_responses_tool_calls"))
    request: ModelRequest = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Paris?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Checking."},
                    {
                        "type": "tool-call",
                        "toolCallId": "c0",
                        "toolName": "get_weather",
                        "input": {},
                    },
                ],
            },
            {
                "role": "tool",
                "content": [
                    {
                        "type": "tool-result",
                        "toolCallId": "c0",
                        "toolName": "get_weather",
                        "output": "ok",
                    }
                ],
            },
        ],
        "tools": [{"name": "get_weather", "description": "d", "inputSchema": {"type": "object"}}],
    }
    parts = await parts_of(responses_model, request)
    assert [p for p in parts if p["type"] == "tool-call"] == [
        {"type": "tool-call", "toolCallId": "call_Wd3kZp9Qx1Ls7Mn2", "toolName": "get_weather", "input": '{"city":"Paris"}'},
        {"type": "tool-call", "toolCallId": "call_Rt6yUi8Op0As2Df4", "toolName": "get_time", "input": '{"tz":"Europe/Paris"}'},
    ]  # fmt: skip
    assert [p["delta"] for p in parts if p["type"] == "tool-input-delta"] == [
        '{"city":', '"Paris"}', '{"tz":"Europe', '/Paris"}',
    ]  # fmt: skip
    assert parts[-1]["finishReason"] == "tool-calls"
    body = server.requests[0].json()
    assert body["input"] == [
        {"role": "system", "content": [{"type": "input_text", "text": "Be brief."}]},
        {"role": "user", "content": [{"type": "input_text", "text": "Paris?"}]},
        {"role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
        {"type": "function_call", "call_id": "c0", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c0", "output": "ok"},
    ]
    assert body["tools"] == [
        {"type": "function", "name": "get_weather", "description": "d",
         "parameters": {"type": "object"}, "strict": False},
    ]  # fmt: skip


async def test_openai_responses_error_event_raises(
    server: WireServer, responses_model: OpenAICompatible
) -> None:
    server.queue(load_transcript("openai_responses_error_event"))
    with pytest.raises(ModelError, match=r"o4-mini.*error mid-stream: server_error"):
        await parts_of(responses_model)


async def test_openai_responses_agent_end_to_end(
    server: WireServer, responses_model: OpenAICompatible
) -> None:
    server.queue(load_transcript("openai_responses_tool_calls"))
    server.queue(load_transcript("openai_responses_reasoning_text"))
    out = Agent("a", model=responses_model, tools=TOOLS).stream("Paris?")
    chunks = await collect(out)
    assert types(chunks).count("tool-result") == 2
    assert (
        await out.reasoning_text
        == "**Comparing decimals**\n\n9.80 vs 9.11: the tenths digit decides."
    )
    assert await out.text == "9.8 is larger."
    outputs = [
        i for i in server.requests[1].json()["input"] if i.get("type") == "function_call_output"
    ]
    assert [o["call_id"] for o in outputs] == ["call_Wd3kZp9Qx1Ls7Mn2", "call_Rt6yUi8Op0As2Df4"]


# -- resolving "openai/<model>" ----------------------------------------------------------------


async def test_openai_model_string_uses_the_environment(
    server: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("OPENAI_BASE_URL", f"{server.base_url}/v1")
    server.queue(load_transcript("openai_chat_text"))
    agent = Agent("a", model="openai/gpt-4o-mini")
    assert isinstance(agent.model, OpenAICompatible)
    assert (agent.model.provider, agent.model.model_id, agent.model.api) == (
        "openai",
        "gpt-4o-mini",
        "chat",
    )
    assert await agent.stream("hi").text == "Hello! How can I help?"
    assert server.requests[0].headers["authorization"] == "Bearer sk-env"
    responses = resolve_model("openai-responses/o4-mini")
    assert isinstance(responses, OpenAICompatible)
    assert responses.api == "responses"
    for m in (agent.model, responses):
        await m.client.close()


def test_openai_without_a_key_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        resolve_model("openai/gpt-4o-mini")


async def test_openai_local_server_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    model = OpenAICompatible("llama3.2", base_url="http://localhost:11434/v1")
    assert str(model.client.base_url) == "http://localhost:11434/v1/"
    await model.client.close()


# -- structured output ------------------------------------------------------------------------


class Weather(pydantic.BaseModel):
    city: str
    celsius: int


async def test_openai_agent_structured_output_sends_a_json_schema_format(
    server: WireServer, model: OpenAICompatible
) -> None:
    server.queue(load_transcript("openai_chat_json_output"))
    out = Agent("a", model=model).stream("Weather in Paris?", output=Weather)
    chunks = await collect(out)
    assert await out.object == Weather(city="Paris", celsius=21)
    assert "object" in types(chunks)
    body = server.requests[0].json()
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "Weather",
            "schema": Weather.model_json_schema(),
            "strict": False,
        },
    }
    assert "responseFormat" not in body


async def test_openai_responses_structured_output_uses_text_format(
    server: WireServer, responses_model: OpenAICompatible
) -> None:
    server.queue(load_transcript("openai_responses_reasoning_text"))
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    request: ModelRequest = {
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [],
        "options": {
            "responseFormat": {"type": "json", "name": "Answer", "schema": schema},
            "max_output_tokens": 100,
            "reasoning": {"effort": "low", "summary": "auto"},
        },
    }
    await parts_of(responses_model, request)
    body = server.requests[0].json()
    assert body["text"] == {
        "format": {"type": "json_schema", "name": "Answer", "schema": schema, "strict": False}
    }
    assert body["max_output_tokens"] == 100
    assert body["reasoning"] == {"effort": "low", "summary": "auto"}


# -- finish reasons ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("transcript", "reason"),
    [
        ("openai_chat_text", "stop"),
        ("openai_chat_length", "length"),
        ("openai_chat_content_filter", "content-filter"),
        ("openai_chat_tool_call", "tool-calls"),
    ],
)
async def test_openai_chat_finish_reasons_are_mapped(
    server: WireServer, model: OpenAICompatible, transcript: str, reason: str
) -> None:
    server.queue(load_transcript(transcript))
    parts = await parts_of(model)
    assert parts[-1]["finishReason"] == reason


async def test_openai_responses_incomplete_finishes_with_length(
    server: WireServer, responses_model: OpenAICompatible
) -> None:
    server.queue(load_transcript("openai_responses_incomplete"))
    parts = await parts_of(responses_model)
    assert parts[-1]["finishReason"] == "length"
    assert parts[-1]["usage"]["outputTokens"] == 210


async def test_openai_responses_failed_raises(
    server: WireServer, responses_model: OpenAICompatible
) -> None:
    server.queue(load_transcript("openai_responses_failed"))
    with pytest.raises(ModelError, match="server_error: The model failed to generate a response"):
        await parts_of(responses_model)


# -- files and images in user messages ---------------------------------------------------------

PNG = "iVBORw0KGgo="
FILES_MESSAGE: dict[str, Any] = {
    "role": "user",
    "content": [
        {"type": "text", "text": "What is in these?"},
        {"type": "image", "image": "https://example.com/cat.png"},
        {"type": "file", "mediaType": "image/png", "data": PNG},
        {"type": "file", "mediaType": "application/pdf", "data": "JVBERi0=", "filename": "a.pdf"},
    ],
}


def test_chat_messages_send_images_and_pdfs_as_content_parts() -> None:
    (msg,) = chat_messages([FILES_MESSAGE])
    assert msg == {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in these?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            {
                "type": "file",
                "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"},
            },
        ],
    }


def test_responses_input_sends_images_and_pdfs_as_input_parts() -> None:
    (item,) = responses_input([FILES_MESSAGE])
    assert item["content"] == [
        {"type": "input_text", "text": "What is in these?"},
        {"type": "input_image", "image_url": "https://example.com/cat.png"},
        {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"},
        {
            "type": "input_file",
            "filename": "a.pdf",
            "file_data": "data:application/pdf;base64,JVBERi0=",
        },
    ]


def test_file_part_without_a_media_type_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="mediaType"):
        chat_messages([{"role": "user", "content": [{"type": "file", "data": PNG}]}])


async def test_openai_own_api_gets_max_completion_tokens() -> None:
    model = OpenAICompatible("o4-mini", api_key="sk-test")
    assert model._chat_max_tokens == "max_completion_tokens"
    local = OpenAICompatible("llama3.2", base_url="http://localhost:11434/v1")
    assert local._chat_max_tokens == "max_tokens"
    for m in (model, local):
        await m.close()


def test_openai_module_exports_only_the_model() -> None:
    from streamwise.models import openai as module

    assert module.__all__ == ("OpenAICompatible",)
