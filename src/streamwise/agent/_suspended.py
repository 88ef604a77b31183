"""Suspended runs: how an agent holds them, their JSON form, and where they are kept.

A run that waits for approval or resume data keeps a :class:`SuspendedState` (the conversation,
the waiting calls, the step number) and the options it ran with. The agent holds both in memory;
with a :class:`SuspendedRunStore` (a ``Streamwise`` app with storage sets the store) it also
saves them as JSON, so another process (or this one after a restart) can approve, decline or
resume the run. Claiming a stored run is atomic: of two processes, one wins.

What is not stored, and why: the model, instructions, tools and processors are the agent's own
and come from the agent that continues the run; callbacks (``on_chunk``, ``on_finish``…) are
code and belong to the stream they were given to. A structured-output class is stored by its
import path (and JSON schema, for people reading the row) and imported again on load.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, cast

import orjson
import pydantic

from ..errors import ConfigurationError, RunNotContinuableError, RunNotSuspendedError
from ..models import ModelMessage
from ._loop import Decision, LoopConfig, SuspendedState
from ._memory import MemoryOptions
from ._output import AgentOutput
from ._tool_calls import PendingCall

__all__ = (
    "FORMAT",
    "Action",
    "HeldRun",
    "StoredRun",
    "SuspendedRun",
    "SuspendedRunStore",
    "claimed_elsewhere",
    "decision_for",
    "describe_held",
    "describe_stored",
    "dump_suspended",
    "load_suspended",
    "not_waiting",
    "select_waiting",
    "waiting_calls",
)

_log = logging.getLogger("streamwise")

FORMAT = 1
"""The version of the JSON form; a stored run of another version is refused, not misread."""


class SuspendedRunStore(Protocol):
    """Where an agent's suspended runs are kept between processes (``streamwise.storage``'s
    ``Store`` implements it; the agent only calls it)."""

    async def save_suspended(self, agent_id: str, run_id: str, state: dict[str, Any]) -> str:
        """Store (or replace) the run's suspended state; return the token that claims it."""
        ...

    async def load_suspended(self, agent_id: str, run_id: str) -> tuple[str, dict[str, Any]] | None:
        """``(token, state)`` of the stored run, or None."""
        ...

    async def claim_suspended(self, agent_id: str, run_id: str, token: str) -> bool:
        """Delete the stored run if it still has ``token`` (one conditional DELETE): True for
        the one caller that claimed it, False for everyone else."""
        ...

    async def discard_suspended(self, agent_id: str, run_id: str, *, canceled: bool) -> bool:
        """Delete the stored run whatever its token (True if there was one); with ``canceled``
        the run's recorded status becomes ``canceled``."""
        ...

    async def list_suspended_states(self, agent_id: str) -> list[tuple[str, int, dict[str, Any]]]:
        """``(run_id, stored_at_ms, state)`` of every stored run of the agent, oldest first."""
        ...


Action = Literal["approve", "decline", "resume"]
"""What continues a suspended run: approve or decline its waiting calls, or resume one."""


@dataclass(frozen=True, slots=True)
class SuspendedRun:
    """A run that waits for approval or resume data, as :meth:`Agent.list_suspended` lists it."""

    run_id: str
    """The run to pass to ``approve_tool_call`` / ``decline_tool_call`` / ``resume_stream``."""
    suspended_at: datetime
    """When it suspended (UTC; for a stored run, when it was stored)."""
    thread_id: str | None
    """The memory thread it ran with, if any."""
    resource_id: str | None
    """The memory resource it ran with, if any."""
    tool_calls: list[dict[str, Any]]
    """The waiting calls, as ``out.suspended`` lists them: ``{toolCallId, toolName, args, kind,
    suspendPayload}`` with ``kind`` ``approval`` or ``suspended``."""


@dataclass(slots=True)
class StoredRun:
    """A suspended run read back from its JSON form."""

    state: SuspendedState
    max_steps: int
    runtime_context: dict[str, Any]
    require_tool_approval: bool
    memory_options: MemoryOptions | None
    recorded: bool
    """The run had a memory session (its continuation records itself too)."""
    output: type[pydantic.BaseModel] | None


