"""Every storage test runs against SQLite (a file) and PostgreSQL (a fresh schema per test):
the ``db_url`` fixture is in ``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from streamwise.storage import Store


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    """An open store on an empty database, closed after the test."""
    async with Store(db_url) as s:
        yield s
