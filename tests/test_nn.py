"""Tests for microgradlike.nn: shapes, the notes' formulas, gradients, init, and saving."""

from __future__ import annotations

import decimal
import gc
import json
import math
import os
import re
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from special_files import error_on_a_fifo, error_on_dev_zero, posix_dev_zero, posix_fifo

from microgradlike import nn
from microgradlike.engine import Value, no_grad, topological_order
from microgradlike.nn import MLP, Layer, Module, Neuron, SigmoidSum, SigmoidUnit, hard_sigmoid

ACTIVATION_FNS = {
    "relu": lambda z: max(z, 0.0),
    "sigmoid": lambda z: 1.0 / (1.0 + math.exp(-z)),
    "tanh": math.tanh,
    "linear": lambda z: z,
}


def numeric_forward(model: MLP, x: list[float]) -> list[list[tuple[float, float]]]:
    """Reference forward pass in plain floats: per layer, (z, a) per neuron."""
    a = list(x)
    layers = []
    for layer in model.layers:
        sigma = ACTIVATION_FNS[layer.activation]
        zs = [sum(w.data * ai for w, ai in zip(n.w, a)) + n.b.data for n in layer.neurons]
        layers.append([(z, sigma(z)) for z in zs])
        a = [s for _, s in layers[-1]]
    return layers


def central_difference_grads(model: Module, loss_of_model, eps: float = 1e-6) -> list[float]:
    """∂loss/∂θᵢ for every parameter by central differences (no backprop involved)."""
    grads = []
    for p in model.parameters():
        original = p.data
        p.data = original + eps
        above = loss_of_model().data
        p.data = original - eps
        below = loss_of_model().data
        p.data = original
        grads.append((above - below) / (2 * eps))
    return grads


# ---- construction and arguments ---------------------------------------------------------
@pytest.mark.parametrize(
    ("build", "error", "fragment"),
    [
        (lambda: Neuron(0), ValueError, "nin must be a positive int, got 0"),
        (lambda: Neuron(-3), ValueError, "-3"),
        (lambda: Neuron(2.0), TypeError, "float"),
        (lambda: Neuron(True), TypeError, "True"),
        (lambda: Neuron(2, activation="softmax"), ValueError, "'softmax'"),
        (lambda: Neuron(2, activation=None), ValueError, "None"),
        (lambda: Layer(2, 0), ValueError, "nout must be a positive int, got 0"),
        (lambda: Layer(2, "3"), TypeError, "'3'"),
        (lambda: Layer(2, 3, activation="RELU"), ValueError, "'RELU'"),
        (lambda: MLP(2, []), ValueError, "at least one layer"),
        (lambda: MLP(2, [4, 0, 1]), ValueError, "nouts[1]"),
        (lambda: MLP(2, [4, 1.5]), TypeError, "nouts[1]"),
        (lambda: MLP(2, 4), TypeError, "nouts must be a list"),
        (lambda: MLP(2, [4, 1], activation="gelu"), ValueError, "'gelu'"),
        (lambda: MLP(2, [4, 1], seed=-1), ValueError, "seed must be >= 0, got -1"),
        (lambda: MLP(2, [4, 1], seed="abc"), TypeError, "'abc'"),
        (lambda: MLP(2, [4, 1], seed=1.5), TypeError, "1.5"),
        (lambda: SigmoidSum(0), ValueError, "n must be a positive int, got 0"),
        (lambda: SigmoidSum(None), TypeError, "None"),
    ],
)
def test_bad_constructor_arguments_raise_precise_errors(build, error, fragment):
    with pytest.raises(error) as info:
        build()
    assert fragment in str(info.value)


def test_numpy_integers_are_accepted_as_sizes():
    model = MLP(np.int64(2), np.array([3, 1]), seed=np.int64(4))
    assert model.config() == {"nin": 2, "nouts": [3, 1], "activation": "relu"}


def test_repr_reads_like_the_constructor():
    assert repr(MLP(2, [16, 16, 1], seed=0)) == "MLP(nin=2, nouts=[16, 16, 1], activation='relu')"
    assert repr(Layer(3, 2, "tanh", seed=0)) == "Layer(nin=3, nout=2, activation='tanh')"
    assert repr(Neuron(3, "sigmoid", seed=0)) == "Neuron(nin=3, activation='sigmoid')"
    assert repr(SigmoidSum(4, seed=0)) == "SigmoidSum(n=4)"
    assert repr(SigmoidUnit(1.0, 2.0, 3.0)) == "SigmoidUnit(w=1, b=2, c=3)"


# ---- parameters ----------------------------------------------------------------------------
def test_named_parameters_are_dotted_unique_and_label_the_values():
    model = MLP(3, [4, 2, 1], seed=0)
    named = model.named_parameters()
    names = [name for name, _ in named]
    assert len(named) == 4 * (3 + 1) + 2 * (4 + 1) + 1 * (2 + 1)
    assert len(set(names)) == len(names)
    assert names[0] == "layers.0.neurons.0.w.0"
    assert "layers.1.neurons.1.b" in names
    assert all(p.label == name for name, p in named)
    assert model.parameters() == [p for _, p in named]
    assert all(isinstance(p, Value) and not p.children for p in model.parameters())


def test_sigmoid_sum_parameters_are_reachable_per_unit():
    model = SigmoidSum(3, seed=0)
    names = [name for name, _ in model.named_parameters()]
    assert names == [*(f"units.{i}.{k}" for i in range(3) for k in "wbc"), "b"]
    assert model.units[1].w is dict(model.named_parameters())["units.1.w"]


class TwoUnits(Module):
    """A learner's own model: parameters are simply its attributes."""

    def __init__(self) -> None:
        self.first = SigmoidUnit(1.0, 0.0, 2.0)
        self.shared = [Value(0.5), Value(-0.5)]
        self.alias = self.shared[0]  # the same Value again: still one parameter
        self.width = 3  # not a Value: not a parameter
        self._cache = Value(9.0)  # private: not a parameter

    def __call__(self, x):
        return self.first(x) + self.shared[0] * x + self.shared[1]


def test_a_user_module_finds_its_parameters_in_its_attributes():
    model = TwoUnits()
    names = [name for name, _ in model.named_parameters()]
    assert names == ["first.w", "first.b", "first.c", "shared.0", "shared.1"]
    assert repr(model) == "TwoUnits()"
    copy = TwoUnits()
    copy.shared[1].data = 4.0
    copy.load_state_dict(model.state_dict())
    assert copy(0.3).data == model(0.3).data


