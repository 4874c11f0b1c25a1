"""Toy datasets with numpy alone: two moons, circles, XOR, spirals, a piecewise-linear curve;
and your own points from a CSV file (`load_csv`).

Every generator takes a ``seed`` and draws all of its randomness from
``np.random.default_rng(seed)``, so the same arguments give the same arrays. Classification sets
return ``X`` as a float array of shape (n, 2) and ``y`` as an int array of class ids (0/1, or
0..arms−1 for spirals), with the classes as equal in size as n allows and the rows shuffled (so
that mini-batches taken in order still mix the classes). Noise is Gaussian with standard
deviation ``noise``, added to the coordinates. A size the machine cannot hold is refused at once
(ValueError saying the limit), before anything is allocated.

`train_test_split` holds a part of the data back: a model that is good on the training part
and bad on the held-back part has overfitted (过拟合).
"""

from __future__ import annotations

import csv
import math
import numbers
import os
import re
from collections.abc import Sequence
from typing import TextIO

import numpy as np

from .checks import as_real, check_seed, nonnegative, short
from .files import open_regular_file
from .memory import check_memory

__all__ = [
    "load_csv",
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


#: Peak bytes a generator uses per point (measured: 80-90 for the 2-D sets, 24 for the 1-D curve).
BYTES_PER_POINT = 100
#: Peak bytes `load_csv` may use per byte of the file (Python lists of floats while parsing).
_BYTES_PER_CSV_BYTE = 40


def _is_real(x: object) -> bool:
    return as_real(x) is not None  # the engine's rule: numpy scalars count, bool does not


def _check_int(value: object, name: str, minimum: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int >= {short(minimum)}, got {type(value).__name__}: "
                        f"{short(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {short(minimum)}, got {short(value)}")
    return int(value)


def _start(name: str, n: int, seed: object) -> np.random.Generator:
    """The generator's random stream, once the size is known to fit in memory and the seed is valid."""
    check_memory(BYTES_PER_POINT * n, f"{name}(n={short(n)})")
    return np.random.default_rng(check_seed(seed))


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
    n, noise = _check_int(n, "n", 1), nonnegative(noise, "noise")
    rng = _start("make_moons", n, seed)
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
    n, noise = _check_int(n, "n", 1), nonnegative(noise, "noise")
    if not _is_real(factor) or not 0 < factor < 1:
        raise ValueError(f"factor must be a number with 0 < factor < 1, got {short(factor)}")
    rng = _start("make_circles", n, seed)
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
    n, noise = _check_int(n, "n", 1), nonnegative(noise, "noise")
    rng = _start("make_xor", n, seed)
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
    n, noise = _check_int(n, "n", arms), nonnegative(noise, "noise")
    if not _is_real(turns) or not 0 < turns < math.inf:
        raise ValueError(f"turns must be a finite number > 0, got {short(turns)}")
    rng = _start("make_spirals", n, seed)
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
    n, noise = _check_int(n, "n", 1), nonnegative(noise, "noise")
    try:
        table = np.asarray(knots, dtype=float)
    except OverflowError:  # an int beyond a float's range: say which
        raise ValueError(f"knots must be (x, y) pairs of finite numbers, but {_huge_knot(knots)} "
                         f"is too large for a float (the largest is about 1.8e308)") from None
    except (TypeError, ValueError) as e:
        raise ValueError(f"knots must be (x, y) pairs of numbers, got {short(knots)}") from e
    if table.ndim != 2 or table.shape[1] != 2 or len(table) < 2 or not np.all(np.isfinite(table)):
        raise ValueError(f"knots must be at least two finite (x, y) pairs, got {short(knots)}")
    kx, ky = table[:, 0], table[:, 1]
    if not np.all(np.diff(kx) > 0):
        raise ValueError(f"knot x values must be strictly increasing, got {short(kx.tolist())}")
    rng = _start("piecewise_linear", n, seed)
    x = np.sort(rng.uniform(kx[0], kx[-1], n))
    y = np.interp(x, kx, ky) + noise * rng.standard_normal(n)
    return x[:, None], y


def _huge_knot(knots: Sequence[tuple[float, float]]) -> str:
    """Where the first int too large for a float is: "knot 1's x, 1000000000000… (401 digits)"."""
    for i, knot in enumerate(knots):
        for axis, x in zip("xy", knot):
            try:
                float(x)
            except OverflowError:
                return f"knot {i}'s {axis}, {short(x)},"
            except (TypeError, ValueError):
                continue
    return "one of them"


def train_test_split(X: np.ndarray | Sequence, y: np.ndarray | Sequence, test_fraction: float = 0.25,
                     seed: int | None = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle the rows and hold ``round(test_fraction·n)`` of them back for testing.

    Returns ``(X_train, X_test, y_train, y_test)``; both parts must be non-empty.
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0 or len(X) != len(y):
        raise ValueError(f"X and y must have the same number of rows, got shapes {X.shape} and {y.shape}")
    if not _is_real(test_fraction) or not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be a number with 0 < test_fraction < 1, "
                         f"got {short(test_fraction)}")
    n = len(y)
    n_test = round(test_fraction * n)
    if not 0 < n_test < n:
        raise ValueError(
            f"test_fraction={short(test_fraction)} of {n} rows leaves {n_test} test and {n - n_test} "
            f"training rows; both parts must be non-empty"
        )
    order = np.random.default_rng(check_seed(seed)).permutation(n)
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]


