"""Exercises of lesson 3, gradient descent (notebooks/03_gradient_descent).

* `check_update_rule`: write one step of gradient descent, ``update(w, dL_dw, lr) -> new w``.
* `check_learning_rate`: pick η for the curve `valley` so that descent from `VALLEY_START`
  stops by the tolerance within `VALLEY_STEPS` steps, without jumping over the bottom.
* `check_descent_loop`: write the whole loop with its tolerance (容忍阈值),
  ``descend(f, w0, lr, tol, max_steps) -> [θ⁰, θ¹, …]``.

The oracle is `microgradlike.train.gradient_descent` itself (and backprop for the slopes).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

from ..checks import short
from ..engine import Value
from ..functional import grad
from ..train import gradient_descent
from . import Verdict
from .checking import attempt, checker, close, fmt, number, real

__all__ = ["VALLEY_START", "VALLEY_STEPS", "VALLEY_TOL", "check_descent_loop", "check_learning_rate",
           "check_update_rule", "valley"]


# ---- exercise 1: the update rule ------------------------------------------------------------
#: (w, dL/dw, η): a positive slope, a negative one, and a flat spot with a huge η.
_UPDATES = ((5.0, 2.4, 0.1), (-1.0, -3.0, 0.05), (0.5, 0.0, 10.0), (2.0, 7.5, 0.01))


def _one_step(w: float, slope: float, lr: float) -> float:
    """What `gradient_descent` does in one step from w on a line whose slope is ``slope``."""
    run = gradient_descent(lambda v: v * slope, w, lr=lr, tol=0.0, max_steps=1)
    return run.trajectory[1]


UPDATE_RULE = "the update rule"


@checker(UPDATE_RULE)
def check_update_rule(update: Callable[[float, float, float], float]) -> Verdict:
    """``update(w, dL_dw, lr)`` must return the w one gradient-descent step later."""
    name = UPDATE_RULE
    hint = "the gradient points uphill (梯度指向损失增长最快的方向); a step is η times it, the other way"
    wanted = [_one_step(w, slope, lr) for w, slope, lr in _UPDATES]  # before the answer runs
    for (w, slope, lr), want in zip(_UPDATES, wanted):
        result = attempt(name, update, w, slope, lr, hint=hint)
        if isinstance(result, Verdict):
            return result
        call = f"update({fmt(w)}, {fmt(slope)}, {fmt(lr)})"
        got = number(name, result, call, hint=hint)
        if isinstance(got, Verdict):
            return got
        if close(got, want, rtol=1e-12):
            continue
        if slope != 0 and close(got, w + lr * slope, rtol=1e-12):
            why = ("your step went uphill: with a positive dL/dw the loss grows to the right, so descent "
                   "must move w the other way (梯度正 → w 变小)")
        elif slope != 0 and close(got, w - slope, rtol=1e-12):
            why = "your step ignores η: the learning rate (学习率) scales how far each step goes"
        elif slope == 0:
            why = "where dL/dw = 0 nothing should move, whatever η is (η × 0 = 0)"
        else:
            why = hint
        return Verdict(name, False, f"{call} gives {fmt(got)}, which is not one descent step from "
                       f"w = {fmt(w)}", hint=why)
    return Verdict(name, True, f"right for positive, negative and zero slopes ({len(_UPDATES)} cases)")


# ---- exercise 2: pick η for a curve ---------------------------------------------------------------
VALLEY_START = -1.0
VALLEY_TOL = 1e-6
VALLEY_STEPS = 30


def valley(w: Value) -> Value:
    """The exercise's curve: L(w) = 3·(w − 2)²."""
    return 3 * (w - 2) ** 2


def _jumps(trajectory: Sequence[float]) -> int:
    """How many steps landed on the other side of the bottom: dL/dw changed sign."""
    slopes = [float(grad(valley)(w)[0]) for w in trajectory]
    return sum(1 for g0, g1 in itertools.pairwise(slopes) if g0 * g1 < 0)


PICK_LR = "pick η"


