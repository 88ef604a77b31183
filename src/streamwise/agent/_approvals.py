"""Human in the loop: the agent's methods over its suspended runs (mixed into ``Agent``).

A run that waits for approval or resume data is held in memory (``HeldRun``) and, with a
``SuspendedRunStore``, stored; these methods list, find, cancel and continue such runs. Every
continuation claims the run first, in memory and in the store, so of two decisions (in one
process or two) exactly one continues it. ``approve_tool_call`` and the other synchronous
methods claim a stored run in the new stream's task; ``continue_suspended`` claims before it
returns, so that a server can answer a refusal with an HTTP status.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from ..models import LanguageModel, ToolSpec
from ..stream import Chunk
from ..tools import AppRegistry, Tool
from ._loop import Decision, LoopConfig, Resume, SuspendedState, run_agent
from ._memory import Memory
from ._output import AgentOutput
from ._processors import InputProcessor, OutputProcessor
from ._suspended import (
    Action,
    HeldRun,
    SuspendedRun,
    SuspendedRunStore,
    claimed_elsewhere,
    decision_for,
    describe_held,
    describe_stored,
    dump_suspended,
    load_suspended,
    not_waiting,
    select_waiting,
    waiting_calls,
)
from ._tool_calls import PendingCall

__all__ = ("HumanInTheLoop",)


class HumanInTheLoop:
    """Approve, decline, resume, list and cancel suspended runs (``Agent`` mixes this in)."""

    # What the mixin reads of the agent (``Agent.__init__`` sets them).
    id: str
    model: LanguageModel
    instructions: Any
    tools: dict[str, Tool]
    _tool_specs: list[ToolSpec]
    input_processors: tuple[InputProcessor, ...]
    output_processors: tuple[OutputProcessor, ...]
    memory: Memory | None
    suspensions: SuspendedRunStore | None
    _suspended: OrderedDict[str, HeldRun]
    max_suspended_runs: int

    def _registry(self) -> AppRegistry | None:
        raise NotImplementedError  # Agent's

    def _start(
        self,
        cfg: LoopConfig,
        run_id: str | None,
        on_chunk: Callable[[Chunk], Any] | None,
        before: Callable[[], Awaitable[object]] | None = None,
    ) -> AgentOutput:
        raise NotImplementedError  # Agent's

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

    def _keep_suspended(self, entry: HeldRun) -> None:
        self._suspended.pop(entry.state.run_id, None)
        self._suspended[entry.state.run_id] = entry
        while len(self._suspended) > self.max_suspended_runs:
            # Dropped here only: a stored copy stays, and is read back when needed.
            self._suspended.popitem(last=False)

    def suspended_runs(self) -> list[str]:
        """The ids of the runs this process holds that wait for approval or resume data
        (oldest first; with storage, other runs may wait in the store: see
        :meth:`list_suspended`)."""
        return list(self._suspended)

    async def list_suspended(
        self, *, thread_id: str | None = None, resource_id: str | None = None
    ) -> list[SuspendedRun]:
        """Every run of this agent that waits for approval or resume data, oldest first: with
        storage, the stored ones (suspended by any process) and those whose stream is still
        storing them; without, those held here. ``thread_id`` / ``resource_id`` keep the runs
        of one memory thread / resource."""
        held = list(self._suspended.values())
        runs: dict[str, SuspendedRun] = {}
        if self.suspensions is not None:
            for run_id, at, data in await self.suspensions.list_suspended_states(self.id):
                runs[run_id] = describe_stored(run_id, at, data)
            held = [e for e in held if e.token is None]  # a stored copy is the store's
        for entry in held:
            runs.setdefault(entry.state.run_id, describe_held(entry))
        return sorted(
            (
                r
                for r in runs.values()
                if thread_id in (None, r.thread_id) and resource_id in (None, r.resource_id)
            ),
            key=lambda r: (r.suspended_at, r.run_id),
        )

    async def find_suspended(self, run_id: str) -> list[dict[str, Any]] | None:
        """The calls ``run_id`` waits on (as ``out.suspended`` lists them), or None when it
        waits on nothing.

        With storage, the store is asked (another process may have continued a stored run),
        and a run this process did not hold is held from now on, so that
        :meth:`approve_tool_call` and the others check their arguments at once. (Checking
        first still leaves a race with another process: :meth:`continue_suspended` closes it.)

        Raises:
            RunNotContinuableError: the stored run cannot be continued here (see
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

    async def continue_suspended(
        self,
        run_id: str,
        action: Action,
        *,
        tool_call_id: str | None = None,
        reason: str | None = None,
        resume_data: Any = None,
        on_chunk: Callable[[Chunk], Any] | None = None,
    ) -> AgentOutput:
        """Claim a suspended run now, then continue it in a new stream: ``approve`` or
        ``decline`` (with ``reason``) its waiting calls, or ``resume`` one with ``resume_data``.

        Unlike :meth:`approve_tool_call` and the others, which claim a stored run in the new
        stream's task, this reads and claims it before returning, so every refusal raises here
        (the server answers an HTTP error, never a stream that fails).

        Raises:
            RunNotSuspendedError: the run is not waiting for this (unknown, finished, resumed
                already, or claimed by another process first).
            RunNotContinuableError: the stored run cannot be loaded here; it stays stored.
            ConfigurationError: several suspended calls wait and ``tool_call_id`` is not given.
        """
        decision, kind = decision_for(action, reason=reason, resume_data=resume_data)
        suspensions = self.suspensions
        entry = self._suspended.get(run_id)
        if suspensions is None:
            return self._continue(run_id, tool_call_id, decision, kind, on_chunk)
        registry = self._registry()
        if entry is not None and entry.origin is not None:
            cfg = self._take_held(entry, tool_call_id, decision, kind, registry)
            await self._claim_held(suspensions, entry)
        else:
            state, old, waiting = await self._claim_stored(
                suspensions, run_id, tool_call_id, kind, registry
            )
            cfg = self._continued(old, state, waiting, decision, registry)
        return self._start(cfg, run_id, on_chunk)

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
        suspensions = self.suspensions
        if entry is None:
            if suspensions is None:
                raise not_waiting(self.id, run_id)
            # Not held here: read it from the store in the new stream's own task.
            out = AgentOutput(agent_id=self.id, run_id=run_id, on_chunk=on_chunk)
            out.app = registry
            out._launch(
                self._continue_stored(suspensions, out, tool_call_id, decision, kind, registry)
            )
            return out
        cfg = self._take_held(entry, tool_call_id, decision, kind, registry)
        if suspensions is None:
            return self._start(cfg, run_id, on_chunk)
        claim = functools.partial(self._claim_held, suspensions, entry)
        return self._start(cfg, run_id, on_chunk, claim)

    def _take_held(
        self,
        entry: HeldRun,
        tool_call_id: str | None,
        decision: Decision,
        kind: str,
        registry: AppRegistry | None,
    ) -> LoopConfig:
        """Check a decision for a run held here and claim it in memory (a second decision
        gets RunNotSuspendedError); return the config that continues it."""
        waiting = select_waiting(entry.state, tool_call_id, kind)
        del self._suspended[entry.state.run_id]
        return self._continued(entry.cfg, entry.state, waiting, decision, registry)

    async def _claim_held(self, suspensions: SuspendedRunStore, entry: HeldRun) -> None:
        """Claim the stored copy of a run held here too, so that of two processes continuing
        the run, one wins."""
        if entry.origin is not None:
            await entry.origin.wait()  # its end hook stores the state and its token
        run_id = entry.state.run_id
        if entry.token is not None and not await suspensions.claim_suspended(
            self.id, run_id, entry.token
        ):
            raise claimed_elsewhere(self.id, run_id)

    async def _claim_stored(
        self,
        suspensions: SuspendedRunStore,
        run_id: str,
        tool_call_id: str | None,
        kind: str,
        registry: AppRegistry | None,
    ) -> tuple[SuspendedState, LoopConfig, list[PendingCall]]:
        """Load a stored run, check the decision's kind, and claim it (in this order, so a
        refused decision or an unloadable run claims nothing)."""
        loaded = await suspensions.load_suspended(self.id, run_id)
        if loaded is None:
            stale = self._suspended.get(run_id)
            if stale is not None and stale.origin is None:
                del self._suspended[run_id]  # read from the store once; continued elsewhere
            raise not_waiting(self.id, run_id)
        token, data = loaded
        state, old = self._stored_config(data, run_id, registry)
        waiting = select_waiting(state, tool_call_id, kind)
        if not await suspensions.claim_suspended(self.id, run_id, token):
            raise claimed_elsewhere(self.id, run_id)
        self._suspended.pop(run_id, None)  # a copy read by find_suspended meanwhile is stale
        return state, old, waiting

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
        state, old, waiting = await self._claim_stored(
            suspensions, out.run_id, tool_call_id, kind, registry
        )
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
