"""Test doubles that are part of the public API: the scripted model."""

from .models import ScriptedModel as ScriptedModel
from .models import ScriptedToolCall as ScriptedToolCall
from .models import Turn as Turn

__all__ = ("ScriptedModel", "ScriptedToolCall", "Turn")
