"""The public namespace: every public module has a sorted __all__ of names that exist."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = [
    "streamwise",
    "streamwise.agent",
    "streamwise.compat",
    "streamwise.errors",
    "streamwise.models",
    "streamwise.storage",
    "streamwise.stream",
    "streamwise.testing",
    "streamwise.tools",
]


def _isort_key(name: str) -> tuple[int, str]:
    # The order ruff's RUF022 keeps: CONSTANTS, then Classes, then functions.
    if name.isupper():
        return (0, name)
    return (1, name) if name[:1].isupper() else (2, name)


@pytest.mark.parametrize("name", PUBLIC)
def test_public_module_all_is_sorted_tuple_of_existing_names(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert isinstance(exported, tuple)
    assert list(exported) == sorted(exported, key=_isort_key)
    for attr in exported:
        assert hasattr(module, attr), f"{name}.{attr}"
