"""The legacy stream: prefix-free names, no envelope (PROTOCOL.md §6 end)."""

from __future__ import annotations

from streamwise.workflows import LegacyWorkflowStream
from tests.support import types
from tests.workflows.flows import three_step


async def test_stream_legacy_names_and_shape() -> None:
    run = await three_step().create_run(run_id="legacy-1")
    stream = run.stream_legacy({"value": 1})
    assert isinstance(stream, LegacyWorkflowStream)
    chunks = [c async for c in stream]
    assert types(chunks) == [
        "start",
        *["step-start", "step-output", "step-result", "step-finish"] * 3,
        "finish",
    ]
    assert all(set(c) == {"type", "payload"} for c in chunks)
    assert chunks[0]["payload"] == {"runId": "legacy-1", "workflowId": "threeStep"}
    assert chunks[4]["payload"] == {"id": "add-one", "metadata": {}}
    assert chunks[-1]["payload"]["workflowStatus"] == "success"
    assert await stream.result == {"value": 16}
    assert await stream.status == "success"
    assert (await stream.usage)["totalTokens"] == 0
