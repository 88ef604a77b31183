"""OpenAI and every OpenAI-compatible server (Ollama, vLLM, llama.cpp, LM Studio, OpenRouter, …).

Importing this module registers two providers (it needs ``pip install 'streamwise[openai]'``)::

    "openai/<model>"            # Chat Completions
    "openai-responses/<model>"  # the Responses API

Both read ``OPENAI_API_KEY`` and ``OPENAI_BASE_URL``; see ``docs/providers.md``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Mapping
from typing import Any, Literal

import openai

from ..errors import ConfigurationError, ModelError
from ._base import ModelPart, ModelRequest
from ._openai_chat import ChatStreamState, chat_messages, chat_tools
from ._openai_responses import ResponsesStreamState, responses_input, responses_tools
from ._providers import SEND_REASONING, SendReasoning, api_model_error
from ._registry import register_provider

__all__ = ("OpenAICompatible",)

Api = Literal["chat", "responses"]

_DEFAULT_BASE_URL = "https://api.openai.com/v1"
_ENCRYPTED_REASONING = "reasoning.encrypted_content"


class OpenAICompatible:
    """A model behind the OpenAI API or any server that speaks it.

    Args:
        model: the model id at the server, e.g. ``gpt-4.1-mini`` or ``llama3.2``.
        base_url: the API's address (default: ``OPENAI_BASE_URL``, else OpenAI's). A local
            server is e.g. ``http://localhost:11434/v1`` (Ollama).
        api_key: the key (default: ``OPENAI_API_KEY``). Servers that need none get a placeholder.
        client: an ``openai.AsyncOpenAI`` to use instead of making one (then ``base_url``,
            ``api_key`` and ``max_retries`` are ignored).
        api: ``"chat"`` (Chat Completions, what compatible servers speak) or ``"responses"``.
        max_retries: how many times the SDK retries a failed request (429, 5xx, connection
            errors) with backoff, honouring ``retry-after``, before the run fails.
        timeout: seconds before a request times out (default: the SDK's).
        send_reasoning: which assistant messages' reasoning goes back to the server:
            ``"never"``, ``"tool-loop"`` (only the current turn's tool-loop steps) or
            ``"always"``. Default: ``"never"`` for Chat Completions at OpenAI itself (its
            messages have no reasoning field), else ``"always"``, what DeepSeek's thinking mode
            with tools requires and OpenAI recommends for Responses reasoning items. See
            ``docs/providers.md``.
        store: Responses only: the request's ``store`` (``False`` for stateless use: then
            reasoning goes back only as encrypted content). Default: the server's (OpenAI: true).
        encrypted_reasoning: Responses only: request ``include: ["reasoning.encrypted_content"]``
            so reasoning can go back without server-side storage. Default: when ``store`` is
            ``False`` (OpenAI rejects it for models that do not reason, so it is not always on).

    Raises:
        ConfigurationError: no API key for OpenAI's own API, or a bad ``api`` /
            ``send_reasoning``.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        client: openai.AsyncOpenAI | None = None,
        api: Api = "chat",
        max_retries: int = 2,
        timeout: float | None = None,
        send_reasoning: SendReasoning | None = None,
        store: bool | None = None,
        encrypted_reasoning: bool | None = None,
    ) -> None:
        if api not in ("chat", "responses"):
            raise ConfigurationError(f"api must be 'chat' or 'responses', got {api!r}")
        if send_reasoning is not None and send_reasoning not in SEND_REASONING:
            raise ConfigurationError(
                f"send_reasoning must be one of {', '.join(map(repr, SEND_REASONING))}, "
                f"got {send_reasoning!r}"
            )
        self._model_id = model
        self._api: Api = api
        if client is None:
            base_url = base_url or os.environ.get("OPENAI_BASE_URL") or _DEFAULT_BASE_URL
            api_key = api_key or os.environ.get("OPENAI_API_KEY")
            if not api_key:
                if base_url.rstrip("/") == _DEFAULT_BASE_URL:
                    raise ConfigurationError(
                        f"model 'openai/{model}' needs an API key: set OPENAI_API_KEY or pass "
                        "api_key=...; for a local OpenAI-compatible server set OPENAI_BASE_URL "
                        "(e.g. http://localhost:11434/v1 for Ollama)"
                    )
                api_key = "not-needed"  # local servers ignore it; the SDK insists on one
            extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
            client = openai.AsyncOpenAI(
                api_key=api_key, base_url=base_url, max_retries=max_retries, **extra
            )
        self._client = client
        self._max_retries = client.max_retries
        # OpenAI's reasoning models refuse `max_tokens`; compatible servers know only that one.
        is_openai = str(client.base_url).rstrip("/") == _DEFAULT_BASE_URL
        self._chat_max_tokens = "max_completion_tokens" if is_openai else "max_tokens"
        if send_reasoning is None:
            send_reasoning = "never" if is_openai and api == "chat" else "always"
        self._send_reasoning: SendReasoning = send_reasoning
        self._store = store
        self._encrypted_reasoning = encrypted_reasoning

    @property
    def provider(self) -> str:
        """``openai``."""
        return "openai"

    @property
    def model_id(self) -> str:
        """The model's id at the server."""
        return self._model_id

    @property
    def api(self) -> Api:
        """Which API the model calls: ``chat`` or ``responses``."""
        return self._api

    @property
    def send_reasoning(self) -> SendReasoning:
        """Which assistant messages' reasoning goes back to the server (see ``__init__``)."""
        return self._send_reasoning

    @property
    def client(self) -> openai.AsyncOpenAI:
        """The SDK client the model uses."""
        return self._client

    async def close(self) -> None:
        """Close the SDK client and its connections (also when you passed ``client=``)."""
        await self._client.close()

    def __repr__(self) -> str:
        return f"OpenAICompatible(model={self._model_id!r}, api={self._api!r})"

    def stream(self, request: ModelRequest) -> AsyncGenerator[ModelPart, None]:
        """Call the model once, streaming; yields parts until ``finish``.

        Raises:
            ModelError: the request failed (authentication, rate limit after the retries, any
                other HTTP error), the connection dropped, or the server reported an error
                mid-stream. The SDK's exception is the ``__cause__``.
        """
        if self._api == "chat":
            return self._stream_chat(request)
        return self._stream_responses(request)

    async def _stream_chat(self, request: ModelRequest) -> AsyncGenerator[ModelPart, None]:
        body: dict[str, Any] = {
            "model": self._model_id,
            "messages": chat_messages(request["messages"], send_reasoning=self._send_reasoning),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request["tools"]:
            body["tools"] = chat_tools(request["tools"])
        _add_options(body, request.get("options"), api="chat", max_tokens=self._chat_max_tokens)
        state = ChatStreamState()
        try:
            stream = await self._post("/chat/completions", body)
            async with stream:
                async for chunk in stream:
                    for part in state.feed(chunk):
                        yield part
        except openai.APIError as exc:
            raise self._error(exc) from exc
        for part in state.end():
            yield part

    async def _stream_responses(self, request: ModelRequest) -> AsyncGenerator[ModelPart, None]:
        options = request.get("options") or {}
        store = options.get("store", self._store)
        body: dict[str, Any] = {
            "model": self._model_id,
            "input": responses_input(
                request["messages"], send_reasoning=self._send_reasoning, stateless=store is False
            ),
            "stream": True,
        }
        if request["tools"]:
            body["tools"] = responses_tools(request["tools"])
        if self._store is not None and "store" not in options:
            body["store"] = self._store
        _add_options(body, options, api="responses", max_tokens="max_output_tokens")
        encrypted = self._encrypted_reasoning
        if encrypted is None:
            encrypted = store is False and self._send_reasoning != "never"
        if encrypted:
            include = list(body.get("include") or [])
            if _ENCRYPTED_REASONING not in include:
                include.append(_ENCRYPTED_REASONING)
            body["include"] = include
        state = ResponsesStreamState(f"openai model {self._model_id!r}")
        try:
            stream = await self._post("/responses", body)
            async with stream:
                async for event in stream:
                    for part in state.feed(event):
                        yield part
        except openai.APIError as exc:
            raise self._error(exc) from exc
        if not state.finished:
            raise ModelError(
                f"openai model {self._model_id!r}: the response stream ended without "
                "response.completed"
            )

    async def _post(self, path: str, body: dict[str, Any]) -> openai.AsyncStream[dict[str, Any]]:
        """Start a streamed request; the SDK sends it (auth, retries, errors) and decodes the
        events, as plain dicts: its typed chunk objects cost ~50 µs each to build, which is most
        of the time a long stream spends in Python (``bench/bench_providers.py``)."""
        return await self._client.post(
            path,
            cast_to=dict[str, Any],
            body=body,
            options={"security": {"bearer_auth": True}},
            stream=True,
            stream_cls=openai.AsyncStream[dict[str, Any]],
        )

    def _error(self, exc: openai.APIError) -> ModelError:
        return api_model_error(
            exc,
            provider="openai",
            model=self._model_id,
            key_env="OPENAI_API_KEY",
            max_retries=self._max_retries,
        )


def _add_options(
    body: dict[str, Any], options: Mapping[str, Any] | None, *, api: Api, max_tokens: str
) -> None:
    """Pass the request's provider options through into the body.

    ``max_output_tokens`` is renamed to ``max_tokens``, the API's name for it;
    ``responseFormat`` (the agent's structured output, ``{"type": "json", "name"?,
    "schema"?}``) becomes the API's JSON schema format, not strict, since any pydantic schema
    must be accepted.
    """
    if not options:
        return
    extra: dict[str, Any] = {}
    for key, value in options.items():
        if key == "responseFormat":
            fmt = _json_format(value)
            if api == "chat":
                extra["response_format"] = fmt
            else:
                inner = fmt.get("json_schema", {})
                extra["text"] = {"format": {"type": fmt["type"], **inner}}
            continue
        if key in ("max_output_tokens", "maxOutputTokens"):
            key = max_tokens
        if key in body:
            raise ConfigurationError(f"provider option {key!r} is set by streamwise itself")
        extra[key] = value
    body.update(extra)


def _json_format(value: Mapping[str, Any]) -> dict[str, Any]:
    schema = value.get("schema")
    if schema is None:
        return {"type": "json_object"}
    spec: dict[str, Any] = {
        "name": value.get("name") or "output",
        "schema": schema,
        "strict": False,
    }
    if value.get("description"):
        spec["description"] = value["description"]
    return {"type": "json_schema", "json_schema": spec}


def _chat_model(name: str) -> OpenAICompatible:
    return OpenAICompatible(name)


def _responses_model(name: str) -> OpenAICompatible:
    return OpenAICompatible(name, api="responses")


register_provider("openai", _chat_model)
register_provider("openai-responses", _responses_model)
