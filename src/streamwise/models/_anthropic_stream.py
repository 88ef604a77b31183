"""Anthropic Messages: our messages to the request, stream events to model parts (sans-IO).

:class:`MessagesStreamState` folds the raw events of ``client.messages.create(stream=True)``
(``message_start``, ``content_block_start`` / ``_delta`` / ``_stop``, ``message_delta``,
``message_stop``) into :data:`~streamwise.models.ModelPart` dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from ._base import FinishReason, ModelMessage, ModelPart, ToolSpec
from ._providers import FileData, is_file_part, iso_timestamp, json_text

__all__ = ("MessagesStreamState", "anthropic_messages", "anthropic_tools")

_STOP: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool-calls",
    "refusal": "content-filter",
}


def _thinking_blocks(
    part: Mapping[str, Any], remembered: Callable[[str], list[dict[str, Any]] | None] | None
) -> list[dict[str, Any]]:
    """A reasoning part as the API's thinking blocks: signed (from the part's provider metadata,
    or else remembered by this model object), or none (the API refuses unsigned thinking)."""
    meta = (part.get("providerMetadata") or {}).get("anthropic") or {}
    text = part.get("text", "")
    if meta.get("redactedData"):
        return [{"type": "redacted_thinking", "data": meta["redactedData"]}]
    if meta.get("signature"):
        return [{"type": "thinking", "thinking": text, "signature": meta["signature"]}]
    signed = remembered(text) if remembered is not None else None
    return list(signed or ())


def anthropic_messages(
    messages: Sequence[ModelMessage],
    thinking: Callable[[str], list[dict[str, Any]] | None] | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """Our model messages as the Messages API's ``system`` text and ``messages`` list.

    System messages are joined into ``system``; tool results go back as ``tool_result`` blocks in
    a user message; consecutive messages of one role are merged, as the API wants them
    alternating. A reasoning part goes back as the signed thinking blocks ``thinking(text)``
    returns (the API takes thinking back only with its signature), or is dropped.
    """
    system: list[str] = []
    out: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})

    for m in messages:
        role = m["role"]
        content = m.get("content", "")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if role == "system":
            system.extend(p["text"] for p in parts if p.get("type") == "text")
        elif role == "user":
            add("user", [_user_block(p) for p in parts if _is_text(p) or is_file_part(p)])
        elif role == "assistant":
            blocks: list[dict[str, Any]] = []
            for p in parts:
                if p.get("type") == "reasoning":
                    blocks.extend(_thinking_blocks(p, thinking))
                elif _is_text(p):
                    blocks.append({"type": "text", "text": p["text"]})
                elif p.get("type") == "tool-call":
                    blocks.append(
                        {
                            "type": "tool_use",
                            "id": p["toolCallId"],
                            "name": p["toolName"],
                            "input": _tool_input(p.get("input")),
                        }
                    )
            add("assistant", blocks)
        elif role == "tool":
            add(
                "user",
                [
                    {
                        "type": "tool_result",
                        "tool_use_id": r["toolCallId"],
                        "content": json_text(r.get("output")),
                        "is_error": bool(r.get("isError")),
                    }
                    for r in parts
                    if r.get("type") == "tool-result"
                ],
            )
    return "\n\n".join(system), out


def _user_block(part: dict[str, Any]) -> dict[str, Any]:
    if not is_file_part(part):
        return {"type": "text", "text": part["text"]}
    f = FileData(part)
    kind = "image" if f.is_image else "document"
    if f.url is not None:
        return {"type": kind, "source": {"type": "url", "url": f.url}}
    source = {"type": "base64", "media_type": f.media_type, "data": f.base64}
    return {"type": kind, "source": source}


def _is_text(part: dict[str, Any]) -> bool:
    return part.get("type") == "text" and bool(part.get("text"))


def _tool_input(value: Any) -> Any:
    """A tool call's input as the object ``tool_use`` needs (invalid JSON text becomes ``{}``)."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {}
    return value if isinstance(value, dict) else {}


