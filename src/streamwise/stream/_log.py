"""The chunk log of one run: append-only, read by any number of replaying readers.

One producer (the run's owner task) appends; every reader starts at offset 0 (or any offset) and
follows live. Readers never slow the producer and never copy chunks. A reader that is cancelled
while waiting only drops its own waiter, so other readers are unaffected.

The log holds every chunk of the run for as long as the run's output object lives: that is what
makes replay for several readers (and ``observe`` from an offset) possible. ``statistics()`` says
how much is held.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from ._chunks import Chunk

__all__ = ("ChunkLog", "LogStatistics")


@dataclass(frozen=True, slots=True)
class LogStatistics:
    """A snapshot of a :class:`ChunkLog`: how many chunks it holds and who waits on it."""

    chunks: int
    readers_waiting: int
    closed: bool


class ChunkLog:
    """Append-only chunk log with replaying, live-following readers."""

    __slots__ = ("_chunks", "_closed", "_waiters")

    def __init__(self) -> None:
        self._chunks: list[Chunk] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._closed = False

    def __len__(self) -> int:
        return len(self._chunks)

    @property
    def closed(self) -> bool:
        """True once the producer has closed the log: no chunk will follow."""
        return self._closed

    def append(self, chunk: Chunk) -> None:
        """Append one chunk and wake every waiting reader. Never blocks."""
        self._chunks.append(chunk)
        if self._waiters:
            self._wake()

    def close(self) -> None:
        """Mark the end of the log; readers finish once they have read everything."""
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    def snapshot(self, offset: int = 0) -> list[Chunk]:
        """The chunks from ``offset`` on, as they are now."""
        return self._chunks[offset:]

    async def read(self, offset: int = 0) -> AsyncIterator[Chunk]:
        """Yield every chunk from ``offset``, then follow live until the log is closed."""
        chunks = self._chunks
        i = offset
        while True:
            n = len(chunks)
            while i < n:
                yield chunks[i]
                i += 1
            if self._closed:
                if i >= len(chunks):
                    return
                continue
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                # Cancelled (or closed) while waiting: drop only our own waiter; others stay.
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
                raise

    def statistics(self) -> LogStatistics:
        """How many chunks are held and how many readers are waiting for the next one."""
        return LogStatistics(len(self._chunks), len(self._waiters), self._closed)
