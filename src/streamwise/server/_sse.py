"""Server-sent events framing (PROTOCOL.md §7): sans-IO, one orjson call per chunk.

``data: <one-line JSON>\\n\\n`` per chunk, ``data: [DONE]\\n\\n`` at the end, LF only, a space
after ``data:`` and no ``event:`` or ``id:`` line: ``@mastra/client-js`` splits on ``\\n\\n`` and
drops anything that does not start with ``data: ``. Comments (``: keep-alive``) are safe.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._json import dumps

__all__ = (
    "SSE_DONE",
    "SSE_HEADERS",
    "SSE_HEARTBEAT",
    "UI_STREAM_HEADERS",
    "sse_error",
    "sse_event",
    "sse_events",
)

SSE_DONE = b"data: [DONE]\n\n"
"""The last frame of every SSE stream."""

SSE_HEARTBEAT = b": keep-alive\n\n"
"""A comment frame sent on idle streams so proxies keep the connection open."""

SSE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"connection", b"keep-alive"),
    (b"x-accel-buffering", b"no"),
)
"""Headers of Mastra's agent SSE routes (``reference-traces/agent-stream.headers``)."""

UI_STREAM_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    *SSE_HEADERS,
    (b"x-vercel-ai-ui-message-stream", b"v1"),
)
"""Headers of the AI SDK UI message stream (``reference-traces/chat.headers``)."""


def sse_event(chunk: Any) -> bytes:
    """One ``data:`` frame for ``chunk``.

    Raises:
        TypeError: the chunk holds a value with no JSON form.
    """
    return b"data: " + dumps(chunk) + b"\n\n"


def sse_events(chunks: Iterable[Any]) -> bytes:
    """The frames of several chunks, joined (one write to the socket)."""
    return b"".join([b"data: " + dumps(c) + b"\n\n" for c in chunks])


def sse_error(message: str) -> bytes:
    """The error frame of a stream that failed on the server side (PROTOCOL.md §7)."""
    return sse_event({"type": "error", "payload": {"error": {"message": message}}})
