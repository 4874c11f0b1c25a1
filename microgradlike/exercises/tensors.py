"""Checkers for lesson 10, from scalars to tensors: a layer on a whole batch at once, with numpy.

* `check_batched_layer`: Z = X·Wᵀ + b and A = relu(Z) for N samples in one go.
* `check_batched_backward`: given G = ∂L/∂Z for the batch, the gradients ∂L/∂W, ∂L/∂b, ∂L/∂X.

Oracle: the scalar engine itself — a `Layer` with the same weights, one sample at a time, and
`Value.backward()` on L = Σ G ⊙ Z. Hints say where to look, never the code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..checks import short
from ..engine import Value, dot, sum_values
from ..nn import Layer
from . import Verdict
from .checking import MOST_READ, attempt, checker, first

__all__ = ["check_batched_backward", "check_batched_layer"]

_N, _NIN, _NOUT = 5, 3, 4


def _problem(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A batch X (N, nin), weights W (nout, nin) and biases b (nout,), none of them zero."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(_N, _NIN)), rng.normal(size=(_NOUT, _NIN)), rng.normal(size=_NOUT)


def _array(x: Any) -> np.ndarray | None:
    """``x`` as a float array, or None when it is not numbers or holds more than `MOST_READ` of
    them (counted before numpy reads them: a returned ``range(10**12)`` is refused at once)."""
    if not _at_most(x, MOST_READ):
        return None
    try:
        return np.asarray(x, dtype=float)
    except (TypeError, ValueError, OverflowError):
        return None


def _at_most(x: Any, most: int) -> bool:
    """Whether ``x`` (an array, or sequences nested in sequences) holds at most ``most`` things,
    every number and every sequence counted (so a list that holds itself ends the count too)."""
    count, pending = 0, [x]
    while pending:
        item = pending.pop()
        count += item.size if isinstance(item, np.ndarray) else 1
        if count > most:
            return False
        if isinstance(item, Sequence) and not isinstance(item, str):
            items = first(item, most - count)
            if items is None:
                return False
            pending.extend(items)
    return True


# ---- the forward pass of a layer on a batch -------------------------------------------------------------
FORWARD = "a layer on a batch"
_FORWARD_HINT = ("row n of Z is the layer on sample n: neuron i gives Σⱼ W[i, j]·X[n, j] + b[i]. "
                 "Which product of X and W gives every (n, i) at once?")


def _engine_layer(W: np.ndarray, b: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Z and A of a relu `Layer` holding W and b, one sample at a time (the scalar engine)."""
    layer = Layer(W.shape[1], W.shape[0], activation="relu", seed=0)
    for neuron, row, bias in zip(layer.neurons, W, b):
        for w, value in zip(neuron.w, row):
            w.data = float(value)
        neuron.b.data = float(bias)
    traces = [layer.trace(x.tolist()) for x in X]
    return (np.array([[v.data for v in t.z] for t in traces]),
            np.array([[v.data for v in t.a] for t in traces]))


@checker(FORWARD)
def check_batched_layer(forward: Callable[..., Any]) -> Verdict:
    """``forward(W, b, X)``: a relu layer's weights W (shape (nout, nin), row i = neuron i), biases b
    (nout,) and a batch X (N, nin), one sample per row; returns ``(Z, A)``, both (N, nout):
    Z = the pre-activations zᵢ = Σⱼ wᵢⱼ·xⱼ + bᵢ of every sample, A = relu(Z).
    Checked against a `Layer` of the scalar engine, run on each sample."""
    for seed in (0, 1):
        X, W, b = _problem(seed)
        result = attempt(FORWARD, forward, W.copy(), b.copy(), X.copy(), hint=_FORWARD_HINT)
        if isinstance(result, Verdict):
            return result
        if not (isinstance(result, tuple | list) and len(result) == 2):
            return Verdict(FORWARD, False, f"expected a pair (Z, A), got {short(result)}", _FORWARD_HINT)
        Z, A = (_array(part) for part in result)
        Z_ref, A_ref = _engine_layer(W, b, X)
        if Z is None or A is None:
            return Verdict(FORWARD, False, f"Z and A must be arrays of numbers, got {short(result)}",
                           _FORWARD_HINT)
        if Z.shape != Z_ref.shape:
            hint = ("one row per sample, one column per neuron, as X has one row per sample"
                    if Z.shape == Z_ref.T.shape else _FORWARD_HINT)
            return Verdict(FORWARD, False, f"for N = {_N} samples of {_NIN} inputs and {_NOUT} neurons, "
                                           f"Z should have shape {Z_ref.shape}; yours has {Z.shape}", hint)
        if not np.allclose(Z, Z_ref, rtol=1e-9, atol=1e-12):
            hint = ("every neuron adds its own bias" if np.allclose(Z + b, Z_ref) else _FORWARD_HINT)
            return Verdict(FORWARD, False, f"Z differs from the layer's z: sample 0 gives "
                                           f"{np.round(Z_ref[0], 4)}, yours {np.round(Z[0], 4)}", hint)
        if A.shape != A_ref.shape or not np.allclose(A, A_ref, rtol=1e-9, atol=1e-12):
            return Verdict(FORWARD, False, "Z is right; A differs from relu(Z)",
                           "a = σ(z) entry by entry, and here σ is relu: what does relu do to a negative z?")
    return Verdict(FORWARD, True, f"Z and A equal the scalar layer's z and a for every sample: one matrix "
                                  f"product did what {_N}·{_NOUT} dot nodes do")


