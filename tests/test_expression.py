"""Tests for `microgradlike.expression`: random expressions evaluate like the math they spell and
differentiate like central differences; everything outside the whitelist is refused with a
one-line ValueError; nothing is ever evaluated as code."""

from __future__ import annotations

import ast
import builtins
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from microgradlike import Value
from microgradlike.engine import topological_order
from microgradlike.expression import MAX_LENGTH, parse_bindings, parse_expression

NAMES = ("x", "y", "z")


def sigmoid(a: float) -> float:
    return 0.5 * (1 + math.tanh(a / 2))  # = 1 / (1 + e⁻ᵃ), without overflow


# An expression tree: a name, a constant, (unary, f, child) or (binary, op, left, right); each
# knows its text and its value, computed here with `math` independently of the parser.
def softplus(a: float) -> float:
    return max(a, 0.0) + math.log1p(math.exp(-abs(a)))


UNARY = {"tanh": math.tanh, "sigmoid": sigmoid, "-": lambda a: -a, "softplus": softplus}
BINARY = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}

trees = st.recursive(
    st.one_of(st.sampled_from(NAMES), st.sampled_from([0.5, 1.5, 2.0, 3.25])),
    lambda inner: st.one_of(
        st.tuples(st.just("unary"), st.sampled_from(sorted(UNARY)), inner),
        st.tuples(st.just("binary"), st.sampled_from(sorted(BINARY)), inner, inner),
    ),
    max_leaves=8,
)


def text_of(tree: object) -> str:
    if isinstance(tree, str):
        return tree
    if isinstance(tree, float):
        return repr(tree)
    if tree[0] == "unary":  # type: ignore[index]
        _, f, a = tree  # type: ignore[misc]
        return f"(-{text_of(a)})" if f == "-" else f"{f}({text_of(a)})"
    _, op, a, b = tree  # type: ignore[misc]
    return f"({text_of(a)} {op} {text_of(b)})"


def value_of(tree: object, env: dict[str, float]) -> float:
    if isinstance(tree, str):
        return env[tree]
    if isinstance(tree, float):
        return tree
    if tree[0] == "unary":  # type: ignore[index]
        return UNARY[tree[1]](value_of(tree[2], env))  # type: ignore[index]
    return BINARY[tree[1]](value_of(tree[2], env), value_of(tree[3], env))  # type: ignore[index]


small = st.floats(-2, 2, allow_nan=False)


@given(trees, small, small, small)
def test_random_expressions_match_math_and_central_differences(tree, x, y, z) -> None:  # type: ignore[no-untyped-def]
    env = {"x": x, "y": y, "z": z}
    leaves = {name: Value(v, label=name) for name, v in env.items()}
    out = parse_expression(text_of(tree), leaves)
    expected = value_of(tree, env)
    assert math.isclose(out.data, expected, rel_tol=1e-12, abs_tol=1e-12)
    out.backward()
    eps = 1e-6
    for name in NAMES:
        up, down = dict(env), dict(env)
        up[name] += eps
        down[name] -= eps
        numeric = (value_of(tree, up) - value_of(tree, down)) / (2 * eps)
        assert math.isclose(leaves[name].grad, numeric, rel_tol=1e-5, abs_tol=1e-6)


def test_the_neuron_example() -> None:
    out = parse_expression("tanh(x*w + b)", parse_bindings(["x=2", "w=-3", "b=6.88"]))
    out.backward()
    t = math.tanh(2 * -3 + 6.88)
    assert math.isclose(out.data, t)
    leaves = {v.label: v for v in topological_order(out) if not v.children}
    assert set(leaves) == {"x", "w", "b"}  # each name is a labelled leaf
    assert math.isclose(leaves["x"].grad, (1 - t * t) * -3)
    assert math.isclose(leaves["w"].grad, (1 - t * t) * 2)
    assert math.isclose(leaves["b"].grad, 1 - t * t)


