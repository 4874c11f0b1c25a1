"""Tests for microgradlike.trainers: each engine's loss and gradients over a batch equal eager's,
and fit trains the same way with every engine."""

from __future__ import annotations

import math

import numpy as np
import pytest

from microgradlike import losses, sum_values
from microgradlike.nn import MLP, SigmoidSum
from microgradlike.optim import SGD, Adam
from microgradlike.tape import Tape
from microgradlike.train import fit
from microgradlike.trainers import (
    ENGINES,
    ValueTrainer,
    VectorTrainer,
    make_evaluate,
    make_loss_and_grad,
    make_trainer,
)


def close(a: float, b: float, rtol: float = 1e-9) -> bool:
    return math.isclose(a, b, rel_tol=rtol, abs_tol=1e-12)


# ---- losses and make_loss_and_grad -------------------------------------------------------------
def dataset(loss, n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    if loss is losses.mse:
        return X, rng.normal(size=n).tolist(), MLP(2, [6, 1], "tanh", seed=seed)
    if loss is losses.binary_cross_entropy:
        return X, rng.integers(0, 2, n).tolist(), MLP(2, [6, 1], "relu", seed=seed)
    if loss is losses.hinge:
        return X, rng.choice([-1, 0, 1], n).tolist(), MLP(2, [6, 1], "relu", seed=seed)
    return X, rng.integers(0, 3, n).tolist(), MLP(2, [6, 3], "relu", seed=seed)


def eager_loss_and_grads(model, loss, X, y):
    model.zero_grad()
    out = loss([model(row) for row in X.tolist()], y)
    out.backward()
    return out.data, [p.grad for p in model.parameters()]


LOSSES = [losses.mse, losses.binary_cross_entropy, losses.hinge, losses.cross_entropy]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("loss", LOSSES, ids=lambda f: f.__name__)
def test_loss_and_grad_equals_eager_on_batches_of_any_size(loss, engine):
    X, y, model = dataset(loss, 23)
    loss_and_grad = make_loss_and_grad(model, loss, engine)
    for start, stop in [(0, 23), (0, 1), (3, 10), (10, 23)]:  # one cache, different batches
        expected, grads = eager_loss_and_grads(model, loss, X[start:stop], y[start:stop])
        for p in model.parameters():
            p.grad = 123.0  # must be overwritten, not added to
        value = loss_and_grad(X[start:stop].tolist(), y[start:stop])
        assert close(value, expected, rtol=1e-12)
        assert all(close(p.grad, g, rtol=1e-10) for p, g in zip(model.parameters(), grads))


def test_custom_loss_with_value_targets_and_one_input_model():
    model = SigmoidSum(4, seed=0)
    X = np.linspace(-2, 2, 9)
    y = (0.3 * X ** 2).tolist()

    def mean_abs(preds, targets):
        return sum_values([abs(p - t) for p, t in zip(preds, targets)]) / len(preds)

    for engine in ("tape", "batched"):
        expected, grads = eager_loss_and_grads(model, mean_abs, X.reshape(-1, 1), y)
        assert close(make_loss_and_grad(model, mean_abs, engine)(X, y), expected, rtol=1e-12)
        assert all(close(p.grad, g, rtol=1e-10) for p, g in zip(model.parameters(), grads))


def test_loss_and_grad_errors():
    model = MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match="unknown engine 'fast'"):
        make_loss_and_grad(model, losses.mse, "fast")
    f = make_loss_and_grad(model, "mse", "tape")
    with pytest.raises(ValueError, match="3 rows but y_batch has 2"):
        f(np.ones((3, 2)), [1.0, 2.0])


@pytest.mark.parametrize("engine", ["tape", "batched"])
def test_still_equal_after_optimizer_steps(engine):
    X, y, model = dataset(losses.hinge, 20, seed=5)
    loss_and_grad = make_loss_and_grad(model, losses.hinge, engine)
    opt = Adam(model.parameters(), lr=0.05)
    for _ in range(5):
        loss_and_grad(X, y)
        opt.step()
    expected, grads = eager_loss_and_grads(model, losses.hinge, X, y)
    assert close(loss_and_grad(X, y), expected, rtol=1e-12)
    assert all(close(p.grad, g, rtol=1e-10) for p, g in zip(model.parameters(), grads))


