"""The autograd engine: a scalar `Value` that remembers how it was made.

Every operation does two things at forward time:

1. it computes its result from its inputs' data, and
2. it records, for each input ("child"), the *local derivative* ∂out/∂child,
   computed from those same forward values (the notes: backprop needs the zˡ and aˡ
   saved during the forward pass).

`backward()` then needs nothing but the chain rule, applied to the nodes in reverse
topological order::

    ∂L/∂child += ∂L/∂out · ∂out/∂child

A node is a plain record: ``data``, ``grad``, ``children``, ``local_grads``, ``op``,
``label``, and for an op that also used a plain number, that ``constant`` (and whether it
came first, ``constant_first``). Print one and you see exactly what backprop will multiply.

Two choices keep the engine fast and small without hiding anything:

* plain numbers are never wrapped in nodes: ``x * 3`` has one child, ``x``, whose
  local derivative is ``3.0`` (the node keeps the 3.0 itself as ``constant``);
* `dot` makes a neuron's whole pre-activation Σᵢ wᵢ·xᵢ + b a single node.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from .checks import as_real, short

if TYPE_CHECKING:
    from .stepper import BackwardStep

__all__ = ["Value", "dot", "is_grad_enabled", "no_grad", "sum_values", "topological_order"]

# Shared local-gradient tuples: ops whose local derivative is a constant reuse these
# instead of allocating a tuple per node.
_ONE = (1.0,)
_ZERO = (0.0,)
_MINUS_ONE = (-1.0,)
_ONE_ONE = (1.0, 1.0)
_ONE_MINUS_ONE = (1.0, -1.0)

_grad_enabled = True
# Set by `microgradlike.compile.trace` while it records a graph: `dot` reports which of its
# operands it multiplied together, which its node does not keep.
_dot_hook: Callable[[Value, Sequence, Sequence, object], None] | None = None


@contextmanager
def no_grad() -> Iterator[None]:
    """Inside this block operations compute values but build no graph (no children)."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


def is_grad_enabled() -> bool:
    """False inside `no_grad()`."""
    return _grad_enabled


def _operand(x: object) -> float | None:
    """A plain-number operand as a float (None if ``x`` is no number). NaN is refused
    outright: it would silently poison every number computed from it."""
    value = as_real(x)
    if value is not None and value != value:  # only NaN is unequal to itself
        raise ValueError(f"expected a number, got {x!r}")
    return value


def _checked_number(x: object, what: str) -> float:
    """``x`` as a float, or a TypeError that names what ``x`` was meant to be."""
    value = _operand(x)
    if value is None:
        raise TypeError(f"{what} must be a Value or a real number, got {type(x).__name__}: {x!r}")
    return value


_new = object.__new__


def _node(data: float, children: tuple, local_grads: tuple, op: str) -> Value:
    """Build an op's result without `Value.__init__`'s checks (the op made ``data``)."""
    out = _new(Value)
    out.data = data
    out.grad = 0.0
    if _grad_enabled:
        out.children = children
        out.local_grads = local_grads
    else:
        out.children = out.local_grads = ()
    out.op = op
    out.label = ""
    out.constant = None
    out.constant_first = False
    return out


def _with_constant(data: float, children: tuple, local_grads: tuple, op: str, constant: float,
                   constant_first: bool = False) -> Value:
    """An op's result that also keeps the plain number it was made with (``x + 3`` keeps 3.0)."""
    out = _node(data, children, local_grads, op)
    out.constant = constant
    out.constant_first = constant_first
    return out


def _power(a: float, n: float) -> float:
    """a**n for real a, n, giving ±inf on overflow as IEEE floats do (Python raises)."""
    try:
        return a**n
    except OverflowError:
        odd = n.is_integer() and int(n) % 2 == 1
        return -math.inf if (a < 0 and odd) else math.inf


def _check_power(base: float, exponent: float, shown_base: object, shown_exp: object) -> float:
    """base**exponent as a real number, or the precise error why it is not one."""
    if base < 0 and not exponent.is_integer():
        raise ValueError(
            f"{shown_base!r} ** {shown_exp!r}: a negative base to a non-integer power "
            f"is not a real number"
        )
    if base == 0 and exponent < 0:
        raise ZeroDivisionError(f"{shown_base!r} ** {shown_exp!r}: zero to a negative power")
    return _power(base, exponent)


