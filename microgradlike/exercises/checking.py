"""What every exercise checker does with the learner's code: call it safely, read its numbers.

A checker never lets the learner's mistake become a traceback: an exception, a stub that still
returns ``None`` (``def f(x): ...``) or a result that is not a number becomes a failed `Verdict`
that says what happened. These helpers return ``(result, None)`` when all went well and
``(None, verdict)`` otherwise, so a checker reads::

    slope, failed = attempt(EXERCISE, tanh_derivative, 0.3, hint=HINT)
    if failed is not None:      # a failed Verdict is falsy: compare with None
        return failed
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..checks import as_real, short
from ..engine import Value, topological_order
from ..formatting import number as number_format
from . import Verdict

__all__ = ["as_floats", "attempt", "close", "fmt", "number", "ops_used", "same_numbers", "shown_call"]

#: What a stub says: the body is still ``...`` (or ``pass``), so the call returns None.
_NOT_WRITTEN = "replace the `...` with your code, run the cell, then run this check again"


def shown_call(fn: Callable[..., Any], args: tuple[Any, ...]) -> str:
    """``name(arg, …)`` as the learner would write the call (numbers as floats)."""
    name = getattr(fn, "__name__", "your function")
    shown = ", ".join(fmt(a) if as_real(a) is not None else _arg(a) for a in args)
    return f"{name}({shown})"


def _arg(a: object) -> str:
    if isinstance(a, Value):
        return f"Value({fmt(a.data)})"
    return short(a, 40)


def attempt(exercise: str, fn: object, *args: Any, hint: str = "", returns: bool = True,
            call: str = "") -> tuple[Any, Verdict | None]:
    """``fn(*args)``, or a failed verdict when ``fn`` is not a function, raises, or (when it
    ``returns`` a result) returns None. ``call`` is how verdicts write the call (default:
    `shown_call`)."""
    if not callable(fn):
        got = f"{type(fn).__name__}: {short(fn, 40)}"
        return None, Verdict(exercise, False, f"expected a function, got {got}",
                             hint="pass the function itself (its name, without calling it)")
    call = call or shown_call(fn, args)
    try:
        result = fn(*args)
    except NotImplementedError:
        return None, Verdict(exercise, False, f"{call} raised NotImplementedError: the exercise is not "
                                              f"written yet", hint=_NOT_WRITTEN)
    except Exception as e:  # the learner's code: any mistake is a verdict, never a traceback
        return None, Verdict(exercise, False, f"{call} raised {type(e).__name__}: {short(str(e), 120)}",
                             hint=hint)
    if returns and (result is None or result is Ellipsis):
        return None, Verdict(exercise, False, f"{call} returned {result!r}: the exercise is not written yet",
                             hint=_NOT_WRITTEN)
    return result, None


def number(exercise: str, result: object, what: str, hint: str = "") -> tuple[float | None, Verdict | None]:
    """``result`` as a float (a Value counts by its ``data``), or a failed verdict naming ``what``."""
    if result is None or result is Ellipsis:
        return None, Verdict(exercise, False, f"{what} is {result!r}: the exercise is not written yet",
                             hint=_NOT_WRITTEN)
    value = as_real(result.data if isinstance(result, Value) else result)
    if value is None:
        return None, Verdict(exercise, False, f"{what} should be a number, got {type(result).__name__}: "
                             f"{short(result, 40)}", hint=hint)
    if not math.isfinite(value):
        return None, Verdict(exercise, False, f"{what} is {value!r}, not a finite number", hint=hint)
    return value, None


def close(got: float, want: float, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    """|got − want| ≤ atol + rtol·|want| (nan is never close)."""
    return abs(got - want) <= atol + rtol * abs(want)


def same_numbers(a: Sequence[float], b: Sequence[float], rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    """Whether two lists of floats agree entry by entry, each `close`."""
    return len(a) == len(b) and all(close(x, y, rtol, atol) for x, y in zip(a, b))


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
        value = as_real(item.data if isinstance(item, Value) else item)
        if value is None:
            return None
        out.append(value)
    return out


def fmt(x: object) -> str:
    """A number as verdicts print it: 6 significant digits, "2.0" rather than "2"."""
    value = as_real(x)
    return short(x, 40) if value is None else number_format(value)


def ops_used(root: Value) -> Counter[str]:
    """How many nodes of each op the graph below ``root`` holds (leaves not counted)."""
    return Counter(node.op for node in topological_order(root) if node.op)
