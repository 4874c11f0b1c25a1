"""How `fit` computes one batch's loss and gradients, with each engine: `make_loss_and_grad`.

* ``"eager"`` builds the Value graph of the whole batch and calls ``backward()``: the engine to
  read and to step through.
* ``"tape"`` traces one sample's loss once (`microgradlike.compile.trace`) and replays it as a
  generated float loop over the samples.
* ``"batched"`` replays the model's trace with numpy, one row per sample: the whole batch
  forward and backward in one pass, each layer one matrix product.

All three give the same numbers (to rounding): the compiled engines replay exactly the graph the
eager engine builds for each sample.

`fit`'s loop drives a `Trainer`: the parameters, a batch's loss and gradient, the optimiser's step.
`ValueTrainer` is the three engines' (the parameters are the model's Values);
`microgradlike.torch_engine.TorchTrainer` trains the same model through PyTorch, on a CPU or GPU.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

import numpy as np

from .compile import trace
from .engine import Value, no_grad
from .losses import LOSSES, get_loss
from .merging import Merged, merge
from .nn import MLP, Layer, Neuron, SigmoidSum, SigmoidUnit
from .tape import Tape

__all__ = ["ENGINES", "FIT_ENGINES", "LossAndGrad", "Trainer", "ValueTrainer", "choose_engine",
           "make_evaluate", "make_loss_and_grad"]

#: How a batch's loss and gradients can be computed (see the module docstring); "auto" picks one
#: of the other three with `choose_engine`.
ENGINES = ("auto", "eager", "tape", "batched")
#: What ``fit(engine=...)`` takes: those, and "torch" (`microgradlike.torch_engine`), which "auto"
#: never picks: it needs PyTorch, and pays only for big batches or a GPU.
FIT_ENGINES = (*ENGINES, "torch")
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
    ``engine="batched"``: one numpy pass over the whole batch for the model, each layer one matrix
    product (`microgradlike.fusion`), then the loss: the targets' tapes merged into one program
    when they differ only in what they read (`microgradlike.merging`: cross_entropy's class ids,
    binary_cross_entropy's labels), else each target's tape on its own samples.

    The compiled engines' callable also has ``evaluate(X_batch, y_batch) -> L``: the same loss
    from forward passes alone, leaving every ``.grad`` as it was (`make_evaluate`).
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


@dataclass
class _Keys:
    """The targets' keys of a batch: ``keys`` (one per loss tape it needs), for each row the
    index of its key (``inverse``), and each key's first row (``firsts``)."""

    keys: list[Any]
    inverse: np.ndarray
    firsts: list[int]

    @cached_property
    def groups(self) -> list[tuple[Any, np.ndarray]]:
        """(key, the indices of its rows) for each key."""
        if len(self.keys) == 1:
            return [(self.keys[0], np.arange(len(self.inverse)))]
        order = np.argsort(self.inverse, kind="stable")  # each key's rows, in batch order
        stops = np.cumsum(np.bincount(self.inverse, minlength=len(self.keys))).tolist()
        return [(key, order[start:stop]) for key, start, stop in zip(self.keys, [0, *stops[:-1]], stops)]


@dataclass
class _Batch:
    """One call's data, checked: ``X`` (N × d), ``T`` the targets as numbers (N × t), ``targets``
    as given (a target traced into a loss by value is the caller's own object), and the keys of
    the loss tapes it needs."""

    X: np.ndarray
    T: np.ndarray
    targets: Any
    by_value: bool
    grouping: _Keys

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def keys(self) -> list[Any]:
        return self.grouping.keys

    def target(self, i: int) -> Any:
        """Row i's target as the caller gave it (a numpy entry as a Python number or list)."""
        t = self.targets[i]
        return t.tolist() if isinstance(t, np.ndarray | np.generic) else t


