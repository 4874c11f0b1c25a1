"""Optimisers: turn each parameter's gradient into an update, θ ← θ − (a step against ∇L).

Both keep the same interface: build with the parameters, then per update
``opt.zero_grad(); loss.backward(); opt.step()``. ``opt.lr`` can be changed between steps.

* `SGD`  — gradient descent with momentum μ: v ← μ·v + g,  θ ← θ − η·v  (μ = 0: θ ← θ − η·g).
* `Adam` — per-parameter step sizes from running means of g and g², bias-corrected.

Each step reads the gradient's number: after ``loss.backward(create_graph=True)`` a grad is a Value
(∂L/∂θ as a graph), and the update uses its forward number, as PyTorch's optimisers do (they step
under no_grad), so ``p.data`` stays a float.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from .checks import as_real, real, short
from .engine import Value

__all__ = ["OPTIMIZERS", "SGD", "Adam", "Optimizer", "check_parameters", "get_optimizer"]


def _gradient(p: Value, params: list[Value]) -> float:
    """The grad of ``p`` (one of ``params``) as a float: a Value grad (from
    ``backward(create_graph=True)``) gives its number; anything else that is not a real number is
    refused, naming the parameter. (The steps call this only for a grad that is not a float.)"""
    g = p.grad
    if isinstance(g, Value):
        return g.data
    try:
        number = as_real(g)
    except ValueError as e:  # an int too large for a float
        raise ValueError(f"parameter {_index(p, params)} ({p!r}) has a grad that is no float: {e}") from None
    if number is None:
        raise TypeError(f"parameter {_index(p, params)} ({p!r}) has a grad that is not a number: "
                        f"{type(g).__name__}: {short(g)}")
    return number


def _index(p: Value, params: list[Value]) -> int:
    return next(i for i, q in enumerate(params) if q is p)


class Optimizer:
    """Holds the parameters θ and the learning rate η; subclasses define `step()`."""

    def __init__(self, params: Iterable[Value], lr: float) -> None:
        name = type(self).__name__
        if callable(getattr(params, "parameters", None)):  # the model itself: SGD(model)
            raise TypeError(f"{name} takes the parameters, not the model: pass "
                            f"{type(params).__name__}.parameters(), e.g. {name}(model.parameters())")
        if isinstance(params, Value) or isinstance(params, str) or not isinstance(params, Iterable):
            raise TypeError(f"{name} takes a list of parameters (Values), got {type(params).__name__}: "
                            f"{short(params)}; e.g. {name}(model.parameters()) or {name}([w, b])")
        self.params = list(params)
        if not self.params:
            raise ValueError("the optimiser got an empty parameter list")
        seen: set[int] = set()
        for i, p in enumerate(self.params):
            if not isinstance(p, Value):
                raise TypeError(f"parameter {i} must be a Value, got {type(p).__name__}: {short(p)}")
            if id(p) in seen:
                raise ValueError(f"parameter {i} ({p!r}) appears twice: it would be updated twice per step")
            seen.add(id(p))
        self.lr = lr

    @property
    def lr(self) -> float:
        """The learning rate η > 0 (settable between steps, e.g. for a schedule)."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        lr = real(value, "lr")
        if not (lr > 0 and math.isfinite(lr)):
            raise ValueError(f"lr must be a positive finite number, got {value!r}")
        self._lr = lr

    def zero_grad(self) -> None:
        """Set every parameter's grad to 0 (they accumulate across backward calls)."""
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:
        """Update every parameter from its current grad."""
        raise NotImplementedError

    def state_names(self) -> tuple[str, ...]:
        """The attributes holding the state the optimiser keeps between steps, each a list of one
        number per parameter in ``params`` order (SGD's ``velocity``, Adam's ``m`` and ``v``)."""
        return ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.params)} parameters, lr={self.lr!r})"


class SGD(Optimizer):
    """Stochastic gradient descent with (heavy-ball) momentum μ ∈ [0, 1):

        v ← μ·v + g,   θ ← θ − η·v        (v starts at 0; μ = 0 is plain θ ← θ − η·g)

    v is a running sum of past gradients, so steps grow along directions that stay consistent.
    """

    def __init__(self, params: Iterable[Value], lr: float = 0.1, momentum: float = 0.0) -> None:
        super().__init__(params, lr)
        self.momentum = real(momentum, "momentum")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.velocity = [0.0] * len(self.params)

    def state_names(self) -> tuple[str, ...]:
        return ("velocity",) if self.momentum else ()  # μ = 0 keeps no running sum

    def step(self) -> None:
        lr, mu = self.lr, self.momentum
        if mu == 0.0:
            for p in self.params:  # the test of g is the loop's only cost over θ ← θ − η·g
                g = p.grad
                p.data -= lr * (g if g.__class__ is float else _gradient(p, self.params))
            return
        v = self.velocity
        for i, p in enumerate(self.params):
            g = p.grad
            v[i] = mu * v[i] + (g if g.__class__ is float else _gradient(p, self.params))
            p.data -= lr * v[i]

    def __repr__(self) -> str:
        return f"SGD({len(self.params)} parameters, lr={self.lr!r}, momentum={self.momentum!r})"


