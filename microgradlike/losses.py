"""Losses L(θ): how good one set of parameters is, as one Value to call `.backward()` on.

Each loss takes the model's outputs (Values, or plain numbers) and the targets, computes one
term per example, and returns their mean as ``sum_values(terms) / N`` (one "sum" node).
Classification losses take *logits* (raw scores, before any sigmoid/softmax) and are written
so that no exp can overflow: a logit of ±1000 gives the exact, finite loss and gradient.

==========================  ===========================================  =====================
loss                        one term                                     ∂term/∂(model output)
==========================  ===========================================  =====================
mse                         (ŷ − y)²                                     2(ŷ − y)
binary_cross_entropy        softplus(z) − y·z                            σ(z) − y
cross_entropy               log Σⱼ e^{zⱼ} − z_y                          softmax(z)ⱼ − [j = y]
hinge                       max(0, 1 − t·s)                              −t if t·s < 1 else 0
==========================  ===========================================  =====================
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .checks import as_real, short
from .engine import Value, logsumexp, sum_values

__all__ = ["LOSSES", "bad_targets", "binary_cross_entropy", "cross_entropy", "decision_threshold", "get_loss",
           "hinge", "loss_name", "mse"]

Loss = Callable[[Any, Any], Value]


# ---- shaping inputs --------------------------------------------------------------------
def _rows(x: object, what: str) -> list[Any]:
    """A list of per-example entries: one Value/number becomes a list of one."""
    if isinstance(x, np.ndarray):
        x = x.tolist()
    if isinstance(x, Value | numbers.Real):
        return [x]
    if isinstance(x, str) or not isinstance(x, Sequence):
        raise TypeError(f"{what} must be a Value, a number or a list of them, got {type(x).__name__}: {x!r}")
    return list(x)


def _flat(x: object, what: str) -> list[Any]:
    """All the numbers/Values in x, nested lists flattened in order."""
    out: list[Any] = []
    stack = [x.tolist() if isinstance(x, np.ndarray) else x]
    while stack:
        item = stack.pop()
        if isinstance(item, Value | numbers.Real) and not isinstance(item, bool):
            out.append(item)
        elif isinstance(item, Sequence | np.ndarray) and not isinstance(item, str):
            stack.extend(reversed(item.tolist() if isinstance(item, np.ndarray) else item))
        else:
            raise TypeError(f"{what} must hold Values and numbers, got {type(item).__name__}: {item!r}")
    return out


def _pairs(preds: object, targets: object, pred_name: str) -> list[tuple[Any, Any]]:
    """(output, target) pairs, checking that the two sides have the same shape."""
    p_rows, t_rows = _rows(preds, pred_name), _rows(targets, "targets")
    if len(p_rows) != len(t_rows):
        raise ValueError(f"{pred_name} has {len(p_rows)} entries but targets has {len(t_rows)}")
    if not p_rows:
        raise ValueError(f"{pred_name} and targets are empty: a mean needs at least one example")
    pairs: list[tuple[Any, Any]] = []
    for i, (p, t) in enumerate(zip(p_rows, t_rows)):
        p_flat, t_flat = _flat(p, pred_name), _flat(t, "targets")
        if len(p_flat) != len(t_flat):
            raise ValueError(f"row {i}: {pred_name} has {len(p_flat)} values but targets has {len(t_flat)}")
        pairs.extend(zip(p_flat, t_flat))
    if not pairs:
        raise ValueError(f"{pred_name} and targets hold no values")
    return pairs


def _value(x: Value | float) -> Value:
    return x if isinstance(x, Value) else Value(x)


def _target(t: object, i: int, allowed: Callable[[float], bool], allowed_text: str) -> float:
    if isinstance(t, Value):
        t = t.data
    number = as_real(t)
    if number is None or not allowed(number):
        raise ValueError(f"target {i} is {t!r}; targets must be {allowed_text}")
    return number


def _mean(terms: list[Value]) -> Value:
    """(1/N)·Σ terms: one "sum" node, then a division by N."""
    return sum_values(terms) / len(terms)


# ---- the losses --------------------------------------------------------------------------
def mse(preds: Any, targets: Any) -> Value:
    """Mean squared error, for regression: L = (1/N) Σ (ŷᵢ − yᵢ)².  ∂L/∂ŷᵢ = 2(ŷᵢ − yᵢ)/N.

    ``preds`` and ``targets`` have the same shape (a list, or a list of rows for several
    outputs); targets may be numbers or Values.
    """
    terms = []
    for i, (p, t) in enumerate(_pairs(preds, targets, "preds")):
        if not isinstance(t, Value):
            _target(t, i, math.isfinite, "finite numbers")
        terms.append((_value(p) - t) ** 2)
    return _mean(terms)


def binary_cross_entropy(logits: Any, targets: Any) -> Value:
    """Binary cross-entropy from logits z (ŷ = σ(z) is never formed), labels y in [0, 1]:

        −[y·log σ(z) + (1 − y)·log(1 − σ(z))] = softplus(z) − y·z,   ∂/∂z = σ(z) − y,

    with softplus(z) = log(1 + eᶻ) computed stably by the engine. L is the mean over examples.
    """
    terms = []
    for i, (z, y) in enumerate(_pairs(logits, targets, "logits")):
        y = _target(y, i, lambda v: 0.0 <= v <= 1.0, "in [0, 1] (class labels 0/1)")
        z = _value(z)
        terms.append(z.softplus() - y * z)
    return _mean(terms)


def cross_entropy(logits_rows: Any, class_ids: Any) -> Value:
    """Softmax cross-entropy: row zᵢ of K logits, true class yᵢ in 0 … K−1:

        Lᵢ = −log softmax(zᵢ)_y = log Σⱼ e^{zᵢⱼ} − zᵢ_y,   ∂Lᵢ/∂zᵢⱼ = softmax(zᵢ)ⱼ − [j = y].

    log Σⱼ e^{zⱼ} is one `engine.logsumexp` node, which subtracts the row's largest logit m
    first, m + log Σⱼ e^{zⱼ − m}, so every exponent is ≤ 0 and nothing overflows; m is taken
    inside the op, so a compiled engine takes it again for every row it replays.
    One row with one int class id is accepted as a batch of one. L is the mean over rows.
    """
    if isinstance(class_ids, numbers.Integral):  # numpy ints included
        logits_rows, class_ids = [logits_rows], [class_ids]
    rows, ids = _rows(logits_rows, "logits_rows"), _rows(class_ids, "class_ids")
    if len(rows) != len(ids):
        raise ValueError(f"logits_rows has {len(rows)} rows but class_ids has {len(ids)}")
    if not rows:
        raise ValueError("logits_rows and class_ids are empty: a mean needs at least one example")
    terms = []
    for i, (row, y) in enumerate(zip(rows, ids)):
        z = [_value(v) for v in _flat(row, "logits_rows")]
        k = len(z)
        if k == 0:
            raise ValueError(f"row {i} of logits_rows is empty")
        number = as_real(y)
        if number is None or not (number.is_integer() and 0 <= number < k):
            if k == 1 and number is not None and number.is_integer():
                raise ValueError(f"class id {short(y)} of row {i} needs a logit of its own, but the row has "
                                 f"1: cross-entropy takes one logit per class (a model with one output "
                                 f"per class; one score for two classes is hinge or binary_cross_entropy)")
            raise ValueError(f"class id {short(y)} of row {i} is not an integer in 0 … {k - 1} ({k} logits)")
        terms.append(logsumexp(z) - z[int(number)])
    return _mean(terms)


def hinge(scores: Any, targets: Any) -> Value:
    """Hinge loss for a ±1 classifier: L = (1/N) Σ max(0, 1 − tᵢ·sᵢ), tᵢ ∈ {−1, +1}.

    Targets 0/1 are accepted too (0 counts as −1). ∂/∂sᵢ = −tᵢ/N while the margin tᵢ·sᵢ < 1,
    else 0: examples classified with margin ≥ 1 stop pulling.
    """
    terms = []
    for i, (s, t) in enumerate(_pairs(scores, targets, "scores")):
        t = _target(t, i, lambda v: v in (-1.0, 0.0, 1.0), "-1/+1 (or 0/1, 0 meaning -1)")
        s = _value(s)
        # 1 − t·s is 1 − s for t = +1 and 1 + s for t = −1: one node instead of two.
        terms.append((1 - s if t > 0 else s + 1).relu())
    return _mean(terms)


#: The losses by name, for ``fit(loss="...")``.
LOSSES: dict[str, Loss] = {
    "mse": mse,
    "binary_cross_entropy": binary_cross_entropy,
    "bce": binary_cross_entropy,
    "cross_entropy": cross_entropy,
    "ce": cross_entropy,
    "hinge": hinge,
}


def get_loss(loss: str | Loss) -> Loss:
    """The loss function for a name in `LOSSES` (e.g. "mse", "hinge"); a callable of your own
    comes back checked: a call that returns anything but a Value raises TypeError saying what."""
    if isinstance(loss, str):
        try:
            return LOSSES[loss.lower()]
        except KeyError:
            raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(map(repr, LOSSES))}") from None
    if isinstance(loss, _CheckedLoss) or loss in LOSSES.values():
        return loss
    if callable(loss):
        return _CheckedLoss(loss)
    raise TypeError(f"loss must be a name or a callable (preds, targets) -> Value, got {short(loss)}")


class _CheckedLoss:
    """A loss of the user's own, which must return a Value: backpropagation starts from it."""

    def __init__(self, loss: Loss) -> None:
        functools.update_wrapper(self, loss)
        self.loss = loss

    def __call__(self, preds: Any, targets: Any) -> Value:
        out = self.loss(preds, targets)
        if not isinstance(out, Value):
            name = getattr(self.loss, "__name__", type(self.loss).__name__)
            raise TypeError(f"the loss {name} returned {type(out).__name__} {short(out)}, not a Value: "
                            f"compute it from the predictions (Values) so that backward() can reach "
                            f"the parameters, e.g. with microgradlike.losses.mse(preds, targets)")
        return out


