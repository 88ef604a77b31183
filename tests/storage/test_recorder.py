"""MessageRecorder alone: chunks in, stored parts out (PROTOCOL.md §9). No event loop."""

from __future__ import annotations

from typing import Any

from streamwise.storage import MessageRecorder
from streamwise.storage._events import pack_chunks, unpack_chunks


def c(t: str, **payload: Any) -> dict[str, Any]:
    return {"type": t, "runId": "r1", "from": "AGENT", "payload": payload}


def feed(rec: MessageRecorder, chunks: list[dict[str, Any]]) -> MessageRecorder:
    for chunk in chunks:
        rec.feed(chunk)
    return rec


START = c("start", id="a", messageId="m1")


def test_recorder_text_reasoning_and_steps_become_parts() -> None:
    rec = feed(MessageRecorder(), [
        START, c("step-start", messageId="m1"),
        c("reasoning-start", id="r"), c("reasoning-delta", id="r", text="think "),
        c("reasoning-delta", id="r", text="hard"), c("reasoning-end", id="r"),
        c("text-start", id="t"), c("text-delta", id="t", text="Hel"),
        c("text-delta", id="t", text="lo"), c("text-end", id="t"),
        c("step-finish"), c("finish", stepResult={"reason": "stop"}, output={"usage": {"inputTokens": 1}}),
    ])  # fmt: skip
    assert rec.message_id == "m1"
    assert rec.run_id == "r1"
    assert rec.parts() == [
        {"type": "step-start"},
        {"type": "reasoning", "text": "think hard"},
        {"type": "text", "text": "Hello"},
    ]
    assert rec.status == "success"
    assert rec.metadata() == {
        "runId": "r1", "status": "success", "partial": False,
        "finishReason": "stop", "usage": {"inputTokens": 1},
    }  # fmt: skip


def test_recorder_same_text_id_in_two_steps_makes_two_parts() -> None:
    rec = feed(MessageRecorder(), [
        c("step-start"), c("text-start", id="0"), c("text-delta", id="0", text="a"), c("text-end", id="0"),
        c("step-start"), c("text-start", id="0"), c("text-delta", id="0", text="b"), c("text-end", id="0"),
    ])  # fmt: skip
    assert [p.get("text") for p in rec.parts()] == [None, "a", None, "b"]


def test_recorder_tool_result_completes_the_invocation_and_output_is_not_stored() -> None:
    rec = feed(MessageRecorder(), [
        c("tool-call", toolCallId="k1", toolName="lookup", args={"q": "x"}),
        {"type": "tool-output", "runId": "r1", "from": "USER",
         "payload": {"output": "progress", "toolCallId": "k1", "toolName": "lookup"}},
        c("tool-result", toolCallId="k1", toolName="lookup", result={"answer": 42}),
        c("tool-call", toolCallId="k2", toolName="fail", args={}),
        c("tool-error", toolCallId="k2", toolName="fail", error={"message": "boom"}),
    ])  # fmt: skip
    assert rec.parts() == [
        {"type": "tool-invocation", "toolInvocation": {
            "state": "result", "toolCallId": "k1", "toolName": "lookup",
            "args": {"q": "x"}, "result": {"answer": 42}}},
        {"type": "tool-invocation", "isError": True, "toolInvocation": {
            "state": "result", "toolCallId": "k2", "toolName": "fail",
            "args": {}, "result": {"error": {"message": "boom"}}}},
    ]  # fmt: skip


def test_recorder_data_parts_kept_unless_transient_and_reconciled_by_id() -> None:
    rec = feed(MessageRecorder(), [
        {"type": "data-progress", "data": {"pct": 10}, "transient": True},
        {"type": "data-status", "data": {"s": "a"}, "id": "s1"},
        {"type": "data-note", "data": "plain"},
        {"type": "data-status", "data": {"s": "b"}, "id": "s1"},
    ])  # fmt: skip
    assert rec.parts() == [
        {"type": "data-status", "data": {"s": "b"}, "id": "s1"},
        {"type": "data-note", "data": "plain"},
    ]


def test_recorder_sources_and_files() -> None:
    rec = feed(MessageRecorder(), [
        c("source", id="s", sourceType="url", url="https://example.com", title="Ex"),
        c("file", data="aGk=", mimeType="text/plain", filename="hi.txt"),
    ])  # fmt: skip
    assert rec.parts() == [
        {"type": "source", "source": {"id": "s", "sourceType": "url", "url": "https://example.com", "title": "Ex"}},
        {"type": "file", "mimeType": "text/plain", "data": "aGk=", "filename": "hi.txt"},
    ]  # fmt: skip


def test_recorder_abort_keeps_partial_text() -> None:
    rec = feed(MessageRecorder(), [
        START, c("step-start"), c("text-start", id="t"), c("text-delta", id="t", text="half an "),
        c("abort"),
    ])  # fmt: skip
    assert rec.parts() == [{"type": "step-start"}, {"type": "text", "text": "half an "}]
    assert rec.status == "canceled"
    assert rec.partial
    assert rec.metadata()["finishReason"] == "abort"


