"""Gradients as graphs: differentiate a gradient again (Hessians, Newton's method, …).

`Value.backward()` multiplies *numbers*: each node's ``local_grads`` were recorded as floats in the
forward pass. To differentiate a gradient again, the chain rule has to build a graph instead, so
each local derivative must be a Value that remembers how it depends on the inputs. The op table
(`microgradlike.ops`) writes every derivative as a formula; here the same formulas are evaluated
on Values::

    tanh:  ∂out/∂a = 1 − out²      with out the node itself, a Value: the derivative is a graph

and `gradients(output, inputs, create_graph=True)` runs the chain rule with them (PyTorch's
``torch.autograd.grad``). Each formula is evaluated on the operands' numbers *now*, so each is
compared with the number the forward pass recorded: a ``.data`` changed after the graph was built
(``x.data = 2.0``) makes them differ, and the graph is refused as stale, naming the node, instead
of mixing old and new numbers (PyTorch refuses a tensor changed in place that its graph needs).
``backward()`` and ``gradients`` without ``create_graph`` read only the recorded numbers: they
differentiate the graph as it was built. Where an op branches (relu, abs), the branch is taken on the forward
numbers, so the derivative of the derivative is 0 there: the convention PyTorch also uses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from typing import Any

from . import formulas
from .checks import short
from .engine import Value, dot_terms, is_grad_enabled, node_names, sum_values, topological_order
from .ops import NARY, OPS, operand_pair, operand_positions

__all__ = ["backward_with_graph", "gradients", "local_derivatives", "reverse_passes"]

Number = float | Value


def _compile(formula: str, arguments: str, where: str) -> Callable[..., Any]:
    """``formula`` as a function of ``arguments`` on Values (`formulas` renders it)."""
    source = formulas.render(formula, "value", {name: name for name in arguments.split(", ")})
    # our own text, rendered from the op table; never user input. Registered as ``where``, so that
    # tracebacks and pdb show it.
    return formulas.define(f"def d({arguments}):\n    return {source}\n", "d", where,
                           dict(formulas.NAMESPACES["value"]))


@cache
def _derivative(op: str, k: int) -> Callable[..., Any]:
    """∂out/∂(operand k) of ``op`` as a function on Values, compiled from its formula the first
    time a gradient of a gradient needs it (first-order work never does). An n-ary op with one
    formula for every operand (sum, logsumexp) has it as operand 0, a function of (v, out)."""
    if op in NARY:
        return _compile(NARY[op].derivative, "v, out", f"<microgradlike ∂{op}/∂v>")
    return _compile(OPS[op].derivatives[k], "a, b, out", f"<microgradlike ∂{op}/∂{'ab'[k]}>")


def local_derivatives(node: Value) -> tuple[Number, ...]:
    """``node.local_grads`` again, but as Values that depend on the inputs (floats where a
    derivative is a constant): ∂node/∂child for each child, from the op table's formulas."""
    op, kids = node.op, node.children
    if op == "dot":
        return _dot_derivatives(node)
    if op in NARY:  # one formula over each operand v and the result
        derivative = _derivative(op, 0)
        return tuple(derivative(v, node) for v in kids)
    if op not in OPS:
        raise NotImplementedError(f"no derivative formula for op {op!r}: cannot differentiate {node!r} twice")
    a, b = operand_pair(node.layout, kids, node.constant)  # x − 3: a = x, b = 3.0
    return tuple(_derivative(op, k)(a, b, node) for k in operand_positions(node.layout, len(kids)))


def _dot_derivatives(node: Value) -> tuple[Number, ...]:
    """∂z/∂wᵢ = xᵢ and ∂z/∂xᵢ = wᵢ — the partner itself when it is a Value (so the derivative
    depends on it), the recorded number when it is plain — and ∂z/∂b = 1."""
    out: list[Number] = []
    for term in dot_terms(node):
        if term.kind == "pair":
            out += [term.input, term.weight]
        elif term.kind == "plain input":
            out.append(term.input)
        elif term.kind == "plain weight":
            out.append(term.weight)
        else:
            out.append(1.0)
    return tuple(out)


def gradients(output: Value, inputs: Sequence[Value], create_graph: bool = False) -> tuple[Number, ...]:
    """∂output/∂x for each x in ``inputs``, without touching any ``.grad`` (PyTorch's
    ``torch.autograd.grad``).

    With ``create_graph=False`` the result is floats, exactly what ``output.backward()`` would
    put in each input's ``.grad`` (same arithmetic, same order). With ``create_graph=True`` each
    gradient is a Value built by the chain rule from the ops' derivative formulas, so it can be
    differentiated again; an input the output does not depend on gets 0.0.
    """
    if not isinstance(output, Value):
        raise TypeError(f"gradients needs a Value output, got {type(output).__name__}: {short(output)}")
    inputs = list(inputs)
    for i, x in enumerate(inputs):
        if not isinstance(x, Value):
            raise TypeError(f"inputs[{i}] must be a Value, got {type(x).__name__}: {short(x)}")
    grads = _chain_rule(output, topological_order(output), create_graph)
    return tuple(grads.get(x, 0.0) for x in inputs)


