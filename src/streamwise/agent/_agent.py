"""``Agent``: instructions, a model and tools; ``stream()`` runs the loop in its own task."""

from __future__ import annotations

import dataclasses
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
from ._input import AgentInput, to_messages
from ._loop import Decision, LoopConfig, Resume, SuspendedState, run_agent
from ._memory import Memory, MemoryOptions
from ._output import AgentOutput, GenerateResult, StepResult
from ._processors import InputProcessor, OutputProcessor
from ._suspended import (
    HeldRun,
    SuspendedRunStore,
    claimed_elsewhere,
    dump_suspended,
    load_suspended,
    not_waiting,
    select_waiting,
    waiting_calls,
)
from ._tool_calls import PendingCall

__all__ = ("Agent", "Instructions")

Instructions = str | Callable[[Mapping[str, Any]], str | Awaitable[str]]
"""A system prompt, or a function of the runtime context that returns one."""


class AgentPrompt(pydantic.BaseModel):
    """Input of an agent used as a tool (``agent-<id>``)."""

    prompt: str = pydantic.Field(description="What to ask the agent.")


class Agent:
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

    def _prepare(self, out: AgentOutput, cfg: LoopConfig) -> None:
        """Hook a run up to memory and to the suspended runs (in memory, and stored)."""
        if cfg.memory is not None:
            out.add_end_hook(cfg.memory.end)
        kept: list[HeldRun] = []

        # cfg comes as an argument, not from this closure: cfg holds the closure, and a closure
        # over cfg would make a cycle that keeps the whole run (and its chunks) alive until
        # the collector finds it.
        def on_suspend(state: SuspendedState, cfg: LoopConfig) -> None:
            entry = HeldRun(state, cfg, out)
            kept.append(entry)
            self._keep_suspended(entry)

        cfg.on_suspend = on_suspend
        suspensions = self.suspensions
        if suspensions is not None:

            async def store_suspended(run: Any) -> None:
                # An end hook: it runs after memory's (the run is recorded ``suspended``) and
                # before readers see the end, so once the stream ends the state is stored.
                if kept and out._status == "suspended":
                    entry = kept[-1]
                    entry.token = await suspensions.save_suspended(
                        self.id, entry.state.run_id, dump_suspended(entry.state, entry.cfg)
                    )

            out.add_end_hook(store_suspended)

    # -- human in the loop -------------------------------------------------------------------

    def _keep_suspended(self, entry: HeldRun) -> None:
        self._suspended.pop(entry.state.run_id, None)
        self._suspended[entry.state.run_id] = entry
        while len(self._suspended) > self.max_suspended_runs:
            # Dropped here only: a stored copy stays, and is read back when needed.
            self._suspended.popitem(last=False)

    def suspended_runs(self) -> list[str]:
        """The ids of the runs this process holds that wait for approval or resume data
        (oldest first; with storage, other runs may wait in the store)."""
        return list(self._suspended)

    async def find_suspended(self, run_id: str) -> list[dict[str, Any]] | None:
        """The calls ``run_id`` waits on (as ``out.suspended`` lists them), or None when it
        waits on nothing.

        With storage, the store is asked (another process may have continued a stored run),
        and a run this process did not hold is held from now on, so that
        :meth:`approve_tool_call` and the others check their arguments at once (a server does
        this to answer an unknown run with an HTTP error, not with a failed stream).

        Raises:
            ConfigurationError: the stored run cannot be continued here (see
                ``docs/storage.md``).
        """
        entry = self._suspended.get(run_id)
        suspensions = self.suspensions
        if suspensions is not None and (entry is None or entry.token is not None):
            # A stored run: the store decides, for another process may have continued it.
            loaded = await suspensions.load_suspended(self.id, run_id)
            if self._suspended.get(run_id) is not entry:
                entry = self._suspended.get(run_id)  # changed here meanwhile: that wins
            elif loaded is None:
                if entry is not None:
                    del self._suspended[run_id]  # continued or cancelled elsewhere
                entry = None
            elif entry is None or entry.token != loaded[0]:
                token, data = loaded
                entry = HeldRun(*self._stored_config(data, run_id, self._registry()), None, token)
                self._keep_suspended(entry)
        return None if entry is None else waiting_calls(entry.state.pending)

    async def cancel_suspended(self, run_id: str) -> bool:
        """Drop a run that waits for approval or resume data, here and in storage (where its
        recorded status becomes ``canceled``): it can no longer be continued anywhere.

        Returns False when the run waits on nothing (unknown, running, ended, or continued).
        """
        entry = self._suspended.pop(run_id, None)
        if self.suspensions is None:
            return entry is not None
        if entry is not None and entry.origin is not None:
            await entry.origin.wait()  # its end hook may be storing the state right now
        stored = await self.suspensions.discard_suspended(self.id, run_id, canceled=True)
        return stored or (entry is not None and entry.token is None)

    def approve_tool_call(
        self,
        run_id: str,
        *,
        tool_call_id: str | None = None,
        on_chunk: Callable[[Chunk], Any] | None = None,
    ) -> AgentOutput:
        """Run the call(s) waiting for approval in ``run_id`` and go on, in a new stream.

        With storage, a run this process does not hold is read from the store in the new
        stream's task: then a run that is not waiting ends that stream with an ``error``
        chunk (``await out.error`` is the :class:`RunNotSuspendedError`) instead of raising
        here. So does losing the run to another process that claimed it first.

        Args:
            run_id: the suspended run (its new stream keeps the id).
            tool_call_id: the call to approve; default every call waiting for approval.

        Raises:
            RunNotSuspendedError: the run is not waiting (unknown, finished, or resumed already).
        """
        return self._continue(run_id, tool_call_id, Decision("approve"), "approval", on_chunk)

    def decline_tool_call(
        self,
        run_id: str,
        *,
        tool_call_id: str | None = None,
        reason: str | None = None,
        on_chunk: Callable[[Chunk], Any] | None = None,
    ) -> AgentOutput:
        """Decline the waiting call(s): the model reads that the user did not approve (or
        ``reason``), and goes on. Errors as for :meth:`approve_tool_call`."""
        return self._continue(
            run_id, tool_call_id, Decision("decline", reason), "approval", on_chunk
        )

    def resume_stream(
        self,
        resume_data: Any,
        *,
        run_id: str,
        tool_call_id: str | None = None,
        on_chunk: Callable[[Chunk], Any] | None = None,
    ) -> AgentOutput:
        """Run a call that suspended itself again, with ``ctx.resume_data = resume_data``.

        Args:
            resume_data: data for the tool (validated against its ``resume_schema``).
            run_id: the suspended run (its new stream keeps the id).
            tool_call_id: which suspended call; needed only when several wait.

        Raises:
            RunNotSuspendedError: the run is not waiting (unknown, finished, or resumed
                already); with storage, see :meth:`approve_tool_call`.
        """
        return self._continue(
            run_id, tool_call_id, Decision("resume", resume_data), "suspended", on_chunk
        )

    def _continue(
        self,
        run_id: str,
        tool_call_id: str | None,
        decision: Decision,
        kind: str,
        on_chunk: Callable[[Chunk], Any] | None,
    ) -> AgentOutput:
        registry = self._registry()
        entry = self._suspended.get(run_id)
        if entry is None:
            suspensions = self.suspensions
            if suspensions is None:
                raise not_waiting(self.id, run_id)
            # Not held here: read it from the store in the new stream's own task.
            out = AgentOutput(agent_id=self.id, run_id=run_id, on_chunk=on_chunk)
            out.app = registry
            out._launch(
                self._continue_stored(suspensions, out, tool_call_id, decision, kind, registry)
            )
            return out
        waiting = select_waiting(entry.state, tool_call_id, kind)
        del self._suspended[run_id]  # claimed: a second resume gets RunNotSuspendedError
        cfg = self._continued(entry.cfg, entry.state, waiting, decision, registry)
        suspensions = self.suspensions
        if suspensions is None:
            return self._start(cfg, run_id, on_chunk)

        async def claim() -> None:
            # Held here, maybe stored too: the stored copy is claimed as well, so that of two
            # processes continuing the run, one wins.
            if entry.origin is not None:
                await entry.origin.wait()  # its end hook stores the state and its token
            if entry.token is not None and not await suspensions.claim_suspended(
                self.id, run_id, entry.token
            ):
                raise claimed_elsewhere(self.id, run_id)

        return self._start(cfg, run_id, on_chunk, claim)

    async def _continue_stored(
        self,
        suspensions: SuspendedRunStore,
        out: AgentOutput,
        tool_call_id: str | None,
        decision: Decision,
        kind: str,
        registry: AppRegistry | None,
    ) -> None:
        """The producer of a continuation of a stored run: load, check, claim, run."""
        run_id = out.run_id
        loaded = await suspensions.load_suspended(self.id, run_id)
        if loaded is None:
            raise not_waiting(self.id, run_id)
        token, data = loaded
        state, old = self._stored_config(data, run_id, registry)
        waiting = select_waiting(state, tool_call_id, kind)
        if not await suspensions.claim_suspended(self.id, run_id, token):
            raise claimed_elsewhere(self.id, run_id)
        self._suspended.pop(run_id, None)  # a copy read by find_suspended meanwhile is stale
        cfg = self._continued(old, state, waiting, decision, registry)
        self._prepare(out, cfg)
        await run_agent(out, cfg)

    def _stored_config(
        self, data: dict[str, Any], run_id: str, registry: AppRegistry | None
    ) -> tuple[SuspendedState, LoopConfig]:
        """A stored run's state, and the config it ran with: the agent's model, instructions,
        tools and processors, with the options stored for the run."""
        stored = load_suspended(data, run_id)
        cfg = LoopConfig(
            agent_id=self.id,
            model=self.model,
            instructions=self.instructions,
            tools=self.tools,
            tool_specs=self._tool_specs,
            messages=[],
            max_steps=stored.max_steps,
            runtime_context=stored.runtime_context,
            registry=registry,
            output=stored.output,
            require_tool_approval=stored.require_tool_approval,
            input_processors=self.input_processors,
            output_processors=self.output_processors,
            memory_options=stored.memory_options,
        )
        if stored.recorded and self.memory is not None:
            # Only whether the run had a session matters to _continued, which makes a new one.
            cfg.memory = self.memory.session(
                agent_id=self.id,
                run_id=run_id,
                options=stored.memory_options,
                messages=[],
                continues=True,
            )
        return stored.state, cfg

    def _continued(
        self,
        old: LoopConfig,
        state: SuspendedState,
        waiting: list[PendingCall],
        decision: Decision,
        registry: AppRegistry | None,
    ) -> LoopConfig:
        """The config that continues a suspended run with ``decision`` for ``waiting``."""
        run_id = state.run_id
        return dataclasses.replace(
            old,
            registry=registry or old.registry,
            resume=Resume(state, {p.tool_call_id: decision for p in waiting}),
            # The first stream stored the input and its answer; this one continues the run's
            # log and stores what it adds as the next answer.
            memory=(
                self.memory.session(
                    agent_id=self.id,
                    run_id=run_id,
                    options=old.memory_options,
                    messages=[],
                    continues=True,
                )
                if self.memory is not None and old.memory is not None
                else None
            ),
        )

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
