"""Training: the notes' loop — forward → loss → backward → update — and plain gradient descent.

The three steps of the notes: a function with unknown θ (a model), a loss L(θ) that judges one
θ, and an optimisation that finds θ*. `fit` is the third step for a model and a dataset:

* a **batch** (批量) is a slice of the training rows; each parameter change is one **update**;
* one pass over all batches is an **epoch** (回合), so an epoch makes ⌈N / batch_size⌉ updates,
  one after the other (serial: each batch sees the parameters the previous one left);
* training stops when the gradient is (numerically) zero — its norm falls under ``tol``, the
  tolerance (容忍阈值) — or after ``max_epochs``, or when the loss or gradient stops being a
  finite number (divergence: usually a learning rate that is too large), or, with a validation
  set and ``patience``, when the validation loss has stopped improving (early stopping).

`gradient_descent` is the bare rule θ ← θ − η·∇f(θ) on any function written with Values: the
gradient points uphill, so a positive ∂f/∂θ moves θ down and a negative one moves it up.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .checks import as_real
from .engine import Value
from .engines import ENGINES, make_evaluate, make_loss_and_grad
from .functional import value_and_grad
from .losses import get_loss
from .optim import get_optimizer

__all__ = ["Descent", "History", "fit", "gradient_descent"]

StopReason = Literal["tolerance", "max_epochs", "max_steps", "diverged", "early_stopping"]


@dataclass
class History:
    """What happened during `fit`.

    Per epoch: ``train_loss`` (the loss over the WHOLE training set, evaluated after the epoch's
    last update) and ``val_loss`` (the same on the validation set; ``[]`` without one).
    Per update: ``update_loss`` (the batch's loss before the update) and ``grad_norm``
    (‖∇L‖₂ over all parameters for that batch). ``params``, when asked for with
    ``keep_params=True``, holds θ⁰ (before training) then θ after each update, as tuples in
    ``model.parameters()`` order. ``n_epochs`` counts completed epochs.
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    update_loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    n_updates: int = 0
    n_epochs: int = 0
    stopped_because: StopReason | None = None
    message: str = ""
    params: list[tuple[float, ...]] = field(default_factory=list)

    def _record_update(self, loss: float, grad_norm: float, theta: tuple[float, ...] | None) -> None:
        self.update_loss.append(loss)
        self.grad_norm.append(grad_norm)
        self.n_updates += 1
        if theta is not None:
            self.params.append(theta)


def fit(model: Any, X: Any, y: Any, loss: str | Callable = "mse", optimizer: Any = "sgd",
        lr: float = 0.1, tol: float = 1e-6, max_epochs: int = 100, batch_size: int | None = None,
        shuffle: bool = True, seed: int | None = 0, validation: tuple[Any, Any] | None = None,
        progress: bool | None = False, patience: int | None = None, engine: str = "eager",
        keep_params: bool = False, callback: Callable[[History], None] | None = None) -> History:
    """Train ``model`` on rows ``X`` with targets ``y``; return the `History`.

    ``loss``: a name from `microgradlike.losses` or ``(preds, targets) -> Value``. ``optimizer``:
    ``"sgd"``/``"adam"`` (built with ``lr``) or an optimiser instance (which keeps its own lr).
    ``batch_size=None`` is the full batch. ``shuffle`` draws a new row order every epoch from
    ``np.random.default_rng(seed)``. Tolerance: training stops when the mean of the epoch's
    gradient norms (with the full batch: that one update's) is below ``tol``.
    A non-finite loss or gradient stops training (``"diverged"``) BEFORE the update is applied,
    and an update that makes a parameter non-finite is undone: the parameters are always the
    last finite ones. ``patience`` (needs ``validation``): stop when the validation loss has not
    improved on its best for that many epochs, and put back the parameters of the best epoch.
    ``progress``: a tqdm bar (True; None shows it only on a terminal). ``engine``: ``"eager"``
    builds Value graphs; ``"tape"`` and ``"batched"`` replay a compiled trace (`microgradlike.engines`).
    ``callback(history)`` runs after every epoch.
    """
    rows, targets = _rows_and_targets(X, y, "X", "y")
    held_out = None if validation is None else _validation_pair(validation)
    _check_settings(lr, tol, max_epochs, batch_size, patience, held_out, engine)
    loss_fn = get_loss(loss)
    params = model.parameters()
    opt = get_optimizer(optimizer, params, lr)
    loss_and_grad = make_loss_and_grad(model, loss_fn, engine)
    evaluate = make_evaluate(model, loss_fn, engine, loss_and_grad, params)
    size = len(rows) if batch_size is None else batch_size
    rng = np.random.default_rng(seed)
    history = History(params=[_snapshot(params)] if keep_params else [])
    early = None if patience is None else _EarlyStopping(patience, params)
    bar = _progress_bar(max_epochs, progress)
    try:
        for epoch in range(1, max_epochs + 1):
            norms = []
            for batch in _batches(len(rows), size, rng if shuffle else None):
                # forward -> loss -> backward: the batch's loss, and every p.grad = ∂loss/∂p
                loss_value = loss_and_grad([rows[i] for i in batch], [targets[i] for i in batch])
                norm = math.hypot(*(p.grad for p in params))
                # update: θ ← θ − (a step against ∇L), only from and to finite numbers
                refused = _finite_step(opt, params, loss_value, norm)
                if refused:
                    return _stop(history, "diverged", _diverged(history, epoch, refused))
                history._record_update(loss_value, norm, _snapshot(params) if keep_params else None)
                norms.append(norm)
            history.n_epochs = epoch
            history.train_loss.append(evaluate(rows, targets))
            if held_out is not None:
                history.val_loss.append(evaluate(*held_out))
            for notify in (bar, callback):
                if notify is not None:
                    notify(history)
            mean_norm = sum(norms) / len(norms)
            if mean_norm < tol:
                return _stop(history, "tolerance",
                             f"the gradient norm {mean_norm:.3g} fell below tol={tol:g} in epoch {epoch}")
            if early is not None and early.should_stop(epoch, history.val_loss[-1]):
                return _stop(history, "early_stopping", early.restore_best())
        return _stop(history, "max_epochs", f"reached max_epochs={max_epochs}")
    finally:
        if bar is not None:
            bar.close()


def _batches(n: int, size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """One epoch's batches of row indices: ⌈n / size⌉ of them, the last one possibly smaller."""
    order = np.arange(n) if rng is None else rng.permutation(n)
    return [order[start:start + size] for start in range(0, n, size)]


class _EarlyStopping:
    """Remembers the best validation loss and its parameters; says when patience runs out."""

    def __init__(self, patience: int, params: Sequence[Value]) -> None:
        self.patience, self.params = patience, params
        self.best_loss, self.best_epoch, self.best_params = math.inf, 0, _snapshot(params)

    def should_stop(self, epoch: int, val_loss: float) -> bool:
        if val_loss < self.best_loss:
            self.best_loss, self.best_epoch, self.best_params = val_loss, epoch, _snapshot(self.params)
        return epoch - self.best_epoch >= self.patience

    def restore_best(self) -> str:
        _restore(self.params, self.best_params)
        return (f"the validation loss did not improve for {self.patience} epochs; restored the "
                f"parameters of epoch {self.best_epoch} (val loss {self.best_loss:.4g})")


def _stop(history: History, reason: StopReason, message: str) -> History:
    history.stopped_because = reason
    history.message = f"stopped ({reason}): {message}"
    return history


def _finite_step(opt: Any, params: Sequence[Value], loss_value: float, norm: float) -> str:
    """``opt.step()``, refused when the loss or the gradient is not finite and undone when it
    makes a parameter non-finite. Returns what went wrong ("" when the step was taken)."""
    if not (math.isfinite(loss_value) and math.isfinite(norm)):
        return f"the loss was {loss_value:.4g} and the gradient norm {norm:.4g}; the update was not applied"
    before = _snapshot(params)
    opt.step()
    if not all(math.isfinite(p.data) for p in params):
        _restore(params, before)
        return "the update made a parameter non-finite; it was undone"
    return ""


def _diverged(history: History, epoch: int, what: str) -> str:
    return (f"diverged at update {history.n_updates + 1} (epoch {epoch}): {what}, so the parameters "
            f"are the last finite ones (a smaller lr usually helps)")


def _snapshot(params: Sequence[Value]) -> tuple[float, ...]:
    return tuple(p.data for p in params)


def _restore(params: Sequence[Value], values: Sequence[float]) -> None:
    for p, v in zip(params, values):
        p.data = v


class _ProgressBar:
    """A tqdm bar over epochs that shows the latest training loss."""

    def __init__(self, total: int, progress: bool | None) -> None:
        try:
            from tqdm.auto import tqdm
        except ImportError as e:
            raise ImportError("progress bars need tqdm: pip install tqdm (or pass progress=False)") from e
        self.bar = tqdm(total=total, unit="epoch", disable=None if progress is None else False)

    def __call__(self, history: History) -> None:
        self.bar.set_postfix(loss=f"{history.train_loss[-1]:.4g}", refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def _progress_bar(total: int, progress: bool | None) -> _ProgressBar | None:
    return None if progress is False else _ProgressBar(total, progress)


def _rows_and_targets(X: Any, y: Any, x_name: str, y_name: str) -> tuple[list, list]:
    """X as a list of rows (lists of floats; plain floats for 1-D X), y as a list of numbers."""
    try:
        X_array = np.asarray(X, dtype=float)
        y_array = np.asarray(y)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{x_name} must be a table of numbers and {y_name} a list of targets: {e}") from e
    if X_array.ndim not in (1, 2):
        raise ValueError(f"{x_name} must be a list of rows (1-D or 2-D), got shape {X_array.shape}")
    if len(X_array) == 0 or (X_array.ndim == 2 and X_array.shape[1] == 0):
        raise ValueError(f"{x_name} is empty (shape {X_array.shape}): there is nothing to train on")
    if y_array.ndim == 0 or len(y_array) != len(X_array):
        raise ValueError(f"{x_name} has {len(X_array)} rows but {y_name} has "
                         f"{'no length' if y_array.ndim == 0 else len(y_array)}; they must match")
    finite = np.isfinite(X_array)
    if not finite.all():
        row = int(np.argwhere(~finite)[0][0])
        raise ValueError(f"{x_name} contains non-finite numbers (nan or inf): row {row} is "
                         f"{X_array[row].tolist()!r}")
    if y_array.dtype.kind not in "biuf" or not np.all(np.isfinite(y_array)):
        raise ValueError(f"{y_name} must hold finite numbers, got {y_array.tolist()[:5]!r}...")
    if y_array.dtype.kind == "b":
        y_array = y_array.astype(int)
    return X_array.tolist(), y_array.tolist()


def _validation_pair(validation: Any) -> tuple[list, list]:
    if not isinstance(validation, (tuple, list)) or len(validation) != 2:
        raise ValueError(f"validation must be a pair (X_val, y_val), got {type(validation).__name__}")
    return _rows_and_targets(validation[0], validation[1], "validation X", "validation y")


def _check_settings(lr: float, tol: float, max_epochs: int, batch_size: int | None,
                    patience: int | None, held_out: object, engine: str) -> None:
    _check_lr_and_tol(lr, tol)
    for name, count in (("max_epochs", max_epochs), ("batch_size", batch_size), ("patience", patience)):
        if (count is not None or name == "max_epochs") and not _is_positive_int(count):
            raise ValueError(f"{name} must be an int >= 1{'' if name == 'max_epochs' else ' or None'}, "
                             f"got {count!r}")
    if patience is not None and held_out is None:
        raise ValueError(f"patience={patience!r} needs a validation set: pass validation=(X_val, y_val)")
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")


def _check_lr_and_tol(lr: float, tol: float) -> None:
    if as_real(lr) is None or not 0 < lr < math.inf:
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    if as_real(tol) is None or not tol >= 0:
        raise ValueError(f"tol must be a number >= 0, got {tol!r}")


def _is_positive_int(n: object) -> bool:
    return isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1


class Descent(tuple):
    """``(x_best, trajectory)`` from `gradient_descent`, which also says how the run went.

    ``trajectory`` is θ⁰, θ¹, … (floats for a scalar x0, tuples of floats otherwise);
    ``values[k]`` = f(θᵏ) and ``grad_norms[k]`` = ‖∇f(θᵏ)‖, one per point of the trajectory;
    ``x_best`` is the θᵏ with the smallest finite f (the latest on ties).
    """

    def __new__(cls, x_best: Any, trajectory: list, values: list[float], grad_norms: list[float],
                stopped_because: StopReason, message: str) -> Descent:
        result = super().__new__(cls, (x_best, trajectory))
        result.values, result.grad_norms = values, grad_norms
        result.stopped_because, result.message = stopped_because, message
        return result

    @property
    def x_best(self) -> Any:
        return self[0]

    @property
    def trajectory(self) -> list:
        return self[1]


def gradient_descent(f: Callable[..., Value | float], x0: float | Sequence[float], lr: float = 0.1,
                     tol: float = 1e-6, max_steps: int = 1000) -> Descent:
    """Minimise f by θᵏ⁺¹ = θᵏ − η·∇f(θᵏ), starting from θ⁰ = ``x0``.

    ``f`` takes one Value per number in ``x0`` and returns a Value. Stops when ‖∇f(θᵏ)‖ < ``tol``
    ("tolerance"), after ``max_steps`` updates ("max_steps"), or when f, its gradient or θ
    stops being finite ("diverged"; the non-finite θ is not kept). Returns a `Descent`, which
    unpacks as ``x_best, trajectory = gradient_descent(...)``.
    """
    scalar = as_real(x0) is not None
    theta = [_start_number(x0, "x0")] if scalar else [_start_number(x, f"x0[{i}]") for i, x in enumerate(x0)]
    if not theta:
        raise ValueError("x0 is empty: give at least one starting number")
    _check_lr_and_tol(lr, tol)
    if not isinstance(max_steps, int) or isinstance(max_steps, bool) or max_steps < 0:
        raise ValueError(f"max_steps must be an int >= 0, got {max_steps!r}")
    evaluate = value_and_grad(f)
    points, values, norms = [tuple(theta)], [], []
    while True:
        value, grads = evaluate(*theta)
        norm = math.hypot(*grads)
        values.append(value)
        norms.append(norm)
        if not (math.isfinite(value) and math.isfinite(norm)):
            reason, message = "diverged", f"f = {value:.4g}, |grad| = {norm:.4g} at step {len(points) - 1}"
            break
        if norm < tol:
            reason, message = "tolerance", f"|grad| = {norm:.3g} < tol={tol:g} at step {len(points) - 1}"
            break
        if len(points) > max_steps:
            reason, message = "max_steps", f"reached max_steps={max_steps}"
            break
        theta = [t - lr * g for t, g in zip(theta, grads)]  # step against the gradient: downhill
        if not all(math.isfinite(t) for t in theta):
            reason, message = "diverged", f"θ became non-finite at step {len(points)}; it was not kept"
            break
        points.append(tuple(theta))
    finite = [k for k, v in enumerate(values) if math.isfinite(v)]
    best = min(finite, key=lambda k: (values[k], -k)) if finite else 0
    trajectory = [p[0] for p in points] if scalar else points
    return Descent(trajectory[best], trajectory, values, norms, reason, f"stopped ({reason}): {message}")


def _start_number(x: object, name: str) -> float:
    number = as_real(x.data if isinstance(x, Value) else x)
    if number is None:
        raise TypeError(f"{name} must be a number, got {type(x).__name__}: {x!r}")
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {x!r}")
    return number
