"""The Store on SQLite and PostgreSQL: threads, messages, runs, snapshots, event logs, errors."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from streamwise.errors import (
    InvalidIdError,
    StorageConfigError,
    StorageError,
    StorageUnavailableError,
    ThreadNotFoundError,
)
from streamwise.storage import EventRetention, RunEvents, Store, _schema
from streamwise.storage._base import now_ms
from streamwise.storage._sqlite import LoopConnection
from streamwise.storage._statements import PgDriver
from streamwise.stream import Chunk


async def test_store_thread_create_get_update_delete(store: Store) -> None:
    t = await store.create_thread("t1", resource_id="u1", title="Hi", metadata={"k": 1})
    assert t["id"] == "t1"
    assert t["resourceId"] == "u1"
    got = await store.get_thread("t1")
    assert got == t
    assert got["createdAt"].endswith("Z")
    with pytest.raises(StorageError, match="exists already"):
        await store.create_thread("t1")
    updated = await store.update_thread("t1", title="New", metadata={"k": 2})
    assert (updated["title"], updated["metadata"]) == ("New", {"k": 2})
    only_title = await store.update_thread("t1", title="Newer")
    assert only_title["metadata"] == {"k": 2}
    await store.append_messages("t1", [{"role": "user", "content": "hello"}])
    assert await store.delete_thread("t1") is True
    assert await store.get_thread("t1") is None
    assert await store.list_messages("t1") == []
    assert await store.delete_thread("t1") is False
    with pytest.raises(ThreadNotFoundError):
        await store.update_thread("t1", title="x")


async def test_store_list_threads_by_resource_paged(store: Store) -> None:
    for i in range(5):
        await store.create_thread(f"t{i}", resource_id="u1")
        await store.append_messages(f"t{i}", [{"role": "user", "content": str(i)}])
    await store.create_thread("other", resource_id="u2")
    page1 = await store.list_threads("u1", limit=2)
    page2 = await store.list_threads("u1", limit=2, offset=2)
    page3 = await store.list_threads("u1", limit=2, offset=4)
    ids = [t["id"] for t in page1 + page2 + page3]
    assert sorted(ids) == ["t0", "t1", "t2", "t3", "t4"]
    assert len(set(ids)) == 5
    assert [t["id"] for t in await store.list_threads("u2")] == ["other"]


async def test_store_messages_in_order_with_paging(store: Store) -> None:
    await store.create_thread("t", resource_id="u")
    stored = await store.append_messages(
        "t",
        [
            {"role": "user", "content": "q1", "id": "m1"},
            {
                "role": "assistant",
                "content": [{"type": "text", "text": "a1"}],
                "metadata": {"x": 1},
            },
        ],
    )
    assert stored[0]["id"] == "m1"
    assert stored[0]["content"] == [{"type": "text", "text": "q1"}]
    assert stored[0]["seq"] < stored[1]["seq"]
    for i in range(3):
        await store.append_messages("t", [{"role": "user", "content": f"more {i}"}])
    all_ = await store.list_messages("t")
    assert [m["content"][0]["text"] for m in all_] == ["q1", "a1", "more 0", "more 1", "more 2"]
    assert all_[1]["metadata"] == {"x": 1}
    assert all_[1]["resourceId"] == "u"
    page = await store.list_messages("t", limit=2, offset=1)
    assert [m["content"][0]["text"] for m in page] == ["a1", "more 0"]
    recent = await store.recent_messages("t", 2)
    assert [m["content"][0]["text"] for m in recent] == ["more 1", "more 2"]
    with pytest.raises(ThreadNotFoundError):
        await store.append_messages("nope", [{"role": "user", "content": "x"}])


async def test_store_concurrent_writers_to_one_thread_keep_every_message_in_order(
    store: Store,
) -> None:
    await store.create_thread("t")

    async def writer(name: str) -> None:
        for i in range(20):
            await store.append_messages("t", [{"role": "user", "content": f"{name}-{i}"}])

    await asyncio.gather(*(writer(n) for n in "abcd"))
    texts = [m["content"][0]["text"] for m in await store.list_messages("t")]
    assert len(texts) == 80
    for name in "abcd":
        assert [t for t in texts if t.startswith(name)] == [f"{name}-{i}" for i in range(20)]


async def test_store_concurrent_writers_from_two_stores(db_url: str) -> None:
    async with Store(db_url) as a, Store(db_url) as b:
        await a.create_thread("t")

        async def writer(s: Store, name: str) -> None:
            for i in range(15):
                await s.append_messages("t", [{"role": "user", "content": f"{name}-{i}"}])

        await asyncio.gather(writer(a, "a"), writer(b, "b"))
        texts = [m["content"][0]["text"] for m in await b.list_messages("t")]
    assert sorted(texts) == sorted([f"a-{i}" for i in range(15)] + [f"b-{i}" for i in range(15)])
    for name in "ab":
        assert [t for t in texts if t.startswith(name)] == [f"{name}-{i}" for i in range(15)]


@pytest.mark.parametrize("bad", ["", "x" * 256, "a\nb", "tab\there", "\x00"])
async def test_store_ids_are_validated(store: Store, bad: str) -> None:
    with pytest.raises(InvalidIdError):
        await store.create_thread(bad)
    with pytest.raises(InvalidIdError):
        await store.get_thread(bad)
    with pytest.raises(InvalidIdError):
        await store.save_snapshot("wf", bad, {"status": "running"})


async def test_store_snapshot_save_load_list(store: Store) -> None:
    assert await store.load_snapshot("wf", "r1") is None
    await store.save_snapshot("wf", "r1", {"status": "running", "steps": {}})
    await store.save_snapshot(
        "wf", "r1", {"status": "suspended", "steps": {"a": {"status": "suspended"}}}
    )
    await store.save_snapshot("wf", "r2", {"status": "success", "result": 3})
    await store.save_snapshot("other", "r3", {"status": "running"})
    snap = await store.load_snapshot("wf", "r1")
    assert snap == {"status": "suspended", "steps": {"a": {"status": "suspended"}}}
    listed = await store.list_snapshots("wf")
    assert {r["runId"] for r in listed} == {"r1", "r2"}  # order: see the newest-first test
    assert set(listed[0]) == {"workflowId", "runId", "status", "snapshot", "createdAt", "updatedAt"}
    by_id = {r["runId"]: r for r in listed}
    assert by_id["r1"]["status"] == "suspended"
    assert by_id["r2"]["snapshot"] == {"status": "success", "result": 3}
    assert [r["runId"] for r in await store.list_snapshots("wf", limit=1, offset=1)] == [
        listed[1]["runId"]
    ]


async def test_store_snapshot_list_is_newest_first(store: Store) -> None:
    for i in range(3):
        await store.save_snapshot("wf", f"r{i}", {"status": "success"})
        # created_at has millisecond resolution: make each run visibly newer.
        async with store._tx() as conn:
            await conn.execute(
                sa.text("UPDATE workflow_snapshots SET created_at = :t WHERE run_id = :r"),
                {"t": 1000 + i, "r": f"r{i}"},
            )
    assert [r["runId"] for r in await store.list_snapshots("wf")] == ["r2", "r1", "r0"]


async def test_store_compare_and_set_status_lets_one_of_two_win(db_url: str) -> None:
    async with Store(db_url) as a, Store(db_url) as b:
        await a.save_snapshot("wf", "r", {"status": "suspended", "input": 1})
        results = await asyncio.gather(
            a.compare_and_set_status("wf", "r", "suspended", "running"),
            b.compare_and_set_status("wf", "r", "suspended", "running"),
        )
        assert sorted(results) == [False, True]
        snap = await b.load_snapshot("wf", "r")
        assert snap == {"status": "running", "input": 1}
        assert await a.compare_and_set_status("wf", "missing", "suspended", "running") is False
        listed = await a.list_snapshots("wf")
        assert listed[0]["status"] == "running"
        assert listed[0]["snapshot"]["status"] == "running"


async def test_store_event_log_reads_from_offset(store: Store) -> None:
    chunks: list[Chunk] = []
    run = RunEvents("run-1", lambda offset: chunks[offset:])
    store.events.attach(run)
    assert store.events.attached == 1
    for i in range(3000):
        chunks.append({"type": "text-delta", "runId": "run-1", "payload": {"text": str(i)}})
        if i == 1000:
            await store.flush_events()  # a flush mid-run, as the flusher does
    await store.events.flush(run, detach=True)
    assert store.events.attached == 0
    assert await store.read_events("run-1") == chunks
    assert await store.read_events("run-1", 700) == chunks[700:]
    assert await store.read_events("run-1", 2500) == chunks[2500:]
    assert await store.read_events("run-1", 3000) == []
    assert await store.read_events("missing") == []
    await store.log_events("run-1", [{"type": "finish"}])
    assert (await store.read_events("run-1", 2999)) == [chunks[-1], {"type": "finish"}]


async def test_store_event_log_retention(db_url: str) -> None:
    async with Store(db_url) as s:
        for i in range(4):
            await s.start_run(f"r{i}", kind="agent", target_id="a")
            await s.log_events(f"r{i}", [{"type": "start", "n": i}])
            await s.end_run(f"r{i}", "success")
        async with s._tx() as conn:
            for i in range(4):
                await conn.execute(
                    sa.text("UPDATE runs SET started_at = :t WHERE run_id = :r"),
                    {"t": 1000 + i, "r": f"r{i}"},
                )
        assert await s.prune_events(keep_runs=2) == 2
        assert await s.read_events("r0") == []
        assert await s.read_events("r3") == [{"type": "start", "n": 3}]
    async with Store(db_url, retention=EventRetention(max_age=-1)) as s:
        assert await s.read_events("r3") == []
        assert await _status(s, "r3") == "success"


async def test_store_event_log_retention_by_age_deletes_whole_logs(store: Store) -> None:
    """A log is deleted once nothing was added to it for max_age, and then whole: a run still
    logging keeps its first rows, however old."""
    stmts = store._stmts
    day = 86_400_000
    now = now_ms()
    rows = [
        (run, seq, at)
        for run, ats in {
            "old": [now - 3 * day, now - 2 * day],
            "live": [now - 3 * day, now],
        }.items()
        for seq, at in enumerate(ats)
    ]
    async with store._hot() as conn:
        await stmts.execute(
            conn,
            stmts.insert_events,
            [
                {
                    "run_id": run,
                    "start_seq": seq,
                    "end_seq": seq + 1,
                    "created_at": at,
                    "chunks": orjson.dumps([{"type": "n", "seq": seq}]),
                }
                for run, seq, at in rows
            ],
        )
    assert await store.prune_events(max_age=86_400) == 2
    assert await store.read_events("old") == []
    assert await store.read_events("live") == [{"type": "n", "seq": 0}, {"type": "n", "seq": 1}]


async def test_store_runs_recorded_and_closed_store_marks_its_running_runs_interrupted(
    db_url: str,
) -> None:
    async with Store(db_url) as s:
        await s.start_run("done", kind="workflow", target_id="wf")
        await s.end_run("done", "success")
        await s.start_run("open", kind="agent", target_id="a", thread_id=None)
        run = await s.get_run("open")
        assert run is not None
        assert run["status"] == "running"
        assert run["endedAt"] is None
    async with Store(db_url) as s:
        assert await _status(s, "done") == "success"
        assert await _status(s, "open") == "interrupted"
        assert await s.get_run("never") is None


async def test_store_schema_migrated_once_and_reopened(db_url: str) -> None:
    async with Store(db_url) as s:
        await s.create_thread("t")
    async with Store(db_url) as s:
        assert await s.get_thread("t") is not None
        async with s._tx() as conn:
            versions = (await conn.execute(sa.text("SELECT version FROM schema_version"))).all()
    assert [v[0] for v in versions] == [1, 2, 3, 4]


async def test_store_schema_version_1_database_is_upgraded_on_open(db_url: str) -> None:
    async with Store(db_url) as s, s._tx() as conn:
        # As a streamwise with only the first migration left it.
        await conn.execute(sa.text("DROP TABLE agent_suspended_runs"))
        await conn.execute(sa.text("DELETE FROM schema_version WHERE version >= 2"))
    async with Store(db_url) as s:
        assert await s.load_suspended("a", "r") is None
        token = await s.save_suspended("a", "r", {"format": 1})
        assert await s.load_suspended("a", "r") == (token, {"format": 1})


async def test_store_schema_version_2_database_gets_fewer_indexes(db_url: str) -> None:
    def indexes(sync: sa.Connection) -> set[str]:
        inspector = sa.inspect(sync)
        return {str(i["name"]) for t in ("runs", "run_events") for i in inspector.get_indexes(t)}

    async with Store(db_url) as s, s._tx() as conn:
        # As a streamwise with two migrations left it.
        await conn.execute(sa.text("DROP INDEX ix_runs_running"))
        await conn.execute(sa.text("CREATE INDEX ix_runs_status ON runs (status)"))
        await conn.execute(sa.text("CREATE INDEX ix_run_events_created ON run_events (created_at)"))
        await conn.execute(sa.text("DELETE FROM schema_version WHERE version >= 3"))
        assert await conn.run_sync(indexes) == {
            "ix_runs_status",
            "ix_runs_started",
            "ix_run_events_created",
        }
    async with Store(db_url) as s:
        async with s._tx() as conn:
            assert await conn.run_sync(indexes) == {"ix_runs_running", "ix_runs_started"}
        # What the index serves: a store finds the runs of a store that is gone.
        await s.start_run("r1", kind="agent", target_id="a")
        async with s._tx() as conn:
            await conn.execute(sa.text("UPDATE runs SET owner = 'gone'"))
        assert await s.recover_interrupted() == ["r1"]


async def test_store_newer_schema_is_refused(db_url: str) -> None:
    async with Store(db_url) as s, s._tx() as conn:
        await conn.execute(sa.text("INSERT INTO schema_version VALUES (99, 0)"))
    with pytest.raises(StorageError, match="newer"):
        await Store(db_url).open()


async def test_store_opens_lazily_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "dir" / "lazy.db"
    s = Store(f"sqlite:///{path}")
    assert not s.is_open
    assert not path.exists()
    await s.create_thread("t")
    assert s.is_open
    assert path.exists()
    await s.close()
    with pytest.raises(StorageError, match="closed"):
        await s.open()


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("mysql://localhost/db", "unsupported database scheme 'mysql'"),
        (
            "redis://:secret@host/0",
            r"unsupported database scheme 'redis' in redis://:\*\*\*@host/0",
        ),
        ("not a url", "is not a database URL"),
        ("", "non-empty"),
        ("sqlite:relative.db", "is not a database URL"),
        ("postgresql:///nohost", "needs a host"),
    ],
)
def test_store_bad_url_or_scheme_fails_at_once(url: str, match: str) -> None:
    with pytest.raises(StorageConfigError, match=match):
        Store(url)


async def test_store_unreachable_postgres_fails_at_open_with_clear_message() -> None:
    s = Store("postgresql://u:pw@127.0.0.1:1/db", connect_timeout=5)
    with pytest.raises(
        StorageUnavailableError,
        match=r"cannot open the database postgresql://u:\*\*\*@127\.0\.0\.1:1/db",
    ):
        await s.open()


async def test_store_file_that_is_not_a_database_fails_at_open(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageUnavailableError, match="cannot open the database sqlite:///"):
        await Store(f"sqlite:///{path}").open()


async def test_store_unwritable_sqlite_path_fails_at_open(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageUnavailableError, match="cannot open the database"):
        await Store(f"sqlite:///{blocker}/sub/db.sqlite").open()


async def test_store_memory_url_works(tmp_path: Path) -> None:
    async with Store("sqlite://:memory:") as s:
        await s.create_thread("t")
        await asyncio.gather(
            *(s.append_messages("t", [{"role": "user", "content": str(i)}]) for i in range(10))
        )
        assert len(await s.list_messages("t")) == 10


async def _status(store: Store, run_id: str) -> str | None:
    run = await store.get_run(run_id)
    return run["status"] if run is not None else None


async def test_store_runs_of_stale_or_dead_owners_are_interrupted_live_ones_kept(
    db_url: str,
) -> None:
    async with Store(db_url) as s:
        now = int(time.time() * 1000)
        owners = [
            ("elsewhere:1:live", "elsewhere", 1, now),  # another host, fresh heartbeat
            ("elsewhere:2:stale", "elsewhere", 2, now - 3_600_000),  # no heartbeat for an hour
            (f"{socket.gethostname()}:{2**22 + 7}:dead", socket.gethostname(), 2**22 + 7, now),
        ]
        async with s._tx() as conn:
            for oid, host, pid, beat in owners:
                await conn.execute(
                    sa.text("INSERT INTO owners VALUES (:i, :h, :p, :b)"),
                    {"i": oid, "h": host, "p": pid, "b": beat},
                )
                await conn.execute(
                    sa.text(
                        "INSERT INTO runs (run_id, kind, target_id, status, owner, started_at) "
                        "VALUES (:r, 'workflow', 'wf', 'running', :o, :t)"
                    ),
                    {"r": f"run-{oid.split(':')[-1]}", "o": oid, "t": now},
                )
        assert sorted(await s.recover_interrupted()) == ["run-dead", "run-stale"]
        assert await _status(s, "run-live") == "running"
        assert await _status(s, "run-stale") == "interrupted"
        assert await _status(s, "run-dead") == "interrupted"
        assert await s.recover_interrupted() == []


def run_row(store: Store, run_id: str) -> dict[str, Any]:
    """A ``runs`` row for the store's prebuilt ``start_run`` statement."""
    return {
        "run_id": run_id,
        "kind": "agent",
        "target_id": "a",
        "thread_id": None,
        "resource_id": None,
        "status": "running",
        "owner": store.owner_id,
        "started_at": 1,
        "ended_at": None,
    }


