"""Toy datasets: shapes, balanced labels, the geometry each formula promises, seeds, argument errors."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from special_files import error_on_a_fifo, error_on_dev_zero, posix_dev_zero, posix_fifo

from microgradlike import memory
from microgradlike.data import (
    DEFAULT_KNOTS,
    load_csv,
    make_circles,
    make_moons,
    make_spirals,
    make_xor,
    piecewise_linear,
    read_integer,
    read_number,
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


# ---- seeds and sizes --------------------------------------------------------------------------
GENERATORS = [make_moons, make_circles, make_xor, make_spirals, piecewise_linear]


@pytest.mark.parametrize("make", [*GENERATORS, lambda seed: train_test_split(np.zeros((4, 1)), np.zeros(4),
                                                                             seed=seed)],
                         ids=[*(f.__name__ for f in GENERATORS), "train_test_split"])
@pytest.mark.parametrize(("seed", "error"), [(-1, ValueError), ("a", TypeError), (1.5, TypeError)])
def test_a_bad_seed_is_named(make, seed, error):
    with pytest.raises(error, match="seed"):
        make(seed=seed)


@pytest.mark.parametrize("make", GENERATORS)
def test_a_size_no_machine_holds_is_refused_at_once(make):
    with pytest.raises(ValueError, match=r"n=1000000000000\) needs about .* of memory, more than"):
        make(n=10**12)


@pytest.mark.parametrize("make", GENERATORS)
def test_the_refusal_names_the_limit_and_allocates_nothing(make, monkeypatch):
    monkeypatch.setattr(memory, "memory_limit", lambda: (100 * 2**20, "this process's limit of 100 MiB"))
    monkeypatch.setattr(np.random, "default_rng", None)  # anything it drew would fail differently
    with pytest.raises(ValueError, match="more than this process's limit of 100 MiB"):
        make(n=10**7)


@pytest.mark.skipif(importlib.util.find_spec("resource") is None, reason="ulimit is POSIX")
def test_the_memory_limit_reads_ulimit():
    code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, resource.RLIM_INFINITY)); "
            "from microgradlike.memory import memory_limit; print(memory_limit())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    ulimit = (3 * 2**30, "this process's limit of 3 GiB (ulimit -v)")
    expected = min(ulimit, memory.memory_limit() or ulimit)  # a machine with less keeps its own
    assert out.stdout.strip() == str(expected), out.stderr


# ---- your own points: load_csv ------------------------------------------------------------------
def write(tmp_path, text: str, name: str = "points.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_csv_with_a_header_takes_the_last_column_as_labels(tmp_path):
    path = write(tmp_path, "x1, x2 ,label\n0.5,1,0\n\n-1e-1,2.5,1\n3,4,1\n")
    X, y = load_csv(path)
    np.testing.assert_array_equal(X, [[0.5, 1.0], [-0.1, 2.5], [3.0, 4.0]])
    assert y.tolist() == [0, 1, 1] and np.issubdtype(y.dtype, np.integer)


def test_load_csv_target_by_name_or_index_and_without_a_header(tmp_path):
    path = write(tmp_path, "label,x\n1,0.5\n2,0.25\n")
    for target in ("label", 0, -2):
        X, y = load_csv(path, target=target)
        assert X.tolist() == [[0.5], [0.25]] and y.tolist() == [1, 2]
    bare = write(tmp_path, "\ufeff1,0.5,7\n2,0.25,8\n", "bare.csv")  # a byte-order mark, as Excel writes
    X, y = load_csv(bare, target=1)
    assert X.tolist() == [[1.0, 7.0], [2.0, 8.0]] and y.tolist() == [0.5, 0.25] and y.dtype == float


def test_the_example_points_file_loads():
    X, y = load_csv(Path(__file__).parent.parent / "examples" / "points.csv", target="label")
    assert X.shape == (90, 2) and sorted(set(y.tolist())) == [0, 1, 2]


@pytest.mark.parametrize(
    ("text", "target", "needle"),
    [
        ("x,y,label\n1,2,0\n3,abc,1\n", -1, "line 3, column 2 ('y'): 'abc' is not a finite number"),
        ("1,2,0\n3,nan,1\n", -1, "line 2, column 2: 'nan' is not a finite number"),
        ("1,2,0\n3,,1\n", -1, "line 2, column 2: an empty cell"),
        ("1,2,0\n3,4\n", -1, "line 2: 2 cells, but line 1 has 3"),
        ("a,b,c\n1,2,3\n4,5,6,7\n", -1, "line 3: 4 cells, but the header has 3"),
        ("x,y,label\n1,2,0\n3,4,1\n", "class", "no column named 'class'; the header has 'x', 'y', 'label'"),
        ("x,y,x\n1,2,0\n3,4,1\n", "x", "2 columns named 'x'"),
        ("1,2,0\n3,4,1\n", 3, "no column 3"),
        ("1,2,0\n3,4,1\n", "label", "has no header"),
        ("x,label\n1,1\n2,1\n3,1\n", "label", "column 2 ('label'): every row's target is 1"),
        ("", -1, "the file is empty"),
        ("\n\n  \n", -1, "the file is empty"),
        ("x,y,label\n", -1, "a header but no rows"),
        ("1\n2\n", -1, "one column only"),
    ],
)
def test_load_csv_errors_name_the_file_line_and_column(tmp_path, text, target, needle):
    path = write(tmp_path, text)
    with pytest.raises(ValueError) as info:
        load_csv(path, target=target)
    message = str(info.value)
    assert message.startswith(str(path)) and needle in message and "\n" not in message


def test_load_csv_refuses_binary_missing_files_and_bad_targets(tmp_path):
    binary = tmp_path / "data.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match="not a text file in UTF-8"):
        load_csv(binary)
    with pytest.raises(ValueError, match="no such file"):
        load_csv(tmp_path / "missing.csv")
    with pytest.raises(TypeError, match="target must be"):
        load_csv(binary, target=1.5)


def test_load_csv_refuses_a_file_too_big_for_memory(tmp_path, monkeypatch):
    path = write(tmp_path, "1,2,0\n" * 1000)
    monkeypatch.setattr(memory, "memory_limit", lambda: (10_000, "a tiny limit"))
    with pytest.raises(ValueError, match="more than a tiny limit"):
        load_csv(path)


def test_load_csv_cuts_a_huge_cell_short(tmp_path):
    path = write(tmp_path, "1,2,0\n1," + "9" * 100_000 + "x,1\n")
    with pytest.raises(ValueError) as info:
        load_csv(path)
    assert len(str(info.value)) < 500 and "line 2, column 2" in str(info.value)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("x,y,label\n1,2,0\n1_000,4,1\n",
         "line 3, column 1 ('x'): '1_000' is not a number as a CSV file writes one"),
        ("1,2,0\n3,\uff14,1\n", "line 2, column 2: '\uff14' is not a number as a CSV file writes one"),
        ("x,y,label\n1,2,0\n,,\n3,4,1\n", "line 3: every cell is empty"),
        (",,\n1,2,0\n3,4,1\n", "line 1: every cell is empty"),
        ("x,nan,label\n1,2,0\nabc,4,1\n", "line 3, column 1 ('x'): 'abc' is not a finite number"),
        ("nan,1,0\n3,4,1\n", "line 1, column 1: 'nan' is not a finite number"),
        ("nan,inf,-inf\n3,4,1\n", "line 1, column 1: 'nan' is not a finite number"),
        ("x,y,label\n1,2,0\n3,4,1e16\n",
         "line 3, column 3 ('label'): the label 10000000000000000 is a whole number of 2**53"),
        ("1,2,-9007199254740992\n3,4,1\n",
         "line 1, column 3: the label -9007199254740992 is a whole number of 2**53"),
    ],
)
def test_load_csv_reads_numbers_as_csv_files_write_them_and_names_the_cell(tmp_path, text, needle):
    path = write(tmp_path, text)
    with pytest.raises(ValueError) as info:
        load_csv(path)
    message = str(info.value)
    assert message.startswith(str(path)) and needle in message and "\n" not in message


@pytest.mark.parametrize("target", [10**400, -(10**400), 10**61])
def test_load_csv_cuts_a_huge_target_index_short(tmp_path, target):
    """Attack A24: the message echoed all 401 digits."""
    with pytest.raises(ValueError) as info:
        load_csv(write(tmp_path, "1,2,0\n3,4,1\n"), target=target)
    message = str(info.value)
    assert "no column" in message and "digits)" in message and len(message) < 300


@pytest.mark.parametrize(("text", "number"), [
    ("3", 3.0), ("-0.5", -0.5), ("+.5", 0.5), ("1e-3", 1e-3), ("2.", 2.0), ("1E+2", 100.0),
    ("inf", math.inf), ("-Infinity", -math.inf),
])
def test_read_number_reads_numbers_as_csv_files_write_them(text, number):
    assert read_number(text) == number


@pytest.mark.parametrize("text", ["1_000", "\uff11", "\u0663", "0x10", "1,000", "", " ", "1e", ".", "e3",
                                  "1.5j"])
def test_read_number_refuses_what_only_python_reads_as_a_number(text):
    """The rule load_csv, the command line and graph's bindings share (attack A27)."""
    assert read_number(text) is None