def test_zero_grad_clears_every_parameter():
    model = MLP(2, [3, 1], activation="tanh", seed=0)
    model([0.5, -1.0]).backward()
    assert any(p.grad != 0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


# ---- forward pass ----------------------------------------------------------------------------
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "linear"])
def test_neuron_is_one_dot_node_then_its_activation(activation):
    neuron = Neuron(3, activation, seed=1)
    x = [0.5, -2.0, 1.5]
    out = neuron(x)
    z = out if activation == "linear" else out.children[0]
    assert z.op == "dot"
    assert list(z.children) == [*neuron.w, neuron.b]
    if activation != "linear":
        assert out.op == activation
    expected_z = sum(w.data * xi for w, xi in zip(neuron.w, x)) + neuron.b.data
    assert out.data == pytest.approx(ACTIVATION_FNS[activation](expected_z), rel=1e-12)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_mlp_forward_trace_is_z_and_a_per_layer_with_a_linear_last_layer(activation):
    model = MLP(2, [3, 4, 2], activation=activation, seed=7)
    x = [0.3, -0.8]
    trace = model.forward_trace(x)
    reference = numeric_forward(model, x)
    assert [layer.activation for layer in model.layers] == [activation, activation, "linear"]
    assert len(trace) == 3
    for layer_trace, layer_ref in zip(trace, reference):
        assert [z.data for z in layer_trace.z] == pytest.approx([z for z, _ in layer_ref], rel=1e-12)
        assert [a.data for a in layer_trace.a] == pytest.approx([a for _, a in layer_ref], rel=1e-12)
    assert trace[-1].a is trace[-1].z  # the output layer is linear: ŷ = aᴸ = zᴸ
    assert [v.data for v in model(x)] == [a.data for a in trace[-1].a]


def test_output_is_a_value_for_one_output_and_a_list_otherwise():
    assert isinstance(MLP(2, [3, 1], seed=0)([1.0, 2.0]), Value)
    out = MLP(2, [3, 2], seed=0)([1.0, 2.0])
    assert isinstance(out, list) and len(out) == 2
    assert isinstance(Layer(2, 1, seed=0)([1.0, 2.0]), Value)
    assert len(Layer(2, 3, seed=0)([1.0, 2.0])) == 3


def test_inputs_may_be_one_number_a_numpy_row_or_values():
    model = MLP(1, [3, 1], seed=0)
    assert model(0.5).data == model([0.5]).data == model(np.array([0.5])).data == model(np.float64(0.5)).data
    two = MLP(2, [3, 1], seed=0)
    assert two(np.array([0.5, -1.0])).data == two([0.5, -1.0]).data
    x = [Value(0.5), Value(-1.0)]
    two(x).backward()
    assert x[0].grad != 0.0 or x[1].grad != 0.0  # the input is part of the graph


@pytest.mark.parametrize(
    ("model", "x", "error", "fragment"),
    [
        (MLP(2, [3, 1], seed=0), [1.0, 2.0, 3.0], ValueError, "takes 2 input(s), got 3"),
        (MLP(2, [3, 1], seed=0), 1.0, ValueError, "takes 2 input(s), got 1"),
        (MLP(2, [3, 1], seed=0), np.zeros((2, 2)), ValueError, "shape (2, 2)"),
        (MLP(2, [3, 1], seed=0), "ab", TypeError, "'ab'"),
        (MLP(2, [3, 1], seed=0), [1.0, "x"], TypeError, "'x'"),
        (Neuron(3, seed=0), [1.0], ValueError, "takes 3 input(s), got 1"),
        (SigmoidSum(2, seed=0), [1.0, 2.0], ValueError, "takes 1 input(s), got 2"),
    ],
)
def test_wrong_inputs_raise_precise_errors(model, x, error, fragment):
    with pytest.raises(error) as info:
        model(x)
    assert fragment in str(info.value)


# ---- gradients ----------------------------------------------------------------------------------
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "linear"])
def test_mlp_parameter_gradients_match_central_differences(activation):
    model = MLP(2, [4, 3, 1], activation=activation, seed=3)
    x = [0.7, -1.2]
    out = model(x)
    model.zero_grad()
    out.backward()
    numeric = central_difference_grads(model, lambda: model(x))
    for p, n in zip(model.parameters(), numeric):
        assert p.grad == pytest.approx(n, rel=1e-5, abs=1e-8), p.label


def test_sigmoid_sum_gradients_match_central_differences():
    model = SigmoidSum(4, seed=2)
    out = model(0.3)
    out.backward()
    numeric = central_difference_grads(model, lambda: model(0.3))
    for p, n in zip(model.parameters(), numeric):
        assert p.grad == pytest.approx(n, rel=1e-5, abs=1e-8), p.label


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "linear"])
def test_mlp_forward_and_backward_match_pytorch(activation):
    torch = pytest.importorskip("torch")
    model = MLP(3, [5, 4, 2], activation=activation, seed=11)
    x_values = [0.4, -1.3, 2.2]
    x = [Value(v) for v in x_values]
    out = model(x)
    loss = out[0] * 1.5 + out[1] * -0.5  # an arbitrary scalar that uses both outputs
    loss.backward()

    sigma = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "linear": lambda z: z}
    weights = [
        torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64, requires_grad=True)
        for layer in model.layers
    ]
    biases = [
        torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64, requires_grad=True)
        for layer in model.layers
    ]
    tx = torch.tensor(x_values, dtype=torch.float64, requires_grad=True)
    a = tx
    for W, b, layer in zip(weights, biases, model.layers):
        a = sigma[layer.activation](W @ a + b)
    t_loss = a[0] * 1.5 + a[1] * -0.5
    t_loss.backward()

    assert [v.data for v in out] == pytest.approx(a.tolist(), rel=1e-9, abs=1e-12)
    for layer, W, b in zip(model.layers, weights, biases):
        for j, neuron in enumerate(layer.neurons):
            assert [w.grad for w in neuron.w] == pytest.approx(W.grad[j].tolist(), rel=1e-9, abs=1e-12)
            assert neuron.b.grad == pytest.approx(b.grad[j].item(), rel=1e-9, abs=1e-12)
    assert [xi.grad for xi in x] == pytest.approx(tx.grad.tolist(), rel=1e-9, abs=1e-12)


# ---- initialisation --------------------------------------------------------------------------
def test_same_seed_same_model_and_different_seeds_differ():
    def weights(seed, build=lambda seed: MLP(2, [8, 8, 1], seed=seed)):
        return [p.data for p in build(seed).parameters()]

    assert weights(0) == weights(0)
    assert weights(0) != weights(1)
    assert weights(None) != weights(None)

    def sums(seed):
        return weights(seed, lambda s: SigmoidSum(5, seed=s))

    assert sums(3) == sums(3)
    assert sums(3) != sums(4)
    assert sums(None) != sums(None)


def test_a_layers_neurons_get_different_weights_from_one_seed():
    layer = Layer(4, 6, seed=0)
    rows = [tuple(w.data for w in n.w) for n in layer.neurons]
    assert len(set(rows)) == len(rows)


