"""``StoreMemory``: the agent's memory hooks (``streamwise.agent.Memory``) over a :class:`Store`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..agent import DEFAULT_LAST_MESSAGES, AgentOutput, MemoryOptions
from ..errors import ConfigurationError
from ..models import ModelMessage
from ..stream import Chunk, RunOutput
from ._events import Row, RunEvents, pack_chunks, stretch_packer, text_refs
from ._history import to_model_messages, user_parts
from ._ids import check_id
from ._recorder import MessageRecorder
from ._records import MessageInput
from ._store import Store
from ._threads import assistant_input

__all__ = ("StoreMemory", "StoreMemorySession")


class StoreMemory:
    """Agent memory in a store.

    Args:
        store: the store, or a function returning it (opened lazily on first use).
        record_runs: also record runs that have no ``memory=`` (status and event log).
    """

    def __init__(self, store: Store | Callable[[], Store], *, record_runs: bool = True) -> None:
        self._store = store
        self.record_runs = record_runs

    @property
    def store(self) -> Store:
        """The store (created on first access when given as a function)."""
        store = self._store
        if not isinstance(store, Store):
            store = self._store = store()
        return store

    def session(
        self,
        *,
        agent_id: str,
        run_id: str,
        options: MemoryOptions | None,
        messages: list[ModelMessage],
        continues: bool = False,
    ) -> StoreMemorySession | None:
        """A session recording the run (None when there is no thread and runs are not recorded).

        With ``continues``, the run already ran and goes on in a new stream (after approval or
        resume data): its log continues and the new answer is stored after the first.
        """
        if options is None and not self.record_runs:
            return None
        return StoreMemorySession(
            self.store,
            agent_id=agent_id,
            run_id=run_id,
            options=options,
            messages=messages,
            continues=continues,
        )


class StoreMemorySession:
    """One run's recording: its event log, its messages, its row in ``runs``."""

    __slots__ = (
        "_base",
        "_continues",
        "_events",
        "_input",
        "_last",
        "_recorder",
        "_store",
        "agent_id",
        "resource_id",
        "run_id",
        "thread_id",
    )

    def __init__(
        self,
        store: Store,
        *,
        agent_id: str,
        run_id: str,
        options: MemoryOptions | None,
        messages: list[ModelMessage],
        continues: bool = False,
    ) -> None:
        self._store = store
        self._continues = continues
        self._base = 0  # where this stream's chunks start in the run's log
        self.agent_id = agent_id
        self.run_id = check_id(run_id, "run id")
        self.thread_id: str | None = None
        self.resource_id: str | None = None
        self._last = DEFAULT_LAST_MESSAGES
        self._input: list[MessageInput] = []
        if options is not None:
            if not isinstance(options, dict) or "thread" not in options:
                raise ConfigurationError(
                    f'memory= takes {{"thread": id, "resource": id?, "last_messages": n?}}, got {options!r}'
                )
            self.thread_id = check_id(options["thread"], "memory thread id")
            resource = options.get("resource")
            self.resource_id = (
                check_id(resource, "memory resource id") if resource is not None else None
            )
            last: Any = options.get("last_messages", DEFAULT_LAST_MESSAGES)
            if not isinstance(last, int) or isinstance(last, bool) or last < 0:
                raise ConfigurationError(f"memory last_messages must be an int ≥ 0, got {last!r}")
            self._last = last
            self._input = [
                {"role": m["role"], "content": user_parts(m["content"]), "runId": run_id}
                for m in messages
                if m["role"] in ("user", "system")
            ]
        self._events: RunEvents | None = None
        self._recorder: MessageRecorder | None = None

    async def load(self, run: RunOutput) -> list[ModelMessage]:
        """Open the store, record the run, store the input, return the thread's history; the
        run's chunks are logged from now on (read from its chunk log, off the hot path), and
        folded into its answer as each batch is written."""
        store = self._store
        await store.open()
        self._recorder = MessageRecorder(run_id=self.run_id)
        if self._continues:
            base = await store.continue_agent_run(
                self.run_id,
                agent_id=self.agent_id,
                thread_id=self.thread_id,
                resource_id=self.resource_id,
            )
            self._base = base
            # One answer, in its place: the stored start of the run is folded first.
            stored = await store.read_events(self.run_id, 0)
            self._recorder.feed_many(pack_chunks(stored[:base]))
            self._attach(run, base)
            return []  # the conversation goes on from the suspended state
        history = await store.begin_agent_run(
            self.run_id,
            agent_id=self.agent_id,
            thread_id=self.thread_id,
            resource_id=self.resource_id,
            last_messages=self._last,
            messages=self._input,
        )
        # Logged from its first chunk on, once its start is queued: a run refused or cancelled
        # before that leaves nothing behind (no event rows without their run).
        self._attach(run, 0)
        return to_model_messages(history)

    def _attach(self, run: RunOutput, base: int) -> None:
        assert self._recorder is not None
        events = self._events = _run_events(self.run_id, run, base, self._recorder.feed_many)
        # Chunks that leave a bounded replay window are packed before they go.
        run.on_chunks_dropped(lambda start, stop: events.stash(start + base, stop + base))
        self._store.events.attach(events)

    async def end(self, run: RunOutput) -> None:
        """Flush the event log, store the assistant message (partial unless it finished)."""
        events = self._events
        if events is None:
            return  # the store never opened (the run failed on that): nothing to finish
        store = self._store
        recorder = self._recorder
        assert recorder is not None

        async def write(rows: list[Row], items: list[Any]) -> None:
            # The batches written while the run went on are folded already; these are the last.
            recorder.feed_many(items)
            recorder.finish()
            message = None
            if self.thread_id is not None and recorder.has_content():
                message = assistant_input(recorder)
            await store.end_agent_run(
                self.run_id,
                status=recorder.status,
                thread_id=self.thread_id,
                resource_id=self.resource_id,
                message=message,
                event_rows=rows,
                replace_message=self._continues,
            )

        try:
            await store.events.finish(events, write)
        finally:
            run.on_chunks_dropped(None)


def _run_events(
    run_id: str, run: RunOutput, base: int, on_written: Callable[[list[Any]], None]
) -> RunEvents:
    """The log of ``run``, whose chunks are stored from offset ``base`` on: read from the run's
    chunk log in place (never copied), an agent run's text stretches packed from its marks."""

    def window(start: int, stop: int) -> list[Chunk]:
        return run.chunks_between(start - base, stop - base)

    pack = stored = None
    if isinstance(run, AgentOutput):
        marks, pieces = run.text_marks()
        stretches = stretch_packer(
            marks, pieces, run.chunks_between, run.chunk_at, run.run_id, run.source
        )
        stored = text_refs(run.text_joins(), run.run_id, run.source, base)

        def pack(start: int, stop: int) -> list[Any]:
            return stretches(start - base, stop - base)

    return RunEvents(
        run_id,
        lambda offset: run.chunks_from(offset - base),
        written=base,
        pack=pack,
        count=lambda: base + run.chunk_count,
        window=window,
        on_written=on_written,
        stored=stored,
    )
