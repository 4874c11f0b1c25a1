"""Matplotlib pictures of training: loss curves, decision boundaries, 1-D fits, descent paths.

matplotlib is optional: it is imported only when a plot is drawn, and a clear ImportError says
``pip install matplotlib`` when it is missing. Every function draws on ``ax`` (a new figure when
None) and returns the Axes, so pictures can be combined with ``plt.subplots``.

Models are evaluated under `no_grad` (no graph is built) one input at a time, except where the
library's own models are evaluated on a whole grid at once with numpy (`microgradlike.batch`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

from .checks import first_few, float_array, short
from .engine import Value, no_grad
from .formatting import count, format_number
from .nn import batch_outputs

__all__ = ["plot_batch_paths", "plot_decision_boundary", "plot_descent", "plot_fit_1d", "plot_history",
           "plot_layer_features", "plot_replay"]

# Units' colours: no red (the model's curve) and no grey (the data).
_UNIT_COLORS = ["#2563eb", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777", "#4f46e5",
                "#65a30d", "#0d9488"]
_CLASS_COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"]


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - matplotlib is installed in the test environment
        raise ImportError("plotting needs matplotlib: pip install matplotlib") from e
    return plt


def _axes(ax: Any, figsize: tuple[float, float]) -> Any:
    if ax is not None:
        return ax
    _, ax = _pyplot().subplots(figsize=figsize)
    return ax


def _scalar(out: object) -> float:
    """A model's or function's output as a float."""
    if isinstance(out, Value):
        return out.data
    if isinstance(out, Sequence) and len(out) == 1:
        return _scalar(out[0])
    return float(out)  # type: ignore[arg-type]


# ---- loss curves ------------------------------------------------------------------------------
def plot_history(history: Any, ax: Any = None, logy: bool | None = None, *,
                 held_out: str | None = None, updates: bool = True) -> Any:
    """Loss per epoch, training vs validation, with each update's batch loss faint behind.

    The training loss keeps falling while the validation loss turns up: that gap is
    overfitting (过拟合); the epoch with the lowest validation loss is marked with a star. A dotted
    line marks the epoch whose parameters the model ends with only where that is not the last one
    (``history.kept_epoch``: early stopping or ``keep_best`` put them back).

    The two training curves measure different things at different moments: an update's batch
    loss is taken *before* that update, on its mini-batch only; an epoch's training loss *after*
    the epoch, on the whole training set. So update k (0-based, u updates per epoch) is drawn at
    x = k / u, where its parameters were: with full batches (u = 1) it lands on the previous
    epoch's training loss, and with mini-batches it scatters around the curve.

    Args:
        history: a `microgradlike.train.History` (``train_loss``, ``val_loss``, ``update_loss``).
        logy: log-scale loss axis; by default when the losses span more than two decades.
        held_out: what the points of ``val_loss`` are, in the legend: ``"validation"`` (fit's
            ``validation=``), or ``"test"`` where they only measure (the command line's test split);
            by default the name fit was given (``history.held_out``).
        updates: draw each update's batch loss (False: only the epochs' curves, where a full-batch
            run's updates lie anyway).
    """
    held_out = held_out or getattr(history, "held_out", None) or "validation"
    train = [float(v) for v in getattr(history, "train_loss", [])]
    val = [float(v) for v in getattr(history, "val_loss", [])]
    update_loss = [float(v) for v in getattr(history, "update_loss", [])] if updates else []
    if not (train or val or update_loss):
        raise ValueError("history holds no losses to plot (train_loss, val_loss and update_loss are empty)")
    ax = _axes(ax, (6.4, 4.0))
    if update_loss:
        # updates per epoch; a run stopped inside an epoch (diverged, Ctrl-C) has a few more updates
        per_epoch = max(1, len(update_loss) // len(train)) if train else 1
        xs = np.arange(len(update_loss)) / per_epoch
        batch = "the whole training set" if per_epoch == 1 else "its mini-batch"
        ax.plot(xs, update_loss, color="#93c5fd", lw=0.8, alpha=0.8, zorder=1,
                label=f"loss before each update ({batch})")
    epochs = np.arange(1, max(len(train), len(val)) + 1)
    marker = "o" if len(epochs) <= 40 else None
    if train:
        ax.plot(epochs[: len(train)], train, color="#1d4ed8", lw=2, marker=marker, ms=3, zorder=3,
                label="training loss after each epoch (whole training set)")
    if val:
        ax.plot(epochs[: len(val)], val, color="#dc2626", lw=2, marker=marker, ms=3, zorder=3,
                label=f"{held_out} loss after each epoch")
        finite = [(v, k) for k, v in enumerate(val) if math.isfinite(v)]
        if finite:
            best_val, best = min(finite)
            ax.plot([best + 1], [best_val], marker="*", ms=13, color="#dc2626", mec="k", zorder=4,
                    label=f"lowest {held_out} loss (epoch {best + 1})", ls="none")
    kept = getattr(history, "kept_epoch", None)
    if kept is not None:
        how = ("early stopping put them back" if getattr(history, "stopped_because", None) == "early_stopping"
               else "the best, kept by keep_best")
        ax.axvline(kept, color="#4b5563", ls=":", lw=1.3,
                   label=f"epoch {kept}: the model ends with its parameters ({how})")
    values = [v for v in train + val + update_loss if math.isfinite(v)]
    if logy is None:
        positive = [v for v in values if v > 0]
        logy = len(positive) == len(values) and bool(positive) and max(positive) / min(positive) > 100
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("epoch (one pass over the training set)")
    ax.set_ylabel("loss")
    n_updates = getattr(history, "n_updates", len(update_loss))
    n_epochs = getattr(history, "n_epochs", len(train))
    title = f"loss: {count(n_epochs, 'epoch')}, {count(n_updates, 'update')}"
    reason = getattr(history, "stopped_because", None)
    if reason:
        title += f" (stopped: {reason})"
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, framealpha=0.9)
    return ax


# ---- classification ----------------------------------------------------------------------------
def _as_rows(X: Any, width: int | None = None) -> np.ndarray:
    rows = float_array(X, "X", "a table of numbers")
    if rows.ndim == 1 and width == 1:
        rows = rows[:, None]
    if rows.ndim != 2 or (width is not None and rows.shape[1] != width):
        want = f"(n, {width})" if width is not None else "(n, d)"
        raise ValueError(f"X must have shape {want}, got shape {rows.shape}")
    return rows


def plot_decision_boundary(model: Callable[[list[float]], Any], X: Any, y: Any, ax: Any = None,
                           resolution: int = 60, threshold: float = 0.0, padding: float = 0.5, *,
                           X_test: Any = None, y_test: Any = None, held_out: str = "test",
                           class_names: Sequence[object] | None = None) -> Any:
    """Colour the plane by the class the model predicts, and draw the data on top.

    A model with one output is a binary classifier: class 1 where output > ``threshold``
    (0 for logits and hinge scores; pass 0.5 for a model trained with MSE on 0/1 targets), and
    the boundary output = threshold is drawn as a black line. A model with k outputs predicts
    the argmax. The library's own models (`microgradlike.batch`) are evaluated on the
    ``resolution`` × ``resolution`` grid with numpy, all points at once; any other callable runs
    under `no_grad` one point at a time, so keep the resolution modest for big models of your own.

    ``X, y`` are drawn as filled dots. Given ``X_test, y_test`` too, those are drawn hollow, the
    first set is called the training set, and the title gives both accuracies (the fraction of
    points on their own class's side); ``held_out`` is what the second set is called ("test").
    The legend calls a class by its label in ``y``, or by ``class_names[i]`` for the i-th smallest
    label (the labels a loss trains on, such as ids 0 … k−1 or −1/+1, named as your data has them).
    """
    rows, labels = _points(X, y, "X", "y")
    sets = [("train" if X_test is not None else "", rows, labels)]
    if X_test is not None or y_test is not None:
        if X_test is None or y_test is None:
            raise ValueError("give both X_test and y_test, or neither")
        sets.append((held_out, *_points(X_test, y_test, "X_test", "y_test")))
    _check_resolution(resolution)
    every = np.concatenate([r for _, r, _ in sets])
    classes = np.unique(np.concatenate([lab for _, _, lab in sets]))
    gx, gy = _plane(every, resolution, padding)

    def scores(points: np.ndarray) -> np.ndarray:
        fast = batch_outputs(model, points)  # the library's models: numpy, all points at once
        if fast is not None:
            return fast
        with no_grad():
            outs = [model([float(a), float(b)]) for a, b in points]
        return np.array([[o.data] if isinstance(o, Value) else [v.data for v in o] for o in outs])

    grid = scores(np.column_stack([gx.ravel(), gy.ravel()]))
    binary = grid.shape[1] == 1
    if binary:
        # Negative side -> the smaller label (0, or −1 for hinge targets); positive -> the larger.
        neg, pos = (classes[0], classes[-1]) if len(classes) >= 2 else (0, 1)
        region_classes = [neg, pos]
    else:
        region_classes = list(range(grid.shape[1]))

    def predict(points: np.ndarray) -> np.ndarray:
        s = scores(points)
        return np.where(s[:, 0] > threshold, pos, neg) if binary else s.argmax(axis=1)

    drawn_classes = sorted(set(region_classes) | set(classes.tolist()))
    color_of = {c: _CLASS_COLORS[i % len(_CLASS_COLORS)] for i, c in enumerate(drawn_classes)}
    if class_names is not None and len(class_names) != len(drawn_classes):
        raise ValueError(f"class_names names {len(class_names)} classes, but the model and labels make "
                         f"{len(drawn_classes)}: {first_few([str(c) for c in drawn_classes])}")
    name_of = dict(zip(drawn_classes, class_names if class_names is not None else drawn_classes))
    ax = _axes(ax, (5.2, 4.6))
    # Each class's region is where its margin is > 0, drawn from the margin itself: the borders
    # follow the scores between grid points, and two classes that meet show no third between
    # them (contours of the class ids would pass through every id in between: a sliver of it).
    for c, margin in zip(region_classes, _margins(grid, threshold)):
        ax.contourf(gx, gy, margin.reshape(gx.shape), levels=[0, np.inf], colors=[color_of[c]], alpha=0.22)
    # Legend columns (matplotlib fills columns first): the points of the first set with the
    # boundary under them, then the test points.
    columns: list[list[Any]] = [[] for _ in sets]
    accuracies = []
    for i, (column, (name, points, truth)) in enumerate(zip(columns, sets)):
        hollow = i > 0  # the second set, the held-out points
        for c in classes:
            mask = truth == c
            if not mask.any():
                continue
            column.append(ax.scatter(points[mask, 0], points[mask, 1], s=26 if hollow else 22,
                                     color="none" if hollow else color_of[c],
                                     edgecolors=color_of[c] if hollow else "k",
                                     linewidths=1.3 if hollow else 0.5, zorder=3,
                                     label=f"class {name_of[c]}, {name}" if name else f"class {name_of[c]}"))
        accuracy = float(np.mean(predict(points) == truth))
        accuracies.append(f"{name} accuracy {accuracy:.0%}" if name else f"accuracy {accuracy:.0%}")
    if binary:
        ax.contour(gx, gy, grid[:, 0].reshape(gx.shape), levels=[threshold], colors="k", linewidths=1.5)
        # contour lines have no legend entry of their own: a stand-in line gives one
        columns[0] += ax.plot([], [], color="k", lw=1.5,
                              label=f"decision boundary (output = {format_number(threshold)})")
    ax.set_title("decision boundary\n" + ", ".join(accuracies))
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    handles = [h for column in columns for h in column]
    # below the plane, so it never hides points or regions
    ax.legend(handles=handles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14),
              ncol=len(sets) if len(sets) > 1 else len(handles), frameon=False)
    ax.set_aspect("equal", adjustable="box")
    return ax


def _margins(scores: np.ndarray, threshold: float) -> np.ndarray:
    """How far each class wins at each point, one row per class (> 0: it is predicted there).

    One output s: the second class wins by s − threshold, the first by threshold − s. k outputs:
    class c wins by s_c − max_{j≠c} s_j (the argmax is the one class with a positive margin)."""
    if scores.shape[1] == 1:
        return np.stack([threshold - scores[:, 0], scores[:, 0] - threshold])
    top2 = np.sort(scores, axis=1)[:, -2:]  # the two largest scores of each point
    best_other = np.where(scores == top2[:, 1:], top2[:, :1], top2[:, 1:])
    return (scores - best_other).T


def _points(X: Any, y: Any, x_name: str, y_name: str) -> tuple[np.ndarray, np.ndarray]:
    """2-D points and their labels, checked to match."""
    rows = _as_rows(X, 2)
    labels = np.asarray(y).ravel()
    if len(labels) != len(rows):
        raise ValueError(f"{x_name} has {len(rows)} rows but {y_name} has {len(labels)} labels")
    return rows, labels


def _check_resolution(resolution: object) -> None:
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"resolution must be an int >= 2, got {resolution!r}")


def _plane(rows: np.ndarray, resolution: int, padding: float) -> tuple[np.ndarray, np.ndarray]:
    """A ``resolution`` × ``resolution`` grid over the points' box, ``padding`` wider each side."""
    lo, hi = rows.min(axis=0) - padding, rows.max(axis=0) + padding
    return np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))


