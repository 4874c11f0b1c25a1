"""Transforms inside transforms: each differentiates with respect to its own arguments, as in JAX.

The classic trap is *perturbation confusion*: in

    grad(lambda x: grad(lambda a, b: a * b)(x, x * 2)[0])(3.0)

the inner grad must give ∂(a·b)/∂a = b = 2x (so the answer is 2.0), not the total derivative
through x, which also flows into b (4x, so 4.0). The references here are right by construction:
closed forms worked by hand, nested central differences (which know nothing of graphs), and, where
torch is installed, `torch.func`, which composes as JAX does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from microgradlike import Value, grad, gradients, hessian, hvp, jvp, no_grad, numerical_grad, value_and_grad
from microgradlike.forward import tangents
from tests.strategies import DAG_OPS, KINKED_OPS, RandomDag, moderate_floats, random_dags


# ---- closed forms -------------------------------------------------------------------------------
def test_the_inner_grad_gives_the_partial_derivative_when_arguments_share_a_value() -> None:
    # ∂(a·b)/∂a = b = 2x, whose derivative is 2 (the total derivative 4x would give 4)
    assert grad(lambda x: grad(lambda a, b: a * b)(x, x * 2)[0])(3.0) == (2.0,)
    assert grad(lambda x: grad(lambda a, b: a * b)(x, x * 2)[1])(3.0) == (1.0,)  # ∂/∂b = a = x


def test_the_same_value_passed_twice_is_two_arguments() -> None:
    # f(a, b) = a²·b at a = b = x: ∂f/∂a = 2ab = 2x², ∂f/∂b = a² = x²
    assert grad(lambda x: grad(lambda a, b: a * a * b)(x, x)[0])(3.0) == (12.0,)
    assert grad(lambda x: grad(lambda a, b: a * a * b)(x, x)[1])(3.0) == (6.0,)
    assert grad(lambda x: value_and_grad(lambda a, b: a * b)(x, x)[1][0])(3.0) == (1.0,)


def test_a_value_the_inner_function_closes_over_is_differentiated_by_the_outer_grad() -> None:
    # the inner argument is a plain number; x reaches the inner function only through its closure
    assert grad(lambda x: grad(lambda y: x * y)(2.0)[0])(3.0) == (1.0,)  # ∂(xy)/∂y = x
    assert grad(lambda x: x * grad(lambda y: y * y)(2.0)[0])(3.0) == (4.0,)


def test_hessian_hvp_and_jvp_inside_grad() -> None:
    f = lambda a, b: a * a * b  # noqa: E731  H = [[2b, 2a], [2a, 0]]
    assert grad(lambda x: hessian(f)(x, x * 2)[0][0])(3.0) == (4.0,)  # 2b = 4x
    assert grad(lambda x: hessian(f)(x, x * 2)[0][1])(3.0) == (2.0,)  # 2a = 2x
    assert grad(lambda x: hvp(f, [x, x], [1.0, 0.0])[0])(3.0) == (2.0,)  # (H·e₀)₀ = 2b = 2x
    assert grad(lambda x: hvp(f, [x, x * 2], [0.0, 1.0])[0])(3.0) == (2.0,)  # (H·e₁)₀ = 2a = 2x
    assert grad(lambda x: jvp(lambda a, b: a * b, [x, x * 2], [1.0, 0.0])[1])(3.0) == (2.0,)  # b


def test_grad_inside_jvp_and_hessian_of_a_grad() -> None:
    # d/dx ∂(ab)/∂a at (x, 2x) = d/dx 2x = 2, by forward mode this time
    assert jvp(lambda x: grad(lambda a, b: a * b)(x, x * 2)[0], [3.0], [1.0]) == (6.0, 2.0)
    # f' of x³ is 3x²: its derivative along 1 is 6x = 12 (a plain number here would give 0)
    assert jvp(lambda x: grad(lambda a: a**3)(x)[0], [2.0], [1.0]) == (12.0, 12.0)
    assert hessian(lambda x: grad(lambda a, b: a * a * b)(x, x)[0])(3.0) == ((4.0,),)  # (2x²)'' = 4


def test_the_direction_of_jvp_and_hvp_can_be_differentiated_inside_a_transform() -> None:
    # ∇f·t and H·t are linear in t: their derivatives are ∇f and H (x³ at 2: 12 and 12)
    assert grad(lambda t: jvp(lambda a: a * a * a, [2.0], [t])[1])(1.0) == (12.0,)
    assert grad(lambda t: hvp(lambda a: a**3, [2.0], [t])[0])(1.0) == (12.0,)


def test_top_level_results_are_numbers_and_values_passed_in_are_left_alone() -> None:
    x = Value(3.0)
    assert grad(lambda a: a * a)(x) == (6.0,)
    assert x.grad == 0.0  # differentiated through a fresh leaf: the argument is untouched
    assert all(type(h) is float for row in hessian(lambda a, b: a * b)(1.0, 2.0) for h in row)
    assert all(type(h) is float for h in hvp(lambda a: a**3, [2.0], [1.0]))


def test_tangents_let_a_seeded_node_move_at_its_own_rate() -> None:
    # the fresh node an inner jvp differentiates sits on top of the outer Value: its rate is the
    # seed, whatever it was computed from
    x = Value(2.0)
    n = x * 1.0
    y = n * n * x  # ∂y/∂n = 2n·x = 8 at x = 2 (x itself stays still)
    assert tangents(y, {n: 1.0})[y] == 8.0
    as_graph = tangents(y, {n: 1.0}, create_graph=True)[y]
    assert isinstance(as_graph, Value) and as_graph.data == 8.0
    assert gradients(as_graph, [x]) == (8.0,)  # ∂(2n·x)/∂x with n = x·1: 2x + 2x = 8


# ---- random nestings against nested central differences -----------------------------------------
SMOOTH_OPS = tuple(op for op in DAG_OPS if op not in KINKED_OPS)

#: How the outer x reaches the inner function's two arguments (a Value x, or a float for the
#: reference): shared Values, the same Value twice, one argument a constant.
SHARINGS: dict[str, Callable[[Any], tuple[Any, Any]]] = {
    "x, x": lambda x: (x, x),
    "x, 2x": lambda x: (x, x * 2),
    "x², x": lambda x: (x * x, x),
    "y, y·y with y = 3x − 1": lambda x: ((x * 3 - 1), (x * 3 - 1) * (x * 3 - 1)),
    "x, 1.5": lambda x: (x, 1.5),
}

#: What the inner transform computes, as (on Values, reference on floats), from the function h of
#: two arguments, the point (a, b) and a direction (d0, d1).
INNER = ("grad 0", "grad 1", "value_and_grad 1", "jvp", "value")


def inner_transform(kind: str, h: Callable, args: tuple[Any, Any], d: tuple[float, float]) -> Any:
    if kind == "grad 0":
        return grad(h)(*args)[0]
    if kind == "grad 1":
        return grad(h)(*args)[1]
    if kind == "value_and_grad 1":
        return value_and_grad(h)(*args)[1][1]
    if kind == "jvp":
        return jvp(h, list(args), list(d))[1]
    return value_and_grad(h)(*args)[0]


def inner_reference(kind: str, h: Callable, args: tuple[float, float], d: tuple[float, float]) -> float:
    """The same by central differences (numerical_grad builds no graph: it knows no nesting)."""
    if kind == "value":
        with no_grad():
            return h(*(Value(a) for a in args)).data
    g = numerical_grad(h, list(args), eps=1e-5)
    return {"grad 0": g[0], "grad 1": g[1], "value_and_grad 1": g[1]}.get(kind, g[0] * d[0] + g[1] * d[1])


def dag_function(dag: RandomDag, x: Any, closure: float) -> Callable:
    """h(a, b): the DAG's last two nodes summed, plus closure·x·a (x closed over)."""
    def h(a: Any, b: Any) -> Any:
        nodes = dag.build([a, b])
        return nodes[-1] + nodes[-2] + closure * x * a
    return h


