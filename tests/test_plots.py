"""Tests for `microgradlike.plots`: each plot draws the numbers it is given. These tests need
matplotlib but not graphviz (the plots module never imports it)."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np
import pytest

from microgradlike import Value
from microgradlike.nn import MLP, SigmoidSum
from microgradlike.plots import plot_decision_boundary, plot_descent, plot_fit_1d, plot_history


@pytest.fixture
def pyplot():  # type: ignore[no-untyped-def]
    """matplotlib drawing off-screen (Agg), figures closed afterwards; skips without matplotlib."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def line_labelled(ax, text: str):  # type: ignore[no-untyped-def]
    return next(line for line in ax.get_lines() if text in (line.get_label() or ""))


def test_plot_history_draws_the_losses(pyplot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    history = SimpleNamespace(train_loss=[1.0, 0.5, 0.3, 0.2], val_loss=[1.1, 0.6, 0.5, 0.7],
                              update_loss=[1.2, 0.9, 0.6, 0.55, 0.4, 0.35, 0.25, 0.22],
                              n_updates=8, n_epochs=4, stopped_because="max_epochs")
    ax = plot_history(history)
    train = line_labelled(ax, "training loss")
    assert list(train.get_ydata()) == history.train_loss and list(train.get_xdata()) == [1, 2, 3, 4]
    assert list(line_labelled(ax, "validation loss").get_ydata()) == history.val_loss
    updates = line_labelled(ax, "each update")
    assert list(updates.get_xdata()) == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]  # two updates per epoch
    best = line_labelled(ax, "lowest validation loss")
    assert list(best.get_xdata()) == [3] and "epoch 3" in best.get_label()
    ax.figure.savefig(tmp_path / "history.png")
    assert (tmp_path / "history.png").stat().st_size > 0


def test_plot_history_refuses_an_empty_history(pyplot) -> None:
    with pytest.raises(ValueError, match="no losses"):
        plot_history(SimpleNamespace(train_loss=[], val_loss=[], update_loss=[]))


def test_decision_boundary_binary_and_multiclass(pyplot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(40, 2))
    y = (X[:, 0] - X[:, 1] > 0).astype(int)
    y[0] = 1 - y[0]  # one point on the wrong side: accuracy 39/40 = 98%

    def linear(row):  # type: ignore[no-untyped-def]
        return Value(row[0]) - row[1]

    ax = plot_decision_boundary(linear, X, y, resolution=20)
    assert "98%" in ax.get_title()
    ax.figure.savefig(tmp_path / "binary.png")

    labels = np.argmax(X @ np.array([[1.0, 0.0, -1.0], [0.0, 1.0, -1.0]]), axis=1)

    def three_scores(row):  # type: ignore[no-untyped-def]
        return [Value(row[0]), Value(row[1]), Value(-row[0] - row[1])]

    ax = plot_decision_boundary(three_scores, X, labels, resolution=20)
    assert "100%" in ax.get_title()
    with pytest.raises(ValueError, match=r"shape \(40, 3\)"):
        plot_decision_boundary(linear, np.zeros((40, 3)), y)


def test_fit_1d_units_add_up_to_the_model(pyplot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = SigmoidSum(4, seed=0)
    X = np.linspace(-3, 3, 25)
    y = np.abs(X)
    ax = plot_fit_1d(model, X, y)
    lines = ax.get_lines()
    units = [ln for ln in lines if ln.get_linestyle() == "--"]
    assert len(units) == 4
    curve = line_labelled(ax, "model")
    total = sum(np.asarray(u.get_ydata()) for u in units) + model.b.data
    np.testing.assert_allclose(total, curve.get_ydata(), rtol=1e-9, atol=1e-12)
    xs = curve.get_xdata()
    expected = [model(float(x)).data for x in xs[:5]]
    np.testing.assert_allclose(curve.get_ydata()[:5], expected, rtol=1e-12)
    ax.figure.savefig(tmp_path / "fit.png")


def test_fit_1d_with_a_one_hidden_layer_mlp(pyplot) -> None:
    model = MLP(1, [5, 1], activation="relu", seed=0)
    X = np.linspace(-2, 2, 10)
    ax = plot_fit_1d(model, X, X**2)
    units = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert len(units) == 5
    total = sum(np.asarray(u.get_ydata()) for u in units) + model.layers[1].neurons[0].b.data
    np.testing.assert_allclose(total, line_labelled(ax, "model").get_ydata(), rtol=1e-9, atol=1e-12)


def test_descent_1d_and_2d(pyplot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from microgradlike.train import gradient_descent

    def bowl(w):  # type: ignore[no-untyped-def]
        return (w - 3) ** 2

    _, path = gradient_descent(bowl, 0.0, lr=0.2, max_steps=15)
    ax = plot_descent(bowl, path)
    points = line_labelled(ax, "θᵏ")
    np.testing.assert_allclose(points.get_xdata(), path)
    np.testing.assert_allclose(points.get_ydata(), [(w - 3) ** 2 for w in path])
    ax.figure.savefig(tmp_path / "descent1.png")

    def valley(a, b):  # type: ignore[no-untyped-def]
        return a**2 + 10 * b**2

    _, path2 = gradient_descent(valley, (2.0, 1.0), lr=0.04, max_steps=30)
    ax = plot_descent(valley, path2)
    points = line_labelled(ax, "θᵏ")
    np.testing.assert_allclose(np.column_stack([points.get_xdata(), points.get_ydata()]), path2)
    ax.figure.savefig(tmp_path / "descent2.png")
    with pytest.raises(ValueError, match="trajectory"):
        plot_descent(valley, [(1.0, 2.0, 3.0)])


def test_plots_say_how_to_install_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    history = SimpleNamespace(train_loss=[1.0], val_loss=[], update_loss=[1.0])
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_history(history)


def test_plots_work_without_graphviz(pyplot, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plots module imports neither graphviz nor viz: a machine without them can still plot."""
    for name in [m for m in sys.modules if m == "graphviz" or m.startswith(("graphviz.", "microgradlike"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "graphviz", None)  # `import graphviz` now raises ImportError
    from microgradlike.plots import plot_history as fresh_plot_history

    history = SimpleNamespace(train_loss=[1.0, 0.5], val_loss=[], update_loss=[1.0, 0.5])
    assert fresh_plot_history(history).get_lines()
    assert "microgradlike.viz" not in sys.modules


def test_viz_does_not_re_export_the_plots() -> None:
    viz = pytest.importorskip("microgradlike.viz")
    for name in ("plot_history", "plot_decision_boundary", "plot_fit_1d", "plot_descent"):
        assert not hasattr(viz, name), name
        assert name not in viz.__all__
