"""Resolve ``"provider/model"`` strings to model objects.

Providers register a factory by name. The built-in ``openai`` and ``anthropic`` factories live in
modules that import the official SDKs, so they are imported only when a string names them; a
missing SDK gives :class:`ProviderNotInstalledError` naming the extra to install.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from ..errors import ConfigurationError, ProviderNotInstalledError, UnknownProviderError
from ._base import LanguageModel

__all__ = ("register_provider", "resolve_model")

ModelFactory = Callable[[str], LanguageModel]

_factories: dict[str, ModelFactory] = {}

# provider name -> (module that registers it, the SDK it needs, the extra that installs it)
_BUILTIN: dict[str, tuple[str, str, str]] = {
    "openai": ("streamwise.models.openai", "openai", "openai"),
    "openai-responses": ("streamwise.models.openai", "openai", "openai"),
    "anthropic": ("streamwise.models.anthropic", "anthropic", "anthropic"),
}


def register_provider(name: str, factory: ModelFactory) -> None:
    """Make ``"<name>/<model>"`` strings resolve through ``factory(model)``."""
    if not name or "/" in name:
        raise ConfigurationError(f"a provider name must be non-empty and have no '/': {name!r}")
    _factories[name] = factory


def resolve_model(model: str | LanguageModel) -> LanguageModel:
    """The model object for ``model``: a model object as it is, or a ``"provider/model"`` string.

    Raises:
        ConfigurationError: the string is not of the form ``provider/model``.
        UnknownProviderError: no provider of that name.
        ProviderNotInstalledError: the provider's SDK is not installed (names the extra).
    """
    if not isinstance(model, str):
        if isinstance(model, LanguageModel):
            return model
        raise ConfigurationError(
            f"model must be a 'provider/model' string or a LanguageModel, got {type(model).__name__}"
        )
    provider, sep, name = model.partition("/")
    if not sep or not provider or not name:
        raise ConfigurationError(
            f"model {model!r} is not of the form 'provider/model' (e.g. 'openai/gpt-4.1-mini')"
        )
    factory = _factories.get(provider)
    if factory is None and provider in _BUILTIN:
        module, sdk, extra = _BUILTIN[provider]
        try:
            importlib.import_module(sdk)
        except ImportError:
            raise ProviderNotInstalledError(
                f"model {model!r} needs the {sdk!r} package: pip install 'streamwise[{extra}]'"
            ) from None
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ProviderNotInstalledError(
                f"the {provider!r} provider could not be loaded ({exc}); "
                f"pip install 'streamwise[{extra}]'"
            ) from exc
        factory = _factories.get(provider)
    if factory is None:
        known = sorted(set(_factories) | set(_BUILTIN))
        raise UnknownProviderError(
            f"unknown model provider {provider!r} in {model!r}; known providers: {', '.join(known)}"
        )
    return factory(name)
