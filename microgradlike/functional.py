"""Gradients as functions: `grad`, `value_and_grad`, and the central-difference oracle.

``grad(f)`` turns f: ℝⁿ → ℝ, written with Values, into x ↦ ∇f(x). `numerical_grad`
estimates the same thing without backprop,

    ∂f/∂xᵢ ≈ (f(x + ε·eᵢ) − f(x − ε·eᵢ)) / 2ε,

and `gradcheck` compares the two: the way every gradient in this project is tested.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from .checks import as_real
from .engine import Value, no_grad

__all__ = ["grad", "gradcheck", "numerical_grad", "value_and_grad"]

Function = Callable[..., "Value | float"]


def _leaves(xs: Sequence[Value | float]) -> list[Value]:
    """Fresh leaf Values holding the numbers in ``xs`` (a Value contributes its data)."""
    leaves = []
    for i, x in enumerate(xs):
        number = x.data if isinstance(x, Value) else as_real(x)
        if number is None:
            raise TypeError(f"argument {i} must be a number or a Value, got {type(x).__name__}: {x!r}")
        leaves.append(Value(number))
    return leaves


def _scalar_output(f: Function, out: object) -> Value | None:
    """f's output as a Value (None for a plain number, which depends on nothing)."""
    if isinstance(out, Value):
        return out
    if as_real(out) is not None:
        return None
    name = getattr(f, "__name__", repr(f))
    raise TypeError(
        f"{name} must return one Value (a scalar) to be differentiated, "
        f"got {type(out).__name__}: {out!r}"
    )


def value_and_grad(f: Function) -> Callable[..., tuple[float, tuple[float, ...]]]:
    """``value_and_grad(f)(*xs) -> (f(xs), (∂f/∂x₀, ∂f/∂x₁, …))``."""

    def evaluate(*xs: Value | float) -> tuple[float, tuple[float, ...]]:
        leaves = _leaves(xs)
        out = f(*leaves)
        root = _scalar_output(f, out)
        if root is None:  # a constant: every derivative is 0
            return float(out), tuple(0.0 for _ in leaves)  # type: ignore[arg-type]
        root.backward()
        return root.data, tuple(leaf.grad for leaf in leaves)

    return evaluate


def grad(f: Function) -> Callable[..., tuple[float, ...]]:
    """``grad(f)(*xs) -> (∂f/∂x₀, ∂f/∂x₁, …)`` by backpropagation."""
    with_value = value_and_grad(f)

    def gradient(*xs: Value | float) -> tuple[float, ...]:
        return with_value(*xs)[1]

    return gradient


def _evaluate(f: Function, xs: Sequence[float]) -> float:
    with no_grad():
        out = f(*_leaves(xs))
    root = _scalar_output(f, out)
    return float(out) if root is None else root.data  # type: ignore[arg-type]


def numerical_grad(f: Function, xs: Sequence[Value | float], eps: float = 1e-6) -> tuple[float, ...]:
    """Central differences: ∂f/∂xᵢ ≈ (f(x + ε·eᵢ) − f(x − ε·eᵢ)) / 2ε. Error is O(ε²)."""
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps!r}")
    point = [leaf.data for leaf in _leaves(xs)]
    estimates = []
    for i, xi in enumerate(point):
        point[i] = xi + eps
        above = _evaluate(f, point)
        point[i] = xi - eps
        below = _evaluate(f, point)
        point[i] = xi
        estimates.append((above - below) / (2 * eps))
    return tuple(estimates)


def gradcheck(f: Function, xs: Sequence[Value | float], atol: float = 1e-5, rtol: float = 1e-4,
              eps: float = 1e-6) -> bool:
    """True when backprop's gradient matches central differences at ``xs``:
    |analytic − numeric| ≤ atol + rtol·|numeric| for every input.

    Raises AssertionError naming the worst input otherwise.
    """
    analytic = grad(f)(*xs)
    numeric = numerical_grad(f, xs, eps)
    # How far each input is past its allowance; NaN (no number at all) counts as the worst.
    excess = [abs(a - n) - (atol + rtol * abs(n)) for a, n in zip(analytic, numeric)]
    badness = [math.inf if math.isnan(e) else e for e in excess]
    worst = max(range(len(badness)), key=badness.__getitem__, default=-1)
    if worst >= 0 and badness[worst] > 0:
        x = xs[worst].data if isinstance(xs[worst], Value) else xs[worst]  # type: ignore[union-attr]
        raise AssertionError(
            f"gradcheck failed at input {worst} (x{worst} = {x!r}): backprop gives "
            f"{analytic[worst]!r}, central differences give {numeric[worst]!r} "
            f"(allowed |difference| {atol + rtol * abs(numeric[worst]):.3g})"
        )
    return True
