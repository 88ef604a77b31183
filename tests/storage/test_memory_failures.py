"""The database fails under running agent runs (PostgreSQL connections terminated by the
server): streams still end, run starts that could not be written are written once the database
answers again, and nothing is written twice."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

import pytest

from streamwise import Agent, Streamwise
from streamwise.errors import StorageUnavailableError
from streamwise.models import ModelPart, ModelRequest
from streamwise.storage import Store
from streamwise.storage._statements import PgDriver
from streamwise.testing import ScriptedModel
from tests.conftest import reset_postgres
from tests.support import collect, types


@pytest.fixture
async def pg_url() -> str:
    """An empty PostgreSQL database (the server is needed: it terminates the connections)."""
    url = os.environ.get("STREAMWISE_TEST_POSTGRES_URL")
    if not url:
        pytest.fail("STREAMWISE_TEST_POSTGRES_URL is unset: run through scripts/test.sh")
    await reset_postgres(url)
    return url


async def terminate_other_connections(url: str) -> int:
    """Have the server end every other session on the database, as a restart or a failover
    would (the store's pooled connections are dead afterwards)."""
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(url)
    try:
        killed: int = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    return killed


@contextlib.asynccontextmanager
async def database_down(url: str) -> AsyncIterator[None]:
    """The database refuses new connections and its sessions are ended, until the block ends."""
    import asyncpg

    probe = await asyncpg.connect(url)
    name = await probe.fetchval("SELECT current_database()")
    await probe.close()
    conn = await asyncpg.connect(url, database="postgres")  # not the one that goes down
    try:
        await conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1",
            name,
        )
        yield
    finally:
        await conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await conn.close()


class PausingModel(ScriptedModel):
    """Streams ``first`` and ``second``, and waits for ``gate`` between them."""

    def __init__(self) -> None:
        super().__init__(lambda messages: {"text": ["first ", "second"]})
        self.gate = asyncio.Event()
        self.paused = asyncio.Event()

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelPart]:
        async for part in super().stream(request):
            if part["type"] == "text-delta" and part["delta"] == "second":
                self.paused.set()
                await self.gate.wait()
            yield part


async def test_memory_start_not_written_is_written_once_the_database_answers(
    pg_url: str,
) -> None:
    model = PausingModel()
    agent = Agent("a", model=model)
    store = Store(pg_url, event_flush_interval=3600)
    async with store, Streamwise(agents=[agent], storage=store):
        out = agent.stream("hello", memory={"thread": "t"})
        await model.paused.wait()  # the run began; its start is not written yet
        async with database_down(pg_url):
            with pytest.raises(StorageUnavailableError):  # the flush fails: the start goes back
                await store.flush_events()
        await store.flush_events()  # the database answers again: the start goes in
        run = await store.get_run(out.run_id)
        assert run is not None
        assert run["status"] == "running"
        assert [m["role"] for m in await store.list_messages("t")] == ["user"]
        model.gate.set()
        chunks = await collect(out)
        assert types(chunks)[-1] == "finish"
        run = await store.get_run(out.run_id)
        assert run is not None
        assert run["status"] == "success"
        stored = await store.list_messages("t")
        assert [m["role"] for m in stored] == ["user", "assistant"]
        assert await store.read_events(out.run_id) == chunks


async def test_memory_run_ending_on_a_dead_connection_still_ends_its_stream(
    pg_url: str,
) -> None:
    model = PausingModel()
    agent = Agent("a", model=model)
    store = Store(pg_url, event_flush_interval=3600)  # the test flushes itself
    async with store, Streamwise(agents=[agent], storage=store):
        out = agent.stream("hello", memory={"thread": "t"})
        await model.paused.wait()
        await store.flush_events()  # its start is written
        assert await terminate_other_connections(pg_url) > 0
        model.gate.set()
        chunks = await collect(out)
        assert types(chunks)[-1] == "finish"
        assert await out.text == "first second"
        run = await store.get_run(out.run_id)
        stored = await store.list_messages("t")
        events = await store.read_events(out.run_id)
    assert run is not None
    assert (run["status"], [m["role"] for m in stored]) == ("success", ["user", "assistant"])
    assert events == chunks