class _MergedLoss:
    """The loss tapes of several targets as one tape (`microgradlike.merging`): each row reads
    its own target's choices, so one batched replay computes every row's loss."""

    def __init__(self, keys: list[Any], merged: Merged) -> None:
        self.position = {key: k for k, key in enumerate(keys)}
        self.tape = Tape(merged.program, [], single_output=True)
        self.choices = [(np.asarray(c.slots, dtype=np.intp) if c.slots is not None else None,
                         None if c.numbers is None else np.asarray(c.numbers)) for c in merged.choices]
        self._picks: dict[int, tuple[_Keys, list]] = {}  # recent batches' targets -> `picks`

    def picks(self, grouping: _Keys) -> list[tuple[tuple[np.ndarray, np.ndarray] | None, np.ndarray | None]]:
        """For each choice, what each row reads: ((rows, columns) of the logits, None) for a slot,
        (None, numbers) for a plain number. Kept for the few targets seen last (they recur)."""
        if id(grouping) not in self._picks:
            tape_of_row = np.asarray([self.position[key] for key in grouping.keys])[grouping.inverse]
            rows = np.arange(len(tape_of_row))
            picks = [((rows, slots[tape_of_row]), None) if slots is not None else (None, numbers[tape_of_row])
                     for slots, numbers in self.choices]
            recent = dict(list(self._picks.items())[-3:])  # each entry holds its grouping: ids stay unique
            self._picks = {**recent, id(grouping): (grouping, picks)}
        return self._picks[id(grouping)][1]

    def __call__(self, batch: _Batch, preds: np.ndarray, backward: bool) -> tuple[float, np.ndarray | None]:
        """Σ of the rows' losses and, with ``backward``, ∂(Σ loss)/∂preds."""
        picks = self.picks(batch.grouping)
        arguments = [preds]
        if picks:
            chosen = np.empty((batch.n, len(picks)))
            for j, (where, numbers) in enumerate(picks):
                chosen[:, j] = preds[where] if where is not None else numbers
            arguments.append(chosen)
        P = np.zeros(0)
        outputs, saved = self.tape.function("forward", "numpy")(*arguments, P)
        if not backward:
            return float(outputs.sum()), None
        read_preds = any(where is not None for where, _ in picks)
        wanted = (True, read_preds) if picks else (True,)
        grads, _ = self.tape.function("backward", "numpy", wanted)(saved, P, np.ones((batch.n, 1)))
        dpreds = grads[0]
        for j, (where, _) in enumerate(picks):
            if where is not None:  # a chosen logit's gradient goes back to that logit
                dpreds[where] += grads[1][:, j]
        return float(outputs.sum()), dpreds


