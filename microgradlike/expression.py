"""Safe expressions: turn text like ``"tanh(x*w + b)"`` into a `Value` graph, never running code.

The text is parsed by Python's `ast` into a syntax tree, and only a whitelist is accepted:

* numbers (``2``, ``-3.5``, ``1e-3``: `data.read_number`'s rule, the one for every number a user
  types, so not ``1_000`` or ``0x10``) and names given values in ``bindings``;
* ``+ - * / **`` and unary ``-``/``+``;
* one-argument calls to the functions of the op table (`FUNCTIONS`: tanh, exp, log, sqrt,
  sigmoid, relu, abs, softplus, sin, cos, ...).

Anything else — attribute access, subscripts, lambdas, comprehensions, keyword arguments,
strings, unknown names such as ``__import__`` — is refused with a one-line ValueError naming the
construct. The tree is then walked by hand (no `eval`, `exec` or `compile` to code), building the
graph with the engine's operators. Each bound name is ONE leaf, labelled with its name, however
many times it appears, so its gradient sums over all its uses.
"""

from __future__ import annotations

import ast
import keyword
import math
import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .checks import as_real, cut, real, short
from .data import NUMBER_RULE, read_number
from .engine import Value
from .ops import OPS, parser_functions

__all__ = ["FUNCTIONS", "MAX_LENGTH", "parse_bindings", "parse_expression"]

#: The functions an expression may call, each with one argument: the ops the op table
#: (`microgradlike.ops`) offers to the parser.
FUNCTIONS: dict[str, Callable[[Value], Value]] = {
    name: getattr(Value, OPS[name].method) for name in parser_functions()
}
#: Longer texts are refused before parsing (a graph to look at is never this big).
MAX_LENGTH = 2000

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_OPERATOR_TEXT = {
    ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
    ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&", ast.Invert: "~", ast.Not: "not",
}
# Friendly names for what gets refused (the rest are named by their ast class).
_CONSTRUCT = {
    ast.Attribute: "attribute access", ast.Subscript: "subscript", ast.Lambda: "lambda",
    ast.ListComp: "list comprehension", ast.SetComp: "set comprehension",
    ast.DictComp: "dict comprehension", ast.GeneratorExp: "generator expression",
    ast.Compare: "comparison", ast.BoolOp: "boolean operator", ast.IfExp: "conditional expression",
    ast.NamedExpr: "assignment expression (:=)", ast.JoinedStr: "f-string", ast.List: "list",
    ast.Tuple: "tuple", ast.Dict: "dict", ast.Set: "set", ast.Starred: "starred argument",
    ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield", ast.Slice: "slice",
}
_ALLOWED = (
    "allowed: numbers, bound names, + - * / **, unary -, and " + " ".join(f"{f}(…)" for f in FUNCTIONS)
)


def _snippet(text: str, node: ast.AST) -> str:
    """The source of ``node``, shortened to one line."""
    segment = ast.get_source_segment(text, node) or ast.dump(node)[:40]
    segment = " ".join(segment.split())
    return cut(segment, 40)


def _refuse(text: str, node: ast.AST, what: str | None = None) -> ValueError:
    what = what or _CONSTRUCT.get(type(node), type(node).__name__)
    return ValueError(f"refused {what}: `{_snippet(text, node)}`; {_ALLOWED}")


def _check(text: str, tree: ast.Expression, names: Iterable[str]) -> None:
    """Raise ValueError at the first construct outside the whitelist (read top-down)."""
    bound = set(names)
    stack: list[ast.AST] = [tree.body]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Constant):
            if as_real(node.value) is None:
                raise _refuse(text, node, f"constant of type {type(node.value).__name__}")
            if read_number(ast.get_source_segment(text, node) or "") is None:  # 1_000, 0x10: Python's alone
                raise ValueError(f"the number `{_snippet(text, node)}` is not written as numbers are here "
                                 f"({NUMBER_RULE})")
            if isinstance(node.value, float) and math.isinf(node.value):  # 1e400: not what was typed
                raise ValueError(f"the number `{_snippet(text, node)}` is too large for a float "
                                 f"(the largest is about 1.8e308)")
        elif isinstance(node, ast.Name):
            if node.id not in bound:
                hint = " (functions must be called)" if node.id in FUNCTIONS else f" (bind it: {node.id}=1.5)"
                raise ValueError(f"unknown name `{node.id}` in the expression{hint}; {_ALLOWED}")
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.UAdd | ast.USub):
                raise _refuse(text, node, f"operator `{_OPERATOR_TEXT.get(type(node.op), '?')}`")
            stack.append(node.operand)
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                raise _refuse(text, node, f"operator `{_OPERATOR_TEXT.get(type(node.op), '?')}`")
            stack += [node.right, node.left]
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                raise _refuse(text, node.func)
            if node.func.id not in FUNCTIONS:
                raise _refuse(text, node, f"call to `{node.func.id}`")
            if node.keywords:
                raise _refuse(text, node, "keyword argument")
            if len(node.args) != 1:
                raise _refuse(text, node, f"{node.func.id}() with {len(node.args)} arguments (it takes 1)")
            stack.append(node.args[0])
        else:
            raise _refuse(text, node)


