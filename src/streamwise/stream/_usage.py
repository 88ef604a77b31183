"""Token usage arithmetic: pure functions over :class:`Usage` dicts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._chunks import Usage

__all__ = ("add_usage", "empty_usage", "normalize_usage")

_KEYS = ("inputTokens", "outputTokens", "totalTokens", "reasoningTokens", "cachedInputTokens")


def empty_usage() -> Usage:
    """A usage of zero tokens."""
    return {
        "inputTokens": 0,
        "outputTokens": 0,
        "totalTokens": 0,
        "reasoningTokens": 0,
        "cachedInputTokens": 0,
    }


def normalize_usage(raw: Mapping[str, Any] | None) -> Usage:
    """A complete :class:`Usage` from a partial one; ``totalTokens`` defaults to input + output."""
    usage = empty_usage()
    if not raw:
        return usage
    for key in _KEYS:
        value = raw.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            usage[key] = value  # type: ignore[literal-required]
    if not isinstance(raw.get("totalTokens"), int):
        usage["totalTokens"] = usage["inputTokens"] + usage["outputTokens"]
    return usage


def add_usage(total: Usage, more: Mapping[str, Any]) -> None:
    """Add ``more`` into ``total`` in place."""
    for key in _KEYS:
        value = more.get(key)
        if value:
            total[key] += value  # type: ignore[literal-required]
