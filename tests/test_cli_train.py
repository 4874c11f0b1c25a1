"""``python -m microgradlike train``: a small run, the saved model, the plot, and bad arguments."""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import microgradlike
from microgradlike import no_grad
from microgradlike.cli import main
from microgradlike.data import load_csv, make_moons, train_test_split
from microgradlike.nn import Module

SMALL = ["train", "--n", "60", "--epochs", "5", "--hidden", "4"]


def small(*more: str) -> list[str]:
    """SMALL and ``more``, where an option of SMALL given again in ``more`` takes the value there
    (the command line refuses an option given twice)."""
    argv, more_list = list(SMALL), list(more)
    for i in range(1, len(SMALL), 2):
        if SMALL[i] in more_list:
            j = more_list.index(SMALL[i])
            argv[i + 1] = more_list[j + 1]
            del more_list[j:j + 2]
    return argv + more_list
HAS_COMPILE = importlib.util.find_spec("microgradlike.compile") is not None


def accuracies(text: str) -> tuple[float, float]:
    match = re.search(r"train accuracy ([\d.]+)%\s+test accuracy ([\d.]+)%", text)
    assert match, text
    return float(match.group(1)), float(match.group(2))


def spy_on_the_cli(monkeypatch, name: str) -> list:
    """What each call of the command line's function ``name`` returns (it still runs), in order."""
    import microgradlike.cli as cli

    real, returned = getattr(cli, name), []

    def spy(*args, **kwargs):
        returned.append(real(*args, **kwargs))
        return returned[-1]

    monkeypatch.setattr(cli, name, spy)
    return returned


def test_small_run_prints_progress_and_accuracy(capsys):
    assert main(SMALL) == 0
    out = capsys.readouterr().out
    assert "epoch     1/5" in out and "epoch     5/5" in out
    assert "stopped (max_epochs): ran all 5 epochs;" in out and "max_epochs=" not in out  # fit's parameter
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
    # predict() gives the labels themselves: no need to know that hinge trained on -1/+1
    assert model.task == {"task": "classification", "classes": [0, 1], "threshold": 0.0, "loss": "hinge"}
    assert 100 * np.mean(model.predict(X_test) == y_test) == pytest.approx(printed_test, abs=0.05)


@pytest.mark.parametrize("loss", ["binary_cross_entropy", "mse", "cross_entropy"])
def test_a_loaded_model_predicts_labels_whatever_the_loss(tmp_path, capsys, loss):
    path = tmp_path / "model.json"
    assert main(small("--epochs", "30", "--loss", loss, "--save", str(path))) == 0
    printed_train, _ = accuracies(capsys.readouterr().out)
    X, y = make_moons(n=60, seed=0)
    X_train, _, y_train, _ = train_test_split(X, y, test_fraction=0.25, seed=0)
    predicted = Module.load(path).predict(X_train)
    assert set(predicted.tolist()) <= {0, 1}
    assert 100 * np.mean(predicted == y_train) == pytest.approx(printed_train, abs=0.05)


def test_three_spiral_arms_train_one_output_per_class(tmp_path, capsys):
    path = tmp_path / "spirals.json"
    assert main([*SMALL, "--dataset", "spirals", "--arms", "3", "--save", str(path)]) == 0
    assert "cross_entropy loss" in capsys.readouterr().out
    assert Module.load(path).nouts == [4, 3]


@pytest.mark.parametrize("dataset", ["circles", "xor"])
@pytest.mark.parametrize("loss", ["binary_cross_entropy", "mse", "cross_entropy"])
def test_every_binary_loss_runs(dataset, loss, capsys):
    assert main(small("--epochs", "2", "--dataset", dataset, "--loss", loss, "--optimizer", "sgd",
                      "--momentum", "0.9")) == 0
    accuracies(capsys.readouterr().out)


def test_plot_writes_a_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "out.png"
    assert main(small("--epochs", "2", "--plot", str(path))) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]  # no temporary file left behind