# ---- 1-D regression ------------------------------------------------------------------------------
class _Units(NamedTuple):
    """A 1-D model written as ŷ = bias + Σᵢ unitᵢ(x)."""

    rows: np.ndarray  # unit i's share of the output at each x, one row per unit
    formulas: list[str]  # unit i's formula, with its index: "c₁·σ(b₁ + w₁·x)"
    centres: list[float]  # where unit i's input is 0: x = −bᵢ/wᵢ (nan when wᵢ = 0)
    bias: float  # the output's own bias parameter


def _subscript(i: int) -> str:
    return str(i).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def _centre(w: float, b: float) -> float:
    return -b / w if w != 0 else math.nan


def _hidden_units(model: Any, xs: np.ndarray) -> _Units | None:
    """Each hidden unit's share of the output, for the two kinds of 1-D model whose output is a
    bias plus a sum of units: `SigmoidSum` and a one-hidden-layer MLP. The bias is read from the
    model's parameter (not worked out from the curve, which would leave rounding noise)."""
    if hasattr(model, "contributions") and hasattr(model, "units"):
        units = model.units
        formulas = [f"c{k}·σ(b{k} + w{k}·x)" for k in map(_subscript, range(1, len(units) + 1))]
        return _Units(np.asarray(model.contributions(xs)), formulas,
                      [_centre(u.w.data, u.b.data) for u in units], float(model.b.data))
    layers = getattr(model, "layers", None)
    if layers is not None and len(layers) == 2 and layers[0].nin == 1 and layers[1].nout == 1:
        hidden, out = layers[0].neurons, layers[1].neurons[0]
        with no_grad():
            acts = np.array([[n([float(x)]).data for x in xs] for n in hidden])
        weights = np.array([w.data for w in out.w])[:, None]
        formulas = [f"v{k}·{hidden[0].activation}(w{k}·x + b{k})"
                    for k in map(_subscript, range(1, len(hidden) + 1))]
        return _Units(weights * acts, formulas, [_centre(n.w[0].data, n.b.data) for n in hidden],
                      float(out.b.data))
    return None


