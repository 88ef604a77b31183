"""Render a run's chunks as terminal text: a pure fold from chunks to styled segments.

Text streams as it arrives; tool calls, results and errors get a line each; the chunks of a
nested run (``tool-output`` wrapping a whole chunk, PROTOCOL.md §5) are indented under their
tool, one level per depth; usage closes the run. No I/O here: ``cli`` prints the segments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from .stream import Chunk

__all__ = ("Segment", "StreamRenderer")

Segment = tuple[str, str]
"""A piece of text and its rich style."""


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class StreamRenderer:
    """Turns chunks into segments; keeps track of the open line so nesting stays readable."""

    _line_owner: tuple[int, str] | None = None
    _at_line_start: bool = True
    _names: dict[str, str] = field(default_factory=dict)

    def render(self, chunk: Chunk, depth: int = 0) -> list[Segment]:
        """The segments for one chunk (and, for ``tool-output``, the chunk it wraps)."""
        t = chunk.get("type", "")
        payload = chunk.get("payload") or {}
        if t == "tool-output":
            inner = payload.get("output")
            if isinstance(inner, dict) and "type" in inner:
                return self.render(inner, depth + 1)
            return self._line(depth + 1, f"· {_short(inner)}", "dim")
        if t in ("workflow-step-output",):
            inner = payload.get("output")
            if isinstance(inner, dict) and "type" in inner:
                return self.render(inner, depth + 1)
            return self._line(depth + 1, f"· {_short(inner)}", "dim")
        if t == "start":
            self._names[chunk.get("runId", "")] = str(payload.get("id", "agent"))
            if depth:
                return self._line(depth, f"▶ {payload.get('id', 'agent')}", "bold magenta")
            return []
        if t in ("text-delta", "reasoning-delta"):
            style = "" if t == "text-delta" else "italic dim"
            return self._inline(depth, chunk.get("runId", ""), payload.get("text", ""), style)
        if t == "tool-call":
            return self._line(
                depth, f"⚙ {payload.get('toolName')}({_short(payload.get('args'), 80)})", "cyan"
            )
        if t == "tool-result":
            return self._line(
                depth, f"✓ {payload.get('toolName')} → {_short(payload.get('result'))}", "green"
            )
        if t == "tool-error":
            message = (payload.get("error") or {}).get("message", "")
            return self._line(depth, f"✗ {payload.get('toolName')}: {message}", "red")
        if t.startswith("data-"):
            return self._line(depth, f"◆ {t} {_short(chunk.get('data'))}", "blue")
        if t == "error":
            message = (payload.get("error") or {}).get("message", "")
            return self._line(depth, f"error: {message}", "bold red")
        if t == "abort":
            return self._line(depth, "aborted", "bold yellow")
        if t == "finish" and depth == 0:
            usage = payload.get("totalUsage") or (payload.get("output") or {}).get("usage") or {}
            text = (
                f"usage: {usage.get('inputTokens', 0)} in, {usage.get('outputTokens', 0)} out, "
                f"{usage.get('totalTokens', 0)} total (every nested run included)"
            )
            return [*self._line(0, text, "bold"), ("\n", "")]
        if t in ("workflow-step-start", "workflow-step-result"):
            status = payload.get("status", "")
            mark = "▶" if status == "running" else "■"
            tail = f" → {_short(payload.get('output'))}" if status == "success" else ""
            if status == "failed":
                tail = f": {(payload.get('error') or {}).get('message', '')}"
            style = "red" if status == "failed" else "magenta"
            return self._line(depth, f"{mark} {payload.get('id')} {status}{tail}", style)
        if t == "workflow-step-suspended":
            suspended = _short(payload.get("suspendPayload"))
            return self._line(depth, f"⏸ {payload.get('id')} suspended: {suspended}", "yellow")
        if t == "workflow-finish" and depth == 0:
            usage = (payload.get("output") or {}).get("usage") or {}
            text = (
                f"workflow {payload.get('workflowStatus')}; usage: {usage.get('inputTokens', 0)} "
                f"in, {usage.get('outputTokens', 0)} out, {usage.get('totalTokens', 0)} total"
            )
            return [*self._line(0, text, "bold"), ("\n", "")]
        return []

    def _prefix(self, depth: int) -> str:
        return "  " + "│ " * (depth - 1) if depth else ""

    def _line(self, depth: int, text: str, style: str) -> list[Segment]:
        segments: list[Segment] = []
        if not self._at_line_start:
            segments.append(("\n", ""))
        segments.append((self._prefix(depth) + text + "\n", style))
        self._at_line_start = True
        self._line_owner = None
        return segments

    def _inline(self, depth: int, run_id: str, text: str, style: str) -> list[Segment]:
        segments: list[Segment] = []
        owner = (depth, run_id)
        if self._line_owner != owner:
            if not self._at_line_start:
                segments.append(("\n", ""))
            segments.append((self._prefix(depth), "dim"))
            self._line_owner = owner
        prefix = self._prefix(depth)
        if "\n" in text and depth:
            text = text.replace("\n", "\n" + prefix)
        segments.append((text, style))
        self._at_line_start = text.endswith("\n")
        return segments
