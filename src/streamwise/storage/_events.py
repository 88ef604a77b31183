"""Run event logs: every chunk of a run, numbered, written in batches off the hot path.

Nothing is done per chunk: a run's chunks are already in its own chunk log, so a
:class:`RunEvents` only remembers how far that log has been written (``written``) and reads the
rest with ``run.chunks_from(written)``. The store's flusher task writes an attached run's new
chunks once they have waited ``flush_interval`` (as rows of up to ``batch_size`` chunks:
``start_seq..end_seq-1`` as one JSON array); the run's end hook flushes the rest (in rows of
up to ``END_BATCHES`` batches), so a finished run's log is complete before its readers see the
end. ``Store.read_events(run_id, offset)`` reads from any offset — what ``observe`` replays
after a disconnect.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import operator
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import StorageError
from ..stream import Chunk
from ._records import dump_bytes

__all__ = (
    "EventLog",
    "RunEvents",
    "has_text_refs",
    "pack_chunks",
    "resolve_text_refs",
    "stretch_packer",
    "text_refs",
    "unpack_chunks",
)

_log = logging.getLogger("streamwise.storage")

Row = dict[str, Any]
Entry = tuple[int, int, list[Any]]  # a packed batch: (start, stop, items)

_NONE = object()


def pack_chunks(batch: list[Chunk]) -> list[Any]:
    """A batch in its stored form: each stretch of plain ``text-delta`` chunks of one text part
    becomes ``{"~td": [runId, from, id, [text, …]]}`` (a long answer shrinks about tenfold, and
    so does the database's write); every other chunk is kept as it is.

    A stretch continues while ``runId``, ``from`` and the part id are the *same objects* as in
    the chunk before (as the producer writes them); equal but distinct ones start a new stretch,
    which is as correct, only less compact.
    """
    out: list[Any] = []
    append = out.append
    add_text: Any = None
    run_id: Any = _NONE
    source: Any = _NONE
    part_id: Any = _NONE
    for chunk in batch:
        if chunk.get("type") == "text-delta" and len(chunk) == 4:
            payload = chunk["payload"]
            if len(payload) == 2:
                pid = payload["id"]
                if pid is part_id and chunk["runId"] is run_id and chunk["from"] is source:
                    add_text(payload["text"])
                    continue
                run_id, source, part_id = chunk["runId"], chunk["from"], pid
                texts = [payload["text"]]
                add_text = texts.append
                append({"~td": [run_id, source, pid, texts]})
                continue
        part_id = _NONE
        append(chunk)
    return out


def stretch_packer(
    marks: list[list[Any]],
    pieces: list[str],
    window: Callable[[int, int], list[Chunk]],
    chunk_at: Callable[[int], Chunk | None],
    run_id: str,
    source: str,
) -> Callable[[int, int], list[Any]]:
    """A packer that knows where a run's text deltas are (``AgentOutput.text_marks()``), so a
    stretch of deltas becomes one ``~td`` item without reading its chunks: its texts are a
    slice of ``pieces``, and one identity check says the stretch is contiguous (its last chunk,
    ``chunk_at(offset)``, sits where it would if nothing came between its deltas). A stretch
    still being written is checked chunk by chunk (in C), from its first chunk: the packer
    remembers how far each such stretch was found contiguous, so each chunk is checked once
    across the batches that cover it. A stretch that is not contiguous (a tool wrote between
    two deltas) and every other chunk (``window(start, stop)``) go to :func:`pack_chunks`.

    ``packer(start, stop)`` packs the run's chunks ``start..stop-1``.
    """

    # Open stretches (by first offset): how far they are known to hold only their own deltas,
    # or -1 once something else was found among them.
    checked: dict[int, int] = {}

    def pack(start: int, stop: int) -> list[Any]:
        out: list[Any] = []
        pos = start  # the first offset not packed yet
        k = max(bisect.bisect_right(marks, start, key=_first) - 1, 0)
        n = len(marks)
        while k < n:
            first, index, part_id, last = marks[k]
            if first >= stop:
                break
            k += 1
            count = (marks[k][1] if k < n else len(pieces)) - index
            lo, hi = max(first, pos), min(first + count, stop)
            if hi <= lo:
                continue
            if last is not None:
                contiguous = chunk_at(first + count - 1) is last
            else:
                # Every chunk from the stretch's first to ``hi`` must be one of its deltas, or
                # the texts' offsets are off: the part before ``lo`` too (packed earlier).
                upto = checked.get(first, first)
                if upto < 0:
                    contiguous = False
                elif upto >= hi:
                    contiguous = True
                else:
                    stretch = window(upto, hi)
                    contiguous = list(map(_type, stretch)).count("text-delta") == len(stretch)
                    checked[first] = hi if contiguous else -1
            if not contiguous:
                continue
            if lo > pos:
                out.extend(pack_chunks(window(pos, lo)))
            texts = pieces[index + lo - first : index + hi - first]
            out.append({"~td": [run_id, source, part_id, texts]})
            pos = hi
        if pos < stop:
            out.extend(pack_chunks(window(pos, stop)))
        return out

    return pack


_first = operator.itemgetter(0)
_type = operator.itemgetter("type")

#: Texts shorter than this are stored as they are (a reference would not save much).
MIN_TEXT_REF = 32
_ENDS = ("step-finish", "finish")


def text_refs(
    joins: dict[int, tuple[str, int, int]], run_id: str, source: str, base: int = 0
) -> Callable[[list[Any]], list[Any]]:
    """What an agent run's packed batches store: its ``step-finish`` and ``finish`` chunks
    without the text they repeat.

    Each of those chunks carries in ``payload.output.text`` the text of the run's deltas once
    more, joined (the step's, the run's): stored as is, a long answer's text would be in the
    log three times. The agent says which of its texts are joins of its pieces
    (``AgentOutput.text_joins()``: ``id(text) -> (text, i, j)``, the text being
    ``"".join(pieces[i:j])``); such a text, found by identity, is stored as
    ``{"~text": [base, i, j]}``: the texts of the run's own ``text-delta`` chunks (this
    ``runId`` and ``from``) logged at ``base`` or later, ``i`` to ``j - 1``, joined
    (:func:`resolve_text_refs`). Those chunks are the pieces, in order (the same that
    :func:`stretch_packer` stores).

    ``stored(items)`` gives the stored form of packed ``items``; the chunks with a reference
    are copies, nothing is changed.
    """

    def stored(items: list[Any]) -> list[Any]:
        out: list[Any] | None = None
        for n, item in enumerate(items):
            if item.get("type") not in _ENDS:  # (a stretch of deltas has no type)
                continue
            if item.get("runId") != run_id or item.get("from") != source:
                continue
            payload: Any = item.get("payload")
            output: Any = payload.get("output") if isinstance(payload, dict) else None
            text = output.get("text") if isinstance(output, dict) else None
            join = joins.get(id(text))
            if join is None or join[0] is not text or len(text) < MIN_TEXT_REF:
                continue
            if out is None:
                out = items.copy()
            ref = {"~text": [base, join[1], join[2]]}
            out[n] = {**item, "payload": {**payload, "output": {**output, "text": ref}}}
        return items if out is None else out

    return stored


def has_text_refs(data: bytes) -> bool:
    """Whether a stored batch (its JSON) holds a text reference (see :func:`text_refs`)."""
    return b'{"~text":[' in data


def resolve_text_refs(chunks: list[Chunk], first_seq: int = 0) -> list[Chunk]:
    """The chunks of a run's log read from ``first_seq`` on, with the texts that
    :func:`text_refs` stored as references put back (in new chunks).

    Raises:
        StorageError: a reference reaches deltas that are not among ``chunks`` (read the log
            from where the run's deltas start).
    """
    own: dict[tuple[Any, Any], tuple[list[int], list[str]]] = {}
    out = chunks
    payload: Any
    for n, chunk in enumerate(chunks):
        kind = chunk.get("type")
        if kind == "text-delta":
            key = (chunk.get("runId"), chunk.get("from"))
            got = own.get(key)
            if got is None:
                got = own[key] = ([], [])
            payload = chunk.get("payload")
            got[0].append(first_seq + n)
            got[1].append(payload.get("text", "") if isinstance(payload, dict) else "")
        elif kind in _ENDS:
            payload = chunk.get("payload")
            output: Any = payload.get("output") if isinstance(payload, dict) else None
            ref = output.get("text") if isinstance(output, dict) else None
            if not isinstance(ref, dict) or "~text" not in ref:
                continue
            base, i, j = ref["~text"]
            seqs, texts = own.get((chunk.get("runId"), chunk.get("from")), ([], []))
            k = bisect.bisect_left(seqs, base)
            if base < first_seq or k + j > len(texts):
                raise StorageError(
                    f"the event log of run {chunk.get('runId')!r} lacks the text deltas that "
                    f"its {kind!r} at {first_seq + n} refers to"
                )
            text = "".join(texts[k + i : k + j])
            if out is chunks:
                out = chunks.copy()
            out[n] = {**chunk, "payload": {**payload, "output": {**output, "text": text}}}
    return out


def unpack_chunks(items: list[Any]) -> list[Chunk]:
    """The chunks of a stored batch (the inverse of :func:`pack_chunks`)."""
    out: list[Chunk] = []
    for item in items:
        td = item.get("~td")
        if td is None:
            out.append(item)
            continue
        run_id, source, part_id, texts = td
        out.extend(
            {
                "type": "text-delta",
                "runId": run_id,
                "from": source,
                "payload": {"id": part_id, "text": t},
            }
            for t in texts
        )
    return out


class RunEvents:
    """How far one run's chunks have been written, and where to read the rest.

    Args:
        run_id: the run.
        source: ``source(offset)`` returns the run's chunks from ``offset`` on
            (``run.chunks_from``).
        written: the number of chunks already in the log.
        pack: ``pack(start, stop)`` gives the stored form of the chunks ``start..stop-1``
            (default: :func:`pack_chunks` of them; an agent run's :func:`stretch_packer` is
            faster).
        count: how many chunks the run has written (with ``window``: the run's chunks are then
            never copied to be written, only the stretches that need it are read).
        window: ``window(start, stop)`` returns the chunks ``start..stop-1``.
        stored: ``stored(items)`` gives the form in which packed ``items`` are written (an
            agent run's :func:`text_refs`); the items themselves are what ``on_written`` gets.
    """

    __slots__ = (
        "_pack",
        "_stash",
        "_taken",
        "count",
        "inflight",
        "on_written",
        "run_id",
        "since",
        "source",
        "stored",
        "window",
        "written",
    )

    def __init__(
        self,
        run_id: str,
        source: Callable[[int], list[Chunk]],
        written: int = 0,
        pack: Callable[[int, int], list[Any]] | None = None,
        *,
        count: Callable[[], int] | None = None,
        window: Callable[[int, int], list[Chunk]] | None = None,
        on_written: Callable[[list[Any]], None] | None = None,
        stored: Callable[[list[Any]], list[Any]] | None = None,
    ) -> None:
        self.run_id = run_id
        self.stored = stored
        self.source = source
        self.written = written
        self.count = count if window is not None else None
        self.window = window
        self.on_written = on_written
        self._pack = pack
        self._taken: tuple[int, list[Chunk]] = (written, [])
        #: When what is unwritten began to wait (the log's clock): set when the run is attached
        #: and after each write; the flusher writes the run once it has waited an interval.
        self.since = 0.0
        #: Set while a flush writes rows of this run (done when they are written or put back).
        self.inflight: asyncio.Future[None] | None = None
        # Batches packed but not written yet: (start, stop, items), oldest first.
        self._stash: list[Entry] = []

    def take(self) -> tuple[int, int]:
        """The offsets ``start, stop`` of the chunks not yet packed; counts them as taken."""
        start = self.written
        if self.count is not None:
            stop = self.count()
        else:
            batch = self.source(start)
            self._taken = (start, batch)
            stop = start + len(batch)
        self.written = stop
        return start, stop

    def chunks(self, start: int, stop: int) -> list[Chunk]:
        """The chunks ``start..stop-1`` (of those taken last, without a window)."""
        if self.window is not None:
            return self.window(start, stop)
        first, batch = self._taken
        if start < first or stop > first + len(batch):
            batch, first = self.source(start), start
        return batch[start - first : stop - first]

    def pack(self, start: int, stop: int) -> list[Any]:
        """The stored form of the chunks ``start..stop-1``."""
        if self._pack is not None:
            return self._pack(start, stop)
        return pack_chunks(self.chunks(start, stop))

    def stash(self, start: int, stop: int) -> None:
        """Pack the chunks ``start..stop-1`` now, before they leave the run's memory (its replay
        window drops them): they are written with the next batch, nothing is lost."""
        first = max(start, self.written)
        if first < stop:
            self._stash.append((first, stop, self.pack(first, stop)))
            self.written = stop

    def entries(self, batch_size: int) -> list[Entry]:
        """Everything not written yet, packed: stashed batches, then the new chunks in batches of
        ``batch_size``. They count as written until :meth:`put_back`."""
        out, self._stash = self._stash, []
        start, stop = self.take()
        for first in range(start, stop, batch_size):
            last = min(first + batch_size, stop)
            out.append((first, last, self.pack(first, last)))
        return out

    def put_back(self, entries: list[Entry]) -> None:
        """Batches whose write failed: kept, packed, to be written first next time (the run's
        chunks may be gone from memory by then)."""
        self._stash = entries + self._stash


#: A run's end writes its unwritten chunks in rows of up to this many batches.
END_BATCHES = 16


class EventLog:
    """The flusher of one store: every attached run's new chunks into ``run_events``.

    Args:
        write: writes rows ``{run_id, start_seq, end_seq, chunks, created_at}`` in one
            transaction.
        batch_size: the most chunks per row the flusher writes (a run's end writes the rest
            in rows of up to ``END_BATCHES`` times as many).
        flush_interval: how long a run's new chunks wait before the flusher writes them.
        tick: awaited after each flush (the store's heartbeat).
        busy: True while the store has work for the loop even with no run attached (runs it
            owns that are not logged, such as workflow runs).
        pending_since: when the oldest of the store's own writes waiting for a flush (run
            starts) began to wait (``clock`` time), or None when none waits; while one
            waits, ``write`` is called even with no rows.
        clock: the time the flusher goes by (``time.monotonic``).

    The flusher writes a run's chunks (and the store's pending writes) once they have waited
    ``flush_interval``, not on a fixed beat: a run shorter than the interval is written once,
    at its end, wherever it falls between the flusher's wake-ups.
    """

    def __init__(
        self,
        write: Callable[[list[Row]], Awaitable[None]],
        *,
        batch_size: int = 2048,
        flush_interval: float = 0.05,
        tick: Callable[[], Awaitable[None]] | None = None,
        busy: Callable[[], bool] | None = None,
        pending_since: Callable[[], float | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._write = write
        self._tick = tick
        self._busy = busy
        self._pending_since = pending_since
        self._clock = clock
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self._runs: dict[str, RunEvents] = {}
        self._attached = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    @property
    def attached(self) -> int:
        """How many runs are being logged now."""
        return len(self._runs)

    def attach(self, events: RunEvents) -> None:
        """Start logging a run (until ``flush(events, detach=True)``)."""
        events.since = self._clock()
        self._runs[events.run_id] = events
        self._attached.set()

    def start(self, name: str) -> None:
        """Start the flusher task (owned by the store, cancelled by :meth:`stop`)."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name=name)

    async def stop(self) -> None:
        """End the flusher task, then flush everything."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()

    def wake(self) -> None:
        """Make the loop run (the store started a run it owns)."""
        self._attached.set()

    async def _run(self) -> None:
        failures = 0
        while True:
            if not self._runs and not (self._busy is not None and self._busy()):
                self._attached.clear()
                await self._attached.wait()
            # After failures, back off (up to 5 s) rather than retry every interval.
            delay = self._next_due() if not failures else self.flush_interval * 2**failures
            await asyncio.sleep(min(5.0, delay))
            try:
                await self.flush(due=True)
                if self._tick is not None:
                    await self._tick()
                failures = 0
            except Exception:
                # Unwritten chunks stay unwritten (put_back): the next round tries again.
                if failures < 8:
                    failures += 1
                _log.exception("writing run events failed; retrying")

    def _rows(
        self, run: RunEvents, now: int, batch_size: int | None = None
    ) -> tuple[list[Entry], list[Row], list[Any]]:
        """The run's unwritten batches (of up to ``batch_size`` chunks, by default the log's),
        their rows, and their packed items in order."""
        entries = run.entries(batch_size or self.batch_size)
        rows: list[Row] = []
        items: list[Any] = []
        stored = run.stored
        for first, last, packed in entries:
            items.extend(packed)
            rows.append(
                {
                    "run_id": run.run_id,
                    "start_seq": first,
                    "end_seq": last,
                    "chunks": dump_bytes(packed if stored is None else stored(packed)),
                    "created_at": now,
                }
            )
        return entries, rows, items

    def _pending_since_now(self) -> float | None:
        return self._pending_since() if self._pending_since is not None else None

    def _next_due(self) -> float:
        """Seconds until the first run (or pending write) has waited the interval."""
        interval = self.flush_interval
        waiting = [r.since for r in self._runs.values()]
        since = self._pending_since_now()
        if since is not None:
            waiting.append(since)
        if not waiting:
            return interval
        return max(0.0, min(waiting) + interval - self._clock())

    def _due(self) -> tuple[list[RunEvents], bool]:
        """The runs that have waited the interval, and whether the pending writes have."""
        limit = self._clock() - self.flush_interval
        runs = [r for r in self._runs.values() if r.since <= limit]
        since = self._pending_since_now()
        return runs, since is not None and since <= limit

    async def flush(
        self, events: RunEvents | None = None, *, detach: bool = False, due: bool = False
    ) -> None:
        """Write what is new now: for one run, or every attached run.

        With ``detach``, the run is forgotten afterwards. With ``due`` (the flusher's own
        rounds), only what has waited ``flush_interval`` is written, and nothing when nothing
        has (the pending writes go with any write).
        """
        async with self._lock:
            started = self._clock()
            pending_due = False
            if due:
                runs, pending_due = self._due()
                if not runs and not pending_due:
                    return
            else:
                runs = [events] if events is not None else list(self._runs.values())
            now = time.time_ns() // 1_000_000
            taken: list[tuple[RunEvents, list[Entry], list[Any]]] = []
            rows: list[Row] = []
            marker: asyncio.Future[None] | None = None
            try:
                for run in runs:
                    entries, run_rows, items = self._rows(run, now)
                    if run_rows:
                        taken.append((run, entries, items))
                        rows.extend(run_rows)
                if taken:  # a run that ends meanwhile waits for these rows (see finish)
                    marker = asyncio.get_running_loop().create_future()
                    for run, _, _ in taken:
                        run.inflight = marker
                pending = pending_due if due else self._pending_since_now() is not None
                if rows or pending:
                    await self._write(rows)
            except BaseException:
                for run, entries, _ in taken:
                    run.put_back(entries)
                raise
            finally:
                if marker is not None:
                    for run, _, _ in taken:
                        if run.inflight is marker:
                            run.inflight = None
                    marker.set_result(None)
            for run in runs:
                run.since = started
            for run, _, items in taken:
                if run.on_written is not None:
                    run.on_written(items)
            if detach and events is not None:
                self._runs.pop(events.run_id, None)

    async def finish(
        self, events: RunEvents, write: Callable[[list[Row], list[Any]], Awaitable[None]]
    ) -> None:
        """Detach a run that ended, handing its last rows to ``write(rows, items)`` — which
        stores them in the same transaction as the run's end; ``items`` are their packed chunks,
        for folding. A flush that is writing earlier rows of the run is waited for first (its
        rows are then written, or back with the run's), so no earlier batch is in flight when
        it returns. Runs end without waiting for each other (their writes can go together)."""
        while events.inflight is not None:
            await asyncio.shield(events.inflight)
        self._runs.pop(events.run_id, None)  # no flush takes its rows from here on
        # What is left, in rows of up to END_BATCHES batches: a run shorter than the flush
        # interval is one row (each row is a cell, an overflow chain and an index entry more).
        now = time.time_ns() // 1_000_000
        entries, rows, items = self._rows(events, now, self.batch_size * END_BATCHES)
        try:
            await write(rows, items)
        except BaseException:
            events.put_back(entries)
            raise