def test_plot_shows_train_and_test_points_and_both_accuracies(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    drawn = spy_on_the_cli(monkeypatch, "plot_decision_boundary")
    assert main(small("--epochs", "3", "--plot", str(tmp_path / "out.png"))) == 0
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


def test_progress_without_tqdm_falls_back_to_the_epoch_lines(monkeypatch, capsys):
    for module in ("tqdm", "tqdm.auto"):
        monkeypatch.setitem(sys.modules, module, None)  # as if tqdm were not installed
    assert main([*SMALL, "--progress"]) == 0
    captured = capsys.readouterr()
    assert "epoch     1/5" in captured.out and "epoch     5/5" in captured.out
    assert "pip install tqdm" in captured.err and "progress=False" not in captured.err
    accuracies(captured.out)


def test_a_final_model_much_worse_than_the_best_is_reported_and_keep_best_keeps_the_best(capsys):
    argv = ["train", "--n", "60", "--epochs", "30", "--hidden", "8", "--optimizer", "sgd", "--lr", "1.0",
            "--batch-size", "4", "--seed", "1"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the CLI says it in its own words, not as a Python warning
        assert main(argv) == 0
    out = capsys.readouterr().out
    # one name for the held-out points: the CLI's "test loss", in fit's own messages too
    assert "validation" not in out
    found = re.search(r"its test loss ([\d.]+) is [\d.]+ times the best, ([\d.]+) at epoch (\d+)", out)
    last, lowest, best = float(found.group(1)), float(found.group(2)), int(found.group(3))
    assert last > 1.5 * lowest and best < 30
    assert f"much worse than epoch {best}'s; --keep-best" in out and "keep_best=True" not in out
    assert main([*argv, "--keep-best"]) == 0
    kept = capsys.readouterr().out
    assert f"restored the parameters of epoch {best}, the best test loss ({lowest}" in kept
    assert "--keep-best ends" not in kept
    assert accuracies(kept)[1] >= accuracies(out)[1]


def test_an_update_so_large_it_overflows_still_ends_cleanly_and_draws(tmp_path, capsys):
    """--lr 1.7e308: update 1 is undone, no epoch completes, and there is no loss to draw."""
    pytest.importorskip("matplotlib")
    path = tmp_path / "p.png"
    assert main(["train", "--optimizer", "sgd", "--loss", "mse", "--lr", "1.7e308", "--plot", str(path)]) == 0
    captured = capsys.readouterr()
    assert "diverged at update 1" in captured.out and "no loss curve" in captured.out
    assert "Traceback" not in captured.err and captured.err == ""
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("engine", ["eager", "batched"])
def test_an_lr_so_large_the_outputs_are_nan_reports_divergence_not_loss_0(capsys, engine):
    assert main(["train", "--lr", "1e300", "--epochs", "5", "--n", "60", "--engine", engine]) == 0
    out = capsys.readouterr().out
    assert "stopped (diverged)" in out and "train loss 0 " not in out


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
    ["--optimizer", "sgd", "--momentum", "1.5"],
    ["--test-fraction", "1.5"],
    ["--batch-size", "0"],
    ["--loss", "l1"],
    ["--engine", "warp"],
])
def test_bad_arguments_exit_2_with_one_line(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", *argv])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m microgradlike train: error: argument") and err.count("\n") == 1


def test_widths_given_as_separate_words_get_a_hint(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--hidden", "16", "16", "8"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err == ("python -m microgradlike train: error: unrecognized arguments: 16 8; --hidden takes its "
                   "widths as one word, with commas: --hidden 16,16,8\n")


