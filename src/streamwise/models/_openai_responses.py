"""OpenAI Responses API: our messages to ``input`` items, streamed events to model parts (sans-IO).

:class:`ResponsesStreamState` folds the typed events of ``client.responses.create(stream=True)``
(``response.created``, ``response.output_item.added``, ``response.output_text.delta``,
``response.function_call_arguments.delta``, ``response.reasoning_summary_text.delta``,
``response.completed``, …) into :data:`~streamwise.models.ModelPart` dicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import ModelError
from ._base import FinishReason, ModelMessage, ModelPart, ToolSpec
from ._providers import FileData, is_file_part, iso_timestamp, json_text

__all__ = ("ResponsesStreamState", "responses_input", "responses_tools")


def responses_input(messages: Sequence[ModelMessage]) -> list[dict[str, Any]]:
    """Our model messages as Responses ``input`` items.

    Reasoning parts are dropped: the API takes reasoning back only as its own items (with ids or
    encrypted content), which the conversation does not keep.
    """
    items: list[dict[str, Any]] = []
    for m in messages:
        role = m["role"]
        content = m.get("content", "")
        if role in ("system", "user"):
            parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
            items.append({"role": role, "content": [_input_part(p) for p in parts]})
        elif role == "assistant":
            parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
            for p in parts:
                if p.get("type") == "text" and p["text"]:
                    items.append(
                        {
                            "role": "assistant",
                            "content": [{"type": "output_text", "text": p["text"]}],
                        }
                    )
                elif p.get("type") == "tool-call":
                    items.append(
                        {
                            "type": "function_call",
                            "call_id": p["toolCallId"],
                            "name": p["toolName"],
                            "arguments": json_text(p.get("input", {})),
                        }
                    )
        elif role == "tool":
            for r in content:
                if r.get("type") == "tool-result":
                    items.append(
                        {
                            "type": "function_call_output",
                            "call_id": r["toolCallId"],
                            "output": json_text(r.get("output")),
                        }
                    )
    return items


def _input_part(part: dict[str, Any]) -> dict[str, Any]:
    if is_file_part(part):
        f = FileData(part)
        if f.is_image:
            return {"type": "input_image", "image_url": f.as_url()}
        if f.url is not None:
            return {"type": "input_file", "file_url": f.url}
        return {"type": "input_file", "filename": f.filename or "file", "file_data": f.as_url()}
    return {"type": "input_text", "text": part.get("text", "")}


def responses_tools(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    """Our tool specs as Responses ``tools`` (function tools, not strict)."""
    return [
        {
            "type": "function",
            "name": t["name"],
            "description": t["description"],
            "parameters": t["inputSchema"],
            "strict": False,
        }
        for t in tools
    ]


_INCOMPLETE: dict[str, FinishReason] = {
    "max_output_tokens": "length",
    "content_filter": "content-filter",
}


class ResponsesStreamState:
    """Folds Responses stream events into model parts; ``feed(event)`` returns them."""

    def __init__(self, label: str = "the Responses API") -> None:
        self._label = label
        self._open_text: set[str] = set()
        self._open_reasoning: set[str] = set()
        self._calls: dict[str, tuple[str, str]] = {}  # item id -> (call id, tool name)
        self._called = False
        self.finished = False

    def feed(self, event: Any) -> list[ModelPart]:
        """The parts for one event; raises :class:`ModelError` for ``error`` / ``response.failed``."""
        t = event.type
        if t == "response.output_text.delta":
            item_id = event.item_id
            if item_id in self._open_text:
                return [{"type": "text-delta", "id": item_id, "delta": event.delta}]
            self._open_text.add(item_id)
            return [
                {"type": "text-start", "id": item_id},
                {"type": "text-delta", "id": item_id, "delta": event.delta},
            ]
        if t == "response.function_call_arguments.delta":
            call = self._calls.get(event.item_id)
            if call is None or not event.delta:
                return []
            return [{"type": "tool-input-delta", "id": call[0], "delta": event.delta}]
        if t in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            # summaries are numbered by summary_index; raw reasoning text by content_index
            summary = t == "response.reasoning_summary_text.delta"
            index = event.summary_index if summary else event.content_index
            rid = f"{event.item_id}:{index}"
            if rid in self._open_reasoning:
                return [{"type": "reasoning-delta", "id": rid, "delta": event.delta}]
            self._open_reasoning.add(rid)
            return [
                {"type": "reasoning-start", "id": rid},
                {"type": "reasoning-delta", "id": rid, "delta": event.delta},
            ]
        if t == "response.output_item.added":
            item = event.item
            if item.type == "function_call":
                self._calls[item.id] = (item.call_id, item.name)
                return [{"type": "tool-input-start", "id": item.call_id, "toolName": item.name}]
            return []
        if t == "response.output_item.done":
            return self._item_done(event.item)
        if t == "response.created":
            r = event.response
            return [
                {
                    "type": "response-metadata",
                    "id": r.id,
                    "modelId": r.model,
                    "timestamp": iso_timestamp(r.created_at),
                }
            ]
        if t in ("response.completed", "response.incomplete"):
            return [self._finish(event.response)]
        if t == "response.failed":
            err = event.response.error
            message = f"{err.code}: {err.message}" if err is not None else "the response failed"
            raise ModelError(f"{self._label}: the API reported an error mid-stream: {message}")
        if t == "error":
            raise ModelError(
                f"{self._label}: the API reported an error mid-stream: {event.code}: {event.message}"
            )
        return []

    def _item_done(self, item: Any) -> list[ModelPart]:
        if item.type == "message":
            if item.id in self._open_text:
                self._open_text.discard(item.id)
                return [{"type": "text-end", "id": item.id}]
            return []
        if item.type == "reasoning":
            prefix = f"{item.id}:"
            done = sorted(r for r in self._open_reasoning if r.startswith(prefix))
            self._open_reasoning.difference_update(done)
            return [{"type": "reasoning-end", "id": r} for r in done]
        if item.type == "function_call":
            call_id, name = self._calls.pop(item.id, (item.call_id, item.name))
            self._called = True
            return [
                {"type": "tool-input-end", "id": call_id},
                {
                    "type": "tool-call",
                    "toolCallId": call_id,
                    "toolName": name,
                    "input": item.arguments,
                },
            ]
        return []

    def _finish(self, response: Any) -> ModelPart:
        self.finished = True
        reason: FinishReason
        details = response.incomplete_details
        if response.status == "incomplete" and details is not None:
            reason = _INCOMPLETE.get(details.reason or "", "other")
        elif self._called:
            reason = "tool-calls"
        else:
            reason = "stop"
        return {"type": "finish", "finishReason": reason, "usage": responses_usage(response.usage)}


def responses_usage(usage: Any) -> dict[str, int]:
    """A Responses ``usage`` object as our usage dict."""
    if usage is None:
        return {"inputTokens": 0, "outputTokens": 0}
    out = {
        "inputTokens": usage.input_tokens or 0,
        "outputTokens": usage.output_tokens or 0,
        "totalTokens": usage.total_tokens or 0,
    }
    details = usage.input_tokens_details
    if details is not None and details.cached_tokens is not None:
        out["cachedInputTokens"] = details.cached_tokens
    out_details = usage.output_tokens_details
    if out_details is not None and out_details.reasoning_tokens is not None:
        out["reasoningTokens"] = out_details.reasoning_tokens
    return out
