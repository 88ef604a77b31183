"""Compatibility with the Vercel AI SDK: the UI message stream (and, merged later, messages)."""

from ._ui_stream import UIPart as UIPart
from ._ui_stream import UIStreamConverter as UIStreamConverter
from ._ui_stream import to_ai_sdk_stream as to_ai_sdk_stream

__all__ = ("UIPart", "UIStreamConverter", "to_ai_sdk_stream")
