"""Checkers for lesson 9, overfitting (过拟合): training, validation and test data, each for one job.

* `check_best_epoch`: the epoch whose model to keep, read from the validation losses.
* `check_stopping_epoch`: when early stopping with ``patience`` ends training, knowing at each
  epoch only the losses so far (the rule of ``fit(..., patience=...)``).
* `check_choose_and_report`: pick a model with the validation set, then report the test loss,
  the one number never used to choose anything.

Oracles: `History.best_epoch`, the stopping rule of `fit` (the tests check the two agree on real
runs), and the definitions themselves. Hints say where to look, never the code.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from ..checks import short
from ..train import History
from . import Verdict
from .checking import attempt, checker, real, whole_number

__all__ = ["check_best_epoch", "check_choose_and_report", "check_stopping_epoch", "stopping_epoch"]


# ---- the best epoch ------------------------------------------------------------------------------
BEST = "the best epoch"
_BEST_HINT = "which of the two sets has the model never trained on? Its lowest loss marks the model to keep"
#: (train_loss, val_loss) per epoch: the training loss keeps falling, the validation loss turns up;
#: in the last one it rises once, then falls lower than before (the best is not before the first rise).
_CURVES = (
    ([1.0, 0.7, 0.5, 0.4, 0.33, 0.29, 0.26, 0.24, 0.22, 0.21],
     [1.1, 0.8, 0.62, 0.55, 0.53, 0.54, 0.57, 0.6, 0.66, 0.71]),
    ([0.9, 0.6, 0.45, 0.3, 0.2, 0.12],
     [0.5, 0.55, 0.61, 0.7, 0.8, 0.95]),
    ([2.0, 1.5, 1.2, 1.0, 0.9, 0.85, 0.8, 0.78],
     [2.1, 1.6, 1.35, 1.2, 1.15, 1.1, 1.08, 1.07]),
    ([1.2, 0.9, 0.7, 0.55, 0.45, 0.38, 0.33],
     [1.3, 1.0, 1.05, 0.8, 0.74, 0.77, 0.82]),
)


def _before_first_rise(val_loss: Sequence[float]) -> int:
    """The plausible mistake: the epoch just before the validation loss first goes up."""
    rises = [e for e in range(2, len(val_loss) + 1) if val_loss[e - 1] > val_loss[e - 2]]
    return rises[0] - 1 if rises else len(val_loss)


@checker(BEST)
def check_best_epoch(best_epoch: Callable[[list[float], list[float]], int]) -> Verdict:
    """``best_epoch(train_loss, val_loss)``: the losses after each epoch (epoch 1 first); returns the
    epoch, counted from 1, whose model early stopping keeps. Checked against `History.best_epoch`."""
    for train, val in _CURVES:
        expected = History(train_loss=list(train), val_loss=list(val)).best_epoch
        assert expected is not None  # every curve of _CURVES has finite losses
        result = attempt(BEST, best_epoch, list(train), list(val), hint=_BEST_HINT)
        if isinstance(result, Verdict):
            return result
        epoch = whole_number(BEST, result, "an epoch number", _BEST_HINT)
        if isinstance(epoch, Verdict):
            return epoch
        if epoch == expected:
            continue
        lowest_train = min(range(len(train)), key=train.__getitem__) + 1
        if epoch == expected - 1:
            hint = "epochs are counted from 1: val_loss[0] is the loss after epoch 1"
        elif epoch == _before_first_rise(val) < expected:
            hint = ("the validation loss can rise for an epoch or two and then fall lower than before: the "
                    "model to keep is the best of the whole run, not the last one before the first rise")
        elif epoch in (lowest_train, len(val)):
            hint = ("the training loss keeps falling as the model learns the noise too, so it is lowest at "
                    "about the last epoch and cannot tell you when overfitting starts")
        else:
            hint = _BEST_HINT
        return Verdict(BEST, False, f"for validation losses {val} the best epoch is {expected}, "
                                    f"yours is {short(epoch, 40)}", hint)
    return Verdict(BEST, True, "the lowest validation loss marks the epoch to keep, on every curve")


# ---- when early stopping stops ---------------------------------------------------------------------
STOPPING = "early stopping"
_STOPPING_HINT = ("go through the epochs in order, remembering the best validation loss so far and its "
                  "epoch; stop as soon as that best is `patience` epochs old")
#: (val_loss, patience): bumps shorter than the patience, a later best, then a long rise; and
#: losses that wobble below the epoch before without beating the best (a rule that counts the
#: patience against the previous epoch never stops there).
_STOPPING_CASES = (
    ([1.0, 0.8, 0.7, 0.72, 0.71, 0.65, 0.6, 0.58, 0.59, 0.6, 0.62, 0.61, 0.63, 0.55, 0.6], 3),
    ([1.0, 0.9, 0.95, 0.85, 0.86, 0.8], 2),
    ([0.5, 0.6, 0.4, 0.45, 0.5, 0.3], 1),
    ([0.9, 0.8, 0.7, 0.6, 0.5], 4),
    ([1.0, 0.5, 0.6, 0.55, 0.58, 0.57, 0.59], 3),
)


def stopping_epoch(val_loss: Sequence[float], patience: int) -> int:
    """The epoch after which ``fit(..., patience=patience)`` stops, given the validation loss after
    each epoch: the first epoch e with e − best(e) ≥ patience, where best(e) is the epoch (from 1)
    of the lowest loss among epochs 1 … e (a later epoch must be strictly lower to replace it);
    the last epoch when that never happens."""
    best_loss, best = math.inf, 0
    for epoch, loss in enumerate(val_loss, start=1):
        if loss < best_loss:
            best_loss, best = loss, epoch
        if epoch - best >= patience:
            return epoch
    return len(val_loss)


def _against_previous(val_loss: Sequence[float], patience: int) -> int:
    """The plausible mistake: patience counted against the epoch before, not the best so far."""
    worse = 0
    for epoch in range(2, len(val_loss) + 1):
        worse = 0 if val_loss[epoch - 1] < val_loss[epoch - 2] else worse + 1
        if worse >= patience:
            return epoch
    return len(val_loss)


@checker(STOPPING)
def check_stopping_epoch(stop: Callable[[list[float], int], int]) -> Verdict:
    """``stop(val_loss, patience)``: the epoch (from 1) after which early stopping ends training,
    knowing at each epoch only the losses so far; the last epoch if it never stops.
    Checked against `stopping_epoch`, the rule of ``fit(..., patience=...)``."""
    for val, patience in _STOPPING_CASES:
        expected = stopping_epoch(val, patience)
        result = attempt(STOPPING, stop, list(val), patience, hint=_STOPPING_HINT)
        if isinstance(result, Verdict):
            return result
        epoch = whole_number(STOPPING, result, "an epoch number", _STOPPING_HINT)
        if isinstance(epoch, Verdict):
            return epoch
        if epoch == expected:
            continue
        best = min(range(len(val)), key=val.__getitem__) + 1
        if epoch == _against_previous(val, patience):
            hint = ("an epoch better than the one before is not an improvement unless it beats the best so "
                    "far: the patience counts the epochs since the best")
        elif epoch == min(best + patience, len(val)) and epoch > expected:
            hint = ("early stopping cannot see the future: at epoch e it knows the losses of epochs 1 … e "
                    "only, so the best so far, not the best of the whole run")
        elif epoch == expected + 1:
            hint = ("count again: with patience p, training stops once p epochs in a row have not "
                    "improved on the best")
        elif epoch < expected and epoch - 1 < len(val) and epoch >= 2 and val[epoch - 1] > val[epoch - 2]:
            hint = ("one epoch worse than the one before is not enough to stop: that is what the "
                    "patience is for")
        elif epoch < expected:
            hint = "this asks when training stops, which is after the best epoch, not which epoch is kept"
        else:
            hint = _STOPPING_HINT
        return Verdict(STOPPING, False, f"with patience {patience} and validation losses {val}, training "
                                        f"stops after epoch {expected}; yours says {short(epoch, 40)}", hint)
    return Verdict(STOPPING, True, "the same stopping epoch as fit's rule on every curve, with each patience")


# ---- choose with validation, report the test loss once ---------------------------------------------
CHOOSE = "choose, then report"
_CHOOSE_HINT = ("one set to fit the parameters, one to choose between models, one to report at the end: "
                "a number used to choose is no longer a fair estimate of the loss on new data")
#: hidden layers -> the losses of the model with that many, after training.
_RESULTS = (
    {1: {"train": 0.050, "validation": 0.061, "test": 0.054},
     2: {"train": 0.031, "validation": 0.052, "test": 0.058},
     3: {"train": 0.012, "validation": 0.064, "test": 0.071}},
    {1: {"train": 0.20, "validation": 0.26, "test": 0.21},
     2: {"train": 0.15, "validation": 0.24, "test": 0.27},
     3: {"train": 0.09, "validation": 0.30, "test": 0.33},
     4: {"train": 0.05, "validation": 0.35, "test": 0.31}},
)


def _lowest(results: dict[int, dict[str, float]], split: str) -> int:
    """The model whose loss on ``split`` is the lowest."""
    return min(results, key=lambda name: results[name][split])


@checker(CHOOSE)
def check_choose_and_report(choose: Callable[[dict], tuple[Any, float]]) -> Verdict:
    """``choose(results)``: ``results`` maps a model's name (its number of hidden layers) to its
    ``{"train": …, "validation": …, "test": …}`` losses; returns ``(name, loss_to_report)``: the model
    chosen with the validation set and its test loss, the estimate of its loss on new data."""
    for results in _RESULTS:
        copy = {k: dict(v) for k, v in results.items()}
        result = attempt(CHOOSE, choose, copy, hint=_CHOOSE_HINT)
        if isinstance(result, Verdict):
            return result
        if not (isinstance(result, tuple | list) and len(result) == 2):
            return Verdict(CHOOSE, False, f"expected a pair (name, loss to report), got {short(result)}",
                           _CHOOSE_HINT)
        name, reported = result
        by = {split: _lowest(results, split) for split in ("train", "validation", "test")}
        chosen = by["validation"]
        if name != chosen:
            if name == by["test"]:
                hint = ("choosing with the test set turns it into one more set you have tuned on: its loss "
                        "then looks better than the model will do on new data")
            elif name == by["train"]:
                hint = ("the training loss keeps falling with more parameters: it always picks the "
                        "biggest model")
            else:
                hint = _CHOOSE_HINT
            return Verdict(CHOOSE, False, f"for {results} you chose {short(name)}", hint)
        want = results[chosen]["test"]
        value = None if isinstance(reported, bool) else real(reported)
        if value is None or not math.isclose(value, want):
            hint = (f"the validation loss helped choose {chosen}, so it is the best of several tries and "
                    f"too hopeful; which number has not been used for anything yet?"
                    if reported == results[chosen]["validation"] else _CHOOSE_HINT)
            return Verdict(CHOOSE, False, f"you chose {chosen}, right, but reported {short(reported)}", hint)
    return Verdict(CHOOSE, True, "chosen with the validation set, and the test loss reported once, "
                                 "at the end")
