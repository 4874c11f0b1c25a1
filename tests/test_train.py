"""fit() and gradient_descent(): the loop's counts, its stopping rules, and its updates checked
against closed-form gradients of a straight line (a convex problem we can solve by hand)."""

from __future__ import annotations

import gc
import math
import re
import sys
import threading

import numpy as np
import pytest

from microgradlike import Value, no_grad
from microgradlike.data import make_moons, train_test_split
from microgradlike.losses import mse
from microgradlike.nn import MLP, Module
from microgradlike.optim import SGD, Adam
from microgradlike.train import History, TrainingWarning, fit, gradient_descent


class Line:
    """ŷ = w·x + b on one input: with mse, L(w, b) is convex and its gradient is known in closed form."""

    def __init__(self, w: float = 0.0, b: float = 0.0) -> None:
        self.w, self.b = Value(w, label="w"), Value(b, label="b")

    def parameters(self) -> list[Value]:
        return [self.w, self.b]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0

    def __call__(self, x: list[float]) -> Value:
        return self.w * x[0] + self.b


def mse_gradient(w: float, b: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """∇ of (1/B) Σ (w·x + b − y)² with respect to (w, b)."""
    residual = w * x + b - y
    return np.array([2 * np.mean(residual * x), 2 * np.mean(residual)])


def params_of(model) -> tuple[float, ...]:
    return tuple(p.data for p in model.parameters())


def line_data(n: int = 20) -> tuple[np.ndarray, np.ndarray]:
    x = np.linspace(-1.0, 1.0, n)
    return x[:, None], 2.0 * x + 1.0


# ---- learning -------------------------------------------------------------------------------
def test_learns_two_moons_to_95_percent_test_accuracy():
    X, y = make_moons(n=120, noise=0.1, seed=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_fraction=0.25, seed=0)
    model = MLP(2, [16, 16, 1], seed=0)
    history = fit(model, X_train, 2 * y_train - 1, loss="hinge", optimizer="adam", lr=0.05, max_epochs=60)
    with no_grad():
        predicted = np.array([model(row).data > 0 for row in X_test.tolist()])
    assert np.mean(predicted == (y_test == 1)) >= 0.95
    assert history.train_loss[-1] < history.train_loss[0]


def test_first_full_batch_update_is_theta_minus_lr_times_gradient():
    X, y = line_data()
    model = Line(0.5, 0.75)
    history = fit(model, X, y, loss="mse", optimizer="sgd", lr=0.1, max_epochs=1, keep_params=True)
    gradient = mse_gradient(0.5, 0.75, X[:, 0], y)
    np.testing.assert_allclose(history.params[1], np.array([0.5, 0.75]) - 0.1 * gradient, rtol=1e-12)
    assert history.params[0] == (0.5, 0.75)
    assert history.grad_norm[0] == pytest.approx(np.linalg.norm(gradient), rel=1e-12)


def test_mini_batch_updates_are_serial_and_the_last_batch_is_smaller():
    """5 rows in batches of 2 without shuffling: rows [0, 1], [2, 3], [4], each at the previous θ."""
    X = np.array([[1.0], [2.0], [3.0], [4.0], [5.0]])
    y = np.array([1.0, -1.0, 2.0, 0.5, 3.0])
    model = Line(0.1, 0.2)
    history = fit(model, X, y, optimizer="sgd", lr=0.05, max_epochs=1, batch_size=2, shuffle=False,
                  keep_params=True, tol=0.0)
    theta = np.array([0.1, 0.2])
    for k, rows in enumerate([slice(0, 2), slice(2, 4), slice(4, 5)]):
        theta = theta - 0.05 * mse_gradient(*theta, X[rows, 0], y[rows])
        np.testing.assert_allclose(history.params[k + 1], theta, rtol=1e-12)
    assert history.n_updates == 3


def test_50_rows_batch_8_three_epochs_is_21_updates():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 2)), rng.normal(size=50)
    history = fit(MLP(2, [4, 1], seed=0), X, y, lr=0.01, batch_size=8, max_epochs=3, tol=0.0)
    assert history.n_updates == 21 == 3 * math.ceil(50 / 8)
    assert history.n_epochs == 3
    assert len(history.update_loss) == len(history.grad_norm) == 21
    assert len(history.train_loss) == 3 and history.val_loss == []
    assert history.stopped_because == "max_epochs"


def test_train_loss_is_the_whole_training_set_loss_after_the_epoch():
    X, y = line_data()
    model = Line()
    with pytest.warns(TrainingWarning, match="much worse"):  # validating on -y: it only gets worse
        history = fit(model, X, y, lr=0.1, max_epochs=4, batch_size=3, validation=(X[:5], -y[:5]))
    with no_grad():
        train = mse([model([x]) for x in X[:, 0]], y.tolist()).data
        val = mse([model([x]) for x in X[:5, 0]], (-y[:5]).tolist()).data
    assert history.train_loss[-1] == pytest.approx(train, rel=1e-12)
    assert history.val_loss[-1] == pytest.approx(val, rel=1e-12)
    assert len(history.val_loss) == len(history.train_loss) == history.n_epochs == 4


# ---- stopping -----------------------------------------------------------------------------
def test_full_batch_stops_at_the_first_update_with_gradient_norm_under_tol():
    X, y = line_data()
    model = Line()
    history = fit(model, X, y, loss="mse", optimizer="sgd", lr=0.2, tol=1e-6, max_epochs=10_000)
    assert history.stopped_because == "tolerance"
    assert "tol" in history.message
    assert history.grad_norm[-1] < 1e-6 <= min(history.grad_norm[:-1])
    solution = np.linalg.lstsq(np.column_stack([X[:, 0], np.ones(len(y))]), y, rcond=None)[0]
    np.testing.assert_allclose(params_of(model), solution, atol=1e-6)


