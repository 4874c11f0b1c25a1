"""microgradlike.bridge: the same model in PyTorch and back, with the same numbers (to 1e-12).

The tests that need torch are skipped when it is not installed; the one that checks what happens
without torch simulates its absence, so it always runs.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import microgradlike
from microgradlike import Value, losses
from microgradlike.nn import MLP, Layer, Neuron, SigmoidSum

TOL = {"rel": 1e-12, "abs": 1e-12}
ACTIVATIONS = ["relu", "tanh", "sigmoid", "linear"]
TORCH_REASON = "the bridge needs PyTorch: pip install torch==2.13.0 (or the torch extra)"


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason=TORCH_REASON)


@pytest.fixture
def bridge(torch):
    from microgradlike import bridge

    return bridge


def models(activation: str) -> list:
    return [
        Neuron(3, activation, seed=1),
        Layer(3, 4, activation, seed=2),
        MLP(3, [5, 4, 2], activation, seed=3),
        MLP(3, [6, 1], activation, seed=4),
    ]


def model_ids() -> list[str]:
    return ["Neuron(3)", "Layer(3, 4)", "MLP(3, [5, 4, 2])", "MLP(3, [6, 1])"]


def torch_parameters(net, grads: bool = False) -> list[float]:
    """The torch module's parameters (or their grads) as floats in `model.parameters()` order:
    per Linear, per row i (neuron i), the row's weights then its bias."""
    out = []
    for module in net:
        if hasattr(module, "weight"):
            weight, bias = (module.weight.grad, module.bias.grad) if grads else (module.weight, module.bias)
            for row, b in zip(weight.double().tolist(), bias.double().tolist()):
                out.extend([*row, b])
    return out


def width(model) -> int:
    return model.nouts[-1] if isinstance(model, MLP) else getattr(model, "nout", 1)


# ---- round trip -----------------------------------------------------------------------------------
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("index", range(4), ids=model_ids())
def test_to_torch_then_from_torch_gives_back_the_same_model(bridge, activation, index):
    model = models(activation)[index]
    back = bridge.from_torch(bridge.to_torch(model))
    assert type(back) is type(model)
    assert back.config() == model.config()
    assert back.state_dict()["parameters"] == model.state_dict()["parameters"]  # exactly


def test_a_one_layer_model_of_width_one_comes_back_as_the_neuron_it_equals(bridge):
    layer = Layer(3, 1, "tanh", seed=0)
    back = bridge.from_torch(bridge.to_torch(layer))
    assert back.config() == {"nin": 3, "activation": "tanh"}  # a Neuron: the rule the docs state
    assert [p.data for p in back.parameters()] == [p.data for p in layer.parameters()]
    assert back([0.1, -0.2, 0.3]).data == layer([0.1, -0.2, 0.3]).data


def test_an_mlp_without_hidden_layers_comes_back_with_the_default_activation(bridge):
    mlp = MLP(3, [2], "tanh", seed=0)  # its activation is unused: the only layer is linear
    back = bridge.from_torch(bridge.to_torch(mlp))
    assert back.config() == {"nin": 3, "nouts": [2], "activation": "relu"}
    assert back.state_dict()["parameters"] == mlp.state_dict()["parameters"]


def test_the_torch_module_is_the_documented_sequential(bridge, torch):
    net = bridge.to_torch(MLP(2, [16, 16, 1], activation="tanh", seed=0))
    assert [type(m).__name__ for m in net] == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]
    assert [(m.in_features, m.out_features) for m in net[::2]] == [(2, 16), (16, 16), (16, 1)]
    assert all(p.dtype == torch.float64 and p.requires_grad for p in net.parameters())
    assert [type(m).__name__ for m in bridge.to_torch(Neuron(2, "linear", seed=0))] == ["Linear", "Identity"]


def test_the_torch_module_holds_copies(bridge, torch):
    model = Neuron(2, seed=0)
    net = bridge.to_torch(model)
    with torch.no_grad():
        net[0].bias += 1.0
    assert model.b.data == 0.0


