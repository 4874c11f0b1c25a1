"""How `fit` computes one batch's loss and gradients, with each engine: `make_loss_and_grad`.

* ``"eager"`` builds the Value graph of the whole batch and calls ``backward()``: the engine to
  read and to step through.
* ``"tape"`` traces one sample's loss once (`microgradlike.compile.trace`) and replays it as a
  generated float loop over the samples.
* ``"batched"`` replays the model's trace with numpy, one vector entry per sample: the whole batch
  forward and backward in one pass.

All three give the same numbers (to rounding): the compiled engines replay exactly the graph the
eager engine builds for each sample.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .compile import trace
from .engine import Value, no_grad
from .losses import LOSSES, get_loss
from .nn import MLP, Layer, Neuron, SigmoidSum, SigmoidUnit
from .tape import Tape

__all__ = ["ENGINES", "LossAndGrad", "choose_engine", "make_evaluate", "make_loss_and_grad"]

#: How a batch's loss and gradients can be computed (see the module docstring); "auto" picks one
#: of the other three with `choose_engine`.
ENGINES = ("auto", "eager", "tape", "batched")
#: Models whose forward pass is engine ops only (no Python branch on ``.data``): a trace of one
#: sample replays every sample exactly. Exactly these classes: a subclass may change the forward.
_TRACEABLE_MODELS = (Neuron, Layer, MLP, SigmoidUnit, SigmoidSum)


def choose_engine(model: Any, loss: str | Callable) -> tuple[str, str]:
    """The engine ``fit(engine="auto")`` runs for ``model`` and ``loss``, and why.

    ``"batched"`` (the fastest, with the same numbers as eager) when a trace of one sample is
    exact for every sample: the model is one of `microgradlike.nn`'s own classes (not a
    subclass) and the loss one of `microgradlike.losses`. Otherwise ``"eager"``: a custom model
    may branch on ``.data`` in Python, which a trace freezes, and a custom loss may not be a
    mean of per-sample terms, which the batched engine assumes.
    """
    loss_fn = get_loss(loss)
    kind = type(model).__name__
    if type(model) not in _TRACEABLE_MODELS:
        return "eager", (f"{kind} is not one of microgradlike.nn's models, so it may branch on .data "
                         f"(a trace would freeze the branch); pass engine='batched' if it does not")
    if loss_fn not in LOSSES.values():
        name = getattr(loss_fn, "__name__", type(loss_fn).__name__)
        return "eager", (f"the loss {name} is not one of microgradlike.losses, so it may not be a mean "
                         f"of per-sample terms (as batching assumes); pass engine='batched' if it is")
    return "batched", f"{kind} with the {loss_fn.__name__} loss traces exactly"


LossAndGrad = Callable[[Any, Any], float]


def make_loss_and_grad(model: Any, loss_fn: Callable[[Any, Any], Value] | str,
                       engine: str = "batched") -> LossAndGrad:
    """``(X_batch, y_batch) -> L`` that also sets every ``model.parameters()`` ``.grad`` to ∂L/∂p,

        L = loss_fn([model(x) for x in X_batch], y_batch),

    equal to the eager engine's result (to rounding) without building a graph per step.

    How: the per-sample loss ℓ(x, y) = loss_fn([model(x)], [y]) is traced once and replayed,
    and L = (1/N) Σₛ ℓ(xₛ, yₛ), ∂L/∂p = (1/N) Σₛ ∂ℓ/∂p. That holds when the loss is a mean of
    per-sample terms, true for every loss in `microgradlike.losses`; a custom loss must be one.

    Targets: for ``mse`` (which does arithmetic on its targets) y is an input slot, so one tape
    serves every target. Losses that read their targets as plain numbers — ``cross_entropy``
    indexes the row by the class id, ``hinge`` picks 1 − s or 1 + s by sign, ``binary_cross_entropy``
    multiplies by y — are traced once per distinct target (usually a handful of labels), so every
    sample replays exactly the graph eager builds for it. A custom loss is treated like mse,
    unless all its targets are integers (labels), which get one trace each.

    ``engine="eager"``: one Value graph for the batch, and ``backward()``.
    ``engine="tape"``: a generated float loop over the samples (model and loss fused).
    ``engine="batched"``: one numpy pass over the whole batch for the model, then each target's
    loss tape on its samples; parameter gradients are the weighted sums over samples.
    """
    from . import losses

    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(map(repr, ENGINES))}")
    loss = losses.get_loss(loss_fn) if isinstance(loss_fn, str) else loss_fn
    if not callable(loss):
        raise TypeError(f"loss_fn must be a callable (preds, targets) -> Value or a name, got {loss_fn!r}")
    if engine == "auto":
        engine = choose_engine(model, loss)[0]
    if engine == "eager":
        return _eager_loss_and_grad(model, loss)
    by_value = loss in (losses.cross_entropy, losses.hinge, losses.binary_cross_entropy)
    return _LossAndGrad(model, loss, engine, by_value)


class _LossAndGrad:
    """The callable `make_loss_and_grad` returns; caches one tape per target key."""

    def __init__(self, model: Any, loss: Callable, engine_name: str, by_value: bool) -> None:
        self.model, self.loss, self.engine, self.by_value = model, loss, engine_name, by_value
        self.params = list(model.parameters())
        self._fused: dict[Any, Tape] = {}  # engine="tape": model + loss, per target key
        self._model_tape: Tape | None = None  # engine="batched": the model alone ...
        self._loss_tapes: dict[Any, Tape] = {}  # ... and the loss, per target key

    def __call__(self, X_batch: Any, y_batch: Any) -> float:
        X = np.asarray(X_batch, dtype=np.float64)
        if X.ndim == 1:
            X = X.reshape(-1, 1)
        n = X.shape[0]
        if X.ndim != 2 or n == 0:
            raise ValueError(f"X_batch must be a non-empty list of rows, got shape {X.shape}")
        targets = y_batch.tolist() if isinstance(y_batch, np.ndarray) else list(y_batch)
        if len(targets) != n:
            raise ValueError(f"X_batch has {n} rows but y_batch has {len(targets)} targets")
        flat_targets = [_flatten_target(t) for t in targets]
        by_value = self.by_value or all(float(v).is_integer() for t in flat_targets for v in t)
        # A tuple key (the target itself) or an int key (its length) never collide.
        groups: dict[Any, list[int]] = {}
        for i, t in enumerate(flat_targets):
            groups.setdefault(tuple(t) if by_value else len(t), []).append(i)
        run = self._run_tape if self.engine == "tape" else self._run_batched
        total, grads = run(X, targets, flat_targets, groups, by_value)
        for p, g in zip(self.params, grads):
            p.grad = g / n
        return total / n

    # -- engine="tape": one fused tape (model + loss) per target key, a float loop over samples --
    def _run_tape(self, X: np.ndarray, targets: list, flat_targets: list, groups: dict,
                  by_value: bool) -> tuple[float, list[float]]:
        rows_all = X.tolist()
        total, grads = 0.0, [0.0] * len(self.params)
        for key, idx in groups.items():
            first = idx[0]
            if key not in self._fused:
                self._fused[key] = _trace_sample_loss(self.loss, self.model, rows_all[first], targets[first],
                                                      flat_targets[first], by_value, params=self.model)
            if by_value:
                rows = [rows_all[i] for i in idx]
            else:
                rows = [rows_all[i] + flat_targets[i] for i in idx]
            part, part_grads = self._fused[key].sum_over_rows(rows)
            total += part
            grads = [a + b for a, b in zip(grads, part_grads[:len(grads)])]
        return total, grads

    # -- engine="batched": the model batched once, then each key's loss tape on its samples --
    def _run_batched(self, X: np.ndarray, targets: list, flat_targets: list, groups: dict,
                     by_value: bool) -> tuple[float, list[float]]:
        n = X.shape[0]
        if self._model_tape is None:
            model = self.model
            self._model_tape = trace(lambda x: _as_outputs(model(x)), X[0].tolist(), params=model)
        model_tape = self._model_tape
        params = model_tape.current_params()
        columns = list(np.ascontiguousarray(X.T))
        with np.errstate(over="ignore"):
            preds, saved = model_tape.function("forward", "numpy")(*columns, params)
        preds = [np.broadcast_to(p, (n,)) for p in preds]
        k = len(preds)
        total = 0.0
        dpreds = [np.zeros(n) for _ in range(k)]
        for key, idx in groups.items():
            first = idx[0]
            if key not in self._loss_tapes:
                self._loss_tapes[key] = _trace_sample_loss(
                    self.loss, _first_if_one, [float(p[first]) for p in preds], targets[first],
                    flat_targets[first], by_value)
            tape = self._loss_tapes[key]
            index = np.asarray(idx)
            cols = [p[index] for p in preds]
            if not by_value:
                cols += list(np.asarray([flat_targets[i] for i in idx], dtype=np.float64).T)
            wanted = (True,) * k + (False,) * (tape.program.n_input_slots - k)  # ∂ℓ/∂preds, not ∂ℓ/∂y
            outputs, grads, _ = tape.batched_value_and_grad(cols, np.ones(len(idx)), wanted)
            total += float(np.sum(outputs[0]))
            for j in range(k):
                dpreds[j][index] = grads[j]
        wanted_none = (False,) * model_tape.program.n_input_slots
        with np.errstate(over="ignore"):
            _, param_grads = model_tape.function("backward", "numpy", wanted_none)(saved, params, *dpreds)
        return total, [float(g) for g in param_grads]


def _trace_sample_loss(loss: Callable, predict: Callable, example: list[float], target: Any,
                       flat_target: list[float], by_value: bool, params: Any = None) -> Tape:
    """The tape of one sample's loss ℓ = loss([predict(x)], [y]), traced at ``example``.

    ``by_value``: ``target`` is built in as the plain number(s) it is (one tape per distinct
    target). Otherwise y is a second input (its numbers flattened, as ``flat_target``)."""
    if by_value:
        return trace(lambda x: loss([predict(x)], [target]), example, params=params)
    as_list = isinstance(target, Sequence)
    return trace(lambda x, y: loss([predict(x)], [y if as_list else y[0]]), example, flat_target,
                 params=params)


def _first_if_one(zs: list[Value]) -> Value | list[Value]:
    """A model's outputs as the model gives them: one Value alone, several as a list."""
    return zs[0] if len(zs) == 1 else zs


