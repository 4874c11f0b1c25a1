"""Write ``methods.py``, the `Value` methods, from the op table: one row of `microgradlike.ops`,
one method (three for a binary op).

    python microgradlike/methodgen.py --write   # rewrite microgradlike/methods.py from ops.py
    python microgradlike/methodgen.py --check   # exit 1 when methods.py is not what ops.py gives

For each op the row's formulas are rendered for floats (`microgradlike.formulas`) into the method
a micrograd reader would write by hand: compute the result, check the domain, record the local
derivatives. The file is committed, so a learner, a debugger and a type checker meet real lines;
``tests/test_ops.py`` fails while it is stale (as ``notebooks/build.py --check`` does for the
notebooks). Run as a file, the command reads only the table (`ops`, `formulas`, `checks`), never
the package, which needs methods.py: so it works while methods.py is stale or broken (a merge
conflict in it).

Two small things keep nodes small and fast: a tuple of constant derivatives is written as a
literal, which Python makes once and every node then shares (``(1.0, 1.0)`` for +), and where the
result and its derivative branch on the same test (relu) the test is made once.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import string
import sys
import textwrap
import types
from pathlib import Path

if __name__ == "__main__" and not __package__:  # run as a file: python microgradlike/methodgen.py
    # Read the op table without importing the package: its Value is made from the very file this
    # writes, so a stale methods.py (a new row's method not there yet) must not stop the command.
    _package = types.ModuleType("microgradlike")
    _package.__path__ = [str(Path(__file__).resolve().parent)]
    sys.modules["microgradlike"] = _package
    __package__ = "microgradlike"
    del sys.path[0]  # this file's folder: its modules are the package's, not top-level ones

from . import formulas  # (after the lines above, which let a file run make these imports)
from .ops import FUNCTIONS, OPS, Check, Op

__all__ = ["PATH", "main", "source"]

#: The generated file.
PATH = Path(__file__).with_name("methods.py")
_WIDTH = 110  # the project's line length (pyproject.toml)
_RULE = 100  # the width of the comment rule above each op

_HEADER = '''\
# GENERATED from microgradlike/ops.py by `python microgradlike/methodgen.py --write`: do not edit.
# Change the op table and run that command; tests/test_ops.py fails while this file is stale.
"""The ops of `Value`, one method per row of the op table (`microgradlike.ops`), micrograd style.

Each method computes the result from its operands' numbers ``a`` (and ``b``), checks that the op
is defined there (raising the error the table gives), and records in the new node the local
derivatives ∂out/∂a (and ∂out/∂b), the numbers `Value.backward` multiplies by the chain rule.

A binary op has three forms: two Values (``x * y``: two children); a Value and a plain number
(``x * 3``: one child, and the node keeps the 3.0 as its ``constant``, layout "ac"); and the
reflected form (``3 * x``, layout "ca"). A plain number is never wrapped in a node.