# ---- same outputs and gradients -------------------------------------------------------------------
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("index", range(4), ids=model_ids())
def test_outputs_and_gradients_match_torch(bridge, torch, activation, index):
    """A weighted sum of the outputs, so every output's gradient path is checked, not just their sum."""
    model = models(activation)[index]
    net = bridge.to_torch(model)
    rng = np.random.default_rng(index)
    x = rng.normal(0, 1.5, size=3).tolist()
    weights = rng.normal(size=width(model)).tolist()

    xs = [Value(v) for v in x]
    out = model(xs)
    outs = [out] if isinstance(out, Value) else out
    assert len(outs) == width(model)
    sum(c * o for c, o in zip(weights, outs)).backward()

    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    t_out = net(tx)
    assert t_out.shape == (width(model),)  # one row in, the width as the last axis (1 included)
    (torch.tensor(weights, dtype=torch.float64) * t_out).sum().backward()

    assert [o.data for o in outs] == pytest.approx(t_out.tolist(), **TOL)
    assert [v.grad for v in xs] == pytest.approx(tx.grad.tolist(), **TOL)
    assert [p.grad for p in model.parameters()] == pytest.approx(torch_parameters(net, grads=True), **TOL)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_a_batch_gives_one_row_of_outputs_per_input_row(bridge, torch, activation):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(7, 3))
    for model in models(activation):
        net = bridge.to_torch(model)
        ours = [model(row) for row in X.tolist()]
        theirs = net(torch.tensor(X))
        assert theirs.shape == (7, width(model))
        if width(model) == 1:  # model(row) is a Value: squeeze the width axis to compare
            assert [v.data for v in ours] == pytest.approx(theirs.squeeze(-1).tolist(), **TOL)
        else:
            ours_table = np.array([[v.data for v in row] for row in ours])
            assert ours_table == pytest.approx(theirs.detach().numpy(), **TOL)


# ---- a plain torch model ---------------------------------------------------------------------------
@pytest.mark.parametrize("act", ["ReLU", "Tanh", "Sigmoid", "Identity"])
def test_a_plain_torch_sequential_converts_and_computes_the_same_outputs(bridge, torch, act):
    torch.manual_seed(0)
    nn = torch.nn
    net = nn.Sequential(nn.Linear(4, 8), getattr(nn, act)(), nn.Linear(8, 8), getattr(nn, act)(),
                        nn.Linear(8, 3))  # torch's default init, float32
    model = bridge.from_torch(net)
    assert model.config() == {"nin": 4, "nouts": [8, 8, 3], "activation": act.lower().replace("identity",
                                                                                               "linear")}
    X = np.random.default_rng(1).normal(size=(6, 4))
    ours = np.array([[v.data for v in model(row)] for row in X.tolist()])
    net64 = net.to(torch.float64)  # the same weights, widened exactly
    assert ours == pytest.approx(net64(torch.tensor(X)).detach().numpy(), **TOL)
    assert [p.data for p in model.parameters()] == torch_parameters(net64)


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_weights_of_any_floating_dtype_are_read_as_float64(bridge, torch, dtype):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Sigmoid()).to(getattr(torch, dtype))
    model = bridge.from_torch(net)
    assert [p.data for p in model.parameters()] == torch_parameters(net)


