"""Tests for `microgradlike.engine`: every op's gradient against central differences, the
recorded local derivatives against closed forms, random shared-subexpression graphs, backward's
accumulation rules, and the edge cases (bad input, domains, overflow, deep graphs)."""

from __future__ import annotations

import contextlib
import gc
import math
import time
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from microgradlike import Value, dot, gradcheck, is_grad_enabled, no_grad, numerical_grad, sum_values
from microgradlike.engine import topological_order
from tests.strategies import (
    away_from_zero,
    int_exponents,
    moderate_floats,
    nonzero_floats,
    positive_floats,
    random_dags,
    real_exponents,
    small_floats,
)


def backprop(f: Callable[..., Value], xs: tuple[float, ...]) -> tuple[tuple[float, ...], Value]:
    """Run f on fresh leaves, backward from its output; return the leaves' grads and the output."""
    leaves = [Value(x) for x in xs]
    out = f(*leaves)
    out.backward()
    return tuple(leaf.grad for leaf in leaves), out


def assert_matches_central_differences(f: Callable[..., Value], xs: tuple[float, ...]) -> None:
    grads, _ = backprop(f, xs)
    numeric = numerical_grad(f, xs)
    assert grads == pytest.approx(numeric, rel=1e-5, abs=1e-6)


def sigmoid(a: float) -> float:
    return 1.0 / (1.0 + math.exp(-a))


# ---- every op against central differences ---------------------------------------------------------
# name -> (function of Values, strategies for its inputs)
OPS: dict[str, tuple[Callable[..., Value], tuple[st.SearchStrategy[float], ...]]] = {
    "a + b": (lambda a, b: a + b, (small_floats, small_floats)),
    "a - b": (lambda a, b: a - b, (small_floats, small_floats)),
    "a * b": (lambda a, b: a * b, (small_floats, small_floats)),
    "a / b": (lambda a, b: a / b, (small_floats, nonzero_floats)),
    "a ** b": (lambda a, b: a**b, (positive_floats, real_exponents)),
    "a + 3": (lambda a: a + 3, (small_floats,)),
    "a - 3": (lambda a: a - 3, (small_floats,)),
    "a * 3": (lambda a: a * 3, (small_floats,)),
    "a / 3": (lambda a: a / 3, (small_floats,)),
    "a ** 3": (lambda a: a**3, (small_floats,)),
    "a ** -2": (lambda a: a**-2, (nonzero_floats,)),
    "a ** 0.5": (lambda a: a**0.5, (positive_floats,)),
    "a ** -1.5": (lambda a: a**-1.5, (positive_floats,)),
    "-a": (lambda a: -a, (small_floats,)),
    "abs(a)": (lambda a: abs(a), (away_from_zero,)),
    "exp": (lambda a: a.exp(), (moderate_floats,)),
    "log": (lambda a: a.log(), (positive_floats,)),
    "tanh": (lambda a: a.tanh(), (small_floats,)),
    "sigmoid": (lambda a: a.sigmoid(), (small_floats,)),
    "relu": (lambda a: a.relu(), (away_from_zero,)),
    "sqrt": (lambda a: a.sqrt(), (positive_floats,)),
    "softplus": (lambda a: a.softplus(), (small_floats,)),
    "2 - a": (lambda a: 2 - a, (small_floats,)),
    "2 / a": (lambda a: 2 / a, (nonzero_floats,)),
    "2 ** a": (lambda a: 2**a, (moderate_floats,)),
    "3 + a": (lambda a: 3 + a, (small_floats,)),
    "3 * a": (lambda a: 3 * a, (small_floats,)),
    # the same Value on both sides of an op: both local derivatives must reach it
    "a * a": (lambda a: a * a, (small_floats,)),
    "a / a": (lambda a: a / a, (nonzero_floats,)),
    "a - a": (lambda a: a - a, (small_floats,)),
    "a ** a": (lambda a: a**a, (positive_floats,)),
}


@pytest.mark.parametrize("name", list(OPS))
@given(data=st.data())
def test_op_gradient_matches_central_differences(name: str, data: st.DataObject) -> None:
    f, strategies = OPS[name]
    xs = data.draw(st.tuples(*strategies))
    assert_matches_central_differences(f, xs)


@given(a=nonzero_floats, n=int_exponents)
def test_integer_power_gradient(a: float, n: int) -> None:
    assert_matches_central_differences(lambda v: v**n, (a,))


