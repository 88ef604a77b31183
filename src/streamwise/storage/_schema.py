"""The tables, and the ordered migrations that create and change them (applied on open).

Schema version N is reached by applying migrations 1..N in order, each in its own transaction,
recording each in ``schema_version``. A migration never changes once released: a new column or
table is a new migration appended to :data:`MIGRATIONS`. JSON is stored as text (encoded with
orjson by the store), timestamps as epoch milliseconds, so both databases behave alike.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..errors import StorageError

__all__ = (
    "MIGRATIONS",
    "events",
    "messages",
    "metadata",
    "migrate",
    "owners",
    "runs",
    "schema_version",
    "snapshots",
    "suspended_runs",
    "threads",
)

_log = logging.getLogger("streamwise.storage")

ID = sa.String(255)
# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid).
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", sa.BigInteger, nullable=False),
)

threads = sa.Table(
    "threads",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("resource_id", ID, nullable=True),
    sa.Column("title", sa.Text, nullable=True),
    sa.Column("metadata", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Index("ix_threads_resource", "resource_id", "updated_at"),
)

messages = sa.Table(
    "messages",
    metadata,
    # The order of a thread: assigned by the database at insert, so concurrent writers to one
    # thread never collide and each run's messages keep the order they were written in.
    sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
    sa.Column("id", ID, nullable=False, unique=True),
    sa.Column("thread_id", ID, nullable=False),
    sa.Column("resource_id", ID, nullable=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("metadata", sa.Text, nullable=False),
    sa.Column("run_id", ID, nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Index("ix_messages_thread", "thread_id", "seq"),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", ID, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("target_id", ID, nullable=False),
    sa.Column("thread_id", ID, nullable=True),
    sa.Column("resource_id", ID, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("owner", ID, nullable=True),
    sa.Column("started_at", sa.BigInteger, nullable=False),
    sa.Column("ended_at", sa.BigInteger, nullable=True),
    sa.Index("ix_runs_started", "started_at"),
)
# The runs still going on, by owner (what recovery looks for): only those rows are in it, so a
# run that ends in the transaction it starts in never touches it (schema version 3).
_RUNNING = sa.text("status = 'running'")
ix_runs_running = sa.Index(
    "ix_runs_running", runs.c.owner, sqlite_where=_RUNNING, postgresql_where=_RUNNING
)

owners = sa.Table(
    "owners",
    metadata,
    # One row per open Store: runs it owns are "interrupted" once it is gone (process dead, or
    # no heartbeat for a while).
    sa.Column("id", ID, primary_key=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("heartbeat_at", sa.BigInteger, nullable=False),
)

snapshots = sa.Table(
    "workflow_snapshots",
    metadata,
    sa.Column("workflow_id", ID, primary_key=True),
    sa.Column("run_id", ID, primary_key=True),
    # Authoritative status (compare_and_set_status updates it alone); load_snapshot overlays it.
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("snapshot", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Index("ix_snapshots_workflow", "workflow_id", "updated_at"),
)

events = sa.Table(
    "run_events",
    metadata,
    # One row per flushed batch: chunks start_seq..end_seq-1 of the run, as a UTF-8 JSON array
    # in the packed form of ``_events.pack_chunks``.
    sa.Column("run_id", ID, primary_key=True),
    sa.Column("start_seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("end_seq", sa.Integer, nullable=False),
    sa.Column("chunks", sa.LargeBinary, nullable=False),
    # When the row was written: retention deletes the logs whose last row is old.
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

suspended_runs = sa.Table(
    "agent_suspended_runs",
    metadata,
    # One row per agent run that waits for approval or resume data (schema version 2). The row
    # is the claim: continuing the run deletes it on condition of its token, so of two
    # processes one wins; ``state`` is the JSON form of ``streamwise.agent``'s suspended state.
    sa.Column("agent_id", ID, primary_key=True),
    sa.Column("run_id", ID, primary_key=True),
    sa.Column("token", sa.String(64), nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

Migration = Callable[[AsyncConnection], Awaitable[None]]


def _create(*tables: sa.Table) -> Migration:
    async def migration(conn: AsyncConnection) -> None:
        def create(sync: sa.Connection) -> None:
            for table in tables:
                table.create(sync, checkfirst=True)

        await conn.run_sync(create)

    return migration


_v1 = _create(threads, messages, runs, owners, snapshots, events)
_v2 = _create(suspended_runs)


async def _v3(conn: AsyncConnection) -> None:
    """Fewer indexes to write per run: none on the event log's ``created_at`` (retention goes
    by run), and the one on ``runs.status`` only over the runs going on."""
    await conn.execute(sa.text("DROP INDEX IF EXISTS ix_run_events_created"))
    await conn.execute(sa.text("DROP INDEX IF EXISTS ix_runs_status"))
    await conn.run_sync(lambda sync: ix_runs_running.create(sync, checkfirst=True))


# The columns that hold large values (JSON of messages, event-log batches, snapshots).
_LARGE = (
    ("run_events", "chunks"),
    ("messages", "content"),
    ("workflow_snapshots", "snapshot"),
    ("agent_suspended_runs", "state"),
)


async def _v4(conn: AsyncConnection) -> None:
    """PostgreSQL: large values compressed with lz4, not pglz (the default). PostgreSQL
    compresses every value over 2 kB when it is stored, and pglz takes longer than everything
    else a run's end does: with lz4 a 20,000-token answer's end costs 4.6 ms, not 13.3 ms
    (bench/README.md). Skipped where the server has no lz4 (before PostgreSQL 14, or built
    without it); values already stored stay as they are."""
    if conn.dialect.name != "postgresql":
        return
    try:
        async with conn.begin_nested():
            for table, column in _LARGE:
                await conn.execute(
                    sa.text(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION lz4")
                )
    except sa.exc.DBAPIError as exc:
        _log.warning("PostgreSQL without lz4 compression (%s): large values use pglz", exc.orig)


MIGRATIONS: tuple[Migration, ...] = (_v1, _v2, _v3, _v4)
"""Migration ``i`` (0-based) brings the schema to version ``i + 1``."""


async def migrate(engine: AsyncEngine, *, now_ms: int) -> int:
    """Bring the database to the latest schema version and return that version.

    On PostgreSQL the whole upgrade is one transaction under an advisory lock, so processes that
    open the same database at once migrate it once; on SQLite it is one transaction that takes
    the write lock first, to the same effect.

    Raises:
        StorageError: the database has a newer schema than this streamwise knows.
    """
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(727361)"))
        await conn.execute(sa.schema.CreateTable(schema_version, if_not_exists=True))
        if conn.dialect.name == "sqlite":
            # A write first: it takes the database's write lock for the whole upgrade, so a
            # process opening the same file at once waits, then finds it done.
            await conn.execute(sa.delete(schema_version).where(sa.false()))
        current = (await conn.execute(sa.select(sa.func.max(schema_version.c.version)))).scalar()
        current = int(current or 0)
        if current > len(MIGRATIONS):
            raise StorageError(
                f"the database is at schema version {current}, newer than this streamwise "
                f"knows ({len(MIGRATIONS)}): upgrade streamwise"
            )
        for version in range(current + 1, len(MIGRATIONS) + 1):
            await MIGRATIONS[version - 1](conn)
            await conn.execute(sa.insert(schema_version).values(version=version, applied_at=now_ms))
    return len(MIGRATIONS)