def test_the_usage_in_help_sends_nobody_to_help(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m microgradlike train [options]\n") and "(all options" not in out


@pytest.mark.parametrize(("argv", "needle"), [
    (["--dataset", "spirals", "--arms", "3", "--loss", "hinge"], "cross_entropy"),
    (["--momentum", "0.9"], "--momentum 0.9 is for --optimizer sgd; adam does not use it"),
    (["--momentum", "0"], "--momentum 0.0 is for --optimizer sgd; adam does not use it"),
    (["--arms", "3"], "--arms 3 is for --dataset spirals; moons does not use it"),
    (["--dataset", "xor", "--arms", "2"], "--arms 2 is for --dataset spirals; xor does not use it"),
    (["--dataset", "spirals", "--arms", "1"], "arms"),
    (["--n", "3", "--test-fraction", "0.1"], "--test-fraction 0.1 of 3 points holds out 0 for testing"),
    (["--save", "/no/such/folder/model.json"], "/no/such/folder"),
    (["--dataset", "moons", "--data", "points.csv"], "drop --dataset"),
    (["--target", "label"], "--target picks the label column of --data"),
])
def test_bad_combinations_exit_2_with_one_line(argv, needle, capsys):
    assert main(small(*argv)) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_module_entry_point_exit_codes():
    ok = subprocess.run([sys.executable, "-m", "microgradlike", "train", "--n", "40", "--epochs", "1"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "test accuracy" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "microgradlike", "train", "--momentum", "0.5"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "--momentum" in bad.stderr


# ---- outputs are checked before training -----------------------------------------------------------
def _no_training(out: str) -> bool:
    return "epoch" not in out and "training MLP" not in out


@pytest.mark.skipif(os.name != "posix", reason="/proc is Linux")
@pytest.mark.parametrize("option", ["--save", "--plot"])
@pytest.mark.parametrize(("where", "needle"), [
    ("{tmp}", "it is a folder"),
    ("/proc/out.png", "cannot create a file in the folder /proc"),
    ("{tmp}/file.txt/out.png", "is not a folder"),
])
def test_an_output_that_cannot_be_written_is_refused_before_training(tmp_path, capsys, option, where, needle):
    pytest.importorskip("matplotlib")
    (tmp_path / "file.txt").write_text("x")
    path = where.format(tmp=tmp_path)
    assert main([*SMALL, option, path]) == 2
    captured = capsys.readouterr()
    assert _no_training(captured.out)
    assert needle in captured.err and path in captured.err and captured.err.count("\n") == 1


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write anywhere")
def test_a_read_only_folder_is_refused_before_training(tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert main([*SMALL, "--save", str(folder / "m.json")]) == 2
    finally:
        folder.chmod(0o755)
    captured = capsys.readouterr()
    assert _no_training(captured.out) and "Permission denied" in captured.err


@pytest.mark.parametrize("option", ["--save", "--plot", "--data"])
def test_an_empty_file_name_is_refused(capsys, option):
    with pytest.raises(SystemExit) as info:
        main([*SMALL, option, ""])
    assert info.value.code == 2 and "expected a file name" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["out.txt", "out", "out.jpeg"])
def test_plot_refuses_a_suffix_it_cannot_write(tmp_path, capsys, name):
    pytest.importorskip("matplotlib")
    assert main([*SMALL, "--plot", str(tmp_path / name)]) == 2
    captured = capsys.readouterr()
    assert _no_training(captured.out) and ".png, .svg or .pdf" in captured.err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("suffix", "magic"), [(".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_plot_writes_the_format_its_suffix_names(tmp_path, capsys, suffix, magic):
    pytest.importorskip("matplotlib")
    path = tmp_path / f"out{suffix}"
    assert main(small("--epochs", "2", "--plot", str(path))) == 0
    assert path.read_bytes().startswith(magic)


@pytest.mark.parametrize(("option", "name", "needle"), [
    ("--html", "run.png", "--html {}: the suffix must be .html, not .png"),
    ("--save", "model.txt", "--save {}: the suffix must be .json, not .txt"),
    ("--save", "model", "--save {}: the name has no suffix; it must end in .json"),
    ("--plot", "curves", "--plot {}: the name has no suffix; it must end in .png, .svg or .pdf"),
    ("--save", "out.json/", "cannot write --save {}: it names a folder (it ends with '/'), not a file"),
])
def test_an_output_must_have_the_suffix_of_what_it_writes(tmp_path, capsys, option, name, needle):
    path = f"{tmp_path}/{name}"
    assert main([*SMALL, option, path]) == 2
    captured = capsys.readouterr()
    assert _no_training(captured.out) and captured.err.endswith(needle.format(path) + "\n")
    assert list(tmp_path.iterdir()) == []


def _same_file_cases(tmp_path: Path) -> dict[str, list[str]]:
    """Runs whose outputs overwrite each other or the input, by name, through a link, or a hard link."""
    points = tmp_path / "p.csv"
    points.write_text(POINTS.read_text())
    (tmp_path / "link.html").symlink_to("m.json")
    (tmp_path / "old.png").write_bytes(b"old picture")
    os.link(tmp_path / "old.png", tmp_path / "hard.html")
    (tmp_path / "points.png").symlink_to(points)
    return {
        "--save p.csv": ["--data", str(points), "--save", str(points)],
        "--html link.html": ["--save", str(tmp_path / "m.json"), "--html", str(tmp_path / "link.html")],
        "--html hard.html": ["--plot", str(tmp_path / "old.png"), "--html", str(tmp_path / "hard.html")],
        "--plot points.png": ["--data", str(points), "--plot", str(tmp_path / "points.png")],
    }


@pytest.mark.parametrize("case", ["--save p.csv", "--html link.html", "--html hard.html",
                                  "--plot points.png"])
def test_outputs_that_are_one_file_are_refused_before_training(tmp_path, capsys, case):
    pytest.importorskip("matplotlib")
    argv = _same_file_cases(tmp_path)[case]
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.exists()}
    train = ["train", "--epochs", "2"] if "--data" in argv else small("--epochs", "2")
    assert main([*train, *argv]) == 2
    captured = capsys.readouterr()
    assert _no_training(captured.out) and captured.err.count("\n") == 1
    second, first = argv[-2:], argv[:2]
    assert f"{second[0]} {second[1]} is the same file as {first[0]} {first[1]}" in captured.err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.exists()} == before


def full_disk(monkeypatch, only: Path | None = None) -> None:
    """Module.save fails as on a full disk (ENOSPC): for the file ``only``, or for every file."""
    real_save = Module.save

    def save(self, target):
        if only is None or os.fspath(target) == str(only):
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        real_save(self, target)

    monkeypatch.setattr(Module, "save", save)


def test_when_the_rescue_save_fails_too_no_file_is_left(tmp_path, capsys, monkeypatch):
    import tempfile

    rescue = tmp_path / "tmp"
    rescue.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(rescue))

    full_disk(monkeypatch)  # for every file, the rescue's too
    assert main([*SMALL, "--save", str(tmp_path / "model.json")]) == 1
    err = capsys.readouterr().err
    assert "saving it to a temporary file failed too (No space left on device): the model is lost" in err
    assert list(rescue.iterdir()) == [] and not (tmp_path / "model.json").exists()


def test_a_save_that_fails_after_training_keeps_the_model_elsewhere(tmp_path, capsys, monkeypatch):
    path = tmp_path / "model.json"
    full_disk(monkeypatch, path)
    assert main([*SMALL, "--save", str(path)]) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and err.count("\n") == 1
    kept = re.search(r"saved to (\S+) instead", err).group(1)
    try:
        assert Module.load(kept).nouts == [4, 1]
    finally:
        os.unlink(kept)


# ---- seeds and sizes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", ["-1", "a", "1.5"])
def test_a_bad_seed_is_named(capsys, seed):
    with pytest.raises(SystemExit) as info:
        main([*SMALL, "--seed", seed])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --seed: the seed must be an int >= 0" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["--n", "1000000000"], ["--n", "10" + "0" * 400],
                                  ["--hidden", "100000,100000"], ["--hidden", "1" + "0" * 400]])
def test_a_run_the_machine_cannot_hold_is_refused_at_once(capsys, argv):
    start = time.perf_counter()
    assert main(["train", *argv]) == 2
    err = capsys.readouterr().err
    assert re.search(r"needs (about [\d.]+ [KMGTPE]iB|more than 1000 EiB) of memory, more than the ", err)
    assert err.count("\n") == 1 and len(err) < 400
    assert time.perf_counter() - start < 5


@pytest.mark.skipif(importlib.util.find_spec("resource") is None, reason="ulimit is POSIX")
def test_under_a_memory_limit_the_refusal_names_it():
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, resource.RLIM_INFINITY)); "
    run = "from microgradlike.cli import main; raise SystemExit(main(['train', '--n', '30000000']))"
    result = subprocess.run([sys.executable, "-c", limit + run], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "this process's limit of 3 GiB (ulimit -v)" in result.stderr and "Traceback" not in result.stderr


# ---- your own points ---------------------------------------------------------------------------------
POINTS = Path(__file__).parent.parent / "examples" / "points.csv"


def test_train_on_a_csv_file_and_predict_its_own_labels(tmp_path, capsys):
    data = tmp_path / "points.csv"
    # the example's labels 0, 1, 2 renamed 10, 20, 30, and the label column moved first
    rows = [line.split(",") for line in POINTS.read_text().splitlines()[1:]]
    data.write_text("class,x1,x2\n" + "".join(f"{10 * (int(c) + 1)},{x1},{x2}\n" for x1, x2, c in rows))
    path = tmp_path / "model.json"
    assert main(["train", "--data", str(data), "--target", "class", "--epochs", "60",
                 "--save", str(path)]) == 0
    out = capsys.readouterr().out
    assert "training MLP(2, [16, 16, 3], relu) on points.csv" in out and "cross_entropy loss" in out
    assert accuracies(out)[1] >= 85
    X, y = load_csv(data, target="class")
    model = Module.load(path)
    assert model.task["classes"] == [10, 20, 30]
    assert set(model.predict(X).tolist()) <= {10, 20, 30}
    assert np.mean(model.predict(X) == y) >= 0.85


def test_a_csv_with_more_inputs_trains_and_plots_the_loss_curves(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    data = tmp_path / "three.csv"
    np.savetxt(data, np.column_stack([X, np.where(X[:, 0] > 0, 1, -1)]), delimiter=",", fmt="%.4f")
    assert main(["train", "--data", str(data), "--epochs", "5", "--plot", str(tmp_path / "p.png")]) == 0
    out = capsys.readouterr().out
    assert "MLP(3, [16, 16, 1], relu)" in out and "drew the loss curves to" in out
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(("text", "target", "needle"), [
    ("x,y,label\n1,2,0\n3,abc,1\n", [], "points.csv, line 3, column 2 ('y'): 'abc' is not a finite number"),
    ("1,2,0\n3,4\n", [], "points.csv, line 2: 2 cells, but line 1 has 3"),
    ("x,y\n1,2\n3,4\n", ["--target", "label"], "no column named 'label'"),
    ("1,2,1\n3,4,1\n", [], "every row's target is 1"),
    ("", [], "points.csv: the file is empty"),
    ("1,2,0.5\n3,4,1\n", [], "holds 0.5, which is not a class label"),
])
def test_bad_csv_files_are_one_line_errors(tmp_path, capsys, text, target, needle):
    (tmp_path / "points.csv").write_text(text)
    assert main(["train", "--data", str(tmp_path / "points.csv"), *target]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


# ---- the program's name, its version, and what it echoes -----------------------------------------
def test_errors_are_one_line_naming_the_program_as_it_was_started(tmp_path):
    script = tmp_path / "microgradlike"  # what `pip install` puts on the PATH
    script.write_text("from microgradlike.cli import main\nraise SystemExit(main())\n")
    as_script = subprocess.run([sys.executable, str(script), "train", "--n", "x"],
                               capture_output=True, text=True, timeout=60)
    assert as_script.stderr == ("microgradlike train: error: argument --n: expected an integer (digits 0-9, "
                                "like 300), got 'x'\n")
    as_module = subprocess.run([sys.executable, "-m", "microgradlike", "train", "--n", "x"],
                               capture_output=True, text=True, timeout=60)
    assert as_module.stderr.startswith("python -m microgradlike train: error: argument --n")
    helped = subprocess.run([sys.executable, str(script), "train", "--help"], capture_output=True, text=True,
                            timeout=60)
    assert helped.stdout.startswith("usage: microgradlike train [options]\n")


def test_version_prints_the_package_version():
    result = subprocess.run([sys.executable, "-m", "microgradlike", "--version"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == f"microgradlike {microgradlike.__version__}"


@pytest.mark.parametrize("argv", [
    ["--data", "no\x1b[2Jfile.csv"],
    ["--save", "/no/such\x1b]0;pwned\x07/m.json"],
    ["--dataset", "moons\x1b[31m"],
    ["--lr", "\x1b[31m" + "9" * 10_000],
])
def test_errors_never_echo_control_characters_or_huge_values(capsys, argv):
    with contextlib.suppress(SystemExit):
        main(["train", *argv])
    err = capsys.readouterr().err
    assert "error:" in err and "\x1b" not in err and "\x07" not in err and len(err) < 1000
    assert "\\x1b" in err  # shown escaped, so the user still sees what was typed


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path: Path) -> None:
    import os as _os
    script = f"{sys.executable} -m microgradlike train --n 60 --epochs 30 | head -1"
    env = {**_os.environ, "PYTHONPATH": _os.pathsep.join([str(Path(__file__).parent.parent),
                                                           _os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=120)
    assert done.stdout.startswith("training MLP")
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="/dev/full is Linux's always-full device")
def test_a_full_standard_output_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent.parent),
                                                        os.environ.get("PYTHONPATH", "")])}
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "microgradlike", *SMALL], stdout=full,
                              stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env, timeout=120)
    assert done.returncode == 1
    assert done.stderr == ("python -m microgradlike train: error: cannot write to the standard output: "
                           "[Errno 28] No space left on device\n")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="a link owned by another user can only be made by root")
