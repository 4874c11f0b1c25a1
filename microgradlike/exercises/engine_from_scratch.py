"""Checkers for lesson 2, build your own engine (notebooks/02_build_your_own_engine).

The learner writes a micrograd-sized engine of their own, and each step is checked against
microgradlike's engine on random graphs and random inputs:

* `check_value`: a node's record (data, grad, children) and the forward pass of + − × with
  Values and plain numbers, on either side.
* `check_local_gradients`: each op's ``pass_back``: the local derivative times ``out.grad``,
  ADDED to what the input already holds (a node used twice gets one term per use).
* `check_topological_order`: every node once, each after all of its children; ``depth`` sets the
  longest chain it is tried on (a recursive sort stops near Python's recursion limit).
* `check_backward`: the seed ∂L/∂L = 1, the order, every node's grad, on graphs with shared nodes.
* `check_mlp`: the learner's MLP computes the library's `MLP` when given the same parameters,
  and backward through it gives the same gradients.
* `check_training_loop`: zero the grads, forward, loss, backward, update: the losses and the
  parameters of `fit` with plain SGD on the notes' piecewise-linear data.

What the learner's engine looks like (the lesson builds it): ``Value(data, children=(), op="")``
with ``data``, ``grad`` (0 at first), ``children`` (the inputs it was made from), ``op`` and
``pass_back()``, which sends ``grad`` on to the children (a leaf's does nothing); ``backward()``;
the ops as Python operators (``a + b``, ``2 * a``, ``a - b``, ``-a``, ``a / b``, ``a ** 3``) and
methods (``a.tanh()``, ``a.exp()``, ``a.relu()``). ``MLP(nin, nouts)`` has hidden layers of
tanh neurons and a linear output layer, as the library's; ``parameters()`` lists each neuron's
weights then its bias, neuron by neuron, layer by layer.

Every reference is computed with the library's engine, never with the learner's; hints say where
to look, never the code.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..checks import short
from ..data import piecewise_linear
from ..engine import Value
from ..engine import topological_order as library_order
from ..nn import MLP
from ..optim import SGD
from ..train import fit
from . import Verdict
from .checking import as_floats, attempt, checker, close, first, fmt, number, real, same_numbers
from .training import mistaken_epoch

__all__ = ["OPS", "check_backward", "check_local_gradients", "check_mlp", "check_topological_order",
           "check_training_loop", "check_value"]


# ---- the ops a learner's Value may have, applied the same way to either engine -----------------------
@dataclass(frozen=True)
class _Op:
    """How to call one op on Values of either engine (duck typing: ``a * b`` is ``a * b``)."""

    apply: Callable[..., Any]
    written: str  # the call as the learner would write it: "{a} * {b}"
    kind: str  # "binary" (two Values), "power" (a Value and a plain exponent), "unary"
    hint: str  # where to look for the local derivative: a question, never the formula
    #: Where the op is smooth and safe to check (no overflow, no kink, no division by ~0).
    safe: Callable[[float, float], bool] = lambda a, b: True
    #: Made of other ops (a − b = a + (−1)·b), so it has no pass_back of its own to check.
    derived: bool = False
    #: A point where the derivative is a convention (relu at 0), checked besides the smooth ones.
    kink: float | None = None


#: The ops the checkers know, by the name a learner passes in ``ops``.
OPS: dict[str, _Op] = {
    "+": _Op(lambda a, b: a + b, "{a} + {b}", "binary",
             "nudge a by h: how much does a + b move? (the same for b)"),
    "*": _Op(lambda a, b: a * b, "{a} * {b}", "binary",
             "nudge a by h: how much does a·b move? It depends on b"),
    "-": _Op(lambda a, b: a - b, "{a} - {b}", "binary",
             "a − b is a + (−1)·b: the ops you already have give it and its pass_back", derived=True),
    "/": _Op(lambda a, b: a / b, "{a} / {b}", "binary",
             "a / b is a · b⁻¹: with ** and * you need no new pass_back",
             safe=lambda a, b: abs(b) > 0.3, derived=True),
    "**": _Op(lambda a, k: a ** k, "{a} ** {b}", "power",
              "the power rule, with the exponent a plain number (not a Value)",
              safe=lambda a, k: abs(a) > 0.3),
    "tanh": _Op(lambda a: a.tanh(), "{a}.tanh()", "unary",
                "lesson 1's first exercise: tanh's local derivative, written with the output out.data"),
    "exp": _Op(lambda a: a.exp(), "{a}.exp()", "unary",
               "nudge x by h: how much does eˣ move, compared with eˣ itself?",
               safe=lambda a, b: abs(a) < 3.0),
    "relu": _Op(lambda a: a.relu(), "{a}.relu()", "unary",
                "relu is flat left of 0 and has slope 1 right of it; its local derivative reads which "
                "side x is on (at exactly 0, the lesson and PyTorch take the flat side)",
                safe=lambda a, b: abs(a) > 0.05, kink=0.0),
}
#: The ops the lesson builds first.
BASIC = ("+", "*", "tanh", "exp")


def _not_a_class(exercise: str, cls: object, name: str) -> Verdict | None:
    if callable(cls):
        return None
    return Verdict(exercise, False, f"expected your {name} class, got {short(cls, 40)}",
                   hint=f"pass your class itself ({name}, without calling it)")


def _ops(exercise: str, ops: object, derived: bool = True) -> list[str] | Verdict:
    """The op names asked for, checked (the lesson passes them; a typo gets a verdict); ops made of
    other ops only where ``derived``."""
    known = [name for name, op in OPS.items() if derived or not op.derived]
    names = first(ops, len(OPS)) if not isinstance(ops, str) else [ops]
    if not names or not all(isinstance(n, str) and n in known for n in names):
        made = "" if derived else "; − and / are made of other ops: check them with check_backward"
        return Verdict(exercise, False, f"ops must name some of {', '.join(known)}, got "
                       f"{short(ops, 40)}", hint=f"for example ops=(\"relu\", \"**\"){made}")
    return list(dict.fromkeys(names))


def _shown(x: object) -> str:
    """A learner's node as ``Value(2.0)``, a plain number as itself."""
    data = getattr(x, "data", None)
    return f"Value({fmt(data)})" if real(data) is not None else fmt(x)


