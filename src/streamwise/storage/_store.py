"""``Store``: threads, messages, runs, workflow snapshots and run event logs in one database.

One code path for both databases: SQLAlchemy 2's async core over aiosqlite (the default, a file
under ``./.streamwise/``) or asyncpg (``postgresql://…``, for several processes). The schema is
migrated on open. Opening is lazy: every method opens the store on first use.

On SQLite every transaction of a store goes through one lock (SQLite has one writer anyway, and
an in-memory database one connection); PostgreSQL transactions run concurrently.

What every agent run does — one read at its start, one transaction at its end — runs on driver
connections the store keeps, with statements SQLAlchemy compiled once (``_statements.py``,
``StoreBase._hot``); runs that end together are written in one transaction (group commit,
:meth:`Store._write_end`).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
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
)
from . import _schema as s
from ._base import EventRetention, error_reason, now_ms, pid_alive
from ._events import EventLog, Row
from ._ids import check_id
from ._recorder import MessageRecorder
from ._records import (
    Message,
    MessageInput,
    RunStatus,
)
from ._runs import RunsMixin
from ._snapshots import SnapshotsMixin
from ._sqlite import loop_creator
from ._statements import Conn, PgDriver
from ._suspended import SuspendedMixin
from ._threads import ThreadsMixin, assistant_input, message_record, message_rows

__all__ = ("EventRetention", "PendingStart", "Store")

_log = logging.getLogger("streamwise.storage")


@dataclass(slots=True)
class PendingStart:
    """An agent run's start, not written yet (see :meth:`Store.begin_agent_run`)."""

    run_id: str
    agent_id: str
    thread_id: str | None
    resource_id: str | None
    messages: list[MessageInput]
    at: int
    noted: float = field(default_factory=time.monotonic)  # the event log's clock


@dataclass(slots=True)
class _End:
    """A run's end, queued for the store's end writer (see :meth:`Store._write_end`)."""

    run_id: str
    status: RunStatus
    thread_id: str | None
    resource_id: str | None
    message: MessageInput | None
    event_rows: Sequence[Row]
    replace_message: bool
    done: asyncio.Future[None]


def _alone(e: _End, starts: list[PendingStart]) -> bool:
    """Whether ``e``'s start is the only one not written, and it has a thread (its start and
    end can then be written in one statement)."""
    if len(starts) != 1:
        return False
    p = starts[0]
    return p.run_id == e.run_id and p.thread_id is not None and e.thread_id == p.thread_id


def _log_arrays(events: Sequence[Row]) -> list[list[Any]]:
    """Event-log rows as the arrays the one-statement ends unnest (start, end, chunks, time)."""
    return [[r[k] for r in events] for k in ("start_seq", "end_seq", "chunks", "created_at")]


def _message_arrays(rows: list[dict[str, Any]], *keys: str) -> list[list[Any]]:
    """Message rows as the arrays the one-statement ends unnest (``keys``, in that order)."""
    return [[r[k] for r in rows] for k in keys]


_MESSAGE_KEYS = ("id", "role", "content", "metadata", "run_id")


#: PostgreSQL: a run's start and end in one statement (see Store._write_end_at_once). Returns
#: the run's ``started_at`` (another than its own: the id ran before, and no event rows were
#: written) and the thread's owner (another resource's: no message was written).
_END_AT_ONCE = """
WITH r AS (
  INSERT INTO runs (run_id, kind, target_id, thread_id, resource_id, status, owner,
                    started_at, ended_at)
  VALUES ($1, 'agent', $2, $3, $4, $5, $6, $7, $8)
  ON CONFLICT (run_id) DO UPDATE
    SET status = excluded.status, owner = excluded.owner, ended_at = excluded.ended_at
  RETURNING started_at
), t AS (
  INSERT INTO threads (id, resource_id, title, metadata, created_at, updated_at)
  VALUES ($3, $4, NULL, '{}', $7, $7)
  ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at
  RETURNING resource_id
), e AS (
  INSERT INTO run_events (run_id, start_seq, end_seq, chunks, created_at)
  SELECT $1, u.s, u.e, u.c, u.t
  FROM unnest($9::int[], $10::int[], $11::bytea[], $12::bigint[]) AS u(s, e, c, t)
  WHERE (SELECT started_at FROM r) = $7
  ON CONFLICT DO NOTHING
), m AS (
  INSERT INTO messages (id, thread_id, resource_id, role, content, metadata, run_id, created_at)
  SELECT u.id, $3, $4, u.role, u.content, u.metadata, u.run_id, u.created_at
  FROM unnest($13::varchar[], $14::varchar[], $15::text[], $16::text[], $17::varchar[],
              $18::bigint[]) WITH ORDINALITY AS u(id, role, content, metadata, run_id,
                                                  created_at, ord)
  WHERE $4::varchar IS NULL OR (SELECT resource_id FROM t) IS NULL
     OR (SELECT resource_id FROM t) = $4::varchar
  ORDER BY u.ord
  ON CONFLICT DO NOTHING
)
SELECT (SELECT started_at FROM r), (SELECT resource_id FROM t)
"""


