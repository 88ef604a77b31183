"""Structured output: fold text deltas into partial objects, validate the final one.

Pure and synchronous (tested without an event loop): the loop feeds it each text delta of the
answering step and emits an ``object`` chunk whenever the partial object changes, then an
``object-result`` chunk with the validated object (PROTOCOL.md §1, §2).
"""

from __future__ import annotations

from typing import Any

import orjson
import pydantic
import pydantic_core

from ..errors import StructuredOutputError

__all__ = ("ObjectAccumulator", "structured_instructions")

_UNSET: Any = object()


def structured_instructions(schema: type[pydantic.BaseModel]) -> str:
    """The system-prompt addition that asks for JSON fitting ``schema``."""
    return (
        "Answer with one JSON object that fits this JSON Schema, and nothing else "
        "(no prose, no code fences):\n" + orjson.dumps(schema.model_json_schema()).decode()
    )


def _json_start(text: str) -> int:
    # Models sometimes open with a code fence or a word; the object starts at the first brace.
    brace = text.find("{")
    return brace if brace >= 0 else len(text)


class ObjectAccumulator:
    """Partial objects from a growing JSON text, and the validated final object."""

    __slots__ = ("_last", "_parts", "schema")

    def __init__(self, schema: type[pydantic.BaseModel]) -> None:
        self.schema = schema
        self._parts: list[str] = []
        self._last: Any = _UNSET

    def reset(self) -> None:
        """Forget the text so far (a new model step starts)."""
        self._parts.clear()
        self._last = _UNSET

    def feed(self, delta: str) -> Any:
        """Add a delta; return the new partial object, or ``None`` when it did not change."""
        self._parts.append(delta)
        text = "".join(self._parts)
        start = _json_start(text)
        if start >= len(text):
            return None
        try:
            partial = pydantic_core.from_json(text[start:], allow_partial="trailing-strings")
        except ValueError:
            return None
        if partial == self._last:
            return None
        self._last = partial
        return partial

    def finish(self, run_id: str) -> pydantic.BaseModel:
        """The validated object.

        Raises:
            StructuredOutputError: the text is not JSON fitting the schema (says which field).
        """
        text = "".join(self._parts)
        body = text[_json_start(text) :].strip().removesuffix("```").strip()
        try:
            return self.schema.model_validate_json(body)
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(root)"
            raise StructuredOutputError(
                f"the model's answer does not fit {self.schema.__name__}: {where}: {first['msg']}",
                run_id=run_id,
            ) from None
