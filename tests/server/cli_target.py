"""A module exposing ``app`` for ``streamwise serve tests.server.cli_target:app``."""

from tests.server.support import demo_app

app = demo_app()
