"""Fixtures for every test: a database URL of each kind (SQLite file, real PostgreSQL)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PG_URL = os.environ.get("STREAMWISE_TEST_POSTGRES_URL")


async def reset_postgres(url: str) -> None:
    """Drop every table: each test starts from an empty database."""
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL for an empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/streamwise.db"
    if not PG_URL:
        if os.environ.get("CI"):
            pytest.fail(
                "STREAMWISE_TEST_POSTGRES_URL is not set under CI: run the suite through "
                "scripts/test.sh, which starts PostgreSQL (scripts/setup_postgres.sh)"
            )
        pytest.skip(
            "no PostgreSQL: STREAMWISE_TEST_POSTGRES_URL is unset (scripts/test.sh sets it)"
        )
    await reset_postgres(PG_URL)
    return PG_URL