def test_mini_batch_tolerance_uses_the_mean_gradient_norm_of_the_epoch():
    X, y = line_data(12)
    history = fit(Line(), X, y, lr=0.2, tol=1e-5, max_epochs=10_000, batch_size=4, seed=1)
    assert history.stopped_because == "tolerance"
    per_epoch = np.array(history.grad_norm).reshape(history.n_epochs, 3).mean(axis=1)
    assert per_epoch[-1] < 1e-5 <= per_epoch[:-1].min()


def test_max_epochs_stops_with_a_message():
    history = fit(Line(), *line_data(), lr=0.01, max_epochs=2)
    assert history.stopped_because == "max_epochs" and "ran all 2 epochs" in history.message
    assert history.n_epochs == 2


def test_divergence_leaves_the_last_finite_parameters():
    X, y = line_data()
    model = Line(0.3, 0.1)
    history = fit(model, X * 10, y, optimizer="sgd", lr=10.0, max_epochs=1000, keep_params=True)
    assert history.stopped_because == "diverged" and "diverged" in history.message
    assert history.n_updates > 5 and len(history.params) == history.n_updates + 1
    final = params_of(model)
    assert all(math.isfinite(v) for v in final)
    assert final == history.params[-1]  # the parameters before the step that went bad
    # and that step really was bad: at θ_final the loss, the gradient or the next θ is not finite
    with np.errstate(all="ignore"):
        loss = np.mean((final[0] * X[:, 0] * 10 + final[1] - y) ** 2)
        gradient = mse_gradient(*final, X[:, 0] * 10, y)
        next_theta = np.array(final) - 10.0 * gradient
    assert not np.all(np.isfinite([loss, *gradient, *next_theta]))


@pytest.mark.filterwarnings("error::RuntimeWarning")  # numpy's "invalid value" is no message for a user
@pytest.mark.parametrize("engine", ["eager", "tape", "batched"])
def test_a_hinge_loss_gone_nan_is_divergence_not_a_loss_of_zero(engine):
    """relu kept NaN as 0, so hinge of NaN scores read 0.0: the run 'converged' at loss 0."""
    X, y = make_moons(60, seed=0)
    model = MLP(2, [16, 16, 1], seed=0)
    history = fit(model, X, 2 * y - 1, loss="hinge", optimizer="adam", lr=1e300, max_epochs=5, engine=engine)
    assert history.stopped_because == "diverged", (history.stopped_because, history.train_loss)
    assert 0.0 not in history.train_loss


def test_non_finite_loss_stops_before_any_update():
    model = Line(1e200, 0.0)
    history = fit(model, [[1e200]], [0.0], optimizer="sgd", lr=0.1)  # w·x overflows to inf
    assert history.stopped_because == "diverged" and history.n_updates == 0
    assert params_of(model) == (1e200, 0.0)


def test_an_update_that_overflows_is_undone():
    model = Line(1.0, 0.0)
    # loss 9 and gradient (18, 6) are finite, but θ − 1e307·(18, 6) overflows to -inf
    history = fit(model, [[3.0]], [0.0], optimizer="sgd", lr=1e307)
    assert history.stopped_because == "diverged" and "undone" in history.message
    assert params_of(model) == (1.0, 0.0) and history.n_updates == 0


def test_early_stopping_restores_the_best_parameters():
    """Train towards y = 2x + 1 while validating on y = −2x − 1: the validation loss only rises."""
    X, y = line_data()
    model = Line()
    history = fit(model, X, y, optimizer="sgd", lr=0.05, max_epochs=100, validation=(X, -y), patience=3,
                  keep_params=True)
    assert history.stopped_because == "early_stopping"
    assert history.n_epochs == 4 and "epoch 1" in history.message
    assert history.val_loss[0] < min(history.val_loss[1:])
    assert params_of(model) == history.params[1]  # θ after epoch 1's single full-batch update


def test_early_stopping_waits_while_validation_improves():
    X, y = line_data()
    history = fit(Line(), X, y, optimizer="sgd", lr=0.05, max_epochs=30, validation=(X, y), patience=2)
    assert history.stopped_because == "max_epochs"  # the same data: it keeps improving


# ---- reproducibility, options ------------------------------------------------------------------
def moons_run(seed: int, shuffle: bool = True) -> tuple[History, tuple[float, ...]]:
    X, y = make_moons(n=40, seed=0)
    model = MLP(2, [4, 1], seed=0)
    history = fit(model, X, y, loss="binary_cross_entropy", optimizer="adam", lr=0.02, max_epochs=3,
                  batch_size=8, seed=seed, shuffle=shuffle)
    return history, params_of(model)


def test_seeded_runs_reproduce_exactly():
    first, second = moons_run(seed=5), moons_run(seed=5)
    assert first[0] == second[0] and first[1] == second[1]


def test_shuffling_with_different_seeds_differs():
    assert moons_run(seed=1)[0].update_loss != moons_run(seed=2)[0].update_loss
    assert moons_run(seed=1, shuffle=False) == moons_run(seed=2, shuffle=False)


def test_optimizer_instance_and_callable_loss_are_used():
    X, y = line_data()
    model = Line()
    calls = []

    def half_mse(preds, targets):
        calls.append(len(preds))
        return mse(preds, targets) * 0.5

    fit(model, X, y, loss=half_mse, optimizer=SGD(model.parameters(), lr=0.1), max_epochs=1)
    expected = np.zeros(2) - 0.1 * 0.5 * mse_gradient(0.0, 0.0, X[:, 0], y)
    np.testing.assert_allclose(params_of(model), expected, rtol=1e-12)
    assert calls[0] == 20


def test_callback_runs_after_every_epoch():
    seen = []
    fit(Line(), *line_data(), lr=0.01, max_epochs=3, callback=lambda h: seen.append(h.n_epochs))
    assert seen == [1, 2, 3]


@pytest.mark.parametrize("engine", ["tape", "batched"])
def test_a_model_with_parameters_but_no_names_trains_on_the_compiled_engines_as_eager(engine):
    """A model that is not a Module (parameters() only) was refused with "'Line' object is not
    iterable"; its parameters are named by their labels, as fit names them."""
    runs = [fit(Line(), *line_data(), lr=0.1, max_epochs=5, engine=name) for name in ("eager", engine)]
    assert np.allclose(runs[1].train_loss, runs[0].train_loss, rtol=1e-12)


