"""The real JS clients against a real server: @mastra/client-js and the AI SDK's useChat code.

The Node scripts are in ``tests/js/``; ``scripts/setup_node.sh`` installs the exact versions
of ``package-lock.json``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx
import orjson

from streamwise import Streamwise
from tests.server.support import demo_app, running_server

ROOT = Path(__file__).resolve().parents[2]


def node(script: str, *args: str) -> Any:
    """Run ``tests/js/<script>`` with node; return the JSON it prints."""
    if not (ROOT / "node_modules" / "ai").exists():
        raise AssertionError("node_modules is missing: run bash scripts/setup_node.sh")
    r = subprocess.run(
        ["node", str(ROOT / "tests" / "js" / script), *args],
        capture_output=True,
        text=True,
        timeout=50,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    return orjson.loads(r.stdout)


def test_js_mastra_client_streams_nested_agent_and_observes() -> None:
    with running_server() as url:
        report = node("mastra_client.mjs", url)
    assert report["agentIds"] == sorted(demo_app().agents)
    assert report["toolInputSchema"]["json"]["required"] == ["topic"]
    types = report["types"]
    assert types[0] == "start"
    assert types[-1] == "finish"
    assert types.index("tool-call") < types.index("tool-output") < types.index("tool-result")
    assert report["nestedTypes"] == [
        "start", "step-start", "text-start", "text-delta", "text-delta", "text-delta",
        "text-end", "step-finish", "finish",
    ]  # fmt: skip
    assert len(report["nestedRunIds"]) == 1
    assert report["nestedRunIds"][0] != report["runId"]
    assert report["nestedText"] == "sub sub sub "
    # Usage of the nested agent is in the parent's total: 2 parent calls + 1 child call.
    assert report["finishUsage"]["totalTokens"] == 24
    assert report["observedTypes"] == types[3:]


def test_js_ai_sdk_chat_transport_reads_valid_ui_messages() -> None:
    with running_server() as url:
        report = node("ai_chat.mjs", url, "researchAgent")
    assert report["errors"] == []
    assert report["validatedCount"] == 2
    assert report["partTypes"][0] == "start"
    assert report["partTypes"][-1] == "finish"
    assert "data-tool-agent" in report["partTypes"]
    # The transient progress part reached the stream but not the message.
    assert "data-progress" in report["partTypes"]
    assert "data-progress" not in report["messageParts"]
    assert report["text"] == "done done done "
    assert report["toolPart"]["state"] == "output-available"
    assert report["toolPart"]["output"] == {"topic": "streams", "summary": "sub sub sub "}
    nested = report["nested"]
    assert len(nested) == 1
    assert nested[0]["status"] == "finished"
    assert nested[0]["text"] == "sub sub sub "


def test_js_ai_sdk_chat_transport_reads_a_plain_run() -> None:
    with running_server() as url:
        report = node("ai_chat.mjs", url, "plainAgent")
    assert report["errors"] == []
    assert report["text"] == "hello from streamwise"
    assert report["partTypes"][-1] == "finish"


def test_js_ai_sdk_chat_transport_sees_the_error_of_a_failed_run() -> None:
    with running_server() as url:
        report = node("ai_chat.mjs", url, "failingAgent")
    assert report["partTypes"][-1] == "error"
    assert "model exploded" in report["errors"][0]
    assert report["text"] == "partial "


def test_js_mastra_client_disconnect_leaves_the_run_complete() -> None:
    with running_server(demo_app(slow_words=40, slow_delay=0.005)) as url:
        report = node("mastra_disconnect.mjs", url, "slowAgent")
        assert report["received"] >= 1
        o = httpx.post(
            f"{url}/api/agents/slowAgent/observe", json={"runId": report["runId"]}, timeout=20
        )
    chunks = [
        orjson.loads(f[6:])
        for f in o.content.split(b"\n\n")
        if f.startswith(b"data: ") and f != b"data: [DONE]"
    ]
    assert chunks[-1]["type"] == "finish"
    assert sum(1 for c in chunks if c["type"] == "text-delta") == 40


def test_js_mastra_client_streams_suspends_resumes_and_observes_real_workflows() -> None:
    from streamwise import Streamwise
    from tests.workflows.flows import approval, three_step

    with running_server(Streamwise(workflows=[three_step(), approval()])) as url:
        report = node("mastra_workflow.mjs", url)
    assert report["workflowIds"] == ["approval", "threeStep"]
    assert report["plainTypes"] == [
        "workflow-start",
        *["workflow-step-start", "workflow-step-output", "workflow-step-result"] * 3,
        "workflow-finish",
    ]
    assert report["plainResult"] == {"value": 64}
    assert report["firstTypes"] == [
        "workflow-start", "workflow-step-start", "workflow-step-result",
        "workflow-step-start", "workflow-step-suspended", "workflow-finish",
    ]  # fmt: skip
    assert report["firstStatus"] == "suspended"
    assert report["suspendPayload"] == {"reason": "approve INVOICE?"}
    assert report["resumedTypes"] == [
        "workflow-start", "workflow-step-start", "workflow-step-result", "workflow-finish",
    ]  # fmt: skip
    assert report["resumedStatus"] == "success"
    assert report["resumedResult"] == {"item": "INVOICE", "approved": True}
    assert report["resumedRunIds"] == [report["runId"]]
    assert report["observedTypes"] == report["resumedTypes"][2:]


def test_js_ai_sdk_reads_a_real_workflow_with_a_streaming_agent_step() -> None:
    from streamwise import Agent, Streamwise, create_step, create_workflow
    from streamwise.testing import ScriptedModel
    from tests.workflows.flows import three_step

    writer = Agent("writer", model=ScriptedModel(lambda m: {"text": "a short poem"}))
    wf = create_workflow("poem").then(create_step(writer)).commit()
    with running_server(Streamwise(agents=[writer], workflows=[wf, three_step()])) as url:
        report = node("ai_workflow.mjs", url, "poem", '{"prompt": "write"}')
        plain = node("ai_workflow.mjs", url, "threeStep", '{"value": 3}')
    assert report["errors"] == []
    assert plain["errors"] == []
    [final] = report["workflow"]
    assert final["status"] == "success"
    assert final["steps"]["writer"]["output"] == {"text": "a short poem"}
    [three] = plain["workflow"]
    assert three["steps"]["square"]["output"] == {"value": 64}


def test_js_mastra_client_approves_and_declines_tool_calls() -> None:
    from tests.agent.test_approval import deleting_agent

    agent, deleted = deleting_agent()
    with running_server(Streamwise(agents=[agent])) as url:
        report = node("mastra_approval.mjs", url)
    assert report["firstTypes"][-3:] == ["tool-call-approval", "step-finish", "finish"]
    assert report["finishReason"] == "suspended"
    assert report["approval"]["toolName"] == "delete"
    assert report["approvedTypes"][:2] == ["start", "tool-result"]
    assert report["approvedRunIds"] == [report["runId"]]
    assert report["approvedText"] == "after: {'deleted': True}"
    assert report["declinedText"] == "after: not today"
    assert deleted == ["r1"]


def test_js_ai_sdk_chat_transport_reads_a_run_waiting_for_approval() -> None:
    from tests.agent.test_approval import deleting_agent

    agent, deleted = deleting_agent()
    with running_server(Streamwise(agents=[agent])) as url:
        report = node("ai_chat.mjs", url, "admin")
    assert report["errors"] == []
    assert "data-tool-call-approval" in report["partTypes"]
    assert report["partTypes"][-1] == "finish"
    assert "data-tool-call-approval" in report["messageParts"]
    assert report["validatedCount"] == 2
    assert deleted == []
