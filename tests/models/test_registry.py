"""Resolving "provider/model" strings."""

from __future__ import annotations

import sys

import pytest

from streamwise.errors import ProviderNotInstalledError, UnknownProviderError
from streamwise.models import _registry, register_provider, resolve_model
from streamwise.testing import ScriptedModel


def test_registered_provider_resolves() -> None:
    register_provider("script", lambda name: ScriptedModel([{"text": name}], model_id=name))
    model = resolve_model("script/echo")
    assert model.model_id == "echo"
    assert resolve_model(model) is model


def test_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "anthropic", None)  # makes `import anthropic` fail
    # Another test may have loaded the provider already; resolve as in a fresh process.
    monkeypatch.delitem(_registry._factories, "anthropic", raising=False)
    with pytest.raises(ProviderNotInstalledError, match=r"pip install 'streamwise\[anthropic\]'"):
        resolve_model("anthropic/claude-x")


def test_unknown_provider_lists_known_ones() -> None:
    with pytest.raises(UnknownProviderError, match=r"known providers: .*openai"):
        resolve_model("mystery/model")
