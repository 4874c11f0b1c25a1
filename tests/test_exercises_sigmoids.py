"""Lesson 4's exercise checkers accept a right answer and reject wrong ones with a hint that
does not give the answer away. The solutions live here, never in the notebook."""

from __future__ import annotations

import pytest

from microgradlike.exercises.sigmoids import BENDS_KNOTS, check_bends, check_ramp, check_sigmoid_knobs
from microgradlike.nn import hard_sigmoid


def rejected(verdict, *answers: str) -> bool:
    """The verdict fails, with a hint, and its hint holds none of the answers."""
    return not verdict and bool(verdict.hint) and not any(a in verdict.hint for a in answers)


# ---- three knobs: falls from 2 to 0, centre 1, slope −1 there ---------------------------------------
# slope at the centre = c·w/4 = −1 with c = 2 → w = −2; centre −b/w = 1 → b = 2.
KNOBS = (-2.0, 2.0, 2.0)
KNOB_ANSWERS = ("-2", "−2", "w = ", "b = 2", "w < 0", "negative")


def test_the_right_knobs_are_accepted():
    verdict = check_sigmoid_knobs(*KNOBS)
    assert verdict, verdict


@pytest.mark.parametrize("knobs, why", [
    ((2.0, -2.0, 2.0), "rises or falls"),     # rises
    ((-2.0, 2.0, 1.0), "height"),             # too low
    ((-2.0, 1.0, 2.0), "b + w·x = 0"),        # centre at 0.5
    ((-1.0, 1.0, 2.0), "c · w"),              # right centre, too gentle
    ((0.0, 0.0, 2.0), "rises or falls"),      # flat
], ids=["rises", "height", "centre", "slope", "flat"])
def test_wrong_knobs_are_rejected_with_a_hint(knobs, why):
    verdict = check_sigmoid_knobs(*knobs)
    assert rejected(verdict, *KNOB_ANSWERS), verdict
    assert why in verdict.hint


def test_knobs_not_filled_in_are_named():
    verdict = check_sigmoid_knobs(..., ..., ...)
    assert not verdict and "not written yet" in verdict.message
    assert "should be a number" in check_sigmoid_knobs("-2", 2, 2).message


# ---- two ReLUs make a ramp -------------------------------------------------------------------------
def ramp(x):
    return 3 * ((x - 1).relu() - (x - 2).relu())


RAMP_ANSWERS = ("x - 1", "x − 1", "x - 2", "x − 2", "3 *", "3·relu")


def test_the_ramp_from_two_relus_is_accepted():
    verdict = check_ramp(ramp)
    assert verdict, verdict


@pytest.mark.parametrize("wrong, why", [
    (lambda x: 3 * (x - 1).relu(), "one relu per corner"),
    (lambda x: 3 * ((x - 1).relu() - (x - 2.5).relu()), "right of x = 2"),
    (lambda x: (x - 1).relu() - (x - 2).relu(), "between the corners"),
    (lambda x: 3 * (x.relu() - (x - 1).relu()), "left of the first corner"),
    (lambda x: 3 * hard_sigmoid(x - 1) + 0 * x.sigmoid(), "only relu"),
], ids=["one relu", "late second corner", "too low", "shifted", "a sigmoid"])
def test_a_wrong_ramp_is_rejected_with_a_hint(wrong, why):
    verdict = check_ramp(wrong)
    assert rejected(verdict, *RAMP_ANSWERS), verdict
    assert why in verdict.hint + verdict.message


def test_a_ramp_of_floats_is_refused():
    verdict = check_ramp(lambda x: 3 * min(max(x.data - 1, 0), 1))
    assert not verdict and "not a Value" in verdict.message


# ---- the corners by hand -----------------------------------------------------------------------------
def bends(x):
    (_, y0), *rest = BENDS_KNOTS
    out = y0 + 0 * x
    for (xa, ya), (xb, yb) in zip(BENDS_KNOTS, rest):
        out = out + (yb - ya) * hard_sigmoid((x - xa) / (xb - xa))
    return out


def test_the_curve_built_from_hard_sigmoids_at_the_corners_is_accepted():
    verdict = check_bends(bends)
    assert verdict, verdict


def test_a_wrong_piece_is_named_without_its_height():
    def one_wrong(x):
        return bends(x) + 0.5 * hard_sigmoid(x - 2)  # the piece from 2 to 3 climbs 0.5, not 1

    verdict = check_bends(one_wrong)
    assert rejected(verdict, "0.5", "1.5"), verdict
    assert "from x = 2.0 to x = 3.0" in verdict.hint


def test_a_missing_constant_is_caught_at_the_left_end():
    verdict = check_bends(lambda x: bends(x) - BENDS_KNOTS[0][1])
    assert rejected(verdict), verdict
    assert "constant" in verdict.hint


def test_smooth_sigmoids_are_not_hard_sigmoids():
    verdict = check_bends(lambda x: bends(x) + 0 * x.tanh())
    assert not verdict and "tanh" in verdict.message
