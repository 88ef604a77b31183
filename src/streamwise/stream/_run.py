"""The output object of a run: one owner task, a replayable chunk log, awaitables (PROTOCOL.md §3).

:class:`RunOutput` is the base of the agent's and the workflow's output objects. It owns:

- the run's **owner task** (named ``run:<runId>``), started at once; the producer coroutine
  appends chunks through :meth:`RunOutput.emit` and does the bookkeeping, whether or not anyone
  reads;
- the **chunk log**: every ``async for`` over the output replays from the first chunk;
- the **nesting tree**: a run started while another run is current (inside a tool or a step) is
  registered as that run's child, so usage adds up once per run at any depth and cancelling a run
  cancels its children;
- the **terminal guarantee**: whatever happens (success, an exception, cancellation, even a
  cancel before the task first ran) exactly one terminal chunk is written and the log is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import sys
import traceback
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator
from typing import Any, Generic, Literal, TypeVar

from ..errors import TripwireTriggered
from ._chunks import Chunk, Usage, error_info, is_data_chunk
from ._log import ChunkLog, LogStatistics
from ._usage import add_usage, empty_usage
from ._writer import ChunkWriter

__all__ = ("Deferred", "RunOutput", "RunStatus", "current_run")

_log = logging.getLogger("streamwise")

RunStatus = Literal["running", "success", "failed", "suspended", "canceled", "tripwire"]
T = TypeVar("T")

_current_run: contextvars.ContextVar[RunOutput | None] = contextvars.ContextVar(
    "streamwise_current_run", default=None
)


def _clear_frames_from(frame_id: int, error: BaseException) -> None:
    """Clear the frames of ``error``'s traceback from the frame ``frame_id`` (a run's ``_own``,
    by ``id``) down to where the error was raised. They are done: the error left them, and
    the run's task is done. The frames before it (readers that raised the error again) may
    still be running: they are left alone (clearing a suspended coroutine's frame closes it).
    """
    tb = error.__traceback__
    while tb is not None:
        if id(tb.tb_frame) == frame_id:
            traceback.clear_frames(tb)
            return
        tb = tb.tb_next


def _find_tripwire(exc: BaseException) -> TripwireTriggered | None:
    """The tripwire behind ``exc``: itself, or one inside an exception group (a TaskGroup)."""
    if isinstance(exc, TripwireTriggered):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _find_tripwire(inner)
            if found is not None:
                return found
    return None


def current_run() -> RunOutput | None:
    """The run whose owner task (or one of its tools or steps) is executing now, if any."""
    return _current_run.get()


class _Finished:
    """Whether a run has ended, and a way to wait for it: the closing of its chunk log.

    Lighter than an ``asyncio.Event`` (no deque per run) and cancel-safe for every waiter.
    """

    __slots__ = ("_log",)

    def __init__(self, log: ChunkLog) -> None:
        self._log = log

    def is_set(self) -> bool:
        return self._log.closed

    def set(self) -> None:
        self._log.close()

    async def wait(self) -> None:
        if not self._log.closed:
            await self._log.wait_closed()


class Deferred(Generic[T]):
    """An awaitable result of a run: waits for the run's end, then returns (or raises)."""

    __slots__ = ("_get", "_run")

    def __init__(self, run: RunOutput, get: Callable[[], T]) -> None:
        self._run = run
        self._get = get

    def __await__(self) -> Generator[Any, None, T]:
        return self._wait().__await__()

    async def _wait(self) -> T:
        await self._run._finished.wait()
        return self._get()


class RunOutput:
    """Base output object: owner task, replayable chunk log, nesting, terminal guarantee."""

    #: ``from`` of the run's own chunks.
    source: str = "AGENT"

    #: How many chunks a run keeps in memory for replay: None (the default) keeps the whole
    #: run; a number bounds memory for very long runs, and readers that fall further behind
    #: get ``ChunkLogTruncatedError`` (PROTOCOL.md §3, DESIGN.md "Backpressure").
    replay_window: int | None = None

    def __init__(
        self,
        *,
        run_id: str | None = None,
        on_chunk: Callable[[Chunk], Any] | None = None,
    ) -> None:
        self.run_id: str = run_id or str(uuid.uuid4())
        self._log = ChunkLog(self.replay_window)
        self._finished = _Finished(self._log)
        self._status: RunStatus = "running"
        self._error: BaseException | None = None
        self._own_usage: Usage = empty_usage()
        self._total_usage: Usage | None = None
        self._children: list[RunOutput] = []
        self._task: asyncio.Task[None] | None = None
        self._terminated = False
        self._end_hooks: list[Callable[[RunOutput], Awaitable[None]]] = []
        self._tripwire: TripwireTriggered | None = None
        self._own_frame = 0  # id of the frame of _own (see there)
        self._producer: Coroutine[Any, Any, None] | None = None
        parent = _current_run.get()
        # The parent holds its children (for usage and cancellation); a child holds its parent
        # weakly, so the tree is no reference cycle and an ended tree is freed at once.
        self._parent: weakref.ref[RunOutput] | None = None
        if parent is not None:
            self._parent = weakref.ref(parent)
            parent._children.append(self)
        self.emit: Callable[[Chunk], None]
        if on_chunk is None:
            self.emit = self._log.append
        else:
            self.emit = self._emit_with_hook(on_chunk)

    def _emit_with_hook(self, hook: Callable[[Chunk], Any]) -> Callable[[Chunk], None]:
        append = self._log.append

        def emit(chunk: Chunk) -> None:
            append(chunk)
            hook(chunk)

        return emit

    # -- owner task ------------------------------------------------------------------------

    def _launch(self, producer: Coroutine[Any, Any, None]) -> None:
        """Start the owner task that runs ``producer`` with this run as the current run."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            producer.close()
            raise RuntimeError(
                "a streamwise run needs a running event loop: call stream() from async code "
                "(or use asyncio.run)"
            ) from None
        ctx = contextvars.copy_context()
        ctx.run(_current_run.set, self)
        self._producer = producer
        task = loop.create_task(self._own(producer), name=f"run:{self.run_id}", context=ctx)
        task.add_done_callback(self._on_task_done)
        self._task = task

    async def _own(self, producer: Coroutine[Any, Any, None]) -> None:
        # Which frame runs the run (its id: a reference would hold the frame), for clearing
        # the frames of its error once it is done (_on_task_done).
        self._own_frame = id(sys._getframe())
        try:
            await producer
        except asyncio.CancelledError:
            await self._cancel_children()
            self._end("canceled", None)
            raise
        except Exception as exc:
            await self._cancel_children()
            tripwire = _find_tripwire(exc)
            if tripwire is not None:
                self._tripwire = tripwire
                self._end("tripwire", None)
            else:
                self._end("failed", exc)
        finally:
            if not self._terminated:
                self._end("failed", RuntimeError("the run ended without a terminal chunk"))
            try:
                for hook in self._end_hooks:
                    try:
                        await hook(self)
                    except Exception:
                        # The run has its terminal chunk already; a failing hook (say, the
                        # database is gone) must not keep the others or the readers waiting.
                        _log.exception("end hook %r of run %s failed", hook, self.run_id)
            finally:
                self._compact()
                self._close()

    def _compact(self) -> None:
        """Once the run has ended and its end hooks ran: let go of the chunks it can rebuild
        (``ChunkLog.compact``). Nothing here; an agent run compacts its text deltas."""

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        # Safety net: a task cancelled before its first step never entered _own, so its
        # producer never started: close it (no "never awaited" warning) and end with abort.
        if not self._terminated:
            if self._producer is not None:
                self._producer.close()
            self._end("canceled", None)
        if not self._finished.is_set():
            self._close()
        # The task's context holds this run (``current_run``) and the run held the task: a
        # cycle that only the collector could free, with every chunk of the run inside it.
        # End hooks are closures that often hold the run too. Dropping these references here
        # lets an ended run (with its chunks) go as soon as its last reader does.
        self._task = None
        self._producer = None
        self._end_hooks = []
        # The same for a failed run: its error's traceback holds the frames that ran it, and
        # their locals hold the run. Those frames are done: cleared, the traceback keeps its
        # lines (what a log shows), not their locals.
        for error in (self._error, self._tripwire):
            if error is not None and self._own_frame:
                _clear_frames_from(self._own_frame, error)

    def add_end_hook(self, hook: Callable[[RunOutput], Awaitable[None]]) -> None:
        """Await ``hook(run)`` when the run ends (after its terminal chunk, before it counts as
        done and readers see the end): where persistence of what arrived belongs. Hooks run on
        success, error and cancellation alike; one that raises does not stop the others."""
        self._end_hooks.append(hook)

    def _end(self, status: RunStatus, error: BaseException | None) -> None:
        """Write the terminal chunk for a run that did not finish normally."""
        if self._terminated:
            return
        self._terminated = True
        self._status = status
        self._error = error
        if self._total_usage is None:
            self._total_usage = self._sum_usage()
        if error is not None:
            chunk = self._error_chunk(error)
        elif self._tripwire is not None:
            chunk = self._tripwire_chunk(self._tripwire)
        else:
            chunk = self._abort_chunk()
        # emit appends before it calls on_chunk, so if on_chunk raises (perhaps the reason we
        # are here) the terminal chunk is in the log all the same.
        with contextlib.suppress(Exception):
            self.emit(chunk)

    def _close(self) -> None:
        self._terminated = True
        self._finished.set()  # closes the log: readers and waiters see the end

    def _finish(self, terminal: Chunk, status: RunStatus = "success") -> None:
        """Write the run's normal terminal chunk (``finish`` / ``workflow-finish``).

        The log closes when the producer returns, after the end hooks.
        """
        self._terminated = True
        self._status = status
        self.emit(terminal)

    def _error_chunk(self, error: BaseException) -> Chunk:
        return {
            "type": "error",
            "runId": self.run_id,
            "from": self.source,
            "payload": {"error": error_info(error)},
        }

    def _abort_chunk(self) -> Chunk:
        return {"type": "abort", "runId": self.run_id, "from": self.source, "payload": {}}

    def _tripwire_chunk(self, tripwire: TripwireTriggered) -> Chunk:
        return {"type": "tripwire", "runId": self.run_id, "from": self.source,
                "payload": {"reason": tripwire.reason, "retry": tripwire.retry,
                            "metadata": tripwire.metadata}}  # fmt: skip

    # -- nesting and usage -------------------------------------------------------------------

    async def _settle_children(self) -> Usage:
        """Wait for nested runs still going, then return and keep this run's total usage."""
        for child in list(self._children):
            if not child._finished.is_set():
                await child._finished.wait()
        self._total_usage = self._sum_usage()
        return self._total_usage

    def _sum_usage(self) -> Usage:
        total = dict(self._own_usage)
        for child in self._children:
            add_usage(total, child._total_usage or child._sum_usage())  # type: ignore[arg-type]
        return total  # type: ignore[return-value]

    async def _cancel_children(self) -> None:
        pending = [c for c in self._children if not c._finished.is_set()]
        for child in pending:
            child.cancel()
        for child in pending:
            await child._finished.wait()

    def add_usage(self, usage: Usage) -> None:
        """Count ``usage`` as this run's own (a model call made by the run)."""
        add_usage(self._own_usage, usage)

    @property
    def children(self) -> tuple[RunOutput, ...]:
        """The runs started inside this run (by its tools or steps)."""
        return tuple(self._children)

    @property
    def parent(self) -> RunOutput | None:
        """The run this run was started inside, if any (None too once nothing holds that run)."""
        return None if self._parent is None else self._parent()

    # -- reading ---------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return self._log.read(0)

    @property
    def full_stream(self) -> AsyncIterator[Chunk]:
        """Every chunk of the run from the first, then live until the terminal chunk."""
        return self._log.read(0)

    def read(self, offset: int = 0) -> AsyncIterator[Chunk]:
        """Every chunk from ``offset`` on (replay), then live until the terminal chunk."""
        return self._log.read(offset)

    @property
    def chunks(self) -> list[Chunk]:
        """The chunks written so far (a copy)."""
        return self._log.snapshot()

    @property
    def chunk_count(self) -> int:
        """How many chunks the run has written so far (the offset of the next one)."""
        return len(self._log)

    def chunks_between(self, start: int, stop: int) -> list[Chunk]:
        """The chunks ``start..stop-1`` (those held: see :meth:`chunks_from`).

        Raises:
            ChunkLogTruncatedError: ``start`` has left the replay window.
        """
        return self._log.between(start, stop)

    def on_chunks_dropped(self, hook: Callable[[int, int], None] | None) -> None:
        """Call ``hook(start, stop)`` just before the chunks ``start..stop-1`` leave the replay
        window (:attr:`replay_window`), while :meth:`chunks_between` can still read them (the
        run's event log packs them then). One hook per run; None removes it."""
        self._log.on_drop = hook

    def chunk_at(self, offset: int) -> Chunk | None:
        """The chunk at ``offset``, or None when it is not (or no longer) held."""
        return self._log.at(offset)

    def chunks_from(self, offset: int) -> list[Chunk]:
        """The chunks written so far from ``offset`` on (a copy of that slice only): what a
        persister reads while the run goes on, without a hook on the hot path."""
        return self._log.snapshot(offset)

    async def pipe_to(self, writer: ChunkWriter) -> None:
        """Forward every chunk of this run into ``writer`` (nested streaming, PROTOCOL.md §5).

        ``data-*`` chunks go through ``writer.custom`` so they surface at the top level from any
        depth; every other chunk is wrapped whole by ``writer.write``.
        """
        write = writer.write
        async for chunk in self._log.read(0):
            if is_data_chunk(chunk):
                await writer.custom(chunk)
            else:
                await write(chunk)

    def statistics(self) -> LogStatistics:
        """How many chunks the run holds and how many readers wait (PROTOCOL.md §3)."""
        return self._log.statistics()

    # -- control and results -----------------------------------------------------------------

    def cancel(self) -> bool:
        """Cancel the run, its running tools or steps and its nested runs; it ends with abort.

        Returns False when the run had already ended.
        """
        if self._task is None or self._task.done():
            return False
        self._task.cancel()
        return True

    @property
    def done(self) -> bool:
        """True once the run has written its terminal chunk."""
        return self._finished.is_set()

    async def wait(self) -> None:
        """Wait until the run has ended (never raises for a failed run)."""
        await self._finished.wait()

    @property
    def status(self) -> Awaitable[RunStatus]:
        """``success``, ``failed``, ``suspended`` or ``canceled`` once the run ended."""
        return Deferred(self, lambda: self._status)

    @property
    def tripwire(self) -> Awaitable[dict[str, Any] | None]:
        """``{reason, retry, metadata}`` when a tripwire stopped the run, else None."""
        return Deferred(self, self._tripwire_value)

    def _tripwire_value(self) -> dict[str, Any] | None:
        t = self._tripwire
        return None if t is None else {"reason": t.reason, "retry": t.retry, "metadata": t.metadata}

    @property
    def error(self) -> Awaitable[BaseException | None]:
        """The error a failed run ended with, or None."""
        return Deferred(self, lambda: self._error)

    @property
    def usage(self) -> Awaitable[Usage]:
        """Total usage of this run and every nested run, each counted once."""
        return Deferred(self, self._usage_value)

    @property
    def total_usage(self) -> Awaitable[Usage]:
        """The same as :attr:`usage`: this run's model calls plus every nested run's."""
        return Deferred(self, self._usage_value)

    def _usage_value(self) -> Usage:
        self._raise_if_failed()
        return self._total_usage or self._sum_usage()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error
