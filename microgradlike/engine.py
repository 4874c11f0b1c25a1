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
``label``, and for an op that also used a plain number, that ``constant`` and its ``layout``
(``"ac"`` for ``x - 3``, ``"ca"`` for ``3 - x``; a ``dot`` node's layout says which factor
multiplied which). Print one and you see exactly what backprop will multiply.

The ops themselves — each with its formula, its local derivatives, its domain — are the table in
`microgradlike.ops`: read it as the list of what a Value can do. The methods (``__mul__``,
``tanh``, …) are written from that table when this module is imported; ``method_source("tanh")``
prints one, and ``help(Value.tanh)`` gives its formula. Two choices keep the engine fast and
small without hiding anything:

* plain numbers are never wrapped in nodes: ``x * 3`` has one child, ``x``, whose
  local derivative is ``3.0`` (the node keeps the 3.0 itself as ``constant``);
* `dot` makes a neuron's whole pre-activation Σᵢ wᵢ·xᵢ + b a single node.
"""

from __future__ import annotations

import ast
import math
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from . import formulas
from .checks import as_real, short
from .ops import OPS, Op

if TYPE_CHECKING:
    from .stepper import BackwardStep

__all__ = ["Value", "dot", "is_grad_enabled", "logsumexp", "method_source", "no_grad", "node_names",
           "sum_values", "topological_order"]


# ---- grad mode: on or off for each thread (and each asyncio task) on its own ----------------------
_grad_enabled: ContextVar[bool] = ContextVar("microgradlike_grad_enabled", default=True)
# How many no_grad() blocks are open in any thread. While it is 0 (nearly always), grad is on
# everywhere and building a node needs no context lookup.
_open_no_grad = 0
_open_no_grad_lock = threading.Lock()


@contextmanager
def no_grad() -> Iterator[None]:
    """Inside this block operations compute values but build no graph (no children).

    The switch is per thread and per asyncio task, as in PyTorch: another thread keeps building
    graphs while this one is inside ``no_grad()``.
    """
    global _open_no_grad
    token = _grad_enabled.set(False)
    with _open_no_grad_lock:
        _open_no_grad += 1
    try:
        yield
    finally:
        with _open_no_grad_lock:
            _open_no_grad -= 1
        _grad_enabled.reset(token)


def is_grad_enabled() -> bool:
    """False inside `no_grad()` (in this thread)."""
    return _grad_enabled.get()


# ---- building nodes ------------------------------------------------------------------------------
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
        raise TypeError(f"{what} must be a Value or a real number, got {type(x).__name__}: {short(x)}")
    return value


_new = object.__new__


def _node(data: float, children: tuple, local_grads: tuple, op: str) -> Value:
    """Build an op's result without `Value.__init__`'s checks (the op made ``data``)."""
    out = _new(Value)
    out.data = data
    out.grad = 0.0
    if _open_no_grad and not _grad_enabled.get():
        out.children = out.local_grads = ()
    else:
        out.children = children
        out.local_grads = local_grads
    out.op = op
    out.label = ""
    out.constant = None
    out.layout = ""
    return out


def _with_constant(data: float, children: tuple, local_grads: tuple, op: str, constant: float,
                   layout: str) -> Value:
    """An op's result that also keeps the plain number it was made with (``x + 3`` keeps 3.0)."""
    out = _node(data, children, local_grads, op)
    out.constant = constant
    out.layout = layout
    return out


