"""Lesson 9's checkers accept a correct solution and reject wrong ones with a hint that does not give
the answer away; the stopping rule they check against is fit's own. Solutions live here only."""

from __future__ import annotations

import pytest

from microgradlike.data import piecewise_linear, train_test_split
from microgradlike.exercises.overfitting import (
    check_best_epoch,
    check_choose_and_report,
    check_stopping_epoch,
    stopping_epoch,
)
from microgradlike.nn import MLP
from microgradlike.train import fit


def test_the_stopping_rule_is_fits():
    """The oracle says the epoch fit(patience=...) really stops at, on real runs."""
    X, y = piecewise_linear(n=30, noise=0.3, seed=3)
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_fraction=0.5, seed=0)
    for patience in (1, 5, 20):
        model = MLP(1, [16, 16, 1], activation="tanh", seed=0)
        history = fit(model, X_train, y_train, optimizer="adam", lr=0.03, max_epochs=400, patience=patience,
                      validation=(X_val, y_val), engine="batched", progress=False)
        assert history.stopped_because == "early_stopping"
        assert stopping_epoch(history.val_loss, patience) == history.n_epochs
        # and a run cut short keeps going in the rule as long as fit would
        assert stopping_epoch(history.val_loss[:-1], patience) == history.n_epochs - 1


# ---- the best epoch ----------------------------------------------------------------------------------
def best_right(train_loss, val_loss):
    return min(range(len(val_loss)), key=val_loss.__getitem__) + 1


def best_zero_based(train_loss, val_loss):
    return best_right(train_loss, val_loss) - 1


def best_by_training_loss(train_loss, val_loss):
    return best_right(val_loss, train_loss)


def best_last(train_loss, val_loss):
    return len(val_loss)


def best_before_first_rise(train_loss, val_loss):
    """Plausible and wrong: the epoch before the validation loss first goes up."""
    for epoch in range(2, len(val_loss) + 1):
        if val_loss[epoch - 1] > val_loss[epoch - 2]:
            return epoch - 1
    return len(val_loss)


def test_the_best_epoch_is_accepted():
    assert check_best_epoch(best_right)
    assert check_best_epoch(lambda t, v: float(best_right(t, v)))  # 5.0 is an epoch number too


@pytest.mark.parametrize(("solution", "words"), [
    (best_zero_based, "counted from 1"),
    (best_by_training_loss, "keeps falling"),
    (best_last, "keeps falling"),
    (best_before_first_rise, "not the last one before the first rise"),
    (lambda t, v: "five", "expected an epoch number"),
    (lambda t, v: 4.5, "expected an epoch number"),
    (lambda t, v: None, "None"),  # the stub: not solved yet
])
def test_a_wrong_best_epoch_is_rejected_with_its_hint(solution, words):
    verdict = check_best_epoch(solution)
    assert not verdict and words in str(verdict)
    assert "min(" not in verdict.hint and "argmin" not in verdict.hint


# ---- when early stopping stops -------------------------------------------------------------------------
def stop_right(val_loss, patience):
    best_loss, best = float("inf"), 0
    for epoch, loss in enumerate(val_loss, start=1):
        if loss < best_loss:
            best_loss, best = loss, epoch
        if epoch - best >= patience:
            return epoch
    return len(val_loss)


def stop_seeing_the_future(val_loss, patience):
    best = min(range(len(val_loss)), key=val_loss.__getitem__) + 1
    return min(best + patience, len(val_loss))


def stop_one_late(val_loss, patience):
    best_loss, best = float("inf"), 0
    for epoch, loss in enumerate(val_loss, start=1):
        if loss < best_loss:
            best_loss, best = loss, epoch
        if epoch - best > patience:
            return epoch
    return len(val_loss)


def stop_at_first_rise(val_loss, patience):
    for epoch in range(2, len(val_loss) + 1):
        if val_loss[epoch - 1] > val_loss[epoch - 2]:
            return epoch
    return len(val_loss)


def stop_returns_the_kept_epoch(val_loss, patience):
    stop = stop_right(val_loss, patience)
    seen = val_loss[:stop]
    return min(range(len(seen)), key=seen.__getitem__) + 1


def stop_against_previous(val_loss, patience):
    """Plausible and wrong: patience counted against the epoch before, not against the best."""
    worse = 0
    for epoch in range(2, len(val_loss) + 1):
        worse = 0 if val_loss[epoch - 1] < val_loss[epoch - 2] else worse + 1
        if worse >= patience:
            return epoch
    return len(val_loss)


def test_the_stopping_epoch_is_accepted():
    assert check_stopping_epoch(stop_right)
    assert check_stopping_epoch(lambda v, p: float(stop_right(v, p)))  # one rule for whole numbers


def test_patience_counted_against_the_previous_epoch_is_caught_on_the_issues_curve():
    val = [1.0, 0.5, 0.6, 0.55, 0.58, 0.57, 0.59]
    assert stop_right(val, 3) == 5 and stop_against_previous(val, 3) == 7
    verdict = check_stopping_epoch(stop_against_previous)
    assert not verdict and "stops after epoch 5; yours says 7" in verdict.message
    assert "since the best" in verdict.hint


@pytest.mark.parametrize(("solution", "words"), [
    (stop_seeing_the_future, "cannot see the future"),
    (stop_one_late, "count again"),
    (stop_at_first_rise, "what the patience is for"),
    (stop_returns_the_kept_epoch, "not which epoch is kept"),
    (stop_against_previous, "beats the best so far"),
    (lambda v, p: [1], "expected an epoch number"),
])
def test_a_wrong_stopping_epoch_is_rejected_with_its_hint(solution, words):
    verdict = check_stopping_epoch(solution)
    assert not verdict and words in str(verdict)
    assert ">=" not in verdict.hint and "for epoch" not in verdict.hint


# ---- choose, then report ---------------------------------------------------------------------------------
def choose_right(results):
    chosen = min(results, key=lambda k: results[k]["validation"])
    return chosen, results[chosen]["test"]


def choose_by_test(results):
    chosen = min(results, key=lambda k: results[k]["test"])
    return chosen, results[chosen]["test"]


def choose_by_training(results):
    chosen = min(results, key=lambda k: results[k]["train"])
    return chosen, results[chosen]["test"]


def report_validation(results):
    chosen = min(results, key=lambda k: results[k]["validation"])
    return chosen, results[chosen]["validation"]


def test_choosing_with_validation_and_reporting_test_is_accepted():
    assert check_choose_and_report(choose_right)


@pytest.mark.parametrize(("solution", "words"), [
    (choose_by_test, "choosing with the test set"),
    (choose_by_training, "always picks the biggest"),
    (report_validation, "too hopeful"),
    (lambda results: 2, "expected a pair"),
])
def test_a_wrong_choice_is_rejected_with_its_hint(solution, words):
    verdict = check_choose_and_report(solution)
    assert not verdict and words in str(verdict)
    assert '["test"]' not in verdict.hint