def anthropic_tools(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    """Our tool specs as Messages API ``tools``."""
    return [
        {"name": t["name"], "description": t["description"], "input_schema": t["inputSchema"]}
        for t in tools
    ]


class MessagesStreamState:
    """Folds Messages stream events into model parts; ``feed(event)`` returns them."""

    def __init__(self) -> None:
        self._message_id = ""
        self._blocks: dict[int, tuple[str, str, str]] = {}  # index -> (kind, part id, tool name)
        self._json: dict[int, list[str]] = {}
        self._counts: dict[str, int] = {}
        self._thinking: dict[int, list[str]] = {}
        self._signatures: dict[int, str] = {}
        self.signed_thinking: list[dict[str, Any]] = []
        """This message's thinking blocks with their signatures, to send back next turn."""
        self._stop: str | None = None
        self.finished = False

    def feed(self, event: Any) -> list[ModelPart]:
        """The parts for one event."""
        t = event.type
        if t == "content_block_delta":
            block = self._blocks.get(event.index)
            if block is None:
                return []
            delta = event.delta
            dt = delta.type
            if dt == "text_delta":
                return [{"type": "text-delta", "id": block[1], "delta": delta.text}]
            if dt == "input_json_delta":
                if not delta.partial_json:
                    return []
                self._json[event.index].append(delta.partial_json)
                return [{"type": "tool-input-delta", "id": block[1], "delta": delta.partial_json}]
            if dt == "thinking_delta":
                self._thinking[event.index].append(delta.thinking)
                return [{"type": "reasoning-delta", "id": block[1], "delta": delta.thinking}]
            if dt == "signature_delta":
                text = "".join(self._thinking.pop(event.index, ()))
                self._signatures[event.index] = delta.signature
                self.signed_thinking.append(
                    {"type": "thinking", "thinking": text, "signature": delta.signature}
                )
            return []  # citations_delta
        if t == "content_block_start":
            return self._start(event.index, event.content_block)
        if t == "content_block_stop":
            return self._stop_block(event.index)
        if t == "message_start":
            msg = event.message
            self._message_id = msg.id
            self._read_usage(msg.usage)
            return [
                {
                    "type": "response-metadata",
                    "id": msg.id,
                    "modelId": msg.model,
                    "timestamp": iso_timestamp(None),
                }
            ]
        if t == "message_delta":
            if event.delta.stop_reason is not None:
                self._stop = event.delta.stop_reason
            self._read_usage(event.usage)
            return []
        if t == "message_stop":
            self.finished = True
            reason: FinishReason = _STOP.get(self._stop or "", "other")
            return [{"type": "finish", "finishReason": reason, "usage": self.usage()}]
        return []

    def _start(self, index: int, block: Any) -> list[ModelPart]:
        kind = block.type
        part_id = f"{self._message_id}:{index}"
        if kind == "text":
            self._blocks[index] = ("text", part_id, "")
            parts: list[ModelPart] = [{"type": "text-start", "id": part_id}]
            if block.text:
                parts.append({"type": "text-delta", "id": part_id, "delta": block.text})
            return parts
        if kind == "thinking":
            self._blocks[index] = ("reasoning", part_id, "")
            self._thinking[index] = []
            return [{"type": "reasoning-start", "id": part_id}]
        if kind == "redacted_thinking":
            self.signed_thinking.append({"type": "redacted_thinking", "data": block.data})
            # An empty reasoning part that carries the encrypted block, so it can go back.
            return [
                {"type": "reasoning-start", "id": part_id},
                {"type": "reasoning-end", "id": part_id,
                 "providerMetadata": {"anthropic": {"redactedData": block.data}}},
            ]  # fmt: skip
        if kind == "tool_use":
            self._blocks[index] = ("tool", block.id, block.name)
            self._json[index] = []
            return [{"type": "tool-input-start", "id": block.id, "toolName": block.name}]
        return []  # server tool blocks and results: not ours to run

    def _stop_block(self, index: int) -> list[ModelPart]:
        block = self._blocks.pop(index, None)
        if block is None:
            return []
        kind, part_id, name = block
        if kind == "text":
            return [{"type": "text-end", "id": part_id}]
        if kind == "reasoning":
            signature = self._signatures.pop(index, None)
            if signature is None:
                return [{"type": "reasoning-end", "id": part_id}]
            # The signature travels with the reasoning part (and into memory), so the signed
            # thinking can go back to the API from any process.
            return [{"type": "reasoning-end", "id": part_id,
                     "providerMetadata": {"anthropic": {"signature": signature}}}]  # fmt: skip
        raw = "".join(self._json.pop(index, ())) or "{}"
        return [
            {"type": "tool-input-end", "id": part_id},
            {"type": "tool-call", "toolCallId": part_id, "toolName": name, "input": raw},
        ]

    def _read_usage(self, usage: Any) -> None:
        """Fold a usage object in; the API's counts are cumulative, so later ones win."""
        if usage is None:
            return
        counts = self._counts
        for key in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
            value = getattr(usage, key, None)
            if value is not None:
                counts[key] = value
        if usage.output_tokens is not None:
            counts["output_tokens"] = usage.output_tokens
        details = getattr(usage, "output_tokens_details", None)
        if details is not None and details.thinking_tokens is not None:
            counts["thinking_tokens"] = details.thinking_tokens

    def usage(self) -> dict[str, int]:
        """The usage so far as our usage dict.

        ``inputTokens`` counts every input token, cached or not (``input_tokens`` plus cache reads
        and writes), so that ``cachedInputTokens`` is a part of it, as with OpenAI.
        """
        c = self._counts
        read = c.get("cache_read_input_tokens", 0)
        inp = c.get("input_tokens", 0) + read + c.get("cache_creation_input_tokens", 0)
        out = c.get("output_tokens", 0)
        usage = {
            "inputTokens": inp,
            "outputTokens": out,
            "totalTokens": inp + out,
            "cachedInputTokens": read,
        }
        if "thinking_tokens" in c:
            usage["reasoningTokens"] = c["thinking_tokens"]
        return usage