@pytest.mark.parametrize("option", ["--save", "--plot", "--html"])
def test_no_output_follows_another_users_link_in_a_shared_folder(tmp_path, capsys, option):
    """As root in /tmp: a link planted by another user would make the run overwrite any file."""
    pytest.importorskip("matplotlib")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp: anyone may write, the sticky bit set
    victim = tmp_path / "passwd"
    victim.write_text("root:x:0:0")
    link = shared / {"--save": "m.json", "--plot": "p.png", "--html": "r.html"}[option]
    link.symlink_to(victim)
    os.lchown(link, 54321, 54321)
    assert main([*SMALL, option, str(link)]) == 2
    captured = capsys.readouterr()
    assert _no_training(captured.out) and "protected_symlinks" in captured.err
    assert victim.read_text() == "root:x:0:0"


def test_the_held_out_points_have_one_name_in_the_lines_and_the_plot(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    drawn = spy_on_the_cli(monkeypatch, "plot_history")
    assert main([*SMALL, "--plot", str(tmp_path / "p.png")]) == 0
    out = capsys.readouterr().out
    assert "test loss" in out and "validation" not in out
    legend = [t.get_text() for t in drawn[0].get_legend().get_texts()]
    assert "test loss after each epoch" in legend and not [t for t in legend if "validation" in t]
    assert not [t for t in legend if "early stopping" in t]  # this run kept its last epoch


# ---- a standard output that stops taking lines (attack A1) ---------------------------------------------
class BreakingStdout(io.StringIO):
    """A stdout that takes ``lines`` lines, then raises ``error`` on every write (a reader such as
    ``head -n 3`` that stopped, or a disk that filled up)."""

    def __init__(self, lines: int, error: OSError) -> None:
        super().__init__()
        self.left, self.error = lines, error

    def write(self, text: str) -> int:
        if self.left <= 0:
            raise self.error
        self.left -= text.count("\n")
        return super().write(text)


@pytest.mark.parametrize("lines", [0, 1, 3, 6, 7, 8, 9, 10])
@pytest.mark.parametrize("error", [BrokenPipeError(errno.EPIPE, "Broken pipe"),
                                   OSError(errno.ENOSPC, "No space left on device")])
def test_the_files_are_written_whatever_happens_to_stdout(tmp_path, capsys, monkeypatch, lines, error):
    """`train ... --save m.json --html m.html | head -n 12` lost the model: the first line that
    could not be written ended the run before its files."""
    pytest.importorskip("matplotlib")
    files = {"--save": tmp_path / "m.json", "--plot": tmp_path / "m.png", "--html": tmp_path / "m.html"}
    stdout = BreakingStdout(lines, error)
    monkeypatch.setattr(sys, "stdout", stdout)
    assert main([*SMALL, *(str(a) for pair in files.items() for a in pair)]) == 1
    assert Module.load(files["--save"]).nouts == [4, 1]
    assert files["--plot"].read_bytes()[:4] == b"\x89PNG" and b"</html>" in files["--html"].read_bytes()
    assert stdout.getvalue().count("\n") == lines  # the lines before the break, and none after
    err = capsys.readouterr().err
    if isinstance(error, BrokenPipeError):  # the reader chose to stop: nothing to say
        assert err == ""
    else:
        assert err == ("python -m microgradlike train: error: cannot write to the standard output: "
                       "[Errno 28] No space left on device\n")


def test_without_files_to_write_a_lost_stdout_ends_the_run_at_once(monkeypatch, capsys):
    import microgradlike.cli as cli

    monkeypatch.setattr(sys, "stdout", BreakingStdout(0, BrokenPipeError(errno.EPIPE, "Broken pipe")))
    monkeypatch.setattr(cli, "fit", lambda *a, **k: pytest.fail("trained with nobody to tell"))
    assert main(SMALL) == 1 and capsys.readouterr().err == ""


def test_a_failed_save_still_leaves_the_plot_and_the_replay(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    path = tmp_path / "model.json"
    full_disk(monkeypatch, path)
    argv = ["--save", str(path), "--plot", str(tmp_path / "p.png"), "--html", str(tmp_path / "r.html")]
    assert main([*SMALL, *argv]) == 1
    captured = capsys.readouterr()
    kept = re.search(r"saved to (\S+) instead", captured.err).group(1)
    os.unlink(kept)
    assert (tmp_path / "p.png").stat().st_size and (tmp_path / "r.html").stat().st_size
    assert "drew the loss curves" in captured.out and "wrote the training replay" in captured.out


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="/dev/full is Linux's always-full device")
def test_a_full_standard_output_still_gets_the_files_written(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent.parent),
                                                        os.environ.get("PYTHONPATH", "")])}
    with open("/dev/full", "w") as full:
        argv = [sys.executable, "-m", "microgradlike", *SMALL, "--save", "m.json", "--html", "m.html"]
        done = subprocess.run(argv, stdout=full, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env,
                              timeout=120)
    assert done.returncode == 1 and Module.load(tmp_path / "m.json").nouts == [4, 1]
    assert (tmp_path / "m.html").stat().st_size > 0
    assert done.stderr == ("python -m microgradlike train: error: cannot write to the standard output: "
                           "[Errno 28] No space left on device\n")


