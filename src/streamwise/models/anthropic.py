"""Anthropic's Messages API (Claude).

Importing this module registers the ``anthropic`` provider (it needs
``pip install 'streamwise[anthropic]'``), so ``"anthropic/<model>"`` resolves to
:class:`AnthropicModel`, reading ``ANTHROPIC_API_KEY`` and ``ANTHROPIC_BASE_URL``; see
``docs/providers.md``.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import AsyncGenerator
from typing import Any

import anthropic
import httpx2

from ..errors import ConfigurationError, ModelError
from ._anthropic_stream import MessagesStreamState, anthropic_messages, anthropic_tools
from ._base import ModelPart, ModelRequest
from ._providers import api_model_error
from ._registry import register_provider

__all__ = ("AnthropicModel",)

_SIGNED_THINKING_KEPT = 1024
"""How many messages' signed thinking blocks a model keeps to send back."""


class AnthropicModel:
    """A Claude model through Anthropic's Messages API.

    Args:
        model: the model id, e.g. ``claude-sonnet-4-5``.
        api_key: the key (default: ``ANTHROPIC_API_KEY``).
        base_url: the API's address (default: ``ANTHROPIC_BASE_URL``, else Anthropic's).
        client: an ``anthropic.AsyncAnthropic`` to use instead of making one (then ``api_key``,
            ``base_url`` and ``max_retries`` are ignored).
        max_tokens: the most output tokens per call (the API requires a limit); a request's
            ``max_output_tokens`` option overrides it.
        thinking: extended thinking, e.g. ``{"type": "enabled", "budget_tokens": 2048}``; the
            thinking streams as reasoning.
        max_retries: how many times the SDK retries a failed request (429, 5xx, overloaded,
            connection errors) with backoff, honouring ``retry-after``, before the run fails.
        timeout: seconds before a request times out (default: the SDK's).

    Raises:
        ConfigurationError: no API key.
    """

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        client: anthropic.AsyncAnthropic | None = None,
        max_tokens: int = 4096,
        thinking: dict[str, Any] | None = None,
        max_retries: int = 2,
        timeout: float | None = None,
    ) -> None:
        self._model_id = model
        self._max_tokens = max_tokens
        self._thinking = thinking
        if client is None:
            base_url = base_url or os.environ.get("ANTHROPIC_BASE_URL")
            api_key = api_key or os.environ.get("ANTHROPIC_API_KEY")
            if not api_key and not os.environ.get("ANTHROPIC_AUTH_TOKEN"):
                if base_url is None:
                    raise ConfigurationError(
                        f"model 'anthropic/{model}' needs an API key: set ANTHROPIC_API_KEY or "
                        "pass api_key=..."
                    )
                api_key = "not-needed"  # a proxy that adds its own credentials
            # With ANTHROPIC_AUTH_TOKEN and no key, api_key stays None: the SDK sends the token.
            extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
            client = anthropic.AsyncAnthropic(
                api_key=api_key, base_url=base_url, max_retries=max_retries, **extra
            )
        self._client = client
        self._max_retries = client.max_retries
        self._signed: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()

    @property
    def provider(self) -> str:
        """``anthropic``."""
        return "anthropic"

    @property
    def model_id(self) -> str:
        """The model's id at Anthropic."""
        return self._model_id

    @property
    def client(self) -> anthropic.AsyncAnthropic:
        """The SDK client the model uses."""
        return self._client

    async def close(self) -> None:
        """Close the SDK client and its connections (also when you passed ``client=``)."""
        await self._client.close()

    def __repr__(self) -> str:
        return f"AnthropicModel(model={self._model_id!r})"

    async def stream(self, request: ModelRequest) -> AsyncGenerator[ModelPart, None]:
        """Call the model once, streaming; yields parts until ``finish``.

        Raises:
            ModelError: the request failed (authentication, rate limit after the retries, any
                other HTTP error), the connection dropped, or the API sent an ``error`` event
                mid-stream (e.g. ``overloaded_error``). The SDK's exception is the ``__cause__``.
        """
        system, messages = anthropic_messages(request["messages"], self._signed.get)
        body: dict[str, Any] = {
            "model": self._model_id,
            "max_tokens": self._max_tokens,
            "messages": messages,
            "stream": True,
        }
        if system:
            body["system"] = system
        if request["tools"]:
            body["tools"] = anthropic_tools(request["tools"])
        if self._thinking is not None:
            body["thinking"] = self._thinking
        extra: dict[str, Any] = {}
        for key, value in (request.get("options") or {}).items():
            if key in ("max_output_tokens", "maxOutputTokens", "max_tokens"):
                body["max_tokens"] = value
            elif key == "thinking":
                body["thinking"] = value
            elif key == "responseFormat":
                continue  # the agent puts the schema in the system prompt; see docs/providers.md
            elif key in body:
                raise ConfigurationError(f"provider option {key!r} is set by streamwise itself")
            else:
                extra[key] = value
        if extra:
            body["extra_body"] = extra
        create: Any = self._client.messages.create
        state = MessagesStreamState()
        try:
            stream = await create(**body)
            async with stream:
                async for event in stream:
                    for part in state.feed(event):
                        yield part
        except (anthropic.APIError, httpx2.TransportError) as exc:
            raise api_model_error(
                exc,
                provider="anthropic",
                model=self._model_id,
                key_env="ANTHROPIC_API_KEY",
                max_retries=self._max_retries,
            ) from exc
        if not state.finished:
            raise ModelError(
                f"anthropic model {self._model_id!r}: the stream ended without message_stop"
            )
        if state.signed_thinking:
            self._remember(state.signed_thinking)

    def _remember(self, blocks: list[dict[str, Any]]) -> None:
        """Keep a message's signed thinking blocks under its reasoning text (bounded).

        The agent sends reasoning back as text only; with extended thinking and tools the API
        wants the signed blocks back, so the next request looks them up by that text.
        """
        key = "".join(b.get("thinking", "") for b in blocks)
        self._signed[key] = blocks
        self._signed.move_to_end(key)
        while len(self._signed) > _SIGNED_THINKING_KEPT:
            self._signed.popitem(last=False)


def _model(name: str) -> AnthropicModel:
    return AnthropicModel(name)


register_provider("anthropic", _model)
