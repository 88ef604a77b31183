"""Reasoning goes back to OpenAI-compatible servers, per API and per ``send_reasoning``.

Every case runs the official ``openai`` SDK against recorded-style transcripts on loopback
(``transcripts/README.md`` says where each shape comes from) and asserts the request bodies the
server received: step 2 of a tool loop, and a second turn loaded from memory (storage), so the
reasoning's ``providerMetadata`` is shown to survive the chunk, the message and the store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streamwise import Agent, Streamwise
from streamwise.errors import ConfigurationError
from streamwise.models import ModelPart, ModelRequest
from streamwise.models._openai_responses import responses_input
from streamwise.models._providers import SendReasoning
from streamwise.models.openai import OpenAICompatible
from tests.models.test_openai import TOOLS
from tests.models.wire_server import WireServer, load_transcript
from tests.support import collect

HI: ModelRequest = {"messages": [{"role": "user", "content": "hi"}], "tools": []}
MODES: tuple[SendReasoning, ...] = ("never", "tool-loop", "always")

# What the transcripts hold.
DEEPSEEK_TOOL_THINKING = "The user wants Paris weather; call get_weather."
DEEPSEEK_ANSWER_THINKING = "The user asks 9.11 vs 9.8; 0.8 > 0.11."
DEEPSEEK_CALL = "call_00_kJ4mWq8rTz2xYb6nP1sD3fGh"
RS = "rs_0d2f6b1e9c7a41580068f1a2b3c4d5e6f7a8b9c0d1e2f3a4"
FC = "fc_0d2f6b1e9c7a41580068f1a2b4e5f6a7b8c9d0e1f2a3b4c5"
CALL = "call_Hx7Lq2Wm4Np9Rs1T"
ENC1 = "gAAAAABo8aKzQm9Rb3VnaHQtMS1lbmNyeXB0ZWQtcmVhc29uaW5nLWJsb2ItZm9yLXRlc3Rz"
SUMMARY = "**Checking the weather**\n\nI should call get_weather for Paris."
RS2 = "rs_0d2f6b1e9c7a41580068f1a2c7d8e9f0a1b2c3d4e5f6a7b8"
MSG = "msg_0d2f6b1e9c7a41580068f1a2c8e9f0a1b2c3d4e5f6a7b8c9"
ENC2 = "gAAAAABo8aK1U2Vjb25kLXN0ZXAtZW5jcnlwdGVkLXJlYXNvbmluZy1ibG9iLWZvci10ZXN0cw=="
ANSWER = "Paris is clear, 21 °C."
WEATHER = '{"city":"Paris","sky":"clear","celsius":21}'


def chat_model(server: WireServer, **kwargs: Any) -> OpenAICompatible:
    return OpenAICompatible(
        "deepseek-reasoner", base_url=f"{server.base_url}/v1", api_key="k", **kwargs
    )


def responses_model(server: WireServer, **kwargs: Any) -> OpenAICompatible:
    return OpenAICompatible(
        "gpt-5-mini", base_url=f"{server.base_url}/v1", api_key="k", api="responses", **kwargs
    )


async def two_turns(model: OpenAICompatible, tmp_path: Path) -> None:
    """Turn 1: a tool call, then the answer (two requests); turn 2 from memory (a third)."""
    agent = Agent("a", model=model, tools=TOOLS)
    async with Streamwise(agents=[agent], storage=f"sqlite:///{tmp_path}/memory.db"):
        await collect(agent.stream("Weather in Paris?", memory={"thread": "t"}))
        await collect(agent.stream("And tomorrow?", memory={"thread": "t"}))
    await model.close()


def reasoning_ends(parts: list[ModelPart]) -> list[dict[str, Any]]:
    return [p for p in parts if p["type"] == "reasoning-end"]


# -- Chat Completions --------------------------------------------------------------------------


async def test_chat_reasoning_end_names_the_field_the_reasoning_came_in(
    server: WireServer,
) -> None:
    model = chat_model(server)
    server.queue(
        load_transcript("openai_chat_reasoning_tool_call"),
        load_transcript("openai_chat_openrouter_reasoning_tool_call"),
    )
    deepseek = [p async for p in model.stream(HI)]
    openrouter = [p async for p in model.stream(HI)]
    assert [p["providerMetadata"] for p in reasoning_ends(deepseek)] == [
        {"openai": {"reasoningField": "reasoning_content"}}
    ]
    assert [p["providerMetadata"] for p in reasoning_ends(openrouter)] == [
        {"openai": {"reasoningField": "reasoning"}}
    ]
    assert "".join(p["delta"] for p in openrouter if p["type"] == "reasoning-delta") == (
        "Paris weather: use the tool."
    )
    await model.close()


@pytest.mark.parametrize("mode", MODES)
async def test_chat_send_reasoning_in_the_tool_loop_and_the_next_turn(
    server: WireServer, tmp_path: Path, mode: SendReasoning
) -> None:
    """DeepSeek thinking mode with tools: ``reasoning_content`` on the assistant messages."""
    server.queue(
        load_transcript("openai_chat_reasoning_tool_call"),
        load_transcript("openai_chat_reasoning"),
        load_transcript("openai_chat_reasoning"),
    )
    await two_turns(chat_model(server, send_reasoning=mode), tmp_path)
    assert len(server.requests) == 3
    call_message: dict[str, Any] = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": DEEPSEEK_CALL,
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            }
        ],
    }
    answer_message: dict[str, Any] = {"role": "assistant", "content": "9.8 is larger."}
    tool_message = {"role": "tool", "tool_call_id": DEEPSEEK_CALL, "content": WEATHER}
    in_loop = mode != "never"
    later = mode == "always"

    step2 = server.requests[1].json()["messages"]
    expected_call = dict(call_message)
    if in_loop:
        expected_call["reasoning_content"] = DEEPSEEK_TOOL_THINKING
    assert step2 == [
        {"role": "user", "content": "Weather in Paris?"},
        expected_call,
        tool_message,
    ]

    turn2 = server.requests[2].json()["messages"]
    expected_call = dict(call_message)
    expected_answer = dict(answer_message)
    if later:
        expected_call["reasoning_content"] = DEEPSEEK_TOOL_THINKING
        expected_answer["reasoning_content"] = DEEPSEEK_ANSWER_THINKING
    assert turn2 == [
        {"role": "user", "content": "Weather in Paris?"},
        expected_call,
        tool_message,
        expected_answer,
        {"role": "user", "content": "And tomorrow?"},
    ]


async def test_chat_openrouter_reasoning_goes_back_as_reasoning(server: WireServer) -> None:
    """OpenRouter streams ``delta.reasoning``; the tool loop sends ``reasoning`` back."""
    server.queue(
        load_transcript("openai_chat_openrouter_reasoning_tool_call"),
        load_transcript("openai_chat_text"),
    )
    model = chat_model(server)
    await collect(Agent("a", model=model, tools=TOOLS).stream("Weather in Paris?"))
    assistant = server.requests[1].json()["messages"][1]
    assert assistant == {
        "role": "assistant",
        "content": None,
        "reasoning": "Paris weather: use the tool.",
        "tool_calls": [
            {
                "id": "call_a1B2c3D4e5F6g7H8",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            }
        ],
    }
    await model.close()


def test_send_reasoning_defaults_per_api_and_server() -> None:
    openai_chat = OpenAICompatible("gpt-4.1-mini", api_key="k")
    openai_responses = OpenAICompatible("gpt-5-mini", api_key="k", api="responses")
    deepseek = OpenAICompatible(
        "deepseek-reasoner", base_url="https://api.deepseek.com", api_key="k"
    )
    assert openai_chat.send_reasoning == "never"  # its messages have no reasoning field
    assert openai_responses.send_reasoning == "always"
    assert deepseek.send_reasoning == "always"


def test_send_reasoning_must_be_a_known_value() -> None:
    with pytest.raises(ConfigurationError, match="send_reasoning must be one of"):
        OpenAICompatible("m", api_key="k", send_reasoning="sometimes")  # type: ignore[arg-type]


# -- Responses ---------------------------------------------------------------------------------


async def test_responses_reasoning_end_carries_the_item_and_what_followed_it(
    server: WireServer,
) -> None:
    model = responses_model(server)
    server.queue(
        load_transcript("openai_responses_reasoning_tool_call"),
        load_transcript("openai_responses_encrypted_reasoning_text"),
    )
    with_summary = [p async for p in model.stream(HI)]
    without_summary = [p async for p in model.stream(HI)]
    assert reasoning_ends(with_summary) == [
        {
            "type": "reasoning-end",
            "id": f"{RS}:0",
            "providerMetadata": {
                "openai": {
                    "itemId": RS,
                    "reasoningEncryptedContent": ENC1,
                    "followedBy": {"type": "function_call", "id": FC, "callId": CALL},
                }
            },
        }
    ]
    # The reasoning part ends before the call's first part, in stream order.
    kinds = [p["type"] for p in with_summary]
    assert kinds.index("reasoning-end") < kinds.index("tool-input-start")
    # No summary was streamed: an empty reasoning part still carries the item.
    assert [p["type"] for p in without_summary][1:3] == ["reasoning-start", "reasoning-end"]
    assert reasoning_ends(without_summary)[0]["providerMetadata"] == {
        "openai": {
            "itemId": RS2,
            "reasoningEncryptedContent": ENC2,
            "followedBy": {"type": "message", "id": MSG},
        }
    }
    await model.close()


@pytest.mark.parametrize("mode", MODES)
async def test_responses_stateless_send_reasoning_in_the_tool_loop_and_the_next_turn(
    server: WireServer, tmp_path: Path, mode: SendReasoning
) -> None:
    """``store=False``: encrypted reasoning is requested and goes back as reasoning items."""
    server.queue(
        load_transcript("openai_responses_reasoning_tool_call"),
        load_transcript("openai_responses_encrypted_reasoning_text"),
        load_transcript("openai_responses_encrypted_reasoning_text"),
    )
    await two_turns(responses_model(server, store=False, send_reasoning=mode), tmp_path)
    bodies = [r.json() for r in server.requests]
    assert len(bodies) == 3
    for body in bodies:
        assert body["store"] is False
        if mode == "never":
            assert "include" not in body
        else:
            assert body["include"] == ["reasoning.encrypted_content"]

    user = {"role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"}]}
    call = {"type": "function_call", "call_id": CALL, "name": "get_weather",
            "arguments": '{"city":"Paris"}'}  # fmt: skip
    output = {"type": "function_call_output", "call_id": CALL, "output": WEATHER}
    reasoning_1 = {"type": "reasoning", "id": RS, "encrypted_content": ENC1,
                   "summary": [{"type": "summary_text", "text": SUMMARY}]}  # fmt: skip
    reasoning_2 = {"type": "reasoning", "id": RS2, "summary": [], "encrypted_content": ENC2}
    answer = {"role": "assistant", "content": [{"type": "output_text", "text": ANSWER}]}
    answer_as_returned = {
        "type": "message",
        "id": MSG,
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": ANSWER, "annotations": []}],
    }
    again = {"role": "user", "content": [{"type": "input_text", "text": "And tomorrow?"}]}

    if mode == "never":
        assert bodies[1]["input"] == [user, call, output]
    else:  # the reasoning item right before the call it led to, which gets its id back
        assert bodies[1]["input"] == [user, reasoning_1, {**call, "id": FC}, output]
    if mode == "always":
        assert bodies[2]["input"] == [
            user, reasoning_1, {**call, "id": FC}, output, reasoning_2, answer_as_returned, again,
        ]  # fmt: skip
    else:
        assert bodies[2]["input"] == [user, call, output, answer, again]


async def test_responses_stored_reasoning_goes_back_by_id_without_include(
    server: WireServer,
) -> None:
    """With the server's storage (the default), the item's id and summary are enough."""
    server.queue(
        load_transcript("openai_responses_reasoning_text"),
        load_transcript("openai_responses_reasoning_text"),
    )
    model = responses_model(server)
    agent = Agent("a", model=model)
    first = agent.stream("9.11 or 9.8?")
    await collect(first)
    history = [{"role": "user", "content": "9.11 or 9.8?"}, *(await first.response)["messages"]]
    await collect(agent.stream([*history, {"role": "user", "content": "Why?"}]))
    body = server.requests[1].json()
    assert "include" not in body and "store" not in body
    rs = "rs_67ccd2bf6c3c8190b3d5bdbb1c0d9f3e0bb6a6b452d3795b"
    assert body["input"][1:3] == [
        {
            "type": "reasoning",
            "id": rs,
            "summary": [
                {
                    "type": "summary_text",
                    "text": "**Comparing decimals**\n\n9.80 vs 9.11: the tenths digit decides.",
                }
            ],
        },
        {
            "type": "message",
            "id": "msg_67ccd2c0a1c48190a0e7e1f5b7d2a8c40bb6a6b452d3795b",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "9.8 is larger.", "annotations": []}],
        },
    ]
    await model.close()


@pytest.mark.parametrize(
    ("kwargs", "options", "include"),
    [
        ({"encrypted_reasoning": True}, {}, ["reasoning.encrypted_content"]),
        ({"store": False, "encrypted_reasoning": False}, {}, None),
        ({}, {"store": False}, ["reasoning.encrypted_content"]),
        ({}, {"store": False, "include": ["message.output_text.logprobs"]},
         ["message.output_text.logprobs", "reasoning.encrypted_content"]),
        ({"store": False, "send_reasoning": "never"}, {}, None),
    ],
)  # fmt: skip
async def test_responses_include_encrypted_reasoning_when_asked_or_stateless(
    server: WireServer,
    kwargs: dict[str, Any],
    options: dict[str, Any],
    include: list[str] | None,
) -> None:
    server.queue(load_transcript("openai_responses_reasoning_text"))
    model = responses_model(server, **kwargs)
    request: ModelRequest = {**HI, "options": options}
    [p async for p in model.stream(request)]
    assert server.requests[0].json().get("include") == include
    await model.close()


def test_responses_input_drops_reasoning_it_cannot_send() -> None:
    chat_reasoning = {"type": "reasoning", "text": "chat thinking",
                      "providerMetadata": {"openai": {"reasoningField": "reasoning_content"}}}  # fmt: skip
    stored_only = {"type": "reasoning", "text": "s",
                   "providerMetadata": {"openai": {"itemId": "rs_1"}}}  # fmt: skip
    text = {"type": "text", "text": "hi"}
    plain = {"role": "assistant", "content": [{"type": "output_text", "text": "hi"}]}
    # Reasoning of another API has no item id.
    assert responses_input(
        [{"role": "assistant", "content": [chat_reasoning, text]}], send_reasoning="always"
    ) == [plain]
    # Stateless: an item without encrypted content cannot be looked up.
    assert responses_input(
        [{"role": "assistant", "content": [stored_only, text]}],
        send_reasoning="always",
        stateless=True,
    ) == [plain]
    # A reasoning item must be followed by an output item.
    assert (
        responses_input([{"role": "assistant", "content": [stored_only]}], send_reasoning="always")
        == []
    )
    # Without what followed it (older metadata), it goes first, and no id is given out.
    assert responses_input(
        [{"role": "assistant", "content": [stored_only, text]}], send_reasoning="always"
    ) == [
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "s"}]},
        plain,
    ]
