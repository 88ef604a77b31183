"""JSON responses: orjson-encoded, and the error shape every route uses."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ._json import dumps

__all__ = ("error_response", "json_response")


def json_response(data: Any, status: int = 200) -> Response:
    """A JSON response, encoded once with orjson."""
    return Response(dumps(data), status_code=status, media_type="application/json")


def error_response(status: int, message: str, **extra: Any) -> Response:
    """``{"error": message, ...}`` with ``status``: what a client sees for 4xx and 5xx."""
    return json_response({"error": message, **extra}, status)
