"""The README's code runs as written (docs that match the code)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_first_example_runs_and_counts_the_writers_usage() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert blocks, "README has no python example"
    result = subprocess.run(
        [sys.executable, "-c", blocks[0]], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("start ")
    assert any(line.startswith("tool-output ") for line in lines)  # the writer, nested, live
    # Three model calls of 10 + 2 tokens: the agent's two and the nested writer's one.
    assert lines[-1].startswith("Here is what I found. {'inputTokens': 30, 'outputTokens': 6")
