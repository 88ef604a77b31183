"""Agents: the loop, the output object and its results."""

from ._agent import Agent as Agent
from ._agent import Instructions as Instructions
from ._input import AgentInput as AgentInput
from ._output import AgentOutput as AgentOutput
from ._output import GenerateResult as GenerateResult
from ._output import StepResult as StepResult

__all__ = ("Agent", "AgentInput", "AgentOutput", "GenerateResult", "Instructions", "StepResult")
