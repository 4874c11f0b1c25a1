"""Lesson 5's exercise checkers accept a right answer and reject wrong ones with a hint that
does not give the answer away. The solutions live here, never in the notebook."""

from __future__ import annotations

import pytest

from microgradlike.exercises.backprop import check_sgd_update, check_training_round, exercise_model
from microgradlike.losses import mse

ANSWERS = ("p.data -= lr * p.grad", "p.data - lr * p.grad", "lr * p.grad", "zero_grad()")


def rejected(verdict, *answers: str) -> bool:
    """The verdict fails, with a hint, and its hint holds none of the answers."""
    return not verdict and bool(verdict.hint) and not any(a in verdict.hint for a in answers)


# ---- the update ------------------------------------------------------------------------------------
def update(params, lr):
    for p in params:
        p.data -= lr * p.grad


def test_the_update_is_accepted():
    verdict = check_sgd_update(update)
    assert verdict, verdict


def uphill(params, lr):
    for p in params:
        p.data += lr * p.grad


def new_list(params, lr):
    return [p.data - lr * p.grad for p in params]


def no_lr(params, lr):
    for p in params:
        p.data -= p.grad


def stub(params, lr): ...


@pytest.mark.parametrize("wrong, why", [
    (uphill, "uphill"),
    (new_list, "in place"),
    (no_lr, "learning rate"),
    (stub, "in place"),
], ids=["uphill", "a new list", "no lr", "stub"])
def test_a_wrong_update_is_rejected_with_a_hint(wrong, why):
    verdict = check_sgd_update(wrong)
    assert rejected(verdict, *ANSWERS), verdict
    assert why in verdict.hint


# ---- one training round --------------------------------------------------------------------------------
def train_round(model, xs, ys, lr):
    loss = mse([model([x]) for x in xs], ys)
    model.zero_grad()
    loss.backward()
    update(model.parameters(), lr)
    return loss.data


def test_the_training_round_is_accepted():
    verdict = check_training_round(train_round)
    assert verdict, verdict
    assert "→" in verdict.message


def forgets_zero_grad(model, xs, ys, lr):
    loss = mse([model([x]) for x in xs], ys)
    loss.backward()
    update(model.parameters(), lr)
    return loss.data


def loss_after(model, xs, ys, lr):
    train_round(model, xs, ys, lr)
    return mse([model([x]) for x in xs], ys).data


def no_update(model, xs, ys, lr):
    loss = mse([model([x]) for x in xs], ys)
    model.zero_grad()
    loss.backward()
    return loss.data


def other_loss(model, xs, ys, lr):
    loss = sum((model([x]) - y) ** 2 for x, y in zip(xs, ys))  # the sum, not the mean
    model.zero_grad()
    loss.backward()
    update(model.parameters(), lr)
    return loss.data


@pytest.mark.parametrize("wrong, why", [
    (forgets_zero_grad, "accumulate"),
    (loss_after, "BEFORE the update"),
    (no_update, "change every p.data"),
    (other_loss, "mse(preds, ys)"),
], ids=["no zero_grad", "loss after", "no update", "summed loss"])
def test_a_wrong_round_is_rejected_with_a_hint(wrong, why):
    verdict = check_training_round(wrong)
    assert rejected(verdict, *ANSWERS), verdict
    assert why in verdict.hint


def test_the_exercise_model_is_small_and_fixed():
    a, b = exercise_model(), exercise_model()
    assert len(a.parameters()) == 10
    assert [p.data for p in a.parameters()] == [p.data for p in b.parameters()]


# ---- the classic slips, and a number written in place of lr ------------------------------------------------
def data_becomes_a_value(params, lr):
    for p in params:
        p.data = p - lr * p.grad  # p, not p.data: a Value lands in p.data


def data_becomes_none(params, lr):
    for p in params:
        p.data = None


def fixed_rate(params, lr):
    for p in params:
        p.data -= 0.1 * p.grad  # the lesson's η, not the one given


@pytest.mark.parametrize("wrong, why", [
    (data_becomes_a_value, "Value"),
    (data_becomes_none, "NoneType"),
], ids=["p.data = p - ...", "p.data = None"])
def test_something_other_than_a_number_in_p_data_is_named(wrong, why):
    for check, answer in ((check_sgd_update, wrong), (check_training_round, round_with(wrong))):
        verdict = check(answer)
        assert rejected(verdict, *ANSWERS), verdict
        assert why in verdict.message and "not a number" in verdict.message and "plain number" in verdict.hint


def test_a_rate_written_in_place_of_lr_is_caught():
    verdict = check_sgd_update(fixed_rate)
    assert rejected(verdict, *ANSWERS), verdict
    assert "lr = 0.03" in verdict.message and "the lr your function is given" in verdict.hint
    verdict = check_training_round(round_with(fixed_rate))
    assert rejected(verdict, *ANSWERS), verdict
    assert "round 2 (lr = 0.05)" in verdict.message


def round_with(update_rule):
    def train_round(model, xs, ys, lr):
        loss = mse([model([x]) for x in xs], ys)
        model.zero_grad()
        loss.backward()
        update_rule(model.parameters(), lr)
        return loss.data

    return train_round
