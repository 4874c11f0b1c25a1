"""What every exercise checker does with the learner's code: run it safely, read its numbers.

A checker never lets the learner's mistake become a traceback or a hang. Every checker is
wrapped by `checker`, the one place that keeps the contract: whatever the answer does (raises,
loops forever, returns a number too large for a float, patches the engine) the checker returns
a `Verdict`, within `TIME_LIMIT` seconds, and leaves the library and Python as it found them.

Inside a checker, the helpers below return their result when all went well and a failed
`Verdict` otherwise, so a checker reads::

    slope = attempt(EXERCISE, tanh_derivative, 0.3, hint=HINT)
    if isinstance(slope, Verdict):
        return slope
"""

from __future__ import annotations

import builtins
import contextlib
import ctypes
import functools
import itertools
import math
import numbers
import signal
import sys
import threading
import types
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np

from ..checks import as_real, first_few, short
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
_PATCH_HINT = ("write your answer with the library and Python as they are: assigning to one of their "
               "names changes what the check compares your answer with")

Check = TypeVar("Check", bound=Callable[..., Verdict])


class _OutOfTime(BaseException):
    """Raised in the checking thread when its time is up. A BaseException, so that an answer's
    ``except Exception:`` does not swallow it."""


# ---- the contract, kept in one place ------------------------------------------------------------
def checker(exercise: str) -> Callable[[Check], Check]:
    """Make ``check`` keep every checker's contract: it returns a `Verdict` for any answer.

    * The whole check (the learner's code with it) may run `TIME_LIMIT` seconds; an answer
      still running then is stopped and gets a ✗ that says so (see `_Deadline`).
    * Any exception the checker did not turn into a verdict itself becomes a ✗ naming it: an
      answer's ``Exception``, and also ``SystemExit``, ``GeneratorExit``, a ``KeyboardInterrupt``
      it raises itself and any other ``BaseException`` of its own. Only the user's Ctrl-C (a real
      SIGINT, which `_Deadline` sees arrive in the main thread) still interrupts the check.
    * What an answer patches where the check could see it (`_snapshot`: every microgradlike
      module and class, `Verdict`, builtins, math, numpy, signal) is put back after each call of
      the answer (`attempt`) and at the end, so the next check, and the lesson after it, see the
      real code. A patch made outside `attempt` (while the checker reads what the answer gave) may
      have moved the check itself: the verdict is then a ✗ naming what was patched.

    Known limits: a blocking C call that ignores signals (``threading.Event().wait()``, or a
    ``time.sleep`` after the answer switched the alarm off) is stopped only when it returns, and
    in a thread other than the main one never by a signal: the planted `_OutOfTime` is raised at
    the thread's next bytecode. An answer that rewrites the checker's own code objects in place
    (``f.__code__ = …``) is not undone.
    """
    restore = _restore  # held here: an answer may replace the module's name for it

    def wrap(check: Check) -> Check:
        @functools.wraps(check)
        def guarded(*args: Any, **kwargs: Any) -> Verdict:
            limit = TIME_LIMIT
            saved = _snapshot()  # before the answer runs
            deadline = _Deadline(limit)
            try:
                outcome = _run(deadline, check, args, kwargs)
            finally:
                try:
                    deadline.disarm()  # no _OutOfTime from here on: the restore below is not cut short
                finally:  # even if the answer replaced disarm: the restore puts _Deadline back too
                    patched = restore(saved)
                    deadline.stop()
            # only now, with builtins put back, is what went wrong made into a verdict
            verdict = outcome if isinstance(outcome, Verdict) else _failed(exercise, outcome, deadline)
            if patched and verdict:
                return Verdict(exercise, False, f"your code changed {first_few(patched)} while the check "
                               f"read its answer, so the check cannot trust what it computed (put back "
                               f"now)", hint=_PATCH_HINT)
            return verdict

        guarded.exercise = exercise  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return wrap


