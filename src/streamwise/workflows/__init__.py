"""Workflows: steps, the graph, runs that stream, suspend/resume and snapshots (PROTOCOL.md §6)."""

from ._graph import MapFn as MapFn
from ._legacy import LegacyWorkflowStream as LegacyWorkflowStream
from ._output import WorkflowOutput as WorkflowOutput
from ._output import WorkflowResult as WorkflowResult
from ._run import WorkflowRun as WorkflowRun
from ._snapshots import InMemorySnapshotStore as InMemorySnapshotStore
from ._snapshots import JsonFileSnapshotStore as JsonFileSnapshotStore
from ._snapshots import WorkflowSnapshotStore as WorkflowSnapshotStore
from ._step import Condition as Condition
from ._step import FlowContext as FlowContext
from ._step import Step as Step
from ._step import StepContext as StepContext
from ._step import StepExecute as StepExecute
from ._step import create_step as create_step
from ._workflow import Workflow as Workflow
from ._workflow import create_workflow as create_workflow

__all__ = (
    "Condition",
    "FlowContext",
    "InMemorySnapshotStore",
    "JsonFileSnapshotStore",
    "LegacyWorkflowStream",
    "MapFn",
    "Step",
    "StepContext",
    "StepExecute",
    "Workflow",
    "WorkflowOutput",
    "WorkflowResult",
    "WorkflowRun",
    "WorkflowSnapshotStore",
    "create_step",
    "create_workflow",
)
