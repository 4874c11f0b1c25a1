"""Running a learner's solution: its result, or a `Verdict` saying why there is none yet.

Every checker calls the learner's function the same way. A stub (a body of ``...`` or ``pass``,
which returns None, or ``raise NotImplementedError``) is "not solved yet", an exception is
reported by its type and message, and neither ever escapes into the notebook::

    >>> result, verdict = attempt("demo", lambda x: None, 2.0, hint="return a number")
    >>> verdict
    ✗ demo: not solved yet: <lambda> returns None (is its body still the stub?)
      hint: return a number
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..checks import as_real, short
from ..engine import Value
from . import Verdict

__all__ = ["as_floats", "attempt", "same_numbers"]


def attempt(exercise: str, solution: Any, *args: Any, hint: str) -> tuple[Any, Verdict | None]:
    """``(solution(*args), None)``, or ``(None, a failing Verdict)`` when ``solution`` is not a
    function, is still the stub, or raises. ``hint`` goes with the failing verdict."""
    name = getattr(solution, "__name__", type(solution).__name__)
    if not callable(solution):
        return None, Verdict(exercise, False, f"expected your function, got {short(solution)}", hint)
    try:
        result = solution(*args)
    except NotImplementedError:
        return None, Verdict(exercise, False, f"not solved yet: {name} raises NotImplementedError", hint)
    except Exception as e:  # the learner's code may raise anything: report it, never crash
        return None, Verdict(exercise, False, f"{name} raised {type(e).__name__}: {short(str(e), 200)}", hint)
    if result is None:
        return None, Verdict(exercise, False, f"not solved yet: {name} returns None "
                                              f"(is its body still the stub?)", hint)
    return result, None


def as_floats(x: Any) -> list[float] | None:
    """``x`` as a flat list of floats (a number, a Value, or a list, tuple or array of them); None
    when it is something else."""
    if isinstance(x, np.ndarray):
        items = x.ravel().tolist()
    elif isinstance(x, Value) or as_real(x) is not None:
        items = [x]
    elif isinstance(x, Sequence) and not isinstance(x, str):
        items = list(x)
    else:
        return None
    out = []
    for item in items:
        number = as_real(item.data if isinstance(item, Value) else item)
        if number is None:
            return None
        out.append(number)
    return out


def same_numbers(a: Sequence[float], b: Sequence[float], rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    """Whether two lists of floats agree entry by entry: |a − b| ≤ atol + rtol·|b| (nan never agrees)."""
    return len(a) == len(b) and all(abs(x - y) <= atol + rtol * abs(y) and not math.isnan(x)
                                    for x, y in zip(a, b))