def _call(exercise: str, op: str, *operands: Any, hint: str = "") -> Any | Verdict:
    """``op`` applied to the learner's operands, or a failed verdict that shows the call."""
    spec = OPS[op]
    a, b = [*operands, None][:2]
    written = spec.written.format(a=_shown(a), b=_shown(b) if b is not None else "")
    return attempt(exercise, spec.apply, *operands, hint=hint or spec.hint, call=written)


def _new(exercise: str, cls: Any, data: float) -> Any | Verdict:
    return attempt(exercise, cls, data, hint="Value(data) makes a leaf: a node with no children",
                   call=f"Value({fmt(data)})")


def _number_of(exercise: str, node: Any, what: str, hint: str) -> float | Verdict:
    """``node.data`` or ``node.grad`` read from a learner's node, as a float, or a verdict."""
    try:
        raw = getattr(node, what)
    except AttributeError:
        return Verdict(exercise, False, f"your node {short(node, 40)} has no .{what}", hint=hint)
    return number(exercise, raw, f"the .{what} of your node", hint=hint)


# ---- step 1: the record, and the forward pass ---------------------------------------------------------
VALUE = "a Value that remembers"
_RECORD_HINT = ("an op's result is a new Value whose children are the Values it was computed from; a plain "
                "number is first made into a Value of its own")


#: Step 1's forward cases: how each is written, computed (floats or either engine's Values), and
#: whether it has two operands (either of which may then be a plain number). + and × are nodes of
#: their own, whose children are their operands; − and negation may be made of them.
_FORWARD = (("{a} + {b}", lambda a, b: a + b, True), ("{a} * {b}", lambda a, b: a * b, True),
            ("{a} - {b}", lambda a, b: a - b, True), ("-{a}", lambda a, b: -a, False))
_OWN_NODES = ("{a} + {b}", "{a} * {b}")


@checker(VALUE)
def check_value(value_class: type) -> Verdict:
    """``Value`` (the learner's class): a leaf holds its data, grad 0 and no children; ``a + b``,
    ``a * b``, ``a - b``, ``-a``, with Values and with plain numbers on either side, give the right
    data and record their inputs as children."""
    failed = _not_a_class(VALUE, value_class, "Value")
    if failed is not None:
        return failed
    rng = np.random.default_rng(0)
    x0 = float(rng.uniform(-2, 2))
    leaf = _new(VALUE, value_class, x0)
    if isinstance(leaf, Verdict):
        return leaf
    for what, want in (("data", x0), ("grad", 0.0)):
        got = _number_of(VALUE, leaf, what, hint="Value(data) keeps data, and a grad starting at 0")
        if isinstance(got, Verdict):
            return got
        if got != want:
            return Verdict(VALUE, False, f"Value({fmt(x0)}).{what} is {fmt(got)}, not {fmt(want)}",
                           hint="a new node's grad is 0: nothing has been passed back to it yet")
    children = _children(VALUE, leaf)
    if isinstance(children, Verdict):
        return children
    if children:
        return Verdict(VALUE, False, f"a leaf Value({fmt(x0)}) has {len(children)} children",
                       hint=_RECORD_HINT)
    for _ in range(3):
        x, y, c = (float(v) for v in rng.uniform(-2, 2, size=3))
        for written, fn, binary in _FORWARD:
            for number_at in (None, 0, 1) if binary else (None,):
                a, b = (c if number_at == 0 else x), (c if number_at == 1 else y)
                verdict = _forward_case(value_class, written, fn, a, b, number_at)
                if verdict is not None:
                    return verdict
    return Verdict(VALUE, True, "leaves start with grad 0; +, ×, − and negation give the right data with "
                   "Values and plain numbers on either side, and each result records its inputs")


def _forward_case(cls: Any, written: str, fn: Callable[[Any, Any], Any], x: float, y: float,
                  number_at: int | None) -> Verdict | None:
    """One forward case, operand ``number_at`` (0 or 1) a plain number: None when it is right."""
    operands = []
    for k, value in enumerate((x, y)):
        node = value if k == number_at else _new(VALUE, cls, value)
        if isinstance(node, Verdict):
            return node
        operands.append(node)
    call = written.format(a=_shown(operands[0]), b=_shown(operands[1]))
    hint = _operator_hint(number_at == 0)
    out = attempt(VALUE, fn, *operands, call=call, hint=hint)
    if isinstance(out, Verdict):
        return out
    got = _number_of(VALUE, out, "data", hint=hint)
    if isinstance(got, Verdict):
        return got
    want = fn(x, y)
    if not close(got, want, rtol=1e-12, atol=1e-12):
        return Verdict(VALUE, False, f"{call} gives data {fmt(got)}, not {fmt(want)}", hint=hint)
    if written not in _OWN_NODES:
        return None
    return _records_inputs(out, call, [node for k, node in enumerate(operands) if k != number_at])