async def test_memory_run_starting_on_a_dead_connection_reads_its_history(pg_url: str) -> None:
    agent = Agent("a", model=ScriptedModel([{"text": "one"}, {"text": "two"}]))
    async with Store(pg_url) as store, Streamwise(agents=[agent], storage=store):
        assert await agent.stream("q1", memory={"thread": "t"}).text == "one"
        assert await terminate_other_connections(pg_url) > 0
        out = agent.stream("q2", memory={"thread": "t"})
        assert await out.text == "two"
        stored = await store.list_messages("t")
    assert [m["role"] for m in stored] == ["user", "assistant"] * 2


async def test_store_says_the_database_is_unavailable_and_recovers_when_it_is_back(
    pg_url: str,
) -> None:
    agent = Agent("a", model=ScriptedModel(lambda m: {"text": "answer"}))
    async with Store(pg_url) as store, Streamwise(agents=[agent], storage=store):
        await store.create_thread("t", resource_id="u1")
        assert await agent.stream("q1", memory={"thread": "t"}).text == "answer"
        async with database_down(pg_url):
            with pytest.raises(StorageUnavailableError, match=r"postgresql://"):
                await store.list_threads("u1")  # a read through SQLAlchemy's pool
            with pytest.raises(StorageUnavailableError):
                await store.create_thread("u")  # a write through it
            out = agent.stream("q2", memory={"thread": "t"})  # a run cannot read its history
            await out.wait()
            assert await out.status == "failed"
            assert isinstance(await out.error, StorageUnavailableError)
        # The database answers again: the same store goes on, on new connections.
        assert [t["id"] for t in await store.list_threads("u1")] == ["t"]
        assert await agent.stream("q3", memory={"thread": "t"}).text == "answer"
        stored = await store.list_messages("t")
    assert [m["role"] for m in stored] == ["user", "assistant"] * 2


async def test_server_answers_503_while_the_database_is_down(pg_url: str) -> None:
    from tests.server.test_app import client

    agent = Agent("a", model=ScriptedModel(lambda m: {"text": "answer"}))
    async with Streamwise(agents=[agent], storage=pg_url) as app, client(app) as c:
        assert (await c.get("/api/agents/a/suspended-runs")).status_code == 200
        async with database_down(pg_url):
            response = await c.get("/api/agents/a/suspended-runs")
            assert response.status_code == 503
            assert response.headers["retry-after"] == "1"
            assert response.json()["error"].startswith("storage unavailable: ")
        assert (await c.get("/api/agents/a/suspended-runs")).status_code == 200


async def test_a_runs_first_read_does_not_queue_behind_a_busy_kept_connection(
    pg_url: str,
) -> None:
    async with Store(pg_url) as store:
        await store.create_thread("t")
        await store.append_messages("t", [{"role": "user", "content": "hi"}])
        assert store._pg_kept is not None
        async with store._pg_kept[0].lock:  # another run's end holds the connection for writes
            history = await asyncio.wait_for(
                store.begin_agent_run(
                    "r", agent_id="a", thread_id="t", resource_id=None, last_messages=5, messages=[]
                ),
                timeout=10,  # it would wait for the lock forever
            )
        assert [m["content"] for m in history] == [[{"type": "text", "text": "hi"}]]


@pytest.mark.parametrize("write", [True, False])
async def test_a_cancelled_statement_on_the_kept_connection_leaves_it_usable(
    pg_url: str, write: bool
) -> None:
    async with Store(pg_url) as store:
        await store.create_thread("t")
        await store.append_messages("t", [{"role": "user", "content": "hi"}])
        entered = asyncio.Event()

        async def slow_end() -> None:
            async with store._hot(write=write) as conn:
                assert isinstance(conn, PgDriver)
                entered.set()
                await conn.conn.fetch("SELECT pg_sleep(30)")  # a statement that takes long

        task = asyncio.create_task(slow_end())
        await entered.wait()
        await asyncio.sleep(0.05)  # the statement is on the server now
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        history = await asyncio.wait_for(
            store.begin_agent_run(
                "r", agent_id="a", thread_id="t", resource_id=None, last_messages=5, messages=[]
            ),
            timeout=10,
        )
        assert [m["role"] for m in history] == ["user"]
        assert store._pg_kept is not None
        assert not any(one.lock.locked() for one in store._pg_kept)


