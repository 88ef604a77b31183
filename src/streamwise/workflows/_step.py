"""Steps: ``create_step(...)`` from a function, an agent or a tool, and what a step receives.

A step's input is validated against its ``input_schema`` where it enters the step, and its
output against ``output_schema`` where it leaves (PROTOCOL.md §6, STYLE.md rule 5): a mismatch
fails the step with a message naming the step and the field.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn, overload

import pydantic

from ..agent import Agent
from ..errors import ConfigurationError, NoAppError
from ..stream import StepOutputWriter
from ..tools import AppRegistry, Tool, ToolContext

__all__ = (
    "Condition",
    "FlowContext",
    "Step",
    "StepContext",
    "StepExecute",
    "SuspendSignal",
    "create_step",
    "json_value",
    "maybe_await",
    "validation_message",
)

StepExecute = Callable[["StepContext"], Awaitable[Any]]


class SuspendSignal(BaseException):
    """Raised by ``ctx.suspend()`` to stop the step; the engine turns it into a suspension.

    A ``BaseException`` so that a step's ``except Exception`` does not swallow it.
    """

    def __init__(self, payload: Any) -> None:
        super().__init__("step suspended")
        self.payload = payload


@dataclass(frozen=True, slots=True, eq=False)
class Step:
    """One step of a workflow. Build one with :func:`create_step`."""

    id: str
    input_schema: type[pydantic.BaseModel] | None
    output_schema: type[pydantic.BaseModel] | None
    execute: StepExecute
    resume_schema: type[pydantic.BaseModel] | None = None
    suspend_schema: type[pydantic.BaseModel] | None = None
    retries: int = 0
    retry_delay: float = 0.05
    description: str = ""

    def __repr__(self) -> str:
        return f"Step(id={self.id!r})"


async def maybe_await(value: Any) -> Any:
    """``await value`` if it is awaitable (sync or async conditions and functions)."""
    if inspect.isawaitable(value):
        return await value
    return value


def json_value(value: Any) -> Any:
    """A pydantic model as JSON-ready data; anything else as it is."""
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    return value


def validation_message(exc: pydantic.ValidationError) -> str:
    """``field 'a.b': msg; …`` for the first few errors of a pydantic validation error."""
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        loc = ".".join(str(p) for p in err["loc"])
        where = f"field {loc!r}" if loc else "the value"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


@dataclass(slots=True)
class StepContext:
    """What a step's ``execute(ctx)`` receives.

    Attributes:
        input_data: the step's input, an instance of its ``input_schema``.
        writer: ``await ctx.writer.write(x)`` streams ``workflow-step-output``;
            ``custom({...})`` a top-level ``data-*`` chunk; ``await out.pipe_to(ctx.writer)``
            nests an agent's run.
        run_id: the workflow run's id.
        workflow_id: the id of the workflow the step belongs to.
        step_id: the step's id in the stream (``<child>.<step>`` inside a nested workflow).
        runtime_context: the ``runtime_context`` given to ``stream()`` / ``resume_stream()``.
        state: a dict shared by every step of the run and kept in its snapshot (JSON values).
        resume_data: the ``resume_data`` of the resume that restarted this step, else None.
        retry_count: 0 on the first attempt, then 1, 2… on retries.
    """

    input_data: Any
    writer: StepOutputWriter
    run_id: str
    workflow_id: str
    step_id: str
    runtime_context: Mapping[str, Any]
    state: dict[str, Any]
    resume_data: Any = None
    retry_count: int = 0
    suspend_schema: type[pydantic.BaseModel] | None = None
    results: Callable[[str], Any] = field(default=lambda _id: None)
    registry: AppRegistry | None = None

    @property
    def app(self) -> AppRegistry:
        """The ``Streamwise`` app the workflow is registered in: ``ctx.app.get_agent(id)``.

        Raises:
            NoAppError: the workflow is not registered in a ``Streamwise`` app.
        """
        if self.registry is None:
            raise NoAppError(
                f"step {self.step_id!r} used ctx.app, but workflow {self.workflow_id!r} is not "
                "registered in an app: Streamwise(workflows=[...])"
            )
        return self.registry

    def get_step_result(self, step: Step | str) -> Any:
        """The output of a step that already ran in this run (None if it has not)."""
        return self.results(step if isinstance(step, str) else step.id)

    async def suspend(self, payload: Any = None) -> NoReturn:
        """Suspend the run here: ``workflow-step-suspended``, then the stream ends ``suspended``.

        The step runs again from the start on ``resume_stream(...)``, with ``ctx.resume_data``.

        Raises:
            ValueError: the payload fails the step's ``suspend_schema``.
        """
        payload = json_value(payload)
        if self.suspend_schema is not None:
            try:
                payload = self.suspend_schema.model_validate(payload).model_dump(mode="json")
            except pydantic.ValidationError as exc:
                raise ValueError(
                    f"step {self.step_id!r} suspended with a payload that fails its "
                    f"suspend_schema: {validation_message(exc)}"
                ) from None
        raise SuspendSignal(payload)


@dataclass(slots=True)
class FlowContext:
    """What a condition (``branch``, ``dowhile``, ``dountil``) or a ``map`` function receives.

    Attributes:
        input_data: the current value (JSON-ready): the previous output, or a loop step's output.
        run_id: the workflow run's id.
        state: the run's shared state dict.
        runtime_context: the ``runtime_context`` of the stream.
        iteration_count: in a loop condition, how many times the step has run; else 0.
    """

    input_data: Any
    run_id: str
    state: dict[str, Any]
    runtime_context: Mapping[str, Any]
    iteration_count: int = 0
    results: Callable[[str], Any] = field(default=lambda _id: None)

    def get_step_result(self, step: Step | str) -> Any:
        """The output of a step that already ran in this run (None if it has not)."""
        return self.results(step if isinstance(step, str) else step.id)


Condition = Callable[[FlowContext], bool | Awaitable[bool]]
"""A sync or async function of a :class:`FlowContext` returning a bool."""


class AgentStepInput(pydantic.BaseModel):
    """Input of a step made from an agent."""

    prompt: str


class AgentStepOutput(pydantic.BaseModel):
    """Output of a step made from an agent."""

    text: str


def _check_schema(value: Any, what: str, step_id: str) -> None:
    if value is not None and not (
        isinstance(value, type) and issubclass(value, pydantic.BaseModel)
    ):
        raise ConfigurationError(f"{what} of step {step_id!r} must be a pydantic model class")


def _check_id(id: Any) -> None:
    if not isinstance(id, str) or not id or "." in id:
        raise ConfigurationError(
            f"step id {id!r} must be a non-empty string without '.' "
            "('.' joins the ids of nested workflows)"
        )


@overload
def create_step(id: Agent | Tool, /) -> Step: ...
@overload
def create_step(
    id: str,
    input_schema: type[pydantic.BaseModel],
    output_schema: type[pydantic.BaseModel],
    execute: StepExecute,
    resume_schema: type[pydantic.BaseModel] | None = None,
    suspend_schema: type[pydantic.BaseModel] | None = None,
    retries: int = 0,
    *,
    retry_delay: float = 0.05,
    description: str = "",
) -> Step: ...


def create_step(
    id: str | Agent | Tool,
    input_schema: type[pydantic.BaseModel] | None = None,
    output_schema: type[pydantic.BaseModel] | None = None,
    execute: StepExecute | None = None,
    resume_schema: type[pydantic.BaseModel] | None = None,
    suspend_schema: type[pydantic.BaseModel] | None = None,
    retries: int = 0,
    *,
    retry_delay: float = 0.05,
    description: str = "",
) -> Step:
    """Make a step from an async function, an :class:`Agent` or a :class:`Tool`.

    Args:
        id: the step's id (no ``.``), or an agent (input ``{prompt}``, output ``{text}``; its
            chunks stream as ``workflow-step-output``), or a tool (its schemas; its writer is
            the step's).
        input_schema: pydantic model of the input (``ctx.input_data`` is an instance).
        output_schema: pydantic model the returned value must fit.
        execute: ``async def execute(ctx: StepContext) -> output``.
        resume_schema: pydantic model ``resume_data`` must fit (``ctx.resume_data`` is one).
        suspend_schema: pydantic model the payload of ``ctx.suspend()`` must fit.
        retries: how many times to retry a step that raises, before it fails.
        retry_delay: the first retry's delay in seconds; each next one doubles it.
        description: what the step does.
    """
    if isinstance(id, Agent):
        return _agent_step(id)
    if isinstance(id, Tool):
        return _tool_step(id)
    _check_id(id)
    _check_schema(input_schema, "input_schema", id)
    _check_schema(output_schema, "output_schema", id)
    _check_schema(resume_schema, "resume_schema", id)
    _check_schema(suspend_schema, "suspend_schema", id)
    if input_schema is None or output_schema is None:
        raise ConfigurationError(f"step {id!r} needs an input_schema and an output_schema")
    if execute is None or not inspect.iscoroutinefunction(execute):
        raise ConfigurationError(f"execute of step {id!r} must be an async function of ctx")
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise ConfigurationError(f"retries of step {id!r} must be an int ≥ 0, got {retries!r}")
    if not isinstance(retry_delay, int | float) or retry_delay < 0:
        raise ConfigurationError(f"retry_delay of step {id!r} must be ≥ 0, got {retry_delay!r}")
    return Step(
        id=id,
        input_schema=input_schema,
        output_schema=output_schema,
        execute=execute,
        resume_schema=resume_schema,
        suspend_schema=suspend_schema,
        retries=retries,
        retry_delay=float(retry_delay),
        description=description,
    )


def _agent_step(agent: Agent) -> Step:
    async def execute(ctx: StepContext) -> dict[str, Any]:
        out = agent.stream(ctx.input_data.prompt, runtime_context=ctx.runtime_context)
        await out.pipe_to(ctx.writer)
        return {"text": await out.text}

    _check_id(agent.id)
    return Step(
        id=agent.id,
        input_schema=AgentStepInput,
        output_schema=AgentStepOutput,
        execute=execute,
        description=agent.description,
    )


def _tool_step(tool: Tool) -> Step:
    async def execute(ctx: StepContext) -> Any:
        tool_ctx = ToolContext(
            writer=ctx.writer,
            run_id=ctx.run_id,
            tool_call_id=ctx.step_id,
            tool_name=tool.id,
            runtime_context=ctx.runtime_context,
            registry=ctx.registry,
        )
        return tool.dump_output(await tool.execute(ctx.input_data, tool_ctx))

    _check_id(tool.id)
    return Step(
        id=tool.id,
        input_schema=tool.input_schema,
        output_schema=tool.output_schema,
        execute=execute,
        description=tool.description,
    )