# ---- refusals ----------------------------------------------------------------------------------------
def bad_modules(nn):
    L, R, T = nn.Linear, nn.ReLU, nn.Tanh
    shared = L(3, 3)

    class MyReLU(nn.ReLU):
        pass

    return [
        (L(2, 3), TypeError, "takes a torch.nn.Sequential of Linear"),
        (nn.Sequential(), ValueError, "empty Sequential"),
        (nn.Sequential(L(2, 3), nn.Dropout()), TypeError,
         "layer 1 (Dropout(p=0.5, inplace=False)) is a Dropout"),
        (nn.Sequential(L(2, 3), nn.LeakyReLU(), L(3, 1)), TypeError, "layer 1 (LeakyReLU(negative_slope"),
        (nn.Sequential(L(2, 3), MyReLU(), L(3, 1)), TypeError, "layer 1 (MyReLU()) is a MyReLU"),
        (nn.Sequential(nn.Sequential(L(2, 3))), TypeError, "layer 0 (Sequential("),
        (nn.Sequential(R(), L(2, 3)), ValueError, "layer 0 (ReLU()) comes before any Linear"),
        (nn.Sequential(L(2, 3), R(), T(), L(3, 1)), ValueError,
         "layer 2 (Tanh()) follows another activation (layer 1: ReLU())"),
        (nn.Sequential(L(2, 3), R(), L(4, 1)), ValueError,
         "layer 2 (Linear(in_features=4, out_features=1, bias=True)) takes 4 inputs but layer 0 "
         "(Linear(in_features=2, out_features=3, bias=True)) gives 3"),
        (nn.Sequential(L(2, 3), L(3, 1)), ValueError,
         "layer 1 (Linear(in_features=3, out_features=1, bias=True)) follows layer 0"),
        (nn.Sequential(L(2, 3), R(), L(3, 3), T(), L(3, 1)), ValueError,
         "different activations (layer 1: ReLU(), layer 3: Tanh())"),
        (nn.Sequential(L(2, 3), R(), L(3, 1), nn.Sigmoid()), ValueError,
         "layer 3 (Sigmoid()) comes after the last Linear (layer 2)"),
        (nn.Sequential(L(2, 3), R(), L(3, 1, bias=False)), ValueError,
         "layer 2 (Linear(in_features=3, out_features=1, bias=False)) has no bias"),
        (nn.Sequential(shared, R(), shared), ValueError, "layer 2 is the same Linear object as layer 0"),
    ]


def test_bad_modules_are_refused_with_a_message_naming_the_layer(bridge, torch):
    for module, error, fragment in bad_modules(torch.nn):
        with pytest.raises(error) as info:
            bridge.from_torch(module)
        assert fragment in str(info.value), module


def test_complex_and_non_finite_weights_are_refused(bridge, torch):
    nn = torch.nn
    complex_net = nn.Sequential(nn.Linear(2, 1, dtype=torch.complex128), nn.ReLU())
    with pytest.raises(TypeError, match=r"layer 0 .* has a weight of dtype torch.complex128"):
        bridge.from_torch(complex_net)
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    with torch.no_grad():
        net[2].weight[0, 1] = float("nan")
    with pytest.raises(ValueError, match=r"neurons\.0\.w\.1 must be a finite real number, got nan"):
        bridge.from_torch(net)


@pytest.mark.parametrize("thing", [SigmoidSum(2, seed=0), Value(1.0), 3.0, [Neuron(2, seed=0)]])
def test_to_torch_refuses_what_it_cannot_convert(bridge, thing):
    with pytest.raises(TypeError, match="to_torch converts a Neuron, Layer or MLP, got"):
        bridge.to_torch(thing)


class Doubled(MLP):
    """An MLP whose output is twice the plain MLP's: no Sequential of the table computes it."""

    def __call__(self, x):
        return 2 * super().__call__(x)


class QuietLayer(Layer):
    pass


class QuietNeuron(Neuron):
    pass


def test_to_torch_refuses_a_subclass_by_name_rather_than_dropping_what_it_adds(bridge):
    model = Doubled(2, [3, 1], seed=0)
    assert model([1.0, 2.0]).data == 2 * MLP(2, [3, 1], seed=0)([1.0, 2.0]).data
    with pytest.raises(TypeError, match=r"got Doubled, a subclass of MLP: it may compute something else"):
        bridge.to_torch(model)
    with pytest.raises(TypeError, match=r"got QuietNeuron, a subclass of Neuron"):
        bridge.to_torch(QuietNeuron(2, seed=0))


