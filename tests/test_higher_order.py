"""Gradients of gradients and forward mode: Hessians, Hessian-vector products, third derivatives
and jvp, checked against PyTorch float64 and closed forms (never against our own output)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from microgradlike import Value, grad, gradcheck, gradients, hessian, hvp, jvp, no_grad, value_and_grad
from microgradlike.losses import hinge
from tests.strategies import RandomDag, moderate_floats, random_dags

torch = pytest.importorskip("torch")


def build_sum(dag: RandomDag, leaves, softplus=None):
    """The DAG's last three nodes summed: one scalar output that depends on several ops."""
    nodes = dag.build(leaves) if softplus is None else dag.build(leaves, softplus)
    out = nodes[-1]
    for node in nodes[-3:-1]:
        out = out + node
    return out, nodes


def assume_well_conditioned(dag: RandomDag, bound: float) -> None:
    """Skip draws whose values are huge or sit on a kink: there no two float64 engines agree."""
    with no_grad():
        data = [n.data for n in dag.build([Value(x) for x in dag.leaf_values])]
    assume(dag.well_conditioned(data, bound=bound))


def close(a: float, b: float, scale: float, rel: float = 1e-9) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=rel * scale)


@given(random_dags(max_leaves=3, max_steps=8))
def test_hessian_of_random_graphs_equals_torch(dag: RandomDag) -> None:
    assume_well_conditioned(dag, 1e3)
    ours = hessian(lambda *xs: build_sum(dag, xs)[0])(*dag.leaf_values)
    x = torch.tensor(dag.leaf_values, dtype=torch.float64)
    theirs = torch.autograd.functional.hessian(
        lambda t: build_sum(dag, list(t), torch.nn.functional.softplus)[0], x).numpy()
    scale = max(1.0, float(np.abs(theirs).max()))
    for i, row in enumerate(ours):
        for j, h in enumerate(row):
            assert close(h, theirs[i, j], scale), (i, j, h, theirs[i, j])


@given(random_dags(max_leaves=3, max_steps=8), st.lists(moderate_floats, min_size=3, max_size=3))
def test_hvp_of_random_graphs_equals_torch(dag: RandomDag, v: list[float]) -> None:
    assume_well_conditioned(dag, 1e3)
    v = v[: dag.n_leaves]
    ours = hvp(lambda *xs: build_sum(dag, xs)[0], dag.leaf_values, v)
    x = torch.tensor(dag.leaf_values, dtype=torch.float64)
    _, theirs = torch.autograd.functional.hvp(
        lambda t: build_sum(dag, list(t), torch.nn.functional.softplus)[0], x,
        torch.tensor(v, dtype=torch.float64))
    scale = max(1.0, float(theirs.abs().max()))
    assert all(close(a, b, scale) for a, b in zip(ours, theirs.tolist()))


@given(random_dags(max_leaves=3, max_steps=8))
def test_second_derivatives_by_create_graph_equal_torch_autograd_grad(dag: RandomDag) -> None:
    assume_well_conditioned(dag, 1e3)
    leaves = [Value(x) for x in dag.leaf_values]
    out, _ = build_sum(dag, leaves)
    first = gradients(out, leaves, create_graph=True)
    t = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in dag.leaf_values]
    t_out, _ = build_sum(dag, t, torch.nn.functional.softplus)
    t_first = torch.autograd.grad(t_out, t, create_graph=True, allow_unused=True)
    for g, tg in zip(first, t_first):
        g_data = g.data if isinstance(g, Value) else g
        tg_data = 0.0 if tg is None else tg.item()
        assert close(g_data, tg_data, max(1.0, abs(tg_data)), rel=1e-12)
        if not isinstance(g, Value) or tg is None or not tg.requires_grad:
            continue  # a constant derivative: its own derivatives are 0 in both
        second = gradients(g, leaves)
        t_second = torch.autograd.grad(tg, t, allow_unused=True, retain_graph=True)
        for s, ts in zip(second, t_second):
            ts_data = 0.0 if ts is None else ts.item()
            assert close(s, ts_data, max(1.0, abs(ts_data)))


@given(x=st.floats(min_value=-2.0, max_value=2.0))
def test_third_derivatives_of_sin_tanh_exp_are_exact(x: float) -> None:
    def third(f):
        return grad(lambda a: grad(lambda b: grad(f)(b)[0])(a)[0])(x)[0]

    t = math.tanh(x)
    expected = {
        "sin": -math.cos(x),
        "tanh": -2 * (1 - t * t) * (1 - 3 * t * t),  # d³/dx³ tanh = −2 sech²x (1 − 3 tanh²x)
        "exp": math.exp(x),
    }
    for name, value in expected.items():
        got = third(lambda v, name=name: getattr(v, name)())
        assert math.isclose(got, value, rel_tol=1e-12, abs_tol=1e-12), (name, got, value)


