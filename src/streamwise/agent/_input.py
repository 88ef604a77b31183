"""Normalise what callers pass to ``agent.stream()`` into model messages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ConfigurationError
from ..models import ModelMessage

__all__ = ("AgentInput", "to_messages")

AgentInput = str | Sequence[str] | Sequence[Mapping[str, Any]]
"""A prompt, a list of prompts, or a list of ``{role, content}`` messages."""

_ROLES = frozenset({"system", "user", "assistant", "tool"})


def to_messages(value: Any) -> list[ModelMessage]:
    """The messages for the model.

    Raises:
        ConfigurationError: anything but a string, a list of strings or of ``{role, content}``.
    """
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if not isinstance(value, Sequence) or isinstance(value, bytes):
        raise ConfigurationError(
            "agent input must be a string, a list of strings or a list of {role, content} "
            f"messages, got {type(value).__name__}"
        )
    messages: list[ModelMessage] = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            messages.append({"role": "user", "content": item})
            continue
        if not isinstance(item, Mapping):
            raise ConfigurationError(
                f"message {i} must be a string or a {{role, content}} dict, got {type(item).__name__}"
            )
        role = item.get("role")
        if role not in _ROLES:
            raise ConfigurationError(
                f"message {i} has role {role!r}; expected one of {', '.join(sorted(_ROLES))}"
            )
        content = item.get("content")
        if not isinstance(content, str | list):
            raise ConfigurationError(
                f"message {i} ({role}) needs 'content' as a string or a list of parts"
            )
        messages.append({"role": role, "content": content})
    if not messages:
        raise ConfigurationError("agent input is empty: give a prompt or at least one message")
    return messages
