"""Lessons 7 and 8's checkers accept a correct solution and reject wrong ones with a hint that does not give
the answer away. The solutions live here, never in the notebooks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from microgradlike.exercises.training import (
    check_linear_collapse,
    check_minibatch_epoch,
    check_softmax_cross_entropy,
)
from microgradlike.losses import mse


# ---- serial mini-batch updates ---------------------------------------------------------------------
def epoch_right(model, X, y, batch_size, lr):
    losses = []
    for start in range(0, len(X), batch_size):
        loss = mse([model(x) for x in X[start:start + batch_size]], y[start:start + batch_size])
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= lr * p.grad
        losses.append(loss.data)
    return losses


def epoch_parallel(model, X, y, batch_size, lr):
    """Every batch's gradient at θ⁰, one update at the end: not serial."""
    losses, total = [], [0.0] * len(model.parameters())
    for start in range(0, len(X), batch_size):
        model.zero_grad()
        loss = mse([model(x) for x in X[start:start + batch_size]], y[start:start + batch_size])
        loss.backward()
        total = [t + p.grad for t, p in zip(total, model.parameters())]
        losses.append(loss.data)
    for t, p in zip(total, model.parameters()):
        p.data -= lr * t / len(losses)
    return losses


def epoch_without_zero_grad(model, X, y, batch_size, lr):
    losses = []
    for start in range(0, len(X), batch_size):
        loss = mse([model(x) for x in X[start:start + batch_size]], y[start:start + batch_size])
        loss.backward()
        for p in model.parameters():
            p.data -= lr * p.grad
        losses.append(loss.data)
    return losses


def epoch_uphill(model, X, y, batch_size, lr):
    losses = []
    for start in range(0, len(X), batch_size):
        model.zero_grad()
        loss = mse([model(x) for x in X[start:start + batch_size]], y[start:start + batch_size])
        loss.backward()
        for p in model.parameters():
            p.data += lr * p.grad
        losses.append(loss.data)
    return losses


def epoch_full_batch(model, X, y, batch_size, lr):
    return epoch_right(model, X, y, len(X), lr)


def epoch_loss_after_update(model, X, y, batch_size, lr):
    losses = []
    for start in range(0, len(X), batch_size):
        rows, targets = X[start:start + batch_size], y[start:start + batch_size]
        model.zero_grad()
        mse([model(x) for x in rows], targets).backward()
        for p in model.parameters():
            p.data -= lr * p.grad
        losses.append(mse([model(x) for x in rows], targets).data)
    return losses


def epoch_fixed_rate(model, X, y, batch_size, lr):
    return epoch_right(model, X, y, batch_size, 0.5)  # the first check's lr, written in


def epoch_fixed_batch_size(model, X, y, batch_size, lr):
    return epoch_right(model, X, y, 4, lr)


def epoch_data_becomes_a_value(model, X, y, batch_size, lr):
    losses = []
    for start in range(0, len(X), batch_size):
        loss = mse([model(x) for x in X[start:start + batch_size]], y[start:start + batch_size])
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data = p - lr * p.grad  # the classic slip: a Value in p.data
        losses.append(loss.data)
    return losses


def epoch_stub(model, X, y, batch_size, lr):
    ...  # the notebook's stub


def test_a_serial_epoch_is_accepted():
    verdict = check_minibatch_epoch(epoch_right)
    assert verdict and "3 serial updates" in str(verdict)


@pytest.mark.parametrize(("solution", "words"), [
    (epoch_parallel, "串行"),
    (epoch_without_zero_grad, "ADDS"),
    (epoch_uphill, "uphill"),
    (epoch_full_batch, "⌈N / batch_size⌉"),
    (epoch_loss_after_update, "before any update"),
    (epoch_fixed_rate, "the learning rate your function is given"),
    (epoch_fixed_batch_size, "⌈N / batch_size⌉"),
    (epoch_data_becomes_a_value, "not a number"),
    (epoch_stub, "None"),  # not solved yet
])
def test_a_wrong_epoch_is_rejected_with_its_hint(solution, words):
    verdict = check_minibatch_epoch(solution)
    assert not verdict
    assert words in str(verdict)
    assert "p.data -=" not in verdict.hint and "zero_grad()" not in verdict.hint


# ---- softmax cross-entropy -------------------------------------------------------------------------
def ce_right(logits, target):
    top = max(z.data for z in logits)
    total = sum((z - top).exp() for z in logits)
    return total.log() + top - logits[target]


def ce_naive(logits, target):
    """Right for small logits, inf/nan for large ones."""
    return sum(z.exp() for z in logits).log() - logits[target]


def ce_wrong_sign(logits, target):
    return -ce_right(logits, target)


def ce_probability(logits, target):
    return ce_right(logits, target).__neg__().exp()


def ce_floats(logits, target):
    return ce_right(logits, target).data


def ce_cut_graph(logits, target):
    """The right value, but the graph is cut: the max logit is subtracted as a Value, no... the sum is
    a plain number, so the gradient misses the softmax part."""
    top = max(z.data for z in logits)
    total = sum(math.exp(z.data - top) for z in logits)
    return math.log(total) + top - logits[target]


def test_a_stable_softmax_cross_entropy_is_accepted():
    assert check_softmax_cross_entropy(ce_right)


@pytest.mark.parametrize(("solution", "words"), [
    (ce_naive, "every exponent ≤ 0"),
    (ce_wrong_sign, "its sign"),
    (ce_probability, "that is a probability"),
    (ce_floats, "expected a Value"),
    (ce_cut_graph, "cut the graph"),
])
def test_a_wrong_cross_entropy_is_rejected_with_its_hint(solution, words):
    verdict = check_softmax_cross_entropy(solution)
    assert not verdict
    assert words in str(verdict)
    assert "max(" not in verdict.hint and "top" not in verdict.hint


# ---- a linear network collapses ------------------------------------------------------------------
def collapse_right(weights, biases):
    W, b = weights[0], biases[0]
    for Wl, bl in zip(weights[1:], biases[1:]):
        W, b = Wl @ W, Wl @ b + bl
    return W, b


def collapse_no_bias_path(weights, biases):
    W = weights[0]
    for Wl in weights[1:]:
        W = Wl @ W
    return W, biases[-1]


def collapse_wrong_order(weights, biases):
    W, b = collapse_right(weights, biases)
    return W[:, ::-1], b


def test_collapsing_a_linear_network_is_accepted():
    assert check_linear_collapse(collapse_right)


@pytest.mark.parametrize(("solution", "words"), [
    (collapse_no_bias_path, "W is right, b is not"),
    (collapse_wrong_order, "multiply out"),
    (lambda weights, biases: (np.zeros(3), np.zeros(1)), "should hold"),
    (lambda weights, biases: weights[0], "expected a pair"),
])
def test_a_wrong_collapse_is_rejected_with_its_hint(solution, words):
    verdict = check_linear_collapse(solution)
    assert not verdict
    assert words in str(verdict)
    assert "@" not in verdict.hint