def load_csv(path: str | os.PathLike[str], target: int | str = -1) -> tuple[np.ndarray, np.ndarray]:
    """Your own points: ``X`` from every column of a CSV file of numbers but ``target``, ``y`` from it.

    The file: comma-separated numbers, one row per point; blank lines are skipped and spaces around
    a cell ignored. A number is written as CSV files write them: digits 0-9 with an optional sign,
    point and exponent (``3``, ``-0.5``, ``1e-3``); ``1_000``, ``1,000`` and other digits are not
    numbers here. The first row is a header when none of its cells is a finite number and at
    least one is a name (so a column may be named ``nan``). ``target``: the label column, as a
    header name or a column index counted from 0 as in Python (negative from the end; the
    default, -1, is the last column).

    Returns ``X`` as a float array of shape (rows, columns − 1) and ``y`` of shape (rows,): ints
    when every label is a whole number (class labels such as 0/1), floats otherwise.

    ValueError, naming the file and, where there is one, the line and column (both counted from
    1, as editors do): a cell that is not a finite number, a row with another number of cells
    than the first, a row of empty cells (``,,``), a target column that does not exist, a target
    that has one value on every row (nothing to learn: one class), whole-number labels of 2**53
    or more (a float no longer tells such neighbours apart, so class ids would merge), an empty
    file, a file that is not text, not a regular file (a FIFO or a device would block or never
    end) or too large for this machine's memory.
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    if isinstance(target, bool) or not isinstance(target, numbers.Integral | str):
        raise TypeError(f"target must be a column name (str) or index (int), got "
                        f"{type(target).__name__}: {short(target)}")
    name = os.fsdecode(os.fspath(path))
    where = name if len(name) <= 200 and name.isprintable() else short(name, 200)
    if "\x00" in name:  # open() would say "embedded null byte" without the name
        raise ValueError(f"{where}: a file name cannot hold a null byte (\\x00)")
    try:
        with open_regular_file(name, where, "load_csv reads a file of rows (save the data to a file first)",
                               _BYTES_PER_CSV_BYTE, encoding="utf-8-sig", newline="") as f:
            header, rows, lines = _read_rows(f, where)
    except FileNotFoundError:
        raise ValueError(f"{where}: no such file") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"{where}: not a text file in UTF-8 ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise ValueError(f"{where}: cannot read it ({e.strerror or e})") from None
    column = _target_column(target, header, len(rows[0]), where)
    table = np.array(rows, dtype=float)
    y = table[:, column]
    if np.all(y == y[0]):
        raise ValueError(f"{where}, column {column + 1}{_named(header, column)}: every row's target is "
                         f"{y[0]:g}, so there is nothing to learn (a classifier needs two classes)")
    X = np.delete(table, column, axis=1)
    if not np.all(y == np.round(y)):
        return X, y
    huge = np.flatnonzero(np.abs(y) >= 2**53)
    if huge.size:  # a float's 53 bits of mantissa: 2**53 + 1 reads as 2**53
        k = int(huge[0])
        raise ValueError(f"{where}, line {lines[k]}, column {column + 1}{_named(header, column)}: the label "
                         f"{y[k]:.17g} is a whole number of 2**53 (about 9.007e15) or more, where floats no "
                         f"longer tell neighbouring whole numbers apart; whole-number labels are class ids: "
                         f"number the classes 0, 1, 2, … (or scale a numeric target)")
    return X, y.astype(np.int64)


def _read_rows(f: TextIO, where: str) -> tuple[list[str] | None, list[list[float]], list[int]]:
    """The header (or None), the rows as floats, every cell checked (at least one row), and the
    line each row is on."""
    reader = csv.reader(f)
    header: list[str] | None = None
    rows: list[list[float]] = []
    lines: list[int] = []
    width, first = 0, ""  # the number of cells of the first row, and where it is
    try:
        for cells in reader:
            cells = [cell.strip() for cell in cells]
            line = reader.line_num
            if len(cells) <= 1 and not any(cells):
                continue  # a blank line
            if not any(cells):
                raise ValueError(f"{where}, line {line}: every cell is empty ({len(cells)} cells and no "
                                 f"number); delete the line or fill in its numbers")
            if not width and _is_header(cells):
                header, width, first = cells, len(cells), "the header"
                continue
            if width and len(cells) != width:
                raise ValueError(f"{where}, line {line}: {len(cells)} cells, but {first} has {width}")
            rows.append([_cell(cell, where, line, j, header) for j, cell in enumerate(cells)])
            lines.append(line)
            width, first = len(cells), first or f"line {line}"
    except csv.Error as e:
        raise ValueError(f"{where}, line {reader.line_num}: not CSV ({e})") from None
    if not rows:
        empty = "a header but no rows of numbers" if header else "the file is empty"
        raise ValueError(f"{where}: {empty}")
    if len(rows[0]) < 2:
        raise ValueError(f"{where}: one column only; it needs at least one input column and the target")
    return header, rows, lines


def _is_header(cells: list[str]) -> bool:
    """A first row of names: no cell a finite number, and some cell a name (not nan, inf or empty)."""
    numbers = [read_number(cell) for cell in cells]
    if any(x is not None and math.isfinite(x) for x in numbers):
        return False
    return any(x is None and cell for x, cell in zip(numbers, cells))


def _cell(cell: str, where: str, line: int, j: int, header: list[str] | None) -> float:
    """One cell as a finite float, or ValueError naming the file, line and column."""
    number = read_number(cell)
    if number is None or not math.isfinite(number):
        if not cell:
            what = "an empty cell"
        elif number is None and _python_number(cell):  # 1_000, full-width or Arabic-Indic digits
            what = f"{short(cell)} is not a number as a CSV file writes one ({NUMBER_RULE})"
        else:
            what = f"{short(cell)} is not a finite number"
        raise ValueError(f"{where}, line {line}, column {j + 1}{_named(header, j)}: {what}")
    return number


#: A number as CSV files write it: an optional sign, digits 0-9 with an optional point, an
#: optional exponent; or nan / inf / infinity (numbers, but not finite ones).
_NUMBER = re.compile(r"[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|nan|inf|infinity)",
                     re.IGNORECASE)
#: A whole number by the same rule: an optional sign and digits 0-9, no point, no exponent.
_INTEGER = re.compile(r"[+-]?[0-9]+")
#: The rule in words, for error messages.
NUMBER_RULE = "digits 0-9 with an optional sign, point and exponent: 1000, -0.5, 1e-3"


def read_number(text: str) -> float | None:
    """The number ``text`` writes, or None: the one rule for the numbers a user types, in a CSV
    cell, a command-line option or a binding such as ``x=2`` (`NUMBER_RULE`; nan, inf and
    infinity are numbers too, not finite ones). Stricter than float(), which also reads ``1_000``,
    full-width ``１`` and other scripts' digits such as ``٣``."""
    return float(text) if _NUMBER.fullmatch(text) else None


