"""Tests for microgradlike.losses: closed forms, gradients, stability and input checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from microgradlike.engine import Value
from microgradlike.functional import gradcheck
from microgradlike.losses import LOSSES, binary_cross_entropy, cross_entropy, get_loss, hinge, mse

logits = st.floats(min_value=-20, max_value=20, allow_nan=False)


def values(xs):
    return [Value(x) for x in xs]


# ---- closed forms ---------------------------------------------------------------------------
@given(st.lists(st.tuples(logits, logits), min_size=1, max_size=6))
def test_mse_is_the_mean_of_squared_errors(pairs):
    preds, targets = zip(*pairs)
    expected = float(np.mean((np.array(preds) - np.array(targets)) ** 2))
    assert mse(values(preds), list(targets)).data == pytest.approx(expected, rel=1e-12, abs=1e-12)


@given(st.lists(st.tuples(logits, st.sampled_from([0, 1, 0.25])), min_size=1, max_size=6))
def test_bce_is_minus_log_likelihood_of_the_sigmoid(pairs):
    zs, ys = zip(*pairs)
    terms = []
    for z, y in pairs:
        # log p and log(1 − p) for p = σ(z), written so neither loses digits when p ≈ 1
        log_p = -math.log1p(math.exp(-z))
        log_1_minus_p = -z + log_p
        terms.append(-(y * log_p + (1 - y) * log_1_minus_p))
    assert binary_cross_entropy(values(zs), list(ys)).data == pytest.approx(
        sum(terms) / len(terms), rel=1e-9, abs=1e-12
    )


@given(st.lists(st.lists(logits, min_size=3, max_size=3), min_size=1, max_size=4), st.data())
def test_cross_entropy_is_minus_log_softmax_of_the_true_class(rows, data):
    ids = [data.draw(st.integers(0, 2)) for _ in rows]
    expected = 0.0
    for row, y in zip(rows, ids):
        probabilities = np.exp(row) / np.exp(row).sum()  # |logit| <= 20: the naive form is exact enough
        expected -= math.log(probabilities[y])
    expected /= len(rows)
    loss = cross_entropy([values(r) for r in rows], ids)
    assert loss.data == pytest.approx(expected, rel=1e-9, abs=1e-12)


@given(st.lists(st.tuples(logits, st.sampled_from([-1, 1, 0])), min_size=1, max_size=6))
def test_hinge_is_the_mean_of_relu_one_minus_margin(pairs):
    scores, targets = zip(*pairs)
    signs = [1 if t == 1 else -1 for t in targets]
    expected = sum(max(0.0, 1 - t * s) for s, t in zip(scores, signs)) / len(pairs)
    assert hinge(values(scores), list(targets)).data == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_zero_one_and_plus_minus_one_hinge_targets_agree():
    scores = [0.3, -2.0, 1.7, 0.0]
    assert hinge(values(scores), [1, 0, 0, 1]).data == hinge(values(scores), [1, -1, -1, 1]).data


def test_mse_takes_rows_of_several_outputs_and_value_targets():
    preds = [values([1.0, 2.0]), values([3.0, 5.0])]
    targets = np.array([[0.0, 2.0], [3.0, 1.0]])
    assert mse(preds, targets).data == pytest.approx((1 + 0 + 0 + 16) / 4)
    assert mse(Value(3.0), Value(1.0)).data == 4.0
    assert mse([[Value(2.0)]], [1.0]).data == 1.0  # a column of one output per row


def test_one_value_and_plain_numbers_are_accepted():
    assert mse(Value(2.0), 0.5).data == pytest.approx(2.25)
    assert mse([2.0], [0.5]).data == pytest.approx(2.25)
    assert binary_cross_entropy(Value(0.0), 1).data == pytest.approx(math.log(2))
    assert hinge(Value(0.5), 1).data == pytest.approx(0.5)
    assert cross_entropy(values([0.0, 0.0]), 1).data == pytest.approx(math.log(2))


def test_the_mean_is_one_sum_node_over_every_example():
    loss = hinge(values([0.1, 0.2, 0.3]), [1, -1, 1])
    assert loss.op == "/"
    total = loss.children[0]
    assert total.op == "sum" and len(total.children) == 3


# ---- gradients --------------------------------------------------------------------------------
def test_each_loss_gradient_matches_central_differences():
    # Points away from hinge's kink at margin 1.
    assert gradcheck(lambda a, b, c: mse([a, b, c], [0.5, -1.0, 2.0]), [0.3, 1.2, -0.7])
    assert gradcheck(lambda a, b, c: binary_cross_entropy([a, b, c], [1, 0, 1]), [0.3, 1.2, -3.7])
    assert gradcheck(lambda a, b, c, d: cross_entropy([[a, b], [c, d]], [0, 1]), [0.3, 1.2, -0.7, 2.5])
    assert gradcheck(lambda a, b, c: hinge([a, b, c], [1, -1, 0]), [0.3, 1.2, -3.7])


@pytest.mark.parametrize("z", [-1000.0, -40.0, 0.0, 40.0, 1000.0])
@pytest.mark.parametrize("y", [0, 1])
def test_bce_at_extreme_logits_is_exact_and_finite(z, y):
    zv = Value(z)
    loss = binary_cross_entropy(zv, y)
    loss.backward()
    # Exact: softplus(z) − y·z = max(z, 0) − y·z + log(1 + e^−|z|).
    assert loss.data == pytest.approx(max(z, 0.0) - y * z + math.log1p(math.exp(-abs(z))), rel=1e-15)
    assert math.isfinite(zv.grad)
    sigma = 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0
    assert zv.grad == pytest.approx(sigma - y, abs=1e-15)


def test_cross_entropy_at_extreme_logits_is_exact_and_finite():
    row = values([1000.0, -1000.0, 0.0])
    loss = cross_entropy([row], [1])
    loss.backward()
    assert loss.data == 2000.0  # log-sum-exp is 1000 (the others vanish), minus the true logit −1000
    assert [v.grad for v in row] == [1.0, -1.0, 0.0]  # softmax − one-hot
    assert cross_entropy([values([1000.0, -1000.0])], [0]).data == 0.0


def test_losses_match_pytorch_float64():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(0)
    z = [*rng.normal(0, 3, size=8).tolist(), 1000.0, -1000.0]
    y01 = rng.integers(0, 2, size=10).tolist()
    y_real = rng.normal(size=10).tolist()
    rows = rng.normal(0, 3, size=(10, 4)).tolist()
    rows[0] = [1000.0, -1000.0, 3.0, 0.0]
    ids = rng.integers(0, 4, size=10).tolist()

    def ours_and_torch(loss, torch_loss, inputs, targets):
        ours = [values(r) for r in inputs] if isinstance(inputs[0], list) else values(inputs)
        out = loss(ours, targets)
        out.backward()
        grads = [v.grad for r in ours for v in r] if isinstance(ours[0], list) else [v.grad for v in ours]
        t_in = torch.tensor(inputs, dtype=torch.float64, requires_grad=True)
        t_out = torch_loss(t_in)
        t_out.backward()
        return out.data, grads, t_out.item(), t_in.grad.flatten().tolist()

    t_y01 = torch.tensor(y01, dtype=torch.float64)
    t_real = torch.tensor(y_real, dtype=torch.float64)
    cases = [
        (mse, lambda t: F.mse_loss(t, t_real), z, y_real),
        (binary_cross_entropy, lambda t: F.binary_cross_entropy_with_logits(t, t_y01), z, y01),
        (cross_entropy, lambda t: F.cross_entropy(t, torch.tensor(ids)), rows, ids),
        (hinge, lambda t: torch.clamp(1 - (2 * t_y01 - 1) * t, min=0).mean(), z, y01),
    ]
    for loss, torch_loss, inputs, targets in cases:
        value, grads, t_value, t_grads = ours_and_torch(loss, torch_loss, inputs, targets)
        assert value == pytest.approx(t_value, rel=1e-9), loss.__name__
        assert grads == pytest.approx(t_grads, rel=1e-9, abs=1e-15), loss.__name__


# ---- errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (lambda: mse(values([1, 2, 3]), [1, 2]), ValueError, "preds has 3 entries but targets has 2"),
        (lambda: mse([], []), ValueError, "empty"),
        (lambda: mse([[Value(1.0), Value(2.0)]], [[1.0]]), ValueError, "row 0: preds has 2 values"),
        (lambda: mse(values([1.0]), [math.nan]), ValueError, "target 0 is nan"),
        (lambda: mse(values([1.0]), ["a"]), TypeError, "'a'"),
        (lambda: mse("ab", [1.0, 2.0]), TypeError, "'ab'"),
        (lambda: binary_cross_entropy(values([1, 2]), [1, 2]), ValueError, "target 1 is 2"),
        (lambda: binary_cross_entropy(values([1, 2]), [0, -1]), ValueError, "target 1 is -1"),
        (lambda: binary_cross_entropy(values([1]), [1, 0]), ValueError,
         "logits has 1 entries but targets has 2"),
        (lambda: hinge(values([1, 2]), [1, 0.5]), ValueError, "target 1 is 0.5"),
        (lambda: hinge(values([1, 2]), [1, 2]), ValueError, "target 1 is 2"),
        (lambda: hinge([], []), ValueError, "empty"),
        (lambda: cross_entropy([values([1, 2, 3])], [3]), ValueError, "class id 3 of row 0"),
        (lambda: cross_entropy([values([1, 2, 3])], [-1]), ValueError, "class id -1"),
        (lambda: cross_entropy([values([1, 2, 3])], [1.5]), ValueError, "class id 1.5"),
        (lambda: cross_entropy([values([1, 2, 3])], [True]), ValueError, "class id True"),
        (lambda: cross_entropy([values([1, 2])], [0, 1]), ValueError, "1 rows but class_ids has 2"),
        (lambda: cross_entropy([[]], [0]), ValueError, "row 0 of logits_rows is empty"),
        (lambda: cross_entropy([], []), ValueError, "empty"),
    ],
)
def test_bad_inputs_raise_precise_errors(call, error, fragment):
    with pytest.raises(error) as info:
        call()
    assert fragment in str(info.value)


def test_numpy_targets_and_class_ids_are_accepted():
    z = values([0.5, -0.5])
    assert binary_cross_entropy(z, np.array([1.0, 0.0])).data == binary_cross_entropy(z, [1, 0]).data
    rows = [values([0.1, 0.2]), values([0.3, -0.2])]
    assert cross_entropy(rows, np.array([1, 0])).data == cross_entropy(rows, [1, 0]).data
    assert cross_entropy(rows, np.array([1.0, 0.0])).data == cross_entropy(rows, [1, 0]).data


# ---- lookup by name -----------------------------------------------------------------------------
def test_get_loss_by_name_or_callable():
    assert get_loss("mse") is mse
    assert get_loss("Hinge") is hinge
    assert get_loss("bce") is binary_cross_entropy
    assert set(LOSSES.values()) == {mse, binary_cross_entropy, cross_entropy, hinge}

    def custom(p, t):
        return mse(p, t)

    checked = get_loss(custom)  # your own loss, checked to return a Value on every call
    assert checked.__wrapped__ is custom and checked.__name__ == "custom" and get_loss(checked) is checked
    assert checked([1.0, 2.0], [0.0, 0.0]).data == mse([1.0, 2.0], [0.0, 0.0]).data
    with pytest.raises(ValueError, match="unknown loss 'l1'"):
        get_loss("l1")
    with pytest.raises(TypeError, match="42"):
        get_loss(42)


# ---- compiled losses far from where they were traced ------------------------------------------------
def test_cross_entropy_is_one_logsumexp_node_per_row():
    row = values([0.5, -1.0, 2.0])
    term = cross_entropy([row], [2]).children[0].children[0]  # (Σ terms) / 1, one term
    assert term.op == "-" and term.children[0].op == "logsumexp" and term.children[0].children == tuple(row)


FAR_TARGETS = {"mse": [3.0, -2.0, 0.5, 1.0], "binary_cross_entropy": [0, 1, 1, 0], "hinge": [-1, 1, 1, -1],
               "cross_entropy": [0, 2, 1, 2]}


@pytest.mark.parametrize("engine", ["tape", "batched"])
@pytest.mark.parametrize("name", list(FAR_TARGETS))
def test_compiled_losses_equal_eager_far_from_the_trace_point(name, engine):
    """Traced at small logits, replayed at logits in the thousands: every number a trace could
    freeze (a max, a branch) must be taken again, as eager takes it."""
    from microgradlike.nn import MLP
    from microgradlike.trainers import make_loss_and_grad

    X = np.array([[0.5, -1.0], [1.0, 2.0], [-0.3, 0.8], [2.0, 0.1]])
    y = FAR_TARGETS[name]
    results = []
    for run in ("eager", engine):
        model = MLP(2, [4, 3 if name == "cross_entropy" else 1], "tanh", seed=3)
        loss_and_grad = make_loss_and_grad(model, name, run)
        loss_and_grad(X, y)  # traced here, at logits of about 1
        for p in model.layers[-1].parameters():
            p.data *= 3000.0
        logits = [model(row) for row in X.tolist()]
        flat = [v.data for out in logits for v in (out if isinstance(out, list) else [out])]
        assert max(abs(v) for v in flat) > 1000.0
        results.append((loss_and_grad(X, y), [p.grad for p in model.parameters()]))
    (loss, grads), (compiled, compiled_grads) = results
    assert math.isfinite(loss)
    assert math.isclose(compiled, loss, rel_tol=1e-12)
    assert all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9) for a, b in zip(compiled_grads, grads))


def test_cross_entropy_on_one_logit_says_it_needs_one_per_class():
    with pytest.raises(ValueError, match=r"class id 1 of row 0 needs a logit of its own, but the row has 1: "
                                         r"cross-entropy takes one logit per class"):
        cross_entropy([[Value(0.3)]], [1])
    with pytest.raises(ValueError, match=r"class id 2 of row 0 is not an integer in 0 … 1 \(2 logits\)"):
        cross_entropy([[0.3, 0.1]], [2])  # two logits: the id is out of range, as before


@pytest.mark.parametrize(("loss", "targets", "threshold"), [
    ("mse", [0, 1], 0.5), ("mse", [-1, 1], 0.0), (mse, [2, 5], 3.5),
    ("hinge", [-1, 1], 0.0), ("hinge", ["no", "yes"], 0.0), ("bce", [0, 1], 0.0),
])
def test_decision_threshold_follows_the_losses_convention(loss, targets, threshold):
    from microgradlike.losses import decision_threshold

    assert decision_threshold(loss, targets) == threshold


def test_a_custom_loss_that_returns_a_number_is_a_type_error_naming_it():
    def half(preds, targets):
        return 0.5

    with pytest.raises(TypeError, match=r"the loss half returned float 0\.5, not a Value"):
        get_loss(half)([Value(1.0)], [0.0])


def test_hinge_of_a_nan_score_is_nan_as_in_pytorch():
    nan_score = Value(math.inf) * 0.0  # NaN made inside a graph (a Value refuses NaN given to it)
    assert math.isnan(hinge([nan_score], [1]).data)
    assert math.isnan(hinge([nan_score], [0]).data)