class Value:
    """A scalar in a computation graph, with the local derivatives that made it.

    >>> x = Value(2.0, label="x")
    >>> y = x * x + 1          # one '*' node, one '+' node
    >>> y.backward()
    >>> x.grad                 # dy/dx = 2x
    4.0
    """

    __slots__ = ("data", "grad", "children", "local_grads", "op", "label", "constant", "layout")
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
    #: Where the operands sat: "ac" (Value first: x − 3), "ca" (number first: 3 − x); for "dot",
    #: one letter per term of Σ wᵢ·xᵢ, "p" (a pair of Values: two children, w then x), "w" or "x"
    #: (only that factor is a Value: one child, its partner the plain number in local_grads),
    #: "c" (two plain numbers, in ``constant``), then "b" if the bias is a Value. "" otherwise.
    layout: str

    def __init__(self, data: float, label: str = "") -> None:
        value = _operand(data)
        if value is None:
            raise TypeError(f"Value needs a real number, got {type(data).__name__}: {short(data)}")
        if not isinstance(label, str):
            raise TypeError(f"label must be a str, got {type(label).__name__}: {short(label)}")
        self.data = value
        self.grad = 0.0
        self.children = ()
        self.local_grads = ()
        self.op = ""
        self.label = label
        self.constant = None
        self.layout = ""

    def __repr__(self) -> str:
        parts = [f"data={self.data!r}", f"grad={self.grad!r}"]
        if self.op:
            parts.append(f"op={self.op!r}")
        if self.label:
            parts.append(f"label={self.label!r}")
        return f"Value({', '.join(parts)})"

    # The ops (+ − × / ** neg abs exp log sqrt tanh sigmoid relu softplus sin cos) are added
    # below, from the table in microgradlike.ops.

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
    Plain numbers count in z but are not children (they need no gradient). The node's
    ``layout`` records which factor multiplied which (see `Value.layout`).
    """
    weights = weights if isinstance(weights, (list, tuple)) else list(weights)
    inputs = inputs if isinstance(inputs, (list, tuple)) else list(inputs)
    if len(weights) != len(inputs):
        raise ValueError(f"dot needs as many weights as inputs, got {len(weights)} weights "
                         f"and {len(inputs)} inputs")
    total = 0.0
    constant = 0.0  # the part of z made of plain numbers only
    children: list[Value] = []
    local_grads: list[float] = []
    for w, x in zip(weights, inputs):
        w_is_value, x_is_value = isinstance(w, Value), isinstance(x, Value)
        wd = w.data if w_is_value else _checked_number(w, "weight")
        xd = x.data if x_is_value else _checked_number(x, "input")
        total += wd * xd
        if w_is_value:
            children.append(w)
            local_grads.append(xd)
        if x_is_value:
            children.append(x)
            local_grads.append(wd)
        elif not w_is_value:
            constant += wd * xd
    bias_is_value = isinstance(bias, Value)
    if bias_is_value:
        total += bias.data
        children.append(bias)
        local_grads.append(1.0)
    else:
        b = _checked_number(bias, "bias")
        total += b
        constant += b
    return _with_constant(total, tuple(children), tuple(local_grads), "dot", constant,
                          _dot_layout(weights, inputs, children, bias_is_value))


def _dot_layout(weights: Sequence, inputs: Sequence, children: list[Value], bias_is_value: bool) -> str:
    """The layout of a dot node (see `Value.layout`): one letter per term, "b" for a Value bias.

    The three common shapes are recognised from the children without a second pass: every
    term a pair of Values (a hidden layer), every weight a Value times a plain input (a first
    layer), or the reverse. Anything else is spelled out term by term."""
    n, k = len(weights), len(children) - bias_is_value
    if k == 2 * n:
        kind = "p"
    elif k == n and children[:n] == list(weights):  # identity: Value has no __eq__
        kind = "w"
    elif k == n and children[:n] == list(inputs):
        kind = "x"
    else:
        kind = ""
    key = (kind, n, bias_is_value)
    layout = _LAYOUTS.get(key) if kind else None
    if layout is None:
        if kind:
            layout = kind * n
        else:
            layout = "".join(("p" if isinstance(x, Value) else "w") if isinstance(w, Value)
                             else ("x" if isinstance(x, Value) else "c") for w, x in zip(weights, inputs))
        layout += "b" if bias_is_value else ""
        if kind:
            _LAYOUTS[key] = layout  # one shared string per common shape
    return layout


_LAYOUTS: dict[tuple[str, int, bool], str] = {}


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
    return _with_constant(total, tuple(children), (1.0,) * len(children), "sum", constant, "")


def logsumexp(values: Iterable[Value]) -> Value:
    """s = ln Σⱼ e^{vⱼ} as ONE node, computed as s = m + ln Σⱼ e^{vⱼ − m} with m = maxⱼ vⱼ.

    Subtracting the largest vⱼ first makes every exponent ≤ 0, so nothing overflows:
    ``logsumexp([1000, 0])`` is 1000.0, not inf. m is taken inside the op, so a compiled replay
    takes it again for every input (a max read from ``.data`` outside an op would be frozen
    by a trace). With m = ±inf, s = m (all terms −inf: ln 0 = −inf; one term inf: inf).

    ∂s/∂vⱼ = e^{vⱼ} / Σₖ e^{vₖ} = e^{vⱼ − s}: the softmax of the vs, which sums to 1.
    """
    children = values if isinstance(values, tuple) else tuple(values)
    if not children:
        raise ValueError("logsumexp needs at least one Value, got none")
    for j, v in enumerate(children):
        if not isinstance(v, Value):
            raise TypeError(f"logsumexp takes Values; term {j} is {type(v).__name__}: {short(v)} "
                            f"(wrap a plain number c as Value(c))")
    data = [v.data for v in children]
    m = max(data)
    if m - m != 0.0:  # m = ±inf (inf − inf is nan)
        out = m
    else:
        total = 0.0
        for x in data:
            total += math.exp(x - m)  # x − m ≤ 0: at most 1
        out = m + math.log(total)
    local_grads = tuple(math.exp(x - out) for x in data)  # never overflows: x ≤ out (nan at ±inf)
    return _node(out, children, local_grads, "logsumexp")


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


def node_names(root: Value, order: list[Value] | None = None) -> dict[Value, str]:
    """A name for every node below ``root``: its label, or "n<k>" with k its position in
    `topological_order` (the names pictures and step explanations share)."""
    order = topological_order(root) if order is None else order
    return {node: node.label or f"n{k}" for k, node in enumerate(order)}


# ---- the ops: Value methods written from the table in microgradlike.ops -------------------------
def refuse(op: str, check: int, a: object, b: object = None) -> Exception:
    """The error of ``OPS[op].checks[check]``, naming the operands ``a`` and ``b`` as given."""
    rule = OPS[op].checks[check]
    return rule.error(rule.message.format(a=short(a), b=short(b)))


_SOURCES: dict[str, str] = {}
_NAMESPACE: dict[str, object] = {
    **formulas.NAMESPACES["float"], "Value": Value, "_node": _node, "_with_constant": _with_constant,
    "_operand": _operand, "_refuse": refuse,
}


def _shared(derivatives: str) -> str:
    """The local-derivatives tuple as source. A tuple of constants is made once and shared by
    every node (``(1.0, 1.0)`` for +); a one-operand branch between constants picks a shared
    tuple (relu: ``(1.0,)`` or ``(0.0,)``). Saves a tuple per node."""
    tree = ast.parse(derivatives, mode="eval").body
    assert isinstance(tree, ast.Tuple)
    numbers = [_number(e) for e in tree.elts]
    if all(n is not None for n in numbers):
        return _constant_tuple(tuple(numbers))  # type: ignore[arg-type]
    if len(tree.elts) == 1 and _constant_branches(tree.elts[0]):
        return f"({_pick(tree.elts[0])})"
    return derivatives


def _constant_tuple(values: tuple[float, ...]) -> str:
    name = "_K" + "_".join(repr(v).replace("-", "m").replace(".", "p") for v in values)
    _NAMESPACE[name] = values
    return name


def _constant_branches(node: ast.expr) -> bool:
    if isinstance(node, ast.IfExp):
        return _constant_branches(node.body) and _constant_branches(node.orelse)
    return _number(node) is not None


def _number(node: ast.expr) -> float | None:
    """A number written in the source (``2.0``, ``(-1.0)``), else None."""
    try:
        value = ast.literal_eval(node)
    except ValueError:
        return None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _pick(node: ast.expr) -> str:
    if isinstance(node, ast.IfExp):
        return f"{_pick(node.body)} if {ast.unparse(node.test)} else {_pick(node.orelse)}"
    return _constant_tuple((_number(node),))  # type: ignore[arg-type]


def _one_operand_result(forward: str, derivative: str, name: str) -> list[str]:
    """``out = …; return _node(…)``; when the result and its derivative branch on the same test
    (relu: ``a if a > 0 else 0.0`` and ``1.0 if a > 0 else 0.0``), the test is made once."""
    f, d = (ast.parse(text, mode="eval").body for text in (forward, derivative))
    if isinstance(f, ast.IfExp) and isinstance(d, ast.IfExp) and ast.dump(f.test) == ast.dump(d.test):
        when_true = _one_operand_result(ast.unparse(f.body), ast.unparse(d.body), name)
        return [f"if {ast.unparse(f.test)}:", *("    " + line for line in when_true),
                *_one_operand_result(ast.unparse(f.orelse), ast.unparse(d.orelse), name)]
    return [f"out = {forward}", f"return _node(out, (self,), {_shared(f'({derivative},)')}, {name!r})"]


def _checks(op: Op, names: dict[str, str | float], shown: str, plain: str) -> list[str]:
    """The domain checks as source; ``plain`` names the operand that is a plain number, if any."""
    lines = []
    for k, rule in enumerate(op.checks):
        if plain and rule.only_if_value == plain:
            continue
        failed = formulas.render(f"not ({rule.condition})", "float", names)
        if failed != "False":
            lines += [f"if {failed}:", f"    raise _refuse({op.name!r}, {k}, {shown})"]
    return lines


def _method_source(op: Op) -> str:
    """The Python of ``op``'s Value method(s), as compiled into `Value`."""
    def render(formula: str) -> str:
        return formulas.render(formula, "float", {"a": "a", "b": "b", "out": "out"})

    forward = render(op.forward)
    derivs = [render(d) for d in op.derivatives]
    math_text = "; ".join(f"∂/∂{v} = {d}" for v, d in zip("ab", op.derivatives))
    doc = f'"""{op.math}.  {math_text}.{"  " + op.kink if op.kink else ""}"""'
    indent = "    "
    if op.arity == 1:
        body = ["a = self.data", *_checks(op, {"a": "a"}, "self", ""),
                *_one_operand_result(forward, derivs[0], op.name)]
        return "\n".join([f"def {op.method}(self):", indent + doc, *(indent + line for line in body)])
    both = f"({derivs[0]}, {derivs[1]})"
    lines = [
        f"def {op.method}(self, other):", doc, "a = self.data", "if isinstance(other, Value):",
        *(indent + line for line in ["b = other.data", *_checks(op, {"a": "a", "b": "b"}, "self, other", ""),
                                     f"out = {forward}",
                                     f"return _node(out, (self, other), {_shared(both)}, {op.name!r})"]),
        "b = _operand(other)", "if b is None:", "    return NotImplemented",
        *_checks(op, {"a": "a", "b": "b"}, "self, other", "b"), f"out = {forward}",
        f"return _with_constant(out, (self,), {_shared(f'({derivs[0]},)')}, {op.name!r}, b, 'ac')",
    ]
    reflected = [
        f"def {op.reflected}(self, other):", doc, "a = _operand(other)", "if a is None:",
        "    return NotImplemented", "b = self.data", *_checks(op, {"a": "a", "b": "b"}, "other, self", "a"),
        f"out = {forward}",
        f"return _with_constant(out, (self,), {_shared(f'({derivs[1]},)')}, {op.name!r}, a, 'ca')",
    ]
    return "\n".join([lines[0], *(indent + line for line in lines[1:]), "",
                      reflected[0], *(indent + line for line in reflected[1:])])


def _define_ops() -> None:
    for op in OPS.values():
        source = _method_source(op)
        namespace = dict(_NAMESPACE)
        exec(compile(source, f"<microgradlike op {op.name}>", "exec"), namespace)  # our own text only
        for name in (op.method, op.reflected):
            if name:
                method = namespace[name]
                method.__qualname__ = f"Value.{name}"
                setattr(Value, name, method)
                _SOURCES[name] = source
                if name in _NAMESPACE:  # `def log` rebound the math function `log` the method calls
                    namespace[name] = _NAMESPACE[name]
        _SOURCES[op.name] = source


def method_source(name: str) -> str:
    """The Python source written from the op table for an op (``"tanh"``, ``"*"``) or a Value
    method (``"__mul__"``): what runs when you call it."""
    if name not in _SOURCES:
        raise ValueError(f"no op or method {name!r}; ops: {', '.join(OPS)}")
    return _SOURCES[name]


_define_ops()
