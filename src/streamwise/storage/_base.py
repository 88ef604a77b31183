"""``StoreBase``: what every part of the store shares — settings, the engine, transactions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..errors import (
    StorageConfigError,
    StorageError,
    StorageUnavailableError,
)
from ._events import EventLog
from ._sqlite import LoopConnection, checkpoint, in_thread
from ._statements import Conn, PgDriver, Statements
from ._url import DatabaseURL, default_url, parse_url

__all__ = (
    "UNSET",
    "EventRetention",
    "StoreBase",
    "check_page",
    "error_reason",
    "now_ms",
    "pid_alive",
)


UNSET: Any = object()

#: SQLite: commits between two checkpoints of the write-ahead log (see ``_sqlite.py``).
CHECKPOINT_EVERY = 32

#: SQLite: a write-ahead log larger than this is checkpointed holding the store's lock, so that
#: it starts over (see ``StoreBase._start_checkpoint``).
WAL_RESET_BYTES = 32 * 1024 * 1024

_log = logging.getLogger("streamwise.storage")

T = TypeVar("T")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class EventRetention:
    """How long run event logs are kept (applied on open and by ``prune_events()``).

    Attributes:
        max_age: delete the logs of runs that logged nothing for this many seconds (a run's
            whole log: never the start of a log still being written).
        keep_runs: keep the logs of only this many most recent runs.
    """

    max_age: float | None = None
    keep_runs: int | None = None


class StoreBase:
    """Settings, the engine and transactions; the store's parts (threads, runs, snapshots) are
    mixins over it, and :class:`~streamwise.storage.Store` puts them together."""

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
        self._ready = False  # open() finished (the engine is set earlier, for open's own use)
        self._open_waiting = 0  # callers of open() waiting for the lock
        self._events: EventLog | None = None
        self._open_lock: asyncio.Lock | None = None
        self._tx_lock: asyncio.Lock | None = None
        self._closed = False
        self._heartbeat_at = 0
        self._recovered_at = 0
        self._owned: set[str] = set()
        self._starts: dict[str, Any] = {}  # run id -> PendingStart (see Store.begin_agent_run)
        self._start_threads: dict[str, int] = {}  # thread id -> how many of those are its
        self._writing_threads: set[str] = set()  # threads of the starts being written now
        self._starts_lock = asyncio.Lock()  # held by the transaction writing starts
        self._turns: dict[str, Any] = {}  # thread id -> its starting runs' _Turn
        self._refused: set[str] = set()  # runs whose thread turned out to be another's
        self._ends: list[Any] = []  # run ends queued for the end writer (Store._write_end)
        self._end_writer: asyncio.Task[None] | None = None
        self._writing_end = False  # a caller is writing its run's end itself
        self._commits = 0
        self._reader: AsyncEngine | None = None  # PostgreSQL: the engine for reads (autocommit)
        self._sqlite_file = os.path.expanduser(self.url.path) if self.url.path else ""
        self._checkpointing: asyncio.Task[None] | None = None
        self._wal_reset_bytes = WAL_RESET_BYTES
        self._stmts = Statements.build(self.url.dialect)
        # The connections a run's two ends use (see _hot), checked out of the pool at open and
        # kept. SQLite: one, and its driver connection. PostgreSQL: one for writes, one for
        # reads (a run's first read does not wait for other runs' ends).
        self._hot_conn: AsyncConnection | None = None
        self._hot_raw: LoopConnection | None = None
        self._pg_kept: tuple[_Kept, _Kept] | None = None

    def __repr__(self) -> str:
        return f"Store({self.url.display!r})"

    @property
    def is_open(self) -> bool:
        """True between a successful :meth:`open` and :meth:`close`."""
        return self._ready and not self._closed

    async def open(self) -> Any:
        """Open the store (see :meth:`Store.open`)."""
        raise NotImplementedError

    @contextlib.asynccontextmanager
    async def _tx(self, *, long: bool = False) -> AsyncIterator[AsyncConnection]:
        """One transaction (serialised per store on SQLite).

        The engines are made with ``pool_reset_on_return=None``: every connection goes back to
        the pool with its transaction committed or rolled back by ``engine.begin()``, so the
        pool's own extra ROLLBACK (a round trip per transaction) is not needed. ``long``: the
        transaction may take milliseconds; on SQLite its statements run in a thread.
        """
        async with self._connection(write=True, long=long) as conn:
            yield conn
        if self._tx_lock is not None:
            self._commits += 1
            if self._commits % CHECKPOINT_EVERY == 0 and self._sqlite_file:
                self._start_checkpoint(self._sqlite_file)

    @contextlib.asynccontextmanager
    async def _hot(self, *, write: bool = True, single: bool = False) -> AsyncIterator[Conn]:
        """A transaction (or, without ``write``, a read) for a run's two ends: the reads and
        writes every run makes, of the prebuilt statements only (``self._stmts``).

        It runs on the driver connection the store keeps for them (checked out of SQLAlchemy's
        pool when the store opens), with the statements SQLAlchemy compiled once: SQLAlchemy's
        pool checkout, begin and commit and per-statement machinery cost several times what
        the database takes for these statements (docs/storage.md). One at a time: on SQLite
        under the lock of every transaction of the store; on PostgreSQL under the lock of the
        connection kept for writes, or of the one kept for reads (so a run's first read does
        not wait for other runs' ends). The transaction is rolled back if the block or its
        commit fails. ``single`` (PostgreSQL): the block runs one statement, on the connection
        kept for writes, as its own transaction (no begin and commit round trips).

        Raises:
            StorageUnavailableError: PostgreSQL: the kept connection was lost (the server
                restarted, or ended it); the next use connects again.
        """
        if self._engine is None:
            await self.open()
        raw, lock = self._hot_raw, self._tx_lock
        if isinstance(raw, LoopConnection) and lock is not None:
            async with lock:
                try:
                    yield raw
                    if write:
                        await raw.commit()
                except BaseException as exc:
                    # The block failed, or its commit did: nothing of it may ride on the next.
                    try:
                        await raw.rollback()
                    except Exception as rollback_exc:  # the block's error is the one to see
                        _log.warning("%r: rollback failed: %s", self, rollback_exc)
                    if isinstance(exc, sqlite3.Error):
                        raise self._failed(exc) from exc
                    raise
            if write:
                self._commits += 1
                if self._commits % CHECKPOINT_EVERY == 0 and self._sqlite_file:
                    self._start_checkpoint(self._sqlite_file)
            return
        kept = self._pg_kept
        if kept is None:  # not kept (a store opened without them): SQLAlchemy's
            async with self._tx() if write else self._read() as conn:
                yield conn
            return
        one = kept[0] if write else kept[1]
        async with one.lock:
            driver = await self._pg_driver(one)
            conn = driver.conn
            tx = None
            try:
                if write and not single:
                    tx = conn.transaction()
                    await tx.start()
                yield driver
                if tx is not None:
                    await tx.commit()
            except BaseException as exc:
                if conn.is_closed() or _lost(exc):
                    await self._drop_kept(one)
                    one.lost = True
                    if isinstance(exc, Exception):
                        raise StorageUnavailableError(
                            f"{self.url.display}: the connection was lost ({error_reason(exc)})"
                        ) from exc
                elif tx is not None:  # (a statement cancelled midway: asyncpg has ended it)
                    try:
                        await tx.rollback()
                    except Exception as rollback_exc:  # not to be trusted again: connect anew
                        _log.warning("%r: rollback failed: %s", self, rollback_exc)
                        await self._drop_kept(one)
                if _refused(exc):
                    raise self._failed(exc) from exc
                raise

    async def _pg_driver(self, one: _Kept) -> PgDriver:
        """A kept PostgreSQL connection, connected again if it was lost (under its lock)."""
        driver = one.driver
        if driver is not None and not driver.conn.is_closed():
            return driver
        # Lost, or found closed: the server's doing (a restart, a failover), so the pool's idle
        # connections may be as dead: each checked out is tried before it is kept.
        lost = one.lost or driver is not None
        await self._drop_kept(one)
        engine = self._engine
        assert engine is not None
        for _ in range(32):  # more than the pool holds
            try:
                conn = await engine.connect()
            except Exception as exc:
                raise StorageUnavailableError(
                    f"cannot reach the database {self.url.display}: {error_reason(exc)}"
                ) from exc
            try:
                raw: Any = (await conn.get_raw_connection()).driver_connection
                if lost:
                    await raw.execute("SELECT 1")
            except Exception as exc:
                _log.debug("%r: a pooled connection is dead: %s", self, exc)
                await conn.invalidate()
                await conn.close()
                continue
            except BaseException:
                await conn.close()
                raise
            one.conn, one.driver, one.lost = conn, PgDriver(raw), False
            return one.driver
        raise StorageUnavailableError(f"{self.url.display}: no live connection in the pool")

    async def _drop_kept(self, one: _Kept) -> None:
        """Let go of a kept connection: closed, not returned (the pool makes a new one in its
        place). The next use checks a connection out again (:meth:`_pg_driver`)."""
        conn, one.conn, one.driver = one.conn, None, None
        if conn is not None:
            try:
                await conn.invalidate()
                await conn.close()
            except Exception as exc:  # it is gone either way
                _log.debug("%r: closing a lost connection: %s", self, exc)

    async def _keep_hot_connection(self, engine: AsyncEngine) -> None:
        """Check out the connections :meth:`_hot` uses, for the store's lifetime."""
        self._stmts.dialect = engine.dialect
        if self.url.dialect != "sqlite":
            kept = self._pg_kept = (_Kept(), _Kept())
            for one in kept:
                await self._pg_driver(one)
            return
        conn = await engine.connect()
        try:
            raw = (await conn.get_raw_connection()).driver_connection
        except BaseException:
            await conn.close()
            raise
        if not isinstance(raw, LoopConnection):  # pragma: no cover - the engine makes these
            await conn.close()
            raise StorageError(f"{self!r}: unexpected SQLite driver connection {raw!r}")
        self._hot_conn, self._hot_raw = conn, raw

    async def _release_hot_connection(self) -> None:
        conn, self._hot_conn, self._hot_raw = self._hot_conn, None, None
        if conn is not None:
            await conn.close()
        kept, self._pg_kept = self._pg_kept, None
        for one in kept or ():
            # Closed, not returned: the pool it came from may have been let go meanwhile (a
            # lost connection empties the pool), and a connection returned there would never
            # be closed.
            await self._drop_kept(one)

    @contextlib.asynccontextmanager
    async def _read(self, *, long: bool = False) -> AsyncIterator[AsyncConnection]:
        """A connection for reads only (no transaction to commit; serialised on SQLite, like
        :meth:`_tx`)."""
        async with self._connection(write=False, long=long) as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def _connection(self, *, write: bool, long: bool) -> AsyncIterator[AsyncConnection]:
        engine = self._engine
        if engine is None:
            await self.open()
            engine = self._engine
            assert engine is not None
        lock = self._tx_lock
        if lock is None:
            # PostgreSQL: a read needs no transaction (no BEGIN and ROLLBACK round trips).
            connect = engine.begin if write else self._autocommit(engine).connect
            connected = False
            try:
                async with connect() as conn:
                    connected = True
                    yield conn
            except sa.exc.DBAPIError as exc:
                # A connection the server ended, or none to be had: the database is down (or
                # restarting). The pool lets go of its dead connections meanwhile.
                if exc.connection_invalidated or not connected:
                    raise StorageUnavailableError(
                        f"{self.url.display}: {error_reason(exc)}"
                    ) from exc
                raise self._failed(exc) from exc
            except (OSError, TimeoutError) as exc:
                if connected:
                    raise
                raise StorageUnavailableError(
                    f"cannot reach the database {self.url.display}: {error_reason(exc)}"
                ) from exc
            return
        connect = engine.begin if write else engine.connect
        try:
            with in_thread() if long else contextlib.nullcontext():
                async with lock, connect() as conn:
                    yield conn
        except sa.exc.DBAPIError as exc:
            raise self._failed(exc) from exc

    def _failed(self, exc: BaseException) -> StorageError:
        """What a statement the database refused raises: the database's reason, in a
        StorageError (the driver's exception is its ``__cause__``)."""
        return StorageError(f"{self.url.display}: {error_reason(exc)}")

    async def _once_more(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """``attempt()``, and once more if it failed on a connection the server had closed (a
        restart, a failover): the pool finds its connections dead only on first use, then
        makes new ones, and so does :meth:`_hot`. For a run's two ends, which nothing else
        would retry."""
        try:
            return await attempt()
        except StorageUnavailableError:
            pass
        return await attempt()

    def _autocommit(self, engine: AsyncEngine) -> AsyncEngine:
        reader = self._reader
        if reader is None or reader.sync_engine.pool is not engine.sync_engine.pool:
            reader = self._reader = engine.execution_options(isolation_level="AUTOCOMMIT")
        return reader

    def _start_checkpoint(self, path: str) -> None:
        """Checkpoint the SQLite write-ahead log in a thread (it syncs the disk; automatic
        checkpoints, which would run in the loop, are off).

        The store's transactions go on meanwhile: a checkpoint that meets no write of the
        store lets the log start over at the next write, and under a steady stream of writes
        the log grows instead. Once it is larger than ``WAL_RESET_BYTES``, the checkpoint
        holds the store's transaction lock (the store's writes wait for one disk sync), so the
        log starts over and stays bounded.
        """
        if self._checkpointing is not None and not self._checkpointing.done():
            return
        lock = self._tx_lock
        assert lock is not None
        try:
            grown = os.path.getsize(f"{path}-wal") > self._wal_reset_bytes
        except OSError:
            grown = False

        async def run() -> None:
            try:
                if grown:
                    async with lock:
                        await asyncio.to_thread(checkpoint, path)
                else:
                    await asyncio.to_thread(checkpoint, path)
            except Exception as exc:  # a busy or failed checkpoint is retried at the next one
                _log.warning("%r: checkpoint failed: %s", self, exc)

        self._checkpointing = asyncio.get_running_loop().create_task(
            run(), name=f"storage-checkpoint:{self.owner_id}"
        )

    def _insert(self, table: sa.Table) -> Any:
        if self.url.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table)
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)

    async def _heartbeat(self, conn: Conn, now: int) -> None:
        # Piggybacks on writes; an idle store needs none (it owns no running run).
        if now - self._heartbeat_at > self._stale_after_ms // 4:
            self._heartbeat_at = now
            stmts = self._stmts
            await stmts.execute(conn, stmts.heartbeat, {"b_owner": self.owner_id, "b_at": now})

    @property
    def events(self) -> EventLog:
        """The store's event flusher: ``store.events.attach(RunEvents(run_id, run.chunks_from))``
        logs a run as it goes (``flush(events, detach=True)`` when it ends)."""
        if self._events is None:
            raise StorageError(f"{self!r} is not open: await store.open() first")
        return self._events


