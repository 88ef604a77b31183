"""``Streamwise``: the app registry that ``ctx.app`` points at."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from .agent import Agent
from .errors import ConfigurationError
from .storage import Store, StoreMemory

__all__ = ("Streamwise",)


class Streamwise:
    """The app: every agent and workflow by id.

    Registering an agent makes ``ctx.app`` work in its tools (and in the tools of the agents
    it calls), so a tool can find another agent or a workflow by id.

    Args:
        agents: the app's agents (ids must be unique).
        workflows: the app's workflows (objects with an ``id``).
        storage: a database URL or a :class:`~streamwise.storage.Store`. Default: the SQLite
            file ``./.streamwise/streamwise.db`` (or ``$STREAMWISE_DATABASE_URL``), opened on
            first use by agent runs given ``memory=``. When storage is given explicitly,
            every run of the app's agents is also recorded (status and event log), and
            workflows without a store of their own keep their snapshots there, so a suspended
            run resumes after a restart (without it, snapshots stay in this process); so do
            agent runs that wait for tool-call approval or resume data, which any process on
            the same storage can then approve, decline or resume.
    """

    def __init__(
        self,
        *,
        agents: Sequence[Agent] = (),
        workflows: Sequence[Any] = (),
        storage: str | Store | None = None,
    ) -> None:
        if storage is not None and not isinstance(storage, str | Store):
            raise ConfigurationError(
                f"Streamwise(storage=...) takes a database URL or a Store, got {storage!r}"
            )
        # A URL is parsed now (a bad scheme fails here); the database opens on first use.
        self._store = storage if isinstance(storage, Store) else Store(storage)
        self._owns_store = not isinstance(storage, Store)
        self._storage_given = storage is not None
        self.memory = StoreMemory(self._store, record_runs=storage is not None)
        """The agents' memory (``agent.memory``), over :attr:`storage`."""
        self._agents: dict[str, Agent] = {}
        self._workflows: dict[str, Any] = {}
        for agent in agents:
            self.add_agent(agent)
        for workflow in workflows:
            self.add_workflow(workflow)

    def add_agent(self, agent: Agent) -> None:
        """Register an agent (and, for ``ctx.app``, the agents it calls)."""
        if not isinstance(agent, Agent):
            raise ConfigurationError(f"Streamwise(agents=...) takes Agent objects, got {agent!r}")
        if agent.id in self._agents and self._agents[agent.id] is not agent:
            raise ConfigurationError(f"two agents have the id {agent.id!r}")
        self._agents[agent.id] = agent
        self._attach(agent)

    def _attach(self, agent: Agent) -> None:
        agent.app = self
        if agent.memory is None:
            agent.memory = self.memory
        if self._storage_given and agent.suspensions is None:
            # Runs waiting for approval or resume data are stored too: any process on this
            # storage can continue them.
            agent.suspensions = self._store
        for sub in agent.agents.values():
            if sub.app is None:
                self._attach(sub)

    def add_workflow(self, workflow: Any) -> None:
        """Register a workflow (anything with an ``id``)."""
        wid = getattr(workflow, "id", None)
        if not isinstance(wid, str) or not wid:
            raise ConfigurationError(f"a workflow needs a string id, got {workflow!r}")
        if wid in self._workflows and self._workflows[wid] is not workflow:
            raise ConfigurationError(f"two workflows have the id {wid!r}")
        self._workflows[wid] = workflow
        if hasattr(workflow, "app"):
            workflow.app = self
        if self._storage_given and getattr(workflow, "store_is_default", False):
            # Snapshots go to the app's storage, so a suspended run survives a restart.
            workflow.store = self._store
            workflow.store_is_default = False

    def asgi(self, settings: Any = None) -> Any:
        """The ASGI app serving this app over HTTP: ``streamwise.server.create_asgi_app(self)``.

        ``settings`` is a ``streamwise.server.ServerSettings`` (default: from the environment).
        The server is the top layer and this module does not import it: it is looked up by
        name here, the way providers are, so that ``app.asgi()`` works under any ASGI server
        (``uvicorn myproject.app:asgi_app``) without an import cycle.
        """
        server = importlib.import_module("streamwise.server")
        return server.create_asgi_app(self, settings)

    @property
    def records_runs(self) -> bool:
        """True when storage was given: every agent run is recorded with its event log."""
        return self._storage_given

    @property
    def storage(self) -> Store:
        """The app's store (threads, messages, runs, snapshots, event logs)."""
        return self._store

    async def close(self) -> None:
        """Close the app's store if the app opened it (a Store passed in stays yours)."""
        if self._owns_store:
            await self._store.close()

    async def __aenter__(self) -> Streamwise:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def agents(self) -> dict[str, Agent]:
        """The registered agents by id (a copy)."""
        return dict(self._agents)

    @property
    def workflows(self) -> dict[str, Any]:
        """The registered workflows by id (a copy)."""
        return dict(self._workflows)

    def get_agent(self, id: str) -> Agent:
        """The agent with this id.

        Raises:
            KeyError: no such agent (the message lists the known ids).
        """
        try:
            return self._agents[id]
        except KeyError:
            raise KeyError(
                f"no agent {id!r} in this app; agents: {', '.join(sorted(self._agents)) or '(none)'}"
            ) from None

    def get_workflow(self, id: str) -> Any:
        """The workflow with this id.

        Raises:
            KeyError: no such workflow (the message lists the known ids).
        """
        try:
            return self._workflows[id]
        except KeyError:
            raise KeyError(
                f"no workflow {id!r} in this app; workflows: "
                f"{', '.join(sorted(self._workflows)) or '(none)'}"
            ) from None
