"""How `fit` computes one batch's loss and gradients, with each engine: `make_loss_and_grad`.

* ``"eager"`` builds the Value graph of the whole batch and calls ``backward()``: the engine to
  read and to step through.
* ``"tape"`` traces one sample's loss once (`microgradlike.compile.trace`) and replays it as a
  generated float loop over the samples.
* ``"batched"`` replays the model's trace with numpy, one row per sample: the whole batch
  forward and backward in one pass, each layer one matrix product.

All three give the same numbers (to rounding): the compiled engines replay exactly the graph the
eager engine builds for each sample. They are in `microgradlike.compiled_engines`, which (with the
compiler) is imported when one of them is first used.

`fit`'s loop drives a `Trainer`: the parameters, a batch's loss and gradient, the optimiser's step.
`ValueTrainer` is the three engines' (the parameters are the model's Values);
`microgradlike.torch_engine.TorchTrainer` trains the same model through PyTorch, on a CPU or GPU.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from .engine import Value, no_grad
from .losses import LOSSES, binary_cross_entropy, cross_entropy, get_loss, hinge
from .nn import MLP, Layer, Neuron, SigmoidSum, SigmoidUnit

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
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(map(repr, ENGINES))}")
    loss = get_loss(loss_fn) if isinstance(loss_fn, str) else loss_fn
    if not callable(loss):
        raise TypeError(f"loss_fn must be a callable (preds, targets) -> Value or a name, got {loss_fn!r}")
    if engine == "auto":
        engine = choose_engine(model, loss)[0]
    if engine == "eager":
        return _eager_loss_and_grad(model, loss)
    from .compiled_engines import CompiledLossAndGrad  # the compiler loads only when it is used

    by_value = loss in (cross_entropy, hinge, binary_cross_entropy)
    return CompiledLossAndGrad(model, loss, engine, by_value)


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