@given(dag=random_dags(max_leaves=2, max_steps=6, ops=SMOOTH_OPS), x0=moderate_floats,
       sharing=st.sampled_from(sorted(SHARINGS)), kind=st.sampled_from(INNER),
       closure=st.sampled_from([0.0, 0.5]), d=st.tuples(moderate_floats, moderate_floats),
       outer=st.sampled_from(["grad", "jvp"]))
def test_random_nestings_equal_nested_central_differences(
        dag: RandomDag, x0: float, sharing: str, kind: str, closure: float,
        d: tuple[float, float], outer: str) -> None:
    assume(dag.n_leaves == 2)

    def inner_ref_at(x: float) -> float:
        with no_grad():
            args = tuple(a.data if isinstance(a, Value) else a for a in SHARINGS[sharing](Value(x)))
        return inner_reference(kind, dag_function(dag, x, closure), args, d)

    # only where every value is moderate near x0, so that differences of differences are accurate
    for x in (x0 - 1e-3, x0, x0 + 1e-3):
        with no_grad():
            a, b = (Value(float(v)) if not isinstance(v, Value) else v for v in SHARINGS[sharing](Value(x)))
            nodes = [n.data for n in dag.build([a, b])]
        assume(dag.well_conditioned(nodes, bound=30.0))
        # ∂(aᵇ)/∂a is taken as 0 where the exponent is exactly 0, as in PyTorch, so the mixed
        # second derivative there is 0 (not 1/a): a convention central differences do not know
        assume(all(nodes[j] != 0.0 for op, _, j in dag.steps if op == "**value"))

    def G(x: Value) -> Any:
        return inner_transform(kind, dag_function(dag, x, closure), SHARINGS[sharing](x), d)

    got = grad(G)(x0)[0] if outer == "grad" else jvp(G, [x0], [1.0])[1]
    step = 2e-4
    expected = (inner_ref_at(x0 + step) - inner_ref_at(x0 - step)) / (2 * step)
    scale = max(1.0, abs(inner_ref_at(x0 + step)), abs(inner_ref_at(x0 - step)))
    assert math.isclose(got, expected, rel_tol=1e-4, abs_tol=1e-4 * scale), (got, expected)


