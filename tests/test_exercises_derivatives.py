"""Lesson 1's exercise checkers accept a right answer and reject wrong ones with a hint that
does not give the answer away. The solutions live here, never in the notebook."""

from __future__ import annotations

import math

import pytest

from microgradlike import Value
from microgradlike.exercises.derivatives import (
    backward_exercise_graph,
    check_backward_by_hand,
    check_tanh_derivative,
    check_tanh_from_exp,
)


def rejected(verdict, *answers: str) -> bool:
    """The verdict fails, with a hint, and neither its hint nor its message holds an answer."""
    text = verdict.hint + " " + verdict.message
    return not verdict and bool(verdict.hint) and not any(a in text for a in answers)


# ---- tanh's local derivative -------------------------------------------------------------------
def tanh_derivative(x):
    return 1 - math.tanh(x) ** 2


TANH_ANSWERS = ("1 - tanh", "1 − tanh", "tanh(x)**2", "tanh(x) ** 2", "tanh²", "sech", "cosh")


def test_the_right_tanh_derivative_is_accepted():
    verdict = check_tanh_derivative(tanh_derivative)
    assert verdict, verdict
    assert verdict.message.startswith("matches backprop")


@pytest.mark.parametrize("wrong", [
    math.tanh,                                  # the function, not its slope
    lambda x: 1 - math.tanh(x),                 # forgot the square
    lambda x: 1 + math.tanh(x) ** 2,            # wrong sign
    lambda x: 2 * x,                            # a slope, of another function
], ids=["tanh itself", "no square", "plus", "other function"])
def test_a_wrong_tanh_derivative_is_rejected_with_a_hint(wrong):
    verdict = check_tanh_derivative(wrong)
    assert rejected(verdict, *TANH_ANSWERS), verdict
    assert "yours gives" in verdict.message


def test_a_stub_a_crash_or_a_non_number_is_a_verdict_not_a_traceback():
    def stub(x): ...

    def crash(x):
        return 1 / 0

    assert "not written yet" in check_tanh_derivative(stub).message
    assert "ZeroDivisionError" in check_tanh_derivative(crash).message
    assert "should be a number" in check_tanh_derivative(lambda x: "0.5").message
    assert "expected a function" in check_tanh_derivative(0.5).message


def test_a_value_result_counts_by_its_data():
    assert check_tanh_derivative(lambda x: 1 - Value(x).tanh() ** 2)


# ---- backward by hand ------------------------------------------------------------------------------
# L = (a·b + c)·a with a = 2, b = −3, c = 10: e = −6, d = 4, L = 8.
BY_HAND = {"L": 1.0, "d": 2.0, "e": 2.0, "c": 2.0, "b": 4.0, "a": -2.0}


def test_the_exercise_graph_is_the_one_the_solution_is_for():
    L = backward_exercise_graph()
    assert L.data == 8.0 and L.label == "L"
    assert all(v.grad == 0.0 for v in (L, *L.children))


def test_the_right_gradients_are_accepted():
    assert check_backward_by_hand(BY_HAND)


def test_overwriting_instead_of_adding_is_caught_with_the_reason():
    for one_use in (-6.0, 4.0):  # through e only, or through L only
        verdict = check_backward_by_hand({**BY_HAND, "a": one_use})
        assert rejected(verdict, "-2", "−2"), verdict
        assert "used twice" in verdict.hint and "∂L/∂a" in verdict.message


def test_a_wrong_gradient_upstream_is_reported_first_with_the_local_rule():
    verdict = check_backward_by_hand({**BY_HAND, "e": 1.0, "b": 0.0})  # e wrong (and b too)
    assert rejected(verdict, "2.0"), verdict
    assert "∂L/∂e" in verdict.message and "sum" in verdict.hint


def test_a_missing_node_or_a_non_dict_is_named():
    partial = {k: v for k, v in BY_HAND.items() if k != "c"}
    assert "∂L/∂c is missing" in check_backward_by_hand(partial).message
    assert not check_backward_by_hand([1.0, 2.0])


# ---- tanh from exp -----------------------------------------------------------------------------------
def my_tanh(x):
    e2x = (2 * x).exp()
    return (e2x - 1) / (e2x + 1)


def test_tanh_written_from_exp_is_accepted():
    verdict = check_tanh_from_exp(my_tanh)
    assert verdict, verdict


@pytest.mark.parametrize("wrong, why", [
    (lambda x: x.tanh(), "uses tanh"),
    (lambda x: ((2 * x).exp() - 1) / ((2 * x).exp() + 2), "yours gives"),
    (lambda x: Value(math.tanh(x.data)), "no exp"),
    (lambda x: math.tanh(x.data), "no graph"),
    (lambda x: (Value(2 * x.data).exp() - 1) / (Value(2 * x.data).exp() + 1), "does not depend"),
], ids=["the op itself", "wrong formula", "a leaf", "a float", "cut from x"])
def test_a_wrong_tanh_from_exp_is_rejected_with_a_hint(wrong, why):
    verdict = check_tanh_from_exp(wrong)
    assert rejected(verdict, "e²ˣ − 1", "(e2x - 1)", "e^(2x)"), verdict
    assert why in verdict.message


# ---- answers that reach for the reference ---------------------------------------------------------------
def tangent_line_through_the_point(x):
    """Right value and right slope at x.data, from a line frozen there: not tanh."""
    t = math.tanh(x.data)
    return x.exp() * 0 + t + (x - x.data) * (1 - t * t)


def test_a_tangent_line_through_the_point_is_not_tanh():
    verdict = check_tanh_from_exp(tangent_line_through_the_point)
    assert rejected(verdict, "e²ˣ − 1", "(e2x - 1)", "e^(2x)"), verdict
    assert "matches tanh there only" in verdict.message and "frozen" in verdict.hint


def test_an_answer_that_patches_tanh_cannot_move_the_reference_and_is_undone(monkeypatch):
    original = Value.tanh
    monkeypatch.setattr(Value, "tanh", original)  # put back after the test, whatever the checker does

    def patches_the_engine(x):
        Value.tanh = lambda self: self * 0.5  # the engine's tanh would then have slope 0.5 everywhere
        return 0.5

    verdict = check_tanh_derivative(patches_the_engine)
    assert not verdict and "yours gives 0.5" in verdict.message, verdict
    assert Value.tanh is original
    assert check_tanh_derivative(tanh_derivative)


def test_a_number_too_large_for_a_float_is_a_verdict():
    verdict = check_tanh_derivative(lambda x: 10**400)
    assert not verdict and "401 digits" in verdict.message and "finite number" in verdict.message
    verdict = check_backward_by_hand({**BY_HAND, "d": 10**400})
    assert not verdict and "∂L/∂d" in verdict.message
