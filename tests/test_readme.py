"""The README's Python examples run as written.

Blocks that import torch (the `torch` extra) run in their own test, skipped when torch is missing;
each such block must be self-contained. Every other block runs in one shared namespace, in order.
Each block runs twice: as a script, and pasted line by line into Python's interactive prompt
(`code.InteractiveConsole`), where a statement right after an indented block is a SyntaxError.
"""

from __future__ import annotations

import code
import importlib.util
import re
import sys
import traceback
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


class _Prompt(code.InteractiveConsole):
    """Python's interactive prompt, fed one line at a time as a paste into ``python`` gives it;
    every SyntaxError and exception is kept (the real prompt would print it and carry on)."""

    def __init__(self, namespace: dict, name: str) -> None:
        super().__init__(namespace, filename=name)
        self.failures: list[str] = []

    def showsyntaxerror(self, filename: str | None = None, **kwargs: object) -> None:
        self.failures.append("".join(traceback.format_exception_only(*sys.exc_info()[:2])))

    def showtraceback(self) -> None:
        self.failures.append("".join(traceback.format_exception(*sys.exc_info())))


def paste(block: str, namespace: dict, name: str) -> list[str]:
    """Paste ``block`` into the prompt line by line, then press Enter once more (which ends a
    pending ``for``); the SyntaxErrors and exceptions it met, each with the line it was at."""
    prompt = _Prompt(namespace, name)
    failures = []
    for number, line in enumerate([*block.splitlines(), ""], start=1):
        before = len(prompt.failures)
        prompt.push(line)
        failures += [f"line {number} ({line!r}): {failure}" for failure in prompt.failures[before:]]
    return failures


def test_every_python_example_in_the_readme_pastes_into_the_python_prompt(capsys):
    """The plain ``python`` prompt reads a block line by line: a statement right after an indented
    block (with no blank line between) is a SyntaxError there, though it runs as a script."""
    namespace: dict = {}
    for i, block in enumerate(BLOCKS):
        if needs_torch(block):
            if importlib.util.find_spec("torch") is None:
                continue
            failures = paste(block, {}, f"<README torch block {i}>")
        else:
            failures = paste(block, namespace, f"<README block {i}>")
        assert not failures, f"README python block {i} fails at the prompt:\n" + "\n".join(failures)
    assert "∂L/∂x += " in capsys.readouterr().out  # the step-through printed at the prompt too


def test_the_layout_table_names_every_module_and_only_those():
    text = README.read_text(encoding="utf-8")
    table = text[text.index("## Layout"):text.index("Tests mirror the modules")]
    listed = set(re.findall(r"`microgradlike\.(\w+)`", table))
    package = Path(__file__).parent.parent / "microgradlike"
    modules = {p.stem for p in package.glob("*.py") if not p.stem.startswith("__")}
    modules |= {p.parent.name for p in package.glob("*/__init__.py")}
    assert modules - listed == set(), f"modules the README's layout table does not list: {modules - listed}"
    assert listed - modules == set(), f"the layout table lists modules that do not exist: {listed - modules}"