def test_read_number_reads_nan_as_a_number_that_is_not_finite():
    assert math.isnan(read_number("NaN"))


@pytest.mark.parametrize(("text", "number"), [("300", 300), ("-1", -1), ("+7", 7), ("007", 7),
                                              ("1" * 500, int("1" * 500))])
def test_read_integer_reads_whole_numbers_of_digits(text, number):
    assert read_integer(text) == number


@pytest.mark.parametrize("text", ["4_0", "\u0664\u0660", "\uff14\uff10", "1e3", "40.0", "", "0x10", " 4"])
def test_read_integer_refuses_anything_else(text):
    assert read_integer(text) is None


def test_a_column_named_nan_or_inf_is_a_header_name(tmp_path):
    path = write(tmp_path, "nan,inf,label\n1,2,0\n3,4.5,1\n")
    X, y = load_csv(path, target="inf")
    assert X.tolist() == [[1.0, 0.0], [3.0, 1.0]] and y.tolist() == [2.0, 4.5]


def test_whole_labels_below_2_to_the_53_stay_ints_and_fractions_of_any_size_floats(tmp_path):
    _, y = load_csv(write(tmp_path, "1,2,9007199254740991\n3,4,-9007199254740991\n"))
    assert y.tolist() == [2**53 - 1, -(2**53 - 1)] and y.dtype == np.int64
    _, y = load_csv(write(tmp_path, "1,2,1e16\n3,4,0.5\n"))
    assert y.tolist() == [1e16, 0.5] and y.dtype == float


