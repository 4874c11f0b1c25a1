"""Gradients as functions: `grad`, `value_and_grad`, `hessian`, `hvp`, `jvp`, and the oracle.

``grad(f)`` turns f: ℝⁿ → ℝ, written with Values, into x ↦ ∇f(x) by backpropagation. It composes,
as in JAX and HIPS autograd: called inside another ``grad`` (with Values that are themselves being
differentiated) it returns Values, built by the chain rule from each op's derivative formula, so

    grad(lambda x: grad(f)(x)[0])(0.7)        # (f''(0.7),)

works, and a third level too. `hessian` and `hvp` are built the same way.

`jvp` is **forward mode**: it pushes a tangent v through the same recorded local derivatives, from
the inputs up, ṅ = Σ ∂n/∂c · ċ over each node's children c, and gives f(x) and ∇f(x)·v: one
direction per pass. Reverse mode (backprop) gives every ∂f/∂xᵢ in one pass, which is why it is the
efficient one for a loss of many parameters.

`numerical_grad` estimates the gradient without any of this,

    ∂f/∂xᵢ ≈ (f(x + ε·eᵢ) − f(x − ε·eᵢ)) / 2ε,

and `gradcheck` compares the two: the way every gradient in this project is tested.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

from .checks import as_real, short
from .derivatives import gradients
from .engine import Value, dot, no_grad
from .forward import tangents

__all__ = ["grad", "gradcheck", "hessian", "hvp", "jvp", "numerical_grad", "value_and_grad"]

Function = Callable[..., "Value | float"]
Number = float | Value

# How many grad/hessian calls are running f right now (in this thread): inside one, Value
# arguments are being differentiated, so an inner grad must return Values.
_depth: ContextVar[int] = ContextVar("microgradlike_differentiating", default=0)


@contextmanager
def _differentiating() -> Iterator[None]:
    token = _depth.set(_depth.get() + 1)
    try:
        yield
    finally:
        _depth.reset(token)


def _arguments(xs: Sequence[Value | float] | Value | float, name: str = "argument") -> list[Value | float]:
    """The arguments as a list (one number or Value alone is a list of one)."""
    if isinstance(xs, Value) or as_real(xs) is not None:
        return [xs]  # type: ignore[list-item]
    if isinstance(xs, str) or not isinstance(xs, Sequence):
        raise TypeError(f"{name}s must be numbers or Values (or a list of them), "
                        f"got {type(xs).__name__}: {short(xs)}")
    return list(xs)


def _leaves(xs: Sequence[Value | float], keep_values: bool) -> list[Value]:
    """The inputs f is called with: fresh leaf Values holding the numbers in ``xs``; with
    ``keep_values``, a Value argument is used itself (an outer grad is differentiating it)."""
    leaves = []
    for i, x in enumerate(xs):
        if keep_values and isinstance(x, Value):
            leaves.append(x)
            continue
        number = x.data if isinstance(x, Value) else as_real(x)
        if number is None:
            raise TypeError(f"argument {i} must be a number or a Value, got {type(x).__name__}: {short(x)}")
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
        f"got {type(out).__name__}: {short(out)}"
    )


def value_and_grad(f: Function) -> Callable[..., tuple[Number, tuple[Number, ...]]]:
    """``value_and_grad(f)(*xs) -> (f(xs), (∂f/∂x₀, ∂f/∂x₁, …))``: floats, or Values when called
    inside another ``grad`` (so the result can be differentiated again)."""

    def evaluate(*xs: Value | float) -> tuple[Number, tuple[Number, ...]]:
        nested = _depth.get() > 0 and any(isinstance(x, Value) for x in xs)
        leaves = _leaves(xs, keep_values=nested)
        with _differentiating():
            out = f(*leaves)
            root = _scalar_output(f, out)
            if root is None:  # a constant: every derivative is 0
                return float(out), tuple(0.0 for _ in leaves)  # type: ignore[arg-type]
            if nested:
                return root, gradients(root, leaves, create_graph=True)
        root.backward()
        return root.data, tuple(leaf.grad for leaf in leaves)

    return evaluate


def grad(f: Function) -> Callable[..., tuple[Number, ...]]:
    """``grad(f)(*xs) -> (∂f/∂x₀, ∂f/∂x₁, …)`` by backpropagation. Composes:
    ``grad(lambda x: grad(f)(x)[0])(x)`` is ``(f''(x),)``."""
    with_value = value_and_grad(f)

    def gradient(*xs: Value | float) -> tuple[Number, ...]:
        return with_value(*xs)[1]

    return gradient


def hessian(f: Function) -> Callable[..., tuple[tuple[Number, ...], ...]]:
    """``hessian(f)(*xs)``: the matrix H with Hᵢⱼ = ∂²f/∂xᵢ∂xⱼ, as a tuple of rows.

    The gradient is built as a graph (its entries are Values), then each entry is differentiated
    once more: n + 1 backward passes for n inputs."""
    first = grad(f)

    def matrix(*xs: Value | float) -> tuple[tuple[Number, ...], ...]:
        nested = _depth.get() > 0 and any(isinstance(x, Value) for x in xs)
        leaves = _leaves(xs, keep_values=nested)
        with _differentiating():
            g = first(*leaves)
        return tuple(_row(gi, leaves, nested) for gi in g)

    return matrix


def _row(gi: Number, leaves: list[Value], create_graph: bool) -> tuple[Number, ...]:
    if not isinstance(gi, Value):
        return tuple(0.0 for _ in leaves)  # a constant derivative: its own derivatives are 0
    return gradients(gi, leaves, create_graph=create_graph)


def hvp(f: Function, xs: Sequence[Value | float] | float, v: Sequence[float] | float) -> tuple[float, ...]:
    """The Hessian-vector product H(xs)·v, without forming H: the gradient g is built as a graph,
    then s = g·v is one number, and ∇s = H·v takes one more backward pass."""
    args = _arguments(xs)
    direction = _direction(v, len(args))
    leaves = _leaves(args, keep_values=False)
    with _differentiating():
        g = grad(f)(*leaves)
        s = dot(list(g), direction) if any(isinstance(gi, Value) for gi in g) else None
    if s is None:
        return tuple(0.0 for _ in leaves)
    return tuple(float(x) for x in gradients(s, leaves))


def _direction(v: Sequence[float] | float, n: int) -> list[float]:
    direction = [as_real(x) for x in _arguments(v, "direction entrie")]
    if any(d is None for d in direction):
        raise TypeError(f"the direction v must hold numbers, got {short(v)}")
    if len(direction) != n:
        raise ValueError(f"the direction v has {len(direction)} entries but f takes {n} arguments")
    return direction  # type: ignore[return-value]


def jvp(f: Function, xs: Sequence[Value | float] | float,
        v: Sequence[float] | float) -> tuple[float, float]:
    """Forward mode: ``(f(xs), ∇f(xs)·v)``, the derivative of f along the direction v.

    f runs once (recording each node's local derivatives), then a tangent ṅ is pushed from the
    inputs up in topological order, ṅ = Σ_c ∂n/∂c · ċ, starting from ẋᵢ = vᵢ: the same local
    derivatives backprop uses, multiplied in the other order. One pass gives one directional
    derivative; the whole gradient of n inputs takes n passes (backprop: one)."""
    args = _arguments(xs)
    direction = _direction(v, len(args))
    leaves = _leaves(args, keep_values=False)
    out = f(*leaves)
    root = _scalar_output(f, out)
    if root is None:
        return float(out), 0.0  # type: ignore[arg-type]
    tangent = tangents(root, dict(zip(leaves, direction)))
    return root.data, tangent.get(root, 0.0)


def _evaluate(f: Function, xs: Sequence[float]) -> float:
    with no_grad():
        out = f(*_leaves(xs, keep_values=False))
    root = _scalar_output(f, out)
    return float(out) if root is None else root.data  # type: ignore[arg-type]


def numerical_grad(f: Function, xs: Sequence[Value | float] | float, eps: float = 1e-6) -> tuple[float, ...]:
    """Central differences: ∂f/∂xᵢ ≈ (f(x + ε·eᵢ) − f(x − ε·eᵢ)) / 2ε. Error is O(ε²).

    ``xs`` is the list of arguments (one number alone is fine): 2n evaluations of f."""
    if as_real(eps) is None or not eps > 0:
        raise ValueError(f"eps must be a positive number, got {short(eps)}")
    point = [leaf.data for leaf in _leaves(_arguments(xs), keep_values=False)]
    estimates = []
    for i, xi in enumerate(point):
        point[i] = xi + eps
        above = _evaluate(f, point)
        point[i] = xi - eps
        below = _evaluate(f, point)
        point[i] = xi
        estimates.append((above - below) / (2 * eps))
    return tuple(estimates)


def gradcheck(f: Function, xs: Sequence[Value | float] | float, atol: float = 1e-5, rtol: float = 1e-4,
              eps: float = 1e-6) -> bool:
    """True when backprop's gradient matches central differences at ``xs``:
    |analytic − numeric| ≤ atol + rtol·|numeric| for every input.

    ``xs`` is the list of arguments (one number alone is fine). Raises AssertionError naming
    the worst input otherwise.
    """
    args = _arguments(xs)
    analytic = grad(f)(*args)
    numeric = numerical_grad(f, args, eps)
    # How far each input is past its allowance; NaN (no number at all) counts as the worst.
    excess = [abs(a - n) - (atol + rtol * abs(n)) for a, n in zip(analytic, numeric)]
    badness = [math.inf if math.isnan(e) else e for e in excess]
    worst = max(range(len(badness)), key=badness.__getitem__, default=-1)
    if worst >= 0 and badness[worst] > 0:
        x = args[worst].data if isinstance(args[worst], Value) else args[worst]  # type: ignore[union-attr]
        raise AssertionError(
            f"gradcheck failed at input {worst} (x{worst} = {x!r}): backprop gives "
            f"{analytic[worst]!r}, central differences give {numeric[worst]!r} "
            f"(allowed |difference| {atol + rtol * abs(numeric[worst]):.3g})"
        )
    return True
