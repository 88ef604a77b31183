"""Fixtures for the provider tests: a loopback wire server per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.models.wire_server import WireServer


@pytest.fixture
async def server() -> AsyncIterator[WireServer]:
    """A wire server on 127.0.0.1 with nothing queued."""
    async with WireServer() as s:
        yield s
