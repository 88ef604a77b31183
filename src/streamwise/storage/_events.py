"""Run event logs: every chunk of a run, numbered, written in batches off the hot path.

The run's producer calls :meth:`RunEvents.append` (a list append, no I/O). A per-store flusher
task writes pending chunks as batches — one row per batch, chunks ``start_seq..end_seq-1`` as a
JSON array — when a batch fills or ``flush_interval`` after the first pending chunk. The run's
end hook flushes the rest, so a finished run's log is complete before its readers see the end.
``Store.read_events(run_id, offset)`` reads from any offset (``observe`` after a disconnect).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..stream import Chunk
from ._records import dumps

__all__ = ("EventLog", "RunEvents")

_log = logging.getLogger("streamwise.storage")

Row = dict[str, Any]


class RunEvents:
    """The chunks of one run not yet written, and the sequence number of the first of them."""

    __slots__ = ("_log", "next_seq", "pending", "run_id")

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.pending: list[Chunk] = []
        self.next_seq = 0
        self._log: EventLog | None = None

    def append(self, chunk: Chunk) -> None:
        """Queue one chunk (called by the producer for every chunk; never blocks)."""
        pending = self.pending
        pending.append(chunk)
        log = self._log
        if log is not None:
            n = len(pending)
            if n == 1 or n >= log.batch_size:
                log.notify(full=n >= log.batch_size)

    def take(self) -> tuple[int, list[Chunk]]:
        """Remove and return the pending chunks with the sequence number of the first."""
        start, batch = self.next_seq, self.pending
        self.pending = []
        self.next_seq = start + len(batch)
        return start, batch

    def put_back(self, start: int, batch: list[Chunk]) -> None:
        """Return a batch that could not be written (it goes first again)."""
        self.pending = batch + self.pending
        self.next_seq = start


class EventLog:
    """The flusher of one store: batches of every attached run's chunks into ``run_events``.

    Args:
        write: writes rows ``{run_id, start_seq, end_seq, chunks, created_at}`` in one
            transaction.
        batch_size: chunks per row; a full batch wakes the flusher at once.
        flush_interval: seconds to gather a burst before writing it.
    """

    def __init__(
        self,
        write: Callable[[list[Row]], Awaitable[None]],
        *,
        batch_size: int = 512,
        flush_interval: float = 0.05,
    ) -> None:
        self._write = write
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self._runs: dict[str, RunEvents] = {}
        self._wake = asyncio.Event()
        self._full = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def attach(self, events: RunEvents) -> None:
        """Start writing ``events`` (chunks queued before are written too)."""
        events._log = self
        self._runs[events.run_id] = events
        if events.pending:
            self.notify(full=len(events.pending) >= self.batch_size)

    def notify(self, *, full: bool) -> None:
        """Wake the flusher (at once when a batch is full)."""
        self._wake.set()
        if full:
            self._full.set()

    def start(self, name: str) -> None:
        """Start the flusher task (owned by the store, cancelled by :meth:`stop`)."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name=name)

    async def stop(self) -> None:
        """Flush everything, then end the flusher task."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            if not self._full.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self.flush_interval)
            self._wake.clear()
            self._full.clear()
            try:
                await self.flush()
            except Exception:
                # Kept pending (put_back); try again after an interval rather than spin.
                _log.exception("writing run events failed; retrying")
                await asyncio.sleep(self.flush_interval)
                self._wake.set()

    async def flush(self, events: RunEvents | None = None, *, detach: bool = False) -> None:
        """Write what is pending now: for one run, or every attached run.

        With ``detach``, the run is forgotten afterwards (its end hook does this).
        """
        async with self._lock:
            runs = [events] if events is not None else list(self._runs.values())
            taken: list[tuple[RunEvents, int, list[Chunk]]] = []
            for run in runs:
                if run.pending:
                    start, batch = run.take()
                    taken.append((run, start, batch))
            if taken:
                now = time.time_ns() // 1_000_000
                rows: list[Row] = []
                for run, start, batch in taken:
                    step = self.batch_size
                    for i in range(0, len(batch), step):
                        part = batch[i : i + step]
                        rows.append(
                            {
                                "run_id": run.run_id,
                                "start_seq": start + i,
                                "end_seq": start + i + len(part),
                                "chunks": dumps(part),
                                "created_at": now,
                            }
                        )
                try:
                    await self._write(rows)
                except BaseException:
                    for run, start, batch in reversed(taken):
                        run.put_back(start, batch)
                    raise
            if detach and events is not None:
                self._runs.pop(events.run_id, None)
                events._log = None
