"""Every operation of the engine, defined once: the list of ops a learner reads.

An op is a row of this table. It says

* how the result is computed from the operands ``a`` (and ``b``): ``forward``;
* its **local derivatives** ∂out/∂a (and ∂out/∂b): ``derivatives``, formulas in ``a``, ``b`` and
  ``out`` (the result itself, saved by the forward pass);
* where it is defined, and the precise error outside: ``checks``;
* how pictures and the step-through write it: ``symbol``, ``words``;
* whether the expression parser and `nn` activations offer it (and an activation's torch module).

Every part of microgradlike reads this table: the `Value` methods are written from it into
``methods.py`` (``python microgradlike/methodgen.py --write``; a test fails when that file is
stale), the compiled tape writes its float and numpy code from the same formulas, the
higher-order gradients evaluate them on Values, the stepper explains each step with ``words``,
and one conformance test checks every row (closed form, central differences, PyTorch to second
order, tape, batched, explanation, parser, picture).

The formulas are Python expressions over ``a``, ``b``, ``out``, numbers, ``inf``, ``+ - * / **``,
comparisons, ``x if cond else y``, ``and``/``or``, and the math functions of `FUNCTIONS` (each
written once, for floats and for numpy side by side; on Values it is the op of that name). The same
text works on floats, numpy arrays (one entry per sample) and Values (then the derivative is itself
a graph, so it can be differentiated again): `microgradlike.formulas` turns it into code for each.
A comparison reads the forward numbers only, so a branch such as relu's ``0.0 if a <= 0 else 1.0``
is a constant for the next derivative: 0 away from the kink. NaN fails every comparison, so a
branch is written to send it where it stays NaN, and a domain check never refuses it (the check's
negation is written with each comparison inverted, which NaN fails too): NaN passes through every
op, in every engine, as in PyTorch. A formula with an unknown name or function fails at import,
naming the op.

Adding an op: its row in `OPS` (and, if its formula calls a new math function, that function in
`FUNCTIONS`), ``python microgradlike/methodgen.py --write``, and its closed form and PyTorch
counterpart in ``tests/test_ops.py``.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .checks import short

__all__ = ["FUNCTIONS", "NARY", "NUMBER_FIRST", "NUMBER_SECOND", "OPS", "Check", "Function", "NaryOp", "Op",
           "activations", "operand_pair", "operand_positions", "operands", "parser_functions", "refuse"]


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
    #: An activation's module class in ``torch.nn`` ("Tanh"), for `microgradlike.bridge`; "" where
    #: torch has none (the bridge then refuses a model that uses it, naming the activation).
    torch_module: str = ""
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
       # At a = 0 the branches give the limits from the right, and keep them for the next
       # derivative: b·aᵇ⁻¹ → inf for 0 < b < 1 is written inf − aᵇ (its own derivative is then
       # −b·aᵇ⁻¹ → −inf, and so on). b·aᵇ⁻¹ is kept at b = 0 away from a = 0, so ∂²/∂b∂a = 1/a,
       # but where a⁻¹ overflows (a subnormal a) it is 0, as PyTorch gives, not 0·inf = nan.
       ("b * power(a, b - 1) if (a != 0 or b >= 1) and (b != 0 or abs(power(a, b - 1)) < inf) "
        "else inf - power(a, b) if b > 0 else 0.0",
        "0.0 if a <= 0 else out * log(a)"),
       "aᵇ", "**", infix=True, method="__pow__", reflected="__rpow__",
       kink="at a = 0 every derivative in a is its limit from the right, as in PyTorch (x**0.5: inf, "
            "−inf, inf; x**1.5: 0, inf, −inf); ∂/∂b there is 0 (the limit of aᵇ·ln a), and so is "
            "∂²/∂a∂b; at b = 0, ∂/∂a = b·aᵇ⁻¹ = 0 has derivative 1/a in b (PyTorch gives 0 on one "
            "side there: an asymmetric Hessian)",
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
       activation=True, torch_module="Tanh",
       words=("1 − tanh²({a}) = 1 − {out}² = {d} with {out} = {vout} " + _FWD,)),
    Op("sigmoid", "sigmoid(a)", ("out * (1 - out)",), "σ(a) = 1/(1 + e⁻ᵃ)", "sigmoid", method="sigmoid",
       parser=True, activation=True, torch_module="Sigmoid",
       words=("σ({a})·(1 − σ({a})) = {out}·(1 − {out}) = {d} with {out} = {vout} " + _FWD,)),
    # The test is a <= 0, not a > 0: NaN fails every comparison, so it takes the other branch and
    # passes through (relu(nan) = nan, relu'(nan) = 1), as in PyTorch.
    Op("relu", "0.0 if a <= 0 else a", ("0.0 if a <= 0 else 1.0",), "max(0, a)", "relu", method="relu",
       parser=True, activation=True, torch_module="ReLU",
       kink="relu'(0) = 0, as in PyTorch; the second derivative is 0 everywhere (exact away from 0); "
            "NaN passes through, relu(nan) = nan with derivative 1, as in PyTorch",
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
@dataclass(frozen=True)
class Function:
    """A math function the formulas call, written once for each kind of number they run on."""

    float: Callable[..., Any]  # on floats: the Value methods (methods.py) and the float replay
    numpy: Callable[..., Any]  # entry-wise on numpy arrays: the batched replay
    #: On Values: the op whose method computes it ("**" for power), so that a derivative calling
    #: it is a graph too; "" for a test of forward numbers that no gradient flows through.
    op: str


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


def _np_sigmoid(a: Any) -> Any:
    e = np.exp(-np.abs(a))  # never overflows; σ(a) = 1/(1 + e) for a ≥ 0, e/(1 + e) below
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus(a: float) -> float:
    """ln(1 + eᵃ) = max(a, 0) + ln(1 + e^−|a|): never overflows."""
    return max(a, 0.0) + math.log1p(math.exp(-abs(a)))


def _np_softplus(a: Any) -> Any:
    return np.maximum(a, 0.0) + np.log1p(np.exp(-np.abs(a)))


def _sin(a: float) -> float:
    """sin a, nan at ±inf (as numpy and PyTorch give) where `math.sin` raises "math domain error"."""
    try:
        return math.sin(a)
    except ValueError:
        return math.nan


def _cos(a: float) -> float:
    """cos a, nan at ±inf (as `_sin`)."""
    try:
        return math.cos(a)
    except ValueError:
        return math.nan


def _is_integer(x: float) -> bool:
    return float(x).is_integer()


def _np_is_integer(x: Any) -> Any:
    return np.equal(np.mod(x, 1.0), 0.0)


#: The functions formulas call: name -> (on floats, on numpy arrays, the op that computes it on Values).
FUNCTIONS: dict[str, Function] = {
    "exp": Function(_exp, np.exp, "exp"),
    "log": Function(math.log, np.log, "log"),
    "sqrt": Function(math.sqrt, np.sqrt, "sqrt"),
    "tanh": Function(math.tanh, np.tanh, "tanh"),
    "sigmoid": Function(_sigmoid, _np_sigmoid, "sigmoid"),
    "softplus": Function(_softplus, _np_softplus, "softplus"),
    "sin": Function(_sin, np.sin, "sin"),
    "cos": Function(_cos, np.cos, "cos"),
    "power": Function(_power, np.power, "**"),
    "abs": Function(abs, np.abs, "abs"),
    "is_integer": Function(_is_integer, _np_is_integer, ""),
}


def refuse(op: str, check: int, a: object, b: object = None, where: str = "") -> Exception:
    """The error of ``OPS[op].checks[check]``, naming the operands ``a`` and ``b`` as given (and
    ``where`` it happened: a replay names the sample)."""
    rule = OPS[op].checks[check]
    return rule.error(rule.message.format(a=short(a), b=short(b)) + where)


# ---- a binary op with a plain number: where the number sat ------------------------------------------
#: ``x − 3`` keeps one child, x, and the 3.0 as its ``constant``; its ``layout`` says where the number
#: sat: "ac" (the number is b: x − 3) or "ca" (the number is a: 3 − x). A traced `Instruction` keeps
#: both too. `operands` and `operand_positions` are the one place that reads them back.
NUMBER_SECOND, NUMBER_FIRST = "ac", "ca"


def operands(layout: str, args: Sequence[Any], constant: float | None) -> tuple[Any, ...]:
    """An op's operands (a, b) in order, the plain number put back where it sat: x − 3 gives
    ``(x, 3.0)`` and 3 − x ``(3.0, x)``. Without a plain number, ``args`` themselves (x·y: (x, y);
    tanh x: (x,)). ``args`` are a node's children, or a traced instruction's slots."""
    if layout == NUMBER_SECOND:
        return (args[0], constant)
    if layout == NUMBER_FIRST:
        return (constant, args[0])
    return tuple(args)


def operand_pair(layout: str, args: Sequence[Any], constant: float | None) -> tuple[Any, Any]:
    """`operands` as the pair (a, b) a formula reads: b is 0.0 for an op of one operand, whose
    formulas never read it."""
    a, b = (*operands(layout, args, constant), 0.0)[:2]
    return a, b


def operand_positions(layout: str, n_args: int) -> tuple[int, ...]:
    """Which operand each of ``n_args`` args is, 0 for a and 1 for b: (0,) for x − 3, (1,) for
    3 − x, (0, 1) for x·y and (0,) for tanh x. So args[i]'s local derivative is ∂out/∂(operand i)."""
    if layout == NUMBER_SECOND:
        return (0,)
    if layout == NUMBER_FIRST:
        return (1,)
    return tuple(range(n_args))


