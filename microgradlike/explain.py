"""Explaining a node in words and numbers: how it was computed, and why its local derivatives are
what they are. The step-throughs (`microgradlike.stepper`, `microgradlike.forward`) and the
browser pages read these, so a step reads the same everywhere.

The words come from the op table (`microgradlike.ops`): each op says why each of its local
derivatives has its value, naming the forward values it came from.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .checks import as_real, printable, short
from .engine import Value, dot_terms, node_names
from .formatting import factor, number
from .ops import NARY, OPS, operand_positions, operands

__all__ = ["data_number", "display_names", "dot_role", "formula", "grad_number",
           "local_derivative_explanation"]

Name = Callable[[Value], str]


# ---- what a node shows: its name, its number, its grad ------------------------------------------------
def display_names(root: Value, order: list[Value] | None = None) -> dict[Value, str]:
    """`engine.node_names` (a node's label, else "L" or "n<k>"), each made `checks.printable`."""
    return {v: printable(n) for v, n in node_names(root, order).items()}


def grad_number(node: Value) -> float:
    """The number that ``node.grad`` stands for, the one rule of every step, picture and page: a
    number as it is; after ``backward(create_graph=True)`` a grad is a Value (∂L/∂node as a graph,
    to differentiate again), shown by its number. Anything else (a str, None: set by hand) is a
    TypeError naming the node."""
    g = node.grad
    value = as_real(g.data if isinstance(g, Value) else g)
    if value is None:
        raise TypeError(f"the grad of {short(node)} is {type(g).__name__} {short(g)}: a grad is a number "
                        f"(or a Value, after backward(create_graph=True)); node.grad = 0.0 resets it")
    return value


def data_number(node: Value) -> float:
    """``node.data`` as a number, or a TypeError naming the node (``p.data = p - lr * p.grad`` puts
    a Value there; ``p.data -= lr * p.grad`` is the update)."""
    value = as_real(node.data)
    if value is None:
        raise TypeError(f"the data of {short(node)} is {type(node.data).__name__} {short(node.data)}, not a "
                        f"number (p.data = p - lr * p.grad puts a Value there; p.data -= lr * p.grad "
                        f"updates the number)")
    return value


def _operand_names(node: Value, name: Name) -> dict[str, str]:
    """The op's a and b as the step shows them: a Value's name, or the plain number it used."""
    shown = [name(v) if isinstance(v, Value) else number(v)
             for v in operands(node.layout, node.children, node.constant)]
    return {"a": shown[0] if shown else "", "b": shown[1] if len(shown) > 1 else ""}


def _operand_values(node: Value) -> tuple[float, float]:
    values = [v.data if isinstance(v, Value) else v
              for v in operands(node.layout, node.children, node.constant)]
    return (values[0] if values else 0.0), (values[1] if len(values) > 1 else 0.0)


def _compared_with_zero(x: float) -> str:
    if math.isnan(x):
        return "is NaN (not a number: taken there as PyTorch takes it)"
    return "> 0" if x > 0 else "< 0" if x < 0 else "= 0 (the kink: taken as 0 there)"


def local_derivative_explanation(node: Value, i: int, name: Name) -> str:
    """Why ∂node/∂(child i) has the value recorded in ``node.local_grads[i]``, naming the forward
    values it came from, in the words of the op table (`microgradlike.ops`)."""
    if node.op in NARY:
        return _nary_explanation(node, i, name)
    op = OPS.get(node.op)
    if op is None:
        raise ValueError(f"no op {node.op!r} in microgradlike.ops: cannot explain {node!r}")
    names = _operand_names(node, name)
    va, vb = _operand_values(node)
    position = operand_positions(node.layout, len(node.children))[i]  # 3 − x: child 0 is b
    with_number = node.constant is not None and op.words_with_number
    template = (op.words_with_number if with_number else op.words)[position]
    operand = va if position == 0 else vb
    return template.format(a=names["a"], b=names["b"], out=name(node), va=number(va), vb=number(vb),
                           vout=number(node.data), d=number(node.local_grads[i]),
                           cmp=_compared_with_zero(operand))


def _nary_explanation(node: Value, i: int, name: Name) -> str:
    """A "dot" child: its partner from the node's layout (or the bias); a "sum" term: 1."""
    words = NARY[node.op].words
    if node.op == "sum":
        return words["term"]
    if node.op == "logsumexp":  # its softmax weight e^(v − out)
        term = node.children[i]
        return words["term"].format(v=name(term), out=name(node), vv=number(term.data),
                                    vout=number(node.data), d=number(node.local_grads[i]))
    role, partner = dot_role(node, i)
    d = number(node.local_grads[i])
    if role == "pair":
        assert partner is not None
        return words["pair"].format(partner=name(partner), d=d)
    return words[role].format(d=d)


def dot_role(node: Value, i: int) -> tuple[str, Value | None]:
    """What child ``i`` of a "dot" node is (`engine.dot_terms`): ("pair", the Value it multiplied),
    ("plain input", None) for a Value weight times a plain number, ("plain weight", None) for a
    plain number times a Value input, or ("bias", None)."""
    child = 0
    for term in dot_terms(node):
        if term.kind == "pair":
            if i in (child, child + 1):
                partner = term.input if i == child else term.weight
                return "pair", partner if isinstance(partner, Value) else None  # a pair's are Values
            child += 2
        elif i == child:
            return term.kind, None
        else:
            child += 1
    raise IndexError(f"child {i} is not in the terms of {node!r}")


def _bracketed(text: str) -> str:
    """An operand of an infix op: a negative number in brackets, (-3.0) × x."""
    return f"({text})" if text.startswith("-") else text


def _dot_formula(node: Value, name: Name) -> str:
    """Σ's terms in names: "w0·x0 + w1·2.0 + b"."""

    def shown(v: Value | float) -> str:  # a factor: a Value by its name, a plain number as itself
        return _bracketed(name(v)) if isinstance(v, Value) else factor(v)

    terms = [shown(t.weight) if t.kind == "bias" else f"{shown(t.weight)}·{shown(t.input)}"
             for t in dot_terms(node)]
    if node.constant:
        terms.append(factor(node.constant))
    if len(terms) > 5:
        terms = [*terms[:4], f"… ({len(terms) - 4} more terms)"]
    return " + ".join(terms) if terms else "0.0"


def formula(node: Value, name: Name) -> str:
    """How ``node`` was computed, in names: "c = a × b", "o = tanh(n)", "z = w0·x0 + b"."""
    if node.op == "dot":
        return _dot_formula(node, name)
    op = OPS.get(node.op)
    if op is not None and op.infix:
        names = _operand_names(node, name)
        return f"{_bracketed(names['a'])} {op.symbol} {_bracketed(names['b'])}"
    kids = [name(k) for k in node.children]
    if node.op == "neg":
        return f"{op.symbol}{_bracketed(kids[0])}"  # type: ignore[union-attr]
    shown = kids if len(kids) <= 6 else [*kids[:5], f"… {len(kids) - 5} more"]
    plain = f" + {factor(node.constant)}" if node.constant else ""  # a sum's plain-number part
    symbol = op.symbol if op is not None else node.op
    return f"{symbol}({', '.join(shown)}){plain}"
