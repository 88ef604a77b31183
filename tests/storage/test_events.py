"""The event flusher and the packed form of the log, without a database."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from streamwise.storage import EventLog, RunEvents
from streamwise.storage._events import pack_chunks, unpack_chunks
from streamwise.stream import Chunk


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
    assert run.written == 0
    chunks.append(delta("4"))
    await log.flush()
    assert [(r["start_seq"], r["end_seq"]) for r in written] == [(0, 3), (3, 5)]
    assert unpack_chunks(orjson.loads(written[1]["chunks"])) == chunks[3:]

    async def final(rows: list[dict[str, Any]], start: int, items: list[Any]) -> None:
        assert (rows, start, items) == ([], 5, [])

    await log.finish(run, final)
    assert log.attached == 0
