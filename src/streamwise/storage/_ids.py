"""Id validation: ids come from clients (thread, resource, run ids), so they are checked once here."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidIdError

__all__ = ("MAX_ID_LENGTH", "check_id")

MAX_ID_LENGTH = 255
"""The longest id accepted, in characters."""


def check_id(value: Any, what: str) -> str:
    """Return ``value`` if it is a usable id.

    Raises:
        InvalidIdError: not a string, empty, longer than :data:`MAX_ID_LENGTH`, or containing a
            control character.
    """
    if not isinstance(value, str):
        raise InvalidIdError(f"{what} must be a string, got {type(value).__name__}")
    if not value:
        raise InvalidIdError(f"{what} must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidIdError(
            f"{what} is {len(value)} characters long; the limit is {MAX_ID_LENGTH}"
        )
    if not value.isprintable():
        raise InvalidIdError(f"{what} {value!r} contains a control character")
    return value
