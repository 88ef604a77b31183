"""``Agent``: instructions, a model and tools; ``stream()`` runs the loop in its own task."""

from __future__ import annotations

import functools
import inspect
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import pydantic

from ..errors import ConfigurationError, RunCanceledError
from ..models import LanguageModel, ToolSpec, resolve_model
from ..stream import Chunk, current_run
from ..tools import AppRegistry, Tool, ToolContext, create_tool
from ._approvals import HumanInTheLoop
from ._input import AgentInput, to_messages
from ._loop import LoopConfig, run_agent
from ._memory import Memory, MemoryOptions
from ._output import AgentOutput, GenerateResult, StepResult
from ._processors import InputProcessor, OutputProcessor
from ._suspended import HeldRun, SuspendedRunStore

__all__ = ("Agent", "Instructions")

Instructions = str | Callable[[Mapping[str, Any]], str | Awaitable[str]]
"""A system prompt, or a function of the runtime context that returns one."""


class AgentPrompt(pydantic.BaseModel):
    """Input of an agent used as a tool (``agent-<id>``)."""

    prompt: str = pydantic.Field(description="What to ask the agent.")


class Agent(HumanInTheLoop):
    """An agent: a model that may call tools, streaming every chunk of what it does.

    Args:
        id: the agent's id (``start`` payload, app lookups, the ``agent-<id>`` tool name).
        name: a display name (defaults to ``id``).
        instructions: the system prompt, or a function of the runtime context returning it.
        model: a ``"provider/model"`` string or a :class:`LanguageModel`.
        tools: the tools the model may call.
        agents: agents this agent may call; each becomes a tool ``agent-<id>`` whose run
            streams through as nested ``tool-output`` chunks.
        max_steps: the most model calls per run.
        description: what the agent does (shown when it is used as a tool).
        input_processors: ``(messages, ctx) -> messages | None`` run on each run's input
            before the first model call; ``ctx.abort(reason)`` stops the run with a tripwire.
        output_processors: ``(step, ctx) -> None`` run after each model step; ``ctx.abort``
            stops the run with a tripwire.
    """

    def __init__(
        self,
        id: str,
        *,
        name: str | None = None,
        instructions: Instructions = "",
        model: str | LanguageModel,
        tools: Sequence[Tool] | Mapping[str, Tool] = (),
        agents: Sequence[Agent] | None = None,
        max_steps: int = 5,
        description: str = "",
        input_processors: Sequence[InputProcessor] = (),
        output_processors: Sequence[OutputProcessor] = (),
    ) -> None:
        if not isinstance(id, str) or not id:
            raise ConfigurationError("an agent needs a non-empty string id")
        if not (isinstance(instructions, str) or callable(instructions)):
            raise ConfigurationError(
                f"instructions of agent {id!r} must be a string or a function of the runtime context"
            )
        _check_max_steps(max_steps, id)
        self.id = id
        self.name = name or id
        self.description = description
        self.instructions = instructions
        self._model_spec = model
        self.model: LanguageModel = resolve_model(model)
        self.max_steps = max_steps
        self.input_processors = tuple(input_processors)
        self.output_processors = tuple(output_processors)
        self.tools: dict[str, Tool] = _tool_map(tools, id)
        self.agents: dict[str, Agent] = {}
        for sub in agents or ():
            if not isinstance(sub, Agent):
                raise ConfigurationError(f"agents of {id!r} must be Agent objects, got {sub!r}")
            self.agents[sub.id] = sub
            t = _agent_tool(sub)
            if t.id in self.tools:
                raise ConfigurationError(f"agent {id!r} has two tools named {t.id!r}")
            self.tools[t.id] = t
        self._tool_specs: list[ToolSpec] = [
            {"name": name_, "description": t.description, "inputSchema": t.json_schema()}
            for name_, t in self.tools.items()
        ]
        self.app: AppRegistry | None = None
        self._suspended: OrderedDict[str, HeldRun] = OrderedDict()
        self.memory: Memory | None = None
        """Where runs are remembered; set by the ``Streamwise`` app from its storage."""
        self.suspensions: SuspendedRunStore | None = None
        """Where suspended runs are also kept, so that any process can approve or resume them;
        set by a ``Streamwise`` app given storage."""

    #: How many suspended runs an agent keeps in memory for approval / resume (oldest dropped).
    max_suspended_runs: int = 1000

    def __repr__(self) -> str:
        return f"Agent(id={self.id!r}, model={self.model.provider}/{self.model.model_id})"

    def stream(
        self,
        messages: AgentInput,
        *,
        max_steps: int | None = None,
        runtime_context: Mapping[str, Any] | None = None,
        on_chunk: Callable[[Chunk], Any] | None = None,
        on_step_finish: Callable[[StepResult], Any] | None = None,
        on_finish: Callable[[AgentOutput], Any] | None = None,
        run_id: str | None = None,
        output: type[pydantic.BaseModel] | None = None,
        require_tool_approval: bool = False,
        memory: MemoryOptions | None = None,
    ) -> AgentOutput:
        """Start a run now and return its output object (PROTOCOL.md §3).

        Args:
            messages: a prompt, a list of prompts, or a list of ``{role, content}`` messages.
            max_steps: the most model calls for this run (default: the agent's).
            runtime_context: values for tools and dynamic instructions (``ctx.runtime_context``).
            on_chunk: called with every chunk as it is written (before any reader sees it).
            on_step_finish: called with each :class:`StepResult`.
            on_finish: called with the output object before the ``finish`` chunk.
            run_id: the run's id (default: a new UUID).
            output: a pydantic model for structured output: partial objects stream as
                ``object`` chunks (``out.object_stream``), the validated one as
                ``object-result`` (``await out.object``).
            require_tool_approval: every tool call waits for :meth:`approve_tool_call` or
                :meth:`decline_tool_call` (tools made with ``require_approval=True`` always do).
            memory: ``{"thread": id, "resource": id?, "last_messages": n?}``: load the
                thread's recent history before the input and store the input and the answer
                (needs ``agent.memory``, which a ``Streamwise`` app sets from its storage).

        Raises:
            ConfigurationError: ``memory=`` without storage, or bad memory options.
        """
        steps = self.max_steps if max_steps is None else max_steps
        _check_max_steps(steps, self.id)
        if on_chunk is not None and inspect.iscoroutinefunction(on_chunk):
            raise ConfigurationError(
                "on_chunk must be a plain function: it runs on the hot path for every chunk; "
                "for async work, read the stream (async for chunk in out) instead"
            )
        registry = self._registry()
        cfg = LoopConfig(
            agent_id=self.id,
            model=self.model,
            instructions=self.instructions,
            tools=self.tools,
            tool_specs=self._tool_specs,
            messages=to_messages(messages),
            max_steps=steps,
            runtime_context=dict(runtime_context or {}),
            registry=registry,
            on_step_finish=on_step_finish,
            on_finish=on_finish,
            output=_check_output(output, self.id),
            require_tool_approval=require_tool_approval,
            input_processors=self.input_processors,
            output_processors=self.output_processors,
        )
        given = run_id is not None
        run_id = run_id or str(uuid.uuid4())
        # The session is made (and its options checked) before the output object exists, so a
        # bad memory= raises here without leaving a never-started child in a parent run.
        cfg.memory_options = memory
        if self.memory is not None:
            cfg.memory = self.memory.session(
                agent_id=self.id, run_id=run_id, options=memory, messages=cfg.messages
            )
        elif memory is not None:
            raise ConfigurationError(
                f"agent {self.id!r} got memory= but has no storage: register it in "
                "Streamwise(agents=[...], storage=...) or set agent.memory"
            )
        before: Callable[[], Awaitable[object]] | None = None
        if given:
            # A run id given again starts a new run: what the old one waited on is void.
            self._suspended.pop(run_id, None)
            if self.suspensions is not None:
                before = functools.partial(
                    self.suspensions.discard_suspended, self.id, run_id, canceled=False
                )
        return self._start(cfg, run_id, on_chunk, before)

    def _registry(self) -> AppRegistry | None:
        parent = current_run()
        if self.app is None and isinstance(parent, AgentOutput):
            return parent.app
        return self.app

    def _start(
        self,
        cfg: LoopConfig,
        run_id: str | None,
        on_chunk: Callable[[Chunk], Any] | None,
        before: Callable[[], Awaitable[object]] | None = None,
    ) -> AgentOutput:
        out = AgentOutput(agent_id=self.id, run_id=run_id, on_chunk=on_chunk)
        out.app = cfg.registry
        self._prepare(out, cfg)
        out._launch(run_agent(out, cfg) if before is None else self._run_after(before, out, cfg))
        return out

    async def _run_after(
        self, before: Callable[[], Awaitable[object]], out: AgentOutput, cfg: LoopConfig
    ) -> None:
        await before()
        await run_agent(out, cfg)

    async def generate(
        self,
        messages: AgentInput,
        *,
        max_steps: int | None = None,
        runtime_context: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        output: type[pydantic.BaseModel] | None = None,
        memory: MemoryOptions | None = None,
    ) -> GenerateResult:
        """Run to the end without streaming and return every result.

        Raises:
            Exception: the run's error, when it failed.
            RunCanceledError: the run was cancelled.
        """
        out = self.stream(
            messages,
            max_steps=max_steps,
            runtime_context=runtime_context,
            run_id=run_id,
            output=output,
            memory=memory,
        )
        result = await out.result()
        if result.status == "canceled":
            raise RunCanceledError(f"run {out.run_id} was cancelled", run_id=out.run_id)
        return result