# ---- fit and Python's cycle collector ---------------------------------------------------------------
def test_fit_hides_the_older_objects_from_the_collector_while_it_trains_and_gives_them_back():
    """Full collections during fit walk only what fit made (gc.freeze), however fit ends."""
    assert gc.get_freeze_count() == 0
    seen = []
    fit(MLP(1, [3, 1], seed=0), *line_data(), max_epochs=2, engine="batched",
        callback=lambda h: seen.append(gc.get_freeze_count()))
    assert len(seen) == 2 and all(n > 0 for n in seen)
    assert gc.get_freeze_count() == 0

    def fail(history):
        raise KeyError("a callback's own error")

    with pytest.raises(KeyError):
        fit(MLP(1, [3, 1], seed=0), *line_data(), max_epochs=2, callback=fail)
    assert gc.get_freeze_count() == 0


def test_nested_and_concurrent_fits_freeze_once_and_unfreeze_once():
    inner_seen, outer_seen = [], []

    def nested(history):  # a fit inside a callback: the outer one still runs frozen after it
        fit(MLP(1, [2, 1], seed=1), *line_data(), max_epochs=1, progress=False)
        outer_seen.append(gc.get_freeze_count())

    fit(MLP(1, [3, 1], seed=0), *line_data(), max_epochs=2, callback=nested)
    assert len(outer_seen) == 2 and all(n > 0 for n in outer_seen) and gc.get_freeze_count() == 0

    # two threads: the second still runs frozen after the first has ended; nothing is left frozen
    first_done, both_running = threading.Event(), threading.Barrier(2, timeout=60)
    errors = []

    def train(epochs, wait):
        def callback(history):
            if history.n_epochs == 1:
                both_running.wait()
            if wait and history.n_epochs == 2:
                first_done.wait(timeout=60)
                inner_seen.append(gc.get_freeze_count())

        try:
            fit(MLP(1, [3, 1], seed=0), *line_data(), max_epochs=epochs, callback=callback)
        except Exception as e:  # reported by the main thread
            errors.append(e)
        if not wait:
            first_done.set()

    threads = [threading.Thread(target=train, args=args) for args in ((1, False), (3, True))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and inner_seen and inner_seen[0] > 0
    assert gc.get_freeze_count() == 0


def test_fit_leaves_a_freeze_of_the_callers_own_alone():
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        fit(MLP(1, [3, 1], seed=0), *line_data(), max_epochs=2)
        assert gc.get_freeze_count() > frozen // 2  # still frozen (less what was freed meanwhile)
    finally:
        gc.unfreeze()


def test_progress_bar_is_drawn(capsys):
    pytest.importorskip("tqdm")
    fit(Line(), *line_data(), lr=0.01, max_epochs=3, progress=True)
    assert "3/3" in capsys.readouterr().err


def without_tqdm(monkeypatch) -> None:
    for module in ("tqdm", "tqdm.auto"):
        monkeypatch.setitem(sys.modules, module, None)  # makes `import tqdm.auto` fail


def test_progress_without_tqdm_falls_back_to_plain_lines(monkeypatch, capsys):
    without_tqdm(monkeypatch)
    history = fit(Line(), *line_data(), lr=0.01, max_epochs=3, progress=True)
    assert history.n_epochs == 3
    err = capsys.readouterr().err
    assert "pip install tqdm" in err and "progress=False" not in err
    assert "epoch 1/3" in err and "epoch 3/3" in err and "train loss" in err


def test_progress_is_off_by_default_when_not_on_a_terminal(capsys):
    """pytest captures stderr (not a terminal) and runs no IPython kernel: no bar, no lines."""
    fit(Line(), *line_data(), lr=0.01, max_epochs=3)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("where", ["terminal", "notebook"])
def test_progress_is_on_by_default_in_a_terminal_or_a_notebook(monkeypatch, capsys, where):
    import types

    import microgradlike.train as train_module

    without_tqdm(monkeypatch)  # plain lines: easy to read back
    if where == "terminal":
        monkeypatch.setattr(train_module, "_stderr_is_a_terminal", lambda: True)
    else:
        shell = types.SimpleNamespace(config={"IPKernelApp": {}})
        fake = types.SimpleNamespace(get_ipython=lambda: shell)
        monkeypatch.setitem(sys.modules, "IPython", fake)
    fit(Line(), *line_data(), lr=0.01, max_epochs=3)
    err = capsys.readouterr().err
    assert "epoch 3/3" in err and "pip install tqdm" not in err  # auto: no nagging about tqdm


def test_progress_must_be_a_bool_or_none():
    with pytest.raises(TypeError, match="'yes'"):
        fit(Line(), *line_data(), max_epochs=1, progress="yes")


# ---- keeping the best epoch -----------------------------------------------------------------
def halfway_run(**kwargs) -> tuple[History, Line]:
    """Train towards y = 2x + 1 from (0, 0), validating on y = x + 0.5: the validation loss falls
    until w, b pass halfway, then rises again, so the last epoch is far from the best one."""
    X, y = line_data()
    model = Line()
    history = fit(model, X, y, optimizer="sgd", lr=0.2, max_epochs=60, validation=(X, (y + 0.0) / 2),
                  keep_params=True, **kwargs)
    return history, model


def test_fit_warns_when_the_final_model_is_much_worse_than_the_best():
    with pytest.warns(TrainingWarning, match="keep_best=True") as caught:
        history, _ = halfway_run()
    best = history.best_epoch
    assert 1 < best < history.n_epochs
    assert history.val_loss[best - 1] == min(history.val_loss)
    assert history.val_loss[-1] > 1.5 * history.val_loss[best - 1]
    assert f"epoch {best}" in history.message and "times the best" in history.message
    assert len(caught) == 1


def test_keep_best_restores_the_epoch_with_the_best_validation_loss():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # keeping the best: nothing to warn about
        history, model = halfway_run(keep_best=True)
    best = history.best_epoch
    assert params_of(model) == history.params[best]  # full batch: θ after `best` updates
    assert f"restored the parameters of epoch {best}" in history.message
    assert history.stopped_because == "max_epochs"


def test_no_warning_when_the_last_epoch_is_the_best():
    import warnings

    X, y = line_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = fit(Line(), X, y, lr=0.1, max_epochs=20, validation=(X, y), keep_best=True)
    assert history.best_epoch == history.n_epochs == 20
    assert "the last epoch had the best validation loss" in history.message


def test_keep_best_needs_a_validation_set():
    with pytest.raises(ValueError, match="keep_best=True needs a validation set"):
        fit(Line(), *line_data(), keep_best=True)


def test_keep_best_after_divergence_restores_the_best_finite_epoch():
    X, y = line_data()
    model = Line(0.3, 0.1)
    history = fit(model, X * 10, y, optimizer="sgd", lr=10.0, max_epochs=1000, keep_params=True,
                  validation=(X * 10, y), keep_best=True)
    assert history.stopped_because == "diverged"
    assert params_of(model) == history.params[history.best_epoch]
    assert "restored the parameters of epoch 1" in history.message  # it only got worse


# ---- the input width, the seed, fit inside no_grad -----------------------------------------
@pytest.mark.parametrize("engine", ["eager", "tape", "batched", "auto"])
def test_validation_rows_of_the_wrong_width_are_refused_before_training(engine):
    X, y = make_moons(n=20, seed=0)
    model = MLP(2, [3, 1], seed=0)
    before = params_of(model)
    epochs = []
    with pytest.raises(ValueError, match=r"validation X has rows of 3 numbers.*takes 2 inputs"):
        fit(model, X, y, validation=(np.ones((5, 3)), np.ones(5)), engine=engine,
            callback=lambda h: epochs.append(h.n_epochs))
    assert epochs == [] and params_of(model) == before


@pytest.mark.parametrize("engine", ["eager", "tape", "batched"])
def test_training_rows_of_the_wrong_width_name_the_model_width(engine):
    with pytest.raises(ValueError, match=r"X has rows of 3 numbers, but the model takes 2 inputs"):
        fit(MLP(2, [3, 1], seed=0), np.ones((4, 3)), np.ones(4), engine=engine)


def test_validation_width_is_checked_against_x_for_any_model():
    X, y = line_data()
    with pytest.raises(ValueError, match=r"validation X has rows of 2 numbers, but X's rows have 1"):
        fit(Line(), X, y, validation=(np.ones((3, 2)), np.ones(3)))


@pytest.mark.parametrize(("seed", "error"), [(-1, ValueError), ("a", TypeError), (1.5, TypeError),
                                             (True, TypeError)])
def test_a_bad_seed_is_named(seed, error):
    with pytest.raises(error, match="seed"):
        fit(Line(), *line_data(), max_epochs=1, seed=seed)


def test_fit_inside_no_grad_is_refused():
    with no_grad(), pytest.raises(RuntimeError, match="no_grad"):
        fit(Line(), *line_data(), max_epochs=1)


# ---- what History says ------------------------------------------------------------------------
def test_history_repr_is_a_short_summary():
    X, y = make_moons(n=80, seed=0)
    history = fit(MLP(2, [8, 1], seed=0), X, 2 * y - 1, loss="hinge", lr=0.05, max_epochs=30,
                  batch_size=8, validation=(X, 2 * y - 1))
    text = repr(history)
    assert len(text) < 250, text
    assert "30 epochs" in text and "300 updates" in text and "max_epochs" in text
    assert f"{history.train_loss[-1]:.4g}" in text and f"{history.val_loss[-1]:.4g}" in text
    assert "engine='batched'" in text


def test_a_loss_of_exactly_zero_says_why_the_gradient_is_zero():
    """Every point past the hinge's margin (t·s ≥ 1): the loss and its gradient are exactly 0."""
    history = fit(Line(5.0, 0.0), [[-1.0], [1.0]], [-1, 1], loss="hinge", max_epochs=5)
    assert history.stopped_because == "tolerance" and history.n_epochs == 1
    assert "the training loss before the epoch's update was exactly 0" in history.message
    assert "past the margin" in history.message
    assert "measured after" not in history.message  # SGD without momentum: a zero gradient moves nothing
    assert history.train_loss[-1] == 0


def test_the_zero_loss_stop_agrees_with_the_loss_reported_after_the_update():
    """The stop test reads each batch's loss before its update, the epoch's train loss is taken
    after it: Adam's running mean still moves θ when the gradient is 0, so the README's first
    command printed "train loss 0.0006418" and then "the training loss was exactly 0"."""
    X, y = make_moons(n=300, noise=0.1, seed=0)
    X_train, _, y_train, _ = train_test_split(X, y, test_fraction=0.25, seed=0)
    model = MLP(2, [16, 16, 1], seed=0)
    history = fit(model, X_train, 2 * y_train - 1, loss="hinge", optimizer="adam", lr=0.05, engine="batched")
    assert history.stopped_because == "tolerance" and history.update_loss[-1] == 0 < history.train_loss[-1]
    assert (f"the training loss before the epoch's update was exactly 0, its minimum, so its gradient was 0 "
            f"too (hinge: every training point was past the margin, t·s ≥ 1); the epoch's training loss, "
            f"{history.train_loss[-1]:.4g}, is measured after the update, which the optimiser's running mean "
            f"of past gradients still made") in history.message


def test_a_flat_nonzero_loss_says_nothing_reaches_the_parameters():
    class DeadRelu(Line):
        def __call__(self, x):
            return (self.w * x[0] + self.b).relu()  # w, b < 0 and x > 0: the relu is off

    history = fit(DeadRelu(-1.0, -1.0), [[1.0], [2.0]], [1.0, 2.0], loss="mse", max_epochs=5)
    assert history.stopped_because == "tolerance"
    assert "flat" in history.message and "ReLU" in history.message


# ---- the engine fit picks ---------------------------------------------------------------------
class Branchy(Module):
    """A Python `if` on the input's `.data`: a trace freezes the branch taken for its example row."""

    def __init__(self, w: float, b: float) -> None:
        self.w, self.b = Value(w), Value(b)

    def __call__(self, x):
        x0 = x[0]
        return self.w * x0 + self.b if getattr(x0, "data", x0) > 0 else self.w * (-x0) - self.b


def test_auto_engine_is_batched_for_library_models_and_losses():
    X, y = make_moons(n=30, seed=0)
    runs = {}
    for engine in ("eager", "auto"):
        model = MLP(2, [4, 1], seed=0)
        history = fit(model, X, 2 * y - 1, loss="hinge", optimizer="adam", lr=0.05, max_epochs=3,
                      batch_size=8, validation=(X[:10], 2 * y[:10] - 1), engine=engine)
        runs[engine] = history, params_of(model)
    auto, eager = runs["auto"][0], runs["eager"][0]
    assert auto.engine == "batched" and "MLP" in auto.engine_reason
    assert eager.engine == "eager" and eager.engine_reason == ""
    np.testing.assert_allclose(auto.update_loss, eager.update_loss, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(runs["auto"][1], runs["eager"][1], rtol=1e-9, atol=1e-12)


def test_auto_is_the_default_engine():
    X, y = make_moons(n=20, seed=0)
    assert fit(MLP(2, [3, 1], seed=0), X, y, max_epochs=1).engine == "batched"


@pytest.mark.parametrize(("make_model", "loss", "X", "y"), [
    (lambda: __import__("microgradlike.nn", fromlist=["SigmoidSum"]).SigmoidSum(3, seed=0), "mse",
     np.linspace(-2, 2, 12), np.sin(np.linspace(-2, 2, 12))),
    (lambda: __import__("microgradlike.nn", fromlist=["Layer"]).Layer(2, 3, activation="tanh", seed=0),
     "cross_entropy", make_moons(n=12, seed=1)[0], np.arange(12) % 3),
    (lambda: __import__("microgradlike.nn", fromlist=["Neuron"]).Neuron(2, "sigmoid", seed=0),
     "binary_cross_entropy", make_moons(n=12, seed=1)[0], make_moons(n=12, seed=1)[1]),
])
def test_auto_gives_eager_numbers_for_every_library_model(make_model, loss, X, y):
    runs = {}
    for engine in ("eager", "auto"):
        model = make_model()
        history = fit(model, X, y, loss=loss, optimizer="adam", lr=0.05, max_epochs=4, batch_size=5,
                      engine=engine, tol=0.0)
        runs[engine] = history, params_of(model)
    assert runs["auto"][0].engine == "batched"
    np.testing.assert_allclose(runs["auto"][0].update_loss, runs["eager"][0].update_loss, rtol=1e-9)
    np.testing.assert_allclose(runs["auto"][1], runs["eager"][1], rtol=1e-9, atol=1e-12)


def test_auto_runs_eager_for_a_model_that_branches_on_data():
    X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    y = np.array([1.0, 0.5, 2.0, 3.0])
    results = {}
    for engine in ("eager", "batched", "auto"):
        model = Branchy(0.5, 0.25)
        history = fit(model, X, y, lr=0.05, max_epochs=5, engine=engine)
        results[engine] = history, params_of(model)
    auto = results["auto"][0]
    assert auto.engine == "eager" and "Branchy" in auto.engine_reason
    assert results["auto"][1] == results["eager"][1]
    assert results["batched"][1] != results["eager"][1]  # why: the trace froze one branch


def test_auto_runs_eager_for_a_custom_loss():
    def summed_mse(preds, targets):  # a SUM over samples, not a mean: batching would rescale it
        return sum((p - t) ** 2 for p, t in zip(preds, targets))

    X, y = make_moons(n=10, seed=0)
    history = fit(MLP(2, [3, 1], seed=0), X, y, loss=summed_mse, lr=0.01, max_epochs=1)
    assert history.engine == "eager" and "summed_mse" in history.engine_reason


@pytest.mark.parametrize("engine", ["tape", "batched"])
def test_compiled_engines_train_like_eager(engine):
    """Same seed, same batches: the same history and parameters to rounding (issue 5's promise)."""
    X, y = make_moons(n=30, seed=0)
    runs = {}
    for name in ("eager", engine):
        model = MLP(2, [4, 1], seed=0)
        history = fit(model, X, 2 * y - 1, loss="hinge", optimizer="adam", lr=0.05, max_epochs=3,
                      batch_size=8, validation=(X[:10], 2 * y[:10] - 1), engine=name)
        runs[name] = (history, params_of(model))
    (eager, eager_params), (other, other_params) = runs["eager"], runs[engine]
    assert (other.n_updates, other.n_epochs, other.stopped_because) == (eager.n_updates, eager.n_epochs,
                                                                        eager.stopped_because)
    for field in ("train_loss", "val_loss", "update_loss", "grad_norm"):
        np.testing.assert_allclose(getattr(other, field), getattr(eager, field), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(other_params, eager_params, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"X": [[1.0], [2.0]], "y": [1.0]}, "2 rows"),
    ({"X": np.zeros((0, 1)), "y": []}, "empty"),
    ({"X": [[1.0], [float("nan")]]}, "non-finite"),
    ({"X": [[1.0], [float("inf")]]}, "row 1 is [inf]"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 2.5}, "2.5"),
    ({"lr": 0.0}, "lr"),
    ({"lr": -1.0}, "-1.0"),
    ({"tol": -1.0}, "tol"),
    ({"max_epochs": 0}, "max_epochs"),
    ({"loss": "nope"}, "'nope'"),
    ({"optimizer": "rmsprop"}, "'rmsprop'"),
    ({"engine": "turbo"}, "'turbo'"),
    ({"patience": 3}, "validation"),
    ({"patience": 0, "validation": ([[1.0]], [1.0])}, "patience"),
    ({"validation": [[1.0]]}, "validation"),
    ({"engine": None}, "None"),
])
def test_bad_arguments_raise_value_error_naming_the_value(kwargs, needle):
    arguments = {"X": [[1.0], [2.0]], "y": [1.0, 2.0], **kwargs}
    with pytest.raises(ValueError) as info:
        fit(Line(), **arguments)
    assert needle in str(info.value)


