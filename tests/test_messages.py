"""An error message names the bad value, cut short by `checks.short`: a 400-digit integer passed
anywhere is shown as its first digits and its length (or inside a list cut to 60 characters),
never in full."""

from __future__ import annotations

import pytest

from microgradlike import Value, checks, data, losses, nn, optim, train, viz
from microgradlike.explorer import Explorer

HUGE = 10**400

CALLS = {
    "check_seed": lambda: checks.check_seed(-HUGE),
    "check_seed of a list": lambda: checks.check_seed([HUGE]),
    "make_moons(n=...)": lambda: data.make_moons(n=HUGE),
    "make_moons(seed=...)": lambda: data.make_moons(seed=-HUGE),
    "make_spirals(arms=...)": lambda: data.make_spirals(arms=HUGE),
    "train_test_split(seed=...)": lambda: data.train_test_split([[1.0]] * 4, [0, 1, 0, 1], seed=-HUGE),
    "piecewise_linear(knots=...)": lambda: data.piecewise_linear(knots=[(0, 0), (HUGE, 1)]),
    "get_loss": lambda: losses.get_loss(HUGE),
    "SGD(params)": lambda: optim.SGD([HUGE]),
    "model(one number)": lambda: nn.MLP(2, [1], seed=0)(HUGE),
    "model(a short row)": lambda: nn.MLP(2, [1], seed=0)([HUGE]),
    "fit(y=...)": lambda: train.fit(nn.MLP(1, [1], seed=0), [[1.0], [2.0]], [0, HUGE]),
    "draw_dot": lambda: viz.draw_dot(HUGE),
    "draw_dot(max_nodes=...)": lambda: viz.draw_dot(Value(1.0), max_nodes=-HUGE),
    "draw_dot(rankdir=...)": lambda: viz.draw_dot(Value(1.0), rankdir=HUGE),
    "Explorer": lambda: Explorer(HUGE),
    "Explorer(wrt=...)": lambda: Explorer(Value(1.0) * 2, wrt=HUGE),
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_a_huge_integer_is_named_short(call) -> None:
    with pytest.raises((TypeError, ValueError)) as info:
        call()
    message = str(info.value)
    assert "0" * 100 not in message and "…" in message and len(message) < 400, message[:500]
