"""The nodes of a workflow's graph: one class per control-flow construct (PROTOCOL.md §6)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ._step import Condition, FlowContext, Step

if TYPE_CHECKING:
    from ._workflow import Workflow

__all__ = (
    "BranchNode",
    "ForeachNode",
    "LoopNode",
    "MapFn",
    "MapNode",
    "Node",
    "ParallelNode",
    "SleepNode",
    "StepNode",
    "graph_entry",
)

MapFn = Callable[[FlowContext], Any]
"""A sync or async function of a :class:`FlowContext` returning the next value."""


@dataclass(frozen=True, slots=True)
class StepNode:
    """``.then(step)``: one step (or a nested workflow)."""

    step: Step | Workflow


@dataclass(frozen=True, slots=True)
class ParallelNode:
    """``.parallel([a, b])``: every step at once; the next input is ``{a: outA, b: outB}``."""

    steps: tuple[Step | Workflow, ...]


@dataclass(frozen=True, slots=True)
class BranchNode:
    """``.branch([(cond, step), …])``: every step whose condition is true, at once."""

    branches: tuple[tuple[Condition, Step | Workflow], ...]


@dataclass(frozen=True, slots=True)
class LoopNode:
    """``.dowhile`` / ``.dountil``: run the step, then again while (until) the condition."""

    step: Step | Workflow
    condition: Condition
    until: bool


@dataclass(frozen=True, slots=True)
class ForeachNode:
    """``.foreach(step, concurrency=n)``: the step once per item of the input list."""

    step: Step | Workflow
    concurrency: int


@dataclass(frozen=True, slots=True)
class SleepNode:
    """``.sleep(seconds)`` / ``.sleep_until(when)``: wait, then pass the value on."""

    id: str
    seconds: float | Callable[[FlowContext], float | Awaitable[float]] | None = None
    until: datetime | Callable[[FlowContext], datetime | Awaitable[datetime]] | None = None


@dataclass(frozen=True, slots=True)
class MapNode:
    """``.map(fn)``: the next value is ``fn(ctx)``."""

    id: str
    fn: MapFn


Node = StepNode | ParallelNode | BranchNode | LoopNode | ForeachNode | SleepNode | MapNode


def _step_entry(step: Step | Workflow) -> dict[str, Any]:
    from ._workflow import Workflow

    if isinstance(step, Workflow):
        return {"id": step.id, "canSuspend": True, "isWorkflow": True}
    can_suspend = step.resume_schema is not None or step.suspend_schema is not None
    return {"id": step.id, "canSuspend": can_suspend}


def graph_entry(node: Node) -> dict[str, Any]:
    """The ``stepGraph`` entry of a node, as Mastra's ``GET /api/workflows/:id`` shows it."""
    if isinstance(node, StepNode):
        return {"type": "step", "step": _step_entry(node.step)}
    if isinstance(node, ParallelNode):
        return {
            "type": "parallel",
            "steps": [{"type": "step", "step": _step_entry(s)} for s in node.steps],
        }
    if isinstance(node, BranchNode):
        return {
            "type": "conditional",
            "steps": [{"type": "step", "step": _step_entry(s)} for _, s in node.branches],
        }
    if isinstance(node, LoopNode):
        return {"type": "loop", "step": _step_entry(node.step), "loopType": _loop_type(node)}
    if isinstance(node, ForeachNode):
        return {
            "type": "foreach",
            "step": _step_entry(node.step),
            "opts": {"concurrency": node.concurrency},
        }
    if isinstance(node, SleepNode):
        return {"type": "sleep" if node.until is None else "sleepUntil", "id": node.id}
    return {"type": "step", "step": {"id": node.id, "mapConfig": "map"}}


def _loop_type(node: LoopNode) -> str:
    return "dountil" if node.until else "dowhile"
