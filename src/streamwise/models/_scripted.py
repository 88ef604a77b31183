"""ScriptedModel: a deterministic model for tests, demos and benchmarks (public API).

Each call to the model plays one *turn*::

    {"text": "Hello there",            # streamed in pieces of chunk_size characters
     "reasoning": "thinking…",          # streamed before the text
     "tool_calls": [{"name": "search", "args": {"q": "x"}, "id": "call-1"}],
     "usage": {"inputTokens": 5, "outputTokens": 3},
     "chunk_size": 4,                   # characters per delta (default: word by word)
     "delay": 0.01,                     # seconds before each delta
     "error": "boom"}                   # raise after the text

``text`` (and ``reasoning``) may also be a list of strings: one delta each, exactly.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, NotRequired, TypedDict

import orjson

from ..errors import ConfigurationError, ModelError, ScriptExhaustedError
from ._base import ModelMessage, ModelPart, ModelRequest

__all__ = ("ScriptedModel", "ScriptedToolCall", "Turn")


class ScriptedToolCall(TypedDict):
    """A tool call the scripted model makes: ``args`` are sent as streamed JSON."""

    name: str
    args: Any
    id: NotRequired[str]


class Turn(TypedDict, total=False):
    """One scripted model call. Every key is optional."""

    text: str | list[str]
    reasoning: str | list[str]
    tool_calls: list[ScriptedToolCall]
    usage: dict[str, int]
    chunk_size: int
    delay: float
    error: str
    finish_reason: str


_TURN_KEYS = frozenset(Turn.__annotations__)
_WORDS = re.compile(r"\S+\s*|\s+")


def _pieces(text: str | list[str], chunk_size: int | None) -> list[str]:
    if isinstance(text, list):
        return text
    if chunk_size is None:
        return _WORDS.findall(text)
    return [text[i : i + chunk_size] for i in range(0, len(text), chunk_size)]


class ScriptedModel:
    """A model that plays scripted turns, in order, or computes each from the messages.

    Args:
        turns: a list of turns (played in order, one per model call; a clear error when it runs
            out) or a callable ``(messages) -> turn``.
        model_id: the model id reported in metadata.
    """

    provider = "scripted"

    def __init__(
        self,
        turns: Sequence[Turn] | Callable[[list[ModelMessage]], Turn],
        *,
        model_id: str = "scripted",
    ) -> None:
        if callable(turns):
            self._script: Callable[[list[ModelMessage]], Turn] | None = turns
            self._turns: list[Turn] = []
        else:
            self._script = None
            self._turns = list(turns)
            for i, turn in enumerate(self._turns):
                _check_turn(turn, i)
        self._model_id = model_id
        self.calls: list[ModelRequest] = []
        """Every request the model received, in order (for assertions in tests)."""
        self._next = 0

    @property
    def model_id(self) -> str:
        """The model id reported in ``step-finish`` metadata."""
        return self._model_id

    def _take(self, request: ModelRequest) -> Turn:
        if self._script is not None:
            turn = self._script(request["messages"])
            _check_turn(turn, len(self.calls) - 1)
            return turn
        if self._next >= len(self._turns):
            raise ScriptExhaustedError(
                f"ScriptedModel {self._model_id!r} was called {self._next + 1} times but has "
                f"only {len(self._turns)} turn(s); add turns or lower max_steps"
            )
        turn = self._turns[self._next]
        self._next += 1
        return turn

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelPart]:
        """Play the next turn as stream parts."""
        self.calls.append(request)
        turn = self._take(request)
        n = len(self.calls)
        chunk_size = turn.get("chunk_size")
        delay = turn.get("delay", 0.0)
        yield {"type": "response-metadata", "id": f"resp-{n}", "modelId": self._model_id}
        reasoning = turn.get("reasoning")
        if reasoning:
            rid = f"r{n}"
            yield {"type": "reasoning-start", "id": rid}
            for piece in _pieces(reasoning, chunk_size):
                if delay:
                    await asyncio.sleep(delay)
                yield {"type": "reasoning-delta", "id": rid, "delta": piece}
            yield {"type": "reasoning-end", "id": rid}
        text = turn.get("text")
        if text:
            tid = f"t{n}"
            yield {"type": "text-start", "id": tid}
            for piece in _pieces(text, chunk_size):
                if delay:
                    await asyncio.sleep(delay)
                yield {"type": "text-delta", "id": tid, "delta": piece}
            yield {"type": "text-end", "id": tid}
        if "error" in turn:
            raise ModelError(turn["error"])
        calls = turn.get("tool_calls") or []
        for i, call in enumerate(calls):
            call_id = call.get("id") or f"call-{n}-{i}"
            args = call.get("args", {})
            raw = args if isinstance(args, str) else orjson.dumps(args).decode()
            yield {"type": "tool-input-start", "id": call_id, "toolName": call["name"]}
            if delay:
                await asyncio.sleep(delay)
            yield {"type": "tool-input-delta", "id": call_id, "delta": raw}
            yield {"type": "tool-input-end", "id": call_id}
            yield {
                "type": "tool-call",
                "toolCallId": call_id,
                "toolName": call["name"],
                "input": raw,
            }
        usage = turn.get("usage") or {"inputTokens": 0, "outputTokens": 0}
        reason = turn.get("finish_reason") or ("tool-calls" if calls else "stop")
        yield {"type": "finish", "finishReason": reason, "usage": dict(usage)}


def _check_turn(turn: Any, index: int) -> None:
    if not isinstance(turn, dict):
        raise ConfigurationError(f"turn {index} of a ScriptedModel must be a dict, got {turn!r}")
    unknown = set(turn) - _TURN_KEYS
    if unknown:
        raise ConfigurationError(
            f"turn {index} of a ScriptedModel has unknown keys {sorted(unknown)}; "
            f"known: {sorted(_TURN_KEYS)}"
        )
    for call in turn.get("tool_calls") or []:
        if not isinstance(call, dict) or "name" not in call:
            raise ConfigurationError(f"turn {index}: each tool call needs a 'name': {call!r}")