# ---- gradient_descent -----------------------------------------------------------------------
def test_gradient_descent_on_a_parabola_follows_the_closed_form():
    """f(w) = (w − 3)²: each step multiplies w − 3 by (1 − 2η), and |f'| = 2|w − 3| < tol ends it."""
    lr, tol, w0 = 0.1, 1e-6, 0.0
    x_best, trajectory = gradient_descent(lambda w: (w - 3) ** 2, w0, lr=lr, tol=tol)
    steps = math.ceil(math.log(tol / (2 * abs(w0 - 3))) / math.log(1 - 2 * lr))
    assert len(trajectory) == steps + 1
    expected = [3 + (w0 - 3) * (1 - 2 * lr) ** k for k in range(steps + 1)]
    np.testing.assert_allclose(trajectory, expected, rtol=1e-12)
    assert x_best == trajectory[-1] and abs(x_best - 3) < tol / 2


@pytest.mark.parametrize(("w0", "direction"), [(5.0, -1), (1.0, +1)])
def test_positive_gradient_moves_down_and_negative_moves_up(w0, direction):
    result = gradient_descent(lambda w: (w - 3) ** 2, w0, lr=0.1, max_steps=1)
    w1 = result.trajectory[1]
    assert w1 == pytest.approx(w0 - 0.1 * 2 * (w0 - 3))  # θ¹ = θ⁰ − η·f'(θ⁰)
    assert math.copysign(1, w1 - w0) == direction
    assert result.stopped_because == "max_steps" and len(result.trajectory) == 2


