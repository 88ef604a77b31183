"""The chunk log of one run: append-only, read by any number of replaying readers.

One producer (the run's owner task) appends; every reader starts at offset 0 (or any offset) and
follows live. Readers never slow the producer and never copy chunks. A reader that is cancelled
while waiting only drops its own waiter, so other readers are unaffected.

A stretch of chunks the producer can rebuild (an agent's text deltas, once its run has ended)
may be compacted (:meth:`ChunkLog.compact`): the log then holds a placeholder for each and a
reader gets a rebuilt chunk, equal to the one written but a new object.

By default the log holds every chunk of the run for as long as the run's output object lives:
that is what makes replay for several readers (and ``observe`` from an offset) possible, and it
is bounded by the run's own length, never by how slowly anyone reads. A log made with
``max_chunks`` keeps a replay window instead: when it holds more than ``max_chunks`` it drops the
oldest half, so memory stays bounded for runs of any length; a reader that fell behind the
window gets :class:`ChunkLogTruncatedError` (the run's stored event log still has everything).
``statistics()`` says how much is held and dropped.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..errors import ChunkLogTruncatedError
from ._chunks import Chunk

__all__ = ("ChunkLog", "LogStatistics")

#: What the log holds in place of a compacted chunk.
_COMPACTED: Chunk = {"type": "streamwise-compacted"}


class _Segment(NamedTuple):
    """A compacted stretch of text deltas: chunks ``start..start+size-1`` have the texts
    ``pieces[piece:piece+size]``."""

    start: int
    size: int
    run_id: str
    source: str
    part_id: Any
    pieces: list[str]
    piece: int


def _segment_start(segment: _Segment) -> int:
    return segment.start


@dataclass(frozen=True, slots=True)
class LogStatistics:
    """A snapshot of a :class:`ChunkLog`.

    Attributes:
        chunks: how many chunks were written (the offset the next one will have).
        readers_waiting: readers waiting for the next chunk.
        closed: True once the log is closed.
        held: how many chunks are in memory now.
        dropped: how many of the oldest chunks left the replay window.
        max_chunks: the replay window's size, or None for the whole run.
    """

    chunks: int
    readers_waiting: int
    closed: bool
    held: int = 0
    dropped: int = 0
    max_chunks: int | None = None


class ChunkLog:
    """Append-only chunk log with replaying, live-following readers."""

    __slots__ = ("_base", "_chunks", "_closed", "_max", "_segments", "_waiters", "on_drop")

    def __init__(self, max_chunks: int | None = None) -> None:
        if max_chunks is not None and max_chunks < 2:
            raise ValueError(f"max_chunks must be at least 2 (or None), got {max_chunks}")
        self._chunks: list[Chunk] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._closed = False
        self._max = max_chunks
        self._base = 0  # offset of _chunks[0]
        self._segments: list[_Segment] = []  # compacted stretches, in offset order
        #: Called with ``(start, stop)`` just before the chunks ``start..stop-1`` leave the
        #: replay window (while they can still be read): what the run's event log uses so
        #: that nothing is lost.
        self.on_drop: Callable[[int, int], None] | None = None

    def __len__(self) -> int:
        return self._base + len(self._chunks)

    @property
    def closed(self) -> bool:
        """True once the producer has closed the log: no chunk will follow."""
        return self._closed

    def append(self, chunk: Chunk) -> None:
        """Append one chunk and wake every waiting reader. Never blocks."""
        chunks = self._chunks
        chunks.append(chunk)
        if self._max is not None and len(chunks) > self._max:
            drop = len(chunks) - self._max // 2
            if self.on_drop is not None:
                self.on_drop(self._base, self._base + drop)
            del chunks[:drop]
            self._base += drop
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

    def _index(self, offset: int) -> int:
        index = offset - self._base
        if index < 0:
            raise ChunkLogTruncatedError(
                f"chunk {offset} has left the replay window of {self._max} chunks (the oldest "
                f"kept is {self._base}); read it from the run's stored event log"
            )
        return index

    async def wait_closed(self) -> None:
        """Wait until the log is closed (cancel-safe: only this waiter is dropped)."""
        while not self._closed:
            await self._next_append()

    async def _next_append(self) -> None:
        """Wait for the next append or the close. Cancelled (or closed) while waiting: only
        this waiter is dropped; others stay."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
            raise

    def compact_text(
        self,
        start: int,
        count: int,
        *,
        run_id: str,
        source: str,
        part_id: Any,
        pieces: list[str],
        index: int,
    ) -> None:
        """Let go of the chunks ``start..start+count-1``, a stretch of plain ``text-delta``
        chunks of one part whose texts are ``pieces[index:index+count]``: readers that come
        later get them rebuilt. Stretches are compacted in offset order; a log with a replay
        window is never compacted."""
        if self._max is not None or count <= 0:
            return
        self._chunks[start : start + count] = [_COMPACTED] * count
        self._segments.append(_Segment(start, count, run_id, source, part_id, pieces, index))

    def _segment(self, offset: int) -> _Segment:
        segments = self._segments
        return segments[bisect.bisect_right(segments, offset, key=_segment_start) - 1]

    def _rebuild(self, offset: int) -> Chunk:
        seg = self._segment(offset)
        text = seg.pieces[seg.piece + offset - seg.start]
        return {"type": "text-delta", "runId": seg.run_id, "from": seg.source,
                "payload": {"id": seg.part_id, "text": text}}  # fmt: skip

    def _whole(self, chunks: list[Chunk], first: int) -> list[Chunk]:
        """``chunks`` (from offset ``first``) with compacted ones rebuilt."""
        last = first + len(chunks)
        if not any(g.start < last and first < g.start + g.size for g in self._segments):
            return chunks
        return [
            c if c is not _COMPACTED else self._rebuild(first + i) for i, c in enumerate(chunks)
        ]

    def at(self, offset: int) -> Chunk | None:
        """The chunk at ``offset``, or None when it was not written or left the window."""
        index = offset - self._base
        if 0 <= index < len(self._chunks):
            chunk = self._chunks[index]
            return chunk if chunk is not _COMPACTED else self._rebuild(offset)
        return None

    def between(self, start: int, stop: int) -> list[Chunk]:
        """The chunks ``start..stop-1`` written so far.

        Raises:
            ChunkLogTruncatedError: ``start`` has left the replay window.
        """
        return self._whole(self._chunks[self._index(start) : max(stop - self._base, 0)], start)

    def snapshot(self, offset: int = 0) -> list[Chunk]:
        """The chunks from ``offset`` on, as they are now.

        Raises:
            ChunkLogTruncatedError: ``offset`` has left the replay window.
        """
        return self._whole(self._chunks[self._index(offset) :], offset)

    async def read(self, offset: int = 0) -> AsyncIterator[Chunk]:
        """Yield every chunk from ``offset``, then follow live until the log is closed.

        Raises:
            ChunkLogTruncatedError: the reader fell behind the replay window.
        """
        position = offset
        windowed = self._max is not None
        while True:
            chunks = self._chunks
            if windowed:
                base = self._base
                i = self._index(position)
                while i < len(chunks):
                    yield chunks[i]
                    i += 1
                    if self._base != base:  # the window moved while we were away
                        break
                position = base + i
            else:  # the hot path: nothing is ever dropped, offsets are indexes
                n = len(chunks)
                while position < n:
                    chunk = chunks[position]
                    if chunk is _COMPACTED:
                        # A compacted stretch: its chunks rebuilt, one lookup for all.
                        seg = self._segment(position)
                        run_id, source, part_id = seg.run_id, seg.source, seg.part_id
                        first = seg.piece + position - seg.start
                        for text in seg.pieces[first : seg.piece + seg.size]:
                            yield {"type": "text-delta", "runId": run_id, "from": source,
                                   "payload": {"id": part_id, "text": text}}  # fmt: skip
                        position = seg.start + seg.size
                        continue
                    yield chunk
                    position += 1
            if position < len(self):
                continue
            if self._closed:
                return
            await self._next_append()

    def statistics(self) -> LogStatistics:
        """How many chunks were written, are held and were dropped; who waits."""
        return LogStatistics(
            len(self), len(self._waiters), self._closed, len(self._chunks), self._base, self._max
        )