def parser_functions() -> list[str]:
    """The functions the expression parser offers, ``name(x)``, in table order."""
    return [op.name for op in OPS.values() if op.parser]


def activations() -> list[str]:
    """The ops `nn` offers as activation functions, in table order."""
    return [op.name for op in OPS.values() if op.activation]


# ---- a wrong table fails here, at import, naming the op: not on first use ---------------------------
#: What a formula may hold: arithmetic, comparisons, branches, calls, names and numbers.
_SYNTAX = (ast.Expression, ast.Load, ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.UnaryOp,
           ast.USub, ast.UAdd, ast.Not, ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE,
           ast.IfExp, ast.BoolOp, ast.And, ast.Or, ast.Call, ast.Name, ast.Constant)


def _check_formula(formula: str, names: set[str], where: str) -> None:
    """``formula`` is an expression of the formula language that reads only ``names`` and ``inf``
    and calls only `FUNCTIONS`, each with its number of arguments; else ValueError, naming ``where``."""
    try:
        tree = ast.parse(formula, mode="eval")
    except SyntaxError as e:
        raise ValueError(f"ops: {where} {formula!r} is not a Python expression: {e.msg}") from None
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        if not isinstance(node, _SYNTAX):
            raise ValueError(f"ops: {where} {formula!r} uses {type(node).__name__}, which formulas lack")
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            function = FUNCTIONS.get(name)
            if function is None:
                raise ValueError(f"ops: {where} {formula!r} calls {name}, which is not in FUNCTIONS "
                                 f"({', '.join(FUNCTIONS)})")
            wanted = OPS[function.op].arity if function.op else 1
            if node.keywords or len(node.args) != wanted:
                raise ValueError(f"ops: {where} {formula!r} calls {name} with {len(node.args)} "
                                 f"argument(s); it takes {wanted}")
        elif isinstance(node, ast.Name) and id(node) not in called and node.id not in names | {"inf"}:
            raise ValueError(f"ops: {where} {formula!r} reads {node.id!r}, which is not one of "
                             f"{', '.join(sorted(names | {'inf'}))}")
        elif isinstance(node, ast.Constant) and (isinstance(node.value, bool)
                                                 or not isinstance(node.value, int | float)):
            raise ValueError(f"ops: {where} {formula!r} holds {node.value!r}, which is not a number")


def _check_table() -> None:
    """Every function has its float, numpy and Value versions; every formula is well formed."""
    for name, function in FUNCTIONS.items():
        if not (callable(function.float) and callable(function.numpy)):
            raise ValueError(f"ops: the function {name} needs a float and a numpy version")
        if function.op and not (function.op in OPS and OPS[function.op].method):
            raise ValueError(f"ops: the function {name} is computed on Values by op {function.op!r}, "
                             f"which is not an op with a Value method")
    for op in OPS.values():
        operands = set("ab"[:op.arity])
        _check_formula(op.forward, operands, f"the forward formula of {op.name!r},")
        for v, derivative in zip("ab", op.derivatives):
            _check_formula(derivative, operands | {"out"}, f"∂out/∂{v} of {op.name!r},")
        for rule in op.checks:
            _check_formula(rule.condition, operands, f"a domain check of {op.name!r},")
        if (op.parser or op.activation) and not (op.arity == 1 and op.method):
            raise ValueError(f"ops: {op.name!r} is offered as a function: it needs one operand and a method")
    for nary in NARY.values():
        if nary.derivative:
            _check_formula(nary.derivative, {"v", "out"}, f"∂out/∂v of {nary.name!r},")


_check_table()