@given(random_dags(max_leaves=4, max_steps=10), st.lists(moderate_floats, min_size=4, max_size=4))
def test_jvp_equals_grad_dot_v(dag: RandomDag, v: list[float]) -> None:
    assume_well_conditioned(dag, 1e4)
    v = v[: dag.n_leaves]
    f = lambda *xs: build_sum(dag, xs)[0]  # noqa: E731
    value, directional = jvp(f, dag.leaf_values, v)
    expected_value, g = value_and_grad(f)(*dag.leaf_values)
    expected = sum(gi * vi for gi, vi in zip(g, v))
    scale = max(1.0, sum(abs(gi * vi) for gi, vi in zip(g, v)))
    assert value == expected_value
    assert math.isclose(directional, expected, rel_tol=1e-12, abs_tol=1e-12 * scale)


# ---- conventions at kinks: the second derivative is 0, as in PyTorch --------------------------------
@pytest.mark.parametrize("x", [-1.5, -1e-9, 0.0, 1e-9, 2.0])
@pytest.mark.parametrize("name", ["relu", "abs"])
def test_kinked_ops_have_second_derivative_zero(name: str, x: float) -> None:
    f = (lambda v: v.relu()) if name == "relu" else abs
    assert grad(lambda a: grad(f)(a)[0])(x) == (0.0,)
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    (d,) = torch.autograd.grad(torch.relu(t) if name == "relu" else torch.abs(t), t, create_graph=True)
    assert not d.requires_grad or torch.autograd.grad(d, t, allow_unused=True)[0] in (None, 0.0)


def test_derivatives_of_sqrt_at_0_are_the_limits_torch_gives() -> None:
    ours, t = (lambda a: a.sqrt()), torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    theirs = torch.sqrt(t)
    for _ in range(3):  # the first three derivatives at 0: inf, −inf, inf
        ours = (lambda f: lambda a: grad(f)(a)[0])(ours)
        (theirs,) = torch.autograd.grad(theirs, t, create_graph=True)
        assert ours(0.0) == theirs.item()


@pytest.mark.parametrize("p", [0.5, 0.25, 1.5, 2.5, 1.0, 2.0, 3.0, 0.0])
def test_derivatives_of_powers_at_0_are_the_limits_torch_gives(p: float) -> None:
    # x**0.5 at 0: inf, −inf, inf (not inf, 0, 0): each derivative is a graph, never a constant inf
    ours, t = (lambda a: a**p), torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    theirs = t**p
    for order in range(1, 4):
        ours = (lambda f: lambda a: grad(f)(a)[0])(ours)
        (theirs,) = torch.autograd.grad(theirs, t, create_graph=True, allow_unused=True) \
            if theirs.requires_grad else (torch.zeros((), dtype=torch.float64),)
        assert ours(0.0) == theirs.item(), (p, order)
    x = Value(0.0)
    (x**0.5).backward(create_graph=True)
    assert isinstance(x.grad, Value) and x.grad.data == math.inf  # so x.grad.backward() goes on
    assert hessian(lambda a: a**0.5)(0.0) == ((-math.inf,),)


@pytest.mark.parametrize(("a", "b"), [(2.0, 0.0), (0.5, 0.0), (2.0, 1.0), (0.7, -2.0)])
def test_the_hessian_of_a_power_is_symmetric_also_where_the_exponent_is_0(a: float, b: float) -> None:
    # ∂(aᵇ)/∂a = b·aᵇ⁻¹; its derivative in b is aᵇ⁻¹ + b·aᵇ⁻¹·ln a, which is 1/a at b = 0
    # (PyTorch's own rule gives 0 there on one side only).
    h = hessian(lambda x, y: x**y)(a, b)
    assert math.isclose(h[0][1], h[1][0], rel_tol=1e-14)
    assert math.isclose(h[0][1], a ** (b - 1) * (1 + b * math.log(a)), rel_tol=1e-12)
    ta, tb = (torch.tensor(v, dtype=torch.float64) for v in (a, b))
    theirs = torch.autograd.functional.hessian(lambda x, y: x**y, (ta, tb))
    assert math.isclose(h[0][0], theirs[0][0].item(), rel_tol=1e-12, abs_tol=1e-15)
    assert math.isclose(h[1][1], theirs[1][1].item(), rel_tol=1e-12)
    assert math.isclose(h[1][0], theirs[1][0].item(), rel_tol=1e-12)  # the side torch gets right