def _not_its_thread(p: PendingStart, owner: str | None) -> bool:
    """Whether the thread of run ``p`` turned out to be another resource's (two runs made the
    same new thread for two resources at once): the later one's messages are not stored in
    the other's thread (said in the log)."""
    if p.resource_id is None or owner is None or owner == p.resource_id:
        return False
    _log.error(
        "run %s: thread %r belongs to another resource than %r: its messages are not stored",
        p.run_id,
        p.thread_id,
        p.resource_id,
    )
    return True


#: PostgreSQL: a run's end when its start is written (see Store._write_only_end).
_END_ONLY = """
WITH e AS (
  INSERT INTO run_events (run_id, start_seq, end_seq, chunks, created_at)
  SELECT $1, u.s, u.e, u.c, u.t
  FROM unnest($6::int[], $7::int[], $8::bytea[], $9::bigint[]) AS u(s, e, c, t)
  ON CONFLICT DO NOTHING
), m AS (
  INSERT INTO messages (id, thread_id, resource_id, role, content, metadata, run_id, created_at)
  SELECT u.id, $4, $5, u.role, u.content, u.metadata, u.run_id, $3
  FROM unnest($10::varchar[], $11::varchar[], $12::text[], $13::text[], $14::varchar[])
       WITH ORDINALITY AS u(id, role, content, metadata, run_id, ord)
  ORDER BY u.ord
  ON CONFLICT DO NOTHING
)
UPDATE runs SET status = $2, ended_at = $3 WHERE run_id = $1
"""


def _retrieved(future: asyncio.Future[None]) -> None:
    """A done callback that reads a future's exception (so none is reported as lost)."""
    if not future.cancelled():
        future.exception()


