"""``WorkflowRun``: one run of a workflow, streamed, resumed, cancelled (PROTOCOL.md §6)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import WorkflowRunBusyError
from ..stream import Chunk
from ._engine import Execution, ResumeRequest
from ._legacy import LegacyWorkflowStream
from ._output import WorkflowOutput, WorkflowResult
from ._step import Step

if TYPE_CHECKING:
    from ._workflow import Workflow

__all__ = ("WorkflowRun",)


class WorkflowRun:
    """One run of a workflow. Get one with ``await workflow.create_run()``.

    Each ``stream()`` / ``resume_stream()`` starts a new output object (the run's chunks for
    that stream) in its own owner task, named ``run:<runId>``.
    """

    def __init__(self, workflow: Workflow, run_id: str) -> None:
        self.workflow = workflow
        self.run_id = run_id
        self.output: WorkflowOutput | None = None

    def __repr__(self) -> str:
        return f"WorkflowRun(workflow={self.workflow.id!r}, run_id={self.run_id!r})"

    def _claim(self, on_chunk: Callable[[Chunk], Any] | None) -> WorkflowOutput:
        active = self.workflow._active
        existing = active.get(self.run_id)
        if existing is not None and not existing.done:
            raise WorkflowRunBusyError(
                f"run {self.run_id!r} of workflow {self.workflow.id!r} is already streaming; "
                "wait for it to end (or observe it) before starting or resuming it again",
                run_id=self.run_id,
            )
        return WorkflowOutput(workflow_id=self.workflow.id, run_id=self.run_id, on_chunk=on_chunk)

    def _launch(self, out: WorkflowOutput, producer: Any) -> WorkflowOutput:
        active = self.workflow._active
        active[self.run_id] = out
        out._launch(producer)
        assert out._task is not None

        def forget(_task: Any) -> None:
            # Only running streams are kept here: holding ended ones (and their chunks) would
            # promote them to the collector's oldest generation and slow every later run. An
            # ended run's chunks are for the run's event log (the storage/server layer).
            if active.get(self.run_id) is out:
                del active[self.run_id]

        out._task.add_done_callback(forget)
        self.output = out
        return out

    def _execution(
        self, out: WorkflowOutput, runtime_context: Mapping[str, Any] | None
    ) -> Execution:
        wf = self.workflow
        return Execution(
            out, wf, wf.store, runtime_context=dict(runtime_context or {}), registry=wf.app
        )

    def stream(
        self,
        input_data: Any = None,
        *,
        runtime_context: Mapping[str, Any] | None = None,
        on_chunk: Callable[[Chunk], Any] | None = None,
    ) -> WorkflowOutput:
        """Start the run now and return its output object (chunks, ``status``, ``result``…).

        Args:
            input_data: the workflow's input (validated against its ``input_schema``).
            runtime_context: values for ``ctx.runtime_context`` in steps.
            on_chunk: called with every chunk as it is written.

        Raises:
            WorkflowRunBusyError: this run is streaming already.
        """
        out = self._claim(on_chunk)
        return self._launch(out, self._execution(out, runtime_context).start(input_data))

    async def start(
        self, input_data: Any = None, *, runtime_context: Mapping[str, Any] | None = None
    ) -> WorkflowResult:
        """Run to the end (or to a suspension) without reading the stream."""
        return await self.stream(input_data, runtime_context=runtime_context).outcome()

    def resume_stream(
        self,
        *,
        step: Step | Workflow | str | Sequence[str] | None = None,
        resume_data: Any = None,
        runtime_context: Mapping[str, Any] | None = None,
        on_chunk: Callable[[Chunk], Any] | None = None,
    ) -> WorkflowOutput:
        """Continue a suspended run in a new stream (it starts with ``workflow-start``).

        Args:
            step: the suspended step (a step, its id, ``"child.step"`` or ``["child", "step"]``
                inside a nested workflow); None when only one step is suspended.
            resume_data: what the step gets as ``ctx.resume_data``.
            runtime_context: values for ``ctx.runtime_context`` in steps.
            on_chunk: called with every chunk as it is written.

        A run that is not suspended, or that another stream (in any process) resumed first,
        ends at once with ``workflow-finish{workflowStatus:'failed'}``; ``await out.result``
        raises the reason (:class:`~streamwise.errors.WorkflowRunBusyError` for the latter).

        Raises:
            WorkflowRunBusyError: this run is streaming in this process already.
        """
        out = self._claim(on_chunk)
        request = ResumeRequest(_step_id(step), resume_data)
        return self._launch(out, self._execution(out, runtime_context).resume(request))

    async def resume(
        self,
        *,
        step: Step | Workflow | str | Sequence[str] | None = None,
        resume_data: Any = None,
        runtime_context: Mapping[str, Any] | None = None,
    ) -> WorkflowResult:
        """Continue a suspended run without reading the stream."""
        out = self.resume_stream(
            step=step, resume_data=resume_data, runtime_context=runtime_context
        )
        return await out.outcome()

    def restart_stream(
        self,
        *,
        runtime_context: Mapping[str, Any] | None = None,
        on_chunk: Callable[[Chunk], Any] | None = None,
    ) -> WorkflowOutput:
        """Run an ``interrupted`` run again (its process died mid-run), in a new stream.

        Steps that succeeded are replayed from the snapshot; steps that were running when the
        process died run again from the start, so they should be safe to repeat. A run that
        is not interrupted ends at once with ``workflow-finish{workflowStatus:'failed'}``.
        """
        out = self._claim(on_chunk)
        request = ResumeRequest(None, None, restart=True)
        return self._launch(out, self._execution(out, runtime_context).resume(request))

    async def restart(self, *, runtime_context: Mapping[str, Any] | None = None) -> WorkflowResult:
        """Run an interrupted run again without reading the stream."""
        return await self.restart_stream(runtime_context=runtime_context).outcome()

    def stream_legacy(
        self, input_data: Any = None, *, runtime_context: Mapping[str, Any] | None = None
    ) -> LegacyWorkflowStream:
        """Like :meth:`stream`, with Mastra's legacy event names (``start``, ``step-start``…)."""
        return LegacyWorkflowStream(self.stream(input_data, runtime_context=runtime_context))

    def cancel(self) -> bool:
        """Cancel the running stream: running steps and nested runs are cancelled, then
        ``workflow-canceled`` and ``workflow-finish{workflowStatus:'canceled'}`` end it.

        Returns False when no stream of this run is running here.
        """
        out = self.workflow._active.get(self.run_id) or self.output
        return out.cancel() if out is not None else False

    async def cancel_suspended(self) -> bool:
        """Cancel a run that is suspended (no stream running): its stored status becomes
        ``canceled``, so it can no longer be resumed, here or in another process.

        Returns False when the run is not suspended (running, ended, or unknown).
        """
        return await self.workflow.store.compare_and_set_status(
            self.workflow.id, self.run_id, "suspended", "canceled"
        )


def _step_id(step: Any) -> str | None:
    if step is None:
        return None
    if isinstance(step, str):
        return step
    step_id = getattr(step, "id", None)
    if isinstance(step_id, str):
        return step_id
    return ".".join(str(s) for s in step)
