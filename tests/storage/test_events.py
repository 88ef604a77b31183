"""The event flusher and the packed form of the log, without a database."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from streamwise.errors import StorageError
from streamwise.storage import EventLog, RunEvents
from streamwise.storage._events import (
    END_BATCHES,
    pack_chunks,
    resolve_text_refs,
    stretch_packer,
    text_refs,
    unpack_chunks,
)
from streamwise.stream import Chunk
from tests.support import eventually


def delta(text: str, part: str = "t", run: str = "r") -> Chunk:
    return {
        "type": "text-delta",
        "runId": run,
        "from": "AGENT",
        "payload": {"id": part, "text": text},
    }


def test_events_pack_round_trips_and_keeps_odd_deltas_whole() -> None:
    odd: Chunk = {
        "type": "text-delta",
        "runId": "r",
        "from": "AGENT",
        "payload": {"id": "t", "text": "x", "extra": 1},
    }
    chunks: list[Chunk] = [
        {"type": "start", "runId": "r", "from": "AGENT", "payload": {}},
        *[delta(str(i)) for i in range(5)],
        delta("other part", part="u"),
        odd,
        delta("child", run="child-run"),
        {"type": "data-x", "data": 1},
        delta("again"),
    ]
    packed = pack_chunks(chunks)
    assert [next(iter(p)) for p in packed] == ["type", "~td", "~td", "type", "~td", "type", "~td"]
    assert unpack_chunks(orjson.loads(orjson.dumps(packed))) == chunks


async def test_events_failed_write_is_retried_from_the_same_sequence() -> None:
    written: list[dict[str, Any]] = []
    fail = [True]

    async def write(rows: list[dict[str, Any]]) -> None:
        if fail[0]:
            fail[0] = False
            raise OSError("disk full")
        written.extend(rows)

    log = EventLog(write, batch_size=3)
    chunks = [delta(str(i)) for i in range(4)]
    run = RunEvents("r", lambda offset: chunks[offset:])
    log.attach(run)
    with pytest.raises(OSError, match="disk full"):
        await log.flush()
    assert written == []
    chunks.append(delta("4"))
    await log.flush()
    # The failed batches are kept as they were packed (the chunks may have left the run's
    # memory since) and written first; the new chunk follows.
    assert [(r["start_seq"], r["end_seq"]) for r in written] == [(0, 3), (3, 4), (4, 5)]
    stored = [c for r in written for c in unpack_chunks(orjson.loads(r["chunks"]))]
    assert stored == chunks

    async def final(rows: list[dict[str, Any]], items: list[Any]) -> None:
        assert (rows, items) == ([], [])

    await log.finish(run, final)
    assert log.attached == 0


async def test_events_a_run_end_writes_what_is_left_in_rows_of_sixteen_batches() -> None:
    """The flusher writes rows of ``batch_size`` chunks; the end writes the rest in rows of
    up to END_BATCHES batches (a short run is one row)."""
    flushed: list[tuple[int, int]] = []

    async def write(rows: list[dict[str, Any]]) -> None:
        flushed.extend((r["start_seq"], r["end_seq"]) for r in rows)

    log = EventLog(write, batch_size=3)
    chunks = [delta(str(i)) for i in range(7)]
    run = RunEvents("r", lambda offset: chunks[offset:])
    log.attach(run)
    await log.flush()
    chunks.extend(delta(str(i)) for i in range(7, 7 + 3 * END_BATCHES + 2))
    ended: list[tuple[int, int]] = []
    items: list[Any] = []

    async def end(rows: list[dict[str, Any]], packed: list[Any]) -> None:
        ended.extend((r["start_seq"], r["end_seq"]) for r in rows)
        items.extend(packed)

    await log.finish(run, end)
    assert flushed == [(0, 3), (3, 6), (6, 7)]
    assert ended == [(7, 7 + 3 * END_BATCHES), (7 + 3 * END_BATCHES, len(chunks))]
    assert unpack_chunks(items) == chunks[7:]


def _stretch_run() -> tuple[list[Chunk], list[list[Any]], list[str]]:
    """A run's chunks as the agent loop writes them, with its text marks: a stretch of part
    "a", a tool's chunk written between two of its deltas (so the stretch of part "b" is not
    contiguous), and a last stretch of "c" still being written (no last chunk yet)."""
    chunks: list[Chunk] = [{"type": "start", "runId": "r", "from": "AGENT", "payload": {}}]
    marks: list[list[Any]] = []
    pieces: list[str] = []

    def stretch(
        part: str, n: int, *, foreign_after: int | None = None, open_: bool = False
    ) -> None:
        mark: list[Any] = [len(chunks), len(pieces), part, None]
        marks.append(mark)
        for i in range(n):
            chunk = delta(f"{part}{i} ", part=part)
            pieces.append(chunk["payload"]["text"])
            chunks.append(chunk)
            if foreign_after == i:
                chunks.append({"type": "tool-output", "runId": "r", "from": "USER", "payload": {}})
        if not open_:
            mark[3] = chunks[-1] if chunks[-1]["type"] == "text-delta" else chunks[-2]

    stretch("a", 300)
    chunks.append({"type": "text-end", "runId": "r", "from": "AGENT", "payload": {"id": "a"}})
    stretch("b", 50, foreign_after=20)
    stretch("c", 40, open_=True)
    return chunks, marks, pieces


def _packer(
    chunks: list[Chunk], marks: list[list[Any]], pieces: list[str]
) -> Callable[[int, int], list[Any]]:
    """The stretch packer of a run whose chunks, marks and pieces are these (read live)."""
    return stretch_packer(
        marks,
        pieces,
        lambda start, stop: chunks[start:stop],
        lambda i: chunks[i] if i < len(chunks) else None,
        "r",
        "AGENT",
    )


@pytest.mark.parametrize("batch", [7, 64, 2048])
def test_events_stretch_packer_round_trips_whatever_the_batches(batch: int) -> None:
    chunks, marks, pieces = _stretch_run()
    pack = _packer(chunks, marks, pieces)
    items: list[Any] = []
    for start in range(0, len(chunks), batch):
        part = pack(start, min(start + batch, len(chunks)))
        assert unpack_chunks(orjson.loads(orjson.dumps(part))) == chunks[start : start + batch]
        items.extend(part)
    # The contiguous stretches are packed whole (one item per batch they touch); the one a
    # tool wrote into is packed chunk by chunk, as pack_chunks would.
    td = [i["~td"] for i in items if "~td" in i]
    assert sum(len(t[3]) for t in td if t[2] == "a") == 300
    assert sum(len(t[3]) for t in td if t[2] == "c") == 40
    assert not [t for t in td if t[2] == "b" and len(t[3]) == 50]


def test_events_stretch_packer_sees_a_stretch_that_is_not_what_its_mark_says() -> None:
    chunks, marks, pieces = _stretch_run()
    # The "a" stretch's last chunk is not where a contiguous stretch would end: not trusted.
    marks[0][3] = chunks[5]
    pack = stretch_packer(
        marks, pieces, lambda start, stop: chunks[start:stop], chunks.__getitem__, "r", "AGENT"
    )
    assert unpack_chunks(pack(0, len(chunks))) == chunks


async def test_events_flusher_writes_a_run_once_it_has_waited_the_interval() -> None:
    now = [100.0]  # the flusher's clock, moved by the test only
    written: list[list[dict[str, Any]]] = []

    async def write(rows: list[dict[str, Any]]) -> None:
        written.append(rows)

    log = EventLog(write, flush_interval=0.01, clock=lambda: now[0])
    chunks = [delta("a")]
    log.attach(RunEvents("r", lambda offset: chunks[offset:]))
    log.start("flusher")
    try:
        wakes = 0

        def woke() -> bool:
            nonlocal wakes
            wakes += 1
            return wakes > 20

        await eventually(woke)  # about 20 of the flusher's rounds go by, on the loop's time
        assert written == []  # by its clock the run has not waited the interval yet
        now[0] += 0.01
        await eventually(lambda: bool(written))
        assert [(r["start_seq"], r["end_seq"]) for r in written[0]] == [(0, 1)]
        chunks.append(delta("b"))
        await asyncio.sleep(0.05)
        assert len(written) == 1  # written a moment ago: it waits another interval
        now[0] += 0.01
        await eventually(lambda: len(written) == 2)
        assert [(r["start_seq"], r["end_seq"]) for r in written[1]] == [(1, 2)]
    finally:
        await log.stop()


async def test_events_flusher_writes_pending_writes_once_they_have_waited() -> None:
    now = [5.0]
    since: list[float | None] = [5.0]
    calls: list[list[dict[str, Any]]] = []

    async def write(rows: list[dict[str, Any]]) -> None:
        calls.append(rows)
        since[0] = None  # written

    log = EventLog(
        write,
        flush_interval=0.01,
        busy=lambda: True,
        pending_since=lambda: since[0],
        clock=lambda: now[0],
    )
    log.start("flusher")
    try:
        await asyncio.sleep(0.1)
        assert calls == []
        now[0] += 0.02
        await eventually(lambda: bool(calls))
        assert calls == [[]]  # the store's own writes (run starts), with no rows of chunks
    finally:
        await log.stop()


@pytest.mark.parametrize("tool_at", [3, 4, 5])
@pytest.mark.parametrize("batch", [1, 2, 3, 4])
def test_events_stretch_packer_checks_a_stretch_still_written_from_its_start(
    tool_at: int, batch: int
) -> None:
    """A tool's chunk inside a stretch that is still being written, in a part already packed
    in an earlier batch: later batches of the stretch must not take texts by offset."""
    pieces = [f"p{i}" for i in range(6)]
    chunks: list[Chunk] = [{"type": "start", "runId": "r", "from": "AGENT", "payload": {}}]
    chunks += [delta(p) for p in pieces]
    chunks.insert(tool_at, {"type": "tool-output", "runId": "r", "from": "AGENT", "payload": {}})
    marks: list[list[Any]] = [[1, 0, "t", None]]  # open: its last chunk is not known yet
    pack = _packer(chunks, marks, pieces)
    items: list[Any] = []
    for start in range(0, len(chunks), batch):
        items.extend(pack(start, min(start + batch, len(chunks))))
    assert unpack_chunks(orjson.loads(orjson.dumps(items))) == chunks


@pytest.mark.parametrize("seed", range(200))
def test_events_stretch_packer_round_trips_a_run_flushed_while_it_streams(seed: int) -> None:
    """A run whose text parts, tool chunks and flushes come in any order (seeded): the agent
    loop's marks as it writes them, batches packed as the flusher would take them (while
    stretches are still open), then the rest at the end: what is stored reads back whole."""
    rng = random.Random(seed)
    chunks: list[Chunk] = []
    pieces: list[str] = []
    marks: list[list[Any]] = []
    pack = _packer(chunks, marks, pieces)
    batch = rng.choice([1, 2, 3, 5, 8, 64])
    items: list[Any] = []
    written = 0

    def flush() -> None:
        nonlocal written
        for start in range(written, len(chunks), batch):
            items.extend(pack(start, min(start + batch, len(chunks))))
        written = len(chunks)

    part, mark, last = None, None, None
    for i in range(rng.randint(1, 60)):
        if rng.random() < 0.75:  # a text delta, of the same part mostly
            if part is None or rng.random() < 0.1:
                part = f"t{rng.randint(0, 2)}"
            if mark is None or part != mark[2]:  # a new stretch (what the agent loop does)
                if mark is not None:
                    mark[3] = last
                mark = [len(chunks), len(pieces), part, None]
                marks.append(mark)
            pieces.append(f"{i}.")
            last = delta(f"{i}.", part)
            chunks.append(last)
        else:  # a tool writes, between deltas or not
            chunks.append({"type": "tool-output", "runId": "r", "from": "AGENT", "payload": i})
        if rng.random() < 0.3:
            flush()
    if mark is not None:
        mark[3] = last  # the run ended
    flush()
    assert unpack_chunks(orjson.loads(orjson.dumps(items))) == chunks


async def test_events_a_run_that_ends_waits_for_a_flush_writing_its_earlier_rows() -> None:
    chunks = [delta(str(i)) for i in range(5)]
    run = RunEvents("r", lambda offset: chunks[offset:])
    gate = asyncio.Event()
    written: list[tuple[str, list[tuple[int, int]]]] = []
    fail = [True]

    async def write(rows: list[dict[str, Any]]) -> None:
        await gate.wait()  # a slow database
        if fail[0]:
            fail[0] = False
            raise OSError("disk full")
        written.append(("flush", [(r["start_seq"], r["end_seq"]) for r in rows]))

    log = EventLog(write, batch_size=100)
    log.attach(run)
    flushing = asyncio.create_task(log.flush())
    await asyncio.sleep(0)  # the flush took chunks 0..4 and waits on the database
    chunks.extend(delta(str(i)) for i in range(5, 8))

    async def end(rows: list[dict[str, Any]], items: list[Any]) -> None:
        written.append(("end", [(r["start_seq"], r["end_seq"]) for r in rows]))

    ending = asyncio.create_task(log.finish(run, end))
    await asyncio.sleep(0.01)
    assert written == [] and not ending.done()  # the end waits for the flush in flight
    gate.set()
    with pytest.raises(OSError, match="disk full"):
        await flushing
    await ending
    # The flush failed: its rows went back to the run, and the end wrote them with the rest.
    assert written == [("end", [(0, 5), (5, 8)])]
    assert log.attached == 0


def _agent_run(
    steps: list[list[list[str]]], *, run: str = "r", base_pieces: int = 0
) -> tuple[list[Chunk], list[list[Any]], list[str], dict[int, tuple[str, int, int]]]:
    """Chunks, marks, pieces and joined texts as the agent loop writes them: each step a list
    of text parts (each a list of deltas), a tool's chunk after the first delta of each step's
    second part, each step closed by a step-finish with the step's text, the run by a finish
    with its text. ``base_pieces`` deltas of an earlier life of the run (before a suspension)
    come first, in chunks the marks do not cover."""
    chunks: list[Chunk] = [{"type": "start", "runId": run, "from": "AGENT", "payload": {}}]
    chunks += [delta(f"old{i} ", "old", run) for i in range(base_pieces)]
    base = len(chunks)
    marks: list[list[Any]] = []
    pieces: list[str] = []
    joins: dict[int, tuple[str, int, int]] = {}

    def joined(start: int) -> str:
        text = "".join(pieces[start:])
        joins[id(text)] = (text, start, len(pieces))
        return text

    for s, parts in enumerate(steps):
        chunks.append({"type": "step-start", "runId": run, "from": "AGENT", "payload": {}})
        first = len(pieces)
        for p, texts in enumerate(parts):
            part = f"s{s}p{p}"
            mark: list[Any] = [len(chunks) - base, len(pieces), part, None]
            marks.append(mark)
            for i, text in enumerate(texts):
                pieces.append(text)
                chunks.append(delta(text, part, run))
                if p == 1 and i == 0:
                    chunks.append(
                        {"type": "tool-output", "runId": run, "from": "AGENT", "payload": {}}
                    )
            mark[3] = chunks[-1] if chunks[-1]["type"] == "text-delta" else chunks[-2]
        output = {"text": joined(first), "toolCalls": []}
        chunks.append(
            {"type": "step-finish", "runId": run, "from": "AGENT", "payload": {"output": output}}
        )
    output = {"text": joined(0), "toolCalls": []}
    chunks.append({"type": "finish", "runId": run, "from": "AGENT", "payload": {"output": output}})
    return chunks, marks, pieces, joins


def _stored(
    run: tuple[list[Chunk], list[list[Any]], list[str], dict[int, tuple[str, int, int]]],
    batch: int,
    base: int = 0,
) -> tuple[list[Any], list[Any]]:
    """The run's items as packed (what the answer is folded from) and as stored (JSON)."""
    chunks, marks, pieces, joins = run
    own = chunks[base:]
    pack = _packer(own, marks, pieces)
    refs = text_refs(joins, "r", "AGENT", base)
    packed: list[Any] = pack_chunks(chunks[:base])
    stored: list[Any] = list(packed)
    for start in range(0, len(own), batch):
        items = pack(start, min(start + batch, len(own)))
        packed.extend(items)
        stored.extend(orjson.loads(orjson.dumps(refs(items))))
    return packed, stored


