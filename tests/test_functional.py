"""Tests for `microgradlike.functional`: grad, value_and_grad, numerical_grad and gradcheck,
checked against closed-form derivatives (never against the implementation's own output)."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given

from microgradlike import (
    Value,
    grad,
    gradcheck,
    hessian,
    hvp,
    jvp,
    no_grad,
    numerical_grad,
    sum_values,
    value_and_grad,
)
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


def test_grad_touches_no_grad_of_what_f_closes_over() -> None:
    from microgradlike.nn import MLP

    w = Value(2.0)
    assert grad(lambda x: x * w)(3.0) == (2.0,)
    assert value_and_grad(lambda x: x * w)(3.0) == (6.0, (2.0,))
    assert w.grad == 0.0  # was 3.0, then 6.0: the next optimiser step would have applied it
    model = MLP(2, [4, 1], seed=0)
    saliency = grad(lambda a, b: model([a, b]))(0.5, -0.2)  # ∂output/∂input
    assert all(p.grad == 0.0 for p in model.parameters())
    assert saliency == pytest.approx(numerical_grad(lambda a, b: model([a, b]), [0.5, -0.2]), rel=1e-6)
    assert all(p.grad == 0.0 for p in model.parameters())


def test_an_f_that_calls_backward_or_sets_grads_gets_the_same_answer() -> None:
    def calls_backward(x):
        y = x * x
        y.backward()  # its own business: the transform's answer is ∂y/∂x all the same
        return y

    def sets_grad(x):
        x.grad = 5.0
        return x * x

    for f in (calls_backward, sets_grad):
        assert grad(f)(3.0) == (6.0,)  # were 12.0 and 11.0
        assert value_and_grad(f)(3.0) == (9.0, (6.0,))
        assert grad(lambda x, f=f: grad(f)(x)[0])(3.0) == (2.0,)  # nested: was 8.0 for calls_backward
        assert hessian(f)(3.0) == ((2.0,),)


@pytest.mark.parametrize("transform", [grad, value_and_grad, hessian])
def test_a_keyword_argument_is_refused_saying_the_point_is_positional(transform) -> None:
    name = transform.__name__
    with pytest.raises(TypeError, match=rf"^{name}\(f\) takes the point as positional arguments.*"
                                        rf"got the keyword y=4\.0.*{name}\(lambda x: f\(x, y=\.\.\.\)\)"):
        transform(lambda x, y: x * y)(3.0, y=4.0)


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


# ---- no_grad: every transform refuses (no graph, so nothing to differentiate) -------------------
TRANSFORMS = {
    "grad": lambda: grad(lambda x: x * x * x)(3.0),
    "value_and_grad": lambda: value_and_grad(lambda x: x * x * x)(3.0),
    "hessian": lambda: hessian(lambda x: x * x * x)(3.0),
    "hvp": lambda: hvp(lambda x: x * x * x, [3.0], [1.0]),
    "jvp": lambda: jvp(lambda x: x * x * x, [3.0], [1.0]),
    "gradcheck": lambda: gradcheck(lambda x: x * x * x, [3.0]),
}


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_every_transform_refuses_inside_no_grad_naming_itself(name: str) -> None:
    # jvp used to return (27.0, 0.0) here: a silently zero tangent
    with no_grad(), pytest.raises(RuntimeError, match=rf"^{name} differentiates f.*no_grad\(\).*outside"):
        TRANSFORMS[name]()
    assert TRANSFORMS[name]() is not None  # and works outside


def test_numerical_grad_runs_inside_no_grad_and_says_why_f_cannot_call_grad() -> None:
    with no_grad():
        assert numerical_grad(lambda x: x * x, [3.0]) == pytest.approx((6.0,))
    with pytest.raises(RuntimeError, match="numerical_grad evaluates f under no_grad"):
        numerical_grad(lambda x: grad(lambda a: a * a)(x)[0], [3.0])


# ---- bad numbers: refused, naming the value -----------------------------------------------------
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_direction_is_refused_by_jvp_and_hvp_alike(bad: float) -> None:
    for transform in (jvp, hvp):
        with pytest.raises(ValueError, match=rf"entry 1 of the direction v must be a finite real number, "
                                             rf"got {bad!r}"):
            transform(lambda x, y: x * y, [1.0, 2.0], [1.0, bad])


@pytest.mark.parametrize(("eps", "error", "needle"), [
    (math.inf, ValueError, "eps must be a finite real number, got inf"),
    (math.nan, ValueError, "got nan"),
    (0.0, ValueError, "got 0.0"),
    (-1e-6, ValueError, "got -1e-06"),
    ("a", TypeError, "eps must be a finite real number, got str: 'a'"),
    (True, TypeError, "got bool"),
    (1e-30, ValueError, r"eps = 1e-30 is lost next to argument 0 = 1\.0"),
    (1e308, ValueError, r"eps = 1e\+308 is too large: the step 2·eps"),  # used to give nan
    (1e200, ValueError, r"f\(x \+ eps\) is inf.*eps = 1e\+200.*take a smaller eps"),
])
def test_numerical_grad_refuses_a_bad_eps_naming_it(eps: object, error: type, needle: str) -> None:
    with pytest.raises(error, match=needle):
        numerical_grad(lambda x: x * x, [1.0], eps=eps)  # type: ignore[arg-type]


def test_numerical_grad_refuses_a_step_where_x_plus_eps_overflows() -> None:
    with pytest.raises(ValueError, match=r"eps = 1e\+307 is too large next to argument 0 = 1\.79e\+308"):
        numerical_grad(lambda x: x * 0.5, [1.79e308], eps=1e307)
    with pytest.raises(ValueError, match=r"f\(x − eps\) is inf"):  # f itself leaves the floats
        numerical_grad(lambda x: (-x).exp(), [0.0], eps=1000.0)
    assert numerical_grad(lambda x: x * 0.5, [1.0], eps=1e300) == (0.5,)  # large, but fine for f


@pytest.mark.parametrize(("x", "needle"), [(math.nan, "argument 1 must be a real number, got nan"),
                                            (math.inf, "argument 1 is inf")])
def test_numerical_grad_refuses_a_point_that_is_not_finite(x: float, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        numerical_grad(lambda a, b: a * b, [1.0, x])


@pytest.mark.parametrize("transform", [
    lambda: grad(lambda a, b: a * b)(1.0, math.nan),
    lambda: value_and_grad(lambda a, b: a * b)(1.0, math.nan),
    lambda: hessian(lambda a, b: a * b)(1.0, math.nan),
    lambda: hvp(lambda a, b: a * b, [1.0, math.nan], [1.0, 1.0]),
    lambda: jvp(lambda a, b: a * b, [1.0, math.nan], [1.0, 1.0]),
])
def test_a_nan_argument_is_refused_naming_it(transform) -> None:
    with pytest.raises(ValueError, match="argument 1 must be a real number, got nan"):
        transform()


def test_a_plain_nan_output_has_no_derivative() -> None:
    # it used to give (nan, (0.0,)): a derivative made up for a function with no value
    with pytest.raises(ValueError, match="returned the plain number nan"):
        value_and_grad(lambda x: float("nan"))(1.0)
    with pytest.raises(ValueError, match="nan"):
        jvp(lambda x: math.nan, [1.0], [1.0])
    assert value_and_grad(lambda x: math.inf)(1.0) == (math.inf, (0.0,))  # a constant inf is a value


@pytest.mark.parametrize(("kwargs", "error", "needle"), [
    ({"atol": math.nan}, ValueError, "atol must be a finite real number, got nan"),
    ({"atol": -1e-5}, ValueError, "atol .* got -1e-05"),
    ({"atol": math.inf}, ValueError, "atol .* got inf"),
    ({"rtol": "a"}, TypeError, "rtol must be a finite real number, got str: 'a'"),
    ({"rtol": None}, TypeError, "rtol .* NoneType"),
    ({"rtol": True}, TypeError, "rtol .* bool"),
    ({"eps": math.inf}, ValueError, "eps .* inf"),
])
def test_gradcheck_refuses_bad_tolerances_naming_them(kwargs: dict, error: type, needle: str) -> None:
    with pytest.raises(error, match=needle):
        gradcheck(lambda x: x * x, [1.0], **kwargs)
    assert gradcheck(lambda x: x * x, [1.0], atol=0.0, rtol=1e-4)  # 0 is a tolerance too


# ---- sqrt at 0: every derivative is its limit from the right ------------------------------------
def test_derivatives_of_sqrt_at_0_are_its_limits() -> None:
    # d/da √a = ½a^(−1/2) → inf, d²/da² = −¼a^(−3/2) → −inf, d³/da³ = ⅜a^(−5/2) → inf as a → 0⁺
    def d(f):
        return lambda x: grad(f)(x)[0]

    sqrt = lambda a: a.sqrt()  # noqa: E731
    assert [d(sqrt)(0.0), d(d(sqrt))(0.0), d(d(d(sqrt)))(0.0)] == [math.inf, -math.inf, math.inf]
    assert hessian(sqrt)(0.0) == ((-math.inf,),) and hvp(sqrt, 0.0, 1.0) == (-math.inf,)
    x = Value(0.0)
    x.sqrt().backward(create_graph=True)
    first, x.grad = x.grad, 0.0
    first.backward()
    assert x.grad == -math.inf
    assert d(d(sqrt))(4.0) == -0.25 * 4.0**-1.5  # away from 0 the formula is unchanged


def test_jvp_a_node_that_depends_on_no_input_stays_still_whatever_its_local_derivative() -> None:
    # √c at c = 0 has local derivative inf; c does not move, so it adds exactly 0 (as in JAX), not
    # inf · 0 = nan: jvp agrees with grad · v
    c = Value(0.0)
    f = lambda x: x * 3 + c.sqrt()  # noqa: E731
    assert jvp(f, [1.0], [2.0]) == (3.0, 6.0) == (3.0, grad(f)(1.0)[0] * 2.0)
