"""Compatibility with the Vercel AI SDK (sans-IO): the UI message stream and stored messages."""

from ._messages import to_ai_sdk_messages as to_ai_sdk_messages
from ._messages import to_ai_sdk_parts as to_ai_sdk_parts
from ._ui_stream import UIPart as UIPart
from ._ui_stream import UIStreamConverter as UIStreamConverter
from ._ui_stream import to_ai_sdk_stream as to_ai_sdk_stream

__all__ = (
    "UIPart",
    "UIStreamConverter",
    "to_ai_sdk_messages",
    "to_ai_sdk_parts",
    "to_ai_sdk_stream",
)
