"""Database URLs: which database, which driver, and what to show in messages (no password)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from ..errors import StorageConfigError

__all__ = ("DEFAULT_URL", "ENV_VAR", "DatabaseURL", "default_url", "parse_url")

ENV_VAR = "STREAMWISE_DATABASE_URL"
"""The environment variable that overrides the default database URL."""

DEFAULT_URL = "sqlite:///.streamwise/streamwise.db"
"""A SQLite file under ``./.streamwise/`` (relative to the working directory)."""

_SCHEMES = "sqlite:///path/to/file.db, sqlite://:memory:, postgresql://user@host:port/db"


@dataclass(frozen=True, slots=True)
class DatabaseURL:
    """A parsed database URL."""

    dialect: Literal["sqlite", "postgresql"]
    sqlalchemy_url: str
    """The URL with its async driver (``sqlite+aiosqlite``, ``postgresql+asyncpg``)."""
    display: str
    """The URL with any password replaced by ``***``, for messages and logs."""
    path: str | None = None
    """The file of a SQLite database (None for ``:memory:`` and PostgreSQL)."""

    @property
    def memory(self) -> bool:
        """True for an in-memory SQLite database (gone when the store closes)."""
        return self.dialect == "sqlite" and self.path is None


def default_url() -> str:
    """``$STREAMWISE_DATABASE_URL`` when set, else :data:`DEFAULT_URL`."""
    return os.environ.get(ENV_VAR) or DEFAULT_URL


def parse_url(url: str) -> DatabaseURL:
    """Parse a database URL.

    SQLite follows SQLAlchemy's convention: ``sqlite:///rel/path.db`` is relative to the working
    directory, ``sqlite:////abs/path.db`` absolute; ``sqlite://:memory:`` (or ``sqlite://``) is a
    private in-memory database. ``postgresql://`` and ``postgres://`` use asyncpg.

    Raises:
        StorageConfigError: not a string, or a scheme streamwise has no driver for.
    """
    if not isinstance(url, str) or not url.strip():
        raise StorageConfigError(
            f"a database URL must be a non-empty string ({_SCHEMES}), got {url!r}"
        )
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise StorageConfigError(f"{url!r} is not a database URL; expected one of: {_SCHEMES}")
    scheme = scheme.lower()
    if scheme in ("sqlite", "sqlite+aiosqlite"):
        if rest in ("", ":memory:", "/:memory:", "/"):
            return DatabaseURL("sqlite", "sqlite+aiosqlite://", "sqlite://:memory:")
        if not rest.startswith("/"):
            raise StorageConfigError(
                f"{url!r}: a SQLite URL is sqlite:///relative/path.db or sqlite:////absolute/path.db"
            )
        path = rest[1:].split("?", 1)[0]
        return DatabaseURL("sqlite", f"sqlite+aiosqlite:///{path}", f"sqlite:///{path}", path)
    if scheme in ("postgresql", "postgres", "postgresql+asyncpg"):
        parts = urlsplit(url)
        netloc = parts.netloc
        if not parts.hostname and "host=" not in parts.query:
            raise StorageConfigError(f"{_redact(url)}: a PostgreSQL URL needs a host")
        shown = netloc
        if parts.password is not None:
            shown = netloc.replace(f":{parts.password}@", ":***@", 1)
        return DatabaseURL(
            "postgresql",
            urlunsplit(("postgresql+asyncpg", netloc, parts.path, parts.query, parts.fragment)),
            urlunsplit(("postgresql", shown, parts.path, parts.query, "")),
        )
    raise StorageConfigError(
        f"unsupported database scheme {scheme!r} in {_redact(url)}; expected one of: {_SCHEMES}"
    )


def _redact(url: str) -> str:
    try:
        parts = urlsplit(url)
        if parts.password is not None:
            return url.replace(f":{parts.password}@", ":***@", 1)
    except ValueError:
        return "<unparseable URL>"
    return url