def _evaluate(tree: ast.Expression, leaves: Mapping[str, Value]) -> Value | float:
    """Walk the checked tree bottom-up with an explicit stack (deep expressions cannot overflow)."""
    results: list[Value | float] = []
    stack: list[tuple[ast.AST, bool]] = [(tree.body, False)]
    while stack:
        node, operands_done = stack.pop()
        if isinstance(node, ast.Constant):
            results.append(real(node.value, "a number in the expression"))  # as _check let through
        elif isinstance(node, ast.Name):
            results.append(leaves[node.id])
        elif not operands_done:
            stack.append((node, True))
            operands = [node.operand] if isinstance(node, ast.UnaryOp) else (
                [node.left, node.right] if isinstance(node, ast.BinOp) else [node.args[0]])  # type: ignore[attr-defined]
            stack += [(child, False) for child in reversed(operands)]
        elif isinstance(node, ast.UnaryOp):
            a = results.pop()
            results.append(-a if isinstance(node.op, ast.USub) else a)
        elif isinstance(node, ast.BinOp):
            b, a = results.pop(), results.pop()
            results.append(_arithmetic(_BINARY[type(node.op)], a, b))
        else:  # a whitelisted one-argument call
            a = results.pop()
            function = FUNCTIONS[node.func.id]  # type: ignore[attr-defined]
            # A plain number stays a plain number (the engine never wraps constants in nodes).
            results.append(function(a) if isinstance(a, Value) else function(Value(a)).data)
    return results[0]


def _arithmetic(op: Callable[[Any, Any], Any], a: Value | float, b: Value | float) -> Value | float:
    """``op`` on two operands; two plain numbers go through the engine too, for its error messages."""
    if isinstance(a, Value) or isinstance(b, Value):
        return op(a, b)
    return op(Value(a), b).data


def parse_expression(text: str, bindings: Mapping[str, float | Value]) -> Value:
    """Build the `Value` graph of ``text`` with names taken from ``bindings``.

    >>> out = parse_expression("tanh(x*w + b)", {"x": 2.0, "w": -3.0, "b": 6.88})
    >>> out.backward()

    A number binding becomes a leaf ``Value(number, label=name)``; a Value binding is used as it
    is (so you keep a handle on it). Raises ValueError (one line, naming the construct) for
    anything outside the whitelist, a syntax error or an unknown name; the engine's own
    ValueError / ZeroDivisionError for math outside a function's domain (``log(-1)``, ``1/0``).
    """
    if not isinstance(text, str):
        raise TypeError(f"expression must be a str, got {type(text).__name__}: {text!r}")
    if len(text) > MAX_LENGTH:
        raise ValueError(f"expression is {len(text)} characters long; the limit is {MAX_LENGTH}")
    leaves = _leaves(bindings)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise ValueError(f"not a valid expression: {e.msg} in {text.strip()[:60]!r}") from None
    except (ValueError, RecursionError, MemoryError) as e:  # e.g. null bytes, absurd nesting
        raise ValueError(f"cannot parse the expression: {type(e).__name__}: {e}"[:200]) from None
    _check(text.strip(), tree, leaves)
    try:
        result = _evaluate(tree, leaves)
    except OverflowError as e:
        raise ValueError(f"a number in the expression overflows: {e}") from None
    return result if isinstance(result, Value) else Value(result)


def _leaves(bindings: Mapping[str, float | Value]) -> dict[str, Value]:
    if not isinstance(bindings, Mapping):
        raise TypeError(f"bindings must be a dict of name -> number, got {type(bindings).__name__}")
    leaves: dict[str, Value] = {}
    for name, value in bindings.items():
        _check_name(name)
        if isinstance(value, Value):
            leaves[name] = value
            continue
        leaves[name] = Value(real(value, f"binding {name!r}"), label=name)
    return leaves


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"cannot bind {name!r}: a name must be a Python identifier, not a keyword")
    if name in FUNCTIONS:
        raise ValueError(f"cannot bind {name!r}: it is the name of a function")
    if name.startswith("__"):
        raise ValueError(f"cannot bind {name!r}: names starting with '__' are refused")


def parse_bindings(items: Iterable[str]) -> dict[str, float]:
    """``["x=2", "w=-3"]`` -> ``{"x": 2.0, "w": -3.0}``, as typed on a command line.

    Each item is ``name=number``; the number is written by `data.read_number`'s rule, the one
    for every number a user types (``2.5``, ``-3``, ``1e-3``; not ``1_000`` or ``١``); ``inf`` is
    allowed, ``nan`` is not. A name given twice, a bad name or a bad number raises ValueError naming it.
    """
    bindings: dict[str, float] = {}
    for item in items:
        name, sep, number = item.partition("=")
        name, number = name.strip(), number.strip()
        if not sep or not name:
            raise ValueError(f"binding {short(item)} must look like name=number, e.g. x=2.5")
        _check_name(name)
        if name in bindings:
            raise ValueError(f"{short(name)} is bound twice ({short(f'{name}={bindings[name]!r}')} and "
                             f"{short(item)})")
        value = read_number(number)
        if value is None:
            raise ValueError(f"binding {short(item)}: {short(number)} is not a number ({NUMBER_RULE})")
        if math.isnan(value):
            raise ValueError(f"binding {short(item)}: nan is not allowed")
        if math.isinf(value) and number.lower().lstrip("+-") not in ("inf", "infinity"):
            raise ValueError(f"binding {short(item)}: the number is too large for a float "
                             f"(the largest is about 1.8e308; write inf if you mean it)")
        bindings[name] = value
    return bindings
