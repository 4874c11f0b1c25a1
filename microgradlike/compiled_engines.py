"""fit's compiled engines: one batch's loss and gradients replayed from traced tapes.

`microgradlike.trainers.make_loss_and_grad` returns a `CompiledLossAndGrad` for ``engine="tape"``
(a generated float loop over the samples, model and loss fused into one tape) and
``engine="batched"`` (numpy over the whole batch: the model's tape, each layer one matrix product,
then the loss's). Each tape is traced once (`microgradlike.compile.trace`) from one sample and
replays every sample exactly as the eager engine would compute it. This module, and with it the
compiler, is imported only when a compiled engine is first used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, cast

import numpy as np

from .compile import trace
from .engine import Value
from .merging import Merged, merge
from .parameters import named
from .tape import Tape

__all__ = ["CompiledLossAndGrad"]


@dataclass
class _Keys:
    """The targets' keys of a batch: ``keys`` (one per loss tape it needs), for each row the
    index of its key (``inverse``), and each key's first row (``firsts``)."""

    keys: list[Any]
    inverse: np.ndarray
    firsts: list[int]

    @cached_property
    def groups(self) -> list[tuple[Any, np.ndarray]]:
        """(key, the indices of its rows) for each key."""
        if len(self.keys) == 1:
            return [(self.keys[0], np.arange(len(self.inverse)))]
        order = np.argsort(self.inverse, kind="stable")  # each key's rows, in batch order
        stops = np.cumsum(np.bincount(self.inverse, minlength=len(self.keys))).tolist()
        return [(key, order[start:stop]) for key, start, stop in zip(self.keys, [0, *stops[:-1]], stops)]


@dataclass
class _Batch:
    """One call's data, checked: ``X`` (N × d), ``T`` the targets as numbers (N × t), ``targets``
    as given (a target traced into a loss by value is the caller's own object), and the keys of
    the loss tapes it needs."""

    X: np.ndarray
    T: np.ndarray
    targets: Any
    by_value: bool
    grouping: _Keys

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def keys(self) -> list[Any]:
        return self.grouping.keys

    def target(self, i: int) -> Any:
        """Row i's target as the caller gave it (a numpy entry as a Python number or list)."""
        t = self.targets[i]
        return t.tolist() if isinstance(t, np.ndarray | np.generic) else t


class _MergedLoss:
    """The loss tapes of several targets as one tape (`microgradlike.merging`): each row reads
    its own target's choices, so one batched replay computes every row's loss."""

    def __init__(self, keys: list[Any], merged: Merged) -> None:
        self.position = {key: k for k, key in enumerate(keys)}
        self.tape = Tape(merged.program, [], single_output=True)
        self.choices = [(np.asarray(c.slots, dtype=np.intp) if c.slots is not None else None,
                         None if c.numbers is None else np.asarray(c.numbers)) for c in merged.choices]
        self._picks: dict[int, tuple[_Keys, list]] = {}  # recent batches' targets -> `picks`

    def picks(self, grouping: _Keys) -> list[tuple[tuple[np.ndarray, np.ndarray] | None, np.ndarray | None]]:
        """For each choice, what each row reads: ((rows, columns) of the logits, None) for a slot,
        (None, numbers) for a plain number. Kept for the few targets seen last (they recur)."""
        if id(grouping) not in self._picks:
            tape_of_row = np.asarray([self.position[key] for key in grouping.keys])[grouping.inverse]
            rows = np.arange(len(tape_of_row))
            picks = [((rows, slots[tape_of_row]), None) if slots is not None
                     else (None, cast(np.ndarray, numbers)[tape_of_row])  # a choice holds one of the two
                     for slots, numbers in self.choices]
            recent = dict(list(self._picks.items())[-3:])  # each entry holds its grouping: ids stay unique
            self._picks = {**recent, id(grouping): (grouping, picks)}
        return self._picks[id(grouping)][1]

    def __call__(self, batch: _Batch, preds: np.ndarray, backward: bool) -> tuple[float, np.ndarray | None]:
        """Σ of the rows' losses and, with ``backward``, ∂(Σ loss)/∂preds."""
        picks = self.picks(batch.grouping)
        arguments = [preds]
        if picks:
            chosen = np.empty((batch.n, len(picks)))
            for j, (where, numbers) in enumerate(picks):
                chosen[:, j] = preds[where] if where is not None else numbers
            arguments.append(chosen)
        P = np.zeros(0)
        outputs, saved = self.tape.function("forward", "numpy")(*arguments, P)
        if not backward:
            return float(outputs.sum()), None
        read_preds = any(where is not None for where, _ in picks)
        wanted = (True, read_preds) if picks else (True,)
        grads, _ = self.tape.function("backward", "numpy", wanted)(saved, P, np.ones((batch.n, 1)))
        dpreds = grads[0]
        for j, (where, _) in enumerate(picks):
            if where is not None:  # a chosen logit's gradient goes back to that logit
                dpreds[where] += grads[1][:, j]
        return float(outputs.sum()), dpreds


