"""Every example script runs and prints what it promises."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent.parent / "examples"


def run(name: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_sigmoid_count_error_falls_as_units_grow():
    errors = [float(e) for e in re.findall(r"training MSE ([0-9.]+)", run("sigmoid_count.py"))]
    assert len(errors) == 4
    assert errors == sorted(errors, reverse=True)


def test_overfitting_validation_loss_rises_from_its_lowest(tmp_path):
    pytest.importorskip("matplotlib")
    out = run("overfitting.py", "--plot", str(tmp_path / "curves.png"))
    lowest = float(re.search(r"lowest validation loss ([0-9.]+)", out).group(1))
    final_train, final_val = map(float, re.search(r"train ([0-9.]+), validation ([0-9.]+)", out).groups())
    assert final_val > 1.5 * lowest and final_train < lowest
    assert (tmp_path / "curves.png").stat().st_size > 0


def test_sgd_vs_adam_tunes_each_optimiser_on_validation_and_tests_once():
    out = run("sgd_vs_adam.py")
    assert out.count("test loss") == 3
    grid = re.search(r"lr grid \(([^)]*)\)", out).group(1)
    chosen = re.findall(r"best lr ([0-9.]+) \(validation loss", out)
    assert len(chosen) == 3 and all(lr in grid.split(", ") for lr in chosen)


def test_chain_rule_prints_the_steps_and_grads():
    out = run("chain_rule.py")
    assert "∂out/∂w += " in out and "grads:" in out


def test_gradient_modes_agree_and_backprop_is_fastest():
    out = run("gradient_modes.py", "--hidden", "4,4")
    seconds = {name: float(t) for name, t in re.findall(r"^(backprop|forward mode|central differences)\s.*?"
                                                           r"([0-9.]+)\s+[0-9.]+$", out, re.M)}
    assert set(seconds) == {"backprop", "forward mode", "central differences"}
    assert seconds["backprop"] < seconds["forward mode"] < seconds["central differences"]
    passes = re.search(r"P = (\d+) parameters", out)
    assert passes and f"1 forward + {passes.group(1)} tangent" in out
    agree = re.search(r"agree to ([0-9.e+-]+); central differences to ([0-9.e+-]+)", out)
    assert agree and float(agree.group(1)) < 1e-12 and float(agree.group(2)) < 1e-6


def test_newton_finds_the_bowls_minimum_and_the_double_wells_maximum():
    out = run("newton.py")
    bowl, well = re.findall(r"Newton ends at w = (-?[0-9.]+) .*?: (a minimum|a MAXIMUM)", out)
    assert bowl[1] == "a minimum" and abs(float(bowl[0]) - 1.175302) < 1e-5
    assert well == ("0.000000", "a MAXIMUM")


def test_overfitting_says_fits_warning_in_one_line_without_a_traceback_look():
    done = subprocess.run([sys.executable, str(EXAMPLES / "overfitting.py")], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and done.stderr == ""
    said = [line for line in done.stdout.splitlines() if "much worse than the best" in line]
    assert len(said) == 1 and said[0].startswith("fit warned: the final model is much worse")
