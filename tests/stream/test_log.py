"""The chunk log: replay, live following, several readers, reader cancellation."""

from __future__ import annotations

import asyncio

import pytest

from streamwise.errors import ChunkLogTruncatedError
from streamwise.stream import ChunkLog
from tests.support import until


async def read_all(log: ChunkLog, offset: int = 0) -> list[dict[str, int]]:
    return [c async for c in log.read(offset)]


async def test_readers_replay_then_follow_live_and_end_on_close() -> None:
    log = ChunkLog()
    log.append({"i": 0})
    reader = asyncio.create_task(read_all(log))
    late = asyncio.create_task(read_all(log, offset=1))
    await until(lambda: log.statistics().readers_waiting == 2)
    log.append({"i": 1})
    log.append({"i": 2})
    log.close()
    assert await reader == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert await late == [{"i": 1}, {"i": 2}]
    assert await read_all(log) == [{"i": 0}, {"i": 1}, {"i": 2}]
    stats = log.statistics()
    assert (stats.chunks, stats.readers_waiting, stats.closed) == (3, 0, True)


async def test_a_cancelled_reader_does_not_disturb_the_others() -> None:
    log = ChunkLog()
    doomed = asyncio.create_task(read_all(log))
    survivor = asyncio.create_task(read_all(log))
    await until(lambda: log.statistics().readers_waiting == 2)
    doomed.cancel()
    await until(lambda: log.statistics().readers_waiting == 1)
    log.append({"i": 7})
    log.close()
    assert await survivor == [{"i": 7}]
    assert doomed.cancelled()


async def test_snapshot_is_a_copy() -> None:
    log = ChunkLog()
    log.append({"i": 1})
    snap = log.snapshot()
    log.append({"i": 2})
    assert snap == [{"i": 1}]
    assert len(log) == 2


async def test_replay_window_bounds_memory_and_follows_live_readers() -> None:
    log = ChunkLog(max_chunks=4)
    follower = asyncio.create_task(read_all(log))
    await until(lambda: log.statistics().readers_waiting == 1)
    for i in range(10):
        log.append({"i": i})
    log.close()
    # The live reader was woken only after all ten were written: it lost the dropped ones.
    with pytest.raises(ChunkLogTruncatedError, match="replay window of 4"):
        await follower
    stats = log.statistics()
    assert (stats.chunks, stats.held, stats.dropped, stats.max_chunks) == (10, 4, 6, 4)
    assert await read_all(log, offset=8) == [{"i": 8}, {"i": 9}]
    assert len(log) == 10


async def test_replay_window_readers_that_keep_up_see_everything() -> None:
    log = ChunkLog(max_chunks=4)
    seen: list[int] = []

    async def reader() -> None:
        async for chunk in log.read():
            seen.append(chunk["i"])

    task = asyncio.create_task(reader())
    for i in range(20):
        log.append({"i": i})
        await until(lambda: log.statistics().readers_waiting == 1 or task.done())
    log.close()
    await task
    assert seen == list(range(20))
    assert log.statistics().held <= 4
    with pytest.raises(ValueError, match="at least 2"):
        ChunkLog(max_chunks=1)
