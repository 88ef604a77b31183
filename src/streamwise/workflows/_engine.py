"""The run engine: walks a workflow's graph inside the run's owner task (PROTOCOL.md §6).

Every step is executed by :meth:`Execution.run_step`, which writes the step's events with the
keys and order of the reference traces (``workflow-step-start`` → ``workflow-step-output``* →
``workflow-step-result`` | ``workflow-step-suspended``) and saves the snapshot at the step's
start and end. A step never raises into the engine: its failure, or its suspension, is an
:class:`~._outcome.Outcome`, so parallel branches finish on their own and only cancellation
unwinds. The other constructs (parallel, branch, loops, foreach, sleep, map, nested
workflows) are in ``_constructs``.

A resume loads the snapshot and walks the graph again: a step that already succeeded is
*replayed* (its stored output, no events), the suspended step being resumed runs again with
``resume_data``, and everything after it runs as usual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, cast

import pydantic

from ..errors import ConfigurationError, RunError, WorkflowRunBusyError
from ..stream import StepOutputWriter, error_info
from ..tools import AppRegistry
from ._constructs import nested
from ._constructs import run as run_construct
from ._graph import Node, StepNode
from ._outcome import Outcome, OutcomeStatus, call_id, now_ms
from ._output import WorkflowOutput
from ._snapshots import InMemorySnapshotStore, WorkflowSnapshotStore
from ._step import FlowContext, Step, StepContext, SuspendSignal, json_value, validation_message

if TYPE_CHECKING:
    from ._workflow import Workflow

__all__ = ("Execution", "ResumeRequest")


class ResumeRequest:
    """What a resume asks for: which step (id, path or None for the only one) and its data;
    or, with ``restart``, to run an interrupted run again from its snapshot."""

    __slots__ = ("data", "restart", "step")

    def __init__(self, step: str | None, data: Any, *, restart: bool = False) -> None:
        self.step = step
        self.data = data
        self.restart = restart


class Execution:
    """One stream of one run: the producer that the run's owner task awaits."""

    def __init__(
        self,
        out: WorkflowOutput,
        workflow: Workflow,
        store: WorkflowSnapshotStore,
        *,
        runtime_context: Mapping[str, Any],
        registry: AppRegistry | None,
    ) -> None:
        self.out = out
        self.emit = out.emit
        self.run_id = out.run_id
        self.workflow = workflow
        self.store = store
        self.runtime_context = runtime_context
        self.registry = registry
        self.snapshot: dict[str, Any] = {}
        self.steps: dict[str, dict[str, Any]] = {}
        self.state: dict[str, Any] = {}
        self.results: dict[str, Any] = {}
        self.replay: dict[str, dict[str, Any]] = {}
        self.target: str | None = None
        self.resume_data: Any = None
        # The model instance a JSON value was just validated into (by a step's output schema,
        # or the workflow's input schema): the next step with the same schema class takes it
        # instead of validating the same dict again. Used once, so parallel branches never
        # share an instance.
        self._model_of: Any = None
        self._model: pydantic.BaseModel | None = None
        # The default store saves synchronously: skip a coroutine per save (not for subclasses,
        # which may override save_snapshot).
        self._put = store.put if type(store) is InMemorySnapshotStore else None
        # Other stores await (a database): saves from parallel branches go one at a time, so
        # a snapshot taken earlier can never be written after a later one.
        self._save_lock: asyncio.Lock | None = None

    # -- the producers -----------------------------------------------------------------------

    async def start(self, input_data: Any) -> None:
        """Run the workflow from the start with ``input_data``."""
        wf = self.workflow
        self._workflow_start()
        value = json_value(input_data)
        self._new_snapshot(value)
        if wf.input_schema is not None:
            try:
                model = wf.input_schema.model_validate(value)
                value = model.model_dump(mode="json")
                self._remember(value, model)
            except pydantic.ValidationError as exc:
                error = RunError(
                    f"the input of workflow {wf.id!r} fails its input_schema: "
                    f"{validation_message(exc)}",
                    run_id=self.run_id,
                )
                await self._end(Outcome("failed", error=error))
                return
            self.snapshot["input"] = value
        await self._guarded(value)

    async def resume(self, request: ResumeRequest) -> None:
        """Continue a suspended run from its stored snapshot; or, for a restart, run an
        interrupted run again: its successful steps are replayed from the snapshot, the steps
        it was running when its process died run afresh."""
        wf = self.workflow
        self._workflow_start()
        loaded = await self.store.load_snapshot(wf.id, self.run_id)
        problem: BaseException | None = None
        target: str | None = None
        expected = "interrupted" if request.restart else "suspended"
        verb = "restarted" if request.restart else "resumed"
        if loaded is None:
            problem = RunError(
                f"workflow {wf.id!r} has no run {self.run_id!r} to {verb[:-1]}",
                run_id=self.run_id,
            )
        elif loaded.get("status") == "running":
            problem = self._busy()
        elif loaded.get("status") != expected:
            problem = RunError(
                f"run {self.run_id!r} of workflow {wf.id!r} is {loaded.get('status')!r}, not "
                f"{expected}: only a{'n' if request.restart else ''} {expected} run can be "
                f"{verb}",
                run_id=self.run_id,
            )
        elif not request.restart:
            try:
                target = _resolve_target(request.step, loaded.get("suspendedPaths", {}), wf.id)
            except ConfigurationError as exc:
                problem = exc
        if problem is None and not await self.store.compare_and_set_status(
            wf.id, self.run_id, expected, "running"
        ):
            problem = self._busy()
        if problem is not None or loaded is None:
            # Nothing was claimed: the stored snapshot stays as it is.
            self._finish_now("failed", problem)
            return
        snapshot = loaded
        snapshot["status"] = "running"
        snapshot.pop("result", None)
        snapshot.pop("error", None)
        self.snapshot = snapshot
        self.out._snapshot = snapshot
        self.steps = snapshot.setdefault("steps", {})
        self.state = snapshot.setdefault("state", {})
        snapshot.setdefault("suspendedPaths", {}).pop(target, None)
        self.replay = dict(self.steps)
        self.results = {
            k: e.get("output") for k, e in self.steps.items() if e["status"] == "success"
        }
        self.target = target
        self.resume_data = request.data
        await self._guarded(snapshot.get("input"), save_first=True)

    def _busy(self) -> WorkflowRunBusyError:
        return WorkflowRunBusyError(
            f"run {self.run_id!r} of workflow {self.workflow.id!r} is running in another "
            "stream (perhaps in another process); wait for it to end",
            run_id=self.run_id,
        )

    async def _guarded(self, value: Any, *, save_first: bool = False) -> None:
        """Run the graph; whatever happens, the stored snapshot says how the run stopped.

        A store that records runs (the database store) also gets the run's start and end, so
        a run whose process dies is marked ``interrupted`` by the next store that opens.
        """
        records = _RunRecorder.of(self.store)
        if records is not None:
            await records.start_run(self.run_id, kind="workflow", target_id=self.workflow.id)
        try:
            await self._run_graph(value, save_first=save_first)
        finally:
            if records is not None:
                await records.end_run(self.run_id, self.snapshot.get("status", "failed"))

    async def _run_graph(self, value: Any, *, save_first: bool) -> None:
        try:
            if save_first:
                await self.save()
            outcome = await self.run_sequence(self.workflow, value, "", ())
        except asyncio.CancelledError:
            # Keep the snapshot honest, then let the cancellation through (STYLE.md rule 9).
            self.snapshot["status"] = "canceled"
            for entry in self.steps.values():
                if entry["status"] in ("running", "waiting"):
                    entry["status"] = "canceled"
            await self.save()
            raise
        except Exception as exc:
            self.snapshot["status"] = "failed"
            self.snapshot["error"] = error_info(exc)
            await self.save()
            raise
        await self._end(outcome)

    def _workflow_start(self) -> None:
        self.emit(
            {
                "type": "workflow-start",
                "runId": self.run_id,
                "from": "WORKFLOW",
                "payload": {"workflowId": self.workflow.id},
            }
        )

    def _new_snapshot(self, value: Any) -> None:
        self.snapshot = {
            "status": "running",
            "input": value,
            "state": self.state,
            "steps": self.steps,
            "suspendedPaths": {},
        }
        self.out._snapshot = self.snapshot

    async def _end(self, outcome: Outcome) -> None:
        wf = self.workflow
        out = self.out
        if (
            outcome.status == "success"
            and wf.output_schema is not None
            and not self._validated(outcome.output, wf.output_schema)
        ):
            try:
                outcome.output = wf.output_schema.model_validate(outcome.output).model_dump(
                    mode="json"
                )
            except pydantic.ValidationError as exc:
                outcome = Outcome(
                    "failed",
                    error=RunError(
                        f"the output of workflow {wf.id!r} fails its output_schema: "
                        f"{validation_message(exc)}",
                        run_id=self.run_id,
                    ),
                )
        snapshot = self.snapshot
        snapshot["status"] = outcome.status
        if outcome.status == "success":
            snapshot["result"] = outcome.output
            out._result = outcome.output
        elif outcome.status == "failed" and outcome.error is not None:
            snapshot["error"] = error_info(outcome.error)
        await self.save()
        await out._settle_children()
        self._finish_now(outcome.status, outcome.error)

    def _finish_now(self, status: OutcomeStatus, error: BaseException | None) -> None:
        out = self.out
        if status == "failed":
            out._error = error
        usage = out._total_usage or out._sum_usage()
        out._finish(out.finish_chunk(status, usage, error=error), status)

    def _remember(self, value: Any, model: pydantic.BaseModel) -> None:
        self._model_of = value
        self._model = model

    def _take_model(
        self, value: Any, schema: type[pydantic.BaseModel]
    ) -> pydantic.BaseModel | None:
        model = self._model
        if model is not None and value is self._model_of and type(model) is schema:
            self._model = self._model_of = None
            return model
        return None

    def _validated(self, value: Any, schema: type[pydantic.BaseModel]) -> bool:
        return value is self._model_of and type(self._model) is schema

    async def save(self) -> None:
        """Store the snapshot (at every step start and end, PROTOCOL.md §9)."""
        if self._put is not None:
            self._put(self.workflow.id, self.run_id, self.snapshot)
        else:
            if self._save_lock is None:
                self._save_lock = asyncio.Lock()
            async with self._save_lock:
                await self.store.save_snapshot(self.workflow.id, self.run_id, self.snapshot)

    # -- the graph ---------------------------------------------------------------------------

    async def run_sequence(
        self, workflow: Workflow, value: Any, prefix: str, path: tuple[int, ...]
    ) -> Outcome:
        """Run a workflow's nodes in order, each on the previous one's output."""
        outcome = Outcome("success", value)
        for index, node in enumerate(workflow._nodes):
            if type(node) is StepNode and type(node.step) is Step:
                # The common case, two coroutine frames shorter.
                outcome = await self.run_step(node.step, value, prefix, (*path, index))
            else:
                outcome = await self.run_node(node, value, prefix, (*path, index))
            if outcome.status != "success":
                return outcome
            value = outcome.output
        return outcome

    async def run_node(self, node: Node, value: Any, prefix: str, path: tuple[int, ...]) -> Outcome:
        """Run one node of the graph."""
        return await run_construct(self, node, value, prefix, path)

    async def run_unit(
        self, unit: Step | Workflow, value: Any, prefix: str, path: tuple[int, ...]
    ) -> Outcome:
        """Run a step, or a nested workflow as a step."""
        if isinstance(unit, Step):
            return await self.run_step(unit, value, prefix, path)
        return await nested(self, unit, value, prefix, path)

    def flow_context(self, value: Any, prefix: str, iteration: int = 0) -> FlowContext:
        """The context of a condition or a map function on ``value``."""
        return FlowContext(
            input_data=value,
            run_id=self.run_id,
            state=self.state,
            runtime_context=self.runtime_context,
            iteration_count=iteration,
            results=lambda id_: self._lookup(prefix, id_),
        )

    def _lookup(self, prefix: str, step_id: str) -> Any:
        if prefix:
            found = self.results.get(prefix + step_id)
            if found is not None:
                return found
        return self.results.get(step_id)

    def replayed(self, sid: str) -> Outcome | dict[str, Any] | None:
        """A stored outcome to reuse (success, or a suspended step not being resumed), the
        stored entry of the step being resumed, or None to run the step afresh."""
        if not self.replay:
            return None
        prior = self.replay.pop(sid, None)
        if prior is None:
            return None
        status = prior["status"]
        if status == "success":
            return Outcome("success", prior.get("output"), replayed=True)
        if status == "suspended":
            if self.target == sid or (
                self.target is not None and self.target.startswith(sid + ".")
            ):
                return prior
            return Outcome("suspended", prior.get("suspendPayload"), replayed=True)
        return None

    # -- one step ----------------------------------------------------------------------------

    async def run_step(self, step: Step, value: Any, prefix: str, path: tuple[int, ...]) -> Outcome:
        """Run one step with its events and snapshot saves."""
        sid = prefix + step.id
        resumed = self.replayed(sid) if self.replay else None
        if isinstance(resumed, Outcome):
            return resumed
        base, entry = self.open_step(sid, value, resumed)
        await self.save()
        outcome = await self.execute(
            step,
            sid,
            base["payload"],
            prefix,
            self.resume_data if resumed is not None else None,
            resumed is not None,
        )
        self.close_step(sid, base, entry, outcome, path)
        await self.save()
        return outcome

    def open_step(
        self, sid: str, value: Any, resumed: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Record a step as running and emit its ``workflow-step-start``.

        Returns the event's payload (the base of the step's closing event) and the step's
        snapshot entry. A resumed step keeps its stored input and first ``startedAt``, and
        carries ``resumePayload`` and ``resumedAt`` (reference-traces/appr-resume.raw).
        """
        if resumed is None:
            started_at = now_ms()
            base: dict[str, Any] = {
                "stepName": sid,
                "id": sid,
                "stepCallId": call_id(),
                "payload": value,
                "startedAt": started_at,
                "status": "running",
            }
            entry: dict[str, Any] = {"status": "running", "payload": value, "startedAt": started_at}
        else:
            value = resumed.get("payload")
            started_at = resumed["startedAt"]
            base = {
                "stepName": sid,
                "id": sid,
                "stepCallId": call_id(),
                "payload": value,
                "startedAt": started_at,
                "status": "running",
                "resumePayload": self.resume_data,
                "resumedAt": now_ms(),
            }
            entry = {
                "status": "running",
                "payload": value,
                "startedAt": started_at,
                "resumePayload": self.resume_data,
            }
        self.steps[sid] = entry
        self.emit(
            {
                "type": "workflow-step-start",
                "runId": self.run_id,
                "from": "WORKFLOW",
                "payload": base,
            }
        )
        return base, entry

    def close_step(
        self,
        sid: str,
        base: dict[str, Any],
        entry: dict[str, Any],
        outcome: Outcome,
        path: tuple[int, ...],
        *,
        leaf: bool = True,
    ) -> None:
        """Record how a step ended and emit ``workflow-step-result`` or ``-suspended``."""
        ended = now_ms()
        status = outcome.status
        if status == "success":
            entry["status"] = "success"
            entry["output"] = outcome.output
            entry["endedAt"] = ended
            self.results[sid] = outcome.output
            kind = "workflow-step-result"
            payload = {**base, "status": "success", "output": outcome.output, "endedAt": ended}
        elif status == "failed":
            info = error_info(outcome.error or RunError("step failed"))
            entry["status"] = "failed"
            entry["error"] = info
            entry["endedAt"] = ended
            kind = "workflow-step-result"
            payload = {**base, "status": "failed", "error": info, "endedAt": ended}
        else:
            entry["status"] = "suspended"
            entry["suspendPayload"] = outcome.output
            entry["suspendedAt"] = ended
            if leaf:
                # Only the step that called suspend() is resumable; a nested workflow
                # around it is suspended too, but is not a resume target of its own.
                self.snapshot["suspendedPaths"][sid] = list(path)
            kind = "workflow-step-suspended"
            payload = {
                "stepName": sid,
                "id": sid,
                "stepCallId": base["stepCallId"],
                "payload": base["payload"],
                "startedAt": base["startedAt"],
                "status": "suspended",
                "suspendPayload": outcome.output,
                "suspendedAt": ended,
            }
        self.emit({"type": kind, "runId": self.run_id, "from": "WORKFLOW", "payload": payload})

    async def execute(
        self,
        step: Step,
        sid: str,
        value: Any,
        prefix: str,
        resume_data: Any,
        resuming: bool,
    ) -> Outcome:
        """Validate the input, call ``execute`` (with retries), validate the output."""
        run_id = self.run_id
        try:
            schema = step.input_schema
            data = (
                value
                if schema is None
                else self._take_model(value, schema) or schema.model_validate(value)
            )
        except pydantic.ValidationError as exc:
            return Outcome(
                "failed",
                error=RunError(
                    f"step {sid!r} got an input that fails its input_schema: "
                    f"{validation_message(exc)}",
                    run_id=run_id,
                ),
            )
        if resuming and step.resume_schema is not None:
            try:
                resume_data = step.resume_schema.model_validate(json_value(resume_data))
            except pydantic.ValidationError as exc:
                return Outcome(
                    "failed",
                    error=RunError(
                        f"the resume data of step {sid!r} fails its resume_schema: "
                        f"{validation_message(exc)}",
                        run_id=run_id,
                    ),
                )
        writer = StepOutputWriter(self.emit, run_id=run_id, step_name=sid)
        ctx = StepContext(
            input_data=data,
            writer=writer,
            run_id=run_id,
            workflow_id=self.workflow.id,
            step_id=sid,
            runtime_context=self.runtime_context,
            state=self.state,
            resume_data=resume_data,
            suspend_schema=step.suspend_schema,
            results=(lambda id_: self._lookup(prefix, id_)),
            registry=self.registry,
        )
        attempt = 0
        try:
            while True:
                try:
                    raw = await step.execute(ctx)
                    break
                except SuspendSignal as signal:
                    return Outcome("suspended", signal.payload)
                except Exception as exc:
                    if attempt >= step.retries:
                        return Outcome("failed", error=exc)
                    # Exponential backoff: retry_delay, then twice that, then four times…
                    await asyncio.sleep(step.retry_delay * (2**attempt))
                    attempt += 1
                    ctx.retry_count = attempt
        finally:
            writer.close()
        if isinstance(raw, pydantic.BaseModel):
            raw = raw.model_dump(mode="json")
        if step.output_schema is not None:
            try:
                model = step.output_schema.model_validate(raw)
                raw = model.model_dump(mode="json")
                self._remember(raw, model)
            except pydantic.ValidationError as exc:
                return Outcome(
                    "failed",
                    error=RunError(
                        f"step {sid!r} returned an output that fails its output_schema: "
                        f"{validation_message(exc)}",
                        run_id=run_id,
                    ),
                )
        return Outcome("success", raw)


def _resolve_target(step: str | None, suspended: Mapping[str, Any], workflow_id: str) -> str:
    """The full id of the suspended step a resume is for."""
    ids = list(suspended)
    if not ids:
        raise ConfigurationError(f"the run of workflow {workflow_id!r} has no suspended step")
    if step is None:
        if len(ids) == 1:
            return ids[0]
        raise ConfigurationError(
            f"several steps are suspended ({', '.join(ids)}): say which one with step=..."
        )
    if step in suspended:
        return step
    matches = [i for i in ids if i.startswith(step + ".") or i.endswith("." + step)]
    if len(matches) == 1:
        return matches[0]
    raise ConfigurationError(
        f"step {step!r} is not suspended in this run; suspended: {', '.join(ids)}"
    )


class _RunRecorder(Protocol):
    """A store that also records runs (``streamwise.storage.Store``): optional."""

    async def start_run(self, run_id: str, *, kind: str, target_id: str) -> None: ...

    async def end_run(self, run_id: str, status: Any) -> None: ...

    @staticmethod
    def of(store: Any) -> _RunRecorder | None:
        """The store as a run recorder, when it is one."""
        if callable(getattr(store, "start_run", None)) and callable(
            getattr(store, "end_run", None)
        ):
            return cast("_RunRecorder", store)
        return None