async def test_store_run_ends_use_a_kept_driver_connection_and_roll_back_on_failure(
    store: Store,
) -> None:
    stmts = store._stmts

    async def fail_in_the_middle() -> None:
        async with store._hot() as conn:
            # Not SQLAlchemy's connection: the driver's (see storage/_statements.py).
            assert isinstance(conn, (LoopConnection, PgDriver))
            assert await stmts.scalar(conn, stmts.start_run, run_row(store, "r1")) == 1
            raise RuntimeError("in the middle")

    with pytest.raises(RuntimeError, match="in the middle"):
        await fail_in_the_middle()
    async with store._hot() as conn:
        await stmts.scalar(conn, stmts.start_run, run_row(store, "r2"))
    assert await store.get_run("r1") is None  # rolled back, not committed with the next
    record = await store.get_run("r2")  # committed, and seen by SQLAlchemy's connections
    assert record is not None and record["status"] == "running"


async def test_store_driver_statements_read_what_sqlalchemy_reads(store: Store) -> None:
    await store.create_thread("t", resource_id="u")
    await store.append_messages(
        "t", [{"role": "user", "content": f"m{i}", "metadata": {"i": i}} for i in range(5)]
    )
    stmts = store._stmts
    for params, expected in (
        ({"b_thread_id": "t", "b_count": 3}, 3),
        ({"b_thread_id": "t", "b_count": 0}, 1),  # the thread's owner, no message
        ({"b_thread_id": "none", "b_count": 3}, 0),
    ):
        async with store._hot(write=False) as raw:
            driver = await stmts.rows(raw, stmts.thread_history, params)
        async with store._read() as conn:
            theirs = (await conn.execute(stmts.thread_history, params)).mappings().all()
        assert driver == [dict(r) for r in theirs]
        assert len(driver) == expected
    history = await store.begin_agent_run(
        "r", agent_id="a", thread_id="t", resource_id="u", last_messages=2, messages=[]
    )
    assert [m["metadata"] for m in history] == [{"i": 3}, {"i": 4}]


