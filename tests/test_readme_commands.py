"""The README's shell commands run as written: `train` commands learn (≥ 90% test), `graph`
commands draw, and the notebook builder's check passes."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"


def readme_commands(pattern: str) -> list[list[str]]:
    """The arguments of every command matching ``pattern`` (a regex whose group 1 is what to
    run) in a bash block (backslash-continued lines joined; a command ends at `&&`, `;`, `#` or
    the end of its line)."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            for found in re.findall(pattern, line):
                commands.append(shlex.split(found))
    return commands


def train_commands() -> list[list[str]]:
    """The arguments after `python -m microgradlike` of every `train` command."""
    return readme_commands(r"python -m microgradlike (train\b[^&;#]*)")


def run_in_a_clone_root(argv: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``python argv`` from a folder that looks like a clone's root (examples/, notebooks/)."""
    for folder in ("examples", "notebooks"):
        if not (tmp_path / folder).exists():
            (tmp_path / folder).symlink_to(ROOT / folder)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, *argv], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.parametrize("argv", readme_commands(r"python -m microgradlike (graph\b[^&;#]*)"), ids=" ".join)
def test_readme_graph_command_draws(argv, tmp_path):
    run = run_in_a_clone_root(["-m", "microgradlike", *argv], tmp_path)
    assert run.returncode == 0, run.stderr
    output = tmp_path / argv[argv.index("-o") + 1]
    assert output.stat().st_size > 0 and "wrote" in run.stdout


def test_readme_notebook_builder_check_passes(tmp_path):
    commands = readme_commands(r"python (notebooks/build\.py --check)")
    assert commands, "the README shows how to check the notebooks"
    run = run_in_a_clone_root(commands[0], tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_readme_shows_the_spirals_command():
    assert any("spirals" in argv for argv in train_commands())


def screenshot_script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("make_screenshots", ROOT / "docs" / "make_screenshots.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_screenshots_are_made_by_the_readme_commands_they_show():
    script = screenshot_script()
    pages = [argv for argv in readme_commands(r"python -m microgradlike ((?:graph|train)\b[^&;#]*)")
             if argv[-1].endswith(".html")]
    assert sorted(argv[:-1] for argv in pages) == sorted([script.EXPLORER, script.REPLAY])
    epochs = script.REPLAY[script.REPLAY.index("--epochs") + 1]
    caption = re.search(r"!\[The training replay[^\]]*\]\(docs/img/replay\.png\)", README.read_text()).group()
    assert f"at epoch {script.REPLAY_EPOCH} of {epochs}]" in caption


@pytest.mark.slow
@pytest.mark.parametrize("argv", train_commands(), ids=" ".join)
def test_readme_train_command_runs_and_learns(argv, tmp_path):
    if "--plot" in argv:
        pytest.importorskip("matplotlib")
    if "torch" in argv:  # --engine torch; with --device cuda, on a GPU
        torch = pytest.importorskip("torch")
        if "cuda" in argv and not torch.cuda.is_available():
            pytest.skip("needs a CUDA GPU that torch can use")
    run = run_in_a_clone_root(["-m", "microgradlike", *argv], tmp_path)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    if "--help" in argv:
        assert "--keep-best" in run.stdout
        return
    test_accuracy = float(re.search(r"test accuracy ([\d.]+)%", run.stdout).group(1))
    assert test_accuracy >= 90.0, run.stdout
    assert "much worse" not in run.stdout, run.stdout
    for option in ("--save", "--plot", "--html"):
        if option in argv:
            assert (tmp_path / argv[argv.index(option) + 1]).stat().st_size > 0
    if "--html" in argv:  # what the README says of this run: its epochs and its page's size
        promised = re.search(r"these (\d+) make a ([\d.]+) MB page", README.read_text(encoding="utf-8"))
        assert promised and f"; {promised.group(1)} epochs, " in run.stdout, run.stdout
        size = (tmp_path / argv[argv.index("--html") + 1]).stat().st_size
        assert round(size / 1e6, 1) == float(promised.group(2)), size