def _power_derivative(a: float, n: float) -> float:
    """d(aⁿ)/da = n·aⁿ⁻¹, with its limits at a = 0 (0 for n = 0, ∞ for 0 < n < 1)."""
    if n == 0:
        return 0.0
    if a == 0 and n < 1:
        return math.inf
    return n * _power(a, n - 1)


def _exp(a: float) -> float:
    """eᵃ, giving inf instead of raising OverflowError past a ≈ 709.78."""
    try:
        return math.exp(a)
    except OverflowError:
        return math.inf


def _sigmoid(a: float) -> float:
    """σ(a) = 1 / (1 + e⁻ᵃ), evaluated so that no exp can overflow."""
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


class Value:
    """A scalar in a computation graph, with the local derivatives that made it.

    >>> x = Value(2.0, label="x")
    >>> y = x * x + 1          # one '*' node, one '+' node
    >>> y.backward()
    >>> x.grad                 # dy/dx = 2x
    4.0
    """

    __slots__ = ("data", "grad", "children", "local_grads", "op", "label", "constant", "constant_first")
    # numpy must hand `np.float64(2) * v` back to Value.__rmul__, not broadcast over it.
    __array_ufunc__ = None

    data: float
    grad: float
    children: tuple[Value, ...]
    local_grads: tuple[float, ...]
    op: str
    label: str
    #: The plain number an op used besides its Value children (``x + 3`` keeps 3.0; a
    #: "dot" or "sum" node its plain-number part), or None: pictures, explanations and
    #: compiled replays show the real number.
    constant: float | None
    #: True when that number came first: ``2 - x``, ``2 / x``, ``2 ** x``.
    constant_first: bool

    def __init__(self, data: float, label: str = "") -> None:
        value = _operand(data)
        if value is None:
            raise TypeError(f"Value needs a real number, got {type(data).__name__}: {short(data)}")
        if not isinstance(label, str):
            raise TypeError(f"label must be a str, got {type(label).__name__}: {label!r}")
        self.data = value
        self.grad = 0.0
        self.children = ()
        self.local_grads = ()
        self.op = ""
        self.label = label
        self.constant = None
        self.constant_first = False

    def __repr__(self) -> str:
        parts = [f"data={self.data!r}", f"grad={self.grad!r}"]
        if self.op:
            parts.append(f"op={self.op!r}")
        if self.label:
            parts.append(f"label={self.label!r}")
        return f"Value({', '.join(parts)})"

    # ---- arithmetic -------------------------------------------------------------
    def __add__(self, other: Value | float) -> Value:
        """a + b.  ∂/∂a = 1, ∂/∂b = 1."""
        if isinstance(other, Value):
            return _node(self.data + other.data, (self, other), _ONE_ONE, "+")
        b = _operand(other)
        if b is None:
            return NotImplemented
        return _with_constant(self.data + b, (self,), _ONE, "+", b)

    __radd__ = __add__

    def __sub__(self, other: Value | float) -> Value:
        """a − b.  ∂/∂a = 1, ∂/∂b = −1."""
        if isinstance(other, Value):
            return _node(self.data - other.data, (self, other), _ONE_MINUS_ONE, "-")
        b = _operand(other)
        if b is None:
            return NotImplemented
        return _with_constant(self.data - b, (self,), _ONE, "-", b)

    def __rsub__(self, other: float) -> Value:
        """c − a.  ∂/∂a = −1."""
        c = _operand(other)
        if c is None:
            return NotImplemented
        return _with_constant(c - self.data, (self,), _MINUS_ONE, "-", c, True)

    def __mul__(self, other: Value | float) -> Value:
        """a · b.  ∂/∂a = b, ∂/∂b = a."""
        if isinstance(other, Value):
            return _node(self.data * other.data, (self, other), (other.data, self.data), "*")
        b = _operand(other)
        if b is None:
            return NotImplemented
        return _with_constant(self.data * b, (self,), (b,), "*", b)

    __rmul__ = __mul__

    def __truediv__(self, other: Value | float) -> Value:
        """a / b.  ∂/∂a = 1/b, ∂/∂b = −a/b² (stored as −out/b, the same number)."""
        if isinstance(other, Value):
            b = other.data
            if b == 0:
                raise ZeroDivisionError(f"division by zero: {self!r} / {other!r}")
            out = self.data / b  # a / b, not a · (1/b): that can be off by one rounding
            return _node(out, (self, other), (1.0 / b, -out / b), "/")
        b = _operand(other)
        if b is None:
            return NotImplemented
        if b == 0:
            raise ZeroDivisionError(f"division by zero: {self!r} / {other!r}")
        return _with_constant(self.data / b, (self,), (1.0 / b,), "/", b)

    def __rtruediv__(self, other: float) -> Value:
        """c / a.  ∂/∂a = −c/a²."""
        c = _operand(other)
        if c is None:
            return NotImplemented
        a = self.data
        if a == 0:
            raise ZeroDivisionError(f"division by zero: {other!r} / {self!r}")
        out = c / a
        return _with_constant(out, (self,), (-out / a,), "/", c, True)

    def __neg__(self) -> Value:
        """−a.  ∂/∂a = −1."""
        return _node(-self.data, (self,), _MINUS_ONE, "neg")

    def __abs__(self) -> Value:
        """|a|.  ∂/∂a = sign(a), taken as 0 at a = 0 (as PyTorch does)."""
        a = self.data
        local = _ONE if a > 0 else _MINUS_ONE if a < 0 else _ZERO
        return _node(abs(a), (self,), local, "abs")

    def __pow__(self, other: Value | float) -> Value:
        """aⁿ.  ∂/∂a = n·aⁿ⁻¹;  with a Value exponent also ∂/∂n = aⁿ·ln a (needs a > 0)."""
        a = self.data
        if isinstance(other, Value):
            n = other.data
            out = _check_power(a, n, self, other)
            if a > 0:
                d_exponent = out * math.log(a)
            elif a == 0 and n > 0:
                d_exponent = 0.0  # the limit of aⁿ·ln a as a → 0⁺
            else:
                raise ValueError(
                    f"{self!r} ** {other!r}: with a Value exponent the base must be positive, "
                    f"since ∂/∂exponent = base**exponent · ln(base); use a number exponent"
                )
            return _node(out, (self, other), (_power_derivative(a, n), d_exponent), "**")
        n = _operand(other)
        if n is None:
            return NotImplemented
        out = _check_power(a, n, self, other)
        return _with_constant(out, (self,), (_power_derivative(a, n),), "**", n)

    def __rpow__(self, other: float) -> Value:
        """cᵃ.  ∂/∂a = cᵃ·ln c (needs c > 0, or c = 0 with a > 0)."""
        c = _operand(other)
        if c is None:
            return NotImplemented
        a = self.data
        out = _check_power(c, a, other, self)
        if c > 0:
            local = out * math.log(c)
        elif c == 0 and a > 0:
            local = 0.0
        else:
            raise ValueError(
                f"{other!r} ** {self!r}: the base of a Value exponent must be positive, "
                f"since ∂/∂exponent = base**exponent · ln(base)"
            )
        return _with_constant(out, (self,), (local,), "**", c, True)

    # ---- functions --------------------------------------------------------------
    def exp(self) -> Value:
        """eᵃ.  ∂/∂a = eᵃ (the output itself). Overflows to inf, never raises."""
        out = _exp(self.data)
        return _node(out, (self,), (out,), "exp")

    def log(self) -> Value:
        """ln a.  ∂/∂a = 1/a. Defined for a > 0 only."""
        a = self.data
        if a <= 0:
            raise ValueError(f"log({a!r}): log is only defined for positive numbers ({self!r})")
        return _node(math.log(a), (self,), (1.0 / a,), "log")

    def sqrt(self) -> Value:
        """√a.  ∂/∂a = 1/(2√a) (∞ at a = 0). Defined for a ≥ 0 only."""
        a = self.data
        if a < 0:
            raise ValueError(f"sqrt({a!r}): sqrt is only defined for numbers >= 0 ({self!r})")
        out = math.sqrt(a)
        return _node(out, (self,), (0.5 / out if out > 0 else math.inf,), "sqrt")

    def tanh(self) -> Value:
        """tanh a.  ∂/∂a = 1 − tanh²a."""
        t = math.tanh(self.data)
        return _node(t, (self,), (1.0 - t * t,), "tanh")

    def sigmoid(self) -> Value:
        """σ(a) = 1/(1 + e⁻ᵃ).  ∂/∂a = σ(a)·(1 − σ(a))."""
        s = _sigmoid(self.data)
        return _node(s, (self,), (s * (1.0 - s),), "sigmoid")

    def relu(self) -> Value:
        """max(0, a).  ∂/∂a = 1 if a > 0 else 0 (so relu'(0) = 0, as in PyTorch)."""
        a = self.data
        if a > 0:
            return _node(a, (self,), _ONE, "relu")
        return _node(0.0, (self,), _ZERO, "relu")

    def softplus(self) -> Value:
        """ln(1 + eᵃ), computed as max(a, 0) + ln(1 + e^−|a|).  ∂/∂a = σ(a)."""
        a = self.data
        out = max(a, 0.0) + math.log1p(math.exp(-abs(a)))
        return _node(out, (self,), (_sigmoid(a),), "softplus")

    # ---- backpropagation --------------------------------------------------------
    def backward(self) -> None:
        """Fill ``grad`` with ∂self/∂node for every node below ``self``, by the chain rule.

        Interior grads are recomputed from zero on each call; leaf grads (nodes with no
        children, such as parameters) accumulate, as in PyTorch.
        """
        # This call's gradient is summed from zero on every node; only then is it added to
        # what the leaves already held, so two calls give exactly twice one call's gradient.
        interior: list[Value] = []
        leaves: list[Value] = []
        held: list[float] = []
        for node in topological_order(self):
            if node.children:
                interior.append(node)
            else:
                leaves.append(node)
                held.append(node.grad)
            node.grad = 0.0
        self.grad = 1.0  # seed: ∂self/∂self = 1
        for node in reversed(interior):  # every node's grad is complete before it is used
            upstream = node.grad
            for child, local in zip(node.children, node.local_grads):
                child.grad += upstream * local  # the chain rule
        for leaf, before in zip(leaves, held):
            leaf.grad += before

    def backward_steps(self) -> Iterator[BackwardStep]:
        """Backprop one node at a time, as `backward()` does it: see `microgradlike.stepper`."""
        from .stepper import backward_steps  # the stepper builds on the engine, not the reverse

        return backward_steps(self)

    def zero_grad(self) -> None:
        """Set ``grad`` to 0 on this node and every node below it."""
        for node in topological_order(self):
            node.grad = 0.0




