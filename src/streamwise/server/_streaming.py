"""The streaming response: a run's chunks, framed, with heartbeats and disconnect handling.

One response reads one run's chunk log from an offset (replay, then live) and writes framed
bytes. Chunks already in the log are framed in batches and written together, so a fast run costs
one socket write per batch, not per chunk. When the log has nothing new, the response waits for
the next chunk and sends a heartbeat after ``heartbeat_interval`` seconds of silence.

A client that goes away only stops *this reader*: the run has its own owner task and goes on
to its end (PROTOCOL.md §7); ``POST …/cancel`` is what stops a run. Streaming and the
disconnect watch run in one task group; whichever ends first cancels the other (as Starlette's
``StreamingResponse`` does).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..compat import UIStreamConverter
from ..stream import Chunk, RunOutput
from ._json import dumps
from ._records import RECORD_HEADERS, RECORD_SEPARATOR, record_error
from ._sse import SSE_DONE, SSE_HEADERS, SSE_HEARTBEAT, UI_STREAM_HEADERS, sse_error, sse_event

__all__ = (
    "ChunkStreamResponse",
    "Framing",
    "RecordFraming",
    "SSEFraming",
    "UIFraming",
)

_log = logging.getLogger("streamwise.server")

_BATCH = 512
_ERROR_MESSAGE = "the server failed while streaming this run"


class Framing(Protocol):
    """How one route puts chunks on the wire (sans-IO)."""

    headers: tuple[tuple[bytes, bytes], ...]
    heartbeat: bytes

    def encode(self, chunk: Chunk) -> bytes:
        """The bytes for one chunk (possibly empty)."""
        ...

    def end(self) -> bytes:
        """The bytes after the last chunk."""
        ...

    def error(self, message: str) -> bytes:
        """The bytes that end a stream that failed on the server side."""
        ...


class SSEFraming:
    """Mastra's agent SSE: ``data: <json>\\n\\n`` per chunk, ``data: [DONE]`` at the end."""

    headers = SSE_HEADERS
    heartbeat = SSE_HEARTBEAT

    def encode(self, chunk: Chunk) -> bytes:
        """One ``data:`` frame."""
        return b"data: " + dumps(chunk) + b"\n\n"

    def end(self) -> bytes:
        """``data: [DONE]``."""
        return SSE_DONE

    def error(self, message: str) -> bytes:
        """An ``error`` chunk frame, then ``[DONE]``."""
        return sse_error(message) + SSE_DONE


class RecordFraming:
    """Mastra's workflow records: ``JSON + "\\x1E"`` per chunk, no terminator."""

    headers = RECORD_HEADERS
    # An empty record: client-js skips it, and it keeps proxies from timing out.
    heartbeat = RECORD_SEPARATOR

    def encode(self, chunk: Chunk) -> bytes:
        """One record."""
        return dumps(chunk) + RECORD_SEPARATOR

    def end(self) -> bytes:
        """Nothing: the stream ends with the response."""
        return b""

    def error(self, message: str) -> bytes:
        """An ``error`` record."""
        return record_error(message)


class UIFraming:
    """The AI SDK UI message stream: converted parts as SSE, ``[DONE]`` at the end."""

    headers = UI_STREAM_HEADERS
    heartbeat = SSE_HEARTBEAT

    def __init__(self, converter: UIStreamConverter) -> None:
        self._converter = converter

    def encode(self, chunk: Chunk) -> bytes:
        """The frames of the parts one chunk becomes."""
        parts = self._converter.convert(chunk)
        if not parts:
            return b""
        if len(parts) == 1:
            return b"data: " + dumps(parts[0]) + b"\n\n"
        return b"".join([b"data: " + dumps(p) + b"\n\n" for p in parts])

    def end(self) -> bytes:
        """The parts that close the message (if the run did not), then ``[DONE]``."""
        return b"".join([sse_event(p) for p in self._converter.close()]) + SSE_DONE

    def error(self, message: str) -> bytes:
        """A UI ``error`` part, then ``[DONE]``."""
        return sse_event({"type": "error", "errorText": message}) + SSE_DONE


