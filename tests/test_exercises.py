"""Exercise checkers: every checker accepts a correct solution and rejects a wrong one with a hint.

The solutions live here, never in the notebooks."""

from __future__ import annotations

import importlib
import inspect
import math
import pkgutil
import threading
import time

import pytest

import microgradlike.exercises as exercises
from microgradlike import Value
from microgradlike.exercises import Verdict, checking


def test_a_verdict_is_truthy_when_solved_and_hints_only_when_not():
    solved = Verdict("power rule", True, "f'(2.0) = 4.0", hint="bring the exponent down")
    unsolved = Verdict("power rule", False, "f'(2.0) should be 4.0, yours gives 2.0",
                       hint="bring the exponent down")
    assert solved and not unsolved
    assert "hint" not in str(solved) and str(solved).startswith("✓")
    assert str(unsolved).splitlines() == ["✗ power rule: f'(2.0) should be 4.0, yours gives 2.0",
                                          "  hint: bring the exponent down"]
    assert "hint" in unsolved._repr_html_() and "&#x27;" in unsolved._repr_html_()


# ---- every checker keeps the contract: a verdict for any answer, never an exception, never a hang -------
def all_checkers() -> list:
    """Every public ``check_*`` function of every exercise module, found by looking."""
    found = []
    for module_info in pkgutil.iter_modules(exercises.__path__):
        module = importlib.import_module(f"{exercises.__name__}.{module_info.name}")
        found += [fn for name, fn in inspect.getmembers(module, inspect.isfunction)
                  if name.startswith("check_") and fn.__module__ == module.__name__]
    return found


CHECKERS = all_checkers()


def test_every_checker_is_found_and_goes_through_the_shared_runner():
    assert len(CHECKERS) >= 21
    unguarded = [fn.__name__ for fn in CHECKERS if not hasattr(fn, "exercise")]
    assert not unguarded, f"checkers not wrapped by exercises.checking.checker: {unguarded}"


def _loop_forever():
    n = 0
    while True:
        n += 1


class _RaisingNumber(float):
    def __float__(self):
        raise RuntimeError("a number that raises when read")


class _LoopingNumber(float):
    def __float__(self):
        _loop_forever()


class _Escape(BaseException):
    """An answer's own BaseException: no Exception, so only the shared runner can catch it."""


def _raise(error: BaseException):
    raise error


def _raising_number(error: BaseException) -> float:
    """A number that raises ``error`` when read (float() of it)."""
    class Raising(float):
        def __float__(self):
            raise error
    return Raising(1.0)


def _alarm_off_then_loop():
    """Switch the checker's alarm off (its timer, and its handler), then never end."""
    import signal

    signal.setitimer(signal.ITIMER_REAL, 0.0)
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    _loop_forever()


class _QuietLoopingNumber(float):
    def __float__(self):
        _alarm_off_then_loop()


#: What a hostile answer does, when called (a function, a class) and when it is a value itself.
HOSTILE = {
    "raises": (lambda: (_ for _ in ()).throw(RuntimeError("boom")), _RaisingNumber(1.0)),
    "huge number": (lambda: 10**400, 10**400),
    "None": (lambda: None, None),
    "a string": (lambda: "a string", "a string"),
    "infinite loop": (_loop_forever, _LoopingNumber(1.0)),
    "huge range": (lambda: range(10**12), range(10**12)),
    "own BaseException": (lambda: _raise(_Escape("out")), _raising_number(_Escape("out"))),
    "GeneratorExit": (lambda: _raise(GeneratorExit()), _raising_number(GeneratorExit())),
    "KeyboardInterrupt": (lambda: _raise(KeyboardInterrupt()), _raising_number(KeyboardInterrupt())),
    "alarm off, then a loop": (_alarm_off_then_loop, _QuietLoopingNumber(1.0)),
}


def _hostile_argument(annotation: str, behaviour: str):
    act, value = HOSTILE[behaviour]
    if "Callable" in annotation or "type" in annotation:
        def answer(*args, **kwargs):
            return act()
        return answer
    if "Mapping" in annotation:
        class Answer(dict):
            def __getitem__(self, key):
                return act()

            def __contains__(self, key):
                return True
        return Answer({key: 0.0 for key in "Ldecba"})
    return value


