"""What every exercise checker does with the learner's code: run it safely, read its numbers.

A checker never lets the learner's mistake become a traceback or a hang. Every checker is
wrapped by `checker`, the one place that keeps the contract: whatever the answer does (raises,
loops forever, returns a number too large for a float, patches the engine) the checker returns
a `Verdict`, within `TIME_LIMIT` seconds, and leaves `Value` and `math` as it found them.

Inside a checker, the helpers below return their result when all went well and a failed
`Verdict` otherwise, so a checker reads::

    slope = attempt(EXERCISE, tanh_derivative, 0.3, hint=HINT)
    if isinstance(slope, Verdict):
        return slope
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import itertools
import math
import numbers
import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np

from ..checks import as_real, short
from ..engine import Value, topological_order
from ..formatting import number as number_format
from . import Verdict

__all__ = ["MOST_READ", "TIME_LIMIT", "as_floats", "attempt", "checker", "close", "first", "fmt", "number",
           "ops_used", "plain_parameters", "real", "same_numbers", "shown_call", "whole_number"]

#: How long one check may run, in seconds: the learner's code with it. An answer still running
#: then (a loop that never ends) is stopped, and the verdict is a ✗ that says so.
TIME_LIMIT = 10.0
#: The most entries a checker reads from one answer: a returned ``range(10**12)`` is refused by
#: its length, never read to the end.
MOST_READ = 10_000

#: What a stub says: the body is still ``...`` (or ``pass``), so the call returns None.
_NOT_WRITTEN = "replace the `...` with your code, run the cell, then run this check again"
_LOOP_HINT = ("look for a loop that never ends: a `while` whose condition never turns false, or a "
              "loop over something far longer than it should be")
#: What an answer could patch to make the checker's reference agree with it: put back after each call.
_GUARDED = (Value, math)

Check = TypeVar("Check", bound=Callable[..., Verdict])


class _OutOfTime(BaseException):
    """Raised in the checking thread when its time is up. A BaseException, so that an answer's
    ``except Exception:`` does not swallow it."""


# ---- the contract, kept in one place ------------------------------------------------------------
def checker(exercise: str) -> Callable[[Check], Check]:
    """Make ``check`` keep every checker's contract: it returns a `Verdict` for any answer.

    * The whole check (the learner's code with it) may run `TIME_LIMIT` seconds; an answer
      still running then is stopped and gets a ✗ that says so (see `_Deadline`).
    * An exception the checker did not turn into a verdict itself (an answer's object that
      raises when it is read, say) becomes a ✗ naming it.
    * What an answer patched on `Value` or `math` is put back, so the next check, and the
      lesson after it, see the real engine.
    """
    def wrap(check: Check) -> Check:
        @functools.wraps(check)
        def guarded(*args: Any, **kwargs: Any) -> Verdict:
            limit = TIME_LIMIT
            deadline = _Deadline(limit)
            try:
                with _untouched():
                    deadline.start()
                    try:
                        return check(*args, **kwargs)
                    except _OutOfTime:
                        raise
                    except (Exception, SystemExit) as error:  # the learner's code: a verdict, not a traceback
                        return Verdict(exercise, False, f"checking your answer failed with "
                                       f"{type(error).__name__}: {_message(error)}",
                                       hint="try your answer by hand, as the exercise uses it, and look at "
                                            "what it gives (or raises)")
                    finally:
                        deadline.stop()
            except _OutOfTime:
                deadline.stop()  # again: the time may have run out while the first stop() ran
                return Verdict(exercise, False, f"your code ran longer than {limit:g} s, so the check "
                               f"stopped it", hint=_LOOP_HINT)

        guarded.exercise = exercise  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return wrap


class _Deadline:
    """Stops the checking thread once ``seconds`` have passed, by raising `_OutOfTime` in it.

    In the main thread (a script, a test, a Jupyter kernel) a SIGALRM timer raises it, which
    also interrupts a sleep. In any other thread (signals go to the main thread only) a
    watchdog thread plants it with CPython's ``PyThreadState_SetAsyncExc``, and the thread
    raises it at its next bytecode boundary: a worker thread with a timeout could not stop
    the answer, this does. Once the time is up it is raised again every 0.1 s until `stop`,
    so that an answer that catches everything (``except BaseException``) is stopped too.
    """

    AGAIN = 0.1

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.active = False
        self._by_signal = False
        self._previous: Any = None
        self._thread = threading.get_ident()
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    def start(self) -> None:
        self.active = True
        main = threading.current_thread() is threading.main_thread()
        self._by_signal = (main and hasattr(signal, "setitimer")
                           and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0))  # nobody else's timer
        if self._by_signal:
            self._previous = signal.signal(signal.SIGALRM, self._alarm)
            signal.setitimer(signal.ITIMER_REAL, self.seconds, self.AGAIN)
        elif _plant is not None:
            threading.Thread(target=self._watch, name="exercise check's deadline", daemon=True).start()

    def _alarm(self, signum: int, frame: object) -> None:
        if self.active:
            raise _OutOfTime

    def _watch(self) -> None:
        if _plant is None or self._stopped.wait(self.seconds):  # (start() runs it only with _plant)
            return
        while True:
            with self._lock:
                if not self.active:
                    return
                _plant(self._thread, _OutOfTime)
            if self._stopped.wait(self.AGAIN):
                return

    def stop(self) -> None:
        """No more `_OutOfTime` after this returns (it may be called twice: it is idempotent)."""
        self.active = False
        if self._by_signal:
            signal.setitimer(signal.ITIMER_REAL, 0.0, 0.0)  # first no more alarms, then the old handler
            signal.signal(signal.SIGALRM, self._previous)
        else:
            with self._lock:
                if _plant is not None:
                    _plant(self._thread, None)  # withdraw one planted but not raised yet
            self._stopped.set()


def _set_async_exc() -> Callable[[int, type[BaseException] | None], None] | None:
    """CPython's way to raise an exception in another thread; None elsewhere (no limit there)."""
    api = getattr(ctypes, "pythonapi", None)
    if api is None or not hasattr(api, "PyThreadState_SetAsyncExc"):
        return None

    def plant(thread: int, exception: type[BaseException] | None) -> None:
        api.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread),
                                      None if exception is None else ctypes.py_object(exception))

    return plant