class CompiledLossAndGrad:
    """The callable `make_loss_and_grad` returns; caches one tape per target key.

    ``evaluate(X, y)`` is the same loss from forward passes alone: no backward pass, no ``.grad``
    touched (`make_evaluate` hands it to `fit`). ``gradient(X, y, theta)`` and
    ``evaluate(X, y, theta)`` compute at a parameter vector θ (in ``model.parameters()`` order)
    instead of the Values' numbers, and ``gradient`` returns ∇L as a vector instead of writing it
    into the ``.grad``: `trainers.VectorTrainer` trains that way, with θ as one numpy vector."""

    def __init__(self, model: Any, loss: Callable, engine_name: str, by_value: bool) -> None:
        self.model, self.loss, self.engine, self.by_value = model, loss, engine_name, by_value
        # (name, parameter) pairs, the tapes' first parameters, in order (`parameters.named`)
        self._named = named(model)
        self.params = [p for _, p in self._named]
        self._fused: dict[Any, Tape] = {}  # engine="tape": model + loss, per target key
        self._model_tape: Tape | None = None  # engine="batched": the model alone ...
        self._loss_tapes: dict[Any, Tape] = {}  # ... and the loss, per target key ...
        self._merged: tuple[tuple, _MergedLoss | None] = ((), None)  # ... merged, if they can be
        self._keys: dict[bytes, _Keys] = {}  # the targets' keys of recent batches (the same y recurs)

    def __call__(self, X_batch: Any, y_batch: Any) -> float:
        """The mean loss L over the batch; each parameter's ``.grad`` is set to ∂L/∂θ."""
        loss, grads = self.gradient(X_batch, y_batch)
        for p, g in zip(self.params, grads.tolist()):
            p.grad = g
        return loss

    def gradient(self, X_batch: Any, y_batch: Any,
                 theta: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """The mean loss L over the batch and ∇L (one entry per parameter), at θ = ``theta`` (the
        Values' numbers when None); no ``.grad`` is touched."""
        batch = self._batch(X_batch, y_batch)
        run = self._run_tape if self.engine == "tape" else self._run_batched
        total, grads = run(batch, True, theta)
        return total / batch.n, grads[:len(self.params)] / batch.n

    def evaluate(self, X_batch: Any, y_batch: Any, theta: np.ndarray | None = None) -> float:
        """The mean loss over the batch at the current parameters (or at ``theta``), forward
        passes only."""
        batch = self._batch(X_batch, y_batch)
        run = self._run_tape if self.engine == "tape" else self._run_batched
        return run(batch, False, theta)[0] / batch.n

    def _parameters(self, tape: Tape, theta: np.ndarray | None) -> np.ndarray:
        """The vector P a tape traced with ``params=model`` reads: θ, then any other leaf the
        model reads (a Value that is not a parameter), at its number now."""
        if theta is None:
            return tape.params_vector()
        others = tape.params[len(theta):]
        if not others:
            return theta
        return np.concatenate([theta, np.fromiter([p.data for p in others], np.float64, len(others))])

    def _at(self, theta: np.ndarray | None) -> None:
        """Before a trace: the model's Values hold θ, so the trace reads the model as it is now."""
        if theta is not None:
            for p, value in zip(self.params, theta.tolist()):
                p.data = value

    def _batch(self, X_batch: Any, y_batch: Any) -> _Batch:
        X = np.asarray(X_batch, dtype=np.float64)
        if X.ndim == 1:
            X = X.reshape(-1, 1)
        n = X.shape[0]
        if X.ndim != 2 or n == 0:
            raise ValueError(f"X_batch must be a non-empty list of rows, got shape {X.shape}")
        targets = y_batch if isinstance(y_batch, np.ndarray) else list(y_batch)
        if len(targets) != n:
            raise ValueError(f"X_batch has {n} rows but y_batch has {len(targets)} targets")
        try:
            T = np.asarray(targets, dtype=np.float64).reshape(n, -1)
        except (TypeError, ValueError) as e:
            raise ValueError(f"y_batch must hold numbers, or rows of numbers of one length: {e}") from None
        # A loss that reads its targets as plain numbers gets one tape per distinct target
        # (usually a handful of labels); integer targets are taken for labels too.
        by_value = self.by_value or bool(np.all(np.mod(T, 1.0) == 0.0))
        if not by_value:  # the targets are an input of one tape, keyed by their length
            return _Batch(X, T, targets, by_value, _Keys([T.shape[1]], np.zeros(n, dtype=np.intp), [0]))
        seen = T.tobytes() + repr(T.shape).encode()
        if seen not in self._keys:
            keys = _distinct_rows(T)
            recent = dict(list(self._keys.items())[-3:])  # a few: the training set's, the validation set's
            self._keys = {**recent, seen: keys}
        return _Batch(X, T, targets, by_value, self._keys[seen])

    # -- engine="tape": one fused tape (model + loss) per target key, a float loop over samples --
    def _run_tape(self, batch: _Batch, backward: bool, theta: np.ndarray | None) -> tuple[float, np.ndarray]:
        rows_all = batch.X.tolist()
        total, grads = 0.0, np.zeros(len(self.params))
        for (key, index), first in zip(batch.grouping.groups, batch.grouping.firsts):
            if key not in self._fused:
                self._at(theta)
                self._fused[key] = _trace_sample_loss(self.loss, self.model, rows_all[first],
                                                      batch.target(first), batch.T[first].tolist(),
                                                      batch.by_value, params=self._named)
            tape = self._fused[key]
            if batch.by_value:
                rows = [rows_all[i] for i in index]
            else:  # the targets' numbers follow the row's, as the tape's second input
                targets = batch.T.tolist()
                rows = [rows_all[i] + targets[i] for i in index]
            params = self._parameters(tape, theta).tolist()
            if backward:
                part, part_grads = tape.sum_over_rows(rows, params)
                with np.errstate(invalid="ignore"):  # inf − inf: nan, as a float sum gives (a divergence)
                    grads += part_grads[:len(grads)]
            else:
                part = tape.total_over_rows(rows, params)
            total += part
        return total, grads

    # -- engine="batched": the model fused and batched once, then the loss --
    def _run_batched(self, batch: _Batch, backward: bool,
                     theta: np.ndarray | None) -> tuple[float, np.ndarray]:
        if self._model_tape is None:
            model = self.model
            self._at(theta)
            self._model_tape = trace(lambda x: _as_outputs(model(x)), batch.X[0].tolist(), params=self._named)
        model_tape = self._model_tape
        params = self._parameters(model_tape, theta)
        with np.errstate(all="ignore"):  # exp overflows to inf, as the engine's does
            preds, saved = model_tape.function("forward", "numpy")(batch.X, params)  # N × (outputs)
            for key, first in zip(batch.keys, batch.grouping.firsts):
                if key not in self._loss_tapes:
                    # traced at the row's outputs, made finite: the loss's graph does not depend on
                    # them, and a NaN output (a diverged model) must reach the loss, not stop its trace
                    example = np.nan_to_num(preds[first], nan=0.0, posinf=0.0, neginf=0.0).tolist()
                    self._loss_tapes[key] = _trace_sample_loss(
                        self.loss, _first_if_one, example, batch.target(first),
                        batch.T[first].tolist(), batch.by_value)
            merged = self._merged_loss() if batch.by_value else None
            if merged is not None:
                total, dpreds = merged(batch, preds, backward)
            else:
                total, dpreds = self._loss_by_key(batch, preds, backward)
            if not backward:
                return total, np.zeros(0)
            _, param_grads = model_tape.function("backward", "numpy", (False,))(saved, params, dpreds)
        return total, param_grads

    def _merged_loss(self) -> _MergedLoss | None:
        """The loss tapes of every target seen so far as one tape, if they merge (they do for the
        losses of `microgradlike.losses` but hinge, whose two traces differ in an op)."""
        keys = tuple(self._loss_tapes)
        if self._merged[0] != keys:
            programs = [tape.program for tape in self._loss_tapes.values()]
            merged = merge(programs) if not any(p.param_names for p in programs) else None
            self._merged = (keys, None if merged is None else _MergedLoss(list(keys), merged))
        return self._merged[1]

    def _loss_by_key(self, batch: _Batch, preds: np.ndarray, backward: bool) -> tuple[float, np.ndarray]:
        """Each key's loss tape on its own rows: Σ of the losses and ∂(Σ loss)/∂preds."""
        total, dpreds = 0.0, np.empty_like(preds)
        everyone = len(batch.keys) == 1
        for key, index in batch.grouping.groups:
            tape = self._loss_tapes[key]
            rows = preds if everyone else preds[index]
            arguments = (rows,) if batch.by_value else (rows, batch.T if everyone else batch.T[index])
            P = tape.params_vector()
            outputs, saved = tape.function("forward", "numpy")(*arguments, P)
            total += float(outputs.sum())
            if backward:  # ∂ℓ/∂preds (not ∂ℓ/∂y), each row's ℓ seeded with 1
                wanted = (True,) if batch.by_value else (True, False)
                (dp, *_), _ = tape.function("backward", "numpy", wanted)(saved, P, np.ones((len(rows), 1)))
                dpreds[index] = dp
        return total, dpreds


def _distinct_rows(T: np.ndarray) -> _Keys:
    """The distinct rows of ``T`` (in sorted order) as tuples, where each row of T is among them,
    and where each first appears. One number per row (the usual labels) takes numpy's 1-D unique,
    ten times faster than its unique of rows."""
    if T.shape[1] == 1:
        values, first, inverse = np.unique(T[:, 0], return_index=True, return_inverse=True)
        return _Keys([(v,) for v in values.tolist()], inverse.ravel(), first.tolist())
    values, first, inverse = np.unique(T, axis=0, return_index=True, return_inverse=True)
    return _Keys([tuple(row) for row in values.tolist()], inverse.ravel(), first.tolist())


def _trace_sample_loss(loss: Callable, predict: Callable, example: list[float], target: Any,
                       flat_target: list[float], by_value: bool, params: Any = None) -> Tape:
    """The tape of one sample's loss ℓ = loss([predict(x)], [y]), traced at ``example``.

    ``by_value``: ``target`` is built in as the plain number(s) it is (one tape per distinct
    target). Otherwise y is a second input (its numbers flattened, as ``flat_target``)."""
    if by_value:
        return trace(lambda x: loss([predict(x)], [target]), example, params=params)
    as_list = isinstance(target, Sequence)
    return trace(lambda x, y: loss([predict(x)], [y if as_list else y[0]]), example, flat_target,
                 params=params)


def _first_if_one(zs: list[Value]) -> Value | list[Value]:
    """A model's outputs as the model gives them: one Value alone, several as a list."""
    return zs[0] if len(zs) == 1 else zs


def _as_outputs(out: Any) -> list[Value]:
    return [out] if isinstance(out, Value) else list(out)