def _operator_hint(number_first: bool) -> str:
    if number_first:
        return ("with the number first (2 * a), Python asks the number, which gives up, then calls "
                "your class's __rmul__ (or __radd__, __rsub__)")
    return _RECORD_HINT


def _children(exercise: str, node: Any) -> list[Any] | Verdict:
    try:
        raw = node.children
    except AttributeError:
        return Verdict(exercise, False, f"your node {short(node, 40)} has no .children",
                       hint="each Value keeps the tuple of Values it was computed from as children")
    items = first(raw, 1000) if not isinstance(raw, set | frozenset) else list(raw)
    if items is None:
        return Verdict(exercise, False, f".children should be a tuple of Values, got {short(raw, 40)}",
                       hint="each Value keeps the tuple of Values it was computed from as children")
    return items


def _records_inputs(out: Any, call: str, inputs: list[Any]) -> Verdict | None:
    """None when every Value input of ``call`` is among ``out``'s children (by identity)."""
    children = _children(VALUE, out)
    if isinstance(children, Verdict):
        return children
    ids = {id(child) for child in children}
    missing = [v for v in inputs if id(v) not in ids]
    if missing or not children:
        lost = _shown(missing[0]) if missing else "its input"
        return Verdict(VALUE, False, f"the result of {call} does not list {lost} among its children",
                       hint="backward can only reach what the node recorded: keep the Values themselves (not "
                            "copies, not their data) as children")
    return None


# ---- step 2: each op's pass_back -------------------------------------------------------------------
LOCAL = "each op passes its gradient back"
_ACCUMULATE_HINT = ("a node can be used more than once (b = a + a), and each use passes back its own share: "
                    "add it to what the input already holds, never replace it")
_CHAIN_HINT = ("the chain rule: what the input receives is its local derivative times out.grad, the "
               "gradient that arrived at out")


def _operands(op: str, rng: np.random.Generator) -> tuple[float, float]:
    """Random operands where ``op`` is smooth (an exponent for **)."""
    spec = OPS[op]
    while True:
        a = float(rng.uniform(-2, 2))
        b = float(rng.choice([2.0, 3.0, -1.0, 0.5])) if spec.kind == "power" else float(rng.uniform(-2, 2))
        if spec.kind == "power" and b == 0.5:
            a = abs(a)
        if spec.safe(a, b):
            return a, b


def _library_grads(op: str, a0: float, b0: float) -> tuple[float, list[float]]:
    """The library's out.data and ∂out/∂(each Value operand)."""
    a = Value(a0)
    b = Value(b0) if OPS[op].kind == "binary" else b0
    out = OPS[op].apply(*((a, b) if OPS[op].kind != "unary" else (a,)))
    out.backward()
    return out.data, [float(a.grad)] + ([float(b.grad)] if isinstance(b, Value) else [])


@checker(LOCAL)
def check_local_gradients(value_class: type, ops: Sequence[str] = BASIC) -> Verdict:
    """For each op of ``ops`` (names in `OPS`), ``out = op(inputs)`` with random inputs, then
    ``out.grad = g; out.pass_back()`` must ADD g·∂out/∂input to each input's grad: checked with
    inputs that already hold some gradient, and with a node used twice (``a + a``, ``a * a``)."""
    failed = _not_a_class(LOCAL, value_class, "Value")
    if failed is not None:
        return failed
    names = _ops(LOCAL, ops, derived=False)
    if isinstance(names, Verdict):
        return names
    rng = np.random.default_rng(1)
    leaf = _new(LOCAL, value_class, 1.5)
    if isinstance(leaf, Verdict):
        return leaf
    failed = attempt(LOCAL, getattr(leaf, "pass_back", None), returns=False, call="Value(1.5).pass_back()",
                     hint="every node has a pass_back; a leaf's does nothing (it has no children)")
    if isinstance(failed, Verdict):
        return failed
    for op in names:
        spec = OPS[op]
        kinks = [] if spec.kink is None else [spec.kink]
        for kink in [None, None, None, *kinks]:  # three smooth points, then the kink if there is one
            a0, b0 = _operands(op, rng) if kink is None else (kink, 0.0)
            want_data, locals_ = _library_grads(op, a0, b0)  # the reference first
            inputs = _leaves(LOCAL, value_class, [a0, b0] if spec.kind == "binary" else [a0])
            if isinstance(inputs, Verdict):
                return inputs
            held = [float(v) for v in rng.uniform(-1, 1, size=len(inputs))]
            for node, g0 in zip(inputs, held):
                node.grad = g0
            args = (*inputs, b0) if spec.kind == "power" else tuple(inputs)
            out = _call(LOCAL, op, *args)
            if isinstance(out, Verdict):
                return out
            call = spec.written.format(a=_shown(inputs[0]), b=_shown(args[1]) if len(args) > 1 else "")
            got = _number_of(LOCAL, out, "data", hint=spec.hint)
            if isinstance(got, Verdict):
                return got
            if not close(got, want_data, rtol=1e-12, atol=1e-12):
                return Verdict(LOCAL, False, f"{call} gives data {fmt(got)}, not {fmt(want_data)}",
                               hint=spec.hint)
            g = float(rng.uniform(0.5, 2.0))
            out.grad = g
            failed = attempt(LOCAL, getattr(out, "pass_back", None), returns=False,
                             call=f"({call}).pass_back()", hint=spec.hint)
            if isinstance(failed, Verdict):
                return failed
            for k, (node, g0, local) in enumerate(zip(inputs, held, locals_)):
                got = _number_of(LOCAL, node, "grad", hint=spec.hint)
                if isinstance(got, Verdict):
                    return got
                want = g0 + g * local
                if close(got, want):
                    continue
                which = "its first input" if k == 0 else "its second input"
                what = (f"after out = {call}, out.grad = {fmt(g)} and out.pass_back(), {which} (which held "
                        f"grad {fmt(g0)}) has grad {fmt(got)}, not {fmt(want)}")
                if close(got, g * local):
                    return Verdict(LOCAL, False, what, hint=_ACCUMULATE_HINT)
                if close(got, g0):
                    return Verdict(LOCAL, False, what, hint="pass_back must change the inputs' grads: is it "
                                   "set on out, and does it use out.grad?")
                if close(got, g0 + local) and g != 1.0:
                    return Verdict(LOCAL, False, what, hint=_CHAIN_HINT)
                return Verdict(LOCAL, False, what, hint=spec.hint)
        if spec.kind == "binary" and op in ("+", "*"):
            verdict = _used_twice(value_class, op, rng)
            if verdict is not None:
                return verdict
    return Verdict(LOCAL, True, f"{', '.join(names)}: each pass_back adds out.grad × the local derivative to "
                   f"what its inputs already hold, a node used twice included")


