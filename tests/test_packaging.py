"""What a fresh clone holds and leaves: the licence the metadata names, and README commands that
run as written without leaving untracked files in the repository."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_commands(start: str = "python -m microgradlike") -> list[list[str]]:
    """The commands of the README's bash blocks that begin with ``start``, as argument lists."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.startswith(start):
                commands.append(shlex.split(line))
    return commands


def test_the_licence_is_the_mit_licence_the_metadata_names():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^license = "MIT"$', pyproject, re.M)
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License") and "microgradlike contributors" in licence
    assert "THE SOFTWARE IS PROVIDED \"AS IS\"" in licence


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_what_the_readme_commands_write_is_ignored_by_git():
    inside = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=ROOT, capture_output=True)
    if inside.returncode != 0:
        pytest.skip("not a git checkout")
    outputs = [args[i + 1] for args in readme_commands() for i, arg in enumerate(args[:-1])
               if arg in ("-o", "--output", "--save", "--plot", "--html")]
    outputs += [args[i + 1] for args in readme_commands("torchrun") for i, arg in enumerate(args[:-1])
                if arg == "--out"]  # examples/distributed.py's model
    assert {"graph.svg", "spirals.json", "spirals.png", "points.json", "points.png",
            "moons.json"} <= set(outputs)
    for output in [*outputs, "moons.png"]:  # moons.png: the Quick start's command
        ignored = subprocess.run(["git", "check-ignore", "-q", output], cwd=ROOT)
        assert ignored.returncode == 0, f"{output}, written by a README command, is not in .gitignore"


def test_the_readme_methodgen_commands_check_and_rewrite_methods_py(tmp_path):
    """`--check` fails on a stale methods.py, `--write` makes it what the table gives, even when the
    stale file lacks a method the package needs to import: run on a copy of the package, so the
    checkout is never written to."""
    import os
    import sys

    commands = [shlex.split(line.split("#")[0]) for block in re.findall(r"```bash\n(.*?)```", README, re.S)
                for line in block.splitlines() if line.startswith("python microgradlike/methodgen.py")]
    assert sorted(args[2:] for args in commands) == [["--check"], ["--write"]]
    check, write = sorted(commands, key=lambda args: args[2] != "--check")
    shutil.copytree(ROOT / "microgradlike", tmp_path / "microgradlike",
                    ignore=shutil.ignore_patterns("__pycache__"))
    generated = tmp_path / "microgradlike" / "methods.py"
    current = generated.read_text(encoding="utf-8")
    # stale: tanh's derivative changed, and cos is not there at all (nn and the parser need it)
    head = current.partition("    # ---- cos ")[0]
    generated.write_text(head.replace("1.0 - out * out", "1.0 - out"), encoding="utf-8")

    def run(args: list[str]) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": ""}
        return subprocess.run([sys.executable, *args[1:]], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)

    stale = run(check)
    assert stale.returncode == 1 and "stale" in stale.stderr, stale.stderr
    assert run(write).returncode == 0
    assert generated.read_text(encoding="utf-8") == current
    assert run(check).returncode == 0


def test_ci_runs_the_readme_test_and_type_check_commands_verbatim():
    """What the README tells a user to run is what CI runs: the test suite, and the type check (with
    mypy from the `test` extra; the operators' types are checked by tests/test_engine.py too)."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", README, re.S)
    tests = [line for block in blocks for line in block.splitlines() if line.endswith("-m pytest")]
    types = [line for block in blocks for line in block.splitlines() if "mypy" in line]
    assert tests and types
    for command in tests + types:
        assert command in ci.splitlines(), command
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    test_extra = re.search(r"^test = \[(.*?)^\]", pyproject, re.S | re.M).group(1)
    assert re.search(r'"mypy>=[\d.]+"', test_extra) and "[tool.mypy]" in pyproject