@pytest.mark.parametrize("behaviour", list(HOSTILE))
@pytest.mark.parametrize("check", CHECKERS, ids=lambda fn: fn.__name__)
def test_every_checker_gives_a_verdict_for_a_hostile_answer_in_time(check, behaviour, monkeypatch):
    import signal

    monkeypatch.setattr(checking, "TIME_LIMIT", 0.3, raising=False)
    handlers = signal.getsignal(signal.SIGALRM), signal.getsignal(signal.SIGINT)
    parameters = inspect.signature(check).parameters.values()
    args = [_hostile_argument(str(p.annotation), behaviour) for p in parameters]
    start = time.monotonic()
    verdict = check(*args)  # an exception here fails the test
    took = time.monotonic() - start
    assert isinstance(verdict, Verdict) and not verdict, verdict
    assert verdict.message and len(str(verdict)) < 1000, verdict
    assert took < 0.3 + 5, f"{check.__name__} took {took:.1f} s"  # the limit, plus a busy machine's slack
    assert (signal.getsignal(signal.SIGALRM), signal.getsignal(signal.SIGINT)) == handlers
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


# ---- the time limit: in the main thread (a signal) and in any other (a planted exception) -------------
def _endless(x):
    _loop_forever()


def test_an_endless_answer_is_stopped_in_the_main_thread_and_the_alarm_is_put_back(monkeypatch):
    import signal

    from microgradlike.exercises.derivatives import check_tanh_derivative

    monkeypatch.setattr(checking, "TIME_LIMIT", 0.3)
    handler = signal.getsignal(signal.SIGALRM)
    start = time.monotonic()
    verdict = check_tanh_derivative(_endless)
    assert not verdict and "ran longer than 0.3 s" in verdict.message and "never ends" in verdict.hint
    assert time.monotonic() - start < 5
    assert signal.getsignal(signal.SIGALRM) is handler
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    time.sleep(0.4)  # no late alarm goes off after the check


def test_an_endless_answer_is_stopped_in_a_worker_thread_and_leaves_nothing_behind(monkeypatch):
    from microgradlike.exercises.derivatives import check_tanh_derivative, check_tanh_from_exp

    monkeypatch.setattr(checking, "TIME_LIMIT", 0.3)
    seen: list = []

    def worker():
        seen.append(check_tanh_derivative(_endless))
        time.sleep(0.5)  # a planted exception left behind would go off here
        seen.append(check_tanh_from_exp(lambda x: ((2 * x).exp() - 1) / ((2 * x).exp() + 1)))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    stopped, solved = seen
    assert not stopped and "ran longer than 0.3 s" in stopped.message
    assert solved, solved


def test_what_an_answer_patches_on_the_engine_is_put_back(monkeypatch):
    import math

    from microgradlike.exercises.derivatives import check_tanh_from_exp

    for name in ("__mul__", "exp"):
        monkeypatch.setattr(Value, name, getattr(Value, name))  # undone by the test too, whatever happens
    monkeypatch.setattr(math, "tanh", math.tanh)

    def vandal(x):
        Value.__mul__ = lambda self, other: self
        Value.exp = None
        Value.extra = "left behind"
        math.tanh = abs
        return x

    assert not check_tanh_from_exp(vandal)
    assert (Value(2.0) * 3).data == 6.0 and Value(0.0).exp().data == 1.0
    assert not hasattr(Value, "extra") and math.tanh(1.0) != 1.0


def _tanh_slope(x: float) -> float:
    import math

    return 1 - math.tanh(x) ** 2


def test_what_an_answer_patches_in_a_checker_builtins_or_the_verdict_cannot_pass_it_and_is_put_back(
        monkeypatch):
    """Only Value and math were put back: an answer made `close` always true (and the next learner's
    wrong answer passed too), left builtins.abs patched, or made a ✗ read as passed."""
    import builtins

    from microgradlike.exercises import derivatives

    originals = {(derivatives, "close"): derivatives.close, (builtins, "abs"): builtins.abs,
                 (Verdict, "__bool__"): Verdict.__bool__}
    for (space, name), value in originals.items():
        monkeypatch.setattr(space, name, value)  # undone by the test too, whatever happens

    def vandal(x):
        derivatives.close = lambda *a, **k: True
        builtins.abs = lambda v: 0.0
        Verdict.__bool__ = lambda self: True
        builtins.brand_new = "left behind"
        return 42.0

    verdict = derivatives.check_tanh_derivative(vandal)
    assert not verdict and "yours gives 42.0" in verdict.message, verdict
    assert all(getattr(space, name) is value for (space, name), value in originals.items())
    assert not hasattr(builtins, "brand_new")
    assert not derivatives.check_tanh_derivative(lambda x: 42.0)  # the next learner's wrong answer
    assert derivatives.check_tanh_derivative(_tanh_slope)


