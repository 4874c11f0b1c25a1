"""Exercises of lesson 5, backprop step by step (notebooks/05_backprop_step_by_step).

* `check_sgd_update`: write the update ``update(params, lr)``: every p.data moves by −η·p.grad.
* `check_training_round`: write one whole round, ``train_round(model, xs, ys, lr) -> loss``:
  forward, the MSE loss, zero the grads, backward, update. Three rounds in a row are checked,
  so forgetting to zero the gradients is caught, each with its own learning rate, so a number
  written in place of ``lr`` is caught too.

The oracles are `microgradlike.optim.SGD` and `microgradlike.train.fit` (the library's own loop)
on a twin of the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..engine import Value
from ..losses import mse
from ..nn import MLP, Module
from ..optim import SGD
from ..train import fit
from . import Verdict
from .checking import attempt, checker, close, fmt, number, plain_parameters
from .training import mistaken_epoch

__all__ = ["EXERCISE_DATA", "check_sgd_update", "check_training_round", "exercise_model"]

#: The exercises' data (xs, ys) and learning rate; the update is checked with a second rate too,
#: and each training round with its own, so that an answer ignoring ``lr`` cannot pass.
EXERCISE_DATA = ([-1.0, 0.0, 0.5, 1.0], [1.0, 0.0, -0.5, 0.5])
LR = 0.1
RATES = (LR, 0.03)
ROUND_RATES = (LR, 0.05, 0.2)
ROUNDS = len(ROUND_RATES)


def exercise_model() -> MLP:
    """The tiny model both exercises train: MLP(1, [3, 1], "tanh", seed=1), 10 parameters."""
    return MLP(1, [3, 1], activation="tanh", seed=1)


def _twin(model: Module) -> MLP:
    twin = exercise_model()
    twin.load_state_dict(model.state_dict())
    return twin


def _loss(model: Module) -> Value:
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
SGD_UPDATE = "the update"


def _update_case(lr: float) -> tuple[MLP, list[float], list[float], list[float]]:
    """A model with its grads filled in, its θ and grads, and θ after `SGD` steps it with ``lr``."""
    model = exercise_model()
    _loss(model).backward()
    twin = _twin(model)
    _loss(twin).backward()
    SGD(twin.parameters(), lr=lr).step()
    return model, _params(model), [float(p.grad) for p in model.parameters()], _params(twin)


@checker(SGD_UPDATE)
def check_sgd_update(update: Callable[[list, float], object]) -> Verdict:
    """``update(params, lr)`` must move every parameter, in place, as `SGD` does, for each of
    `RATES`."""
    name = SGD_UPDATE
    for lr in RATES:
        model, before, grads, want = _update_case(lr)  # the reference first, on a twin
        failed = attempt(name, update, model.parameters(), lr, returns=False,  # in place: no result
                         hint="for each p: change p.data using p.grad and lr",
                         call=f"update(model.parameters(), {fmt(lr)})")
        if isinstance(failed, Verdict):
            return failed
        failed = plain_parameters(name, model)
        if failed is not None:
            return failed
        got = _params(model)
        if _same(got, want):
            continue
        if _same(got, before):
            return Verdict(name, False, "no parameter changed", hint="change each p.data itself, in place "
                           "(the model holds these very Values): neither a new list of numbers nor a `...` "
                           "still in the body moves the model")
        if _same(got, [p + lr * g for p, g in zip(before, grads)]):
            return Verdict(name, False, "every parameter moved uphill: the loss went up",
                           hint="p.grad points uphill (it is ∂L/∂p); descent steps against it")
        if lr != LR and _same(got, _update_case(LR)[3]):
            return Verdict(name, False, f"with lr = {fmt(lr)} the parameters moved as far as with lr = "
                           f"{fmt(LR)}", hint="use the lr your function is given, not a number of your own")
        return Verdict(name, False, f"with lr = {fmt(lr)} the parameters moved, but not by one descent "
                       f"step: {_worst(got, want, model)}",
                       hint="each step is the learning rate times that parameter's own gradient")
    return Verdict(name, True, f"all {len(want)} parameters moved by −η·grad, in place, with η = "
                   f"{' and '.join(map(fmt, RATES))}")


# ---- exercise 2: one whole round, three times ---------------------------------------------------------
TRAINING_ROUND = "one training round"


def _without_zero_grad(model: MLP) -> list[list[float]]:
    """θ after each of the rounds of the loop that forgets to zero the grads: the mistake to spot."""
    xs, ys = EXERCISE_DATA
    out = []
    for lr in ROUND_RATES:  # a round is one full-batch epoch
        mistaken_epoch(model, [[x] for x in xs], list(ys), len(xs), lr, zero_grads=False)
        out.append(_params(model))
    return out


def _rounds(model: MLP) -> tuple[list[list[float]], list[float]]:
    """θ after each round and the loss before each update, as `fit` makes them: one epoch of
    full-batch SGD per round, with that round's rate."""
    xs, ys = EXERCISE_DATA
    thetas, losses = [], []
    for lr in ROUND_RATES:
        history = fit(model, [[x] for x in xs], ys, loss="mse", optimizer=SGD(model.parameters(), lr=lr),
                      max_epochs=1, tol=0.0, shuffle=False, engine="eager", progress=False)
        thetas.append(_params(model))
        losses.append(history.update_loss[0])
    return thetas, losses


