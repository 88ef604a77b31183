"""The one JSON encoder of the server: orjson, once per chunk or body."""

from __future__ import annotations

from typing import Any

import orjson
import pydantic

__all__ = ("dumps",)


def _default(value: Any) -> Any:
    # A tool may write a pydantic model with writer.write(); the wire wants its JSON form.
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON.

    Raises:
        TypeError: the value holds something that has no JSON form.
    """
    return orjson.dumps(value, default=_default)
