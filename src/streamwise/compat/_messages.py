"""Stored messages → AI SDK ``UIMessage``s, so a ``useChat`` front end can reload a thread.

Sans-IO and pure: dicts in, dicts out. Stored parts (PROTOCOL.md §9) map to AI SDK v5+ UI parts:

=====================================  =====================================================
stored part                            UI part
=====================================  =====================================================
``text`` / ``reasoning``               ``text`` / ``reasoning`` (``state: done``)
``tool-invocation`` (call)             ``tool-<name>`` ``state: input-available``
``tool-invocation`` (result)           ``tool-<name>`` ``state: output-available``, ``output``
``tool-invocation`` (``isError``)      ``tool-<name>`` ``state: output-error``, ``errorText``
``step-start``                         ``step-start``
``source`` (url / document)            ``source-url`` / ``source-document``
``file``                               ``file`` (``url`` as a data URL, ``mediaType``)
``data-*``                             ``data-*`` (``id``, ``data``)
=====================================  =====================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ("to_ai_sdk_messages", "to_ai_sdk_parts")

UIMessage = dict[str, Any]

_ROLES = frozenset({"system", "user", "assistant"})


def to_ai_sdk_messages(messages: Iterable[Mapping[str, Any]]) -> list[UIMessage]:
    """``{id, role, parts, metadata?}`` for each stored message (``content`` a list of parts or
    a string). Tool-role messages and user or system messages left without parts are skipped,
    since ``useChat`` rejects them."""
    out: list[UIMessage] = []
    for i, message in enumerate(messages):
        role = message.get("role")
        if role not in _ROLES:
            continue
        parts = to_ai_sdk_parts(message.get("content") or [])
        if not parts and role != "assistant":
            continue
        ui: UIMessage = {"id": str(message.get("id") or f"msg-{i}"), "role": role, "parts": parts}
        metadata = message.get("metadata")
        if metadata:
            ui["metadata"] = dict(metadata)
        out.append(ui)
    return out


def to_ai_sdk_parts(content: str | Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The UI parts for one message's stored content (unknown part types are dropped)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content, "state": "done"}]
    parts: list[dict[str, Any]] = []
    for part in content:
        ui = _part(part)
        if ui is not None:
            parts.append(ui)
    return parts


def _part(part: Mapping[str, Any]) -> dict[str, Any] | None:
    t = part.get("type")
    if t == "text" or t == "reasoning":
        out: dict[str, Any] = {"type": t, "text": str(part.get("text") or ""), "state": "done"}
        if isinstance(part.get("providerMetadata"), Mapping):
            out["providerMetadata"] = dict(part["providerMetadata"])
        return out
    if t == "step-start":
        return {"type": "step-start"}
    if t == "tool-invocation":
        return _tool(part)
    if t == "source":
        return _source(part.get("source") or {})
    if t == "file":
        return _file(part)
    if isinstance(t, str) and t.startswith("data-"):
        ui: dict[str, Any] = {"type": t, "data": part.get("data")}
        if part.get("id") is not None:
            ui["id"] = str(part["id"])
        return ui
    return None


def _tool(part: Mapping[str, Any]) -> dict[str, Any]:
    inv = part.get("toolInvocation") or part
    name = str(inv.get("toolName") or "unknown")
    ui: dict[str, Any] = {
        "type": f"tool-{name}",
        "toolCallId": str(inv.get("toolCallId") or ""),
        "input": inv.get("args"),
    }
    if inv.get("state") != "result":
        ui["state"] = "input-available"
    elif part.get("isError"):
        ui["state"] = "output-error"
        ui["errorText"] = _error_text(inv.get("result"))
    else:
        ui["state"] = "output-available"
        ui["output"] = inv.get("result")
    return ui


def _error_text(result: Any) -> str:
    error = result.get("error") if isinstance(result, Mapping) else result
    if isinstance(error, Mapping):
        return str(error.get("message") or error.get("name") or "tool error")
    return str(error) if error is not None else "tool error"


def _source(source: Mapping[str, Any]) -> dict[str, Any] | None:
    sid = str(source.get("id") or "")
    if source.get("sourceType") == "document":
        ui: dict[str, Any] = {
            "type": "source-document",
            "sourceId": sid,
            "mediaType": str(source.get("mimeType") or "application/octet-stream"),
            "title": str(source.get("title") or source.get("filename") or ""),
        }
        if source.get("filename"):
            ui["filename"] = str(source["filename"])
        return ui
    if not source.get("url"):
        return None
    ui = {"type": "source-url", "sourceId": sid, "url": str(source["url"])}
    if source.get("title"):
        ui["title"] = str(source["title"])
    return ui


def _file(part: Mapping[str, Any]) -> dict[str, Any]:
    media = str(part.get("mimeType") or part.get("mediaType") or "application/octet-stream")
    data = str(part.get("data") or part.get("url") or "")
    url = (
        data if data.startswith(("data:", "http://", "https://")) else f"data:{media};base64,{data}"
    )
    ui: dict[str, Any] = {"type": "file", "mediaType": media, "url": url}
    if part.get("filename"):
        ui["filename"] = str(part["filename"])
    return ui
