"""The autograd engine: a scalar `Value` that remembers how it was made.

Every operation does two things at forward time:

1. it computes its result from its inputs' data, and
2. it records, for each input ("child"), the *local derivative* ∂out/∂child,
   computed from those same forward values (the notes: backprop needs the zˡ and aˡ
   saved during the forward pass).

`Value.backward` then needs nothing but the chain rule, applied to the nodes in reverse
`topological_order` (each node after everything it was computed from)::

    ∂L/∂child += ∂L/∂out · ∂out/∂child

This file tells that story in order: the node, a plain record (`Value`), and its `backward`;
how an op builds a node (`_node`, with ``x * y`` as the example); the ops over many operands
(`dot`, and `dot_terms`, which reads a dot node's terms back; `sum_values`, `logsumexp`); the
topological order. The ops of one or two operands (``+ − × / **``, ``tanh``, ``exp``, …: every
row of the table in `microgradlike.ops`) are methods in ``methods.py``, each with its formula and
local derivatives, written from that table (open either).
Grad mode (`no_grad`) and the checks on plain numbers come last: machinery, not the idea.

Two choices keep the engine fast and small without hiding anything:

* plain numbers are never wrapped in nodes: ``x * 3`` has one child, ``x``, whose
  local derivative is ``3.0`` (the node keeps the 3.0 itself as ``constant``);
* `dot` makes a neuron's whole pre-activation Σᵢ wᵢ·xᵢ + b a single node.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, NamedTuple

from . import methods
from .checks import as_real, cut, real, short
from .methods import ValueOps

if TYPE_CHECKING:
    from .stepper import BackwardStep

__all__ = ["Term", "Value", "checked_data", "dot", "dot_terms", "is_grad_enabled", "logsumexp", "no_grad",
           "node_names", "sum_values", "topological_order"]


# ---- the node ------------------------------------------------------------------------------------
class Value(ValueOps):
    """A scalar in a computation graph, with the local derivatives that made it.

    >>> x = Value(2.0, label="x")
    >>> y = x * x + 1          # one '*' node, one '+' node
    >>> y.backward()
    >>> x.grad                 # dy/dx = 2x
    4.0

    A node is a plain record: print one and you see exactly what backprop will multiply. Its ops
    (``x * y``, ``x.tanh()``, …) are the methods of `ValueOps`, in ``methods.py``.
    ``float(v)`` is ``v.data`` and ``bool(v)`` is ``v.data != 0``, as for a float or a PyTorch
    scalar.
    """

    __slots__ = ("data", "grad", "children", "local_grads", "op", "label", "constant", "layout")
    # numpy must hand `np.float64(2) * v` back to Value.__rmul__, not broadcast over it.
    __array_ufunc__ = None

    data: float
    grad: float | Value  # a Value after backward(create_graph=True): see microgradlike.derivatives
    children: tuple[Value, ...]
    local_grads: tuple[float, ...]  # ∂self/∂child, one per child, in the same order
    op: str  # "" for a leaf
    label: str
    #: The plain number an op used besides its Value children (``x + 3`` keeps 3.0; a
    #: "dot" or "sum" node its plain-number part), or None: pictures, explanations and
    #: compiled replays show the real number.
    constant: float | None
    #: Where the operands sat: "ac" (Value first: x − 3), "ca" (number first: 3 − x); for "dot",
    #: one letter per term of Σ wᵢ·xᵢ, "p" (a pair of Values: two children, w then x), "w" or "x"
    #: (only that factor is a Value: one child, its partner the plain number in local_grads),
    #: "c" (two plain numbers, in ``constant``), then "b" if the bias is a Value. "" otherwise.
    #: Compact to build; read it back with `dot_terms` and `microgradlike.ops.operands`.
    layout: str

    def __init__(self, data: float, label: str = "") -> None:
        value = real(data, "the data of a Value")
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

    def __float__(self) -> float:
        """``float(v)`` is ``v.data``, a plain number outside the graph (as ``float()`` of a PyTorch
        scalar). So ``math.exp(v)`` gives a float that no gradient flows through: use ``v.exp()``."""
        data = self.data
        return data if type(data) is float else checked_data(self, "the data of a Value")

    def __bool__(self) -> bool:
        """``bool(v)`` is ``v.data != 0``, as for a float or a PyTorch scalar: ``if loss:`` is False
        for a loss of exactly 0.0 (nan, like a float's, is True)."""
        return self.data != 0.0

    # ---- backpropagation: the chain rule, over the topological order -------------------------
    def backward(self, create_graph: bool = False) -> None:
        """Fill ``grad`` with ∂self/∂node for every node below ``self``, by the chain rule.

        Interior grads are recomputed from zero on each call; leaf grads (nodes with no
        children, such as parameters) accumulate, as in PyTorch. With ``create_graph=True``, as
        in PyTorch, each grad is a Value built by the chain rule (so ``x.grad`` can be
        differentiated again: see `microgradlike.derivatives`); the default multiplies numbers.
        """
        if self.op and not self.children:  # PyTorch raises here too: no graph was recorded
            raise RuntimeError(f"{self!r} was computed inside no_grad(), which records no graph: "
                               f"there is nothing to backpropagate through")
        data = self.data
        if type(data) is not float or data != data:  # one test here; the search only if it fails
            _check_leaves(self)
        if create_graph:
            from .derivatives import backward_with_graph  # gradients of gradients build on this

            return backward_with_graph(self)
        # This call's gradient is summed from zero on every node; only then is it added to
        # what the leaves already held, so two calls give exactly twice one call's gradient.
        interior: list[Value] = []
        leaves: list[Value] = []
        held: list[float | Value] = []
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


# ---- an op: compute the result, record the local derivatives -------------------------------------
# Every op of methods.py has this shape. Here is ``x * y`` for two Values, as methods.py writes it:
#
#     def __mul__(self, other):
#         a, b = self.data, other.data
#         return _node(a * b, (self, other), (b, a), "*")   # out = a·b;  ∂out/∂a = b,  ∂out/∂b = a
#
# The node keeps x and y as its children and (y.data, x.data) as its local derivatives, so that
# `backward` can later add  ∂L/∂out · y.data  to x.grad and  ∂L/∂out · x.data  to y.grad. With a
# plain number (``x * 3``) the method records one child, and `_with_constant` keeps the 3.0.
_new = object.__new__


def _node(data: float, children: tuple, local_grads: tuple, op: str) -> Value:
    """An op's result: ``data``, and ∂data/∂child for each child (no checks: the op made ``data``).
    Inside `no_grad()` the node records no children."""
    out = _new(Value)
    out.data = data
    out.grad = 0.0
    # inside an open no_grad() block of this thread: no graph (a block closed from another
    # thread counts as closed: is_grad_enabled looks past it)
    if _open_blocks and (block := _block.get()) is not None and (block in _open_blocks
                                                                 or not is_grad_enabled()):
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


# ---- ops over many operands: one node each ---------------------------------------------------------
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
    only_x = plain = 0  # terms whose weight is a plain number; terms of two plain numbers
    try:  # costs nothing until raised: an int too large for a float, set as data by hand, overflows
        for w, x in zip(weights, inputs):
            if isinstance(w, Value):
                wd = w.data
                if isinstance(x, Value):  # w·x: ∂/∂w = x, ∂/∂x = w
                    xd = x.data
                    children.append(w)
                    children.append(x)
                    local_grads.append(xd)
                    local_grads.append(wd)
                else:  # w·(a plain number)
                    xd = _term_number(x, inputs, "input")
                    children.append(w)
                    local_grads.append(xd)
            else:
                wd = _term_number(w, weights, "weight")
                if isinstance(x, Value):  # (a plain number)·x
                    xd = x.data
                    children.append(x)
                    local_grads.append(wd)
                    only_x += 1
                else:  # two plain numbers: part of the constant
                    xd = _term_number(x, inputs, "input")
                    constant += wd * xd
                    plain += 1
            total += wd * xd
        bias_is_value = isinstance(bias, Value)
        if isinstance(bias, Value):
            total += bias.data
            children.append(bias)
            local_grads.append(1.0)
        else:
            b = real(bias, "the bias of dot")
            total += b
            constant += b
    except OverflowError:
        _check_data(weights, inputs, bias)  # names the Value that holds it
        raise
    if type(total) is not float or total != total:  # one test here; the search only if it fails
        _check_data(weights, inputs, bias)
    n, k = len(weights), len(children) - bias_is_value
    kind = "p" if k == 2 * n else "w" if k == n and not only_x and not plain else "x" if only_x == n else ""
    layout = _LAYOUTS.get((kind, n, bias_is_value)) if kind else None
    if layout is None:
        layout = _dot_layout(weights, inputs, bias_is_value, kind)
    return _with_constant(total, tuple(children), tuple(local_grads), "dot", constant, layout)


def _dot_layout(weights: Sequence, inputs: Sequence, bias_is_value: bool, kind: str) -> str:
    """The layout of a dot node (see `Value.layout`): one letter per term, then "b" for a Value
    bias. The three common shapes — every term a pair of Values (a hidden layer), every weight a
    Value times a plain input (a first layer), or the reverse — are ``kind`` repeated and kept
    (one shared string per shape); anything else is spelled out term by term."""
    if kind:
        layout = kind * len(weights) + ("b" if bias_is_value else "")
        _LAYOUTS[(kind, len(weights), bias_is_value)] = layout
        return layout
    letters = (("p" if isinstance(x, Value) else "w") if isinstance(w, Value)
               else ("x" if isinstance(x, Value) else "c") for w, x in zip(weights, inputs))
    return "".join(letters) + ("b" if bias_is_value else "")


_LAYOUTS: dict[tuple[str, int, bool], str] = {}


class Term(NamedTuple):
    """One term of a "dot" node's Σ that holds a Value (see `dot_terms`)."""

    kind: str  # "pair", "plain input", "plain weight" or "bias"
    weight: Value | float  # the bias itself for a "bias"
    input: Value | float  # 1.0 for a "bias"


def dot_terms(node: Value) -> tuple[Term, ...]:
    """A "dot" node's terms, in the order of its children, read back from its ``layout`` (the one
    place that reads it): ``pair`` wᵢ·xᵢ, two Values (two children, w then x); ``plain input`` a
    Value weight times a plain number, and ``plain weight`` a plain number times a Value input (one
    child each; the plain number is its local derivative); ``bias`` a Value b. Terms of two plain
    numbers, and a plain bias, are summed in ``node.constant``."""
    terms = []
    i = 0
    kids, local = node.children, node.local_grads
    for kind in node.layout:
        if kind == "p":
            terms.append(Term("pair", kids[i], kids[i + 1]))
            i += 2
        elif kind == "w":
            terms.append(Term("plain input", kids[i], local[i]))
            i += 1
        elif kind == "x":
            terms.append(Term("plain weight", local[i], kids[i]))
            i += 1
        elif kind == "b":
            terms.append(Term("bias", kids[i], 1.0))
            i += 1
    return tuple(terms)


def sum_values(values: Iterable[Value | float]) -> Value:
    """s = Σᵢ vᵢ as ONE node.  ∂s/∂vᵢ = 1."""
    total = constant = 0.0
    children: list[Value] = []
    for i, v in enumerate(values):
        if isinstance(v, Value):
            total += v.data
            children.append(v)
        else:
            number = real(v, f"term {i} of sum_values")
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


# ---- the topological order: each node after everything it was computed from ------------------------
def topological_order(root: Value, *more_roots: Value) -> list[Value]:
    """Every node below ``root``, each after all of its children (iterative: no depth limit).
    With more roots, every node below any of them, in one walk: ``root``'s order, then what each
    next root adds."""
    order: list[Value] = []
    visited: set[Value] = set()  # Value hashes by identity
    stack: list[tuple[Value, bool]] = [(r, False) for r in reversed((root, *more_roots))]
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
    """A name for every node below ``root``: its label, else "L" for the root (what is
    differentiated) and "n<k>" for the others, k the node's position in `topological_order`.
    Pictures and step explanations share these names."""
    order = topological_order(root) if order is None else order
    names = {node: node.label or f"n{k}" for k, node in enumerate(order)}
    if not root.label and "L" not in names.values():
        names[root] = "L"
    return names


# ---- grad mode: on or off for each thread (and each asyncio task) on its own ----------------------
class _NoGradBlock:
    """One ``with no_grad():`` block; ``outer`` is the block it was opened inside (in its thread or
    task), None at the top."""

    __slots__ = ("outer",)

    def __init__(self, outer: _NoGradBlock | None) -> None:
        self.outer = outer


#: The innermost no_grad() block of this thread or asyncio task (None: outside any).
_block: ContextVar[_NoGradBlock | None] = ContextVar("microgradlike_no_grad", default=None)
#: The blocks open now, in any thread. While it is empty (nearly always), grad is on everywhere and
#: building a node needs no context lookup. Changed in place, never rebound.
_open_blocks: set[_NoGradBlock] = set()
_open_blocks_lock = threading.Lock()


@contextmanager
def no_grad() -> Iterator[None]:
    """Inside this block operations compute values but build no graph (no children).

    The switch is per thread and per asyncio task, as in PyTorch: another thread keeps building
    graphs while this one is inside ``no_grad()``. A block is meant to end in the thread (or
    task) it began in. If it ends in another one (a generator that entered it, finished by
    another thread), grad mode comes back on in the thread it began in all the same, as soon as
    it ends, and the thread that ended it is left as it was: where PyTorch's thread-local switch
    would turn grad mode back on in the thread that ends the block and leave it off in the other.
    """
    block = _NoGradBlock(_block.get())
    token = _block.set(block)
    with _open_blocks_lock:
        _open_blocks.add(block)
    try:
        yield
    finally:
        with _open_blocks_lock:
            _open_blocks.discard(block)
        try:
            _block.reset(token)
        except ValueError:  # "created in a different Context": ended in another thread or task,
            pass  # whose grad mode this block never changed; its own thread's reads it as closed


def is_grad_enabled() -> bool:
    """False inside `no_grad()` (in this thread)."""
    block = _block.get()
    while block is not None and block not in _open_blocks:  # closed, from another thread
        block = block.outer
    return block is None


# ---- plain numbers: what an op accepts besides a Value ---------------------------------------------
# The rule for a real number is `checks.real`'s: these apply it where an op meets a plain number,
# testing the common case (a float that is not NaN) inline, as these run on every op.
def _operand(x: object, op: str) -> float | None:
    """A plain-number operand of ``op`` as a float, or None if ``x`` is no number (Python then tries
    the other operand's method). NaN is refused: it would poison silently every later number."""
    if type(x) is float and x == x:  # only NaN is unequal to itself
        return x
    try:
        value = as_real(x)
    except ValueError:  # an int too large for a float
        value = math.nan
    if value is None or value == value:
        return value
    return real(x, f"the number in {op}")  # raises: NaN, or too large


def _term_number(x: object, terms: Sequence, what: str) -> float:
    """A plain number among dot's weights or inputs as a float, or the error naming its place."""
    if type(x) is float and x == x:
        return x
    try:
        value = as_real(x)
    except ValueError:  # an int too large for a float
        value = None
    if value is None or value != value:
        where = next(i for i, t in enumerate(terms) if t is x)  # only on the way to an error
        return real(x, f"{what} {where} of dot")
    return value


# ---- a slip the ops cannot see: data set to something that is not a real number --------------------
# ``data`` is a plain attribute, written by every op and update, so assigning to it checks nothing:
# ``p.data = p - lr * p.grad`` stores a Value, ``p.data = math.nan`` a NaN. Checking every read would
# slow every op, so the checks sit where such data surfaces at the cost of one test: `dot` (every
# neuron) and `backward` test the one number they made; only if it is not a float, or NaN, do they
# look for the Value whose data is to blame. (A single op such as ``x * 2`` on data set to an int too
# large for a float raises Python's own OverflowError: a guard in every method of methods.py would
# cost each op a try block in the code a learner reads.)
def checked_data(node: Value, name: str) -> float:
    """``node.data`` as a float if it is a real number, not NaN; else TypeError/ValueError naming
    ``name`` (the `checks.real` wording) and what usually causes it."""
    data = node.data
    if isinstance(data, Value):
        raise TypeError(f"{name} must be a real number, got Value: {short(data)} (a Value's data is "
                        f"its plain number: update a parameter with p.data -= lr * p.grad, not "
                        f"p.data = p - lr * p.grad)")
    try:
        return real(data, name)
    except ValueError as e:
        if data != data:  # nan: Value(nan) is refused, so it was assigned or an update diverged
            raise ValueError(f"{e} (NaN poisons every number computed from it: was it assigned to "
                             f".data, or did an update diverge? then lower the learning rate)") from None
        raise


def _check_data(weights: Sequence, inputs: Sequence, bias: object) -> None:
    """Raise for the first Value among dot's terms whose data is not a real number (a leaf's NaN
    too; an op's NaN, such as inf − inf, is a result, not a slip)."""
    for what, terms in (("weight", weights), ("input", inputs)):
        for i, t in enumerate(terms):
            if isinstance(t, Value) and _slipped(t):
                checked_data(t, f"the data of {what} {i} of dot{_named(t)}")
    if isinstance(bias, Value) and _slipped(bias):
        checked_data(bias, f"the data of the bias of dot{_named(bias)}")


def _named(node: Value) -> str:
    """`` (its label)`` for a labelled Value (a model's parameter: ``layers.0.neurons.0.w.0``)."""
    return f" ({cut(str(node.label), 80)})" if node.label else ""


def _check_leaves(root: Value) -> None:
    """Raise for the first node below ``root`` whose data is not a real number (see `_check_data`)."""
    for node in topological_order(root):
        if _slipped(node):
            checked_data(node, f"the data of {short(node)}")


def _slipped(node: Value) -> bool:
    """Whether ``node.data`` is no real number, or a leaf's (not an op's) NaN."""
    data = node.data
    if type(data) is float:
        return data != data and not node.op
    try:
        number = as_real(data)
    except ValueError:  # an int too large for a float
        return True
    return number is None or (number != number and not node.op)


# ---- the ops' builders ---------------------------------------------------------------------------
# The methods of methods.py test `isinstance(other, Value)` and build their nodes with `_node`,
# `_with_constant` and `_operand`. Value is made from ValueOps, so methods.py is imported before
# any of these exist: they are handed over now.
vars(methods).update(Value=Value, _node=_node, _with_constant=_with_constant, _operand=_operand)
