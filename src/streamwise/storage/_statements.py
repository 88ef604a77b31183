"""The statements of a run's two ends, built once per dialect.

A Core statement built for each call (``insert(t).values(...)``, ``where(c == value)``) costs
more to construct than SQLite takes to run it. These are built once, with bound parameters,
so each call only passes its values (and SQLAlchemy finds the compiled form in its cache).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from . import _schema as s

__all__ = ("Statements",)


@dataclass(frozen=True, slots=True)
class Statements:
    """The hot statements of one dialect (see the module)."""

    start_run: Any
    end_run: Any
    touch_thread: Any
    thread_history: Any
    recent: Any
    insert_messages: Any
    insert_messages_ignore: Any
    upsert_messages: Any
    insert_events: Any

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
            insert_events=sa.insert(s.events),
        )
