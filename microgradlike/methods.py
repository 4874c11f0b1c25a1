"""Writing the `Value` methods from the op table: one row of `microgradlike.ops`, one method.

For each op the row's formulas are rendered for floats (`microgradlike.formulas`) into a method
that computes the result, checks the op's domain, and records the local derivatives — the code a
micrograd reader would write by hand::

    def tanh(self):                 # docstring: tanh a.  ∂/∂a = 1 - out * out.
        a = self.data
        out = tanh(a)
        return _node(out, (self,), (1.0 - out * out,), 'tanh')

Generated once at import, the methods cost nothing at run time (a dispatch through the table
would). A binary op gets three forms: two Values, a Value and a plain number (``x - 3``), and the
reflected one (``3 - x``), which records the number and where it stood. Two small tricks keep
nodes small: a tuple of constant derivatives is shared by every node (``(1.0, 1.0)`` for +), and
where the result and its derivative branch on the same test (relu) the test is made once.
`method_source` prints what was written for an op.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from . import formulas
from .checks import short
from .ops import OPS, Op

__all__ = ["install_ops", "method_source", "refuse"]


def refuse(op: str, check: int, a: object, b: object = None, where: str = "") -> Exception:
    """The error of ``OPS[op].checks[check]``, naming the operands ``a`` and ``b`` as given (and
    ``where`` it happened: a replay names the sample)."""
    rule = OPS[op].checks[check]
    return rule.error(rule.message.format(a=short(a), b=short(b)) + where)


_SOURCES: dict[str, str] = {}
_NAMESPACE: dict[str, object] = {**formulas.NAMESPACES["float"], "_refuse": refuse}


def _shared(derivatives: str) -> str:
    """The local-derivatives tuple as source. A tuple of constants is made once and shared by
    every node (``(1.0, 1.0)`` for +); a one-operand branch between constants picks a shared
    tuple (relu: ``(1.0,)`` or ``(0.0,)``). Saves a tuple per node."""
    tree = ast.parse(derivatives, mode="eval").body
    assert isinstance(tree, ast.Tuple)
    numbers = [formulas.number_in(e) for e in tree.elts]
    if all(n is not None for n in numbers):
        return _constant_tuple(tuple(numbers))  # type: ignore[arg-type]
    if len(tree.elts) == 1 and formulas.constant_branches(tree.elts[0]):
        return f"({_pick(tree.elts[0])})"
    return derivatives


def _constant_tuple(values: tuple[float, ...]) -> str:
    name = "_K" + "_".join(repr(v).replace("-", "m").replace(".", "p") for v in values)
    _NAMESPACE[name] = values
    return name


def _pick(node: ast.expr) -> str:
    if isinstance(node, ast.IfExp):
        return f"{_pick(node.body)} if {ast.unparse(node.test)} else {_pick(node.orelse)}"
    return _constant_tuple((formulas.number_in(node),))  # type: ignore[arg-type]


def _one_operand_result(forward: str, derivative: str, name: str) -> list[str]:
    """``out = …; return _node(…)``; when the result and its derivative branch on the same test
    (relu: ``a if a > 0 else 0.0`` and ``1.0 if a > 0 else 0.0``), the test is made once."""
    f, d = (ast.parse(text, mode="eval").body for text in (forward, derivative))
    if isinstance(f, ast.IfExp) and isinstance(d, ast.IfExp) and ast.dump(f.test) == ast.dump(d.test):
        when_true = _one_operand_result(ast.unparse(f.body), ast.unparse(d.body), name)
        return [f"if {ast.unparse(f.test)}:", *("    " + line for line in when_true),
                *_one_operand_result(ast.unparse(f.orelse), ast.unparse(d.orelse), name)]
    return [*_result(forward, derivative), f"return _node({_out(derivative, forward)}, (self,), "
                                           f"{_shared(f'({derivative},)')}, {name!r})"]


def _uses_out(*derivatives: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == "out" for d in derivatives for n in ast.walk(ast.parse(d)))


def _result(forward: str, *derivatives: str) -> list[str]:
    """``out = forward`` when a derivative reads the result (tanh: 1 − out²), else nothing."""
    return [f"out = {forward}"] if _uses_out(*derivatives) else []


def _out(derivatives: str, forward: str) -> str:
    """The result where it is recorded: ``out`` if it was computed first, else the formula."""
    return "out" if _uses_out(derivatives) else forward


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
                                     *_result(forward, both),
                                     f"return _node({_out(both, forward)}, (self, other), {_shared(both)}, "
                                     f"{op.name!r})"]),
        "b = _operand(other)", "if b is None:", "    return NotImplemented",
        *_checks(op, {"a": "a", "b": "b"}, "self, other", "b"), *_result(forward, derivs[0]),
        f"return _with_constant({_out(derivs[0], forward)}, (self,), {_shared(f'({derivs[0]},)')}, "
        f"{op.name!r}, b, 'ac')",
    ]
    reflected = [
        f"def {op.reflected}(self, other):", doc, "a = _operand(other)", "if a is None:",
        "    return NotImplemented", "b = self.data", *_checks(op, {"a": "a", "b": "b"}, "other, self", "a"),
        *_result(forward, derivs[1]),
        f"return _with_constant({_out(derivs[1], forward)}, (self,), {_shared(f'({derivs[1]},)')}, "
        f"{op.name!r}, a, 'ca')",
    ]
    return "\n".join([lines[0], *(indent + line for line in lines[1:]), "",
                      reflected[0], *(indent + line for line in reflected[1:])])


def install_ops(value_class: type, node: Callable, with_constant: Callable,
                operand: Callable[[object], float | None]) -> None:
    """Write each op's method(s) from its row of `microgradlike.ops` and set them on ``value_class``.

    The engine hands over how it builds a node: ``node(data, children, local_grads, op)``,
    ``with_constant(…, constant, layout)`` for an op that used a plain number, and ``operand(x)``,
    a plain number as a float (None if ``x`` is none)."""
    _NAMESPACE.update(Value=value_class, _node=node, _with_constant=with_constant, _operand=operand)
    for op in OPS.values():
        source = _method_source(op)
        namespace = dict(_NAMESPACE)
        exec(compile(source, f"<microgradlike op {op.name}>", "exec"), namespace)  # our own text only
        for name in (op.method, op.reflected):
            if name:
                method = namespace[name]
                method.__qualname__ = f"{value_class.__name__}.{name}"
                setattr(value_class, name, method)
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