def _leaves(exercise: str, cls: Any, data: list[float]) -> list[Any] | Verdict:
    leaves = []
    for x in data:
        leaf = _new(exercise, cls, x)
        if isinstance(leaf, Verdict):
            return leaf
        leaves.append(leaf)
    return leaves


def _used_twice(cls: Any, op: str, rng: np.random.Generator) -> Verdict | None:
    a0 = float(rng.uniform(0.5, 2.0))
    want = 2.0 if op == "+" else 2 * a0  # d(a + a)/da, d(a·a)/da
    a = _new(LOCAL, cls, a0)
    if isinstance(a, Verdict):
        return a
    out = _call(LOCAL, op, a, a)
    if isinstance(out, Verdict):
        return out
    call = OPS[op].written.format(a="a", b="a")
    out.grad = 1.0
    failed = attempt(LOCAL, getattr(out, "pass_back", None), returns=False, call=f"({call}).pass_back()")
    if isinstance(failed, Verdict):
        return failed
    got = _number_of(LOCAL, a, "grad", hint=_ACCUMULATE_HINT)
    if isinstance(got, Verdict):
        return got
    if not close(got, want):
        return Verdict(LOCAL, False, f"with a = Value({fmt(a0)}) and out = {call}, out.grad = 1 then "
                       f"out.pass_back() leaves a.grad = {fmt(got)}, not {fmt(want)}", hint=_ACCUMULATE_HINT)
    return None


# ---- step 3: the topological order -------------------------------------------------------------------
ORDER = "the topological order"
_ORDER_HINT = ("depth first: a node goes into the list only after every one of its children is in it; "
               "remember which nodes you have already visited")


def _random_graph(rng: np.random.Generator, size: int) -> Value:
    """A library graph of ``size`` ops over 3 leaves, each op reading earlier nodes (some twice)."""
    nodes = [Value(float(x)) for x in rng.uniform(-1, 1, size=3)]
    for _ in range(size):
        a = nodes[int(rng.integers(max(0, len(nodes) - 4), len(nodes)))]  # mostly recent: depth
        b = nodes[int(rng.integers(0, len(nodes)))]  # anywhere: shared nodes
        nodes.append((a * b).tanh() if rng.random() < 0.3 else a * b if rng.random() < 0.5 else a + b)
    root = nodes[-1]
    reached = set(library_order(root))
    for node in nodes[:-1]:
        if node not in reached:  # every node reachable: none may be left out
            root = root + node
            reached = set(library_order(root))
    return root


def _chain(depth: int) -> Value:
    """``depth`` nodes, each the only child of the next."""
    node = Value(0.1)
    for _ in range(depth - 1):
        node = node * 1.0
    return node


@checker(ORDER)
def check_topological_order(topological_order: Callable[[Any], Sequence[Any]], depth: int = 50) -> Verdict:
    """``topological_order(root)`` returns every node below ``root`` (root included) once, each
    after all of its children; tried on graphs with shared nodes and on a chain ``depth`` nodes
    deep. Only ``.children`` is read, so the graphs are the library's."""
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 100_000:
        return Verdict(ORDER, False, f"depth must be a whole number from 1 to 100000, got {short(depth, 40)}",
                       hint="for example depth=5000")
    rng = np.random.default_rng(2)
    graphs = [("a small graph", _random_graph(rng, 4)), ("a graph with shared nodes", _random_graph(rng, 12)),
              ("a graph with shared nodes", _random_graph(rng, 25)),
              (f"a chain {depth} nodes deep", _chain(depth))]
    for what, root in graphs:
        everything = library_order(root)  # the reference first
        name = getattr(topological_order, "__name__", "topological_order")
        result = attempt(ORDER, topological_order, root, call=f"{name}(root of {what})", hint=_ORDER_HINT)
        if isinstance(result, Verdict):
            if "RecursionError" in result.message:
                return Verdict(ORDER, False, result.message,
                               hint="Python allows about a thousand nested calls: keep the nodes to visit "
                                    "on a list of your own (a stack) instead of calling your function inside "
                                    "itself")
            return result
        order = first(result, 2 * len(everything))
        if order is None:
            return Verdict(ORDER, False, f"for {what} of {len(everything)} nodes, {name} returned "
                           f"{short(result, 40)}: expected a list of the nodes", hint=_ORDER_HINT)
        verdict = _check_order(what, order, everything)
        if verdict is not None:
            return verdict
    return Verdict(ORDER, True, f"every node once, each after its children, on {len(graphs) - 1} graphs with "
                   f"shared nodes and a chain {depth} nodes deep")


