"""Exercises of lesson 4, sigmoids (notebooks/04_sigmoids).

* `check_sigmoid_knobs`: choose w, b, c so that c·σ(b + w·x) FALLS from height 2 to 0, with its
  centre at x = 1 and slope −1 there (a unit with w < 0).
* `check_ramp`: build, from exactly two ``relu`` ops, the ramp that is 0 up to x = 1, climbs to
  3 at x = 2 and stays there (a hard sigmoid, stretched and scaled).
* `check_bends`: build the piecewise-linear curve through `BENDS_KNOTS` as a constant plus
  hard sigmoids placed at its corners, as the lecture does by hand.

The oracles are the engine (`SigmoidUnit`, backprop for slopes) and `microgradlike.nn.hard_sigmoid`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..engine import Value, no_grad
from ..functional import grad
from ..nn import SigmoidUnit, hard_sigmoid
from . import Verdict
from .checking import attempt, checker, close, fmt, number, ops_used

__all__ = ["BENDS_KNOTS", "check_bends", "check_ramp", "check_sigmoid_knobs"]

# ---- exercise 1: three knobs ------------------------------------------------------------------
#: The curve to make: it falls from HEIGHT (far left) to 0 (far right), centre CENTRE, slope SLOPE there.
HEIGHT, CENTRE, SLOPE = 2.0, 1.0, -1.0
_FAR = 60.0  # |x| where every sigmoid the exercise needs has reached its level


KNOBS = "three knobs"


@checker(KNOBS)
def check_sigmoid_knobs(w: float, b: float, c: float) -> Verdict:
    """c·σ(b + w·x) must fall from 2 to 0, be at half height at x = 1, with slope −1 there."""
    name = KNOBS
    knobs: dict[str, float] = {}
    for knob, value in (("w", w), ("b", b), ("c", c)):
        got = number(name, value, knob)
        if isinstance(got, Verdict):
            return got
        knobs[knob] = got
    unit = SigmoidUnit(knobs["w"], knobs["b"], knobs["c"])
    with no_grad():
        left, right, middle = (unit(x).data for x in (-_FAR, _FAR, CENTRE))
    shape = f"your curve goes from {fmt(left)} (far left) to {fmt(right)} (far right)"
    if not left > right:
        return Verdict(name, False, f"{shape}: it should fall", hint="the sign of w decides whether the "
                       "curve rises or falls (look at the w panel of the knobs picture)")
    if not (close(left, HEIGHT, atol=1e-6) and close(right, 0.0, atol=1e-6)):
        return Verdict(name, False, f"{shape}: it should fall from {fmt(HEIGHT)} to 0",
                       hint="c sets the height: the two far ends are 0 and c")
    if not close(middle, HEIGHT / 2, rtol=1e-6):
        centre = -knobs["b"] / knobs["w"]
        return Verdict(name, False, f"its centre (half height) is at x = {fmt(centre)}, not at "
                       f"x = {fmt(CENTRE)}", hint="the centre is where b + w·x = 0")
    slope = float(grad(lambda x: unit(x))(CENTRE)[0])
    if not close(slope, SLOPE, rtol=1e-6):
        return Verdict(name, False, f"its slope at the centre is {fmt(slope)}, not {fmt(SLOPE)}",
                       hint="at the centre σ' = σ·(1 − σ) = 1/4, so there dy/dx = c · w · 1/4; "
                       "change w and b together to keep the centre")
    return Verdict(name, True, f"c·σ(b + w·x) with w = {fmt(knobs['w'])}, b = {fmt(knobs['b'])}, "
                   f"c = {fmt(knobs['c'])} falls from 2 to 0 around x = 1 with slope −1")


# ---- shared: a piecewise-linear function built from relus ----------------------------------------
_PIECEWISE_OPS = {"+", "-", "*", "/", "neg", "relu"}


def _relu_curve(name: str, fn: object, xs: np.ndarray, hint: str) -> tuple[list[float], int] | Verdict:
    """``fn`` at every x (as Values), checked to be built from relus and arithmetic only; with the
    number of relu nodes one call makes."""
    values, relus = [], 0
    for x0 in xs:
        out = attempt(name, fn, Value(float(x0), label="x"), hint=hint)
        if isinstance(out, Verdict):
            return out
        if not isinstance(out, Value):
            return Verdict(name, False, f"{getattr(fn, '__name__', 'your function')}(Value({fmt(x0)})) "
                           f"returned a {type(out).__name__}, not a Value",
                           hint="compute with the Value x: x.relu(), hard_sigmoid(x), +, −, ×")
        used = ops_used(out)
        other = sorted(set(used) - _PIECEWISE_OPS)
        if other:
            return Verdict(name, False, f"your graph uses {', '.join(other)}: only relu "
                           f"(hard_sigmoid is two of them) and + − × / are allowed", hint=hint)
        values.append(out.data)
        relus = used["relu"]
    return values, relus


# ---- exercise 2: two ReLUs make a ramp -------------------------------------------------------------
_RAMP_XS = np.linspace(-1.0, 4.0, 21)  # through both corners, x = 1 and x = 2


RAMP = "two ReLUs make a ramp"


@checker(RAMP)
def check_ramp(ramp: Callable[[Value], Value]) -> Verdict:
    """``ramp(x)``, from exactly two relu ops: 0 for x ≤ 1, a straight climb to 3 at x = 2, then 3."""
    name = RAMP
    hint = "each relu makes one corner; the second one must cancel the first's slope"
    curve = _relu_curve(name, ramp, _RAMP_XS, hint)
    if isinstance(curve, Verdict):
        return curve
    got, relus = curve
    if relus != 2:
        return Verdict(name, False, f"your graph has {relus} relu node(s); use exactly two",
                       hint="2 个 ReLU 才能够合成一个 Hard Sigmoid: one relu per corner")
    for x0, y in zip(_RAMP_XS, got):
        want = 3 * float(hard_sigmoid(float(x0) - 1))
        if close(y, want, atol=1e-9):
            continue
        if x0 <= 1:
            where = "left of the first corner the ramp is 0: both relus must still be off there"
        elif x0 < 2:
            where = "between the corners it climbs from 0 to 3 over a width of 1: find the first relu's slope"
        else:
            where = "right of x = 2 the ramp is flat: the second relu must start there and cancel the slope"
        return Verdict(name, False, f"at x = {fmt(x0)} yours gives {fmt(y)}, the ramp is {fmt(want)}",
                       hint=where)
    return Verdict(name, True, f"equal to the ramp at all {len(_RAMP_XS)} points, corners included, "
                   f"with two relus")


# ---- exercise 3: the corners by hand --------------------------------------------------------------
#: The curve of exercise 3, through these (x, y) corners.
BENDS_KNOTS = ((-1.0, 1.0), (0.0, -1.0), (1.0, -1.0), (2.0, 1.0), (3.0, 1.5))
_BENDS_XS = np.linspace(BENDS_KNOTS[0][0], BENDS_KNOTS[-1][0], 41)


BENDS = "the corners by hand"


@checker(BENDS)
def check_bends(bends: Callable[[Value], Value]) -> Verdict:
    """``bends(x)`` must equal the piecewise-linear curve through `BENDS_KNOTS` between its first
    and last corner, built from hard sigmoids (relus) and arithmetic only."""
    name = BENDS
    hint = "a constant for the height at the left end, then one hard sigmoid per piece that climbs or falls"
    curve = _relu_curve(name, bends, _BENDS_XS, hint)
    if isinstance(curve, Verdict):
        return curve
    got, _ = curve
    kx, ky = np.array(BENDS_KNOTS).T
    want = np.interp(_BENDS_XS, kx, ky)
    for x0, y, target in zip(_BENDS_XS, got, want):
        if close(y, float(target), atol=1e-9):
            continue
        if x0 == kx[0]:
            where = "at the left end only the constant counts: every hard sigmoid is still 0 there"
        else:
            k = int(np.searchsorted(kx, x0)) - 1  # the piece that ends at or after x0
            lo, hi = kx[k], kx[k + 1]
            where = (f"the piece from x = {fmt(lo)} to x = {fmt(hi)} is off (or one before it): its hard "
                     f"sigmoid starts at the left corner, ends at the right one, and its height is how "
                     f"much y changes across the piece")
        return Verdict(name, False, f"at x = {fmt(x0)} yours gives {fmt(y)}, the curve is at {fmt(target)}",
                       hint=where)
    return Verdict(name, True, f"equal to the curve through the {len(BENDS_KNOTS)} corners at all "
                   f"{len(_BENDS_XS)} points: a constant plus hard sigmoids makes any such curve")