def backward_with_graph(root: Value) -> None:
    """``root.backward(create_graph=True)``: every node's ``.grad`` becomes ∂root/∂node as a Value
    (leaf grads accumulate, as with ``backward()``: a leaf adds what it held before)."""
    order = topological_order(root)
    grads = _chain_rule(root, order, create_graph=True)
    for node in order:
        g = grads.get(node, 0.0)
        node.grad = node.grad + g if not node.children else g


#: The list `reverse_passes` collects into, in this thread; None (nearly always): nothing is kept.
_observed: ContextVar[list[Value] | None] = ContextVar("microgradlike_reverse_passes", default=None)


@contextmanager
def reverse_passes() -> Iterator[list[Value]]:
    """The outputs of the reverse passes (backprop) run by `gradients` in this thread while the
    block is open, one entry each: so also by ``grad``, ``value_and_grad``, ``hessian``, ``hvp`` and
    ``backward(create_graph=True)``, which never leave a trace in any ``.grad``. (A plain
    ``backward()`` is the engine's own loop, not counted here.) The exercises use it to tell
    backprop from forward mode."""
    seen: list[Value] = []
    token = _observed.set(seen)
    try:
        yield seen
    finally:
        _observed.reset(token)


def _chain_rule(output: Value, order: list[Value], create_graph: bool) -> dict[Value, Number]:
    """∂output/∂node for every node of ``order`` (topological) that output depends on."""
    if create_graph and not is_grad_enabled():
        raise RuntimeError("create_graph=True builds the gradient as a graph, which no_grad() turns off")
    observed = _observed.get()
    if observed is not None:
        observed.append(output)
    parts: dict[Value, list[Number]] = {output: [1.0]}  # seed: ∂output/∂output = 1
    grads: dict[Value, Number] = {}
    for node in reversed(order):  # a node's uses all come before it
        pieces = parts.pop(node, None)
        if pieces is None:
            continue
        upstream = _total(pieces, create_graph)
        grads[node] = upstream
        if not node.children:
            continue
        locals_ = _fresh_derivatives(node, output) if create_graph else node.local_grads
        for child, local in zip(node.children, locals_):
            parts.setdefault(child, []).append(_times(upstream, local) if create_graph else upstream * local)
    return grads


def _fresh_derivatives(node: Value, output: Value) -> tuple[Number, ...]:
    """`local_derivatives` of ``node``, which are evaluated again from its operands' numbers now:
    each must be the number recorded when ``node`` was computed. A difference means that a
    ``.data`` below it was changed after the graph was built (``x.data = 2.0``), and the chain rule
    would mix old and new numbers: refused, naming the node, as PyTorch refuses a tensor changed in
    place that its graph still needs. (Without ``create_graph`` only the recorded numbers are read,
    so nothing is compared: that pass uses the graph as it was built.)"""
    fresh = local_derivatives(node)
    for k, (now, then) in enumerate(zip(fresh, node.local_grads)):
        number = now.data if isinstance(now, Value) else now
        if number != then and not (number != number and then != then):  # nan is nan
            names = node_names(output)
            child = names.get(node.children[k], "?")
            raise RuntimeError(
                f"the graph of {names[output]} is stale: node {names[node]} (op {node.op!r}) recorded "
                f"∂{names[node]}/∂{child} = {then!r} when it was computed, but its operands' numbers now "
                f"give {number!r}: a .data below it was changed after the graph was built. Compute "
                f"{names[output]} again from the new numbers (PyTorch too refuses a tensor changed in "
                f"place that its graph needs)")
    return fresh


def _total(pieces: list[Number], create_graph: bool) -> Number:
    """Σ pieces: for floats in backward()'s order; for Values as one "sum" node."""
    if len(pieces) == 1:
        return pieces[0]
    if create_graph and any(isinstance(p, Value) for p in pieces):
        return sum_values(pieces)
    total: Number = 0.0
    for p in pieces:
        total += p
    return total


def _times(upstream: Number, local: Number) -> Number:
    """upstream · local, building no node for a factor of exactly 1 or −1."""
    if isinstance(local, float) and local == 1.0:
        return upstream
    if isinstance(upstream, float) and upstream == 1.0:
        return local
    if isinstance(local, float) and local == -1.0:
        return -upstream
    return upstream * local
