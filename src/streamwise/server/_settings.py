"""Server settings: auth, CORS, body size, heartbeats and run retention, from code or env."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ("ServerSettings",)

_MAX_BODY = 1_048_576
_HEARTBEAT = 15.0
_MAX_RUNS = 256


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """How the HTTP server behaves (see ``docs/server.md``).

    Attributes:
        api_key: when set, every route but ``/openapi.json`` needs
            ``Authorization: Bearer <api_key>`` (env ``STREAMWISE_API_KEY``).
        cors_origins: origins allowed by CORS; ``("*",)`` allows any (env
            ``STREAMWISE_CORS_ORIGINS``, comma separated). Empty: no CORS headers.
        max_body_bytes: the largest request body accepted; larger ones get 413 (env
            ``STREAMWISE_MAX_BODY_BYTES``).
        heartbeat_interval: seconds of silence on a stream before a keep-alive is sent; 0
            turns heartbeats off (env ``STREAMWISE_HEARTBEAT_SECONDS``).
        max_runs: how many recent runs stay observable; the oldest finished ones are dropped
            first (env ``STREAMWISE_MAX_RUNS``).
        gc_tuning: call :func:`streamwise.tune_gc` when the server starts (its lifespan
            start-up): freeze what start-up made and raise the youngest generation's
            threshold; ``docs/performance.md``. Off with env ``STREAMWISE_GC_TUNING=0``.
    """

    api_key: str | None = None
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = _MAX_BODY
    heartbeat_interval: float = _HEARTBEAT
    max_runs: int = _MAX_RUNS
    gc_tuning: bool = True

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1:
            raise ValueError("max_body_bytes must be ≥ 1")
        if self.heartbeat_interval < 0:
            raise ValueError("heartbeat_interval must be ≥ 0 (0 turns heartbeats off)")
        if self.max_runs < 1:
            raise ValueError("max_runs must be ≥ 1")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServerSettings:
        """Settings from ``STREAMWISE_*`` environment variables (defaults for the rest)."""
        e = os.environ if env is None else env
        origins = tuple(
            o.strip() for o in e.get("STREAMWISE_CORS_ORIGINS", "").split(",") if o.strip()
        )
        return cls(
            api_key=e.get("STREAMWISE_API_KEY") or None,
            cors_origins=origins,
            max_body_bytes=int(e.get("STREAMWISE_MAX_BODY_BYTES", _MAX_BODY)),
            heartbeat_interval=float(e.get("STREAMWISE_HEARTBEAT_SECONDS", _HEARTBEAT)),
            max_runs=int(e.get("STREAMWISE_MAX_RUNS", _MAX_RUNS)),
            gc_tuning=_flag(e.get("STREAMWISE_GC_TUNING", "1"), "STREAMWISE_GC_TUNING"),
        )


def _flag(value: str, name: str) -> bool:
    """An on/off environment variable: 1/true/on/yes or 0/false/off/no."""
    v = value.strip().lower()
    if v in ("1", "true", "on", "yes"):
        return True
    if v in ("0", "false", "off", "no"):
        return False
    raise ValueError(f"{name} must be 1/true/on/yes or 0/false/off/no, got {value!r}")
