"""Tests for `microgradlike.functional`: grad, value_and_grad, numerical_grad and gradcheck,
checked against closed-form derivatives (never against the implementation's own output)."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given

from microgradlike import Value, grad, gradcheck, numerical_grad, sum_values, value_and_grad
from tests.strategies import moderate_floats, positive_floats, random_dags, small_floats


def f_poly(x: Value, y: Value) -> Value:
    """f = x²·y + 3y, so ∂f/∂x = 2xy and ∂f/∂y = x² + 3."""
    return x * x * y + 3 * y


@given(x=small_floats, y=small_floats)
def test_grad_matches_closed_form(x: float, y: float) -> None:
    assert grad(f_poly)(x, y) == pytest.approx((2 * x * y, x * x + 3), rel=1e-12, abs=1e-12)


@given(x=small_floats, y=small_floats)
def test_value_and_grad_returns_the_value_too(x: float, y: float) -> None:
    value, grads = value_and_grad(f_poly)(x, y)
    assert value == pytest.approx(x * x * y + 3 * y, rel=1e-12, abs=1e-12)
    assert grads == pytest.approx((2 * x * y, x * x + 3), rel=1e-12, abs=1e-12)
    assert type(value) is float and type(grads) is tuple


def test_grad_accepts_values_and_numpy_scalars_and_leaves_them_alone() -> None:
    np = pytest.importorskip("numpy")
    x = Value(2.0)
    x.grad = 7.0
    assert grad(f_poly)(x, np.float64(3.0)) == (12.0, 7.0)
    assert x.grad == 7.0  # grad works on fresh leaves: the caller's Value is untouched


def test_grad_is_fresh_on_every_call() -> None:
    df = grad(lambda x: x * x)
    assert df(3.0) == (6.0,)
    assert df(3.0) == (6.0,)  # no accumulation across calls


def test_grad_of_a_constant_function_is_zero() -> None:
    assert grad(lambda x, y: 4.0)(1.0, 2.0) == (0.0, 0.0)
    assert value_and_grad(lambda x: 4)(1.0) == (4.0, (0.0,))


@pytest.mark.parametrize("output", [[1.0], (Value(1.0), Value(2.0)), "1.0", None])
def test_grad_of_a_non_scalar_output_is_a_type_error(output: object) -> None:
    def f(x: Value) -> object:
        return output if not isinstance(output, list) else [x * 2]

    with pytest.raises(TypeError, match=r"f must return one Value"):
        grad(f)(1.0)


def test_grad_of_a_function_returning_a_list_names_list() -> None:
    def pair(x: Value, y: Value) -> list[Value]:
        return [x, y]

    with pytest.raises(TypeError, match="list"):
        grad(pair)(1.0, 2.0)


def test_bad_argument_is_a_type_error_naming_it() -> None:
    with pytest.raises(TypeError, match=r"argument 1 .*str"):
        grad(f_poly)(1.0, "2")


@given(x=moderate_floats, y=positive_floats)
def test_numerical_grad_matches_closed_form(x: float, y: float) -> None:
    def f(a: Value, b: Value) -> Value:
        return a.exp() * b.log()

    expected = (math.exp(x) * math.log(y), math.exp(x) / y)
    assert numerical_grad(f, (x, y)) == pytest.approx(expected, rel=1e-6, abs=1e-7)


def test_numerical_grad_is_second_order_accurate() -> None:
    # For x³ the central difference is exactly 3x² + ε² (the Taylor remainder), so a large ε
    # makes the error visible and checks the formula, not just closeness.
    (estimate,) = numerical_grad(lambda x: x**3, (2.0,), eps=0.1)
    assert estimate == pytest.approx(12.0 + 0.01, rel=1e-12)


def test_numerical_grad_builds_no_graph_and_rejects_bad_eps() -> None:
    seen: list[Value] = []

    def f(x: Value) -> Value:
        out = x * 2
        seen.append(out)
        return out

    numerical_grad(f, (1.0,))
    assert seen and all(out.children == () for out in seen)
    for eps in (0.0, -1e-6, float("nan")):
        with pytest.raises(ValueError, match="eps"):
            numerical_grad(f, (1.0,), eps=eps)


@given(dag=random_dags())
def test_gradcheck_returns_true_on_correct_gradients(dag) -> None:
    assume(dag.well_conditioned([n.data for n in dag.build([Value(x) for x in dag.leaf_values])]))
    assert gradcheck(lambda *xs: sum_values(dag.build(xs)[dag.n_leaves:]), dag.leaf_values) is True


def wrong_square(x: Value) -> Value:
    """y = x·x with a tampered local_grads tuple: (x, 2x) instead of (x, x), so backprop
    reports 3x where the true slope is 2x."""
    y = x * x
    y.local_grads = (x.data, 2 * x.data)
    return y


def test_gradcheck_raises_naming_the_worst_input() -> None:
    def f(a: Value, b: Value, c: Value) -> Value:
        # ∂f/∂a and ∂f/∂c are right; ∂f/∂b is off by b (= 5), the worst by far.
        return a * 2 + wrong_square(b) + c.tanh()

    with pytest.raises(AssertionError, match=r"input 1 \(x1 = 5\.0\)") as info:
        gradcheck(f, (1.0, 5.0, 0.5))
    assert "15.0" in str(info.value)  # backprop's wrong answer: 3·5


def test_gradcheck_picks_the_largest_error_among_several_wrong_inputs() -> None:
    def f(a: Value, b: Value) -> Value:
        return wrong_square(a) + wrong_square(b)  # errors a and b: b = 4 is worse

    with pytest.raises(AssertionError, match="input 1"):
        gradcheck(f, (1.0, 4.0))


def test_gradcheck_tolerances_decide() -> None:
    # The tampered slope at x = 1e-3 is 3e-3 instead of 2e-3: an error of 1e-3.
    with pytest.raises(AssertionError, match="input 0"):
        gradcheck(wrong_square, (1e-3,), atol=1e-5)
    assert gradcheck(wrong_square, (1e-3,), atol=1e-2)


def test_gradcheck_names_the_input_when_given_values() -> None:
    with pytest.raises(AssertionError, match=r"x0 = 2\.0"):
        gradcheck(wrong_square, (Value(2.0),))


def nan_slope(x: Value) -> Value:
    """y = x with a tampered local grad of NaN: backprop reports NaN where the slope is 1."""
    y = x * 1.0
    y.local_grads = (math.nan,)
    return y


def test_gradcheck_counts_a_nan_gradient_as_the_worst_even_before_a_finite_error() -> None:
    def f(a: Value, b: Value) -> Value:
        return nan_slope(a) + wrong_square(b)  # input 0 is NaN, input 1 is off by b = 4

    with pytest.raises(AssertionError, match=r"input 0 \(x0 = 1\.0\).*gives nan"):
        gradcheck(f, (1.0, 4.0))
