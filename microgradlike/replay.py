"""The training replay: snapshots taken while `fit` trains an MLP, replayed in a browser page.

``Replay(model, X, y, ...)`` is a ``fit(callback=...)``: after every epoch it keeps the model's
weights, each parameter's gradient (that of the epoch's last update) and the optimiser's state
(Adam's running means m and v, SGD's velocity). ``replay.save("run.html")`` writes ONE
self-contained page with a slider over the epochs and a play button, showing at each epoch:

* the decision boundary with the training points (filled) and the test points (ringed), and
  the accuracy on both; a 1-D regression model (one input) shows its fitted curve instead;
* one small picture per neuron of the first hidden layer: its output aᵢ = σ(wᵢ·x + bᵢ) over the
  input plane (over x for one input), the features the next layer builds on;
* the training and validation loss curves with the epoch marked;
* a chosen parameter θ with its gradient ∂L/∂θ and the optimiser's state, and the run's settings.

The pictures are computed here with numpy (each layer's weights as a matrix: aˡ = σ(Wˡ·aˡ⁻¹ + bˡ))
and quantised to bytes; long runs keep at most ``max_snapshots`` evenly spaced epochs, so 300
epochs of the default ``train`` run stay a few MB. The page itself only draws them.

    >>> opt = Adam(model.parameters(), lr=0.05)
    >>> replay = Replay(model, X_train, y_train, validation=(X_test, y_test), optimizer=opt)
    >>> history = fit(model, X_train, y_train, loss="hinge", optimizer=opt,
    ...               validation=(X_test, y_test), callback=replay)
    >>> replay.save("run.html")

Command line: ``python -m microgradlike train --epochs 300 --html run.html``.
"""

from __future__ import annotations

import base64
import html
import math
import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .batch import NumpyLayer, numpy_forward
from .checks import float_array, real, short
from .engine import Value
from .formatting import count
from .losses import bad_targets, cross_entropy
from .nn import MLP, numpy_layers
from .optim import Optimizer, check_parameters
from .pages import iframe, page, write_page
from .train import History, check_held_out

__all__ = ["Replay"]

#: Points per side of the decision-boundary grid and of each neuron's picture.
BOUNDARY_RESOLUTION = 64
NEURON_RESOLUTION = 24
#: Points along x of a 1-D model's curve and of each neuron's curve.
CURVE_POINTS = 160
#: The snapshots of one page hold at most this many bytes (about 4/3 more as base64 text).
PAGE_BUDGET = 3_000_000


#: What each state an optimiser keeps per parameter (`optim.Optimizer.state_names`) means, on the page.
_STATE_TEXT = {"m": "m: running mean of the gradient", "v": "v: running mean of its square",
               "velocity": "velocity: the running sum μ·v + g"}

#: Rows and their targets (class ids for a classifier).
_Points = tuple[np.ndarray, np.ndarray]


@dataclass
class _Snapshot:
    """The model and the optimiser after one epoch (epoch 0: before training)."""

    epoch: int
    layers: list[NumpyLayer]  # (W, b, activation) per layer
    values: np.ndarray  # every parameter, in model.parameters() order
    grads: np.ndarray
    state: dict[str, np.ndarray]  # the optimiser's per-parameter state, by name
    note: str = ""