def test_a_name_used_twice_is_one_leaf() -> None:
    out = parse_expression("x*x + x", {"x": 3.0})
    out.backward()
    leaves = [v for v in topological_order(out) if not v.children]
    assert len(leaves) == 1 and leaves[0].grad == 2 * 3.0 + 1


def test_every_function_and_operator() -> None:
    x = Value(0.7, label="x")
    text = ("tanh(x) + exp(x) + log(x) + sqrt(x) + sigmoid(x) + relu(x) + abs(-x) + softplus(x)"
            " + x/2 + x**3 + +x")
    out = parse_expression(text, {"x": x})
    a = 0.7
    expected = (math.tanh(a) + math.exp(a) + math.log(a) + math.sqrt(a) + sigmoid(a) + a + a
                + math.log1p(math.exp(a)) + a / 2 + a**3 + a)
    assert math.isclose(out.data, expected)


def test_constant_subexpressions_stay_numbers() -> None:
    out = parse_expression("x * exp(0) * 2**3", {"x": 1.5})
    assert out.data == 12.0
    assert len(topological_order(out)) == 3  # x, x·1, (x·1)·8: no nodes for the constants
    only_numbers = parse_expression("2 * 3", {})
    assert only_numbers.data == 6.0 and not only_numbers.children


def test_math_errors_come_from_the_engine() -> None:
    with pytest.raises(ValueError, match="log"):
        parse_expression("log(x)", {"x": -1.0})
    with pytest.raises(ZeroDivisionError):
        parse_expression("x / 0", {"x": 1.0})


REFUSED = {
    "__import__('os').system('touch /tmp/x')": "attribute access",
    "x.__class__": "attribute access",
    "x[0]": "subscript",
    "lambda: 1": "lambda",
    "[i for i in range(3)]": "list comprehension",
    "(i for i in x)": "generator expression",
    "tanh(x=1)": "keyword argument",
    "tanh(**{})": "keyword argument",
    "tanh(*x)": "starred",
    "open('f')": "call to `open`",
    "__import__('os')": "call to `__import__`",
    "y + 1": "unknown name `y`",
    "exp": "unknown name `exp`",
    "x // 2": "`//`",
    "x % 2": "`%`",
    "not x": "`not`",
    "x < 1": "comparison",
    "x and 1": "boolean operator",
    "x if x else 1": "conditional expression",
    "'text'": "str",
    "True * x": "bool",
    "1j * x": "complex",
    "(x, x)": "tuple",
    "{}": "dict",
    "f'{x}'": "f-string",
    "(y := 2)": "assignment expression",
    "tanh(x, x)": "2 arguments",
    "x; x": "not a valid expression",
    "import os": "not a valid expression",
    "x ==": "not a valid expression",
}