class _Kept:
    """A PostgreSQL connection kept out of the pool for a store's lifetime, its asyncpg
    connection, and the lock that serialises its use (see ``StoreBase._hot``)."""

    __slots__ = ("conn", "driver", "lock", "lost")

    def __init__(self) -> None:
        self.conn: AsyncConnection | None = None
        self.driver: PgDriver | None = None
        self.lock = asyncio.Lock()
        self.lost = False  # dropped because the server ended it (see StoreBase._pg_driver)


def _refused(exc: BaseException) -> bool:
    """True when ``exc`` is PostgreSQL's answer to a statement (not a lost connection)."""
    try:
        import asyncpg  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - a PostgreSQL store needs it
        return False
    return isinstance(exc, asyncpg.PostgresError)


def _lost(exc: BaseException) -> bool:
    """True when ``exc`` says the connection itself is gone (asyncpg's errors are imported
    only here: the driver is an extra)."""
    if isinstance(exc, OSError):
        return True
    try:
        import asyncpg
    except ImportError:  # pragma: no cover - a PostgreSQL store needs it
        return False
    lost = (
        asyncpg.exceptions.InterfaceError,
        asyncpg.exceptions.ConnectionFailureError,
        asyncpg.exceptions.OperatorInterventionError,
    )
    return isinstance(exc, lost)


def check_page(limit: int | None, offset: int) -> None:
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise StorageConfigError(f"limit must be an int ≥ 0, got {limit!r}")
    if not isinstance(offset, int) or offset < 0:
        raise StorageConfigError(f"offset must be an int ≥ 0, got {offset!r}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def error_reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
