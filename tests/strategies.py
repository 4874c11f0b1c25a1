"""Shared hypothesis strategies for the test suite.

Every op is property-tested the same way: draw inputs from a *safe range* where the function is
smooth and well conditioned, then compare exact gradients with central differences or PyTorch.
Ranges are kept small so that central differences (eps ~ 1e-6) stay accurate to ~1e-6 relative.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

#: Finite floats in [-10, 10]: safe for +, -, *, tanh, sigmoid, relu, softplus, abs.
small_floats = st.floats(min_value=-10.0, max_value=10.0, allow_nan=False, allow_infinity=False)

#: Floats in [0.1, 10]: inside the domain of log, sqrt and x ** non-integer, away from the pole at 0.
positive_floats = st.floats(min_value=0.1, max_value=10.0, allow_nan=False, allow_infinity=False)

#: Floats with 0.1 <= |x| <= 10: safe divisors and bases for negative integer powers.
nonzero_floats = st.one_of(
    st.floats(min_value=0.1, max_value=10.0, allow_nan=False, allow_infinity=False),
    st.floats(min_value=-10.0, max_value=-0.1, allow_nan=False, allow_infinity=False),
)

#: Floats in [-3, 3]: inputs for exp and for deep composite graphs, where values must not blow up.
moderate_floats = st.floats(min_value=-3.0, max_value=3.0, allow_nan=False, allow_infinity=False)

#: Floats at least 0.01 away from 0: for relu and abs, whose derivative jumps at 0 (central
#: differences across the kink would be wrong, not the engine).
away_from_zero = st.one_of(
    st.floats(min_value=0.01, max_value=10.0, allow_nan=False, allow_infinity=False),
    st.floats(min_value=-10.0, max_value=-0.01, allow_nan=False, allow_infinity=False),
)

#: Small integer exponents, including 0 and negatives.
int_exponents = st.integers(min_value=-3, max_value=4)

#: Real exponents for x ** p with x > 0.
real_exponents = st.floats(min_value=-2.5, max_value=2.5, allow_nan=False, allow_infinity=False)


def _value_softplus(a: Any) -> Any:
    return a.softplus()


def _logsumexp(a: Any, b: Any) -> Any:
    """ln(eᵃ + eᵇ): microgradlike's n-ary op for Values, torch.logsumexp for tensors."""
    from microgradlike import Value, logsumexp

    if isinstance(a, Value):
        return logsumexp([a, b])
    import torch

    return torch.logsumexp(torch.stack([a, b]), 0)


def _power(base: Any, exponent: Any) -> Any:
    """baseᵉˣᵖᵒⁿᵉⁿᵗ with a Value exponent; for tensors written e^(exponent·ln base) (base > 0 here):
    the same function, whose derivatives torch gets right also at exponent 0, where its own pow
    rule takes ∂(aᵇ)/∂a as 0 for b = 0 and so loses ∂²/∂b∂a = 1/a (an asymmetric Hessian)."""
    from microgradlike import Value

    if isinstance(base, Value):
        return base**exponent
    return (exponent * base.log()).exp()


# ---- random computation graphs -----------------------------------------------------------------
# Each op takes two earlier nodes (a, b) and a softplus function (Values have a method; torch has
# `torch.nn.functional.softplus`), and uses only what Values and torch tensors both support, so
# the same graph can be built in both. Where an op has a restricted domain, its argument is first
# mapped into it (a·a + 0.5 > 0), so no draw needs rejecting for that reason.
DAG_OPS: dict[str, Callable[[Any, Any, Callable[[Any], Any]], Any]] = {
    "+": lambda a, b, sp: a + b,
    "-": lambda a, b, sp: a - b,
    "*": lambda a, b, sp: a * b,
    "/": lambda a, b, sp: a / (b * b + 0.5),
    "**value": lambda a, b, sp: _power(a * a + 0.5, b.tanh()),
    "**2": lambda a, b, sp: a**2,
    "**3": lambda a, b, sp: a**3,
    "**-1": lambda a, b, sp: (a * a + 0.5) ** -1,
    "**0.5": lambda a, b, sp: (a * a + 0.5) ** 0.5,
    "neg": lambda a, b, sp: -a,
    "abs": lambda a, b, sp: abs(a),
    "exp": lambda a, b, sp: a.exp(),
    "log": lambda a, b, sp: (a * a + 0.5).log(),
    "sqrt": lambda a, b, sp: (a * a + 0.1).sqrt(),
    "tanh": lambda a, b, sp: a.tanh(),
    "sigmoid": lambda a, b, sp: a.sigmoid(),
    "relu": lambda a, b, sp: a.relu(),
    "softplus": lambda a, b, sp: sp(a),
    "sin": lambda a, b, sp: a.sin(),
    "cos": lambda a, b, sp: a.cos(),
    "logsumexp": lambda a, b, sp: _logsumexp(a, b),
    "3+": lambda a, b, sp: 3 + a,
    "2-": lambda a, b, sp: 2 - a,
    "3*": lambda a, b, sp: 3 * a,
    "2/": lambda a, b, sp: 2 / (a * a + 0.5),
    "2**": lambda a, b, sp: 2**a,
    "+1.5": lambda a, b, sp: a + 1.5,
    "-1.5": lambda a, b, sp: a - 1.5,
    "*0.5": lambda a, b, sp: a * 0.5,
    "/3": lambda a, b, sp: a / 3,
}
#: Ops whose derivative jumps where their first argument is 0.
KINKED_OPS = frozenset({"relu", "abs"})


@dataclass(frozen=True)
class RandomDag:
    """A random DAG: ``n_leaves`` inputs, then ``steps`` of (op, i, j), each reading any earlier
    node (leaves included), so sub-expressions are shared and re-used."""

    leaf_values: tuple[float, ...]
    steps: tuple[tuple[str, int, int], ...]

    @property
    def n_leaves(self) -> int:
        return len(self.leaf_values)

    def build(self, leaves: Sequence[Any], softplus: Callable[[Any], Any] = _value_softplus) -> list[Any]:
        """All nodes, leaves first, then one per step."""
        nodes = list(leaves)
        for op, i, j in self.steps:
            nodes.append(DAG_OPS[op](nodes[i], nodes[j], softplus))
        return nodes

    def well_conditioned(self, data: Sequence[float], bound: float = 1e4, kink_gap: float = 1e-3) -> bool:
        """True when every node's value is moderate and no relu/abs sits within ``kink_gap`` of its
        kink, so central differences (and float64 comparisons) are meaningful at this point."""
        if not all(math.isfinite(x) and abs(x) < bound for x in data):
            return False
        return all(abs(data[i]) > kink_gap for op, i, _ in self.steps if op in KINKED_OPS)


@st.composite
def random_dags(draw: st.DrawFn, max_leaves: int = 4, max_steps: int = 10,
                ops: Sequence[str] = tuple(DAG_OPS)) -> RandomDag:
    """A `RandomDag` with 1..max_leaves leaves in [-3, 3] and 1..max_steps op steps."""
    n_leaves = draw(st.integers(1, max_leaves))
    leaf_values = tuple(draw(st.lists(moderate_floats, min_size=n_leaves, max_size=n_leaves)))
    steps = []
    for k in range(draw(st.integers(1, max_steps))):
        earlier = st.integers(0, n_leaves + k - 1)
        steps.append((draw(st.sampled_from(ops)), draw(earlier), draw(earlier)))
    return RandomDag(leaf_values, tuple(steps))