@pytest.mark.parametrize("score", [-0.5, 0.999, 1.0, 1.5])
def test_hinge_has_second_derivative_zero_at_and_away_from_the_margin(score: float) -> None:
    (h,), = hessian(lambda s: hinge([s], [1]))(score)
    assert h == 0.0


def test_newtons_step_uses_the_second_derivative() -> None:
    # f(x) = (x − 3)² + 1: one Newton step x − f'(x)/f''(x) lands on the minimum exactly
    def f(x):
        return (x - 3.0) ** 2 + 1.0

    x = 10.0
    (d1,), ((d2,),) = grad(f)(x), hessian(f)(x)
    assert x - d1 / d2 == 3.0


# ---- the eager counterpart: backward(create_graph=True) --------------------------------------------
def test_backward_with_create_graph_leaves_value_grads_that_differentiate_again() -> None:
    x, y = Value(0.5, label="x"), Value(-1.2, label="y")
    out = (x * y).sin() + x ** 3
    out.backward(create_graph=True)
    assert isinstance(x.grad, Value) and isinstance(y.grad, Value)
    assert math.isclose(x.grad.data, -1.2 * math.cos(-0.6) + 0.75, rel_tol=1e-15)  # y·cos(xy) + 3x²
    dx = x.grad
    x.grad = y.grad = 0.0
    dx.backward()  # ∂/∂x (y·cos(xy) + 3x²) = −y²·sin(xy) + 6x
    assert math.isclose(x.grad, -1.44 * math.sin(-0.6) + 3.0, rel_tol=1e-14)


def test_create_graph_first_derivatives_equal_backward_exactly() -> None:
    x = Value(0.3)
    out = (x.tanh() * x.exp() / (x * x + 1.0)).log()
    (g,) = gradients(out, [x], create_graph=True)
    out.backward()
    assert g.data == x.grad


def test_a_graph_whose_data_changed_after_it_was_built_is_refused_as_stale() -> None:
    x = Value(0.5, label="x")
    y = x.sin() * x
    x.data = 2.0  # after the graph was built: its recorded numbers are those of x = 0.5
    for differentiate in (lambda: gradients(y, [x], create_graph=True),
                          lambda: y.backward(create_graph=True)):
        with pytest.raises(RuntimeError, match=r"graph of L is stale: node L \(op '\*'\) recorded "
                                               r"∂L/∂n1 = 0\.5 .* now give 2\.0: a \.data below it"):
            differentiate()
    # without create_graph the pass reads only the recorded numbers: the graph as it was built
    assert gradients(y, [x]) == (math.sin(0.5) + 0.5 * math.cos(0.5),)
    x.data = 0.5  # back to the numbers the graph was built with: nothing is stale
    (g,) = gradients(y, [x], create_graph=True)
    assert g.data == math.sin(0.5) + 0.5 * math.cos(0.5)


def test_gradients_does_not_touch_grads_and_refuses_bad_input() -> None:
    x = Value(2.0)
    x.grad = 5.0
    assert gradients(x * x, [x]) == (4.0,)
    assert x.grad == 5.0
    with pytest.raises(TypeError, match="inputs\\[0\\]"):
        gradients(x * x, [2.0])
    with pytest.raises(RuntimeError, match="no_grad"), no_grad():
        gradients(x * x, [x], create_graph=True)


def test_backward_of_a_result_made_under_no_grad_raises() -> None:
    x = Value(2.0)
    with no_grad():
        y = x * x
    with pytest.raises(RuntimeError, match="no_grad"):
        y.backward()
    assert x.grad == 0.0


def test_gradcheck_and_numerical_grad_take_one_number() -> None:
    assert gradcheck(lambda x: x * x * x, 1.5)
    assert grad(lambda x: x * x)(3.0) == (6.0,)


def test_jvp_and_hvp_check_their_direction() -> None:
    with pytest.raises(ValueError, match="2 entries but f takes 1"):
        jvp(lambda x: x * x, [1.0], [1.0, 2.0])
    with pytest.raises(TypeError, match="direction"):
        hvp(lambda x: x * x, [1.0], ["a"])
    assert jvp(lambda x: x * x, 3.0, 1.0) == (9.0, 6.0)
    assert hvp(lambda x: x * x * x, 2.0, 1.0) == (12.0,)