`Value` (microgradlike/engine.py) inherits these methods from `ValueOps`. They build each node with
the engine's ``_node(data, children, local_grads, op)`` (``_with_constant`` also keeps the plain
number and where it stood), and ``_operand(x, op)`` reads a plain number (None for anything else,
and Python then tries the other operand's method; NaN is refused, naming the op).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .checks import short
from .ops import FUNCTIONS

if TYPE_CHECKING:  # at run time engine.py hands these four over, as soon as Value exists
    from .engine import Value, _node, _operand, _with_constant

# The math functions the formulas call, on floats (ops.FUNCTIONS defines each once, beside its
# numpy version).
'''


def source() -> str:
    """The text of ``methods.py`` that the op table gives."""
    methods = []
    for op in OPS.values():
        methods.append(f"    # ---- {op.name} " + "-" * (_RULE - 12 - len(op.name)))
        methods.extend(_methods(op))
    body = "\n".join(methods)
    called, read = _names(body)  # one parse of the whole body
    functions = [f"{name} = FUNCTIONS[{_string(name)}].float" for name in FUNCTIONS if name in called]
    if "inf" in read:
        functions.append('inf = float("inf")')
    return "\n".join([
        _HEADER.rstrip("\n"), *functions, "", "",
        "class ValueOps:",
        '    """The ops of `Value`, written from the op table (see this module\'s docstring)."""',
        "",
        "    __slots__ = ()",
        "    data: float  # the forward number (a slot of Value)",
        "",
        body.rstrip("\n"),
    ]) + "\n"


def _names(text: str) -> tuple[set[str], set[str]]:
    """The names ``text`` (source, perhaps indented) calls, and every name it reads."""
    nodes = list(ast.walk(ast.parse(textwrap.dedent(text))))
    called = {n.func.id for n in nodes if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    return called, {n.id for n in nodes if isinstance(n, ast.Name)}


# ---- one op ------------------------------------------------------------------------------------------
def _methods(op: Op) -> list[str]:
    """The source lines of ``op``'s method(s), indented for the class body."""
    def render(formula: str) -> str:
        return formulas.render(formula, "float", {"a": "a", "b": "b", "out": "out"})

    forward, derivatives = render(op.forward), [render(d) for d in op.derivatives]
    if op.arity == 1:
        body = ["a = self.data", *_checks(op, {"a": "self"}, ""),
                *_one_operand_result(forward, derivatives[0], op.name)]
        return _method(f"def {op.method}(self) -> Value:", _doc(op, op.math, (0,)), body)
    both = _result(forward, derivatives, "(self, other)", op.name, None)
    number = _result(forward, derivatives[:1], "(self,)", op.name, ("b", "ac"))
    plain = [f"b = _operand(other, {_string(op.name)})", "if b is None:", "    return NotImplemented",
             *_checks(op, {"a": "self", "b": "other"}, "b"), *number]
    first = ["a = self.data", f"if not isinstance(other, Value):  # x {op.name} 3, or not a number at all",
             *_indent(plain), "b = other.data", *_checks(op, {"a": "self", "b": "other"}, ""), *both]
    reflected = [f"a = _operand(other, {_string(op.name)})", "if a is None:", "    return NotImplemented",
                 "b = self.data",
                 *_checks(op, {"a": "other", "b": "self"}, "a"),
                 *_result(forward, derivatives[1:], "(self,)", op.name, ("a", "ca"), derivative_of="b")]
    example = f"2 {op.name} x"
    doc = _doc(op, op.math, (0, 1))
    return [*_method(f"def {op.method}(self, other: Value | float) -> Value:", doc, first),
            *_method(f"def {op.reflected}(self, other: float) -> Value:",
                     _doc(op, f"{op.math} for a plain number a: {example}", (1,)), reflected)]


def _method(signature: str, doc: list[str], body: list[str]) -> list[str]:
    return [f"    {signature}", *("        " + line if line else "" for line in doc),
            *("        " + line for line in body), ""]


def _indent(lines: list[str]) -> list[str]:
    return ["    " + line for line in lines]


def _doc(op: Op, what: str, operands: tuple[int, ...]) -> list[str]:
    """The docstring: the op in math notation and its local derivatives, as the table writes them."""
    parts = [f"∂out/∂{'ab'[k]} = {op.derivatives[k]}" for k in operands]
    one_line = f'"""out = {what};  {",  ".join(parts)}."""'
    if len(one_line) + 8 <= _WIDTH and not op.kink:
        return [one_line]
    kink = ["", *textwrap.wrap(op.kink + ".", _WIDTH - 8)] if op.kink else []
    lines = [line for part in parts for line in textwrap.wrap(part, _WIDTH - 8, subsequent_indent="    ")]
    return [f'"""out = {what}.', "", *lines, *kink, '"""']


def _checks(op: Op, shown: dict[str, str], plain: str) -> list[str]:
    """The domain checks: ``if <outside>: raise <error>(<message>)``. ``shown`` names the
    operands as given (``self``, ``other``); ``plain`` is the operand that is a plain number, if
    any (a check only needed when that operand is a Value is then left out)."""
    lines = []
    for rule in op.checks:
        if plain and rule.only_if_value == plain:
            continue
        failed = formulas.failure(rule.condition, "float", {"a": "a", "b": "b"})
        if failed is not None:
            lines += [f"if {failed}:", *_indent(_raise(rule, shown))]
    return lines


def _raise(rule: Check, shown: dict[str, str]) -> list[str]:
    """``raise Error(f"...")`` with the table's message, each operand shown with `checks.short` (as
    `ops.refuse` writes it for the replays), cut into lines that fit."""
    error = rule.error.__name__
    if getattr(builtins, error, None) is not rule.error:
        raise ValueError(f"methodgen: {rule.error!r} is not a built-in exception, which methods.py can name")
    pieces: list[tuple[str, bool]] = []  # (text, is a field): words keep their space; a field is whole
    for literal, field, _, _ in string.Formatter().parse(rule.message):
        words = literal.split(" ")
        pieces += [(w + " ", False) for w in words[:-1]] + ([(words[-1], False)] if words[-1] else [])
        if field is not None:
            pieces.append((f"short({shown[field]})", True))
    head = f"raise {error}("
    room = _WIDTH - 16 - len(head) - 4  # the deepest indent, the quotes, the f and the bracket
    lines: list[list[tuple[str, bool]]] = [[]]
    for piece in pieces:
        if lines[-1] and sum(len(t) + 2 * f for t, f in lines[-1]) + len(piece[0]) > room:
            lines.append([])
        lines[-1].append(piece)
    quoted = []
    for line in lines:
        if any(is_field for _, is_field in line):
            text = "".join("{" + t + "}" if f else t.replace("{", "{{").replace("}", "}}") for t, f in line)
            quoted.append("f" + _string(text))
        else:
            quoted.append(_string("".join(t for t, _ in line)))
    return [head + quoted[0] + ("" if len(quoted) > 1 else ")"),
            *(" " * len(head) + q for q in quoted[1:-1]),
            *([" " * len(head) + quoted[-1] + ")"] if len(quoted) > 1 else [])]


def _result(forward: str, derivatives: list[str], children: str, name: str, constant: tuple[str, str] | None,
            derivative_of: str = "a") -> list[str]:
    """``out = …`` (when a derivative reads the result) and ``return _node(…)``; the local
    derivatives are named ``da``, ``db`` first where one line would not fit."""
    lines = [f"out = {forward}"] if _uses_out(*derivatives) else []
    result = "out" if lines else forward
    local = _shared(_tuple(derivatives))
    op = _string(name)
    build = (f"_with_constant({{result}}, {children}, {{local}}, {op}, {constant[0]}, {_string(constant[1])})"
             if constant else f"_node({{result}}, {children}, {{local}}, {op})")
    line = "return " + build.format(result=result, local=local)
    if len(line) + 12 <= _WIDTH:
        return [*lines, line]
    names = [f"d{derivative_of}"] if len(derivatives) == 1 else ["da", "db"]
    lines += [line for n, d in zip(names, derivatives) for line in _assignment(n, d)]
    return [*lines, "return " + build.format(result=result, local=_tuple(names))]


def _assignment(name: str, expression: str) -> list[str]:
    """``name = expression``, on one line where it fits at the deepest indent, else a conditional
    expression in parentheses with its value, its ``if`` and its ``else`` each on a line."""
    line = f"{name} = {expression}"
    tree = ast.parse(expression, mode="eval").body
    if len(line) + 16 <= _WIDTH or not isinstance(tree, ast.IfExp):
        return [line]
    pad = " " * (len(name) + 4)
    return [f"{name} = ({ast.unparse(tree.body)}", f"{pad}if {ast.unparse(tree.test)}",
            f"{pad}else {ast.unparse(tree.orelse)})"]


def _one_operand_result(forward: str, derivative: str, name: str) -> list[str]:
    """``out = …; return _node(…)``; when the result and its derivative branch on the same test
    (relu: ``0.0 if a <= 0 else a`` and ``0.0 if a <= 0 else 1.0``), the test is made once."""
    f, d = (ast.parse(text, mode="eval").body for text in (forward, derivative))
    if isinstance(f, ast.IfExp) and isinstance(d, ast.IfExp) and ast.dump(f.test) == ast.dump(d.test):
        when_true = _one_operand_result(ast.unparse(f.body), ast.unparse(d.body), name)
        return [f"if {ast.unparse(f.test)}:", *_indent(when_true),
                *_one_operand_result(ast.unparse(f.orelse), ast.unparse(d.orelse), name)]
    return _result(forward, [derivative], "(self,)", name, None)


def _tuple(items: list[str]) -> str:
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"


def _string(text: str) -> str:
    """``text`` as a string literal, in double quotes where it can be."""
    plain = '"' not in text and "\\" not in text and text.isprintable()
    return f'"{text}"' if plain else repr(text)


def _uses_out(*derivatives: str) -> bool:
    return any("out" in _names(d)[1] for d in derivatives)


def _shared(derivatives: str) -> str:
    """The local-derivatives tuple as source. A tuple of numbers is a literal (Python makes it
    once: every node shares it); a one-operand branch between numbers picks one such tuple (relu:
    ``(1.0,)`` or ``(0.0,)``) instead of building a new tuple for each node."""
    tree = ast.parse(derivatives, mode="eval").body
    assert isinstance(tree, ast.Tuple)
    if len(tree.elts) == 1 and formulas.constant_branches(tree.elts[0]):
        picked = _pick(tree.elts[0])
        return picked if isinstance(tree.elts[0], ast.Constant | ast.UnaryOp) else f"({picked})"
    return derivatives


def _pick(node: ast.expr) -> str:
    if isinstance(node, ast.IfExp):  # x if c else y if d else z: no brackets needed
        return f"{_pick(node.body)} if {ast.unparse(node.test)} else {_pick(node.orelse)}"
    return f"({ast.unparse(node)},)"


# ---- the command -------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python microgradlike/methodgen.py",
                                     description="Write microgradlike/methods.py from the op table (ops.py).")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="rewrite methods.py")
    action.add_argument("--check", action="store_true", help="exit 1 if methods.py is stale")
    args = parser.parse_args(argv)
    text = source()
    current = PATH.read_text(encoding="utf-8") if PATH.exists() else ""
    if args.check:
        if current != text:
            print(f"{PATH} is stale: run python microgradlike/methodgen.py --write", file=sys.stderr)
            return 1
        return 0
    if current != text:
        temporary = PATH.with_name(PATH.name + ".tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(PATH)  # atomic: the package never sees half a file
    print(f"wrote {PATH}" if current != text else f"{PATH} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
