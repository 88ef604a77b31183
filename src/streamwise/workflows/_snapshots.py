"""Workflow snapshots: the store protocol, an in-memory store and a JSON-file store.

A snapshot is the JSON-ready state of one workflow run (PROTOCOL.md §9), saved at every step
start and end so that a suspended run can be resumed later, also from another process::

    {"status": "running" | "success" | "failed" | "suspended" | "canceled",
     "input": <workflow input>,
     "state": {...},                       # ctx.state, shared by every step of the run
     "steps": {stepId: {"status", "output"?, "error"?, "payload", "suspendPayload"?,
                        "resumePayload"?, "startedAt", "endedAt"?, "suspendedAt"?}},
     "suspendedPaths": {stepId: [index, ...]},   # where each suspended step sits in the graph
     "result"?: <workflow output>, "error"?: {"message", "name"}}

Stores implement :class:`WorkflowSnapshotStore`; ``streamwise.storage`` does so on SQLite and
Postgres. ``compare_and_set_status`` is what makes two concurrent resumes of one run safe: only
one of them can move the run from ``suspended`` to ``running``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import orjson

__all__ = ("InMemorySnapshotStore", "JsonFileSnapshotStore", "WorkflowSnapshotStore")


@runtime_checkable
class WorkflowSnapshotStore(Protocol):
    """Where workflow runs keep their snapshots.

    ``list_snapshots`` returns the newest first, each as ``{"workflowId", "runId", "status",
    "snapshot", "createdAt", "updatedAt"}`` (times are ISO-8601 UTC strings).
    """

    async def save_snapshot(self, workflow_id: str, run_id: str, snapshot: dict[str, Any]) -> None:
        """Store (insert or replace) the snapshot of one run."""
        ...

    async def load_snapshot(self, workflow_id: str, run_id: str) -> dict[str, Any] | None:
        """The stored snapshot of one run, or None."""
        ...

    async def list_snapshots(
        self, workflow_id: str, *, limit: int = 50, offset: int = 0
    ) -> list[dict[str, Any]]:
        """The runs of one workflow, newest first."""
        ...

    async def compare_and_set_status(
        self, workflow_id: str, run_id: str, expected: str, new: str
    ) -> bool:
        """Atomically set the run's status to ``new`` if it is ``expected``; True if it was set."""
        ...


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


_ENDED = frozenset({"success", "failed", "canceled"})


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def _copy(value: dict[str, Any] | bytes) -> dict[str, Any]:
    result: dict[str, Any] = orjson.loads(
        value if isinstance(value, bytes) else orjson.dumps(value)
    )
    return result


# One stored run: (the snapshot, its status, created, updated). While the run is running, the
# snapshot is the engine's live dict (a save costs nothing); once the run stops (ended or
# suspended) it is kept as JSON bytes. Bytes, floats, strings and a tuple of them are not
# tracked by the garbage collector, so thousands of kept runs do not slow every later run
# with full collections (a dict per step per run would).
_Record = tuple["dict[str, Any] | bytes", str, float, float]


class InMemorySnapshotStore:
    """The default store: snapshots in a dict, for one process.

    A running run's snapshot is the engine's live dict; a stopped run's is kept as JSON.
    ``load_snapshot`` and ``list_snapshots`` return copies, so a reader never sees a later
    change.

    Args:
        max_runs: the most runs kept: past it, the oldest ended runs (success, failed,
            canceled) are dropped; suspended and running ones are always kept.
    """

    __slots__ = ("_records", "max_runs")

    def __init__(self, *, max_runs: int = 10_000) -> None:
        self._records: dict[tuple[str, str], _Record] = {}
        self.max_runs = max_runs

    def __len__(self) -> int:
        return len(self._records)

    def _evict(self) -> None:
        # Down to 90% at once, so that the scan is paid once per max_runs / 10 new runs.
        excess = len(self._records) - self.max_runs * 9 // 10
        ended: list[tuple[str, str]] = []
        for key, record in self._records.items():
            if record[1] in _ENDED:
                ended.append(key)
                if len(ended) >= excess:
                    break
        for key in ended:
            del self._records[key]

    async def save_snapshot(self, workflow_id: str, run_id: str, snapshot: dict[str, Any]) -> None:
        """Store (insert or replace) the snapshot of one run."""
        self.put(workflow_id, run_id, snapshot)

    def put(self, workflow_id: str, run_id: str, snapshot: dict[str, Any]) -> None:
        """:meth:`save_snapshot` without the coroutine (what the engine calls on its hot path)."""
        key = (workflow_id, run_id)
        old = self._records.get(key)
        now = time.time()  # a float per save; turned into ISO text only when listed
        status = snapshot.get("status", "")
        data: dict[str, Any] | bytes = snapshot if status == "running" else orjson.dumps(snapshot)
        self._records[key] = (data, status, now if old is None else old[2], now)
        if old is None and len(self._records) > self.max_runs:
            self._evict()

    async def load_snapshot(self, workflow_id: str, run_id: str) -> dict[str, Any] | None:
        """The stored snapshot of one run (a copy), or None."""
        record = self._records.get((workflow_id, run_id))
        return None if record is None else _copy(record[0])

    async def list_snapshots(
        self, workflow_id: str, *, limit: int = 50, offset: int = 0
    ) -> list[dict[str, Any]]:
        """The runs of one workflow, newest first."""
        rows = [
            (run_id, record)
            for (wid, run_id), record in self._records.items()
            if wid == workflow_id
        ]
        rows.reverse()  # dicts keep insertion order: the newest run is the last inserted
        return [
            {
                "workflowId": workflow_id,
                "runId": run_id,
                "status": status,
                "snapshot": _copy(data),
                "createdAt": _iso(created),
                "updatedAt": _iso(updated),
            }
            for run_id, (data, status, created, updated) in rows[offset : offset + limit]
        ]

    async def compare_and_set_status(
        self, workflow_id: str, run_id: str, expected: str, new: str
    ) -> bool:
        """Set the run's status to ``new`` if it is ``expected`` (atomic: no await inside)."""
        key = (workflow_id, run_id)
        record = self._records.get(key)
        if record is None or record[1] != expected:
            return False
        snapshot = _copy(record[0])
        snapshot["status"] = new
        self.put(workflow_id, run_id, snapshot)
        return True


