"""Mastra's workflow routes (PROTOCOL.md §7), records framing.

Written against the workflow engine's API: ``run = await wf.create_run(run_id=None)``,
``run.stream(input_data, runtime_context=None)`` and ``run.resume_stream(step=None,
resume_data=...)`` return an output object (a :class:`~streamwise.stream.RunOutput`),
``run.cancel()``, ``wf.get_run(run_id)`` and ``wf.list_runs()`` (sync or async).
"""

from __future__ import annotations

from typing import Any

import pydantic
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import RunError
from ..stream import RunOutput
from ._bodies import BodyError, WorkflowResumeBody, WorkflowStreamBody, read_body
from ._json import dumps
from ._responses import error_response, json_response
from ._state import ServerState, maybe_await
from ._streaming import ChunkStreamResponse, RecordFraming
from ._summaries import workflow_summary

__all__ = (
    "create_workflow_run",
    "describe_run",
    "resume_workflow_run",
    "run_json",
    "start_workflow_stream",
    "workflow_routes",
)


def _no_workflow(workflow_id: str) -> Response:
    return error_response(404, f"workflow {workflow_id!r} not found")


def _run_id_of(run: Any) -> str:
    return str(getattr(run, "run_id", None) or getattr(run, "id", ""))


async def create_workflow_run(state: ServerState, workflow: Any, run_id: str | None) -> Any:
    """``await wf.create_run(run_id=…)``, held by the server so later routes find it."""
    run = await maybe_await(workflow.create_run(run_id=run_id or None))
    state.keep_workflow_run(_run_id_of(run), run)
    return run


async def start_workflow_stream(
    state: ServerState, workflow: Any, run: Any, input_data: Any, context: Any = None
) -> RunOutput:
    """``run.stream(input_data)``, held by the server for ``observe`` and ``cancel``.

    Raises:
        BodyError: the engine rejected the input (400 with its message).
    """
    try:
        out: RunOutput = await maybe_await(run.stream(input_data, runtime_context=context))
    except (pydantic.ValidationError, ValueError) as exc:
        raise BodyError(400, f"invalid request body: inputData ({exc})") from None
    except RunError as exc:  # e.g. the run is streaming already
        raise BodyError(409, str(exc)) from None
    state.runs.add(workflow.id, out)
    return out


async def resume_workflow_run(
    state: ServerState, workflow: Any, run: Any, body: WorkflowResumeBody
) -> RunOutput:
    """Resume ``run`` and hold its new output object.

    Raises:
        BodyError: the engine rejected the resume (400 with its message).
    """
    kwargs: dict[str, Any] = {"step": body.step, "resume_data": body.resume_data}
    if body.request_context is not None:
        kwargs["runtime_context"] = body.request_context
    try:
        out: RunOutput = await maybe_await(run.resume_stream(**kwargs))
    except (pydantic.ValidationError, ValueError) as exc:
        raise BodyError(400, f"invalid request body: resumeData ({exc})") from None
    except RunError as exc:  # e.g. another stream is resuming it
        raise BodyError(409, str(exc)) from None
    state.runs.add(workflow.id, out)
    return out


def run_json(value: Any) -> Any:
    """A run listing from the engine (``list_runs()``), as JSON-ready data."""
    for name in ("model_dump", "to_dict"):
        method = getattr(value, name, None)
        if callable(method):
            return method()
    if isinstance(value, list | tuple):
        return [run_json(v) for v in value]
    return value


async def describe_run(workflow: Any, run: Any) -> dict[str, Any]:
    """``GET …/runs/:runId``: the run's id and, when the engine stores one, its snapshot."""
    if isinstance(run, dict):
        return run
    run_id = _run_id_of(run)
    result: dict[str, Any] = {"runId": run_id, "workflowName": workflow.id}
    store = getattr(workflow, "store", None)
    load = getattr(store, "load_snapshot", None)
    snapshot = await maybe_await(load(workflow.id, run_id)) if callable(load) else None
    if isinstance(snapshot, dict):
        result["snapshot"] = snapshot
        result["status"] = snapshot.get("status")
    live = getattr(run, "output", None)
    if isinstance(live, RunOutput) and not live.done:
        result["status"] = "running"
    return result


