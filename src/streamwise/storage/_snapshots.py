"""Workflow snapshots: the workflows engine's ``SnapshotStore`` protocol, implemented
structurally (storage does not import workflows)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from . import _schema as s
from ._base import StoreBase, check_page, now_ms
from ._ids import check_id
from ._records import (
    SnapshotRecord,
    dumps,
    iso,
    loads,
)

__all__ = ("SnapshotsMixin",)


class SnapshotsMixin(StoreBase):
    """``save_snapshot``, ``load_snapshot``, ``list_snapshots``, ``compare_and_set_status``."""

    # -- workflow snapshots (the workflows engine's SnapshotStore protocol) -------------------

    async def save_snapshot(self, workflow_id: str, run_id: str, snapshot: dict[str, Any]) -> None:
        """Store (or replace) a workflow run's snapshot; its ``status`` key becomes the run's."""
        check_id(workflow_id, "workflow id")
        check_id(run_id, "run id")
        now = now_ms()
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
        check_page(limit, offset)
        query = (
            sa.select(s.snapshots)
            .where(s.snapshots.c.workflow_id == workflow_id)
            .order_by(s.snapshots.c.created_at.desc(), s.snapshots.c.run_id.desc())
            .limit(limit)
            .offset(offset)
        )
        async with self._read(long=True) as conn:
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
            .values(status=new, updated_at=now_ms())
        )
        async with self._tx() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)