class JsonFileSnapshotStore:
    """Snapshots in one JSON file, shared by processes on one machine (tests, demos, dev).

    Every call takes an exclusive ``flock`` on ``<path>.lock``, reads the file, and writes it
    back atomically (write to a temporary file, then rename), so ``compare_and_set_status`` is
    atomic across processes. Not meant for many runs: the whole file is rewritten per save.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        lock_path = self.path.with_name(self.path.name + ".lock")
        with open(lock_path, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                data: dict[str, Any] = {"runs": {}}
                if self.path.exists():
                    raw = self.path.read_bytes()
                    if raw:
                        data = orjson.loads(raw)
                yield data
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write(self, data: dict[str, Any]) -> None:
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        tmp.write_bytes(orjson.dumps(data))
        os.replace(tmp, self.path)

    def _save(self, workflow_id: str, run_id: str, snapshot: dict[str, Any]) -> None:
        with self._locked() as data:
            key = f"{workflow_id}/{run_id}"
            now = _now_iso()
            old = data["runs"].pop(key, None)
            data["runs"][key] = {
                "workflowId": workflow_id,
                "runId": run_id,
                "snapshot": snapshot,
                "createdAt": old["createdAt"] if old else now,
                "updatedAt": now,
            }
            if old is not None:
                # Keep creation order: re-insert at the old place.
                runs = data["runs"]
                data["runs"] = dict(
                    sorted(runs.items(), key=lambda kv: (kv[1]["createdAt"], kv[0]))
                )
            self._write(data)

    def _cas(self, workflow_id: str, run_id: str, expected: str, new: str) -> bool:
        with self._locked() as data:
            record = data["runs"].get(f"{workflow_id}/{run_id}")
            if record is None or record["snapshot"].get("status") != expected:
                return False
            record["snapshot"]["status"] = new
            record["updatedAt"] = _now_iso()
            self._write(data)
            return True

    def _all(self) -> dict[str, Any]:
        with self._locked() as data:
            return data

    async def save_snapshot(self, workflow_id: str, run_id: str, snapshot: dict[str, Any]) -> None:
        """Store (insert or replace) the snapshot of one run."""
        self._save(workflow_id, run_id, snapshot)

    async def load_snapshot(self, workflow_id: str, run_id: str) -> dict[str, Any] | None:
        """The stored snapshot of one run, or None."""
        record = self._all()["runs"].get(f"{workflow_id}/{run_id}")
        return None if record is None else dict(record["snapshot"])

    async def list_snapshots(
        self, workflow_id: str, *, limit: int = 50, offset: int = 0
    ) -> list[dict[str, Any]]:
        """The runs of one workflow, newest first."""
        rows = [r for r in self._all()["runs"].values() if r["workflowId"] == workflow_id]
        rows.reverse()
        return [{**r, "status": r["snapshot"].get("status")} for r in rows[offset : offset + limit]]

    async def compare_and_set_status(
        self, workflow_id: str, run_id: str, expected: str, new: str
    ) -> bool:
        """Set the run's status to ``new`` if it is ``expected``, atomically across processes."""
        return self._cas(workflow_id, run_id, expected, new)
