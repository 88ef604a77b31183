"""Approve, decline, resume and cancel over HTTP on a server that did not run the first stream.

Each test suspends a run on one app, then continues it on a freshly made app (fresh ``Agent``
objects, the same database): only storage is shared, as between two server processes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from streamwise import Agent, Streamwise
from tests.agent.test_approval import deleting_agent
from tests.agent.test_suspended import paying_agent, suspended_with_a_local_output_class
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


async def _on_two_servers(db_url: str, script: str) -> tuple[Any, list[Any], list[Any]]:
    """Run the JS ``script`` against two loopback servers sharing ``db_url``, each serving a
    fresh deleting agent; returns its report and what each server's tool deleted."""
    first, deleted_first = deleting_agent()
    second, deleted_second = deleting_agent()
    with (
        running_server(Streamwise(agents=[first], storage=db_url), lifespan=True) as one,
        running_server(Streamwise(agents=[second], storage=db_url), lifespan=True) as two,
    ):
        report = await asyncio.to_thread(node, script, one, two)
    return report, deleted_first, deleted_second


async def test_js_mastra_client_approves_on_a_second_server(db_url: str) -> None:
    report, deleted_first, deleted_second = await _on_two_servers(
        db_url, "mastra_approval_elsewhere.mjs"
    )
    assert report["suspendedTypes"][-3:] == ["tool-call-approval", "step-finish", "finish"]
    assert report["approvedTypes"][:2] == ["start", "tool-result"]
    assert report["approvedRunIds"] == [report["runId"]]
    assert report["approvedText"] == "after: {'deleted': True}"
    assert report["againStatus"] == 409
    assert report["declinedText"] == "after: not today"
    assert (deleted_first, deleted_second) == ([], ["r1"])


async def test_suspended_runs_route_lists_runs_stored_and_held(db_url: str) -> None:
    first, _ = deleting_agent()
    body = {"messages": "delete r1", "memory": {"thread": "t1", "resource": "u1"}}
    stored_id = await _suspend_over_http(db_url, first, body)
    agent, _ = deleting_agent()
    async with Streamwise(agents=[agent], storage=db_url) as app, client(app) as c:
        held = frames((await c.post("/api/agents/admin/stream", json={"messages": "x"})).content)
        held_id = held[0]["runId"]
        listed = (await c.get("/api/agents/admin/suspended-runs")).json()
        assert listed["total"] == 2
        # Newest first, as Mastra lists runs.
        assert [r["runId"] for r in listed["runs"]] == [held_id, stored_id]
        older = listed["runs"][1]
        assert older == {
            "runId": stored_id,
            "status": "suspended",
            "threadId": "t1",
            "resourceId": "u1",
            "suspendedAt": older["suspendedAt"],
            "toolCalls": [{"toolCallId": "c1", "toolName": "delete", "args": {"id": "r1"},
                           "requiresApproval": True}],
        }  # fmt: skip
        assert older["suspendedAt"].endswith("Z")
        assert "threadId" not in listed["runs"][0]

        async def ids(query: str) -> tuple[list[str], int]:
            response = await c.get(f"/api/agents/admin/suspended-runs?{query}")
            assert response.status_code == 200
            data = response.json()
            return [r["runId"] for r in data["runs"]], data["total"]

        assert await ids("threadId=t1") == ([stored_id], 1)
        assert await ids("resourceId=u1&threadId=other") == ([], 0)
        assert await ids("perPage=1&page=0") == ([held_id], 2)
        assert await ids("perPage=1&page=1") == ([stored_id], 2)
        assert await ids("perPage=1") == ([held_id, stored_id], 2)  # a page needs both
        assert await ids("fromDate=2999-01-01T00:00:00.000Z") == ([], 0)
        assert await ids("toDate=2999-01-01T00:00:00.000Z&fromDate=2000-01-01") == (
            [held_id, stored_id],
            2,
        )
        for bad in ("perPage=0", "page=-1", "perPage=x", "fromDate=yesterday"):
            response = await c.get(f"/api/agents/admin/suspended-runs?{bad}")
            assert response.status_code == 400, bad
            assert bad.split("=")[0] in response.json()["error"]
        missing = await c.get("/api/agents/nobody/suspended-runs")
        assert missing.status_code == 404
        # Approved, a run leaves the list.
        approve = {"runId": stored_id}
        frames((await c.post("/api/agents/admin/approve-tool-call", json=approve)).content)
        assert await ids("") == ([held_id], 1)


async def test_suspended_runs_route_without_storage_lists_runs_held_here() -> None:
    agent, _ = deleting_agent()
    async with client(Streamwise(agents=[agent])) as c:
        first = frames((await c.post("/api/agents/admin/stream", json={"messages": "x"})).content)
        listed = (await c.get("/api/agents/admin/suspended-runs")).json()
        assert [r["runId"] for r in listed["runs"]] == [first[0]["runId"]]