@dataclass(slots=True)
class HeldRun:
    """A suspended run as an agent holds it in memory."""

    state: SuspendedState
    cfg: LoopConfig
    origin: AgentOutput | None
    """The stream that suspended (its end hook stores the state); None when read from storage."""
    token: str | None = None
    """The stored copy's claim token, once stored."""
    suspended_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    """When the run suspended (or, read from storage, was stored)."""


def not_waiting(agent_id: str, run_id: str) -> RunNotSuspendedError:
    """The error for a run that waits on nothing."""
    return RunNotSuspendedError(
        f"run {run_id!r} of agent {agent_id!r} is not waiting for approval or resume "
        "data (unknown, finished, or resumed already)",
        run_id=run_id,
    )


def claimed_elsewhere(agent_id: str, run_id: str) -> RunNotSuspendedError:
    """The error for a run that another process claimed first."""
    return RunNotSuspendedError(
        f"run {run_id!r} of agent {agent_id!r} is not waiting for approval or resume data: "
        "another process continued it first (resumed already)",
        run_id=run_id,
    )


def decision_for(action: Action, *, reason: str | None, resume_data: Any) -> tuple[Decision, str]:
    """The decision ``action`` makes for the calls it addresses, and the kind of call it needs
    (``approval`` or ``suspended``).

    Raises:
        ConfigurationError: ``action`` is none of ``approve``, ``decline``, ``resume``.
    """
    if action == "approve":
        return Decision("approve"), "approval"
    if action == "decline":
        return Decision("decline", reason), "approval"
    if action == "resume":
        return Decision("resume", resume_data), "suspended"
    raise ConfigurationError(f"action must be 'approve', 'decline' or 'resume', got {action!r}")


def describe_held(entry: HeldRun) -> SuspendedRun:
    """How a run held in memory is listed."""
    memory: Mapping[str, Any] = entry.cfg.memory_options or {}
    return SuspendedRun(
        run_id=entry.state.run_id,
        suspended_at=entry.suspended_at,
        thread_id=memory.get("thread"),
        resource_id=memory.get("resource"),
        tool_calls=waiting_calls(entry.state.pending),
    )


def describe_stored(run_id: str, stored_at_ms: int, data: Mapping[str, Any]) -> SuspendedRun:
    """How a stored run is listed, read from its JSON form without loading it (a run whose
    output class cannot be imported here is listed too: another process may continue it)."""
    memory: Mapping[str, Any] = data.get("memory") or {}
    pending = [
        PendingCall(dict(p["call"]), p["kind"], p.get("suspendPayload"))
        for p in data.get("pending") or ()
    ]
    return SuspendedRun(
        run_id=run_id,
        suspended_at=datetime.fromtimestamp(stored_at_ms / 1000, UTC),
        thread_id=memory.get("thread"),
        resource_id=memory.get("resource"),
        tool_calls=waiting_calls(pending),
    )


def select_waiting(state: SuspendedState, tool_call_id: str | None, kind: str) -> list[PendingCall]:
    """The waiting calls a decision addresses.

    Raises:
        RunNotSuspendedError: none waits for this kind of decision.
        ConfigurationError: several suspended calls wait and ``tool_call_id`` is not given.
    """
    run_id = state.run_id
    waiting = [p for p in state.pending if p.kind == kind]
    if tool_call_id is not None:
        waiting = [p for p in waiting if p.tool_call_id == tool_call_id]
    elif kind == "suspended" and len(waiting) > 1:
        raise ConfigurationError(
            f"run {run_id!r} has {len(waiting)} suspended tool calls; pass tool_call_id= one "
            f"of {', '.join(p.tool_call_id for p in waiting)}"
        )
    if not waiting:
        what = "approval" if kind == "approval" else "resume data"
        raise RunNotSuspendedError(
            f"run {run_id!r} has no tool call {tool_call_id or ''} waiting for {what}".replace(
                "  ", " "
            ),
            run_id=run_id,
        )
    return waiting


