"""``streamwise.tune_gc()``: what it changes, once per process.

Each test runs in a fresh interpreter, for the collector's settings belong to the process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from streamwise import tune_gc


def in_fresh_process(code: str) -> Any:
    """Run ``code`` in a new interpreter; return the JSON it prints last."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
        timeout=60,
    )
    return json.loads(done.stdout.splitlines()[-1])


def test_tune_gc_freezes_start_up_and_raises_gen0_threshold_once() -> None:
    seen = in_fresh_process(
        """
        import gc, json
        import streamwise
        before = [gc.get_freeze_count(), gc.get_threshold()]
        first = streamwise.tune_gc()
        after_first = [gc.get_freeze_count(), gc.get_threshold()]
        made_since = [[i] for i in range(1000)]  # tracked objects a second freeze would take
        second = streamwise.tune_gc(gen0_threshold=50_000)
        print(json.dumps([before, first, after_first, second,
                          [gc.get_freeze_count(), gc.get_threshold()]]))
        """
    )
    before, first, after_first, second, after_second = seen
    assert before == [0, [700, 10, 10]]
    assert first is True
    assert after_first[0] > 1000  # pydantic, streamwise and the rest of start-up
    assert after_first[1] == [10_000, 10, 10]
    assert second is False
    # Idempotent: nothing set again, and the 1,000 lists made since are not frozen (frozen
    # objects may still be freed, so the count may only go down).
    assert after_second[1] == after_first[1]
    assert after_second[0] <= after_first[0]


def test_tune_gc_without_a_threshold_only_freezes() -> None:
    count, threshold = in_fresh_process(
        """
        import gc, json
        from streamwise import tune_gc
        tune_gc(gen0_threshold=None)
        print(json.dumps([gc.get_freeze_count(), gc.get_threshold()]))
        """
    )
    assert count > 1000
    assert threshold == [700, 10, 10]


def test_tune_gc_refuses_a_threshold_below_one() -> None:
    with pytest.raises(ValueError, match="gen0_threshold must be at least 1"):
        tune_gc(gen0_threshold=0)
