"""From microgradlike to PyTorch and back: the same model and the same numbers, in float64.

A microgradlike model is layers of neurons, zˡ = Wˡ·aˡ⁻¹ + bˡ, aˡ = σ(zˡ). PyTorch writes the
same thing as a `torch.nn.Sequential` of `Linear` modules (z = x·Wᵀ + b) and activation modules:

===============================  ===================================================================
microgradlike                    torch (what `to_torch` gives and `from_torch` takes)
===============================  ===================================================================
``Neuron(nin, act)``             ``Sequential(Linear(nin, 1), Act())``
``Layer(nin, nout, act)``        ``Sequential(Linear(nin, nout), Act())``
``MLP(nin, [h₁, …, h_L], act)``  ``Sequential(Linear(nin, h₁), Act(), …, Linear(h_{L−1}, h_L))``
===============================  ===================================================================

``Act`` is ``ReLU``, ``Tanh``, ``Sigmoid`` or ``Identity`` for "relu", "tanh", "sigmoid" and
"linear". An MLP's last layer is linear, so nothing follows its last ``Linear``; every hidden
layer has its activation module, ``Identity`` included. Neuron i of a layer is row i of the
``Linear``: its ``w[j]`` is ``weight[i, j]`` and its ``b`` is ``bias[i]``. Modules are float64.

Shapes. A microgradlike model takes ONE row and returns a single Value when its output width is 1,
else a list of Values. The torch module takes a row of shape ``(nin,)`` or a batch ``(N, nin)``
and keeps the width as the last axis, even when it is 1:

=========================================  ======================================================
``model(row)``                             ``net(torch.tensor(row))``
=========================================  ======================================================
a Value (width 1)                          shape ``(1,)``: ``net(x).item()`` is ``model(row).data``
a list of k Values                         shape ``(k,)``: ``net(x).tolist()``
``[model(row) for row in X]``, width 1     ``net(X).squeeze(-1)``, shape ``(N,)``
``[model(row) for row in X]``, width k     ``net(X)``, shape ``(N, k)``
=========================================  ======================================================

So for ``mse``, ``binary_cross_entropy`` and ``hinge`` (one number per row), squeeze the width
axis before the loss: `torch_loss` refuses ``(N, 1)`` outputs against ``(N,)`` targets, which
torch's ``MSELoss`` alone would broadcast into an ``(N, N)`` table (with only a warning).

`from_torch` reads the table the other way: a Sequential ending in a ``Linear`` is an MLP; one
``Linear`` followed by its activation is a Neuron (width 1) or a Layer (width > 1). So
``Layer(nin, 1, act)``, the same function as ``Neuron(nin, act)``, comes back as that Neuron,
and an MLP with no hidden layer (``MLP(nin, [nout], act)``, where ``act`` is never used) comes
back with the default ``activation="relu"``. Every other model comes back exactly as it was.
A ``Linear`` without a bias (``bias=False``) is refused rather than given a zero bias: the
microgradlike model would then train a bias the torch model never had. So is a module with a hook
(forward, pre- or backward, on the Sequential or a layer, or a global one; a weight norm is a
pre-hook) or a ``forward`` set on the object: the weights and the classes do not say what it
computes. `to_torch` likewise refuses a model that lost (or gained) a neuron or a weight after it
was made, naming where: a ``Linear`` holds one rectangular weight matrix.

`torch_loss(name)` gives the torch counterpart of each loss in `microgradlike.losses`, with the
same value and gradients. torch is an optional extra: this module imports without it, and its
functions then raise ImportError saying how to install it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .checks import first_few, real, short
from .formatting import count
from .losses import binary_cross_entropy, cross_entropy, get_loss, hinge, mse
from .nn import MLP, Layer, Neuron, numpy_layers
from .ops import OPS
from .parameters import tied

if TYPE_CHECKING:  # torch is optional: only type checkers import it here
    import torch

__all__ = ["INSTALL", "from_torch", "import_torch", "to_torch", "torch_hinge", "torch_loss"]

#: How to get the torch this module is tested with (the ``torch`` extra of pyproject.toml).
INSTALL = "pip install torch==2.13.0 (or the extra: pip install 'microgradlike[torch]')"

#: microgradlike's activation names and the torch module class of each: the op table's activations
#: that torch has a module for (`ops.Op.torch_module`), and "linear". Others are refused by name.
_ACTIVATION_CLASSES = {**{op.name: op.torch_module for op in OPS.values()
                          if op.activation and op.torch_module}, "linear": "Identity"}
_TORCH_NAMES = "/".join(_ACTIVATION_CLASSES.values())


def import_torch(needed_by: str = "microgradlike.bridge") -> Any:
    """The torch package, or an ImportError that says what ``needed_by`` it and how to install it."""
    try:
        import torch
    except ImportError as e:
        raise ImportError(f"{needed_by} needs PyTorch, which is not installed: {INSTALL}") from e
    return torch


# ---- microgradlike -> torch -----------------------------------------------------------------------
def to_torch(model: Neuron | Layer | MLP) -> torch.nn.Sequential:
    """A float64 ``torch.nn.Sequential`` computing what ``model`` computes (see the module's tables).

    The torch module holds copies of the parameters: training one does not change the other.
    Only ``Neuron``, ``Layer`` and ``MLP`` themselves are converted, and only with finite
    parameters: a subclass (or one inside the model) may compute something else, which the table
    cannot express, so it is refused by name (TypeError), as `from_torch` refuses a subclass of a
    torch module; a nan or inf parameter is refused naming it (ValueError), as `from_torch` and
    ``save`` refuse one, and so is a neuron with more or fewer weights than inputs, or a layer
    with more or fewer neurons than it was made with, and one with tied weights (a Value, or a
    Neuron, at two places: a ``Linear`` would train them apart), naming both places.
    """
    torch = import_torch()
    nn = torch.nn
    layers, activations = _layers(model)
    _check_widths(model)
    _check_untied(model, layers)
    _check_parameters(model)
    for activation in activations:
        if activation is not None and activation not in _ACTIVATION_CLASSES:
            raise ValueError(f"to_torch: torch.nn has no module for the activation {activation!r} (it has "
                             f"{_TORCH_NAMES} for {', '.join(_ACTIVATION_CLASSES)})")
    matrices = numpy_layers(model)  # W[i, j] = neuron i's w[j], b[i] = neuron i's b
    assert matrices is not None  # the checks above refused what has no matrices
    modules = []
    for layer, activation in zip(matrices, activations):
        linear = nn.Linear(layer.W.shape[1], layer.W.shape[0], dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(layer.W))
            linear.bias.copy_(torch.from_numpy(layer.b))
        modules.append(linear)
        if activation is not None:
            modules.append(getattr(nn, _ACTIVATION_CLASSES[activation])())
    return nn.Sequential(*modules)


def _layers(model: Any) -> tuple[list[Layer | Neuron], list[str | None]]:
    """The model's layers (a Neuron is its own one layer) and the activation after each (None:
    the MLP's linear output layer). Exact classes only, the model's and every part's: an
    overridden ``__call__``, ``trace`` or ``activate`` computes what no Sequential of the table does."""
    if type(model) not in (MLP, Layer, Neuron):
        kind = type(model).__name__
        base = next((c.__name__ for c in (MLP, Layer, Neuron) if isinstance(model, c)), None)
        if base is not None:
            raise TypeError(f"to_torch converts a Neuron, Layer or MLP, got {kind}, a subclass of {base}: "
                            f"it may compute something else (its own __call__), which a torch Sequential "
                            f"of Linear and activation modules cannot express")
        raise TypeError(f"to_torch converts a Neuron, Layer or MLP, got {kind}: {short(model)}")
    for where, part, expected in _parts(model):
        if type(part) is not expected:
            raise TypeError(f"to_torch converts a Neuron, Layer or MLP made of Layers and Neurons, but "
                            f"{where} of this {type(model).__name__} is a {type(part).__name__}, not a "
                            f"{expected.__name__}: it may compute something else")
    if isinstance(model, MLP):
        layers: list[Layer | Neuron] = list(model.layers)
        activations = [layer.activation for layer in layers[:-1]] + [None]  # the last layer is linear
    else:  # one layer, with its activation module
        layers, activations = [model], [model.activation]
    return layers, activations


def _parts(model: Neuron | Layer | MLP) -> Iterator[tuple[str, object, type]]:
    """(dotted name, part, the class it must be) for each layer and neuron inside ``model``."""
    layers = list(enumerate(model.layers)) if isinstance(model, MLP) else [(None, model)]
    for i, layer in layers:
        prefix = "" if i is None else f"layers.{i}."
        if i is not None:
            yield f"layers.{i}", layer, Layer
        for j, neuron in enumerate(getattr(layer, "neurons", [])):
            yield f"{prefix}neurons.{j}", neuron, Neuron


def _check_widths(model: Neuron | Layer | MLP) -> None:
    """Every layer with the neurons it was made with, and every neuron with one weight per input;
    or ValueError naming the first part that lost (or gained) one. A ``Linear`` holds one
    rectangular weight matrix: a ragged model has none to give it."""
    if isinstance(model, Neuron):
        neurons = [("the neuron", model, model.nin)]
    else:
        layers = ([("", model, model.nin, model.nout)] if isinstance(model, Layer) else
                  [(f"layers.{i}.", layer, a, b) for i, (layer, a, b)
                   in enumerate(zip(model.layers, [model.nin, *model.nouts], model.nouts))])
        if isinstance(model, MLP) and len(model.layers) != len(model.nouts):
            raise ValueError(f"cannot convert {model!r}: it has {count(len(model.layers), 'layer')}, but "
                             f"was made with {len(model.nouts)} (nouts={short(model.nouts)})")
        neurons = []
        for prefix, layer, nin, nout in layers:
            if len(layer.neurons) != nout:
                raise ValueError(f"cannot convert {model!r}: {prefix.rstrip('.') or 'the layer'} has "
                                 f"{count(len(layer.neurons), 'neuron')}, but was made with {nout} (a "
                                 f"neuron was removed or added afterwards)")
            neurons += [(f"{prefix}neurons.{j}", neuron, nin) for j, neuron in enumerate(layer.neurons)]
    for name, neuron, nin in neurons:
        if len(neuron.w) != nin:
            raise ValueError(f"cannot convert {model!r}: {name} has {count(len(neuron.w), 'weight')} for "
                             f"{count(nin, 'input')} (a weight was removed or added afterwards)")


def _check_untied(model: Neuron | Layer | MLP, layers: list[Layer | Neuron]) -> None:
    """Every weight and bias its own Value, or ValueError naming two places that hold one (tied
    weights, or a Neuron put twice in a layer): a ``Linear`` holds a number per place, so the
    tied places would train apart, and a model trained in torch could not come back."""
    places = []
    for i, layer in enumerate(layers):
        prefix = f"layers.{i}." if isinstance(model, MLP) else ""
        neurons = ([(f"{prefix}neurons.{j}.", n) for j, n in enumerate(layer.neurons)]
                   if isinstance(layer, Layer) else [(prefix, layer)])
        for where, neuron in neurons:
            places += [(f"{where}w.{k}", w) for k, w in enumerate(neuron.w)] + [(f"{where}b", neuron.b)]
    pair = tied(places)
    if pair is not None:
        raise ValueError(f"cannot convert {model!r}: {pair[0]} and {pair[1]} are one Value (tied "
                         f"weights), which a torch Linear would hold as two numbers, trained apart; "
                         f"untie them (fit's engines other than 'torch' train tied weights)")


def _check_parameters(model: Neuron | Layer | MLP) -> None:
    """Every parameter a finite number, or TypeError naming the first that is no number, or
    ValueError naming the ones that are not finite."""
    bad = []
    for name, p in model.named_parameters():
        try:
            real(p.data, f"parameter {name}", finite=True)
        except TypeError as e:
            raise TypeError(f"cannot convert {model!r}: {e}") from None
        except ValueError as e:  # nan or ±inf: each is named
            bad.append(str(e))
    if bad:
        raise ValueError(f"cannot convert {model!r}: {first_few(bad, sep='; ')}")


# ---- torch -> microgradlike -----------------------------------------------------------------------
@dataclass
class _Step:
    """One Linear of the Sequential and the activation after it (if any); indices are positions."""

    index: int
    linear: Any
    act_index: int | None = None
    activation: str | None = None  # microgradlike's name for it


def from_torch(module: torch.nn.Module) -> MLP | Layer | Neuron:
    """The microgradlike model of a torch ``Sequential`` of ``Linear`` and activation modules.

    ``Linear, Act, Linear, Act, …, Linear`` (one activation class for every hidden layer) is an
    MLP; ``Linear, Act`` alone is a Neuron (width 1) or a Layer. Act is ``ReLU``, ``Tanh``,
    ``Sigmoid`` or ``Identity`` (a linear hidden layer). Weights of any floating dtype are
    converted to float64. Anything else raises TypeError (a module of another kind) or
    ValueError (a layout a microgradlike model cannot express, a hook), naming the offending
    layer: "layer i" is ``module[i]``.
    """
    torch = import_torch()
    nn = torch.nn
    if type(module) is not nn.Sequential:
        raise TypeError(f"from_torch takes a torch.nn.Sequential of Linear and {_TORCH_NAMES} "
                        f"modules, got {type(module).__name__}: {short(module)}")
    sequence: Any = module  # a Sequential (checked above) is a sequence of its layers
    children = list(sequence)
    if not children:
        raise ValueError("from_torch got an empty Sequential: there is no layer to convert")
    _check_no_hooks(torch, module, children)
    steps = _steps(nn, children)
    model = _model_for(steps, children)
    values = []
    for step in steps:
        weight = step.linear.weight.detach().to(device="cpu", dtype=torch.float64).tolist()
        bias = step.linear.bias.detach().to(device="cpu", dtype=torch.float64).tolist()
        for row, b in zip(weight, bias):  # parameter order: each neuron's w₁ … w_nin, then its b
            values.extend([*row, b])
    names = [name for name, _ in model.named_parameters()]
    model.load_state_dict(dict(zip(names, values)))  # refuses nan and inf, naming the parameter
    return model


#: The hooks a torch module can carry: the attribute torch keeps each kind in, its name, and the
#: method that registers it. torch has no public way to list them, so these (stable since torch
#: 2.0) are read; the global ones are ``_global`` + the attribute, in ``torch.nn.modules.module``.
_HOOKS = (("_forward_pre_hooks", "forward pre-hook", "register_forward_pre_hook"),
          ("_forward_hooks", "forward hook", "register_forward_hook"),
          ("_backward_pre_hooks", "backward pre-hook", "register_full_backward_pre_hook"),
          ("_backward_hooks", "backward hook", "register_full_backward_hook"))


def _check_no_hooks(torch: Any, module: Any, children: list[Any]) -> None:
    """Refuse a Sequential when it, a layer of it or every module (a global hook) has a hook, or
    a layer has a ``forward`` of its own set on the object: each changes what calling the module
    computes (a forward hook that doubles the output, a weight norm's pre-hook) or the gradients it
    gives (a backward hook), which the Linear's weights and the activation's class do not say."""
    parts = [("the Sequential", module),
             *((f"layer {i} ({short(child)})", child) for i, child in enumerate(children))]
    for where, part in parts:
        if "forward" in vars(part):
            raise ValueError(f"{where} has a forward of its own, set on the object: it may compute "
                             f"something else than its class, which from_torch cannot read")
        for attribute, kind, register in _HOOKS:
            if getattr(part, attribute, None):
                raise ValueError(f"{where} has a {kind} ({register}), which may change what it computes; a "
                                 f"microgradlike model cannot hold one: remove it (handle.remove()) first")
    everywhere = torch.nn.modules.module
    for attribute, kind, register in _HOOKS:
        if getattr(everywhere, f"_global{attribute}", None):
            raise ValueError(f"a global {kind} is registered (torch.nn.modules.module."
                             f"{register.replace('register_', 'register_module_')}): it changes what every "
                             f"module computes, which a microgradlike model cannot hold: remove it first")


def _steps(nn: Any, children: list[Any]) -> list[_Step]:
    """The children read as Linear (+ activation) steps; refuses modules of any other kind."""
    activations = {getattr(nn, cls): name for name, cls in _ACTIVATION_CLASSES.items()}
    steps: list[_Step] = []
    for i, child in enumerate(children):
        kind = type(child)  # exact classes: a subclass could compute something else
        if kind is nn.Linear:
            _check_linear(i, child, steps[-1] if steps else None)
            shared = [s.index for s in steps if s.linear is child]
            if shared:
                raise ValueError(f"layer {i} is the same Linear object as layer {shared[0]} (shared "
                                 f"weights); each layer of a microgradlike model has its own")
            steps.append(_Step(i, child))
        elif kind in activations:
            if not steps:
                raise ValueError(f"layer {i} ({child!r}) comes before any Linear: an activation acts on "
                                 f"a layer's z = W·x + b, so the Sequential must start with a Linear")
            last = steps[-1]
            if last.act_index is not None:
                raise ValueError(f"layer {i} ({child!r}) follows another activation (layer {last.act_index}: "
                                 f"{children[last.act_index]!r}): each Linear has at most one activation")
            last.act_index, last.activation = i, activations[kind]
        else:
            raise TypeError(f"layer {i} ({short(child)}) is a {kind.__name__}; from_torch converts only "
                            f"Linear and {_TORCH_NAMES.replace('/', ', ')}")
    return steps


def _check_linear(i: int, linear: Any, previous: _Step | None) -> None:
    """A Linear microgradlike can hold: a bias, real floating weights, widths that chain."""
    if linear.bias is None:
        raise ValueError(f"layer {i} ({linear!r}) has no bias; every microgradlike neuron has one "
                         f"(give it bias=True with a zero bias to convert the same function)")
    for name in ("weight", "bias"):
        tensor = getattr(linear, name)
        if not tensor.dtype.is_floating_point:
            raise TypeError(f"layer {i} ({linear!r}) has a {name} of dtype {tensor.dtype}; "
                            f"from_torch converts real floating-point weights")
        if tensor.is_meta:  # a shape without numbers: there is nothing to copy
            raise ValueError(f"layer {i} ({linear!r}) is on the meta device: its {name} has a shape but no "
                             f"values; move it to a real device and set its values first (e.g. "
                             f"module.to_empty(device='cpu'), then load_state_dict or an initialiser)")
    shape = (linear.out_features, linear.in_features)
    if tuple(linear.weight.shape) != shape or tuple(linear.bias.shape) != shape[:1]:
        raise ValueError(f"layer {i} ({linear!r}) holds a weight of shape {tuple(linear.weight.shape)} and a "
                         f"bias of shape {tuple(linear.bias.shape)}; expected {shape} and {shape[:1]}")
    if previous is not None and previous.linear.out_features != linear.in_features:
        raise ValueError(f"layer {i} ({linear!r}) takes {linear.in_features} inputs but layer "
                         f"{previous.index} ({previous.linear!r}) gives {previous.linear.out_features}: "
                         f"the widths must match")


def _model_for(steps: list[_Step], children: list[Any]) -> MLP | Layer | Neuron:
    """The microgradlike model (fresh parameters) with the layout of ``steps``."""
    first = steps[0].linear
    if len(steps) == 1 and steps[0].activation is not None:  # one Linear and its activation: one layer
        if first.out_features == 1:
            return Neuron(first.in_features, steps[0].activation, seed=0)
        return Layer(first.in_features, first.out_features, steps[0].activation, seed=0)
    *hidden, last = steps
    for step, following in itertools.pairwise(steps):
        if step.activation is None:
            raise ValueError(f"layer {following.index} ({following.linear!r}) follows layer {step.index} "
                             f"({step.linear!r}) with no activation between them; a hidden layer needs "
                             f"one (Identity for a linear one)")
    if last.act_index is not None:
        raise ValueError(f"layer {last.act_index} ({children[last.act_index]!r}) comes after the last Linear "
                         f"(layer {last.index}); an MLP's output layer is linear: drop it, or apply it "
                         f"outside the model (the losses take logits)")
    if len({step.activation for step in hidden}) > 1:
        listed = ", ".join(f"layer {s.act_index}: {children[s.act_index]!r}" for s in hidden
                           if s.act_index is not None)  # each hidden layer has one (checked above)
        raise ValueError(f"the hidden layers use different activations ({listed}); an MLP uses one "
                         f"activation for all its hidden layers")
    activation = (hidden[0].activation if hidden else None) or "relu"  # MLP(nin, [nout]): no hidden layer
    return MLP(first.in_features, [step.linear.out_features for step in steps], activation, seed=0)


# ---- losses ----------------------------------------------------------------------------------------
#: The names `microgradlike.losses` gives each loss's two arguments (its messages say them too).
_ARGUMENTS = {mse: ("preds", "targets"), binary_cross_entropy: ("logits", "targets"),
              cross_entropy: ("logits_rows", "class_ids"), hinge: ("scores", "targets")}


def _check_loss_inputs(torch: Any, loss: Callable[..., Any], outputs: Any, targets: Any) -> None:
    """One rule for every torch loss, as `microgradlike.losses` has one for its own: two tensors
    of real numbers with values (not on the meta device), outputs of a floating dtype, the same
    shape (for cross-entropy, one integer class id per row of logits) and at least one example.

    torch's own losses would broadcast ``(N, 1)`` outputs against ``(N,)`` targets into an
    ``(N, N)`` table (``MSELoss`` with only a warning) and give nan for no example."""
    first, second = _ARGUMENTS[loss]
    for name, tensor in ((first, outputs), (second, targets)):
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}: {short(tensor)} "
                            f"(torch.tensor(...) makes one)")
        if tensor.is_meta:
            raise ValueError(f"{name} is on the meta device: it has a shape, {tuple(tensor.shape)}, but no "
                             f"values, and a loss is computed from values")
        if tensor.is_complex() or tensor.dtype == torch.bool:
            raise TypeError(f"{name} has dtype {tensor.dtype}; a loss takes real numbers")
    if not outputs.dtype.is_floating_point:
        raise TypeError(f"{first} has dtype {outputs.dtype}; a model's outputs are floating-point numbers "
                        f"(to_torch's are torch.float64): convert them with .double()")
    if loss is cross_entropy:
        if outputs.dim() not in (1, 2):
            raise ValueError(f"logits_rows has shape {tuple(outputs.shape)}; cross_entropy takes rows of "
                             f"logits, shape (N, K), or one row, shape (K,)")
        if targets.shape != outputs.shape[:-1]:
            raise ValueError(f"logits_rows has shape {tuple(outputs.shape)} but class_ids "
                             f"{tuple(targets.shape)}; there is one class id per row: shape "
                             f"{tuple(outputs.shape[:-1])}")
        if targets.dtype.is_floating_point:
            raise TypeError(f"class_ids has dtype {targets.dtype}; class ids are integers (torch.int64)")
        if targets.numel() and not outputs.shape[-1]:
            raise ValueError("row 0 of logits_rows is empty")
    elif outputs.shape != targets.shape:
        width_1 = outputs.shape[:-1] == targets.shape
        squeeze = " (squeeze a width-1 output: net(X).squeeze(-1))" if width_1 else ""
        raise ValueError(f"{first} have shape {tuple(outputs.shape)} but {second} {tuple(targets.shape)}; "
                         f"they must match{squeeze}")
    if not targets.numel():  # as `losses`: the mean of nothing is no loss (torch's would be nan)
        raise ValueError(f"{first} and {second} are empty: a mean needs at least one example")


def torch_hinge(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The hinge loss in torch, as `microgradlike.losses.hinge`: mean over i of relu(1 − tᵢ·sᵢ).

    Targets are −1/+1, or 0/1 with 0 counting as −1. ``scores`` and ``targets`` are tensors of the
    same shape (``(N, 1)`` scores against ``(N,)`` targets would broadcast to an ``(N, N)`` table)
    holding at least one example, as for every `torch_loss` (TypeError or ValueError naming what
    is wrong, as `losses.hinge` raises).
    """
    torch = import_torch()
    _check_loss_inputs(torch, hinge, scores, targets)
    t = targets.to(scores.dtype)
    bad = ~((t == 1) | (t == 0) | (t == -1))
    if bool(bad.any()):
        index = tuple(int(k) for k in bad.nonzero()[0])
        raise ValueError(f"target {index if len(index) > 1 else index[0]} is {t[index].item()!r}; "
                         f"targets must be -1/+1 (or 0/1, 0 meaning -1)")
    t = torch.where(t == 0, -torch.ones_like(t), t)
    return torch.relu(1 - t * scores).mean()


def torch_loss(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The torch loss with the same value and gradients as microgradlike's loss ``name``.

    ======================  =============================================  ===========================
    name                    torch                                          targets
    ======================  =============================================  ===========================
    mse                     ``nn.functional.mse_loss`` (``MSELoss``)       floats, the outputs' shape
    binary_cross_entropy    ``nn.functional.binary_cross_entropy_with_     floats 0/1, the logits'
                            logits`` (``BCEWithLogitsLoss``)               shape
    cross_entropy           ``nn.functional.cross_entropy``                class ids, an integer
                            (``CrossEntropyLoss``)                         tensor of shape (N,)
    hinge                   `torch_hinge`                                  −1/+1 or 0/1, the scores'
                                                                           shape
    ======================  =============================================  ===========================

    Names are those of `microgradlike.losses.LOSSES` ("bce" and "ce" included). All take outputs
    (logits, not probabilities) first, then targets, and return the mean over the examples. All
    follow one rule, `losses`' own: tensors (TypeError otherwise), outputs of a floating dtype,
    targets of the outputs' shape (one class id per row of logits for cross-entropy) and at
    least one example (ValueError otherwise); torch alone would broadcast mismatched shapes into
    a table and give nan for no example.
    """
    torch = import_torch()
    if not isinstance(name, str):
        kind = type(name).__name__
        raise TypeError(f"torch_loss takes a loss name such as 'mse', got {kind}: {short(name)}")
    loss = get_loss(name)  # unknown names raise ValueError listing the known ones
    if loss is hinge:
        return torch_hinge
    functional = torch.nn.functional
    compute = {mse: functional.mse_loss, binary_cross_entropy: functional.binary_cross_entropy_with_logits,
               cross_entropy: functional.cross_entropy}[loss]

    def checked(outputs: Any, targets: Any) -> Any:  # torch.Tensor (torch is a local name here)
        _check_loss_inputs(torch, loss, outputs, targets)
        return compute(outputs, targets if loss is cross_entropy else targets.to(outputs.dtype))

    checked.__name__ = checked.__qualname__ = f"torch_{loss.__name__}"
    checked.__doc__ = f"`losses.{loss.__name__}` in torch: see `microgradlike.bridge.torch_loss`."
    return checked
