"""Mastra's agent routes (PROTOCOL.md §7): list, describe, stream, generate, observe, cancel,
and the human in the loop: approve, decline, resume, list suspended runs."""

from __future__ import annotations

from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..agent import Agent, AgentOutput, MemoryOptions
from ..errors import (
    ConfigurationError,
    InvalidIdError,
    RunNotContinuableError,
    RunNotSuspendedError,
)
from ._bodies import (
    AgentObserveBody,
    AgentResumeBody,
    AgentStreamBody,
    BodyError,
    ToolDecisionBody,
    agent_input,
    read_body,
)
from ._responses import error_response, json_response
from ._sse import sse_events
from ._state import ServerState
from ._streaming import ChunkStreamResponse, SSEFraming
from ._summaries import agent_summary
from ._suspended_runs import list_suspended_runs

__all__ = ("agent_routes", "start_agent_run")


def _no_agent(agent_id: str) -> Response:
    return error_response(404, f"agent {agent_id!r} not found")


def start_agent_run(state: ServerState, agent: Agent, body: AgentStreamBody) -> AgentOutput:
    """Start a run of ``agent`` for a request body and hold it in the registry.

    Raises:
        BodyError: the messages cannot be sent to the agent, or the run id is taken.
    """
    if body.run_id is not None and state.runs.is_running(body.run_id):
        raise BodyError(409, f"run {body.run_id!r} is still running")
    context: dict[str, Any] = {**(body.runtime_context or {}), **(body.request_context or {})}
    memory: MemoryOptions | None = None
    if body.memory is not None and body.memory.thread is not None:
        thread = body.memory.thread
        thread_id = thread.get("id") if isinstance(thread, dict) else thread
        if not isinstance(thread_id, str):
            raise BodyError(400, "invalid request body: memory.thread needs an id")
        memory = {"thread": thread_id}
        if body.memory.resource is not None:
            memory["resource"] = body.memory.resource
    try:
        out = agent.stream(
            agent_input(body.messages),
            max_steps=body.max_steps,
            runtime_context=context,
            run_id=body.run_id,
            memory=memory,
        )
    except ConfigurationError as exc:
        raise BodyError(400, f"invalid request body: {exc}") from None
    state.runs.add(agent.id, out)
    return out


async def _stored_events(state: ServerState, run_id: str, offset: int) -> list[Any] | None:
    """The stored chunks of a finished run from ``offset``, or None when nothing is stored."""
    if not state.app.records_runs:
        return None
    store = state.app.storage
    if await store.get_run(run_id) is None:
        return None
    return await store.read_events(run_id, offset)