class _LossAndGrad:
    """The callable `make_loss_and_grad` returns; caches one tape per target key.

    ``evaluate(X, y)`` is the same loss from forward passes alone: no backward pass, no ``.grad``
    touched (`make_evaluate` hands it to `fit`)."""

    def __init__(self, model: Any, loss: Callable, engine_name: str, by_value: bool) -> None:
        self.model, self.loss, self.engine, self.by_value = model, loss, engine_name, by_value
        self.params = list(model.parameters())
        self._fused: dict[Any, Tape] = {}  # engine="tape": model + loss, per target key
        self._model_tape: Tape | None = None  # engine="batched": the model alone ...
        self._loss_tapes: dict[Any, Tape] = {}  # ... and the loss, per target key ...
        self._merged: tuple[tuple, _MergedLoss | None] = ((), None)  # ... merged, if they can be
        self._keys: dict[bytes, _Keys] = {}  # the targets' keys of recent batches (the same y recurs)

    def __call__(self, X_batch: Any, y_batch: Any) -> float:
        batch = self._batch(X_batch, y_batch)
        run = self._run_tape if self.engine == "tape" else self._run_batched
        total, grads = run(batch, backward=True)
        for p, g in zip(self.params, (grads / batch.n).tolist()):
            p.grad = g
        return total / batch.n

    def evaluate(self, X_batch: Any, y_batch: Any) -> float:
        """The mean loss over the batch at the current parameters, forward passes only."""
        batch = self._batch(X_batch, y_batch)
        run = self._run_tape if self.engine == "tape" else self._run_batched
        return run(batch, backward=False)[0] / batch.n

    def _batch(self, X_batch: Any, y_batch: Any) -> _Batch:
        X = np.asarray(X_batch, dtype=np.float64)
        if X.ndim == 1:
            X = X.reshape(-1, 1)
        n = X.shape[0]
        if X.ndim != 2 or n == 0:
            raise ValueError(f"X_batch must be a non-empty list of rows, got shape {X.shape}")
        targets = y_batch if isinstance(y_batch, np.ndarray) else list(y_batch)
        if len(targets) != n:
            raise ValueError(f"X_batch has {n} rows but y_batch has {len(targets)} targets")
        try:
            T = np.asarray(targets, dtype=np.float64).reshape(n, -1)
        except (TypeError, ValueError) as e:
            raise ValueError(f"y_batch must hold numbers, or rows of numbers of one length: {e}") from None
        # A loss that reads its targets as plain numbers gets one tape per distinct target
        # (usually a handful of labels); integer targets are taken for labels too.
        by_value = self.by_value or bool(np.all(np.mod(T, 1.0) == 0.0))
        if not by_value:  # the targets are an input of one tape, keyed by their length
            return _Batch(X, T, targets, by_value, _Keys([T.shape[1]], np.zeros(n, dtype=np.intp), [0]))
        seen = T.tobytes() + repr(T.shape).encode()
        if seen not in self._keys:
            values, first, inverse = np.unique(T, axis=0, return_index=True, return_inverse=True)
            keys = _Keys([tuple(row) for row in values.tolist()], inverse.ravel(), first.tolist())
            recent = dict(list(self._keys.items())[-3:])  # a few: the training set's, the validation set's
            self._keys = {**recent, seen: keys}
        return _Batch(X, T, targets, by_value, self._keys[seen])

    # -- engine="tape": one fused tape (model + loss) per target key, a float loop over samples --
    def _run_tape(self, batch: _Batch, backward: bool) -> tuple[float, np.ndarray]:
        rows_all = batch.X.tolist()
        total, grads = 0.0, np.zeros(len(self.params))
        for (key, index), first in zip(batch.grouping.groups, batch.grouping.firsts):
            if key not in self._fused:
                self._fused[key] = _trace_sample_loss(self.loss, self.model, rows_all[first],
                                                      batch.target(first), batch.T[first].tolist(),
                                                      batch.by_value, params=self.model)
            tape = self._fused[key]
            if batch.by_value:
                rows = [rows_all[i] for i in index]
            else:  # the targets' numbers follow the row's, as the tape's second input
                targets = batch.T.tolist()
                rows = [rows_all[i] + targets[i] for i in index]
            if backward:
                part, part_grads = tape.sum_over_rows(rows)
                grads += part_grads[:len(grads)]
            else:
                part = tape.total_over_rows(rows)
            total += part
        return total, grads

    # -- engine="batched": the model fused and batched once, then the loss --
    def _run_batched(self, batch: _Batch, backward: bool) -> tuple[float, np.ndarray]:
        if self._model_tape is None:
            model = self.model
            self._model_tape = trace(lambda x: _as_outputs(model(x)), batch.X[0].tolist(), params=model)
        model_tape = self._model_tape
        params = model_tape.params_vector()
        with np.errstate(all="ignore"):  # exp overflows to inf, as the engine's does
            preds, saved = model_tape.function("forward", "numpy")(batch.X, params)  # N × (outputs)
            for key, first in zip(batch.keys, batch.grouping.firsts):
                if key not in self._loss_tapes:
                    self._loss_tapes[key] = _trace_sample_loss(
                        self.loss, _first_if_one, preds[first].tolist(), batch.target(first),
                        batch.T[first].tolist(), batch.by_value)
            merged = self._merged_loss() if batch.by_value else None
            if merged is not None:
                total, dpreds = merged(batch, preds, backward)
            else:
                total, dpreds = self._loss_by_key(batch, preds, backward)
            if not backward:
                return total, np.zeros(0)
            _, param_grads = model_tape.function("backward", "numpy", (False,))(saved, params, dpreds)
        return total, param_grads

    def _merged_loss(self) -> _MergedLoss | None:
        """The loss tapes of every target seen so far as one tape, if they merge (they do for the
        losses of `microgradlike.losses` but hinge, whose two traces differ in an op)."""
        keys = tuple(self._loss_tapes)
        if self._merged[0] != keys:
            programs = [tape.program for tape in self._loss_tapes.values()]
            merged = merge(programs) if not any(p.param_names for p in programs) else None
            self._merged = (keys, None if merged is None else _MergedLoss(list(keys), merged))
        return self._merged[1]

    def _loss_by_key(self, batch: _Batch, preds: np.ndarray, backward: bool) -> tuple[float, np.ndarray]:
        """Each key's loss tape on its own rows: Σ of the losses and ∂(Σ loss)/∂preds."""
        total, dpreds = 0.0, np.empty_like(preds)
        everyone = len(batch.keys) == 1
        for key, index in batch.grouping.groups:
            tape = self._loss_tapes[key]
            rows = preds if everyone else preds[index]
            arguments = (rows,) if batch.by_value else (rows, batch.T if everyone else batch.T[index])
            P = tape.params_vector()
            outputs, saved = tape.function("forward", "numpy")(*arguments, P)
            total += float(outputs.sum())
            if backward:  # ∂ℓ/∂preds (not ∂ℓ/∂y), each row's ℓ seeded with 1
                wanted = (True,) if batch.by_value else (True, False)
                (dp, *_), _ = tape.function("backward", "numpy", wanted)(saved, P, np.ones((len(rows), 1)))
                dpreds[index] = dp
        return total, dpreds


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


