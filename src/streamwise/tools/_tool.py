"""Tools: ``create_tool(...)`` and the ``@tool`` decorator, with pydantic schemas at the edge.

A tool's input is validated once, where it enters (the model's JSON arguments), against its
``input_schema``; the JSON Schema of that model is what the model is shown. The output is checked
against ``output_schema`` when there is one, and returned as JSON-ready data.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, get_type_hints, overload

import orjson
import pydantic

from ..errors import ConfigurationError, ToolInputError, ToolOutputError
from ._context import ToolContext

__all__ = ("Tool", "create_tool", "tool")

Execute = Callable[[Any, ToolContext], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Tool:
    """A tool an agent can call. Build one with :func:`create_tool` or :func:`tool`."""

    id: str
    description: str
    input_schema: type[pydantic.BaseModel]
    execute: Execute
    output_schema: type[pydantic.BaseModel] | None = None
    require_approval: bool = False
    """Pause every call for ``agent.approve_tool_call`` / ``decline_tool_call`` first."""
    resume_schema: type[pydantic.BaseModel] | None = None
    """What ``agent.resume_stream(data)`` must send when the tool suspended itself."""
    suspend_schema: type[pydantic.BaseModel] | None = None
    """What ``await ctx.suspend(payload)`` must send."""

    def resume_json_schema(self) -> dict[str, Any] | None:
        """The JSON Schema of ``resume_schema`` (sent in approval / suspension chunks)."""
        return None if self.resume_schema is None else _json_schema(self.resume_schema)

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of the input, as sent to the model."""
        return _json_schema(self.input_schema)

    def parse_input(self, args: Any) -> pydantic.BaseModel:
        """Validate the model's arguments (a JSON string or an object) against the schema.

        Raises:
            ToolInputError: not JSON, or not valid for the schema (with pydantic's details).
        """
        if isinstance(args, str | bytes):
            try:
                args = orjson.loads(args) if args else {}
            except orjson.JSONDecodeError as exc:
                raise ToolInputError(
                    f"the arguments of tool {self.id!r} are not valid JSON: {exc}"
                ) from None
        try:
            return self.input_schema.model_validate(args)
        except pydantic.ValidationError as exc:
            raise ToolInputError(
                f"invalid arguments for tool {self.id!r}: {_summary(exc)}",
                _details(exc),
            ) from None

    def dump_output(self, value: Any) -> Any:
        """The JSON-ready result: checked against ``output_schema`` when there is one.

        Raises:
            ToolOutputError: the value does not fit the output schema.
        """
        if self.output_schema is not None:
            try:
                value = self.output_schema.model_validate(
                    value.model_dump() if isinstance(value, pydantic.BaseModel) else value
                )
            except pydantic.ValidationError as exc:
                raise ToolOutputError(
                    f"tool {self.id!r} returned a value that fails its output schema: "
                    f"{_summary(exc)}",
                    _details(exc),
                ) from None
        if isinstance(value, pydantic.BaseModel):
            return value.model_dump(mode="json")
        return value

    async def run(self, args: Any, ctx: ToolContext) -> Any:
        """Validate ``args``, execute, and return the JSON-ready result."""
        data = self.parse_input(args)
        return self.dump_output(await self.execute(data, ctx))


_schema_cache: dict[type[pydantic.BaseModel], dict[str, Any]] = {}


def _json_schema(model: type[pydantic.BaseModel]) -> dict[str, Any]:
    schema = _schema_cache.get(model)
    if schema is None:
        schema = model.model_json_schema()
        _schema_cache[model] = schema
    return schema