def test_gradient_descent_in_two_variables():
    result = gradient_descent(lambda x, y: (x - 1) ** 2 + 2 * (y + 2) ** 2, [0.0, 0.0], lr=0.1, tol=1e-8)
    x_best, trajectory = result
    assert result.stopped_because == "tolerance"
    assert trajectory[0] == (0.0, 0.0) and all(len(point) == 2 for point in trajectory)
    np.testing.assert_allclose(x_best, (1.0, -2.0), atol=1e-8)
    assert len(result.values) == len(trajectory)


def test_gradient_descent_divergence_keeps_only_finite_points():
    result = gradient_descent(lambda w: (w - 3) ** 2, 0.0, lr=1.5, max_steps=10_000)
    assert result.stopped_because == "diverged"
    assert all(math.isfinite(w) for w in result.trajectory)
    assert result.x_best == 0.0  # each step doubles |w − 3|: the start was best
    assert len(result.trajectory) > 100


@pytest.mark.parametrize(("kwargs", "error", "needle"), [
    ({"x0": []}, ValueError, "empty"),
    ({"x0": ["a"]}, TypeError, "x0[0]"),
    ({"x0": float("inf")}, ValueError, "inf"),
    ({"lr": 0.0}, ValueError, "lr"),
    ({"tol": -1.0}, ValueError, "tol"),
    ({"max_steps": -1}, ValueError, "max_steps"),
])
def test_gradient_descent_bad_arguments(kwargs, error, needle):
    arguments = {"f": lambda w: w * w, "x0": 1.0, **kwargs}
    with pytest.raises(error) as info:
        gradient_descent(**arguments)
    assert needle in str(info.value)