def test_relu_layers_start_he_normal():
    nin, nout = 200, 100
    w = np.array([[wi.data for wi in n.w] for n in Layer(nin, nout, "relu", seed=0).neurons])
    assert abs(w.mean()) < 0.01
    assert w.std() == pytest.approx(math.sqrt(2 / nin), rel=0.03)  # 20 000 draws: ~0.5% noise
    assert all(n.b.data == 0.0 for n in Layer(nin, 3, seed=0).neurons)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "linear"])
def test_other_layers_start_xavier_uniform(activation):
    nin, nout = 200, 100
    w = np.array([[wi.data for wi in n.w] for n in Layer(nin, nout, activation, seed=0).neurons])
    limit = math.sqrt(6 / (nin + nout))
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.99 * limit
    assert w.std() == pytest.approx(limit / math.sqrt(3), rel=0.03)  # std of U(−r, r) is r/√3


# ---- the notes' sigmoid models ---------------------------------------------------------------
@given(st.floats(min_value=-5, max_value=5, allow_nan=False))
def test_sigmoid_sum_is_exactly_the_notes_formula(x):
    model = SigmoidSum(4, seed=5)
    model.b.data = 0.7  # the global bias starts at 0; make it count
    expected = model.b.data + sum(
        u.c.data / (1.0 + math.exp(-(u.b.data + u.w.data * x))) for u in model.units
    )
    assert model(x).data == pytest.approx(expected, rel=1e-12, abs=1e-12)
    parts = model.contributions(x)
    assert parts.shape == (4,)
    assert parts.sum() + model.b.data == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_sigmoid_sum_contributions_are_each_unit_and_vectorise():
    model = SigmoidSum(3, seed=1)
    model.units[0].w.data, model.units[0].b.data, model.units[0].c.data = 10.0, -5.0, 2.0
    xs = np.linspace(-1, 2, 7)
    parts = model.contributions(xs)
    assert parts.shape == (3, 7)
    for j, x in enumerate(xs):
        assert parts[0, j] == pytest.approx(2.0 / (1.0 + math.exp(-(10.0 * x - 5.0))), rel=1e-12)
        assert parts[:, j].tolist() == pytest.approx([u(x).data for u in model.units], rel=1e-12)
    assert np.all(np.isfinite(model.contributions([-1e6, 1e6])))


def test_sigmoid_unit_knobs_are_slope_shift_and_height():
    unit = SigmoidUnit(w=4.0, b=-2.0, c=3.0)
    assert unit(0.5).data == pytest.approx(1.5)  # centre at −b/w = 0.5, half of the height c
    assert unit(100.0).data == pytest.approx(3.0)
    assert unit(-100.0).data == pytest.approx(0.0, abs=1e-12)


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_hard_sigmoid_equals_the_clipped_line(x):
    assert isinstance(hard_sigmoid(x), float)
    assert hard_sigmoid(x) == pytest.approx(min(max(x, 0.0), 1.0), abs=1e-9)
    out = hard_sigmoid(Value(x))
    assert isinstance(out, Value)
    assert out.data == pytest.approx(min(max(x, 0.0), 1.0), abs=1e-9)


def test_hard_sigmoid_is_built_from_two_relus():
    x = Value(0.4)
    out = hard_sigmoid(x)
    ops = [node.op for node in topological_order(out)]
    assert ops.count("relu") == 2
    assert out.op == "-" and [c.op for c in out.children] == ["relu", "relu"]
    out.backward()
    assert x.grad == 1.0  # slope 1 between the kinks


@pytest.mark.parametrize("x", [-0.5, 1.5])
def test_hard_sigmoid_is_flat_outside_zero_one(x):
    v = Value(x)
    hard_sigmoid(v).backward()
    assert v.grad == 0.0


# ---- saving and loading ----------------------------------------------------------------------
ALL_MODELS = [
    pytest.param(lambda: Neuron(3, "sigmoid", seed=1), [0.2, -0.4, 1.0], id="neuron"),
    pytest.param(lambda: Layer(3, 2, "tanh", seed=2), [0.2, -0.4, 1.0], id="layer"),
    pytest.param(lambda: MLP(2, [5, 4, 1], seed=3), [0.2, -0.4], id="mlp-relu"),
    pytest.param(lambda: MLP(2, [3, 2], activation="sigmoid", seed=4), [0.2, -0.4], id="mlp-sigmoid"),
    pytest.param(lambda: SigmoidSum(6, seed=5), 0.7, id="sigmoid-sum"),
    pytest.param(lambda: SigmoidUnit(1.5, -0.5, 2.0), 0.7, id="sigmoid-unit"),
]


def _outputs(out) -> list[float]:
    return [v.data for v in out] if isinstance(out, list) else [out.data]


@pytest.mark.parametrize(("build", "x"), ALL_MODELS)
def test_save_and_load_round_trip_restores_identical_outputs(build, x, tmp_path):
    model = build()
    path = tmp_path / "model.json"
    model.save(path)
    loaded = Module.load(path)
    assert type(loaded) is type(model)
    assert loaded.config() == model.config()
    assert [p.data for p in loaded.parameters()] == [p.data for p in model.parameters()]
    assert _outputs(loaded(x)) == _outputs(model(x))
    assert type(model).load(path).config() == model.config()
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]  # no temporary file left behind
    if os.name == "posix":
        umask = os.umask(0)
        os.umask(umask)
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # as open(path, "w") would make it


def test_saved_file_is_plain_json_with_class_config_and_parameters(tmp_path):
    model = MLP(2, [2, 1], seed=0)
    model.save(str(tmp_path / "m.json"))
    state = json.loads((tmp_path / "m.json").read_text())
    assert state["class"] == "MLP"
    assert state["config"] == {"nin": 2, "nouts": [2, 1], "activation": "relu"}
    assert state["parameters"] == {name: p.data for name, p in model.named_parameters()}


def test_save_replaces_an_existing_file(tmp_path):
    path = tmp_path / "m.json"
    MLP(2, [2, 1], seed=0).save(path)
    second = MLP(2, [2, 1], seed=1)
    second.save(path)
    assert [p.data for p in Module.load(path).parameters()] == [p.data for p in second.parameters()]


def _valid_state() -> dict:
    return MLP(2, [2, 1], seed=0).state_dict()


