"""Training: the notes' loop — forward → loss → backward → update — and plain gradient descent.

The three steps of the notes: a function with unknown θ (a model), a loss L(θ) that judges one
θ, and an optimisation that finds θ*. `fit` is the third step for a model and a dataset:

* a **batch** (批量) is a slice of the training rows; each parameter change is one **update**;
* one pass over all batches is an **epoch** (回合), so an epoch makes ⌈N / batch_size⌉ updates,
  one after the other (serial: each batch sees the parameters the previous one left);
* training stops when the gradient is (numerically) zero — its norm falls under ``tol``, the
  tolerance (容忍阈值) — or after ``max_epochs``, or when the loss or gradient stops being a
  finite number (divergence: usually a learning rate that is too large), or, with a validation
  set and ``patience``, when the validation loss has stopped improving (early stopping);
* with a validation set, the epoch with the lowest validation loss is remembered: when the final
  model is much worse than that one, `fit` says so (a `TrainingWarning`), and ``keep_best=True``
  puts the best epoch's parameters back.

Which engine computes each batch's loss and gradients (``engine="auto"``, the default): the
numpy ``"batched"`` engine when a trace of one sample replays every sample exactly, which holds
for `microgradlike.nn`'s own models (exactly those classes: their forward pass only uses engine
ops) with a loss from `microgradlike.losses` (a mean of per-sample terms, which the batched
engine assumes). Any other model may branch on ``.data`` in Python (a trace freezes the branch)
and any other loss may not be a per-sample mean, so they run ``"eager"``; pass
``engine="batched"`` to choose it yourself. ``History.engine`` says which engine ran, and why.
``engine="torch"`` (never picked by "auto") trains the same model through PyTorch, on the CPU or
a GPU (``device="cuda"``): `microgradlike.torch_engine`.

`gradient_descent` is the bare rule θ ← θ − η·∇f(θ) on any function written with Values: the
gradient points uphill, so a positive ∂f/∂θ moves θ down and a negative one moves it up.
"""

from __future__ import annotations

import gc
import math
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np

from .checks import as_real, check_seed, first_few, float_array, short
from .engine import Value, is_grad_enabled, no_grad
from .formatting import count
from .functional import value_and_grad
from .losses import LOSSES, bad_targets, cross_entropy, get_loss, hinge, loss_name
from .nn import Module, input_width
from .optim import check_parameters, get_optimizer
from .parameters import named
from .torch_engine import TorchTrainer
from .trainers import FIT_ENGINES, Trainer, choose_engine, make_evaluate, make_loss_and_grad, make_trainer

__all__ = ["Descent", "History", "TrainingWarning", "check_held_out", "fit", "gradient_descent"]

#: Training rows or targets: numpy arrays for the compiled engines, lists for the eager one,
#: tensors for the torch engine (each `Trainer.data` says).
Rows = Any
StopReason = Literal["tolerance", "max_epochs", "max_steps", "diverged", "early_stopping"]
#: The final model is "much worse" than the best epoch's when its validation loss is more than
#: 1.5 times the best one AND has given back more than a quarter of what training gained from
#: epoch 1 to the best epoch (so neither a hinge loss of 0.01 after a best of 0, nor the wobble
#: of mini-batch training around a low loss, counts: a run that forgot what it learnt does).
_WORSE_FACTOR, _WORSE_SHARE_OF_GAIN = 1.5, 0.25


class TrainingWarning(UserWarning):
    """`fit` trained, but the result deserves a look (e.g. the last epoch is far from the best)."""