def test_to_torch_refuses_a_subclass_inside_the_model_naming_where(bridge):
    mlp = MLP(2, [3, 1], seed=0)
    mlp.layers[1] = QuietLayer(3, 1, "linear", seed=0)
    with pytest.raises(TypeError, match=r"layers\.1 of this MLP is a QuietLayer, not a Layer"):
        bridge.to_torch(mlp)
    layer = Layer(2, 3, seed=0)
    layer.neurons[2] = QuietNeuron(2, seed=0)
    with pytest.raises(TypeError, match=r"neurons\.2 of this Layer is a QuietNeuron, not a Neuron"):
        bridge.to_torch(layer)
    mlp = MLP(2, [3, 1], seed=0)
    mlp.layers[0].neurons[1] = QuietNeuron(2, seed=0)
    with pytest.raises(TypeError, match=r"layers\.0\.neurons\.1 of this MLP is a QuietNeuron"):
        bridge.to_torch(mlp)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_to_torch_refuses_non_finite_parameters_naming_them_as_save_does(bridge, bad):
    model = MLP(2, [3, 1], seed=0)
    model.layers[1].neurons[0].w[2].data = bad
    with pytest.raises(ValueError, match=rf"w\.2 must be a finite real number, got {bad!r}"):
        bridge.to_torch(model)
    model.layers[1].neurons[0].w[2].data = Value(0.5)  # what a step on a create_graph grad leaves
    with pytest.raises(TypeError, match=r"parameter layers\.1\.neurons\.0\.w\.2 must be a finite real "
                                        r"number, got Value: Value\(data=0\.5"):
        bridge.to_torch(model)


def test_from_torch_refuses_the_meta_device_by_layer(bridge, torch):
    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1, device="meta"))
    with pytest.raises(ValueError, match=r"layer 2 \(Linear\(.*\)\) is on the meta device: its weight has "
                                         r"a shape but no values"):
        bridge.from_torch(net)


@pytest.mark.parametrize("where", ["sequential", "first", "last", "activation"])
@pytest.mark.parametrize("kind", ["forward", "forward_pre", "full_backward", "full_backward_pre",
                                  "forward_attr"])
def test_from_torch_refuses_a_module_with_a_hook_naming_where(bridge, torch, where, kind):
    """Attack A7: a forward hook that doubled the output was dropped without a word."""
    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    part = {"sequential": net, "first": net[0], "activation": net[1], "last": net[2]}[where]
    hooks = {"forward": lambda m, i, o: o * 2, "forward_pre": lambda m, i: (i[0] * 2,),
             "full_backward": lambda m, gi, go: None, "full_backward_pre": lambda m, go: None}
    if kind == "forward_attr":
        part.forward = lambda x: x * 2  # an instance attribute: what the module computes, not its class's
    else:
        getattr(part, f"register_{kind}_hook")(hooks[kind])
    named = {"sequential": "the Sequential", "first": "layer 0 (Linear(", "activation": "layer 1 (Tanh())",
             "last": "layer 2 (Linear("}[where]
    said = "a forward of its own" if kind == "forward_attr" else \
        f"a {kind.replace('full_', '').replace('_pre', ' pre-')}{'' if kind.endswith('pre') else ' '}hook"
    with pytest.raises(ValueError) as info:
        bridge.from_torch(net)
    assert str(info.value).startswith(named) and said in str(info.value), str(info.value)


def test_from_torch_refuses_a_weight_norm_which_is_a_pre_hook(bridge, torch):
    import warnings

    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch says weight_norm is deprecated: it is still in use
        torch.nn.utils.weight_norm(net[2])
    with pytest.raises(ValueError, match=r"^layer 2 \(.*\) has a forward pre-hook"):
        bridge.from_torch(net)


