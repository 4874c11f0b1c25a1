"""microgradlike against PyTorch float64: the same random expressions, the same gradients.

Skipped when torch is not installed. Tolerance: 1e-9 relative plus a tiny absolute term (for
gradients that are 0 in exact arithmetic but a rounding error in one of the two libraries).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from microgradlike import Value, dot, sum_values
from tests.strategies import (
    DAG_OPS,
    away_from_zero,
    moderate_floats,
    nonzero_floats,
    positive_floats,
    random_dags,
    small_floats,
)

torch = pytest.importorskip("torch")
softplus = torch.nn.functional.softplus

REL, ABS = 1e-9, 1e-12


def torch_leaves(xs: tuple[float, ...]) -> list:
    return [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]


def compare(build: Callable[[list, Callable], object], xs: tuple[float, ...]) -> None:
    """Build the same expression in both libraries; compare the output and every leaf's grad."""
    ours = [Value(x) for x in xs]
    out = build(ours, Value.softplus)
    out.backward()
    theirs = torch_leaves(xs)
    reference = build(theirs, softplus)
    reference.backward()
    assert out.data == pytest.approx(reference.item(), rel=REL, abs=ABS)
    expected = [0.0 if t.grad is None else t.grad.item() for t in theirs]
    assert [v.grad for v in ours] == pytest.approx(expected, rel=REL, abs=ABS)


@pytest.mark.parametrize("op", list(DAG_OPS))
@given(data=st.data())
def test_each_op_matches_torch(op: str, data: st.DataObject) -> None:
    # the first operand away from 0 so relu/abs are compared off their kink (checked separately)
    xs = (data.draw(away_from_zero), data.draw(moderate_floats))
    assume(op != "exp" or xs[0] < 50)
    compare(lambda leaves, sp: DAG_OPS[op](leaves[0], leaves[1], sp), xs)


@given(dag=random_dags(max_leaves=5, max_steps=14))
def test_random_graphs_with_shared_subexpressions_match_torch(dag) -> None:
    assume(dag.well_conditioned([n.data for n in dag.build([Value(x) for x in dag.leaf_values])]))

    def build(leaves: list, sp: Callable) -> object:
        nodes = dag.build(leaves, sp)
        total = nodes[dag.n_leaves]
        for node in nodes[dag.n_leaves + 1:]:
            total = total + node
        return total * nodes[-1]

    compare(build, dag.leaf_values)


@given(a=small_floats, b=nonzero_floats, c=positive_floats, d=small_floats)
def test_binary_ops_between_values_match_torch(a: float, b: float, c: float, d: float) -> None:
    def build(v: list, sp: Callable) -> object:
        return (v[0] + v[1]) * (v[0] - v[3]) / v[1] + v[2] ** (v[3] / 10) - v[0] / v[1] ** 2

    compare(build, (a, b, c, d))


@given(a=small_floats, b=small_floats, c=small_floats)
def test_dot_and_sum_values_match_torch(a: float, b: float, c: float) -> None:
    x, y, z = Value(a), Value(b), Value(c)
    out = dot([x, y, 2.0, x], [y, 1.5, z, x], bias=z).tanh() + sum_values([x, 0.5, x, z]) * y
    out.backward()
    tx, ty, tz = torch_leaves((a, b, c))
    reference = (tx * ty + ty * 1.5 + 2.0 * tz + tx * tx + tz).tanh() + (tx + 0.5 + tx + tz) * ty
    reference.backward()
    assert out.data == pytest.approx(reference.item(), rel=REL, abs=ABS)
    assert [x.grad, y.grad, z.grad] == pytest.approx([tx.grad.item(), ty.grad.item(), tz.grad.item()],
                                                     rel=REL, abs=ABS)


@pytest.mark.parametrize("a", [0.0, 1000.0, -1000.0, 30.0, -30.0])
@pytest.mark.parametrize("op", ["relu", "abs", "tanh", "sigmoid", "softplus", "exp"])
def test_kinks_and_extremes_match_torch(op: str, a: float) -> None:
    """relu'(0), |x|'(0) and the saturated ends of the squashing functions, as torch has them."""
    compare(lambda leaves, sp: DAG_OPS[op](leaves[0], leaves[0], sp), (a,))
