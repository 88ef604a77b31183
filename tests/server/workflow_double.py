"""A stand-in for the workflow engine (built on another branch), for the workflow routes.

It has the engine's API (``create_run``, ``run.stream``, ``run.resume_stream``, ``run.cancel``,
``get_run``, ``list_runs``) and replays the events Mastra recorded in ``reference-traces/``, so
the routes' framing can be compared with the real bytes. Replace with the real engine once
merged.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import pydantic

from streamwise.errors import RunError
from streamwise.stream import Chunk, RunOutput


class Value(pydantic.BaseModel):
    value: float


class ReplayOutput(RunOutput):
    """The output of one replayed stream."""

    source = "WORKFLOW"


@dataclass
class Step:
    id: str
    input_schema: type[pydantic.BaseModel] = Value
    output_schema: type[pydantic.BaseModel] = Value


@dataclass
class ReplayRun:
    workflow: ReplayWorkflow
    run_id: str
    outputs: list[RunOutput] = field(default_factory=list)
    output: RunOutput | None = None
    inputs: list[Any] = field(default_factory=list)

    def _replay(self, events: list[Chunk]) -> RunOutput:
        out = ReplayOutput(run_id=self.run_id)
        gate = self.workflow.gate

        async def produce() -> None:
            for i, event in enumerate(events):
                if gate is not None and i == 1:
                    await gate.wait()
                chunk = {**event, "runId": self.run_id}
                if event["type"] == "workflow-finish":
                    out._finish(chunk, status=event["payload"]["workflowStatus"])
                else:
                    out.emit(chunk)

        out._launch(produce())
        self.outputs.append(out)
        self.output = out
        return out

    def stream(self, input_data: Any, *, runtime_context: Any = None) -> RunOutput:
        if input_data is None:
            raise ValueError("inputData is required")
        if self.output is not None and not self.output.done:
            raise RunError(f"run {self.run_id!r} is streaming already", run_id=self.run_id)
        self.inputs.append(input_data)
        return self._replay(self.workflow.events)

    def resume_stream(self, *, step: Any = None, resume_data: Any = None) -> RunOutput:
        self.inputs.append({"step": step, "resumeData": resume_data})
        return self._replay(self.workflow.resume_events)

    async def cancel(self) -> None:
        for out in self.outputs:
            out.cancel()
            await out.wait()


class ReplayWorkflow:
    """Replays ``events`` on ``stream`` and ``resume_events`` on ``resume_stream``."""

    def __init__(
        self,
        id: str,
        events: list[Chunk],
        *,
        resume_events: list[Chunk] | None = None,
        steps: tuple[str, ...] = (),
        hold: bool = False,
        broken: bool = False,
    ) -> None:
        self.id = id
        self.broken = broken
        self.events = events
        self.resume_events = resume_events or []
        self.steps = [Step(s) for s in steps]
        self.step_graph = [{"type": "step", "step": {"id": s, "canSuspend": False}} for s in steps]
        self.input_schema = Value
        self.output_schema = Value
        self.gate: asyncio.Event | None = asyncio.Event() if hold else None
        self._runs: dict[str, ReplayRun] = {}

    async def create_run(self, run_id: str | None = None) -> ReplayRun:
        if self.broken:
            raise RuntimeError("secret internal detail")
        run = ReplayRun(self, run_id or str(uuid.uuid4()))
        self._runs[run.run_id] = run
        return run

    async def get_run(self, run_id: str) -> ReplayRun | None:
        return self._runs.get(run_id)

    async def list_runs(self) -> list[dict[str, Any]]:
        return [{"runId": r} for r in self._runs]
