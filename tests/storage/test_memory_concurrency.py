"""Many agent runs on one thread at once, on SQLite and PostgreSQL: every message is kept, in
the order the runs began, each run's input before its answer, and a run's history holds every
run that finished before it began."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from streamwise import Agent, Streamwise
from streamwise.agent import AgentOutput
from streamwise.models import ModelMessage, ModelPart, ModelRequest
from streamwise.storage import Store
from streamwise.testing import ScriptedModel, Turn
from tests.support import eventually


class GatedModel(ScriptedModel):
    """A scripted model that waits, before answering an input, for that input's gate."""

    def __init__(self, gates: dict[str, asyncio.Event]) -> None:
        super().__init__(self._turn)
        self.gates = gates
        self.requests: dict[str, ModelRequest] = {}  # by input
        self.waiting: set[str] = set()
        self.all_waiting = asyncio.Event()

    @staticmethod
    def _turn(messages: list[ModelMessage]) -> Turn:
        q = messages[-1]["content"]
        if q.endswith("fail"):
            return {"text": [f"re:{q} "], "error": "boom"}
        return {"text": [f"re:{q} ", "done"]}

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelPart]:
        q = request["messages"][-1]["content"]
        self.requests[q] = request
        gate = self.gates.get(q)
        if gate is not None:
            self.waiting.add(q)
            if self.waiting == set(self.gates):
                self.all_waiting.set()
            await gate.wait()
        async for part in super().stream(request):
            yield part


def _user_texts(messages: list[ModelMessage]) -> list[str]:
    """The user inputs of a model request's history (its last message is the run's own)."""
    out = []
    for m in messages[:-1]:
        if m["role"] == "user":
            out.append("".join(p["text"] for p in m["content"] if p["type"] == "text"))
    return out


async def test_memory_concurrent_runs_keep_start_order_and_every_message(db_url: str) -> None:
    """Short, long, failing and cancelled runs started one after another on one thread, while
    the flusher and the checkpoints run: the inputs are stored in the order the runs began,
    each before its answer, once each; every run's row has its final status."""
    gates: dict[str, asyncio.Event] = {}
    kinds = ["short", "long", "fail", "cancel"]
    prompts = [f"q{i}-{kinds[i % 4]}" for i in range(48)]
    for q in prompts:
        if q.endswith(("long", "cancel")):
            gates[q] = asyncio.Event()
    model = GatedModel(gates)
    agent = Agent("a", model=model)
    store = Store(db_url, event_flush_interval=0.002)
    finished_before: dict[str, set[str]] = {}
    async with store, Streamwise(agents=[agent], storage=store):
        outs: list[AgentOutput] = []
        for q in prompts:
            finished_before[q] = {p for p, o in zip(prompts, outs, strict=False) if o.done}
            outs.append(agent.stream(q, memory={"thread": "t", "last_messages": 500}))
            await asyncio.sleep(0.001)  # lets runs end and the flusher write between starts
        await model.all_waiting.wait()
        for q, out in zip(prompts, outs, strict=True):
            if q.endswith("cancel"):
                out.cancel()
            elif q.endswith("long"):
                gates[q].set()
        await asyncio.gather(*(o.wait() for o in outs))
        statuses = [await o.status for o in outs]
        stored = await store.list_messages("t", limit=None)
        rows = [await store.get_run(o.run_id) for o in outs]
        last = agent.stream("last", memory={"thread": "t", "last_messages": 500})
        await last.wait()

    assert statuses == [
        {"short": "success", "long": "success", "fail": "failed", "cancel": "canceled"}[
            q.rsplit("-", 1)[1]
        ]
        for q in prompts
    ]
    assert [r["status"] if r is not None else None for r in rows] == statuses
    assert len({m["id"] for m in stored}) == len(stored)
    by_run = {o.run_id: q for q, o in zip(prompts, outs, strict=True)}
    inputs = [by_run[m["runId"] or ""] for m in stored if m["role"] == "user"]
    assert inputs == prompts  # every input once, in the order the runs began
    for q, out in zip(prompts, outs, strict=True):
        mine = [m["role"] for m in stored if m["runId"] == out.run_id]
        if q.endswith(("short", "long")):
            assert mine == ["user", "assistant"], q
        else:
            assert mine in (["user"], ["user", "assistant"]), q
    # Each run's history has every run that finished before it began (its input and answer).
    for q in prompts:
        history = _user_texts(model.requests[q]["messages"])
        assert finished_before[q] <= set(history), q
        assert history == sorted(history, key=prompts.index), q
    assert _user_texts(model.requests["last"]["messages"]) == prompts