def _summary(exc: pydantic.ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def _details(exc: pydantic.ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]


def create_tool(
    id: str,
    description: str,
    input_schema: type[pydantic.BaseModel],
    execute: Execute,
    output_schema: type[pydantic.BaseModel] | None = None,
    *,
    require_approval: bool = False,
    resume_schema: type[pydantic.BaseModel] | None = None,
    suspend_schema: type[pydantic.BaseModel] | None = None,
) -> Tool:
    """Make a tool.

    Args:
        id: the name the model calls the tool by (letters, digits, ``_`` and ``-``).
        description: what the tool does, for the model.
        input_schema: a pydantic model of the arguments; its JSON Schema is sent to the model.
        execute: ``async def execute(input, ctx) -> result``; ``input`` is an instance of
            ``input_schema``, ``ctx`` a :class:`ToolContext`.
        output_schema: optional pydantic model the result must fit.
        require_approval: every call waits for ``agent.approve_tool_call(run_id)`` (or
            ``decline_tool_call``) before it runs; the stream shows ``tool-call-approval``.
        resume_schema: the data ``agent.resume_stream(data, run_id=…)`` must give a call that
            suspended itself with ``await ctx.suspend(payload)``.
        suspend_schema: what ``ctx.suspend(payload)`` must be given.
    """
    if not isinstance(id, str) or not id or not all(c.isalnum() or c in "_-" for c in id):
        raise ConfigurationError(
            f"tool id {id!r} must be non-empty and use only letters, digits, '_' and '-'"
        )
    if not (isinstance(input_schema, type) and issubclass(input_schema, pydantic.BaseModel)):
        raise ConfigurationError(f"input_schema of tool {id!r} must be a pydantic model class")
    for label, schema in (("output_schema", output_schema), ("resume_schema", resume_schema),
                          ("suspend_schema", suspend_schema)):  # fmt: skip
        if schema is not None and not (
            isinstance(schema, type) and issubclass(schema, pydantic.BaseModel)
        ):
            raise ConfigurationError(f"{label} of tool {id!r} must be a pydantic model class")
    if not inspect.iscoroutinefunction(execute):
        raise ConfigurationError(f"execute of tool {id!r} must be an async function")
    return Tool(id, description, input_schema, execute, output_schema, require_approval,
                resume_schema, suspend_schema)  # fmt: skip


@overload
def tool(fn: Callable[..., Awaitable[Any]], /) -> Tool: ...
@overload
def tool(
    *, id: str | None = None, description: str | None = None
) -> Callable[[Callable[..., Awaitable[Any]]], Tool]: ...


def tool(
    fn: Callable[..., Awaitable[Any]] | None = None,
    /,
    *,
    id: str | None = None,
    description: str | None = None,
) -> Tool | Callable[[Callable[..., Awaitable[Any]]], Tool]:
    """Make a tool from a typed async function.

    The parameters become the input schema (their annotations and defaults), except one
    annotated :class:`ToolContext` (or named ``ctx``), which receives the context. A single
    parameter annotated with a pydantic model is used as the input schema itself. The name is
    the tool id and the docstring its description, unless given::

        @tool
        async def forecast(city: str, days: int = 3, ctx: ToolContext) -> dict: ...
    """

    def build(f: Callable[..., Awaitable[Any]]) -> Tool:
        return _tool_from_function(f, id, description)

    return build(fn) if fn is not None else build


def _tool_from_function(
    fn: Callable[..., Awaitable[Any]], id: str | None, description: str | None
) -> Tool:
    if not inspect.iscoroutinefunction(fn):
        raise ConfigurationError(f"@tool needs an async function; {fn.__name__} is not")
    hints = get_type_hints(fn)
    sig = inspect.signature(fn)
    ctx_name: str | None = None
    fields: dict[str, Any] = {}
    for name, param in sig.parameters.items():
        annotation = hints.get(name, Any)
        if annotation is ToolContext or name == "ctx":
            ctx_name = name
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ConfigurationError(f"@tool {fn.__name__}: *args/**kwargs cannot be a schema")
        default = ... if param.default is param.empty else param.default
        fields[name] = (annotation, default)
    whole: type[pydantic.BaseModel] | None = None
    if len(fields) == 1:
        ((only_name, (annotation, _)),) = fields.items()
        if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
            whole = annotation
    tool_id = id or fn.__name__
    doc = description if description is not None else inspect.getdoc(fn) or ""
    if whole is not None:
        schema = whole
        arg_name = only_name

        async def execute(data: Any, ctx: ToolContext) -> Any:
            kwargs = {arg_name: data}
            if ctx_name:
                kwargs[ctx_name] = ctx
            return await fn(**kwargs)
    else:
        schema = pydantic.create_model(_camel(tool_id) + "Input", **fields)

        async def execute(data: Any, ctx: ToolContext) -> Any:
            kwargs = {k: getattr(data, k) for k in fields}
            if ctx_name:
                kwargs[ctx_name] = ctx
            return await fn(**kwargs)

    return create_tool(tool_id, doc, schema, execute)


def _camel(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in name.replace("-", "_").split("_")) or "Tool"