def test_from_torch_refuses_while_a_global_module_hook_is_registered(bridge, torch):
    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    handle = torch.nn.modules.module.register_module_forward_hook(lambda m, i, o: o)
    try:
        with pytest.raises(ValueError, match=r"a global forward hook is registered \(torch\.nn\.modules\."
                                             r"module\.register_module_forward_hook\)"):
            bridge.from_torch(net)
    finally:
        handle.remove()
    assert isinstance(bridge.from_torch(net), MLP)  # and without the hook it converts


def test_from_torch_converts_once_a_hook_is_removed(bridge, torch):
    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    net[0].register_forward_hook(lambda m, i, o: o * 2).remove()
    x = [0.3, -0.7]
    assert bridge.from_torch(net)(x).data == pytest.approx(net(torch.tensor(x)).item(), rel=1e-6)


@pytest.mark.parametrize(("make", "change", "said"), [
    (lambda: MLP(2, [3, 1], seed=0), lambda m: m.layers[0].neurons[1].w.pop(),
     "layers.0.neurons.1 has 1 weight for 2 inputs"),
    (lambda: MLP(2, [3, 1], seed=0), lambda m: m.layers[1].neurons[0].w.append(Value(0.5)),
     "layers.1.neurons.0 has 4 weights for 3 inputs"),
    (lambda: MLP(2, [3, 1], seed=0), lambda m: m.layers[0].neurons.pop(),
     "layers.0 has 2 neurons, but was made with 3"),
    (lambda: MLP(2, [3, 1], seed=0), lambda m: m.layers.pop(), "it has 1 layer, but was made with 2"),
    (lambda: Layer(2, 3, seed=0), lambda m: m.neurons[2].w.pop(), "neurons.2 has 1 weight for 2 inputs"),
    (lambda: Layer(2, 3, seed=0), lambda m: m.neurons.pop(), "the layer has 2 neurons, but was made with 3"),
    (lambda: Neuron(3, seed=0), lambda m: m.w.pop(), "the neuron has 2 weights for 3 inputs"),
])
def test_to_torch_refuses_a_model_that_lost_a_weight_naming_where(bridge, make, change, said):
    """Attack A25: PyTorch's own "expected sequence of length 1" said nothing of the model."""
    model = make()
    change(model)
    with pytest.raises(ValueError, match="cannot convert") as info:
        bridge.to_torch(model)
    assert said in str(info.value)


def tie_a_weight(mlp):
    mlp.layers[0].neurons[2].w[1] = mlp.layers[0].neurons[0].w[1]


def share_a_neuron(layer):
    layer.neurons[2] = layer.neurons[0]


@pytest.mark.parametrize(("make", "tie", "places"), [
    (lambda: MLP(2, [3, 1], seed=0), tie_a_weight, "layers.0.neurons.0.w.1 and layers.0.neurons.2.w.1"),
    (lambda: MLP(2, [3, 1], seed=0), lambda m: setattr(m.layers[1].neurons[0], "b", m.layers[0].neurons[1].b),
     "layers.0.neurons.1.b and layers.1.neurons.0.b"),
    (lambda: Layer(2, 3, seed=0), share_a_neuron, "neurons.0.w.0 and neurons.2.w.0"),
    (lambda: Neuron(2, seed=0), lambda m: setattr(m, "b", m.w[1]), "w.1 and b"),
], ids=["a weight", "across layers", "a neuron twice", "a weight as the bias"])
def test_to_torch_refuses_tied_weights_naming_the_places_save_names(bridge, make, tie, places, tmp_path):
    """Attack B1: a Linear holds a number per place, so a Value at two places got two entries that
    trained apart, and fit(engine='torch') read 17 numbers back into 16 Values, shifted. The one rule
    of `parameters.tied` finds the two places, for to_torch as for save."""
    model = make()
    tie(model)
    with pytest.raises(ValueError, match="cannot convert") as converting:
        bridge.to_torch(model)
    with pytest.raises(ValueError, match="cannot save") as saving:
        model.save(tmp_path / "tied.json")
    for refusal in (converting, saving):
        assert f"{places} are one Value (tied weights)" in str(refusal.value)


