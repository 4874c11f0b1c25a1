"""The training replay: what it records (Python), and the page driven in Chromium."""

from __future__ import annotations

import base64
import contextlib
import io
import math
import re
from pathlib import Path

import numpy as np
import pytest
from browser import launch, screenshot, wait_until, watched_page

from microgradlike import no_grad
from microgradlike import replay as replay_module
from microgradlike.cli import main
from microgradlike.data import make_moons, make_spirals, piecewise_linear, train_test_split
from microgradlike.formatting import format_number
from microgradlike.nn import MLP, SigmoidSum
from microgradlike.optim import SGD, Adam
from microgradlike.replay import BOUNDARY_RESOLUTION, Replay
from microgradlike.train import fit


def moons(n: int = 80):
    X, y = make_moons(n=n, noise=0.1, seed=0)
    return train_test_split(X, 2 * y - 1, test_fraction=0.25, seed=0)


def train_moons(epochs: int = 30, max_snapshots: int = 100, **fit_options):
    X_train, X_test, y_train, y_test = moons()
    model = MLP(2, [8, 1], seed=0)
    opt = Adam(model.parameters(), lr=0.05)
    replay = Replay(model, X_train, y_train, validation=(X_test, y_test), optimizer=opt,
                    max_snapshots=max_snapshots)
    history = fit(model, X_train, y_train, loss="hinge", optimizer=opt, max_epochs=epochs, tol=0,
                  validation=(X_test, y_test), callback=replay, **fit_options)
    return model, opt, replay, history, (X_train, X_test, y_train, y_test)


