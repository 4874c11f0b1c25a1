"""Turn an op's formula (`microgradlike.ops`) into Python code, for one kind of number.

A formula such as ``1 - out * out`` or ``1.0 if a > 0 else 0.0`` is written once, and read three ways:

* ``"float"``: as it is, with the float version of each function of `ops.FUNCTIONS` for the calls.
  The `Value` methods (``methods.py``) and the tape's float replay are written this way.
* ``"numpy"``: one entry per sample. ``x if c else y`` becomes ``where(c, x, y)``, ``and``/``or``
  become ``logical_and``/``logical_or``, and the calls use numpy's functions.
* ``"value"``: on Values, so a derivative is itself a graph (gradients of gradients). A
  comparison reads the forward numbers (``.data``): a branch is a constant to the next derivative.

`render` substitutes the operands (names of variables, or plain numbers) and folds what is
constant: with the exponent 2, ``b * power(a, b - 1)`` becomes ``2.0 * a``. Only formulas from the
op table are ever rendered, and the result is only compiled by our own code generators, with
`define`, which registers the source so that tracebacks, pdb and `inspect.getsource` show it.
"""

from __future__ import annotations

import ast
import linecache
import math
import weakref
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import numpy as np

from .ops import FUNCTIONS, OPS

__all__ = ["NAMESPACES", "TARGETS", "constant_branches", "define", "failure", "literal", "number_in",
           "numpy_forward", "render"]

TARGETS = ("float", "numpy", "value")
_PREFIX = {"float": "", "numpy": "_np_", "value": "_v_"}


def literal(c: float) -> str:
    """A float as source text that reads back to exactly the same float."""
    if math.isnan(c):
        return "nan"
    if math.isinf(c):
        return "inf" if c > 0 else "(-inf)"
    return repr(float(c)) if math.copysign(1.0, c) > 0 else f"({float(c)!r})"


@cache
def _parse(formula: str) -> ast.expr:
    return ast.parse(formula, mode="eval").body  # the op table's formulas are checked at its import


class _Rewrite(ast.NodeTransformer):
    """Substitute operands, fold constants, and translate to one target."""

    def __init__(self, target: str, names: Mapping[str, str | float]) -> None:
        self.target, self.names = target, names

    # -- leaves --
    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.names:
            given = self.names[node.id]
            if isinstance(given, str):
                return ast.parse(given, mode="eval").body
            return ast.Constant(float(given))
        if node.id == "inf":
            return ast.Constant(math.inf)
        return node

    # -- folding: an expression of plain numbers only is computed now --
    def generic_visit(self, node: ast.AST) -> ast.AST:
        node = super().generic_visit(node)
        return _fold(node) if isinstance(node, ast.expr) else node

    def visit_IfExp(self, node: ast.IfExp) -> ast.expr:
        node = self.generic_visit(node)  # type: ignore[assignment]
        if not isinstance(node, ast.IfExp):
            return node
        if isinstance(node.test, ast.Constant):
            return node.body if node.test.value else node.orelse
        if self.target == "numpy":
            return _call("_np.where", node.test, node.body, node.orelse)
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.expr:
        node = self.generic_visit(node)  # type: ignore[assignment]
        if not isinstance(node, ast.BoolOp):
            return node
        is_and = isinstance(node.op, ast.And)
        values = []
        for v in node.values:  # pure formulas: a constant operand decides or drops out
            if isinstance(v, ast.Constant):
                if bool(v.value) != is_and:  # False in an `and`, True in an `or`
                    return ast.Constant(v.value)
                continue
            values.append(v)
        if not values:
            return ast.Constant(is_and)
        if len(values) == 1:
            return values[0]
        if self.target == "numpy":
            result = values[0]
            for v in values[1:]:
                result = _call("_np.logical_and" if is_and else "_np.logical_or", result, v)
            return result
        return ast.BoolOp(node.op, values)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        if not isinstance(node.op, ast.Not):
            return self.generic_visit(node)  # type: ignore[return-value]
        # not (a > 0)  ->  a <= 0, pushed through and/or: the generated checks read as plainly as
        # the table, and NaN, which fails every comparison, fails the negation too: a domain
        # check (``not (condition)`` raises) never refuses NaN, which passes through as in PyTorch.
        pushed = _push_not(node.operand)
        if pushed is not None:
            return self.visit(pushed)
        node = self.generic_visit(node)  # type: ignore[assignment]  # `not` of a number: folded
        if isinstance(node, ast.UnaryOp) and self.target == "numpy":
            return _call("_np.logical_not", node.operand)
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        node = self.generic_visit(node)  # type: ignore[assignment]
        if isinstance(node, ast.Compare) and self.target == "value":
            # Branches read forward numbers: compare .data, never Values.
            node.left = _forward_number(node.left)
            node.comparators = [_forward_number(c) for c in node.comparators]
        return node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        node = self.generic_visit(node)  # type: ignore[assignment]
        if not isinstance(node, ast.Call):
            return node
        name = node.func.id  # type: ignore[attr-defined]
        if name == "power" and self.target != "value" and isinstance(node.args[1], ast.Constant):
            if node.args[1].value == 1.0:
                return node.args[0]
            if node.args[1].value == 2.0 and isinstance(node.args[0], ast.Name):  # the commonest power
                return ast.BinOp(node.args[0], ast.Mult(), node.args[0])
        return _call(_PREFIX[self.target] + name, *node.args)