def _as_outputs(out: Any) -> list[Value]:
    return [out] if isinstance(out, Value) else list(out)


def _flatten_target(t: Any) -> list[float]:
    if isinstance(t, Sequence | np.ndarray) and not isinstance(t, str):
        return [float(v) for v in np.asarray(t, dtype=np.float64).ravel()]
    return [float(t)]


def _eager_loss_and_grad(model: Any, loss: Callable) -> LossAndGrad:
    def loss_and_grad(rows: Any, targets: Any) -> float:
        model.zero_grad()  # parameter grads accumulate across backward() calls
        out = loss([model(row) for row in rows], list(targets))
        out.backward()
        return out.data

    return loss_and_grad


def make_evaluate(model: Any, loss_fn: Callable, engine: str, loss_and_grad: LossAndGrad,
                  params: Sequence[Value]) -> Callable[[Any, Any], float]:
    """``(rows, targets) -> loss`` at the current parameters, leaving every ``.grad`` as it was."""
    if engine == "eager":
        def evaluate(rows: Any, targets: Any) -> float:
            with no_grad():  # a forward pass only: no graph is built
                return float(loss_fn([model(row) for row in rows], list(targets)).data)

        return evaluate

    def evaluate_compiled(rows: Any, targets: Any) -> float:
        grads = [p.grad for p in params]  # compiled engines compute grads too: keep the update's
        value = loss_and_grad(rows, targets)
        for p, g in zip(params, grads):
            p.grad = g
        return value

    return evaluate_compiled
