"""How a step or a node ended (:class:`Outcome`), and the stamps of step events.

A step never raises into the engine: its output, its failure or its suspension is an
``Outcome``, so parallel branches finish on their own and only cancellation unwinds.
"""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any, Literal

__all__ = ("Outcome", "OutcomeStatus", "call_id", "now_ms")

OutcomeStatus = Literal["success", "failed", "suspended"]


class Outcome:
    """How a step or a node ended: its output, its error, or its suspend payload.

    ``replayed`` is True when the outcome was taken from the snapshot of an earlier stream
    (a resume), not produced now.
    """

    __slots__ = ("error", "output", "replayed", "status")

    def __init__(
        self,
        status: OutcomeStatus,
        output: Any = None,
        error: BaseException | None = None,
        *,
        replayed: bool = False,
    ) -> None:
        self.status = status
        self.output = output
        self.error = error
        self.replayed = replayed


# stepCallIds: UUID-shaped, unique per process (a random base) and cheap (a counter): a
# uuid4() per step was an eighth of a trivial run's cost.
_CALL_BASE = str(uuid.uuid4())[:24]
_call_counter = itertools.count(1)


def call_id() -> str:
    """A new ``stepCallId``."""
    return f"{_CALL_BASE}{next(_call_counter):012x}"


def now_ms() -> int:
    """Milliseconds since the epoch, as in ``startedAt`` / ``endedAt``."""
    return int(time.time() * 1000)
