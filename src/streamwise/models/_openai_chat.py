"""OpenAI Chat Completions: our messages to the request, streamed chunks to model parts (sans-IO).

:class:`ChatStreamState` folds ``chat.completion.chunk`` objects (the JSON of each ``data:`` line,
as the ``openai`` SDK decodes it) into :data:`~streamwise.models.ModelPart` dicts; the async loop in
``streamwise.models.openai`` is a thin wrapper around it. Servers that speak the OpenAI format
(DeepSeek, vLLM, Ollama, llama.cpp, LM Studio, OpenRouter) differ in small ways, handled here:
reasoning arrives as ``delta.reasoning_content`` (DeepSeek, vLLM) or ``delta.reasoning``
(OpenRouter, newer vLLM); the usage chunk may have ``choices: null``; tool calls of several
indexes may interleave.

Reasoning goes back to the server in the same field it came in: ``reasoning-end`` carries
``providerMetadata: {"openai": {"reasoningField": "reasoning_content"}}`` (or ``"reasoning"``),
which the agent keeps on the assistant message's reasoning part; :func:`chat_messages` sets that
field on the assistant message, for the messages :data:`SendReasoning` selects.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ConfigurationError
from ._base import FinishReason, ModelMessage, ModelPart, ToolSpec
from ._providers import (
    FileData,
    SendReasoning,
    is_file_part,
    iso_timestamp,
    json_text,
    reasoning_sent,
)

__all__ = (
    "ChatStreamState",
    "chat_messages",
    "chat_tools",
    "chat_usage",
)

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool-calls",
    "function_call": "tool-calls",
    "content_filter": "content-filter",
}


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if p.get("type") == "text")


_REASONING_FIELD = "reasoning_content"
"""Where reasoning goes back when its part does not say which field it came in (DeepSeek, vLLM)."""


def chat_messages(
    messages: Sequence[ModelMessage], *, send_reasoning: SendReasoning = "never"
) -> list[dict[str, Any]]:
    """Our model messages as Chat Completions ``messages``.

    An assistant message's reasoning parts, joined, go back in the field they came in
    (``reasoning_content`` unless the part's ``providerMetadata.openai.reasoningField`` says
    otherwise) when ``send_reasoning`` selects the message, else they are dropped. Text-only user
    content is sent as a plain string, which every OpenAI-compatible server accepts.
    """
    out: list[dict[str, Any]] = []
    sent = reasoning_sent(messages, send_reasoning)
    for m, with_reasoning in zip(messages, sent, strict=True):
        role = m["role"]
        content = m.get("content", "")
        if role == "system":
            out.append({"role": "system", "content": _text_of(content)})
        elif role == "user":
            out.append({"role": "user", "content": _user_content(content)})
        elif role == "assistant":
            out.append(_assistant(content, with_reasoning=with_reasoning))
        elif role == "tool":
            for r in content:
                if r.get("type") == "tool-result":
                    out.append(
                        {
                            "role": "tool",
                            "tool_call_id": r["toolCallId"],
                            "content": json_text(r.get("output")),
                        }
                    )
    return out


def _user_content(content: Any) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if all(p.get("type") == "text" for p in content):
        return _text_of(content)
    parts: list[dict[str, Any]] = []
    for p in content:
        if p.get("type") == "text":
            parts.append({"type": "text", "text": p["text"]})
        elif is_file_part(p):
            f = FileData(p)
            if f.is_image:
                parts.append({"type": "image_url", "image_url": {"url": f.as_url()}})
            elif f.base64 is not None:
                file = {"file_data": f.as_url(), "filename": f.filename or "file"}
                parts.append({"type": "file", "file": file})
            else:
                raise ConfigurationError(
                    f"Chat Completions takes a {f.media_type} file as base64 data, not a URL"
                )
    return parts


def _assistant(content: Any, *, with_reasoning: bool) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    text = _text_of(content)
    reasoning = [p for p in content if p.get("type") == "reasoning" and p.get("text")]
    calls = [
        {
            "id": p["toolCallId"],
            "type": "function",
            "function": {"name": p["toolName"], "arguments": json_text(p.get("input", {}))},
        }
        for p in content
        if p.get("type") == "tool-call"
    ]
    msg: dict[str, Any] = {"role": "assistant", "content": text or None}
    if with_reasoning and reasoning:
        meta = (reasoning[0].get("providerMetadata") or {}).get("openai") or {}
        field = meta.get("reasoningField") or _REASONING_FIELD
        msg[field] = "".join(p["text"] for p in reasoning)
    if calls:
        msg["tool_calls"] = calls
    return msg


def chat_tools(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    """Our tool specs as Chat Completions ``tools``."""
    return [
        {
            "type": "function",
            "function": {
                "name": t["name"],
                "description": t["description"],
                "parameters": t["inputSchema"],
            },
        }
        for t in tools
    ]


class _Call:
    __slots__ = ("args", "done", "id", "name")

    def __init__(self, id: str, name: str) -> None:
        self.id = id
        self.name = name
        self.args: list[str] = []
        self.done = False


class ChatStreamState:
    """Folds streamed ``chat.completion.chunk`` objects into model parts.

    ``feed(chunk)`` returns the parts one chunk produces; ``end()`` the closing parts (open blocks,
    pending tool calls, ``finish``) once the stream is over.
    """

    def __init__(self) -> None:
        prefix = uuid.uuid4().hex[:8]
        self._text_id = f"txt-{prefix}"
        self._reasoning_id = f"rsn-{prefix}"
        self._text_open = False
        self._reasoning_open = False
        self._reasoning_field = _REASONING_FIELD
        self._calls: dict[int | str | None, _Call] = {}
        self._ids: set[str] = set()
        self._last_key: int | str | None = None
        self._started = False
        self._reason: str | None = None
        self._usage: Mapping[str, Any] | None = None

    def feed(self, chunk: Mapping[str, Any]) -> list[ModelPart]:
        """The parts for one chunk (the JSON object of one ``data:`` line)."""
        parts: list[ModelPart] = []
        if not self._started:
            self._started = True
            parts.append(
                {
                    "type": "response-metadata",
                    "id": chunk.get("id"),
                    "modelId": chunk.get("model"),
                    "timestamp": iso_timestamp(chunk.get("created")),
                }
            )
        usage = chunk.get("usage")
        if usage:
            self._usage = usage
        choices = chunk.get("choices")
        if not choices:
            return parts
        choice = choices[0]
        delta = choice.get("delta")
        if delta:
            field = "reasoning_content" if delta.get("reasoning_content") else "reasoning"
            reasoning = delta.get(field)
            if reasoning and isinstance(reasoning, str):
                self._reasoning_field = field
                if self._text_open:
                    self._text_open = False
                    parts.append({"type": "text-end", "id": self._text_id})
                if not self._reasoning_open:
                    self._reasoning_open = True
                    parts.append({"type": "reasoning-start", "id": self._reasoning_id})
                parts.append(
                    {"type": "reasoning-delta", "id": self._reasoning_id, "delta": reasoning}
                )
            text = delta.get("content") or delta.get("refusal")
            if text:
                self._end_reasoning(parts)
                if not self._text_open:
                    self._text_open = True
                    parts.append({"type": "text-start", "id": self._text_id})
                parts.append({"type": "text-delta", "id": self._text_id, "delta": text})
            calls = delta.get("tool_calls")
            if calls:
                self._close_blocks(parts)
                for tc in calls:
                    self._feed_call(tc, parts)
        reason = choice.get("finish_reason")
        if reason is not None:
            self._reason = reason
            self._close_blocks(parts)
            self._end_calls(parts)
        return parts

    def _feed_call(self, tc: Mapping[str, Any], parts: list[ModelPart]) -> None:
        # Calls are keyed by `index`; a server that omits it (some send each call whole) gets
        # one key per new id, and id-less fragments continue the latest call.
        tc_id = tc.get("id")
        key = tc.get("index")
        if key is None:
            key = tc_id if tc_id and tc_id not in self._ids else self._last_key
        call = self._calls.get(key)
        fn = tc.get("function") or {}
        if call is None:
            call_id = tc_id or f"call-{uuid.uuid4().hex[:12]}"
            call = _Call(call_id, fn.get("name") or "")
            self._calls[key] = call
            self._ids.add(call_id)
            parts.append({"type": "tool-input-start", "id": call_id, "toolName": call.name})
        self._last_key = key
        args = fn.get("arguments")
        if args:
            if not isinstance(args, str):  # a few servers send the arguments as an object
                args = json_text(args)
            call.args.append(args)
            parts.append({"type": "tool-input-delta", "id": call.id, "delta": args})

    def _end_reasoning(self, parts: list[ModelPart]) -> None:
        if self._reasoning_open:
            self._reasoning_open = False
            # The field it came in is where it goes back (chat_messages).
            meta = {"openai": {"reasoningField": self._reasoning_field}}
            parts.append({"type": "reasoning-end", "id": self._reasoning_id,
                          "providerMetadata": meta})  # fmt: skip

    def _close_blocks(self, parts: list[ModelPart]) -> None:
        self._end_reasoning(parts)
        if self._text_open:
            self._text_open = False
            parts.append({"type": "text-end", "id": self._text_id})

    def _end_calls(self, parts: list[ModelPart]) -> None:
        for call in self._calls.values():
            if call.done:
                continue
            call.done = True
            parts.append({"type": "tool-input-end", "id": call.id})
            parts.append(
                {
                    "type": "tool-call",
                    "toolCallId": call.id,
                    "toolName": call.name,
                    "input": "".join(call.args),
                }
            )

    def end(self) -> list[ModelPart]:
        """The closing parts once the stream ended normally."""
        parts: list[ModelPart] = []
        self._close_blocks(parts)
        self._end_calls(parts)
        reason: FinishReason
        if self._reason is None:
            reason = "tool-calls" if self._calls else "other"
        else:
            reason = _FINISH.get(self._reason, "other")
        parts.append({"type": "finish", "finishReason": reason, "usage": chat_usage(self._usage)})
        return parts


def chat_usage(usage: Mapping[str, Any] | None) -> dict[str, int]:
    """A Chat Completions ``usage`` object as our usage dict."""
    if not usage:
        return {"inputTokens": 0, "outputTokens": 0}
    out = {
        "inputTokens": usage.get("prompt_tokens") or 0,
        "outputTokens": usage.get("completion_tokens") or 0,
        "totalTokens": usage.get("total_tokens") or 0,
    }
    prompt = usage.get("prompt_tokens_details")
    if prompt and prompt.get("cached_tokens") is not None:
        out["cachedInputTokens"] = prompt["cached_tokens"]
    completion = usage.get("completion_tokens_details")
    if completion and completion.get("reasoning_tokens") is not None:
        out["reasoningTokens"] = completion["reasoning_tokens"]
    return out
