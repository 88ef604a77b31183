"""Conversions to the Vercel AI SDK's shapes (sans-IO): stored messages → ``UIMessage``s."""

from ._messages import to_ai_sdk_messages as to_ai_sdk_messages
from ._messages import to_ai_sdk_parts as to_ai_sdk_parts

__all__ = ("to_ai_sdk_messages", "to_ai_sdk_parts")