def _check_output(
    output: type[pydantic.BaseModel] | None, agent_id: str
) -> type[pydantic.BaseModel] | None:
    if output is not None and not (
        isinstance(output, type) and issubclass(output, pydantic.BaseModel)
    ):
        raise ConfigurationError(f"output for agent {agent_id!r} must be a pydantic model class")
    return output


def _check_max_steps(value: Any, agent_id: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigurationError(
            f"max_steps of agent {agent_id!r} must be an int ≥ 1, got {value!r}"
        )


def _tool_map(tools: Sequence[Tool] | Mapping[str, Tool], agent_id: str) -> dict[str, Tool]:
    items: list[tuple[str, Any]]
    if isinstance(tools, Mapping):
        items = list(tools.items())
    else:
        items = [(str(getattr(t, "id", "")), t) for t in tools]
    result: dict[str, Tool] = {}
    for name, t in items:
        if not isinstance(t, Tool):
            raise ConfigurationError(
                f"tools of agent {agent_id!r} must be made with create_tool or @tool, got {t!r}"
            )
        if name in result:
            raise ConfigurationError(f"agent {agent_id!r} has two tools named {name!r}")
        result[str(name)] = t
    return result


def _agent_tool(sub: Agent) -> Tool:
    async def execute(data: Any, ctx: ToolContext) -> Any:
        out = sub.stream(data.prompt, runtime_context=ctx.runtime_context)
        await out.pipe_to(ctx.writer)
        return {"text": await out.text}

    return create_tool(
        id=f"agent-{sub.id}",
        description=sub.description or f"Ask the agent {sub.name!r}; it answers in text.",
        input_schema=AgentPrompt,
        execute=execute,
    )
