"""Toy datasets: shapes, balanced labels, the geometry each formula promises, seeds, argument errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from microgradlike.data import (
    DEFAULT_KNOTS,
    make_circles,
    make_moons,
    make_spirals,
    make_xor,
    piecewise_linear,
    train_test_split,
)

CLASSIFICATION = [make_moons, make_circles, make_xor, make_spirals]


@pytest.mark.parametrize("make", CLASSIFICATION)
@pytest.mark.parametrize("n", [2, 7, 100])
def test_shapes_and_types(make, n):
    X, y = make(n=n)
    assert X.shape == (n, 2) and X.dtype == np.float64
    assert y.shape == (n,) and np.issubdtype(y.dtype, np.integer)
    assert np.all(np.isfinite(X))


def test_a_single_point_is_allowed_for_two_class_sets():
    for make in (make_moons, make_circles, make_xor):
        X, y = make(n=1)
        assert X.shape == (1, 2) and y.shape == (1,)


@pytest.mark.parametrize("make", CLASSIFICATION)
def test_two_classes_are_balanced(make):
    _, y = make(n=101)
    assert sorted(np.bincount(y).tolist()) == [50, 51]


def test_spiral_arms_are_class_ids_and_balanced():
    _, y = make_spirals(n=100, arms=3)
    assert set(y.tolist()) == {0, 1, 2}
    assert sorted(np.bincount(y).tolist()) == [33, 33, 34]


@pytest.mark.parametrize("make", CLASSIFICATION)
def test_seeded_reproducible_and_seeds_differ(make):
    X1, y1 = make(n=50, seed=3)
    X2, y2 = make(n=50, seed=3)
    X3, _ = make(n=50, seed=4)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


@pytest.mark.parametrize("make", CLASSIFICATION)
def test_rows_are_shuffled(make):
    """Mini-batches taken in order must see both classes: labels are not sorted."""
    _, y = make(n=100)
    assert np.any(np.diff(y) < 0)


def test_moons_without_noise_lie_on_their_half_circles():
    X, y = make_moons(n=200, noise=0.0)
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)
    assert np.all(upper[:, 1] >= 0)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0)
    assert np.all(lower[:, 1] <= 0.5)


def test_circles_without_noise_have_radius_one_and_factor():
    X, y = make_circles(n=100, noise=0.0, factor=0.3)
    radius = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radius[y == 0], 1.0)
    np.testing.assert_allclose(radius[y == 1], 0.3)


def test_xor_without_noise_labels_opposite_signs():
    X, y = make_xor(n=200, noise=0.0)
    assert np.all(np.abs(X) <= 1.0)
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(int))


def test_spirals_without_noise_follow_the_formula():
    """r evenly spaced in (0, 1] per arm, θ = 2π·turns·r + 2πk/K: check each point's angle."""
    turns, arms = 1.5, 3
    X, y = make_spirals(n=60, arms=arms, noise=0.0, turns=turns)
    r = np.hypot(X[:, 0], X[:, 1])
    for k in range(arms):
        np.testing.assert_allclose(np.sort(r[y == k]), np.arange(1, 21) / 20)
        theta = 2 * math.pi * (turns * r[y == k] + k / arms)
        expected = r[y == k, None] * np.column_stack([np.cos(theta), np.sin(theta)])
        np.testing.assert_allclose(X[y == k], expected, atol=1e-12)


def test_noise_moves_points_by_about_its_size():
    X0, _ = make_moons(n=2000, noise=0.0, seed=1)
    X1, _ = make_moons(n=2000, noise=0.2, seed=1)
    # same seed: the same θ draws, then N(0, 0.2²) added to each coordinate
    assert np.std(X1 - X0) == pytest.approx(0.2, rel=0.05)


def test_piecewise_linear_is_the_line_through_the_knots():
    knots = ((0.0, 0.0), (1.0, 2.0), (3.0, 1.0))
    X, y = piecewise_linear(n=50, knots=knots)
    assert X.shape == (50, 1) and y.shape == (50,)
    x = X[:, 0]
    assert np.all(np.diff(x) >= 0) and x.min() >= 0.0 and x.max() <= 3.0
    expected = np.where(x <= 1.0, 2.0 * x, 2.0 - 0.5 * (x - 1.0))
    np.testing.assert_allclose(y, expected, atol=1e-12)


def test_piecewise_linear_noise_and_seed():
    _, clean = piecewise_linear(n=500, seed=2)
    X, noisy = piecewise_linear(n=500, noise=0.1, seed=2)
    _, again = piecewise_linear(n=500, noise=0.1, seed=2)
    np.testing.assert_array_equal(noisy, again)
    knot_x, knot_y = zip(*DEFAULT_KNOTS)
    assert 0.08 < np.std(noisy - np.interp(X[:, 0], knot_x, knot_y)) < 0.12
    assert not np.array_equal(clean, noisy)


def test_train_test_split_partitions_the_rows():
    X = np.arange(40.0).reshape(20, 2)
    y = np.arange(20)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_fraction=0.25, seed=1)
    assert len(X_test) == 5 and len(X_train) == 15
    assert sorted(np.concatenate([y_train, y_test]).tolist()) == list(range(20))
    np.testing.assert_array_equal(X_train[:, 0], 2 * y_train)  # rows stay paired with their labels
    np.testing.assert_array_equal(X_test[:, 0], 2 * y_test)
    again = train_test_split(X, y, test_fraction=0.25, seed=1)
    np.testing.assert_array_equal(again[3], y_test)
    assert not np.array_equal(train_test_split(X, y, test_fraction=0.25, seed=2)[3], y_test)


@pytest.mark.parametrize(("call", "needle"), [
    (lambda: make_moons(n=0), "n must be"),
    (lambda: make_circles(noise=-0.1), "-0.1"),
    (lambda: make_xor(noise=float("nan")), "nan"),
    (lambda: make_circles(factor=1.0), "factor"),
    (lambda: make_spirals(arms=1), "arms"),
    (lambda: make_spirals(n=2, arms=3), "n must be an int >= 3"),
    (lambda: make_spirals(turns=0), "turns"),
    (lambda: piecewise_linear(knots=((0, 0),)), "at least two"),
    (lambda: piecewise_linear(knots=((1, 0), (0, 1))), "increasing"),
    (lambda: piecewise_linear(knots="ab"), "knots"),
    (lambda: train_test_split(np.zeros((4, 2)), np.zeros(3)), "same number of rows"),
    (lambda: train_test_split(np.zeros((4, 2)), np.zeros(4), test_fraction=1.0), "1.0"),
    (lambda: train_test_split(np.zeros((4, 2)), np.zeros(4), test_fraction=0.0), "0.0"),
    (lambda: train_test_split(np.zeros((4, 2)), np.zeros(4), test_fraction=0.1), "non-empty"),
    (lambda: train_test_split(np.zeros((4, 2)), np.zeros(4), test_fraction=0.9), "non-empty"),
])
def test_bad_arguments_raise_value_error_naming_the_value(call, needle):
    with pytest.raises(ValueError) as info:
        call()
    assert needle in str(info.value)


@pytest.mark.parametrize(("call", "needle"), [
    (lambda: make_moons(n=2.5), "float: 2.5"),
    (lambda: make_moons(n=True), "bool: True"),
    (lambda: make_spirals(arms="3"), "str: '3'"),
    (lambda: make_circles(noise="0.1"), "str: '0.1'"),
])
def test_arguments_of_the_wrong_type_raise_type_error_naming_them(call, needle):
    with pytest.raises(TypeError) as info:
        call()
    assert needle in str(info.value)
