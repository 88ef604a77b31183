"""The statements of a run's two ends, built once per dialect, and how they are run.

A Core statement built for each call (``insert(t).values(...)``, ``where(c == value)``) costs
more to construct than SQLite takes to run it. These are built once, with bound parameters,
so each call only passes its values.

Every run reads its thread's history at its start and writes its end in one transaction
(``StoreBase._hot``). These run on the driver connection the store keeps for them, checked out
of SQLAlchemy's pool when the store opens: on SQLite a
:class:`~streamwise.storage._sqlite.LoopConnection`, on PostgreSQL an asyncpg connection (in a
:class:`PgDriver`). Each statement is compiled by SQLAlchemy, for the engine's own dialect,
once, and its SQL runs with the parameters in the compiled order, after the dialect's own bind
processors. What this skips is SQLAlchemy's per-transaction and per-statement machinery — pool
checkout and return, begin and commit, an execution context and a result object, greenlet
switches — which cost several times what the database takes for these statements (see
docs/storage.md). The engine, the pool, the schema and its migrations, and every other
statement of the store stay SQLAlchemy's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from . import _schema as s
from ._sqlite import LoopConnection, run_statement

__all__ = ("Conn", "PgDriver", "Statements")

Params = Mapping[str, Any] | Sequence[Mapping[str, Any]]


class PgDriver:
    """The asyncpg connection the store keeps on PostgreSQL for a run's two ends (see
    ``StoreBase._hot``): a statement is one ``fetch`` (or ``executemany``) of the SQL that
    SQLAlchemy compiled for its asyncpg dialect."""

    __slots__ = ("conn",)

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def run(self, many: bool, sql: str, args: Any) -> tuple[list[Any], list[str]]:
        """Rows (asyncpg records) and their column names."""
        if many:
            await self.conn.executemany(sql, args)
            return [], []
        records = await self.conn.fetch(sql, *args)
        return records, list(records[0].keys()) if records else []


#: What the store's statements run on: a SQLAlchemy connection, or, for a run's two ends, the
#: driver connection the store keeps (see ``StoreBase._hot``).
Conn = AsyncConnection | LoopConnection | PgDriver


@dataclass(slots=True)
class Statements:
    """The hot statements of one dialect, and how they run (see the module)."""

    start_run: Any
    end_run: Any
    touch_thread: Any
    thread_history: Any
    recent: Any
    insert_messages: Any
    insert_messages_ignore: Any
    upsert_messages: Any
    insert_events: Any
    delete_events: Any
    heartbeat: Any
    #: The engine's dialect, which compiles statements for the driver (set when the store opens).
    dialect: Any = None
    _compiled: dict[tuple[int, tuple[str, ...]], _Compiled] = field(default_factory=dict)

    @classmethod
    def build(cls, dialect: str) -> Statements:
        """The statements for ``sqlite`` or ``postgresql``."""
        insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
        runs, threads, messages = s.runs, s.threads, s.messages
        start = insert(runs)
        # A resumed run (a workflow after suspend) starts again under the same id; a run whose
        # start and end are written together is inserted with its final status.
        start_run = start.on_conflict_do_update(
            index_elements=[runs.c.run_id],
            set_={
                "status": start.excluded.status,
                "owner": start.excluded.owner,
                "ended_at": start.excluded.ended_at,
            },
        ).returning(runs.c.started_at)
        end_run = (
            sa.update(runs)
            .where(runs.c.run_id == sa.bindparam("b_run_id"))
            .values(status=sa.bindparam("b_status"), ended_at=sa.bindparam("b_ended_at"))
        )
        # Create the thread if new, touch it if not, and learn its owner: one statement.
        touch = insert(threads)
        touch_thread = touch.on_conflict_do_update(
            index_elements=[threads.c.id], set_={"updated_at": touch.excluded.updated_at}
        ).returning(threads.c.resource_id)
        # A thread's owner and last messages, in one read: no row when the thread is new, one
        # row of NULL message columns when it has no messages (or none were asked for).
        last = (
            sa.select(messages)
            .where(messages.c.thread_id == sa.bindparam("b_thread_id"))
            .order_by(messages.c.seq.desc())
            .limit(sa.bindparam("b_count", type_=sa.Integer))
            .subquery()
        )
        thread_history = (
            sa.select(threads.c.resource_id.label("b_owner"), last)
            .select_from(threads.outerjoin(last, sa.true()))
            .where(threads.c.id == sa.bindparam("b_thread_id"))
            .order_by(last.c.seq)
        )
        recent = (
            sa.select(messages)
            .where(messages.c.thread_id == sa.bindparam("b_thread_id"))
            .order_by(messages.c.seq.desc())
            .limit(sa.bindparam("b_count", type_=sa.Integer))
        )
        upsert = insert(messages)
        return cls(
            start_run=start_run,
            end_run=end_run,
            touch_thread=touch_thread,
            thread_history=thread_history,
            recent=recent,
            insert_messages=insert(messages),
            insert_messages_ignore=insert(messages).on_conflict_do_nothing(),
            upsert_messages=upsert.on_conflict_do_update(
                index_elements=[messages.c.id],
                set_={"content": upsert.excluded.content, "metadata": upsert.excluded.metadata},
            ),
            # Idempotent: a batch written again (its commit's outcome unclear) is kept once.
            insert_events=insert(s.events).on_conflict_do_nothing(
                index_elements=[s.events.c.run_id, s.events.c.start_seq]
            ),
            delete_events=sa.delete(s.events).where(s.events.c.run_id == sa.bindparam("b_run_id")),
            heartbeat=sa.update(s.owners)
            .where(s.owners.c.id == sa.bindparam("b_owner"))
            .values(heartbeat_at=sa.bindparam("b_at")),
        )

    async def execute(self, conn: Conn, stmt: Any, params: Params) -> None:
        """Run ``stmt`` with ``params`` (one mapping, or a list for many rows)."""
        if isinstance(conn, AsyncConnection):
            await conn.execute(stmt, params)
        else:
            await self._run(conn, stmt, params)

    async def scalar(self, conn: Conn, stmt: Any, params: Mapping[str, Any]) -> Any:
        """Run ``stmt``; the first column of its first row, or None."""
        if isinstance(conn, AsyncConnection):
            return (await conn.execute(stmt, params)).scalar()
        rows, _ = await self._run(conn, stmt, params)
        return rows[0][0] if rows else None

    async def rows(self, conn: Conn, stmt: Any, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Run ``stmt``; its rows as dicts by column name."""
        if isinstance(conn, AsyncConnection):
            return [dict(r) for r in (await conn.execute(stmt, params)).mappings().all()]
        rows, names = await self._run(conn, stmt, params)
        return [dict(zip(names, row, strict=True)) for row in rows]

    async def _run(
        self, raw: LoopConnection | PgDriver, stmt: Any, params: Params
    ) -> tuple[list[Any], list[str]]:
        many = not isinstance(params, Mapping)
        batch: Sequence[Mapping[str, Any]] = params if many else [params]  # type: ignore[list-item,assignment]
        if not batch:
            return [], []
        keys = tuple(batch[0])
        compiled = self._compiled.get((id(stmt), keys))
        if compiled is None:
            compiled = self._compile(stmt, keys)
        args: Any = [compiled.values(p) for p in batch] if many else compiled.values(batch[0])
        if isinstance(raw, PgDriver):
            return await raw.run(many, compiled.sql, args)
        rows, description, _, _ = await raw.run(run_statement, many, compiled.sql, args)
        if not rows:
            return [], []
        return rows, [d[0] for d in description]

    def _compile(self, stmt: Any, keys: tuple[str, ...]) -> _Compiled:
        compiled = stmt.compile(dialect=self.dialect, column_keys=list(keys))
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise TypeError(f"not a statement for the driver path: {compiled}")
        entry = _Compiled(compiled, keys)
        self._compiled[(id(stmt), keys)] = entry
        return entry


class _Compiled:
    """One statement compiled for the driver: its SQL, its parameters in order, the defaults
    of those the caller does not pass (an OFFSET), and the dialect's bind processors (what
    SQLAlchemy does to a value before the driver sees it: the same here)."""

    __slots__ = ("defaults", "names", "processors", "sql")

    def __init__(self, compiled: Any, keys: tuple[str, ...]) -> None:
        self.sql: str = str(compiled)
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        self.defaults = {k: v for k, v in compiled.params.items() if k not in keys}
        procs: Mapping[str, Any] = compiled._bind_processors
        self.processors = [(i, procs[n]) for i, n in enumerate(self.names) if n in procs]

    def values(self, params: Mapping[str, Any]) -> list[Any]:
        """The driver's parameters for one call."""
        defaults = self.defaults
        if defaults:
            values = [params[n] if n in params else defaults[n] for n in self.names]
        else:
            values = [params[n] for n in self.names]
        for i, process in self.processors:
            if values[i] is not None:
                values[i] = process(values[i])
        return values