@checker(PICK_LR)
def check_learning_rate(lr: float) -> Verdict:
    """η for `valley`: from w = `VALLEY_START`, descent must stop by the tolerance `VALLEY_TOL`
    within `VALLEY_STEPS` steps, and no step may jump over the bottom."""
    name = PICK_LR
    value = real(lr)
    if value is None or not 0 < value < math.inf:
        return Verdict(name, False, f"η must be a positive number, got {short(lr, 40)}",
                       hint="replace the `...` with a number such as 0.01")
    run = gradient_descent(valley, VALLEY_START, lr=value, tol=VALLEY_TOL, max_steps=VALLEY_STEPS)
    steps = len(run.trajectory) - 1
    if run.stopped_because == "diverged" or run.values[-1] > run.values[0]:
        return Verdict(name, False, f"with η = {fmt(value)} descent diverges: L went from "
                       f"{fmt(run.values[0])} to {fmt(run.values[-1])} in {steps} steps",
                       hint="each step lands further up the other wall than the last: η is far too large")
    jumps = _jumps(run.trajectory)
    if jumps:
        ending = ("stops by the tolerance" if run.stopped_because == "tolerance"
                  else f"is still going after {steps} steps")
        return Verdict(name, False, f"with η = {fmt(value)} descent {ending}, but {jumps} of its steps "
                       f"jump over the bottom (it zig-zags)", hint="a somewhat smaller η lands each step "
                       "on the same side of the bottom")
    if run.stopped_because != "tolerance":
        return Verdict(name, False, f"with η = {fmt(value)}, after {steps} steps |dL/dw| is still "
                       f"{fmt(run.grad_norms[-1])}, above the tolerance {fmt(VALLEY_TOL)}",
                       hint="the steps are too small to get there in time: try a larger η")
    return Verdict(name, True, f"η = {fmt(value)}: stopped by the tolerance after {steps} steps, every step "
                   f"on the same side of the bottom (w = {fmt(run.trajectory[-1])})")


# ---- exercise 3: the loop, with a tolerance ---------------------------------------------------------
def _bowl(w: Value) -> Value:
    return (w - 3) ** 2


#: (what the case shows, f, w0, lr, tol, max_steps)
_LOOPS = (
    ("a run that stops by the tolerance", _bowl, 0.0, 0.1, 1e-6, 1000),
    ("a run cut off by max_steps", _bowl, 0.0, 0.001, 1e-6, 25),
    ("a start where the slope is already 0", _bowl, 3.0, 0.5, 1e-6, 100),
)


DESCENT_LOOP = "the descent loop"


@checker(DESCENT_LOOP)
def check_descent_loop(descend: Callable[..., Sequence[float]]) -> Verdict:
    """``descend(f, w0, lr, tol, max_steps)`` must return θ⁰ = w0, θ¹, … as `gradient_descent`
    does: stop before the update at a θ where |dL/dw| < tol, or after max_steps updates."""
    name = DESCENT_LOOP
    wanted = [gradient_descent(f, w0, lr=lr, tol=tol, max_steps=max_steps).trajectory
              for _, f, w0, lr, tol, max_steps in _LOOPS]  # before the answer runs
    for (what, f, w0, lr, tol, max_steps), want in zip(_LOOPS, wanted):
        call = f"descend(f, {fmt(w0)}, {fmt(lr)}, {fmt(tol)}, {max_steps})"
        result = attempt(name, descend, f, w0, lr, tol, max_steps, call=call,
                         hint="compute the slope with grad(f)(w)[0]")
        if isinstance(result, Verdict):
            return result
        if isinstance(result, str) or not isinstance(result, Sequence):
            return Verdict(name, False, f"{call} returned a {type(result).__name__}; it should return the "
                           f"list [θ⁰, θ¹, …]", hint="start with path = [w0] and append every new w")
        got = []
        # read one entry past the right length at most: a list that goes on is too long already
        for k, item in enumerate(itertools.islice(result, len(want) + 1)):
            value = number(name, item, f"θ{_superscript(k)} in the list of {call}")
            if isinstance(value, Verdict):
                return value
            got.append(value)
        for k, (g, w) in enumerate(zip(got, want)):
            if not close(g, w, rtol=1e-9):
                hint = ("the list starts with θ⁰, the starting w itself" if k == 0 else
                        "each θ is one step of your update rule (exercise 1) from the one before, using "
                        "the slope at the one before")
                return Verdict(name, False, f"{what}: θ{_superscript(k)} is {fmt(g)}, not {fmt(w)}",
                               hint=hint)
        if len(got) > len(want):
            hint = ("check |dL/dw| < tol BEFORE each update and stop there" if len(want) <= max_steps
                    else "max_steps counts updates: after that many, stop")
            return Verdict(name, False, f"{what}: your loop made more than {len(want) - 1} updates; it "
                           f"should stop after {len(want) - 1}", hint=hint)
        if len(got) < len(want):
            return Verdict(name, False, f"{what}: your loop stopped after {len(got) - 1} updates; it should "
                           f"go on to {len(want) - 1}", hint="stop only when |dL/dw| < tol, or after "
                           "max_steps updates")
    return Verdict(name, True, f"the same θ⁰, θ¹, … as gradient_descent in all {len(_LOOPS)} cases "
                   f"({', '.join(case[0] for case in _LOOPS)})")


def _superscript(k: int) -> str:
    return str(k).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