# ---- local derivatives recorded as documented -------------------------------------------------------
# name -> (function of Values, expected op, expected data, expected local grads), all closed forms.
UNARY_RECORDS: dict[str, tuple[Callable[[Value], Value], str, Callable[[float], float],
                               Callable[[float], tuple[float, ...]]]] = {
    "neg": (lambda v: -v, "neg", lambda a: -a, lambda a: (-1.0,)),
    "abs": (abs, "abs", abs, lambda a: (math.copysign(1.0, a) if a else 0.0,)),
    "exp": (Value.exp, "exp", math.exp, lambda a: (math.exp(a),)),
    "log": (Value.log, "log", math.log, lambda a: (1 / a,)),
    "sqrt": (Value.sqrt, "sqrt", math.sqrt, lambda a: (1 / (2 * math.sqrt(a)),)),
    "tanh": (Value.tanh, "tanh", math.tanh, lambda a: (1 - math.tanh(a) ** 2,)),
    "sigmoid": (Value.sigmoid, "sigmoid", sigmoid, lambda a: (sigmoid(a) * (1 - sigmoid(a)),)),
    "relu": (Value.relu, "relu", lambda a: max(a, 0.0), lambda a: (1.0 if a > 0 else 0.0,)),
    "softplus": (Value.softplus, "softplus", lambda a: math.log1p(math.exp(a)), lambda a: (sigmoid(a),)),
    "a + 3": (lambda v: v + 3, "+", lambda a: a + 3, lambda a: (1.0,)),
    "3 + a": (lambda v: 3 + v, "+", lambda a: a + 3, lambda a: (1.0,)),
    "a - 3": (lambda v: v - 3, "-", lambda a: a - 3, lambda a: (1.0,)),
    "2 - a": (lambda v: 2 - v, "-", lambda a: 2 - a, lambda a: (-1.0,)),
    "a * 3": (lambda v: v * 3, "*", lambda a: a * 3, lambda a: (3.0,)),
    "3 * a": (lambda v: 3 * v, "*", lambda a: a * 3, lambda a: (3.0,)),
    "a / 4": (lambda v: v / 4, "/", lambda a: a / 4, lambda a: (0.25,)),
    "2 / a": (lambda v: 2 / v, "/", lambda a: 2 / a, lambda a: (-2 / a**2,)),
    "a ** 3": (lambda v: v**3, "**", lambda a: a**3, lambda a: (3 * a**2,)),
    "2 ** a": (lambda v: 2**v, "**", lambda a: 2**a, lambda a: (2**a * math.log(2),)),
}


@pytest.mark.parametrize("name", list(UNARY_RECORDS))
@given(data=st.data())
def test_unary_node_records_op_child_and_local_grad(name: str, data: st.DataObject) -> None:
    f, op, value, local = UNARY_RECORDS[name]
    domain = {"log": positive_floats, "sqrt": positive_floats, "2 / a": nonzero_floats}
    a = data.draw(domain.get(name, small_floats))
    x = Value(a)
    out = f(x)
    assert out.op == op
    assert out.children == (x,)
    assert out.children[0] is x
    assert out.data == pytest.approx(value(a), rel=1e-12, abs=1e-300)
    assert out.local_grads == pytest.approx(local(a), rel=1e-12, abs=1e-300)
    assert all(type(g) is float for g in out.local_grads)
    assert out.grad == 0.0 and out.label == ""


@given(a=positive_floats, b=nonzero_floats)
def test_binary_nodes_record_both_children_and_local_grads(a: float, b: float) -> None:
    x, y = Value(a), Value(b)
    expected = {
        "+": (x + y, a + b, (1.0, 1.0)),
        "-": (x - y, a - b, (1.0, -1.0)),
        "*": (x * y, a * b, (b, a)),
        "/": (x / y, a / b, (1 / b, -a / b**2)),
        "**": (x ** y.tanh(), a ** math.tanh(b), (math.tanh(b) * a ** (math.tanh(b) - 1),
                                                  a ** math.tanh(b) * math.log(a))),
    }
    for op, (out, data, local) in expected.items():
        assert out.op == op
        assert out.children[0] is x
        assert out.data == pytest.approx(data, rel=1e-12)
        assert out.local_grads == pytest.approx(local, rel=1e-12)
    assert (x + y).children == (x, y)


def test_leaf_has_no_children_and_empty_op() -> None:
    x = Value(3, label="x")
    assert (x.children, x.local_grads, x.op, x.label, x.grad) == ((), (), "", "x", 0.0)
    assert type(x.data) is float and x.data == 3.0


def test_plain_numbers_are_not_wrapped_in_nodes() -> None:
    x = Value(2.0)
    for out in (x * 3, 3 * x, x + 1, 1 + x, x - 1, 1 - x, x / 2, 2 / x, x**2, 2**x):
        assert out.children == (x,)
        assert len(out.local_grads) == 1


