"""Exercises of lesson 5, backprop step by step (notebooks/05_backprop_step_by_step).

* `check_sgd_update`: write the update ``update(params, lr)``: every p.data moves by −η·p.grad.
* `check_training_round`: write one whole round, ``train_round(model, xs, ys, lr) -> loss``:
  forward, the MSE loss, zero the grads, backward, update. Three rounds in a row are checked,
  so forgetting to zero the gradients is caught.

The oracles are `microgradlike.optim.SGD` and `microgradlike.train.fit` (the library's own loop)
on a twin of the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..losses import mse
from ..nn import MLP, Module
from ..optim import SGD
from ..train import fit
from . import Verdict
from .checking import attempt, close, fmt, number

__all__ = ["EXERCISE_DATA", "check_sgd_update", "check_training_round", "exercise_model"]

#: The exercises' data (xs, ys) and learning rate.
EXERCISE_DATA = ([-1.0, 0.0, 0.5, 1.0], [1.0, 0.0, -0.5, 0.5])
LR = 0.1
ROUNDS = 3


def exercise_model() -> MLP:
    """The tiny model both exercises train: MLP(1, [3, 1], "tanh", seed=1), 10 parameters."""
    return MLP(1, [3, 1], activation="tanh", seed=1)


def _twin(model: Module) -> MLP:
    twin = exercise_model()
    twin.load_state_dict(model.state_dict())
    return twin


def _loss(model: Module) -> object:
    xs, ys = EXERCISE_DATA
    return mse([model([x]) for x in xs], ys)


def _params(model: Module) -> list[float]:
    return [p.data for p in model.parameters()]


def _same(a: Sequence[float], b: Sequence[float]) -> bool:
    return all(close(x, y, rtol=1e-9, atol=1e-12) for x, y in zip(a, b))


def _worst(a: Sequence[float], b: Sequence[float], model: Module) -> str:
    """The parameter where ``a`` and ``b`` differ most, by name."""
    names = [n for n, _ in model.named_parameters()]
    k = max(range(len(a)), key=lambda i: abs(a[i] - b[i]))
    return f"{names[k]} is {fmt(a[k])}, it should be {fmt(b[k])}"


# ---- exercise 1: the update ---------------------------------------------------------------------
def check_sgd_update(update: Callable[[list, float], object]) -> Verdict:
    """``update(params, lr)`` must move every parameter, in place, as `SGD` does."""
    name = "the update"
    model = exercise_model()
    _loss(model).backward()
    before = _params(model)
    grads = [p.grad for p in model.parameters()]
    twin = _twin(model)
    _loss(twin).backward()
    SGD(twin.parameters(), lr=LR).step()
    want = _params(twin)
    _, failed = attempt(name, update, model.parameters(), LR, returns=False,  # in place: no result
                        hint="for each p: change p.data using p.grad and lr",
                        call=f"update(model.parameters(), {fmt(LR)})")
    if failed is not None:
        return failed
    got = _params(model)
    if _same(got, want):
        return Verdict(name, True, f"all {len(got)} parameters moved by −η·grad, in place")
    if _same(got, before):
        return Verdict(name, False, "no parameter changed", hint="change each p.data itself, in place (the "
                       "model holds these very Values): neither a new list of numbers nor a `...` still in "
                       "the body moves the model")
    if _same(got, [p + LR * g for p, g in zip(before, grads)]):
        return Verdict(name, False, "every parameter moved uphill: the loss went up",
                       hint="p.grad points uphill (it is ∂L/∂p); descent steps against it")
    return Verdict(name, False, f"the parameters moved, but not by one descent step: "
                   f"{_worst(got, want, model)}",
                   hint="each step is the learning rate times that parameter's own gradient")


# ---- exercise 2: one whole round, three times ---------------------------------------------------------
def _without_zero_grad(model: MLP) -> list[list[float]]:
    """θ after each of `ROUNDS` rounds of the loop that forgets to zero the grads: the mistake to spot."""
    out = []
    for _ in range(ROUNDS):
        _loss(model).backward()
        for p in model.parameters():
            p.data -= LR * p.grad
        out.append(_params(model))
    return out


def check_training_round(train_round: Callable[..., object]) -> Verdict:
    """``train_round(model, xs, ys, lr)`` returns the loss before its update; three calls in a row
    must move the parameters exactly as three full-batch SGD updates of `fit` do."""
    name = "one training round"
    xs, ys = EXERCISE_DATA
    model = exercise_model()
    twin = _twin(model)
    history = fit(twin, [[x] for x in xs], ys, loss="mse", optimizer=SGD(twin.parameters(), lr=LR),
                  max_epochs=ROUNDS, tol=0.0, shuffle=False, engine="eager", keep_params=True, progress=False)
    forgetful = _without_zero_grad(_twin(model))
    hint = "forward (the predictions), the loss mse(preds, ys), zero the grads, backward, then the update"
    for k in range(ROUNDS):
        before = _params(model)
        result, failed = attempt(name, train_round, model, xs, ys, LR, hint=hint,
                                 call=f"train_round(model, xs, ys, {fmt(LR)})")
        if failed is not None:
            return failed
        got = _params(model)
        which = f"round {k + 1}"
        if _same(got, before):
            return Verdict(name, False, f"{which}: no parameter moved",
                           hint="after backward, change every p.data (your update from exercise 1)")
        if k > 0 and _same(got, forgetful[k]):
            return Verdict(name, False, f"{which} went wrong after a right round 1: the parameters moved as "
                           f"if the gradients of the earlier rounds were still there",
                           hint="backward() ADDS to p.grad (leaf grads accumulate): clear them before "
                           "each backward")
        if not _same(got, list(history.params[k + 1])):
            want = list(history.params[k + 1])
            return Verdict(name, False, f"{which}: {_worst(got, want, model)}", hint=hint)
        loss, failed = number(name, result, f"the loss train_round returned in {which}",
                              hint="return the loss computed before the update (loss.data)")
        if failed is not None:
            return failed
        if not close(loss, history.update_loss[k], rtol=1e-9):
            return Verdict(name, False, f"{which}: the parameters are right, but the loss you returned is "
                           f"{fmt(loss)}, not the loss before the update, {fmt(history.update_loss[k])}",
                           hint="return the mse of the predictions made BEFORE the update")
    return Verdict(name, True, f"{ROUNDS} rounds, the same θ¹, θ², θ³ and losses as fit(): the loss went "
                   f"{' → '.join(fmt(v) for v in history.update_loss)}")
