"""OpenAI Responses API: our messages to ``input`` items, streamed events to model parts (sans-IO).

:class:`ResponsesStreamState` folds the events of a streamed ``POST /responses`` — the JSON of
each ``data:`` line as the ``openai`` SDK decodes it: ``response.created``,
``response.output_item.added``, ``response.output_text.delta``,
``response.function_call_arguments.delta``, ``response.reasoning_summary_text.delta``,
``response.completed``, … — into :data:`~streamwise.models.ModelPart` dicts.

Reasoning goes back as the API's own ``reasoning`` items. Each reasoning part's ``reasoning-end``
carries ``providerMetadata: {"openai": {"itemId": "rs_…"}}``; the first part of an item also
carries ``reasoningEncryptedContent`` (the item's ``encrypted_content``, or ``None``) and
``followedBy``, the output item that came right after it (``{"type": "function_call", "id":
"fc_…", "callId": "call_…"}`` or ``{"type": "message", "id": "msg_…"}``): the API checks that a
reasoning item is followed by that same item, so :func:`responses_input` puts the reasoning item
right before it and gives it its id back. Key names follow the AI SDK's OpenAI provider, so
messages stored by Mastra read the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ModelError
from ._base import FinishReason, ModelMessage, ModelPart, ToolSpec
from ._providers import (
    FileData,
    SendReasoning,
    is_file_part,
    iso_timestamp,
    json_text,
    reasoning_sent,
)

__all__ = ("ResponsesStreamState", "responses_input", "responses_tools")


def responses_input(
    messages: Sequence[ModelMessage],
    *,
    send_reasoning: SendReasoning = "never",
    stateless: bool = False,
) -> list[dict[str, Any]]:
    """Our model messages as Responses ``input`` items.

    An assistant message's reasoning goes back, when ``send_reasoning`` selects the message, as
    ``{"type": "reasoning", "id", "summary", "encrypted_content"?}`` items, each right before the
    output item that followed it (see the module docstring). Reasoning without an item id (from
    another provider) is dropped, and so is reasoning without encrypted content when
    ``stateless`` (``store: false``: the API cannot look the item up by its id).
    """
    items: list[dict[str, Any]] = []
    sent = reasoning_sent(messages, send_reasoning)
    for m, with_reasoning in zip(messages, sent, strict=True):
        role = m["role"]
        content = m.get("content", "")
        if role in ("system", "user"):
            parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
            items.append({"role": role, "content": [_input_part(p) for p in parts]})
        elif role == "assistant":
            parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
            items.extend(
                _assistant_items(parts, with_reasoning=with_reasoning, stateless=stateless)
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


def _assistant_items(
    parts: Sequence[Mapping[str, Any]], *, with_reasoning: bool, stateless: bool
) -> list[dict[str, Any]]:
    outputs: list[dict[str, Any]] = []
    for p in parts:
        if p.get("type") == "text" and p["text"]:
            outputs.append(
                {"role": "assistant", "content": [{"type": "output_text", "text": p["text"]}]}
            )
        elif p.get("type") == "tool-call":
            outputs.append(
                {
                    "type": "function_call",
                    "call_id": p["toolCallId"],
                    "name": p["toolName"],
                    "arguments": json_text(p.get("input", {})),
                }
            )
    if not with_reasoning or not outputs:
        return outputs  # a reasoning item must be followed by an output item
    leading: list[dict[str, Any]] = []
    before: dict[int, dict[str, Any]] = {}  # output index -> the reasoning item preceding it
    for reasoning, followed_by in _reasoning_items(parts, stateless=stateless):
        at = None if followed_by is None else _following(outputs, followed_by)
        if followed_by is None or at is None or at in before:
            leading.append(reasoning)
            continue
        before[at] = reasoning
        outputs[at] = _with_item_id(outputs[at], followed_by["id"])
    items = leading
    for n, output in enumerate(outputs):
        if n in before:
            items.append(before[n])
        items.append(output)
    return items


def _reasoning_items(
    parts: Sequence[Mapping[str, Any]], *, stateless: bool
) -> list[tuple[dict[str, Any], Mapping[str, Any] | None]]:
    """The message's reasoning parts as reasoning items (parts of one item joined), each with the
    output item that followed it."""
    found: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for p in parts:
        if p.get("type") != "reasoning":
            continue
        meta = (p.get("providerMetadata") or {}).get("openai") or {}
        item_id = meta.get("itemId")
        if not isinstance(item_id, str):
            continue  # not a Responses reasoning item: it cannot go back as one
        item, info = found.setdefault(
            item_id, ({"type": "reasoning", "id": item_id, "summary": []}, {})
        )
        text = p.get("text") or ""
        if meta.get("rawText"):
            item.setdefault("content", []).append({"type": "reasoning_text", "text": text})
        elif text:
            item["summary"].append({"type": "summary_text", "text": text})
        if meta.get("reasoningEncryptedContent"):
            item["encrypted_content"] = meta["reasoningEncryptedContent"]
        if meta.get("followedBy"):
            info["followedBy"] = meta["followedBy"]
    return [
        (item, info.get("followedBy"))
        for item, info in found.values()
        if not stateless or "encrypted_content" in item
    ]


def _following(outputs: list[dict[str, Any]], followed_by: Mapping[str, Any]) -> int | None:
    """The index of the output item a reasoning item came before, if it is still there."""
    for n, output in enumerate(outputs):
        if followed_by.get("type") == "function_call":
            if output.get("call_id") == followed_by.get("callId"):
                return n
        elif followed_by.get("type") == "message" and output.get("role") == "assistant":
            return n
    return None


def _with_item_id(output: dict[str, Any], item_id: Any) -> dict[str, Any]:
    """An output item with the id the API gave it, as the API returned it."""
    if not isinstance(item_id, str):
        return output
    if output.get("type") == "function_call":
        return {**output, "id": item_id}
    text = output["content"][0]["text"]
    return {
        "type": "message",
        "id": item_id,
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


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
        self._raw_reasoning: set[str] = set()
        # A finished reasoning item's parts and metadata, ended once the next item shows which
        # item followed it (module docstring).
        self._pending: tuple[list[str], dict[str, Any]] | None = None
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
            if t == "response.reasoning_text.delta":
                self._raw_reasoning.add(rid)
            return [
                {"type": "reasoning-start", "id": rid},
                {"type": "reasoning-delta", "id": rid, "delta": event["delta"]},
            ]
        if t == "response.output_item.added":
            item = event["item"]
            parts = self._end_reasoning(item)
            if item.get("type") == "function_call":
                self._calls[item["id"]] = (item["call_id"], item["name"])
                parts.append(
                    {"type": "tool-input-start", "id": item["call_id"], "toolName": item["name"]}
                )
            return parts
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
            return [*self._end_reasoning(None), self._finish(event["response"])]
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
            parts: list[ModelPart] = []
            if not done:
                # No summary streamed (none was asked for): an empty part still carries the
                # item, so it can go back.
                done = [f"{item['id']}:0"]
                parts.append({"type": "reasoning-start", "id": done[0]})
            meta = {
                "itemId": item["id"],
                "reasoningEncryptedContent": item.get("encrypted_content"),
            }
            self._pending = (done, meta)
            return parts
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

    def _end_reasoning(self, following: Mapping[str, Any] | None) -> list[ModelPart]:
        """End the pending reasoning item's parts, noting the item that followed it."""
        if self._pending is None:
            return []
        rids, meta = self._pending
        self._pending = None
        if following is not None and following.get("type") == "function_call":
            meta["followedBy"] = {"type": "function_call", "id": following.get("id"),
                                  "callId": following.get("call_id")}  # fmt: skip
        elif following is not None and following.get("type") == "message":
            meta["followedBy"] = {"type": "message", "id": following.get("id")}
        parts: list[ModelPart] = []
        for n, rid in enumerate(rids):
            part_meta = dict(meta) if n == 0 else {"itemId": meta["itemId"]}
            if rid in self._raw_reasoning:
                part_meta["rawText"] = True
            parts.append({"type": "reasoning-end", "id": rid,
                          "providerMetadata": {"openai": part_meta}})  # fmt: skip
        return parts

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