# ---- what fit refuses before training, and what it records (issue 19) ------------------------------
@pytest.mark.parametrize("make_optimizer", [
    lambda model, other: Adam(other.parameters()),
    lambda model, other: SGD(model.parameters()[1:]),
    lambda model, other: SGD(model.parameters() + other.parameters()),
])
def test_an_optimiser_that_does_not_train_exactly_the_models_parameters_is_refused(make_optimizer):
    X, y = make_moons(n=20, seed=0)
    model, other = MLP(2, [3, 1], seed=0), MLP(2, [3, 1], seed=1)
    before = params_of(model), params_of(other)
    with pytest.raises(ValueError, match=r"the optimiser (does not update the model's parameter "
                                         r"'layers\.0\.neurons\.0\.w\.0'|also updates 13 Value\(s\) "
                                         r"that are not this model's)"):
        fit(model, X, y, optimizer=make_optimizer(model, other), max_epochs=20)
    assert (params_of(model), params_of(other)) == before


def test_an_optimiser_of_a_duck_typed_models_own_parameters_is_fine():
    model = Line()
    fit(model, *line_data(), optimizer=SGD(model.parameters(), lr=0.1), max_epochs=2)
    with pytest.raises(ValueError, match="parameter 'b'"):
        fit(model, *line_data(), optimizer=SGD([model.w], lr=0.1), max_epochs=2)


def _moons_accuracy_by_hand(model, X, y, threshold):
    scores = np.array([model(row).data for row in X.tolist()])
    return np.mean((scores > threshold).astype(int) == y)


def test_a_model_fit_with_mse_on_0_1_labels_predicts_with_threshold_one_half():
    X, y = make_moons(n=120, noise=0.1, seed=0)
    model = MLP(2, [8, 8, 1], seed=0)
    fit(model, X, y, lr=0.05, max_epochs=100)  # the default loss: mse, on labels 0/1
    assert model.task == {"task": "classification", "classes": [0, 1], "threshold": 0.5, "loss": "mse"}
    accuracy = np.mean(model.predict(X) == y)  # no set_task needed
    by_hand = _moons_accuracy_by_hand(model, X, y, 0.5)
    assert accuracy == by_hand > _moons_accuracy_by_hand(model, X, y, 0.0) + 0.1  # 0 was the old threshold
    model.set_task("classification", classes=[0, 1])  # naming the classes keeps the rule
    assert model.task["threshold"] == 0.5 and np.mean(model.predict(X) == y) == accuracy
    model.set_task("classification", classes=["upper", "lower"])
    assert model.predict(X).tolist() == np.where(model.predict(X) == "lower", "lower", "upper").tolist()
    assert np.mean((model.predict(X) == "lower") == (y == 1)) == accuracy


