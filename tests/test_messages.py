"""An error message names the bad value, cut short by `checks.short`: a 400-digit integer passed
anywhere is shown as its first digits and its length (or inside a list cut to 60 characters),
never in full."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from microgradlike import Value, checks, data, dot, grad, jvp, losses, nn, numerical_grad, optim, train, viz
from microgradlike.compile import trace
from microgradlike.explorer import Explorer
from microgradlike.expression import parse_expression

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


# ---- one rule for a real number, in one wording --------------------------------------------------
def _params() -> list[Value]:
    return [Value(1.0)]


NAN = float("nan")
ONE_WORDING = {
    "Value": (lambda: Value("a"), TypeError, "the data of a Value must be a real number, got str: 'a'"),
    "dot": (lambda: dot([Value(1.0)], [NAN]), ValueError, "input 0 of dot must be a real number, got nan"),
    "an op": (lambda: Value(1.0) / NAN, ValueError, "the number in / must be a real number, got nan"),
    "SGD(lr=)": (lambda: optim.SGD(_params(), lr=NAN), ValueError, "lr must be a real number, got nan"),
    "SGD(momentum=)": (lambda: optim.SGD(_params(), momentum="a"), TypeError,
                       "momentum must be a real number, got str: 'a'"),
    "Adam(betas=)": (lambda: optim.Adam(_params(), betas=(NAN, 0.9)), ValueError,
                     "beta1 must be a real number, got nan"),
    "grad": (lambda: grad(lambda a, b: a * b)(1.0, NAN), ValueError,
             "argument 1 must be a real number, got nan"),
    "jvp": (lambda: jvp(lambda a: a, [1.0], [float("inf")]), ValueError,
            "entry 0 of the direction v must be a finite real number, got inf"),
    "numerical_grad(eps=)": (lambda: numerical_grad(lambda a: a, [1.0], eps="a"), TypeError,
                             "eps must be a finite real number, got str: 'a'"),
    "trace": (lambda: trace(lambda x: x * 2, NAN), ValueError, "x must be a real number, got nan"),
    "a traced tape": (lambda: trace(lambda x: x * 2, 1.0)(np.array([1.0, NAN])), ValueError,
                      "x[1] must be a real number, got nan"),
    "parse_expression": (lambda: parse_expression("x * 2", {"x": NAN}), ValueError,
                         "binding 'x' must be a real number, got nan"),
    "make_moons(noise=)": (lambda: data.make_moons(noise=NAN), ValueError,
                           "noise must be a finite real number, got nan"),
    "load_state_dict": (lambda: nn.Neuron(1, seed=0).load_state_dict({"w.0": 1.0, "b": NAN}), ValueError,
                        "parameter b must be a finite real number, got nan"),
}


@pytest.mark.parametrize(("call", "error", "message"), ONE_WORDING.values(), ids=ONE_WORDING.keys())
def test_every_check_on_a_number_says_it_in_one_wording(call, error, message) -> None:
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)


def test_messages_are_cut_by_one_rule() -> None:
    """`checks.cut` is the one place a text is cut for a message: no module cuts its own."""
    package = Path(checks.__file__).parent
    cutters = [f"{path.name}:{n}" for path in sorted(package.rglob("*.py")) if path.name != "checks.py"
               for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
               if "characters)" in line or re.search(r"\[:\w+ - 1\]", line)]
    assert cutters == []
    assert checks.cut("x" * 500, 100) == "x" * 99 + "… (500 characters)"
    assert checks.first_few([f"w{i}" for i in range(8)]) == "w0, w1, w2, w3, w4 and 3 more"
