"""A minimal HTTP/1.1 server on loopback that replays recorded provider responses.

The official SDKs are pointed at ``http://127.0.0.1:<port>`` and parse real bytes: a transcript
(``tests/models/transcripts/*.http``) is a status line, headers, a blank line and the body exactly
as the provider sends it. Event streams go out with ``Transfer-Encoding: chunked``, one HTTP chunk
per server-sent event, as the providers do; other bodies with ``Content-Length``.

A :class:`Reply` can also cut the connection after some events (a dropped stream) or hold it open
after some events until the client closes it (cancellation).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

__all__ = ("Reply", "Request", "WireServer", "load_transcript", "sse_events")

TRANSCRIPTS = Path(__file__).parent / "transcripts"
_DROPPED_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})


@dataclass(slots=True)
class Reply:
    """One HTTP response to send."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    cut_after: int | None = None
    """Close the socket after this many events, without ending the chunked body."""
    hold_after: int | None = None
    """Send this many events, then wait until the client closes the connection."""

    @property
    def is_event_stream(self) -> bool:
        return any(
            k.lower() == "content-type" and v.startswith("text/event-stream")
            for k, v in self.headers
        )

    def cut(self, after: int) -> Reply:
        """This reply, dropped after ``after`` events."""
        return replace(self, cut_after=after)

    def hold(self, after: int) -> Reply:
        """This reply, held open after ``after`` events until the client goes away."""
        return replace(self, hold_after=after)


@dataclass(slots=True)
class Request:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


def load_transcript(name: str) -> Reply:
    """Parse ``transcripts/<name>.http``: status line, headers, blank line, body."""
    raw = (TRANSCRIPTS / f"{name}.http").read_bytes()
    head, _, body = raw.partition(b"\n\n")
    lines = head.decode().splitlines()
    _, status, reason = lines[0].split(" ", 2)
    headers = []
    for line in lines[1:]:
        key, _, value = line.partition(":")
        if key.lower() not in _DROPPED_HEADERS:
            headers.append((key, value.strip()))
    return Reply(status=int(status), reason=reason, headers=headers, body=body)


def sse_events(body: bytes) -> list[bytes]:
    """A server-sent-event body split into its events, each with its terminating blank line."""
    return [e + b"\n\n" for e in body.split(b"\n\n") if e.strip()]


@dataclass
class WireServer:
    """Serve queued replies, in order, one per request; record every request.

    Use as ``async with WireServer() as server:``; ``server.base_url`` is its address.
    """

    replies: list[Reply] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    held_closed: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the client closed a connection the server was holding open."""
    _server: asyncio.Server | None = None
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def queue(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies``, in order."""
        self.replies.extend(replies)

    async def __aenter__(self) -> WireServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        # Closing each connection ends its handler (it reads EOF); cancelling would be logged.
        for writer in list(self._writers):
            writer.transport.abort()
        await asyncio.gather(*self._handlers)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        try:
            while await self._serve_one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._handlers.discard(task)
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; False when the connection is done."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await reader.readexactly(length) if length else b""
        self.requests.append(Request(method=method, path=path, headers=headers, body=body))
        if not self.replies:
            reply = Reply(599, "No Reply Queued", [("content-type", "text/plain")], b"none")
        else:
            reply = self.replies.pop(0)
        return await self._send(reply, reader, writer)

    async def _send(
        self, reply: Reply, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        head = [f"HTTP/1.1 {reply.status} {reply.reason}"]
        head += [f"{k}: {v}" for k, v in reply.headers]
        if not reply.is_event_stream:
            head.append(f"content-length: {len(reply.body)}")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + reply.body)
            await writer.drain()
            return True
        head.append("transfer-encoding: chunked")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        for n, event in enumerate(sse_events(reply.body)):
            if n == reply.cut_after:
                await writer.drain()
                return False  # the handler closes the socket mid-body
            if n == reply.hold_after:
                await writer.drain()
                while await reader.read(65536):
                    pass
                self.held_closed.set()
                return False
            writer.write(b"%x\r\n%s\r\n" % (len(event), event))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True
