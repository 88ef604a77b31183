"""examples/approval_workflow.py runs end to end: suspended at the approval, then approved."""

from __future__ import annotations

from examples.approval_workflow import app, approval_workflow

from tests.support import collect


async def test_example_approval_workflow_suspends_then_resumes() -> None:
    assert app.get_workflow("approval-demo") is approval_workflow
    assert approval_workflow.app is app
    run = await approval_workflow.create_run()
    first = run.stream({"topic": "tests"})
    chunks = await collect(first)
    assert await first.status == "suspended"
    assert any(c["type"] == "data-check" for c in chunks)
    assert (await first.usage)["totalTokens"] == 39
    second = run.resume_stream(step="approve", resume_data={"approved": True, "reviewer": "t"})
    result = await second.result
    assert result["approved"] is True
    assert result["reviewer"] == "t"