@pytest.mark.parametrize(("text", "named"), REFUSED.items())
def test_refused_with_one_line_naming_the_construct(text: str, named: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_expression(text, {"x": 2.0})
    message = str(caught.value)
    assert named in message
    assert "\n" not in message


def test_nothing_is_ever_compiled_to_code(monkeypatch: pytest.MonkeyPatch) -> None:
    real_compile = builtins.compile

    def ast_only(source, filename, mode, flags=0, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not flags & ast.PyCF_ONLY_AST:
            raise AssertionError("compiled to code")
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    def forbidden(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("eval/exec called")

    monkeypatch.setattr(builtins, "compile", ast_only)
    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    assert parse_expression("tanh(x*2) + 1", {"x": 0.0}).data == 1.0
    with pytest.raises(ValueError):
        parse_expression("__import__('os').system('true')", {"x": 0.0})


def test_deep_and_long_expressions() -> None:
    long_sum = "+".join(["x"] * 900)  # a left-deep tree 900 levels down: no recursion limit
    assert parse_expression(long_sum, {"x": 1.0}).data == 900.0
    with pytest.raises(ValueError, match="limit"):
        parse_expression("x+" * MAX_LENGTH + "x", {"x": 1.0})
    with pytest.raises(ValueError):
        parse_expression("(" * 300 + "x" + ")" * 300, {"x": 1.0})


def test_bindings_may_be_values_kept_by_the_caller() -> None:
    w = Value(0.5, label="weight")
    out = parse_expression("w * 4", {"w": w})
    out.backward()
    assert w.grad == 4.0 and w.label == "weight"


@pytest.mark.parametrize("bindings", [{"exp": 1.0}, {"for": 1.0}, {"1x": 1.0}, {"__x": 1.0}])
def test_bad_binding_names(bindings: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=repr(next(iter(bindings)))):
        parse_expression("1", bindings)


def test_bad_binding_values_and_types() -> None:
    with pytest.raises(TypeError, match="'2'"):
        parse_expression("x", {"x": "2"})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        parse_expression(42, {})  # type: ignore[arg-type]


def test_parse_bindings() -> None:
    expected = {"x": 2.0, "w": -3.0, "b": 6.88, "big": 1e3}
    assert parse_bindings(["x=2", " w = -3 ", "b=6.88", "big=1e3"]) == expected
    assert parse_bindings([]) == {}


@pytest.mark.parametrize(
    ("items", "named"),
    [(["x"], "'x'"), (["=2"], "'=2'"), (["x=abc"], "'abc'"), (["x=1", "x=2"], "bound twice"),
     (["x=nan"], "nan"), (["exp=1"], "'exp'"), (["a.b=1"], "'a.b'")],
)
def test_parse_bindings_refuses(items: list[str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        parse_bindings(items)


@pytest.mark.parametrize("text", ["1" + "0" * 400 + ".5*x", "1e400*x", "x - 2e999"])
def test_a_literal_too_large_for_a_float_is_refused_not_made_inf(text: str) -> None:
    with pytest.raises(ValueError, match="too large for a float"):
        parse_expression(text, {"x": 1.0})


def test_a_binding_too_large_for_a_float_is_refused_but_inf_may_be_written() -> None:
    with pytest.raises(ValueError, match="too large for a float"):
        parse_bindings(["x=1" + "0" * 400])
    assert parse_bindings(["x=inf", "y=-Infinity"]) == {"x": math.inf, "y": -math.inf}


@pytest.mark.parametrize("number", ["1_000", "\u0663", "\uff11", "0x10", "1e3_0", "\u00b2"])
def test_a_binding_is_a_number_by_the_rule_of_the_csv_reader(number: str) -> None:
    """Attack A27: float() reads 1_000, full-width and Arabic-Indic digits; a CSV cell may not."""
    with pytest.raises(ValueError, match=r"is not a number \(digits 0-9 with an optional sign") as info:
        parse_bindings([f"x={number}"])
    assert repr(number) in str(info.value)


@pytest.mark.parametrize("text", ["x*1_000", "0x10*x", "x + 0b1", "x*0o7", "x*1_0.5", "x*1e1_0"])
def test_a_number_in_the_expression_is_written_by_the_same_rule(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not written as numbers are here \(digits 0-9"):
        parse_expression(text, {"x": 1.0})


def test_numbers_written_by_the_rule_are_read() -> None:
    assert parse_bindings(["x=.5", "y=2.", "z=-1E-3", "w=+4"]) == {"x": 0.5, "y": 2.0, "z": -1e-3, "w": 4.0}
    assert parse_expression("x*2. + .5 - 1e-3", {"x": 1.0}).data == pytest.approx(2.0 + 0.5 - 1e-3)


def test_a_name_bound_twice_is_echoed_cut_short() -> None:
    name = "x" * 5000
    with pytest.raises(ValueError, match="bound twice") as info:
        parse_bindings([f"{name}=1", f"{name}=2"])
    assert len(str(info.value)) < 400