def loss_name(loss: str | Loss | None) -> str | None:
    """The name of one of `LOSSES` ("bce" is "binary_cross_entropy", "ce" "cross_entropy"), given
    by a name or as the function; None for anything else (a loss of your own, None)."""
    if isinstance(loss, str):
        loss = LOSSES.get(loss.lower())
    return loss.__name__ if loss is not None and loss in LOSSES.values() else None


def bad_targets(loss: Loss, targets: np.ndarray, n_classes: int = 2) -> np.ndarray:
    """Which of ``targets`` (a numpy array, entry by entry) ``loss`` cannot read, as a mask:
    cross_entropy's are class ids, whole numbers 0 … ``n_classes`` − 1; hinge's −1, 0 or 1 (0
    meaning −1); binary_cross_entropy's in [0, 1]; any other loss reads every number. The one rule
    that `fit`, its torch engine and `replay.Replay` check whole arrays of targets by."""
    if loss is cross_entropy:
        return (targets != np.round(targets)) | (targets < 0) | (targets >= n_classes)
    if loss is hinge:
        return ~np.isin(targets, (-1, 0, 1))
    if loss is binary_cross_entropy:
        return (targets < 0) | (targets > 1)
    return np.zeros(np.shape(targets), dtype=bool)


def decision_threshold(loss: str | Loss, targets: Sequence[Any]) -> float:
    """Where ONE output s splits two classes trained with ``loss`` on ``targets`` (low, high):
    the second class is predicted where s > the threshold.

    hinge: 0 (its targets are −1/+1, 0 meaning −1: the sign of s); binary cross-entropy: 0
    (s is a logit, and s > 0 ⟺ σ(s) > ½); mse: (t₀ + t₁)/2, the midpoint of the two targets,
    since s estimates the target (0.5 on 0/1, 0 on −1/+1). cross-entropy has no threshold: it
    takes one output per class. ValueError for anything else, naming it.
    """
    name = loss_name(loss)
    if name in ("hinge", "binary_cross_entropy"):
        return 0.0
    if name == "mse":
        pair = [t for t in map(as_real, targets) if t is not None and math.isfinite(t)]
        if len(pair) != 2 or len(targets) != 2:
            raise ValueError(f"after mse the threshold is the midpoint of the two classes' targets, but "
                             f"{short(list(targets))} are not two numbers: give the threshold (0.5 for "
                             f"targets 0/1, 0 for -1/+1)")
        return (pair[0] + pair[1]) / 2
    if name == "cross_entropy":
        raise ValueError("cross_entropy has no threshold: it takes one output per class and the "
                         "largest wins (a model with one output is trained with hinge, "
                         "binary_cross_entropy or mse)")
    raise ValueError(f"no threshold is known for the loss {short(loss)}: give the threshold itself")
