"""AI SDK routes (PROTOCOL.md §8): ``POST /chat/:agentId`` and ``POST /workflow/:workflowId``.

The bodies are what ``useChat``'s ``DefaultChatTransport`` and Mastra's ``workflowRoute`` send;
the answer is the UI message stream, converted by :mod:`streamwise.compat`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..compat import UIStreamConverter
from ..stream import RunOutput
from ._agents import start_agent_run
from ._bodies import (
    AgentStreamBody,
    BodyError,
    ChatBody,
    WorkflowResumeBody,
    WorkflowRouteBody,
    read_body,
)
from ._responses import error_response
from ._state import ServerState
from ._streaming import ChunkStreamResponse, UIFraming
from ._workflows import create_workflow_run, resume_workflow_run, start_workflow_stream

__all__ = ("ui_routes",)


def ui_routes(state: ServerState) -> list[Route]:
    """The AI SDK UI message stream routes bound to ``state``."""
    limit = state.settings.max_body_bytes
    heartbeat = state.settings.heartbeat_interval

    async def chat(request: Request) -> Response:
        agent_id = request.path_params["agent_id"]
        agent = state.agent(agent_id)
        if agent is None:
            return error_response(404, f"agent {agent_id!r} not found")
        try:
            body = await read_body(request, ChatBody, limit=limit)
            messages: list[Any] = [{"role": m.role, "parts": m.parts} for m in body.messages]
            out = start_agent_run(state, agent, AgentStreamBody(messages=messages))
        except BodyError as exc:
            return error_response(exc.status, exc.message, issues=exc.issues)
        return ChunkStreamResponse(
            out,
            UIFraming(UIStreamConverter(from_="agent")),
            heartbeat_interval=heartbeat,
            extra_headers=((b"x-streamwise-run-id", out.run_id.encode()),),
        )

    async def workflow_route(request: Request) -> Response:
        wid = request.path_params["workflow_id"]
        workflow = state.workflow(wid)
        if workflow is None:
            return error_response(404, f"workflow {wid!r} not found")
        try:
            body = await read_body(request, WorkflowRouteBody, limit=limit)
        except BodyError as exc:
            return error_response(exc.status, exc.message, issues=exc.issues)
        out: RunOutput
        if body.resume_data is not None:
            if not body.run_id:
                return error_response(400, "invalid request body: runId (needed to resume)")
            run = await state.find_workflow_run(workflow, body.run_id)
            if run is None:
                return error_response(404, f"run {body.run_id!r} of workflow {wid!r} not found")
            resume = WorkflowResumeBody(step=body.step, resumeData=body.resume_data)
            try:
                out = await resume_workflow_run(state, workflow, run, resume)
            except BodyError as exc:
                return error_response(exc.status, exc.message)
        else:
            run = None
            if body.run_id:
                run = await state.find_workflow_run(workflow, body.run_id)
            if run is None:
                run = await create_workflow_run(state, workflow, body.run_id)
            try:
                out = await start_workflow_stream(state, workflow, run, body.input_data)
            except BodyError as exc:
                return error_response(exc.status, exc.message)
        return ChunkStreamResponse(
            out,
            UIFraming(UIStreamConverter(from_="workflow")),
            heartbeat_interval=heartbeat,
            extra_headers=((b"x-streamwise-run-id", out.run_id.encode()),),
        )

    return [
        Route("/chat/{agent_id}", chat, methods=["POST"]),
        Route("/workflow/{workflow_id}", workflow_route, methods=["POST"]),
    ]