def rel_diff(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))


@pytest.mark.parametrize("engine", ["tape", "batched"])
@pytest.mark.parametrize("loss,batch_size", [("hinge", None), ("cross_entropy", 8), ("mse", 7)])
def test_fit_with_compiled_engines_equals_eager(engine, loss, batch_size):
    X, y, _ = dataset(losses.get_loss(loss), 30, seed=7)
    if loss == "hinge":  # fit takes two labels: 0 counts as -1 for hinge anyway, so nothing else changes
        y = [-1 if t == 0 else t for t in y]
    nout = 3 if loss == "cross_entropy" else 1
    results = []
    for eng in ("eager", engine):
        model = MLP(2, [6, nout], seed=11)
        history = fit(model, X, y, loss=loss, lr=0.05, max_epochs=6, batch_size=batch_size,
                      shuffle=True, seed=3, engine=eng, optimizer="sgd", tol=0.0)
        results.append(([p.data for p in model.parameters()], history.train_loss))
    (eager_params, eager_losses), (params, train_losses) = results
    assert rel_diff(params, eager_params) < 1e-9
    assert rel_diff(train_losses, eager_losses) < 1e-9


def test_sgd_on_tape_gradients_moves_like_eager():
    X, y, model = dataset(losses.mse, 10, seed=2)
    twin = MLP(2, [6, 1], "tanh", seed=2)
    loss_and_grad = make_loss_and_grad(model, losses.mse, "batched")
    opt, twin_opt = SGD(model.parameters(), lr=0.1), SGD(twin.parameters(), lr=0.1)
    for _ in range(10):
        loss_and_grad(X, y)
        opt.step()
        eager_loss_and_grads(twin, losses.mse, X, y)
        twin_opt.step()
    assert rel_diff([p.data for p in model.parameters()], [p.data for p in twin.parameters()]) < 1e-9


def test_one_list_of_engines():
    assert ENGINES == ("auto", "eager", "tape", "batched")


# ---- evaluation: forward passes only ---------------------------------------------------------------
@pytest.mark.parametrize("engine", ["tape", "batched"])
@pytest.mark.parametrize("loss", LOSSES, ids=lambda f: f.__name__)
def test_evaluate_runs_no_backward_and_touches_no_grad(loss, engine, monkeypatch):
    X, y, model = dataset(loss, 17, seed=4)
    loss_and_grad = make_loss_and_grad(model, loss, engine)
    evaluate = make_evaluate(model, loss, engine, loss_and_grad)
    expected = loss_and_grad(X, y)  # traces and compiles what it needs
    eager_on_five = eager_loss_and_grads(model, loss, X[:5], y[:5])[0]
    asked = []
    original = Tape.function

    def spy(self, kind, *args):
        asked.append(kind)
        return original(self, kind, *args)

    monkeypatch.setattr(Tape, "function", spy)
    for p in model.parameters():
        p.grad = 123.0
    assert close(evaluate(X, y), expected, rtol=1e-12)
    assert close(evaluate(X[:5], y[:5]), eager_on_five, rtol=1e-12)
    assert asked and set(asked) <= {"forward", "total"}  # no "backward", no "loop"
    assert all(p.grad == 123.0 for p in model.parameters())


# ---- fit hands the compiled engines numpy arrays -----------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_fit_gives_compiled_engines_arrays_and_the_same_history_for_lists(engine, monkeypatch):
    import microgradlike.train as train

    X, y, _ = dataset(losses.cross_entropy, 24, seed=6)
    seen = []
    make = train.make_loss_and_grad

    def spy(model, loss_fn, engine_name):
        inner = make(model, loss_fn, engine_name)

        def loss_and_grad(X_batch, y_batch):
            seen.append((engine_name, type(X_batch), type(y_batch)))
            return inner(X_batch, y_batch)

        loss_and_grad.evaluate = getattr(inner, "evaluate", None)
        return loss_and_grad

    monkeypatch.setattr(train, "make_loss_and_grad", spy)
    histories = []
    for data in ((X, np.asarray(y)), (X.tolist(), list(y))):
        model = MLP(2, [6, 3], seed=1)
        histories.append(fit(model, *data, loss="cross_entropy", max_epochs=3, batch_size=5, engine=engine,
                             validation=(X[:6], y[:6])))
    ran = histories[0].engine
    kind = list if ran == "eager" else np.ndarray
    assert {(e, x, t) for e, x, t in seen} == {(ran, kind, kind)}
    first, second = (vars(h) for h in histories)
    assert first == second


