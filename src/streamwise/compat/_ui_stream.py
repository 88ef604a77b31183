"""Streamwise chunks → AI SDK UI message stream parts (PROTOCOL.md §8), sans-IO.

:class:`UIStreamConverter` folds one chunk at a time and returns the UI parts to send, so it is
pure and tested without an event loop; :func:`to_ai_sdk_stream` is a thin async loop over it.

What the client (``useChat`` → ``processUIMessageStream``) enforces, and so what the converter
guarantees whatever order or offset it is fed from:

- a ``text-delta`` / ``reasoning-delta`` needs a ``*-start`` with the same id first (one is
  synthesised when the start was missed, e.g. when observing from an offset);
- a ``tool-output-available`` / ``tool-output-error`` needs a tool input part with the same
  ``toolCallId`` (a ``tool-input-available`` is synthesised from the result's ``args``);
- ``finishReason`` is one of ``stop, length, content-filter, tool-calls, error, other``.

Nested runs: every ``tool-output`` (or ``workflow-step-output``) whose ``output`` is a whole chunk
of a child run feeds a small per-child accumulator, at any depth. A child agent becomes a
``data-tool-agent`` part and a child workflow a ``data-tool-workflow`` part, each with ``id`` = the
child's runId, so the client replaces the part in place. Updates are *bounded*: one at the child's
structural events (start, a text or reasoning block's end, a tool call or result, a step's end,
the finish) and otherwise at most one per ``nested_update_every`` child deltas — never a whole
snapshot per child chunk (Mastra's way, which runs out of memory on long sub-agents, #14932).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal

from ..stream import Chunk, RunOutput
from ._ui_runs import (
    AgentProgress,
    UIPart,
    WorkflowProgress,
    error_text,
    finish_reason,
    is_nested_chunk,
)

__all__ = ("UIPart", "UIStreamConverter", "to_ai_sdk_stream")

StreamKind = Literal["agent", "workflow"]


class UIStreamConverter:
    """Fold streamwise chunks into AI SDK UI message stream parts, one chunk at a time.

    Args:
        from_: ``"agent"`` for an agent run, ``"workflow"`` for a workflow run (whose events
            become ``data-workflow`` parts).
        message_id: the ``messageId`` of the ``start`` part of a workflow stream (an agent
            stream uses its own ``start`` chunk's).
        nested_update_every: the most child deltas folded into a nested run's part between
            two updates of it.
    """

    def __init__(
        self,
        *,
        from_: StreamKind = "agent",
        message_id: str | None = None,
        nested_update_every: int = 32,
    ) -> None:
        if from_ not in ("agent", "workflow"):
            raise ValueError(f"from_ must be 'agent' or 'workflow', got {from_!r}")
        if nested_update_every < 1:
            raise ValueError("nested_update_every must be ≥ 1")
        self.kind: StreamKind = from_
        self._message_id = message_id
        self._every = nested_update_every
        self._started = False
        self._ended = False
        self._open_text: set[str] = set()
        self._open_reasoning: set[str] = set()
        self._tool_inputs: set[str] = set()
        self._agents: dict[str, AgentProgress] = {}
        self._workflows: dict[str, WorkflowProgress] = {}
        self._workflow: WorkflowProgress | None = None

    @property
    def ended(self) -> bool:
        """True once a terminal part (``finish``, ``error`` or ``abort``) was produced."""
        return self._ended

    def convert(self, chunk: Chunk) -> list[UIPart]:
        """The UI parts for one chunk (often one, sometimes none or several)."""
        if self._ended:
            return []
        t = chunk.get("type")
        if not isinstance(t, str):
            return []
        if t.startswith("data-"):
            return [self._data_part(chunk)]
        if self.kind == "workflow":
            return self._workflow_chunk(t, chunk)
        return self._agent_chunk(t, chunk)

    def close(self) -> list[UIPart]:
        """The parts that end a stream whose run stopped without a terminal chunk."""
        if self._ended:
            return []
        self._ended = True
        parts = self._ensure_started()
        parts.append({"type": "finish"} if self.kind == "workflow" else _finish_part("other"))
        return parts

    # -- agent runs --------------------------------------------------------------------------

    def _agent_chunk(self, t: str, chunk: Chunk) -> list[UIPart]:
        payload = chunk.get("payload")
        p: Mapping[str, Any] = payload if isinstance(payload, Mapping) else {}
        if t == "text-delta" and self._started:
            tid = p.get("id", "")
            part: UIPart = {"type": "text-delta", "id": tid, "delta": p.get("text", "")}
            if tid in self._open_text:
                return [part]
            self._open_text.add(tid)
            return [{"type": "text-start", "id": tid}, part]
        if t == "tool-output":
            return self._nested(p.get("output"))
        if t == "start":
            if self._started:
                return []
            self._started = True
            mid = p.get("messageId")
            return [
                {"type": "start", "messageId": mid} if isinstance(mid, str) else {"type": "start"}
            ]
        parts = self._ensure_started()
        if t == "text-delta":
            tid = str(p.get("id", ""))
            if tid not in self._open_text:
                self._open_text.add(tid)
                parts.append({"type": "text-start", "id": tid})
            parts.append({"type": "text-delta", "id": tid, "delta": p.get("text", "")})
        elif t == "text-start":
            tid = str(p.get("id", ""))
            if tid not in self._open_text:
                self._open_text.add(tid)
                parts.append({"type": "text-start", "id": tid})
        elif t == "text-end":
            tid = str(p.get("id", ""))
            if tid in self._open_text:
                self._open_text.discard(tid)
                parts.append({"type": "text-end", "id": tid})
        elif t == "reasoning-delta":
            rid = str(p.get("id", ""))
            if rid not in self._open_reasoning:
                self._open_reasoning.add(rid)
                parts.append({"type": "reasoning-start", "id": rid})
            parts.append({"type": "reasoning-delta", "id": rid, "delta": p.get("text", "")})
        elif t == "reasoning-start":
            rid = str(p.get("id", ""))
            if rid not in self._open_reasoning:
                self._open_reasoning.add(rid)
                parts.append({"type": "reasoning-start", "id": rid})
        elif t == "reasoning-end":
            rid = str(p.get("id", ""))
            if rid in self._open_reasoning:
                self._open_reasoning.discard(rid)
                parts.append({"type": "reasoning-end", "id": rid})
        elif t == "step-start":
            parts.append({"type": "start-step"})
        elif t == "step-finish":
            parts.extend(self._close_blocks())
            parts.append({"type": "finish-step"})
        elif t == "tool-call-input-streaming-start":
            parts.extend(self._tool_input_start(p))
        elif t == "tool-call-delta":
            call_id = str(p.get("toolCallId", ""))
            if call_id not in self._tool_inputs:
                parts.extend(self._tool_input_start(p))
            parts.append(
                {
                    "type": "tool-input-delta",
                    "toolCallId": call_id,
                    "inputTextDelta": p.get("argsTextDelta", ""),
                }
            )
        elif t == "tool-call":
            call_id = str(p.get("toolCallId", ""))
            self._tool_inputs.add(call_id)
            parts.append(
                {
                    "type": "tool-input-available",
                    "toolCallId": call_id,
                    "toolName": p.get("toolName", ""),
                    "input": p.get("args"),
                }
            )
        elif t == "tool-result":
            parts.extend(self._tool_input_for(p))
            parts.append(
                {
                    "type": "tool-output-available",
                    "toolCallId": p.get("toolCallId", ""),
                    "output": p.get("result"),
                }
            )
        elif t == "tool-error":
            parts.extend(self._tool_input_for(p))
            parts.append(
                {
                    "type": "tool-output-error",
                    "toolCallId": p.get("toolCallId", ""),
                    "errorText": error_text(p),
                }
            )
        elif t == "source":
            parts.append(_source_part(p))
        elif t == "file":
            mime = str(p.get("mimeType", "application/octet-stream"))
            parts.append(
                {
                    "type": "file",
                    "url": f"data:{mime};base64,{p.get('data', '')}",
                    "mediaType": mime,
                }
            )
        elif t == "finish":
            reason = (p.get("stepResult") or {}).get("reason")
            parts.extend(self._close_blocks())
            parts.append(_finish_part(finish_reason(reason)))
            self._ended = True
        elif t == "error":
            parts.extend(self._close_blocks())
            parts.append({"type": "error", "errorText": error_text(p)})
            self._ended = True
        elif t == "abort":
            parts.extend(self._close_blocks())
            parts.append({"type": "abort"})
            self._ended = True
        elif t in ("tool-call-approval", "tool-call-suspended"):
            # A call waiting for a human. AI SDK 5 has no approval part of its own, so it goes
            # as a data part (every version accepts those), keyed by the call: a UI shows
            # approve / decline, then posts to /api/agents/:id/approve-tool-call (docs/server.md).
            parts.append({"type": f"data-{t}", "id": str(p.get("toolCallId", "")), "data": dict(p)})
        elif t == "tripwire":
            # A deliberate stop (a guardrail): say why, then end like any finished message.
            parts.extend(self._close_blocks())
            parts.append({"type": "data-tripwire", "data": dict(p)})
            parts.append(_finish_part("other"))
            self._ended = True
        return parts

    def _ensure_started(self) -> list[UIPart]:
        if self._started:
            return []
        self._started = True
        self._message_id = self._message_id or str(uuid.uuid4())
        return [{"type": "start", "messageId": self._message_id}]

    def _close_blocks(self) -> list[UIPart]:
        parts: list[UIPart] = [{"type": "text-end", "id": i} for i in sorted(self._open_text)]
        parts += [{"type": "reasoning-end", "id": i} for i in sorted(self._open_reasoning)]
        self._open_text.clear()
        self._open_reasoning.clear()
        return parts

    def _tool_input_start(self, p: Mapping[str, Any]) -> list[UIPart]:
        call_id = str(p.get("toolCallId", ""))
        if call_id in self._tool_inputs:
            return []
        self._tool_inputs.add(call_id)
        return [
            {
                "type": "tool-input-start",
                "toolCallId": call_id,
                "toolName": p.get("toolName", ""),
                "dynamic": False,
            }
        ]

    def _tool_input_for(self, p: Mapping[str, Any]) -> list[UIPart]:
        call_id = str(p.get("toolCallId", ""))
        if call_id in self._tool_inputs:
            return []
        self._tool_inputs.add(call_id)
        return [
            {
                "type": "tool-input-available",
                "toolCallId": call_id,
                "toolName": p.get("toolName", ""),
                "input": p.get("args"),
            }
        ]

    # -- nested runs -----------------------------------------------------------------------

    def _nested(self, output: Any) -> list[UIPart]:
        """The parts for one value a tool or step wrote: a nested chunk, a data chunk, or else."""
        if isinstance(output, dict):
            t = output.get("type")
            if isinstance(t, str) and t.startswith("data-") and "data" in output:
                return [*self._ensure_started(), self._data_part(output)]
        if not is_nested_chunk(output):
            # A plain value written by a tool or a step has no UI part of its own.
            return []
        parts = self._ensure_started()
        t = output["type"]
        run_id = output["runId"]
        if t in ("tool-output", "workflow-step-output"):
            # A child's own writer output: walk down to the chunk's origin (PROTOCOL.md §5).
            inner = output.get("payload")
            if isinstance(inner, Mapping):
                parts.extend(self._nested(inner.get("output")))
            return parts
        if output["from"] == "WORKFLOW" and t.startswith("workflow-"):
            wf = self._workflows.get(run_id)
            if wf is None:
                wf = self._workflows[run_id] = WorkflowProgress(run_id)
            parts.extend(wf.fold(output, "data-tool-workflow"))
            return parts
        agent = self._agents.get(run_id)
        if agent is None:
            agent = self._agents[run_id] = AgentProgress(run_id)
        if agent.fold(output, self._every):
            parts.append(agent.part())
        return parts

    # -- workflow runs -----------------------------------------------------------------------

    def _workflow_chunk(self, t: str, chunk: Chunk) -> list[UIPart]:
        parts = self._ensure_started()
        payload = chunk.get("payload")
        p: Mapping[str, Any] = payload if isinstance(payload, Mapping) else {}
        if t == "workflow-step-output":
            parts.extend(self._nested(p.get("output")))
            return parts
        if t == "error":
            parts.append({"type": "error", "errorText": error_text(p)})
            self._ended = True
            return parts
        if self._workflow is None:
            self._workflow = WorkflowProgress(str(chunk.get("runId", "")))
        parts.extend(self._workflow.fold(chunk, "data-workflow"))
        if t == "workflow-finish":
            parts.append({"type": "finish"})
            self._ended = True
        return parts

    # -- data chunks -------------------------------------------------------------------------

    @staticmethod
    def _data_part(chunk: Mapping[str, Any]) -> UIPart:
        part: UIPart = {"type": chunk["type"], "data": chunk.get("data")}
        if "id" in chunk:
            part["id"] = chunk["id"]
        if "transient" in chunk:
            part["transient"] = chunk["transient"]
        return part


def _finish_part(reason: str) -> UIPart:
    return {"type": "finish", "finishReason": reason}


def _source_part(p: Mapping[str, Any]) -> UIPart:
    source_id = str(p.get("id", ""))
    if p.get("sourceType") == "document":
        part: UIPart = {
            "type": "source-document",
            "sourceId": source_id,
            "mediaType": str(p.get("mimeType", "application/octet-stream")),
            "title": str(p.get("title", "")),
        }
        if p.get("filename"):
            part["filename"] = p["filename"]
        return part
    part = {"type": "source-url", "sourceId": source_id, "url": str(p.get("url", ""))}
    if p.get("title"):
        part["title"] = p["title"]
    return part


async def to_ai_sdk_stream(
    stream: RunOutput,
    from_: StreamKind = "agent",
    *,
    offset: int = 0,
    message_id: str | None = None,
    nested_update_every: int = 32,
) -> AsyncIterator[UIPart]:
    """Yield the AI SDK UI message stream parts of a run, live (PROTOCOL.md §8).

    Args:
        stream: an agent's or a workflow's output object.
        from_: ``"agent"`` or ``"workflow"``: how the run's own chunks are converted.
        offset: the first chunk to convert (replay starts there).
        message_id: the ``start`` part's ``messageId`` for a workflow stream.
        nested_update_every: see :class:`UIStreamConverter`.
    """
    converter = UIStreamConverter(
        from_=from_, message_id=message_id, nested_update_every=nested_update_every
    )
    chunks = stream.read(offset)
    try:
        async for chunk in chunks:
            for part in converter.convert(chunk):
                yield part
            if converter.ended:
                return
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
    for part in converter.close():
        yield part
