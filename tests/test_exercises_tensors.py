"""Lesson 10's checkers accept a correct solution and reject wrong ones with a hint that does not give
the answer away. The solutions live here, never in the notebooks."""

from __future__ import annotations

import numpy as np
import pytest

from microgradlike.exercises.tensors import check_batched_backward, check_batched_layer


# ---- a layer on a batch ----------------------------------------------------------------------------------
def forward_right(W, b, X):
    Z = X @ W.T + b
    return Z, np.maximum(Z, 0.0)


def forward_transposed(W, b, X):
    Z = W @ X.T + b[:, None]
    return Z, np.maximum(Z, 0.0)


def forward_without_bias(W, b, X):
    Z = X @ W.T
    return Z, np.maximum(Z, 0.0)


def forward_without_activation(W, b, X):
    Z = X @ W.T + b
    return Z, Z


def forward_shape_error(W, b, X):
    Z = X @ W + b  # (5, 3) @ (4, 3): numpy refuses
    return Z, Z


def test_a_batched_layer_is_accepted():
    assert check_batched_layer(forward_right)


@pytest.mark.parametrize(("solution", "words"), [
    (forward_transposed, "one row per sample"),
    (forward_without_bias, "its own bias"),
    (forward_without_activation, "A differs from relu(Z)"),
    (forward_shape_error, "raised ValueError"),
    (lambda W, b, X: X, "expected a pair"),
])
def test_a_wrong_batched_layer_is_rejected_with_its_hint(solution, words):
    verdict = check_batched_layer(solution)
    assert not verdict and words in str(verdict)
    assert "W.T" not in verdict.hint and "@" not in verdict.hint


# ---- its backward ---------------------------------------------------------------------------------------
def backward_right(X, W, G):
    return G.T @ X, G.sum(axis=0), G @ W


def backward_averaged(X, W, G):
    return G.T @ X / len(X), G.mean(axis=0), G @ W


def backward_transposed_dW(X, W, G):
    return X.T @ G, G.sum(axis=0), G @ W


def backward_wrong_dX(X, W, G):
    return G.T @ X, G.sum(axis=0), G @ W * 2


def test_a_batched_backward_is_accepted():
    assert check_batched_backward(backward_right)


@pytest.mark.parametrize(("solution", "words"), [
    (backward_averaged, "add up"),
    (backward_transposed_dW, "shaped like W"),
    (backward_wrong_dX, "dX differs"),
    (lambda X, W, G: (G, G), "expected three arrays"),
])
def test_a_wrong_batched_backward_is_rejected_with_its_hint(solution, words):
    verdict = check_batched_backward(solution)
    assert not verdict and words in str(verdict)
    assert "G.T" not in verdict.hint and "@" not in verdict.hint