def _write(path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("contents", "fragment"),
    [
        ("", "not valid JSON"),
        ("{not json", "not valid JSON"),
        (json.dumps(_valid_state())[:-40], "not valid JSON"),  # truncated mid-write
        ("[1, 2, 3]", "expected a JSON object"),
        (json.dumps({**_valid_state(), "format": "other"}), "not a saved microgradlike model"),
        (json.dumps({**_valid_state(), "version": 99}), "unsupported version 99"),
        (json.dumps({**_valid_state(), "class": "os.system"}), "unknown model class 'os.system'"),
        (json.dumps({k: v for k, v in _valid_state().items() if k != "config"}), "missing keys ['config']"),
        (json.dumps({**_valid_state(), "config": {"nin": 2, "nouts": [2, 0]}}), "bad config for MLP"),
        (json.dumps({**_valid_state(), "config": {"nin": 2, "sizes": [2, 1]}}), "bad config for MLP"),
        (json.dumps({**_valid_state(), "config": [2, [2, 1]]}), "config must be a JSON object"),
        (json.dumps({**_valid_state(), "parameters": [1, 2]}), "must be a dict"),
    ],
)
def test_corrupt_or_wrong_files_raise_value_error_saying_what(tmp_path, contents, fragment):
    path = tmp_path / "bad.json"
    _write(path, contents)
    with pytest.raises(ValueError) as info:
        Module.load(path)
    assert fragment in str(info.value)
    assert "bad.json" in str(info.value)


def test_binary_garbage_is_a_value_error(tmp_path):
    path = tmp_path / "garbage.json"
    path.write_bytes(b"\xff\xfe\x00\x80garbage")
    with pytest.raises(ValueError, match=r"garbage\.json"):
        Module.load(path)


def test_missing_file_and_directory_are_value_errors(tmp_path):
    with pytest.raises(ValueError, match="no model file"):
        Module.load(tmp_path / "nope.json")
    with pytest.raises(ValueError, match=r"a directory, not a regular file; Module\.load reads a model file"):
        Module.load(tmp_path)


def test_parameters_not_matching_the_config_are_named(tmp_path):
    state = _valid_state()
    params = state["parameters"]
    del params["layers.0.neurons.1.w.0"]
    params["layers.0.neurons.2.w.0"] = 0.5
    params["layers.1.neurons.0.b"] = float("nan")  # json writes NaN; json.load reads it back
    _write(tmp_path / "m.json", json.dumps(state))
    with pytest.raises(ValueError) as info:
        Module.load(tmp_path / "m.json")
    message = str(info.value)
    assert "missing parameters layers.0.neurons.1.w.0" in message
    assert "unexpected parameters layers.0.neurons.2.w.0" in message
    assert "parameter layers.1.neurons.0.b must be a finite real number, got nan" in message


@pytest.mark.parametrize(
    ("cls_name", "config"),
    [
        ("Neuron", {"nin": 10**12, "activation": "relu"}),
        ("Layer", {"nin": 2, "nout": 10**12, "activation": "tanh"}),
        ("MLP", {"nin": 2, "nouts": [10**6, 10**6, 1], "activation": "relu"}),
        ("SigmoidSum", {"n": 10**12}),
    ],
)
def test_a_huge_config_is_refused_before_any_model_is_built(tmp_path, monkeypatch, cls_name, config):
    # A hostile file must not make `load` allocate a model far larger than the file itself:
    # the count the config implies is compared with the file's BEFORE anything is built.
    def refuse_to_build(seed):
        raise AssertionError(f"a model was being built for {config!r}")

    state = {**_valid_state(), "class": cls_name, "config": config, "parameters": {"b": 0.0}}
    monkeypatch.setattr(nn, "_rng", refuse_to_build)
    _write(tmp_path / "huge.json", json.dumps(state))
    with pytest.raises(ValueError, match=r"huge\.json.*bad config.*file holds 1\b"):
        Module.load(tmp_path / "huge.json")


@pytest.mark.parametrize(
    "model",
    [Neuron(3, seed=0), Layer(2, 4, seed=0), MLP(3, [4, 2, 1], seed=0), MLP(1, [1], seed=0),
     SigmoidUnit(), SigmoidSum(5, seed=0)],
    ids=repr,
)
def test_the_parameter_count_from_a_config_is_the_built_models(model):
    assert type(model)._parameter_count(**model.config()) == len(model.parameters())


