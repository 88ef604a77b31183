"""OpenAI Responses API: our messages to ``input`` items, streamed events to model parts (sans-IO).

:class:`ResponsesStreamState` folds the events of a streamed ``POST /responses`` — the JSON of
each ``data:`` line as the ``openai`` SDK decodes it: ``response.created``,
``response.output_item.added``, ``response.output_text.delta``,
``response.function_call_arguments.delta``, ``response.reasoning_summary_text.delta``,
``response.completed``, … — into :data:`~streamwise.models.ModelPart` dicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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

    def feed(self, event: Mapping[str, Any]) -> list[ModelPart]:
        """The parts for one event; raises :class:`ModelError` for ``error`` / ``response.failed``."""
        t = event["type"]
        if t == "response.output_text.delta":
            item_id = event["item_id"]
            if item_id in self._open_text:
                return [{"type": "text-delta", "id": item_id, "delta": event["delta"]}]
            self._open_text.add(item_id)
            return [
                {"type": "text-start", "id": item_id},
                {"type": "text-delta", "id": item_id, "delta": event["delta"]},
            ]
        if t == "response.function_call_arguments.delta":
            call = self._calls.get(event["item_id"])
            if call is None or not event.get("delta"):
                return []
            return [{"type": "tool-input-delta", "id": call[0], "delta": event["delta"]}]
        if t in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            # summaries are numbered by summary_index; raw reasoning text by content_index
            index = event.get("summary_index", event.get("content_index", 0))
            rid = f"{event['item_id']}:{index}"
            if rid in self._open_reasoning:
                return [{"type": "reasoning-delta", "id": rid, "delta": event["delta"]}]
            self._open_reasoning.add(rid)
            return [
                {"type": "reasoning-start", "id": rid},
                {"type": "reasoning-delta", "id": rid, "delta": event["delta"]},
            ]
        if t == "response.output_item.added":
            item = event["item"]
            if item.get("type") == "function_call":
                self._calls[item["id"]] = (item["call_id"], item["name"])
                return [
                    {"type": "tool-input-start", "id": item["call_id"], "toolName": item["name"]}
                ]
            return []
        if t == "response.output_item.done":
            return self._item_done(event["item"])
        if t == "response.created":
            r = event["response"]
            return [
                {
                    "type": "response-metadata",
                    "id": r.get("id"),
                    "modelId": r.get("model"),
                    "timestamp": iso_timestamp(r.get("created_at")),
                }
            ]
        if t in ("response.completed", "response.incomplete"):
            return [self._finish(event["response"])]
        if t == "response.failed":
            err = event["response"].get("error")
            message = f"{err.get('code')}: {err.get('message')}" if err else "the response failed"
            raise ModelError(f"{self._label}: the API reported an error mid-stream: {message}")
        if t == "error":
            raise ModelError(
                f"{self._label}: the API reported an error mid-stream: "
                f"{event.get('code')}: {event.get('message')}"
            )
        return []

    def _item_done(self, item: Mapping[str, Any]) -> list[ModelPart]:
        kind = item.get("type")
        if kind == "message":
            if item["id"] in self._open_text:
                self._open_text.discard(item["id"])
                return [{"type": "text-end", "id": item["id"]}]
            return []
        if kind == "reasoning":
            prefix = f"{item['id']}:"
            done = sorted(r for r in self._open_reasoning if r.startswith(prefix))
            self._open_reasoning.difference_update(done)
            return [{"type": "reasoning-end", "id": r} for r in done]
        if kind == "function_call":
            call_id, name = self._calls.pop(item["id"], (item["call_id"], item["name"]))
            self._called = True
            return [
                {"type": "tool-input-end", "id": call_id},
                {
                    "type": "tool-call",
                    "toolCallId": call_id,
                    "toolName": name,
                    "input": item.get("arguments") or "",
                },
            ]
        return []

    def _finish(self, response: Mapping[str, Any]) -> ModelPart:
        self.finished = True
        reason: FinishReason
        details = response.get("incomplete_details")
        if response.get("status") == "incomplete" and details:
            reason = _INCOMPLETE.get(details.get("reason") or "", "other")
        elif self._called:
            reason = "tool-calls"
        else:
            reason = "stop"
        usage = responses_usage(response.get("usage"))
        return {"type": "finish", "finishReason": reason, "usage": usage}


def responses_usage(usage: Mapping[str, Any] | None) -> dict[str, int]:
    """A Responses ``usage`` object as our usage dict."""
    if not usage:
        return {"inputTokens": 0, "outputTokens": 0}
    out = {
        "inputTokens": usage.get("input_tokens") or 0,
        "outputTokens": usage.get("output_tokens") or 0,
        "totalTokens": usage.get("total_tokens") or 0,
    }
    details = usage.get("input_tokens_details")
    if details and details.get("cached_tokens") is not None:
        out["cachedInputTokens"] = details["cached_tokens"]
    out_details = usage.get("output_tokens_details")
    if out_details and out_details.get("reasoning_tokens") is not None:
        out["reasoningTokens"] = out_details["reasoning_tokens"]
    return out