def workflow_routes(state: ServerState) -> list[Route]:
    """The ``/api/workflows`` routes bound to ``state``."""
    limit = state.settings.max_body_bytes
    heartbeat = state.settings.heartbeat_interval

    def _workflow_and_run_id(request: Request) -> tuple[str, Any, str] | Response:
        """The workflow of the path and the required ``?runId=``, or the error to answer."""
        wid = request.path_params["workflow_id"]
        workflow = state.workflow(wid)
        if workflow is None:
            return _no_workflow(wid)
        run_id = request.query_params.get("runId")
        if not run_id:
            return error_response(400, "invalid request: runId (query parameter required)")
        return wid, workflow, run_id

    async def list_workflows(request: Request) -> Response:
        return json_response({wid: workflow_summary(w) for wid, w in state.app.workflows.items()})

    async def get_workflow(request: Request) -> Response:
        wid = request.path_params["workflow_id"]
        workflow = state.workflow(wid)
        if workflow is None:
            return _no_workflow(wid)
        return json_response(workflow_summary(workflow))

    async def create_run(request: Request) -> Response:
        wid = request.path_params["workflow_id"]
        workflow = state.workflow(wid)
        if workflow is None:
            return _no_workflow(wid)
        run = await create_workflow_run(state, workflow, request.query_params.get("runId"))
        return json_response({"runId": _run_id_of(run)})

    async def stream(request: Request) -> Response:
        wid = request.path_params["workflow_id"]
        workflow = state.workflow(wid)
        if workflow is None:
            return _no_workflow(wid)
        try:
            body = await read_body(request, WorkflowStreamBody, limit=limit)
        except BodyError as exc:
            return error_response(exc.status, exc.message, issues=exc.issues)
        run_id = request.query_params.get("runId") or None
        run = await state.find_workflow_run(workflow, run_id) if run_id else None
        if run is None:
            run = await create_workflow_run(state, workflow, run_id)
        try:
            out = await start_workflow_stream(
                state, workflow, run, body.input_data, body.request_context
            )
        except BodyError as exc:
            return error_response(exc.status, exc.message)
        return ChunkStreamResponse(out, RecordFraming(), heartbeat_interval=heartbeat)

    async def resume_stream(request: Request) -> Response:
        found = _workflow_and_run_id(request)
        if isinstance(found, Response):
            return found
        wid, workflow, run_id = found
        try:
            body = await read_body(request, WorkflowResumeBody, limit=limit)
        except BodyError as exc:
            return error_response(exc.status, exc.message, issues=exc.issues)
        run = await state.find_workflow_run(workflow, run_id)
        if run is None:
            return error_response(404, f"run {run_id!r} of workflow {wid!r} not found")
        try:
            out = await resume_workflow_run(state, workflow, run, body)
        except BodyError as exc:
            return error_response(exc.status, exc.message)
        return ChunkStreamResponse(out, RecordFraming(), heartbeat_interval=heartbeat)

    async def restart(request: Request, wait: bool) -> Response:
        """Run an interrupted run again: ``restart`` answers at once (observe to follow it),
        ``restart-async`` when the run ends, with its result."""
        found = _workflow_and_run_id(request)
        if isinstance(found, Response):
            return found
        wid, workflow, run_id = found
        run = await state.find_workflow_run(workflow, run_id)
        if run is None or not hasattr(run, "restart_stream"):
            return error_response(404, f"run {run_id!r} of workflow {wid!r} not found")
        try:
            out = run.restart_stream()
        except RunError as exc:
            return error_response(409, str(exc))
        state.runs.add(workflow.id, out)
        if not wait:
            return json_response({"message": "Workflow run restarted", "runId": run_id})
        done = await out.outcome()
        body: dict[str, Any] = {"runId": run_id, "status": done.status, "result": done.result,
                                "steps": done.steps}  # fmt: skip
        if done.error is not None:
            body["error"] = {"message": str(done.error)}
        return Response(dumps(body), media_type="application/json")

    async def restart_now(request: Request) -> Response:
        return await restart(request, wait=False)

    async def restart_async(request: Request) -> Response:
        return await restart(request, wait=True)

    async def observe(request: Request) -> Response:
        found = _workflow_and_run_id(request)
        if isinstance(found, Response):
            return found
        wid, workflow, run_id = found
        raw_offset = request.query_params.get("offset") or "0"
        if not raw_offset.isdigit():
            return error_response(400, "invalid request: offset (a non-negative integer)")
        out = state.runs.get(wid, run_id)
        if out is None:
            # A run started elsewhere (say, by a tool): the engine knows its live stream.
            run = await state.find_workflow_run(workflow, run_id)
            live = getattr(run, "output", None)
            out = live if isinstance(live, RunOutput) else None
        if out is None:
            return error_response(404, f"run {run_id!r} of workflow {wid!r} not found")
        return ChunkStreamResponse(
            out, RecordFraming(), offset=int(raw_offset), heartbeat_interval=heartbeat
        )

    async def cancel(request: Request) -> Response:
        wid = request.path_params["workflow_id"]
        run_id = request.path_params["run_id"]
        workflow = state.workflow(wid)
        if workflow is None:
            return _no_workflow(wid)
        run = await state.find_workflow_run(workflow, run_id)
        out = state.runs.get(wid, run_id)
        if run is None and out is None:
            return error_response(404, f"run {run_id!r} of workflow {wid!r} not found")
        if run is not None:
            canceled = await maybe_await(run.cancel())
            if not canceled and hasattr(run, "cancel_suspended"):
                # No stream running here: a suspended run is canceled in the store.
                await run.cancel_suspended()
        elif out is not None:
            out.cancel()
        return json_response({"message": "Workflow run canceled"})

    async def list_runs(request: Request) -> Response:
        wid = request.path_params["workflow_id"]
        workflow = state.workflow(wid)
        if workflow is None:
            return _no_workflow(wid)
        runs = run_json(await maybe_await(workflow.list_runs()))
        if isinstance(runs, list):
            runs = {"runs": runs, "total": len(runs)}
        return Response(dumps(runs), media_type="application/json")

    async def get_run(request: Request) -> Response:
        wid = request.path_params["workflow_id"]
        run_id = request.path_params["run_id"]
        workflow = state.workflow(wid)
        if workflow is None:
            return _no_workflow(wid)
        run = await maybe_await(workflow.get_run(run_id))
        if run is None:
            return error_response(404, f"run {run_id!r} of workflow {wid!r} not found")
        return json_response(await describe_run(workflow, run))

    base = "/api/workflows/{workflow_id}"
    return [
        Route("/api/workflows", list_workflows, methods=["GET"]),
        Route(base, get_workflow, methods=["GET"]),
        Route(f"{base}/create-run", create_run, methods=["POST"]),
        Route(f"{base}/stream", stream, methods=["POST"]),
        Route(f"{base}/resume-stream", resume_stream, methods=["POST"]),
        Route(f"{base}/restart", restart_now, methods=["POST"]),
        Route(f"{base}/restart-async", restart_async, methods=["POST"]),
        Route(f"{base}/observe", observe, methods=["POST"]),
        Route(f"{base}/runs", list_runs, methods=["GET"]),
        Route(base + "/runs/{run_id}", get_run, methods=["GET"]),
        Route(base + "/runs/{run_id}/cancel", cancel, methods=["POST"]),
    ]
