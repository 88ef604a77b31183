"""The registry of recent runs: bounded, running runs kept, owners respected."""

from __future__ import annotations

import pytest

from streamwise import Agent
from streamwise.server import RunRegistry, ServerSettings
from streamwise.testing import ScriptedModel


def _agent() -> Agent:
    return Agent("a", model=ScriptedModel(lambda m: {"text": "hi"}))


async def test_runs_registry_drops_oldest_finished_first() -> None:
    reg = RunRegistry(max_runs=2)
    agent = _agent()
    outs = [agent.stream("go", run_id=f"r{i}") for i in range(3)]
    for out in outs:
        await out.wait()
        reg.add("a", out)
    stats = reg.statistics()
    assert (stats.runs, stats.running, stats.max_runs) == (2, 0, 2)
    assert reg.get("a", "r2") is outs[2]
    assert reg.get("a", "r1") is outs[1]
    assert reg.get("a", "r0") is None
    assert reg.get("other", "r2") is None  # another owner's run is not found


async def test_runs_registry_keeps_running_runs() -> None:
    reg = RunRegistry(max_runs=1)
    model = ScriptedModel(lambda m: {"text": ["a", "b"], "delay": 0.01})
    agent = Agent("a", model=model)
    first = agent.stream("go")
    second = agent.stream("go")
    reg.add("a", first)
    reg.add("a", second)
    assert reg.statistics().runs == 2  # both running: nothing may be dropped
    assert reg.is_running(first.run_id)
    await first.wait()
    await second.wait()
    reg.add("a", agent.stream("go", run_id="third"))
    assert reg.statistics().runs == 1
    assert not reg.is_running(first.run_id)


def test_settings_from_env_and_checks() -> None:
    s = ServerSettings.from_env(
        {
            "STREAMWISE_API_KEY": "k",
            "STREAMWISE_CORS_ORIGINS": "http://a.test, http://b.test",
            "STREAMWISE_MAX_BODY_BYTES": "10",
            "STREAMWISE_HEARTBEAT_SECONDS": "0.5",
            "STREAMWISE_MAX_RUNS": "3",
        }
    )
    assert s == ServerSettings("k", ("http://a.test", "http://b.test"), 10, 0.5, 3)
    assert ServerSettings.from_env({}) == ServerSettings()
    with pytest.raises(ValueError, match="max_body_bytes"):
        ServerSettings(max_body_bytes=0)
    with pytest.raises(ValueError, match="heartbeat_interval"):
        ServerSettings(heartbeat_interval=-1)
    with pytest.raises(ValueError, match="max_runs"):
        ServerSettings(max_runs=0)
