"""What the provider adapters share: clear error messages, timestamps and JSON text (no SDK)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = ("describe_api_error", "iso_timestamp", "json_text")


def iso_timestamp(unix_seconds: float | None) -> str:
    """An ISO 8601 UTC timestamp; now when the provider sent none."""
    if unix_seconds is None:
        return datetime.now(UTC).isoformat()
    return datetime.fromtimestamp(unix_seconds, UTC).isoformat()


def json_text(value: Any) -> str:
    """A value as the text of a message: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def describe_api_error(
    exc: BaseException, *, provider: str, model: str, key_env: str, max_retries: int
) -> str:
    """A one-line message for an error of the ``openai`` or ``anthropic`` SDK (or of httpx)."""
    where = f"{provider} model {model!r}"
    status = getattr(exc, "status_code", None)
    message = _body_message(getattr(exc, "body", None)) or str(exc)
    if status == 401:
        return f"{where}: authentication failed (HTTP 401): {message} (check {key_env} or api_key=)"
    if status == 403:
        return f"{where}: permission denied (HTTP 403): {message}"
    if status == 429:
        return f"{where}: rate limited (HTTP 429), still after {max_retries} retries: {message}"
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "APITimeoutError" in names or "TimeoutException" in names:
        return f"{where}: the request timed out"
    if "APIConnectionError" in names or "TransportError" in names:
        cause = exc.__cause__ if "APIConnectionError" in names else exc
        detail = f": {cause}" if cause is not None and str(cause) else ""
        return f"{where}: the connection failed or dropped mid-stream{detail}"
    if isinstance(status, int) and status >= 400:
        return f"{where}: the API answered HTTP {status}: {message}"
    return f"{where}: the API reported an error mid-stream: {message}"


def _body_message(body: Any) -> str | None:
    if isinstance(body, Mapping):
        inner = body.get("error")
        if isinstance(inner, Mapping):
            body = inner
        msg = body.get("message")
        kind = body.get("type") or body.get("code")
        if isinstance(msg, str):
            return f"{kind}: {msg}" if isinstance(kind, str) else msg
    return None
