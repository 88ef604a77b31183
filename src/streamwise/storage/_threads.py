"""Threads and their messages (PROTOCOL.md §9): the ``Store`` methods for conversations."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import (
    StorageError,
    ThreadNotFoundError,
)
from . import _schema as s
from ._base import UNSET, StoreBase, check_page, now_ms
from ._ids import check_id
from ._recorder import MessageRecorder
from ._records import (
    Message,
    MessageInput,
    Thread,
    dumps,
    iso,
    loads,
)
from ._statements import Conn

__all__ = ("ThreadsMixin", "assistant_input", "message_record", "message_rows", "thread_record")


def message_parts(content: str | Sequence[Any]) -> list[Any]:
    """A message's content as a list of parts (a string is one text part)."""
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


def message_rows(
    thread_id: str,
    resource_id: str | None,
    messages: Sequence[MessageInput],
    now: int,
    times: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """The ``messages`` table's rows for ``messages`` (stored in that order); ``times``: each
    message's ``created_at`` (default: ``now``)."""
    rows = []
    for i, m in enumerate(messages):
        rows.append(
            {
                "id": check_id(m.get("id") or str(uuid.uuid4()), "message id"),
                "thread_id": thread_id,
                "resource_id": resource_id,
                "role": m["role"],
                "content": dumps(message_parts(m["content"])),
                "metadata": dumps(m.get("metadata") or {}),
                "run_id": m.get("runId"),
                "created_at": now if times is None else times[i],
            }
        )
    return rows


class ThreadsMixin(StoreBase):
    """Threads (create, get, list by resource, update, delete) and messages (append, page)."""

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
        now = now_ms()
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
        return thread_record(row)

    async def get_thread(self, thread_id: str) -> Thread | None:
        """The thread, or None."""
        check_id(thread_id, "thread id")
        async with self._tx() as conn:
            row = (
                (await conn.execute(sa.select(s.threads).where(s.threads.c.id == thread_id)))
                .mappings()
                .first()
            )
        return thread_record(row) if row is not None else None

    async def list_threads(
        self, resource_id: str, *, limit: int = 50, offset: int = 0
    ) -> list[Thread]:
        """A resource's threads, most recently updated first."""
        check_id(resource_id, "resource id")
        check_page(limit, offset)
        query = (
            sa.select(s.threads)
            .where(s.threads.c.resource_id == resource_id)
            .order_by(s.threads.c.updated_at.desc(), s.threads.c.id)
            .limit(limit)
            .offset(offset)
        )
        async with self._read(long=True) as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [thread_record(r) for r in rows]

    async def update_thread(
        self,
        thread_id: str,
        *,
        title: str | None = UNSET,
        metadata: Mapping[str, Any] = UNSET,
    ) -> Thread:
        """Change a thread's title and/or metadata (replaced whole).

        Raises:
            ThreadNotFoundError: no such thread.
        """
        check_id(thread_id, "thread id")
        values: dict[str, Any] = {"updated_at": now_ms()}
        if title is not UNSET:
            values["title"] = title
        if metadata is not UNSET:
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
        return thread_record(row)

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
        now = now_ms()
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
        for m, values in zip(
            messages, message_rows(thread_id, resource_id, messages, now), strict=True
        ):
            stmt = self._insert(s.messages).values(**values)
            if ignore_existing:
                stmt = stmt.on_conflict_do_nothing()
            result = await conn.execute(stmt.returning(s.messages.c.seq))
            seq = result.scalar()
            if seq is None:
                continue
            stored.append(message_record({**values, "seq": seq}, message_parts(m["content"])))
        await conn.execute(
            sa.update(s.threads).where(s.threads.c.id == thread_id).values(updated_at=now)
        )
        return stored

    async def _write_messages(
        self,
        conn: Conn,
        thread_id: str,
        resource_id: str | None,
        messages: Sequence[MessageInput],
        now: int,
        *,
        ignore_existing: bool = False,
        replace_existing: bool = False,
        times: Sequence[int] | None = None,
    ) -> None:
        """The lean form of :meth:`_insert_messages` for a run's hot ends: one statement for
        all (executed in order, so ``seq`` follows it), nothing read back, the thread not
        touched (the caller did). ``replace_existing`` updates a message of the same id in
        place (its content and metadata), keeping its position. ``times``: each message's
        ``created_at`` (default: ``now``)."""
        rows = message_rows(thread_id, resource_id, messages, now, times)
        if not rows:
            return
        stmts = self._stmts
        if replace_existing:
            stmt = stmts.upsert_messages
        elif ignore_existing:
            stmt = stmts.insert_messages_ignore
        else:
            stmt = stmts.insert_messages
        await stmts.execute(conn, stmt, rows)

    async def list_messages(
        self, thread_id: str, *, limit: int | None = None, offset: int = 0
    ) -> list[Message]:
        """A thread's messages in order (oldest first), paged by ``limit``/``offset``."""
        check_id(thread_id, "thread id")
        check_page(limit, offset)
        query = (
            sa.select(s.messages)
            .where(s.messages.c.thread_id == thread_id)
            .order_by(s.messages.c.seq)
            .offset(offset)
        )
        if limit is not None:
            query = query.limit(limit)
        async with self._read(long=True) as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [message_record(r) for r in rows]

    async def recent_messages(self, thread_id: str, count: int) -> list[Message]:
        """The last ``count`` messages of a thread, oldest first."""
        check_id(thread_id, "thread id")
        async with self._tx() as conn:
            return await self._recent(conn, thread_id, count)

    async def _recent(self, conn: Conn, thread_id: str, count: int) -> list[Message]:
        if count <= 0:
            return []
        stmts = self._stmts
        rows = await stmts.rows(conn, stmts.recent, {"b_thread_id": thread_id, "b_count": count})
        return [message_record(r) for r in reversed(rows)]


def assistant_input(recorder: MessageRecorder) -> MessageInput:
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


def thread_record(row: Mapping[Any, Any]) -> Thread:
    return {
        "id": row["id"],
        "resourceId": row["resource_id"],
        "title": row["title"],
        "metadata": loads(row["metadata"]),
        "createdAt": iso(row["created_at"]),
        "updatedAt": iso(row["updated_at"]),
    }


def message_record(row: Mapping[Any, Any], parts: list[Any] | None = None) -> Message:
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