_plant = _set_async_exc()


@contextlib.contextmanager
def _untouched() -> Iterator[None]:
    """Put back, on the way out, whatever the code inside changed on `_GUARDED` (``Value.tanh =
    …`` in an answer would change the reference the answer is compared with)."""
    saved = [(space, dict(vars(space))) for space in _GUARDED]
    try:
        yield
    finally:
        for space, before in saved:
            now = vars(space)
            for name in [name for name in now if name not in before]:
                delattr(space, name)
            for name, value in before.items():
                if now.get(name, _MISSING) is not value:
                    setattr(space, name, value)


_MISSING = object()


def _message(error: BaseException) -> str:
    """``str(error)``, cut short; a learner's exception whose ``__str__`` fails still gets one."""
    try:
        return short(str(error), 120)
    except Exception:
        return "(its message cannot be shown)"


# ---- calling the learner's code, reading its results ---------------------------------------------
def shown_call(fn: Callable[..., Any], args: tuple[Any, ...]) -> str:
    """``name(arg, …)`` as the learner would write the call (numbers as floats)."""
    name = getattr(fn, "__name__", "your function")
    shown = ", ".join(fmt(a) if real(a) is not None else _arg(a) for a in args)
    return f"{name}({shown})"


def _arg(a: object) -> str:
    if isinstance(a, Value):
        return f"Value({fmt(a.data)})"
    return short(a, 40)


def attempt(exercise: str, fn: object, *args: Any, hint: str = "", returns: bool = True,
            call: str = "") -> Any | Verdict:
    """``fn(*args)``, or a failed verdict when ``fn`` is not a function, raises, or (when it
    ``returns`` a result) returns None. ``call`` is how verdicts write the call (default:
    `shown_call`). What the call patched on `Value` or `math` is put back right after it."""
    if not callable(fn):
        got = f"{type(fn).__name__}: {short(fn, 40)}"
        return Verdict(exercise, False, f"expected a function, got {got}",
                       hint="pass the function itself (its name, without calling it)")
    call = call or shown_call(fn, args)
    try:
        with _untouched():
            result = fn(*args)
    except NotImplementedError:
        return Verdict(exercise, False, f"{call} raised NotImplementedError: the exercise is not "
                                              f"written yet", hint=_NOT_WRITTEN)
    except Exception as e:  # the learner's code: any mistake is a verdict, never a traceback
        return Verdict(exercise, False, f"{call} raised {type(e).__name__}: {_message(e)}", hint=hint)
    if returns and (result is None or result is Ellipsis):
        return Verdict(exercise, False, f"{call} returned {result!r}: the exercise is not written yet",
                       hint=_NOT_WRITTEN)
    return result