def _push_not(node: ast.expr) -> ast.expr | None:
    """``not node`` with the negation moved inwards: a comparison inverted, ``and``/``or`` swapped
    (De Morgan), ``not not x`` as ``x``; None where it cannot move (a call)."""
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        return ast.Compare(node.left, [_INVERSE[type(node.ops[0])]()], node.comparators)
    if isinstance(node, ast.BoolOp):
        swapped = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        return ast.BoolOp(swapped, [ast.UnaryOp(ast.Not(), v) for v in node.values])
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return node.operand
    return None


def _forward_number(node: ast.expr) -> ast.expr:
    return node if isinstance(node, ast.Constant) else _call("_data", node)


def _call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(ast.Name(name, ast.Load()), list(args), [])


_INVERSE: dict[type, type] = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.GtE, ast.GtE: ast.Lt,
                              ast.Gt: ast.LtE, ast.LtE: ast.Gt}
_BINARY = {ast.Add: lambda x, y: x + y, ast.Sub: lambda x, y: x - y, ast.Mult: lambda x, y: x * y,
           ast.Div: lambda x, y: x / y, ast.Pow: FUNCTIONS["power"].float}
_UNARY = {ast.USub: lambda x: -x, ast.UAdd: lambda x: +x, ast.Not: lambda x: not x}
_COMPARE = {ast.Eq: lambda x, y: x == y, ast.NotEq: lambda x, y: x != y, ast.Lt: lambda x, y: x < y,
            ast.LtE: lambda x, y: x <= y, ast.Gt: lambda x, y: x > y, ast.GtE: lambda x, y: x >= y}


def _fold(node: ast.expr) -> ast.expr:
    """``node`` computed now if all its operands are numbers (and computing it does not fail)."""
    try:
        if isinstance(node, ast.BinOp) and _constants(node.left, node.right):
            value = _BINARY[type(node.op)](node.left.value, node.right.value)  # type: ignore[attr-defined]
        elif isinstance(node, ast.UnaryOp) and _constants(node.operand):
            value = _UNARY[type(node.op)](node.operand.value)  # type: ignore[attr-defined]
        elif (isinstance(node, ast.Compare) and len(node.ops) == 1
              and _constants(node.left, *node.comparators)):
            value = _COMPARE[type(node.ops[0])](node.left.value, node.comparators[0].value)  # type: ignore[attr-defined]
        elif isinstance(node, ast.Call) and node.args and _constants(*node.args):
            value = FUNCTIONS[node.func.id].float(*(a.value for a in node.args))  # type: ignore[attr-defined]
        else:
            return node
    except (ArithmeticError, ValueError):
        return node  # e.g. 1 / 0: left to run (and fail) where it is used
    return ast.Constant(value)


def _constants(*nodes: ast.expr) -> bool:
    return all(isinstance(n, ast.Constant) for n in nodes)


class _Unparse(ast.NodeTransformer):
    """Write float constants so that they read back exactly (inf, nan, negative numbers)."""

    def visit_Constant(self, node: ast.Constant) -> ast.expr:
        # Every number is written as a float: float-with-int arithmetic and comparisons are
        # slower in CPython than float-with-float, and 0 and 0.0 mean the same here.
        if isinstance(node.value, int | float) and not isinstance(node.value, bool):
            return ast.parse(literal(float(node.value)), mode="eval").body
        return node


def failure(condition: str, target: str, names: Mapping[str, str | float]) -> str | None:
    """The test that a domain check's ``condition`` fails, for ``target`` (see `render`): its
    negation with each comparison inverted, so that NaN fails no check and passes through, as in
    PyTorch. None where the check cannot fail. The Value methods and both replays write it so."""
    failed = render(f"not ({condition})", target, names)
    return None if failed == "False" else failed


