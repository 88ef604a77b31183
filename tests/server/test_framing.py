"""SSE and record framing (PROTOCOL.md §7), sans-IO, byte for byte against Mastra's traces."""

from __future__ import annotations

import orjson

from streamwise.server._records import RECORD_HEADERS, record, record_error, records
from streamwise.server._sse import (
    SSE_DONE,
    SSE_HEADERS,
    UI_STREAM_HEADERS,
    sse_error,
    sse_event,
    sse_events,
)
from tests.compat.test_ui_stream import TRACES, record_json, sse_json


def _headers(name: str) -> dict[str, str]:
    lines = (TRACES / name).read_text().splitlines()[1:]
    pairs = [line.split(": ", 1) for line in lines if ": " in line]
    skip = {"date", "transfer-encoding", "keep-alive", "content-length"}
    return {k.lower(): v for k, v in pairs if k.lower() not in skip}


def test_sse_frames_reproduce_the_agent_trace_bytes() -> None:
    raw = (TRACES / "agent-stream.raw").read_bytes()
    chunks = sse_json("agent-stream.raw")
    assert b"".join(sse_event(c) for c in chunks) + SSE_DONE == raw
    assert sse_events(chunks) + SSE_DONE == raw
    assert b"\r" not in raw


def test_sse_frames_reproduce_the_ui_trace_bytes() -> None:
    raw = (TRACES / "chat.raw").read_bytes()
    assert sse_events(sse_json("chat.raw")) + SSE_DONE == raw


def test_records_reproduce_the_workflow_trace_bytes() -> None:
    for name in ("wf-stream.raw", "observe.raw", "appr-stream.raw", "appr-resume.raw"):
        raw = (TRACES / name).read_bytes()
        chunks = record_json(name)
        assert records(chunks) == raw, name
        assert b"".join(record(c) for c in chunks) == raw


def test_sse_headers_match_mastra() -> None:
    ours = {k.decode(): v.decode() for k, v in SSE_HEADERS}
    assert ours == _headers("agent-stream.headers")
    ui = {k.decode(): v.decode() for k, v in UI_STREAM_HEADERS}
    assert ui == _headers("chat.headers")


def test_record_headers_match_mastra() -> None:
    ours = {k.decode(): v.decode() for k, v in RECORD_HEADERS}
    theirs = _headers("wf-stream.headers")
    theirs.pop("connection")
    assert ours == theirs


def test_error_frames_carry_only_a_message() -> None:
    assert sse_error("boom") == b'data: {"type":"error","payload":{"error":{"message":"boom"}}}\n\n'
    rec = record_error("boom")
    assert rec.endswith(b"\x1e")
    assert orjson.loads(rec[:-1]) == {"type": "error", "payload": {"error": {"message": "boom"}}}


def test_sse_event_encodes_pydantic_values() -> None:
    import pydantic

    class P(pydantic.BaseModel):
        x: int

    assert sse_event({"type": "tool-output", "payload": {"output": P(x=1)}}) == (
        b'data: {"type":"tool-output","payload":{"output":{"x":1}}}\n\n'
    )
