"""Exercises of lesson 1, derivatives by hand (notebooks/01_derivatives_by_hand).

* `check_tanh_derivative`: write d/dx tanh(x) as a function of x; checked against backprop
  through the engine's ``tanh`` and against central differences.
* `check_backward_by_hand`: fill in every gradient of a small graph (`backward_exercise_graph`),
  where one node is used twice; checked against ``backward()``.
* `check_tanh_from_exp`: write tanh with ``exp`` and arithmetic only; its values and gradients
  must be the engine's ``tanh``'s, and the graph it builds must compute tanh at other points too.

The oracles are the engine and `microgradlike.functional.numerical_grad`, evaluated before the
learner's code runs (an answer that patches ``Value.tanh`` cannot move them); no derivative is
written out here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from ..compile import trace
from ..engine import Value, topological_order
from ..functional import grad, numerical_grad
from . import Verdict
from .checking import attempt, checker, close, fmt, number, ops_used

__all__ = ["backward_exercise_graph", "check_backward_by_hand", "check_tanh_derivative",
           "check_tanh_from_exp"]

#: Where the tanh exercises are checked: both signs, 0, and past the bend.
POINTS = (-2.0, -0.7, 0.0, 0.3, 1.5)


def _tanh(x: Value) -> Value:
    return x.tanh()


# ---- exercise 1: tanh's local derivative --------------------------------------------------
TANH_DERIVATIVE = "tanh's local derivative"


@checker(TANH_DERIVATIVE)
def check_tanh_derivative(tanh_derivative: Callable[[float], float]) -> Verdict:
    """``tanh_derivative(x)`` must equal d tanh(x)/dx at every point of `POINTS`."""
    name = TANH_DERIVATIVE
    hint = ("tanh(x) = (eˣ − e⁻ˣ)/(eˣ + e⁻ˣ): differentiate it with the quotient rule, then write the "
            "result using tanh(x) itself (math.tanh)")
    # every reference first: the answer's code runs after them, so nothing it does can move them
    wanted = [(x, float(grad(_tanh)(x)[0]), numerical_grad(_tanh, [x])[0]) for x in POINTS]
    worst = 0.0
    for x, want, slope in wanted:
        result = attempt(name, tanh_derivative, x, hint=hint)
        if isinstance(result, Verdict):
            return result
        got = number(name, result, f"tanh_derivative({fmt(x)})", hint=hint)
        if isinstance(got, Verdict):
            return got
        if not close(got, want):
            return Verdict(name, False, f"at x = {fmt(x)} yours gives {fmt(got)}, but the slope of tanh "
                           f"there is {fmt(want)} (central differences: {fmt(slope)})", hint=hint)
        worst = max(worst, abs(got - want))
    return Verdict(name, True, f"matches backprop and central differences at x = "
                   f"{', '.join(map(fmt, POINTS))} (largest difference {worst:.1e})")


# ---- exercise 2: every gradient of a graph by hand -----------------------------------------
#: How each interior node of the exercise graph is computed, as the notebook shows it.
FORMULAS = {"e": "e = a × b", "d": "d = e + c", "L": "L = d × a"}
_LOCAL_RULES = {
    "*": "the local derivative of a product with respect to one factor is the other factor",
    "+": "the local derivative of a sum with respect to each term is 1",
}


def backward_exercise_graph() -> Value:
    """L = (a·b + c)·a with a = 2, b = −3, c = 10: every node labelled, every grad 0.

    Note that ``a`` is used twice (in e = a·b and in L = d·a)."""
    a, b, c = Value(2.0, label="a"), Value(-3.0, label="b"), Value(10.0, label="c")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    L = d * a
    L.label = "L"
    return L


def _users(root: Value) -> dict[str, list[Value]]:
    """For each node's label, the nodes that take it as an input (once per use)."""
    users: dict[str, list[Value]] = {}
    for node in topological_order(root):
        for child in node.children:
            users.setdefault(child.label, []).append(node)
    return users


def _backward_hint(node: Value, users: list[Value]) -> str:
    name = node.label
    if not users:
        return "∂L/∂L asks how much L moves when L itself is nudged by h"
    if len(users) > 1:
        names = " and ".join(u.label for u in users)
        return (f"{name} is used twice (by {names}): ∂L/∂{name} adds up one term per use, each "
                f"∂L/∂(user) · ∂(user)/∂{name}; keeping only one of them is the bug of overwriting")
    (user,) = users
    return (f"∂L/∂{name} = ∂L/∂{user.label} · ∂{user.label}/∂{name}, where {FORMULAS[user.label]}: "
            f"{_LOCAL_RULES[user.op]}")


BACKWARD_BY_HAND = "backward by hand"