def read_integer(text: str) -> int | None:
    """The whole number ``text`` writes by the same rule (``300``, ``-1``: no point, no exponent),
    or None. Stricter than int(), which also reads ``4_0`` and ``٤٠``."""
    return int(text) if _INTEGER.fullmatch(text) else None


def _python_number(cell: str) -> bool:
    """Whether Python's float() would read ``cell``, although a CSV file does not write it so."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _named(header: list[str] | None, j: int) -> str:
    """`` ('label')`` after a column number, when the file has a header."""
    return f" ({short(header[j])})" if header is not None else ""


def _target_column(target: int | str, header: list[str] | None, width: int, where: str) -> int:
    """The index of the target column, from a name or a (possibly negative) index."""
    if isinstance(target, str):
        if header is None:
            raise ValueError(f"{where} has no header (its first row is numbers), so the target must be "
                             f"a column index, not the name {short(target)}")
        matches = [j for j, name in enumerate(header) if name == target]
        if len(matches) != 1:
            columns = ", ".join(short(name) for name in header[:20])
            problem = "no column" if not matches else f"{len(matches)} columns"
            raise ValueError(f"{where}: {problem} named {short(target)}; the header has {columns}")
        return matches[0]
    if not -width <= target < width:
        raise ValueError(f"{where}: no column {short(target)} (the target counts from 0, and -1 is the "
                         f"last); the file has {width} columns")
    return int(target) % width
