"""Request bodies: pydantic models, validated once where they enter (STYLE rule 5).

Unknown keys are ignored: ``@mastra/client-js`` and ``useChat`` send more than we use
(``clientTools``, ``structuredOutput``, ``trigger``…).
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
import pydantic
from starlette.requests import Request

__all__ = (
    "AgentObserveBody",
    "AgentResumeBody",
    "AgentStreamBody",
    "BodyError",
    "ChatBody",
    "ToolDecisionBody",
    "UIMessage",
    "WorkflowResumeBody",
    "WorkflowRouteBody",
    "WorkflowStreamBody",
    "agent_input",
    "read_body",
)

M = TypeVar("M", bound=pydantic.BaseModel)


class _Body(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore", populate_by_name=True)


class MemoryOption(_Body):
    """``memory: {thread, resource}`` (a thread may be an id or ``{id}``)."""

    thread: str | dict[str, Any] | None = None
    resource: str | None = None


class AgentStreamBody(_Body):
    """Body of ``POST /api/agents/:id/stream`` and ``/generate``."""

    messages: str | list[str | dict[str, Any]]
    memory: MemoryOption | None = None
    run_id: str | None = pydantic.Field(default=None, alias="runId")
    max_steps: int | None = pydantic.Field(default=None, alias="maxSteps", ge=1)
    request_context: dict[str, Any] | None = pydantic.Field(default=None, alias="requestContext")
    runtime_context: dict[str, Any] | None = pydantic.Field(default=None, alias="runtimeContext")


class ToolDecisionBody(_Body):
    """Body of ``POST /api/agents/:id/approve-tool-call`` and ``/decline-tool-call``."""

    run_id: str = pydantic.Field(alias="runId")
    tool_call_id: str | None = pydantic.Field(default=None, alias="toolCallId")
    reason: str | None = None


class AgentResumeBody(_Body):
    """Body of ``POST /api/agents/:id/resume-stream``."""

    run_id: str = pydantic.Field(alias="runId")
    resume_data: Any = pydantic.Field(default=None, alias="resumeData")
    tool_call_id: str | None = pydantic.Field(default=None, alias="toolCallId")


class AgentObserveBody(_Body):
    """Body of ``POST /api/agents/:id/observe``."""

    run_id: str = pydantic.Field(alias="runId")
    offset: int = pydantic.Field(default=0, ge=0)


class UIMessage(_Body):
    """A ``useChat`` message: ``{id, role, parts: [{type: 'text', text}, …]}``."""

    id: str = ""
    role: str
    parts: list[dict[str, Any]] = []


class ChatBody(_Body):
    """Body of ``POST /chat/:agentId`` as ``DefaultChatTransport`` sends it."""

    id: str | None = None
    messages: list[UIMessage]
    trigger: str | None = None


class WorkflowStreamBody(_Body):
    """Body of ``POST /api/workflows/:id/stream``."""

    input_data: Any = pydantic.Field(default=None, alias="inputData")
    request_context: dict[str, Any] | None = pydantic.Field(default=None, alias="requestContext")


class WorkflowResumeBody(_Body):
    """Body of ``POST /api/workflows/:id/resume-stream``."""

    step: str | list[str] | None = None
    resume_data: Any = pydantic.Field(default=None, alias="resumeData")
    request_context: dict[str, Any] | None = pydantic.Field(default=None, alias="requestContext")


class WorkflowRouteBody(_Body):
    """Body of ``POST /workflow/:workflowId`` (Mastra's ``workflowRoute``)."""

    input_data: Any = pydantic.Field(default=None, alias="inputData")
    run_id: str | None = pydantic.Field(default=None, alias="runId")
    resume_data: Any = pydantic.Field(default=None, alias="resumeData")
    step: str | list[str] | None = None


class BodyError(Exception):
    """Raised when a request body is too large (413) or not valid (400)."""

    def __init__(self, status: int, message: str, issues: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.issues = issues or []


async def read_body(request: Request, model: type[M], *, limit: int) -> M:
    """Read, size-check and validate a JSON body.

    Raises:
        BodyError: 413 past ``limit`` bytes; 400 for bad JSON or a body that fails ``model``
            (the message names the fields).
    """
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise BodyError(413, f"the request body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for piece in request.stream():
        size += len(piece)
        if size > limit:
            raise BodyError(413, f"the request body is larger than {limit} bytes")
        chunks.append(piece)
    raw = b"".join(chunks)
    try:
        data = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError:
        raise BodyError(400, "the request body is not valid JSON") from None
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        issues = [
            {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "message": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        fields = ", ".join(f"{i['field']} ({i['message']})" for i in issues[:5])
        raise BodyError(400, f"invalid request body: {fields}", issues) from None


_ROLES = frozenset({"system", "user", "assistant"})


def _text_of(parts: list[Any]) -> str | None:
    texts = [
        p["text"]
        for p in parts
        if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
    ]
    return "".join(texts) if texts else None


def agent_input(messages: str | list[str | dict[str, Any]]) -> str | list[Any]:
    """What ``agent.stream()`` takes, from what a client sent.

    Strings pass; ``{role, content}`` messages keep a string content, and a list of parts
    (or a UI message's ``parts``) becomes its text. Messages with no text are dropped.

    Raises:
        BodyError: a message with an unknown role, or nothing left to send.
    """
    if isinstance(messages, str):
        return messages
    result: list[Any] = []
    for i, m in enumerate(messages):
        if isinstance(m, str):
            result.append(m)
            continue
        role = m.get("role", "user")
        if role not in _ROLES:
            raise BodyError(400, f"invalid request body: messages.{i}.role ({role!r} is not "
                            "one of system, user, assistant)")  # fmt: skip
        content = m.get("content")
        if isinstance(content, str):
            result.append({"role": role, "content": content})
            continue
        parts = content if isinstance(content, list) else m.get("parts")
        text = _text_of(parts) if isinstance(parts, list) else None
        if text is not None:
            result.append({"role": role, "content": text})
    if not result:
        raise BodyError(400, "invalid request body: messages (no message with text)")
    return result