@checker(BACKWARD_BY_HAND)
def check_backward_by_hand(grads: Mapping[str, float]) -> Verdict:
    """``grads`` maps each node of `backward_exercise_graph` ("L", "d", "e", "a", "b", "c") to
    ∂L/∂node; checked in backprop order (L first), so the first mistake is the one reported."""
    name = BACKWARD_BY_HAND
    root = backward_exercise_graph()
    order = list(reversed(topological_order(root)))  # L first: the order backprop fills them in
    labels = [node.label for node in order]
    if not isinstance(grads, Mapping):
        return Verdict(name, False, f"expected a dict of gradients {{'L': ..., 'd': ..., ...}}, got "
                       f"{type(grads).__name__}", hint=f"one entry per node: {', '.join(labels)}")
    root.backward()
    users = _users(root)
    for node in order:
        label = node.label
        if label not in grads:
            return Verdict(name, False, f"∂L/∂{label} is missing from your dict",
                           hint=f"one entry per node: {', '.join(labels)}")
        hint = _backward_hint(node, users.get(label, []))
        got = number(name, grads[label], f"your ∂L/∂{label}", hint=hint)
        if isinstance(got, Verdict):
            return got
        if not close(got, float(node.grad)):
            return Verdict(name, False, f"your ∂L/∂{label} = {fmt(got)} is not what backprop finds",
                           hint=hint)
    extra = sorted(set(map(str, grads)) - set(labels))
    note = f" (ignored keys not in the graph: {', '.join(extra)})" if extra else ""
    return Verdict(name, True, f"all {len(order)} gradients agree with L.backward(), ∂L/∂a "
                   f"summed over both uses{note}")


# ---- exercise 3: tanh from exp ----------------------------------------------------------------
_ARITHMETIC = {"+", "-", "*", "/", "**", "neg", "exp"}
_FROZEN_HINT = ("every number in your graph must come from x by Value operations: a number read from x.data "
                "(or from math.tanh) is a constant, frozen at the x the graph was built for")


TANH_FROM_EXP = "tanh from exp"


@checker(TANH_FROM_EXP)
def check_tanh_from_exp(my_tanh: Callable[[Value], Value]) -> Verdict:
    """``my_tanh(x)`` (a Value in, a Value out) built from exp and arithmetic only: its value and
    its gradient (by backprop through YOUR graph) must be the engine's tanh's at `POINTS`, and the
    graph built at one point, replayed at the others (`microgradlike.compile.trace`), must give
    tanh there too: a graph that only matches tanh at the point it was built for (a tangent line
    through it, say) is not tanh."""
    name = TANH_FROM_EXP
    hint = ("write the exercise's formula with operations on the Value x (its exp, then the fraction), "
            "and print your output next to x.tanh() to see where they part")
    # every reference first (tanh from math, slopes by backprop): the answer runs after them
    wanted = {x0: (math.tanh(x0), float(grad(_tanh)(x0)[0])) for x0 in POINTS}
    for x0, (want, slope) in wanted.items():
        x = Value(x0, label="x")
        out = attempt(name, my_tanh, x, hint=hint)
        if isinstance(out, Verdict):
            return out
        if not isinstance(out, Value):
            return Verdict(name, False, f"my_tanh(Value({fmt(x0)})) returned a {type(out).__name__}, "
                           f"which has no graph to backprop through", hint="compute with the Value x itself "
                           "(x.exp(), x * 2, …), not with math or numpy")
        used = ops_used(out)
        other = sorted(set(used) - _ARITHMETIC)
        if other:
            return Verdict(name, False, f"your graph uses {', '.join(other)}: only exp and + − × / ** are "
                           f"allowed here", hint=hint)
        if "exp" not in used:
            return Verdict(name, False, "your graph has no exp node", hint=hint)
        if not close(out.data, want, rtol=1e-9):
            return Verdict(name, False, f"at x = {fmt(x0)} yours gives {fmt(out.data)}, tanh gives "
                           f"{fmt(want)}", hint=hint)
        out.backward()
        if x.grad == 0.0 and slope != 0.0:
            return Verdict(name, False, f"at x = {fmt(x0)} backprop gives ∂out/∂x = 0: your result does not "
                           f"depend on the x you were given", hint="build the result from the argument x")
        if not close(float(x.grad), slope, rtol=1e-7):
            return Verdict(name, False, f"at x = {fmt(x0)} backprop through your graph gives {fmt(x.grad)}, "
                           f"through tanh {fmt(slope)}", hint=hint)
        tape = attempt(name, trace, my_tanh, x0, hint=hint, call=f"my_tanh(Value({fmt(x0)}))")
        if isinstance(tape, Verdict):
            return tape
        for x1, (want1, _) in wanted.items():
            got = tape(x1)
            if not close(got, want1, rtol=1e-9, atol=1e-12):
                return Verdict(name, False, f"the graph your function built at x = {fmt(x0)} matches tanh "
                               f"there only: replayed at x = {fmt(x1)} it gives {fmt(got)}, tanh gives "
                               f"{fmt(want1)}", hint=_FROZEN_HINT)
    return Verdict(name, True, f"same values and same gradients as x.tanh() at x = "
                   f"{', '.join(map(fmt, POINTS))}, and the same function between them: backprop does not "
                   f"care how tanh was written")
