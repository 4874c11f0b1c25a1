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
    assert "after each epoch" in train.get_label() and "whole training set" in train.get_label()
    assert list(line_labelled(ax, "validation loss").get_ydata()) == history.val_loss
    updates = line_labelled(ax, "each update")
    assert updates.get_label() == "loss before each update (its mini-batch)"
    # two updates per epoch, each drawn where its parameters were: before it, at k / 2
    assert list(updates.get_xdata()) == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    best = line_labelled(ax, "lowest validation loss")
    assert list(best.get_xdata()) == [3] and "epoch 3" in best.get_label()
    ax.figure.savefig(tmp_path / "history.png")
    assert (tmp_path / "history.png").stat().st_size > 0


def test_full_batch_update_losses_are_said_to_be_on_the_whole_set(pyplot) -> None:  # type: ignore[no-untyped-def]
    history = SimpleNamespace(train_loss=[1.0, 0.5, 0.3], val_loss=[], update_loss=[1.2, 1.0, 0.5])
    updates = line_labelled(plot_history(history), "each update")
    assert updates.get_label() == "loss before each update (the whole training set)"


def test_updates_of_an_epoch_cut_short_are_drawn_where_they_were(pyplot) -> None:  # type: ignore[no-untyped-def]
    """A run stopped inside its fourth epoch (Ctrl-C, or diverging) after 2 of its 4 updates: the
    updates are still drawn at k / 4, not spread over the 3 epochs that ended (k / 4.67)."""
    history = SimpleNamespace(train_loss=[1.0, 0.5, 0.3], val_loss=[],
                              update_loss=[1.0 - k / 20 for k in range(14)])
    xs = list(line_labelled(plot_history(history), "each update").get_xdata())
    assert xs == [k / 4 for k in range(14)]


def a_run(**settings):  # type: ignore[no-untyped-def]
    """A run whose last epoch is far from its best (epoch 14 of 30): lr 1 in batches of 4."""
    import warnings

    from microgradlike.data import make_moons, train_test_split
    from microgradlike.train import fit

    X, y = make_moons(n=60, seed=1)
    X_train, X_val, y_train, y_val = train_test_split(X, 2 * y - 1, test_fraction=0.25, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "much worse than the best": the point of this run
        return fit(MLP(2, [8, 1], seed=1), X_train, y_train, loss="hinge", optimizer="sgd", lr=1.0,
                   batch_size=4, max_epochs=30, seed=1, validation=(X_val, y_val), **settings)


def legend_of(ax):  # type: ignore[no-untyped-def]
    legend = ax.get_legend()
    return dict(zip((t.get_text() for t in legend.get_texts()), legend.legend_handles))


def test_without_early_stopping_no_line_says_the_best_epoch_was_kept(pyplot) -> None:  # type: ignore[no-untyped-def]
    history = a_run()
    assert history.best_epoch < history.n_epochs and history.kept_epoch is None
    ax = plot_history(history)
    entries = legend_of(ax)
    assert f"lowest validation loss (epoch {history.best_epoch})" in entries  # the star
    assert not [text for text in entries if "early stopping" in text or "kept" in text or "ends with" in text]
    assert not [line for line in ax.get_lines() if line.get_linestyle() == ":"]


@pytest.mark.parametrize(("settings", "how"), [({"patience": 5}, "early stopping put them back"),
                                                ({"keep_best": True}, "the best, kept by keep_best")])
def test_the_dotted_line_marks_the_epoch_the_model_ends_with(pyplot, settings, how) -> None:  # type: ignore[no-untyped-def]
    history = a_run(**settings)
    assert history.kept_epoch == history.best_epoch < history.n_epochs
    ax = plot_history(history)
    line = line_labelled(ax, f"epoch {history.best_epoch}: the model ends with its parameters ({how})")
    assert line.get_linestyle() == ":" and list(line.get_xdata()) == [history.best_epoch] * 2
    assert line.get_label() in legend_of(ax)


def test_held_out_points_are_named_as_the_caller_says(pyplot) -> None:  # type: ignore[no-untyped-def]
    history = SimpleNamespace(train_loss=[1.0, 0.5, 0.3], val_loss=[1.1, 0.6, 0.7],
                              update_loss=[1.2, 1.0, 0.5])
    entries = legend_of(plot_history(history, held_out="test"))
    assert {"test loss after each epoch", "lowest test loss (epoch 2)"} <= set(entries)
    assert not [text for text in entries if "validation" in text]


def test_held_out_points_are_named_as_fit_was_told_by_default(pyplot) -> None:  # type: ignore[no-untyped-def]
    from microgradlike.data import make_moons
    from microgradlike.nn import MLP
    from microgradlike.train import fit

    X, y = make_moons(n=30, seed=0)
    history = fit(MLP(2, [3, 1], seed=0), X[:20], y[:20], max_epochs=3, validation=(X[20:], y[20:]),
                  held_out="test")
    entries = legend_of(plot_history(history))
    assert "test loss after each epoch" in entries and not [e for e in entries if "validation" in e]


def test_full_batch_update_losses_land_on_the_training_curve(pyplot) -> None:  # type: ignore[no-untyped-def]
    """With full batches, the loss before update k is the loss after epoch k: same parameters,
    same (whole) set. The two curves must meet there, not look shifted by an epoch."""
    from microgradlike.data import make_moons
    from microgradlike.train import fit

    X, y = make_moons(n=40, seed=0)
    history = fit(MLP(2, [4, 1], seed=0), X, 2 * y - 1, loss="hinge", optimizer="sgd", lr=0.1, max_epochs=6)
    ax = plot_history(history)
    updates, train = line_labelled(ax, "each update"), line_labelled(ax, "training loss")
    at = dict(zip(updates.get_xdata(), updates.get_ydata()))
    for epoch, loss in zip(train.get_xdata()[:-1], train.get_ydata()[:-1]):
        assert at[epoch] == pytest.approx(loss, rel=1e-12)


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
    with pytest.raises(ValueError, match="y_test"):
        plot_decision_boundary(linear, X, y, X_test=X)


def test_the_legend_names_classes_as_the_data_does(pyplot) -> None:  # type: ignore[no-untyped-def]
    """train --plot named the classes of a CSV labelled 5/6/7 "class 0/1/2", the ids the loss
    trains on, while the saved model answered 5/6/7."""
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])

    def three_scores(row):  # type: ignore[no-untyped-def]
        return [Value(-row[0] - row[1]), Value(row[0]), Value(row[1])]

    def legend(ax):  # type: ignore[no-untyped-def]
        return [t.get_text() for t in ax.get_legend().get_texts()]

    assert legend(plot_decision_boundary(three_scores, X, [0, 1, 2], resolution=10)) == \
        ["class 0", "class 1", "class 2"]
    ax = plot_decision_boundary(three_scores, X, [0, 1, 2], resolution=10, class_names=[5, 6, "cat"])
    assert legend(ax) == ["class 5", "class 6", "class cat"]
    ax = plot_decision_boundary(lambda row: Value(row[0] - 0.5), X[:2], [-1, 1], resolution=10,
                                class_names=["no", "yes"])  # a hinge model's −1/+1
    assert legend(ax)[:2] == ["class no", "class yes"]
    with pytest.raises(ValueError, match=r"class_names names 2 classes, but the model and labels make 3"):
        plot_decision_boundary(three_scores, X, [0, 1, 2], class_names=[5, 6])


