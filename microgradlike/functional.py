"""Gradients as functions: `grad`, `value_and_grad`, `hessian`, `hvp`, `jvp`, and the oracle.

``grad(f)`` turns f: ℝⁿ → ℝ, written with Values, into x ↦ ∇f(x) by backpropagation. It composes,
as in JAX and HIPS autograd: called inside another transform's f it returns Values, built by the
chain rule from each op's derivative formula, so

    grad(lambda x: grad(f)(x)[0])(0.7)        # (f''(0.7),)

works, and a third level too. `hessian`, `hvp` and `jvp` nest the same way, in any order.

Each transform differentiates with respect to its own *arguments*. Inside another transform a Value
argument x is not differentiated itself: f gets a fresh node x·1 on top of it, and the result is
∂f/∂(that node). So in

    grad(lambda x: grad(lambda a, b: a * b)(x, x * 2)[0])(3.0)     # (2.0,)

the inner grad gives ∂(a·b)/∂a = b = 2x, the partial derivative (not the total one, 4x, which
differentiating x itself would give, since x flows into b too), and the outer grad still reaches x
through the fresh node, whose derivative is 1.

`jvp` is **forward mode**: it pushes a tangent v through the same recorded local derivatives, from
the inputs up, ṅ = Σ ∂n/∂c · ċ over each node's children c, and gives f(x) and ∇f(x)·v: one
direction per pass. Reverse mode (backprop) gives every ∂f/∂xᵢ in one pass, which is why it is the
efficient one for a loss of many parameters.

`numerical_grad` estimates the gradient without any of this,

    ∂f/∂xᵢ ≈ (f(x + ε·eᵢ) − f(x − ε·eᵢ)) / 2ε,

and `gradcheck` compares the two: the way every gradient in this project is tested.

Every transform needs the graph that f builds, so none runs inside ``no_grad()`` (which records
no graph): each refuses there, as ``backward()``, `fit` and `trace` do.

No transform reads or writes any ``.grad`` (as in JAX and ``torch.func``): each runs its own reverse
pass (`derivatives.gradients`), so the parameters of a model that f closes over keep the grads they
had, and an f that calls ``backward()`` or sets a ``.grad`` itself gets the same answer as one that
does not.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

from .checks import as_real, nonnegative, real, short
from .derivatives import gradients
from .engine import Value, checked_data, dot, is_grad_enabled, no_grad
from .forward import tangents

__all__ = ["grad", "gradcheck", "hessian", "hvp", "jvp", "numerical_grad", "value_and_grad"]

Function = Callable[..., "Value | float"]
Number = float | Value

# How many transforms are running f right now (in this thread). Inside one, an inner transform
# builds its result as a graph, which the outer one differentiates (f may use the outer Values
# through its arguments or through what it closes over).
_depth: ContextVar[int] = ContextVar("microgradlike_differentiating", default=0)
# True while numerical_grad evaluates f (under no_grad), to say so when f calls a transform.
_estimating: ContextVar[bool] = ContextVar("microgradlike_estimating", default=False)


@contextmanager
def _differentiating() -> Iterator[None]:
    token = _depth.set(_depth.get() + 1)
    try:
        yield
    finally:
        _depth.reset(token)


def _require_graph(name: str) -> None:
    """Refuse inside no_grad(): there f records no local derivatives, so nothing can be
    differentiated (a derivative of 0 would be a silent wrong number)."""
    if is_grad_enabled():
        return
    where = (" numerical_grad evaluates f under no_grad() (an estimate needs no graph), so f cannot "
             f"call {name} there." if _estimating.get() else "")
    raise RuntimeError(f"{name} differentiates f, which needs the graph that no_grad() turns off "
                       f"(ops there record no local derivatives).{where} Call {name} outside the "
                       f"`with no_grad():` block")


def _arguments(xs: Sequence[Value | float] | Value | float, name: str = "argument") -> list[Value | float]:
    """The arguments as a list (one number or Value alone is a list of one)."""
    if isinstance(xs, Value) or as_real(xs) is not None:
        return [xs]  # type: ignore[list-item]
    if isinstance(xs, str) or not isinstance(xs, Sequence):
        raise TypeError(f"{name}s must be numbers or Values (or a list of them), "
                        f"got {type(xs).__name__}: {short(xs)}")
    return list(xs)


def _number(x: object, what: str) -> float:
    """``x`` (a number, or a Value's forward number) as a float; NaN is refused, naming ``what``."""
    return checked_data(x, f"the data of {what}") if isinstance(x, Value) else real(x, what)


def _inputs(xs: Sequence[Value | float], nested: bool) -> list[Value]:
    """What f is called with, one Value per argument, each differentiated on its own.

    At the top level: a fresh leaf holding the argument's number. Inside another transform
    (``nested``), a Value argument x becomes a fresh node x·1 on top of x instead: the derivative
    with respect to that node is the partial derivative for this argument alone, even when the same
    x (or a Value made from it) is passed for another argument, and an outer transform still
    differentiates through it to x (∂(x·1)/∂x = 1)."""
    inputs: list[Value] = []
    for i, x in enumerate(xs):
        number = _number(x, f"argument {i}")
        inputs.append(x * 1.0 if nested and isinstance(x, Value) else Value(number))
    return inputs


def _positional(name: str, keywords: dict[str, object]) -> None:
    """A transform's function takes the point as positional arguments only: refuse keywords."""
    if keywords:
        given = ", ".join(f"{k}={short(v, 30)}" for k, v in keywords.items())
        first = next(iter(keywords))
        raise TypeError(f"{name}(f) takes the point as positional arguments, one number or Value for each "
                        f"argument of f it differentiates, e.g. {name}(f)(3.0, 4.0); got the keyword "
                        f"{given}. To hold an argument fixed, close over it: "
                        f"{name}(lambda x: f(x, {first}=...))")


def _output(f: Function, out: object) -> Value | None:
    """f's output as a Value (None for a plain number, which depends on nothing)."""
    if isinstance(out, Value):
        return out
    number = as_real(out)
    name = getattr(f, "__name__", repr(f))
    if number is None:
        raise TypeError(
            f"{name} must return one Value (a scalar) to be differentiated, "
            f"got {type(out).__name__}: {short(out)}"
        )
    if math.isnan(number):  # its derivative is not 0: there is none
        raise ValueError(f"{name} returned the plain number nan, not a Value: it has no derivative")
    return None


def value_and_grad(f: Function) -> Callable[..., tuple[Number, tuple[Number, ...]]]:
    """``value_and_grad(f)(*xs) -> (f(xs), (∂f/∂x₀, ∂f/∂x₁, …))``: floats, or Values when called
    inside another transform (so the result can be differentiated again)."""

    def evaluate(*xs: Value | float, **keywords: object) -> tuple[Number, tuple[Number, ...]]:
        _positional("value_and_grad", keywords)
        return _value_and_grad(f, xs, "value_and_grad")

    return evaluate


def _value_and_grad(f: Function, xs: Sequence[Value | float],
                    name: str) -> tuple[Number, tuple[Number, ...]]:
    _require_graph(name)
    return _differentiate(f, _inputs(xs, _depth.get() > 0))


def _differentiate(f: Function, inputs: list[Value]) -> tuple[Number, tuple[Number, ...]]:
    """f at ``inputs`` (made by `_inputs`) and its gradient there: Values when nested."""
    nested = _depth.get() > 0
    with _differentiating():
        out = f(*inputs)
        root = _output(f, out)
        if root is None:  # a constant: every derivative is 0
            return float(out), tuple(0.0 for _ in inputs)
        if nested:
            return root, gradients(root, inputs, create_graph=True)
    # its own reverse pass, which reads and writes no .grad: not the Values f closes over (a
    # model's parameters keep theirs for the optimiser), nor what f itself did to any .grad
    return root.data, gradients(root, inputs)


def grad(f: Function) -> Callable[..., tuple[Number, ...]]:
    """``grad(f)(*xs) -> (∂f/∂x₀, ∂f/∂x₁, …)`` by backpropagation. Composes:
    ``grad(lambda x: grad(f)(x)[0])(x)`` is ``(f''(x),)``."""

    def gradient(*xs: Value | float, **keywords: object) -> tuple[Number, ...]:
        _positional("grad", keywords)
        return _value_and_grad(f, xs, "grad")[1]

    return gradient


def hessian(f: Function) -> Callable[..., tuple[tuple[Number, ...], ...]]:
    """``hessian(f)(*xs)``: the matrix H with Hᵢⱼ = ∂²f/∂xᵢ∂xⱼ, as a tuple of rows.

    The gradient is built as a graph (its entries are Values), then each entry is differentiated
    once more: n + 1 backward passes for n inputs."""

    def matrix(*xs: Value | float, **keywords: object) -> tuple[tuple[Number, ...], ...]:
        _positional("hessian", keywords)
        _require_graph("hessian")
        nested = _depth.get() > 0
        inputs = _inputs(xs, nested)
        with _differentiating():
            g = _differentiate(f, inputs)[1]
        return tuple(_row(gi, inputs, nested) for gi in g)

    return matrix


def _row(gi: Number, inputs: list[Value], create_graph: bool) -> tuple[Number, ...]:
    if not isinstance(gi, Value):
        return tuple(0.0 for _ in inputs)  # a constant derivative: its own derivatives are 0
    return gradients(gi, inputs, create_graph=create_graph)


def hvp(f: Function, xs: Sequence[Value | float] | float,
        v: Sequence[Value | float] | float) -> tuple[Number, ...]:
    """The Hessian-vector product H(xs)·v, without forming H: the gradient g is built as a graph,
    then s = g·v is one number, and ∇s = H·v takes one more backward pass. Floats, or Values
    inside another transform (which may then differentiate through xs and v too)."""
    _require_graph("hvp")
    nested = _depth.get() > 0
    args = _arguments(xs)
    direction = _direction(v, len(args), nested)
    inputs = _inputs(args, nested)
    with _differentiating():
        g = _differentiate(f, inputs)[1]
        s = dot(list(g), direction) if any(isinstance(gi, Value) for gi in g) else None
    if s is None:  # the gradient is constant: H = 0
        return tuple(0.0 for _ in inputs)
    return gradients(s, inputs, create_graph=nested)


def _direction(v: Sequence[Value | float] | float, n: int, nested: bool) -> list[Number]:
    """The direction's entries: finite numbers (a Value's number at the top level; inside another
    transform a Value entry is kept, so the result depends on it)."""
    entries = _arguments(v, "direction entrie")
    if len(entries) != n:
        raise ValueError(f"the direction v has {len(entries)} entries but f takes {n} arguments")
    direction: list[Number] = []
    for i, d in enumerate(entries):
        number = real(d.data if isinstance(d, Value) else d, f"entry {i} of the direction v", finite=True)
        direction.append(d if nested and isinstance(d, Value) else number)
    return direction


def jvp(f: Function, xs: Sequence[Value | float] | float,
        v: Sequence[Value | float] | float) -> tuple[Number, Number]:
    """Forward mode: ``(f(xs), ∇f(xs)·v)``, the derivative of f along the direction v.

    f runs once (recording each node's local derivatives), then a tangent ṅ is pushed from the
    inputs up in topological order, ṅ = Σ_c ∂n/∂c · ċ, starting from ẋᵢ = vᵢ: the same local
    derivatives backprop uses, multiplied in the other order. One pass gives one directional
    derivative; the whole gradient of n inputs takes n passes (backprop: one). Inside another
    transform the tangents are Values, from the ops' derivative formulas, so they can be
    differentiated again."""
    _require_graph("jvp")
    nested = _depth.get() > 0
    args = _arguments(xs)
    direction = _direction(v, len(args), nested)
    inputs = _inputs(args, nested)
    with _differentiating():  # f may call grad: it must build its result as a graph
        out = f(*inputs)
    root = _output(f, out)
    if root is None:
        return float(out), 0.0
    tangent = tangents(root, dict(zip(inputs, direction)), create_graph=nested)
    return (root if nested else root.data), tangent[root]


def _evaluate(f: Function, xs: Sequence[float]) -> float:
    token = _estimating.set(True)
    try:
        with no_grad():
            out = f(*(Value(x) for x in xs))
    finally:
        _estimating.reset(token)
    root = _output(f, out)
    return float(out) if root is None else root.data


def numerical_grad(f: Function, xs: Sequence[Value | float] | float, eps: float = 1e-6) -> tuple[float, ...]:
    """Central differences: ∂f/∂xᵢ ≈ (f(x + ε·eᵢ) − f(x − ε·eᵢ)) / 2ε. Error is O(ε²).

    ``xs`` is the list of arguments (one number alone is fine): 2n evaluations of f, under
    `no_grad` (no graph is built). Each xᵢ must be finite, xᵢ ± ε and 2ε must be finite numbers
    that differ from xᵢ in floating point (else the estimate would be 0 or nan whatever f is), and
    f must be finite at each xᵢ ± ε (ValueError naming eps otherwise: a step too large for f)."""
    eps = nonnegative(eps, "eps", strict=True)
    point = [_number(x, f"argument {i}") for i, x in enumerate(_arguments(xs))]
    if not math.isfinite(2 * eps):
        raise ValueError(f"eps = {eps!r} is too large: the step 2·eps between f(x + eps) and f(x − eps) "
                         f"overflows; take a small eps (the default is 1e-6)")
    for i, xi in enumerate(point):
        if not math.isfinite(xi):
            raise ValueError(f"argument {i} is {xi!r}: central differences need a finite point")
        if not (math.isfinite(xi + eps) and math.isfinite(xi - eps)):
            raise ValueError(f"eps = {eps!r} is too large next to argument {i} = {xi!r}: x ± eps overflows; "
                             f"take a small eps (the default is 1e-6)")
        if xi + eps == xi or xi - eps == xi:
            raise ValueError(f"eps = {eps!r} is lost next to argument {i} = {xi!r} in floating point "
                             f"(x ± eps == x): take a larger eps")
    estimates = []
    for i, xi in enumerate(point):
        values = []
        for step in (eps, -eps):
            point[i] = xi + step
            values.append(_evaluate(f, point))
            if not math.isfinite(values[-1]):
                sign = "+" if step > 0 else "−"
                raise ValueError(f"f(x {sign} eps) is {values[-1]!r}, with argument {i} at x {sign} eps = "
                                 f"{point[i]!r} (x = {xi!r}, eps = {eps!r}): central differences need f "
                                 f"finite on both sides; take a smaller eps")
        point[i] = xi
        estimates.append((values[0] - values[1]) / (2 * eps))
    return tuple(estimates)


def gradcheck(f: Function, xs: Sequence[Value | float] | float, atol: float = 1e-5, rtol: float = 1e-4,
              eps: float = 1e-6) -> bool:
    """True when backprop's gradient matches central differences at ``xs``:
    |analytic − numeric| ≤ atol + rtol·|numeric| for every input.

    ``xs`` is the list of arguments (one number alone is fine); ``atol`` and ``rtol`` are finite
    numbers ≥ 0, ``eps`` > 0 (numerical_grad's step). Raises AssertionError naming the worst input
    otherwise.
    """
    atol, rtol = nonnegative(atol, "atol"), nonnegative(rtol, "rtol")
    _require_graph("gradcheck")
    args = _arguments(xs)
    # numbers, also when called inside another transform (where grad gives Values)
    analytic = [a.data if isinstance(a, Value) else a for a in grad(f)(*args)]
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