class ChunkStreamResponse(Response):
    """An ASGI response streaming ``run`` from ``offset`` in ``framing``.

    Args:
        run: the run to stream.
        framing: how chunks go on the wire.
        offset: the first chunk to send (``observe`` replays from there).
        heartbeat_interval: seconds of silence before a heartbeat; 0 for none.
    """

    def __init__(
        self,
        run: RunOutput,
        framing: Framing,
        *,
        offset: int = 0,
        heartbeat_interval: float = 15.0,
        extra_headers: tuple[tuple[bytes, bytes], ...] = (),
    ) -> None:
        # Not Response.__init__: there is no body to render; only what Starlette reads.
        self.status_code = 200
        self.background = None
        self.run = run
        self.framing = framing
        self.offset = offset
        self.heartbeat_interval = heartbeat_interval
        self.extra_headers = extra_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with asyncio.TaskGroup() as tg:
            streaming = tg.create_task(self._stream(send), name=f"stream:{self.run.run_id}")
            watching = tg.create_task(self._watch_disconnect(receive), name="watch-disconnect")
            streaming.add_done_callback(lambda _: watching.cancel())
            watching.add_done_callback(lambda _: streaming.cancel())

    async def _watch_disconnect(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return

    async def _stream(self, send: Send) -> None:
        framing = self.framing
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*framing.headers, *self.extra_headers],
            }
        )
        try:
            tail = await self._body(send)
        except OSError:
            return  # the client is gone; the run goes on
        try:
            await send({"type": "http.response.body", "body": tail, "more_body": False})
        except OSError:
            return

    async def _body(self, send: Send) -> bytes:
        """Send every chunk's frames; return the closing bytes."""
        framing = self.framing
        encode = framing.encode
        run = self.run
        pos = self.offset
        it = aiter(run.read(pos))
        buf: list[bytes] = []
        try:
            while True:
                if pos < run.statistics().chunks:
                    chunk = await anext(it)  # already in the log: returns at once
                else:
                    if buf:
                        await send(
                            {"type": "http.response.body", "body": b"".join(buf), "more_body": True}
                        )
                        buf = []
                    next_chunk = await self._next(it, send)
                    if next_chunk is None:
                        break
                    chunk = next_chunk
                pos += 1
                try:
                    buf.append(encode(chunk))
                except TypeError:
                    # A chunk with no JSON form (a tool wrote an object orjson cannot encode):
                    # the client gets a generic error frame, the details go to the server log.
                    _log.exception("could not encode chunk %d of run %s", pos - 1, run.run_id)
                    return b"".join(buf) + framing.error(_ERROR_MESSAGE)
                if len(buf) >= _BATCH:
                    await send(
                        {"type": "http.response.body", "body": b"".join(buf), "more_body": True}
                    )
                    buf = []
        finally:
            await _close(it)
        return b"".join(buf) + framing.end()

    async def _next(self, it: AsyncIterator[Chunk], send: Send) -> Chunk | None:
        """The next chunk (None at the end), sending heartbeats while none comes."""
        interval = self.heartbeat_interval
        if interval <= 0:
            return await _anext(it)
        waiting = asyncio.ensure_future(_anext(it))
        try:
            while True:
                done, _ = await asyncio.wait({waiting}, timeout=interval)
                if done:
                    return waiting.result()
                await send(
                    {
                        "type": "http.response.body",
                        "body": self.framing.heartbeat,
                        "more_body": True,
                    }
                )
        finally:
            if not waiting.done():
                waiting.cancel()
                # wait() never raises the task's own outcome; our own cancellation propagates.
                await asyncio.wait({waiting})


async def _anext(it: AsyncIterator[Chunk]) -> Chunk | None:
    """The next chunk, or None at the end (a task cannot carry StopAsyncIteration well)."""
    return await anext(it, None)


async def _close(it: Any) -> None:
    aclose = getattr(it, "aclose", None)
    if aclose is not None:
        await aclose()
