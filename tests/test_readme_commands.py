"""The README's `python -m microgradlike train` commands run as written and learn (≥ 90% test)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"


def train_commands() -> list[list[str]]:
    """The arguments after `python -m microgradlike` of every `train` command in a bash block
    (backslash-continued lines joined; a command ends at `&&` or the end of its line)."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            for found in re.findall(r"python -m microgradlike (train\b[^&;#]*)", line):
                commands.append(shlex.split(found))
    return commands


def test_the_readme_shows_the_spirals_command():
    assert any("spirals" in argv for argv in train_commands())


@pytest.mark.slow
@pytest.mark.parametrize("argv", train_commands(), ids=" ".join)
def test_readme_train_command_runs_and_learns(argv, tmp_path):
    if "--plot" in argv:
        pytest.importorskip("matplotlib")
    (tmp_path / "examples").symlink_to(ROOT / "examples")  # commands run from a clone's root
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, "-m", "microgradlike", *argv], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    if "--help" in argv:
        assert "--keep-best" in run.stdout
        return
    test_accuracy = float(re.search(r"test accuracy ([\d.]+)%", run.stdout).group(1))
    assert test_accuracy >= 90.0, run.stdout
    assert "much worse" not in run.stdout, run.stdout
    for option in ("--save", "--plot"):
        if option in argv:
            assert (tmp_path / argv[argv.index(option) + 1]).stat().st_size > 0
