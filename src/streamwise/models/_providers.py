"""What the provider adapters share: clear error messages, timestamps and JSON text (no SDK)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from ..errors import (
    ConfigurationError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelRateLimitError,
)

__all__ = (
    "SEND_REASONING",
    "FileData",
    "SendReasoning",
    "api_model_error",
    "describe_api_error",
    "is_file_part",
    "iso_timestamp",
    "json_text",
    "reasoning_sent",
)

SendReasoning = Literal["never", "tool-loop", "always"]
"""Which assistant messages' reasoning goes back to an OpenAI-compatible API (docs/providers.md).

- ``never``: none.
- ``tool-loop``: only the current turn's, i.e. the assistant messages after the last user
  message (the steps of a tool loop); earlier turns go without their reasoning.
- ``always``: every assistant message's.
"""

SEND_REASONING: tuple[SendReasoning, ...] = ("never", "tool-loop", "always")


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


def reasoning_sent(messages: Sequence[Mapping[str, Any]], mode: SendReasoning) -> list[bool]:
    """For each message, whether its reasoning goes back under ``mode``."""
    if mode == "never":
        return [False] * len(messages)
    if mode == "always":
        return [True] * len(messages)
    last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=-1)
    return [i > last_user for i in range(len(messages))]


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


def api_model_error(
    exc: BaseException, *, provider: str, model: str, key_env: str, max_retries: int
) -> ModelError:
    """The :class:`ModelError` (of the subclass for its kind) for an SDK or transport error."""
    message = describe_api_error(
        exc, provider=provider, model=model, key_env=key_env, max_retries=max_retries
    )
    status = getattr(exc, "status_code", None)
    names = {cls.__name__ for cls in type(exc).__mro__}
    kind: type[ModelError] = ModelError
    if status in (401, 403):
        kind = ModelAuthenticationError
    elif status == 429:
        kind = ModelRateLimitError
    elif names & {"APITimeoutError", "TimeoutException", "APIConnectionError", "TransportError"}:
        kind = ModelConnectionError
    return kind(message)


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


class FileData:
    """A user message's file or image part, as a URL or base64 data with its media type.

    Accepts the AI SDK's shapes: ``{"type": "file", "mediaType", "data"}`` (``data`` base64,
    an ``http(s)://`` URL or a ``data:`` URL; ``url`` also works) and ``{"type": "image",
    "image" | "url", "mediaType"?}``.
    """

    __slots__ = ("base64", "filename", "media_type", "url")

    def __init__(self, part: Mapping[str, Any]) -> None:
        value = part.get("data") or part.get("image") or part.get("url")
        if not isinstance(value, str) or not value:
            raise ConfigurationError(
                f"a {part.get('type')!r} part needs 'data' (base64) or 'url' as a string: "
                f"{sorted(part)}"
            )
        media_type = part.get("mediaType") or part.get("mimeType")
        self.filename: str | None = part.get("filename")
        self.url: str | None = None
        self.base64: str | None = None
        if value.startswith("data:"):
            header, _, self.base64 = value.partition(",")
            media_type = media_type or header[5:].split(";")[0]
        elif value.startswith(("http://", "https://")):
            self.url = value
        else:
            self.base64 = value
        if not media_type:
            if part.get("type") != "image":
                raise ConfigurationError("a 'file' part needs its 'mediaType', e.g. image/png")
            media_type = "image/png" if self.base64 is not None else "image/*"
        self.media_type: str = media_type

    @property
    def is_image(self) -> bool:
        return self.media_type.startswith("image/")

    def as_url(self) -> str:
        """An ``http(s)`` URL as it is, or the data as a ``data:`` URL."""
        if self.url is not None:
            return self.url
        return f"data:{self.media_type};base64,{self.base64}"


def is_file_part(part: Mapping[str, Any]) -> bool:
    """True for a user message's ``file`` or ``image`` part."""
    return part.get("type") in ("file", "image")
