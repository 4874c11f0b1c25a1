"""Toy datasets with numpy alone: two moons, circles, XOR, spirals, a piecewise-linear curve.

Every generator takes a ``seed`` and draws all of its randomness from
``np.random.default_rng(seed)``, so the same arguments give the same arrays. Classification sets
return ``X`` as a float array of shape (n, 2) and ``y`` as an int array of class ids (0/1, or
0..arms−1 for spirals), with the classes as equal in size as n allows and the rows shuffled (so
that mini-batches taken in order still mix the classes). Noise is Gaussian with standard
deviation ``noise``, added to the coordinates.

`train_test_split` holds a part of the data back: a model that is good on the training part
and bad on the held-back part has overfitted (过拟合).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

from .checks import as_real

__all__ = [
    "make_circles",
    "make_moons",
    "make_spirals",
    "make_xor",
    "piecewise_linear",
    "train_test_split",
]

#: Knots of `piecewise_linear`'s default target: four pieces with different slopes.
DEFAULT_KNOTS: tuple[tuple[float, float], ...] = (
    (-2.0, 0.0), (-1.0, 1.0), (0.5, -0.5), (1.5, 0.5), (2.0, 0.5),
)


def _is_real(x: object) -> bool:
    return as_real(x) is not None  # the engine's rule: numpy scalars count, bool does not


def _check_int(value: object, name: str, minimum: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int >= {minimum}, got {type(value).__name__}: {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _check_nonnegative(value: object, name: str) -> float:
    if not _is_real(value):
        raise TypeError(f"{name} must be a finite number >= 0, got {type(value).__name__}: {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def _class_sizes(n: int, k: int) -> list[int]:
    """Split n into k sizes differing by at most one (the first classes get the extra points)."""
    return [n // k + (1 if c < n % k else 0) for c in range(k)]


def _finish(rng: np.random.Generator, points: list[np.ndarray],
            noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Stack per-class point arrays, add Gaussian noise, and shuffle the rows."""
    X = np.concatenate(points).astype(float)
    y = np.concatenate([np.full(len(p), c, dtype=int) for c, p in enumerate(points)])
    X = X + noise * rng.standard_normal(X.shape)
    order = rng.permutation(len(y))
    return X[order], y[order]


