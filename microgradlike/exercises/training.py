"""Checkers for lessons 7 and 8, MLPs and training (多层感知机, 批量, 回合, 更新, 交叉熵, 激活函数).

* `check_minibatch_epoch`: one epoch of serial mini-batch updates, returning the batch losses
  L¹, L², … (the notes: 更新是串行的 — each batch sees the parameters the previous one left).
* `check_softmax_cross_entropy`: −log softmax(z)_y for one row of logits, as a Value, stable for
  logits like 1000.
* `check_linear_collapse`: the one linear layer (W, b) that a network with linear activations is.

Oracles: `fit` (the library's training loop) for the epoch, `losses.cross_entropy` and its
backward for the loss, the network itself for the collapse. Hints say where to look, never the code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..checks import short
from ..data import piecewise_linear
from ..engine import Value
from ..losses import cross_entropy, mse
from ..nn import MLP, numpy_layers
from ..optim import SGD
from ..train import fit
from . import Verdict
from .checking import as_floats, attempt, checker, fmt, plain_parameters, same_numbers

__all__ = ["check_linear_collapse", "check_minibatch_epoch", "check_softmax_cross_entropy", "layer_matrices"]


# ---- serial mini-batch updates ------------------------------------------------------------------
EPOCH = "serial mini-batch updates"
_EPOCH_HINT = ("for each batch in turn: its mse, zero the grads, backward, then move every parameter "
               "against its grad by lr; keep the batch's loss as it was before the update")


def mistaken_epoch(model: MLP, X: list, y: list, batch_size: int, lr: float, *, serial: bool = True,
                   zero_grads: bool = True, sign: float = -1.0) -> list[float]:
    """An epoch with a chosen mistake (the correct one comes from `fit`): ``serial=False`` updates
    once at the end with the batches' gradients taken at θ⁰, ``zero_grads=False`` lets grads pile
    up, ``sign=+1`` climbs. Returns the batch losses."""
    params, losses, pending = model.parameters(), [], [0.0] * len(model.parameters())
    for start in range(0, len(X), batch_size):
        rows, targets = X[start:start + batch_size], y[start:start + batch_size]
        if zero_grads:
            model.zero_grad()
        loss = mse([model(row) for row in rows], targets)
        loss.backward()
        losses.append(loss.data)
        for i, p in enumerate(params):
            if serial:
                p.data += sign * lr * float(p.grad)
            else:
                pending[i] += float(p.grad) / math.ceil(len(X) / batch_size)
    if not serial:
        for p, g in zip(params, pending):
            p.data += sign * lr * g
    return losses


@checker(EPOCH)
def check_minibatch_epoch(one_epoch: Callable[..., Any]) -> Verdict:
    """``one_epoch(model, X, y, batch_size, lr)`` runs ONE epoch of plain SGD with the mse loss over
    the rows in their order, in batches of ``batch_size`` (the last may be smaller), updating
    ``model`` in place, and returns the batch losses [L¹, L², …], each taken before its update.

    Checked on an ``MLP(1, [3, 1], "tanh")`` and 10 rows, in batches of 4 with lr 0.5 and then of 3
    with lr 0.2 (`_EPOCHS`), against `fit` with ``shuffle=False``: the same batch losses and the
    same parameters after the epoch."""
    X, y = piecewise_linear(n=10, noise=0.1, seed=1)
    rows, targets = X.tolist(), y.tolist()
    for batch_size, lr in _EPOCHS:
        verdict = _one_epoch_case(one_epoch, rows, targets, batch_size, lr)
        if verdict is not None:
            return verdict
    (batch_size, lr), (other, _) = _EPOCHS
    losses = _fit_epoch(_epoch_model(), rows, targets, batch_size, lr)
    shown = ", ".join(map(fmt, losses))
    return Verdict(EPOCH, True, f"{len(losses)} serial updates, batch losses L¹, L², L³ = {shown}, and the "
                                f"same θ as fit (and again with batches of {other})")


#: (batch_size, lr) of the epochs checked: a second size and rate catch numbers written in their place.
_EPOCHS = ((4, 0.5), (3, 0.2))


def _epoch_model() -> MLP:
    return MLP(1, [3, 1], activation="tanh", seed=2)


def _fit_epoch(model: MLP, rows: list, targets: list, batch_size: int, lr: float) -> list[float]:
    """The batch losses of one epoch of `fit` (plain SGD, mse, rows in order), updating ``model``."""
    history = fit(model, rows, targets, loss="mse", optimizer=SGD(model.parameters(), lr=lr), max_epochs=1,
                  batch_size=batch_size, shuffle=False, tol=0.0, engine="eager", progress=False)
    return list(history.update_loss)


def _one_epoch_case(one_epoch: Callable[..., Any], rows: list, targets: list, batch_size: int,
                    lr: float) -> Verdict | None:
    """A failed verdict when the learner's epoch differs from fit's for this batch size and rate."""
    oracle = _epoch_model()  # the reference first: the answer runs after it
    expected = _fit_epoch(oracle, rows, targets, batch_size, lr)
    learner = _epoch_model()
    result = attempt(EPOCH, one_epoch, learner, [list(row) for row in rows], list(targets),
                     batch_size, lr, hint=_EPOCH_HINT, call=f"one_epoch(model, X, y, {batch_size}, {lr})")
    if isinstance(result, Verdict):  # a parameter that is no longer a number is the likelier cause
        broken = plain_parameters(EPOCH, learner)
        return result if broken is None else broken
    losses = as_floats(result)
    if losses is None:
        return Verdict(EPOCH, False, f"expected the list of batch losses, got {short(result)}", _EPOCH_HINT)
    if len(losses) != len(expected):
        return Verdict(EPOCH, False, f"returned {len(losses)} batch loss(es) for {len(rows)} rows in batches "
                                     f"of {batch_size}: an epoch makes one update per batch",
                       "an epoch has ⌈N / batch_size⌉ batches, and the last one holds what is left")
    if not same_numbers(losses[:1], expected[:1]):
        return Verdict(EPOCH, False, f"L¹ should be {fmt(expected[0])}, yours is {fmt(losses[0])}",
                       "L¹ is the mse of the first batch's predictions against its targets, at the "
                       "parameters as given (before any update)")
    verdict = plain_parameters(EPOCH, learner)
    if verdict is not None:
        return verdict
    theta = [p.data for p in learner.parameters()]
    if same_numbers(losses, expected) and same_numbers(theta, [p.data for p in oracle.parameters()]):
        return None
    where = f"with batches of {batch_size} and lr = {lr}, "
    mistakes = (
        ({"serial": False}, "the batches' gradients were all taken at the starting θ and applied together",
         "the notes: 更新是串行的 — each batch's update must happen before the next batch's loss is "
         "computed"),
        ({"zero_grads": False}, "the gradients piled up from batch to batch",
         "backward() ADDS to p.grad (as in PyTorch): what must happen to the grads before each batch?"),
        ({"sign": 1.0}, "the parameters moved uphill",
         "the gradient points uphill (the loss grows fastest along it): which way must θ move?"),
    )
    for mistake, what, hint in mistakes:
        if same_numbers(losses, mistaken_epoch(_epoch_model(), rows, targets, batch_size, lr, **mistake)):
            return Verdict(EPOCH, False, f"{where}the batch losses after L¹ differ from fit's: {what}", hint)
    if not same_numbers(losses, expected):
        shown = ", ".join(map(fmt, expected))
        return Verdict(EPOCH, False, f"{where}the batch losses should be {shown}; yours are "
                                     f"{', '.join(map(fmt, losses))}",
                       "use the batch size and the learning rate your function is given" if batch_size != 4
                       else _EPOCH_HINT)
    return Verdict(EPOCH, False, f"{where}the batch losses are right, but the parameters after the epoch "
                                 f"differ from fit's",
                   "is the last batch's update applied to the model you were given?")


# ---- softmax cross-entropy for one row ------------------------------------------------------------
CROSS_ENTROPY = "softmax cross-entropy"
_CE_HINT = ("softmax turns the logits into probabilities (e^{z_j} over their sum); the loss is how "
            "surprised the model is by the true class: −log of its probability")
_STABLE_HINT = ("e^1000 overflows to inf. softmax does not change when the same number is subtracted "
                "from every logit: which number makes every exponent ≤ 0?")
_ROWS = (([2.0, 1.0, 0.1], 0), ([0.5, -1.0, 3.0, 0.0], 1), ([-2.0, -2.0], 1), ([0.3, 0.2, -0.4], 2))
_HUGE_ROWS = (([1000.0, 0.0, -1000.0], 1), ([-800.0, 200.0, 900.0], 2))


def _softmax(row: list[float]) -> list[float]:
    top = max(row)
    exps = [math.exp(z - top) for z in row]
    return [e / sum(exps) for e in exps]


@checker(CROSS_ENTROPY)
def check_softmax_cross_entropy(loss: Callable[[list[Value], int], Value]) -> Verdict:
    """``loss(logits, target)``: one row of logits (Values z₀ … z_{K−1}) and the true class id;
    returns the Value −log softmax(z)_target, built from the logits so that ``backward()`` gives
    ∂L/∂zⱼ = softmax(z)ⱼ − [j = target]. It must stay exact for logits like ±1000.

    Checked against `losses.cross_entropy` (value and backward) on a few rows, then on huge ones."""
    for row, target in (*_ROWS, *_HUGE_ROWS):
        huge = (row, target) in _HUGE_ROWS
        logits = [Value(z) for z in row]
        out = attempt(CROSS_ENTROPY, loss, logits, target, hint=_STABLE_HINT if huge else _CE_HINT)
        if isinstance(out, Verdict):
            return out
        if not isinstance(out, Value):
            return Verdict(CROSS_ENTROPY, False, f"expected a Value, got {short(out)}",
                           "build the loss from the logit Values with Value ops (exp, log, +, -), so that "
                           "backward() can reach every logit")
        oracle_logits = [Value(z) for z in row]
        reference = cross_entropy([oracle_logits], [target])
        where = f"for logits {row} and target {target}"
        if not math.isfinite(out.data):
            return Verdict(CROSS_ENTROPY, False, f"{where} yours gives {out.data}; the loss is "
                                                 f"{fmt(reference.data)}", _STABLE_HINT)
        if not same_numbers([out.data], [reference.data]):
            return Verdict(CROSS_ENTROPY, False, f"{where} the loss should be {fmt(reference.data)}, yours "
                                                 f"gives {fmt(out.data)}",
                           _diagnose_ce(out.data, row, target))
        out.backward()
        reference.backward()  # ∂L/∂zⱼ = softmax(z)ⱼ − [j = target]
        expected = [float(z.grad) for z in oracle_logits]
        grads = [float(z.grad) for z in logits]
        if not same_numbers(grads, expected, atol=1e-9):
            return Verdict(CROSS_ENTROPY, False,
                           f"{where} the loss is right but backward() gives ∂L/∂z = "
                           f"{[round(g, 6) for g in grads]}, not softmax(z) − onehot = "
                           f"{[round(g, 6) for g in expected]}",
                           "did a .data, a float() or a math function cut the graph between the logits "
                           "and the loss? Only Value ops are followed by backward()")
    return Verdict(CROSS_ENTROPY, True, "the right loss and gradients on every row, logits of ±1000 included")


def _diagnose_ce(got: float, row: list[float], target: int) -> str:
    """The hint for a wrong loss value: what the learner's number looks like."""
    probs = _softmax(row)
    if math.isclose(got, math.log(probs[target]), rel_tol=1e-6):
        return "a loss is small when the model is right: look at its sign"
    if math.isclose(got, probs[target], rel_tol=1e-6) or math.isclose(got, 1 - probs[target], rel_tol=1e-6):
        return "that is a probability: the loss is −log of the true class's probability"
    if any(math.isclose(got, -math.log(p), rel_tol=1e-6) for j, p in enumerate(probs) if j != target):
        return "that is the loss of another class: the target is a class id, the index of the true class"
    return _CE_HINT