def test_recorder_error_keeps_what_arrived_and_the_error() -> None:
    rec = feed(MessageRecorder(), [
        START, c("text-start", id="t"), c("text-delta", id="t", text="so far"),
        c("error", error={"message": "model died"}),
    ])  # fmt: skip
    assert rec.parts() == [{"type": "text", "text": "so far"}]
    meta = rec.metadata()
    assert meta["status"] == "failed"
    assert meta["partial"] is True
    assert meta["error"] == {"message": "model died"}


def test_recorder_without_terminal_chunk_is_interrupted() -> None:
    rec = feed(MessageRecorder(), [START, c("text-delta", id="t", text="cut")])
    rec.finish()
    assert rec.status == "interrupted"
    assert rec.partial
    assert rec.parts() == [{"type": "text", "text": "cut"}]


def test_recorder_has_content_ignores_step_boundaries() -> None:
    rec = feed(MessageRecorder(), [START, c("step-start")])
    assert not rec.has_content()
    rec.feed(c("text-delta", id="t", text="x"))
    assert rec.has_content()


def test_recorder_feed_many_matches_feed_one_by_one() -> None:
    chunks = [
        START, c("step-start"), c("text-start", id="a"),
        *[c("text-delta", id="a", text=f"{i} ") for i in range(50)],
        c("reasoning-start", id="r"), c("reasoning-delta", id="r", text="hm"),
        c("text-delta", id="a", text="after"), c("text-end", id="a"),
        c("text-start", id="a"), c("text-delta", id="a", text="again"), c("text-end", id="a"),
        c("text-delta", id="b", text="no start"),
        c("finish", stepResult={"reason": "stop"}, output={}),
    ]  # fmt: skip
    one = feed(MessageRecorder(), chunks)
    many = MessageRecorder()
    many.feed_many(chunks)
    assert many.parts() == one.parts()
    assert many.metadata() == one.metadata()
    assert many.parts()[1]["text"].endswith("49 after")


def test_recorder_feed_many_takes_packed_event_log_items() -> None:
    chunks = [
        START, c("step-start"), c("text-start", id="a"),
        *[c("text-delta", id="a", text=f"{i} ") for i in range(30)],
        c("text-end", id="a"), c("text-start", id="b"),
        *[c("text-delta", id="b", text=f"{i}") for i in range(3)],
        c("tool-call", toolCallId="k", toolName="t", args={}),
        c("text-delta", id="b", text="!"),
        c("finish", stepResult={"reason": "stop"}, output={}),
    ]  # fmt: skip
    packed = pack_chunks(chunks)
    assert len(packed) < len(chunks) // 2
    assert unpack_chunks(packed) == chunks
    one = feed(MessageRecorder(), chunks)
    many = MessageRecorder()
    many.feed_many(packed)
    assert many.parts() == one.parts()
    assert many.metadata() == one.metadata()


def step(text: str) -> dict[str, Any]:
    """A step-finish whose output text is ``text`` (the agent's join of the step's deltas)."""
    return c("step-finish", output={"text": text})


def test_recorder_takes_a_one_part_steps_text_from_its_step_finish() -> None:
    deltas = [c("text-delta", id="t", text=str(i)) for i in range(50)]
    chunks = [START, c("step-start"), c("text-start", id="t"), *deltas, c("text-end", id="t")]
    one = feed(MessageRecorder(), [*chunks, step("".join(str(i) for i in range(50)))])
    assert one.parts()[1] == {"type": "text", "text": "".join(str(i) for i in range(50))}
    # The step's text is taken as it is (what the model said, joined once by the agent),
    # not joined again from the deltas: a step-finish that says otherwise shows it.
    told = feed(MessageRecorder(), [*chunks, step("the step's own text")])
    assert told.parts()[1] == {"type": "text", "text": "the step's own text"}
    many = MessageRecorder()
    many.feed_many([*pack_chunks(chunks), step("the step's own text")])
    assert many.parts() == told.parts()


def test_recorder_keeps_each_parts_own_text_when_a_step_has_several() -> None:
    rec = feed(MessageRecorder(), [
        START, c("step-start"),
        c("text-delta", id="a", text="one "), c("text-delta", id="b", text="two"),
        c("text-delta", id="a", text="more"), step("one twomore"),
        # A part still open when the next step starts goes on in it: that step's text is not
        # the part's.
        c("step-start"), c("text-delta", id="a", text="!"), c("text-delta", id="e", text="new"),
        step("!new"),
        c("text-end", id="a"), c("text-end", id="b"), c("text-end", id="e"),
        # Another run's step-finish says nothing of this run's step.
        c("step-start"), c("text-delta", id="c", text="other "), c("text-delta", id="c", text="run"),
        {**step("x"), "runId": "child"}, c("text-end", id="c"),
        c("step-start"), c("text-delta", id="d", text="la"), c("text-delta", id="d", text="st"),
        step("last"),
    ])  # fmt: skip
    texts = [p.get("text") for p in rec.parts()]
    assert texts == [None, "one more!", "two", None, "new", None, "other run", None, "last"]
