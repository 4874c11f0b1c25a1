"""Lesson 6's checkers accept a correct solution and reject wrong ones with a hint that does not give
the answer away. The solutions live here, never in the notebooks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import microgradlike
from microgradlike import Value, numerical_grad
from microgradlike.exercises.efficiency import check_forward_mode_gradient, check_parameter_count


# ---- counting the parameters --------------------------------------------------------------------------
def count_right(nin, nouts):
    sizes = [nin, *nouts]
    return sum((a + 1) * b for a, b in itertools.pairwise(sizes))


def count_weights_only(nin, nouts):
    sizes = [nin, *nouts]
    return sum(a * b for a, b in itertools.pairwise(sizes))


def count_neurons(nin, nouts):
    return sum(nouts)


def test_the_parameter_count_is_accepted():
    verdict = check_parameter_count(count_right)
    assert verdict and "337 parameters" in str(verdict)


def test_a_whole_float_or_a_numpy_int_counts_as_the_lesson_7_checkers_count_them():
    assert check_parameter_count(lambda nin, nouts: float(count_right(nin, nouts)))  # 337.0 is 337
    assert check_parameter_count(lambda nin, nouts: np.int64(count_right(nin, nouts)))
    verdict = check_parameter_count(lambda nin, nouts: 10**400)
    assert not verdict and "401 digits" in verdict.message


@pytest.mark.parametrize(("solution", "words"), [
    (count_weights_only, "its bias"),
    (count_neurons, "number of neurons"),
    (lambda nin, nouts: 1.5, "whole number"),
    (lambda nin, nouts: 337.5, "whole number"),
    (lambda nin, nouts: True, "whole number"),
    (lambda nin, nouts: 7, "holds 337 parameters; yours says 7"),
])
def test_a_wrong_count_is_rejected_with_its_hint(solution, words):
    verdict = check_parameter_count(solution)
    assert not verdict and words in str(verdict)
    assert "+ 1" not in verdict.hint and "*" not in verdict.hint


# ---- the gradient by forward mode -------------------------------------------------------------------
jvp = getattr(microgradlike, "jvp", None)


@pytest.mark.skipif(jvp is None, reason="microgradlike.jvp (forward mode) is not merged yet")
def test_the_gradient_by_forward_mode_is_accepted():
    def gradient(f, xs):
        return [jvp(f, xs, [1.0 if j == i else 0.0 for j in range(len(xs))])[1] for i in range(len(xs))]

    verdict = check_forward_mode_gradient(gradient)
    assert verdict and "5 forward-mode passes" in str(verdict)


def one_pass_per_input(f, xs):
    """Right numbers from one evaluation of f per input, the count forward mode makes, each read
    for one entry, but by backward(): reverse mode five times over."""
    entries = []
    for i in range(len(xs)):
        leaves = [Value(x) for x in xs]
        f(*leaves).backward()
        entries.append(leaves[i].grad)
    return entries


def backward_then_clear(f, xs):
    """One evaluation, one backward(), and the grads cleared so that no trace is left."""
    leaves = [Value(x) for x in xs]
    out = f(*leaves)
    out.backward()
    grads = [leaf.grad for leaf in leaves]
    out.zero_grad()
    return grads


@pytest.mark.parametrize(("solution", "times"), [
    (one_pass_per_input, "ran 5 times"),
    (backward_then_clear, "ran once"),
])
def test_backward_is_reverse_mode_however_it_is_hidden(solution, times):
    verdict = check_forward_mode_gradient(solution)
    assert not verdict and "that is reverse mode" in verdict.message and times in verdict.message
    assert Value.backward.__name__ == "backward"  # the counting is undone


def one_graph_many_tangents(f, xs):
    """Forward mode on ONE recorded graph: a tangent pass per input, no backward()."""
    from microgradlike.forward import tangents

    leaves = [Value(x) for x in xs]
    out = f(*leaves)
    return [tangents(out, {leaf: 1.0})[out] for leaf in leaves]


def test_one_graph_with_a_tangent_pass_per_input_is_accepted():
    verdict = check_forward_mode_gradient(one_graph_many_tangents)
    assert verdict and "5 tangent passes" in str(verdict)


def by_backprop(f, xs):
    return microgradlike.grad(f)(*xs)


def by_gradients(f, xs):
    """Backprop that writes no .grad: one evaluation, one reverse pass, no trace left."""
    leaves = [Value(x) for x in xs]
    return microgradlike.gradients(f(*leaves), leaves)


def by_central_differences(f, xs):
    return numerical_grad(f, xs)


def wrong_direction(f, xs):
    """All-ones v each time: the sum of the partials, P times."""
    return [jvp(f, xs, [1.0] * len(xs))[1] for _ in xs] if jvp else [sum(by_backprop(f, xs))] * len(xs)


def too_many_passes(f, xs):
    """Five jvp passes per input: the right numbers from 25 evaluations of f."""
    entries = []
    for i in range(len(xs)):
        for _ in range(len(xs)):
            entry = jvp(f, xs, [1.0 if j == i else 0.0 for j in range(len(xs))])[1]
        entries.append(entry)
    return entries


@pytest.mark.parametrize(("solution", "words"), [
    (by_backprop, "ran once: that is reverse mode"),  # grad writes no .grad: its pass is counted
    (by_gradients, "ran once: that is reverse mode"),
    (by_central_differences, "central differences"),
    (wrong_direction, "Which v"),
    (too_many_passes, "evaluated 25 times"),
    (lambda f, xs: [0.0], "expected 5 numbers"),
    (lambda f, xs: None, "None"),  # the stub: not solved yet
])
def test_a_wrong_forward_mode_gradient_is_rejected_with_its_hint(solution, words):
    verdict = check_forward_mode_gradient(solution)
    assert not verdict and words in str(verdict)
    assert "[1.0 if" not in verdict.hint and "one-hot" not in verdict.hint
