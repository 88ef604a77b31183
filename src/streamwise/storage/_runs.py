"""Runs and their event logs: the ``Store`` methods for what ran and what it streamed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import (
    StorageConfigError,
)
from ..stream import Chunk
from . import _schema as s
from ._base import StoreBase, now_ms
from ._events import RunEvents, has_text_refs, resolve_text_refs, unpack_chunks
from ._ids import check_id
from ._records import (
    RunRecord,
    RunStatus,
    iso,
    loads,
)
from ._statements import Conn

__all__ = ("RunsMixin",)


class RunsMixin(StoreBase):
    """The ``runs`` table and the run event logs (write, read from an offset, prune)."""

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
            await self._start_run(conn, run_id, kind, target_id, thread_id, resource_id, now_ms())

    async def _start_run(
        self,
        conn: Conn,
        run_id: str,
        kind: str,
        target_id: str,
        thread_id: str | None,
        resource_id: str | None,
        now: int,
        *,
        status: RunStatus = "running",
        ended_at: int | None = None,
    ) -> bool:
        """Upsert the run's row; True when it is new (False: the id ran before). A run that
        ended before its start was written is written at once with its ``status``."""
        check_id(run_id, "run id")
        values = {
            "run_id": run_id,
            "kind": kind,
            "target_id": target_id,
            "thread_id": thread_id,
            "resource_id": resource_id,
            "status": status,
            "owner": self.owner_id,
            "started_at": now,
            "ended_at": ended_at,
        }
        started = await self._stmts.scalar(conn, self._stmts.start_run, values)
        await self._heartbeat(conn, now)
        if status == "running":
            self._owned.add(run_id)
        if self._events is not None:
            self._events.wake()
        return bool(started == now)

    async def end_run(self, run_id: str, status: RunStatus) -> None:
        """Record the end of a run."""
        async with self._tx() as conn:
            await self._end_run(conn, run_id, status, now_ms())

    async def _end_run(self, conn: Conn, run_id: str, status: str, now: int) -> None:
        self._owned.discard(run_id)
        stmts = self._stmts
        params = {"b_run_id": run_id, "b_status": status, "b_ended_at": now}
        await stmts.execute(conn, stmts.end_run, params)

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

    # -- event logs --------------------------------------------------------------------------

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

    async def read_events(self, run_id: str, offset: int = 0) -> list[Chunk]:
        """Every logged chunk of a run from ``offset`` on (what ``observe`` replays)."""
        check_id(run_id, "run id")
        if offset < 0:
            raise StorageConfigError(f"offset must be ≥ 0, got {offset}")
        async with self._read(long=True) as conn:
            return await self._read_events(conn, run_id, offset)

    async def _read_events(self, conn: AsyncConnection, run_id: str, offset: int) -> list[Chunk]:
        def query(since: int) -> Any:
            return (
                sa.select(s.events.c.start_seq, s.events.c.chunks)
                .where(s.events.c.run_id == run_id, s.events.c.end_seq > since)
                .order_by(s.events.c.start_seq)
            )

        rows = (await conn.execute(query(offset))).all()
        if not rows:
            return []
        refs = any(has_text_refs(data) for _, data in rows)
        if refs and rows[0][0] > 0:
            # A text stored as a reference to the run's deltas (text_refs): read them too.
            rows = (await conn.execute(query(0))).all()
        first = rows[0][0]
        out: list[Chunk] = []
        for _, data in rows:
            out.extend(unpack_chunks(loads(data)))
        if refs:
            out = resolve_text_refs(out, first)
        return out[offset - first :] if first < offset else out

    async def flush_events(self) -> None:
        """Write every pending chunk of every run now."""
        await self.open()
        await self.events.flush()

    async def prune_events(
        self, *, max_age: float | None = None, keep_runs: int | None = None
    ) -> int:
        """Delete old run event logs; return how many batches were deleted.

        Args:
            max_age: delete the logs of runs that logged nothing for this many seconds
                (whole logs; default: ``retention.max_age``).
            keep_runs: keep only the logs of this many most recently started runs
                (default: ``retention.keep_runs``).
        """
        if max_age is None and self.retention is not None:
            max_age = self.retention.max_age
        if keep_runs is None and self.retention is not None:
            keep_runs = self.retention.keep_runs
        deleted = 0
        async with self._tx(long=True) as conn:
            if max_age is not None:
                # Whole logs only: a run still being logged keeps its earlier rows (a later
                # chunk may refer to them, see text_refs).
                cutoff = now_ms() - int(max_age * 1000)
                stale = (
                    sa.select(s.events.c.run_id)
                    .group_by(s.events.c.run_id)
                    .having(sa.func.max(s.events.c.created_at) < cutoff)
                    .scalar_subquery()
                )
                result = await conn.execute(sa.delete(s.events).where(s.events.c.run_id.in_(stale)))
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