# ---- random nestings against torch.func (exact float64; composes as JAX's transforms do) ----------
INNER_EXACT = (*INNER, "hessian 01", "hessian 11", "hvp 0")


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")  # torch's own
@given(dag=random_dags(max_leaves=2, max_steps=6, ops=SMOOTH_OPS), x0=moderate_floats,
       sharing=st.sampled_from(sorted(SHARINGS)), kind=st.sampled_from(INNER_EXACT),
       closure=st.sampled_from([0.0, 0.5]), d=st.tuples(moderate_floats, moderate_floats))
def test_random_nestings_equal_torch_func(dag: RandomDag, x0: float, sharing: str, kind: str,
                                          closure: float, d: tuple[float, float]) -> None:
    torch = pytest.importorskip("torch")
    func = torch.func
    assume(dag.n_leaves == 2)
    with no_grad():
        a, b = (Value(float(v)) if not isinstance(v, Value) else v for v in SHARINGS[sharing](Value(x0)))
        assume(dag.well_conditioned([n.data for n in dag.build([a, b])], bound=100.0))

    def ours(x: Value) -> Any:
        h, args = dag_function(dag, x, closure), SHARINGS[sharing](x)
        if kind.startswith("hessian"):
            i, j = int(kind[-2]), int(kind[-1])
            return hessian(h)(*args)[i][j]
        if kind == "hvp 0":
            return hvp(h, list(args), list(d))[0]
        return inner_transform(kind, h, args, d)

    def theirs(x: Any) -> Any:
        def h(a: Any, b: Any) -> Any:
            # torch's softplus is linear past its threshold (20): raise it past every value here
            nodes = dag.build([a, b], lambda t: torch.nn.functional.softplus(t, threshold=100.0))
            return nodes[-1] + nodes[-2] + closure * x * a

        args = SHARINGS[sharing](x)
        args = tuple(t if torch.is_tensor(t) else torch.tensor(t, dtype=torch.float64) for t in args)
        if kind == "value":
            return h(*args)
        if kind in ("grad 0", "grad 1", "value_and_grad 1"):
            return func.grad(h, argnums=int(kind[-1]))(*args)
        if kind == "jvp":
            return func.jvp(h, args, tuple(torch.tensor(v, dtype=torch.float64) for v in d))[1]
        if kind.startswith("hessian"):
            i, j = int(kind[-2]), int(kind[-1])
            return func.hessian(h, argnums=(0, 1))(*args)[i][j]
        # hvp: the derivative of ∇h along d, i.e. forward over reverse
        tangent = tuple(torch.tensor(v, dtype=torch.float64) for v in d)
        return func.jvp(lambda p, q: func.grad(h, argnums=0)(p, q), args, tangent)[1]

    got = grad(ours)(x0)[0]
    expected = func.grad(theirs)(torch.tensor(x0, dtype=torch.float64)).item()
    assert math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-9 * max(1.0, abs(expected))), (got, expected)