@checker(TRAINING_ROUND)
def check_training_round(train_round: Callable[..., object]) -> Verdict:
    """``train_round(model, xs, ys, lr)`` returns the loss before its update; three calls in a row,
    with the rates `ROUND_RATES`, must move the parameters exactly as three full-batch SGD updates
    of `fit` do."""
    name = TRAINING_ROUND
    xs, ys = EXERCISE_DATA
    model = exercise_model()
    thetas, losses = _rounds(_twin(model))  # the references first, on twins
    forgetful = _without_zero_grad(_twin(model))
    hint = "forward (the predictions), the loss mse(preds, ys), zero the grads, backward, then the update"
    for k, lr in enumerate(ROUND_RATES):
        before = _params(model)
        result = attempt(name, train_round, model, list(xs), list(ys), lr, hint=hint,
                         call=f"train_round(model, xs, ys, {fmt(lr)})")
        broken = plain_parameters(name, model)  # the likelier cause, when the round also raised
        if broken is not None:
            return broken
        if isinstance(result, Verdict):
            return result
        got = _params(model)
        which = f"round {k + 1} (lr = {fmt(lr)})"
        if _same(got, before):
            return Verdict(name, False, f"{which}: no parameter moved",
                           hint="after backward, change every p.data (your update from exercise 1)")
        if k > 0 and _same(got, forgetful[k]):
            return Verdict(name, False, f"{which} went wrong after a right round 1: the parameters moved as "
                           f"if the gradients of the earlier rounds were still there",
                           hint="backward() ADDS to p.grad (leaf grads accumulate): clear them before "
                           "each backward")
        if not _same(got, thetas[k]):
            return Verdict(name, False, f"{which}: {_worst(got, thetas[k], model)}", hint=hint)
        loss = number(name, result, f"the loss train_round returned in {which}",
                      hint="return the loss computed before the update (loss.data)")
        if isinstance(loss, Verdict):
            return loss
        if not close(loss, losses[k], rtol=1e-9):
            return Verdict(name, False, f"{which}: the parameters are right, but the loss you returned is "
                           f"{fmt(loss)}, not the loss before the update, {fmt(losses[k])}",
                           hint="return the mse of the predictions made BEFORE the update")
    return Verdict(name, True, f"{ROUNDS} rounds, the same θ¹, θ², θ³ and losses as fit(): the loss went "
                   f"{' → '.join(fmt(v) for v in losses)}")