async def test_store_event_rows_written_twice_are_kept_once(store: Store) -> None:
    """A run's end written again (its commit's outcome unclear) does not fail on its rows."""
    stmts = store._stmts
    chunk: Chunk = {"type": "text-delta", "runId": "r", "from": "AGENT", "payload": {"id": "t"}}
    rows = [
        {
            "run_id": "r",
            "start_seq": 0,
            "end_seq": 1,
            "chunks": orjson.dumps([chunk]),
            "created_at": 1,
        }
    ]
    for _ in range(2):
        async with store._hot() as conn:
            await stmts.execute(conn, stmts.insert_events, rows)
    assert await store.read_events("r") == [chunk]


async def _compression(store: Store) -> dict[str, str]:
    """PostgreSQL: how each large column's new values are compressed ('' is the default)."""
    query = sa.text(
        "SELECT attrelid::regclass::text || '.' || attname, attcompression::text FROM pg_attribute"
        " WHERE attname IN ('chunks', 'content', 'snapshot', 'state') AND attnum > 0"
        " AND attrelid::regclass::text IN"
        " ('run_events', 'messages', 'workflow_snapshots', 'agent_suspended_runs')"
    )
    async with store._tx() as conn:
        return {str(name): str(how) for name, how in (await conn.execute(query)).all()}


