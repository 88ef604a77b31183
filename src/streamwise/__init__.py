"""streamwise: AI agents, tools and workflows in which everything streams."""

from . import errors as errors
from ._gc import tune_gc as tune_gc
from .agent import Agent as Agent
from .agent import AgentOutput as AgentOutput
from .agent import GenerateResult as GenerateResult
from .agent import StepResult as StepResult
from .app import Streamwise as Streamwise
from .models import LanguageModel as LanguageModel
from .models import register_provider as register_provider
from .stream import Chunk as Chunk
from .stream import ChunkWriter as ChunkWriter
from .stream import RunOutput as RunOutput
from .stream import Usage as Usage
from .tools import Tool as Tool
from .tools import ToolContext as ToolContext
from .tools import create_tool as create_tool
from .tools import tool as tool
from .workflows import StepContext as StepContext
from .workflows import Workflow as Workflow
from .workflows import WorkflowOutput as WorkflowOutput
from .workflows import create_step as create_step
from .workflows import create_workflow as create_workflow

__version__ = "0.1.0"

__all__ = (
    "Agent",
    "AgentOutput",
    "Chunk",
    "ChunkWriter",
    "GenerateResult",
    "LanguageModel",
    "RunOutput",
    "StepContext",
    "StepResult",
    "Streamwise",
    "Tool",
    "ToolContext",
    "Usage",
    "Workflow",
    "WorkflowOutput",
    "create_step",
    "create_tool",
    "create_workflow",
    "errors",
    "register_provider",
    "tool",
    "tune_gc",
)
