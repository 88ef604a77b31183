"""Storage: threads, messages, runs, workflow snapshots and run event logs (PROTOCOL.md §9).

SQLite by default (a file, zero set-up), PostgreSQL to share the work between processes; one
code path (SQLAlchemy 2 async core over aiosqlite / asyncpg), the schema migrated on open.
"""

from ._events import EventLog as EventLog
from ._events import RunEvents as RunEvents
from ._history import to_model_messages as to_model_messages
from ._ids import MAX_ID_LENGTH as MAX_ID_LENGTH
from ._ids import check_id as check_id
from ._memory import StoreMemory as StoreMemory
from ._memory import StoreMemorySession as StoreMemorySession
from ._recorder import MessageRecorder as MessageRecorder
from ._records import Message as Message
from ._records import MessageInput as MessageInput
from ._records import Part as Part
from ._records import RunRecord as RunRecord
from ._records import RunStatus as RunStatus
from ._records import SnapshotRecord as SnapshotRecord
from ._records import Thread as Thread
from ._store import EventRetention as EventRetention
from ._store import Store as Store
from ._url import DEFAULT_URL as DEFAULT_URL
from ._url import ENV_VAR as ENV_VAR
from ._url import DatabaseURL as DatabaseURL
from ._url import default_url as default_url
from ._url import parse_url as parse_url

__all__ = (
    "DEFAULT_URL",
    "ENV_VAR",
    "MAX_ID_LENGTH",
    "DatabaseURL",
    "EventLog",
    "EventRetention",
    "Message",
    "MessageInput",
    "MessageRecorder",
    "Part",
    "RunEvents",
    "RunRecord",
    "RunStatus",
    "SnapshotRecord",
    "Store",
    "StoreMemory",
    "StoreMemorySession",
    "Thread",
    "check_id",
    "default_url",
    "parse_url",
    "to_model_messages",
)