def dot(weights: Iterable[Value | float], inputs: Iterable[Value | float],
        bias: Value | float = 0.0) -> Value:
    """z = Σᵢ wᵢ·xᵢ + b as ONE node: a neuron's zˡ = Wˡ·aˡ⁻¹ + bˡ.

    ∂z/∂wᵢ = xᵢ,  ∂z/∂xᵢ = wᵢ,  ∂z/∂b = 1.
    Plain numbers count in z but are not children (they need no gradient).
    """
    total = 0.0
    constant = 0.0  # the part of z made of plain numbers only
    children: list[Value] = []
    local_grads: list[float] = []
    weights = weights if isinstance(weights, (list, tuple)) else list(weights)
    inputs = inputs if isinstance(inputs, (list, tuple)) else list(inputs)
    if len(weights) != len(inputs):
        raise ValueError(f"dot needs as many weights as inputs, got {len(weights)} weights "
                         f"and {len(inputs)} inputs")
    for w, x in zip(weights, inputs):
        w_is_value, x_is_value = isinstance(w, Value), isinstance(x, Value)
        wd = w.data if w_is_value else _checked_number(w, "weight")
        xd = x.data if x_is_value else _checked_number(x, "input")
        total += wd * xd
        if not (w_is_value or x_is_value):
            constant += wd * xd
        if w_is_value:
            children.append(w)
            local_grads.append(xd)
        if x_is_value:
            children.append(x)
            local_grads.append(wd)
    if isinstance(bias, Value):
        total += bias.data
        children.append(bias)
        local_grads.append(1.0)
    else:
        b = _checked_number(bias, "bias")
        total += b
        constant += b
    out = _with_constant(total, tuple(children), tuple(local_grads), "dot", constant)
    if _dot_hook is not None:  # a trace also needs the pairing, which the node does not keep
        _dot_hook(out, weights, inputs, bias)
    return out


def sum_values(values: Iterable[Value | float]) -> Value:
    """s = Σᵢ vᵢ as ONE node.  ∂s/∂vᵢ = 1."""
    total = constant = 0.0
    children: list[Value] = []
    for v in values:
        if isinstance(v, Value):
            total += v.data
            children.append(v)
        else:
            number = _checked_number(v, "term")
            total += number
            constant += number
    return _with_constant(total, tuple(children), _ONE * len(children), "sum", constant)



def topological_order(root: Value) -> list[Value]:
    """Every node below ``root``, each after all of its children (iterative: no depth limit)."""
    order: list[Value] = []
    visited: set[Value] = set()  # Value hashes by identity
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))  # comes back after its children
        for child in node.children:
            if child not in visited:
                if child.children:
                    stack.append((child, False))
                else:  # a leaf has nothing below it: it is done as soon as it is seen
                    visited.add(child)
                    order.append(child)
    return order
