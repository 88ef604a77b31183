"""``Store``: threads, messages, runs, workflow snapshots and run event logs in one database.

One code path for both databases: SQLAlchemy 2's async core over aiosqlite (the default, a file
under ``./.streamwise/``) or asyncpg (``postgresql://…``, for several processes). The schema is
migrated on open. Opening is lazy: every method opens the store on first use.

On SQLite every transaction of a store goes through one lock (SQLite has one writer anyway, and
an in-memory database one connection); PostgreSQL transactions run concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from ..errors import (
    StorageConfigError,
    StorageError,
    StorageUnavailableError,
    ThreadNotFoundError,
)
from ..stream import Chunk
from . import _schema as s
from ._events import EventLog, Row, RunEvents, unpack_chunks
from ._ids import check_id
from ._recorder import MessageRecorder
from ._records import (
    Message,
    MessageInput,
    RunRecord,
    RunStatus,
    SnapshotRecord,
    Thread,
    dumps,
    iso,
    loads,
)
from ._url import DatabaseURL, default_url, parse_url

__all__ = ("EventRetention", "Store")

_log = logging.getLogger("streamwise.storage")

_UNSET: Any = object()


def _now() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class EventRetention:
    """How long run event logs are kept (applied on open and by ``prune_events()``).

    Attributes:
        max_age: delete the logs of runs older than this many seconds.
        keep_runs: keep the logs of only this many most recent runs.
    """

    max_age: float | None = None
    keep_runs: int | None = None


class Store:
    """A streamwise database (see the module docstring).

    Args:
        url: ``sqlite:///path.db``, ``sqlite://:memory:``, ``postgresql://…``; default
            ``$STREAMWISE_DATABASE_URL`` or ``sqlite:///.streamwise/streamwise.db``.
        event_batch_size: chunks per written batch of a run's event log.
        event_flush_interval: seconds between writes of running runs' new chunks.
        retention: how long event logs are kept (default: forever).
        stale_after: seconds without a heartbeat after which another store's running runs
            count as interrupted (a dead process on this host is detected at once).
        connect_timeout: seconds to wait for a PostgreSQL server.

    Raises:
        StorageConfigError: a malformed URL or an unknown scheme (at once, before any I/O).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        event_batch_size: int = 2048,
        event_flush_interval: float = 0.05,
        retention: EventRetention | None = None,
        stale_after: float = 60.0,
        connect_timeout: float = 10.0,
    ) -> None:
        self.url: DatabaseURL = parse_url(url if url is not None else default_url())
        if event_batch_size < 1:
            raise StorageConfigError("event_batch_size must be ≥ 1")
        self._batch_size = event_batch_size
        self._flush_interval = event_flush_interval
        self.retention = retention
        self._stale_after_ms = int(stale_after * 1000)
        self._connect_timeout = connect_timeout
        self.owner_id = f"{socket.gethostname()[:100]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._engine: AsyncEngine | None = None
        self._events: EventLog | None = None
        self._open_lock: asyncio.Lock | None = None
        self._tx_lock: asyncio.Lock | None = None
        self._closed = False
        self._heartbeat_at = 0
        self._recovered_at = 0
        self._owned: set[str] = set()

    def __repr__(self) -> str:
        return f"Store({self.url.display!r})"

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def is_open(self) -> bool:
        """True between a successful :meth:`open` and :meth:`close`."""
        return self._engine is not None and not self._closed

    async def open(self) -> Store:
        """Connect, migrate the schema, mark runs of dead processes ``interrupted``, start the
        event flusher. Idempotent; every other method calls it.

        Raises:
            StorageUnavailableError: the database cannot be reached or opened.
            StorageConfigError: the driver for the URL is not installed.
        """
        if self._engine is not None and not self._closed:
            return self
        if self._closed:
            raise StorageError(f"{self!r} is closed")
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if self._engine is not None:
                return self
            engine = self._create_engine()
            try:
                await s.migrate(engine, now_ms=_now())
            except StorageError:
                await engine.dispose()
                raise
            except (sa.exc.SQLAlchemyError, OSError, TimeoutError) as exc:
                await engine.dispose()
                raise StorageUnavailableError(
                    f"cannot open the database {self.url.display}: {_reason(exc)}"
                ) from exc
            except BaseException:
                await engine.dispose()
                raise
            self._tx_lock = asyncio.Lock() if self.url.dialect == "sqlite" else None
            self._engine = engine
            self._events = EventLog(
                self._write_events,
                batch_size=self._batch_size,
                flush_interval=self._flush_interval,
                tick=self._tick,
                busy=lambda: bool(self._owned),
            )
            try:
                await self._register_owner()
                await self.recover_interrupted()
                self._recovered_at = _now()
                if self.retention is not None:
                    await self.prune_events()
            except BaseException:
                self._engine = None
                await engine.dispose()
                raise
            self._events.start(f"storage-flusher:{self.owner_id}")
        return self

    def _create_engine(self) -> AsyncEngine:
        url = self.url
        if url.dialect == "sqlite":
            if url.memory:
                engine = create_async_engine(
                    url.sqlalchemy_url, poolclass=StaticPool, pool_reset_on_return=None
                )
            else:
                assert url.path is not None
                parent = Path(url.path).expanduser().parent
                try:
                    parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    # Checked here: aiosqlite leaves its worker thread behind when the
                    # connection itself fails.
                    raise StorageUnavailableError(
                        f"cannot open the database {url.display}: cannot create {parent}: "
                        f"{exc.strerror or exc}"
                    ) from exc
                engine = create_async_engine(
                    url.sqlalchemy_url,
                    connect_args={"timeout": 30},
                    pool_size=2,
                    pool_reset_on_return=None,
                )

                @sa.event.listens_for(engine.sync_engine, "connect")
                def _pragmas(dbapi_conn: Any, _record: Any) -> None:
                    try:
                        cur = dbapi_conn.cursor()
                        cur.execute("PRAGMA journal_mode=WAL")
                        cur.execute("PRAGMA synchronous=NORMAL")
                        cur.close()
                    except BaseException:
                        # The pool does not close a connection whose connect hook failed (a file
                        # that is not a database): close it, or its thread outlives the loop.
                        dbapi_conn.close()
                        raise

            return engine
        if importlib.util.find_spec("asyncpg") is None:
            raise StorageConfigError(
                f"{url.display} needs the asyncpg driver: pip install 'streamwise[postgres]'"
            )
        return create_async_engine(
            url.sqlalchemy_url,
            connect_args={"timeout": self._connect_timeout},
            pool_size=5,
            max_overflow=10,
            pool_reset_on_return=None,
        )

    async def close(self) -> None:
        """Flush the event logs, mark this store's unfinished runs ``interrupted``, disconnect.

        Idempotent. A closed store cannot be opened again.
        """
        if self._closed:
            return
        self._closed = True
        engine, events = self._engine, self._events
        if engine is None:
            return
        try:
            if events is not None:
                with contextlib.suppress(Exception):
                    await events.stop()
            with contextlib.suppress(Exception):
                async with self._tx() as conn:
                    await conn.execute(
                        sa.update(s.runs)
                        .where(s.runs.c.owner == self.owner_id, s.runs.c.status == "running")
                        .values(status="interrupted", ended_at=_now())
                    )
                    await conn.execute(sa.delete(s.owners).where(s.owners.c.id == self.owner_id))
        finally:
            self._engine = None
            await engine.dispose()

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncConnection]:
        """One transaction (serialised per store on SQLite).

        The engines are made with ``pool_reset_on_return=None``: every connection goes back to
        the pool with its transaction committed or rolled back by ``engine.begin()``, so the
        pool's own extra ROLLBACK (a round trip per transaction) is not needed.
        """
        engine = self._engine
        if engine is None:
            await self.open()
            engine = self._engine
            assert engine is not None
        lock = self._tx_lock
        if lock is None:
            async with engine.begin() as conn:
                yield conn
        else:
            async with lock, engine.begin() as conn:
                yield conn

    def _insert(self, table: sa.Table) -> Any:
        if self.url.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table)
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)

    # -- owners and interrupted runs -----------------------------------------------------------

    async def _register_owner(self) -> None:
        now = _now()
        host, pid, _ = self.owner_id.split(":")
        async with self._tx() as conn:
            await conn.execute(
                sa.insert(s.owners).values(
                    id=self.owner_id, host=host, pid=int(pid), heartbeat_at=now
                )
            )
        self._heartbeat_at = now

    async def _tick(self) -> None:
        """Run by the flusher loop while this store owns running runs: the heartbeat that
        keeps them from counting as interrupted, and, now and then, recovery of other stores'
        (a crashed worker's runs are marked without waiting for a store to open)."""
        now = _now()
        if now - self._heartbeat_at > self._stale_after_ms // 4:
            async with self._tx() as conn:
                await self._heartbeat(conn, now)
        if now - self._recovered_at > self._stale_after_ms // 2:
            self._recovered_at = now
            await self.recover_interrupted()

    async def _heartbeat(self, conn: AsyncConnection, now: int) -> None:
        # Piggybacks on writes; an idle store needs none (it owns no running run).
        if now - self._heartbeat_at > self._stale_after_ms // 4:
            self._heartbeat_at = now
            await conn.execute(
                sa.update(s.owners).where(s.owners.c.id == self.owner_id).values(heartbeat_at=now)
            )

    async def recover_interrupted(self) -> list[str]:
        """Mark the running runs of stores that are gone ``interrupted``; return their ids.

        A store is gone when its row is missing, its process on this host is dead, or it sent
        no heartbeat for ``stale_after`` seconds. The partial assistant message of each such
        agent run with a thread is rebuilt from its event log and stored (``status:
        interrupted``), so what streamed before the crash is kept.
        """
        now = _now()
        host = socket.gethostname()[:100]
        async with self._tx() as conn:
            alive: set[str] = set()
            dead: list[str] = []
            for row in (await conn.execute(sa.select(s.owners))).mappings():
                gone = now - row["heartbeat_at"] > self._stale_after_ms or (
                    row["host"] == host and not _pid_alive(row["pid"])
                )
                if row["id"] == self.owner_id or not gone:
                    alive.add(row["id"])
                else:
                    dead.append(row["id"])
            if dead:
                await conn.execute(sa.delete(s.owners).where(s.owners.c.id.in_(dead)))
            running = (
                (await conn.execute(sa.select(s.runs).where(s.runs.c.status == "running")))
                .mappings()
                .all()
            )
            lost = [dict(r) for r in running if r["owner"] not in alive]
            if not lost:
                return []
            ids = [r["run_id"] for r in lost]
            await conn.execute(
                sa.update(s.runs)
                .where(s.runs.c.run_id.in_(ids), s.runs.c.status == "running")
                .values(status="interrupted", ended_at=now)
            )
            for run in lost:
                if run["kind"] != "agent" or run["thread_id"] is None:
                    continue
                recorder = MessageRecorder(run_id=run["run_id"])
                recorder.feed_many(await self._read_events(conn, run["run_id"], 0))
                recorder.finish()
                if recorder.has_content() and recorder.message_id is not None:
                    await self._insert_messages(
                        conn,
                        run["thread_id"],
                        run["resource_id"],
                        [_assistant_input(recorder)],
                        now,
                        ignore_existing=True,
                    )
        _log.warning("marked %d run(s) interrupted: %s", len(ids), ", ".join(ids))
        return ids

    # -- threads ---------------------------------------------------------------------------------

    async def create_thread(
        self,
        thread_id: str | None = None,
        *,
        resource_id: str | None = None,
        title: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Thread:
        """Create a thread (a new UUID unless ``thread_id`` is given).

        Raises:
            StorageError: a thread with this id exists.
            InvalidIdError: a bad id.
        """
        tid = check_id(thread_id, "thread id") if thread_id is not None else str(uuid.uuid4())
        rid = check_id(resource_id, "resource id") if resource_id is not None else None
        now = _now()
        row = {
            "id": tid,
            "resource_id": rid,
            "title": title,
            "metadata": dumps(dict(metadata or {})),
            "created_at": now,
            "updated_at": now,
        }
        async with self._tx() as conn:
            result = await conn.execute(
                self._insert(s.threads).values(**row).on_conflict_do_nothing()
            )
            if result.rowcount == 0:
                raise StorageError(f"thread {tid!r} exists already")
        return _thread(row)

    async def get_thread(self, thread_id: str) -> Thread | None:
        """The thread, or None."""
        check_id(thread_id, "thread id")
        async with self._tx() as conn:
            row = (
                (await conn.execute(sa.select(s.threads).where(s.threads.c.id == thread_id)))
                .mappings()
                .first()
            )
        return _thread(row) if row is not None else None

    async def list_threads(
        self, resource_id: str, *, limit: int = 50, offset: int = 0
    ) -> list[Thread]:
        """A resource's threads, most recently updated first."""
        check_id(resource_id, "resource id")
        _check_page(limit, offset)
        query = (
            sa.select(s.threads)
            .where(s.threads.c.resource_id == resource_id)
            .order_by(s.threads.c.updated_at.desc(), s.threads.c.id)
            .limit(limit)
            .offset(offset)
        )
        async with self._tx() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_thread(r) for r in rows]

    async def update_thread(
        self,
        thread_id: str,
        *,
        title: str | None = _UNSET,
        metadata: Mapping[str, Any] = _UNSET,
    ) -> Thread:
        """Change a thread's title and/or metadata (replaced whole).

        Raises:
            ThreadNotFoundError: no such thread.
        """
        check_id(thread_id, "thread id")
        values: dict[str, Any] = {"updated_at": _now()}
        if title is not _UNSET:
            values["title"] = title
        if metadata is not _UNSET:
            values["metadata"] = dumps(dict(metadata))
        async with self._tx() as conn:
            result = await conn.execute(
                sa.update(s.threads).where(s.threads.c.id == thread_id).values(**values)
            )
            if result.rowcount == 0:
                raise ThreadNotFoundError(f"no thread {thread_id!r}")
            row = (
                (await conn.execute(sa.select(s.threads).where(s.threads.c.id == thread_id)))
                .mappings()
                .one()
            )
        return _thread(row)

    async def delete_thread(self, thread_id: str) -> bool:
        """Delete a thread and its messages; False when there was no such thread."""
        check_id(thread_id, "thread id")
        async with self._tx() as conn:
            await conn.execute(sa.delete(s.messages).where(s.messages.c.thread_id == thread_id))
            result = await conn.execute(sa.delete(s.threads).where(s.threads.c.id == thread_id))
        return bool(result.rowcount)

    # -- messages --------------------------------------------------------------------------------

    async def append_messages(
        self, thread_id: str, messages: Sequence[MessageInput]
    ) -> list[Message]:
        """Append messages to a thread, in order, in one transaction.

        Raises:
            ThreadNotFoundError: no such thread.
        """
        check_id(thread_id, "thread id")
        now = _now()
        async with self._tx() as conn:
            row = (
                await conn.execute(
                    sa.select(s.threads.c.resource_id).where(s.threads.c.id == thread_id)
                )
            ).first()
            if row is None:
                raise ThreadNotFoundError(f"no thread {thread_id!r}")
            return await self._insert_messages(conn, thread_id, row[0], messages, now)

    async def _insert_messages(
        self,
        conn: AsyncConnection,
        thread_id: str,
        resource_id: str | None,
        messages: Sequence[MessageInput],
        now: int,
        *,
        ignore_existing: bool = False,
    ) -> list[Message]:
        stored: list[Message] = []
        for m in messages:
            mid = check_id(m.get("id") or str(uuid.uuid4()), "message id")
            content = m["content"]
            parts = (
                [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
            )
            values = {
                "id": mid,
                "thread_id": thread_id,
                "resource_id": resource_id,
                "role": m["role"],
                "content": dumps(parts),
                "metadata": dumps(m.get("metadata") or {}),
                "run_id": m.get("runId"),
                "created_at": now,
            }
            stmt = self._insert(s.messages).values(**values)
            if ignore_existing:
                stmt = stmt.on_conflict_do_nothing()
            result = await conn.execute(stmt.returning(s.messages.c.seq))
            seq = result.scalar()
            if seq is None:
                continue
            stored.append(_message({**values, "seq": seq}, parts))
        await conn.execute(
            sa.update(s.threads).where(s.threads.c.id == thread_id).values(updated_at=now)
        )
        return stored

    async def _write_messages(
        self,
        conn: AsyncConnection,
        thread_id: str,
        resource_id: str | None,
        messages: Sequence[MessageInput],
        now: int,
        *,
        ignore_existing: bool = False,
    ) -> None:
        """The lean form of :meth:`_insert_messages` for a run's hot ends: one statement for
        all (executed in order, so ``seq`` follows it), nothing read back, the thread not
        touched (the caller did)."""
        rows = []
        for m in messages:
            content = m["content"]
            parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
            rows.append(
                {
                    "id": check_id(m.get("id") or str(uuid.uuid4()), "message id"),
                    "thread_id": thread_id,
                    "resource_id": resource_id,
                    "role": m["role"],
                    "content": dumps(parts),
                    "metadata": dumps(m.get("metadata") or {}),
                    "run_id": m.get("runId"),
                    "created_at": now,
                }
            )
        if not rows:
            return
        stmt = self._insert(s.messages)
        if ignore_existing:
            stmt = stmt.on_conflict_do_nothing()
        await conn.execute(stmt, rows)

    async def list_messages(
        self, thread_id: str, *, limit: int | None = None, offset: int = 0
    ) -> list[Message]:
        """A thread's messages in order (oldest first), paged by ``limit``/``offset``."""
        check_id(thread_id, "thread id")
        _check_page(limit, offset)
        query = (
            sa.select(s.messages)
            .where(s.messages.c.thread_id == thread_id)
            .order_by(s.messages.c.seq)
            .offset(offset)
        )
        if limit is not None:
            query = query.limit(limit)
        async with self._tx() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_message(r) for r in rows]

    async def recent_messages(self, thread_id: str, count: int) -> list[Message]:
        """The last ``count`` messages of a thread, oldest first."""
        check_id(thread_id, "thread id")
        async with self._tx() as conn:
            return await self._recent(conn, thread_id, count)

    async def _recent(self, conn: AsyncConnection, thread_id: str, count: int) -> list[Message]:
        if count <= 0:
            return []
        query = (
            sa.select(s.messages)
            .where(s.messages.c.thread_id == thread_id)
            .order_by(s.messages.c.seq.desc())
            .limit(count)
        )
        rows = (await conn.execute(query)).mappings().all()
        return [_message(r) for r in reversed(rows)]

    # -- runs ------------------------------------------------------------------------------------

    async def start_run(
        self,
        run_id: str,
        *,
        kind: str,
        target_id: str,
        thread_id: str | None = None,
        resource_id: str | None = None,
    ) -> None:
        """Record a run as ``running`` (owned by this store until it ends)."""
        async with self._tx() as conn:
            await self._start_run(conn, run_id, kind, target_id, thread_id, resource_id, _now())

    async def _start_run(
        self,
        conn: AsyncConnection,
        run_id: str,
        kind: str,
        target_id: str,
        thread_id: str | None,
        resource_id: str | None,
        now: int,
    ) -> None:
        check_id(run_id, "run id")
        values = {
            "run_id": run_id,
            "kind": kind,
            "target_id": target_id,
            "thread_id": thread_id,
            "resource_id": resource_id,
            "status": "running",
            "owner": self.owner_id,
            "started_at": now,
            "ended_at": None,
        }
        stmt = self._insert(s.runs).values(**values)
        # A resumed run (a workflow after suspend) starts again under the same id.
        stmt = stmt.on_conflict_do_update(
            index_elements=[s.runs.c.run_id],
            set_={"status": "running", "owner": self.owner_id, "ended_at": None},
        )
        await conn.execute(stmt)
        await self._heartbeat(conn, now)
        self._owned.add(run_id)
        if self._events is not None:
            self._events.wake()

    async def end_run(self, run_id: str, status: RunStatus) -> None:
        """Record the end of a run."""
        async with self._tx() as conn:
            await self._end_run(conn, run_id, status, _now())

    async def _end_run(self, conn: AsyncConnection, run_id: str, status: str, now: int) -> None:
        self._owned.discard(run_id)
        await conn.execute(
            sa.update(s.runs).where(s.runs.c.run_id == run_id).values(status=status, ended_at=now)
        )

    async def get_run(self, run_id: str) -> RunRecord | None:
        """The recorded run, or None."""
        check_id(run_id, "run id")
        async with self._tx() as conn:
            row = (
                (await conn.execute(sa.select(s.runs).where(s.runs.c.run_id == run_id)))
                .mappings()
                .first()
            )
        if row is None:
            return None
        return {
            "runId": row["run_id"],
            "kind": row["kind"],
            "targetId": row["target_id"],
            "threadId": row["thread_id"],
            "resourceId": row["resource_id"],
            "status": row["status"],
            "startedAt": iso(row["started_at"]),
            "endedAt": iso(row["ended_at"]) if row["ended_at"] is not None else None,
        }

    # -- agent memory (one transaction at each end of a run) ----------------------------------

    async def begin_agent_run(
        self,
        run_id: str,
        *,
        agent_id: str,
        thread_id: str | None,
        resource_id: str | None,
        last_messages: int,
        messages: Sequence[MessageInput],
    ) -> list[Message]:
        """Record the run; with a thread: create it if new, read its last ``last_messages``
        messages (returned), then append ``messages`` (the user's input).

        Raises:
            StorageError: the thread belongs to another resource.
        """
        now = _now()
        async with self._tx() as conn:
            await self._start_run(conn, run_id, "agent", agent_id, thread_id, resource_id, now)
            if thread_id is None:
                return []
            # Create the thread if new, touch it if not, and learn its owner: one statement.
            stmt = self._insert(s.threads).values(
                id=thread_id,
                resource_id=resource_id,
                title=None,
                metadata="{}",
                created_at=now,
                updated_at=now,
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=[s.threads.c.id], set_={"updated_at": now}
            ).returning(s.threads.c.resource_id)
            owner = (await conn.execute(stmt)).scalar()
            if resource_id is not None and owner is not None and owner != resource_id:
                raise StorageError(
                    f"thread {thread_id!r} belongs to another resource than {resource_id!r}"
                )
            history = await self._recent(conn, thread_id, last_messages)
            await self._write_messages(conn, thread_id, resource_id, messages, now)
        return history

    async def end_agent_run(
        self,
        run_id: str,
        *,
        status: RunStatus,
        thread_id: str | None,
        resource_id: str | None,
        message: MessageInput | None,
        event_rows: Sequence[Row] = (),
    ) -> None:
        """Store the run's last event-log rows and the assistant's message (if any) and record
        the run's end, in one transaction."""
        now = _now()
        async with self._tx() as conn:
            if event_rows:
                await conn.execute(sa.insert(s.events), list(event_rows))
            if thread_id is not None and message is not None:
                await self._write_messages(
                    conn, thread_id, resource_id, [message], now, ignore_existing=True
                )
            await self._end_run(conn, run_id, status, now)

    # -- event logs --------------------------------------------------------------------------

    @property
    def events(self) -> EventLog:
        """The store's event flusher: ``store.events.attach(RunEvents(run_id, run.chunks_from))``
        logs a run as it goes (``flush(events, detach=True)`` when it ends)."""
        if self._events is None:
            raise StorageError(f"{self!r} is not open: await store.open() first")
        return self._events

    async def log_events(self, run_id: str, chunks: Sequence[Chunk]) -> None:
        """Append chunks to a run's event log now (imports, tools, tests)."""
        check_id(run_id, "run id")
        async with self._tx() as conn:
            row = (
                await conn.execute(
                    sa.select(sa.func.max(s.events.c.end_seq)).where(s.events.c.run_id == run_id)
                )
            ).first()
        start = int(row[0] or 0) if row is not None else 0
        items = list(chunks)
        await self.events.flush(RunEvents(run_id, lambda offset: items[offset - start :], start))

    async def _write_events(self, rows: list[Row]) -> None:
        async with self._tx() as conn:
            await conn.execute(sa.insert(s.events), rows)
            await self._heartbeat(conn, _now())

    async def read_events(self, run_id: str, offset: int = 0) -> list[Chunk]:
        """Every logged chunk of a run from ``offset`` on (what ``observe`` replays)."""
        check_id(run_id, "run id")
        if offset < 0:
            raise StorageConfigError(f"offset must be ≥ 0, got {offset}")
        async with self._tx() as conn:
            return await self._read_events(conn, run_id, offset)

    async def _read_events(self, conn: AsyncConnection, run_id: str, offset: int) -> list[Chunk]:
        query = (
            sa.select(s.events.c.start_seq, s.events.c.chunks)
            .where(s.events.c.run_id == run_id, s.events.c.end_seq > offset)
            .order_by(s.events.c.start_seq)
        )
        out: list[Chunk] = []
        for start, data in (await conn.execute(query)).all():
            batch = unpack_chunks(loads(data))
            out.extend(batch[offset - start :] if start < offset else batch)
        return out

    async def flush_events(self) -> None:
        """Write every pending chunk of every run now."""
        await self.open()
        await self.events.flush()

    async def prune_events(
        self, *, max_age: float | None = None, keep_runs: int | None = None
    ) -> int:
        """Delete old run event logs; return how many batches were deleted.

        Args:
            max_age: delete logs of runs that started more than this many seconds ago
                (default: ``retention.max_age``).
            keep_runs: keep only the logs of this many most recently started runs
                (default: ``retention.keep_runs``).
        """
        if max_age is None and self.retention is not None:
            max_age = self.retention.max_age
        if keep_runs is None and self.retention is not None:
            keep_runs = self.retention.keep_runs
        deleted = 0
        async with self._tx() as conn:
            if max_age is not None:
                cutoff = _now() - int(max_age * 1000)
                result = await conn.execute(
                    sa.delete(s.events).where(s.events.c.created_at < cutoff)
                )
                deleted += result.rowcount or 0
            if keep_runs is not None:
                logged = sa.select(s.events.c.run_id).distinct().scalar_subquery()
                keep = (
                    sa.select(s.runs.c.run_id)
                    .where(s.runs.c.run_id.in_(logged))
                    .order_by(s.runs.c.started_at.desc())
                    .limit(keep_runs)
                )
                kept = set((await conn.execute(keep)).scalars().all())
                all_logged = set(
                    (await conn.execute(sa.select(s.events.c.run_id).distinct())).scalars().all()
                )
                drop = list(all_logged - kept)
                if drop:
                    result = await conn.execute(
                        sa.delete(s.events).where(s.events.c.run_id.in_(drop))
                    )
                    deleted += result.rowcount or 0
        return deleted

    # -- workflow snapshots (the workflows engine's SnapshotStore protocol) -------------------

    async def save_snapshot(self, workflow_id: str, run_id: str, snapshot: dict[str, Any]) -> None:
        """Store (or replace) a workflow run's snapshot; its ``status`` key becomes the run's."""
        check_id(workflow_id, "workflow id")
        check_id(run_id, "run id")
        now = _now()
        status = str(snapshot.get("status", "running"))
        text = dumps(snapshot)
        stmt = self._insert(s.snapshots).values(
            workflow_id=workflow_id,
            run_id=run_id,
            status=status,
            snapshot=text,
            created_at=now,
            updated_at=now,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[s.snapshots.c.workflow_id, s.snapshots.c.run_id],
            set_={"status": status, "snapshot": text, "updated_at": now},
        )
        async with self._tx() as conn:
            await conn.execute(stmt)

    async def load_snapshot(self, workflow_id: str, run_id: str) -> dict[str, Any] | None:
        """The run's snapshot (with its current status), or None."""
        check_id(workflow_id, "workflow id")
        check_id(run_id, "run id")
        query = sa.select(s.snapshots.c.status, s.snapshots.c.snapshot).where(
            s.snapshots.c.workflow_id == workflow_id, s.snapshots.c.run_id == run_id
        )
        async with self._tx() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        snapshot: dict[str, Any] = loads(row[1])
        snapshot["status"] = row[0]
        return snapshot

    async def list_snapshots(
        self, workflow_id: str, *, limit: int = 50, offset: int = 0
    ) -> list[dict[str, Any]]:
        """A workflow's runs, newest first: ``{workflowId, runId, status, snapshot, createdAt,
        updatedAt}``."""
        check_id(workflow_id, "workflow id")
        _check_page(limit, offset)
        query = (
            sa.select(s.snapshots)
            .where(s.snapshots.c.workflow_id == workflow_id)
            .order_by(s.snapshots.c.created_at.desc(), s.snapshots.c.run_id.desc())
            .limit(limit)
            .offset(offset)
        )
        async with self._tx() as conn:
            rows = (await conn.execute(query)).mappings().all()
        out: list[dict[str, Any]] = []
        for r in rows:
            snapshot = loads(r["snapshot"])
            snapshot["status"] = r["status"]
            record: SnapshotRecord = {
                "workflowId": r["workflow_id"],
                "runId": r["run_id"],
                "status": r["status"],
                "snapshot": snapshot,
                "createdAt": iso(r["created_at"]),
                "updatedAt": iso(r["updated_at"]),
            }
            out.append(dict(record))
        return out

    async def compare_and_set_status(
        self, workflow_id: str, run_id: str, expected: str, new: str
    ) -> bool:
        """Set the run's status to ``new`` only if it is ``expected`` (one atomic UPDATE).

        Returns True when this call changed it: of two concurrent resumes, one wins.
        """
        check_id(workflow_id, "workflow id")
        check_id(run_id, "run id")
        stmt = (
            sa.update(s.snapshots)
            .where(
                s.snapshots.c.workflow_id == workflow_id,
                s.snapshots.c.run_id == run_id,
                s.snapshots.c.status == expected,
            )
            .values(status=new, updated_at=_now())
        )
        async with self._tx() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)


