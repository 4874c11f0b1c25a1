"""The README's Python examples run as written.

Blocks that import torch (the `torch` extra) run in their own test, skipped when torch is missing;
each such block must be self-contained. Every other block runs in one shared namespace, in order.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def needs_torch(block: str) -> bool:
    return re.search(r"^(import torch|from microgradlike\.bridge import)", block, re.M) is not None


def test_every_python_example_in_the_readme_runs(capsys):
    blocks = [block for block in BLOCKS if not needs_torch(block)]
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


def test_the_readme_examples_with_torch_run_and_agree(capsys):
    pytest.importorskip("torch", reason="these README examples need PyTorch: pip install torch==2.13.0")
    blocks = [block for block in BLOCKS if needs_torch(block)]
    assert blocks, "the README shows to_torch in a Python block"
    for i, block in enumerate(blocks):
        exec(compile(block, f"README.md torch block {i}", "exec"), {})  # our own README
    # The "Growing out of it" example prints the torch loss and microgradlike's: the same number.
    torch_value, ours = map(float, capsys.readouterr().out.split()[:2])
    assert torch_value == pytest.approx(ours, rel=1e-12)
