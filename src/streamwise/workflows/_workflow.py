"""``create_workflow(...)``: the builder (``then``, ``parallel``, ``branch``…) and its runs."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Self

import pydantic

from ..errors import ConfigurationError
from ..tools import AppRegistry
from ._graph import (
    BranchNode,
    ForeachNode,
    LoopNode,
    MapFn,
    MapNode,
    Node,
    ParallelNode,
    SleepNode,
    StepNode,
    graph_entry,
)
from ._output import WorkflowOutput
from ._run import WorkflowRun
from ._snapshots import InMemorySnapshotStore, WorkflowSnapshotStore
from ._step import Condition, FlowContext, Step

__all__ = ("Workflow", "create_workflow")


class Workflow:
    """A workflow: a graph of steps, built with ``then``/``parallel``/… and ``commit()``.

    Build one with :func:`create_workflow`. A committed workflow can be used as a step of
    another (its steps stream with ids ``<workflowId>.<stepId>``).

    Attributes:
        store: where runs keep their snapshots (an in-memory store unless set; the app sets
            its storage here).
        app: the ``Streamwise`` app (set when the workflow is registered), ``ctx.app`` in steps.
    """

    def __init__(
        self,
        id: str,
        input_schema: type[pydantic.BaseModel] | None,
        output_schema: type[pydantic.BaseModel] | None,
        *,
        store: WorkflowSnapshotStore | None = None,
        description: str = "",
    ) -> None:
        self.id = id
        self.input_schema = input_schema
        self.output_schema = output_schema
        self.description = description
        self.store: WorkflowSnapshotStore = store if store is not None else InMemorySnapshotStore()
        #: True while ``store`` is the in-memory default, which an app replaces with its storage.
        self.store_is_default = store is None
        self.app: AppRegistry | None = None
        self._nodes: list[Node] = []
        self._ids: dict[str, Step | Workflow | None] = {}  # None: a sleep or map node
        self._committed = False
        # The running stream of each run (for observe and cancel, and to refuse a second
        # stream of a running run); removed when the stream's task ends.
        self._active: dict[str, WorkflowOutput] = {}

    def __repr__(self) -> str:
        return f"Workflow(id={self.id!r}, steps={list(self.steps)})"

    # -- building ----------------------------------------------------------------------------

    @property
    def nodes(self) -> tuple[Node, ...]:
        """The graph, in order."""
        return tuple(self._nodes)

    @property
    def committed(self) -> bool:
        """True once :meth:`commit` was called."""
        return self._committed

    @property
    def steps(self) -> dict[str, Step | Workflow]:
        """Every step (and nested workflow) of the graph by id."""
        return {k: v for k, v in self._ids.items() if v is not None}

    def step_graph(self) -> list[dict[str, Any]]:
        """The graph as Mastra's ``stepGraph`` shows it (``GET /api/workflows/:id``)."""
        return [graph_entry(node) for node in self._nodes]

    def _check_open(self, what: str) -> None:
        if self._committed:
            raise ConfigurationError(
                f"workflow {self.id!r} is committed: call .{what}() before .commit()"
            )

    def _add_unit(self, unit: Step | Workflow, what: str) -> Step | Workflow:
        if isinstance(unit, Workflow):
            if not unit._committed:
                raise ConfigurationError(
                    f"workflow {unit.id!r} is used as a step of {self.id!r} before it is "
                    "committed: call .commit() on it first"
                )
            if unit is self:
                raise ConfigurationError(f"workflow {self.id!r} cannot be a step of itself")
        elif not isinstance(unit, Step):
            raise ConfigurationError(
                f".{what}() of workflow {self.id!r} takes steps made with create_step() or "
                f"committed workflows, got {unit!r}"
            )
        self._claim(unit.id, unit)
        return unit

    def _claim(self, id: str, unit: Step | Workflow | None) -> None:
        if id in self._ids:
            raise ConfigurationError(
                f"workflow {self.id!r} has two steps with the id {id!r}; step ids must be "
                "unique in a workflow (they key the snapshot and the stream)"
            )
        self._ids[id] = unit

    def _auto_id(self, kind: str) -> str:
        # Deterministic (not a UUID): a run resumed in another process must find the same ids.
        n = sum(1 for i in self._ids if i.startswith(kind + "-")) + 1
        return f"{kind}-{n}"

    def then(self, step: Step | Workflow) -> Self:
        """Run ``step`` on the previous output."""
        self._check_open("then")
        self._nodes.append(StepNode(self._add_unit(step, "then")))
        return self

    def parallel(self, steps: Sequence[Step | Workflow]) -> Self:
        """Run every step at once on the previous output; the next input is ``{id: output}``."""
        self._check_open("parallel")
        if not steps:
            raise ConfigurationError(f".parallel() of workflow {self.id!r} needs steps")
        self._nodes.append(ParallelNode(tuple(self._add_unit(s, "parallel") for s in steps)))
        return self

    def branch(self, branches: Sequence[tuple[Condition, Step | Workflow]]) -> Self:
        """Run every step whose condition is true (at once); the next input is ``{id: output}``."""
        self._check_open("branch")
        checked: list[tuple[Condition, Step | Workflow]] = []
        for pair in branches:
            if not (isinstance(pair, tuple) and len(pair) == 2 and callable(pair[0])):
                raise ConfigurationError(
                    f".branch() of workflow {self.id!r} takes (condition, step) pairs, got {pair!r}"
                )
            checked.append((pair[0], self._add_unit(pair[1], "branch")))
        if not checked:
            raise ConfigurationError(f".branch() of workflow {self.id!r} needs branches")
        self._nodes.append(BranchNode(tuple(checked)))
        return self

    def dowhile(self, step: Step | Workflow, condition: Condition) -> Self:
        """Run ``step``, then again on its own output while ``condition`` is true."""
        return self._loop(step, condition, until=False, what="dowhile")

    def dountil(self, step: Step | Workflow, condition: Condition) -> Self:
        """Run ``step``, then again on its own output until ``condition`` is true."""
        return self._loop(step, condition, until=True, what="dountil")

    def _loop(self, step: Step | Workflow, condition: Condition, *, until: bool, what: str) -> Self:
        self._check_open(what)
        if not callable(condition):
            raise ConfigurationError(f".{what}() of workflow {self.id!r} needs a condition")
        self._nodes.append(LoopNode(self._add_unit(step, what), condition, until))
        return self

    def foreach(self, step: Step | Workflow, *, concurrency: int = 1) -> Self:
        """Run ``step`` once per item of the previous output (a list); the output is the list."""
        self._check_open("foreach")
        if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
            raise ConfigurationError(
                f"concurrency of .foreach() in workflow {self.id!r} must be an int ≥ 1"
            )
        self._nodes.append(ForeachNode(self._add_unit(step, "foreach"), concurrency))
        return self

    def sleep(self, seconds: float | Callable[[FlowContext], float | Awaitable[float]]) -> Self:
        """Wait ``seconds`` (or ``seconds(ctx)``), then pass the value on (``workflow-step-waiting``)."""
        self._check_open("sleep")
        node_id = self._auto_id("sleep")
        self._claim(node_id, None)
        self._nodes.append(SleepNode(node_id, seconds=seconds))
        return self

    def sleep_until(
        self, when: datetime | Callable[[FlowContext], datetime | Awaitable[datetime]]
    ) -> Self:
        """Wait until ``when`` (or ``when(ctx)``), then pass the value on."""
        self._check_open("sleep_until")
        node_id = self._auto_id("sleep")
        self._claim(node_id, None)
        self._nodes.append(SleepNode(node_id, until=when))
        return self

    def map(self, fn: MapFn, *, id: str | None = None) -> Self:
        """The next value is ``fn(ctx)`` (sync or async); ``ctx.input_data`` is the previous."""
        self._check_open("map")
        if not callable(fn):
            raise ConfigurationError(f".map() of workflow {self.id!r} needs a function")
        node_id = id or self._auto_id("map")
        self._claim(node_id, None)
        self._nodes.append(MapNode(node_id, fn))
        return self

    def commit(self) -> Self:
        """End the building: the workflow can now run, or be a step of another."""
        if not self._nodes:
            raise ConfigurationError(f"workflow {self.id!r} has no steps: add some before commit()")
        self._committed = True
        return self

    # -- runs --------------------------------------------------------------------------------

    async def create_run(self, run_id: str | None = None) -> WorkflowRun:
        """A run of this workflow (a new id unless given; an existing id picks up its snapshot).

        Raises:
            ConfigurationError: the workflow is not committed.
        """
        if not self._committed:
            raise ConfigurationError(
                f"workflow {self.id!r} is not committed: call .commit() before create_run()"
            )
        run = WorkflowRun(self, run_id or str(uuid.uuid4()))
        run.output = self._active.get(run.run_id)  # a stream running here: observe it
        return run

    async def get_run(self, run_id: str) -> WorkflowRun | None:
        """The run with this id if it is running here or has a stored snapshot, else None."""
        live = self._active.get(run_id)
        if (live is not None and not live.done) or await self.store.load_snapshot(
            self.id, run_id
        ) is not None:
            return await self.create_run(run_id)
        return None

    async def list_runs(self, *, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """The stored runs, newest first: ``{workflowId, runId, status, snapshot, createdAt,
        updatedAt}``."""
        return await self.store.list_snapshots(self.id, limit=limit, offset=offset)


def create_workflow(
    id: str,
    input_schema: type[pydantic.BaseModel] | None = None,
    output_schema: type[pydantic.BaseModel] | None = None,
    *,
    store: WorkflowSnapshotStore | None = None,
    description: str = "",
) -> Workflow:
    """Start building a workflow.

    Args:
        id: the workflow's id (no ``.``).
        input_schema: pydantic model of the input given to ``run.stream(input_data)``.
        output_schema: pydantic model the last step's output must fit.
        store: where snapshots go (default: in memory; the app sets its storage).
        description: what the workflow does.
    """
    if not isinstance(id, str) or not id or "." in id:
        raise ConfigurationError(f"workflow id {id!r} must be a non-empty string without '.'")
    for what, schema in (("input_schema", input_schema), ("output_schema", output_schema)):
        if schema is not None and not (
            isinstance(schema, type) and issubclass(schema, pydantic.BaseModel)
        ):
            raise ConfigurationError(f"{what} of workflow {id!r} must be a pydantic model class")
    return Workflow(id, input_schema, output_schema, store=store, description=description)
