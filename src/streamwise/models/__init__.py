"""Models: the streaming model interface, the provider registry and the scripted model."""

from ._base import FinishReason as FinishReason
from ._base import LanguageModel as LanguageModel
from ._base import ModelMessage as ModelMessage
from ._base import ModelPart as ModelPart
from ._base import ModelRequest as ModelRequest
from ._base import ToolSpec as ToolSpec
from ._registry import register_provider as register_provider
from ._registry import resolve_model as resolve_model
from ._scripted import ScriptedModel as ScriptedModel
from ._scripted import ScriptedToolCall as ScriptedToolCall
from ._scripted import Turn as Turn

__all__ = (
    "FinishReason",
    "LanguageModel",
    "ModelMessage",
    "ModelPart",
    "ModelRequest",
    "ScriptedModel",
    "ScriptedToolCall",
    "ToolSpec",
    "Turn",
    "register_provider",
    "resolve_model",
)
