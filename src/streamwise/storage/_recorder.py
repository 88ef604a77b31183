"""``MessageRecorder``: folds a run's chunks into the assistant message that is stored (§9).

Sans-IO: no event loop, no database; ``feed(chunk)`` for every chunk the run writes, then
``message()``. The rules (PROTOCOL.md §9):

- ``text-*`` / ``reasoning-*`` become ``text`` / ``reasoning`` parts (one per start…end);
- ``step-start`` becomes a ``step-start`` part (the step boundary the model history needs);
- ``tool-call`` becomes ``{type: 'tool-invocation', toolInvocation: {state: 'call', toolCallId,
  toolName, args}}``, completed by ``tool-result`` (``state: 'result', result``) or by
  ``tool-error`` (``state: 'result', result: {error}, isError: true``);
- ``tool-output`` is never stored (the tool's result is); nested runs keep their own logs;
- top-level ``data-*`` chunks are stored as ``{type, data, id?}`` unless ``transient``; a later
  one with the same type and id replaces the earlier (as the AI SDK reconciles them);
- ``source`` / ``file`` become ``{type: 'source', source}`` / ``{type: 'file', mimeType, data}``;
- the terminal chunk sets the status: ``finish`` → ``success``, ``error`` → ``failed``,
  ``abort`` → ``canceled``, a ``finish`` whose reason is ``suspended`` (waiting for approval or
  resume data) → ``suspended``; a run that ends with none (its process died) is
  ``interrupted``.
  Anything but ``success`` keeps what arrived and marks the message ``partial``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..stream import Chunk
from ._records import Part, RunStatus

__all__ = ("MessageRecorder",)


class _Buffer:
    """A text or reasoning part still receiving deltas (joined once, at the end).

    ``pieces`` holds texts, and, once ``nested``, whole lists of texts (a stored stretch's,
    kept as they come: a step whose text is taken from its ``step-finish`` never reads them).
    """

    __slots__ = ("kind", "metadata", "nested", "pieces")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.pieces: list[Any] = []
        self.nested = False
        self.metadata: dict[str, Any] | None = None  # the provider's, from reasoning-end

    def text(self) -> str:
        """The part's text."""
        if not self.nested:
            return "".join(self.pieces)
        return "".join([p if type(p) is str else "".join(p) for p in self.pieces])


_TERMINAL: dict[str, RunStatus] = {
    "finish": "success",
    "error": "failed",
    "abort": "canceled",
    "tripwire": "tripwire",
}