@pytest.mark.parametrize("replaced", [("setattr", "delattr"), ("vars",), ("getattr", "isinstance")])
def test_an_answer_that_replaces_the_builtins_the_restore_calls_is_put_back_all_the_same(
        monkeypatch, replaced):
    """The restore called vars, setattr and delattr as they were when it ran: an answer that replaced
    setattr and delattr left every patch in place (Value.tanh and math.tanh gave 0 for the rest of
    the session), and one that set vars to None made the check end in a TypeError traceback, its
    alarm and Ctrl-C handlers not put back."""
    import builtins
    import signal

    from microgradlike.exercises import checking, derivatives

    handlers = {s: signal.getsignal(s) for s in (signal.SIGALRM, signal.SIGINT)}
    originals = {(builtins, name): getattr(builtins, name) for name in replaced}
    originals.update({(Value, "tanh"): Value.tanh, (math, "tanh"): math.tanh,
                      (checking, "_restore"): checking._restore})
    for (space, name), value in originals.items():
        monkeypatch.setattr(space, name, value)  # undone by the test too, whatever happens

    def vandal(x):
        slope = 1 - math.tanh(x) ** 2
        Value.tanh = lambda self: Value(0.0)
        math.tanh = lambda v: 0.0
        checking._restore = lambda saved: []
        for name in replaced:
            setattr(builtins, name, None)
        return slope + 1.0  # wrong

    verdict = derivatives.check_tanh_derivative(vandal)  # a verdict, not a traceback
    assert not verdict, verdict
    assert all(getattr(space, name) is value for (space, name), value in originals.items())
    assert Value(1.0).tanh().data == math.tanh(1.0) != 0.0
    assert {s: signal.getsignal(s) for s in handlers} == handlers
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert derivatives.check_tanh_derivative(_tanh_slope)


def test_a_patch_made_while_the_checker_reads_an_answer_fails_the_check(monkeypatch):
    """Code of the answer that runs outside the call (reading the number it returned) could change
    what the check computes after it: the verdict is a ✗ naming the patch, put back."""
    from microgradlike.exercises import derivatives

    monkeypatch.setattr(derivatives, "close", derivatives.close)

    class Sly(float):
        def __float__(self):
            derivatives.close = lambda *a, **k: True
            return 0.0

    verdict = derivatives.check_tanh_derivative(lambda x: Sly(0.0))
    assert not verdict and "microgradlike.exercises.derivatives.close" in verdict.message, verdict
    assert derivatives.close is checking.close


@pytest.mark.parametrize("error", [_Escape("out"), GeneratorExit(), KeyboardInterrupt(), SystemExit(3)],
                         ids=lambda e: type(e).__name__)
def test_an_answer_that_raises_a_base_exception_gets_a_verdict_naming_it(error):
    from microgradlike.exercises.derivatives import check_tanh_derivative

    verdict = check_tanh_derivative(lambda x: _raise(error))
    assert not verdict and f"failed with {type(error).__name__}" in verdict.message, verdict


def test_the_users_ctrl_c_still_stops_a_check(monkeypatch):
    """A real SIGINT (the user's Ctrl-C, or a notebook's interrupt button) is raised again: the
    runner tells it from an answer's own KeyboardInterrupt by seeing the signal arrive."""
    import os
    import signal

    from microgradlike.exercises.derivatives import check_tanh_derivative

    monkeypatch.setattr(checking, "TIME_LIMIT", 5.0)
    handler = signal.getsignal(signal.SIGINT)
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            check_tanh_derivative(lambda x: time.sleep(3))
    finally:
        timer.cancel()
    assert signal.getsignal(signal.SIGINT) is handler


def test_an_answer_that_switches_the_alarm_off_is_stopped_all_the_same(monkeypatch):
    """The main thread's deadline was the SIGALRM timer alone: an answer that set the timer to 0
    (or SIGALRM to SIG_IGN) and looped ran on (30 s, then ✓)."""
    import signal

    from microgradlike.exercises.derivatives import check_tanh_derivative

    monkeypatch.setattr(checking, "TIME_LIMIT", 0.3)
    handler = signal.getsignal(signal.SIGALRM)
    start = time.monotonic()
    verdict = check_tanh_derivative(lambda x: _alarm_off_then_loop())
    assert not verdict and "ran longer than 0.3 s" in verdict.message
    assert time.monotonic() - start < 5
    assert signal.getsignal(signal.SIGALRM) is handler and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