class Adam(Optimizer):
    """Adam: step t = 1, 2, …, with g the gradient,

        m ← β₁·m + (1 − β₁)·g          (running mean of g)
        v ← β₂·v + (1 − β₂)·g²         (running mean of g²)
        m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)     (undo the bias of starting at 0)
        θ ← θ − η · m̂ / (√v̂ + ε)

    Each parameter's step is about η in size whatever the scale of its gradient.
    """

    def __init__(self, params: Iterable[Value], lr: float = 0.01,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        super().__init__(params, lr)
        if isinstance(betas, str) or not isinstance(betas, tuple | list) or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (real(betas[0], "beta1"), real(betas[1], "beta2"))
        for name, beta in zip(("beta1", "beta2"), self.betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {beta!r}")
        self.eps = real(eps, "eps")
        if not (self.eps >= 0 and math.isfinite(self.eps)):
            raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
        self.t = 0
        self.m = [0.0] * len(self.params)
        self.v = [0.0] * len(self.params)

    def state_names(self) -> tuple[str, ...]:
        return ("m", "v")

    def step(self) -> None:
        self.t += 1
        b1, b2 = self.betas
        correction1, correction2 = 1.0 - b1**self.t, 1.0 - b2**self.t
        lr, eps, m, v = self.lr, self.eps, self.m, self.v
        for i, p in enumerate(self.params):
            g = p.grad
            g = g if g.__class__ is float else _gradient(p, self.params)
            m[i] = b1 * m[i] + (1.0 - b1) * g
            v[i] = b2 * v[i] + (1.0 - b2) * g * g
            denominator = math.sqrt(v[i] / correction2) + eps
            # 0 only when eps = 0 and g² has been 0 so far: no step, not 0/0. (Not "> 0": a NaN
            # gradient must make the parameter NaN, as SGD and torch.optim.Adam do, not freeze it.)
            if denominator != 0.0:
                p.data -= lr * (m[i] / correction1) / denominator

    def __repr__(self) -> str:
        return f"Adam({len(self.params)} parameters, lr={self.lr!r}, betas={self.betas!r}, eps={self.eps!r})"


#: The optimisers by name, for ``fit(optimizer="...")``.
OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam}


def get_optimizer(optimizer: str | Optimizer | type[Optimizer], params: Iterable[Value],
                  lr: float | None = None, **options: Any) -> Optimizer:
    """An optimiser over ``params``: by name ("sgd", "adam") or class, built with ``lr`` (its
    default when None) and ``options`` (e.g. momentum=0.9); an instance is returned as it is
    (it already holds its parameters and lr)."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str):
        cls = OPTIMIZERS.get(optimizer.lower())
        if cls is None:
            names = ", ".join(map(repr, OPTIMIZERS))
            raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {names}")
    elif isinstance(optimizer, type) and issubclass(optimizer, Optimizer):
        cls = optimizer
    else:
        raise TypeError(f"optimizer must be a name, an Optimizer class or instance, got {optimizer!r}")
    if lr is not None:
        options["lr"] = lr
    return cls(params, **options)


def check_parameters(optimizer: Optimizer, named: Sequence[tuple[str, Value]]) -> None:
    """Refuse (ValueError) an optimiser that does not update exactly the model's parameters
    ``named`` ((name, Value) pairs): one it lacks would never change, so training would run and
    leave it as it was; a Value it holds beyond them would be stepped by whatever grad it last had."""
    held = {id(p) for p in optimizer.params}
    missing = [name for name, p in named if id(p) not in held]
    if missing:
        more = f" (nor {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise ValueError(f"the optimiser does not update the model's parameter {short(missing[0])}{more}: "
                         f"build it from this model's parameters, e.g. Adam(model.parameters())")
    ours = {id(p) for _, p in named}
    extra = [p for p in optimizer.params if id(p) not in ours]
    if extra:
        first = f" (the first is labelled {short(extra[0].label)})" if extra[0].label else ""
        raise ValueError(f"the optimiser also updates {len(extra)} Value(s) that are not this model's "
                         f"parameters{first}: build it from this model's parameters alone, e.g. "
                         f"Adam(model.parameters())")