# ---- --help and --version to a stdout that cannot take them (attack A29) -------------------------------
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="/dev/full is Linux's always-full device")
@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["train", "--help"], ["graph", "-h"]])
def test_help_and_version_to_a_full_stdout_exit_1_with_one_line(tmp_path, argv):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent.parent),
                                                        os.environ.get("PYTHONPATH", "")])}
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "microgradlike", *argv], stdout=full,
                              stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env, timeout=60)
    assert done.returncode == 1
    assert done.stderr.endswith("error: cannot write to the standard output: [Errno 28] No space left on "
                                "device\n") and done.stderr.count("\n") == 1


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["train", "--help"]])
def test_help_and_version_to_a_reader_that_stopped_exit_1_silently(monkeypatch, capsys, argv):
    monkeypatch.setattr(sys, "stdout", BreakingStdout(0, BrokenPipeError(errno.EPIPE, "Broken pipe")))
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 1 and capsys.readouterr().err == ""


def test_help_and_version_still_print(capsys):
    for argv in (["--version"], ["--help"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"microgradlike {microgradlike.__version__}\nusage: python -m microgradlike")


def test_no_command_is_one_line_naming_the_commands_and_help(capsys):
    """Bare `microgradlike` said only "the following arguments are required: {train,graph}"."""
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err == ("python -m microgradlike: error: give a command: train (train a small network) or graph "
                   "(draw an expression's computation graph); python -m microgradlike --help says more, "
                   "python -m microgradlike train --help lists train's options\n")


# ---- options given twice, and empty widths (attack A28) ------------------------------------------------
#: A valid value for every option of `train` and `graph` that takes one.
OPTION_VALUES = {
    "train": {"--dataset": "moons", "--n": "40", "--noise": "0.1", "--arms": "3", "--data": "p.csv",
              "--target": "1", "--test-fraction": "0.25", "--hidden": "4", "--activation": "relu",
              "--loss": "hinge", "--optimizer": "sgd", "--lr": "0.1", "--momentum": "0.5", "--tol": "0",
              "--epochs": "1", "--batch-size": "8", "--seed": "1", "--engine": "batched", "--device": "cpu",
              "--save": "m.json", "--plot": "p.png", "--html": "r.html"},
    "graph": {"-o": "g.dot", "--output": "g.dot", "--rankdir": "LR"},
}


def options_taking_a_value(command: str, capsys) -> set[str]:
    """The options that `command --help` lists with a value after them (``--n N``, ``-o FILE``)."""
    with pytest.raises(SystemExit):
        main([command, "--help"])
    listed = capsys.readouterr().out.split("options:", 1)[1]
    return set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*) [A-Z{]", listed))


@pytest.mark.parametrize("command", ["train", "graph"])
def test_every_option_that_takes_a_value_is_refused_twice(tmp_path, capsys, monkeypatch, command):
    """argparse kept the last without a word: -o a.svg -o b.svg wrote b.svg alone."""
    monkeypatch.chdir(tmp_path)
    options = options_taking_a_value(command, capsys)
    assert options == set(OPTION_VALUES[command])  # a new option gets a value in the table above
    base = ["x*2", "x=1"] if command == "graph" else []
    for option, value in OPTION_VALUES[command].items():
        other = {"-o": "--output", "--output": "-o"}.get(option, option)  # both spellings are one option
        with pytest.raises(SystemExit) as info:
            main([command, *base, option, value, other, value])
        assert info.value.code == 2, option
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and re.search(rf"argument (\S+/)?{option}(/\S+)?: given twice", err), err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("widths", ["", " ", "16,", ",16", "16,,16", ","])
def test_an_empty_width_is_refused_not_skipped(capsys, widths):
    """--hidden "" trained MLP(2, [1]) and --hidden 16, MLP(2, [16, 1]) without a word."""
    with pytest.raises(SystemExit) as info:
        main(["train", "--hidden", widths])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --hidden: expected integers separated by commas, like 16,16 (or none" in err


def test_hidden_none_is_a_linear_model(tmp_path, capsys):
    path = tmp_path / "m.json"
    assert main([*small("--hidden", "none"), "--save", str(path)]) == 0
    assert Module.load(path).nouts == [1] and "MLP(2, [1], relu)" in capsys.readouterr().out


# ---- numbers as a user types them (attack A27) ---------------------------------------------------------
@pytest.mark.parametrize(("option", "value"), [
    ("--n", "4_0"), ("--n", "\u0664\u0660"), ("--n", "\uff14\uff10"), ("--epochs", "1_0"),
    ("--seed", "\u0661"), ("--batch-size", "1_6"), ("--arms", "\u0663"), ("--hidden", "1_6"),
    ("--hidden", "\u0661\u0666,4"), ("--lr", "1_0"), ("--lr", "\uff11"), ("--noise", "0.1_0"),
    ("--tol", "1e-6_0"), ("--test-fraction", "\u0660.5"),
])
def test_numbers_are_read_by_the_rule_of_the_csv_reader(capsys, option, value):
    with pytest.raises(SystemExit) as info:
        main(["train", option, value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}:" in err and err.count("\n") == 1


def test_a_target_in_other_digits_is_a_column_name(tmp_path, capsys):
    path = tmp_path / "p.csv"
    path.write_text("x,y,\u0663\n0,1,0\n1,0,1\n1,1,0\n0,0,1\n0.5,0.5,0\n0.2,0.1,1\n0.9,0.8,0\n0.1,0.9,1\n")
    assert main(["train", "--data", str(path), "--target", "\u0663", "--epochs", "1", "--hidden", "2"]) == 0
    assert "training MLP(2, " in capsys.readouterr().out


# ---- messages in the option names the user typed (attack A31) ------------------------------------------
@pytest.mark.parametrize(("argv", "said"), [
    (["--dataset", "spirals", "--arms", "1000", "--n", "40"], "--n 40 gives fewer points than the 1000 arms"),
    (["--dataset", "spirals", "--n", "2"], "--n 2 gives fewer points than the 3 arms of the spirals"),
    (["--n", "1"], "--test-fraction 0.25 of 1 points holds out 0 for testing"),
    (["--n", "3", "--test-fraction", "0.1"], "--test-fraction 0.1 of 3 points holds out 0 for testing"),
    (["--engine", "torch", "--device", "tpu"], "--device 'tpu': "),
])
def test_errors_name_the_options_not_python_parameters(capsys, argv, said):
    assert main(["train", *argv]) == 2
    err = capsys.readouterr().err
    assert said in err and err.count("\n") == 1
    assert not re.search(r"(?<![-\w])(n|arms|test_fraction|momentum) must|test_fraction=", err)


@pytest.mark.parametrize("device", [None, "cpu", "cuda:1"])
def test_without_torch_the_message_names_the_option_and_a_bad_device_is_said_first(capsys, monkeypatch,
                                                                                    device):
    """On a machine without torch, --engine torch said "engine='torch' needs PyTorch" (fit's
    parameter), and said it for --device tpu too, whose mistake needs no torch to be seen."""
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError, as without it
    assert main(["train", "--engine", "torch", "--device", "tpu"]) == 2
    assert capsys.readouterr().err == ("python -m microgradlike train: error: --device 'tpu': expected cpu, "
                                       "or cuda for a GPU (cuda:N for GPU number N)\n")
    assert main(["train", "--engine", "torch", *(["--device", device] if device else [])]) == 2
    assert capsys.readouterr().err == ("python -m microgradlike train: error: --engine torch needs PyTorch, "
                                       "which is not installed: pip install torch==2.13.0 (or the extra: pip "
                                       "install 'microgradlike[torch]')\n")


def test_momentum_out_of_range_is_named_as_the_option(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--optimizer", "sgd", "--momentum", "1"])
    assert info.value.code == 2
    assert capsys.readouterr().err == ("python -m microgradlike train: error: argument --momentum: must be "
                                       "in [0, 1) (0 is plain SGD), got '1'\n")


# ---- huge losses (attack A24) --------------------------------------------------------------------------
def test_huge_losses_are_printed_with_four_digits_not_three_hundred(capsys):
    assert main(small("--noise", "1e300", "--epochs", "2")) == 0
    epochs = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch")]
    assert epochs and all(len(line) < 80 for line in epochs), epochs
    assert re.search(r"train loss \d\.\d+e\+\d+  test loss \d\.\d+e\+\d+", epochs[0])


# ---- Ctrl-C keeps the work (new user's finding 3) ------------------------------------------------------
def _default_sigint() -> None:
    """In the child: Ctrl-C as in a terminal (a shell's background job starts with SIGINT ignored,
    and Python then installs no KeyboardInterrupt for it)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.skipif(os.name != "posix", reason="SIGINT is sent with os.kill")
@pytest.mark.parametrize("more", [[], ["--batch-size", "8", "--engine", "tape"]])
def test_ctrl_c_stops_training_and_keeps_the_model_plot_and_page(tmp_path, more):
    """Ctrl-C printed a 20-line KeyboardInterrupt traceback and wrote none of the files."""
    import signal

    env = {**os.environ, "PYTHONPATH": str(Path(microgradlike.__file__).parent.parent)}
    argv = ["train", "--epochs", "100000", "--tol", "0", "--n", "200", "--seed", "2", *more,
            "--save", "m.json", "--plot", "m.png", "--html", "m.html"]
    child = subprocess.Popen([sys.executable, "-m", "microgradlike", *argv], cwd=tmp_path, env=env,
                             text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             preexec_fn=_default_sigint)
    lines = []
    for line in child.stdout:  # training runs once the first epoch is reported
        lines.append(line)
        if line.startswith("epoch"):
            break
    time.sleep(1.0)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=300)
    out = "".join(lines) + out
    assert child.returncode == 130 and err == "", err
    stop = re.search(r"^interrupted at epoch (\d+) \(Ctrl-C\): training stopped there, and the model is kept "
                     r"as it left it; (\d+) whole epochs, (\d+) updates in [\d.]+ s$", out, re.M)
    assert stop, out
    epoch, whole = int(stop.group(1)), int(stop.group(2))
    assert whole >= 1 and epoch in (whole, whole + 1)
    for name in ("m.json", "m.png", "m.html"):
        assert (tmp_path / name).stat().st_size > 0, name
        assert name in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.html", "m.json", "m.png"]  # no temporary left
    assert f"interrupted at epoch {epoch} (Ctrl-C)" in (tmp_path / "m.html").read_text()
    # the saved model is the one whose accuracy was printed, and it predicts the dataset's labels
    _, printed_test = accuracies(out)
    X, y = make_moons(n=200, seed=2)
    _, X_test, _, y_test = train_test_split(X, y, test_fraction=0.25, seed=2)
    model = Module.load(tmp_path / "m.json")
    assert round(100 * float(np.mean(model.predict(X_test) == y_test)), 1) == printed_test


def main_not_interrupted(argv: list[str]) -> int:
    """`main`, failing the test (not stopping pytest) if a KeyboardInterrupt gets out of it."""
    try:
        return main(argv)
    except KeyboardInterrupt:
        pytest.fail("a KeyboardInterrupt got out of main: a traceback for the user")


def test_a_second_ctrl_c_while_writing_leaves_no_half_file(tmp_path, capsys, monkeypatch):
    """The first Ctrl-C stops training; a second one while --plot is being written stops the writing:
    --save is written, --plot and --html are not, and nothing half-written is left behind."""
    import microgradlike.cli as cli

    real_fit, real_fsync = cli.fit, os.fsync

    def fit_then_ctrl_c(*args, **kwargs):
        real_fit(*args, **kwargs)
        raise KeyboardInterrupt  # as if pressed at the end of the last epoch

    def fsync(fd):
        if "m.png" in os.readlink(f"/proc/self/fd/{fd}"):  # the plot's temporary file, written and full
            raise KeyboardInterrupt
        real_fsync(fd)

    monkeypatch.setattr(cli, "fit", fit_then_ctrl_c)
    monkeypatch.setattr(os, "fsync", fsync)
    (tmp_path / "m.png").write_bytes(b"an older picture")
    paths = {name: str(tmp_path / name) for name in ("m.json", "m.png", "m.html")}
    outputs = ["--save", paths["m.json"], "--plot", paths["m.png"], "--html", paths["m.html"]]
    assert main_not_interrupted([*SMALL, *outputs]) == 130
    captured = capsys.readouterr()
    assert captured.err == (f"python -m microgradlike train: interrupted while writing the files (Ctrl-C): "
                            f"wrote --save {paths['m.json']}; did not write --plot {paths['m.png']}, --html "
                            f"{paths['m.html']} (no file is left half-written)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.png"]
    assert (tmp_path / "m.png").read_bytes() == b"an older picture"
    assert Module.load(paths["m.json"]).task["classes"] == [0, 1]


def test_ctrl_c_before_training_is_one_line_and_exit_130(tmp_path, capsys, monkeypatch):
    import microgradlike.cli as cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_points", interrupted)  # while the data is being made
    assert main_not_interrupted([*SMALL, "--save", str(tmp_path / "m.json")]) == 130
    assert capsys.readouterr().err == "python -m microgradlike train: interrupted (Ctrl-C)\n"
    assert list(tmp_path.iterdir()) == []