def render(formula: str, target: str, names: Mapping[str, str | float]) -> str:
    """The source of ``formula`` for ``target``, its operands replaced by ``names``.

    ``names`` maps ``"a"``, ``"b"``, ``"out"`` to source text (a variable, an expression) or to a
    plain number, which is folded into constants where it can be.

    >>> render("1.0 if a > 0 else 0.0", "numpy", {"a": "v0"})
    '_np.where(v0 > 0.0, 1.0, 0.0)'
    >>> render("b * power(a, b - 1)", "float", {"a": "x", "b": 2.0})
    '2.0 * x'
    """
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; one of {TARGETS}")
    tree = _Rewrite(target, names).visit(_copy(_parse(formula)))
    tree = _Unparse().visit(tree)
    return ast.unparse(ast.fix_missing_locations(tree))


def number_in(node: ast.expr) -> float | None:
    """The number a piece of rendered source writes (``2.0``, ``(-1.0)``), else None."""
    try:
        value = ast.literal_eval(node)
    except ValueError:
        return None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def constant_branches(node: ast.expr) -> bool:
    """Whether ``node`` is a number, or ``x if test else y`` whose every branch is one (relu's
    ``0.0 if a <= 0.0 else 1.0``): code generators share such results instead of computing them."""
    if isinstance(node, ast.IfExp):
        return constant_branches(node.body) and constant_branches(node.orelse)
    return number_in(node) is not None


def _copy(tree: ast.expr) -> ast.expr:
    return ast.parse(ast.unparse(tree), mode="eval").body


# ---- what rendered code calls, per target ----------------------------------------------------------
def _data(x: Any) -> Any:
    """The forward number of a Value (a plain number as it is)."""
    return getattr(x, "data", x)


def _value_function(name: str) -> Callable[..., Any]:
    """``name`` on Values: the method of its op, so that it records a node (``power`` is ``**``),
    or the float function when no operand is a Value (a constant of the derivative). A test such
    as ``is_integer`` reads the forward numbers."""
    function = FUNCTIONS[name]
    on_float = function.float
    if not function.op:
        def test(*xs: Any) -> Any:
            return on_float(*map(_data, xs))
        return test
    op = OPS[function.op]
    if op.arity == 2:
        method, reflected = op.method, op.reflected

        def binary(a: Any, b: Any) -> Any:
            if hasattr(a, "data"):
                return getattr(a, method)(b)
            return getattr(b, reflected)(a) if hasattr(b, "data") else on_float(a, b)
        return binary
    method = op.method

    def unary(a: Any) -> Any:
        return getattr(a, method)() if hasattr(a, "data") else on_float(a)
    return unary


#: The globals rendered code runs with, per target.
NAMESPACES: dict[str, dict[str, Any]] = {
    "float": {**{k: f.float for k, f in FUNCTIONS.items()}, "inf": math.inf, "nan": math.nan},
    "numpy": {**{f"_np_{k}": f.numpy for k, f in FUNCTIONS.items()}, "_np": np, "inf": math.inf,
              "nan": math.nan},
    "value": {**{f"_v_{k}": _value_function(k) for k in FUNCTIONS}, "_data": _data, "inf": math.inf,
              "nan": math.nan},
}


# ---- compiling generated code so that it can be read where it runs -------------------------------
def define(source: str, name: str, filename: str, namespace: dict[str, Any]) -> Callable[..., Any]:
    """The function ``name`` that ``source`` defines, compiled with ``namespace`` as its globals.

    Only our own text, written from the op table, is ever compiled. The source is registered with
    `linecache` under ``filename`` (``<microgradlike …>``) for as long as the function lives, so a
    traceback shows the line that raised, pdb can list it, and `inspect.getsource` returns it."""
    code = compile(source, filename, "exec")
    exec(code, namespace)  # our own text only (see above)
    function = namespace[name]
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    weakref.finalize(function, linecache.cache.pop, filename, None)
    return function


@cache
def numpy_forward(op: str) -> Callable[[Any], Any]:
    """A one-operand op's forward formula on numpy arrays, entry by entry: ``numpy_forward("relu")``
    is ``lambda a: where(a > 0, a, 0)``."""
    body = render(OPS[op].forward, "numpy", {"a": "a"})
    name = op if op.isidentifier() else "forward"
    return define(f"def {name}(a):\n    return {body}\n", name, f"<microgradlike numpy {op}>",
                  dict(NAMESPACES["numpy"]))