def _check_order(what: str, order: list[Any], everything: list[Value]) -> Verdict | None:
    known = {id(node) for node in everything}
    where: dict[int, int] = {}
    for k, node in enumerate(order):
        if id(node) not in known:
            return Verdict(ORDER, False, f"for {what}, your list holds {short(node, 40)}, which is not a "
                           f"node of the graph", hint="list the nodes themselves, not their data or labels")
        if id(node) in where:
            return Verdict(ORDER, False, f"for {what}, a node appears twice in your list (at "
                           f"{where[id(node)]} and {k})",
                           hint="a node reached along two paths is listed once: remember which nodes "
                                "you have already visited")
        where[id(node)] = k
    if len(where) < len(known):
        return Verdict(ORDER, False, f"for {what} of {len(known)} nodes your list holds {len(where)}",
                       hint="visit every child of every node you visit, and list the root itself too")
    for node in everything:
        for child in node.children:
            if where[id(child)] > where[id(node)]:
                return Verdict(ORDER, False, f"for {what}, a node comes before one of its children (at "
                               f"{where[id(node)]}, its child at {where[id(child)]})", hint=_ORDER_HINT)
    return None


# ---- step 4: backward ---------------------------------------------------------------------------------
BACKWARD = "backward()"
_SEED_HINT = ("no gradient arrived anywhere: the chain rule starts from ∂L/∂L, and how much does L move "
              "when L is nudged by h?")
_COMPLETE_HINT = ("a node may pass its grad on only once it is complete, after every node that uses it "
                  "has passed back: in what order do you call pass_back?")
_RANDOM_HINT = ("compare with the library's graph node by node: run check_local_gradients on each op your "
                "graph uses, then check_topological_order")


_Steps = list[tuple[str, int, Any]]  # a graph: (op, first operand's index, second operand) per node


@dataclass(frozen=True)
class _NumberFirst:
    """A plain number written before the Value, ``2 - a``: Python then calls the Value's
    reflected method (``__rsub__``), which the lesson's Value has for these ops."""

    number: float


_REFLECTED = ("+", "*", "-")


def _program(rng: np.random.Generator, names: list[str], size: int) -> tuple[_Steps, list[float]]:
    """A random graph as steps (op, first operand's index, second operand: an index, a plain
    number, or None) over 3 leaves, and the leaves' numbers, at which every op is smooth and every
    value moderate (the graph is checked at those numbers); some nodes are used twice. Ops that
    cannot go on (``**`` alone, once every value is near 0) make a shorter graph, never a hang."""
    best: tuple[_Steps, list[float]] = ([], [])
    for _ in range(20):  # fresh leaves, until one set of them gives a graph of the size asked for
        data = [float(x) for x in rng.uniform(-1.5, 1.5, size=3)]
        steps: _Steps = []
        for _ in range(50 * size):
            if len(steps) == size:
                break
            op = names[int(rng.integers(len(names)))]
            spec = OPS[op]
            i = int(rng.integers(max(0, len(data) - 3), len(data)))
            if spec.kind == "unary":
                second: Any = None
                b = 0.0
            elif spec.kind == "power":
                second = b = float(rng.choice([2.0, 3.0, -1.0]))
            elif rng.random() < 0.25:
                b = float(np.round(rng.uniform(-2, 2), 2))
                second = _NumberFirst(b) if op in _REFLECTED and rng.random() < 0.5 else b
            else:
                second = int(rng.integers(0, len(data)))
                b = data[second]
            if not spec.safe(data[i], b):
                continue
            out = _evaluate(op, data[i], second if not isinstance(second, int) else data[second])
            if not (math.isfinite(out) and abs(out) < 50):
                continue
            steps.append((op, i, second))
            data.append(out)
        if len(steps) > len(best[0]):
            best = (steps, data[:3])
        if len(steps) == size:
            break
    return best


def _evaluate(op: str, a: float, b: Any) -> float:
    return OPS[op].apply(*_arguments(Value(a), b)).data


def _arguments(node: Any, second: Any) -> tuple[Any, ...]:
    """The operands of a step, in the order they are written: ``a``, ``a op b`` or ``b op a``."""
    if second is None:
        return (node,)
    return (second.number, node) if isinstance(second, _NumberFirst) else (node, second)


def _run(program: _Steps, leaves: list[Any], exercise: str) -> list[Any] | Verdict:
    """The program's nodes built from ``leaves`` (of either engine): the learner's calls go
    through `attempt`."""
    nodes = list(leaves)
    library = isinstance(leaves[0], Value)
    for op, i, second in program:
        args = _arguments(nodes[i], nodes[second] if isinstance(second, int) else second)
        if library:
            nodes.append(OPS[op].apply(*args))
            continue
        out = _call(exercise, op, *args)
        if isinstance(out, Verdict):
            return out
        nodes.append(out)
    return nodes


