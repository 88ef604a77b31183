"""The HTTP routes in process (httpx over ASGI): summaries, SSE, errors, limits, auth, observe."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pydantic
import pytest

from streamwise import Agent, Streamwise, ToolContext, create_tool
from streamwise.server import ServerSettings, create_asgi_app
from streamwise.testing import ScriptedModel
from tests.compat.test_ui_stream import TRACES, sse_json
from tests.server.support import demo_app


def client(app: Streamwise | None = None, **settings: Any) -> httpx.AsyncClient:
    asgi = create_asgi_app(app or demo_app(), ServerSettings(heartbeat_interval=0, **settings))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://t")


def frames(body: bytes) -> list[Any]:
    """The JSON of every SSE frame; asserts the framing on the way."""
    assert b"\r" not in body
    assert body.endswith(b"data: [DONE]\n\n")
    out = []
    for frame in body.split(b"\n\n")[:-1]:
        if frame.startswith(b":"):
            continue
        assert frame.startswith(b"data: "), frame
        if frame != b"data: [DONE]":
            out.append(orjson.loads(frame[6:]))
    return out


async def test_agents_list_has_mastra_summary_keys() -> None:
    async with client() as c:
        r = await c.get("/api/agents")
    assert r.status_code == 200
    ours = r.json()
    theirs = orjson.loads((TRACES / "agents.json").read_bytes())
    assert set(ours["researchAgent"]) == set(theirs["researchAgent"])
    tool = ours["researchAgent"]["tools"]["researchTool"]
    assert set(tool) == set(theirs["researchAgent"]["tools"]["researchTool"]) - {"outputSchema"}
    schema = orjson.loads(tool["inputSchema"])["json"]
    assert schema["properties"] == {"topic": {"title": "Topic", "type": "string"}}
    assert ours["plainAgent"]["instructions"] == "You are a test agent."
    assert ours["plainAgent"]["modelId"] == "mock-text"


async def test_agents_get_one_and_unknown_404() -> None:
    async with client() as c:
        ok = await c.get("/api/agents/plainAgent")
        missing = await c.get("/api/agents/nope")
        no_route = await c.get("/api/nothing-here")
    assert ok.json()["id"] == "plainAgent"
    assert missing.status_code == 404
    assert missing.json() == {"error": "agent 'nope' not found"}
    assert no_route.status_code == 404
    assert "error" in no_route.json()


async def test_agent_stream_matches_the_mastra_trace() -> None:
    async with client() as c:
        r = await c.post("/api/agents/researchAgent/stream", json={"messages": "hi"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/event-stream"
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["x-accel-buffering"] == "no"
    ours = [c for c in frames(r.content) if not c["type"].startswith("data-")]
    theirs = sse_json("agent-stream.raw")
    assert [c["type"] for c in ours] == [c["type"] for c in theirs]
    for a, b in zip(ours, theirs, strict=True):
        assert set(a) == set(b)
        if a["type"] == "tool-output":
            assert a["payload"]["output"]["type"] == b["payload"]["output"]["type"]
            assert a["payload"]["output"]["runId"] != a["runId"]
    assert ours[-1]["payload"]["output"]["usage"]["totalTokens"] == 24  # 2 parent + 1 child call


async def test_agent_stream_bad_bodies_are_400_naming_the_field() -> None:
    async with client() as c:
        missing = await c.post("/api/agents/plainAgent/stream", json={"maxSteps": 2})
        bad_type = await c.post(
            "/api/agents/plainAgent/stream", json={"messages": "x", "maxSteps": 0}
        )
        not_json = await c.post("/api/agents/plainAgent/stream", content=b"{nope")
        bad_role = await c.post(
            "/api/agents/plainAgent/stream", json={"messages": [{"role": "robot", "content": "x"}]}
        )
    assert missing.status_code == 400
    assert "messages" in missing.json()["error"]
    assert missing.json()["issues"][0]["field"] == "messages"
    assert bad_type.status_code == 400
    assert "maxSteps" in bad_type.json()["error"]
    assert not_json.status_code == 400
    assert "JSON" in not_json.json()["error"]
    assert bad_role.status_code == 400
    assert "messages.0.role" in bad_role.json()["error"]


async def test_agent_stream_oversized_body_is_413() -> None:
    async with client(max_body_bytes=100) as c:
        r = await c.post("/api/agents/plainAgent/stream", json={"messages": "x" * 200})

        async def body() -> Any:
            yield b'{"messages": "'
            yield b"x" * 200
            yield b'"}'

        chunked = await c.post("/api/agents/plainAgent/stream", content=body())
    assert r.status_code == 413
    assert chunked.status_code == 413


async def test_agent_stream_accepts_client_message_shapes() -> None:
    async with client() as c:
        for messages in (
            ["hi", "there"],
            [{"role": "user", "content": "hi"}],
            [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
            [{"id": "m1", "role": "user", "parts": [{"type": "text", "text": "hi"}]}],
        ):
            r = await c.post("/api/agents/plainAgent/stream", json={"messages": messages})
            assert r.status_code == 200, r.text
            assert frames(r.content)[-1]["type"] == "finish"


async def test_agent_stream_failure_ends_with_error_then_done() -> None:
    async with client() as c:
        r = await c.post("/api/agents/failingAgent/stream", json={"messages": "hi"})
    chunks = frames(r.content)
    assert chunks[-1]["type"] == "error"
    assert chunks[-1]["payload"]["error"]["message"] == "model exploded"


async def test_agent_stream_unencodable_chunk_sends_a_generic_error_frame() -> None:
    class Empty(pydantic.BaseModel):
        pass

    async def leaky(inp: Empty, ctx: ToolContext) -> str:
        await ctx.writer.write(object())  # no JSON form
        return "ok"

    agent = Agent(
        "leaky",
        model=ScriptedModel([{"tool_calls": [{"name": "leaky", "args": {}}]}, {"text": "x"}]),
        tools=[create_tool("leaky", "d", Empty, leaky)],
    )
    async with client(Streamwise(agents=[agent])) as c:
        r = await c.post("/api/agents/leaky/stream", json={"messages": "hi"})
    chunks = frames(r.content)
    assert chunks[-1] == {
        "type": "error",
        "payload": {"error": {"message": "the server failed while streaming this run"}},
    }
    assert "object at" not in r.text


async def test_agent_generate_returns_json() -> None:
    async with client() as c:
        r = await c.post("/api/agents/researchAgent/generate", json={"messages": "hi"})
        failed = await c.post("/api/agents/failingAgent/generate", json={"messages": "hi"})
    body = r.json()
    assert body["text"] == "done done done "
    assert body["finishReason"] == "stop"
    assert body["usage"]["totalTokens"] == 24
    assert body["toolResults"][0]["result"] == {"topic": "streams", "summary": "sub sub sub "}
    assert failed.status_code == 500
    assert failed.json()["error"] == "model exploded"


async def test_agent_observe_replays_from_an_offset() -> None:
    async with client() as c:
        r = await c.post(
            "/api/agents/researchAgent/stream", json={"messages": "hi", "runId": "r-1"}
        )
        all_chunks = frames(r.content)
        o = await c.post("/api/agents/researchAgent/observe", json={"runId": "r-1", "offset": 5})
        wrong_agent = await c.post("/api/agents/plainAgent/observe", json={"runId": "r-1"})
        unknown = await c.post("/api/agents/researchAgent/observe", json={"runId": "nope"})
        negative = await c.post(
            "/api/agents/researchAgent/observe", json={"runId": "r-1", "offset": -1}
        )
    assert all_chunks[0]["runId"] == "r-1"
    assert frames(o.content) == all_chunks[5:]
    assert wrong_agent.status_code == 404
    assert unknown.status_code == 404
    assert negative.status_code == 400


async def test_agent_cancel_of_an_ended_run_says_so() -> None:
    async with client() as c:
        await c.post("/api/agents/plainAgent/stream", json={"messages": "hi", "runId": "r-2"})
        r = await c.post("/api/agents/plainAgent/runs/r-2/cancel")
        missing = await c.post("/api/agents/plainAgent/runs/nope/cancel")
    assert r.json() == {"message": "run had ended", "canceled": False, "status": "success"}
    assert missing.status_code == 404


async def test_auth_requires_the_bearer_token() -> None:
    async with client(api_key="s3cret") as c:
        none = await c.get("/api/agents")
        wrong = await c.get("/api/agents", headers={"authorization": "Bearer nope"})
        right = await c.get("/api/agents", headers={"authorization": "Bearer s3cret"})
        spec = await c.get("/openapi.json")
    assert none.status_code == 401
    assert wrong.status_code == 401
    assert none.json() == {"error": "missing or invalid bearer token"}
    assert right.status_code == 200
    assert spec.status_code == 200


async def test_cors_preflight_and_exposed_headers() -> None:
    async with client(cors_origins=("http://ui.test",), api_key="k") as c:
        pre = await c.options(
            "/chat/plainAgent",
            headers={"origin": "http://ui.test", "access-control-request-method": "POST",
                     "access-control-request-headers": "content-type,authorization"},
        )  # fmt: skip
        r = await c.get(
            "/api/agents", headers={"origin": "http://ui.test", "authorization": "Bearer k"}
        )
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == "http://ui.test"
    assert r.headers["access-control-allow-origin"] == "http://ui.test"


async def test_openapi_lists_every_route() -> None:
    async with client() as c:
        doc = (await c.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    assert "/api/agents/{agentId}/stream" in doc["paths"]
    body = doc["paths"]["/api/agents/{agentId}/stream"]["post"]["requestBody"]
    assert "messages" in body["content"]["application/json"]["schema"]["properties"]
    assert "/workflow/{workflowId}" in doc["paths"]
    assert "/api/workflows/{workflowId}/runs/{runId}/cancel" in doc["paths"]


async def test_chat_route_streams_ui_parts() -> None:
    body = {"id": "chat-1", "trigger": "submit-message",
            "messages": [{"id": "m1", "role": "user", "parts": [{"type": "text", "text": "hi"}]}]}  # fmt: skip
    async with client() as c:
        r = await c.post("/chat/researchAgent", json=body)
        missing = await c.post("/chat/nope", json=body)
        bad = await c.post("/chat/researchAgent", json={"id": "x"})
    assert r.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert r.headers["content-type"] == "text/event-stream"
    parts = frames(r.content)
    theirs = sse_json("chat.raw")
    plain = [p for p in parts if not p["type"].startswith("data-")]
    assert [p["type"] for p in plain] == [p["type"] for p in theirs]
    assert {p["type"] for p in parts} >= {"data-tool-agent", "data-progress"}
    assert next(p for p in parts if p["type"] == "data-progress")["transient"] is True
    assert missing.status_code == 404
    assert bad.status_code == 400
    assert "messages" in bad.json()["error"]


@pytest.mark.parametrize("path", ["/api/workflows/nope", "/api/workflows/nope/runs"])
async def test_unknown_workflow_is_404(path: str) -> None:
    async with client() as c:
        r = await c.get(path)
        s = await c.post("/api/workflows/nope/stream", json={"inputData": {}})
        ui = await c.post("/workflow/nope", json={"inputData": {}})
    assert r.status_code == 404
    assert s.status_code == 404
    assert ui.status_code == 404


def test_server_and_compat_exports_are_sorted_and_real() -> None:
    import streamwise.compat
    import streamwise.server

    for module in (streamwise.server, streamwise.compat):
        assert isinstance(module.__all__, tuple)
        assert list(module.__all__) == sorted(module.__all__)
        for name in module.__all__:
            assert getattr(module, name) is not None


async def test_agent_stream_with_memory_loads_and_stores_the_thread() -> None:

    model = ScriptedModel(lambda messages: {"text": f"I see {len(messages)} messages"})
    app = Streamwise(agents=[Agent("mem", model=model)], storage="sqlite://:memory:")
    async with app, client(app) as c:
        body = {"messages": "hello", "memory": {"thread": {"id": "t1"}, "resource": "u1"}}
        first = frames((await c.post("/api/agents/mem/stream", json=body)).content)
        body["messages"] = "again"
        second = frames((await c.post("/api/agents/mem/stream", json=body)).content)
        assert first[-1]["type"] == second[-1]["type"] == "finish"
        texts = [c["payload"]["text"] for c in second if c["type"] == "text-delta"]
        assert "".join(texts) == "I see 3 messages"  # the stored turn, then the new one
        stored = await app.storage.list_messages("t1")
        assert [m["role"] for m in stored] == ["user", "assistant", "user", "assistant"]
        bad = await c.post(
            "/api/agents/mem/stream", json={"messages": "x", "memory": {"thread": {}}}
        )
        assert bad.status_code == 400
        assert "memory.thread" in bad.json()["error"]


async def test_agent_observe_replays_a_stored_run_the_server_no_longer_holds() -> None:
    model = ScriptedModel(lambda messages: {"text": "one two three"})
    app = Streamwise(agents=[Agent("rec", model=model)], storage="sqlite://:memory:")
    async with app:
        async with client(app) as c:
            live = frames((await c.post("/api/agents/rec/stream", json={"messages": "x"})).content)
        run_id = live[0]["runId"]
        async with client(app) as fresh:  # a new server: nothing held in memory
            replay = await fresh.post(
                "/api/agents/rec/observe", json={"runId": run_id, "offset": 2}
            )
            assert replay.status_code == 200
            assert replay.headers["content-type"].startswith("text/event-stream")
            assert frames(replay.content) == live[2:]
            missing = await fresh.post("/api/agents/rec/observe", json={"runId": "nope"})
            assert missing.status_code == 404


async def test_app_asgi_serves_the_app() -> None:
    app = Streamwise(agents=[Agent("plain", model=ScriptedModel([{"text": "hi"}]))])
    asgi = app.asgi(ServerSettings(heartbeat_interval=0))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://t") as c:
        listed = (await c.get("/api/agents")).json()
        assert list(listed) == ["plain"]
        body = (await c.post("/api/agents/plain/stream", json={"messages": "x"})).content
        assert frames(body)[-1]["type"] == "finish"


async def test_agent_resume_stream_route_and_conflicts() -> None:
    from tests.agent.test_approval import Approval, Rec

    async def pay(inp: Rec, ctx: ToolContext) -> str:
        if ctx.resume_data is None:
            await ctx.suspend({"reason": "ok?"})
        return "paid"

    tool = create_tool("pay", "Pay", Rec, pay, resume_schema=Approval)
    model = ScriptedModel([{"tool_calls": [{"name": "pay", "args": {"id": "x"}}]}, {"text": "k"}])
    app = Streamwise(agents=[Agent("payer", model=model, tools=[tool])])
    async with client(app) as c:
        first = frames((await c.post("/api/agents/payer/stream", json={"messages": "x"})).content)
        run_id = first[0]["runId"]
        assert "tool-call-suspended" in [f["type"] for f in first]
        wrong = await c.post("/api/agents/payer/approve-tool-call", json={"runId": run_id})
        assert wrong.status_code == 409
        body = {"runId": run_id, "resumeData": {"approved": True}}
        resumed = frames((await c.post("/api/agents/payer/resume-stream", json=body)).content)
        assert [f["type"] for f in resumed][:2] == ["start", "tool-result"]
        again = await c.post("/api/agents/payer/resume-stream", json=body)
        assert again.status_code == 409
        assert "not waiting" in again.json()["error"]
