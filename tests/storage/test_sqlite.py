"""The SQLite connection under the store (``storage/_sqlite.py``): statements in the loop,
waits for another process's lock and checkpoints in aiosqlite's thread."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from streamwise import Agent, Streamwise
from streamwise.errors import StorageError
from streamwise.storage import Store
from streamwise.storage._sqlite import LoopConnection, checkpoint
from streamwise.testing import ScriptedModel
from tests.storage.test_store import run_row


async def test_sqlite_write_waits_for_another_connections_lock_without_blocking_the_loop(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.sqlite"
    async with Store(f"sqlite:///{path}") as store:
        await store.create_thread("t")
        # Another process (here: a plain connection) holds the write lock for a while.
        other = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
        ticks = 0
        waiting = True

        async def ticker() -> None:
            nonlocal ticks
            while waiting:
                ticks += 1
                await asyncio.sleep(0.005)

        ticking = asyncio.create_task(ticker())
        release.start()
        try:
            # The statement finds the database locked and waits in the connection's thread.
            await store.append_messages("t", [{"role": "user", "content": "after the lock"}])
        finally:
            waiting = False
            await ticking
            release.join()
            other.close()
        # The loop went on while the write waited (it would not tick if the wait blocked it).
        assert ticks > 5
        messages = await store.list_messages("t")
        assert [m["content"][0]["text"] for m in messages] == ["after the lock"]


def _size(file: str) -> int:
    return os.path.getsize(file)


async def test_sqlite_checkpoints_keep_the_write_ahead_log_bounded(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    text = "x" * 4000
    async with Store(f"sqlite:///{path}") as store:
        store._wal_reset_bytes = 1_000_000  # (32 MB by default)
        await store.create_thread("t")
        for _ in range(1500):  # about 6 MB through the log, in 1,500 commits
            await store.append_messages("t", [{"role": "user", "content": text}])
        await asyncio.sleep(0.2)  # the last checkpoint, handed to the thread, finishes
        wal = _size(f"{path}-wal")
        assert len(await store.list_messages("t", limit=2000)) == 1500
    # Automatic checkpoints are off on the store's connections; the store's own (every 32
    # commits, in the thread, holding the store's lock once the log is over its limit) keep
    # the log far below what went through it.
    assert wal < 2_500_000


async def test_sqlite_writes_go_on_while_a_checkpoint_syncs_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamwise.storage import _base

    started, release = threading.Event(), threading.Event()
    checkpoints: list[tuple[int, int, int]] = []

    def slow_checkpoint(path: str) -> tuple[int, int, int]:
        started.set()
        release.wait(10)  # a slow disk
        result = checkpoint(path)
        checkpoints.append(result)
        return result

    monkeypatch.setattr(_base, "checkpoint", slow_checkpoint)
    async with Store(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        await store.create_thread("t")
        written = 0
        while not started.is_set():  # 32 commits start a checkpoint, in a thread
            await store.append_messages("t", [{"role": "user", "content": "x"}])
            written += 1
            await asyncio.sleep(0.001)
        try:
            # The checkpoint waits on the disk; the store's writes and reads do not wait for it.
            for _ in range(5):
                await asyncio.wait_for(
                    store.append_messages("t", [{"role": "user", "content": "during"}]), timeout=5
                )
            messages = await asyncio.wait_for(store.list_messages("t", limit=100), timeout=5)
            assert len(messages) == written + 5
        finally:
            release.set()
    assert checkpoints and checkpoints[0][0] == 0  # it ran, and was not refused


async def test_sqlite_statements_run_in_the_loop_and_long_ones_in_the_thread(
    tmp_path: Path,
) -> None:
    async with Store(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        loop_thread = threading.get_ident()

        async def where(long: bool) -> int:
            async with store._read(long=long) as conn:
                driver = (await conn.get_raw_connection()).driver_connection
                assert driver is not None
                # A function of the database that says which thread runs the statement.
                driver._conn.create_function("thread_id", 0, threading.get_ident)
                return int((await conn.execute(sa.text("SELECT thread_id()"))).scalar_one())

        assert await where(long=False) == loop_thread
        assert await where(long=True) != loop_thread
        # Back in the loop afterwards: the switch is for that connection's block only.
        assert await where(long=False) == loop_thread


WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from streamwise import Agent, Streamwise
    from streamwise.testing import ScriptedModel

    async def main(url, name, runs):
        agent = Agent("a", model=ScriptedModel(lambda m: {"text": ["a ", "b ", "c"]}))
        async with Streamwise(agents=[agent], storage=url) as app:
            await app.storage.open()
            print("ready", flush=True)
            sys.stdin.readline()
            for i in range(runs):
                out = agent.stream(f"{name}{i}", memory={"thread": name})
                assert await out.text == "a b c"
                assert await out.status == "success"

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
)


async def test_sqlite_two_processes_writing_one_file_keep_every_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Two processes run agents with memory on one SQLite file at once: the statements that
    find the file locked by the other process wait in the thread, and nothing is lost."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    runs = 150
    pipe = asyncio.subprocess.PIPE
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", WRITER, url, name, str(runs), stdin=pipe, stdout=pipe, stderr=pipe
        )
        for name in ("p", "q")
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert (await proc.stdout.readline()).strip() == b"ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        await proc.stdin.drain()
    # This process writes too, meanwhile.
    agent = Agent("a", model=ScriptedModel(lambda m: {"text": ["a ", "b ", "c"]}))
    async with Streamwise(agents=[agent], storage=url) as app:
        for i in range(runs):
            assert await agent.stream(f"r{i}", memory={"thread": "r"}).text == "a b c"
        results = [await proc.communicate() for proc in procs]
        assert [proc.returncode for proc in procs] == [0, 0], results
        # Nothing went wrong quietly either (an end hook or a flush that failed is logged).
        assert all(err == b"" for _, err in results), results
        assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
        for name in ("p", "q", "r"):
            stored = await app.storage.list_messages(name)
            assert [m["content"][0].get("text") for m in stored if m["role"] == "user"] == [
                f"{name}{i}" for i in range(runs)
            ]
            assert [m["role"] for m in stored] == ["user", "assistant"] * runs


OPENER = textwrap.dedent(
    """
    import asyncio, sys
    from streamwise.storage import Store

    async def main(url):
        sys.stdin.readline()
        async with Store(url) as store:
            await store.open()
        print("opened", flush=True)

    asyncio.run(main(sys.argv[1]))
    """
)


async def test_sqlite_processes_creating_one_new_file_at_once_all_open_it(tmp_path: Path) -> None:
    """Processes that open the same new database file at the same moment race to create its
    schema and set its journal mode: every one of them opens it."""
    for round_ in range(5):
        url = f"sqlite:///{tmp_path / f'new-{round_}.sqlite'}"
        pipe = asyncio.subprocess.PIPE
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-c", OPENER, url, stdin=pipe, stdout=pipe, stderr=pipe
            )
            for _ in range(3)
        ]
        for proc in procs:  # released together, once all are started
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
        results = [await proc.communicate() for proc in procs]
        assert [
            (proc.returncode, out.strip()) for proc, (out, _) in zip(procs, results, strict=True)
        ] == [(0, b"opened")] * 3, results


async def test_sqlite_a_failed_commit_of_a_runs_end_is_rolled_back(tmp_path: Path) -> None:
    async with Store(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        stmts = store._stmts
        raw = store._hot_raw
        assert isinstance(raw, LoopConnection)

        async def commit_fails() -> None:
            raise sqlite3.OperationalError("disk I/O error")

        raw.commit = commit_fails  # type: ignore[method-assign]
        with pytest.raises(StorageError, match="disk I/O") as caught:
            async with store._hot() as conn:
                await stmts.scalar(conn, stmts.start_run, run_row(store, "r1"))
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        del raw.commit
        async with store._hot() as conn:
            await stmts.scalar(conn, stmts.start_run, run_row(store, "r2"))
        assert await store.get_run("r1") is None  # its commit failed: not committed with r2
        assert await store.get_run("r2") is not None


async def test_sqlite_a_runs_end_waits_for_another_connections_lock(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    agent = Agent("a", model=ScriptedModel(lambda m: {"text": ["kept ", "anyway"]}))
    async with Streamwise(agents=[agent], storage=f"sqlite:///{path}") as app:
        await agent.stream("warm", memory={"thread": "t"}).wait()
        other = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
        release.start()
        try:
            out = agent.stream("go", memory={"thread": "t"})
            assert await out.text == "kept anyway"
        finally:
            release.join()
            other.close()
        assert await out.status == "success"
        messages = await app.storage.list_messages("t")
        assert [m["role"] for m in messages] == ["user", "assistant"] * 2
        assert messages[-1]["content"][-1] == {"type": "text", "text": "kept anyway"}