# ---- compiled engines far from where they were traced ------------------------------------------------
@pytest.mark.parametrize("engine", ["tape", "batched"])
def test_cross_entropy_far_from_the_trace_point_is_eagers(engine):
    """The issue's example: weights scaled by 5,000 after tracing gave inf instead of eager's loss."""
    X = np.array([[0.5, -1.0], [1.0, 2.0], [-0.3, 0.8]])
    y = [0, 2, 1]
    results = []
    for name in ("eager", engine):
        model = MLP(2, [3], seed=0)
        loss_and_grad = make_loss_and_grad(model, "cross_entropy", name)
        loss_and_grad(X, y)  # traced here
        for p in model.parameters():
            p.data *= 5000.0
        results.append((loss_and_grad(X, y), [p.grad for p in model.parameters()]))
    (loss, grads), (compiled, compiled_grads) = results
    assert math.isfinite(loss) and loss > 100
    assert close(compiled, loss, rtol=1e-12)
    assert all(close(a, b, rtol=1e-10) for a, b in zip(compiled_grads, grads))


@pytest.mark.parametrize("engine", ["tape", "batched"])
@pytest.mark.parametrize("loss", [losses.cross_entropy, losses.binary_cross_entropy, losses.mse],
                         ids=lambda f: f.__name__)
def test_targets_met_batch_by_batch_and_rows_of_targets(loss, engine):
    """A target first seen in a later batch gets its own trace (and, batched, joins the merged
    loss); rows of several targets (several outputs) work too."""
    rng = np.random.default_rng(8)
    X = rng.normal(size=(30, 2))
    if loss is losses.cross_entropy:
        model, y = MLP(2, [5, 4], seed=2), (np.arange(30) % 4).tolist()
    elif loss is losses.binary_cross_entropy:
        model, y = MLP(2, [5, 3], "sigmoid", seed=2), rng.integers(0, 2, size=(30, 3)).tolist()
    else:
        model, y = MLP(2, [5, 3], "tanh", seed=2), rng.normal(size=(30, 3)).tolist()
    loss_and_grad = make_loss_and_grad(model, loss, engine)
    for start, stop in [(0, 1), (1, 3), (0, 30), (7, 8), (4, 30)]:
        expected, grads = eager_loss_and_grads(model, loss, X[start:stop], y[start:stop])
        assert close(loss_and_grad(X[start:stop], y[start:stop]), expected, rtol=1e-12)
        assert all(close(p.grad, g, rtol=1e-10) for p, g in zip(model.parameters(), grads))


# ---- VectorTrainer: θ as one numpy vector, the same numbers as the Values -------------------------
class SubSGD(SGD):
    """A subclass: make_trainer cannot know its step, so it trains on the Values (ValueTrainer)."""


class SubAdam(Adam):
    pass


OPTIMISERS = {
    "sgd": (lambda ps: SGD(ps, lr=0.2), lambda ps: SubSGD(ps, lr=0.2)),
    "momentum": (lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ps: SubSGD(ps, lr=0.1, momentum=0.9)),
    "adam": (lambda ps: Adam(ps, lr=0.05), lambda ps: SubAdam(ps, lr=0.05)),
    # eps = 0: where a gradient has always been 0 Adam takes no step (not 0/0)
    "adam, eps 0": (lambda ps: Adam(ps, lr=0.05, eps=0.0), lambda ps: SubAdam(ps, lr=0.05, eps=0.0)),
    "diverging": (lambda ps: SGD(ps, lr=1e305), lambda ps: SubSGD(ps, lr=1e305)),
    # the optimiser's lists in its own order, not the model's
    "adam, rotated": (lambda ps: Adam(ps[1:] + ps[:1], lr=0.05),
                      lambda ps: SubAdam(ps[1:] + ps[:1], lr=0.05)),
    "momentum, rotated": (lambda ps: SGD(ps[1:] + ps[:1], lr=0.1, momentum=0.5),
                           lambda ps: SubSGD(ps[1:] + ps[:1], lr=0.1, momentum=0.5)),
}


