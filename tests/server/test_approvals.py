"""Approve, decline, resume and cancel over HTTP on a server that did not run the first stream.

Each test suspends a run on one app, then continues it on a freshly made app (fresh ``Agent``
objects, the same database): only storage is shared, as between two server processes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from streamwise import Agent, Streamwise
from tests.agent.test_approval import deleting_agent
from tests.agent.test_suspended import paying_agent
from tests.server.support import running_server
from tests.server.test_app import client, frames
from tests.server.test_js_clients import node


def _types(chunks: list[Any]) -> list[str]:
    return [c["type"] for c in chunks]


async def _suspend_over_http(db_url: str, agent: Agent, body: dict[str, Any]) -> str:
    """Stream ``agent`` over HTTP until it waits; close its app; return the run id."""
    async with Streamwise(agents=[agent], storage=db_url) as app, client(app) as c:
        response = await c.post(f"/api/agents/{agent.id}/stream", json=body)
        chunks = frames(response.content)
    assert chunks[-1]["payload"]["stepResult"]["reason"] == "suspended"
    run_id: str = chunks[0]["runId"]
    return run_id


async def test_approve_route_on_a_fresh_app_continues_the_run(db_url: str) -> None:
    first, _ = deleting_agent()
    run_id = await _suspend_over_http(db_url, first, {"messages": "delete r1"})
    agent, deleted = deleting_agent()
    async with Streamwise(agents=[agent], storage=db_url) as app, client(app) as c:
        body = {"runId": run_id, "toolCallId": "c1"}
        approved = frames((await c.post("/api/agents/admin/approve-tool-call", json=body)).content)
        assert _types(approved)[:2] == ["start", "tool-result"]
        assert _types(approved)[-1] == "finish"
        assert {f["runId"] for f in approved} == {run_id}
        assert deleted == ["r1"]
        again = await c.post("/api/agents/admin/approve-tool-call", json=body)
        assert again.status_code == 409
        assert "not waiting" in again.json()["error"]
        unknown = await c.post("/api/agents/admin/decline-tool-call", json={"runId": "nope"})
        assert unknown.status_code == 409
        bad = await c.post("/api/agents/admin/approve-tool-call", json={"runId": "x" * 300})
        assert bad.status_code == 400


async def test_decline_and_resume_routes_on_a_fresh_app(db_url: str) -> None:
    first, _ = deleting_agent()
    declined_id = await _suspend_over_http(db_url, first, {"messages": "delete r1"})
    payer, _ = paying_agent()
    paid_id = await _suspend_over_http(db_url, payer, {"messages": "pay"})
    admin, deleted = deleting_agent()
    payer2, _ = paying_agent()
    async with Streamwise(agents=[admin, payer2], storage=db_url) as app, client(app) as c:
        # The wrong decision for a stored run is answered at once, and claims nothing.
        wrong = await c.post("/api/agents/payer/approve-tool-call", json={"runId": paid_id})
        assert wrong.status_code == 409
        decline = {"runId": declined_id, "reason": "not today"}
        declined = frames(
            (await c.post("/api/agents/admin/decline-tool-call", json=decline)).content
        )
        result = next(f for f in declined if f["type"] == "tool-result")["payload"]["result"]
        assert result == "not today"
        resume = {"runId": paid_id, "resumeData": {"approved": True}}
        resumed = frames((await c.post("/api/agents/payer/resume-stream", json=resume)).content)
        assert next(f for f in resumed if f["type"] == "tool-result")["payload"]["result"] == "paid"
    assert deleted == []


async def test_cancel_route_drops_a_run_suspended_elsewhere(db_url: str) -> None:
    first, _ = deleting_agent()
    run_id = await _suspend_over_http(db_url, first, {"messages": "delete r1"})
    agent, deleted = deleting_agent()
    async with Streamwise(agents=[agent], storage=db_url) as app, client(app) as c:
        canceled = await c.post(f"/api/agents/admin/runs/{run_id}/cancel")
        assert canceled.status_code == 200
        assert canceled.json() == {
            "message": "run canceled",
            "canceled": True,
            "status": "canceled",
        }
        run = await app.storage.get_run(run_id)
        assert run is not None
        assert run["status"] == "canceled"
        late = await c.post("/api/agents/admin/approve-tool-call", json={"runId": run_id})
        assert late.status_code == 409
        gone = await c.post(f"/api/agents/admin/runs/{run_id}/cancel")
        assert gone.status_code == 404
    assert deleted == []


async def test_cancel_route_on_a_suspended_run_held_here(db_url: str) -> None:
    agent, _ = deleting_agent()
    async with Streamwise(agents=[agent], storage=db_url) as app, client(app) as c:
        first = frames((await c.post("/api/agents/admin/stream", json={"messages": "x"})).content)
        run_id = first[0]["runId"]
        canceled = (await c.post(f"/api/agents/admin/runs/{run_id}/cancel")).json()
        assert canceled["canceled"] is True
        assert await app.storage.load_suspended("admin", run_id) is None
        assert agent.suspended_runs() == []


async def test_js_mastra_client_approves_on_a_second_server(db_url: str) -> None:
    first, deleted_first = deleting_agent()
    second, deleted_second = deleting_agent()
    with (
        running_server(Streamwise(agents=[first], storage=db_url), lifespan=True) as one,
        running_server(Streamwise(agents=[second], storage=db_url), lifespan=True) as two,
    ):
        report = await asyncio.to_thread(node, "mastra_approval_elsewhere.mjs", one, two)
    assert report["suspendedTypes"][-3:] == ["tool-call-approval", "step-finish", "finish"]
    assert report["approvedTypes"][:2] == ["start", "tool-result"]
    assert report["approvedRunIds"] == [report["runId"]]
    assert report["approvedText"] == "after: {'deleted': True}"
    assert report["againStatus"] == 409
    assert report["declinedText"] == "after: not today"
    assert (deleted_first, deleted_second) == ([], ["r1"])