def real(x: object) -> float | None:
    """``as_real(x)``, with an int too large for a float read as ±inf (a number, and too big)."""
    try:
        return as_real(x)
    except ValueError:
        return math.inf if x > 0 else -math.inf  # type: ignore[operator]


def number(exercise: str, result: object, what: str, hint: str = "") -> float | Verdict:
    """``result`` as a float (a Value counts by its ``data``), or a failed verdict naming ``what``."""
    if result is None or result is Ellipsis:
        return Verdict(exercise, False, f"{what} is {result!r}: the exercise is not written yet",
                       hint=_NOT_WRITTEN)
    raw = result.data if isinstance(result, Value) else result
    value = real(raw)
    if value is None:
        return Verdict(exercise, False, f"{what} should be a number, got {type(result).__name__}: "
                       f"{short(result, 40)}", hint=hint)
    if not math.isfinite(value):
        shown = short(raw, 40) if isinstance(raw, numbers.Integral) else repr(value)
        return Verdict(exercise, False, f"{what} is {shown}, not a finite number a float can hold",
                       hint=hint)
    return value


def whole_number(exercise: str, result: object, what: str,
                 hint: str = "") -> int | Verdict:
    """``result`` as an int, or a failed verdict "expected ``what``": the one rule for answers that
    count something. An int (numpy's too) or a whole float counts (337.0 is 337); a bool, a
    fraction or anything else does not."""
    if result is None or result is Ellipsis:
        return Verdict(exercise, False, f"your answer is {result!r}: the exercise is not written yet",
                       hint=_NOT_WRITTEN)
    if isinstance(result, numbers.Integral) and not isinstance(result, bool):
        return int(result)
    value = real(result)
    if value is not None and math.isfinite(value) and value.is_integer():
        return int(value)
    return Verdict(exercise, False, f"expected {what}, got {short(result, 40)}", hint=hint)


def plain_parameters(exercise: str, model: Any) -> Verdict | None:
    """A failed verdict when the answer left something other than a number in a parameter's
    ``data`` (the slip ``p.data = p - …`` puts a Value there); None when every one is a number."""
    for name, p in model.named_parameters():
        if real(p.data) is None:
            return Verdict(exercise, False, f"after your code, {name}.data is {type(p.data).__name__}: "
                           f"{short(p.data, 40)}, not a number", hint="p is the parameter's Value, its node "
                           "in the graph; p.data is its plain number, and must stay a plain number")
    return None


def close(got: float, want: float, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    """|got − want| ≤ atol + rtol·|want| (nan is never close)."""
    return abs(got - want) <= atol + rtol * abs(want)


def same_numbers(a: Sequence[float], b: Sequence[float], rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    """Whether two lists of floats agree entry by entry, each `close`."""
    return len(a) == len(b) and all(close(x, y, rtol, atol) for x, y in zip(a, b))


def first(items: Any, most: int = MOST_READ) -> list[Any] | None:
    """The entries of a sequence (not a string) or array, as a list, read no further than ``most``
    (None when there are more, or it is not one): a checker's bound on what it reads."""
    if isinstance(items, np.ndarray):
        return items.ravel().tolist() if items.size <= most else None
    if isinstance(items, str) or not isinstance(items, Sequence):
        return None
    got = list(itertools.islice(items, most + 1))
    return got if len(got) <= most else None


def as_floats(x: Any, most: int = MOST_READ) -> list[float] | None:
    """``x`` as a flat list of finite-or-not floats (a number, a Value, or a list, tuple or array of
    them, at most ``most``); None when it is something else."""
    items = [x] if isinstance(x, Value) or real(x) is not None else first(x, most)
    if items is None:
        return None
    out = []
    for item in items:
        value = real(item.data if isinstance(item, Value) else item)
        if value is None:
            return None
        out.append(value)
    return out


def fmt(x: object) -> str:
    """A number as verdicts print it: 6 significant digits, "2.0" rather than "2"."""
    value = real(x)
    if value is None or (math.isinf(value) and isinstance(x, numbers.Integral)):
        return short(x, 40)
    return number_format(value)


def ops_used(root: Value) -> Counter[str]:
    """How many nodes of each op the graph below ``root`` holds (leaves not counted)."""
    return Counter(node.op for node in topological_order(root) if node.op)