# ---- a linear network is one linear layer -------------------------------------------------------------
COLLAPSE = "a linear network collapses"
_COLLAPSE_HINT = ("write a¹ = W¹x + b¹ into a² = W²a¹ + b², multiply out, and keep going: what multiplies x, "
                  "and what is left over?")
_SHAPES = ([3, 1], [4, 3, 1], [3, 3, 3, 2])


def layer_matrices(model: MLP) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each layer's weight matrix Wˡ (row i = neuron i's weights, shape (nout, nin)) and bias bˡ,
    as `nn.numpy_layers` reads them from the Values."""
    layers = numpy_layers(model) or []  # None: a weight is no longer a number
    return [layer.W for layer in layers], [layer.b for layer in layers]


@checker(COLLAPSE)
def check_linear_collapse(collapse: Callable[..., Any]) -> Verdict:
    """``collapse(weights, biases)``: the layers of a network with linear activations, as numpy
    matrices Wˡ of shape (nout, nin) and biases bˡ; returns ``(W, b)``, the ONE layer
    x ↦ W·x + b that computes the same function.

    Checked on linear ``MLP(2, ...)`` networks of 1 to 3 hidden layers (the last with 2 outputs):
    the one layer must give the network's outputs on a few inputs."""
    rng = np.random.default_rng(0)
    for k, nouts in enumerate(_SHAPES):
        model = MLP(2, nouts, activation="linear", seed=k)
        for layer in model.layers:  # biases start at 0: give them values, so that they matter
            for neuron in layer.neurons:
                neuron.b.data = float(rng.normal())
        weights, biases = layer_matrices(model)
        result = attempt(COLLAPSE, collapse, [w.copy() for w in weights], [b.copy() for b in biases],
                         hint=_COLLAPSE_HINT)
        if isinstance(result, Verdict):
            return result
        if not (isinstance(result, tuple | list) and len(result) == 2):
            return Verdict(COLLAPSE, False, f"expected a pair (W, b), got {short(result)}", _COLLAPSE_HINT)
        nout = nouts[-1]
        W, b = (np.asarray(as_floats(part) or [np.nan], dtype=float) for part in result)
        if W.size != 2 * nout or b.size != nout:
            return Verdict(COLLAPSE, False, f"for {model!r}, W should hold {nout}×2 numbers and b {nout}; "
                                            f"yours hold {W.size} and {b.size}",
                           "the one layer maps the 2 inputs straight to the outputs")
        W, b = W.reshape(nout, 2), b.reshape(nout)
        points = rng.normal(size=(4, 2))
        network = np.array([[v.data for v in _outputs(model(list(x)))] for x in points])
        mine = points @ W.T + b
        if not np.allclose(mine, network, rtol=1e-6, atol=1e-9):
            zero = np.array([v.data for v in _outputs(model([0.0, 0.0]))])
            slope_right = np.allclose(mine - b, network - zero, rtol=1e-6, atol=1e-9)
            return Verdict(COLLAPSE, False,
                           f"for {model!r} at x = {np.round(points[0], 3).tolist()} the network gives "
                           f"{np.round(network[0], 6).tolist()}, your (W, b) gives "
                           f"{np.round(mine[0], 6).tolist()}"
                           + ("; W is right, b is not" if slope_right else ""),
                           "every earlier bias passes through the later layers' weights too" if slope_right
                           else _COLLAPSE_HINT)
    return Verdict(COLLAPSE, True, "one layer (W, b) gives each network's outputs: however deep, a linear "
                                   "network is one linear map")


def _outputs(out: Value | list[Value]) -> list[Value]:
    return out if isinstance(out, list) else [out]
