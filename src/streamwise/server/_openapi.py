"""The OpenAPI document served at ``/openapi.json``: every route, its body and its framing."""

from __future__ import annotations

import re
from typing import Any

import pydantic

from ._bodies import (
    AgentObserveBody,
    AgentResumeBody,
    AgentStreamBody,
    ChatBody,
    ToolDecisionBody,
    WorkflowResumeBody,
    WorkflowRouteBody,
    WorkflowStreamBody,
)

__all__ = ("openapi_document",)

_SSE = {"text/event-stream": {"schema": {"type": "string"}}}
_RECORDS = {"text/plain": {"schema": {"type": "string", "description": 'JSON + "\\x1E" records'}}}
_JSON = {"application/json": {"schema": {"type": "object"}}}

# (method, path, summary, body, response content)
_ROUTES: tuple[tuple[str, str, str, type[pydantic.BaseModel] | None, dict[str, Any]], ...] = (
    ("get", "/api/agents", "List agents", None, _JSON),
    ("get", "/api/agents/{agentId}", "Describe an agent", None, _JSON),
    ("post", "/api/agents/{agentId}/stream", "Stream a run (SSE)", AgentStreamBody, _SSE),
    ("post", "/api/agents/{agentId}/generate", "Run to the end", AgentStreamBody, _JSON),
    ("post", "/api/agents/{agentId}/observe", "Replay a run from an offset, then follow it (SSE)",
     AgentObserveBody, _SSE),
    ("post", "/api/agents/{agentId}/runs/{runId}/cancel", "Cancel a run", None, _JSON),
    ("post", "/api/agents/{agentId}/approve-tool-call", "Approve a waiting tool call (SSE)",
     ToolDecisionBody, _SSE),
    ("post", "/api/agents/{agentId}/decline-tool-call", "Decline a waiting tool call (SSE)",
     ToolDecisionBody, _SSE),
    ("post", "/api/agents/{agentId}/resume-stream", "Resume a suspended tool call (SSE)",
     AgentResumeBody, _SSE),
    ("get", "/api/agents/{agentId}/suspended-runs",
     "Runs waiting for approval or resume data (?threadId=&resourceId=&fromDate=&toDate="
     "&perPage=&page=)", None, _JSON),
    ("get", "/api/workflows", "List workflows", None, _JSON),
    ("get", "/api/workflows/{workflowId}", "Describe a workflow", None, _JSON),
    ("post", "/api/workflows/{workflowId}/create-run", "Create a run (?runId= optional)", None,
     _JSON),
    ("post", "/api/workflows/{workflowId}/stream", "Stream a run (?runId=)", WorkflowStreamBody,
     _RECORDS),
    ("post", "/api/workflows/{workflowId}/resume-stream", "Resume a suspended run (?runId=)",
     WorkflowResumeBody, _RECORDS),
    ("post", "/api/workflows/{workflowId}/observe", "Replay a run (?runId=&offset=), then follow",
     None, _RECORDS),
    ("get", "/api/workflows/{workflowId}/runs", "List runs", None, _JSON),
    ("get", "/api/workflows/{workflowId}/runs/{runId}", "Describe a run", None, _JSON),
    ("post", "/api/workflows/{workflowId}/runs/{runId}/cancel", "Cancel a run", None, _JSON),
    ("post", "/api/workflows/{workflowId}/restart", "Restart an interrupted run (?runId=)", None,
     _JSON),
    ("post", "/api/workflows/{workflowId}/restart-async",
     "Restart an interrupted run (?runId=) and wait for its result", None, _JSON),
    ("post", "/chat/{agentId}", "AI SDK UI message stream of an agent run", ChatBody, _SSE),
    ("post", "/workflow/{workflowId}", "AI SDK UI message stream of a workflow run",
     WorkflowRouteBody, _SSE),
)  # fmt: skip


def openapi_document(*, title: str = "streamwise", version: str = "0.1.0") -> dict[str, Any]:
    """The OpenAPI 3.1 document of the server's routes."""
    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, body, content in _ROUTES:
        op: dict[str, Any] = {
            "summary": summary,
            "responses": {
                "200": {"description": "OK", "content": content},
                "400": {"description": "Invalid body (the message names the field)"},
                "404": {"description": "Unknown agent, workflow or run"},
                "413": {"description": "Body too large"},
            },
        }
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", path)
        ]
        if params:
            op["parameters"] = params
        if body is not None:
            schema = body.model_json_schema(by_alias=True)
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": schema}},
            }
        paths.setdefault(path, {})[method] = op
    return {"openapi": "3.1.0", "info": {"title": title, "version": version}, "paths": paths}
