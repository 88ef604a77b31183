"""The SQLite connection under SQLAlchemy: statements run in the loop, waits go to a thread.

SQLAlchemy's aiosqlite adapter sends every step of a statement (make a cursor, execute, fetch,
close) to the connection's worker thread and waits for the answer. Each of those trips is a
queue put, a thread wake-up and a loop wake-up — and, while the event loop is busy streaming,
a wait of up to the interpreter's switch interval (5 ms) for the worker thread to get the GIL
back. A run's handful of statements cost milliseconds that way, though SQLite itself needs
tens of microseconds for each (a local file in WAL mode).

:class:`LoopConnection` is an ``aiosqlite.Connection`` (same worker thread, same connect and
close) that runs statements, commits and rollbacks directly, in the event loop's thread, and
falls back to the worker thread only to *wait*: when the database is locked by another process
(``SQLITE_BUSY``), the statement is retried in the thread, which waits up to the busy timeout
while the loop goes on; and the store's reads and writes that can be long (a long run's event
log, pruning, listing a whole thread) run there within :func:`in_thread`. The connection's own busy timeout is therefore 0. Checkpoints of the
write-ahead log, the one step that syncs the disk, never run in the loop either: automatic
checkpoints are off on these connections, and the store runs :func:`checkpoint` in a thread
every few commits while its transactions go on (``StoreBase._start_checkpoint``: once the log
has grown past a limit, a checkpoint holds the store's lock so that the log starts over).

SQLAlchemy takes the connection through ``create_async_engine(..., async_creator=...)``, its
hook for a driver connection made by the application: the dialect, the pool and every
statement stay SQLAlchemy's, one code path with PostgreSQL. Server-side cursors (streaming
results) are not used by the store and are not offered.
"""

from __future__ import annotations

import contextlib
import contextvars
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import aiosqlite

__all__ = ("LoopConnection", "checkpoint", "in_thread", "loop_creator", "run_statement")

_Result = tuple[list[Any] | None, Any, int, int | None]


def run_statement(conn: sqlite3.Connection, many: bool, sql: str, params: Any) -> _Result:
    """One statement with its rows and what a cursor reports after it."""
    cur = conn.cursor()
    try:
        if many:
            cur.executemany(sql, params)
        elif params is None:
            cur.execute(sql)
        else:
            cur.execute(sql, params)
        description = cur.description
        rows = cur.fetchall() if description else None
        return rows, description, cur.rowcount, cur.lastrowid
    finally:
        cur.close()


def _waiting(conn: sqlite3.Connection, timeout_ms: int, fn: Callable[[], Any]) -> Any:
    """In the worker thread: ``fn()`` with the busy timeout on (it may wait for a lock)."""
    conn.execute(f"PRAGMA busy_timeout = {timeout_ms}")
    try:
        return fn()
    finally:
        conn.execute("PRAGMA busy_timeout = 0")


def _busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc)


class LoopCursor:
    """A cursor whose statement runs in the loop (rows fetched at once; see the module)."""

    __slots__ = ("_conn", "_rows", "arraysize", "description", "lastrowid", "rowcount")

    def __init__(self, conn: LoopConnection) -> None:
        self._conn = conn
        self._rows: list[Any] = []
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    async def __aenter__(self) -> LoopCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def _go(self, many: bool, sql: str, params: Any) -> LoopCursor:
        rows, self.description, self.rowcount, self.lastrowid = await self._conn.run(
            run_statement, many, sql, params
        )
        self._rows = rows if rows is not None else []
        return self

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> LoopCursor:
        """Run one statement and fetch all its rows."""
        return await self._go(False, sql, parameters)

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> LoopCursor:
        """Run one statement for each parameter set."""
        return await self._go(True, sql, list(parameters))

    async def fetchall(self) -> list[Any]:
        """The rows of the last statement (already fetched)."""
        rows, self._rows = self._rows, []
        return rows

    async def fetchone(self) -> Any:
        """The next row of the last statement, or None."""
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        """The next ``size`` rows of the last statement."""
        n = self.arraysize if size is None else size
        rows, self._rows = self._rows[:n], self._rows[n:]
        return rows

    async def nextset(self) -> None:
        """SQLite has one result set per statement."""
        return None

    async def close(self) -> None:
        """Drop the rows (the statement's own cursor is closed already)."""
        self._rows = []


_IN_THREAD: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "streamwise_sqlite_in_thread", default=False
)


@contextlib.contextmanager
def in_thread() -> Iterator[None]:
    """Within this block, the task's statements run in the connection's worker thread: for
    reads and writes that may take milliseconds (a long event log, pruning), so that they
    never stall the loop."""
    token = _IN_THREAD.set(True)
    try:
        yield
    finally:
        _IN_THREAD.reset(token)


class LoopConnection(aiosqlite.Connection):
    """An ``aiosqlite.Connection`` that runs its statements in the event loop (see the module).

    Args:
        path: the database file, or ``:memory:``.
        timeout: seconds a statement may wait for another process's lock (in the thread).
    """

    def __init__(self, path: str, *, timeout: float = 30.0) -> None:
        super().__init__(lambda: _connect(path), 64)
        self._timeout_ms = int(timeout * 1000)
        self._thread.daemon = True  # as SQLAlchemy makes aiosqlite's own connections

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(sqlite_connection, *args)`` in the loop; in the worker thread, with the busy
        timeout, if the database is locked by another connection or within :func:`in_thread`."""
        conn = self._conn
        if not _IN_THREAD.get():
            try:
                return fn(conn, *args)
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise
        waiting = self._execute(_waiting, conn, self._timeout_ms, lambda: fn(conn, *args))  # type: ignore[no-untyped-call]
        return await waiting

    def cursor(self) -> Any:  # aiosqlite's returns an awaitable context manager
        """A new cursor (no trip to the thread)."""
        return LoopCursor(self)

    async def commit(self) -> None:
        """Commit in the loop."""
        await self.run(_commit)

    async def rollback(self) -> None:
        """Roll back in the loop."""
        await self.run(_rollback)


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=0, check_same_thread=False)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    return conn


def _commit(conn: sqlite3.Connection) -> None:
    conn.commit()


def _rollback(conn: sqlite3.Connection) -> None:
    conn.rollback()


def checkpoint(path: str) -> tuple[int, int, int]:
    """A passive checkpoint of the database file's write-ahead log, through a connection of
    its own (run it in a thread: it syncs the disk). Returns SQLite's ``(busy, log frames,
    frames checkpointed)``."""
    conn = sqlite3.connect(path, timeout=0)
    try:
        row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return (int(row[0]), int(row[1]), int(row[2]))
    finally:
        conn.close()


def loop_creator(path: str, *, timeout: float = 30.0) -> Callable[[], LoopConnection]:
    """``create_async_engine(..., async_creator=loop_creator(path))``: connections to the
    SQLite file ``path`` (``:memory:``: one in-memory database per connection)."""
    return lambda: LoopConnection(path, timeout=timeout)