_NUMBER_FIRST_HINT = ("with the number first, Python calls the Value's reflected method (__rmul__, __radd__, "
                      "__rsub__): does the node it returns still lead back to the Value, so that its "
                      "gradient can flow there?")
#: Small graphs first, each for one mistake (its hint), then random ones. Leaves are nodes 0, 1, 2.
_SHAPES: tuple[tuple[str, _Steps, str], ...] = (
    ("a chain, nothing shared",
     [("*", 0, 1), ("+", 3, 2), ("tanh", 4, None), ("*", 5, 0.5), ("exp", 6, None)], _COMPLETE_HINT),
    ("a leaf used twice by one op", [("*", 0, 0), ("+", 3, 1), ("tanh", 4, None)], _ACCUMULATE_HINT),
    ("leaves used by two ops", [("*", 0, 1), ("+", 0, 1), ("*", 3, 4)], _ACCUMULATE_HINT),
    ("an inner node used by two ops", [("*", 0, 1), ("+", 3, 2), ("*", 3, 4)],
     "each node must be passed back once, and only once its grad is complete (after every node that uses "
     "it has passed back)"),
    *((f"a number written first, {number:g} {op} a", [(op, 0, _NumberFirst(number))], _NUMBER_FIRST_HINT)
      for op, number in (("*", 2.0), ("+", 0.5), ("-", 1.5))),
)


@checker(BACKWARD)
def check_backward(value_class: type, ops: Sequence[str] = BASIC) -> Verdict:
    """``root.backward()`` on graphs of the learner's Values must give every node the grad the
    library's ``backward()`` gives it: first a chain, a node used twice, a node used by two ops
    (with the basic ops), then random graphs of ``ops`` with shared nodes."""
    failed = _not_a_class(BACKWARD, value_class, "Value")
    if failed is not None:
        return failed
    names = _ops(BACKWARD, ops)
    if isinstance(names, Verdict):
        return names
    rng = np.random.default_rng(3)
    cases: list[tuple[str, _Steps, str, list[float]]] = [
        (what, steps, hint, [float(x) for x in rng.uniform(-1.2, 1.2, size=3)])
        for what, steps, hint in _SHAPES if all(op in names for op, _, _ in steps)]
    for size in (6, 10, 16, 16):
        program, leaves = _program(rng, names, size)  # checked at the leaves it was made safe for
        if program:
            cases.append(("a random graph with shared nodes", program, _RANDOM_HINT, leaves))
    for what, program, hint, data in cases:
        mine = _leaves(BACKWARD, value_class, data)
        if isinstance(mine, Verdict):
            return mine
        nodes = _run(program, mine, BACKWARD)
        if isinstance(nodes, Verdict):
            return nodes
        reference = _run(program, [Value(x) for x in data], BACKWARD)  # the library's graph
        assert not isinstance(reference, Verdict)  # the library's own ops give no verdict
        root, want = nodes[-1], reference[-1]
        want.backward()
        failed = attempt(BACKWARD, getattr(root, "backward", None), returns=False, call="L.backward()",
                         hint="backward(): the seed, then every node's pass_back, in the right order")
        if isinstance(failed, Verdict):
            return failed
        grads = []
        for node in nodes:
            got = _number_of(BACKWARD, node, "grad", hint="backward fills every node's grad")
            if isinstance(got, Verdict):
                return got
            grads.append(got)
        wanted = [node.grad for node in reference]
        if same_numbers(grads, wanted, rtol=1e-9, atol=1e-12):
            continue
        if all(g == 0.0 for g in grads):
            hint = _SEED_HINT
        elif what == _SHAPES[0][0] and not same_numbers(grads, _children_first(reference), 1e-9, 1e-12):
            hint = _RANDOM_HINT  # on a chain, only the wrong order gives the numbers _children_first gives
        return Verdict(BACKWARD, False, _first_wrong(what, grads, wanted), hint=hint)
    return Verdict(BACKWARD, True, f"every grad equals the library's backward(), on {len(cases)} graphs: a "
                   f"chain, nodes used twice, and random graphs of {', '.join(names)}")


def _first_wrong(what: str, grads: list[float], wanted: list[float]) -> str:
    k = next(k for k, (g, w) in enumerate(zip(grads, wanted)) if not close(g, w, rtol=1e-9, atol=1e-12))
    name = f"leaf {k}" if k < 3 else f"node {k} (made by op {k - 2})"
    return (f"on {what}, after L.backward() your {name} has grad {fmt(grads[k])}; backprop gives "
            f"{fmt(wanted[k])}")


def _children_first(nodes: list[Value]) -> list[float]:
    """The grads a backward that calls pass_back in topological order (children first) would give."""
    root = nodes[-1]
    grads = {node: 0.0 for node in library_order(root)}
    grads[root] = 1.0
    for node in library_order(root):
        for child, local in zip(node.children, node.local_grads):
            grads[child] += grads[node] * local
    return [grads.get(node, 0.0) for node in nodes]


# ---- step 5: Neuron, Layer, MLP -----------------------------------------------------------------------
NETWORK = "your MLP"
_NETWORK_HINT = ("each neuron computes Σᵢ wᵢ·xᵢ + b, then tanh in the hidden layers and nothing in the last "
                 "one; parameters() lists each neuron's weights then its bias, neuron by neuron, layer by "
                 "layer")


