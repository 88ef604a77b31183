"""What ``GET /api/agents`` and ``GET /api/workflows`` return (``reference-traces/*.json``).

Schemas travel as JSON *strings* ``{"json": <JSON Schema>}``, as Mastra serialises them.
Workflows are read by duck typing (``id``, ``steps``, ``step_graph``…) so the server does not
depend on the workflow engine's internals.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import pydantic

from ..agent import Agent

__all__ = ("agent_summary", "schema_string", "workflow_summary")


def schema_string(schema: Any) -> str | None:
    """``'{"json": <schema>}'`` for a JSON Schema dict or a pydantic model class."""
    if schema is None:
        return None
    if isinstance(schema, type) and issubclass(schema, pydantic.BaseModel):
        schema = schema.model_json_schema()
    if not isinstance(schema, Mapping):
        return None
    return orjson.dumps({"json": schema}).decode()


def agent_summary(agent: Agent) -> dict[str, Any]:
    """One agent as Mastra's ``GET /api/agents/:id`` describes it."""
    tools: dict[str, Any] = {}
    for name, tool in agent.tools.items():
        if name.startswith("agent-") and name[6:] in agent.agents:
            continue  # listed under "agents", as Mastra does
        entry: dict[str, Any] = {
            "id": name,
            "description": tool.description,
            "inputSchema": schema_string(tool.input_schema),
        }
        if tool.output_schema is not None:
            entry["outputSchema"] = schema_string(tool.output_schema)
        entry["requireApproval"] = False
        tools[name] = entry
    instructions = agent.instructions if isinstance(agent.instructions, str) else ""
    return {
        "id": agent.id,
        "name": agent.name,
        "description": agent.description,
        "instructions": instructions,
        "agents": {sid: {"id": sid, "name": sub.name} for sid, sub in agent.agents.items()},
        "tools": tools,
        "workflows": {},
        "skills": [],
        "workspaceTools": [],
        "browserTools": [],
        "hasBrowser": False,
        "inputProcessors": [],
        "outputProcessors": [],
        "provider": agent.model.provider,
        "modelId": agent.model.model_id,
        "modelVersion": "v2",
        "supportsMemory": False,
        "defaultOptions": {},
        "defaultGenerateOptionsLegacy": {},
        "defaultStreamOptionsLegacy": {},
        "source": "code",
        "hasDraft": False,
    }


def _attr(obj: Any, *names: str) -> Any:
    for name in names:
        value = getattr(obj, name, None)
        if value is not None:
            return value
    return None


def _step_summary(step: Any, *, all_steps: bool) -> dict[str, Any]:
    sid = str(_attr(step, "id") or "")
    entry: dict[str, Any] = {"id": sid}
    description = _attr(step, "description")
    if description:
        entry["description"] = description
    for key, names in (
        ("inputSchema", ("input_schema",)),
        ("outputSchema", ("output_schema",)),
        ("resumeSchema", ("resume_schema",)),
        ("suspendSchema", ("suspend_schema",)),
    ):
        value = schema_string(_attr(step, *names))
        if value is not None:
            entry[key] = value
    if all_steps:
        entry["isWorkflow"] = hasattr(step, "create_run")
    return entry


def _steps(workflow: Any) -> list[Any]:
    steps = _attr(workflow, "steps")
    if isinstance(steps, Mapping):
        return list(steps.values())
    if isinstance(steps, list | tuple):
        return list(steps)
    return []


def _json_ready(value: Any) -> Any:
    try:
        return orjson.loads(orjson.dumps(value))
    except TypeError:
        return []


def workflow_summary(workflow: Any) -> dict[str, Any]:
    """One workflow as Mastra's ``GET /api/workflows/:id`` describes it."""
    steps = _steps(workflow)
    graph = _attr(workflow, "step_graph", "serialized_step_graph")
    if callable(graph):
        graph = graph()
    summary: dict[str, Any] = {
        "name": str(_attr(workflow, "name", "id") or ""),
        "origin": "code",
        "steps": {s["id"]: s for s in (_step_summary(x, all_steps=False) for x in steps)},
        "allSteps": {s["id"]: s for s in (_step_summary(x, all_steps=True) for x in steps)},
        "stepGraph": _json_ready(graph) if graph is not None else [],
    }
    description = _attr(workflow, "description")
    if description:
        summary["description"] = description
    for key, names in (("inputSchema", ("input_schema",)), ("outputSchema", ("output_schema",))):
        value = schema_string(_attr(workflow, *names))
        if value is not None:
            summary[key] = value
    summary["options"] = {"validateInputs": True, "emitStepEvents": True}
    summary["isProcessorWorkflow"] = False
    return summary