# ---- losses ------------------------------------------------------------------------------------------
def loss_cases(rng):
    scores = [*rng.normal(0, 2, size=9).tolist(), 0.5, -1.0]  # ±1 margins land on the hinge's kink
    labels01 = [*rng.integers(0, 2, size=9).tolist(), 1, 1]
    rows = rng.normal(0, 3, size=(6, 4)).tolist()
    rows[0] = [1000.0, -1000.0, 3.0, 0.0]  # far logits: both sides stay exact and finite
    return [
        ("mse", scores, rng.normal(size=11).tolist()),
        ("binary_cross_entropy", [*scores[:-1], 1000.0], labels01),
        ("cross_entropy", rows, rng.integers(0, 4, size=6).tolist()),
        ("hinge", scores, labels01),
        ("hinge", scores, [2 * t - 1 for t in labels01]),
        ("bce", scores, labels01),
        ("CE", rows, [3, 0, 1, 2, 2, 1]),
    ]


@pytest.mark.parametrize("case", range(7))
def test_each_torch_loss_gives_the_same_value_and_gradients(bridge, torch, case):
    name, outputs, targets = loss_cases(np.random.default_rng(0))[case]
    ours = [[Value(v) for v in row] for row in outputs] if isinstance(outputs[0], list) \
        else [Value(v) for v in outputs]
    loss = losses.get_loss(name)(ours, targets)
    loss.backward()
    flat = [v for row in ours for v in row] if isinstance(outputs[0], list) else ours

    t_out = torch.tensor(outputs, dtype=torch.float64, requires_grad=True)
    integer_targets = losses.get_loss(name) is losses.cross_entropy
    t_targets = torch.tensor(targets, dtype=torch.int64 if integer_targets else torch.float64)
    t_loss = bridge.torch_loss(name)(t_out, t_targets)
    t_loss.backward()
    assert loss.data == pytest.approx(t_loss.item(), **TOL)
    assert [v.grad for v in flat] == pytest.approx(t_out.grad.flatten().tolist(), **TOL)


@pytest.mark.parametrize(("name", "nouts"), [("mse", [4, 1]), ("binary_cross_entropy", [4, 1]),
                                             ("hinge", [4, 1]), ("cross_entropy", [4, 3])])
def test_a_model_and_its_loss_give_the_same_parameter_gradients(bridge, torch, name, nouts):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(8, 2))
    y = rng.integers(0, nouts[-1] if nouts[-1] > 1 else 2, size=8)
    model = MLP(2, nouts, "tanh", seed=0)
    net = bridge.to_torch(model)
    loss = losses.get_loss(name)([model(row) for row in X.tolist()], y.tolist())
    loss.backward()
    out = net(torch.tensor(X))
    if nouts[-1] == 1:
        out = out.squeeze(-1)  # one number per row, like model(row)
    t_y = torch.tensor(y, dtype=torch.int64 if name == "cross_entropy" else torch.float64)
    t_loss = bridge.torch_loss(name)(out, t_y)
    t_loss.backward()
    assert loss.data == pytest.approx(t_loss.item(), **TOL)
    assert [p.grad for p in model.parameters()] == pytest.approx(torch_parameters(net, grads=True), **TOL)


def test_torch_loss_refuses_bad_names_shapes_and_labels(bridge, torch):
    with pytest.raises(ValueError, match="unknown loss 'l1'"):
        bridge.torch_loss("l1")
    with pytest.raises(TypeError, match="takes a loss name such as 'mse', got function"):
        bridge.torch_loss(losses.mse)
    scores = torch.zeros(4, 1, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"scores have shape \(4, 1\) but targets \(4,\)"):
        bridge.torch_loss("hinge")(scores, torch.tensor([0.0, 1.0, 1.0, 0.0]))
    with pytest.raises(ValueError, match=r"target 2 is 2\.0; targets must be -1/"):
        bridge.torch_loss("hinge")(scores.squeeze(-1), torch.tensor([0.0, 1.0, 2.0, 0.0]))