def _run(engine, make_optimizer, loss, batch_size, callback_log):
    X, y, _ = dataset(losses.get_loss(loss), 30, seed=4)
    if loss == "hinge":  # fit takes two labels for hinge (0 counts as -1: a third would merge into it)
        y = [-1 if t == 0 else t for t in y]
    nout = 3 if loss == "cross_entropy" else 1
    model = MLP(2, [5, nout], seed=9)
    model.layers[0].neurons[0].b.data = -100.0  # a dead ReLU: gradients that are always 0
    opt = make_optimizer(model.parameters())
    log = []

    def callback(history):
        # what a callback sees: the Values and the optimiser's state as they are now ...
        state = [list(getattr(opt, name)) for name in ("velocity", "m", "v") if hasattr(opt, name)]
        log.append(([p.data for p in model.parameters()], [p.grad for p in model.parameters()], state,
                    getattr(opt, "t", None)))
        if history.n_epochs == 2:  # ... and what it changes is trained on
            model.parameters()[3].data += 0.25
            opt.lr *= 0.5
            if isinstance(opt, SGD) and opt.momentum:
                opt.velocity[0] = 1.0

    history = fit(model, X, y, loss=loss, optimizer=opt, max_epochs=5, batch_size=batch_size, engine=engine,
                  tol=0.0, seed=2, validation=(X[:8], y[:8]), keep_best=True, keep_params=True,
                  callback=callback if callback_log else None)
    state = [getattr(opt, name) for name in ("velocity", "m", "v") if hasattr(opt, name)]
    return (vars(history), [p.data for p in model.parameters()], [p.grad for p in model.parameters()],
            state, getattr(opt, "t", None), log)


@pytest.mark.parametrize("engine", ["tape", "batched"])
@pytest.mark.parametrize("name", OPTIMISERS)
@pytest.mark.parametrize("loss,batch_size,callback", [("cross_entropy", 7, True), ("hinge", None, False),
                                                      ("mse", 11, True)])
def test_vector_trainer_trains_to_the_same_bits_as_the_values(engine, name, loss, batch_size, callback):
    """History, parameters, gradients, the optimiser's state, and what a callback sees (and
    changes) are identical, to the last bit, whether θ is a vector or the Values."""
    vector, values = OPTIMISERS[name]
    ran = _run(engine, vector, loss, batch_size, callback)
    assert repr(ran) == repr(_run(engine, values, loss, batch_size, callback))  # repr: nan is nan
    if name == "diverging":
        assert ran[0]["stopped_because"] == "diverged"


def test_make_trainer_keeps_theta_as_a_vector_for_the_compiled_engines_and_sgd_or_adam():
    model = MLP(2, [3, 1], seed=0)
    for engine, optimizer, kind in [("batched", SGD, VectorTrainer), ("tape", Adam, VectorTrainer),
                                    ("eager", SGD, ValueTrainer), ("batched", SubSGD, ValueTrainer)]:
        loss_and_grad = make_loss_and_grad(model, "mse", engine)
        trainer = make_trainer(model.parameters(), optimizer(model.parameters()), loss_and_grad,
                               make_evaluate(model, losses.mse, engine, loss_and_grad), engine)
        assert type(trainer) is kind


def test_vector_trainer_writes_the_values_only_when_synced():
    """During training the Values are left alone (no Python work per parameter per step); sync
    writes θ, ∇L and the optimiser's state, reload reads them back."""
    X, y, model = dataset(losses.mse, 12, seed=1)
    opt = Adam(model.parameters(), lr=0.1)
    loss_and_grad = make_loss_and_grad(model, "mse", "batched")
    trainer = make_trainer(model.parameters(), opt, loss_and_grad,
                           make_evaluate(model, losses.mse, "batched", loss_and_grad), "batched")
    before = [p.data for p in model.parameters()]
    for _ in range(3):
        trainer.loss_and_grad(X, np.asarray(y))
        trainer.step()
    assert [p.data for p in model.parameters()] == before and opt.m == [0.0] * len(before)
    trainer.sync()
    assert [p.data for p in model.parameters()] == list(trainer.values()) != before
    assert opt.t == 3 and opt.m != [0.0] * len(before)
    assert [p.grad for p in model.parameters()] == trainer.grad.tolist()
    model.parameters()[0].data = 7.0
    opt.v[0] = 0.5
    trainer.reload()
    assert trainer.values()[0] == 7.0 and trainer.state[1][0] == 0.5