@dataclass(slots=True)
class _Turn:
    """The runs starting on one thread, taking turns (see :meth:`Store.begin_agent_run`)."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0


class Store(ThreadsMixin, RunsMixin, SnapshotsMixin, SuspendedMixin):
    """A streamwise database (see the module docstring).

    Args:
        url: ``sqlite:///path.db``, ``sqlite://:memory:``, ``postgresql://…``; default
            ``$STREAMWISE_DATABASE_URL`` or ``sqlite:///.streamwise/streamwise.db``.
        event_batch_size: chunks per row of a run's event log written while it runs (its
            end writes the rest in rows of up to 16 times as many).
        event_flush_interval: seconds between writes of running runs' new chunks.
        retention: how long event logs are kept (default: forever).
        stale_after: seconds without a heartbeat after which another store's running runs
            count as interrupted (a dead process on this host is detected at once).
        connect_timeout: seconds to wait for a PostgreSQL server.

    Raises:
        StorageConfigError: a malformed URL or an unknown scheme (at once, before any I/O).
    """

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

    async def open(self) -> Store:
        """Connect, migrate the schema, mark runs of dead processes ``interrupted``, start the
        event flusher. Idempotent; every other method calls it.

        Raises:
            StorageUnavailableError: the database cannot be reached or opened.
            StorageConfigError: the driver for the URL is not installed.
        """
        if self._ready and not self._closed and not self._open_waiting:
            return self
        if self._closed:
            raise StorageError(f"{self!r} is closed")
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        # Callers that came while another one opened the store return once it is ready, in the
        # order they came: later callers queue behind them (runs start in the order they began).
        self._open_waiting += 1
        try:
            await self._open_lock.acquire()
        finally:
            self._open_waiting -= 1
        try:
            if not self._ready:
                await self._open()
        finally:
            self._open_lock.release()
        return self

    async def _migrate(self, engine: AsyncEngine) -> None:
        """Migrate the schema. On SQLite another process may be creating the same new file at
        this moment (its schema, its journal mode): the upgrade is idempotent, so it is tried
        again a few times before the error counts."""
        for attempt in range(6):
            try:
                await s.migrate(engine, now_ms=now_ms())
                return
            except sa.exc.DBAPIError as exc:
                reason = error_reason(exc)
                racing = "locked" in reason or "already exists" in reason or "UNIQUE" in reason
                if self.url.dialect != "sqlite" or not racing or attempt == 5:
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))

    async def _open(self) -> None:
        engine = self._create_engine()
        try:
            await self._migrate(engine)
        except StorageError:
            await engine.dispose()
            raise
        except (sa.exc.SQLAlchemyError, OSError, TimeoutError) as exc:
            await engine.dispose()
            raise StorageUnavailableError(
                f"cannot open the database {self.url.display}: {error_reason(exc)}"
            ) from exc
        except BaseException:
            await engine.dispose()
            raise
        self._tx_lock = asyncio.Lock() if self.url.dialect == "sqlite" else None
        self._engine = engine
        self._events = EventLog(
            self._write_pending,
            batch_size=self._batch_size,
            flush_interval=self._flush_interval,
            tick=self._tick,
            busy=lambda: bool(self._owned),
            pending_since=self._oldest_start,
        )
        try:
            await self._keep_hot_connection(engine)
            await self._register_owner()
            await self.recover_interrupted()
            self._recovered_at = now_ms()
            if self.retention is not None:
                await self.prune_events()
        except BaseException:
            self._engine = None
            try:
                await self._release_hot_connection()
            finally:
                await engine.dispose()
            raise
        self._events.start(f"storage-flusher:{self.owner_id}")
        self._ready = True

    def _create_engine(self) -> AsyncEngine:
        url = self.url
        if url.dialect == "sqlite":
            # aiosqlite connections that run statements in the loop (see _sqlite.py).
            if url.memory:
                engine = create_async_engine(
                    url.sqlalchemy_url,
                    poolclass=StaticPool,
                    pool_reset_on_return=None,
                    async_creator=loop_creator(":memory:"),
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
                    pool_size=2,
                    pool_reset_on_return=None,
                    async_creator=loop_creator(str(Path(url.path).expanduser()), timeout=30),
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
        # Closing is best effort: with the database gone, the next store to open marks this
        # store's runs interrupted all the same (its owner row goes stale).
        try:
            if self._checkpointing is not None:
                await self._checkpointing
            if events is not None:
                try:
                    await events.stop()
                except Exception as exc:
                    _log.warning("%r: unwritten run events lost on close: %s", self, exc)
            try:
                async with self._tx() as conn:
                    mine = (
                        (
                            await conn.execute(
                                sa.select(s.runs).where(
                                    s.runs.c.owner == self.owner_id,
                                    s.runs.c.status == "running",
                                    s.runs.c.kind == "workflow",
                                )
                            )
                        )
                        .mappings()
                        .all()
                    )
                    await self._interrupt_snapshots(conn, [dict(r) for r in mine], now_ms())
                    await conn.execute(
                        sa.update(s.runs)
                        .where(s.runs.c.owner == self.owner_id, s.runs.c.status == "running")
                        .values(status="interrupted", ended_at=now_ms())
                    )
                    await conn.execute(sa.delete(s.owners).where(s.owners.c.id == self.owner_id))
            except Exception as exc:
                _log.warning("%r: could not mark its runs on close: %s", self, exc)
        finally:
            self._engine = None
            try:
                await self._release_hot_connection()
            finally:
                await engine.dispose()

    # -- owners and interrupted runs -----------------------------------------------------------

    async def _register_owner(self) -> None:
        now = now_ms()
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
        now = now_ms()
        if now - self._heartbeat_at > self._stale_after_ms // 4:
            async with self._tx() as conn:
                await self._heartbeat(conn, now)
        if now - self._recovered_at > self._stale_after_ms // 2:
            self._recovered_at = now
            await self.recover_interrupted()

    async def _interrupt_snapshots(
        self, conn: AsyncConnection, runs: list[dict[str, Any]], now: int
    ) -> None:
        """Mark the snapshots of workflow runs that were running when their store went away
        ``interrupted``, so they are not taken for running (or claimed) forever."""
        for run in runs:
            await conn.execute(
                sa.update(s.snapshots)
                .where(
                    s.snapshots.c.workflow_id == run["target_id"],
                    s.snapshots.c.run_id == run["run_id"],
                    s.snapshots.c.status == "running",
                )
                .values(status="interrupted", updated_at=now)
            )

    async def recover_interrupted(self) -> list[str]:
        """Mark the running runs of stores that are gone ``interrupted``; return their ids.

        A store is gone when its row is missing, its process on this host is dead, or it sent
        no heartbeat for ``stale_after`` seconds. The partial assistant message of each such
        agent run with a thread is rebuilt from its event log and stored (``status:
        interrupted``), so what streamed before the crash is kept.
        """
        now = now_ms()
        host = socket.gethostname()[:100]
        async with self._tx(long=True) as conn:
            alive: set[str] = set()
            dead: list[str] = []
            for row in (await conn.execute(sa.select(s.owners))).mappings():
                gone = now - row["heartbeat_at"] > self._stale_after_ms or (
                    row["host"] == host and not pid_alive(row["pid"])
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
            await self._interrupt_snapshots(conn, [r for r in lost if r["kind"] == "workflow"], now)
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
                        [assistant_input(recorder)],
                        now,
                        ignore_existing=True,
                    )
        _log.warning("marked %d run(s) interrupted: %s", len(ids), ", ".join(ids))
        return ids

    # -- agent memory (a read at the start of a run, one transaction at its end) ------------

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
        """Start recording a run; with a thread, return its last ``last_messages`` messages.

        Only the read happens now. The run's start (its row, the thread if new, ``messages``:
        the user's input) is written once it has waited ``event_flush_interval``, with any
        write of the store that comes sooner, or with the run's end if that comes first: a run
        shorter than the interval costs one transaction, and a crash loses at most the last
        interval of any run (see docs/storage.md, "What a crash can lose").

        Raises:
            StorageError: the thread belongs to another resource.
        """
        check_id(run_id, "run id")
        now = now_ms()
        # Ids now: a start written again (its commit failed unclear) is not stored twice.
        messages = [{**m, "id": m.get("id") or str(uuid.uuid4())} for m in messages]
        if thread_id is None:
            self._note_start(PendingStart(run_id, agent_id, None, resource_id, list(messages), now))
            return []
        # Runs on one thread read and note their start one at a time, in the order they began
        # (a read can take longer than a later run's), so their starts are written in that order.
        async with self._thread_turn(thread_id):
            if self._start_threads.get(thread_id):
                # Another run on this thread has not written its input yet: write it first,
                # so this run's history has it.
                await self._write_pending([])
            elif thread_id in self._writing_threads:
                async with self._starts_lock:  # it is being written: wait for the commit
                    pass
            params = {"b_thread_id": thread_id, "b_count": max(last_messages, 0)}

            async def read() -> Sequence[Any]:
                async with self._hot(write=False) as conn:
                    return await self._stmts.rows(conn, self._stmts.thread_history, params)

            rows = await self._once_more(read)
            owner = rows[0]["b_owner"] if rows else None
            if resource_id is not None and owner is not None and owner != resource_id:
                raise StorageError(
                    f"thread {thread_id!r} belongs to another resource than {resource_id!r}"
                )
            self._note_start(
                PendingStart(run_id, agent_id, thread_id, resource_id, list(messages), now)
            )
        return [message_record(r) for r in rows if r["seq"] is not None]

    def _oldest_start(self) -> float | None:
        """When the oldest start not written yet was noted (``time.monotonic``), or None."""
        for start in self._starts.values():  # in the order the runs began
            noted: float = start.noted
            return noted
        return None

    def _note_start(self, start: PendingStart) -> None:
        self._starts[start.run_id] = start
        if start.thread_id is not None:
            self._start_threads[start.thread_id] = self._start_threads.get(start.thread_id, 0) + 1
        self._owned.add(start.run_id)
        if self._events is not None:
            self._events.wake()

    @contextlib.asynccontextmanager
    async def _thread_turn(self, thread_id: str) -> AsyncIterator[None]:
        """Hold the thread's turn (its runs get it in the order they ask)."""
        turn = self._turns.get(thread_id)
        if turn is None:
            turn = self._turns[thread_id] = _Turn()
        turn.waiting += 1
        try:
            async with turn.lock:
                yield
        finally:
            turn.waiting -= 1
            if not turn.waiting:
                del self._turns[thread_id]

    async def continue_agent_run(
        self,
        run_id: str,
        *,
        agent_id: str,
        thread_id: str | None,
        resource_id: str | None,
    ) -> int:
        """Record that a run goes on in a new stream (after approval or resume data): the run
        is ``running`` again and keeps its event log; returns the log's length, where the new
        stream's chunks are appended."""
        now = now_ms()
        async with self._taking_starts() as starts, self._tx() as conn:
            await self._write_starts(conn, starts)
            await self._start_run(conn, run_id, "agent", agent_id, thread_id, resource_id, now)
            logged = (
                await conn.execute(
                    sa.select(sa.func.max(s.events.c.end_seq)).where(s.events.c.run_id == run_id)
                )
            ).scalar()
        return int(logged or 0)

    async def end_agent_run(
        self,
        run_id: str,
        *,
        status: RunStatus,
        thread_id: str | None,
        resource_id: str | None,
        message: MessageInput | None,
        event_rows: Sequence[Row] = (),
        replace_message: bool = False,
    ) -> None:
        """Store the run's last event-log rows and the assistant's message (if any) and record
        the run's end, in one transaction — with the run's start, and any other run's, if not
        written yet. With ``replace_message`` (a run that went on in a new stream), the
        message replaces the one of the same id, in its place."""

        async def attempt() -> None:
            done = asyncio.get_running_loop().create_future()
            await self._write_end(
                _End(run_id, status, thread_id, resource_id, message, event_rows,
                     replace_message, done)
            )  # fmt: skip

        await self._once_more(attempt)

    async def _write_end(self, end: _End) -> None:
        """Write the run's end, with every other end waiting by then (group commit): runs that
        end together cost one transaction, not one each. A run that ends while no other run
        goes on and nothing is being written is written by its caller at once; otherwise its
        end is queued, and one writer task writes the queue in one transaction after the
        current one. An end is written even if its caller is cancelled meanwhile (its
        statements are idempotent, so one cancelled in the middle of its commit is written
        again harmlessly)."""
        alone = self._events is None or not self._events.attached  # no other run going on
        if alone and self._end_writer is None and not self._writing_end and not self._ends:
            self._writing_end = True
            try:
                await self._write_ends([end])
            except asyncio.CancelledError:
                end.done.add_done_callback(_retrieved)  # nobody waits for it now
                self._ends.insert(0, end)  # the writer writes it again
                raise
            finally:
                self._writing_end = False
                self._start_end_writer()
            return
        self._ends.append(end)
        self._start_end_writer()
        await asyncio.shield(end.done)

    def _start_end_writer(self) -> None:
        if self._ends and self._end_writer is None and not self._writing_end:
            self._end_writer = asyncio.get_running_loop().create_task(
                self._write_ends_loop(), name=f"storage-ends:{self.owner_id}"
            )

    async def _write_ends_loop(self) -> None:
        batch: list[_End] = []
        try:
            while self._ends:
                batch, self._ends = self._ends, []
                try:
                    await self._write_ends(batch)
                except Exception as exc:
                    for e in batch:
                        if not e.done.done():
                            e.done.set_exception(exc)
                else:
                    for e in batch:
                        if not e.done.done():
                            e.done.set_result(None)
                batch = []
        except BaseException:
            # Cancelled (the loop is closing): nobody may wait for an end forever.
            error = StorageError(f"{self!r}: writing run ends was cancelled")
            for e in [*batch, *self._ends]:
                if not e.done.done():
                    e.done.set_exception(error)
            self._ends = []
            raise
        finally:
            self._end_writer = None

    async def _write_ends(self, batch: list[_End]) -> None:
        """Write the runs' ends, in one transaction: their starts if not written yet (with any
        other run's), their last event-log rows, their answers in the order they ended, their
        status. On PostgreSQL a run that ends alone is one statement, one round trip."""
        now = now_ms()
        async with self._taking_starts() as starts:
            one = batch[0] if len(batch) == 1 and not batch[0].replace_message else None
            if self._pg_kept is not None and one is not None and _alone(one, starts):
                await self._write_end_at_once(one, starts[0], now)
            elif self._pg_kept is not None and one is not None and not starts:
                await self._write_only_end(one, now)
            else:
                await self._write_ends_in(batch, starts, now)
        for e in batch:
            self._owned.discard(e.run_id)
            self._refused.discard(e.run_id)

    async def _write_ends_in(self, batch: list[_End], starts: list[PendingStart], now: int) -> None:
        """:meth:`_write_ends`'s transaction: starts, event-log rows, answers, statuses."""
        ends = {
            e.run_id: (
                e.status,
                now,
                e.message if e.thread_id is not None and not e.replace_message else None,
            )
            for e in batch
        }
        stmts = self._stmts
        async with self._hot() as conn:
            started = await self._write_starts(conn, starts, ends=ends, combine=len(batch) == 1)
            rows = [row for e in batch for row in e.event_rows]
            if rows:
                await stmts.execute(conn, stmts.insert_events, rows)
            ended: list[dict[str, Any]] = []
            for e in batch:
                if e.run_id in started:
                    deferred = started[e.run_id]
                    if deferred is not None:
                        p, message, at = deferred
                        assert p.thread_id is not None
                        await self._write_messages(
                            conn, p.thread_id, p.resource_id, [message], at, ignore_existing=True
                        )
                    continue
                refused = e.run_id in self._refused
                if e.thread_id is not None and e.message is not None and not refused:
                    await self._write_messages(
                        conn,
                        e.thread_id,
                        e.resource_id,
                        [e.message],
                        now,
                        ignore_existing=not e.replace_message,
                        replace_existing=e.replace_message,
                    )
                ended.append({"b_run_id": e.run_id, "b_status": e.status, "b_ended_at": now})
            if ended:
                await stmts.execute(conn, stmts.end_run, ended)

    async def _write_only_end(self, e: _End, now: int) -> None:
        """PostgreSQL, a run that ends alone, its start written already (a run longer than the
        flush interval): its last event-log rows, its answer and its status in one statement
        (:data:`_END_ONLY`), not five round trips. Idempotent, as the statements it replaces."""
        rows: list[dict[str, Any]] = []
        if e.thread_id is not None and e.message is not None and e.run_id not in self._refused:
            rows = message_rows(e.thread_id, e.resource_id, [e.message], now)
        args = [
            e.run_id, e.status, now, e.thread_id, e.resource_id,
            *_log_arrays(e.event_rows), *_message_arrays(rows, *_MESSAGE_KEYS),
        ]  # fmt: skip
        async with self._hot(single=True) as conn:
            assert isinstance(conn, PgDriver)
            await conn.run(False, _END_ONLY, args)

    async def _write_end_at_once(self, e: _End, p: PendingStart, now: int) -> None:
        """PostgreSQL, a run that ends alone with its start not written yet (the usual run):
        its row, its thread, its event-log rows, its input and answer in one statement
        (:data:`_END_AT_ONCE`), one round trip instead of six (begin, four statements,
        commit). The statement is idempotent (written again after a lost connection, it
        changes nothing)."""
        assert p.thread_id is not None
        messages, times = list(p.messages), [p.at] * len(p.messages)
        if e.message is not None:
            messages.append(e.message)
            times.append(now)
        rows = message_rows(p.thread_id, p.resource_id, messages, p.at, times)
        events = e.event_rows
        args = [
            p.run_id, p.agent_id, p.thread_id, p.resource_id, e.status, self.owner_id, p.at, now,
            *_log_arrays(events), *_message_arrays(rows, *_MESSAGE_KEYS, "created_at"),
        ]  # fmt: skip
        async with self._hot(single=True) as conn:
            assert isinstance(conn, PgDriver)
            (row,), _ = await conn.run(False, _END_AT_ONCE, args)
        started, owner = row[0], row[1]
        _not_its_thread(p, owner)
        if started != p.at:
            # The run id ran before: its log starts afresh (the statement wrote no rows).
            stmts = self._stmts
            async with self._hot() as tx:
                await stmts.execute(tx, stmts.delete_events, {"b_run_id": p.run_id})
                if events:
                    await stmts.execute(tx, stmts.insert_events, list(events))
        if now - self._heartbeat_at > self._stale_after_ms // 4:
            async with self._hot(single=True) as conn:
                await self._heartbeat(conn, now)

    # -- run starts not written yet ------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _taking_starts(self) -> AsyncIterator[list[PendingStart]]:
        """The starts not written yet, in the order the runs began, for the caller's
        transaction to write. One such transaction at a time, on PostgreSQL too: a run's end
        never overtakes its start being written by another transaction (its row would not be
        there to end), nor do a thread's inputs overtake each other. If the transaction fails,
        the starts go back, ahead of newer ones (to be retried)."""
        async with self._starts_lock:
            starts = list(self._starts.values())
            self._starts.clear()
            self._start_threads = {}
            self._writing_threads = {p.thread_id for p in starts if p.thread_id is not None}
            try:
                yield starts
            except BaseException:
                if starts:
                    self._starts = {**{p.run_id: p for p in starts}, **self._starts}
                    self._start_threads = {}
                    for p in self._starts.values():
                        if p.thread_id is not None:
                            count = self._start_threads.get(p.thread_id, 0)
                            self._start_threads[p.thread_id] = count + 1
                raise
            finally:
                self._writing_threads = set()

    async def _write_pending(self, rows: list[Row]) -> None:
        """The flusher's write: run starts not written yet, then event-log rows."""
        async with self._taking_starts() as starts:
            if not starts and not rows:
                return
            async with self._hot() as conn:
                await self._write_starts(conn, starts)
                if rows:
                    await self._stmts.execute(conn, self._stmts.insert_events, rows)
                await self._heartbeat(conn, now_ms())

    async def _write_starts(
        self,
        conn: Conn,
        starts: list[PendingStart],
        *,
        ends: Mapping[str, tuple[RunStatus, int, MessageInput | None]] | None = None,
        combine: bool = True,
    ) -> dict[str, tuple[PendingStart, MessageInput, int] | None]:
        """Write run starts in the order the runs started. ``ends`` maps the runs ending now
        to ``(status, now, answer)``: a start among them is written with its end. Its answer
        goes with its input (one statement) when ``combine`` and it is the last start;
        otherwise it is returned, for the caller to write after every input (answers in the
        order the runs ended). Returns the ended runs whose start was among them, each with
        its answer still to write, or None."""
        ended: dict[str, tuple[PendingStart, MessageInput, int] | None] = {}
        last = len(starts) - 1
        for i, p in enumerate(starts):
            end = ends.get(p.run_id) if ends else None
            if not await self._start_run(
                conn,
                p.run_id,
                "agent",
                p.agent_id,
                p.thread_id,
                p.resource_id,
                p.at,
                status=end[0] if end is not None else "running",
                ended_at=end[1] if end is not None else None,
            ):
                # An agent run id given again is a new run: its log starts afresh.
                stmts = self._stmts
                await stmts.execute(conn, stmts.delete_events, {"b_run_id": p.run_id})
            if end is not None:
                ended[p.run_id] = None
            if p.thread_id is None:
                continue
            # Create the thread if new, touch it if not, and learn its owner: one statement.
            thread = {
                "id": p.thread_id,
                "resource_id": p.resource_id,
                "title": None,
                "metadata": "{}",
                "created_at": p.at,
                "updated_at": p.at,
            }
            owner = await self._stmts.scalar(conn, self._stmts.touch_thread, thread)
            if _not_its_thread(p, owner):
                if end is None:
                    self._refused.add(p.run_id)  # nor its answer, when it ends
                continue
            messages, times = p.messages, [p.at] * len(p.messages)
            if end is not None and end[2] is not None:
                if combine and i == last:  # the usual case: input and answer in one statement
                    messages, times = [*messages, end[2]], [*times, end[1]]
                else:  # later runs' input comes before this answer
                    ended[p.run_id] = (p, end[2], end[1])
            if messages:
                await self._write_messages(
                    conn,
                    p.thread_id,
                    p.resource_id,
                    messages,
                    p.at,
                    ignore_existing=True,
                    times=times,
                )
        return ended
