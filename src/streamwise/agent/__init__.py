"""Agents: the loop, the output object and its results."""

from ._agent import Agent as Agent
from ._agent import Instructions as Instructions
from ._input import AgentInput as AgentInput
from ._memory import DEFAULT_LAST_MESSAGES as DEFAULT_LAST_MESSAGES
from ._memory import Memory as Memory
from ._memory import MemoryOptions as MemoryOptions
from ._memory import MemorySession as MemorySession
from ._output import AgentOutput as AgentOutput
from ._output import GenerateResult as GenerateResult
from ._output import StepResult as StepResult
from ._processors import InputProcessor as InputProcessor
from ._processors import OutputProcessor as OutputProcessor
from ._processors import ProcessorContext as ProcessorContext
from ._suspended import SuspendedRun as SuspendedRun
from ._suspended import SuspendedRunStore as SuspendedRunStore

__all__ = (
    "DEFAULT_LAST_MESSAGES",
    "Agent",
    "AgentInput",
    "AgentOutput",
    "GenerateResult",
    "InputProcessor",
    "Instructions",
    "Memory",
    "MemoryOptions",
    "MemorySession",
    "OutputProcessor",
    "ProcessorContext",
    "StepResult",
    "SuspendedRun",
    "SuspendedRunStore",
)