def waiting_calls(pending: list[PendingCall]) -> list[dict[str, Any]]:
    """The waiting calls as ``out.suspended`` shows them: ``{toolCallId, toolName, args, kind,
    suspendPayload}``."""
    return [
        {"toolCallId": p.tool_call_id, "toolName": p.call["toolName"], "args": p.call["args"],
         "kind": p.kind, "suspendPayload": p.suspend_payload}
        for p in pending
    ]  # fmt: skip


def dump_suspended(state: SuspendedState, cfg: LoopConfig) -> dict[str, Any]:
    """The JSON form of a suspended run (what ``save_suspended`` stores)."""
    output: dict[str, Any] | None = None
    if cfg.output is not None:
        output = {
            "module": cfg.output.__module__,
            "qualname": cfg.output.__qualname__,
            "schema": cfg.output.model_json_schema(),
        }
    return {
        "format": FORMAT,
        "runId": state.run_id,
        "messageId": state.message_id,
        "stepNumber": state.step_number,
        "conversation": state.conversation,
        "pending": [
            {"call": p.call, "kind": p.kind, "suspendPayload": p.suspend_payload}
            for p in state.pending
        ],
        "maxSteps": cfg.max_steps,
        "requireToolApproval": cfg.require_tool_approval,
        "runtimeContext": _json_values(cfg.runtime_context, state.run_id),
        "memory": dict(cfg.memory_options) if cfg.memory_options is not None else None,
        "recorded": cfg.memory is not None,
        "output": output,
    }


def load_suspended(data: Mapping[str, Any], run_id: str) -> StoredRun:
    """A suspended run from its JSON form.

    Raises:
        RunNotContinuableError: the form is of another version, or the run's structured-output
            class cannot be imported in this process.
    """
    if data.get("format") != FORMAT:
        raise RunNotContinuableError(
            f"run {run_id!r} cannot be continued here: it was stored suspended in format "
            f"{data.get('format')!r} and this streamwise reads format {FORMAT}; it still waits",
            run_id=run_id,
        )
    conversation: list[ModelMessage] = list(data["conversation"])
    pending = [
        PendingCall(dict(p["call"]), p["kind"], p.get("suspendPayload")) for p in data["pending"]
    ]
    state = SuspendedState(
        run_id=run_id,
        message_id=str(data["messageId"]),
        conversation=conversation,
        pending=pending,
        step_number=int(data["stepNumber"]),
    )
    memory = data.get("memory")
    return StoredRun(
        state=state,
        max_steps=int(data["maxSteps"]),
        runtime_context=dict(data.get("runtimeContext") or {}),
        require_tool_approval=bool(data.get("requireToolApproval")),
        memory_options=cast(MemoryOptions, dict(memory)) if memory is not None else None,
        recorded=bool(data.get("recorded")),
        output=_import_output(data.get("output"), run_id),
    )


def _json_values(context: Mapping[str, Any], run_id: str) -> dict[str, Any]:
    """The runtime context's JSON values; the others (clients, connections…) cannot outlive
    the process and are left out, with a warning naming them."""
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in context.items():
        try:
            orjson.dumps(value)
        except TypeError:
            dropped.append(str(key))
        else:
            kept[str(key)] = value
    if dropped:
        _log.warning(
            "run %s is stored suspended without runtime context keys that are not JSON: %s",
            run_id,
            ", ".join(dropped),
        )
    return kept


def _import_output(spec: Any, run_id: str) -> type[pydantic.BaseModel] | None:
    if spec is None:
        return None
    name = f"{spec['module']}.{spec['qualname']}"
    found: Any = None
    if "<locals>" not in spec["qualname"]:
        try:
            found = importlib.import_module(spec["module"])
            for part in spec["qualname"].split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError):
            found = None
    if not (isinstance(found, type) and issubclass(found, pydantic.BaseModel)):
        raise RunNotContinuableError(
            f"run {run_id!r} cannot be continued here: its structured-output class {name} "
            "cannot be imported in this process (define the output model at module level); "
            "it still waits",
            run_id=run_id,
        )
    return found
