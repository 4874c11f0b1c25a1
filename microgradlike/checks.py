"""Checks on what users pass in: the one place that says what counts as a real number or a seed.

Every module that validates arguments reads these rules, so the same input is accepted or
refused, with the same words, everywhere.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = ["as_real", "check_seed", "short"]


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


def short(x: object, limit: int = 60) -> str:
    """``repr(x)`` cut to ``limit`` characters, so an error message never echoes a huge input."""
    if isinstance(x, int) and not isinstance(x, bool) and abs(x) > 10**limit:
        return f"{'-' if x < 0 else ''}{str(abs(x))[:12]}… ({len(str(abs(x)))} digits)"
    text = repr(x)
    return text if len(text) <= limit else f"{text[:limit - 1]}… ({len(text)} characters)"


def check_seed(seed: Any, name: str = "seed") -> int | np.random.Generator | None:
    """``seed`` as numpy accepts it: an int >= 0, a numpy Generator, or None (fresh randomness).

    Anything else raises a TypeError or ValueError that names ``name``.
    """
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be an int >= 0 or None, got {type(seed).__name__}: {seed!r}")
    if seed < 0:
        raise ValueError(f"{name} must be an int >= 0, got {seed!r}")
    return int(seed)