@pytest.mark.parametrize(("loss", "targets", "nout", "task"), [
    ("hinge", lambda y: 2 * y - 1, 1, {"task": "classification", "classes": [-1, 1], "threshold": 0.0}),
    ("hinge", lambda y: y, 1, {"task": "classification", "classes": [0, 1], "threshold": 0.0}),
    ("bce", lambda y: y, 1, {"task": "classification", "classes": [0, 1], "threshold": 0.0}),
    ("mse", lambda y: 2 * y - 1, 1, {"task": "classification", "classes": [-1, 1], "threshold": 0.0}),
    ("mse", lambda y: 3 * y + 2, 1, {"task": "classification", "classes": [2, 5], "threshold": 3.5}),
    ("cross_entropy", lambda y: y, 3, {"task": "classification", "classes": [0, 1, 2], "threshold": 0.0}),
    ("mse", lambda y: y + 0.5 * np.arange(len(y)) / len(y), 1, {"task": "regression"}),
])
def test_fit_records_the_loss_and_the_classes_it_saw(loss, targets, nout, task):
    X, y = make_moons(n=30, seed=0)
    model = MLP(2, [4, nout], seed=0)
    fit(model, X, targets(y), loss=loss, optimizer="adam", lr=0.05, max_epochs=5)
    names = {"bce": "binary_cross_entropy"}
    assert model.task == {**task, "loss": names.get(loss, loss)}
    predicted = model.predict(X)
    if task["task"] == "classification":
        assert set(predicted.tolist()) <= set(task["classes"])


def test_fit_again_on_other_classes_records_their_threshold_not_the_earlier_one():
    X, y = make_moons(n=20, seed=0)
    model = MLP(2, [3, 1], seed=0)
    fit(model, X, y, loss="mse", max_epochs=2)
    assert model.task["threshold"] == 0.5
    fit(model, X, 2 * y, loss="mse", max_epochs=2)  # the same model and loss, targets 0/2
    assert model.task == {"task": "classification", "classes": [0, 2], "threshold": 1.0, "loss": "mse"}


def test_fit_with_a_loss_of_your_own_records_no_task():
    X, y = make_moons(n=20, seed=0)
    model = MLP(2, [3, 1], seed=0)
    model.set_task("classification", classes=[0, 1], loss="hinge")
    fit(model, X, y, loss=lambda p, t: mse(p, t), max_epochs=2)
    assert model.task is None  # the hinge rule described another training: predict now asks


def test_a_train_save_file_from_before_still_loads_and_predicts(tmp_path):
    """A file as `train --save` wrote it before fit recorded tasks: the task is in the file."""
    import json

    model = MLP(2, [4, 1], seed=0)
    state = {**model.state_dict(), "task": {"task": "classification", "classes": [0, 1], "threshold": 0.0,
                                            "loss": "hinge"}}
    (tmp_path / "old.json").write_text(json.dumps(state), encoding="utf-8")
    loaded = Module.load(tmp_path / "old.json")
    X, _ = make_moons(n=20, seed=0)
    assert loaded.predict(X).tolist() == [int(model(r).data > 0) for r in X.tolist()]


