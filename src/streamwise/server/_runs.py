"""The server's registry of recent runs: what ``observe`` replays and ``cancel`` stops.

It also keeps every run it holds alive: asyncio keeps only weak references to tasks, and a run
whose client went away must still finish (PROTOCOL.md §7). Retention is bounded: past
``max_runs`` the oldest *finished* runs are dropped first; running runs are never dropped.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from ..stream import RunOutput

__all__ = ("RunRegistry", "RunRegistryStatistics")


@dataclass(frozen=True, slots=True)
class RunRegistryStatistics:
    """How many runs the registry holds and how many of them are still running."""

    runs: int
    running: int
    max_runs: int


class RunRegistry:
    """Recent runs by run id, bounded (see the module docstring)."""

    __slots__ = ("_max", "_runs")

    def __init__(self, max_runs: int) -> None:
        self._max = max_runs
        self._runs: OrderedDict[str, tuple[str, RunOutput]] = OrderedDict()

    def add(self, owner: str, run: RunOutput) -> None:
        """Hold ``run`` (the latest stream of its run id), owned by an agent or workflow id."""
        self._runs.pop(run.run_id, None)
        self._runs[run.run_id] = (owner, run)
        self._evict()

    def get(self, owner: str, run_id: str) -> RunOutput | None:
        """The run with this id, if it is held and belongs to ``owner``."""
        entry = self._runs.get(run_id)
        if entry is None or entry[0] != owner:
            return None
        return entry[1]

    def is_running(self, run_id: str) -> bool:
        """True when a run with this id is held and has not ended."""
        entry = self._runs.get(run_id)
        return entry is not None and not entry[1].done

    def _evict(self) -> None:
        excess = len(self._runs) - self._max
        if excess <= 0:
            return
        for run_id in [k for k, (_, run) in self._runs.items() if run.done][:excess]:
            del self._runs[run_id]

    def statistics(self) -> RunRegistryStatistics:
        """A snapshot of the registry's size."""
        running = sum(1 for _, run in self._runs.values() if not run.done)
        return RunRegistryStatistics(len(self._runs), running, self._max)
