"""Workflow routes (records framing) and ``/workflow/:id``, driven by a replaying stand-in.

The real workflow engine is built on another branch; the stand-in replays Mastra's recorded
events, so the bytes on the wire can be compared with ``reference-traces/`` exactly.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from streamwise import Streamwise
from streamwise.server import ServerSettings, create_asgi_app
from tests.compat.test_ui_stream import TRACES, record_json, sse_json
from tests.server.support import running_server
from tests.server.test_js_clients import node
from tests.server.workflow_double import ReplayWorkflow
from tests.support import until


def make_app(*, hold: bool = False) -> Streamwise:
    return Streamwise(
        workflows=[
            ReplayWorkflow("threeStep", record_json("wf-stream.raw"),
                           steps=("add-one", "double", "square"), hold=hold),
            ReplayWorkflow("approval", record_json("appr-stream.raw"),
                           resume_events=record_json("appr-resume.raw"),
                           steps=("prepare", "approve")),
        ]
    )  # fmt: skip


def client(app: Streamwise) -> httpx.AsyncClient:
    asgi = create_asgi_app(app, ServerSettings(heartbeat_interval=0))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://t")


async def test_workflows_list_has_mastra_keys() -> None:
    async with client(make_app()) as c:
        ours = (await c.get("/api/workflows")).json()
        one = (await c.get("/api/workflows/threeStep")).json()
    theirs = orjson.loads((TRACES / "workflows.json").read_bytes())
    assert set(ours["threeStep"]) == set(theirs["threeStep"])
    assert ours["threeStep"]["stepGraph"] == theirs["threeStep"]["stepGraph"]
    assert list(ours["threeStep"]["steps"]) == ["add-one", "double", "square"]
    step = ours["threeStep"]["steps"]["add-one"]
    assert set(step) == set(theirs["threeStep"]["steps"]["add-one"])
    assert orjson.loads(step["inputSchema"])["json"]["required"] == ["value"]
    assert ours["threeStep"]["allSteps"]["add-one"]["isWorkflow"] is False
    assert one == ours["threeStep"]


async def test_workflow_create_run_with_empty_and_given_run_id() -> None:
    async with client(make_app()) as c:
        empty = await c.post("/api/workflows/threeStep/create-run?runId=")
        none = await c.post("/api/workflows/threeStep/create-run")
        fixed = await c.post("/api/workflows/threeStep/create-run?runId=run-fixed-1")
    assert len(empty.json()["runId"]) == 36
    assert len(none.json()["runId"]) == 36
    assert fixed.content == (TRACES / "create-run.json").read_bytes()
    assert fixed.headers["content-type"] == "application/json"


async def test_workflow_stream_and_observe_match_the_trace_bytes() -> None:
    async with client(make_app()) as c:
        await c.post("/api/workflows/threeStep/create-run?runId=run-fixed-1")
        r = await c.post("/api/workflows/threeStep/stream?runId=run-fixed-1",
                         json={"inputData": {"value": 3}})  # fmt: skip
        o = await c.post("/api/workflows/threeStep/observe?runId=run-fixed-1&offset=2")
        runs = await c.get("/api/workflows/threeStep/runs")
        run = await c.get("/api/workflows/threeStep/runs/run-fixed-1")
        missing = await c.get("/api/workflows/threeStep/runs/nope")
    assert r.headers["content-type"] == "text/plain"
    assert r.content == (TRACES / "wf-stream.raw").read_bytes()
    assert o.content == (TRACES / "observe.raw").read_bytes()
    assert runs.json() == {"runs": [{"runId": "run-fixed-1"}], "total": 1}
    assert run.json() == {"runId": "run-fixed-1", "workflowName": "threeStep"}
    assert missing.status_code == 404


async def test_workflow_observe_finds_a_run_started_outside_the_server() -> None:
    app = make_app()
    run = await app.get_workflow("threeStep").create_run("run-fixed-1")
    await run.stream({"value": 3}).wait()
    async with client(app) as c:
        o = await c.post("/api/workflows/threeStep/observe?runId=run-fixed-1&offset=2")
    assert o.content == (TRACES / "observe.raw").read_bytes()


async def test_workflow_suspend_and_resume_match_the_trace_bytes() -> None:
    async with client(make_app()) as c:
        s = await c.post(
            "/api/workflows/approval/stream?runId=appr-1", json={"inputData": {"item": "invoice"}}
        )
        r = await c.post("/api/workflows/approval/resume-stream?runId=appr-1",
                         json={"step": "approve", "resumeData": {"approved": True}})  # fmt: skip
        no_run = await c.post(
            "/api/workflows/approval/resume-stream?runId=nope", json={"resumeData": {}}
        )
        no_id = await c.post("/api/workflows/approval/resume-stream", json={"resumeData": {}})
    assert s.content == (TRACES / "appr-stream.raw").read_bytes()
    assert r.content == (TRACES / "appr-resume.raw").read_bytes()
    assert no_run.status_code == 404
    assert no_id.status_code == 400
    assert "runId" in no_id.json()["error"]


async def test_workflow_observe_errors() -> None:
    async with client(make_app()) as c:
        unknown = await c.post("/api/workflows/threeStep/observe?runId=nope")
        bad_offset = await c.post("/api/workflows/threeStep/observe?runId=x&offset=-1")
        no_id = await c.post("/api/workflows/threeStep/observe")
        bad_body = await c.post("/api/workflows/threeStep/stream", content=b"[1,")
        no_input = await c.post("/api/workflows/threeStep/stream", json={})
        ui_no_input = await c.post("/workflow/threeStep", json={})
    assert no_input.status_code == 400
    assert no_input.json()["error"] == "invalid request body: inputData (inputData is required)"
    assert ui_no_input.status_code == 400
    assert unknown.status_code == 404
    assert bad_offset.status_code == 400
    assert no_id.status_code == 400
    assert bad_body.status_code == 400


async def test_workflow_cancel_stops_a_held_run() -> None:
    with running_server(make_app(hold=True)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as c:
            await c.post("/api/workflows/threeStep/create-run?runId=w-1")
            async with c.stream(
                "POST",
                "/api/workflows/threeStep/stream?runId=w-1",
                json={"inputData": {"value": 3}},
            ) as r:
                pieces = aiter(r.aiter_bytes())
                first = await anext(pieces)  # the run is held after its first event
                busy = await c.post(
                    "/api/workflows/threeStep/stream?runId=w-1", json={"inputData": {}}
                )
                live = await c.get("/api/workflows/threeStep/runs/w-1")
                cancel = await c.post("/api/workflows/threeStep/runs/w-1/cancel")
                rest = b"".join([p async for p in pieces])
            missing = await c.post("/api/workflows/threeStep/runs/nope/cancel")
    assert cancel.json() == {"message": "Workflow run canceled"}
    assert busy.status_code == 409
    assert busy.json()["error"] == "run 'w-1' is streaming already"
    assert live.json()["status"] == "running"
    records = [orjson.loads(x) for x in (first + rest).split(b"\x1e") if x]
    assert [x["type"] for x in records] == ["workflow-start", "abort"]
    assert missing.status_code == 404


async def test_workflow_records_idle_get_empty_records() -> None:
    settings = ServerSettings(heartbeat_interval=0.01)
    with running_server(make_app(hold=True), settings) as url:
        async with (
            httpx.AsyncClient(base_url=url, timeout=10) as c,
            c.stream(
                "POST",
                "/api/workflows/threeStep/stream?runId=w-2",
                json={"inputData": {"value": 3}},
            ) as r,
        ):
            buf = b""
            pieces = aiter(r.aiter_bytes())
            while not buf.endswith(b"\x1e\x1e"):  # a heartbeat: an empty record
                buf += await anext(pieces)
            await c.post("/api/workflows/threeStep/runs/w-2/cancel")
            buf += b"".join([p async for p in pieces])
    records = [orjson.loads(x) for x in buf.split(b"\x1e") if x]
    assert [x["type"] for x in records] == ["workflow-start", "abort"]


async def test_workflow_ui_route_matches_mastra_parts() -> None:
    async with client(make_app()) as c:
        r = await c.post("/workflow/threeStep", json={"inputData": {"value": 3}})
        resumed_needs_run = await c.post(
            "/workflow/approval", json={"resumeData": {"approved": True}}
        )
        s = await c.post("/workflow/approval", json={"inputData": {"item": "x"}, "runId": "appr-1"})
        res = await c.post("/workflow/approval", json={"runId": "appr-1", "step": "approve",
                                                        "resumeData": {"approved": True}})  # fmt: skip
    assert r.headers["x-vercel-ai-ui-message-stream"] == "v1"
    parts = _sse(r.content)
    assert [p["type"] for p in parts] == [p["type"] for p in sse_json("wfchat.raw")]
    assert parts[-2]["data"]["status"] == "success"
    assert resumed_needs_run.status_code == 400
    assert [p for p in _sse(s.content) if p["type"] == "data-workflow"][-1]["data"][
        "status"
    ] == "suspended"
    final = [p for p in _sse(res.content) if p["type"] == "data-workflow"][-1]["data"]
    assert final["status"] == "success"
    assert final["steps"]["approve"]["output"] == {"item": "INVOICE", "approved": True}


async def test_workflow_engine_failure_is_a_500_without_details() -> None:
    app = Streamwise(workflows=[ReplayWorkflow("broken", [], broken=True)])
    asgi = create_asgi_app(app, ServerSettings(heartbeat_interval=0))
    transport = httpx.ASGITransport(app=asgi, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.post("/api/workflows/broken/create-run")
    assert r.status_code == 500
    assert r.json() == {"error": "internal server error"}


def _sse(body: bytes) -> list[Any]:
    assert body.endswith(b"data: [DONE]\n\n")
    return [orjson.loads(f[6:]) for f in body.split(b"\n\n") if f.startswith(b"data: {")]


def test_workflow_ui_route_reads_in_the_ai_sdk() -> None:
    with running_server(make_app()) as url:
        report = node("ai_workflow.mjs", url, "threeStep", '{"value": 3}')
    assert report["errors"] == []
    # One data-workflow part per run id, replaced in place: its last state is the final one.
    assert len(report["workflow"]) == 1
    final = report["workflow"][0]
    assert final["status"] == "success"
    assert final["steps"]["square"]["output"] == {"value": 64}
    assert report["messageParts"].count("data-workflow-step") == 3


async def test_workflow_restart_routes_run_an_interrupted_run_again() -> None:
    import asyncio

    from streamwise import Streamwise, create_step, create_workflow
    from streamwise.workflows import StepContext
    from tests.workflows.flows import Item

    calls: list[str] = []
    release = asyncio.Event()

    async def first(ctx: StepContext) -> dict[str, str]:
        calls.append("first")
        return {"item": ctx.input_data.item + "!"}

    async def second(ctx: StepContext) -> dict[str, str]:
        calls.append("second")
        await release.wait()
        return {"item": ctx.input_data.item + "?"}

    wf = (
        create_workflow("restartable", Item, Item)
        .then(create_step("first", Item, Item, first))
        .then(create_step("second", Item, Item, second))
        .commit()
    )
    run = await wf.create_run(run_id="r1")
    out = run.stream({"item": "x"})
    await until(lambda: calls == ["first", "second"])  # the second step is running
    out.cancel()
    assert await out.status == "canceled"
    # What recovery does to a run whose process died mid-step:
    assert await wf.store.compare_and_set_status(wf.id, "r1", "canceled", "interrupted")
    release.set()
    async with client(Streamwise(workflows=[wf])) as c:
        missing = await c.post("/api/workflows/restartable/restart-async")
        assert missing.status_code == 400
        done = await c.post("/api/workflows/restartable/restart-async?runId=r1")
        assert done.status_code == 200
        body = done.json()
        assert body["status"] == "success"
        assert body["result"] == {"item": "x!?"}
        assert calls == ["first", "second", "second"]  # the first step was replayed
        again = await c.post("/api/workflows/restartable/restart?runId=r1")
        assert again.status_code == 200  # answers at once; the run then fails: not interrupted
