"""Tools: ``create_tool``, the ``@tool`` decorator and the tool context."""

from ._context import AppRegistry as AppRegistry
from ._context import ToolContext as ToolContext
from ._context import ToolSuspension as ToolSuspension
from ._tool import Tool as Tool
from ._tool import create_tool as create_tool
from ._tool import tool as tool

__all__ = ("AppRegistry", "Tool", "ToolContext", "ToolSuspension", "create_tool", "tool")
