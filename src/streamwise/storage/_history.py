"""Stored messages back into the model's conversation (what memory loads before a run)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..models import ModelMessage
from ._records import Message, Part

__all__ = ("to_model_messages", "user_parts")


def user_parts(content: Any) -> list[Part]:
    """A model message's content as stored parts (a string becomes one text part)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [dict(p) for p in content if isinstance(p, dict)]


def to_model_messages(messages: Iterable[Message]) -> list[ModelMessage]:
    """The model messages for stored ``messages``, in order.

    An assistant message becomes, per step, an assistant message (reasoning, text, tool calls)
    and a tool message with the results. Tool calls that never got a result (an interrupted
    run) are left out, since a provider rejects a call without its result; ``data-*``, sources
    and files are for the UI and are not sent.
    """
    out: list[ModelMessage] = []
    for message in messages:
        role = message["role"]
        parts = message["content"]
        if role == "assistant":
            out.extend(_assistant(parts))
        elif role in ("user", "system"):
            texts = [p for p in parts if p.get("type") == "text"]
            if texts:
                out.append(
                    {"role": role, "content": [{"type": "text", "text": p["text"]} for p in texts]}
                )
    return out


def _assistant(parts: list[Part]) -> list[ModelMessage]:
    out: list[ModelMessage] = []
    content: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []

    def close_step() -> None:
        if content:
            out.append({"role": "assistant", "content": list(content)})
        if results:
            out.append({"role": "tool", "content": list(results)})
        content.clear()
        results.clear()

    for part in parts:
        t = part.get("type")
        if t == "step-start":
            close_step()
        elif t == "text" and part.get("text"):
            content.append({"type": "text", "text": part["text"]})
        elif t == "reasoning" and (part.get("text") or part.get("providerMetadata")):
            reasoning: dict[str, Any] = {"type": "reasoning", "text": part.get("text", "")}
            if part.get("providerMetadata"):
                reasoning["providerMetadata"] = part["providerMetadata"]
            content.append(reasoning)
        elif t == "tool-invocation":
            inv = part["toolInvocation"]
            if inv.get("state") != "result":
                continue
            content.append(
                {
                    "type": "tool-call",
                    "toolCallId": inv["toolCallId"],
                    "toolName": inv["toolName"],
                    "input": inv.get("args"),
                }
            )
            results.append(
                {
                    "type": "tool-result",
                    "toolCallId": inv["toolCallId"],
                    "toolName": inv["toolName"],
                    "output": inv.get("result"),
                    "isError": bool(part.get("isError")),
                }
            )
    close_step()
    return out