async def test_memory_runs_started_while_the_store_opens_keep_their_order(db_url: str) -> None:
    """The first runs of an app open its store: a run that comes while the store is opening
    does not overtake those that came before it."""
    agent = Agent("a", model=ScriptedModel(lambda messages: {"text": "ok"}))
    async with Streamwise(agents=[agent], storage=db_url) as app:
        outs = []
        for i in range(8):
            outs.append(agent.stream(f"q{i}", memory={"thread": "t"}))
            await asyncio.sleep(0)  # the store is opening meanwhile
        await asyncio.gather(*(o.wait() for o in outs))
        stored = await app.storage.list_messages("t")
    by_run = {o.run_id: i for i, o in enumerate(outs)}
    assert [by_run[m["runId"] or ""] for m in stored if m["role"] == "user"] == list(range(8))


async def test_memory_runs_ending_together_are_written_in_one_transaction(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamwise.storage import _store

    batches: list[int] = []
    write_ends = _store.Store._write_ends

    async def counted(self: Store, batch: list[Any]) -> None:
        batches.append(len(batch))
        await write_ends(self, batch)

    monkeypatch.setattr(_store.Store, "_write_ends", counted)
    gate, streaming = asyncio.Event(), [0]

    class Together(ScriptedModel):
        """Every run streams, then waits for the others: they end together."""

        async def stream(self, request: ModelRequest) -> AsyncIterator[ModelPart]:
            async for part in super().stream(request):
                yield part
            streaming[0] += 1
            await gate.wait()

    agent = Agent("a", model=Together(lambda m: {"text": ["an ", "answer"]}))
    async with Store(db_url) as store, Streamwise(agents=[agent], storage=store):
        outs = [agent.stream(f"q{i}", memory={"thread": f"t{i}"}) for i in range(30)]
        await eventually(lambda: streaming[0] == 30)
        gate.set()
        assert await asyncio.gather(*(o.text for o in outs)) == ["an answer"] * 30
        stored = [await store.list_messages(f"t{i}") for i in range(30)]
        runs = [await store.get_run(o.run_id) for o in outs]
    # Every run's end is written, and most of them together (each batch is one transaction).
    assert sum(batches) == 30 and len(batches) < 30
    assert all([m["role"] for m in s] == ["user", "assistant"] for s in stored)
    assert all(r is not None and r["status"] == "success" for r in runs)


async def test_memory_a_runs_end_is_written_even_if_its_hook_is_cancelled(db_url: str) -> None:
    streamed, gate = asyncio.Event(), asyncio.Event()

    class Gated(ScriptedModel):
        async def stream(self, request: ModelRequest) -> AsyncIterator[ModelPart]:
            async for part in super().stream(request):
                yield part
            streamed.set()
            await gate.wait()

    agent = Agent("a", model=Gated(lambda m: {"text": "kept"}))
    async with Store(db_url) as store, Streamwise(agents=[agent], storage=store):
        out = agent.stream("q", memory={"thread": "t"})
        await streamed.wait()  # its start is noted; its end comes once the gate opens
        await store._starts_lock.acquire()  # another transaction holds the writer up
        try:
            gate.set()
            # The run ended: its end is being written (by its hook: it is alone), and waits.
            await eventually(lambda: store._writing_end or store._end_writer is not None)
            assert out._task is not None
            out._task.cancel()  # the run's end hook is cancelled while it waits
            await out.wait()
        finally:
            store._starts_lock.release()
        # The writer wrote it all the same.
        await eventually(lambda: store._end_writer is None and not store._ends)
        stored = await store.list_messages("t")
        run = await store.get_run(out.run_id)
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert stored[1]["content"][-1] == {"type": "text", "text": "kept"}
    assert run is not None and run["status"] == "success"