def make_moons(n: int = 100, noise: float = 0.1, seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles.

    θ ~ U[0, π]; class 0 at (cos θ, sin θ), class 1 at (1 − cos θ, 0.5 − sin θ).
    """
    n, noise = _check_int(n, "n", 1), _check_nonnegative(noise, "noise")
    rng = np.random.default_rng(seed)
    n0, n1 = _class_sizes(n, 2)
    t0, t1 = rng.uniform(0.0, math.pi, n0), rng.uniform(0.0, math.pi, n1)
    upper = np.column_stack([np.cos(t0), np.sin(t0)])
    lower = np.column_stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)])
    return _finish(rng, [upper, lower], noise)


def make_circles(n: int = 100, noise: float = 0.05, factor: float = 0.5,
                 seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles: class 0 on radius 1, class 1 on radius ``factor`` (0 < factor < 1).

    θ ~ U[0, 2π); a point is r·(cos θ, sin θ).
    """
    n, noise = _check_int(n, "n", 1), _check_nonnegative(noise, "noise")
    if not _is_real(factor) or not 0 < factor < 1:
        raise ValueError(f"factor must be a number with 0 < factor < 1, got {factor!r}")
    rng = np.random.default_rng(seed)
    points = []
    for radius, size in zip((1.0, float(factor)), _class_sizes(n, 2)):
        theta = rng.uniform(0.0, 2 * math.pi, size)
        points.append(radius * np.column_stack([np.cos(theta), np.sin(theta)]))
    return _finish(rng, points, noise)


def make_xor(n: int = 100, noise: float = 0.05, seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """The XOR pattern: x ~ U[−1, 1]², label 1 where x₁·x₂ < 0 (opposite signs).

    Each class gets its share of points exactly: a point draws |x₁|, |x₂| ~ U[0, 1] and a
    quadrant of its class, so the points are uniform in the square given the label.
    """
    n, noise = _check_int(n, "n", 1), _check_nonnegative(noise, "noise")
    rng = np.random.default_rng(seed)
    points = []
    for label, size in enumerate(_class_sizes(n, 2)):
        magnitude = rng.uniform(0.0, 1.0, (size, 2))
        sign1 = rng.choice([-1.0, 1.0], size)
        sign2 = sign1 if label == 0 else -sign1  # same signs: class 0; opposite: class 1
        points.append(magnitude * np.column_stack([sign1, sign2]))
    return _finish(rng, points, noise)


def make_spirals(n: int = 100, arms: int = 2, noise: float = 0.05, turns: float = 1.0,
                 seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """``arms`` interleaved spirals; the label is the arm, 0..arms−1.

    On arm k, r is evenly spaced in (0, 1] and θ = 2π·turns·r + 2πk/arms; a point is
    r·(cos θ, sin θ), plus noise scaled by r (the centre, where arms meet, stays clean).
    """
    arms = _check_int(arms, "arms", 2)
    n, noise = _check_int(n, "n", arms), _check_nonnegative(noise, "noise")
    if not _is_real(turns) or not 0 < turns < math.inf:
        raise ValueError(f"turns must be a finite number > 0, got {turns!r}")
    rng = np.random.default_rng(seed)
    points = []
    for k, size in enumerate(_class_sizes(n, arms)):
        r = np.arange(1, size + 1) / size
        theta = 2 * math.pi * (turns * r + k / arms)
        arm = r[:, None] * np.column_stack([np.cos(theta), np.sin(theta)])
        points.append(arm + noise * r[:, None] * rng.standard_normal(arm.shape))
    return _finish(rng, points, 0.0)


def piecewise_linear(n: int = 100, knots: Sequence[tuple[float, float]] = DEFAULT_KNOTS,
                     noise: float = 0.0, seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 1-D regression target: the piecewise-linear curve through ``knots``.

    x ~ U[x_first, x_last] (sorted ascending, for plotting); y = the straight line between
    the two knots around x, plus Gaussian noise. Returns X of shape (n, 1) and float y of shape (n,).
    The notes' point: a sum of sigmoids can draw such a curve, one sigmoid per bend.
    """
    n, noise = _check_int(n, "n", 1), _check_nonnegative(noise, "noise")
    try:
        table = np.asarray(knots, dtype=float)
    except (TypeError, ValueError) as e:
        raise ValueError(f"knots must be (x, y) pairs of numbers, got {knots!r}") from e
    if table.ndim != 2 or table.shape[1] != 2 or len(table) < 2 or not np.all(np.isfinite(table)):
        raise ValueError(f"knots must be at least two finite (x, y) pairs, got {knots!r}")
    kx, ky = table[:, 0], table[:, 1]
    if not np.all(np.diff(kx) > 0):
        raise ValueError(f"knot x values must be strictly increasing, got {kx.tolist()!r}")
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(kx[0], kx[-1], n))
    y = np.interp(x, kx, ky) + noise * rng.standard_normal(n)
    return x[:, None], y


def train_test_split(X: np.ndarray | Sequence, y: np.ndarray | Sequence, test_fraction: float = 0.25,
                     seed: int | None = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle the rows and hold ``round(test_fraction·n)`` of them back for testing.

    Returns ``(X_train, X_test, y_train, y_test)``; both parts must be non-empty.
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0 or len(X) != len(y):
        raise ValueError(f"X and y must have the same number of rows, got shapes {X.shape} and {y.shape}")
    if not _is_real(test_fraction) or not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be a number with 0 < test_fraction < 1, got {test_fraction!r}")
    n = len(y)
    n_test = round(test_fraction * n)
    if not 0 < n_test < n:
        raise ValueError(
            f"test_fraction={test_fraction!r} of {n} rows leaves {n_test} test and {n - n_test} "
            f"training rows; both parts must be non-empty"
        )
    order = np.random.default_rng(seed).permutation(n)
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]