def test_torch_hinge_of_no_examples_is_refused_as_hinge_refuses_it(bridge, torch):
    with pytest.raises(ValueError, match="scores and targets are empty") as ours:
        losses.hinge([], [])
    empty = torch.zeros(0, dtype=torch.float64)
    with pytest.raises(ValueError) as theirs:
        bridge.torch_loss("hinge")(empty, empty)
    assert str(theirs.value) == str(ours.value)


ALL_LOSSES = ["mse", "binary_cross_entropy", "cross_entropy", "hinge"]


def empty_inputs(torch, name):
    """No example, as each loss takes its inputs: torch tensors and the plain lists `losses` takes."""
    if name == "cross_entropy":
        return torch.zeros(0, 3, dtype=torch.float64), torch.zeros(0, dtype=torch.int64), [], []
    return torch.zeros(0, dtype=torch.float64), torch.zeros(0, dtype=torch.float64), [], []


@pytest.mark.parametrize("name", ALL_LOSSES)
def test_every_torch_loss_refuses_no_example_as_its_microgradlike_loss_does(bridge, torch, name):
    """Attack A8/A24: torch's mean of nothing is nan; only torch_hinge refused it."""
    outputs, targets, ours_outputs, ours_targets = empty_inputs(torch, name)
    with pytest.raises(ValueError) as ours:
        losses.get_loss(name)(ours_outputs, ours_targets)
    with pytest.raises(ValueError) as theirs:
        bridge.torch_loss(name)(outputs, targets)
    assert str(theirs.value) == str(ours.value)


@pytest.mark.parametrize("name", ["mse", "binary_cross_entropy", "hinge"])
def test_every_torch_loss_refuses_a_width_1_output_against_flat_targets(bridge, torch, name):
    """Attack A8: MSELoss broadcast (3, 1) against (3,) into a (3, 3) table: 1.074 for a loss of 0.43."""
    scores = torch.tensor([[0.2], [0.9], [-0.4]], dtype=torch.float64)
    targets = torch.tensor([0.0, 1.0, 1.0], dtype=torch.float64)
    first = {"mse": "preds", "binary_cross_entropy": "logits", "hinge": "scores"}[name]
    with pytest.raises(ValueError, match=rf"^{first} have shape \(3, 1\) but targets \(3,\); they must match "
                                         r"\(squeeze a width-1 output: net\(X\)\.squeeze\(-1\)\)$"):
        bridge.torch_loss(name)(scores, targets)
    squeezed = bridge.torch_loss(name)(scores.squeeze(-1), targets).item()
    ours = losses.get_loss(name)(scores.squeeze(-1).tolist(), targets.tolist()).data
    assert squeezed == pytest.approx(ours)


@pytest.mark.parametrize(("logits", "ids", "error", "said"), [
    ((4, 3), (4, 1), ValueError, r"logits_rows has shape \(4, 3\) but class_ids \(4, 1\); there is one"),
    ((4, 3), (3,), ValueError, r"logits_rows has shape \(4, 3\) but class_ids \(3,\)"),
    ((4, 3), (4, 3), ValueError, r"class_ids \(4, 3\); there is one class id per row: shape \(4,\)"),
    ((2, 3, 4), (2, 4), ValueError, r"logits_rows has shape \(2, 3, 4\); cross_entropy takes rows"),
    ((4, 0), (4,), ValueError, r"row 0 of logits_rows is empty"),
])
def test_cross_entropy_refuses_ids_that_are_not_one_per_row(bridge, torch, logits, ids, error, said):
    with pytest.raises(error, match=said):
        bridge.torch_loss("ce")(torch.zeros(logits, dtype=torch.float64), torch.zeros(ids, dtype=torch.int64))


