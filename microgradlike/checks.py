"""Checks on what users pass in, each rule written once: what counts as a real number (`as_real`,
and `real`, which says what is wrong in one wording that names the argument; `nonnegative`, the
same for a number that may not be below 0), an array of numbers (`float_array`) and a seed
(`check_seed`); and how an error message quotes what it refuses: `short` (a value's repr), `cut`
(a text) and `first_few` (a list of items), so a message never echoes a huge input, and
`printable`, so it never echoes a control character. (Whether a size fits in memory is
`microgradlike.memory`'s question; numbers typed as text, in a CSV file or an expression, are
`microgradlike.data.read_number`'s.)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["as_real", "check_seed", "cut", "first_few", "float_array", "nonnegative", "printable", "real",
           "short"]


def as_real(x: object) -> float | None:
    """``x`` as a float if it is a real number (numpy scalars included, bool excluded), else None.

    An int too large for a float raises ValueError (it is a number, just not one we can hold)."""
    if type(x) is float:  # the common case first: no isinstance chain
        return x
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        try:
            return float(x)
        except OverflowError:  # a huge int: a number, but not one a float can hold
            raise ValueError(f"the integer {short(x)} is too large for a float "
                             f"(the largest is about 1.8e308)") from None
    return None


def real(x: object, name: str, *, finite: bool = False) -> float:
    """``x`` as a float if it is a real number (see `as_real`) and not NaN (nor ±inf, with
    ``finite``); else TypeError (not a number) or ValueError, in the one wording every check uses,
    naming ``name``: "weight 0 of dot must be a real number, got nan".

    NaN is refused because it poisons silently every number computed from it."""
    if type(x) is float and x - x == 0.0:  # the common case first: a finite float
        return x
    kind = "finite real number" if finite else "real number"
    try:
        number = as_real(x)
    except ValueError:  # an int too large for a float
        raise ValueError(f"{name} must be a {kind}, got {short(x)}, too large for a float "
                         f"(the largest is about 1.8e308)") from None
    if number is None:
        raise TypeError(f"{name} must be a {kind}, got {type(x).__name__}: {short(x)}")
    if number != number or (finite and number - number != 0.0):  # nan; ±inf (inf − inf is nan)
        raise ValueError(f"{name} must be a {kind}, got {number!r}")
    return number


def nonnegative(x: object, name: str, *, strict: bool = False) -> float:
    """``x`` as a finite float ≥ 0 (> 0 with ``strict``); else `real`'s TypeError or ValueError, in
    its wording: "eps must be a finite real number > 0, got 0"."""
    number = real(x, name, finite=True)
    if not (number > 0 if strict else number >= 0):
        raise ValueError(f"{name} must be a finite real number {'> 0' if strict else '>= 0'}, got {short(x)}")
    return number


def float_array(x: object, name: str, expected: str = "numbers") -> np.ndarray:
    """``x`` (an array, or nested lists) as an array of floats, every cell a real number by the one
    rule (`as_real`): else the error `real` gives, naming the cell, "X[0, 1] must be a real number,
    got str: '1e3'". So a str or bytes (which numpy would parse), a bool (which it would read as
    0/1), a complex number (whose imaginary part it would drop) or any other object is refused.
    NaN and ±inf are numbers here: what they mean is each caller's to say.

    An array whose dtype is already real (float, int, unsigned) is converted at once; a bool
    array is refused like a bool. An int too large for a float is named with its place,
    "X[0, 1] = 100000000000… (401 digits) is too large for a float"; a ragged table is a
    ValueError saying that ``x`` (``name``) must hold ``expected``."""
    if isinstance(x, np.ndarray) and x.dtype.kind in "fiu":  # real numbers already: no cell to check
        return np.asarray(x, dtype=float)
    try:
        np.asarray(x)  # only for its shape: numpy refuses a ragged table
        cells = np.asarray(x, dtype=object)  # each cell as it was given (a bool stays a bool)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must hold {expected}, got {short(x)} ({cut(str(e), 200)})") from None
    if set(map(type, cells.flat)) <= {float, int}:  # the common cases, X.tolist() and ints: no loop
        try:
            return cells.astype(float)
        except OverflowError:  # an int too large for a float: named below
            pass
    out = np.empty(cells.shape)
    for where, cell in np.ndenumerate(cells):
        try:
            number = as_real(cell)
        except ValueError:  # an int too large for a float
            raise ValueError(f"{_place(name, where)} = {short(cell)} is too large for a float "
                             f"(the largest is about 1.8e308)") from None
        if number is None:
            real(cell, _place(name, where))  # raises: the one wording for what is not a number
        out[where] = number
    return out


def _place(name: str, where: tuple[int, ...]) -> str:
    """A cell of ``name``: "X[0, 1]" (``name`` alone for a single number)."""
    return f"{name}[{', '.join(map(str, where))}]" if where else name


def short(x: object, limit: int = 60) -> str:
    """``repr(x)`` cut to ``limit`` characters, so an error message never echoes a huge input."""
    if isinstance(x, int) and not isinstance(x, bool) and abs(x) > 10**limit:
        # counted without str(x), which Python refuses beyond 4300 digits
        digits = int(math.log10(abs(x))) + 1
        digits += (abs(x) >= 10**digits) - (abs(x) < 10 ** (digits - 1))  # log10 may round
        return f"{'-' if x < 0 else ''}{abs(x) // 10 ** (digits - 12)}… ({digits} digits)"
    return cut(repr(x), limit)


def cut(text: str, limit: int = 300) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was: "Traceback… (12034 characters)"."""
    return text if len(text) <= limit else f"{text[:limit - 1]}… ({len(text)} characters)"


def printable(text: str) -> str:
    """``text`` with every character that cannot be shown (a control character such as ESC, NUL or
    a newline, a bidi override, a lone surrogate) written as its escape, ``a\\x1bb``: so no terminal,
    picture or page is reprogrammed by, or chokes on, what a user typed or named."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def first_few(items: Sequence[str], limit: int = 5, sep: str = ", ") -> str:
    """The first ``limit`` items, and how many more: "w0, w1, w2, w3, w4 and 7 more"."""
    shown = sep.join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def check_seed(seed: Any, name: str = "seed") -> int | np.random.Generator | None:
    """``seed`` as numpy accepts it: an int >= 0, a numpy Generator, or None (fresh randomness).

    Anything else raises a TypeError or ValueError that names ``name``.
    """
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be an int >= 0 or None, got {type(seed).__name__}: {short(seed)}")
    if seed < 0:
        raise ValueError(f"{name} must be an int >= 0, got {short(seed)}")
    return int(seed)
