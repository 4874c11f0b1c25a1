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
`ValueTrainer` is the three engines' (the parameters are the model's Values); `VectorTrainer`
the compiled engines' with `optim.SGD` or `optim.Adam`, which keeps θ as one numpy vector while
it trains (the same numbers, without Python work per parameter per step; `make_trainer` picks);
`microgradlike.torch_engine.TorchTrainer` trains the same model through PyTorch, on a CPU or GPU.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from .checks import as_real, float_array, real
from .engine import Value, no_grad
from .losses import LOSSES, binary_cross_entropy, cross_entropy, get_loss, hinge
from .nn import MLP, Layer, Neuron, SigmoidSum, SigmoidUnit
from .optim import SGD, Adam
from .parameters import named, positions

__all__ = ["ENGINES", "FIT_ENGINES", "LossAndGrad", "Trainer", "ValueTrainer", "VectorTrainer",
           "choose_engine", "make_evaluate", "make_loss_and_grad", "make_trainer", "read_numbers"]


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

    def reload(self) -> None:
        """After a callback: take θ and the optimiser's state from the model's Values and the
        optimiser again (the callback may have changed them)."""


def make_trainer(params: Sequence[Value], optimizer: Any, loss_and_grad: LossAndGrad,
                 evaluate: Callable[[Any, Any], float], engine: str,
                 names: Sequence[str] = ()) -> ValueTrainer | VectorTrainer:
    """The `Trainer` of ``engine`` ("eager", "tape" or "batched"; ``loss_and_grad`` and
    ``evaluate`` from `make_loss_and_grad` and `make_evaluate`): a `VectorTrainer` for a compiled
    engine with microgradlike's own `SGD` or `Adam` (exactly these classes: a subclass may step
    otherwise), else a `ValueTrainer`. ``names``: the parameters' names for messages (default:
    their labels, or ``param<i>``)."""
    gradient = getattr(loss_and_grad, "gradient", None)
    if gradient is not None and type(optimizer) in (SGD, Adam):
        return VectorTrainer(params, optimizer, gradient, evaluate, names)
    return ValueTrainer(params, optimizer, loss_and_grad, evaluate, lists=engine == "eager", names=names)


def read_numbers(params: Sequence[Value], names: Sequence[str]) -> list[float]:
    """Make every parameter's data a float, as a callback may have left it (an int, a numpy
    float32), and return those floats; else TypeError or ValueError naming the parameter
    (`checks.real`'s wording): a str would otherwise fail deep in numpy or the engine, naming
    nothing. NaN and ±inf are numbers here: the divergence guard of `fit` says what they mean."""
    numbers = []
    for name, p in zip(names, params):
        data = p.data
        if type(data) is float:
            numbers.append(data)
            continue
        try:
            number = as_real(data)
        except ValueError:  # an int too large for a float
            number = None
        if number is None:  # no number (or an int too large): real raises, naming the parameter
            number = real(data, f"parameter {name}")
        p.data = number
        numbers.append(number)
    return numbers


class ValueTrainer:
    """The `Trainer` of the eager, tape and batched engines: θ is the model's own Values, which
    ``loss_and_grad`` (from `make_loss_and_grad`) gives their ``.grad`` and the optimiser steps."""

    device = ""

    def __init__(self, params: Sequence[Value], optimizer: Any, loss_and_grad: LossAndGrad,
                 evaluate: Callable[[Any, Any], float], lists: bool = False,
                 names: Sequence[str] = ()) -> None:
        self.params, self.optimizer, self.evaluate = params, optimizer, evaluate
        self._loss_and_grad, self.lists = loss_and_grad, lists
        self.names = list(names) or [name for name, _ in named(params)]

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

    def reload(self) -> None:
        """The Values are the parameters: only make sure each still holds a number (`read_numbers`)."""
        read_numbers(self.params, self.names)


