"""Checkers for lesson 6, why backprop is efficient (反向传播 — 比较有效率、算梯度的方法).

* `check_parameter_count`: P, the number of parameters of an MLP, which is how many forward-mode
  passes (and half the number of central-difference evaluations) its gradient costs.
* `check_forward_mode_gradient`: the whole gradient from forward-mode passes, one `jvp` per
  parameter, with the number of evaluations of f counted.

Oracles: the `MLP` itself (its parameter list) and backprop (`grad`). Hints never give the code.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..checks import short
from ..derivatives import reverse_passes
from ..engine import Value
from ..functional import grad
from ..nn import MLP
from . import Verdict
from .checking import as_floats, attempt, checker, same_numbers, whole_number

__all__ = ["check_forward_mode_gradient", "check_parameter_count"]


# ---- how many parameters ------------------------------------------------------------------------------
COUNT = "counting the parameters"
_COUNT_HINT = "count one neuron first: how many weights does it hold for its inputs, and what else?"
_SHAPES = ((2, [16, 16, 1]), (1, [3, 1]), (3, [5, 4, 2]), (10, [1]))


@checker(COUNT)
def check_parameter_count(count: Callable[[int, Sequence[int]], int]) -> Verdict:
    """``count(nin, nouts)``: how many parameters ``MLP(nin, nouts)`` holds (every weight and every
    bias), a whole number (337.0 counts as 337). Checked against ``len(MLP(nin, nouts).parameters())``
    on a few shapes."""
    expected_counts = [len(MLP(nin, nouts, seed=0).parameters()) for nin, nouts in _SHAPES]
    for (nin, nouts), expected in zip(_SHAPES, expected_counts):
        answer = attempt(COUNT, count, nin, list(nouts), hint=_COUNT_HINT)
        if isinstance(answer, Verdict):
            return answer
        result = whole_number(COUNT, answer, "a whole number", _COUNT_HINT)
        if isinstance(result, Verdict):
            return result
        if result == expected:
            continue
        sizes = [nin, *nouts]
        weights = sum(a * b for a, b in itertools.pairwise(sizes))
        if result == weights:
            hint = "you counted the weights: every neuron also has one more parameter, its bias"
        elif result == sum(nouts):
            hint = "that is the number of neurons; each holds several parameters"
        else:
            hint = _COUNT_HINT
        return Verdict(COUNT, False, f"MLP({nin}, {nouts}) holds {expected} parameters; yours says "
                                     f"{short(result, 40)}", hint)
    return Verdict(COUNT, True, f"right on every shape: MLP(2, [16, 16, 1]) holds {expected_counts[0]} "
                                f"parameters")


# ---- the gradient by forward mode -----------------------------------------------------------------------
FORWARD_MODE = "the gradient by forward mode"
_FORWARD_MODE_HINT = ("jvp(f, xs, v) gives one number, ∇f·v: the slope of f along the direction v. "
                      "Which v makes that slope ∂f/∂xᵢ alone?")


def _neuron_loss(w0: Value, w1: Value, w2: Value, b: Value, c: Value) -> Value:
    """A small loss of five parameters: a tanh neuron on two points, scaled by c, against targets."""
    out1 = (w0 * 0.5 + w1 * -1.0 + w2 * 2.0 + b).tanh() * c
    out2 = (w0 * -1.5 + w1 * 0.3 + w2 * 0.1 + b).tanh() * c
    return (out1 - 0.4) ** 2 + (out2 + 0.7) ** 2


@contextlib.contextmanager
def _backward_calls() -> Iterator[list[Value]]:
    """The outputs of the reverse passes run while the block runs: ``backward()`` (or its stepper)
    called on them, or `derivatives.gradients`, which ``grad`` uses and which leaves no trace in any
    ``.grad`` (nor does a backward pass once its grads are cleared): so each is counted as it runs."""
    calls: list[Value] = []
    originals = {name: getattr(Value, name) for name in ("backward", "backward_steps")}

    def counted(name: str) -> Callable[..., Any]:
        def method(self: Value, *args: Any, **kwargs: Any) -> Any:
            calls.append(self)
            before = len(passes)
            try:
                return originals[name](self, *args, **kwargs)
            finally:
                del passes[before:]  # backward(create_graph=True) runs gradients': one pass, not two

        return method

    for name in originals:
        setattr(Value, name, counted(name))
    try:
        with reverse_passes() as passes:
            yield calls
            calls += passes
    finally:
        for name, method in originals.items():
            setattr(Value, name, method)


@checker(FORWARD_MODE)
def check_forward_mode_gradient(gradient: Callable[[Callable[..., Value], list[float]], Any]) -> Verdict:
    """``gradient(f, xs)``: the gradient of f at xs, built from forward-mode passes
    (``microgradlike.jvp(f, xs, v)``, one per input). Checked against backprop's gradient, with
    the evaluations of f counted: forward mode needs one per input, P in all; one evaluation
    followed by a tangent pass per input counts too, but not when a backward pass ran."""
    xs = [0.3, -0.8, 0.5, 0.1, 1.2]
    expected = [float(g) for g in grad(_neuron_loss)(*xs)]
    calls = 0
    inputs: list[Value] = []

    def f(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        inputs.extend(a for a in args if isinstance(a, Value))
        return _neuron_loss(*args)

    with _backward_calls() as reverse:
        result = attempt(FORWARD_MODE, gradient, f, list(xs), hint=_FORWARD_MODE_HINT)
    if isinstance(result, Verdict):
        return result
    found = as_floats(result)
    p = len(xs)
    if found is None or len(found) != p:
        return Verdict(FORWARD_MODE, False, f"expected {p} numbers (one per input), got {short(result)}",
                       _FORWARD_MODE_HINT)
    if not same_numbers(found, expected, rtol=1e-6, atol=1e-8):
        if any(math.isnan(g) for g in found):
            return Verdict(FORWARD_MODE, False, f"your gradient holds nan: {short(found)}",
                           _FORWARD_MODE_HINT)
        return Verdict(FORWARD_MODE, False, f"∇f should be {[round(g, 6) for g in expected]}; yours is "
                                            f"{[round(g, 6) for g in found]}", _FORWARD_MODE_HINT)
    if reverse:
        times = "once" if len(reverse) == 1 else f"{len(reverse)} times"
        return Verdict(FORWARD_MODE, False, f"the right gradient, but a backward pass (backward() or grad) "
                                            f"ran {times}: that is reverse mode (backprop), not forward "
                                            f"mode, even with the grads cleared afterwards",
                       _FORWARD_MODE_HINT)
    if calls == p:
        return Verdict(FORWARD_MODE, True, f"the right gradient from {p} forward-mode passes, one per input "
                                           f"(backprop needs one forward and one backward)")
    if calls == 1 and not any(x.grad for x in inputs):
        # one graph, then one tangent pass per input over its recorded local derivatives (as
        # microgradlike.forward.tangents does): forward mode too, and no backward() ran
        return Verdict(FORWARD_MODE, True, f"the right gradient from one forward pass and {p} tangent passes "
                                           f"over its local derivatives, one per input")
    if calls == 1:
        return Verdict(FORWARD_MODE, False, "the right gradient, from ONE evaluation of f: that is "
                                            "reverse mode (backprop), not forward mode", _FORWARD_MODE_HINT)
    if calls == 2 * p:
        return Verdict(FORWARD_MODE, False, f"the right gradient, from {calls} evaluations of f = 2P: "
                                            f"that is central differences, not forward mode",
                       _FORWARD_MODE_HINT)
    return Verdict(FORWARD_MODE, False, f"the right gradient, but f was evaluated {calls} times for {p} "
                                        f"inputs",
                   "forward mode needs one pass per input: does anything evaluate f more often than that?")
