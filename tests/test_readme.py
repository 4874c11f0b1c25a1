"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def test_every_python_example_in_the_readme_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 3
    namespace: dict = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"README.md python block {i}", "exec"), namespace)  # our own README
    out = capsys.readouterr().out
    assert "tolerance" in out or "max_epochs" in out  # the three-steps example trained
    assert "∂L/∂x += " in out  # the step-through example explained a step