async def test_store_postgresql_compresses_large_values_with_lz4(db_url: str) -> None:
    async with Store(db_url) as store:
        if store.url.dialect == "sqlite":
            return  # (SQLite stores values as they are: nothing to set)
        assert await _compression(store) == {
            "run_events.chunks": "l",
            "messages.content": "l",
            "workflow_snapshots.snapshot": "l",
            "agent_suspended_runs.state": "l",
        }


async def test_store_postgresql_without_lz4_keeps_pglz_and_opens(
    db_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A server that refuses lz4 (here: a column it cannot find, the same failed ALTER) keeps
    its default compression; the upgrade goes on and the store opens."""
    monkeypatch.setattr(_schema, "_LARGE", (("run_events", "chunks"), ("messages", "nope")))
    async with Store(db_url) as store:
        await store.create_thread("t")
        assert await store.get_thread("t") is not None
        if store.url.dialect == "postgresql":
            assert (await _compression(store))["run_events.chunks"] == ""
            assert "PostgreSQL without lz4" in caplog.text


async def test_store_database_errors_are_storage_errors_naming_the_cause(db_url: str) -> None:
    """A database that fails a statement (here: a table dropped behind the store's back)
    raises StorageError with the database's reason, from the public methods and from a run's
    two ends, never the driver's own exception."""
    async with Store(db_url) as store:
        await store.create_thread("t")
        async with store._tx() as conn:
            await conn.execute(sa.text("DROP TABLE messages"))
        with pytest.raises(StorageError, match="messages") as caught:
            await store.list_messages("t")
        assert not isinstance(caught.value, StorageUnavailableError)
        with pytest.raises(StorageError, match="messages"):  # a run's start: the hot path
            await store.begin_agent_run(
                "r1", agent_id="a", thread_id="t", resource_id=None, last_messages=5, messages=[]
            )
        with pytest.raises(StorageError, match="messages"):  # its end
            await store.end_agent_run(
                "r2",
                status="success",
                thread_id="t",
                resource_id=None,
                message={"role": "assistant", "content": [{"type": "text", "text": "hi"}]},
            )
        # What does not need the table still works.
        assert (await store.get_thread("t")) is not None