def _run(deadline: _Deadline, check: Callable[..., Verdict], args: tuple[Any, ...],
         kwargs: dict[str, Any]) -> Verdict | BaseException:
    """``check(*args, **kwargs)`` under ``deadline``: its verdict, or the exception it let out (the
    caller makes that a verdict once what the answer patched is put back: it may have replaced
    the very builtins a verdict is made with)."""
    try:
        deadline.start()
        try:
            return check(*args, **kwargs)
        except _OutOfTime:
            raise
        except BaseException as error:  # the learner's code: a verdict, not a traceback
            return error
        finally:
            deadline.disarm()
    except _OutOfTime as out_of_time:
        deadline.disarm()  # again: the time may have run out while the first disarm() ran
        return out_of_time


def _failed(exercise: str, error: BaseException, deadline: _Deadline) -> Verdict:
    """The ✗ for a check that ran out of time or let ``error`` out; the user's own Ctrl-C (a real
    SIGINT arrived) is raised again, to stop as they asked."""
    if isinstance(error, _OutOfTime):
        return Verdict(exercise, False, f"your code ran longer than {deadline.seconds:g} s, so the "
                       f"check stopped it", hint=_LOOP_HINT)
    if isinstance(error, KeyboardInterrupt) and deadline.interrupted:
        raise error
    return Verdict(exercise, False, f"checking your answer failed with {_name(error)}: {_message(error)}",
                   hint="try your answer by hand, as the exercise uses it, and look at what it gives "
                        "(or raises)")


class _Deadline:
    """Stops the checking thread once ``seconds`` have passed, by raising `_OutOfTime` in it.

    In any thread a watchdog thread plants it with CPython's ``PyThreadState_SetAsyncExc``, and
    the thread raises it at its next bytecode boundary: a worker thread with a timeout could not
    stop the answer, this does. In the main thread (a script, a test, a Jupyter kernel) a SIGALRM
    timer raises it first, which also interrupts a sleep; there the watchdog waits a little
    longer, so an answer that switches the alarm off (``signal.setitimer(…, 0)``, or another
    handler for SIGALRM) is stopped all the same. Once the time is up it is raised again every
    0.1 s until `disarm`, so that an answer that catches everything (``except BaseException``)
    is stopped too.

    In the main thread it also watches SIGINT while it runs, passing it on to the handler before:
    `interrupted` says whether the user pressed Ctrl-C, and so tells their KeyboardInterrupt from
    one the answer raises itself. `stop` puts both signals' handlers, and the timer, back.
    """

    AGAIN = 0.1
    #: How much longer the watchdog waits in the main thread, where the alarm comes first.
    GRACE = 0.5

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.active = False
        self.interrupted = False
        self._main = threading.current_thread() is threading.main_thread()
        self._by_signal = False
        self._handlers: dict[int, Any] = {}  # signal number -> the handler before start()
        self._thread = threading.get_ident()
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    def start(self) -> None:
        self.active = True
        if self._main:
            interrupt = signal.getsignal(signal.SIGINT)
            if interrupt is not None:  # None: a handler not set from Python, which cannot be put back
                self._handlers[signal.SIGINT] = signal.signal(signal.SIGINT, self._interrupt)
            self._by_signal = (hasattr(signal, "setitimer")
                               and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0))  # nobody else's timer
            if self._by_signal:
                self._handlers[signal.SIGALRM] = signal.signal(signal.SIGALRM, self._alarm)
                signal.setitimer(signal.ITIMER_REAL, self.seconds, self.AGAIN)
        if _plant is not None:
            threading.Thread(target=self._watch, name="exercise check's deadline", daemon=True).start()

    def _alarm(self, signum: int, frame: object) -> None:
        if self.active:
            raise _OutOfTime

    def _interrupt(self, signum: int, frame: object) -> None:
        self.interrupted = True
        before = self._handlers.get(signal.SIGINT)
        if callable(before):
            before(signum, frame)  # Python's default raises KeyboardInterrupt
        elif before != signal.SIG_IGN:
            raise KeyboardInterrupt

    def _watch(self) -> None:
        wait = self.seconds + (self.GRACE if self._by_signal else 0.0)
        if _plant is None or self._stopped.wait(wait):  # (start() runs it only with _plant)
            return
        while True:
            with self._lock:
                if not self.active:
                    return
                _plant(self._thread, _OutOfTime)
            if self._stopped.wait(self.AGAIN):
                return

    def disarm(self) -> None:
        """No more `_OutOfTime` after this returns (it may be called again: it is idempotent)."""
        with self._lock:
            self.active = False
            if _plant is not None:
                _plant(self._thread, None)  # withdraw one planted but not raised yet
        self._stopped.set()

    def stop(self) -> None:
        """Disarm, and put the signal handlers and the timer back as they were before `start`."""
        self.disarm()
        if self._by_signal:
            signal.setitimer(signal.ITIMER_REAL, 0.0, 0.0)  # first no more alarms, then the old handler
        for signum, handler in self._handlers.items():
            signal.signal(signum, handler)
        self._handlers.clear()


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