@pytest.mark.parametrize(
    ("contents", "fragment"),
    [
        ('{"config": {"nin": ' + "9" * 5000 + "}}", "not valid JSON"),  # int too long to convert
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
    ids=["long-int", "deep-nesting"],
)
def test_json_the_parser_refuses_is_a_value_error_naming_the_file(tmp_path, contents, fragment):
    _write(tmp_path / "odd.json", contents)
    with pytest.raises(ValueError, match=r"odd\.json") as info:
        Module.load(tmp_path / "odd.json")
    assert fragment in str(info.value)


def test_loading_a_file_of_another_class_or_shape_fails(tmp_path):
    path = tmp_path / "neuron.json"
    Neuron(2, seed=0).save(path)
    with pytest.raises(ValueError, match=r"holds a Neuron, but MLP\.load was called"):
        MLP.load(path)
    bigger = MLP(2, [4, 1], seed=0)
    with pytest.raises(ValueError, match="shapes differ"):
        bigger.load_state_dict(MLP(2, [3, 1], seed=0).state_dict())
    with pytest.raises(ValueError, match="state is for a 'Neuron'"):
        bigger.load_state_dict(Neuron(2, seed=0).state_dict())


@pytest.mark.parametrize(
    ("bad_value", "fragment"),
    [(True, "got bool: True"), ("0.5", "got str: '0.5'"), (None, "got NoneType: None"), (math.inf, "got inf"),
     ([1.0], "got list: [1.0]")],
)
def test_load_state_dict_rejects_wrong_type_or_non_finite_entries_and_changes_nothing(bad_value, fragment):
    model = Neuron(2, seed=0)
    before = [p.data for p in model.parameters()]
    flat = {"w.0": 1.0, "w.1": 2.0, "b": bad_value}
    with pytest.raises(ValueError) as info:
        model.load_state_dict(flat)
    assert f"parameter b must be a finite real number, {fragment}" in str(info.value)
    assert [p.data for p in model.parameters()] == before


def test_load_state_dict_accepts_a_flat_mapping():
    model = Neuron(2, seed=0)
    model.load_state_dict({"w.0": 1.0, "w.1": 2, "b": -0.5})
    assert [p.data for p in model.parameters()] == [1.0, 2.0, -0.5]
    with pytest.raises(ValueError, match="missing parameters b"):
        model.load_state_dict({"w.0": 1.0, "w.1": 2.0})
    with pytest.raises(TypeError, match="must be a dict"):
        model.load_state_dict([1.0, 2.0, 3.0])


def test_a_failed_save_of_non_finite_parameters_keeps_the_previous_file(tmp_path):
    path = tmp_path / "m.json"
    model = MLP(2, [2, 1], seed=0)
    model.save(path)
    before = path.read_bytes()
    model.layers[0].neurons[0].b.data = math.inf
    with pytest.raises(ValueError, match=r"layers\.0\.neurons\.0\.b must be a finite real number, got inf"):
        model.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_a_failed_serialisation_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "m.json"
    model = Neuron(2, seed=0)
    model.save(path)
    before = path.read_bytes()
    monkeypatch.setattr(model, "config", lambda: {"nin": object()})  # not JSON-able
    with pytest.raises(TypeError):
        model.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_a_crash_while_writing_keeps_the_previous_file_and_no_temp_file(tmp_path, monkeypatch, failing):
    path = tmp_path / "m.json"
    model = Neuron(2, seed=0)
    model.save(path)
    before = path.read_bytes()

    def crash(*args):
        raise OSError(f"simulated failure in os.{failing}")

    monkeypatch.setattr(os, failing, crash)
    with pytest.raises(OSError, match="simulated"):
        Neuron(2, seed=1).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_saving_into_a_missing_directory_fails_cleanly(tmp_path):
    with pytest.raises(OSError):
        Neuron(2, seed=0).save(tmp_path / "no" / "such" / "dir" / "m.json")


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_save_keeps_a_private_files_mode(tmp_path):
    path = tmp_path / "m.json"
    MLP(2, [2, 1], seed=0).save(path)
    path.chmod(0o600)
    MLP(2, [2, 1], seed=1).save(path)
    assert path.stat().st_mode & 0o777 == 0o600  # it used to become 0644, readable by everyone


def test_save_errors_name_the_users_path(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    with pytest.raises(IsADirectoryError) as info:
        Neuron(2, seed=0).save(folder)
    assert info.value.filename == str(folder) and ".tmp" not in str(info.value)


def test_a_name_of_255_characters_can_be_saved_and_loaded(tmp_path):
    path = tmp_path / ("m" * 250 + ".json")
    Neuron(2, seed=0).save(path)
    assert Module.load(path).config() == {"nin": 2, "activation": "relu"}


# ---- what a hostile or odd file gets back ---------------------------------------------------------
def test_version_true_is_not_version_1(tmp_path):
    _write(tmp_path / "m.json", json.dumps({**_valid_state(), "version": True}))
    with pytest.raises(ValueError, match="unsupported version True"):
        Module.load(tmp_path / "m.json")


@pytest.mark.parametrize("name", ["a\x00b", ""])
def test_an_impossible_file_name_says_so_not_invalid_json(name):
    with pytest.raises(ValueError) as info:
        Module.load(name)
    assert "JSON" not in str(info.value)
    assert ("NUL" if name else "empty") in str(info.value)


def test_a_400_digit_parameter_is_a_value_error(tmp_path):
    state = _valid_state()
    state["parameters"]["layers.0.neurons.0.b"] = 10**400
    _write(tmp_path / "m.json", json.dumps(state))
    with pytest.raises(ValueError, match=r"m\.json.*too large for a float"):
        Module.load(tmp_path / "m.json")


HUGE = "x" * 10_000_000


def _without(d: dict, key: str) -> dict:
    return {k: v for k, v in d.items() if k != key}


@pytest.mark.parametrize(
    "change",
    [
        {"format": HUGE},
        {"version": HUGE},
        {"class": HUGE},
        {"config": {"nin": HUGE}},
        {"config": {"nin": 2, "nouts": [2, 1], "activation": HUGE}},
        {"config": HUGE},
        {"parameters": {**_valid_state()["parameters"], "layers.0.neurons.0.b": HUGE}},
        {"parameters": {**_without(_valid_state()["parameters"], "layers.1.neurons.0.b"), HUGE: 1.0}},
        {"task": {"task": HUGE}},
        {"task": {"task": "classification", "classes": [HUGE, HUGE]}},
    ],
    ids=["format", "version", "class", "config-value", "activation", "config", "parameter-value",
         "parameter-name", "task", "classes"],
)
def test_a_10_mb_string_in_a_file_gives_a_short_message(tmp_path, change):
    _write(tmp_path / "m.json", json.dumps({**_valid_state(), **change}))
    with pytest.raises(ValueError) as info:
        Module.load(tmp_path / "m.json")
    assert len(str(info.value)) < 1000 and "m.json" in str(info.value)


# ---- predict: what the outputs mean ---------------------------------------------------------------
def test_predict_needs_a_task_and_says_how_to_record_one():
    model = MLP(2, [3, 1], seed=0)
    assert model.task is None
    with pytest.raises(ValueError, match=r"set_task\('classification'"):
        model.predict([[0.0, 1.0]])


def test_one_output_predicts_the_second_class_above_the_threshold():
    model = Neuron(1, "linear", seed=0)
    model.load_state_dict({"w.0": 1.0, "b": 0.0})  # the score is x itself
    X = np.array([[-2.0], [-0.1], [0.0], [0.3], [2.0]])
    model.set_task("classification", classes=["no", "yes"], loss="hinge")
    assert model.predict(X).tolist() == ["no", "no", "no", "yes", "yes"]
    model.set_task("classification", classes=[-1, 1], threshold=0.5, loss="mse")  # mse on 0/1 targets
    assert model.predict(X).tolist() == [-1, -1, -1, -1, 1]


def test_several_outputs_predict_the_largest_ones_class():
    model = Layer(2, 3, "linear", seed=0)
    model.load_state_dict({**{f"neurons.{i}.w.{j}": float(i == j) for i in range(3) for j in range(2)},
                           **{f"neurons.{i}.b": 0.0 for i in range(3)}, "neurons.2.b": 0.5})
    model.set_task("classification", classes=[10, 20, 30])
    # scores (x0, x1, 0.5): the largest wins
    assert model.predict([[1.0, 0.0], [0.0, 1.0], [0.1, 0.2]]).tolist() == [10, 20, 30]


def test_predict_of_no_rows_is_empty():
    model = MLP(2, [2, 3], seed=0)
    model.set_task("classification", classes=["a", "b", "c"])
    assert model.predict(np.empty((0, 2))).shape == (0,)


def test_regression_predicts_the_outputs():
    model = SigmoidSum(3, seed=0)
    model.set_task("regression", loss="mse")
    X = np.linspace(-2, 2, 5).reshape(-1, 1)
    # computed with numpy (all rows at once): the Values' numbers to rounding
    np.testing.assert_allclose(model.predict(X), [model(x).data for x in X[:, 0].tolist()],
                               rtol=1e-12, atol=1e-15)
    wide = Layer(1, 2, "linear", seed=0)
    wide.set_task("regression")
    assert wide.predict(X).shape == (5, 2)


def test_the_task_is_saved_and_loaded_and_old_files_still_load(tmp_path):
    model = MLP(2, [3, 3], seed=0)
    model.set_task("classification", classes=[2, 5, 7], loss="cross_entropy")
    model.save(tmp_path / "m.json")
    loaded = Module.load(tmp_path / "m.json")
    assert loaded.task == {"task": "classification", "classes": [2, 5, 7], "threshold": 0.0,
                           "loss": "cross_entropy"}
    X = np.random.default_rng(0).normal(size=(20, 2))
    assert loaded.predict(X).tolist() == model.predict(X).tolist()
    assert set(loaded.predict(X).tolist()) <= {2, 5, 7}
    old = {k: v for k, v in model.state_dict().items() if k != "task"}  # a file from before tasks
    _write(tmp_path / "old.json", json.dumps(old))
    assert Module.load(tmp_path / "old.json").task is None


def test_an_untrained_model_saved_from_python_records_no_task(tmp_path):
    MLP(2, [2, 1], seed=0).save(tmp_path / "m.json")
    assert "task" not in json.loads((tmp_path / "m.json").read_text())


@pytest.mark.parametrize(
    ("task", "fragment"),
    [
        ({"task": "clustering"}, "task must be"),
        ({"task": "classification"}, "classes as a list"),
        ({"task": "classification", "classes": [0]}, "at least two distinct"),
        ({"task": "classification", "classes": [0, 0]}, "at least two distinct"),
        ({"task": "classification", "classes": [0, 1, 2]}, "cannot score 3 classes"),
        ({"task": "classification", "classes": [0, [1]]}, "class label"),
        ({"task": "classification", "classes": [0, 1], "threshold": "0"}, "threshold"),
        ({"task": "regression", "classes": [0, 1]}, "no classes"),
        ({"task": "regression", "loss": 3}, "loss must be a name"),
        ({"task": "regression", "colour": "red"}, "unknown keys"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_a_bad_task_in_a_file_is_a_value_error(tmp_path, task, fragment):
    _write(tmp_path / "m.json", json.dumps({**_valid_state(), "task": task}))  # MLP(2, [2, 1])
    with pytest.raises(ValueError, match=fragment):
        Module.load(tmp_path / "m.json")


@pytest.mark.parametrize(
    ("X", "fragment"),
    [([1.0, 2.0], "2-D array of rows"), ([[1.0, 2.0], [3.0]], "rows of numbers"),
     ([[1.0, float("nan")]], r"X\[0, 1\]"), ([[1.0, 2.0, 3.0]], "takes 2 input")],
)
def test_predict_refuses_bad_rows(X, fragment):
    model = MLP(2, [2, 1], seed=0)
    model.set_task("regression")
    with pytest.raises(ValueError, match=fragment):
        model.predict(X)


@pytest.mark.parametrize("make", [
    lambda: MLP(2, [1], activation="x" * 10**6),
    lambda: MLP(2, "y" * 10**6),
    lambda: Neuron(2, seed="s" * 10**6),
    lambda: MLP(10**400, [1]),
])
def test_constructor_errors_quote_bad_values_short(make) -> None:
    with pytest.raises((TypeError, ValueError)) as info:
        make()
    assert len(str(info.value)) < 400


# ---- what save writes, load reads (issue 19) ----------------------------------------------------
class Tiny(Module):
    """A Module of one's own, as the Module docstring says to write one: config, a seed keyword,
    and _parameter_count."""

    def __init__(self, n: int, seed=None) -> None:
        rng = np.random.default_rng(seed)
        self.n = n
        self.w = [Value(float(v)) for v in rng.normal(size=n)]

    def config(self) -> dict:
        return {"n": self.n}

    @classmethod
    def _parameter_count(cls, n: int, **_) -> int:
        return n

    def __call__(self, x):
        return sum((wi * xi for wi, xi in zip(self.w, x)), Value(0.0))


class Doubled(MLP):
    """An MLP subclass with MLP's constructor: its file rebuilds a Doubled."""

    def __call__(self, x):
        return super().__call__(x) * 2


def _row_by_row(model, X):
    with no_grad():
        outs = [model(row) for row in X.tolist()]
    return np.array([[v.data for v in o] if isinstance(o, list) else [o.data] for o in outs])


@pytest.mark.parametrize("make", [
    lambda: MLP(2, [16, 16, 1], seed=0), lambda: MLP(2, [8, 3], "tanh", seed=1),
    lambda: MLP(2, [5, 1], "sigmoid", seed=2), lambda: Layer(2, 3, "relu", seed=0),
    lambda: Neuron(2, "tanh", seed=0), lambda: SigmoidSum(5, seed=0), lambda: SigmoidUnit(0.5, -0.2, 1.5),
])
def test_predict_computes_the_librarys_models_with_numpy_giving_the_values_numbers(make, monkeypatch):
    model = make()
    X = np.random.default_rng(0).normal(size=(300, model._input_width())) * 3
    expected = _row_by_row(model, X)
    model.set_task("regression")
    monkeypatch.setattr(type(model), "__call__", lambda *_: pytest.fail("a row evaluated with Values"))
    got = model.predict(X).reshape(len(X), -1)  # all rows at once: no Value built
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


def test_predict_of_200000_rows_takes_a_moment_not_half_a_minute():
    model = MLP(2, [16, 16, 1], seed=0)
    model.set_task("classification", classes=[0, 1], loss="hinge")
    X = np.random.default_rng(0).normal(size=(200_000, 2))
    start = time.perf_counter()
    labels = model.predict(X)
    assert time.perf_counter() - start < 5  # 31 s one row at a time with Values; ~0.05 s with numpy
    np.testing.assert_array_equal(labels[:200], (_row_by_row(model, X[:200])[:, 0] > 0).astype(int))


def test_a_subclass_predicts_with_its_own_call():
    model = Doubled(2, [3, 1], seed=0)  # its __call__ doubles the output: numpy would not know
    model.set_task("regression")
    X = np.random.default_rng(0).normal(size=(20, 2))
    assert model.predict(X).tolist() == _row_by_row(model, X)[:, 0].tolist()


class NoCount(Module):
    """A Module without _parameter_count: load could not check a file before building it."""

    def __init__(self, seed=None) -> None:
        self.w = Value(1.0)


class FixedShape(MLP):
    """An MLP subclass whose constructor is not MLP's: the config it inherits is not its arguments."""

    def __init__(self, seed=None) -> None:
        super().__init__(2, [3, 1], seed=seed)


def test_a_module_subclass_with_config_and_parameter_count_saves_and_loads(tmp_path):
    model = Tiny(3, seed=1)
    model.save(tmp_path / "tiny.json")
    loaded = Module.load(tmp_path / "tiny.json")
    assert type(loaded) is Tiny and loaded.config() == {"n": 3}
    assert [p.data for p in loaded.parameters()] == [p.data for p in model.parameters()]
    assert Tiny.load(tmp_path / "tiny.json").n == 3


def test_an_mlp_subclass_loads_as_itself(tmp_path):
    model = Doubled(2, [3, 1], seed=0)
    model.save(tmp_path / "d.json")
    loaded = Module.load(tmp_path / "d.json")
    assert type(loaded) is Doubled
    assert loaded([0.3, -0.7]).data == model([0.3, -0.7]).data
    with pytest.raises(ValueError, match="Doubled"):  # an MLP file is not a Doubled file, nor back
        Doubled.load(_saved(tmp_path, MLP(2, [3, 1], seed=0)))


def _saved(tmp_path, model) -> str:
    path = str(tmp_path / "m.json")
    model.save(path)
    return path


@pytest.mark.parametrize(("make", "fragment"), [
    (lambda: FixedShape(seed=0), "FixedShape.* unexpected keyword|config"),
    (lambda: NoCount(), "does not define _parameter_count"),
])
def test_save_refuses_a_model_its_file_could_not_rebuild(tmp_path, make, fragment):
    path = tmp_path / "m.json"
    with pytest.raises(ValueError, match=fragment) as info:
        make().save(path)
    assert "Module.load could not rebuild it" in str(info.value)
    assert not path.exists()


class StaticCount(Tiny):
    """A Tiny whose _parameter_count is a staticmethod: it counts a config as well as a classmethod."""

    @staticmethod
    def _parameter_count(n: int, **_) -> int:
        return n


class MethodCount(Tiny):
    def _parameter_count(self, n: int, **_) -> int:  # type: ignore[override]
        return n


class IntCount(Tiny):
    _parameter_count = 3  # type: ignore[assignment]


def test_a_staticmethod_parameter_count_saves_and_loads(tmp_path):
    model = StaticCount(3, seed=1)
    model.save(tmp_path / "s.json")
    loaded = Module.load(tmp_path / "s.json")
    assert type(loaded) is StaticCount
    assert [p.data for p in loaded.parameters()] == [p.data for p in model.parameters()]


@pytest.mark.parametrize(("cls", "got"), [(MethodCount, "a plain method, which needs a model to call it"),
                                          (IntCount, "int 3")])
def test_a_parameter_count_that_is_no_classmethod_is_refused_by_save_and_load(tmp_path, cls, got):
    """save raised AttributeError: 'function' object has no attribute '__func__'."""
    says = (f"{cls.__name__}._parameter_count must be a classmethod (or staticmethod) counting the "
            f"parameters of a config, got {got}")
    path = tmp_path / "m.json"
    with pytest.raises(ValueError, match=re.escape(says)):
        cls(3, seed=0).save(path)
    assert not path.exists()
    Tiny(3, seed=0).save(path)
    path.write_text(path.read_text().replace('.Tiny"', f'.{cls.__name__}"'))  # a file naming the class
    with pytest.raises(ValueError, match=re.escape(says)):
        Module.load(path)


def test_save_refuses_tied_weights_naming_them_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "m.json"
    _write(path, "old")
    model = MLP(2, [3, 1], seed=0)
    model.layers[0].neurons[1].w[0] = model.layers[0].neurons[0].w[0]  # tie two weights into one Value
    with pytest.raises(ValueError, match=r"makes 13 parameters, but it holds 12: layers\.0\.neurons\.0\.w\.0 "
                                         r"and layers\.0\.neurons\.1\.w\.0 are one Value"):
        model.save(path)
    assert path.read_text() == "old"


class PrivateScale(Tiny):
    """A Tiny that also keeps a Value where parameters() does not look: a private attribute."""

    def __init__(self, n: int, seed=None) -> None:
        super().__init__(n, seed)
        self._scale = Value(2.0)

    def __call__(self, x):
        return super().__call__(x) * self._scale


class DictShift(Tiny):
    """A Tiny that also keeps a Value where parameters() does not look: in a dict."""

    def __init__(self, n: int, seed=None) -> None:
        super().__init__(n, seed)
        self.extra = {"shift": Value(0.5)}

    def __call__(self, x):
        return super().__call__(x) + self.extra["shift"]


@pytest.mark.parametrize(("model", "where"), [
    (PrivateScale(2, seed=0), "_scale"),
    (DictShift(2, seed=0), r"extra\['shift'\]"),
])
def test_save_refuses_a_value_that_parameters_do_not_list_naming_the_attribute(tmp_path, model, where):
    # trained, say: the rebuilt model would have the constructor's 2.0 or 0.5 there, and used to
    with pytest.raises(ValueError, match=rf"the attribute {where} holds a Value that parameters\(\) does "
                                         rf"not list.*compute something else"):
        model.save(tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()


def _factory(k: float) -> type:
    class Scaled(Tiny):
        def __call__(self, x):
            return super().__call__(x) * k

    return Scaled


def test_save_refuses_a_class_whose_name_another_class_took(tmp_path):
    first, second = _factory(2.0), _factory(3.0)  # one qualname, two classes
    with pytest.raises(ValueError, match=r"two classes are named (tests\.)?test_nn\._factory\.<locals>\."
                                         r"Scaled: this model's, and .* defined after it"):
        first(1, seed=0).save(tmp_path / "m.json")  # load would have built a `second`
    model = second(1, seed=0)
    model.save(tmp_path / "m.json")  # the class the name now stands for
    loaded = Module.load(tmp_path / "m.json")
    assert type(loaded) is second and loaded([0.5]).data == model([0.5]).data
    del second, model, loaded
    gc.collect()  # the name's class is gone: the one left takes its name back, and loads as itself
    first(1, seed=0).save(tmp_path / "m.json")
    assert type(Module.load(tmp_path / "m.json")) is first


def test_numpy_scalars_in_parameters_save_as_numbers(tmp_path):
    model = MLP(2, [2, 1], seed=0)
    weights = np.linspace(-1, 1, len(model.parameters()), dtype=np.float32)
    for p, w in zip(model.parameters(), weights):
        p.data = w  # a float32 copied from an array
    model.save(tmp_path / "m.json")
    loaded = Module.load(tmp_path / "m.json")
    assert [p.data for p in loaded.parameters()] == [float(w) for w in weights]


@pytest.mark.parametrize(("data", "kind"), [(np.array(0.5), "ndarray array\\(0\\.5\\)"),
                                            (decimal.Decimal("0.5"), "Decimal Decimal\\('0\\.5'\\)")])
def test_save_names_a_parameter_whose_data_is_not_a_number_and_its_type(tmp_path, data, kind):
    model = MLP(2, [1], seed=0)
    model.layers[0].neurons[0].w[1].data = data
    with pytest.raises(TypeError, match=rf"data must be a float, but layers\.0\.neurons\.0\.w\.1 is {kind}"):
        model.save(tmp_path / "m.json")  # said "not finite numbers", naming no type
    assert not (tmp_path / "m.json").exists()


@posix_fifo
def test_load_refuses_a_fifo_at_once_instead_of_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "model.json"
    error = error_on_a_fifo(Module.load, fifo)
    assert isinstance(error, ValueError)
    assert str(error) == (f"{str(fifo)!r}: a FIFO (named pipe), not a regular file; Module.load reads "
                          f"a model file that save() wrote")


@posix_dev_zero
def test_load_refuses_a_device_rather_than_reading_without_end():
    said = error_on_dev_zero("from microgradlike.nn import Module", "Module.load('/dev/zero')")
    assert said == ("'/dev/zero': a device, not a regular file; Module.load reads a model file that "
                    "save() wrote")


def test_a_model_file_with_a_key_given_twice_is_refused_naming_it(tmp_path):
    text = json.dumps(_valid_state(), indent=1)
    name = "layers.0.neurons.0.b"
    twice = text.replace(f'"{name}": ', f'"{name}": 5.0,\n  "{name}": ', 1)
    assert json.loads(twice)["parameters"][name] != 5.0  # plain json keeps the last one, silently
    _write(tmp_path / "m.json", twice)
    with pytest.raises(ValueError, match=r"m\.json': the key 'layers\.0\.neurons\.0\.b' appears twice"):
        Module.load(tmp_path / "m.json")


def test_predict_refuses_rows_of_the_wrong_width_even_with_no_rows():
    model = MLP(2, [2, 1], seed=0)
    model.set_task("regression")
    with pytest.raises(ValueError, match=r"takes 2 input\(s\) per row, but X has rows of 5 \(shape \(0, 5"):
        model.predict(np.zeros((0, 5)))
    assert model.predict(np.zeros((0, 2))).shape == (0,)


@pytest.mark.parametrize(("X", "place"), [([[10**400, 1]], "X[0, 0]"), ([[0, 1], [1, -10**500]], "X[1, 1]")])
def test_predict_names_the_cell_of_an_int_too_large_for_a_float(X, place):
    model = MLP(2, [2, 1], seed=0)
    model.set_task("regression")
    with pytest.raises(ValueError, match=re.escape(place) + r" = -?100000000000… \(\d+ digits\) is too"):
        model.predict(X)



@pytest.mark.parametrize("where", [0, -1])  # a weight of the first layer, the bias of the last
def test_a_parameter_set_to_an_int_too_large_for_a_float_is_named_by_the_forward_pass_and_predict(where):
    """model(x) and predict raised a bare OverflowError (int too large to convert to float) where
    save says which parameter it is."""
    model = MLP(2, [2, 1], seed=0)
    model.set_task("regression")
    name, p = model.named_parameters()[where]
    p.data = 10**400
    said = rf"the data of (weight 0|the bias) of dot \({re.escape(name)}\) must be a real number, got 1000"
    with pytest.raises(ValueError, match=said):
        model([1.0, 2.0])
    refused = rf"cannot predict: parameter {re.escape(name)} must be a finite real number, got 1000"
    with pytest.raises(ValueError, match=refused):
        model.predict(np.array([[1.0, 2.0], [0.5, 0.0]]))


@pytest.mark.parametrize(("X", "says"), [
    ([["a", "b"]], "X[0, 0] must be a real number, got str: 'a'"),
    ([[0.1, "1e3"]], "X[0, 1] must be a real number, got str: '1e3'"),  # numpy read it as 1000.0
    ([[" 7 ", 0.1]], "X[0, 0] must be a real number, got str: ' 7 '"),
    ([[0.1, b"7"]], "X[0, 1] must be a real number, got bytes: b'7'"),
    ([[0.1, True]], "X[0, 1] must be a real number, got bool: True"),  # numpy read it as 1.0
    ([[0.1, np.complex128(1 + 2j)]], "X[0, 1] must be a real number, got complex128"),  # dropped 2j
    (np.array([[0.5, 1 + 0j]]), "X[0, 0] must be a real number, got complex: (0.5+0j)"),
    (np.array([[True, False]]), "X[0, 0] must be a real number, got bool: True"),
    (np.array([[0.5, None]], dtype=object), "X[0, 1] must be a real number, got NoneType: None"),
])
def test_predict_refuses_what_is_not_a_real_number_naming_its_cell(X, says):
    """predict reads X by the rule model(row) follows (`checks.real`), not numpy's float()."""
    model = MLP(2, [2, 1], seed=0)
    model.set_task("regression")
    with pytest.raises(TypeError, match=re.escape(says)):
        model.predict(X)


def test_predict_reads_arrays_of_any_real_dtype():
    model = MLP(2, [2, 1], seed=0)
    model.set_task("regression")
    want = model.predict([[1.0, 2.0], [-3.0, 0.5]])
    rows = [[1.0, 2.0], [-3.0, 0.5]]
    for X in (np.array(rows, dtype=np.float32), np.array(rows, dtype=object)):
        assert np.allclose(model.predict(X), want, rtol=1e-6)
    assert np.array_equal(model.predict(np.array([[1, 2]], dtype=np.int8)), want[:1])


@pytest.mark.parametrize("bad", [math.nan, math.inf, "abc"])
def test_predict_refuses_a_model_whose_parameter_is_not_a_finite_number_naming_it(bad):
    model = MLP(2, [2, 1], seed=0)
    model.set_task("classification", classes=[0, 1], loss="hinge")
    model.layers[1].neurons[0].w[1].data = bad
    with pytest.raises(ValueError, match=r"cannot predict: parameter layers\.1\.neurons\.0\.w\.1 must be a "
                                         r"finite real number, got"):
        model.predict([[0.1, 0.2]])


# ---- the task: classes and threshold (issue 19) ---------------------------------------------------
def test_classes_that_mix_strings_and_numbers_are_refused():
    model = MLP(2, [2, 1], seed=0)
    with pytest.raises(ValueError, match=r"all numbers or all strings, not a mix: got \['cat', 1\]"):
        model.set_task("classification", classes=["cat", 1], loss="hinge")
    assert model.task is None


@pytest.mark.parametrize(("classes", "loss", "threshold"), [
    ([0, 1], "mse", 0.5), ([-1, 1], "mse", 0.0), ([1, 2], "mse", 1.5),
    ([0, 1], "hinge", 0.0), (["no", "yes"], "hinge", 0.0), ([0, 1], "bce", 0.0),
    (["no", "yes"], "binary_cross_entropy", 0.0),
])
def test_the_threshold_follows_from_the_loss_and_the_classes_targets(classes, loss, threshold):
    model = MLP(2, [2, 1], seed=0)
    model.set_task("classification", classes=classes, loss=loss)
    assert model.task["threshold"] == threshold


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"classes": [0, 1]}, "give loss="),
    ({"classes": ["no", "yes"], "loss": "mse"}, "midpoint of the two classes' targets"),
    ({"classes": [0, 1], "loss": "cross_entropy"}, "one output per class"),
])
def test_a_threshold_nothing_implies_is_asked_for(kwargs, fragment):
    model = MLP(2, [2, 1], seed=0)
    with pytest.raises(ValueError, match=fragment):
        model.set_task("classification", **kwargs)
    model.set_task("classification", **kwargs, threshold=0.25)  # said outright, it is taken
    assert model.task["threshold"] == 0.25


def test_set_task_none_forgets_the_task():
    model = MLP(2, [2, 1], seed=0)
    model.set_task("regression")
    model.set_task(None)
    assert model.task is None