async def test_a_lone_runs_end_is_one_statement_on_postgresql(pg_url: str) -> None:
    """A run that ends alone, its start not written yet (the usual run), is written in one
    statement on the connection kept for writes: no begin, no commit, one round trip."""
    agent = Agent("a", model=ScriptedModel(lambda messages: {"text": ["one ", "answer"]}))
    async with Store(pg_url) as store, Streamwise(agents=[agent], storage=store):
        await agent.stream("warm up", memory={"thread": "w"}).wait()
        assert store._pg_kept is not None
        writer = store._pg_kept[0].driver
        assert isinstance(writer, PgDriver)
        sent: list[str] = []
        writer.conn.add_query_logger(lambda record: sent.append(record.query))
        out = agent.stream("hello", memory={"thread": "t", "resource": "u"})
        chunks = await collect(out)
        assert len(sent) == 1 and sent[0].lstrip().startswith("WITH r AS")
        stored = await store.list_messages("t")
        assert [(m["role"], m["runId"]) for m in stored] == [
            ("user", out.run_id),
            ("assistant", out.run_id),
        ]
        assert await store.read_events(out.run_id) == chunks
        thread = await store.get_thread("t")
        assert thread is not None and thread["resourceId"] == "u"
        run = await store.get_run(out.run_id)
        assert run is not None and run["status"] == "success"


async def test_a_lone_runs_end_on_a_dead_connection_is_written_once_it_is_back(
    pg_url: str,
) -> None:
    """The one statement meets a connection the server ended: written again on a new one (it
    is idempotent), and the run's stream ends as usual."""
    model = PausingModel()
    agent = Agent("a", model=model)
    store = Store(pg_url, event_flush_interval=3600)  # its start waits for its end
    async with store, Streamwise(agents=[agent], storage=store):
        out = agent.stream("hello", memory={"thread": "t"})
        await model.paused.wait()
        assert await terminate_other_connections(pg_url) > 0
        model.gate.set()
        chunks = await collect(out)
        assert types(chunks)[-1] == "finish"
        stored = await store.list_messages("t")
        events = await store.read_events(out.run_id)
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert events == chunks


async def test_a_runs_end_after_its_start_was_written_is_one_statement_on_postgresql(
    pg_url: str,
) -> None:
    """A run longer than the flush interval (its start and first chunks written while it
    runs) ends in one statement too: its last log rows, its answer and its status. (The
    second such run is looked at: asyncpg reads the types of a statement's arrays the first
    time it prepares it on a connection.)"""
    models = [PausingModel(), PausingModel()]
    agents = [Agent(f"a{i}", model=m) for i, m in enumerate(models)]
    store = Store(pg_url, event_flush_interval=3600)  # the test flushes itself
    sent: list[str] = []
    async with store, Streamwise(agents=agents, storage=store):
        assert store._pg_kept is not None
        writer = store._pg_kept[0].driver
        assert isinstance(writer, PgDriver)
        writer.conn.add_query_logger(lambda record: sent.append(record.query))
        for agent, model in zip(agents, models, strict=True):
            out = agent.stream("hello", memory={"thread": agent.id})
            await model.paused.wait()
            await store.flush_events()  # its start and first chunks are written
            await asyncio.sleep(0)  # (the logger is called soon after each query)
            sent.clear()
            model.gate.set()
            chunks = await collect(out)
        assert len(sent) == 1 and sent[0].lstrip().startswith("WITH e AS")
        stored = await store.list_messages("a1")
        assert [(m["role"], m["content"][-1]) for m in stored] == [
            ("user", {"type": "text", "text": "hello"}),
            ("assistant", {"type": "text", "text": "first second"}),
        ]
        assert await store.read_events(out.run_id) == chunks
        run = await store.get_run(out.run_id)
        assert run is not None and run["status"] == "success"