def test_cross_entropy_refuses_float_class_ids_and_takes_one_row(bridge, torch):
    logits = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64)
    with pytest.raises(TypeError, match=r"class_ids has dtype torch\.float64; class ids are integers"):
        bridge.torch_loss("cross_entropy")(logits, torch.tensor([2.0], dtype=torch.float64))
    one_row = bridge.torch_loss("cross_entropy")(logits[0], torch.tensor(2)).item()
    assert one_row == pytest.approx(losses.cross_entropy([0.5, -1.0, 2.0], 2).data)


@pytest.mark.parametrize("name", ALL_LOSSES)
def test_every_torch_loss_refuses_lists_int_outputs_and_meta_tensors(bridge, torch, name):
    """Attack A23: torch_hinge on lists raised AttributeError, on ints a dtype error from mean(),
    on the meta device an error from .item()."""
    loss = bridge.torch_loss(name)
    ce = name == "cross_entropy"
    outputs = torch.tensor([[0.5, -0.5], [1.0, 0.0]] if ce else [0.5, -0.5], dtype=torch.float64)
    targets = torch.tensor([1, 0]) if ce else torch.tensor([1.0, 0.0])
    first, second = {"mse": ("preds", "targets"), "binary_cross_entropy": ("logits", "targets"),
                     "cross_entropy": ("logits_rows", "class_ids"), "hinge": ("scores", "targets")}[name]
    assert loss(outputs, targets).item() == pytest.approx(
        losses.get_loss(name)(outputs.tolist(), targets.tolist()).data)
    with pytest.raises(TypeError, match=rf"^{first} must be a torch.Tensor, got list: "):
        loss(outputs.tolist(), targets)
    with pytest.raises(TypeError, match=rf"^{second} must be a torch.Tensor, got list: "):
        loss(outputs, targets.tolist())
    with pytest.raises(TypeError, match=rf"^{first} has dtype torch.int64; a model's outputs are floating"):
        loss(outputs.long(), targets)
    with pytest.raises(ValueError, match=rf"^{first} is on the meta device: it has a shape, .*, but no val"):
        loss(outputs.to("meta"), targets)
    with pytest.raises(ValueError, match=rf"^{second} is on the meta device"):
        loss(outputs, targets.to("meta"))
    with pytest.raises(TypeError, match=rf"^{second} has dtype torch.bool; a loss takes real numbers"):
        loss(outputs, targets.bool())


def test_torch_hinge_takes_integer_targets(bridge, torch):
    scores = torch.tensor([0.5, -2.0, 0.1], dtype=torch.float64)
    value = bridge.torch_hinge(scores, torch.tensor([1, 0, -1])).item()
    assert value == pytest.approx(losses.hinge([0.5, -2.0, 0.1], [1, 0, -1]).data)


# ---- without torch ------------------------------------------------------------------------------------
def test_without_torch_the_bridge_imports_and_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    monkeypatch.delitem(sys.modules, "microgradlike.bridge", raising=False)
    monkeypatch.delattr(microgradlike, "bridge", raising=False)
    bridge = importlib.import_module("microgradlike.bridge")  # a fresh import, without torch
    calls = [lambda: bridge.to_torch(MLP(2, [3, 1], seed=0)), lambda: bridge.from_torch(object()),
             lambda: bridge.torch_loss("mse")]
    for call in calls:
        with pytest.raises(ImportError, match=r"needs PyTorch.*pip install torch==2\.13\.0"):
            call()


def test_the_install_hint_names_the_version_of_the_torch_extra():
    pyproject = (Path(__file__).parent.parent / "pyproject.toml").read_text(encoding="utf-8")
    pinned = re.search(r'^torch = \["(torch==[^"]+)"\]', pyproject, re.M)
    assert pinned is not None, "pyproject.toml has no torch extra"
    from microgradlike.bridge import INSTALL  # importing needs no torch

    assert f"pip install {pinned.group(1)} " in INSTALL
