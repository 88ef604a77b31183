"""The agent loop: model step → tool calls (concurrently) → results → next step (PROTOCOL.md §2).

This is the hot path. Each model stream part becomes at most one chunk, built inline below with
the keys of the protocol table, appended to the run's log, and folded into the run's state.

A run pauses (status ``suspended``) when a tool call needs approval or a tool suspends itself;
:class:`SuspendedState` keeps what the run needs to go on, and ``run_agent`` with a
:class:`Resume` continues it in a new stream with the same run id.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
import pydantic

from ..errors import ModelError, RunError
from ..models import LanguageModel, ModelMessage, ModelRequest, ToolSpec
from ..stream import Usage, normalize_usage
from ..tools import AppRegistry, Tool
from ._memory import MemoryOptions, MemorySession
from ._output import AgentOutput, StepResult
from ._processors import (
    InputProcessor,
    OutputProcessor,
    ProcessorContext,
    run_input_processors,
    run_output_processors,
)
from ._structured import ObjectAccumulator, structured_instructions
from ._tool_calls import (
    CallSetup,
    PendingCall,
    approval_chunk,
    call_tool,
    declined,
    suspended_chunk,
)

__all__ = ("Decision", "LoopConfig", "Resume", "SuspendedState", "run_agent")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _now_iso() -> str:
    # Mastra's metadata.timestamp is the response's Date, serialised as ISO 8601 in UTC.
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


@dataclass(slots=True)
class SuspendedState:
    """What a suspended run keeps so that it can go on later."""

    run_id: str
    message_id: str
    conversation: list[ModelMessage]
    pending: list[PendingCall]
    step_number: int


@dataclass(slots=True)
class Decision:
    """What to do with one waiting call: run it (approve / resume with data) or decline it
    (``resume_data`` then is the reason the model reads, or None for the default)."""

    action: Literal["approve", "decline", "resume"]
    resume_data: Any = None


@dataclass(slots=True)
class Resume:
    """A suspended run and the decisions that continue it."""

    state: SuspendedState
    decisions: dict[str, Decision]


@dataclass(slots=True)
class LoopConfig:
    """Everything one run of the loop needs, resolved by ``Agent.stream()``."""

    agent_id: str
    model: LanguageModel
    instructions: str | Callable[[Mapping[str, Any]], str | Awaitable[str]]
    tools: Mapping[str, Tool]
    tool_specs: list[ToolSpec]
    messages: list[ModelMessage]
    max_steps: int
    runtime_context: Mapping[str, Any]
    registry: AppRegistry | None
    on_step_finish: Callable[[StepResult], Any] | None = None
    on_finish: Callable[[AgentOutput], Any] | None = None
    output: type[pydantic.BaseModel] | None = None
    require_tool_approval: bool = False
    input_processors: tuple[InputProcessor, ...] = ()
    output_processors: tuple[OutputProcessor, ...] = ()
    memory: MemorySession | None = None
    memory_options: MemoryOptions | None = None
    resume: Resume | None = None
    on_suspend: Callable[[SuspendedState, LoopConfig], None] | None = None
    setup: CallSetup = field(init=False)

    def __post_init__(self) -> None:
        self.setup = CallSetup(self.agent_id, self.tools, self.runtime_context, self.registry)


async def run_agent(out: AgentOutput, cfg: LoopConfig) -> None:
    """Produce every chunk of one agent run into ``out``; the owner task runs this."""
    emit = out.emit
    run_id = out.run_id
    objects = ObjectAccumulator(cfg.output) if cfg.output is not None else None
    resume = cfg.resume
    if resume is not None:
        message_id = resume.state.message_id
        conversation = resume.state.conversation
        step_number = resume.state.step_number
    else:
        message_id = str(uuid.uuid4())
        step_number = 0
    emit({"type": "start", "runId": run_id, "from": "AGENT",
          "payload": {"id": cfg.agent_id, "messageId": message_id}})  # fmt: skip

    if resume is not None:
        if cfg.memory is not None:
            await cfg.memory.load(out)  # a continuation: no history, the log goes on
        pending = await _resume_calls(out, cfg, conversation, resume)
        if pending:
            await _suspend(out, cfg, SuspendedState(run_id, message_id, conversation, pending,
                                                    step_number))  # fmt: skip
            return
    else:
        conversation = await _start_conversation(out, cfg)

    model = cfg.model
    reason = "tool-calls"
    while step_number < cfg.max_steps:
        step, pending = await _run_step(out, cfg, conversation, message_id, step_number, objects)
        out._steps.append(step)
        reason = step.finish_reason
        if cfg.output_processors:
            await run_output_processors(cfg.output_processors, step, _processor_ctx(out, cfg))
        if cfg.on_step_finish is not None:
            await _maybe_await(cfg.on_step_finish(step))
        step_number += 1
        if pending:
            await _suspend(out, cfg, SuspendedState(run_id, message_id, conversation, pending,
                                                    step_number))  # fmt: skip
            return
        if not step.tool_calls:
            break

    out._finish_reason = reason
    if objects is not None:
        value = objects.finish(run_id)
        out._object = value
        emit({"type": "object-result", "runId": run_id, "from": "AGENT",
              "object": value.model_dump(mode="json")})  # fmt: skip
    total = await out._settle_children()
    if cfg.on_finish is not None:
        await _maybe_await(cfg.on_finish(out))
    out._finish(_finish_chunk(out, model, message_id, reason, total))


def _finish_chunk(
    out: AgentOutput, model: LanguageModel, message_id: str, reason: str, total: Usage
) -> dict[str, Any]:
    return {
        "type": "finish",
        "runId": out.run_id,
        "from": "AGENT",
        "payload": {
            "messageId": message_id,
            "stepResult": {"reason": reason, "isContinued": False},
            "output": {
                "text": out._joined(out._text, 0),
                "toolCalls": out._tool_calls,
                "usage": total,
            },
            "totalUsage": total,
            "metadata": {"modelId": model.model_id, "timestamp": _now_iso(), **out._response},
        },
    }


async def _start_conversation(out: AgentOutput, cfg: LoopConfig) -> list[ModelMessage]:
    system = cfg.instructions
    if callable(system):
        system = await _maybe_await(system(cfg.runtime_context))
    if cfg.output is not None:
        extra = structured_instructions(cfg.output)
        system = f"{system}\n\n{extra}" if system else extra
    conversation: list[ModelMessage] = []
    if system:
        conversation.append({"role": "system", "content": system})
    if cfg.memory is not None:
        conversation.extend(await cfg.memory.load(out))
    messages = cfg.messages
    if cfg.input_processors:
        messages = await run_input_processors(
            cfg.input_processors, list(messages), _processor_ctx(out, cfg)
        )
    conversation.extend(messages)
    return conversation


def _processor_ctx(out: AgentOutput, cfg: LoopConfig) -> ProcessorContext:
    return ProcessorContext(cfg.agent_id, out.run_id, cfg.runtime_context)


async def _suspend(out: AgentOutput, cfg: LoopConfig, state: SuspendedState) -> None:
    """End this stream with status ``suspended``; the run goes on with ``resume``."""
    out._finish_reason = "suspended"
    out._suspended = [
        {"toolCallId": p.tool_call_id, "toolName": p.call["toolName"], "args": p.call["args"],
         "kind": p.kind, "suspendPayload": p.suspend_payload}
        for p in state.pending
    ]  # fmt: skip
    if cfg.on_suspend is not None:
        cfg.on_suspend(state, cfg)
    total = await out._settle_children()
    chunk = _finish_chunk(out, cfg.model, state.message_id, "suspended", total)
    chunk["payload"]["suspended"] = out._suspended
    out._finish(chunk, status="suspended")


async def _resume_calls(
    out: AgentOutput, cfg: LoopConfig, conversation: list[ModelMessage], resume: Resume
) -> list[PendingCall]:
    """Run (or decline) the waiting calls the decisions address; return those still waiting."""
    outcomes: dict[str, dict[str, Any]] = {}
    still: list[PendingCall] = []
    async with asyncio.TaskGroup() as tg:
        for waiting in resume.state.pending:
            decision = resume.decisions.get(waiting.tool_call_id)
            if decision is None:
                still.append(waiting)
            elif decision.action == "decline":
                declined(out, waiting.call, outcomes, decision.resume_data)
            else:
                data: dict[str, Any] = {}
                if decision.action == "resume":
                    data["resume_data"] = decision.resume_data
                tg.create_task(call_tool(out, cfg.setup, waiting.call, outcomes, still, **data))
    for waiting in still:
        if waiting.tool_call_id in resume.decisions:
            continue  # it suspended again just now and said so itself
        # Still waiting from before: say so again, for whoever reads this stream.
        tool = cfg.tools.get(waiting.call["toolName"])
        if waiting.kind == "approval":
            out.emit(approval_chunk(out.run_id, waiting.call, tool))
        else:
            out.emit(suspended_chunk(out.run_id, waiting, tool))
    results = [outcomes[p.tool_call_id] for p in resume.state.pending if p.tool_call_id in outcomes]
    if results:
        _add_tool_results(conversation, results)
        out._response_messages.append({"role": "tool", "content": _result_parts(results)})
    return still


def _result_parts(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"type": "tool-result", "toolCallId": r["toolCallId"], "toolName": r["toolName"],
         "output": r["result"] if "result" in r else {"error": r["error"]},
         "isError": "error" in r}
        for r in results
    ]  # fmt: skip


def _add_tool_results(conversation: list[ModelMessage], results: list[dict[str, Any]]) -> None:
    if not results:
        return
    parts = _result_parts(results)
    last = conversation[-1] if conversation else None
    if last is not None and last["role"] == "tool":
        conversation[-1] = {"role": "tool", "content": [*last["content"], *parts]}
    else:
        conversation.append({"role": "tool", "content": parts})


async def _run_step(
    out: AgentOutput,
    cfg: LoopConfig,
    conversation: list[ModelMessage],
    message_id: str,
    step_number: int,
    objects: ObjectAccumulator | None,
) -> tuple[StepResult, list[PendingCall]]:
    emit = out.emit
    run_id = out.run_id
    model = cfg.model
    emit({"type": "step-start", "runId": run_id, "from": "AGENT",
          "payload": {"messageId": message_id, "request": {}, "warnings": [],
                      "startedAt": _now_ms()}})  # fmt: skip
    text: list[str] = []
    reasoning: list[str] = []
    # One reasoning part per reasoning block: its text pieces and the provider's metadata
    # (Anthropic's thinking signature must go back with the text).
    reasoning_blocks: dict[str, tuple[list[str], dict[str, Any]]] = {}
    calls: list[dict[str, Any]] = []
    outcomes: dict[str, dict[str, Any]] = {}
    pending: list[PendingCall] = []
    usage: Usage | None = None
    reason = "stop"
    metadata: dict[str, Any] = {}
    request: ModelRequest = {"messages": list(conversation), "tools": cfg.tool_specs}
    if objects is not None:
        objects.reset()
        request["options"] = {"responseFormat": {"type": "json", "name": objects.schema.__name__,
                                                 "schema": objects.schema.model_json_schema()}}  # fmt: skip
    model_error: BaseException | None = None
    tasks: list[asyncio.Task[None]] = []
    input_names: dict[str, str] = {}
    # The stretch of text deltas being written (see AgentOutput.text_marks).
    text_part: Any = None
    mark: list[Any] | None = None
    last_delta: dict[str, Any] | None = None

    async with asyncio.TaskGroup() as tg:
        stream = model.stream(request)
        try:
            async for part in stream:
                t = part["type"]
                if t == "text-delta":
                    delta = part["delta"]
                    part_id = part["id"]
                    if part_id != text_part:
                        # A new stretch of deltas (for compact storage): the last one ends
                        # with the delta before, the new one starts here.
                        if mark is not None:
                            mark[3] = last_delta
                        text_part = part_id
                        mark = [len(out._log), len(out._text), part_id, None]
                        out._text_marks.append(mark)
                    text.append(delta)
                    out._text.append(delta)
                    last_delta = {"type": "text-delta", "runId": run_id, "from": "AGENT",
                                  "payload": {"id": part_id, "text": delta}}  # fmt: skip
                    emit(last_delta)
                    if objects is not None:
                        partial = objects.feed(delta)
                        if partial is not None:
                            emit({"type": "object", "runId": run_id, "from": "AGENT",
                                  "object": partial})  # fmt: skip
                            text_part = None  # the next delta starts a new stretch
                elif t == "reasoning-delta":
                    delta = part["delta"]
                    reasoning.append(delta)
                    out._reasoning.append(delta)
                    block = reasoning_blocks.get(part["id"])
                    if block is None:
                        block = reasoning_blocks[part["id"]] = ([], {})
                    block[0].append(delta)
                    emit({"type": "reasoning-delta", "runId": run_id, "from": "AGENT",
                          "payload": {"id": part["id"], "text": delta}})  # fmt: skip
                elif t == "tool-input-delta":
                    emit({"type": "tool-call-delta", "runId": run_id, "from": "AGENT",
                          "payload": {"toolCallId": part["id"],
                                      "toolName": input_names.get(part["id"], ""),
                                      "argsTextDelta": part["delta"]}})  # fmt: skip
                elif t == "reasoning-end" and part.get("providerMetadata"):
                    meta = part["providerMetadata"]
                    reasoning_blocks.setdefault(part["id"], ([], {}))[1].update(meta)
                    emit({"type": t, "runId": run_id, "from": "AGENT",
                          "payload": {"id": part["id"], "providerMetadata": meta}})  # fmt: skip
                elif t in ("text-start", "text-end", "reasoning-start", "reasoning-end"):
                    emit({"type": t, "runId": run_id, "from": "AGENT",
                          "payload": {"id": part["id"]}})  # fmt: skip
                elif t == "tool-input-start":
                    input_names[part["id"]] = part["toolName"]
                    emit({"type": "tool-call-input-streaming-start", "runId": run_id,
                          "from": "AGENT",
                          "payload": {"toolCallId": part["id"], "toolName": part["toolName"]}})  # fmt: skip
                elif t == "tool-input-end":
                    emit({"type": "tool-call-input-streaming-end", "runId": run_id,
                          "from": "AGENT", "payload": {"toolCallId": part["id"]}})  # fmt: skip
                elif t == "tool-call":
                    call = _parse_call(part)
                    calls.append(call)
                    out._tool_calls.append(call)
                    emit({"type": "tool-call", "runId": run_id, "from": "AGENT",
                          "payload": call})  # fmt: skip
                    tool = cfg.tools.get(call["toolName"])
                    if tool is not None and (cfg.require_tool_approval or tool.require_approval):
                        pending.append(PendingCall(call, "approval"))
                        emit(approval_chunk(run_id, call, tool))
                    else:
                        tasks.append(tg.create_task(
                            call_tool(out, cfg.setup, call, outcomes, pending),
                            name=f"tool:{call['toolName']}:{call['toolCallId']}",
                        ))  # fmt: skip
                elif t == "finish":
                    usage = normalize_usage(part.get("usage"))
                    reason = part.get("finishReason") or "stop"
                elif t == "response-metadata":
                    metadata = {k: v for k, v in part.items() if k != "type"}
                elif t in ("source", "file"):
                    emit({"type": t, "runId": run_id, "from": "AGENT",
                          "payload": {k: v for k, v in part.items() if k != "type"}})  # fmt: skip
                elif t == "error":
                    err = part.get("error")
                    raise err if isinstance(err, BaseException) else ModelError(str(err))
        except Exception as exc:
            model_error = exc
            for task in tasks:
                task.cancel()
        finally:
            if mark is not None:
                mark[3] = last_delta
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    if usage is None:
        usage = normalize_usage(None)
    out.add_usage(usage)
    if model_error is not None:
        if isinstance(model_error, RunError) and model_error.run_id is None:
            model_error.run_id = run_id
        raise model_error

    step_text = out._joined(text, len(out._text) - len(text))
    results = [outcomes[c["toolCallId"]] for c in calls if c["toolCallId"] in outcomes]
    continued = bool(calls) and not pending and step_number + 1 < cfg.max_steps
    if metadata:
        out._response = metadata
    emit({"type": "step-finish", "runId": run_id, "from": "AGENT",
          "payload": {
              "messageId": message_id,
              "stepResult": {"reason": reason, "isContinued": continued, "warnings": []},
              "output": {"text": step_text, "toolCalls": calls, "usage": usage},
              "metadata": {"modelId": model.model_id, "timestamp": _now_iso(), **metadata},
          }})  # fmt: skip

    assistant: list[dict[str, Any]] = []
    for pieces, meta in reasoning_blocks.values():
        reasoning_part: dict[str, Any] = {"type": "reasoning", "text": "".join(pieces)}
        if meta:
            reasoning_part["providerMetadata"] = meta
        assistant.append(reasoning_part)
    if step_text:
        assistant.append({"type": "text", "text": step_text})
    for c in calls:
        assistant.append({"type": "tool-call", "toolCallId": c["toolCallId"],
                          "toolName": c["toolName"], "input": c["args"]})  # fmt: skip
    if assistant:
        message: ModelMessage = {"role": "assistant", "content": assistant}
        conversation.append(message)
        out._response_messages.append(message)
    if results:
        _add_tool_results(conversation, results)
        out._response_messages.append({"role": "tool", "content": _result_parts(results)})
    step = StepResult(
        step_number=step_number,
        text=step_text,
        reasoning_text="".join(reasoning),
        tool_calls=calls,
        tool_results=[r for r in results if "result" in r],
        tool_errors=[r for r in results if "error" in r],
        finish_reason=reason,
        usage=usage,
        response=metadata,
    )
    return step, pending


def _parse_call(part: Mapping[str, Any]) -> dict[str, Any]:
    raw = part.get("input", "")
    args: Any
    if isinstance(raw, str):
        try:
            args = orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError:
            args = raw  # kept as text; the tool reports it as invalid JSON
    else:
        args = raw
    return {"toolCallId": part.get("toolCallId") or f"call-{uuid.uuid4().hex[:12]}",
            "toolName": part["toolName"], "args": args}  # fmt: skip
