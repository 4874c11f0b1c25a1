"""Conformance of the n-ary ops of the table (`microgradlike.ops.NARY`) written by hand in the engine.

For ``logsumexp``: the closed form, its derivative formula from the table, central differences,
PyTorch's ``torch.logsumexp``, the tape and the batched replays (one column at a time, and over a
whole block), the step explanation and the picture; far from overflow and at ±inf.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from microgradlike import Value, numerical_grad
from microgradlike.compile import trace
from microgradlike.engine import logsumexp
from microgradlike.fusion import Reduce
from microgradlike.ops import NARY
from microgradlike.stepper import Stepper
from microgradlike.viz import draw_dot

rows = st.lists(st.floats(min_value=-30.0, max_value=30.0, allow_nan=False), min_size=1, max_size=7)


def closed_form(xs: list[float]) -> float:
    """ln Σ e^x, computed with Python's exact-ish fsum on shifted terms (independent of the engine)."""
    m = max(xs)
    return m + math.log(math.fsum(math.exp(x - m) for x in xs))


def test_every_nary_op_has_a_derivative_formula_but_dot():
    assert {name for name, op in NARY.items() if op.derivative} == set(NARY) - {"dot"}


@given(rows)
def test_logsumexp_conforms(xs):
    vs = [Value(x) for x in xs]
    out = logsumexp(vs)
    assert out.op == "logsumexp" and out.children == tuple(vs)
    assert math.isclose(out.data, closed_form(xs), rel_tol=1e-12, abs_tol=1e-12)
    # the local derivatives are the softmax, e^x / Σ e^x
    m = max(xs)
    total = math.fsum(math.exp(x - m) for x in xs)
    for x, local in zip(xs, out.local_grads):
        assert math.isclose(local, math.exp(x - m) / total, rel_tol=1e-12, abs_tol=1e-300)
    out.backward()
    numeric = numerical_grad(lambda *ws: logsumexp(list(ws)), xs)
    assert all(math.isclose(v.grad, g, rel_tol=1e-5, abs_tol=1e-6) for v, g in zip(vs, numeric))
    torch = pytest.importorskip("torch")
    t = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    t_out = torch.logsumexp(t, 0)
    t_out.backward()
    assert math.isclose(out.data, t_out.item(), rel_tol=1e-12, abs_tol=1e-12)
    assert all(math.isclose(v.grad, g, rel_tol=1e-12, abs_tol=1e-15) for v, g in zip(vs, t.grad.tolist()))


@given(rows)
def test_logsumexp_tape_and_batched_equal_eager(xs):
    vs = [Value(x) for x in xs]
    out = logsumexp(vs)
    out.backward()
    # the float replay is the same arithmetic as the engine: the same bits
    tape = trace(lambda *ws: logsumexp(list(ws)) * 2.0, *xs)
    assert tape(*xs) == 2.0 * out.data
    tape.backward()
    assert list(tape.grads) == [2.0 * v.grad for v in vs]
    # batched, one column per argument (numpy sums in another order: to rounding)
    batch = [np.array([x, x - 1.0]) for x in xs]
    values = tape(*batch)
    assert np.allclose(values[0], 2.0 * out.data, rtol=1e-13, atol=1e-13)
    tape.backward()
    assert all(np.allclose(g[0], 2.0 * v.grad, rtol=1e-12, atol=1e-15) for g, v in zip(tape.grads, vs))
    # batched over a whole block: the list argument is one matrix, reduced along each row
    block = trace(lambda row: logsumexp(row) * 2.0, xs)
    reduced = [step for step in block.fused.steps if isinstance(step, Reduce)]
    assert [(step.instruction.op, step.source.name) for step in reduced] == [("logsumexp", "X0")]
    values = block(np.array([xs, xs]))
    assert np.allclose(values, 2.0 * out.data, rtol=1e-13, atol=1e-13)
    block.backward()
    assert np.allclose(block.grads[0][1], [2.0 * v.grad for v in vs], rtol=1e-12, atol=1e-15)


def test_logsumexp_never_overflows_and_takes_its_max_again_at_each_replay():
    out = logsumexp([Value(1000.0), Value(0.0), Value(-1000.0)])
    assert out.data == 1000.0 and out.local_grads == (1.0, math.exp(-1000.0), 0.0)
    tape = trace(lambda row: logsumexp(row), [0.1, 0.2, 0.3])  # traced near 0
    for replayed in (tape([1000.0, 0.0, -1000.0]), tape(np.array([[1000.0, 0.0, -1000.0]]))[0],
                     trace(lambda a, b, c: logsumexp([a, b, c]), 0.1, 0.2, 0.3)(1000.0, 0.0, -1000.0)):
        assert replayed == 1000.0


def test_logsumexp_at_infinities_is_torchs():
    inf = math.inf
    for xs, value, grads in (([inf, 1.0], inf, [math.nan, 0.0]), ([-inf, -inf], -inf, [math.nan, math.nan]),
                             ([-inf, 2.0], 2.0, [0.0, 1.0])):
        vs = [Value(x) for x in xs]
        out = logsumexp(vs)
        out.backward()
        assert out.data == value
        for v, expected in zip(vs, grads):
            assert math.isnan(v.grad) if math.isnan(expected) else v.grad == expected
        tape = trace(lambda row: logsumexp(row), [0.0, 0.0])
        assert tape(np.array([xs]))[0] == value
        assert tape(xs) == value


def test_logsumexp_refuses_what_it_cannot_sum():
    with pytest.raises(ValueError, match="at least one Value"):
        logsumexp([])
    with pytest.raises(TypeError, match=r"term 1 is float: 2\.0 .*Value\(c\)"):
        logsumexp([Value(1.0), 2.0])


def test_logsumexp_is_explained_and_drawn():
    z = [Value(1.0, label="z0"), Value(2.0, label="z1"), Value(-3.0, label="z2")]
    out = logsumexp(z)
    out.label = "L"
    text = next(iter(Stepper(out))).explain()
    assert "L = logsumexp(z0, z1, z2) = 2.31818" in text
    for v, local in zip(z, out.local_grads):
        why = f"∂L/∂{v.label} = e^({v.label} − L) = e^({v.data} − 2.31818) = {local:.6g}: the softmax weight"
        assert why in text
    assert "{" not in text and "}" not in text
    assert NARY["logsumexp"].symbol in draw_dot(out).source