class VectorTrainer:
    """The `Trainer` of the tape and batched engines with `optim.SGD` or `optim.Adam`: while it
    trains, θ, ∇L and the optimiser's state are numpy vectors (in ``model.parameters()`` order),
    and a step is a few numpy operations instead of Python work for every parameter.

    The update is the optimiser's own rule, entry by entry, in the same order of operations
    (`optim.SGD.step`: v ← μ·v + g, θ ← θ − η·v; `optim.Adam.step`), so θ is the same to the last
    bit as `ValueTrainer`'s; ‖∇L‖ is ``math.hypot`` of the same numbers. `sync` writes θ, ∇L and
    the optimiser's state (v; t, m and v) into the model's Values and the optimiser, `reload`
    reads them back. ``optimizer.lr`` is read at every step (a callback may set a schedule).

    ``gradient(X, y, theta) -> (L, ∇L)`` and ``evaluate(X, y, theta) -> L`` compute at θ (the
    compiled engines' `CompiledLossAndGrad.gradient` and ``.evaluate``).
    """

    device = ""

    def __init__(self, params: Sequence[Value], optimizer: SGD | Adam,
                 gradient: Callable[[Any, Any, np.ndarray], tuple[float, np.ndarray]],
                 evaluate: Callable[..., float], names: Sequence[str] = ()) -> None:
        self.params, self.optimizer = list(params), optimizer
        self.names = list(names) or [name for name, _ in named(self.params)]
        self._gradient, self._evaluate = gradient, evaluate
        order = np.asarray(positions(optimizer.params, self.params), dtype=np.intp)
        # the optimiser's lists are in its own parameter order; None when that is the model's
        self._order = None if np.array_equal(order, np.arange(len(order))) else order
        self._inverse = None if self._order is None else np.argsort(order)
        self.grad: np.ndarray | None = None  # ∇L of the last batch (None: none computed yet)
        self.theta: np.ndarray = np.zeros(0)
        self.state: list[np.ndarray] = []  # the optimiser's vectors (SGD: v, with momentum; Adam: m, v)
        self.reload()

    def data(self, X: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        return X, y

    def loss_and_grad(self, X: Any, y: Any) -> tuple[float, float]:
        loss, self.grad = self._gradient(X, y, self.theta)
        return loss, math.hypot(*self.grad.tolist())

    def evaluate(self, X: Any, y: Any) -> float:
        return self._evaluate(X, y, self.theta)

    def step(self) -> None:
        """`SGD.step` or `Adam.step` on the vectors (see the class docstring)."""
        if self.grad is None:
            raise RuntimeError("step() needs a gradient: call loss_and_grad first")
        with np.errstate(all="ignore"):  # a step may overflow to inf, as in Python floats (fit undoes it)
            self._step(self.optimizer, self.optimizer.lr, self.grad)

    def _step(self, opt: SGD | Adam, lr: float, g: np.ndarray) -> None:
        if isinstance(opt, Adam):
            opt.t += 1
            b1, b2 = opt.betas
            correction1, correction2 = 1.0 - b1**opt.t, 1.0 - b2**opt.t
            self.state[0] = b1 * self.state[0] + (1.0 - b1) * g
            self.state[1] = b2 * self.state[1] + (1.0 - b2) * g * g
            denominator = np.sqrt(self.state[1] / correction2) + opt.eps
            moving = denominator != 0.0  # as `optim.Adam.step`: no 0/0, and a NaN gradient gives NaN
            if moving.all():
                self.theta = self.theta - lr * (self.state[0] / correction1) / denominator
            else:
                theta = self.theta.copy()
                theta[moving] -= lr * (self.state[0][moving] / correction1) / denominator[moving]
                self.theta = theta
        elif opt.momentum == 0.0:
            self.theta = self.theta - lr * g
        else:
            self.state[0] = opt.momentum * self.state[0] + g
            self.theta = self.theta - lr * self.state[0]

    def finite(self) -> bool:
        return bool(np.isfinite(self.theta).all())

    def snapshot(self) -> np.ndarray:
        return self.theta  # never changed in place: a step or a restore makes a new vector

    def restore(self, snapshot: np.ndarray) -> None:
        self.theta = snapshot

    def values(self) -> tuple[float, ...]:
        return tuple(self.theta.tolist())

    def sync(self) -> None:
        """Write θ and ∇L into the model's Values, and the optimiser's state into the optimiser."""
        for p, value in zip(self.params, self.theta.tolist()):
            p.data = value
        if self.grad is not None:
            for p, g in zip(self.params, self.grad.tolist()):
                p.grad = g
        for name, vector in zip(self.optimizer.state_names(), self.state):
            setattr(self.optimizer, name, (vector if self._order is None else vector[self._order]).tolist())

    def reload(self) -> None:
        """Read θ from the model's Values and the optimiser's state from the optimiser (each
        checked: a callback may have left a parameter or a state entry that is no number)."""
        self.theta = np.array(read_numbers(self.params, self.names), dtype=np.float64)
        self.state = []
        for name in self.optimizer.state_names():
            where = f"the optimiser's {name}"
            held = float_array(getattr(self.optimizer, name), where, "one number per parameter")
            if held.shape != self.theta.shape:
                raise ValueError(f"{where} must hold one number per parameter ({len(self.theta)}), "
                                 f"got shape {held.shape}")
            if self._inverse is not None:
                held = held[self._inverse]
            self.state.append(held)
