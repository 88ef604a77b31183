"""Suspended agent runs: the agent's ``SuspendedRunStore`` protocol, implemented structurally.

A run that waits for approval or resume data is one row of ``agent_suspended_runs``. Whoever
continues it deletes the row on condition of its token (one statement, so SQLite and PostgreSQL
alike let exactly one of two concurrent claimers see a deleted row); the loser learns the run
is no longer waiting.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from . import _schema as s
from ._base import StoreBase, now_ms
from ._ids import check_id
from ._records import dumps, loads

__all__ = ("SuspendedMixin",)


class SuspendedMixin(StoreBase):
    """``save_suspended``, ``load_suspended``, ``claim_suspended``, ``discard_suspended``,
    ``list_suspended``, ``list_suspended_states``."""

    async def save_suspended(self, agent_id: str, run_id: str, state: dict[str, Any]) -> str:
        """Store (or replace) an agent run's suspended state; return its new claim token."""
        check_id(agent_id, "agent id")
        check_id(run_id, "run id")
        token = uuid.uuid4().hex
        text = dumps(state)
        stmt = self._insert(s.suspended_runs).values(
            agent_id=agent_id, run_id=run_id, token=token, state=text, created_at=now_ms()
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[s.suspended_runs.c.agent_id, s.suspended_runs.c.run_id],
            set_={"token": token, "state": text, "created_at": now_ms()},
        )
        async with self._tx() as conn:
            await conn.execute(stmt)
        return token

    async def load_suspended(self, agent_id: str, run_id: str) -> tuple[str, dict[str, Any]] | None:
        """``(token, state)`` of a stored suspended run, or None."""
        check_id(agent_id, "agent id")
        check_id(run_id, "run id")
        table = s.suspended_runs
        query = sa.select(table.c.token, table.c.state).where(
            table.c.agent_id == agent_id, table.c.run_id == run_id
        )
        async with self._tx() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        state: dict[str, Any] = loads(row[1])
        return str(row[0]), state

    async def claim_suspended(self, agent_id: str, run_id: str, token: str) -> bool:
        """Delete the stored run if it still has ``token``: True for the one claimer that
        did (the row count decides), False when it is gone or was stored again since."""
        table = s.suspended_runs
        stmt = sa.delete(table).where(
            table.c.agent_id == agent_id, table.c.run_id == run_id, table.c.token == token
        )
        async with self._tx() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)

    async def discard_suspended(self, agent_id: str, run_id: str, *, canceled: bool) -> bool:
        """Delete the stored run whatever its token; True when there was one. With
        ``canceled``, the run's recorded status goes from ``suspended`` to ``canceled`` in the
        same transaction."""
        table = s.suspended_runs
        now = now_ms()
        async with self._tx() as conn:
            result = await conn.execute(
                sa.delete(table).where(table.c.agent_id == agent_id, table.c.run_id == run_id)
            )
            if canceled and result.rowcount:
                await conn.execute(
                    sa.update(s.runs)
                    .where(s.runs.c.run_id == run_id, s.runs.c.status == "suspended")
                    .values(status="canceled", ended_at=now)
                )
        return bool(result.rowcount)

    async def list_suspended(self, agent_id: str) -> list[str]:
        """The ids of an agent's stored suspended runs, oldest first."""
        check_id(agent_id, "agent id")
        table = s.suspended_runs
        query = (
            sa.select(table.c.run_id)
            .where(table.c.agent_id == agent_id)
            .order_by(table.c.created_at, table.c.run_id)
        )
        async with self._tx() as conn:
            return [str(r) for r in (await conn.execute(query)).scalars().all()]

    async def list_suspended_states(self, agent_id: str) -> list[tuple[str, int, dict[str, Any]]]:
        """``(run_id, stored_at_ms, state)`` of an agent's stored suspended runs, oldest first
        (one query; each state is the whole JSON form, conversation included)."""
        check_id(agent_id, "agent id")
        table = s.suspended_runs
        query = (
            sa.select(table.c.run_id, table.c.created_at, table.c.state)
            .where(table.c.agent_id == agent_id)
            .order_by(table.c.created_at, table.c.run_id)
        )
        async with self._tx() as conn:
            rows = (await conn.execute(query)).all()
        return [(str(r[0]), int(r[1]), loads(r[2])) for r in rows]
