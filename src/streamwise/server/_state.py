"""What every route handler shares: the app, the settings and the registry of recent runs."""

from __future__ import annotations

import inspect
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from ..agent import Agent
from ..app import Streamwise
from ._runs import RunRegistry
from ._settings import ServerSettings

__all__ = ("ServerState", "maybe_await")


async def maybe_await(value: Any) -> Any:
    """``await value`` when it is awaitable (the workflow API may be sync or async)."""
    if inspect.isawaitable(value):
        return await value
    return value


@dataclass(slots=True)
class ServerState:
    """The server's shared state (one per ASGI app)."""

    app: Streamwise
    settings: ServerSettings
    runs: RunRegistry
    workflow_runs: OrderedDict[str, Any] = field(default_factory=OrderedDict)
    """Workflow run objects made by ``create-run``, by run id (bounded by ``max_runs``)."""

    def agent(self, agent_id: str) -> Agent | None:
        """The agent with this id, or None."""
        return self.app.agents.get(agent_id)

    def workflow(self, workflow_id: str) -> Any:
        """The workflow with this id, or None."""
        return self.app.workflows.get(workflow_id)

    def keep_workflow_run(self, run_id: str, run: Any) -> None:
        """Hold a workflow run object so that ``stream?runId=`` finds it (bounded)."""
        self.workflow_runs.pop(run_id, None)
        self.workflow_runs[run_id] = run
        while len(self.workflow_runs) > self.settings.max_runs:
            self.workflow_runs.popitem(last=False)

    async def find_workflow_run(self, workflow: Any, run_id: str) -> Any:
        """The run object with this id: one we hold, else the engine's ``get_run``."""
        run = self.workflow_runs.get(run_id)
        if run is not None:
            return run
        get_run = getattr(workflow, "get_run", None)
        if get_run is None:
            return None
        return await maybe_await(get_run(run_id))
