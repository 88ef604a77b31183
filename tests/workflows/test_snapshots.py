"""Snapshot stores: the in-memory default and the JSON-file store keep the same protocol."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamwise.workflows import (
    InMemorySnapshotStore,
    JsonFileSnapshotStore,
    WorkflowSnapshotStore,
)
from tests.workflows.flows import approval, three_step


@pytest.fixture(params=["memory", "file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> WorkflowSnapshotStore:
    if request.param == "memory":
        return InMemorySnapshotStore()
    return JsonFileSnapshotStore(tmp_path / "snapshots.json")


async def test_store_save_load_list_and_compare_and_set(store: WorkflowSnapshotStore) -> None:
    assert isinstance(store, WorkflowSnapshotStore)
    assert await store.load_snapshot("w", "r1") is None
    await store.save_snapshot("w", "r1", {"status": "suspended", "steps": {}})
    await store.save_snapshot("w", "r2", {"status": "running", "steps": {}})
    await store.save_snapshot("other", "r3", {"status": "success", "steps": {}})
    await store.save_snapshot("w", "r1", {"status": "suspended", "steps": {"a": {}}})
    loaded = await store.load_snapshot("w", "r1")
    assert loaded == {"status": "suspended", "steps": {"a": {}}}
    rows = await store.list_snapshots("w")
    assert [r["runId"] for r in rows] == ["r2", "r1"]  # newest first
    assert set(rows[0]) == {"workflowId", "runId", "status", "snapshot", "createdAt", "updatedAt"}
    assert rows[1]["status"] == "suspended"
    assert [r["runId"] for r in await store.list_snapshots("w", limit=1, offset=1)] == ["r1"]
    assert await store.compare_and_set_status("w", "r1", "suspended", "running")
    assert not await store.compare_and_set_status("w", "r1", "suspended", "running")
    assert not await store.compare_and_set_status("w", "missing", "suspended", "running")
    again = await store.load_snapshot("w", "r1")
    assert again is not None
    assert again["status"] == "running"


async def test_store_load_returns_a_copy_that_later_saves_do_not_change() -> None:
    store = InMemorySnapshotStore()
    live = {"status": "running", "steps": {}}
    await store.save_snapshot("w", "r", live)
    copy = await store.load_snapshot("w", "r")
    live["status"] = "success"
    assert copy == {"status": "running", "steps": {}}


async def test_workflow_uses_a_store_it_is_given_and_lists_runs(tmp_path: Path) -> None:
    wf = approval(JsonFileSnapshotStore(tmp_path / "s.json"))
    for run_id in ("a", "b"):
        await (await wf.create_run(run_id=run_id)).start({"item": run_id})
    runs = await wf.list_runs()
    assert [r["runId"] for r in runs] == ["b", "a"]
    assert {r["status"] for r in runs} == {"suspended"}
    snapshot = runs[0]["snapshot"]
    assert snapshot["input"] == {"item": "b"}
    assert snapshot["steps"]["prepare"]["output"] == {"item": "B"}
    assert snapshot["suspendedPaths"] == {"approve": [1]}


async def test_default_store_is_in_memory_and_settable() -> None:
    wf = three_step()
    assert isinstance(wf.store, InMemorySnapshotStore)
    run = await wf.create_run()
    await run.start({"value": 1})
    (row,) = await wf.list_runs()
    assert row["status"] == "success"
    assert row["snapshot"]["result"] == {"value": 16}
    wf.store = InMemorySnapshotStore()
    assert await wf.list_runs() == []