# ---- random composite graphs ----------------------------------------------------------------------
@given(dag=random_dags())
def test_random_dag_gradients_pass_gradcheck(dag) -> None:
    nodes = dag.build([Value(x) for x in dag.leaf_values])
    assume(dag.well_conditioned([n.data for n in nodes]))

    def f(*leaves: Value) -> Value:
        return sum_values(dag.build(leaves)[dag.n_leaves:])

    assert gradcheck(f, dag.leaf_values, atol=1e-5, rtol=1e-5)


@given(dag=random_dags())
def test_every_node_records_one_local_grad_per_child(dag) -> None:
    nodes = dag.build([Value(x) for x in dag.leaf_values])
    for node in nodes[dag.n_leaves:]:
        assert len(node.children) == len(node.local_grads) >= 1
        assert all(isinstance(child, Value) for child in node.children)
        assert all(type(g) is float for g in node.local_grads)


def reachable(root: Value) -> set[int]:
    """Ids of every node below root (simple worklist; no ordering claims)."""
    seen, todo = set(), [root]
    while todo:
        node = todo.pop()
        if id(node) not in seen:
            seen.add(id(node))
            todo.extend(node.children)
    return seen


@given(dag=random_dags(max_steps=15))
def test_topological_order_puts_each_node_after_its_children(dag) -> None:
    nodes = dag.build([Value(x) for x in dag.leaf_values])
    root = sum_values(nodes[dag.n_leaves:]) * nodes[-1]
    order = topological_order(root)
    position = {id(node): k for k, node in enumerate(order)}
    assert len(position) == len(order), "a node appears twice"
    assert set(position) == reachable(root)
    assert order[-1] is root
    for node in order:
        for child in node.children:
            assert position[id(child)] < position[id(node)]


@given(dag=random_dags(max_steps=15))
def test_topological_order_of_several_roots_is_each_roots_order_adding_only_new_nodes(dag) -> None:
    """One walk below several roots gives what walking each in turn and keeping new nodes gives."""
    nodes = dag.build([Value(x) for x in dag.leaf_values])
    roots = nodes[dag.n_leaves:][::-1] or nodes[:1]
    expected, seen = [], set()
    for root in roots:
        for node in topological_order(root):
            if id(node) not in seen:
                seen.add(id(node))
                expected.append(node)
    assert [id(n) for n in topological_order(*roots)] == [id(n) for n in expected]


# ---- dot and sum_values ---------------------------------------------------------------------------
@given(a=small_floats, b=small_floats, c=small_floats, k=small_floats)
def test_dot_with_mixed_and_repeated_inputs(a: float, b: float, c: float, k: float) -> None:
    def f(x: Value, y: Value, z: Value) -> Value:
        return dot([x, k, y, x, 2.0], [y, z, k, x, 3.0], bias=z)

    grads, out = backprop(f, (a, b, c))
    assert out.op == "dot"
    assert out.data == pytest.approx(a * b + k * c + b * k + a * a + 6.0 + c, rel=1e-12, abs=1e-12)
    assert grads == pytest.approx((b + 2 * a, a + k, k + 1), rel=1e-12, abs=1e-12)
    assert_matches_central_differences(f, (a, b, c))
    assert all(isinstance(child, Value) for child in out.children)


def test_dot_with_plain_bias_and_bad_input() -> None:
    w = [Value(1.0), Value(-2.0)]
    out = dot(w, [3.0, 4.0], bias=0.5)
    assert out.data == 3.0 - 8.0 + 0.5
    assert out.children == tuple(w) and out.local_grads == (3.0, 4.0)
    with pytest.raises(TypeError, match="str"):
        dot(w, [1.0, "2"])
    with pytest.raises(ValueError):
        dot(w, [1.0])  # lengths differ


@given(a=small_floats, b=small_floats, k=small_floats)
def test_sum_values_with_mixed_and_repeated_terms(a: float, b: float, k: float) -> None:
    def f(x: Value, y: Value) -> Value:
        return sum_values([x, k, y, x, x, 1])

    grads, out = backprop(f, (a, b))
    assert out.op == "sum"
    assert out.data == pytest.approx(3 * a + b + k + 1, rel=1e-12, abs=1e-12)
    assert grads == (3.0, 1.0)
    assert out.local_grads == (1.0,) * 4


def test_sum_values_of_nothing_and_of_a_generator() -> None:
    empty = sum_values([])
    assert (empty.data, empty.children) == (0.0, ())
    xs = [Value(float(i)) for i in range(5)]
    assert sum_values(x * x for x in xs).data == sum(i * i for i in range(5))
    with pytest.raises(TypeError, match="NoneType"):
        sum_values([xs[0], None])


