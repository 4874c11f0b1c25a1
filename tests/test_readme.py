"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def test_every_python_example_in_the_readme_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 3
    namespace: dict = {}
    printed = []
    for i, block in enumerate(blocks):
        exec(compile(block, f"README.md python block {i}", "exec"), namespace)  # our own README
        printed.append(capsys.readouterr().out)
        # what a block says it prints ("# prints:" then "#   line" comments), it prints
        shown = re.search(r"^# prints:\n((?:#   .*\n)+)", block, re.M)
        if shown:
            lines = [line.strip() for line in printed[-1].splitlines()]
            for line in shown.group(1).splitlines():
                assert line[1:].strip() in lines, f"block {i} says it prints {line[1:].strip()!r}"
    out = "".join(printed)
    # stepping through backprop after backward() gives the grads once, not doubled
    backward = next(p for b, p in zip(blocks, printed) if "out.backward()" in b)
    stepped = next(p for b, p in zip(blocks, printed) if "backward_steps()" in b)
    assert stepped.splitlines()[-1] == backward.splitlines()[-1]
    assert "tolerance" in out or "max_epochs" in out  # the three-steps example trained
    assert "∂L/∂x += " in out  # the step-through example explained a step