@dataclass(repr=False)
class History:
    """What happened during `fit`.

    Per epoch: ``train_loss`` (the loss over the WHOLE training set, evaluated after the epoch's
    last update) and ``val_loss`` (the same on the validation set; ``[]`` without one).
    Per update: ``update_loss`` (the batch's loss before the update) and ``grad_norm``
    (‖∇L‖₂ over all parameters for that batch). ``params``, when asked for with
    ``keep_params=True``, holds θ⁰ (before training) then θ after each update, as tuples in
    ``model.parameters()`` order. ``n_epochs`` counts completed epochs. ``engine`` is the engine
    that ran and ``engine_reason`` why ``engine="auto"`` chose it ("" when it was asked for);
    ``device`` where the torch engine ran ("cpu", "cuda:0"; "" for the engines on Values).
    ``kept_epoch`` is the epoch whose parameters early stopping or ``keep_best`` left in the model
    (0: those from before training); None when the model has its last update's. ``held_out`` is
    what the run calls the ``validation`` points (fit's ``held_out``, e.g. "test"): its messages,
    `plots.plot_history` and the replay page name their loss so.
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
    engine: str = ""
    engine_reason: str = ""
    device: str = ""
    kept_epoch: int | None = None
    held_out: str = "validation"

    @property
    def best_epoch(self) -> int | None:
        """The epoch (from 1) with the lowest finite validation loss; None without one."""
        finite = [(loss, k) for k, loss in enumerate(self.val_loss, start=1) if math.isfinite(loss)]
        return min(finite)[1] if finite else None

    @property
    def worse_than_best(self) -> bool:
        """Whether the last epoch's validation loss is much worse than the best epoch's: more than
        1.5 times it, and more than a quarter of the way back up to epoch 1's."""
        best = self.best_epoch
        if best is None or best == len(self.val_loss):
            return False
        lowest, final, first = self.val_loss[best - 1], self.val_loss[-1], self.val_loss[0]
        gained = first - lowest if math.isfinite(first) else 0.0
        return not final <= max(_WORSE_FACTOR * lowest, lowest + _WORSE_SHARE_OF_GAIN * gained)  # nan: worse

    def __repr__(self) -> str:
        losses = f"train_loss[-1]={_last(self.train_loss)}"
        if self.val_loss:
            losses += f", val_loss[-1]={_last(self.val_loss)}"
        device = f", device={self.device!r}" if self.device else ""
        return (f"History({count(self.n_epochs, 'epoch')}, {count(self.n_updates, 'update')}, {losses}, "
                f"stopped_because={self.stopped_because!r}, engine={self.engine!r}{device})")

    def _record_update(self, loss: float, grad_norm: float, theta: tuple[float, ...] | None) -> None:
        self.update_loss.append(loss)
        self.grad_norm.append(grad_norm)
        self.n_updates += 1
        if theta is not None:
            self.params.append(theta)


def _last(values: list[float]) -> str:
    return f"{values[-1]:.4g}" if values else "None"