class Replay:
    """Record a training run (as ``fit(..., callback=replay)``) and write it as a page.

    Args:
        model: the `MLP` being trained, with 2 inputs (a classifier: the page draws its decision
            boundary) or 1 input and 1 output (a regression: the page draws its curve).
        X, y: the training rows and targets, as given to `fit` (a classifier's targets are class
            ids, or -1/+1 or 0/1 for one output).
        validation: ``(X_test, y_test)``, drawn ringed and scored separately.
        optimizer: the optimiser instance given to `fit`, to show its state (Adam's m and v, SGD's
            velocity); without it the page shows each parameter's value and gradient only.
        settings: what the run used (name -> value), listed on the page.
        threshold: a one-output classifier predicts its second class where its output >
            threshold. By default the one the model's task says (`fit` records it: 0 for hinge
            scores and logits, 0.5 for MSE on 0/1 targets), else 0.
        held_out: what the page calls the ``validation`` points and their loss and accuracy
            (the command line's "test"); by default the name `fit` was given (``History.held_out``,
            "validation").
        max_snapshots: at most this many epochs are kept, evenly spaced, first and last included
            (fewer for big models: the page stays under about 4 MB).
    """

    def __init__(self, model: MLP, X: Any, y: Any, *, validation: tuple[Any, Any] | None = None,
                 optimizer: Optimizer | None = None, settings: Mapping[str, Any] | None = None,
                 threshold: float | None = None, max_snapshots: int = 100,
                 held_out: str | None = None) -> None:
        if not isinstance(model, MLP):
            raise TypeError(f"Replay draws an MLP (its layers as weight matrices), got "
                            f"{type(model).__name__}: {short(model)}")
        if model.nin not in (1, 2):
            raise ValueError(f"Replay draws models with 1 input (a curve) or 2 (a plane), "
                             f"got MLP with nin={model.nin}")
        if isinstance(max_snapshots, bool) or not isinstance(max_snapshots, numbers.Integral) \
                or max_snapshots < 2:
            raise ValueError(f"max_snapshots must be an int >= 2, got {short(max_snapshots)}")
        if optimizer is not None and not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be the Optimizer given to fit, got {short(optimizer)}")
        limit = None if threshold is None else real(threshold, "threshold", finite=True)
        self.model: MLP = model
        self._threshold: float | None = limit
        self._held_out: str | None = None if held_out is None else check_held_out(held_out)
        self.max_snapshots: int = int(max_snapshots)
        self.n_outputs: int = model.nouts[-1]
        self.kind: str = "curve" if model.nin == 1 else "boundary"
        if self.kind == "curve" and self.n_outputs != 1:
            raise ValueError(f"a 1-input model is drawn as a curve and needs 1 output, got {self.n_outputs}")
        self._train: tuple[np.ndarray, np.ndarray] = self._points(X, y, "X", "y")
        self._test: tuple[np.ndarray, np.ndarray] | None = (
            None if validation is None else self._points(*_pair(validation), "validation X", "validation y"))
        if self.kind == "boundary" and self.n_outputs == 1:
            self._two_labels()
        self.settings: dict[str, str] = {str(k): _setting(v) for k, v in (settings or {}).items()}
        self.names: list[str] = [name for name, _ in model.named_parameters()]
        self.params: list[Value] = model.parameters()
        self.optimizer: Optimizer | None = optimizer
        self._slots: dict[str, str] = self._optimizer_slots(optimizer)
        self.history: History | None = None
        self._stride: int = 1
        self.snapshots: list[_Snapshot] = [self._snapshot(0)]

    # ---- checking what was given ---------------------------------------------------------
    def _points(self, X: Any, y: Any, x_name: str, y_name: str) -> tuple[np.ndarray, np.ndarray]:
        """Rows of shape (n, nin), and targets: class ids for a classifier, floats for a curve."""
        rows, targets = float_array(X, x_name, "a table of numbers"), float_array(y, y_name, "numbers")
        if rows.ndim == 1 and self.model.nin == 1:
            rows = rows[:, None]
        if rows.ndim != 2 or rows.shape[1] != self.model.nin or len(rows) == 0:
            raise ValueError(f"{x_name} must have shape (n, {self.model.nin}) with n >= 1, got {rows.shape}")
        if targets.shape != (len(rows),):
            raise ValueError(f"{x_name} has {len(rows)} rows but {y_name} has shape {targets.shape}")
        if not (np.all(np.isfinite(rows)) and np.all(np.isfinite(targets))):
            raise ValueError(f"{x_name} and {y_name} must hold finite numbers (no nan or inf)")
        if self.kind == "curve" or self.n_outputs == 1:
            return rows, targets  # a one-output classifier's labels become class ids by its task
        if bad_targets(cross_entropy, targets, self.n_outputs).any():
            raise ValueError(f"{y_name} must be class ids 0 … {self.n_outputs - 1} for a model with "
                             f"{self.n_outputs} outputs, got {short(targets.tolist())}")
        return rows, targets.astype(int)

    def _two_labels(self) -> None:
        """A one-output classifier scores two classes: its targets hold at most two labels."""
        labels = self._labels()
        if len(labels) > 2:
            raise ValueError(f"y and validation y of a one-output classifier hold two labels (like -1/+1 or "
                             f"0/1), got {len(labels)}: {short(labels.tolist())}; a model with k outputs "
                             f"scores k classes")

    def _labels(self) -> np.ndarray:
        """The distinct targets of the training and held-out points."""
        return np.unique(np.concatenate([pair[1] for pair in (self._train, self._test) if pair is not None]))

    # ---- what the outputs mean: the model's task, as fit records it ---------------------------
    @property
    def threshold(self) -> float:
        """Where a one-output classifier splits its classes: the one given, else the model's task's
        (`fit` records it), else 0."""
        if self._threshold is not None:
            return self._threshold
        task = self.model.task
        if task is not None and task["task"] == "classification" and self.n_outputs == 1:
            return float(task["threshold"])
        return 0.0

    @property
    def held_out(self) -> str:
        """What the page calls the held-out points: the name given, else fit's (``History.held_out``)."""
        if self._held_out is not None:
            return self._held_out
        return getattr(self.history, "held_out", None) or "validation"

    @property
    def train(self) -> tuple[np.ndarray, np.ndarray]:
        """The training rows and their class ids (a curve: its targets)."""
        return self._train[0], self._class_ids(self._train[1])

    @property
    def test(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The held-out rows and their class ids (a curve: its targets), or None."""
        return None if self._test is None else (self._test[0], self._class_ids(self._test[1]))

    def _class_ids(self, targets: np.ndarray) -> np.ndarray:
        """A one-output classifier's targets as class ids 0/1: the task's classes in order (the
        second predicted above the threshold) where they name the targets; else -1/0 → 0 and 1 → 1
        (hinge's and binary cross-entropy's labels); else the lower of two labels → 0."""
        if self.kind == "curve" or self.n_outputs != 1:
            return targets
        task = self.model.task
        classes = task.get("classes", []) if task is not None and task["task"] == "classification" else []
        if len(classes) == 2 and not isinstance(classes[0], str) and np.all(np.isin(targets, classes)):
            return (targets == classes[1]).astype(int)
        labels = self._labels()
        if np.all(np.isin(labels, (-1.0, 0.0, 1.0))):
            return (targets > 0).astype(int)
        return (targets == labels.max()).astype(int)

    def _optimizer_slots(self, optimizer: Optimizer | None) -> dict[str, str]:
        """The optimiser's per-parameter state to record: attribute name -> what it means."""
        if optimizer is None:
            return {}
        check_parameters(optimizer, self.model.named_parameters())
        return {name: _STATE_TEXT.get(name, name) for name in optimizer.state_names()}

    # ---- recording ---------------------------------------------------------------------------
    def __call__(self, history: History) -> None:
        """`fit`'s callback: keep a snapshot of the epoch that just ended."""
        if self.history is None:
            self.history = history
        elif history is not self.history or history.n_epochs <= self.snapshots[-1].epoch:
            raise ValueError("this Replay has recorded another run already: make a new Replay for each fit")
        # Keep the epochs that are multiples of a stride, and the latest one; when they get too
        # many, double the stride: long runs stay evenly sampled in bounded memory.
        if self.snapshots[-1].epoch % self._stride:
            self.snapshots.pop()  # it was kept only as the latest
        self.snapshots.append(self._snapshot(history.n_epochs))
        if len(self.snapshots) > 2 * self.max_snapshots:
            self._stride *= 2
            kept = [s for s in self.snapshots[:-1] if s.epoch % self._stride == 0]
            self.snapshots = [*kept, self.snapshots[-1]]

    def finish(self, history: History) -> None:
        """Record how the run ended. `fit` calls its callback after each whole epoch, so a run that
        stops inside its first epoch (diverging at once, say) never calls it: give the page its
        `History` here (calling this after a normal run is harmless)."""
        if self.history is not None and history is not self.history:
            raise ValueError("this Replay has recorded another run already: make a new Replay for each fit")
        self.history = history

    def _snapshot(self, epoch: int, note: str = "") -> _Snapshot:
        layers = numpy_layers(self.model)
        if layers is None:
            raise TypeError(f"the parameters of {self.model!r} are no longer numbers in its shape: a weight "
                            f"or bias was set to something else")
        state = {}
        if self.optimizer is not None:
            position = {id(p): i for i, p in enumerate(self.optimizer.params)}
            for slot in self._slots:
                values = getattr(self.optimizer, slot)
                state[slot] = np.array([values[position[id(p)]] for p in self.params])
        return _Snapshot(epoch, layers, np.array([p.data for p in self.params]),
                         np.array([p.grad for p in self.params]), state, note)

    def _final_snapshots(self) -> list[_Snapshot]:
        """The snapshots to draw: evenly spaced, and ending with the model as `fit` left it
        (early stopping puts back the best epoch's weights, drawn at the last epoch; a run that
        diverged or was interrupted (Ctrl-C) inside an epoch, after some of its updates, is drawn
        at that epoch)."""
        kept = self.snapshots
        count = min(len(kept), self.max_snapshots, max(2, PAGE_BUDGET // self._snapshot_bytes()))
        epochs = np.array([s.epoch for s in kept])
        targets = np.linspace(0, epochs[-1], count)
        picks = np.unique([int(np.abs(epochs - t).argmin()) for t in targets])
        chosen = [kept[i] for i in picks]
        now = self._snapshot(chosen[-1].epoch)
        if not np.array_equal(now.values, chosen[-1].values) and self.history is not None:
            put_back = self.history.kept_epoch is not None and self.history.stopped_because != "diverged"
            epoch = self.history.n_epochs + (0 if put_back else 1)
            chosen = [s for s in chosen if s.epoch < epoch]
            chosen.append(self._snapshot(epoch, note=f"the model as fit left it: {self.history.message}"))
        return chosen

    def _snapshot_bytes(self) -> int:
        """What one snapshot adds to the page: its pictures, and 4 bytes per parameter and slot."""
        hidden = self.model.nouts[0] if len(self.model.nouts) > 1 else 0
        if self.kind == "boundary":
            grids = 1 if self.n_outputs == 1 else 2  # several classes: class ids and confidences
            pictures = grids * BOUNDARY_RESOLUTION**2 + hidden * NEURON_RESOLUTION**2
        else:
            pictures = 4 * CURVE_POINTS * (1 + hidden)
        return pictures + 4 * len(self.params) * (2 + len(self._slots))

    # ---- the page's data ---------------------------------------------------------------------
    def data(self) -> dict[str, Any]:
        """Everything the page shows, as JSON-able data (grids as base64 bytes)."""
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging run's weights: shown as ±inf
            return self._data()

    def _data(self) -> dict[str, Any]:
        snaps = self._final_snapshots()
        acts = [layer.activation for layer in self.model.layers]
        history = self.history or History()
        train, test = self.train, self.test
        points = {"train": _round(train[0]), "train_y": train[1].tolist()}
        if test is not None:
            points.update(test=_round(test[0]), test_y=test[1].tolist())
        out: dict[str, Any] = {
            "kind": self.kind,
            "classes": max(2, self.n_outputs),
            "epochs": [s.epoch for s in snaps],
            "notes": [s.note for s in snaps],
            "points": points,
            "loss": {"train": _finite(history.train_loss), "validation": _finite(history.val_loss)},
            "parameters": {"names": self.names,
                           "slots": {"value": "θ: the parameter's value",
                                     "grad": "∂L/∂θ: its gradient in the epoch's last update",
                                     **self._slots},
                           "values": {slot: _floats(np.stack([_slot(s, slot) for s in snaps]))
                                      for slot in ("value", "grad", *self._slots)}},
            "settings": self._settings(history),
            "activation": acts[0] if len(acts) > 1 else None,
            "held_out": self.held_out,
        }
        everything = np.concatenate([train[0]] + ([test[0]] if test is not None else []))
        draw = self._plane if self.kind == "boundary" else self._line
        out.update(draw(snaps, everything, train, test))
        return out

    def _plane(self, snaps: list[_Snapshot], rows: np.ndarray,
               train: _Points, test: _Points | None) -> dict[str, Any]:
        """Decision regions over a square around the points, the first layer's neurons, accuracy."""
        threshold = self.threshold
        lo, hi = rows.min(axis=0) - 0.5, rows.max(axis=0) + 0.5
        half = (hi - lo).max() / 2  # a square, so the picture is not stretched
        centre = (lo + hi) / 2
        box = [float(centre[0] - half), float(centre[0] + half),
               float(centre[1] - half), float(centre[1] + half)]
        grid, small = _plane_grid(box, BOUNDARY_RESOLUTION), _plane_grid(box, NEURON_RESOLUTION)
        regions, confidence, neurons = [], [], []
        accuracy: dict[str, list[float]] = {"train": [], "test": []}
        for s in snaps:
            scores = numpy_forward(s.layers, grid)
            if self.n_outputs == 1:
                # tanh squashes the score to (-1, 1): the colour deepens with the distance from
                # the boundary (output = threshold), which is crossed at byte 127.5
                regions.append(_bytes(np.tanh(scores[:, 0] - threshold)))
            else:
                probs = _softmax(scores)
                regions.append(probs.argmax(axis=1).astype(np.uint8))
                k = self.n_outputs
                confidence.append(_bytes((probs.max(axis=1) - 1 / k) / (1 - 1 / k) * 2 - 1))
            if len(s.layers) > 1:
                neurons.append(_bytes(np.tanh(numpy_forward(s.layers[:1], small)).T))
            for split, pair in (("train", train), ("test", test)):
                if pair is not None:
                    right = self._classes(s, pair[0], threshold) == pair[1]
                    accuracy[split].append(round(100 * float(np.mean(right)), 2))
        result = {"box": box, "resolution": BOUNDARY_RESOLUTION, "regions": _b64(regions),
                  "neuron_resolution": NEURON_RESOLUTION, "neurons": _b64(neurons),
                  "n_neurons": len(snaps[0].layers[0].b) if len(snaps[0].layers) > 1 else 0,
                  "accuracy": accuracy}
        if confidence:
            result["confidence"] = _b64(confidence)
        return result

    def _classes(self, s: _Snapshot, rows: np.ndarray, threshold: float) -> np.ndarray:
        scores = numpy_forward(s.layers, rows)
        return (scores[:, 0] > threshold).astype(int) if self.n_outputs == 1 else scores.argmax(axis=1)

    def _line(self, snaps: list[_Snapshot], rows: np.ndarray,
              train: _Points, test: _Points | None) -> dict[str, Any]:
        """A 1-D model's curve ŷ(x) over the data's range, and each first-layer neuron's aᵢ(x)."""
        lo, hi = float(rows.min()), float(rows.max())
        margin = 0.05 * ((hi - lo) or 1.0)
        xs = np.linspace(lo - margin, hi + margin, CURVE_POINTS)[:, None]
        curves, neurons = [], []
        error: dict[str, list[float]] = {"train": [], "test": []}
        for s in snaps:
            curves.append(numpy_forward(s.layers, xs)[:, 0])
            if len(s.layers) > 1:
                neurons.append(numpy_forward(s.layers[:1], xs).T)
            for split, pair in (("train", train), ("test", test)):
                if pair is not None:
                    residual = numpy_forward(s.layers, pair[0])[:, 0] - pair[1]
                    error[split].append(float(f"{float(np.mean(residual ** 2)):.6g}"))
        return {"xs": [float(xs[0, 0]), float(xs[-1, 0])], "curves": _floats(np.array(curves)),
                "neurons": _floats(np.array(neurons)) if neurons else "",
                "n_neurons": len(snaps[0].layers[0].b) if len(snaps[0].layers) > 1 else 0,
                "mse": error}

    def _settings(self, history: History) -> dict[str, str]:
        shown = {"model": repr(self.model)}
        if self.optimizer is not None:
            shown["optimiser"] = repr(self.optimizer)
        shown.update(self.settings)
        if history.n_epochs:
            shown["ran"] = f"{count(history.n_epochs, 'epoch')}, {count(history.n_updates, 'update')}"
        if history.message:
            shown["how it ended"] = history.message
        return shown

    # ---- the page ----------------------------------------------------------------------------
    def html(self) -> str:
        """The whole page."""
        title = f"Training replay: {self.model!r}"
        body = _BODY.format(title=html.escape(title), main_role=self.kind)
        return page(title, body, ["page.css", "replay.css"],
                    ["replay.js"], self.data())

    def save(self, path: str | os.PathLike[str]) -> str:
        """Write the page to ``path`` (atomically); returns the path."""
        return write_page(path, self.html())

    def _repr_html_(self) -> str:
        return iframe(self.html(), 900)

    def __repr__(self) -> str:
        epochs = self.snapshots[-1].epoch
        return f"Replay({self.model!r}, {len(self.snapshots)} snapshots up to epoch {epochs})"


_BODY = """<main class="replay" data-replay>
<h1>{title}</h1>
<div class="controls">
  <button type="button" data-action="play" title="play / pause (space)">▶ play</button>
  <label class="slider">epoch
    <input type="range" data-role="epoch" min="0" max="0" value="0" step="1"></label>
  <span class="epoch-label" data-role="epoch-label"></span>
</div>
<p class="note" data-role="note"></p>
<div class="panels">
  <section class="panel main-panel">
    <h2 data-role="main-title"></h2>
    <canvas data-role="{main_role}" width="380" height="380"></canvas>
    <p class="scores" data-role="scores"></p>
    <p class="legend muted" data-role="main-legend"></p>
  </section>
  <section class="panel side">
    <h2>loss per epoch</h2>
    <canvas data-role="loss-chart" width="420" height="220"></canvas>
    <h2>a parameter and the optimiser's state</h2>
    <label>parameter <select data-role="parameter"></select></label>
    <table class="state" data-role="state"></table>
    <canvas data-role="parameter-chart" width="420" height="120"></canvas>
  </section>
</div>
<section class="panel">
  <h2 data-role="neurons-title"></h2>
  <div class="neurons" data-role="neurons"></div>
</section>
<section class="panel">
  <h2>settings of the run</h2>
  <table class="settings" data-role="settings"></table>
</section>
</main>"""


# ---- numpy helpers ---------------------------------------------------------------------------
def _pair(validation: Any) -> tuple[Any, Any]:
    if not isinstance(validation, tuple | list) or len(validation) != 2:
        raise ValueError(f"validation must be a pair (X_test, y_test), got {short(validation)}")
    return validation[0], validation[1]


def _setting(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value)) or "none"
    return "default" if value is None else str(value)


def _softmax(scores: np.ndarray) -> np.ndarray:
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _plane_grid(box: list[float], n: int) -> np.ndarray:
    """n × n points over ``box`` = [x_lo, x_hi, y_lo, y_hi], row by row from the TOP (y_hi)."""
    xs = np.linspace(box[0], box[1], n)
    ys = np.linspace(box[3], box[2], n)
    gx, gy = np.meshgrid(xs, ys)
    return np.column_stack([gx.ravel(), gy.ravel()])


def _bytes(x: np.ndarray) -> np.ndarray:
    """Numbers in [-1, 1] as bytes 0 … 255 (0 at 127.5)."""
    return np.round((np.clip(np.nan_to_num(x), -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


def _b64(arrays: list[np.ndarray]) -> str:
    """Byte arrays, one after another, as one base64 string ("" for none)."""
    return base64.b64encode(b"".join(a.astype(np.uint8).tobytes() for a in arrays)).decode("ascii")


def _floats(x: np.ndarray) -> str:
    """Numbers as little-endian float32, base64: 4 bytes each instead of ~10 characters of JSON."""
    return base64.b64encode(np.ascontiguousarray(x, dtype="<f4").tobytes()).decode("ascii")


def _slot(s: _Snapshot, slot: str) -> np.ndarray:
    return s.values if slot == "value" else s.grads if slot == "grad" else s.state[slot]


def _round(rows: np.ndarray) -> list[list[float]]:
    return np.round(rows, 4).tolist()


def _finite(losses: list[float]) -> list[float | None]:
    """Losses for the chart, 6 significant digits; a non-finite one is a gap (JSON has no nan)."""
    return [float(f"{x:.6g}") if math.isfinite(x) else None for x in losses]
