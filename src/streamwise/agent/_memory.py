"""The agent's memory hooks, as a Protocol: storage implements them, the agent only calls them.

``agent.stream(messages, memory={"thread": id, "resource": id})`` asks the agent's
:class:`Memory` (set by the ``Streamwise`` app from its storage) for a :class:`MemorySession`.
The session loads the thread's history before the first model call (``load``) and persists what
arrived when the run ends (``end``, a run end hook: on success, error and cancellation alike).
"""

from __future__ import annotations

from typing import Protocol, Required, TypedDict

from ..models import ModelMessage
from ..stream import RunOutput

__all__ = ("DEFAULT_LAST_MESSAGES", "Memory", "MemoryOptions", "MemorySession")

DEFAULT_LAST_MESSAGES = 20
"""How many of the thread's latest messages are loaded when ``last_messages`` is not given."""


class MemoryOptions(TypedDict, total=False):
    """``memory=`` of ``agent.stream()``: which conversation the run belongs to."""

    thread: Required[str]
    """The thread id (created if new)."""
    resource: str
    """Who owns the thread (a user, an account…)."""
    last_messages: int
    """How many of the thread's latest messages go into the model's context (default 20)."""


class MemorySession(Protocol):
    """One run's link to memory. Nothing is called per chunk: the session reads what it needs
    from the run's own chunk log (``run.chunks_from(offset)``), so memory costs the hot path
    nothing."""

    async def load(self, run: RunOutput) -> list[ModelMessage]:
        """Store the run's input and return the history to put before it (may be empty).

        Called by the loop before the first model call, after the ``start`` chunk.
        """
        ...

    async def end(self, run: RunOutput) -> None:
        """Persist what the run produced (a run end hook: called once, after its terminal
        chunk, on success, error and cancellation alike)."""
        ...


class Memory(Protocol):
    """Where an agent's runs are remembered (``streamwise.storage`` implements it)."""

    def session(
        self,
        *,
        agent_id: str,
        run_id: str,
        options: MemoryOptions | None,
        messages: list[ModelMessage],
        continues: bool = False,
    ) -> MemorySession | None:
        """A session for a run starting now, or None when there is nothing to record.

        ``continues``: the run ran before and goes on in a new stream (approval, resume data);
        ``load`` then records that and returns no history.

        Raises:
            Exception: invalid ``options`` (a bad thread id…), at once.
        """
        ...
