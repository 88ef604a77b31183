"""A module exposing ``app`` for ``streamwise serve tests.server.cli_target:app``."""

import gc
from typing import Any

from streamwise import Agent
from streamwise.testing import ScriptedModel
from tests.server.support import demo_app


def _collector(messages: list[Any]) -> Any:
    """The serving process's frozen object count and gen0 threshold, as text."""
    return {"text": f"{gc.get_freeze_count()} {gc.get_threshold()[0]}"}


app = demo_app()
app.add_agent(Agent("gcAgent", model=ScriptedModel(_collector)))