class MessageRecorder:
    """Folds one agent run's chunks into its assistant message.

    Args:
        run_id: the run (stored in the message metadata).
        message_id: the message id; by default the ``messageId`` of the ``start`` chunk.
    """

    __slots__ = (
        "_data",
        "_items",
        "_open",
        "_step_texts",
        "_tools",
        "error",
        "finish_reason",
        "message_id",
        "run_id",
        "status",
        "usage",
    )

    def __init__(self, *, run_id: str | None = None, message_id: str | None = None) -> None:
        self.run_id = run_id
        self.message_id = message_id
        self.status: RunStatus = "running"
        self.error: Any = None
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self._items: list[Part | _Buffer] = []
        self._open: dict[str, _Buffer] = {}
        self._tools: dict[str, Part] = {}
        self._data: dict[tuple[str, str], int] = {}
        # The text parts begun in the current step, or None when the step began with a text
        # part still open (see _step_finish).
        self._step_texts: list[_Buffer] | None = None

    def feed(self, chunk: Chunk) -> None:
        """Fold one chunk (any chunk of the run; unknown types are ignored)."""
        t = chunk.get("type")
        if t == "text-delta" or t == "reasoning-delta":
            payload = chunk["payload"]
            key = f"{t[0]}:{payload['id']}"
            buf = self._open.get(key)
            if buf is None:
                buf = self._start("text" if t == "text-delta" else "reasoning", key)
            buf.pieces.append(payload["text"])
        elif t == "text-start" or t == "reasoning-start":
            self._start(t[:-6], f"{t[0]}:{chunk['payload']['id']}")
        elif t == "text-end" or t == "reasoning-end":
            payload = chunk["payload"]
            ended = self._open.pop(f"{t[0]}:{payload['id']}", None)
            meta = payload.get("providerMetadata")
            if meta:
                if ended is None:  # a block with no text (redacted thinking): still kept
                    ended = self._start("reasoning", f"r:{payload['id']}")
                    self._open.pop(f"r:{payload['id']}", None)
                ended.metadata = meta
        elif t == "step-start":
            self._items.append({"type": "step-start"})
            self._step_texts = None if any(b.kind == "text" for b in self._open.values()) else []
        elif t == "step-finish":
            self._step_finish(chunk)
        elif t == "tool-call":
            self._tool_call(chunk["payload"])
        elif t == "tool-result" or t == "tool-error":
            self._tool_end(chunk["payload"], error=t == "tool-error")
        elif isinstance(t, str) and t.startswith("data-"):
            self._data_part(chunk)
        elif t == "source":
            self._items.append({"type": "source", "source": dict(chunk.get("payload") or {})})
        elif t == "file":
            payload = chunk.get("payload") or {}
            part: Part = {
                "type": "file",
                "mimeType": payload.get("mimeType"),
                "data": payload.get("data"),
            }
            if payload.get("filename"):
                part["filename"] = payload["filename"]
            self._items.append(part)
        elif t == "start":
            if self.message_id is None:
                self.message_id = (chunk.get("payload") or {}).get("messageId")
            if self.run_id is None:
                self.run_id = chunk.get("runId")
        elif t in _TERMINAL:
            self._terminal(t, chunk.get("payload") or {})

    def feed_many(self, chunks: Iterable[Chunk]) -> None:
        """Fold many chunks: the same as ``feed`` on each, with a fast path for stretches of
        deltas of one text part (what a long answer mostly is). Also takes an event log's
        stored (packed) items, whose ``{"~td": [runId, from, id, texts]}`` stand for a stretch
        of ``text-delta`` chunks."""
        feed = self.feed
        pieces: list[Any] | None = None
        current: Any = None
        for chunk in chunks:
            t = chunk.get("type")
            if t == "text-delta":
                payload = chunk["payload"]
                if pieces is not None and payload["id"] == current:
                    pieces.append(payload["text"])
                    continue
                feed(chunk)
                current = payload["id"]
                pieces = self._open[f"t:{current}"].pieces
            elif t is None and "~td" in chunk:
                part_id, texts = chunk["~td"][2:]
                key = f"t:{part_id}"
                buf = self._open.get(key) or self._start("text", key)
                buf.pieces.append(texts)
                buf.nested = True
                current, pieces = part_id, buf.pieces
            else:
                feed(chunk)
                pieces = None

    def _start(self, kind: str, key: str) -> _Buffer:
        buf = _Buffer(kind)
        self._open[key] = buf
        self._items.append(buf)
        if kind == "text" and self._step_texts is not None:
            self._step_texts.append(buf)
        return buf

    def _step_finish(self, chunk: Chunk) -> None:
        """A step whose text is one part: that part's text is the step's, which the agent
        joined already (``step-finish``'s ``output.text`` is every text delta of the step,
        in order), so its pieces need not be joined again."""
        texts, self._step_texts = self._step_texts, None
        if texts is None or len(texts) != 1 or chunk.get("runId") != self.run_id:
            return
        text = ((chunk.get("payload") or {}).get("output") or {}).get("text")
        if isinstance(text, str):
            buf = texts[0]
            buf.pieces, buf.nested = [text], False

    def _tool_call(self, payload: dict[str, Any]) -> None:
        call_id = payload["toolCallId"]
        part: Part = {
            "type": "tool-invocation",
            "toolInvocation": {
                "state": "call",
                "toolCallId": call_id,
                "toolName": payload["toolName"],
                "args": payload.get("args"),
            },
        }
        self._tools[call_id] = part
        self._items.append(part)

    def _tool_end(self, payload: dict[str, Any], *, error: bool) -> None:
        call_id = payload["toolCallId"]
        part = self._tools.get(call_id)
        if part is None:  # a result without its call (should not happen): keep it anyway
            self._tool_call(payload)
            part = self._tools[call_id]
        inv = part["toolInvocation"]
        inv["state"] = "result"
        if error:
            inv["result"] = {"error": payload.get("error")}
            part["isError"] = True
        else:
            inv["result"] = payload.get("result")

    def _data_part(self, chunk: Chunk) -> None:
        if chunk.get("transient"):
            return
        t = chunk["type"]
        part: Part = {"type": t, "data": chunk.get("data")}
        data_id = chunk.get("id")
        if data_id is not None:
            part["id"] = data_id
            key = (t, str(data_id))
            at = self._data.get(key)
            if at is not None:
                self._items[at] = part
                return
            self._data[key] = len(self._items)
        self._items.append(part)

    def _terminal(self, t: str, payload: dict[str, Any]) -> None:
        self.status = _TERMINAL[t]
        self._open.clear()
        if t == "finish":
            self.finish_reason = (payload.get("stepResult") or {}).get("reason")
            self.usage = (payload.get("output") or {}).get("usage")
            if self.finish_reason == "suspended":
                # The stream ended waiting for approval or resume data: not an answer yet.
                self.status = "suspended"
        elif t == "error":
            self.error = payload.get("error")
            self.finish_reason = "error"
        else:
            self.finish_reason = "abort"

    def finish(self, status: RunStatus | None = None) -> None:
        """End the message: with ``status``, or ``interrupted`` if no terminal chunk came."""
        if status is not None:
            self.status = status
        elif self.status == "running":
            self.status = "interrupted"
        self._open.clear()

    @property
    def partial(self) -> bool:
        """True unless the run finished normally."""
        return self.status != "success"

    def parts(self) -> list[Part]:
        """The message's parts as they are now (text joined; safe to store)."""
        out: list[Part] = []
        for item in self._items:
            if isinstance(item, _Buffer):
                part: Part = {"type": item.kind, "text": item.text()}
                if item.metadata:
                    part["providerMetadata"] = item.metadata
                out.append(part)
            elif item["type"] == "tool-invocation":
                inv = dict(item["toolInvocation"])
                copy: Part = {"type": "tool-invocation", "toolInvocation": inv}
                if item.get("isError"):
                    copy["isError"] = True
                out.append(copy)
            else:
                out.append(dict(item))
        return out

    def has_content(self) -> bool:
        """True when anything but step boundaries arrived (an empty answer is not stored)."""
        return any(isinstance(i, _Buffer) or i["type"] != "step-start" for i in self._items)

    def metadata(self) -> dict[str, Any]:
        """``{runId, status, partial, finishReason?, usage?, error?}``."""
        meta: dict[str, Any] = {
            "runId": self.run_id,
            "status": self.status,
            "partial": self.partial,
        }
        if self.finish_reason is not None:
            meta["finishReason"] = self.finish_reason
        if self.usage is not None:
            meta["usage"] = self.usage
        if self.error is not None:
            meta["error"] = self.error
        return meta