def _eager_loss_and_grad(model: Any, loss: Callable) -> LossAndGrad:
    def loss_and_grad(rows: Any, targets: Any) -> float:
        model.zero_grad()  # parameter grads accumulate across backward() calls
        out = loss([model(row) for row in rows], list(targets))
        out.backward()
        return out.data

    return loss_and_grad


def make_evaluate(model: Any, loss_fn: Callable, engine: str,
                  loss_and_grad: LossAndGrad) -> Callable[[Any, Any], float]:
    """``(rows, targets) -> loss`` at the current parameters, leaving every ``.grad`` as it was.

    ``"eager"`` runs the model under `no_grad` (no graph at all); the compiled engines run their
    forward passes alone, ``loss_and_grad.evaluate`` (``loss_and_grad`` from
    `make_loss_and_grad`)."""
    if engine != "eager":
        return loss_and_grad.evaluate  # type: ignore[attr-defined]

    def evaluate(rows: Any, targets: Any) -> float:
        with no_grad():  # a forward pass only: no graph is built
            return float(loss_fn([model(row) for row in rows], list(targets)).data)

    return evaluate


class Trainer(Protocol):
    """What `fit`'s loop drives, whichever engine computes: the parameters θ, a batch's loss L and
    ∇L, and the optimiser's step. The loop itself (batches, the divergence guard, validation, early
    stopping, the best epoch, callbacks) is written once, in `microgradlike.train`."""

    #: Where the parameters live: "" for the engines on Values (Python floats), else "cpu", "cuda:0", ...
    device: str

    def data(self, X: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        """Rows and targets in the form `loss_and_grad` takes (indexable by an array of row indices)."""

    def loss_and_grad(self, X: Any, y: Any) -> tuple[float, float]:
        """The batch's loss L and the norm ‖∇L‖₂ over all parameters, keeping ∇L for `step`."""

    def evaluate(self, X: Any, y: Any) -> float:
        """L at the current parameters, from forward passes alone (∇L is left as it was)."""

    def step(self) -> None:
        """The optimiser's update θ ← θ − (a step against ∇L)."""

    def finite(self) -> bool:
        """Whether every parameter is a finite number."""

    def snapshot(self) -> Any:
        """θ, in a form `restore` takes back."""

    def restore(self, snapshot: Any) -> None:
        """Put θ back as it was at `snapshot`."""

    def values(self) -> tuple[float, ...]:
        """θ as floats, in ``model.parameters()`` order."""

    def sync(self) -> None:
        """Make the model's Values hold θ, ∇L and the optimiser's state (before a callback, at the end)."""


class ValueTrainer:
    """The `Trainer` of the eager, tape and batched engines: θ is the model's own Values, which
    ``loss_and_grad`` (from `make_loss_and_grad`) gives their ``.grad`` and the optimiser steps."""

    device = ""

    def __init__(self, params: Sequence[Value], optimizer: Any, loss_and_grad: LossAndGrad,
                 evaluate: Callable[[Any, Any], float], lists: bool = False) -> None:
        self.params, self.optimizer, self.evaluate = params, optimizer, evaluate
        self._loss_and_grad, self.lists = loss_and_grad, lists

    def data(self, X: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        """The compiled engines take numpy arrays as they are; the eager engine (``lists``) calls
        model(row) on Python lists of floats."""
        return (X.tolist(), y.tolist()) if self.lists else (X, y)

    def loss_and_grad(self, X: Any, y: Any) -> tuple[float, float]:
        loss = self._loss_and_grad(X, y)
        return loss, math.hypot(*(p.grad for p in self.params))

    def step(self) -> None:
        self.optimizer.step()

    def finite(self) -> bool:
        return all(math.isfinite(p.data) for p in self.params)

    def snapshot(self) -> tuple[float, ...]:
        return tuple(p.data for p in self.params)

    values = snapshot

    def restore(self, snapshot: tuple[float, ...]) -> None:
        for p, value in zip(self.params, snapshot):
            p.data = value

    def sync(self) -> None:
        """Nothing to do: the Values are the parameters."""