def _library_model(nin: int, nouts: list[int], seed: int) -> MLP:
    """The library's MLP with tanh hidden layers and random biases (at 0 they would not show)."""
    model = MLP(nin, nouts, activation="tanh", seed=seed)
    rng = np.random.default_rng(seed + 100)
    for layer in model.layers:
        for neuron in layer.neurons:
            neuron.b.data = float(rng.normal(0, 0.5))
    return model


def _copy_into(exercise: str, mine: Any, reference: MLP) -> list[Any] | Verdict:
    """The learner's parameters, given the reference's numbers; a verdict when they do not match up."""
    params = attempt(exercise, getattr(mine, "parameters", None), call="model.parameters()",
                     hint="parameters() returns the list of every weight and bias Value")
    if isinstance(params, Verdict):
        return params
    want = reference.parameters()
    items = first(params, 10 * len(want))
    if items is None or len(items) != len(want):
        shown = len(items) if items is not None else short(params, 40)
        return Verdict(exercise, False, f"MLP({reference.nin}, {list(reference.nouts)}).parameters() "
                       f"should hold {len(want)} Values; yours holds {shown}",
                       hint="every neuron holds one weight per input and one bias; parameters() "
                                  "collects them from every layer")
    for p, q in zip(items, want):
        try:
            p.data = q.data
        except AttributeError:
            return Verdict(exercise, False, f"parameters() holds {short(p, 40)}, not a Value",
                           hint=_NETWORK_HINT)
    return items


@checker(NETWORK)
def check_mlp(mlp_class: type) -> Verdict:
    """``MLP(nin, nouts)`` (the learner's, on their Value): given the parameters of the library's
    ``MLP(nin, nouts, activation="tanh")`` it must give the same outputs (a Value for one output, a
    list for several) and, after ``out.backward()``, the same gradient for every parameter."""
    failed = _not_a_class(NETWORK, mlp_class, "MLP")
    if failed is not None:
        return failed
    rng = np.random.default_rng(4)
    for nin, nouts, seed in ((3, [4, 4, 1], 0), (2, [3, 2], 1), (1, [5, 1], 2)):
        reference = _library_model(nin, nouts, seed)
        mine = attempt(NETWORK, mlp_class, nin, list(nouts), call=f"MLP({nin}, {nouts})",
                       hint=_NETWORK_HINT)
        if isinstance(mine, Verdict):
            return mine
        x = [float(v) for v in rng.uniform(-1.5, 1.5, size=nin)]
        before = _outputs(mine, x)  # with its own parameters, to see whether copying changes it
        if isinstance(before, Verdict):
            return before
        params = _copy_into(NETWORK, mine, reference)
        if isinstance(params, Verdict):
            return params
        want = reference(x)
        want_outputs = want if isinstance(want, list) else [want]
        outcome = _outputs(mine, x)
        if isinstance(outcome, Verdict):
            return outcome
        outputs, got, out = outcome
        if got is None or len(got) != len(want_outputs):
            kind = "a Value" if len(want_outputs) == 1 else "a list"
            return Verdict(NETWORK, False, f"MLP({nin}, {nouts}) on one input should give "
                           f"{len(want_outputs)} output(s) ({kind}); yours gives {short(out, 40)}",
                           hint="one Value per neuron of the last layer; a lone Value when there is one")
        wanted = [o.data for o in want_outputs]
        if not same_numbers(got, wanted, rtol=1e-9, atol=1e-12):
            squashed = [math.tanh(w) for w in wanted]
            if same_numbers(got, squashed, rtol=1e-9, atol=1e-12):
                hint = ("the last layer is linear, as the library's: a tanh there could never give an output "
                        "beyond ±1")
            elif before[1] is not None and same_numbers(got, before[1], rtol=0.0, atol=0.0):
                hint = ("setting the data of what parameters() returns did not change the output: it must "
                        "return the very Values the neurons compute with, not copies")
            else:
                hint = _NETWORK_HINT
            return Verdict(NETWORK, False, f"MLP({nin}, {nouts}) with the library's parameters gives "
                           f"{[round(v, 6) for v in got]} at x = {[round(v, 3) for v in x]}; the library's "
                           f"gives {[round(v, 6) for v in wanted]}", hint=hint)
        if len(outputs) == 1:
            verdict = _same_gradients(outputs[0], want_outputs[0], params, reference)
            if verdict is not None:
                return verdict
    return Verdict(NETWORK, True, "your MLP gives the library's outputs and gradients, given the same "
                   "parameters, on three shapes")


def _outputs(model: Any, x: list[float]) -> tuple[Any, list[float] | None, Any] | Verdict:
    """``model(x)``: its outputs as a list, their data (None when they are not Values of numbers),
    and what it returned; or a failed verdict."""
    out = attempt(NETWORK, model, list(x), call=f"model({[round(v, 3) for v in x]})", hint=_NETWORK_HINT)
    if isinstance(out, Verdict):
        return out
    outputs = first(out, 100) if isinstance(out, list | tuple) else [out]
    got = as_floats([getattr(o, "data", o) for o in outputs]) if outputs is not None else None
    return outputs, got, out