# ---- backward's accumulation rules, zero_grad, no_grad --------------------------------------------
@given(dag=random_dags())
def test_backward_twice_doubles_leaf_grads_exactly_and_keeps_interior_grads(dag) -> None:
    leaves = [Value(x) for x in dag.leaf_values]
    nodes = dag.build(leaves)
    root = sum_values(nodes[dag.n_leaves:])
    root.backward()
    first = [node.grad for node in nodes]
    root.backward()
    for k, node in enumerate(nodes):
        if node.children:
            assert node.grad == first[k] or (math.isnan(node.grad) and math.isnan(first[k]))
        elif math.isfinite(first[k]):
            assert node.grad == 2 * first[k]
    assert root.grad == 1.0


def test_backward_from_a_leaf_accumulates() -> None:
    x = Value(1.5)
    x.backward()
    x.backward()
    assert x.grad == 2.0


@given(dag=random_dags())
def test_zero_grad_clears_every_node_below(dag) -> None:
    nodes = dag.build([Value(x) for x in dag.leaf_values])
    root = sum_values(nodes[dag.n_leaves:])
    outsider = Value(1.0)
    (root * outsider).backward()
    grad_before = outsider.grad
    root.zero_grad()
    assert all(node.grad == 0.0 for node in topological_order(root))
    assert outsider.grad == grad_before


def test_no_grad_builds_no_children_and_restores_state() -> None:
    x, y = Value(2.0), Value(3.0)
    assert is_grad_enabled()
    with no_grad():
        assert not is_grad_enabled()
        outs = [x * y, x + 1, (x * y).tanh(), dot([x], [y]), sum_values([x, y]), x**y, 2 / x]
        with no_grad():
            pass
        assert not is_grad_enabled()  # nesting does not switch it back on early
    assert is_grad_enabled()
    assert all(out.children == () and out.local_grads == () for out in outs)
    assert outs[0].data == 6.0 and outs[2].data == math.tanh(6.0)
    with pytest.raises(RuntimeError), no_grad():
        raise RuntimeError("leaves the block")
    assert is_grad_enabled()
    assert (x * y).children == (x, y)


def test_repr_shows_data_grad_op_and_label() -> None:
    x = Value(2.0, label="x")
    assert repr(x) == "Value(data=2.0, grad=0.0, label='x')"
    y = x * 3
    y.backward()
    assert "op='*'" in repr(y) and "data=6.0" in repr(y) and "grad=1.0" in repr(y)
    assert "grad=3.0" in repr(x)


# ---- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("bad", "type_name"), [("1.0", "str"), (None, "NoneType"), ([1.0], "list"),
                                                (True, "bool"), (1 + 2j, "complex")])
def test_non_number_is_a_type_error_naming_the_type(bad: object, type_name: str) -> None:
    with pytest.raises(TypeError, match=type_name):
        Value(bad)  # type: ignore[arg-type]


def test_label_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="int"):
        Value(1.0, label=3)  # type: ignore[arg-type]


@pytest.mark.parametrize("nan", [float("nan"), np.nan, np.float32("nan")])
def test_nan_is_a_value_error(nan: float) -> None:
    with pytest.raises(ValueError, match="nan"):
        Value(nan)


@pytest.mark.parametrize("scalar", [np.float64(2.5), np.float32(2.5), np.int64(3), np.int8(-2)])
def test_numpy_scalars_are_stored_as_python_floats(scalar: object) -> None:
    v = Value(scalar)  # type: ignore[arg-type]
    assert type(v.data) is float
    assert v.data == float(scalar)  # type: ignore[arg-type]


def test_numpy_scalars_combine_with_values_on_either_side() -> None:
    v = Value(1.5)
    for out, expected in [(np.float64(2) * v, 3.0), (v * np.float64(2), 3.0), (np.int64(1) + v, 2.5),
                          (np.float32(4) - v, 2.5), (np.float64(3) / v, 2.0), (v ** np.int64(2), 2.25)]:
        assert isinstance(out, Value)
        assert type(out.data) is float and out.data == expected
        assert all(type(g) is float for g in out.local_grads)


def test_operations_with_non_numbers_are_type_errors() -> None:
    v = Value(1.0)
    for bad in ("2", None, [1.0], True):
        with pytest.raises(TypeError):
            v + bad  # type: ignore[operator]
        with pytest.raises(TypeError):
            bad * v  # type: ignore[operator]


@pytest.mark.parametrize("a", [-2.5, 0.0])
def test_log_outside_domain_names_the_value(a: float) -> None:
    with pytest.raises(ValueError, match=str(a)):
        Value(a).log()


def test_sqrt_outside_domain_names_the_value() -> None:
    with pytest.raises(ValueError, match=r"-4\.0"):
        Value(-4.0).sqrt()
    root = Value(0.0).sqrt()  # the edge of the domain is allowed; the slope there is infinite
    assert root.data == 0.0 and root.local_grads == (math.inf,)


@pytest.mark.parametrize("divide", [lambda v: v / Value(0.0), lambda v: v / 0, lambda v: v / 0.0,
                                    lambda v: 2 / Value(0.0), lambda v: Value(0.0) / Value(0.0)])
