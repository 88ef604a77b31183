"""What a tool's ``execute(input, ctx)`` receives as ``ctx``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn, Protocol

from ..errors import NoAppError
from ..stream import Writer

__all__ = ("AppRegistry", "ToolContext", "ToolSuspension")


class ToolSuspension(BaseException):
    """Raised by ``await ctx.suspend(payload)`` to pause the tool call; the agent catches it.

    A ``BaseException`` so that a tool's own ``except Exception`` does not swallow it.
    """

    def __init__(self, payload: Any) -> None:
        super().__init__("tool call suspended")
        self.payload = payload


class AppRegistry(Protocol):
    """The app a run belongs to, as tools see it (``streamwise.Streamwise`` implements it)."""

    def get_agent(self, id: str) -> Any:
        """The registered agent with this id (raises KeyError naming the known ids)."""
        ...

    def get_workflow(self, id: str) -> Any:
        """The registered workflow with this id (raises KeyError naming the known ids)."""
        ...


@dataclass(slots=True)
class ToolContext:
    """The context of one tool call.

    Attributes:
        writer: ``await ctx.writer.write(x)`` streams ``tool-output``; ``custom({...})`` a
            top-level ``data-*`` chunk; ``await out.pipe_to(ctx.writer)`` nests a run.
        run_id: the id of the run that called the tool.
        tool_call_id: the id of this call.
        tool_name: the tool's name as the model called it.
        runtime_context: the ``runtime_context`` given to ``stream()``.
        agent_id: the id of the calling agent.
        resume_data: the data given to ``agent.resume_stream(...)`` when this call was
            suspended and is now resumed (None on the first execution).
    """

    writer: Writer
    run_id: str
    tool_call_id: str
    tool_name: str
    runtime_context: Mapping[str, Any] = field(default_factory=dict)
    agent_id: str | None = None
    registry: AppRegistry | None = None
    resume_data: Any = None
    suspend_schema: Any = None

    async def suspend(self, payload: Any = None) -> NoReturn:
        """Pause this tool call: the run ends with ``tool-call-suspended`` and status
        ``suspended``; ``agent.resume_stream(data, run_id=…)`` runs the tool again with
        ``ctx.resume_data`` set.

        Raises:
            ToolSuspension: always (the agent catches it).
            ValueError: ``payload`` does not fit the tool's ``suspend_schema``.
        """
        if self.suspend_schema is not None:
            payload = self.suspend_schema.model_validate(payload).model_dump(mode="json")
        raise ToolSuspension(payload)

    @property
    def app(self) -> AppRegistry:
        """The ``Streamwise`` app of the calling agent: ``ctx.app.get_agent(id)``.

        Raises:
            NoAppError: the agent is not registered in a ``Streamwise`` app.
        """
        if self.registry is None:
            raise NoAppError(
                f"tool {self.tool_name!r} used ctx.app, but agent {self.agent_id!r} is not "
                "registered in an app: Streamwise(agents=[...])"
            )
        return self.registry