# ---- the backward pass of a layer on a batch ------------------------------------------------------------
BACKWARD = "a layer's backward on a batch"
_BACKWARD_HINT = ("the chain rule entry by entry: Z[n, i] = Σⱼ W[i, j]·X[n, j] + b[i], so ∂L/∂W[i, j] "
                  "collects G[n, i] times what multiplied W[i, j], from every sample n")


def _engine_grads(X: np.ndarray, W: np.ndarray, b: np.ndarray, G: np.ndarray) -> tuple[np.ndarray, ...]:
    """∂L/∂W, ∂L/∂b, ∂L/∂X for L = Σₙᵢ G[n, i]·Z[n, i] by the scalar engine's backward()."""
    Wv = [[Value(float(w)) for w in row] for row in W]
    bv = [Value(float(v)) for v in b]
    Xv = [[Value(float(x)) for x in row] for row in X]
    terms = [dot(Wv[i], Xv[n], bv[i]) * float(G[n, i]) for n in range(len(X)) for i in range(len(W))]
    sum_values(terms).backward()
    return (np.array([[w.grad for w in row] for row in Wv]), np.array([v.grad for v in bv]),
            np.array([[x.grad for x in row] for row in Xv]))


@checker(BACKWARD)
def check_batched_backward(backward: Callable[..., Any]) -> Verdict:
    """``backward(X, W, G)``: a layer Z = X·Wᵀ + b on a batch X (N, nin) with weights W (nout, nin),
    and G = ∂L/∂Z (N, nout), what the layers above sent back; returns ``(dW, db, dX)`` =
    (∂L/∂W, ∂L/∂b, ∂L/∂X), each with the shape of what it is the gradient of.
    Checked against `Value.backward()` on L = Σₙᵢ G[n, i]·Z[n, i], built from scalars."""
    for seed in (0, 1):
        X, W, b = _problem(seed)
        G = np.random.default_rng(seed + 10).normal(size=(_N, _NOUT))
        result = attempt(BACKWARD, backward, X.copy(), W.copy(), G.copy(), hint=_BACKWARD_HINT)
        if isinstance(result, Verdict):
            return result
        if not (isinstance(result, tuple | list) and len(result) == 3):
            return Verdict(BACKWARD, False, f"expected three arrays (dW, db, dX), got {short(result)}",
                           _BACKWARD_HINT)
        wanted = _engine_grads(X, W, b, G)
        for name, mine, want in zip(("dW", "db", "dX"), (_array(r) for r in result), wanted):
            if mine is None:
                return Verdict(BACKWARD, False, f"{name} must be an array of numbers", _BACKWARD_HINT)
            if mine.shape != want.shape:
                return Verdict(BACKWARD, False, f"{name} should have shape {want.shape}, yours has "
                                                f"{mine.shape}", "a gradient has the shape of what it is the "
                                                                 "gradient of: ∂L/∂W is shaped like W")
            if not np.allclose(mine, want, rtol=1e-9, atol=1e-12):
                averaged = name != "dX" and np.allclose(mine * _N, want)
                hint = ("a parameter used by every sample of the batch collects one contribution from each "
                        "of them: they add up, as the grads of a node used twice do"
                        if averaged else _BACKWARD_HINT)
                return Verdict(BACKWARD, False, f"{name} differs from backprop's: its first row should be "
                                                f"{np.round(np.atleast_2d(want)[0], 4)}, yours is "
                                                f"{np.round(np.atleast_2d(mine)[0], 4)}", hint)
    return Verdict(BACKWARD, True, "dW, db and dX equal what backward() gives node by node: three matrix "
                                   "products did the whole batch's chain rule")