def test_the_cli_refuses_labels_of_2_to_the_53_in_one_line(tmp_path):
    path = write(tmp_path, "x,y,label\n1,2,0\n3,4,1e16\n5,6,0\n")
    done = subprocess.run([sys.executable, "-m", "microgradlike", "train", "--data", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1
    assert "line 3, column 3 ('label'): the label 10000000000000000 is" in done.stderr


def test_load_csv_names_a_file_name_with_a_null_byte(tmp_path):
    with pytest.raises(ValueError, match=r"^'a\\x00b\.csv': a file name cannot hold a null byte"):
        load_csv("a\x00b.csv")
    with pytest.raises(ValueError, match=r"^'line\\nbreak\.csv': no such file"):  # shown as its repr
        load_csv("line\nbreak.csv")


@posix_fifo
def test_load_csv_refuses_a_fifo_at_once_instead_of_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "points.csv"
    error = error_on_a_fifo(load_csv, fifo)
    assert isinstance(error, ValueError)
    assert str(error) == (f"{fifo}: a FIFO (named pipe), not a regular file; load_csv reads a file of "
                          f"rows (save the data to a file first)")


@posix_dev_zero
def test_load_csv_refuses_a_device_rather_than_reading_without_end():
    said = error_on_dev_zero("from microgradlike.data import load_csv", "load_csv('/dev/zero')")
    assert said == ("/dev/zero: a device, not a regular file; load_csv reads a file of rows (save the data "
                    "to a file first)")
    with pytest.raises(ValueError, match="a directory, not a regular file"):
        load_csv(Path(__file__).parent)


def test_piecewise_linear_names_a_knot_too_large_for_a_float():
    with pytest.raises(ValueError, match=r"knot 1's x, 100000000000… \(401 digits\), is too large"):
        piecewise_linear(knots=[(0, 0), (10**400, 1)])
    with pytest.raises(ValueError, match=r"knot 2's y, -179769313486… \(309 digits\), is too large"):
        piecewise_linear(knots=[(0, 0), (1, 1), (2, -(2**1024))])
