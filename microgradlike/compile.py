"""Compile a Value computation to a flat program once, to replay it fast: `trace`.

The eager engine builds one Python object per operation, every time. But a model's graph has the
same *shape* for every input: only the numbers change. So we can run ``f`` once on Values, write
its graph down as a flat program over numbered slots (`microgradlike.program`), and replay that
program as generated Python (`microgradlike.tape.Tape`): on floats, or on a whole batch at once.

Everything the program needs is on the nodes: each node's op, its children, the plain number it
used and where that number sat (``node.constant``, ``node.layout``), and for a ``dot`` node which
factor multiplied which (its ``layout``). Tracing therefore needs no hook into the engine: it
works from several threads at once, and on nodes made before ``trace`` ran.

What is frozen (as in ``jax.jit``): tracing records the ops that ran. A Python ``if`` on ``.data``
(``if x.data > 0: ...``), a plain number computed from ``.data`` (``m = max(v.data for v in z)``)
or an index chosen from data is fixed at trace time. Ops that branch *inside* the engine, such
as ``relu`` and ``abs``, are replayed: their branch is decided again for every input, and so is
the max that ``logsumexp`` subtracts (which is why `losses.cross_entropy` uses that op).

Example::

    >>> from microgradlike import Value
    >>> w = Value(-3.0, label="w")
    >>> tape = trace(lambda x: (x * w + 1).tanh(), 2.0)
    >>> round(tape(0.5), 6)                  # tanh(0.5·(−3) + 1)
    -0.462117
    >>> tape.backward(); round(tape.grads[0], 6), round(tape.param_grads[0], 6)
    (-2.359343, 0.393224)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, cast

from .engine import Value, dot_terms, is_grad_enabled, topological_order
from .ops import NUMBER_FIRST, NUMBER_SECOND, OPS
from .parameters import named
from .program import Instruction, Program
from .tape import Tape, input_number, input_numbers, is_input_number

__all__ = ["trace"]


def trace(f: Callable[..., Any], *example_args: Any, params: Any = None) -> Tape:
    """Run ``f`` once on Values made from ``example_args`` and record its graph as a `Tape`.

    Each example argument — a number (or Value) or a list of numbers — becomes a named input:
    ``f`` receives a Value (or a list of Values) in its place. Every other leaf Value ``f``
    reads (a model's weights, say) becomes a parameter slot, read afresh at each replay;
    ``params`` (a Module, or a list of Values or of (name, Value) pairs) names them and fixes
    their order. ``f`` must return a Value or a list of Values. Everything below its result is
    replayed from those leaves, nodes made before ``trace`` ran included.

    Frozen at trace time, as with ``jax.jit``: Python branches on ``.data``, plain numbers
    derived from ``.data``, and indices chosen by data. Ops (relu, abs, ...) are replayed.
    """
    if not callable(f):
        raise TypeError(f"trace needs a function, got {type(f).__name__}: {f!r}")
    if not is_grad_enabled():
        raise RuntimeError("trace() records the graph, which no_grad() turns off: call it outside no_grad()")
    names = _argument_names(f, len(example_args))
    layout: list[tuple[str, int | None]] = []
    inputs: list[Value] = []
    call_args: list[Any] = []
    for name, arg in zip(names, example_args):
        if is_input_number(arg):
            v = Value(input_number(arg, name), label=name)
            inputs.append(v)
            call_args.append(v)
            layout.append((name, None))
        else:
            vs = [Value(x, label=f"{name}[{j}]") for j, x in enumerate(input_numbers(name, arg))]
            inputs.extend(vs)
            call_args.append(vs)
            layout.append((name, len(vs)))
    params_named = named(params)
    result = f(*call_args)
    single = isinstance(result, Value)
    outputs = [result] if single else list(result) if isinstance(result, Sequence) else []
    if not outputs or not all(isinstance(o, Value) for o in outputs):
        raise TypeError(f"the traced function must return a Value or a list of Values, "
                        f"got {type(result).__name__}: {result!r}")
    return _build(layout, inputs, params_named, outputs, single)


def _argument_names(f: Callable, n: int) -> list[str]:
    """f's parameter names for its first n positional arguments (x0, x1, ... where unknown)."""
    try:
        parameters = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    names = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    names = names[:n]
    return names + [f"x{i}" for i in range(len(names), n)]


def _build(layout: list[tuple[str, int | None]], inputs: list[Value], named: list[tuple[str, Value]],
           outputs: list[Value], single: bool) -> Tape:
    order: list[Value] = []
    seen: set[Value] = set()
    for out in outputs:
        for node in topological_order(out):
            if node not in seen:
                seen.add(node)
                order.append(node)
    slot: dict[Value, int] = {}  # node -> its slot number; names[slot] is its name in the source
    names: list[str] = []

    def give_slot(node: Value, name: str) -> None:
        slot[node] = len(names)
        names.append(name)

    for i, v in enumerate(inputs):
        give_slot(v, f"x{i}")
    params: list[tuple[str, Value]] = []
    # the named parameters first, then any other leaf f reached (also read afresh at each call)
    leaves = [(node.label or None, node) for node in order if not node.children]
    for name, p in [*named, *leaves]:
        if p not in slot:
            params.append((f"leaf{len(params)}" if name is None else name, p))
            give_slot(p, f"p{len(params) - 1}")
    program: list[Instruction] = []
    for node in order:
        if node.children:
            give_slot(node, f"v{len(program)}")
            program.append(_instruction(node, slot))
    compiled = Program(tuple(program), tuple(layout), tuple(name for name, _ in params),
                       tuple(slot[o] for o in outputs), tuple(names))
    return Tape(compiled, [p for _, p in params], single)


def _terms(node: Value, slot: dict[Value, int]) -> tuple[tuple, ...]:
    """A "dot" node's terms (`engine.dot_terms`) as an `Instruction` lists them, over slots:
    ``("mul", w, x)`` (two Values), ``("scale", v, c)`` (a Value times a plain number),
    ``("add", bias)`` (a Value bias), and ``("const", c)`` for the plain-number part. The same
    arithmetic, in the same order, as `dot`."""
    terms: list[tuple] = []
    for term in dot_terms(node):  # each kind says which of its factors are Values
        if term.kind == "pair":
            terms.append(("mul", slot[cast(Value, term.weight)], slot[cast(Value, term.input)]))
        elif term.kind == "plain input":
            terms.append(("scale", slot[cast(Value, term.weight)], term.input))
        elif term.kind == "plain weight":
            terms.append(("scale", slot[cast(Value, term.input)], term.weight))
        else:
            terms.append(("add", slot[cast(Value, term.weight)]))
    if node.constant:
        terms.append(("const", node.constant))
    return tuple(terms)


def _instruction(node: Value, slot: dict[Value, int]) -> Instruction:
    op, out, args = node.op, slot[node], tuple(slot[c] for c in node.children)
    if op == "dot":
        return Instruction("dot", out, args, terms=_terms(node, slot))
    if op == "sum":
        return Instruction("sum", out, args, node.constant)
    if op == "logsumexp":
        return Instruction("logsumexp", out, args)
    rule = OPS.get(op)
    if rule is not None and node.layout in (NUMBER_SECOND, NUMBER_FIRST) and len(args) == 1:
        return Instruction(op, out, args, node.constant, node.layout)  # its plain number, and where it sat
    if rule is not None and len(args) == rule.arity:
        return Instruction(op, out, args)
    raise NotImplementedError(f"trace() cannot record op {op!r} with {len(args)} children ({node!r})")
