"""``python -m microgradlike train``: a small run, the saved model, the plot, and bad arguments."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from microgradlike import no_grad
from microgradlike.cli import main
from microgradlike.data import make_moons, train_test_split
from microgradlike.nn import Module

SMALL = ["train", "--n", "60", "--epochs", "5", "--hidden", "4"]
HAS_COMPILE = importlib.util.find_spec("microgradlike.compile") is not None


def accuracies(text: str) -> tuple[float, float]:
    match = re.search(r"train accuracy ([\d.]+)%\s+test accuracy ([\d.]+)%", text)
    assert match, text
    return float(match.group(1)), float(match.group(2))


def test_small_run_prints_progress_and_accuracy(capsys):
    assert main(SMALL) == 0
    out = capsys.readouterr().out
    assert "epoch     1/5" in out and "epoch     5/5" in out
    train, test = accuracies(out)
    assert 0 <= train <= 100 and 0 <= test <= 100


def test_saved_model_loads_and_gives_the_printed_test_accuracy(tmp_path, capsys):
    path = tmp_path / "model.json"
    assert main([*SMALL, "--seed", "3", "--save", str(path)]) == 0
    _, printed_test = accuracies(capsys.readouterr().out)
    assert json.loads(path.read_text())  # plain JSON
    model = Module.load(path)
    assert model.nouts == [4, 1]
    # rebuild the same held-out points (seeded) and score the loaded model on them
    X, y = make_moons(n=60, seed=3)
    _, X_test, _, y_test = train_test_split(X, y, test_fraction=0.25, seed=3)
    with no_grad():
        predicted = np.array([model(row).data > 0 for row in X_test.tolist()])
    assert 100 * np.mean(predicted == (y_test == 1)) == pytest.approx(printed_test, abs=0.05)


def test_three_spiral_arms_train_one_output_per_class(tmp_path, capsys):
    path = tmp_path / "spirals.json"
    assert main([*SMALL, "--dataset", "spirals", "--arms", "3", "--save", str(path)]) == 0
    assert "cross_entropy loss" in capsys.readouterr().out
    assert Module.load(path).nouts == [4, 3]


@pytest.mark.parametrize("dataset", ["circles", "xor"])
@pytest.mark.parametrize("loss", ["binary_cross_entropy", "mse", "cross_entropy"])
def test_every_binary_loss_runs(dataset, loss, capsys):
    assert main([*SMALL, "--epochs", "2", "--dataset", dataset, "--loss", loss, "--optimizer", "sgd",
                 "--momentum", "0.9"]) == 0
    accuracies(capsys.readouterr().out)


def test_plot_writes_a_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "out.png"
    assert main([*SMALL, "--epochs", "2", "--plot", str(path)]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]  # no temporary file left behind


def test_plot_shows_train_and_test_points_and_both_accuracies(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    import microgradlike.cli as cli

    drawn = []

    def spy(*args, **kwargs):
        drawn.append(cli_plot(*args, **kwargs))
        return drawn[-1]

    cli_plot = cli.plot_decision_boundary
    monkeypatch.setattr(cli, "plot_decision_boundary", spy)
    assert main([*SMALL, "--epochs", "3", "--plot", str(tmp_path / "out.png")]) == 0
    train, test = accuracies(capsys.readouterr().out)
    title = drawn[0].get_title()  # the same numbers the run printed
    assert f"train accuracy {train / 100:.0%}" in title and f"test accuracy {test / 100:.0%}" in title
    legend = {t.get_text() for t in drawn[0].get_legend().get_texts()}
    assert {"class 0, train", "class 0, test"} <= legend


def test_plot_without_matplotlib_says_how_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert main([*SMALL, "--plot", str(tmp_path / "out.png")]) == 2
    assert "pip install matplotlib" in capsys.readouterr().err


def test_progress_bar_replaces_the_epoch_lines(capsys):
    pytest.importorskip("tqdm")
    assert main([*SMALL, "--progress"]) == 0
    captured = capsys.readouterr()
    assert "epoch     1/5" not in captured.out and "5/5" in captured.err


@pytest.mark.skipif(not HAS_COMPILE, reason="needs microgradlike.compile")
def test_defaults_reach_97_percent_on_moons(capsys):
    """The default settings, run on the batched engine (the same numbers as eager, faster)."""
    assert main(["train", "--engine", "batched"]) == 0
    assert accuracies(capsys.readouterr().out)[1] >= 97.0


@pytest.mark.parametrize("argv", [
    ["--n", "0"],
    ["--n", "ten"],
    ["--dataset", "blobs"],
    ["--hidden", "16,x"],
    ["--hidden", "16,0"],
    ["--lr", "-1"],
    ["--lr", "nan"],
    ["--test-fraction", "1.5"],
    ["--batch-size", "0"],
    ["--loss", "l1"],
    ["--engine", "warp"],
])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", *argv])
    assert info.value.code == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "needle"), [
    (["--dataset", "spirals", "--arms", "3", "--loss", "hinge"], "cross_entropy"),
    (["--momentum", "0.9"], "--momentum"),
    (["--optimizer", "sgd", "--momentum", "1.5"], "1.5"),
    (["--dataset", "spirals", "--arms", "1"], "arms"),
    (["--n", "3", "--test-fraction", "0.1"], "non-empty"),
    (["--save", "/no/such/folder/model.json"], "/no/such/folder"),
])
def test_bad_combinations_exit_2_with_one_line(argv, needle, capsys):
    assert main([*SMALL, *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_module_entry_point_exit_codes():
    ok = subprocess.run([sys.executable, "-m", "microgradlike", "train", "--n", "40", "--epochs", "1"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "test accuracy" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "microgradlike", "train", "--momentum", "0.5"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "--momentum" in bad.stderr