def test_division_by_zero(divide: Callable[[Value], Value]) -> None:
    with pytest.raises(ZeroDivisionError):
        divide(Value(3.0))


@pytest.mark.parametrize("power", [lambda: Value(-2.0) ** 0.5, lambda: Value(-2.0) ** Value(1.5),
                                   lambda: (-2.0) ** Value(0.5), lambda: Value(-8.0) ** (1 / 3)])
def test_negative_base_to_non_integer_power_is_a_value_error(power: Callable[[], Value]) -> None:
    with pytest.raises(ValueError, match=r"-\d"):
        power()


def test_negative_base_to_integer_power_is_fine() -> None:
    x = Value(-2.0)
    y = x**3
    y.backward()
    assert (y.data, x.grad) == (-8.0, 12.0)


@pytest.mark.parametrize("power", [lambda: Value(0.0) ** -1, lambda: Value(0.0) ** -0.5,
                                   lambda: Value(0.0) ** Value(-2.0), lambda: 0 ** Value(-1.0)])
def test_zero_to_negative_power_is_a_zero_division_error(power: Callable[[], Value]) -> None:
    with pytest.raises(ZeroDivisionError):
        power()


def test_powers_that_overflow_give_inf_not_overflow_error() -> None:
    assert (Value(10.0) ** 400).data == math.inf
    assert (Value(-10.0) ** 401).data == -math.inf
    assert (2 ** Value(5000.0)).data == math.inf
    assert (Value(10.0) ** Value(400.0)).data == math.inf


# ---- extreme inputs and kinks ---------------------------------------------------------------------
@pytest.mark.parametrize("a", [1000.0, -1000.0])
@pytest.mark.parametrize(("op", "f"), [("sigmoid", Value.sigmoid), ("tanh", Value.tanh),
                                       ("softplus", Value.softplus)])
def test_saturating_functions_at_extremes_are_finite(op: str, f: Callable[[Value], Value],
                                                     a: float) -> None:
    x = Value(a)
    out = f(x)
    out.backward()
    assert math.isfinite(out.data) and math.isfinite(x.grad)
    closed_form = {  # value and slope in the limit a → ±∞
        "sigmoid": (float(a > 0), 0.0),
        "tanh": (math.copysign(1.0, a), 0.0),
        "softplus": (max(a, 0.0), float(a > 0)),
    }[op]
    assert (out.data, x.grad) == pytest.approx(closed_form, abs=1e-300)


def test_exp_at_extremes() -> None:
    big, small = Value(1000.0), Value(-1000.0)
    up, down = big.exp(), small.exp()  # no OverflowError
    assert up.data == math.inf  # e¹⁰⁰⁰ is not a float: inf by design
    up.backward()
    down.backward()
    assert big.grad == math.inf
    assert down.data == 0.0 and small.grad == 0.0


def test_relu_and_abs_have_zero_slope_at_zero() -> None:
    for f in (Value.relu, abs):
        for zero in (0.0, -0.0):
            x = Value(zero)
            f(x).backward()
            assert x.grad == 0.0


@given(a=small_floats)
def test_relu_and_abs_slopes_everywhere(a: float) -> None:
    x, y = Value(a), Value(a)
    x.relu().backward()
    abs(y).backward()
    assert x.grad == (1.0 if a > 0 else 0.0)
    assert y.grad == (0.0 if a == 0 else math.copysign(1.0, a))


# ---- deep graphs ----------------------------------------------------------------------------------
CHAIN_LENGTH = 2_000_000


@pytest.mark.slow
def test_two_million_node_chain_backward_is_iterative_and_exact() -> None:
    """SLOW (~10 s): y = x·c·c·…·c with 2,000,000 '*' nodes. A recursive backward would hit
    RecursionError; dy/dx must be c^N. Deleting the chain afterwards must not crash the
    interpreter (freeing it one nested tuple at a time would overflow the C stack)."""
    c = 1.0000001
    start = time.perf_counter()
    x = Value(0.5)
    y = x
    for _ in range(CHAIN_LENGTH):
        y = y * c
    y.backward()
    assert x.grad == pytest.approx(c**CHAIN_LENGTH, rel=1e-9)
    assert y.data == pytest.approx(0.5 * c**CHAIN_LENGTH, rel=1e-9)
    del y
    gc.collect()
    assert x.grad == pytest.approx(c**CHAIN_LENGTH, rel=1e-9)  # the interpreter is still alive
    assert time.perf_counter() - start < 60  # generous: ~10 s on a 2-core CI box


