"""The agent loop: model step → tool calls (concurrently) → results → next step (PROTOCOL.md §2).

This is the hot path. Each model stream part becomes at most one chunk, built inline below with
the keys of the protocol table, appended to the run's log, and folded into the run's state.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import pydantic

from ..errors import ModelError, RunError, UnknownToolError
from ..models import LanguageModel, ModelMessage, ModelRequest, ToolSpec
from ..stream import ToolOutputWriter, Usage, error_info, normalize_usage
from ..tools import AppRegistry, Tool, ToolContext
from ._memory import MemorySession
from ._output import AgentOutput, StepResult
from ._structured import ObjectAccumulator, structured_instructions

__all__ = ("LoopConfig", "run_agent")


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
    memory: MemorySession | None = None


async def run_agent(out: AgentOutput, cfg: LoopConfig) -> None:
    """Produce every chunk of one agent run into ``out``; the owner task runs this."""
    emit = out.emit
    run_id = out.run_id
    message_id = str(uuid.uuid4())
    emit(
        {
            "type": "start",
            "runId": run_id,
            "from": "AGENT",
            "payload": {"id": cfg.agent_id, "messageId": message_id},
        }
    )

    system = cfg.instructions
    if callable(system):
        system = await _maybe_await(system(cfg.runtime_context))
    objects = ObjectAccumulator(cfg.output) if cfg.output is not None else None
    if cfg.output is not None:
        extra = structured_instructions(cfg.output)
        system = f"{system}\n\n{extra}" if system else extra
    conversation: list[ModelMessage] = []
    if system:
        conversation.append({"role": "system", "content": system})
    if cfg.memory is not None:
        conversation.extend(await cfg.memory.load(out))
    conversation.extend(cfg.messages)

    model = cfg.model
    reason = "stop"
    step_number = 0
    while True:
        step = await _run_step(out, cfg, model, conversation, message_id, step_number, objects)
        out._steps.append(step)
        reason = step.finish_reason
        if cfg.on_step_finish is not None:
            await _maybe_await(cfg.on_step_finish(step))
        step_number += 1
        if not step.tool_calls or step_number >= cfg.max_steps:
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
    out._finish(
        {
            "type": "finish",
            "runId": run_id,
            "from": "AGENT",
            "payload": {
                "messageId": message_id,
                "stepResult": {"reason": reason, "isContinued": False},
                "output": {
                    "text": "".join(out._text),
                    "toolCalls": out._tool_calls,
                    "usage": total,
                },
                "totalUsage": total,
                "metadata": {"modelId": model.model_id, "timestamp": _now_iso(), **out._response},
            },
        }
    )


async def _run_step(
    out: AgentOutput,
    cfg: LoopConfig,
    model: LanguageModel,
    conversation: list[ModelMessage],
    message_id: str,
    step_number: int,
    objects: ObjectAccumulator | None,
) -> StepResult:
    emit = out.emit
    run_id = out.run_id
    emit(
        {
            "type": "step-start",
            "runId": run_id,
            "from": "AGENT",
            "payload": {
                "messageId": message_id,
                "request": {},
                "warnings": [],
                "startedAt": _now_ms(),
            },
        }
    )
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    outcomes: dict[str, dict[str, Any]] = {}
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

    async with asyncio.TaskGroup() as tg:
        stream = model.stream(request)
        try:
            async for part in stream:
                t = part["type"]
                if t == "text-delta":
                    delta = part["delta"]
                    text.append(delta)
                    out._text.append(delta)
                    emit(
                        {
                            "type": "text-delta",
                            "runId": run_id,
                            "from": "AGENT",
                            "payload": {"id": part["id"], "text": delta},
                        }
                    )
                    if objects is not None:
                        partial = objects.feed(delta)
                        if partial is not None:
                            emit({"type": "object", "runId": run_id, "from": "AGENT",
                                  "object": partial})  # fmt: skip
                elif t == "reasoning-delta":
                    delta = part["delta"]
                    reasoning.append(delta)
                    out._reasoning.append(delta)
                    emit(
                        {
                            "type": "reasoning-delta",
                            "runId": run_id,
                            "from": "AGENT",
                            "payload": {"id": part["id"], "text": delta},
                        }
                    )
                elif t == "tool-input-delta":
                    emit(
                        {
                            "type": "tool-call-delta",
                            "runId": run_id,
                            "from": "AGENT",
                            "payload": {
                                "toolCallId": part["id"],
                                "toolName": input_names.get(part["id"], ""),
                                "argsTextDelta": part["delta"],
                            },
                        }
                    )
                elif t in ("text-start", "text-end", "reasoning-start", "reasoning-end"):
                    emit(
                        {"type": t, "runId": run_id, "from": "AGENT", "payload": {"id": part["id"]}}
                    )
                elif t == "tool-input-start":
                    input_names[part["id"]] = part["toolName"]
                    emit(
                        {
                            "type": "tool-call-input-streaming-start",
                            "runId": run_id,
                            "from": "AGENT",
                            "payload": {"toolCallId": part["id"], "toolName": part["toolName"]},
                        }
                    )
                elif t == "tool-input-end":
                    emit(
                        {
                            "type": "tool-call-input-streaming-end",
                            "runId": run_id,
                            "from": "AGENT",
                            "payload": {"toolCallId": part["id"]},
                        }
                    )
                elif t == "tool-call":
                    call = _parse_call(part)
                    calls.append(call)
                    out._tool_calls.append(call)
                    emit({"type": "tool-call", "runId": run_id, "from": "AGENT", "payload": call})
                    tasks.append(
                        tg.create_task(
                            _call_tool(out, cfg, call, outcomes),
                            name=f"tool:{call['toolName']}:{call['toolCallId']}",
                        )
                    )
                elif t == "finish":
                    usage = normalize_usage(part.get("usage"))
                    reason = part.get("finishReason") or "stop"
                elif t == "response-metadata":
                    metadata = {k: v for k, v in part.items() if k != "type"}
                elif t == "source":
                    emit(
                        {
                            "type": "source",
                            "runId": run_id,
                            "from": "AGENT",
                            "payload": {k: v for k, v in part.items() if k != "type"},
                        }
                    )
                elif t == "file":
                    emit(
                        {
                            "type": "file",
                            "runId": run_id,
                            "from": "AGENT",
                            "payload": {k: v for k, v in part.items() if k != "type"},
                        }
                    )
                elif t == "error":
                    err = part.get("error")
                    raise err if isinstance(err, BaseException) else ModelError(str(err))
        except Exception as exc:
            model_error = exc
            for task in tasks:
                task.cancel()
        finally:
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

    step_text = "".join(text)
    results = [outcomes[c["toolCallId"]] for c in calls if c["toolCallId"] in outcomes]
    ok = [r for r in results if "result" in r]
    errors = [r for r in results if "error" in r]
    continued = bool(calls) and step_number + 1 < cfg.max_steps
    if metadata:
        out._response = metadata
    emit(
        {
            "type": "step-finish",
            "runId": run_id,
            "from": "AGENT",
            "payload": {
                "messageId": message_id,
                "stepResult": {"reason": reason, "isContinued": continued, "warnings": []},
                "output": {"text": step_text, "toolCalls": calls, "usage": usage},
                "metadata": {"modelId": model.model_id, "timestamp": _now_iso(), **metadata},
            },
        }
    )

    assistant: list[dict[str, Any]] = []
    if reasoning:
        assistant.append({"type": "reasoning", "text": "".join(reasoning)})
    if step_text:
        assistant.append({"type": "text", "text": step_text})
    for c in calls:
        assistant.append(
            {
                "type": "tool-call",
                "toolCallId": c["toolCallId"],
                "toolName": c["toolName"],
                "input": c["args"],
            }
        )
    new_messages: list[ModelMessage] = []
    if assistant:
        new_messages.append({"role": "assistant", "content": assistant})
    if results:
        new_messages.append(
            {
                "role": "tool",
                "content": [
                    {
                        "type": "tool-result",
                        "toolCallId": r["toolCallId"],
                        "toolName": r["toolName"],
                        "output": r["result"] if "result" in r else {"error": r["error"]},
                        "isError": "error" in r,
                    }
                    for r in results
                ],
            }
        )
    conversation.extend(new_messages)
    out._response_messages.extend(new_messages)
    return StepResult(
        step_number=step_number,
        text=step_text,
        reasoning_text="".join(reasoning),
        tool_calls=calls,
        tool_results=ok,
        tool_errors=errors,
        finish_reason=reason,
        usage=usage,
        response=metadata,
    )


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
    return {
        "toolCallId": part.get("toolCallId") or f"call-{uuid.uuid4().hex[:12]}",
        "toolName": part["toolName"],
        "args": args,
    }


async def _call_tool(
    out: AgentOutput,
    cfg: LoopConfig,
    call: dict[str, Any],
    outcomes: dict[str, dict[str, Any]],
) -> None:
    """Run one tool call; every outcome but cancellation becomes a chunk the model will see."""
    emit = out.emit
    name = call["toolName"]
    call_id = call["toolCallId"]
    writer = ToolOutputWriter(emit, run_id=out.run_id, tool_call_id=call_id, tool_name=name)
    try:
        tool = cfg.tools.get(name)
        if tool is None:
            raise UnknownToolError(
                f"the model called tool {name!r}, which agent {cfg.agent_id!r} does not have; "
                f"its tools: {', '.join(sorted(cfg.tools)) or '(none)'}"
            )
        ctx = ToolContext(
            writer=writer,
            run_id=out.run_id,
            tool_call_id=call_id,
            tool_name=name,
            runtime_context=cfg.runtime_context,
            agent_id=cfg.agent_id,
            registry=cfg.registry,
        )
        result = await tool.run(call["args"], ctx)
    except Exception as exc:
        writer.close()
        info = error_info(exc)
        outcome: dict[str, Any] = {
            "toolCallId": call_id,
            "toolName": name,
            "error": info,
            "args": call["args"],
        }
        outcomes[call_id] = outcome
        emit({"type": "tool-error", "runId": out.run_id, "from": "AGENT", "payload": outcome})
        return
    writer.close()
    outcome = {"toolCallId": call_id, "toolName": name, "result": result, "args": call["args"]}
    outcomes[call_id] = outcome
    out._tool_results.append(outcome)
    emit({"type": "tool-result", "runId": out.run_id, "from": "AGENT", "payload": outcome})