def test_two_classes_that_meet_show_no_sliver_of_a_third_between_them(pyplot) -> None:  # type: ignore[no-untyped-def]
    """Three classes, where class 1 wins nowhere: classes 0 and 2 meet along a slanted line.
    Contours of the class ids interpolated 0 → 2 through 1 and drew a thin band of class 1's
    colour along that border, which looks like a region of class 1."""
    from matplotlib.colors import to_rgb

    from microgradlike.plots import _CLASS_COLORS

    def scores(row):  # type: ignore[no-untyped-def]
        x1, x2 = row
        return [Value(x2 - 0.6 * x1), Value(-5.0), Value(0.6 * x1 - x2)]  # 0 above the line, 2 below

    X = np.array([[-1.0, 1.0], [1.0, -1.0], [-1.0, -0.2], [1.0, 0.9]])
    y = np.array([0, 2, 2, 0])
    ax = plot_decision_boundary(scores, X, y, resolution=25)
    ax.figure.set_dpi(100)
    ax.figure.canvas.draw()
    pixels = np.asarray(ax.figure.canvas.buffer_rgba())[..., :3].astype(float) / 255
    shade = {c: 1 - 0.22 * (1 - np.array(to_rgb(_CLASS_COLORS[c]))) for c in (0, 1, 2)}  # alpha 0.22 on white

    def count(c: int) -> int:
        return int((np.abs(pixels - shade[c]).max(axis=-1) < 0.02).sum())

    assert count(0) > 1000 and count(2) > 1000  # the two regions are drawn
    assert count(1) == 0  # and nothing of class 1's, which wins nowhere