async def test_racing_approvals_on_two_apps_give_one_stream_and_one_409(db_url: str) -> None:
    first, _ = deleting_agent()
    run_id = await _suspend_over_http(db_url, first, {"messages": "delete r1"})
    one, deleted_one = deleting_agent()
    two, deleted_two = deleting_agent()
    body = {"runId": run_id}
    async with (
        Streamwise(agents=[one], storage=db_url) as app_one,
        Streamwise(agents=[two], storage=db_url) as app_two,
        client(app_one) as c1,
        client(app_two) as c2,
    ):
        responses = await asyncio.gather(
            c1.post("/api/agents/admin/approve-tool-call", json=body),
            c2.post("/api/agents/admin/approve-tool-call", json=body),
        )
    assert sorted(r.status_code for r in responses) == [200, 409]
    [won] = [r for r in responses if r.status_code == 200]
    [lost] = [r for r in responses if r.status_code == 409]
    assert _types(frames(won.content))[-1] == "finish"
    assert "not waiting" in lost.json()["error"]
    assert deleted_one + deleted_two == ["r1"]


async def test_racing_approvals_on_two_loopback_servers(db_url: str) -> None:
    here, deleted_here = deleting_agent()
    there, deleted_there = deleting_agent()
    with (
        running_server(Streamwise(agents=[here], storage=db_url), lifespan=True) as one,
        running_server(Streamwise(agents=[there], storage=db_url), lifespan=True) as two,
    ):
        async with httpx.AsyncClient(timeout=30) as http:
            suspended = await http.post(f"{one}/api/agents/admin/stream", json={"messages": "x"})
            run_id = frames(suspended.content)[0]["runId"]
            # ``one`` holds the run in memory (and stored it); ``two`` reads it from the store.
            body = {"runId": run_id, "toolCallId": "c1"}
            responses = await asyncio.gather(
                http.post(f"{one}/api/agents/admin/approve-tool-call", json=body),
                http.post(f"{two}/api/agents/admin/approve-tool-call", json=body),
            )
            listed = (await http.get(f"{two}/api/agents/admin/suspended-runs")).json()
    assert sorted(r.status_code for r in responses) == [200, 409]
    [won] = [r for r in responses if r.status_code == 200]
    assert frames(won.content)[-1]["type"] == "finish"
    assert listed == {"runs": [], "total": 0}
    assert deleted_here + deleted_there == ["r1"]


async def test_approving_a_run_whose_output_class_cannot_be_imported_is_a_500(
    db_url: str,
) -> None:
    agent, run_id = await suspended_with_a_local_output_class(db_url)
    async with Streamwise(agents=[agent], storage=db_url) as app, client(app) as c:
        response = await c.post("/api/agents/judge/approve-tool-call", json={"runId": run_id})
        assert response.status_code == 500
        error = response.json()
        assert error["runId"] == run_id
        assert error["error"] == (
            f"run {run_id!r} cannot be continued here: its structured-output class "
            "tests.agent.test_suspended.suspended_with_a_local_output_class.<locals>.Local "
            "cannot be imported in this process "
            "(define the output model at module level); it still waits"
        )
        assert await app.storage.load_suspended("judge", run_id) is not None
        listed = (await c.get("/api/agents/judge/suspended-runs")).json()
        assert [r["runId"] for r in listed["runs"]] == [run_id]


async def test_js_mastra_client_lists_suspended_runs_on_a_second_server(db_url: str) -> None:
    report, deleted_first, deleted_second = await _on_two_servers(
        db_url, "mastra_suspended_runs.mjs"
    )
    thread_run, plain_run = report["threadRunId"], report["plainRunId"]
    listed = report["all"]
    assert listed["total"] == 2
    assert [r["runId"] for r in listed["runs"]] == [plain_run, thread_run]
    newest, oldest = listed["runs"]
    assert oldest["threadId"] == "t1"
    assert oldest["resourceId"] == "u1"
    assert oldest["status"] == "suspended"
    assert oldest["toolCalls"] == [{"toolCallId": "c1", "toolName": "delete",
                                    "args": {"id": "r1"}, "requiresApproval": True}]  # fmt: skip
    assert "threadId" not in newest
    assert report["byThreadIds"] == [thread_run]
    assert (report["pageIds"], report["pageTotal"]) == ([thread_run], 2)
    assert report["futureTotal"] == 0
    assert report["approvedText"] == "after: {'deleted': True}"
    assert report["afterIds"] == [plain_run]
    assert (deleted_first, deleted_second) == ([], ["r1"])