def fit(model: Any, X: Any, y: Any, loss: str | Callable = "mse", optimizer: Any = "sgd",
        lr: float = 0.1, tol: float = 1e-6, max_epochs: int = 100, batch_size: int | None = None,
        shuffle: bool = True, seed: int | np.random.Generator | None = 0,
        validation: tuple[Any, Any] | None = None, progress: bool | None = None,
        patience: int | None = None, engine: str = "auto",
        keep_params: bool = False, callback: Callable[[History], None] | None = None,
        keep_best: bool = False, device: Any = None, held_out: str = "validation") -> History:
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
    ``keep_best`` (needs ``validation``): however training stops, end with the parameters of the
    epoch with the lowest validation loss. Without it, a final validation loss much worse than
    the best one is said in ``History.message`` and warned about (`TrainingWarning`).
    ``held_out``: what these messages call the validation points ("validation"; the command line
    says "test", for points that only measure), kept as ``History.held_out``.
    ``progress``: a tqdm bar over epochs (plain lines on stderr without tqdm); None (the
    default) shows it only in a terminal or a notebook. ``engine``: ``"auto"`` (see
    `choose_engine`), ``"eager"`` (Value graphs), ``"tape"``/``"batched"`` (compiled, in
    `microgradlike.trainers`), or ``"torch"``: PyTorch on ``device`` ("cpu", the default, "cuda",
    "cuda:1" or a ``torch.device``), with the same numbers (`microgradlike.torch_engine`).
    ``callback(history)`` runs after every epoch; the model's Values then hold that epoch's
    parameters, whichever engine runs, and what it changes there or in the optimiser (a
    parameter, lr, momentum, Adam's state) is trained on.

    A `Module` comes out knowing its task (`Module.set_task`; `Module.predict` reads it): the loss,
    and the classes of ``y``: class ids for cross-entropy, the two labels for hinge and binary
    cross-entropy, and for mse the two values when ``y`` holds two whole numbers (a regression
    otherwise); the threshold of one output follows (`losses.decision_threshold`: 0.5 for mse on
    0/1). ``set_task(classes=...)`` afterwards names the classes in other labels. With a loss of
    your own, fit cannot know what the outputs mean, and the model records no task.
    """
    if not is_grad_enabled():
        raise RuntimeError("fit() trains by backpropagation, which no_grad() turns off: "
                           "call fit outside a `with no_grad():` block")
    X_array, y_array, width = _rows_and_targets(X, y, "X", "y")
    _check_width(model, width)
    held_out_name = check_held_out(held_out)
    val_pair = None if validation is None else _validation_pair(validation, width)
    _check_settings(lr, tol, max_epochs, batch_size, patience, keep_best, val_pair, engine, progress)
    if device is not None and engine != "torch":
        raise ValueError(f"device={short(device)} is for engine='torch' (the other engines compute with "
                         f"Python and numpy on the CPU, and engine='auto' never picks torch)")
    seed = check_seed(seed, "seed")
    loss_fn = get_loss(loss)
    target_sets = [("y", y_array)] + ([] if val_pair is None else [("validation y", val_pair[1])])
    n_outputs = _n_outputs(model, X_array, target_sets, loss_fn)
    _check_labels(loss_fn, target_sets)
    params = model.parameters()
    opt = get_optimizer(optimizer, params, lr)
    if opt is optimizer:  # one given, not built from params here: it must update exactly these
        check_parameters(opt, named(model))
    names = [name for name, _ in named(model)]
    engine, engine_reason = choose_engine(model, loss_fn) if engine == "auto" else (engine, "")
    trainer: Trainer
    if engine == "torch":
        trainer = TorchTrainer(model, loss_fn, opt, device)
    else:
        loss_and_grad = make_loss_and_grad(model, loss_fn, engine)
        evaluate = make_evaluate(model, loss_fn, engine, loss_and_grad)
        trainer = make_trainer(params, opt, loss_and_grad, evaluate, engine, names)
    rows, targets = trainer.data(X_array, y_array)
    val_rows = None if val_pair is None else trainer.data(*val_pair)
    size = len(rows) if batch_size is None else batch_size
    history = History(params=[trainer.values()] if keep_params else [], engine=engine,
                      engine_reason=engine_reason, device=trainer.device, held_out=held_out_name)
    best = None if val_pair is None else _Best(trainer, keep=keep_best or patience is not None)
    loop = _Loop(history, trainer, best, loss_fn, names)
    bar = _progress(max_epochs, progress)
    _COLLECTOR.enter()
    try:
        reason, message = loop.run(rows, targets, size, np.random.default_rng(seed), shuffle, val_rows,
                                   patience, tol, max_epochs, bar, callback)
        if best is not None and reason != "early_stopping":  # early stopping has restored the best
            message += best.restore(history) if keep_best else _worse_than_best(history)
    finally:
        _COLLECTOR.leave()
        trainer.sync()  # the model's Values hold the parameters, even after an exception
        if bar is not None:
            bar.close()
    history.stopped_because = reason
    history.message = f"stopped ({reason}): {message}"
    if isinstance(model, Module):
        _record_task(model, loss_fn, y_array, n_outputs)
    if not keep_best and reason != "early_stopping" and history.worse_than_best:
        warnings.warn(f"{_worse_than_best(history)[2:]}; fit(..., keep_best=True) ends with the best "
                      f"epoch's parameters", TrainingWarning, stacklevel=2)
    return history


class _Collector:
    """How fit spares Python's cycle collector (`gc`) the objects that existed before it.

    A full collection walks every container object of the process: after ``import torch`` some
    285,000 (20,000 without), so the allocations of a trace trigger one every few fits, each
    costing more than a small fit itself. While fit trains, the objects that existed before are
    moved out of the collector's sight (``gc.freeze()``) and given back (``gc.unfreeze()``) when
    it ends, however it ends: collections during training walk only what training made, and
    cycles among the older objects are collected after fit as before.

    gc's state is the process's, shared by every thread: a count under a lock freezes once, when
    the first of several fits (threads, or a fit inside a callback) starts, and unfreezes once,
    when the last one ends. A process that froze objects itself (``gc.get_freeze_count() > 0``
    when fit starts) is left as it is; one that calls ``gc.freeze()`` while a fit runs has those
    objects given back too when the fits end (gc cannot unfreeze only some).
    """

    def __init__(self) -> None:
        self.lock, self.running, self.froze = threading.Lock(), 0, False

    def enter(self) -> None:
        with self.lock:
            if self.running == 0:
                self.froze = gc.get_freeze_count() == 0
                if self.froze:
                    gc.freeze()
            self.running += 1

    def leave(self) -> None:
        with self.lock:
            self.running -= 1
            if self.running == 0 and self.froze:
                gc.unfreeze()
                self.froze = False


_COLLECTOR = _Collector()


class _Loop:
    """The loop of `fit`: epochs of batches of forward → loss → backward → update."""

    def __init__(self, history: History, trainer: Trainer, best: _Best | None, loss_fn: Callable,
                 names: Sequence[str] = ()) -> None:
        self.history, self.trainer, self.best, self.loss_fn = history, trainer, best, loss_fn
        self.names = names  # the parameters', for messages

    def run(self, rows: Rows, targets: Rows, size: int, rng: np.random.Generator, shuffle: bool,
            held_out: tuple[Rows, Rows] | None, patience: int | None, tol: float, max_epochs: int,
            bar: Callable[[History], None] | None,
            callback: Callable[[History], None] | None) -> tuple[StopReason, str]:
        """Train until a stopping rule fires; return which, and how to say so."""
        history, trainer, best = self.history, self.trainer, self.best
        keep_params = bool(history.params)
        for epoch in range(1, max_epochs + 1):
            norms = []
            for batch in _batches(len(rows), size, rng if shuffle else None):
                # forward -> loss -> backward: the batch's loss, ∂loss/∂p for every p, and its norm
                loss_value, norm = trainer.loss_and_grad(_take(rows, batch), _take(targets, batch))
                # update: θ ← θ − (a step against ∇L), only from and to finite numbers
                refused = _finite_step(trainer, loss_value, norm)
                if refused:
                    return "diverged", _diverged(history, epoch, refused, self.names, trainer.values())
                history._record_update(loss_value, norm, trainer.values() if keep_params else None)
                norms.append(norm)
            history.n_epochs = epoch
            history.train_loss.append(trainer.evaluate(rows, targets))
            if held_out is not None and best is not None:  # best is kept whenever held_out is
                history.val_loss.append(trainer.evaluate(*held_out))
                best.update(epoch, history.val_loss[-1])
            if bar is not None:
                bar(history)
            if callback is not None:
                trainer.sync()  # the callback sees the model's Values hold this epoch's parameters ...
                callback(history)
                trainer.reload()  # ... and what it changes there is trained on
            mean_norm = sum(norms) / len(norms)
            if mean_norm < tol:
                return "tolerance", self._tolerance(mean_norm, tol, len(norms))
            if patience is not None and best is not None and epoch - best.epoch >= patience:
                return "early_stopping", (f"the {history.held_out} loss did not improve for {patience} epochs"
                                          f"{best.restore(history)}")
        return "max_epochs", f"ran all {max_epochs} epochs"

    def _tolerance(self, mean_norm: float, tol: float, n_batches: int) -> str:
        """The tolerance stop, and why when the gradient is exactly 0 (a flat loss, not a slope)."""
        history = self.history
        text = f"the gradient norm {mean_norm:.3g} fell below tol={tol:g} in epoch {history.n_epochs}"
        if mean_norm != 0:
            return text
        if all(loss == 0 for loss in history.update_loss[-n_batches:]):
            # update_loss is each batch's loss BEFORE its update; train_loss is the epoch's after them
            batches = "the training loss before the epoch's update" if n_batches == 1 else \
                "the loss of every batch of the epoch before its update"
            why = f"{batches} was exactly 0, its minimum, so its gradient was 0 too"
            if self.loss_fn is hinge:
                why += " (hinge: every training point was past the margin, t·s ≥ 1)"
            if history.train_loss[-1] != 0:  # a zero gradient, yet θ moved: momentum, Adam's m
                why += (f"; the epoch's training loss, {history.train_loss[-1]:.4g}, is measured after the "
                        f"update{'s' if n_batches > 1 else ''}, which the optimiser's running mean of past "
                        f"gradients still made")
            return f"{text}: {why}"
        return (f"{text}: the training loss ({history.update_loss[-1]:.4g}) is exactly flat here: no "
                f"small change of a parameter changes it (e.g. every ReLU is off for every point, so "
                f"no gradient reaches the weights)")


def _take(data: Rows, index: np.ndarray) -> Rows:
    """The entries of ``data`` (an array or a tensor, or a list for the eager engine) at ``index``."""
    return [data[i] for i in index] if isinstance(data, list) else data[index]


def _batches(n: int, size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """One epoch's batches of row indices: ⌈n / size⌉ of them, the last one possibly smaller."""
    order = np.arange(n) if rng is None else rng.permutation(n)
    return [order[start:start + size] for start in range(0, n, size)]


class _Best:
    """The epoch with the lowest validation loss so far (0: before training) and, with ``keep``,
    its parameters."""

    def __init__(self, trainer: Trainer, keep: bool) -> None:
        self.trainer, self.keep = trainer, keep
        self.loss, self.epoch = math.inf, 0
        self.snapshot = trainer.snapshot() if keep else ()

    def update(self, epoch: int, val_loss: float) -> None:
        if val_loss < self.loss:  # a nan is never better
            self.loss, self.epoch = val_loss, epoch
            if self.keep:
                self.snapshot = self.trainer.snapshot()

    def restore(self, history: History) -> str:
        """Put the best epoch's parameters back; say so (as a clause starting with '; ')."""
        history.kept_epoch = self.epoch
        if self.epoch == history.n_epochs:
            return f"; kept the last epoch's parameters: the last epoch had the best {history.held_out} loss"
        self.trainer.restore(self.snapshot)
        if self.epoch == 0:
            return (f"; restored the parameters from before training (no epoch had a finite "
                    f"{history.held_out} loss)")
        return (f"; restored the parameters of epoch {self.epoch}, the best {history.held_out} loss "
                f"({self.loss:.4g}; the last epoch's was {_last(history.val_loss)})")


def _worse_than_best(history: History) -> str:
    """A clause (starting with '; ') saying how far the final model is from the best one, or ""."""
    best = history.best_epoch
    if not history.worse_than_best or best is None:
        return ""
    lowest, final = history.val_loss[best - 1], history.val_loss[-1]
    times = f"{final / lowest:.3g} times" if lowest > 0 else "far above"
    return (f"; the final model is much worse than the best one seen: its {history.held_out} loss "
            f"{final:.4g} is {times} the best, {lowest:.4g} at epoch {best}")


def _finite_step(trainer: Trainer, loss_value: float, norm: float) -> str:
    """The optimiser's step, refused when the loss or the gradient is not finite and undone when
    it makes a parameter non-finite. Returns what went wrong ("" when the step was taken)."""
    if not (math.isfinite(loss_value) and math.isfinite(norm)):
        return f"the loss was {loss_value:.4g} and the gradient norm {norm:.4g}; the update was not applied"
    before = trainer.snapshot()
    trainer.step()
    if not trainer.finite():
        trainer.restore(before)
        return "the update made a parameter non-finite; it was undone"
    return ""


def _diverged(history: History, epoch: int, what: str, names: Sequence[str] = (),
              values: Sequence[float] = ()) -> str:
    head = f"diverged at update {history.n_updates + 1} (epoch {epoch}): {what}"
    not_finite = [f"{name} = {value!r}" for name, value in zip(names, values) if not math.isfinite(value)]
    if not_finite:  # they were so before this update: given so to fit, or set by a callback
        return (f"{head}; the parameters are as they were before it, and were not all finite then: "
                f"{first_few(not_finite)} (given so to fit, or set so by a callback)")
    return f"{head}, so the parameters are the last finite ones (a smaller lr usually helps)"


class _ProgressBar:
    """A tqdm bar over epochs that shows the latest training loss."""

    def __init__(self, tqdm: Callable, total: int) -> None:
        self.bar = tqdm(total=total, unit="epoch", disable=False)

    def __call__(self, history: History) -> None:
        self.bar.set_postfix(loss=f"{history.train_loss[-1]:.4g}", refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


class _ProgressLines:
    """Progress without tqdm: a line on stderr for epoch 1, every tenth of the run, and the last."""

    def __init__(self, total: int) -> None:
        self.total, self.every, self.shown = total, max(1, total // 10), 0
        self.last: History | None = None

    def __call__(self, history: History) -> None:
        self.last = history
        if history.n_epochs in (1, self.total) or history.n_epochs % self.every == 0:
            self._show(history)

    def _show(self, history: History) -> None:
        val = f"  val loss {history.val_loss[-1]:.4g}" if history.val_loss else ""
        print(f"epoch {history.n_epochs}/{self.total}  train loss {history.train_loss[-1]:.4g}{val}",
              file=sys.stderr, flush=True)
        self.shown = history.n_epochs

    def close(self) -> None:
        if self.last is not None and self.shown != self.last.n_epochs:  # an early stop: show where
            self._show(self.last)


def _progress(total: int, progress: bool | None) -> _ProgressBar | _ProgressLines | None:
    """What shows progress: None when off; tqdm's bar, or plain lines when tqdm is missing."""
    show = _stderr_is_a_terminal() or _in_notebook() if progress is None else progress
    if not show:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        if progress:  # asked for a bar by name: say why there is none
            print("progress: tqdm is not installed (pip install tqdm), so progress is shown as plain lines",
                  file=sys.stderr)
        return _ProgressLines(total)
    return _ProgressBar(tqdm, total)


def _stderr_is_a_terminal() -> bool:
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False


def _in_notebook() -> bool:
    """Whether this runs in a Jupyter (IPython) kernel: imported IPython with a kernel app."""
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)()
    return "IPKernelApp" in getattr(shell, "config", {})


def _rows_and_targets(X: Any, y: Any, x_name: str, y_name: str) -> tuple[np.ndarray, np.ndarray, int]:
    """X as a float array of rows (one float per row for 1-D X), y as an array of numbers (booleans
    as 0/1), and the width of a row (1 for 1-D X)."""
    X_array = float_array(X, x_name, "a table of numbers")
    try:
        y_array = np.asarray(y)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{y_name} must be a list of targets: {e}") from e
    if y_array.dtype.kind == "O":  # e.g. an int beyond int64: as floats, or an error naming it
        y_array = float_array(y, y_name, "numbers")
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
                         f"{short(X_array[row].tolist())}")
    if y_array.dtype.kind not in "biuf" or not np.all(np.isfinite(y_array)):
        raise ValueError(f"{y_name} must hold finite numbers, got {short(y_array.tolist()[:5])}...")
    if y_array.dtype.kind == "b":
        y_array = y_array.astype(int)
    width = 1 if X_array.ndim == 1 else X_array.shape[1]
    return X_array, y_array, width


def _check_width(model: Any, width: int) -> None:
    nin = input_width(model)
    if nin is not None and width != nin:
        raise ValueError(f"X has rows of {width} numbers, but the model takes {nin} inputs "
                         f"({type(model).__name__} with nin={nin})")


def _first_bad_target(loss_fn: Callable, targets: list[tuple[str, np.ndarray]],
                      n_classes: int = 2) -> tuple[str, np.ndarray, int] | None:
    """The first target ``loss_fn`` cannot read (`losses.bad_targets`): the name of its set
    ("y", "validation y"), the set, and its index; None when every one is fine."""
    for what, values in targets:
        bad = np.flatnonzero(bad_targets(loss_fn, values, n_classes))
        if len(bad):
            return what, values, int(bad[0])
    return None


def _n_outputs(model: Any, X: np.ndarray, targets: list[tuple[str, np.ndarray]], loss_fn: Callable) -> int:
    """How many numbers ``model`` gives per row (one forward pass on the first row, no graph),
    checked before training against a cross-entropy loss: one output per class, and class ids."""
    with no_grad():
        out = model(X[0].tolist())
    n = len(out) if isinstance(out, list | tuple) else 1
    if loss_name(loss_fn) != "cross_entropy":
        return n
    if n < 2:
        raise ValueError(f"cross_entropy needs one output per class (their softmax gives each class's "
                         f"probability), and this model has {n} output: give it k outputs for k "
                         f"classes (e.g. MLP(nin, [..., k])), or train its one score with "
                         f"loss='binary_cross_entropy' or 'hinge'")
    found = _first_bad_target(cross_entropy, targets, n)
    if found is not None:
        what, values, i = found
        raise ValueError(f"{what}[{i}] = {short(values[i].item())} is not a class id "
                         f"0 … {n - 1}: cross_entropy reads each target as the index of the "
                         f"model's output ({n} of them) for its class")
    return n


def _check_labels(loss_fn: Callable, targets: list[tuple[str, np.ndarray]]) -> None:
    """The targets a two-class loss can read, checked before training and named by their place:
    hinge's are -1/+1 or 0/1 (0 counts as -1, so -1 and 0 together would merge two classes into
    one), binary cross-entropy's are in [0, 1]."""
    name = loss_name(loss_fn)
    if name not in ("hinge", "binary_cross_entropy"):
        return
    found = _first_bad_target(LOSSES[name], targets)
    if found is not None:
        what, values, i = found
        rule = ("-1/+1 or 0/1 (0 counts as -1)" if name == "hinge" else
                "in [0, 1] (class labels 0/1, or the probability of class 1)")
        raise ValueError(f"{what}[{i}] = {short(values[i].item())}: {name} reads targets "
                         f"{rule}; more than two classes need loss='cross_entropy' (class ids 0 … k-1)")
    labels = np.unique(np.concatenate([values for _, values in targets]))
    if name == "hinge" and len(labels) > 2:
        y = targets[0][1]
        where = "y and validation y hold" if len(targets) > 1 and len(np.unique(y)) < 3 else "y holds"
        raise ValueError(f"{where} three labels, {', '.join(f'{v:g}' for v in labels)}, but hinge scores two "
                         f"classes with one output: -1/+1 or 0/1, where 0 counts as -1, so -1 and 0 would be "
                         f"one class; relabel them as two classes, or use loss='cross_entropy' for three")


def _record_task(model: Module, loss_fn: Callable, y: np.ndarray, n_outputs: int) -> None:
    """Record on ``model`` what its outputs mean after fit (see `fit`): the loss and the classes."""
    name = loss_name(loss_fn)
    values = np.unique(y)
    if name == "cross_entropy":
        classes = list(range(n_outputs))
    elif name in ("hinge", "binary_cross_entropy") and n_outputs == 1:
        classes = [-1, 1] if name == "hinge" and (y < 0).any() else [0, 1]
    elif name == "mse" and n_outputs == 1 and len(values) == 2 and np.all(values == np.round(values)):
        classes = [int(v) for v in values]  # two whole numbers are two labels; a regression has more
    elif name == "mse":
        model.set_task("regression", loss=name)
        return
    else:  # a loss of your own: fit cannot know what its outputs mean
        model.set_task(None)
        return
    model.set_task(None)  # a new run: no threshold of an earlier task carries over
    model.set_task("classification", classes=classes, loss=name)  # it implies the threshold


def check_held_out(name: object) -> str:
    """``held_out`` as `fit` and `replay.Replay` take it: a short name for the validation points,
    such as "test"; ValueError otherwise."""
    if not isinstance(name, str) or not name.strip() or len(name) > 40 or not name.isprintable():
        raise ValueError(f"held_out must be a short name for the validation points, like 'validation' or "
                         f"'test', got {short(name)}")
    return name


def _validation_pair(validation: Any, width: int) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(validation, tuple | list) or len(validation) != 2:
        raise ValueError(f"validation must be a pair (X_val, y_val), got {type(validation).__name__}")
    rows, targets, val_width = _rows_and_targets(validation[0], validation[1], "validation X", "validation y")
    if val_width != width:
        raise ValueError(f"validation X has rows of {val_width} numbers, but X's rows have {width} "
                         f"(and the model takes {width} inputs)")
    return rows, targets


def _check_settings(lr: float, tol: float, max_epochs: int, batch_size: int | None,
                    patience: int | None, keep_best: bool, held_out: object, engine: str,
                    progress: object) -> None:
    _check_lr_and_tol(lr, tol)
    for name, n in (("max_epochs", max_epochs), ("batch_size", batch_size), ("patience", patience)):
        if (n is not None or name == "max_epochs") and not _is_positive_int(n):
            raise ValueError(f"{name} must be an int >= 1{'' if name == 'max_epochs' else ' or None'}, "
                             f"got {short(n)}")
    if not isinstance(keep_best, bool):
        raise TypeError(f"keep_best must be True or False, got {short(keep_best)}")
    for asked, name in ((patience is not None, f"patience={short(patience)}"), (keep_best, "keep_best=True")):
        if asked and held_out is None:
            raise ValueError(f"{name} needs a validation set: pass validation=(X_val, y_val)")
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None (automatic), got {short(progress)}")
    if engine not in FIT_ENGINES:
        raise ValueError(f"unknown engine {short(engine)}; choose one of {', '.join(FIT_ENGINES)}")


def _check_lr_and_tol(lr: float, tol: float) -> None:
    if as_real(lr) is None or not 0 < lr < math.inf:
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    if as_real(tol) is None or not tol >= 0:
        raise ValueError(f"tol must be a number >= 0, got {tol!r}")


def _is_positive_int(n: object) -> bool:
    return isinstance(n, (int, np.integer)) and not isinstance(n, bool) and bool(n >= 1)


class Descent(tuple):
    """``(x_best, trajectory)`` from `gradient_descent`, which also says how the run went.

    ``trajectory`` is θ⁰, θ¹, … (floats for a scalar x0, tuples of floats otherwise);
    ``values[k]`` = f(θᵏ) and ``grad_norms[k]`` = ‖∇f(θᵏ)‖, one per point of the trajectory;
    ``x_best`` is the θᵏ with the smallest finite f (the latest on ties).
    """

    values: list[float]
    grad_norms: list[float]
    stopped_because: StopReason
    message: str

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
    theta = ([_start_number(x0, "x0")] if scalar
             else [_start_number(x, f"x0[{i}]") for i, x in enumerate(cast(Iterable[float], x0))])
    if not theta:
        raise ValueError("x0 is empty: give at least one starting number")
    _check_lr_and_tol(lr, tol)
    if not isinstance(max_steps, int) or isinstance(max_steps, bool) or max_steps < 0:
        raise ValueError(f"max_steps must be an int >= 0, got {short(max_steps)}")
    evaluate = value_and_grad(f)
    points, values, norms = [tuple(theta)], [], []
    reason: StopReason
    while True:
        value, grads = cast(tuple[float, tuple[float, ...]], evaluate(*theta))  # floats in, floats out
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
