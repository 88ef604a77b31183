"""What the store returns: plain dicts with camelCase keys, ready for JSON (PROTOCOL.md §9)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, NotRequired, TypedDict

import orjson
import pydantic

__all__ = (
    "Message",
    "MessageInput",
    "Part",
    "RunRecord",
    "RunStatus",
    "SnapshotRecord",
    "Thread",
    "dump_bytes",
    "dumps",
    "iso",
    "loads",
)

Part = dict[str, Any]
"""One part of a message's content: ``text``, ``reasoning``, ``tool-invocation``, ``file``,
``source``, ``step-start`` or ``data-*`` (see :class:`~streamwise.storage.MessageRecorder`)."""

RunStatus = Literal[
    "running", "success", "failed", "canceled", "suspended", "interrupted", "tripwire"
]
"""A recorded run's status; ``interrupted`` means its process died before it ended."""


class Thread(TypedDict):
    """A conversation: messages in order, owned by a resource (a user, an account…)."""

    id: str
    resourceId: str | None
    title: str | None
    metadata: dict[str, Any]
    createdAt: str
    updatedAt: str


class Message(TypedDict):
    """A stored message; ``content`` is a list of parts, ``seq`` its place in the thread."""

    id: str
    threadId: str
    resourceId: str | None
    role: str
    content: list[Part]
    metadata: dict[str, Any]
    runId: str | None
    seq: int
    createdAt: str


class MessageInput(TypedDict):
    """A message to append: ``content`` as parts (a string becomes one text part)."""

    role: str
    content: str | list[Part]
    id: NotRequired[str]
    metadata: NotRequired[dict[str, Any]]
    runId: NotRequired[str]


class RunRecord(TypedDict):
    """One row of the ``runs`` table."""

    runId: str
    kind: str
    targetId: str
    threadId: str | None
    resourceId: str | None
    status: RunStatus
    startedAt: str
    endedAt: str | None


class SnapshotRecord(TypedDict):
    """A workflow run's stored snapshot, as ``list_snapshots`` returns it."""

    workflowId: str
    runId: str
    status: str
    snapshot: dict[str, Any]
    createdAt: str
    updatedAt: str


def iso(ms: int) -> str:
    """Epoch milliseconds as an ISO 8601 UTC string (``…Z``, millisecond precision)."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _default(value: Any) -> Any:
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def dumps(value: Any) -> str:
    """JSON text for a stored value; values orjson cannot encode become their ``str``."""
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS).decode()


def dump_bytes(value: Any) -> bytes:
    """The same as :func:`dumps`, as UTF-8 bytes (no decode: for binary columns)."""
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS)


def loads(text: str | bytes) -> Any:
    """The value of stored JSON text."""
    return orjson.loads(text)
