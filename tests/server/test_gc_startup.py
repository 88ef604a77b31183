"""The server's start-up tunes the garbage collector once (``ServerSettings.gc_tuning``)."""

from __future__ import annotations

import httpx
import pytest

from streamwise.server import ServerSettings
from tests.server.test_cli import serving
from tests.test_gc import in_fresh_process

# Two apps started (lifespan start-up) one after the other in one process, with new tracked
# objects made in between: the first start-up tunes, the second changes nothing.
STARTUPS = """
import asyncio, gc, json
from streamwise.server import ServerSettings, create_asgi_app
from tests.server.support import demo_app

async def start(settings):
    asgi = create_asgi_app(demo_app(), settings)
    async with asgi.router.lifespan_context(asgi):
        return [gc.get_freeze_count(), gc.get_threshold()]

async def main():
    seen = [[gc.get_freeze_count(), gc.get_threshold()]]
    seen.append(await start(SETTINGS))
    made_since = [[i] for i in range(1000)]
    seen.append(await start(SETTINGS))
    print(json.dumps(seen))

asyncio.run(main())
"""


def startups(settings: str) -> list[list[object]]:
    result: list[list[object]] = in_fresh_process(STARTUPS.replace("SETTINGS", settings))
    return result


def test_server_start_up_freezes_once() -> None:
    before, first, second = startups("ServerSettings(heartbeat_interval=0)")
    assert before == [0, [700, 10, 10]]
    assert isinstance(first[0], int) and first[0] > 1000
    assert first[1] == [10_000, 10, 10]
    # Not frozen again: the 1,000 lists made since stay out (frozen objects may still be freed).
    assert second[1] == first[1]
    assert isinstance(second[0], int) and second[0] <= first[0]


@pytest.mark.parametrize(
    "settings",
    [
        "ServerSettings(gc_tuning=False)",
        "ServerSettings.from_env({'STREAMWISE_GC_TUNING': '0'})",
    ],
)
def test_server_start_up_keeps_the_collector_when_turned_off(settings: str) -> None:
    assert startups(settings) == [[0, [700, 10, 10]]] * 3


def test_gc_tuning_setting_from_env() -> None:
    assert ServerSettings.from_env({}).gc_tuning is True
    assert ServerSettings.from_env({"STREAMWISE_GC_TUNING": "off"}).gc_tuning is False
    assert ServerSettings.from_env({"STREAMWISE_GC_TUNING": "yes"}).gc_tuning is True
    with pytest.raises(ValueError, match="STREAMWISE_GC_TUNING must be"):
        ServerSettings.from_env({"STREAMWISE_GC_TUNING": "maybe"})


def collector_of(url: str) -> list[int]:
    """The serving process's freeze count and gen0 threshold, as its ``gcAgent`` says them."""
    r = httpx.post(f"{url}/api/agents/gcAgent/generate", json={"messages": "hi"}, timeout=10)
    return [int(word) for word in r.json()["text"].split()]


def test_cli_serve_tunes_the_collector_unless_told_not_to() -> None:
    with serving("serve", "tests.server.cli_target:app") as url:
        frozen, gen0 = collector_of(url)
    assert frozen > 1000
    assert gen0 == 10_000
    with serving("serve", "tests.server.cli_target:app", "--no-gc-tuning") as url:
        assert collector_of(url) == [0, 700]