def test_distinct_targets_of_one_number_per_row_are_those_of_numpys_unique_of_rows():
    """The fast path for labels gives exactly what np.unique(T, axis=0) gives (0.0 and -0.0 too)."""
    from microgradlike.compiled_engines import _distinct_rows

    rng = np.random.default_rng(1)
    for _ in range(200):
        T = rng.choice([0.0, -0.0, 1.0, 2.0, -1.0, 3.5, 1e300], size=(int(rng.integers(1, 60)), 1))
        values, first, inverse = np.unique(T, axis=0, return_index=True, return_inverse=True)
        found = _distinct_rows(T)
        assert repr(found.keys) == repr([tuple(row) for row in values.tolist()])
        assert found.firsts == first.tolist() and found.inverse.tolist() == inverse.ravel().tolist()


@pytest.mark.parametrize("engine", ["eager", "tape", "batched"])
@pytest.mark.parametrize(("bad", "error", "says"), [
    ("abc", TypeError, "parameter layers.0.neurons.1.w.0 must be a real number, got str: 'abc'"),
    (10**400, ValueError, "parameter layers.0.neurons.1.w.0 must be a real number, got 100000000000… (401 "),
], ids=["str", "huge int"])
def test_a_callback_that_leaves_a_parameter_no_number_is_told_which(engine, bad, error, says):
    """numpy said only "could not convert string to float: 'abc'", eager "can't multiply sequence"."""
    X, y = np.array([[0.1, 0.2], [0.3, -0.4], [-1.0, 0.5]]), np.array([0.0, 1.0, 0.0])

    def callback(history):
        model.layers[0].neurons[1].w[0].data = bad

    for optimizer in ("sgd", "adam"):
        model = MLP(2, [3, 1], seed=0)
        with pytest.raises(error) as caught:
            fit(model, X, y, optimizer=optimizer, max_epochs=3, engine=engine, callback=callback)
        assert says in str(caught.value), (optimizer, str(caught.value))


@pytest.mark.parametrize("engine", ["eager", "tape", "batched"])
def test_a_callback_that_sets_a_numpy_float32_or_an_int_trains_on_with_floats(engine):
    X, y = np.array([[0.1, 0.2], [0.3, -0.4], [-1.0, 0.5]]), np.array([0.0, 1.0, 0.0])
    seen = []

    def callback(history):
        if history.n_epochs == 1:
            w[0].data, w[1].data = np.float32(0.1), 2
        seen.append([type(p.data) for p in model.parameters()])

    model = MLP(2, [3, 1], seed=0)
    w = model.layers[0].neurons[1].w
    fit(model, X, y, optimizer="adam", max_epochs=3, engine=engine, callback=callback)
    assert all(t is float for t in seen[-1]) and all(type(p.data) is float for p in model.parameters())


@pytest.mark.parametrize(("bad", "error", "says"), [
    ([0.0] * 12 + ["x"], TypeError, "the optimiser's m[12] must be a real number, got str: 'x'"),
    ([1.0, 2.0], ValueError, "the optimiser's m must hold one number per parameter (13), got shape (2,)"),
])
def test_a_callback_that_leaves_the_optimisers_state_no_numbers_is_told_what(bad, error, says):
    X, y = np.array([[0.1, 0.2], [0.3, -0.4], [-1.0, 0.5]]), np.array([0.0, 1.0, 0.0])
    model = MLP(2, [3, 1], seed=0)
    opt = Adam(model.parameters())

    def callback(history):
        opt.m = bad

    with pytest.raises(error) as caught:
        fit(model, X, y, optimizer=opt, max_epochs=2, engine="batched", callback=callback)
    assert says in str(caught.value)
