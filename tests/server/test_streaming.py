"""A real uvicorn server on loopback: disconnects, cancel, heartbeats, live observe."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from streamwise.server import ServerSettings
from tests.compat.test_ui_stream import TRACES
from tests.server.support import demo_app, running_server


def _frames(body: bytes) -> list[Any]:
    return [
        orjson.loads(f[6:])
        for f in body.split(b"\n\n")
        if f.startswith(b"data: ") and f != b"data: [DONE]"
    ]


class Reader:
    """Reads an SSE response piece by piece, keeping what it has read."""

    def __init__(self, response: httpx.Response) -> None:
        self._it = response.aiter_bytes()
        self.buf = b""

    async def first_chunk(self) -> dict[str, Any]:
        async for piece in self._it:
            self.buf += piece
            if b"\n\n" in self.buf:
                result: dict[str, Any] = orjson.loads(self.buf.split(b"\n\n", 1)[0][6:])
                return result
        raise AssertionError("the stream ended before its first chunk")

    async def rest(self) -> bytes:
        async for piece in self._it:
            self.buf += piece
        return self.buf


async def _first_chunk(response: httpx.Response) -> dict[str, Any]:
    return await Reader(response).first_chunk()


async def test_stream_client_disconnect_leaves_the_run_complete() -> None:
    with running_server(demo_app(slow_words=20, slow_delay=0.01)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as c:
            async with c.stream(
                "POST", "/api/agents/slowAgent/stream", json={"messages": "hi"}
            ) as r:
                start = await _first_chunk(r)
            # The client went away after one chunk; the run goes on and stays observable.
            run_id = start["runId"]
            o = await c.post("/api/agents/slowAgent/observe", json={"runId": run_id})
    chunks = _frames(o.content)
    assert chunks[0] == start
    assert chunks[-1]["type"] == "finish"
    assert sum(1 for c in chunks if c["type"] == "text-delta") == 20
    assert o.content.endswith(b"data: [DONE]\n\n")


async def test_stream_cancel_route_stops_the_run_with_abort() -> None:
    with running_server(demo_app(slow_words=500, slow_delay=0.01)) as url:
        async with (
            httpx.AsyncClient(base_url=url, timeout=10) as c,
            c.stream("POST", "/api/agents/slowAgent/stream", json={"messages": "hi"}) as r,
        ):
            reader = Reader(r)
            start = await reader.first_chunk()
            cancel = await c.post(f"/api/agents/slowAgent/runs/{start['runId']}/cancel")
            rest = await reader.rest()
    assert cancel.json() == {"message": "run canceled", "canceled": True, "status": "canceled"}
    chunks = _frames(rest)
    assert chunks[-1]["type"] == "abort"
    assert sum(1 for c in chunks if c["type"] == "text-delta") < 500
    assert rest.endswith(b"data: [DONE]\n\n")


async def test_stream_run_id_still_running_is_409() -> None:
    with running_server(demo_app(slow_words=200, slow_delay=0.01)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as c:
            body = {"messages": "hi", "runId": "dup-1"}
            async with c.stream("POST", "/api/agents/slowAgent/stream", json=body) as r:
                await Reader(r).first_chunk()
                dup = await c.post("/api/agents/slowAgent/stream", json=body)
                await c.post("/api/agents/slowAgent/runs/dup-1/cancel")
    assert dup.status_code == 409
    assert dup.json()["error"] == "run 'dup-1' is still running"


async def test_stream_headers_on_the_wire_match_mastra() -> None:
    with running_server() as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as c:
            r = await c.post("/api/agents/plainAgent/stream", json={"messages": "hi"})
            chat = await c.post(
                "/chat/plainAgent",
                json={
                    "messages": [
                        {"id": "1", "role": "user", "parts": [{"type": "text", "text": "x"}]}
                    ]
                },
            )
    expected = _trace_headers("agent-stream.headers")
    assert {k: v for k, v in r.headers.items() if k != "date"} == expected
    ui = {k: v for k, v in chat.headers.items() if k not in ("date", "x-streamwise-run-id")}
    assert ui == _trace_headers("chat.headers")


def _trace_headers(name: str) -> dict[str, str]:
    lines = (TRACES / name).read_text().splitlines()[1:]
    pairs = [line.split(": ", 1) for line in lines if ": " in line]
    return {k.lower(): v for k, v in pairs if k.lower() != "date"}


async def test_stream_idle_gets_keep_alive_comments() -> None:
    settings = ServerSettings(heartbeat_interval=0.01)
    with running_server(demo_app(slow_words=3, slow_delay=0.1), settings) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as c:
            r = await c.post("/api/agents/slowAgent/stream", json={"messages": "hi"})
    assert b": keep-alive\n\n" in r.content
    chunks = _frames(r.content)
    assert chunks[-1]["type"] == "finish"
    assert [c["payload"]["text"] for c in chunks if c["type"] == "text-delta"] == ["sub "] * 3


async def test_observe_follows_a_live_run() -> None:
    with running_server(demo_app(slow_words=30, slow_delay=0.01)) as url:
        async with (
            httpx.AsyncClient(base_url=url, timeout=10) as c,
            c.stream(
                "POST", "/api/agents/slowAgent/stream", json={"messages": "hi", "runId": "live-1"}
            ) as r,
        ):
            reader = Reader(r)
            await reader.first_chunk()
            o = await c.post("/api/agents/slowAgent/observe", json={"runId": "live-1", "offset": 1})
            full = await reader.rest()
    observed = _frames(o.content)
    assert observed[-1]["type"] == "finish"
    assert observed == _frames(full)[-len(observed) :]
    assert sum(1 for c in observed if c["type"] == "text-delta") == 30