def test_a_loss_that_returns_a_number_says_what_it_returned():
    X, y = make_moons(n=10, seed=0)
    for engine in ("eager", "tape", "batched"):
        model = MLP(2, [3, 1], seed=0)
        with pytest.raises(TypeError, match=r"the loss <lambda> returned float 0\.5, not a Value"):
            fit(model, X, y, loss=lambda p, t: 0.5, engine=engine)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"X": [[0, 10**400]], "y": [1]}, r"X\[0, 1\] = 100000000000… \(401 digits\) is too large for a float"),
    ({"X": [[0, 1], [2, 3]], "y": [1, -10**400]}, r"y\[1\] = -100000000000… \(401 digits\) is too large"),
    ({"X": [[0, 1]], "y": [1], "validation": ([[10**309, 0]], [1])},
     r"validation X\[0, 0\] = 100000000000… \(310 digits\)"),
])
def test_an_int_too_large_for_a_float_is_named_by_its_place(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit(MLP(2, [2, 1], seed=0), **kwargs)


@pytest.mark.parametrize(("kwargs", "says"), [
    ({"X": [[0.1, "1e3"]], "y": [1]}, "X[0, 1] must be a real number, got str: '1e3'"),
    ({"X": [[0.1, True]], "y": [1]}, "X[0, 1] must be a real number, got bool: True"),
    ({"X": np.array([[0.1, 1 + 2j]]), "y": [1]}, "X[0, 0] must be a real number, got complex"),
    ({"X": [[0.1, 0.2]], "y": [1], "validation": ([[b"7", 0.0]], [1])},
     "validation X[0, 0] must be a real number, got bytes: b'7'"),
])
def test_fit_refuses_x_that_is_not_real_numbers_naming_the_cell(kwargs, says):
    with pytest.raises(TypeError, match=re.escape(says)):
        fit(MLP(2, [2, 1], seed=0), **kwargs)


def test_cross_entropy_on_a_one_output_model_is_refused_before_training():
    X, y = make_moons(n=20, seed=0)
    model = MLP(2, [4, 1], seed=0)
    before = params_of(model)
    with pytest.raises(ValueError, match=r"cross_entropy needs one output per class .* this model has 1 "):
        fit(model, X, y, loss="cross_entropy")
    assert params_of(model) == before


@pytest.mark.parametrize(("y", "validation_y", "message"), [
    ([0, 1, 3, 1], [0, 1], r"y\[2\] = 3 is not a class id 0 … 1"),
    ([0, 1, 0.5, 1], [0, 1], r"y\[2\] = 0\.5 is not a class id"),
    ([0, 1, 0, 1], [1, 2], r"validation y\[1\] = 2 is not a class id 0 … 1"),
])
def test_cross_entropy_targets_must_be_class_ids_of_the_models_outputs(y, validation_y, message):
    X = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    with pytest.raises(ValueError, match=message):
        fit(MLP(2, [4, 2], seed=0), X, y, loss="cross_entropy", validation=(X[:2], validation_y))


@pytest.mark.parametrize(("y", "validation_y", "message"), [
    ([0, 1, 0, 1], [0, 1, 2], r"^validation y\[2\] = 2: hinge reads targets -1/\+1 or 0/1"),  # "target 0"
    ([0, 1, 2, 1], None, r"^y\[2\] = 2: hinge reads targets"),
    ([-1, 0, 1, 1], None, r"^y holds three labels, -1, 0, 1, but hinge scores two classes .* -1 and 0 "
                          r"would be one class"),
    ([0, 1, 0, 1], [-1, 1, 1], r"^y and validation y hold three labels, -1, 0, 1"),
])
def test_hinge_refuses_targets_it_cannot_read_or_would_merge_naming_them(y, validation_y, message):
    X = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    model = MLP(2, [3, 1], seed=0)
    before = params_of(model)
    validation = None if validation_y is None else (X[: len(validation_y)], validation_y)
    with pytest.raises(ValueError, match=message):
        fit(model, X, y, loss="hinge", validation=validation, max_epochs=3)
    assert params_of(model) == before and model.task is None  # refused before training


def test_binary_cross_entropy_refuses_a_target_outside_0_1_naming_its_place():
    X = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    with pytest.raises(ValueError, match=r"^validation y\[1\] = 1\.5: binary_cross_entropy reads targets in"):
        fit(MLP(2, [3, 1], seed=0), X, [0, 1, 0, 1], loss="bce", validation=(X[:2], [0, 1.5]))
    fit(MLP(2, [3, 1], seed=0), X, [0, 0.25, 0.75, 1], loss="bce", max_epochs=2)  # soft labels are fine


@pytest.mark.parametrize(("loss", "labels"), [("mse", (0, 1)), ("mse", (-1, 1)), ("mse", (2, 5)),
                                              ("hinge", (-1, 1)), ("hinge", (0, 1)), ("bce", (0, 1))])
def test_numbers_listed_high_to_low_predict_the_higher_targets_class_above_the_threshold(loss, labels):
    X, ids = make_moons(n=120, noise=0.1, seed=0)
    y = np.where(ids == 1, labels[1], labels[0])
    model = MLP(2, [8, 1], activation="tanh", seed=0)
    fit(model, X, y, loss=loss, optimizer="adam", lr=0.05, max_epochs=60)
    right = np.mean(model.predict(X) == y)
    assert right > 0.8
    model.set_task("classification", classes=list(reversed(labels)), loss=loss)  # high to low
    assert model.task["classes"] == list(labels)  # kept low to high: the larger is above the threshold
    assert np.mean(model.predict(X) == y) == right  # was 1 - right: every prediction inverted
    fresh = MLP(2, [8, 1], activation="tanh", seed=0)  # no task recorded: the same rule
    fresh.load_state_dict(model.state_dict())
    fresh.set_task("classification", classes=list(reversed(labels)), loss=loss)
    assert np.mean(fresh.predict(X) == y) == right


def test_one_epoch_and_one_update_are_said_in_the_singular() -> None:
    X, y = [[0.0], [1.0]], [0.0, 1.0]
    history = fit(MLP(1, [1], seed=0), X, y, max_epochs=1, tol=0.0)
    assert repr(history).startswith("History(1 epoch, 1 update, ")  # said "1 epochs, 1 updates"

@pytest.mark.parametrize(("kwargs", "says"), [
    ({"max_epochs": -10**400}, "max_epochs must be an int >= 1"),
    ({"batch_size": -10**400}, "batch_size must be an int >= 1"),
    ({"patience": -10**400}, "patience must be an int >= 1"),
    ({"patience": 10**400}, "needs a validation set"),
    ({"max_steps": -10**400}, "max_steps must be an int >= 0"),
])
def test_a_huge_count_is_shown_cut_not_in_all_its_digits(kwargs, says):
    with pytest.raises(ValueError) as caught:
        if "max_steps" in kwargs:
            gradient_descent(lambda x: x * x, 1.0, **kwargs)
        else:
            fit(MLP(2, [2, 1], seed=0), [[0.0, 1.0]], [1], **kwargs)
    message = str(caught.value)
    assert says in message and "(401 digits)" in message and len(message) < 200, message


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("engine", ["eager", "tape", "batched"])
@pytest.mark.parametrize(("loss", "outputs"), [("mse", 1), ("cross_entropy", 2)])
def test_a_model_given_an_infinite_weight_stops_diverged_naming_it(engine, loss, outputs):
    """Its outputs are NaN (inf·0). The batched engine raised "x[0] must be a real number, got nan"
    (its loss's trace input, no name of the user's); every engine said "the parameters are the last
    finite ones" while one was inf."""
    X, y = make_moons(20, seed=0)
    model = MLP(2, [3, outputs], seed=0)
    model.layers[1].neurons[outputs - 1].w[0].data = math.inf
    history = fit(model, X, y, loss=loss, engine=engine, max_epochs=2)
    assert history.stopped_because == "diverged", history.message
    assert f"were not all finite then: layers.1.neurons.{outputs - 1}.w.0 = inf" in history.message
    assert "last finite ones" not in history.message


@pytest.mark.parametrize("engine", ["tape", "batched"])
def test_a_callback_that_sets_a_parameter_to_nan_is_named_when_training_diverges(engine):
    X, y = make_moons(20, seed=0)
    model = MLP(2, [3, 1], seed=0)

    def callback(history):
        model.layers[0].neurons[2].b.data = math.nan

    history = fit(model, X, y, engine=engine, max_epochs=3, callback=callback)
    assert history.stopped_because == "diverged" and "last finite ones" not in history.message
    assert "layers.0.neurons.2.b = nan (given so to fit, or set so by a callback)" in history.message