@pytest.mark.parametrize(("make", "name"), [
    (lambda x: x * float("nan"), "the number in *"),
    (lambda x: float("nan") + x, "the number in +"),
    (lambda x: x - np.float64("nan"), "the number in -"),
    (lambda x: x ** float("nan"), "the number in **"),
    (lambda x: float("nan") / x, "the number in /"),
    (lambda x: dot([float("nan")], [x]), "weight 0 of dot"),
    (lambda x: dot([x, x], [1.0, float("nan")]), "input 1 of dot"),
    (lambda x: dot([x, 2.0, 3.0], [x, 1.0, float("nan")]), "input 2 of dot"),
    (lambda x: dot([x], [1.0], float("nan")), "the bias of dot"),
    (lambda x: sum_values([x, 1.0, float("nan")]), "term 2 of sum_values"),
    (lambda x: Value(float("nan")), "the data of a Value"),
])
def test_a_nan_operand_is_refused_naming_it(make, name):
    with pytest.raises(ValueError) as info:
        make(Value(2.0))
    assert str(info.value) == f"{name} must be a real number, got nan"


HUGE_INT = "100000000000… (401 digits), too large for a float (the largest is about 1.8e308)"


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda x: dot([x], ["a"]), TypeError, "input 0 of dot must be a real number, got str: 'a'"),
    (lambda x: dot([None, x], [1.0, x]), TypeError, "weight 0 of dot must be a real number, got NoneType: "
                                                    "None"),
    (lambda x: dot([x], [10**400]), ValueError, f"input 0 of dot must be a real number, got {HUGE_INT}"),
    (lambda x: x * 10**400, ValueError, f"the number in * must be a real number, got {HUGE_INT}"),
    (lambda x: Value([1.0]), TypeError, "the data of a Value must be a real number, got list: [1.0]"),
])
def test_a_plain_operand_that_is_no_real_number_is_named(make, error, message):
    with pytest.raises(error) as info:
        make(Value(2.0))
    assert str(info.value) == message


# ---- data assigned by hand: the slip is caught where it first matters ---------------------------------
SLIP = r"update a parameter with p\.data -= lr \* p\.grad, not p\.data = p - lr \* p\.grad"


def test_a_value_assigned_as_a_neurons_data_is_named_by_the_next_forward_pass() -> None:
    from microgradlike.nn import MLP

    model = MLP(2, [3, 1], seed=0)
    (model([1.0, 2.0]) ** 2).backward()
    for p in model.parameters():
        p.data = p - 0.1 * p.grad  # the slip: a Value, not its number
    with pytest.raises(TypeError, match=rf"the data of weight 0 of dot \(layers\.0\.neurons\.0\.w\.0\) must "
                                        rf"be a real number, got Value: "
                                        rf".*{SLIP}"):
        model([1.0, 2.0])
    with pytest.raises(TypeError, match=rf"parameter layers\.0\.neurons\.0\.w\.0 must be a real number, "
                                        rf".*{SLIP}"):
        model.state_dict()


def test_the_slip_in_a_hand_written_loop_is_named_by_its_next_steps() -> None:
    w, b = Value(0.5, label="w"), Value(0.1, label="b")
    with pytest.raises(TypeError, match=SLIP):
        for _ in range(3):
            loss = ((w * 2.0 + b).tanh() - 1.0) ** 2
            w.grad = b.grad = 0.0
            loss.backward()
            for p in (w, b):
                p.data = p - 0.1 * p.grad


def test_backward_names_a_leaf_whose_data_is_a_value() -> None:
    w = Value(0.5, label="w")
    w.data = Value(2.0)
    y = w * 3.0  # the op multiplies the Value it found: y.data is a Value too
    with pytest.raises(TypeError, match=r"the data of Value\(.*label='w'\) must be a real number, got "
                                        r"Value"):
        y.backward()
    with pytest.raises(TypeError, match=SLIP):
        float(w)


@pytest.mark.parametrize("create_graph", [False, True])
def test_backward_names_a_leaf_set_to_nan(create_graph: bool) -> None:
    w, x = Value(0.5, label="w"), Value(2.0, label="x")
    w.data = math.nan
    y = (w * x).tanh() + x
    with pytest.raises(ValueError, match=r"the data of Value\(data=nan, .*label='w'\) must be a real "
                                         r"number, got nan \(NaN poisons .* was it assigned to \.data, or "
                                         r"did an update diverge\?"):
        y.backward(create_graph=create_graph)
    with pytest.raises(ValueError, match=r"the data of weight 0 of dot \(w\) must be a real number, got nan"):
        dot([w], [1.0])


def test_a_nan_computed_by_an_op_is_a_result_not_a_slip() -> None:
    x = Value(math.inf, label="x")
    y = x - x  # inf − inf: nan, computed, as a float would
    y.backward()
    assert math.isnan(y.data) and x.grad == 0.0
    z = dot([y], [1.0])
    assert math.isnan(z.data)
    with no_grad():
        c = x - x  # a node with no children, but an op's result
    (c * Value(1.0)).backward()