def agent_routes(state: ServerState) -> list[Route]:
    """The ``/api/agents`` routes bound to ``state``."""
    limit = state.settings.max_body_bytes

    async def list_agents(request: Request) -> Response:
        return json_response({aid: agent_summary(a) for aid, a in state.app.agents.items()})

    async def get_agent(request: Request) -> Response:
        agent_id = request.path_params["agent_id"]
        agent = state.agent(agent_id)
        if agent is None:
            return _no_agent(agent_id)
        return json_response(agent_summary(agent))

    async def started(request: Request) -> AgentOutput | Response:
        """The run a ``stream`` / ``generate`` request starts, or the error to answer."""
        agent_id = request.path_params["agent_id"]
        agent = state.agent(agent_id)
        if agent is None:
            return _no_agent(agent_id)
        try:
            body = await read_body(request, AgentStreamBody, limit=limit)
            return start_agent_run(state, agent, body)
        except BodyError as exc:
            return error_response(exc.status, exc.message, issues=exc.issues)

    async def stream(request: Request) -> Response | ChunkStreamResponse:
        out = await started(request)
        if isinstance(out, Response):
            return out
        return ChunkStreamResponse(
            out, SSEFraming(), heartbeat_interval=state.settings.heartbeat_interval
        )

    async def generate(request: Request) -> Response:
        out = await started(request)
        if isinstance(out, Response):
            return out
        await out.wait()
        error = await out.error
        if error is not None:
            return error_response(500, str(error) or type(error).__name__, runId=out.run_id)
        result = await out.result()
        return json_response(
            {
                "runId": result.run_id,
                "text": result.text,
                "reasoningText": result.reasoning_text,
                "usage": result.usage,
                "totalUsage": result.total_usage,
                "finishReason": result.finish_reason,
                "toolCalls": result.tool_calls,
                "toolResults": result.tool_results,
                "response": result.response,
                "status": result.status,
            }
        )

    async def observe(request: Request) -> Response | ChunkStreamResponse:
        agent_id = request.path_params["agent_id"]
        if state.agent(agent_id) is None:
            return _no_agent(agent_id)
        try:
            body = await read_body(request, AgentObserveBody, limit=limit)
        except BodyError as exc:
            return error_response(exc.status, exc.message, issues=exc.issues)
        out = state.runs.get(agent_id, body.run_id)
        if out is None:
            # Not held here (another process, or a restart): replay its stored event log.
            stored = await _stored_events(state, body.run_id, body.offset)
            if stored is None:
                return error_response(404, f"run {body.run_id!r} of agent {agent_id!r} not found")
            framing = SSEFraming()
            return Response(
                sse_events(stored) + framing.end(),
                headers={k.decode(): v.decode() for k, v in framing.headers},
            )
        return ChunkStreamResponse(
            out,
            SSEFraming(),
            offset=body.offset,
            heartbeat_interval=state.settings.heartbeat_interval,
        )

    async def continued(
        request: Request, action: Literal["approve", "decline", "resume"]
    ) -> Response | ChunkStreamResponse:
        """Approve, decline or resume a suspended run: a new stream with the same run id."""
        agent_id = request.path_params["agent_id"]
        agent = state.agent(agent_id)
        if agent is None:
            return _no_agent(agent_id)
        try:
            body: AgentResumeBody | ToolDecisionBody
            if action == "resume":
                body = await read_body(request, AgentResumeBody, limit=limit)
                resume_data, reason = body.resume_data, None
            else:
                body = await read_body(request, ToolDecisionBody, limit=limit)
                resume_data, reason = None, body.reason
            # The run is read (from storage, when this process does not hold it) and claimed
            # before we answer: an unknown run, a wrong decision, or a run another process
            # claimed first is a 409 here, never a 200 whose stream fails.
            out = await agent.continue_suspended(
                body.run_id,
                action,
                tool_call_id=body.tool_call_id,
                reason=reason,
                resume_data=resume_data,
            )
        except BodyError as exc:
            return error_response(exc.status, exc.message, issues=exc.issues)
        except RunNotSuspendedError as exc:
            return error_response(409, str(exc))
        except RunNotContinuableError as exc:
            # The request is fine and the run waits; this process cannot load it (its
            # deployment lacks the output class, or reads another format): a server fault.
            return error_response(500, str(exc), runId=exc.run_id)
        except (ConfigurationError, InvalidIdError) as exc:
            return error_response(400, f"invalid request body: {exc}")
        state.runs.add(agent.id, out)
        return ChunkStreamResponse(
            out, SSEFraming(), heartbeat_interval=state.settings.heartbeat_interval
        )

    async def approve(request: Request) -> Response | ChunkStreamResponse:
        return await continued(request, "approve")

    async def decline(request: Request) -> Response | ChunkStreamResponse:
        return await continued(request, "decline")

    async def resume_stream(request: Request) -> Response | ChunkStreamResponse:
        return await continued(request, "resume")

    async def suspended_runs(request: Request) -> Response:
        return await list_suspended_runs(state, request)

    async def cancel(request: Request) -> Response:
        agent_id = request.path_params["agent_id"]
        run_id = request.path_params["run_id"]
        agent = state.agent(agent_id)
        if agent is None:
            return _no_agent(agent_id)
        out = state.runs.get(agent_id, run_id)
        if out is not None and out.cancel():
            await out.wait()
            return json_response(
                {"message": "run canceled", "canceled": True, "status": await out.status}
            )
        # No stream running here: a run waiting for approval or resume data is dropped, here
        # and in storage, so no process can continue it.
        try:
            dropped = await agent.cancel_suspended(run_id)
        except InvalidIdError:
            dropped = False  # no run could have this id
        if dropped:
            return json_response(
                {"message": "run canceled", "canceled": True, "status": "canceled"}
            )
        if out is None:
            return error_response(404, f"run {run_id!r} of agent {agent_id!r} not found")
        return json_response(
            {"message": "run had ended", "canceled": False, "status": await out.status}
        )

    return [
        Route("/api/agents", list_agents, methods=["GET"]),
        Route("/api/agents/{agent_id}", get_agent, methods=["GET"]),
        Route("/api/agents/{agent_id}/stream", stream, methods=["POST"]),
        Route("/api/agents/{agent_id}/generate", generate, methods=["POST"]),
        Route("/api/agents/{agent_id}/observe", observe, methods=["POST"]),
        Route("/api/agents/{agent_id}/runs/{run_id}/cancel", cancel, methods=["POST"]),
        Route("/api/agents/{agent_id}/approve-tool-call", approve, methods=["POST"]),
        Route("/api/agents/{agent_id}/decline-tool-call", decline, methods=["POST"]),
        Route("/api/agents/{agent_id}/resume-stream", resume_stream, methods=["POST"]),
        Route("/api/agents/{agent_id}/suspended-runs", suspended_runs, methods=["GET"]),
    ]