def plot_fit_1d(model: Callable[[Any], Any], X: Any, y: Any, ax: Any = None, show_units: bool = True,
                n_points: int = 300) -> Any:
    """The data, the model's curve ŷ(x) and, one by one, the units it is the sum of.

    For `SigmoidSum`, ŷ = b + Σᵢ cᵢ·σ(bᵢ + wᵢ·x): each thin line is one cᵢ·σ(bᵢ + wᵢ·x), a
    smoothed step whose centre is −bᵢ/wᵢ, slope set by wᵢ and height by cᵢ. For an
    ``MLP(1, [n, 1])`` the units are vᵢ·aᵢ(x), output weight times hidden activation. Each unit
    has its own legend entry (its colour, formula and centre); the dotted line is the bias b.
    """
    xs_data = _as_rows(X, 1)[:, 0]
    ys_data = np.asarray(y, dtype=float).ravel()
    if len(ys_data) != len(xs_data):
        raise ValueError(f"X has {len(xs_data)} rows but y has {len(ys_data)} targets")
    span = float(xs_data.max() - xs_data.min()) or 1.0
    xs = np.linspace(xs_data.min() - 0.05 * span, xs_data.max() + 0.05 * span, n_points)
    with no_grad():
        ys = np.array([_scalar(model([float(x)])) for x in xs])
    ax = _axes(ax, (6.4, 4.0))
    units = _hidden_units(model, xs) if show_units else None
    if units is not None:
        for i, (row, formula, centre) in enumerate(zip(units.rows, units.formulas, units.centres)):
            where = f"centre x = {format_number(centre)}" if math.isfinite(centre) else "flat (w = 0)"
            ax.plot(xs, row, lw=1.1, ls="--", color=_UNIT_COLORS[i % len(_UNIT_COLORS)], alpha=0.85,
                    label=f"unit {i + 1}: {formula}, {where}")
        ax.axhline(units.bias, color="#6b7280", ls=":", lw=1.2, label=f"bias b = {format_number(units.bias)}")
    ax.scatter(xs_data, ys_data, s=14, color="#374151", alpha=0.7, label="data", zorder=3)
    ax.plot(xs, ys, color="#dc2626", lw=2.5, label="model ŷ(x) = b + sum of the units", zorder=4)
    ax.axhline(0, color="#9ca3af", lw=0.8, zorder=0)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(f"1-D fit: {model!r}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, framealpha=0.9)
    return ax


# ---- gradient descent ---------------------------------------------------------------------------
def _evaluate(f: Callable[..., Any], point: Iterable[float]) -> float:
    with no_grad():
        try:
            return _scalar(f(*(Value(float(t)) for t in point)))
        except (ValueError, ZeroDivisionError, OverflowError):
            return math.nan  # outside f's domain: leave a hole in the picture


def _loss_grid(f: Callable[..., Any], bounds: Sequence[tuple[float, float]],
               resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """f(θ₁, θ₂) on a ``resolution`` × ``resolution`` grid over ``bounds``: the grid's θ₁, θ₂ and f."""
    g1, g2 = np.meshgrid(np.linspace(*bounds[0], resolution), np.linspace(*bounds[1], resolution))
    return g1, g2, np.array([_evaluate(f, (a, b)) for a, b in zip(g1.ravel(), g2.ravel())]).reshape(g1.shape)


def plot_descent(f: Callable[..., Any], trajectory: Any, ax: Any = None,
                 bounds: Sequence[tuple[float, float]] | None = None, resolution: int = 80,
                 levels: int = 25, label: str = "f(θ₁, θ₂)") -> Any:
    """A gradient-descent path θ⁰, θ¹, … drawn over the loss it descends.

    One parameter: the curve f(θ) with each θᵏ on it. Two parameters: a contour map of
    f(θ₁, θ₂) with the path across it. The start is green, the end red; arrows follow the steps
    (each is −η·∇f: downhill, perpendicular to the contour lines).

    Args:
        f: the function given to `gradient_descent` (one Value per parameter in, a Value out).
        trajectory: the points θ⁰, θ¹, … (floats, or 2-tuples), or `gradient_descent`'s result.
        bounds: the plotted range per parameter, ``[(lo, hi)]`` or ``[(lo1, hi1), (lo2, hi2)]``;
            by default the path's range plus a margin.
        label: what f is, for the colour bar of a contour map (e.g. ``"L(w, b)"``).
    """
    trajectory = getattr(trajectory, "trajectory", trajectory)  # a Descent: use its path
    path = np.asarray(trajectory, dtype=float)
    if path.ndim == 2 and path.shape[1] == 1:
        path = path[:, 0]
    if path.ndim not in (1, 2) or (path.ndim == 2 and path.shape[1] != 2) or len(path) == 0:
        raise ValueError(f"trajectory must hold floats or pairs of floats, got shape {path.shape}")
    dims = 1 if path.ndim == 1 else 2
    points = path.reshape(len(path), dims)
    if bounds is None:
        lo, hi = points.min(axis=0), points.max(axis=0)
        # One parameter: a wide view, so the minimum the path heads for is usually in sight.
        wide = dims == 1
        margin = np.maximum((0.5 if wide else 0.25) * (hi - lo), 1.0 if wide else 0.5)
        bounds = list(zip(lo - margin, hi + margin))
    if len(bounds) != dims:
        raise ValueError(f"bounds must give {dims} (lo, hi) pair(s), got {bounds!r}")
    ax = _axes(ax, (6.0, 4.6) if dims == 2 else (6.4, 4.0))
    values = np.array([_evaluate(f, p) for p in points])
    arrows = len(points) <= 40
    if dims == 1:
        ws = np.linspace(bounds[0][0], bounds[0][1], 400)
        ax.plot(ws, [_evaluate(f, (w,)) for w in ws], color="#6b7280", lw=1.5, label="f(θ)")
        ax.plot(points[:, 0], values, color="#2563eb", marker="o", ms=4, lw=0 if arrows else 1, label="θᵏ")
        if arrows:
            for k in range(len(points) - 1):
                ax.annotate("", xy=(points[k + 1, 0], values[k + 1]), xytext=(points[k, 0], values[k]),
                            arrowprops={"arrowstyle": "->", "color": "#2563eb", "lw": 1})
        ax.set_xlabel("θ")
        ax.set_ylabel("f(θ)")
        start, end = (points[0, 0], values[0]), (points[-1, 0], values[-1])
    else:
        g1, g2, grid = _loss_grid(f, bounds, resolution)
        finite = grid[np.isfinite(grid)]
        if finite.size:
            # Levels at quantiles of f: narrow valleys get as many lines as the flat rim.
            qs = np.unique(np.quantile(finite, np.linspace(0, 1, levels)))
            if len(qs) >= 2:
                filled = ax.contourf(g1, g2, grid, levels=qs, cmap="viridis", alpha=0.55)
                ax.contour(g1, g2, grid, levels=qs, colors="k", linewidths=0.3, alpha=0.5)
                ax.figure.colorbar(filled, ax=ax, label=label, format="%.3g")
        ax.plot(points[:, 0], points[:, 1], color="#f97316", lw=1.5, marker="o", ms=3, label="θᵏ", zorder=3)
        if arrows:
            for k in range(len(points) - 1):
                ax.annotate("", xy=points[k + 1], xytext=points[k],
                            arrowprops={"arrowstyle": "->", "color": "#7c2d12", "lw": 1.2}, zorder=4)
        ax.set_xlabel("θ₁")
        ax.set_ylabel("θ₂")
        start, end = tuple(points[0]), tuple(points[-1])
    ax.plot(*start, marker="o", ms=10, color="#16a34a", mec="k", ls="none", zorder=5, label="start θ⁰")
    ax.plot(*end, marker="X", ms=11, color="#dc2626", mec="k", ls="none", zorder=5,
            label=f"end, after {len(points) - 1} steps")
    ax.set_title(f"gradient descent: {len(points) - 1} steps, "
                 f"f {format_number(values[0])} → {format_number(values[-1])}")
    ax.legend(fontsize=8, framealpha=0.9)
    ax.grid(alpha=0.3)
    return ax


# ---- inside a network --------------------------------------------------------------------------
def plot_layer_features(model: Any, X: Any, y: Any, resolution: int = 32, padding: float = 0.5) -> Any:
    """What every neuron of an MLP with two inputs computes over the input plane: one row per
    hidden layer, one small picture per neuron, its activation aᵢˡ(x₁, x₂) (组合结果就是新的特征值:
    each layer's outputs are the next layer's features), and a last row with the output.

    Each neuron's picture has its own colour scale, from 0 (dark; or its lowest a, if that is
    below 0) to its largest a (yellow), so a neuron that is 0 everywhere (a "dead" ReLU) is dark
    all over and its title says so. The output picture is the score with the boundary
    score = 0 in black (one output), or the class with the largest score (several). ``X, y``
    are drawn on every picture. The model runs under `no_grad` at every grid point
    (``forward_trace``, one point at a time): keep ``resolution`` modest.

    Returns the 2-D array of Axes (a new figure, rows × widest layer).
    """
    if getattr(model, "nin", None) != 2 or not hasattr(model, "forward_trace"):
        raise ValueError(f"plot_layer_features draws an MLP with 2 inputs, got {short(model)}")
    plt = _pyplot()
    rows, labels = _points(X, y, "X", "y")
    _check_resolution(resolution)
    g1, g2 = _plane(rows, resolution, padding)
    with no_grad():
        traces = [model.forward_trace([float(a), float(b)]) for a, b in zip(g1.ravel(), g2.ravel())]
    hidden = len(traces[0]) - 1
    width = max(2, *(len(layer.a) for layer in traces[0][:hidden]))
    fig, axes = plt.subplots(hidden + 1, width, figsize=(1.85 * width, 1.8 * (hidden + 1)), squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)

    def dots(ax: Any) -> None:
        ax.scatter(rows[:, 0], rows[:, 1], c=labels, s=3, cmap="coolwarm", alpha=0.6)

    for layer in range(hidden):
        n_neurons = len(traces[0][layer].a)
        for i in range(width):
            ax = axes[layer, i]
            if i >= n_neurons:
                ax.axis("off")
                continue
            a = np.array([t[layer].a[i].data for t in traces]).reshape(g1.shape)
            low, high = min(0.0, float(a.min())), float(a.max())
            # the scale starts at 0 (or below): a neuron that is 0 everywhere is all dark
            levels = np.linspace(low, high if high > low else low + 1.0, 13)
            ax.contourf(g1, g2, a, levels=levels, cmap="viridis")
            dots(ax)
            flat = "" if high > float(a.min()) else (
                " (off everywhere)" if high == 0 else f" (a = {format_number(high)} everywhere)")
            ax.set_title(f"a{layer + 1} neuron {i + 1}{flat}", fontsize=8)
    bottom = axes[hidden]
    for ax in bottom:
        ax.axis("off")
    ax = bottom[1]
    ax.axis("on")
    scores = np.array([[v.data for v in t[-1].a] for t in traces])
    if scores.shape[1] == 1:
        out = scores[:, 0].reshape(g1.shape)
        ax.contourf(g1, g2, out, levels=12, cmap="coolwarm")
        ax.contour(g1, g2, out, levels=[0], colors="k")
        title = "output ŷ (a score)\nblack: ŷ = 0, the boundary"
    else:
        ax.contourf(g1, g2, scores.argmax(axis=1).reshape(g1.shape),
                    levels=np.arange(scores.shape[1] + 1) - 0.5, cmap="coolwarm")
        title = "output: the class\nwith the largest score"
    dots(ax)
    ax.set_title(title, fontsize=8)
    rows_text = "\n\n".join(f"row {k + 1}: layer {k + 1}'s features a{k + 1}\n"
                            f"(functions of {'x' if k == 0 else f'a{k}'})" for k in range(hidden))
    bottom[0].text(0, 0.5, f"{rows_text}\n\nbottom: the output layer\nadds a{hidden} up", fontsize=9,
                   va="center")
    fig.suptitle("what each neuron computes over the input plane (each picture its own scale: "
                 "dark = 0, or its lowest a if below 0; yellow = its largest a)", fontsize=10)
    return axes


# ---- mini-batches ------------------------------------------------------------------------------
_RUN_COLORS = ["#2563eb", "#f97316", "#16a34a", "#9333ea", "#0891b2"]
_SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹"


def plot_batch_paths(f: Callable[..., Any], runs: Any, bounds: Sequence[tuple[float, float]],
                     optimum: Sequence[float] | None = None, resolution: int = 60, axes: Any = None) -> Any:
    """Training runs of a model with two parameters θ = (θ₁, θ₂), drawn two ways: their paths
    θ⁰, θ¹, … over the contour map of the loss f(θ₁, θ₂) on all the data (left), and their losses
    over time (right): each update's batch loss, taken before it, as dots at epoch k / u (u
    updates per epoch), and the loss on all the data after each epoch as a line.

    A mini-batch step goes downhill on its batch's loss, not on f: its path zig-zags where the
    batches disagree. For the first run with several updates per epoch, θ at the end of each epoch
    is ringed, its first three steps are labelled θ¹ θ² θ³ and their batch losses L¹ L² L³. A
    full-batch run (one update per epoch) is drawn thicker, on top, and without batch-loss dots:
    its loss before update k is its loss after epoch k, already on its line.

    Args:
        f: the loss on all the data, as a function of the two parameters (Values in, a Value out).
        runs: a mapping label -> `History` of ``fit(..., keep_params=True)``, all from one start.
        bounds: the plotted range of each parameter, ``[(lo1, hi1), (lo2, hi2)]``.
        optimum: the lowest point θ*, drawn as a star, when known.
        axes: two Axes to draw on (a new figure when None).

    Returns the two Axes.
    """
    runs = dict(runs)
    if not runs:
        raise ValueError("runs is empty: give at least one label -> History")
    for label, history in runs.items():
        path = np.asarray(getattr(history, "params", []), dtype=float)
        if path.ndim != 2 or path.shape[1] != 2 or len(path) < 2:
            raise ValueError(f"run {label!r} must hold the two parameters after each update "
                             f"(fit(..., keep_params=True)), got shape {path.shape}")
    if len(bounds) != 2:
        raise ValueError(f"bounds must give 2 (lo, hi) pairs, got {bounds!r}")
    if axes is None:
        _, axes = _pyplot().subplots(1, 2, figsize=(11, 4.3), gridspec_kw={"width_ratios": [1.1, 1]})
    left, right = axes
    g1, g2, grid = _loss_grid(f, bounds, resolution)
    levels = np.unique(np.quantile(grid[np.isfinite(grid)], np.linspace(0, 1, 16)))  # lines in the valley too
    filled = left.contourf(g1, g2, grid, levels=levels, cmap="Greys_r", alpha=0.4)
    left.contour(g1, g2, grid, levels=levels, colors="k", linewidths=0.3)
    left.figure.colorbar(filled, ax=left, label="the loss on all the data", format="%.2g")
    marked = None
    for k, (label, history) in enumerate(runs.items()):
        colour = _RUN_COLORS[k % len(_RUN_COLORS)]
        path = np.asarray(history.params, dtype=float)
        per_epoch = max(1, round(history.n_updates / max(history.n_epochs, 1)))
        full = per_epoch == 1
        left.plot(path[:, 0], path[:, 1], color=colour, lw=2 if full else 1.3, marker="s" if full else "o",
                  ms=5 if full else 3, zorder=4 if full else 3, label=f"{label}: {len(path) - 1} updates")
        steps = np.arange(len(history.update_loss)) / per_epoch
        if not full:
            right.plot(steps, history.update_loss, ls="none", marker="o", ms=4, color=colour,
                       label=f"{label}: the batch's loss, before each update")
        right.plot(np.arange(1, history.n_epochs + 1), history.train_loss, color=colour, lw=2,
                   marker="s" if full else None, ms=5,
                   label=f"{label}: the loss on all the data, after each epoch")
        if not full and marked is None:
            marked = label
            ends = path[per_epoch::per_epoch]
            left.plot(ends[:, 0], ends[:, 1], ls="none", marker="D", ms=7, mfc="none", mec="k", mew=1.3,
                      zorder=5, label=f"{label}: θ at the end of each epoch")
            for j, offset in zip(range(1, min(4, len(path))), ((-6, 9), (2, 9), (-22, -4))):
                left.annotate(f"θ{_SUPERSCRIPTS[j]}", path[j], textcoords="offset points", xytext=offset,
                              fontsize=10, color="#9a3412", weight="bold")
                right.annotate(f"L{_SUPERSCRIPTS[j]}", (steps[j - 1], history.update_loss[j - 1]),
                               textcoords="offset points", xytext=(5, 3), fontsize=10, color="#9a3412",
                               weight="bold")
    start = np.asarray(next(iter(runs.values())).params[0], dtype=float)
    left.plot(*start, marker="o", ms=10, color="#16a34a", mec="k", ls="none", zorder=6, label="start θ⁰")
    if optimum is not None:
        left.plot(*optimum, marker="*", ms=15, color="#facc15", mec="k", ls="none", zorder=6,
                  label="θ*: the lowest loss")
    left.set(xlabel="θ₁", ylabel="θ₂", title="the paths over the loss on all the data")
    left.legend(fontsize=7.5, loc="lower left")
    for epoch in range(1, max(h.n_epochs for h in runs.values()) + 1):
        right.axvline(epoch, color="#6b7280", ls=":", lw=1)
    right.set(xlabel="epoch (dotted lines: epoch boundaries)", ylabel="loss", title="the same runs over time")
    right.legend(fontsize=7.5)
    return left, right


# ---- a recorded run ----------------------------------------------------------------------------
def plot_replay(replay: Any, parameter: int | str = 0) -> Any:
    """A still of a `microgradlike.replay.Replay` page at the run's end, for where the page
    cannot run (a notebook read on a code-hosting site): the decision boundary with the training
    (filled) and test (hollow) points, the loss curves, and one parameter's gradient with the
    optimiser's state at each recorded epoch (Adam's m and √v — v is a running mean of g², so √v
    is on the gradient's scale; SGD's velocity).

    ``parameter``: its index in ``model.parameters()`` or its name ("layers.0.neurons.0.w.0").
    Returns the three Axes (a new figure).
    """
    model, history = replay.model, replay.history
    if history is None:
        raise ValueError("the replay has recorded no epoch yet: pass it to fit(..., callback=replay) first")
    if model.nin != 2:
        raise ValueError(f"plot_replay draws a classifier with 2 inputs, got {short(model)}")
    names = list(replay.names)
    if isinstance(parameter, str):
        if parameter not in names:
            raise ValueError(f"no parameter named {short(parameter)}; the first ones are {short(names[:4])}")
        index = names.index(parameter)
    elif isinstance(parameter, int) and not isinstance(parameter, bool) and 0 <= parameter < len(names):
        index = parameter
    else:
        raise ValueError(f"parameter must be a name or an index 0 … {len(names) - 1}, got {short(parameter)}")
    _, (boundary, losses, state) = _pyplot().subplots(1, 3, figsize=(14, 4.4),
                                                      gridspec_kw={"width_ratios": [1, 1.15, 1.15]})
    (rows, labels), (test_rows, test_labels) = replay.train, replay.test or (None, None)
    plot_decision_boundary(model, rows, labels, ax=boundary, resolution=40, threshold=replay.threshold,
                           X_test=test_rows, y_test=test_labels, held_out=replay.held_out)
    accuracies = boundary.get_title().split("\n")[-1]
    boundary.set_title(f"after epoch {history.n_epochs}: {accuracies}", fontsize=10)
    # full batch: each update's loss is on the epochs' curve
    plot_history(history, ax=losses, held_out=replay.held_out, updates=history.n_updates != history.n_epochs)
    epochs = [s.epoch for s in replay.snapshots]
    state.plot(epochs, [s.grads[index] for s in replay.snapshots], color="#6b7280", lw=1, marker=".",
               label="∂L/∂θ: its gradient (the epoch's last update)")
    shown = {"m": ("m: running mean of the gradient", "#dc2626", lambda v: v),
             "v": ("√v: v is the running mean of its square", "#2563eb", np.sqrt),
             "velocity": ("velocity: the running sum μ·v + g", "#16a34a", lambda v: v)}
    for slot in replay.snapshots[-1].state:
        label, colour, how = shown.get(slot, (slot, "#9333ea", lambda v: v))
        state.plot(epochs, [float(how(s.state[slot][index])) for s in replay.snapshots], color=colour,
                   lw=2, label=label)
    state.axhline(0, color="k", lw=0.8)
    final = format_number(replay.snapshots[-1].values[index])
    state.set(xlabel="epoch", title=f"{names[index]}: θ = {final} at the end", ylabel="per parameter")
    state.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)
    return boundary, losses, state
