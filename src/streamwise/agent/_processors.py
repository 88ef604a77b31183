"""Processors: functions that look at a run's input and output and may stop it (guardrails).

An input processor runs once, before the first model call, on the run's new input messages: it
may return rewritten messages, or stop the run with ``ctx.abort(reason)``. An output processor
runs after every model step with the step's :class:`StepResult` and may stop the run the same
way. A stopped run ends with a ``tripwire`` chunk and status ``tripwire`` (PROTOCOL.md §2).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from ..errors import TripwireTriggered
from ..models import ModelMessage
from ._output import StepResult

__all__ = (
    "InputProcessor",
    "OutputProcessor",
    "ProcessorContext",
    "run_input_processors",
    "run_output_processors",
)


@dataclass(slots=True)
class ProcessorContext:
    """What a processor gets besides the messages or the step."""

    agent_id: str
    run_id: str
    runtime_context: Mapping[str, Any] = field(default_factory=dict)

    def abort(
        self, reason: str, *, retry: bool = False, metadata: dict[str, Any] | None = None
    ) -> NoReturn:
        """Stop the run here: it ends with ``tripwire {reason, retry, metadata}``.

        Raises:
            TripwireTriggered: always.
        """
        raise TripwireTriggered(reason, retry=retry, metadata=metadata)


InputProcessor = Callable[
    [list[ModelMessage], ProcessorContext],
    list[ModelMessage] | Awaitable[list[ModelMessage] | None] | None,
]
"""``(messages, ctx) -> messages | None``: None keeps the messages as they are."""

OutputProcessor = Callable[[StepResult, ProcessorContext], Awaitable[None] | None]
"""``(step, ctx) -> None``, called after each model step."""


async def _call(fn: Callable[..., Any], *args: Any) -> Any:
    value = fn(*args)
    if inspect.isawaitable(value):
        value = await value
    return value


async def run_input_processors(
    processors: tuple[InputProcessor, ...], messages: list[ModelMessage], ctx: ProcessorContext
) -> list[ModelMessage]:
    """The input after every processor (each sees the previous one's result)."""
    for processor in processors:
        result = await _call(processor, messages, ctx)
        if result is not None:
            messages = list(result)
    return messages


async def run_output_processors(
    processors: tuple[OutputProcessor, ...], step: StepResult, ctx: ProcessorContext
) -> None:
    """Call every output processor with the step."""
    for processor in processors:
        await _call(processor, step, ctx)