def _same_gradients(out: Any, want: Value, params: list[Any], reference: MLP) -> Verdict | None:
    want.backward()
    failed = attempt(NETWORK, getattr(out, "backward", None), returns=False, call="out.backward()",
                     hint="the output is one of your Values: its backward() is the one you wrote")
    if isinstance(failed, Verdict):
        return failed
    grads = as_floats([getattr(p, "grad", None) for p in params])
    wanted = [float(p.grad) for p in reference.parameters()]
    if grads is None or not same_numbers(grads, wanted, rtol=1e-9, atol=1e-12):
        return Verdict(NETWORK, False, "the outputs are right, but after out.backward() the parameters' "
                       "grads differ from the library's", hint="do the parameters() you return belong to the "
                       "neurons that computed the output (the same Values, not copies)?")
    return None


# ---- step 6: the training loop ---------------------------------------------------------------------------
TRAINING = "the training loop"
_TRAINING_HINT = ("each step: zero every parameter's grad, the predictions for all xs, the loss (the mean of "
                  "the squared errors), backward, then move every parameter against its grad by lr")
#: (lr, steps) of the runs checked: two rates, so a number written in place of lr is caught.
_RUNS = ((0.1, 4), (0.05, 3))


def _training_data() -> tuple[list[list[float]], list[float]]:
    """Twelve points of the notes' piecewise-linear curve, with a little noise."""
    X, y = piecewise_linear(n=12, noise=0.05, seed=5)
    return X.tolist(), y.tolist()


@checker(TRAINING)
def check_training_loop(train: Callable[..., Any], mlp_class: type) -> Verdict:
    """``train(model, xs, ys, lr, steps)`` trains the learner's ``MLP(1, [4, 1])`` in place on
    the notes' piecewise-linear data (xs: a list of one-number lists) with plain gradient descent on
    the mean squared error, ``steps`` updates on all the data, and returns the loss before each
    update. Checked against `fit` (full batch, SGD) from the same parameters, for two rates."""
    failed = _not_a_class(TRAINING, mlp_class, "MLP")
    if failed is not None:
        return failed
    xs, ys = _training_data()
    for k, (lr, steps) in enumerate(_RUNS):
        reference = _library_model(1, [4, 1], seed=10 + k)
        history = fit(reference, xs, ys, loss="mse", optimizer=SGD(reference.parameters(), lr=lr),
                      max_epochs=steps, tol=0.0, shuffle=False, engine="eager", progress=False)
        wanted = list(history.update_loss)
        mine = attempt(TRAINING, mlp_class, 1, [4, 1], call="MLP(1, [4, 1])", hint=_NETWORK_HINT)
        if isinstance(mine, Verdict):
            return mine
        fresh = _library_model(1, [4, 1], seed=10 + k)
        params = _copy_into(TRAINING, mine, fresh)
        if isinstance(params, Verdict):
            return params
        result = attempt(TRAINING, train, mine, [list(x) for x in xs], list(ys), lr, steps,
                         call=f"train(model, xs, ys, {fmt(lr)}, {steps})", hint=_TRAINING_HINT)
        if isinstance(result, Verdict):
            return result
        losses = as_floats(result)
        if losses is None or len(losses) != steps:
            return Verdict(TRAINING, False, f"train(model, xs, ys, {fmt(lr)}, {steps}) should return {steps} "
                           f"losses, one per update; it returned {short(result, 40)}", hint=_TRAINING_HINT)
        theta = as_floats([getattr(p, "data", None) for p in params])
        final = [p.data for p in reference.parameters()]
        if same_numbers(losses, wanted, rtol=1e-9, atol=1e-12) and theta is not None \
                and same_numbers(theta, final, rtol=1e-9, atol=1e-12):
            continue
        where = f"with lr = {fmt(lr)} and {steps} steps"
        if theta is None:
            return Verdict(TRAINING, False, f"{where}, a parameter's data is no longer a number",
                           hint="p.data is the parameter's plain number, p its node: keep p.data a number")
        if not close(losses[0], wanted[0], rtol=1e-9, atol=1e-12):
            return Verdict(TRAINING, False, f"{where}, the first loss is {fmt(losses[0])}; at these "
                           f"parameters the mean squared error is {fmt(wanted[0])}",
                           hint="the loss before the first update: the mean over all points of (ŷ − y)²")
        if same_numbers(losses, wanted, rtol=1e-9, atol=1e-12):
            return Verdict(TRAINING, False, f"{where}, the losses are right, but the parameters after the "
                           f"last update are not",
                           hint="is every update applied to the model you were given, the last one included?")
        hint = "use the lr your function is given" if k > 0 else _TRAINING_HINT
        for mistake, why in (({"zero_grads": False}, "backward ADDS to every grad: what must happen to them "
                                                    "before each backward?"),
                             ({"sign": 1.0}, "the grad points uphill: which way must each parameter move?")):
            model = _library_model(1, [4, 1], seed=10 + k)
            mistaken = [loss for _ in range(steps)
                        for loss in mistaken_epoch(model, xs, ys, len(xs), lr, **mistake)]
            if same_numbers(losses, mistaken, rtol=1e-9, atol=1e-12):
                hint = why
        return Verdict(TRAINING, False, f"{where}, your losses are {_list(losses)}; the library's "
                       f"{_list(wanted)}", hint=hint)
    return Verdict(TRAINING, True, f"the same losses and parameters as fit() with plain SGD, for "
                   f"{' and '.join(f'lr = {fmt(lr)}' for lr, _ in _RUNS)}")


def _list(values: list[float]) -> str:
    return "[" + ", ".join(map(fmt, values)) + "]"
