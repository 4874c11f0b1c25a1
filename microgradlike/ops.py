"""Every operation of the engine, defined once: the list of ops a learner reads.

An op is a row of this table. It says

* how the result is computed from the operands ``a`` (and ``b``): ``forward``;
* its **local derivatives** ∂out/∂a (and ∂out/∂b): ``derivatives``, formulas in ``a``, ``b`` and
  ``out`` (the result itself, saved by the forward pass);
* where it is defined, and the precise error outside: ``checks``;
* how pictures and the step-through write it: ``symbol``, ``words``;
* whether the expression parser and `nn` activations offer it.

Every part of microgradlike reads this table: the eager `Value` methods are generated from it at
import time, the compiled tape writes its float and numpy code from the same formulas, the
higher-order gradients evaluate them on Values, the stepper explains each step with ``words``,
and one conformance test checks every row (closed form, central differences, PyTorch, tape,
batched, explanation, parser, picture).

The formulas are Python expressions over ``a``, ``b``, ``out``, numbers, ``inf``, ``+ - * / **``,
comparisons, ``x if cond else y``, ``and``/``or``, and the math functions named in `FUNCTIONS`.
The same text works on floats (`math`), numpy arrays (one entry per sample) and Values (then the
derivative is itself a graph, so it can be differentiated again): `microgradlike.formulas` turns
it into code for each. A comparison reads the forward numbers only, so a branch such as relu's
``1.0 if a > 0 else 0.0`` is a constant for the next derivative: 0 away from the kink.

Adding an op is adding a row here (and its PyTorch counterpart to the conformance test).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["FUNCTIONS", "NARY", "OPS", "Check", "NaryOp", "Op", "activations", "parser_functions"]


@dataclass(frozen=True)
class Check:
    """Where an op is defined: ``condition`` (a formula over a, b) must hold, else ``error`` is
    raised with ``message`` (formatted with the operands ``{a}``, ``{b}``, as given)."""

    condition: str
    error: type[Exception]
    message: str
    #: Only when this operand is a Value (e.g. ∂/∂exponent needs a positive base).
    only_if_value: str = ""


@dataclass(frozen=True)
class Op:
    """One operation with one or two Value operands (a plain number may take either place)."""

    name: str  # the node's ``op``
    forward: str  # out = ...
    derivatives: tuple[str, ...]  # ∂out/∂a, ∂out/∂b
    math: str  # the function in math notation, for docstrings: "tanh a"
    symbol: str  # in pictures and step formulas: "×", "tanh"
    #: Why ∂out/∂(operand) has its value, one template per operand. Fields: {a} {b} {out} the
    #: operands' and result's names, {va} {vb} {vout} their forward values, {d} the derivative,
    #: {cmp} how a compares with 0 ("> 0", "< 0", "= 0 ..."), for ops with a kink there.
    words: tuple[str, ...]
    #: The same when the OTHER operand is a plain number ({b} or {a} is then that number).
    words_with_number: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()
    infix: bool = False  # written between its operands: a × b
    method: str = ""  # the Value method ("tanh"); binary ops are Python operators
    reflected: str = ""  # the operator with a plain number first: __rsub__ for 2 − x
    parser: bool = False  # the expression parser offers name(x)
    activation: bool = False  # `nn` offers it as an activation
    #: The derivative jumps here; the derivative AT the kink is a convention, stated here.
    kink: str = ""

    @property
    def arity(self) -> int:
        return len(self.derivatives)


@dataclass(frozen=True)
class NaryOp:
    """An op over any number of operands, written by hand in the engine (`engine.dot`,
    `engine.sum_values`, `engine.logsumexp`): one node for a whole sum, which keeps graphs small
    and fast."""

    name: str
    math: str
    symbol: str
    #: Why ∂out/∂operand is what it is, by the operand's role (see `microgradlike.stepper`):
    #: {partner} the Value it multiplied, {d} the derivative; for "logsumexp", {v} and {out} the
    #: operand's and the result's names, {vv} and {vout} their forward values.
    words: dict[str, str]
    #: ∂out/∂operand as a formula over that operand ``v`` and the result ``out`` (the same for
    #: every operand), for `microgradlike.formulas`; "" for "dot", whose derivative is the
    #: operand's partner in its product.
    derivative: str = ""


_FWD = "from the forward pass"

OPS: dict[str, Op] = {op.name: op for op in (
    # ---- arithmetic: Python's operators --------------------------------------------------------
    Op("+", "a + b", ("1", "1"), "a + b", "+", infix=True, method="__add__", reflected="__radd__",
       words=("1 (a sum moves one-for-one with each of its terms)",) * 2),
    Op("-", "a - b", ("1", "-1"), "a − b", "−", infix=True, method="__sub__", reflected="__rsub__",
       words=("1 (the first term of a difference)", "−1 (the subtracted term)"),
       words_with_number=("1 (minus a constant)", "−1 (a constant minus it)")),
    Op("*", "a * b", ("b", "a"), "a · b", "×", infix=True, method="__mul__", reflected="__rmul__",
       words=("{b} = {vb} ({b}'s forward value: the other factor)",
              "{a} = {va} ({a}'s forward value: the other factor)"),
       words_with_number=("the constant {b} it is multiplied by", "the constant {a} it is multiplied by")),
    Op("/", "a / b", ("1 / b", "-out / b"), "a / b", "/", infix=True, method="__truediv__",
       reflected="__rtruediv__",
       words=("1/{b} = 1/{vb} = {d} ({b}'s forward value)",
              "−{out}/{b} = −{vout}/{vb} = {d} (forward values of {out} and {b})"),
       words_with_number=("1/c = 1/{b} = {d} for the constant divisor c",
                          "−c/{b}² = −{out}/{b} = −{vout}/{vb} = {d} with the constant c = {a} "
                          "and {b} = {vb} ({b}'s forward value)"),
       checks=(Check("b != 0", ZeroDivisionError, "division by zero: {a} / {b}"),)),
    Op("**", "power(a, b)",
       ("0.0 if b == 0 else inf if a == 0 and b < 1 else b * power(a, b - 1)",
        "out * log(a) if a > 0 else 0.0"),
       "aᵇ", "**", infix=True, method="__pow__", reflected="__rpow__",
       words=("n·{a}ⁿ⁻¹ = {d} with n = {b} = {vb} and {a} = {va} (forward values)",
              "{out}·ln {a} = {vout}·ln {va} = {d} (forward values)"),
       words_with_number=("n·{a}ⁿ⁻¹ = {d} with the constant n = {b} and {a} = {va} ({a}'s forward value)",
                          "{out}·ln c = {d} with the constant base c = {a} and {out} = {vout} " + _FWD),
       checks=(
           Check("a >= 0 or is_integer(b)", ValueError,
                 "{a} ** {b}: a negative base to a non-integer power is not a real number"),
           Check("a != 0 or b >= 0", ZeroDivisionError, "{a} ** {b}: zero to a negative power"),
           Check("a > 0 or (a == 0 and b > 0)", ValueError,
                 "{a} ** {b}: with a Value exponent the base must be positive, since "
                 "∂/∂exponent = base**exponent · ln(base); use a number exponent", only_if_value="b"),
       )),
    Op("neg", "-a", ("-1",), "−a", "−", method="__neg__", words=("−1 (negation)",)),
    # ---- functions: Value methods, and calls in expressions ------------------------------------
    Op("abs", "abs(a)", ("1.0 if a > 0 else -1.0 if a < 0 else 0.0",), "|a|", "abs", method="__abs__",
       parser=True, kink="abs'(0) = 0, as in PyTorch: the derivative is sign(a), taken as 0 at a = 0; "
                         "the second derivative is 0 everywhere (away from the kink it is exact)",
       words=("sign({a}) = {d} because {a} = {va} {cmp}",)),
    Op("exp", "exp(a)", ("out",), "eᵃ", "exp", method="exp", parser=True,
       words=("e^{a} = {out} = {vout} (the forward output itself)",)),
    Op("log", "log(a)", ("1 / a",), "ln a", "log", method="log", parser=True,
       words=("1/{a} = 1/{va} = {d} ({a}'s forward value)",),
       checks=(Check("a > 0", ValueError, "log({a}): log is only defined for positive numbers"),)),
    Op("sqrt", "sqrt(a)", ("0.5 / out if out > 0 else inf - sqrt(a)",), "√a", "sqrt", method="sqrt",
       parser=True, words=("1/(2√{a}) = 1/(2·{out}) = {d} with {out} = {vout} " + _FWD,),
       kink="sqrt'(0) = inf, and every derivative after it is its limit from the right too, as in "
            "PyTorch (sqrt''(0) = −inf, sqrt'''(0) = inf): at a = 0 the derivative is written "
            "inf − √a, whose own derivative is −sqrt'(0)",
       checks=(Check("a >= 0", ValueError, "sqrt({a}): sqrt is only defined for numbers >= 0"),)),
    Op("tanh", "tanh(a)", ("1 - out * out",), "tanh a", "tanh", method="tanh", parser=True,
       activation=True, words=("1 − tanh²({a}) = 1 − {out}² = {d} with {out} = {vout} " + _FWD,)),
    Op("sigmoid", "sigmoid(a)", ("out * (1 - out)",), "σ(a) = 1/(1 + e⁻ᵃ)", "sigmoid", method="sigmoid",
       parser=True, activation=True,
       words=("σ({a})·(1 − σ({a})) = {out}·(1 − {out}) = {d} with {out} = {vout} " + _FWD,)),
    Op("relu", "a if a > 0 else 0.0", ("1.0 if a > 0 else 0.0",), "max(0, a)", "relu", method="relu",
       parser=True, activation=True,
       kink="relu'(0) = 0, as in PyTorch; the second derivative is 0 everywhere (exact away from 0)",
       words=("{d} because {a} = {va} {cmp}",)),
    Op("softplus", "softplus(a)", ("sigmoid(a)",), "ln(1 + eᵃ)", "softplus", method="softplus", parser=True,
       words=("σ({a}) = {d} with {a} = {va} ({a}'s forward value)",)),
    Op("sin", "sin(a)", ("cos(a)",), "sin a", "sin", method="sin", parser=True,
       words=("cos({a}) = cos({va}) = {d} ({a}'s forward value)",)),
    Op("cos", "cos(a)", ("-sin(a)",), "cos a", "cos", method="cos", parser=True,
       words=("−sin({a}) = −sin({va}) = {d} ({a}'s forward value)",)),
)}

NARY: dict[str, NaryOp] = {op.name: op for op in (
    NaryOp("dot", "Σᵢ wᵢ·xᵢ + b", "dot", {
        "pair": "{partner} = {d} ({partner}'s forward value: the factor it multiplies)",
        "plain input": "{d}, the plain number it is multiplied by (that input is not a Value)",
        "plain weight": "{d}, the plain number it is multiplied by (that weight is not a Value)",
        "bias": "1 (the bias b adds straight into Σ wᵢ·xᵢ + b)",
    }),
    NaryOp("sum", "Σᵢ vᵢ", "sum", {"term": "1 (a sum moves one-for-one with each of its terms)"},
           derivative="1"),
    # m = max vⱼ is taken inside the op, so every replay of a trace takes it afresh (exactly as
    # relu's branch is replayed): every exponent vⱼ − m is ≤ 0, and nothing overflows.
    NaryOp("logsumexp", "ln Σⱼ e^{vⱼ} = m + ln Σⱼ e^{vⱼ − m},  m = maxⱼ vⱼ", "logsumexp", {
        "term": "e^({v} − {out}) = e^({vv} − {vout}) = {d}: the softmax weight of {v} "
                "(forward values of {v} and {out})",
    }, derivative="exp(v - out)"),
)}


# ---- the math functions a formula may call, for each kind of number ------------------------------
def _power(a: float, b: float) -> float:
    """aᵇ for real a, b (checked by the op), giving ±inf on overflow as IEEE floats do."""
    try:
        return a**b
    except OverflowError:
        odd = b.is_integer() and int(b) % 2 == 1
        return -math.inf if (a < 0 and odd) else math.inf


def _exp(a: float) -> float:
    """eᵃ, giving inf instead of raising OverflowError past a ≈ 709.78."""
    try:
        return math.exp(a)
    except OverflowError:
        return math.inf


def _sigmoid(a: float) -> float:
    """σ(a) = 1 / (1 + e⁻ᵃ), evaluated so that no exp can overflow."""
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


def _softplus(a: float) -> float:
    """ln(1 + eᵃ) = max(a, 0) + ln(1 + e^−|a|): never overflows."""
    return max(a, 0.0) + math.log1p(math.exp(-abs(a)))


def _is_integer(x: float) -> bool:
    return float(x).is_integer()


#: The functions formulas call, on floats. `formulas` maps each name to numpy and to Values.
FUNCTIONS: dict[str, Any] = {
    "exp": _exp, "log": math.log, "sqrt": math.sqrt, "tanh": math.tanh, "sigmoid": _sigmoid,
    "softplus": _softplus, "sin": math.sin, "cos": math.cos, "power": _power, "abs": abs,
    "is_integer": _is_integer,
}


def parser_functions() -> list[str]:
    """The functions the expression parser offers, ``name(x)``, in table order."""
    return [op.name for op in OPS.values() if op.parser]


def activations() -> list[str]:
    """The ops `nn` offers as activation functions, in table order."""
    return [op.name for op in OPS.values() if op.activation]