def test_points_that_are_no_floats_are_refused_naming_them(pyplot) -> None:  # type: ignore[no-untyped-def]
    model = MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match=r"^X\[1, 0\] = 100000000000… \(401 digits\) is too large"):
        plot_decision_boundary(model, [[0.0, 0.0], [10**400, 1.0]], [0, 1])  # was an OverflowError
    with pytest.raises(TypeError, match=r"^X\[0, 0\] must be a real number, got str: 'a'"):
        plot_decision_boundary(model, [["a", 1]], [0])


def test_decision_boundary_of_a_library_model_is_computed_with_numpy(pyplot, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from microgradlike.nn import MLP

    rng = np.random.default_rng(2)
    X = rng.uniform(-2, 2, size=(60, 2))
    model = MLP(2, [8, 1], "tanh", seed=0)
    y = np.array([int(model(row).data > 0) for row in X.tolist()])
    slow = plot_decision_boundary(lambda row: model(row), X, y, resolution=30)  # a callable: row by row
    monkeypatch.setattr(MLP, "__call__", lambda *_: pytest.fail("the grid evaluated with Values"))
    fast = plot_decision_boundary(model, X, y, resolution=30)
    assert fast.get_title() == slow.get_title() and "100%" in fast.get_title()
    np.testing.assert_allclose(fast.collections[0].get_paths()[0].vertices,
                               slow.collections[0].get_paths()[0].vertices)


def test_decision_boundary_tells_train_from_test(pyplot) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    X, X_test = rng.uniform(-1, 1, size=(40, 2)), rng.uniform(-1, 1, size=(10, 2))
    y, y_test = (X[:, 0] > X[:, 1]).astype(int), (X_test[:, 0] > X_test[:, 1]).astype(int)
    y_test[:3] = 1 - y_test[:3]  # three test points on the wrong side: test accuracy 70%

    def linear(row):  # type: ignore[no-untyped-def]
        return Value(row[0]) - row[1]

    ax = plot_decision_boundary(linear, X, y, X_test=X_test, y_test=y_test, resolution=20)
    assert "train accuracy 100%" in ax.get_title() and "test accuracy 70%" in ax.get_title()
    legend = {text.get_text() for text in ax.get_legend().get_texts()}
    assert {"class 0, train", "class 1, train", "class 0, test", "class 1, test"} <= legend
    assert any("decision boundary" in text for text in legend)  # the black line has an entry
    dots = {c.get_label(): c for c in ax.collections if c.get_label().startswith("class")}
    assert len(dots["class 1, test"].get_offsets()) == int(y_test.sum())
    assert dots["class 1, train"].get_facecolor()[0][3] == 1  # filled
    assert dots["class 1, test"].get_facecolor().size == 0 or dots["class 1, test"].get_facecolor()[0][3] == 0
    assert dots["class 1, test"].get_edgecolor()[0][3] == 1  # hollow: an outline only


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


def _hand_made_sigmoid_sum() -> SigmoidSum:
    """Three units set by hand (lesson 4's), with the output bias exactly 0."""
    model = SigmoidSum(3, seed=0)
    model.b.data = 0.0
    for unit, (w, middle, c) in zip(model.units, ((4.0, -1.5, 1.0), (4 / 1.5, -0.25, -1.5), (4.0, 1.0, 1.0))):
        unit.w.data, unit.b.data, unit.c.data = w, -w * middle, c
    return model


def test_fit_1d_bias_is_the_models_parameter_not_rounding_noise(pyplot) -> None:  # type: ignore[no-untyped-def]
    model = _hand_made_sigmoid_sum()
    X = np.linspace(-2, 2, 30)
    ax = plot_fit_1d(model, X, np.abs(X))
    bias = line_labelled(ax, "bias b")
    assert bias.get_label() == "bias b = 0"  # not "-3.47e-17", the curve minus the units
    assert list(bias.get_ydata()) == [0.0, 0.0]
    model.b.data = 0.25
    assert line_labelled(plot_fit_1d(model, X, np.abs(X)), "bias b").get_label() == "bias b = 0.25"


def test_fit_1d_gives_each_unit_its_own_legend_entry(pyplot) -> None:  # type: ignore[no-untyped-def]
    model = _hand_made_sigmoid_sum()
    ax = plot_fit_1d(model, np.linspace(-2, 2, 30), np.zeros(30))
    legend = ax.get_legend()
    entries = dict(zip((t.get_text() for t in legend.get_texts()), legend.legend_handles))
    units = {text: handle for text, handle in entries.items() if text.startswith("unit ")}
    assert list(units) == ["unit 1: c₁·σ(b₁ + w₁·x), centre x = -1.5",
                           "unit 2: c₂·σ(b₂ + w₂·x), centre x = -0.25",
                           "unit 3: c₃·σ(b₃ + w₃·x), centre x = 1"]
    colours = [handle.get_color() for handle in units.values()]
    assert len(set(colours)) == 3  # one entry per colour drawn
    drawn = [ln.get_color() for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert colours == drawn


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
    ax = plot_descent(valley, path2, label="L(w, b)")
    assert ax.figure.axes[-1].get_ylabel() == "L(w, b)"  # the colour bar says what is drawn
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


# ---- every neuron's feature over the plane --------------------------------------------------------
def _contour_sets(ax):  # type: ignore[no-untyped-def]
    from matplotlib.contour import ContourSet

    return [c for c in ax.collections if isinstance(c, ContourSet)]


def test_layer_features_draw_each_neuron_on_a_scale_from_zero(pyplot) -> None:  # type: ignore[no-untyped-def]
    from microgradlike.plots import plot_layer_features

    model = MLP(2, [3, 2, 1], activation="relu", seed=0)
    dead = model.layers[0].neurons[1]
    dead.w[0].data, dead.w[1].data, dead.b.data = 0.0, 0.0, -1.0  # relu(−1) = 0 everywhere
    X = np.array([[-1.0, -1.0], [1.0, 1.0], [0.5, -0.5]])
    axes = plot_layer_features(model, X, [0, 1, 0], resolution=8)
    assert axes.shape == (3, 3)  # two hidden layers and the output; the widest layer has 3 neurons
    g1, g2 = np.meshgrid(np.linspace(-1.5, 1.5, 8), np.linspace(-1.5, 1.5, 8))
    for i, neuron in enumerate(model.layers[0].neurons):
        (filled,) = _contour_sets(axes[0, i])
        a = np.array([neuron([float(u), float(v)]).data for u, v in zip(g1.ravel(), g2.ravel())])
        assert filled.levels[0] == 0.0  # dark is 0
        if neuron is dead:
            assert axes[0, i].get_title() == "a1 neuron 2 (off everywhere)"
            # every area drawn has the darkest colour of the map, not a mid-scale one
            drawn = [k for k, path in enumerate(filled.get_paths()) if len(path.vertices)]
            assert drawn == [0]
            assert filled.norm(0.0) == 0.0
        else:
            assert filled.levels[-1] == pytest.approx(a.max())
            assert "off everywhere" not in axes[0, i].get_title()
    assert not axes[1, 2].axison  # layer 2 has only two neurons
    assert "boundary" in axes[2, 1].get_title()
    with pytest.raises(ValueError, match="2 inputs"):
        plot_layer_features(MLP(1, [2, 1], seed=0), X[:, :1], [0, 1, 0])


def test_layer_features_of_a_classifier_with_several_outputs(pyplot) -> None:  # type: ignore[no-untyped-def]
    from microgradlike.plots import plot_layer_features

    model = MLP(2, [2, 3], activation="tanh", seed=1)
    axes = plot_layer_features(model, np.array([[0.0, 0.0], [1.0, 0.5]]), [0, 2], resolution=6)
    assert axes.shape == (2, 2)
    (filled,) = _contour_sets(axes[1, 1])
    assert list(filled.levels) == [-0.5, 0.5, 1.5, 2.5]  # one band per class


# ---- mini-batch paths -------------------------------------------------------------------------------
def _two_runs():  # type: ignore[no-untyped-def]
    from microgradlike.nn import Neuron
    from microgradlike.train import fit

    rng = np.random.default_rng(0)
    X = rng.uniform(0, 3, size=(10, 1))
    y = 1.5 * X[:, 0] - 1.0 + rng.normal(0, 0.3, size=10)
    runs = {}
    for label, batch_size in (("full batch", None), ("batch size 4", 4)):
        neuron = Neuron(1, activation="linear", seed=0)
        neuron.w[0].data, neuron.b.data = -0.5, 2.0
        runs[label] = fit(neuron, X, y, loss="mse", optimizer="sgd", lr=0.1, max_epochs=3,
                          batch_size=batch_size, keep_params=True, tol=0.0, progress=False)

    def loss(w, b):  # type: ignore[no-untyped-def]
        return sum((w * float(x) + b - t) ** 2 for x, t in zip(X[:, 0], y)) / len(y)

    return loss, runs


def test_batch_paths_draw_each_run_and_its_batch_losses(pyplot) -> None:  # type: ignore[no-untyped-def]
    from microgradlike.plots import plot_batch_paths

    loss, runs = _two_runs()
    left, right = plot_batch_paths(loss, runs, bounds=[(-1, 2), (-2, 3)], optimum=(1.5, -1.0), resolution=12)
    for label, history in runs.items():
        path = line_labelled(left, f"{label}: {history.n_updates} updates")
        np.testing.assert_allclose(np.column_stack([path.get_xdata(), path.get_ydata()]), history.params)
        epochs = line_labelled(right, f"{label}: the loss on all the data")
        assert list(epochs.get_ydata()) == history.train_loss and list(epochs.get_xdata()) == [1, 2, 3]
    mini = runs["batch size 4"]
    dots = line_labelled(right, "batch size 4: the batch's loss")
    np.testing.assert_allclose(dots.get_xdata(), np.arange(9) / 3)  # three updates per epoch
    assert list(dots.get_ydata()) == mini.update_loss
    # full batch: its update losses would lie on its own epoch curve, so they are not drawn
    assert not [ln for ln in right.get_lines() if ln.get_label().startswith("full batch: the batch's")]
    ends = line_labelled(left, "θ at the end of each epoch")
    np.testing.assert_allclose(ends.get_xdata(), [p[0] for p in mini.params[3::3]])
    texts = [t.get_text() for t in left.texts]
    assert texts == ["θ¹", "θ²", "θ³"] and [t.get_text() for t in right.texts] == ["L¹", "L²", "L³"]
    assert list(line_labelled(left, "θ*").get_xdata()) == [1.5]
    with pytest.raises(ValueError, match="keep_params"):
        plot_batch_paths(loss, {"no path": SimpleNamespace(params=[])}, bounds=[(0, 1), (0, 1)])


# ---- a still of a training replay ------------------------------------------------------------------
def test_replay_still_shows_the_gradient_and_adams_m_and_v(pyplot) -> None:  # type: ignore[no-untyped-def]
    from microgradlike.data import make_moons
    from microgradlike.optim import Adam
    from microgradlike.plots import plot_replay
    from microgradlike.replay import Replay
    from microgradlike.train import fit

    X, y = make_moons(n=30, noise=0.1, seed=0)
    model = MLP(2, [4, 1], activation="relu", seed=0)
    opt = Adam(model.parameters(), lr=0.05)
    replay = Replay(model, X, y, optimizer=opt)
    fit(model, X, y, loss="hinge", optimizer=opt, max_epochs=5, callback=replay, progress=False)
    boundary, losses, state = plot_replay(replay, parameter="layers.0.neurons.1.w.0")
    index = [name for name, _ in model.named_parameters()].index("layers.0.neurons.1.w.0")
    m = line_labelled(state, "m: running mean")
    root_v = line_labelled(state, "√v")
    grads = line_labelled(state, "its gradient")
    assert list(m.get_xdata()) == [0, 1, 2, 3, 4, 5]
    np.testing.assert_allclose(m.get_ydata()[-1], opt.m[index])
    np.testing.assert_allclose(root_v.get_ydata()[-1], np.sqrt(opt.v[index]))
    np.testing.assert_allclose(grads.get_ydata()[-1], model.parameters()[index].grad)
    assert "after epoch 5" in boundary.get_title()
    # full batch: the update losses are the epochs' curve shifted, so only the epochs' is drawn
    assert [ln.get_label() for ln in losses.get_lines() if "update" in ln.get_label()] == []
    with pytest.raises(ValueError, match="no parameter named"):
        plot_replay(replay, parameter="w")
    with pytest.raises(ValueError, match="recorded no epoch"):
        plot_replay(Replay(MLP(2, [2, 1], seed=0), X, y))


@pytest.mark.parametrize("held_out", ["train", "held-out"])
def test_the_second_set_is_hollow_whatever_it_is_called(pyplot, held_out) -> None:  # type: ignore[no-untyped-def]
    """Hollow marks the second set by its place, not by its name: a held-out set called "train"
    left the training points hollow too."""
    rng = np.random.default_rng(2)
    X, X_test = rng.uniform(-1, 1, size=(30, 2)), rng.uniform(-1, 1, size=(10, 2))
    y, y_test = (X[:, 0] > 0).astype(int), (X_test[:, 0] > 0).astype(int)
    ax = plot_decision_boundary(lambda row: Value(row[0]), X, y, X_test=X_test, y_test=y_test,
                                held_out=held_out, resolution=10)
    dots = [c for c in ax.collections if c.get_label().startswith("class")]  # drawn set by set
    labels = [f"class {c}, {name}" for name in ("train", held_out) for c in (0, 1)]
    assert [c.get_label() for c in dots] == labels
    train, test = dots[:2], dots[2:]
    assert all(c.get_facecolor()[0][3] == 1 for c in train)  # the training points: filled
    assert all(c.get_facecolor().size == 0 or c.get_facecolor()[0][3] == 0 for c in test)  # hollow