# ---- what an answer could patch: snapshots, put back after each call ------------------------------
#: Names that change on their own (Python's warnings registry, the REPL's last result): not patches.
_NOT_PATCHES = frozenset({"__warningregistry__", "_"})
_Snapshot = list[tuple[Any, dict[str, Any]]]


def _snapshot() -> _Snapshot:
    """Every namespace an answer could patch to move a check (``close = lambda *a: True`` in a
    checker's module, ``Value.tanh = …``, ``builtins.abs = …``, ``Verdict.__bool__ = …``): each
    microgradlike module and each class defined there (`Verdict` and `Value` among them), and
    builtins, math, numpy and signal; with a copy of what each holds now."""
    def ours(name: object) -> bool:
        return str(name).partition(".")[0] == "microgradlike"

    modules = [m for name, m in list(sys.modules.items()) if isinstance(m, types.ModuleType) and ours(name)]
    classes = {v for m in modules for v in list(vars(m).values())
               if isinstance(v, type) and ours(getattr(v, "__module__", ""))}
    spaces = [*modules, *classes, builtins, math, np, signal]
    return [(space, dict(vars(space))) for space in spaces]


def _restore(saved: _Snapshot) -> list[str]:
    """Put back what changed in each namespace since ``saved`` (`_snapshot`); the names changed.
    A name added that holds a module is kept: importing a submodule adds it to its package.
    Builtins go back first, by dict operations alone: the rest calls ``vars``, ``setattr`` and
    ``delattr``, which an answer may have replaced."""
    patched: list[str] = []
    for space, before in saved:
        if space is builtins:
            now_builtins = _BUILTINS
            for name in now_builtins.keys() - before.keys() - _NOT_PATCHES:
                patched.append(f"builtins.{name}")
                del now_builtins[name]
            for name, value in before.items():
                if now_builtins.get(name, _MISSING) is not value and name not in _NOT_PATCHES:
                    patched.append(f"builtins.{name}")
                    now_builtins[name] = value
    for space, before in saved:
        if space is builtins:
            continue
        now = vars(space)
        where = getattr(space, "__qualname__", getattr(space, "__name__", "?"))
        for name in [name for name in now if name not in before]:
            if name in _NOT_PATCHES or isinstance(now[name], _MODULE):
                continue
            patched.append(f"{where}.{name}")
            delattr(space, name)
        for name, value in before.items():
            if now.get(name, _MISSING) is not value and name not in _NOT_PATCHES:
                patched.append(f"{where}.{name}")
                setattr(space, name, value)
    return patched


@contextlib.contextmanager
def _untouched() -> Iterator[None]:
    """Put back, on the way out, whatever the code inside changed where a check could see it
    (`_snapshot`): ``Value.tanh = …`` in an answer would change the reference it is compared with."""
    saved = _snapshot()
    try:
        yield
    finally:
        _restore(saved)


_MISSING = object()
_BUILTINS = builtins.__dict__  # the dict itself, and the module type, held from import on
_MODULE = types.ModuleType


def _name(error: BaseException) -> str:
    """The name of an exception's class, even from a class that hides it."""
    try:
        return str(type(error).__name__)
    except Exception:
        return "an exception"


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
    `shown_call`). What the call patched where a check could see it is put back right after it."""
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
