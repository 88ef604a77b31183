"""The public namespace of streamwise.workflows (a sorted __all__ tuple of existing names)."""

from __future__ import annotations

import streamwise
import streamwise.workflows


def test_workflows_all_is_sorted_tuple_of_existing_names() -> None:
    exported = streamwise.workflows.__all__
    assert isinstance(exported, tuple)
    assert list(exported) == sorted(exported, key=lambda n: (not n[:1].isupper(), n))
    for name in exported:
        assert hasattr(streamwise.workflows, name)


def test_top_level_reexports_create_step_and_create_workflow() -> None:
    assert streamwise.create_step is streamwise.workflows.create_step
    assert streamwise.create_workflow is streamwise.workflows.create_workflow
    assert "create_workflow" in streamwise.__all__