def _refs(items: list[Any]) -> list[list[int]]:
    return [
        i["payload"]["output"]["text"]["~text"]
        for i in items
        if i.get("type") in ("step-finish", "finish")
        and isinstance(i["payload"]["output"].get("text"), dict)
    ]


@pytest.mark.parametrize("batch", [1, 5, 64, 2048])
def test_events_step_and_run_texts_are_stored_once_as_references(batch: int) -> None:
    words = [f"w{i} " for i in range(30)]
    run = _agent_run([[words, words[:12]], [words[3:], []], [words]])
    chunks, _, pieces, _ = run
    kept = orjson.dumps(chunks)
    packed, stored = _stored(run, batch)
    # Every step's text and the run's are references, to the right deltas.
    n0, n1 = 42, 42 + 27
    assert _refs(stored) == [[0, 0, n0], [0, n0, n1], [0, n1, n1 + 30], [0, 0, n1 + 30]]
    assert "".join(pieces) not in orjson.dumps(stored).decode()
    # Read back whole.
    assert resolve_text_refs(unpack_chunks(stored)) == chunks
    # What the answer is folded from, and the run's own chunks, are as they were.
    assert unpack_chunks(packed) == chunks
    assert orjson.dumps(chunks) == kept


def test_events_texts_the_run_did_not_join_or_short_are_stored_as_they_are() -> None:
    words = [f"w{i} " for i in range(30)]
    run = _agent_run([[words], [words]])
    chunks = run[0]
    # An equal text that is not the one the run joined, and a short one.
    chunks[-1]["payload"]["output"]["text"] = "".join(
        ["", *chunks[-1]["payload"]["output"]["text"]]
    )
    chunks[-2]["payload"]["output"]["text"] = "short"
    chunks.append({"type": "finish", "runId": "other", "from": "AGENT", "payload": {"output": {}}})
    _, stored = _stored(run, 7)
    assert _refs(stored) == [[0, 0, 30]]
    assert resolve_text_refs(unpack_chunks(stored)) == chunks


def test_events_references_of_a_resumed_run_count_its_deltas_from_where_it_resumed() -> None:
    words = [f"w{i} " for i in range(30)]
    run = _agent_run([[words]], base_pieces=5)
    _, stored = _stored(run, 4, base=6)
    assert _refs(stored) == [[6, 0, 30], [6, 0, 30]]
    assert resolve_text_refs(unpack_chunks(stored)) == run[0]


def test_events_a_reference_to_deltas_not_read_is_an_error() -> None:
    words = [f"w{i} " for i in range(30)]
    _, stored = _stored(_agent_run([[words]]), 2048)
    read = unpack_chunks(stored)
    with pytest.raises(StorageError, match="lacks the text deltas"):
        resolve_text_refs(read[10:], 10)