def test_dot_of_unequal_lengths_names_both():
    with pytest.raises(ValueError, match="2 weights and 3 inputs"):
        dot([Value(1.0), Value(2.0)], [1.0, 2.0, 3.0])


def test_dot_accepts_any_iterables():
    ws = [Value(2.0), Value(-1.0)]
    z = dot(iter(ws), (x for x in [3.0, 4.0]), 0.5)
    assert z.data == 2.0 * 3.0 - 1.0 * 4.0 + 0.5
    z.backward()
    assert [w.grad for w in ws] == [3.0, 4.0]


@pytest.mark.parametrize(("make", "op", "constant", "layout"), [
    (lambda x: x + 3, "+", 3.0, "ac"),
    (lambda x: 3 + x, "+", 3.0, "ca"),
    (lambda x: x - 3, "-", 3.0, "ac"),
    (lambda x: 3 - x, "-", 3.0, "ca"),
    (lambda x: x * 3, "*", 3.0, "ac"),
    (lambda x: x / 3, "/", 3.0, "ac"),
    (lambda x: 3 / x, "/", 3.0, "ca"),
    (lambda x: x ** 3, "**", 3.0, "ac"),
    (lambda x: 3 ** x, "**", 3.0, "ca"),
    (lambda x: dot([x, 2.0], [4.0, 5.0], 1.5), "dot", 11.5, "wc"),
    (lambda x: dot([x, x], [x, 2.0], x), "dot", 0.0, "pwb"),
    (lambda x: dot([3.0], [x]), "dot", 0.0, "x"),
    (lambda x: sum_values([x, 4, 0.5]), "sum", 4.5, ""),
])
def test_a_node_keeps_the_plain_number_it_was_made_with_and_where_it_sat(make, op, constant, layout):
    node = make(Value(2.0))
    assert (node.op, node.constant, node.layout) == (op, constant, layout)
    assert isinstance(node, Value)


def test_nodes_of_values_only_keep_no_constant():
    x, y = Value(2.0), Value(3.0)
    for node in (x + y, x * y, x / y, x ** y, x.tanh(), -x, x):
        assert node.constant is None and node.layout == ""


# ---- grad mode is per thread (and per asyncio task) -----------------------------------------------
def test_no_grad_in_one_thread_leaves_other_threads_building_graphs() -> None:
    import threading

    inside, done = threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    def quiet() -> None:
        with no_grad():
            seen["quiet"] = is_grad_enabled()
            inside.set()
            done.wait(5)

    t = threading.Thread(target=quiet)
    t.start()
    inside.wait(5)
    x = Value(3.0)
    y = x * x  # this thread never entered no_grad
    seen["main"] = is_grad_enabled()
    done.set()
    t.join()
    y.backward()
    assert seen == {"quiet": False, "main": True}
    assert x.grad == 6.0


def test_overlapping_no_grad_blocks_in_threads_leave_grad_mode_on() -> None:
    import threading

    # T1 enters, T2 enters, T1 leaves, T2 leaves: with one process-wide switch, T2 would restore
    # the "off" it saw when it entered, leaving grad mode off for good.
    t1_in, t2_in, t1_out = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with no_grad():
            t1_in.set()
            t2_in.wait(5)
        t1_out.set()

    def second() -> None:
        t1_in.wait(5)
        with no_grad():
            t2_in.set()
            t1_out.wait(5)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    x = Value(2.0)
    (x * x).backward()
    assert is_grad_enabled() and x.grad == 4.0


def test_a_no_grad_block_ended_in_another_thread_turns_grad_back_on_where_it_began() -> None:
    """A generator enters no_grad() here and is finished by another thread: that thread got
    ValueError "Token ... was created in a different Context", and this one stayed in no_grad."""
    import threading

    def rows():
        with no_grad():
            yield 1

    gen = rows()
    next(gen)
    assert not is_grad_enabled()
    seen: dict[str, object] = {}

    def finish(quiet: bool) -> None:
        try:
            with no_grad() if quiet else contextlib.nullcontext():
                gen.close()  # runs the block's end here
                seen[f"after, quiet={quiet}"] = is_grad_enabled()
        except BaseException as e:
            seen["error"] = repr(e)

    t = threading.Thread(target=finish, args=(False,))
    t.start()
    t.join()
    assert seen == {"after, quiet=False": True}
    assert is_grad_enabled()
    x = Value(2.0)
    (x * x).backward()
    assert x.grad == 4.0
    # the same, ended inside the other thread's own no_grad(): that one stays off until its own end
    gen = rows()
    next(gen)
    t = threading.Thread(target=finish, args=(True,))
    t.start()
    t.join()
    assert seen == {"after, quiet=False": True, "after, quiet=True": False} and is_grad_enabled()


