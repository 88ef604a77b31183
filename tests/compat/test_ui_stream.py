"""The AI SDK UI stream converter (PROTOCOL.md §8): pure, fed with recorded Mastra chunks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from streamwise import Agent
from streamwise.compat import UIStreamConverter, to_ai_sdk_stream
from streamwise.testing import ScriptedModel

TRACES = Path("/work/shared/reference-traces")
if not TRACES.exists():  # CI runs in a clone with shared/ beside it
    TRACES = Path(__file__).resolve().parents[3] / "shared" / "reference-traces"


def sse_json(name: str) -> list[dict[str, Any]]:
    """The JSON frames of a recorded SSE stream (without ``[DONE]``)."""
    frames = (TRACES / name).read_bytes().split(b"\n\n")
    return [orjson.loads(f[6:]) for f in frames if f.startswith(b"data: ") and f != b"data: [DONE]"]


def record_json(name: str) -> list[dict[str, Any]]:
    """The JSON records of a recorded workflow stream."""
    return [orjson.loads(r) for r in (TRACES / name).read_bytes().split(b"\x1e") if r.strip()]


def convert_all(chunks: list[dict[str, Any]], **kw: Any) -> list[dict[str, Any]]:
    conv = UIStreamConverter(**kw)
    parts = [p for c in chunks for p in conv.convert(c)]
    return parts + conv.close()


def check_order(parts: list[dict[str, Any]]) -> None:
    """The rules the AI SDK client enforces: deltas after starts, outputs after inputs."""
    open_text: set[str] = set()
    open_reasoning: set[str] = set()
    tools: set[str] = set()
    assert parts[0]["type"] == "start"
    for p in parts:
        t = p["type"]
        if t == "text-start":
            open_text.add(p["id"])
        elif t in ("text-delta", "text-end"):
            assert p["id"] in open_text, p
            if t == "text-end":
                open_text.discard(p["id"])
        elif t == "reasoning-start":
            open_reasoning.add(p["id"])
        elif t in ("reasoning-delta", "reasoning-end"):
            assert p["id"] in open_reasoning, p
        elif t in ("tool-input-start", "tool-input-available"):
            tools.add(p["toolCallId"])
        elif t in ("tool-input-delta", "tool-output-available", "tool-output-error"):
            assert p["toolCallId"] in tools, p
        elif t == "finish" and "finishReason" in p:
            assert p["finishReason"] in {
                "stop", "length", "content-filter", "tool-calls", "error", "other",
            }  # fmt: skip


def test_ui_stream_agent_trace_matches_mastra_chat_parts() -> None:
    parts = convert_all(sse_json("agent-stream.raw"))
    check_order(parts)
    expected = [p for p in sse_json("chat.raw")]
    plain = [p for p in parts if p["type"] != "data-tool-agent"]
    assert [p["type"] for p in plain] == [p["type"] for p in expected]
    # Same keys on every part as Mastra's chat route sends.
    for ours, theirs in zip(plain, expected, strict=True):
        assert set(ours) == set(theirs), (ours, theirs)
    by_type = {p["type"]: p for p in plain}
    assert by_type["tool-input-available"]["input"] == {"topic": "streams"}
    assert by_type["tool-output-available"]["output"] == {
        "topic": "streams",
        "summary": "sub sub sub ",
    }
    assert plain[-1] == {"type": "finish", "finishReason": "stop"}


def test_ui_stream_nested_agent_becomes_bounded_data_tool_agent() -> None:
    parts = convert_all(sse_json("agent-stream.raw"))
    nested = [p for p in parts if p["type"] == "data-tool-agent"]
    child_run = "bf75922d-8763-4d9e-af3c-0e46724dddbe"
    assert nested
    assert all(p["id"] == child_run for p in nested)
    last = nested[-1]["data"]
    assert last["status"] == "finished"
    assert last["text"] == "sub sub sub "
    assert last["id"] == "helperAgent"
    assert last["usage"]["totalTokens"] == 8
    # Bounded: 8 child chunks (3 deltas) give fewer updates than chunks.
    assert len(nested) < 8


def test_ui_stream_nested_updates_are_throttled_for_long_children() -> None:
    child = "child-1"
    chunks: list[dict[str, Any]] = [
        {"type": "start", "runId": "p", "from": "AGENT", "payload": {"id": "a", "messageId": "m"}},
        {"type": "tool-call", "runId": "p", "from": "AGENT",
         "payload": {"toolCallId": "c1", "toolName": "t", "args": {}}},
        {"type": "tool-output", "runId": "p", "from": "USER", "payload": {
            "toolCallId": "c1", "toolName": "t",
            "output": {"type": "start", "runId": child, "from": "AGENT", "payload": {"id": "sub"}}}},
    ]  # fmt: skip
    for _ in range(1000):
        delta = {"type": "text-delta", "runId": child, "from": "AGENT",
                 "payload": {"id": "t1", "text": "x"}}  # fmt: skip
        chunks.append({"type": "tool-output", "runId": "p", "from": "USER",
                       "payload": {"toolCallId": "c1", "toolName": "t", "output": delta}})  # fmt: skip
    parts = convert_all(chunks, nested_update_every=50)
    nested = [p for p in parts if p["type"] == "data-tool-agent"]
    assert len(nested) == 1 + 1000 // 50
    assert nested[-1]["data"]["text"] == "x" * 1000


def test_ui_stream_deep_nesting_reaches_every_child() -> None:
    inner = {"type": "start", "runId": "grandchild", "from": "AGENT", "payload": {"id": "g"}}
    middle = {"type": "tool-output", "runId": "child", "from": "USER",
              "payload": {"toolCallId": "c2", "toolName": "t2", "output": inner}}  # fmt: skip
    outer = {"type": "tool-output", "runId": "p", "from": "USER",
             "payload": {"toolCallId": "c1", "toolName": "t", "output": middle}}  # fmt: skip
    parts = UIStreamConverter().convert(outer)
    assert [p["type"] for p in parts] == ["start", "data-tool-agent"]
    assert parts[1]["id"] == "grandchild"


def test_ui_stream_nested_workflow_becomes_data_tool_workflow() -> None:
    conv = UIStreamConverter()
    out: list[dict[str, Any]] = []
    for event in record_json("wf-stream.raw"):
        out += conv.convert({"type": "tool-output", "runId": "p", "from": "USER",
                             "payload": {"toolCallId": "c", "toolName": "w", "output": event}})  # fmt: skip
    nested = [p for p in out if p["type"] == "data-tool-workflow"]
    assert {p["id"] for p in nested} == {"run-fixed-1"}
    assert nested[-1]["data"]["status"] == "success"
    assert nested[-1]["data"]["steps"]["square"]["output"] == {"value": 64}


def test_ui_stream_data_chunks_pass_through_with_transient() -> None:
    conv = UIStreamConverter()
    conv.convert({"type": "start", "runId": "r", "from": "AGENT", "payload": {"messageId": "m"}})
    part = conv.convert(
        {"type": "data-progress", "data": {"pct": 10}, "id": "p1", "transient": True}
    )
    assert part == [{"type": "data-progress", "data": {"pct": 10}, "id": "p1", "transient": True}]


def test_ui_stream_deltas_without_start_get_a_start() -> None:
    conv = UIStreamConverter()
    parts = conv.convert({"type": "text-delta", "runId": "r", "from": "AGENT",
                          "payload": {"id": "t9", "text": "hi"}})  # fmt: skip
    parts += conv.convert({"type": "reasoning-delta", "runId": "r", "from": "AGENT",
                           "payload": {"id": "r9", "text": "hm"}})  # fmt: skip
    parts += conv.convert({"type": "tool-result", "runId": "r", "from": "AGENT",
                           "payload": {"toolCallId": "c", "toolName": "t", "args": {"a": 1},
                                       "result": 2}})  # fmt: skip
    parts += conv.close()
    check_order(parts)
    assert [p["type"] for p in parts] == [
        "start", "text-start", "text-delta", "reasoning-start", "reasoning-delta",
        "tool-input-available", "tool-output-available", "finish",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("reason", "expected"),
    [("stop", "stop"), ("length", "length"), ("tool-calls", "tool-calls"),
     ("content-filter", "content-filter"), ("error", "error"), ("abort", "other"),
     ("weird", "other")],
)  # fmt: skip
def test_ui_stream_finish_reasons_are_the_sdk_set(reason: str, expected: str) -> None:
    conv = UIStreamConverter()
    parts = conv.convert({"type": "finish", "runId": "r", "from": "AGENT",
                          "payload": {"stepResult": {"reason": reason}}})  # fmt: skip
    assert parts[-1] == {"type": "finish", "finishReason": expected}
    assert conv.ended
    assert conv.convert({"type": "text-delta", "payload": {"id": "x", "text": "late"}}) == []


def test_ui_stream_error_and_abort_end_the_stream() -> None:
    conv = UIStreamConverter()
    conv.convert({"type": "text-start", "runId": "r", "from": "AGENT", "payload": {"id": "t"}})
    parts = conv.convert({"type": "error", "runId": "r", "from": "AGENT",
                          "payload": {"error": {"message": "boom", "name": "ModelError"}}})  # fmt: skip
    assert parts == [{"type": "text-end", "id": "t"}, {"type": "error", "errorText": "boom"}]
    conv2 = UIStreamConverter()
    parts2 = conv2.convert({"type": "abort", "runId": "r", "from": "AGENT", "payload": {}})
    assert [p["type"] for p in parts2] == ["start", "abort"]


def test_ui_stream_source_and_file_parts() -> None:
    conv = UIStreamConverter()
    url = conv.convert({"type": "source", "runId": "r", "from": "AGENT", "payload": {
        "id": "s1", "sourceType": "url", "title": "T", "url": "https://x.test"}})  # fmt: skip
    doc = conv.convert({"type": "source", "runId": "r", "from": "AGENT", "payload": {
        "id": "s2", "sourceType": "document", "title": "D", "mimeType": "text/plain",
        "filename": "d.txt"}})  # fmt: skip
    f = conv.convert({"type": "file", "runId": "r", "from": "AGENT",
                      "payload": {"data": "aGk=", "mimeType": "text/plain"}})  # fmt: skip
    assert url[-1] == {
        "type": "source-url",
        "sourceId": "s1",
        "url": "https://x.test",
        "title": "T",
    }
    assert doc == [{"type": "source-document", "sourceId": "s2", "mediaType": "text/plain",
                    "title": "D", "filename": "d.txt"}]  # fmt: skip
    assert f == [{"type": "file", "url": "data:text/plain;base64,aGk=", "mediaType": "text/plain"}]


def test_ui_stream_workflow_trace_matches_mastra_workflow_parts() -> None:
    parts = convert_all(record_json("wf-stream.raw"), from_="workflow", message_id="m1")
    expected = sse_json("wfchat.raw")
    assert [p["type"] for p in parts] == [p["type"] for p in expected]
    assert parts[0] == {"type": "start", "messageId": "m1"}
    for ours, theirs in zip(parts[1:-1], expected[1:-1], strict=True):
        assert set(ours) == set(theirs)
        assert set(ours["data"]) == set(theirs["data"])
        if ours["type"] == "data-workflow":
            assert ours["id"] == "run-fixed-1"
            assert ours["data"]["status"] == theirs["data"]["status"]
            assert list(ours["data"]["steps"]) == list(theirs["data"]["steps"])
            for k, step in ours["data"]["steps"].items():
                assert set(step) == set(theirs["data"]["steps"][k])
                assert step["status"] == theirs["data"]["steps"][k]["status"]
                assert (step["output"] is None) == (theirs["data"]["steps"][k]["output"] is None)
        else:
            assert ours["id"] == f"run-fixed-1:{ours['data']['stepId']}"
    final = parts[-2]["data"]
    assert final["name"] == "threeStep"
    assert final["steps"]["square"]["output"] == {"value": 64}
    assert final["output"]["usage"]["totalTokens"] == 0
    assert parts[-1] == {"type": "finish"}


def test_ui_stream_workflow_suspend_and_resume() -> None:
    parts = convert_all(record_json("appr-stream.raw"), from_="workflow")
    snap = [p for p in parts if p["type"] == "data-workflow"][-1]["data"]
    assert snap["status"] == "suspended"
    assert snap["steps"]["approve"]["status"] == "suspended"
    assert snap["steps"]["approve"]["suspendPayload"] == {"reason": "approve INVOICE?"}
    resumed = convert_all(record_json("appr-resume.raw"), from_="workflow")
    last = [p for p in resumed if p["type"] == "data-workflow"][-1]["data"]
    assert last["status"] == "success"
    assert last["steps"]["approve"]["resumePayload"] == {"approved": True}


def test_ui_stream_workflow_step_output_of_an_agent_nests() -> None:
    conv = UIStreamConverter(from_="workflow")
    chunk = {"type": "start", "runId": "agent-run", "from": "AGENT", "payload": {"id": "w"}}
    parts = conv.convert({"type": "workflow-step-output", "runId": "wf", "from": "USER",
                          "payload": {"output": chunk, "runId": "wf", "stepName": "s"}})  # fmt: skip
    assert [p["type"] for p in parts] == ["start", "data-tool-agent"]
    plain = conv.convert({"type": "workflow-step-output", "runId": "wf", "from": "USER",
                          "payload": {"output": {"i": 1}, "runId": "wf", "stepName": "s"}})  # fmt: skip
    assert plain == []


def test_ui_stream_converter_rejects_bad_options() -> None:
    with pytest.raises(ValueError, match="from_"):
        UIStreamConverter(from_="network")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nested_update_every"):
        UIStreamConverter(nested_update_every=0)


async def test_to_ai_sdk_stream_reads_a_live_agent_run() -> None:
    agent = Agent("a", model=ScriptedModel([{"text": "hello big world"}]))
    out = agent.stream("hi")
    parts = [p async for p in to_ai_sdk_stream(out)]
    check_order(parts)
    assert [p["type"] for p in parts] == [
        "start", "start-step", "text-start", "text-delta", "text-delta", "text-delta",
        "text-end", "finish-step", "finish",
    ]  # fmt: skip
    assert "".join(p["delta"] for p in parts if p["type"] == "text-delta") == "hello big world"


def test_ui_stream_tripwire_says_why_then_finishes() -> None:
    conv = UIStreamConverter()
    parts: list[Any] = []
    for chunk in [
        {"type": "start", "runId": "r", "from": "AGENT", "payload": {"id": "a", "messageId": "m"}},
        {"type": "text-start", "runId": "r", "from": "AGENT", "payload": {"id": "t"}},
        {"type": "text-delta", "runId": "r", "from": "AGENT", "payload": {"id": "t", "text": "hi"}},
        {"type": "tripwire", "runId": "r", "from": "AGENT",
         "payload": {"reason": "blocked", "retry": False, "metadata": {}}},
    ]:  # fmt: skip
        parts.extend(conv.convert(chunk))
    assert [p["type"] for p in parts] == [
        "start", "text-start", "text-delta", "text-end", "data-tripwire", "finish",
    ]  # fmt: skip
    assert parts[-2]["data"]["reason"] == "blocked"
    assert parts[-1]["finishReason"] == "other"
    assert conv.close() == []


def test_ui_stream_waiting_tool_calls_become_data_parts_and_finish_as_other() -> None:
    conv = UIStreamConverter()
    approval = {"toolCallId": "c1", "toolName": "delete", "args": {"id": "r1"},
                "resumeSchema": None}  # fmt: skip
    parts: list[Any] = []
    for chunk in [
        {"type": "start", "runId": "r", "from": "AGENT", "payload": {"id": "a", "messageId": "m"}},
        {"type": "tool-call", "runId": "r", "from": "AGENT",
         "payload": {"toolCallId": "c1", "toolName": "delete", "args": {"id": "r1"}}},
        {"type": "tool-call-approval", "runId": "r", "from": "AGENT", "payload": approval},
        {"type": "finish", "runId": "r", "from": "AGENT",
         "payload": {"stepResult": {"reason": "suspended"}}},
    ]:  # fmt: skip
        parts.extend(conv.convert(chunk))
    assert [p["type"] for p in parts] == [
        "start", "tool-input-available", "data-tool-call-approval", "finish",
    ]  # fmt: skip
    assert parts[2] == {"type": "data-tool-call-approval", "id": "c1", "data": approval}
    assert parts[3]["finishReason"] == "other"
