"""Record framing of the workflow routes (PROTOCOL.md §7): ``JSON + "\\x1E"``, sans-IO.

Every chunk is one JSON document followed by the ASCII record separator; there is no
terminator: the stream ends when the response ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._json import dumps

__all__ = ("RECORD_HEADERS", "RECORD_SEPARATOR", "record", "record_error", "records")

RECORD_SEPARATOR = b"\x1e"

RECORD_HEADERS: tuple[tuple[bytes, bytes], ...] = ((b"content-type", b"text/plain"),)
"""Headers of Mastra's workflow stream routes (``reference-traces/wf-stream.headers``)."""


def record(chunk: Any) -> bytes:
    """One record for ``chunk``.

    Raises:
        TypeError: the chunk holds a value with no JSON form.
    """
    return dumps(chunk) + RECORD_SEPARATOR


def records(chunks: Iterable[Any]) -> bytes:
    """The records of several chunks, joined (one write to the socket)."""
    return b"".join([dumps(c) + RECORD_SEPARATOR for c in chunks])


def record_error(message: str) -> bytes:
    """The error record of a stream that failed on the server side (PROTOCOL.md §7)."""
    return record({"type": "error", "payload": {"error": {"message": message}}})