def floats(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4")


def accuracy(model: MLP, X: np.ndarray, y: np.ndarray) -> float:
    with no_grad():
        predicted = np.array([model(row).data > 0 for row in X.tolist()])
    return 100 * float(np.mean(predicted == (y > 0)))


# ---- what is recorded ------------------------------------------------------------------------
def test_bad_arguments() -> None:
    X_train, X_test, y_train, _ = moons()
    model = MLP(2, [4, 1], seed=0)
    with pytest.raises(TypeError, match="Replay draws an MLP"):
        Replay(SigmoidSum(3), X_train[:, :1], y_train)
    with pytest.raises(ValueError, match="nin=3"):
        Replay(MLP(3, [2, 1]), np.zeros((4, 3)), np.ones(4))
    with pytest.raises(ValueError, match=r"one-output classifier hold two labels .* got 3: \[-1\.0, 1\.0, 3"):
        Replay(model, X_train, np.where(np.arange(len(y_train)) % 7 == 0, 3, y_train))
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        Replay(model, X_train[:, :1], y_train)
    with pytest.raises(ValueError, match="class ids 0 … 2"):
        Replay(MLP(2, [4, 3]), X_train, y_train + 5)
    with pytest.raises(ValueError, match=r"does not update the model's parameter 'layers\.0\.neurons\.0"):
        Replay(model, X_train, y_train, optimizer=Adam(MLP(2, [4, 1]).parameters()))
    with pytest.raises(TypeError, match="optimizer must be the Optimizer"):
        Replay(model, X_train, y_train, optimizer="adam")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_snapshots must be an int >= 2"):
        Replay(model, X_train, y_train, max_snapshots=1)
    with pytest.raises(ValueError, match="validation must be a pair"):
        Replay(model, X_train, y_train, validation=X_test)


def test_points_that_are_no_floats_are_refused_naming_them() -> None:
    model = MLP(2, [4, 1], seed=0)
    with pytest.raises(ValueError, match=r"^X\[0, 0\] = 100000000000… \(401 digits\) is too large for a"):
        Replay(model, [[10**400, 0.0], [1.0, 2.0]], [1, -1])  # was an OverflowError
    with pytest.raises(ValueError, match=r"^validation y\[1\] = -100000000000… \(401 digits\) is too large"):
        Replay(model, [[0.0, 0.0], [1.0, 2.0]], [1, -1], validation=([[0, 0], [1, 1]], [1, -10**400]))
    with pytest.raises(TypeError, match=r"^X\[0, 0\] must be a real number, got str: 'a'"):
        Replay(model, [["a", 1]], [1])


def test_one_replay_records_one_run() -> None:
    model, opt, replay, _, (X_train, _, y_train, _) = train_moons(epochs=3)
    with pytest.raises(ValueError, match="make a new Replay for each fit"):
        fit(model, X_train, y_train, loss="hinge", optimizer=opt, max_epochs=2, callback=replay)


def test_long_runs_keep_evenly_spaced_epochs_first_and_last() -> None:
    *_, replay, history, _ = train_moons(epochs=57, max_snapshots=8)
    assert len(replay.snapshots) <= 2 * 8 + 1  # thinned while training
    epochs = replay.data()["epochs"]
    assert epochs[0] == 0 and epochs[-1] == history.n_epochs == 57
    assert len(epochs) == 8
    gaps = np.diff(epochs)
    assert gaps.max() <= 2 * gaps.min()


def test_the_last_epoch_is_the_trained_model() -> None:
    model, opt, replay, _, (X_train, X_test, y_train, y_test) = train_moons(epochs=25)
    data = replay.data()
    assert data["accuracy"]["train"][-1] == pytest.approx(accuracy(model, X_train, y_train))
    assert data["accuracy"]["test"][-1] == pytest.approx(accuracy(model, X_test, y_test))
    values = floats(data["parameters"]["values"]["value"]).reshape(len(data["epochs"]), -1)
    np.testing.assert_allclose(values[-1], [p.data for p in model.parameters()], rtol=1e-6)
    for slot in ("m", "v"):  # Adam's state, as the optimiser holds it
        state = floats(data["parameters"]["values"][slot]).reshape(len(data["epochs"]), -1)
        np.testing.assert_allclose(state[-1], getattr(opt, slot), rtol=1e-6, atol=1e-30)
        assert np.all(state[0] == 0)  # before the first update


def test_the_boundary_picture_is_the_models_prediction() -> None:
    model, _, replay, _, _ = train_moons(epochs=20)
    data = replay.data()
    n = BOUNDARY_RESOLUTION
    regions = np.frombuffer(base64.b64decode(data["regions"]), dtype=np.uint8).reshape(-1, n, n)[-1]
    x_lo, x_hi, y_lo, y_hi = data["box"]
    checked = 0
    for i in range(0, n, 7):
        for j in range(0, n, 7):
            point = [x_lo + (x_hi - x_lo) * j / (n - 1), y_hi - (y_hi - y_lo) * i / (n - 1)]
            with no_grad():
                score = model(point).data
            if abs(score) > 0.05:  # away from the boundary, the byte is on the right side of 127.5
                assert (regions[i, j] > 127.5) == (score > 0), (point, score, regions[i, j])
                checked += 1
    assert checked > 50


def test_the_page_ends_with_the_model_fit_left() -> None:
    """Early stopping puts back the best epoch's weights after the last callback."""
    model, _, replay, history, _ = train_moons(epochs=60, patience=3)
    assert history.stopped_because == "early_stopping"
    data = replay.data()
    values = floats(data["parameters"]["values"]["value"]).reshape(len(data["epochs"]), -1)
    np.testing.assert_allclose(values[-1], [p.data for p in model.parameters()], rtol=1e-6)
    assert "early_stopping" in data["notes"][-1]
    assert data["epochs"][-1] == history.n_epochs


def train_with_mse(labels=(0, 1), **replay_options):
    """The tester's run: a tanh MLP trained with mse on moons labelled ``labels``, replayed."""
    X, ids = make_moons(n=200, noise=0.1, seed=0)
    X_train, X_test, y_train, y_test = train_test_split(X, np.where(ids == 1, labels[1], labels[0]), seed=0)
    model = MLP(2, [8, 1], "tanh", seed=0)
    opt = Adam(model.parameters(), lr=0.05)
    replay = Replay(model, X_train, y_train, validation=(X_test, y_test), optimizer=opt, **replay_options)
    fit(model, X_train, y_train, loss="mse", optimizer=opt, max_epochs=150, validation=(X_test, y_test),
        callback=replay)
    return model, replay, (X_train, X_test, y_train, y_test)


@pytest.mark.parametrize("labels", [(0, 1), (2, 5)])
def test_the_page_reads_the_threshold_and_classes_fit_recorded(labels) -> None:
    model, replay, (X_train, X_test, y_train, y_test) = train_with_mse(labels)
    assert model.task["threshold"] == (labels[0] + labels[1]) / 2 == replay.threshold
    data = replay.data()
    assert data["accuracy"]["test"][-1] == round(100 * np.mean(model.predict(X_test) == y_test), 2)
    assert data["accuracy"]["train"][-1] == round(100 * np.mean(model.predict(X_train) == y_train), 2)
    assert data["accuracy"]["test"][-1] > 90  # said 58% (the boundary at output 0)
    assert data["points"]["test_y"] == (y_test == labels[1]).astype(int).tolist()
    n = BOUNDARY_RESOLUTION  # the boundary drawn is output = threshold
    regions = np.frombuffer(base64.b64decode(data["regions"]), dtype=np.uint8).reshape(-1, n, n)[-1]
    x_lo, x_hi, y_lo, y_hi = data["box"]
    for i in range(0, n, 9):
        for j in range(0, n, 9):
            point = [x_lo + (x_hi - x_lo) * j / (n - 1), y_hi - (y_hi - y_lo) * i / (n - 1)]
            with no_grad():
                score = model(point).data
            if abs(score - replay.threshold) > 0.05:
                assert (regions[i, j] > 127.5) == (score > replay.threshold)


def test_a_threshold_given_to_the_replay_is_kept() -> None:
    _, replay, _ = train_with_mse(threshold=0.0)
    assert replay.threshold == 0.0


def test_the_held_out_points_have_the_name_fit_was_given() -> None:
    X_train, X_test, y_train, y_test = moons()
    model = MLP(2, [4, 1], seed=0)
    replay = Replay(model, X_train, y_train, validation=(X_test, y_test))
    assert replay.held_out == "validation"  # before fit: fit's default
    history = fit(model, X_train, y_train, loss="hinge", max_epochs=3, validation=(X_test, y_test),
                  callback=replay, held_out="test")
    assert history.held_out == "test" and replay.data()["held_out"] == "test"
    named = Replay(MLP(2, [4, 1], seed=0), X_train, y_train, validation=(X_test, y_test), held_out="check")
    assert named.data()["held_out"] == "check"
    with pytest.raises(ValueError, match="held_out must be a short name"):
        Replay(model, X_train, y_train, held_out="")


def test_sgd_with_momentum_shows_its_velocity() -> None:
    X_train, _, y_train, _ = moons()
    model = MLP(2, [4, 1], seed=0)
    opt = SGD(model.parameters(), lr=0.05, momentum=0.9)
    replay = Replay(model, X_train, y_train, optimizer=opt)
    fit(model, X_train, y_train, loss="hinge", optimizer=opt, max_epochs=3, callback=replay)
    slots = replay.data()["parameters"]["values"]
    assert set(slots) == {"value", "grad", "velocity"}
    np.testing.assert_allclose(floats(slots["velocity"])[-len(opt.velocity):], opt.velocity, rtol=1e-6)


def test_a_regression_is_drawn_as_its_curve() -> None:
    X, y = piecewise_linear(n=60, seed=0)
    model = MLP(1, [5, 1], activation="sigmoid", seed=0)
    replay = Replay(model, X, y)
    fit(model, X, y, loss="mse", optimizer="adam", lr=0.05, max_epochs=10, callback=replay)
    data = replay.data()
    assert data["kind"] == "curve" and data["n_neurons"] == 5
    curves = floats(data["curves"]).reshape(len(data["epochs"]), -1)
    xs = np.linspace(*data["xs"], curves.shape[1])
    with no_grad():
        np.testing.assert_allclose(curves[-1], [model([x]).data for x in xs], rtol=1e-5, atol=1e-6)


# ---- the command line -----------------------------------------------------------------------
def run_train(*args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["train", *args]) == 0
    return out.getvalue()


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """300 epochs of the default `train` run (tol 0: no early stop), written as a replay."""
    path = tmp_path_factory.mktemp("replay") / "run.html"
    return path, run_train("--epochs", "300", "--tol", "0", "--html", str(path))


def test_the_default_run_makes_a_small_page(default_run: tuple[Path, str]) -> None:
    path, printed = default_run
    assert "300 epochs" in printed and f"wrote the training replay to {path}" in printed
    assert path.stat().st_size < 5_000_000
    document = path.read_text(encoding="utf-8")
    for outside in ("<link", "src=", "@import", "url(", "http://", "https://"):
        assert outside not in document


def page_data(path: Path) -> dict:
    """The JSON a page's scripts read (`pages.page`)."""
    import json

    text = path.read_text(encoding="utf-8")
    found = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', text, re.S)
    assert found
    return json.loads(found.group(1))


@pytest.mark.parametrize(("argv", "noise", "optimiser"), [
    ([], "0.1 (the dataset's default)", "Adam(17 parameters, lr=0.05, betas=(0.9, 0.999), eps=1e-08)"),
    (["--dataset", "xor", "--optimizer", "sgd", "--momentum", "0.5"], "0.05 (the dataset's default)",
     "SGD(17 parameters, lr=0.1, momentum=0.5)"),
    (["--dataset", "spirals", "--noise", "0.2", "--lr", "0.02"], "0.2",
     "Adam(27 parameters, lr=0.02, betas=(0.9, 0.999), eps=1e-08)"),
])
def test_the_command_lines_page_lists_the_optimiser_once_and_the_noise_used(tmp_path: Path, argv, noise,
                                                                            optimiser) -> None:
    """The settings listed "optimiser Adam(…)" and "optimizer adam" both, and "noise: default"."""
    path = tmp_path / "run.html"
    run_train("--n", "40", "--epochs", "2", "--hidden", "4", *argv, "--html", str(path))
    settings = page_data(path)["settings"]
    assert [key for key in settings if re.search(r"optimi[sz]er|^lr$|momentum", key)] == ["optimiser"]
    assert settings["optimiser"] == optimiser and settings["noise"] == noise


def test_html_into_a_missing_folder_is_refused_before_training(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--html", str(tmp_path / "no" / "run.html")]) == 2
    err = capsys.readouterr()
    assert "--html" in err.err and "does not exist" in err.err and "epoch" not in err.out


# ---- the page, in a browser ------------------------------------------------------------------
@pytest.fixture(scope="module")
def chromium():
    with launch() as launched:
        yield launched


def set_epoch(page, epoch: int) -> None:
    page.eval_on_selector("[data-role=epoch]",
                          "(el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }", str(epoch))


def picture(page, selector: str = "[data-role=boundary]") -> str:
    return page.eval_on_selector(selector, "c => c.toDataURL()")


def test_the_replay_page(chromium, default_run: tuple[Path, str], tmp_path: Path) -> None:
    path, printed = default_run
    test_accuracy = re.search(r"test accuracy (\d+\.\d)%", printed).group(1)
    with watched_page(chromium, path) as page:
        slider = page.locator("[data-role=epoch]")
        assert slider.get_attribute("type") == "range"
        assert slider.get_attribute("min") == "0" and slider.get_attribute("max") == "300"
        assert slider.input_value() == "300"  # it opens on the trained model
        assert page.inner_text("[data-role=accuracy]") == f"{test_accuracy}%"
        assert page.locator("[data-role=neuron]").count() == 16
        assert page.locator("[data-role=loss-chart]").count() == 1
        last, last_neurons = picture(page), picture(page, "[data-role=neuron]")
        screenshot(page, tmp_path, "replay-last.png", full_page=True)

        set_epoch(page, 0)
        assert slider.input_value() == "0"
        assert page.get_attribute("[data-role=boundary]", "data-epoch") == "0"
        assert picture(page) != last and picture(page, "[data-role=neuron]") != last_neurons
        screenshot(page, tmp_path, "replay-epoch0.png", full_page=True)

        set_epoch(page, 149)  # snaps to a kept epoch
        kept = int(slider.input_value())
        assert abs(kept - 149) <= 3
        assert page.get_attribute("[data-role=boundary]", "data-epoch") == str(kept)
        screenshot(page, tmp_path, "replay-middle.png", full_page=True)

        before = page.inner_text("[data-role=state]")
        page.select_option("[data-role=parameter]", index=5)
        assert page.inner_text("[data-role=state]") != before

        set_epoch(page, 0)
        page.click("[data-action=play]")
        wait_until(lambda: int(slider.input_value()) > 30)
        page.click("[data-action=play]")  # pause
        paused = slider.input_value()
        page.wait_for_timeout(300)
        assert slider.input_value() == paused


def test_the_page_says_the_accuracy_predict_gives_and_the_run_s_name_for_its_points(chromium, tmp_path: Path,
                                                                                     default_run) -> None:
    model, replay, (_, X_test, _, y_test) = train_with_mse()
    path = replay.save(tmp_path / "mse.html")
    with watched_page(chromium, path) as page:
        shown = page.inner_text("[data-role=accuracy]")
        assert shown == f"{100 * np.mean(model.predict(X_test) == y_test):.1f}%"  # was 58.0%
        assert "validation accuracy" in page.inner_text("[data-role=scores]")
        assert "validation points ringed" in page.inner_text("[data-role=main-title]")
        screenshot(page, tmp_path, "replay-mse.png", full_page=True)
    with watched_page(chromium, default_run[0]) as page:  # the command line calls them test points
        assert "test accuracy" in page.inner_text("[data-role=scores]")
        assert "test points ringed" in page.inner_text("[data-role=main-title]")


def test_the_page_writes_numbers_as_the_pictures_do(chromium) -> None:
    """The page's numbers (its MSE, its table of parameters) read as `format_number` writes them."""
    script = (Path(replay_module.__file__).parent / "web" / "replay.js").read_text(encoding="utf-8")
    functions = re.search(r"\n  function fmt\(x\) \{.*?\n  function trimZeros[^\n]*\n", script, re.S)
    rng = np.random.default_rng(0)
    varied = rng.normal(size=300) * 10.0 ** rng.integers(-9, 9, 300)  # float32, as the page holds them
    numbers = [0.7064, -3.0, 6.88, 1.5e-05, 1e-4, 9.99996e-5, 9999.6, 0.00099996, 1e300, -2.5e-7, 0.1, 1 / 3,
               12345.0, 12355.0, 1.0625, 0.00012345, 2.5,  # exact ties: to the even digit, as Python rounds
               -0.0, 0.0, 123.45678, 5e-324, math.inf, -math.inf, math.nan,
               *varied.astype(np.float32).astype(float).tolist()]
    with watched_page(chromium) as page:
        written = page.evaluate(f"xs => {{ {functions.group()} return xs.map(fmt); }}", numbers)
    assert written == [format_number(x) for x in numbers]


def test_a_page_for_three_classes(chromium, tmp_path: Path) -> None:
    path = tmp_path / "spirals.html"
    run_train("--dataset", "spirals", "--arms", "3", "--epochs", "15", "--html", str(path))
    with watched_page(chromium, path) as page:
        last = picture(page)
        set_epoch(page, 0)
        assert picture(page) != last
        assert re.fullmatch(r"\d+\.\d%", page.inner_text("[data-role=accuracy]"))
        screenshot(page, tmp_path, "replay-spirals.png", full_page=True)


def test_a_page_for_a_regression(chromium, tmp_path: Path) -> None:
    X, y = piecewise_linear(n=80, noise=0.05, seed=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, seed=0)
    model = MLP(1, [6, 1], activation="sigmoid", seed=0)
    replay = Replay(model, X_train, y_train, validation=(X_test, y_test))
    fit(model, X_train, y_train, loss="mse", optimizer="adam", lr=0.05, max_epochs=40,
        validation=(X_test, y_test), callback=replay)
    path = Path(replay.save(tmp_path / "curve.html"))
    with watched_page(chromium, path) as page:
        assert page.locator("[data-role=boundary]").count() == 0
        last = picture(page, "[data-role=curve]")
        set_epoch(page, 0)
        assert picture(page, "[data-role=curve]") != last
        assert page.locator("[data-role=neuron]").count() == 6
        screenshot(page, tmp_path, "replay-curve.png", full_page=True)


def test_jupyter_shows_a_replay_in_an_iframe() -> None:
    X, y = make_spirals(n=30, arms=2, seed=0)
    model = MLP(2, [3, 1], seed=0)
    shown = Replay(model, X, 2 * y - 1)._repr_html_()
    assert shown.startswith("<iframe srcdoc=") and "<script" not in shown


def test_a_run_that_diverges_in_its_first_epoch_still_says_how_it_ended() -> None:
    X, y = make_moons(n=40, seed=0)
    model = MLP(2, [4, 1], seed=0)
    opt = SGD(model.parameters(), lr=1e308)
    replay = Replay(model, X, 2 * y - 1, optimizer=opt)
    history = fit(model, X, 2 * y - 1, loss="mse", optimizer=opt, max_epochs=5, callback=replay,
                  progress=False)
    assert history.stopped_because == "diverged" and history.n_epochs == 0
    replay.finish(history)
    assert "diverged" in replay.data()["settings"]["how it ended"]


def test_a_run_interrupted_inside_an_epoch_ends_at_that_epoch_with_the_model_it_reached() -> None:
    """Ctrl-C after two of epoch 2's four updates: the page ends at epoch 2 with the model as the
    interrupt left it, not at epoch 1 with a model that is not epoch 1's."""
    X, y = make_moons(n=40, seed=0)
    model = MLP(2, [4, 1], seed=0)
    opt = SGD(model.parameters(), lr=0.1)
    steps, step = [], opt.step

    def interrupting_step() -> None:
        steps.append(1)
        if len(steps) == 7:  # in the middle of epoch 2, after its second update
            raise KeyboardInterrupt
        step()

    opt.step = interrupting_step  # type: ignore[method-assign]
    replay = Replay(model, X, 2 * y - 1, optimizer=opt)
    with pytest.raises(KeyboardInterrupt):
        fit(model, X, 2 * y - 1, loss="hinge", optimizer=opt, batch_size=10, max_epochs=5, engine="eager",
            callback=replay, progress=False)
    history = replay.history
    assert history is not None and history.n_epochs == 1 and history.n_updates == 6
    history.message = "interrupted at epoch 2 (Ctrl-C)"
    replay.finish(history)
    data = replay.data()
    assert data["epochs"] == [0, 1, 2] and data["notes"][-1].endswith("interrupted at epoch 2 (Ctrl-C)")
    values = np.frombuffer(base64.b64decode(data["parameters"]["values"]["value"]), dtype="<f4")
    last = values[-len(opt.params):]
    assert np.allclose(last, [p.data for p in model.parameters()], rtol=1e-6)