def test_no_grad_is_per_asyncio_task() -> None:
    import asyncio

    async def quiet(started: asyncio.Event, release: asyncio.Event) -> bool:
        with no_grad():
            started.set()
            await release.wait()
            return is_grad_enabled()

    async def main() -> tuple[bool, bool, int]:
        started, release = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(quiet(started, release))
        await started.wait()
        x = Value(1.5)
        y = x * 2.0  # another task: grad is on here
        release.set()
        return await task, is_grad_enabled(), len(y.children)

    assert asyncio.run(main()) == (False, True, 1)


# ---- the code of an op is a file you can open, step into and read in a traceback -------------------
def test_getsource_of_an_op_is_its_method_in_methods_py() -> None:
    import inspect

    from microgradlike import methods

    for method, head, records in ((Value.__mul__, "def __mul__(self, other", "(b, a)"),
                                  (Value.tanh, "def tanh(self)", "1.0 - out * out")):
        source = inspect.getsource(method)
        assert source.lstrip().startswith(head) and records in source
        assert inspect.getsourcefile(method) == methods.__file__
        assert source in inspect.getsource(methods)  # real lines of a real file: go-to-definition lands there


def test_a_traceback_through_an_op_shows_the_line_that_raised() -> None:
    import traceback

    with pytest.raises(ValueError) as caught:
        Value(-1.0).log()
    frame = traceback.extract_tb(caught.value.__traceback__)[-1]
    assert frame.name == "log" and frame.filename.endswith("methods.py")
    assert frame.line.startswith("raise ValueError(") and "log is only defined for positive" in frame.line


def test_pdb_steps_into_tanh_and_lists_its_code(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "learner.py"
    script.write_text("from microgradlike import Value\nx = Value(0.5)\ny = x.tanh()\nprint(y.data)\n")
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    # next (the import), next (x = ...), step into x.tanh(), list its code, quit
    done = subprocess.run([sys.executable, "-m", "pdb", str(script)], input="n\nn\ns\nl\nq\n", text=True,
                          capture_output=True, cwd=tmp_path, env=env, timeout=120)
    assert "methods.py" in done.stdout and "tanh()" in done.stdout, done.stdout + done.stderr
    listed = done.stdout.split("(Pdb) ")[4]  # the output of `l`
    assert "def tanh(self) -> Value:" in listed and "return _node(out, (self,), (1.0 - out * out,)" in listed


def test_the_operators_types_are_visible_to_a_type_checker() -> None:
    import typing

    for method in (Value.__mul__, Value.__rmul__, Value.__add__, Value.__pow__, Value.tanh, Value.__neg__):
        assert typing.get_type_hints(method)["return"] is Value
    assert typing.get_type_hints(Value.__mul__)["other"] == Value | float


def test_mypy_reads_the_operators_types() -> None:
    """What a type checker (and an editor) sees: ``x * 2`` is a Value, and ``x.grad`` a float or,
    after ``backward(create_graph=True)``, a Value."""
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("mypy")
    code = ("from microgradlike import Value\nx = Value(0.5)\nreveal_type(x * 2)\nreveal_type(2 * x)\n"
            "reveal_type(x ** 2 - 1.0)\nreveal_type(x.tanh())\nreveal_type(x.grad)\n")
    root = Path(__file__).resolve().parent.parent  # its pyproject.toml holds the settings
    done = subprocess.run([sys.executable, "-m", "mypy", "-c", code], cwd=root, capture_output=True,
                          text=True, timeout=300)
    revealed = [line.split("Revealed type is ")[1] for line in done.stdout.splitlines() if "Revealed" in line]
    assert revealed == ['"microgradlike.engine.Value"'] * 4 + ['"float | microgradlike.engine.Value"'], (
        done.stdout + done.stderr)
    assert done.returncode == 0, done.stdout


# ---- a Value as a plain number: float() and bool() -------------------------------------------------
def test_float_of_a_value_is_its_data_outside_the_graph() -> None:
    x = Value(2.5)
    assert float(x) == 2.5 and type(float(x)) is float
    assert math.exp(Value(0.0)) == 1.0  # math reads the number: a float, no node
    assert float(np.float64(x)) == 2.5


@pytest.mark.parametrize(("data", "truth"), [(0.0, False), (-0.0, False), (2.5, True), (-1e-300, True),
                                             (math.inf, True)])
def test_bool_of_a_value_is_that_of_its_data(data: float, truth: bool) -> None:
    assert bool(Value(data)) is truth
    loss = Value(data) * 1.0
    assert (True if loss else False) is truth  # a learner's `if loss:` reads the number, as for a float
