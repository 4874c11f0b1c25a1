"""Lesson 3's exercise checkers accept a right answer and reject wrong ones with a hint that
does not give the answer away. The solutions live here, never in the notebook."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

import pytest

from microgradlike import grad
from microgradlike.exercises.descent import (
    VALLEY_START,
    check_descent_loop,
    check_learning_rate,
    check_update_rule,
    valley,
)


def rejected(verdict, *answers: str) -> bool:
    """The verdict fails, with a hint, and its hint holds none of the answers."""
    return not verdict and bool(verdict.hint) and not any(a in verdict.hint for a in answers)


# ---- the update rule ------------------------------------------------------------------------------
def update(w, dL_dw, lr):
    return w - lr * dL_dw


UPDATE_ANSWERS = ("w - lr", "w − η", "w - η", "θ − η", "- lr *", "−η·")


def test_the_update_rule_is_accepted():
    assert check_update_rule(update)


@pytest.mark.parametrize("wrong, why", [
    (lambda w, g, lr: w + lr * g, "uphill"),
    (lambda w, g, lr: w - g, "ignores η"),
    (lambda w, g, lr: w - lr * g if g else w - lr, "whatever η is"),  # moves where the slope is 0
    (lambda w, g, lr: w - lr * g * w, "η times it"),
], ids=["uphill", "no η", "always moves", "other"])
def test_a_wrong_update_rule_is_rejected_with_a_hint(wrong, why):
    verdict = check_update_rule(wrong)
    assert rejected(verdict, *UPDATE_ANSWERS), verdict
    assert why in verdict.hint


# ---- pick η --------------------------------------------------------------------------------------------
def test_a_learning_rate_that_descends_smoothly_is_accepted():
    # 3(w − 2)²: dL/dw = 6(w − 2), so w − 2 shrinks by (1 − 6η) each step: no jump for η ≤ 1/6,
    # and |1 − 6η|³⁰ · 18 < 1e-6 for η > 0.072.
    for lr in (0.08, 0.12, 1 / 6):
        assert check_learning_rate(lr), lr


@pytest.mark.parametrize("lr, why", [
    (0.01, "too small"),
    (0.07, "too small"),
    (0.2, "smaller η"),      # converges, zig-zagging
    (0.5, "far too large"),  # diverges
], ids=["crawl", "just too slow", "zig-zag", "diverges"])
def test_a_learning_rate_that_crawls_zigzags_or_diverges_is_rejected(lr, why):
    verdict = check_learning_rate(lr)
    assert rejected(verdict), verdict
    assert why in verdict.hint
    assert not re.search(r"\d", verdict.hint), "the hint gives no number: it must not give η away"


def test_what_the_checker_says_is_what_the_run_does():
    # the zig-zag verdict counts the slope's sign changes along the real run
    w, path = VALLEY_START, [VALLEY_START]
    for _ in range(5):
        w -= 0.2 * grad(valley)(w)[0]
        path.append(w)
    assert all((a - 2) * (b - 2) < 0 for a, b in itertools.pairwise(path))
    assert "jump over the bottom" in check_learning_rate(0.2).message


def test_a_learning_rate_that_is_not_a_positive_number_is_named():
    for bad in (..., "0.1", -0.1, 0.0, float("nan")):
        verdict = check_learning_rate(bad)
        assert not verdict and "positive number" in verdict.message


# ---- the loop ---------------------------------------------------------------------------------------
def descend(f, w0, lr, tol, max_steps):
    path = [w0]
    for _ in range(max_steps + 1):
        (slope,) = grad(f)(path[-1])
        if abs(slope) < tol or len(path) > max_steps:
            break
        path.append(path[-1] - lr * slope)
    return path


def test_the_descent_loop_is_accepted():
    verdict = check_descent_loop(descend)
    assert verdict, verdict


def no_tolerance(f, w0, lr, tol, max_steps):
    return descend(f, w0, lr, 0.0, max_steps)


def one_too_many(f, w0, lr, tol, max_steps):
    return descend(f, w0, lr, tol, max_steps + 1)


def without_start(f, w0, lr, tol, max_steps):
    return descend(f, w0, lr, tol, max_steps)[1:]


def uphill(f, w0, lr, tol, max_steps):
    return descend(f, w0, -lr, tol, max_steps)


@pytest.mark.parametrize("wrong, why", [
    (no_tolerance, "BEFORE each update"),
    (one_too_many, "max_steps counts updates"),
    (without_start, "starts with θ⁰"),
    (uphill, "update rule"),
    (lambda f, w0, lr, tol, max_steps: w0, "append every new w"),
], ids=["no tolerance", "max_steps off by one", "no θ⁰", "uphill", "a number"])
def test_a_wrong_loop_is_rejected_with_a_hint(wrong, why):
    verdict = check_descent_loop(wrong)
    assert rejected(verdict, *UPDATE_ANSWERS), verdict
    assert why in verdict.hint


class EndlessPath(Sequence):
    """The right θ⁰, θ¹, … and then the last one again, 10¹² entries in all."""

    def __init__(self, path):
        self.path = path

    def __len__(self):
        return 10**12

    def __getitem__(self, k):
        if not 0 <= k < len(self):
            raise IndexError(k)
        return self.path[min(k, len(self.path) - 1)]


def test_a_huge_sequence_is_not_read_to_the_end():
    verdict = check_descent_loop(lambda f, w0, lr, tol, max_steps: range(10**12))
    assert not verdict and "θ¹ is 1.0" in verdict.message  # compared entry by entry, from the start
    verdict = check_descent_loop(lambda f, *args: EndlessPath(descend(f, *args)))
    assert not verdict and "more than 70 updates" in verdict.message


def test_a_learning_rate_too_large_for_a_float_is_named():
    verdict = check_learning_rate(10**400)
    assert not verdict and "positive number" in verdict.message and "401 digits" in verdict.message