def _assistant_input(recorder: MessageRecorder) -> MessageInput:
    message: MessageInput = {
        "role": "assistant",
        "content": recorder.parts(),
        "metadata": recorder.metadata(),
    }
    if recorder.message_id:
        message["id"] = recorder.message_id
    if recorder.run_id:
        message["runId"] = recorder.run_id
    return message


def _thread(row: Mapping[Any, Any]) -> Thread:
    return {
        "id": row["id"],
        "resourceId": row["resource_id"],
        "title": row["title"],
        "metadata": loads(row["metadata"]),
        "createdAt": iso(row["created_at"]),
        "updatedAt": iso(row["updated_at"]),
    }


def _message(row: Mapping[Any, Any], parts: list[Any] | None = None) -> Message:
    return {
        "id": row["id"],
        "threadId": row["thread_id"],
        "resourceId": row["resource_id"],
        "role": row["role"],
        "content": parts if parts is not None else loads(row["content"]),
        "metadata": loads(row["metadata"]) if isinstance(row["metadata"], str) else row["metadata"],
        "runId": row["run_id"],
        "seq": row["seq"],
        "createdAt": iso(row["created_at"]),
    }


def _check_page(limit: int | None, offset: int) -> None:
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise StorageConfigError(f"limit must be an int ≥ 0, got {limit!r}")
    if not isinstance(offset, int) or offset < 0:
        raise StorageConfigError(f"offset must be an int ≥ 0, got {offset!r}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
