"""Neurons, layers and networks: the notes' models, composed from the engine.

A neuron computes its pre-activation as ONE engine node and then its activation::

    z = Σᵢ wᵢ·xᵢ + b        (`engine.dot`)
    a = σ(z)                 (relu, sigmoid, tanh, or the identity for "linear")

A layer is neurons side by side, reading the same input; an MLP chains layers, so for
layer l = 1 … L (the notes)::

    zˡ = Wˡ·aˡ⁻¹ + bˡ,   aˡ = σ(zˡ),   a⁰ = x,   ŷ = aᴸ

The MLP's last layer is linear (σ = identity), so ŷ can be any real number: a regression
output, a logit for `losses.binary_cross_entropy` or a score for `losses.hinge`.
Every zˡ and aˡ can be inspected with `MLP.forward_trace(x)`.

`SigmoidSum(n)` is the notes' y = b + Σᵢ cᵢ·σ(bᵢ + wᵢ·x), and `hard_sigmoid` the clipped line
that two ReLUs make. Models save to JSON (`Module.save`) and come back with `Module.load`;
a model that records its task (`train.fit` does, or `Module.set_task`) answers `Module.predict`
(all of that is `microgradlike.persistence`, which `Module` is built on).
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from .batch import ACTIVATIONS as NUMPY_ACTIVATIONS
from .batch import NumpyLayer, numpy_forward
from .checks import short
from .engine import Value, dot
from .formatting import format_number
from .memory import check_memory
from .ops import OPS, activations
from .persistence import Persistent, register

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "Layer",
    "LayerTrace",
    "Module",
    "Neuron",
    "SigmoidSum",
    "SigmoidUnit",
    "batch_outputs",
    "hard_sigmoid",
    "input_width",
    "numpy_layers",
]

#: The activation σ of each name (the ops marked as activations in `microgradlike.ops`);
#: "linear" is the identity (a = z).
ACTIVATIONS: dict[str, Any] = {**{name: getattr(Value, OPS[name].method) for name in activations()},
                               "linear": None}

Seed = int | np.random.Generator | None


# ---- argument checks ---------------------------------------------------------------
def _positive_int(n: object, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{name} must be a positive int, got {type(n).__name__}: {short(n)}")
    if n <= 0:
        raise ValueError(f"{name} must be a positive int, got {short(n)}")
    return int(n)


#: What one parameter costs in memory: its Value, its float, its slot in a list and its label.
_BYTES_PER_PARAMETER = 250


def _check_size(model: str, count: int) -> None:
    """Refuse, before building anything, a model this machine cannot hold."""
    check_memory(count * _BYTES_PER_PARAMETER, f"this {model} ({short(count)} parameters)")


def _widths(nouts: object) -> list[int]:
    """An MLP's layer widths: a non-empty list of positive ints."""
    if isinstance(nouts, str) or not isinstance(nouts, Sequence | np.ndarray):
        raise TypeError(f"nouts must be a list of layer widths, got {type(nouts).__name__}: {short(nouts)}")
    if len(nouts) == 0:
        raise ValueError("nouts must list at least one layer width, got []")
    return [_positive_int(n, f"nouts[{i}]") for i, n in enumerate(nouts)]


def _activation(name: object) -> str:
    if not isinstance(name, str) or name not in ACTIVATIONS:
        choices = ", ".join(map(repr, ACTIVATIONS))
        raise ValueError(f"unknown activation {short(name)}; choose one of {choices}")
    return name


def _rng(seed: Seed) -> np.random.Generator:
    """numpy's generator for ``seed``: an int gives a reproducible stream, None a fresh one,
    and a Generator is used as it is (so a layer's neurons draw one after another)."""
    if isinstance(seed, np.random.Generator) or seed is None:
        return np.random.default_rng(seed)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        kind = type(seed).__name__
        raise TypeError(f"seed must be an int, a numpy Generator or None, got {kind}: {short(seed)}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {short(seed)}")
    return np.random.default_rng(int(seed))


def _init_weights(rng: np.random.Generator, nin: int, fan_out: int, activation: str) -> list[float]:
    """Initial weights that keep the signal's scale through a layer.

    relu: He (Kaiming) normal, w ~ N(0, 2/nin): relu zeroes half of z, so the variance is doubled.
    sigmoid, tanh, linear: Xavier/Glorot uniform, w ~ U(−r, r) with r = √(6/(nin + fan_out)).
    """
    if activation == "relu":
        return rng.normal(0.0, math.sqrt(2.0 / nin), size=nin).tolist()
    limit = math.sqrt(6.0 / (nin + fan_out))
    return rng.uniform(-limit, limit, size=nin).tolist()


def _inputs(x: object, nin: int) -> list[Value | float]:
    """The model input as a list of nin numbers/Values (one number is fine when nin = 1)."""
    if isinstance(x, np.ndarray):
        if x.ndim > 1:
            raise ValueError(f"expected one input row of length {nin}, got an array of shape {x.shape}")
        x = x.tolist()
    if isinstance(x, Value | numbers.Real):
        x = [x]
    if not isinstance(x, Sequence) or isinstance(x, str):
        raise TypeError(f"input must be a list of numbers/Values, got {type(x).__name__}: {short(x)}")
    if len(x) != nin:
        raise ValueError(f"the model takes {nin} input(s), got {len(x)}: {short(x)}")
    return list(x)


# ---- the base class --------------------------------------------------------------------
class LayerTrace(NamedTuple):
    """One layer's forward values: z (pre-activations) and a = σ(z) (activations)."""

    z: list[Value]
    a: list[Value]


class Module(Persistent):
    """Something with parameters (leaf Values) that can be trained and saved.

    The parameters are found in the public attributes: a Value, a sub-Module, or a list or
    tuple of them. Names are the dotted paths to them, e.g. ``"layers.0.neurons.3.w.1"``, in
    the order the attributes were set. A subclass only sets attributes and defines
    ``__call__``; to be saved and loaded it also says its constructor arguments in `config`,
    takes a ``seed`` keyword (`load` passes ``seed=0``, then replaces every parameter) and says
    how many parameters a config makes in `_parameter_count`. Such a subclass loads wherever it
    is defined (imported) before `load` is called; `save` refuses a model its file could not
    rebuild (a config that is not the constructor's arguments, weights tied after building).
    Saving, loading, the task and `predict` come from `microgradlike.persistence.Persistent`.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        register(cls)  # so `load` can rebuild it by the name `save` writes

    def _parameter_slots(self) -> Iterator[tuple[str, Value]]:
        """Every (dotted name, parameter) pair the attributes hold, a shared Value at each place."""
        for attr, item in vars(self).items():
            if attr.startswith("_"):
                continue
            entries = enumerate(item) if isinstance(item, list | tuple) else [(None, item)]
            for i, entry in entries:
                name = attr if i is None else f"{attr}.{i}"
                if isinstance(entry, Value):
                    yield name, entry
                elif isinstance(entry, Module):
                    yield from ((f"{name}.{sub}", p) for sub, p in entry._parameter_slots())

    def named_parameters(self) -> list[tuple[str, Value]]:
        """Every parameter with its dotted name, each once, in a fixed order."""
        named: list[tuple[str, Value]] = []
        seen: set[int] = set()  # a Value shared by two attributes is one parameter
        for name, p in self._parameter_slots():
            if id(p) not in seen:
                seen.add(id(p))
                named.append((name, p))
        return named

    def parameters(self) -> list[Value]:
        """θ: every parameter packed into one list."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Set every parameter's grad to 0 (leaf grads accumulate across backward calls)."""
        for p in self.parameters():
            p.grad = 0.0

    def _label_parameters(self) -> None:
        """Give each parameter its dotted name as label, so graph drawings say what it is."""
        for name, p in self.named_parameters():
            p.label = name

    def _input_width(self) -> int | None:
        return input_width(self)

    def _output_width(self) -> int | None:
        """How many numbers the model returns per row, for the built-in classes (None: unknown)."""
        if isinstance(self, MLP):
            return self.nouts[-1]
        if isinstance(self, Layer):
            return self.nout
        return 1 if isinstance(self, Neuron | SigmoidUnit | SigmoidSum) else None

    def _batch_outputs(self, rows: np.ndarray) -> np.ndarray | None:
        """Every row's outputs with numpy, for exactly the classes of this module (`batch_outputs`)."""
        return batch_outputs(self, rows)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


def input_width(model: object) -> int | None:
    """How many numbers one input row of ``model`` holds, when it says (its ``nin``); else None."""
    if isinstance(model, SigmoidSum | SigmoidUnit):
        return 1
    nin = getattr(model, "nin", None)
    return nin if isinstance(nin, int) and not isinstance(nin, bool) else None




# ---- the library's models as weight matrices, for numpy -----------------------------------------
def numpy_layers(model: object) -> list[NumpyLayer] | None:
    """A Neuron, Layer, MLP (of any subclass), SigmoidSum or SigmoidUnit as `batch.NumpyLayer`s:
    each layer's weights as a matrix (SigmoidSum: the units' w and b, then their heights c and
    the bias). None for any other model, or one whose numbers are not floats in matching shapes."""
    try:
        if isinstance(model, Neuron):
            layers = [_numpy_layer([model], model.activation)]
        elif isinstance(model, Layer):
            layers = [_numpy_layer(model.neurons, model.activation)]
        elif isinstance(model, MLP):
            layers = [_numpy_layer(layer.neurons, layer.activation) for layer in model.layers]
        elif isinstance(model, SigmoidSum | SigmoidUnit):
            units = model.units if isinstance(model, SigmoidSum) else [model]
            bias = model.b.data if isinstance(model, SigmoidSum) else 0.0
            layers = [NumpyLayer(np.array([[u.w.data] for u in units], dtype=float),
                                 np.array([u.b.data for u in units], dtype=float), "sigmoid"),
                      NumpyLayer(np.array([[u.c.data for u in units]], dtype=float),
                                 np.array([bias], dtype=float), "linear")]
        else:
            return None
    except (TypeError, ValueError, OverflowError):  # a weight set by hand to something else (such as
        return None  # an int too large for a float), rows of unequal length
    width = layers[0].W.shape[1]
    for layer in layers:  # each layer reads what the one before gives
        if layer.W.ndim != 2 or layer.W.shape[1] != width or layer.activation not in NUMPY_ACTIVATIONS:
            return None
        width = layer.W.shape[0]
    return layers


def _numpy_layer(neurons: Sequence[Neuron], activation: str) -> NumpyLayer:
    weights = np.array([[w.data for w in n.w] for n in neurons], dtype=float)
    return NumpyLayer(weights.reshape(len(neurons), -1), np.array([n.b.data for n in neurons], dtype=float),
                      activation)


def batch_outputs(model: object, rows: np.ndarray) -> np.ndarray | None:
    """The outputs of ``model`` for every row of ``rows`` at once (shape (n, outputs)), with numpy
    (`batch.numpy_forward`), when it is exactly one of this module's classes: a subclass may
    compute otherwise in ``__call__``, and any other model is yours. None otherwise."""
    layers = numpy_layers(model) if type(model) in (Neuron, Layer, MLP, SigmoidSum, SigmoidUnit) else None
    if layers is None or rows.ndim != 2 or rows.shape[1] != layers[0].W.shape[1]:
        return None
    return numpy_forward(layers, rows)


# ---- neurons, layers, MLP --------------------------------------------------------------
class Neuron(Module):
    """One neuron: z = Σᵢ wᵢ·xᵢ + b (one `dot` node), a = σ(z).

    Weights start He-normal for relu, Xavier/Glorot-uniform for sigmoid, tanh and linear
    (fan_out is 1 for a lone neuron, the layer width inside a `Layer`); the bias starts at 0.
    ``seed``: an int (reproducible), a numpy Generator, or None (different every time).
    """

    def __init__(self, nin: int, activation: str = "relu", seed: Seed = None, *, fan_out: int = 1) -> None:
        self.nin = _positive_int(nin, "nin")
        _check_size("Neuron", self.nin + 1)
        self.activation = _activation(activation)
        rng = _rng(seed)
        weights = _init_weights(rng, self.nin, _positive_int(fan_out, "fan_out"), self.activation)
        self.w = [Value(wi) for wi in weights]
        self.b = Value(0.0)
        self._sigma = ACTIVATIONS[self.activation]
        self._label_parameters()

    def config(self) -> dict[str, Any]:
        return {"nin": self.nin, "activation": self.activation}

    @classmethod
    def _parameter_count(cls, nin: int, **_: Any) -> int:
        return _positive_int(nin, "nin") + 1  # w₁ … w_nin, b

    def pre_activation(self, xs: Sequence[Value | float]) -> Value:
        """z = w·x + b, one node."""
        return dot(self.w, xs, self.b)

    def activate(self, z: Value) -> Value:
        """a = σ(z); for "linear" a is z itself."""
        return z if self._sigma is None else self._sigma(z)

    def __call__(self, x: object) -> Value:
        return self.activate(self.pre_activation(_inputs(x, self.nin)))


class Layer(Module):
    """``nout`` neurons reading the same ``nin`` inputs: z = W·x + b, a = σ(z).

    One seed draws all the neurons' weights from one generator, so they differ from each other.
    """

    def __init__(self, nin: int, nout: int, activation: str = "relu", seed: Seed = None) -> None:
        self.nin = _positive_int(nin, "nin")
        self.nout = _positive_int(nout, "nout")
        _check_size("Layer", self.nout * (self.nin + 1))
        self.activation = _activation(activation)
        rng = _rng(seed)
        self.neurons = [Neuron(self.nin, self.activation, rng, fan_out=self.nout) for _ in range(self.nout)]
        self._label_parameters()

    def config(self) -> dict[str, Any]:
        return {"nin": self.nin, "nout": self.nout, "activation": self.activation}

    @classmethod
    def _parameter_count(cls, nin: int, nout: int, **_: Any) -> int:
        return _positive_int(nout, "nout") * (_positive_int(nin, "nin") + 1)  # nout neurons

    def trace(self, xs: Sequence[Value | float]) -> LayerTrace:
        """This layer's z and a for an input list of the right length."""
        z = [n.pre_activation(xs) for n in self.neurons]
        sigma = ACTIVATIONS[self.activation]
        return LayerTrace(z, z if sigma is None else [sigma(zi) for zi in z])

    def __call__(self, x: object) -> Value | list[Value]:
        a = self.trace(_inputs(x, self.nin)).a
        return a[0] if self.nout == 1 else a


class MLP(Module):
    """A multi-layer perceptron: zˡ = Wˡ·aˡ⁻¹ + bˡ, aˡ = σ(zˡ), ŷ = aᴸ.

    ``nouts`` lists the layer widths, e.g. ``MLP(2, [16, 16, 1])``; hidden layers use
    ``activation`` and the LAST layer is linear. Initialisation: He for relu layers,
    Xavier/Glorot for sigmoid, tanh and the linear output layer; one seed fixes them all.
    """

    def __init__(self, nin: int, nouts: Sequence[int], activation: str = "relu", seed: Seed = None) -> None:
        self.nin = _positive_int(nin, "nin")
        self.nouts = _widths(nouts)
        _check_size("MLP", MLP._parameter_count(self.nin, self.nouts))
        self.activation = _activation(activation)
        rng = _rng(seed)
        sizes = [self.nin, *self.nouts]
        last = len(self.nouts) - 1
        self.layers = [
            Layer(sizes[i], sizes[i + 1], "linear" if i == last else self.activation, rng)
            for i in range(len(self.nouts))
        ]
        self._label_parameters()

    def config(self) -> dict[str, Any]:
        return {"nin": self.nin, "nouts": list(self.nouts), "activation": self.activation}

    @classmethod
    def _parameter_count(cls, nin: int, nouts: Sequence[int], **_: Any) -> int:
        sizes = [_positive_int(nin, "nin"), *_widths(nouts)]
        return sum(Layer._parameter_count(a, b) for a, b in itertools.pairwise(sizes))

    def forward_trace(self, x: object) -> list[LayerTrace]:
        """[(z¹, a¹), …, (zᴸ, aᴸ)]: every layer's pre-activations and activations; aᴸ is ŷ."""
        a: Sequence[Value | float] = _inputs(x, self.nin)
        traces = []
        for layer in self.layers:
            traces.append(layer.trace(a))
            a = traces[-1].a
        return traces

    def __call__(self, x: object) -> Value | list[Value]:
        a = self.forward_trace(x)[-1].a
        return a[0] if len(a) == 1 else a


# ---- the notes' sigmoid models -----------------------------------------------------------
class SigmoidUnit(Module):
    """One unit c·σ(b + w·x): w sets the slope, b the shift (centre at −b/w), c the height."""

    def __init__(self, w: float = 1.0, b: float = 0.0, c: float = 1.0, seed: Seed = None) -> None:
        del seed  # a unit is given its numbers; accepted so `Module.load` can build it like the others
        self.w, self.b, self.c = Value(w), Value(b), Value(c)
        self._label_parameters()

    def sigmoid(self, x: Value | float) -> Value:
        """σ(b + w·x), one `dot` node then one sigmoid node."""
        return dot((self.w,), (x,), self.b).sigmoid()

    def __call__(self, x: object) -> Value:
        return self.c * self.sigmoid(_inputs(x, 1)[0])

    @classmethod
    def _parameter_count(cls, **_: Any) -> int:
        return 3  # w, b, c

    def __repr__(self) -> str:
        return (f"SigmoidUnit(w={format_number(self.w.data)}, b={format_number(self.b.data)}, "
                f"c={format_number(self.c.data)})")


class SigmoidSum(Module):
    """The notes' y = b + Σᵢ cᵢ·σ(bᵢ + wᵢ·x): n sigmoid units on one input, plus a bias.

    ``model.units[i].w``, ``.b`` and ``.c`` are unit i's slope, shift and height; ``model.b``
    is the global bias. Each unit is a smoothed step; their sum bends a curve n times, so more
    units fit a piecewise-linear target more closely (n is a hyperparameter).

    Initialisation: wᵢ, bᵢ ~ N(0, 1) (centres −bᵢ/wᵢ spread around 0), cᵢ ~ N(0, 1/n)
    (so the sum stays of order 1 whatever n is), b = 0.
    """

    def __init__(self, n: int, seed: Seed = None) -> None:
        self.n = _positive_int(n, "n")
        _check_size("SigmoidSum", 3 * self.n + 1)
        rng = _rng(seed)
        w, b = rng.normal(0.0, 1.0, size=(2, self.n)).tolist()
        c = rng.normal(0.0, 1.0 / math.sqrt(self.n), size=self.n).tolist()
        self.units = [SigmoidUnit(w[i], b[i], c[i]) for i in range(self.n)]
        self.b = Value(0.0)
        self._label_parameters()

    def config(self) -> dict[str, Any]:
        return {"n": self.n}

    @classmethod
    def _parameter_count(cls, n: int, **_: Any) -> int:
        return 3 * _positive_int(n, "n") + 1  # wᵢ, bᵢ, cᵢ per unit, and b

    def __call__(self, x: object) -> Value:
        x0 = _inputs(x, 1)[0]
        heights = [u.c for u in self.units]
        # y = Σᵢ cᵢ·sᵢ + b is itself a dot product: one node over all the units.
        return dot(heights, [u.sigmoid(x0) for u in self.units], self.b)

    def contributions(self, x: float | Sequence[float] | np.ndarray) -> np.ndarray:
        """Each unit's cᵢ·σ(bᵢ + wᵢ·x) as plain numbers (no graph), for plotting the units one
        by one: shape (n,) for one x, (n, len(x)) for many. Their sum plus b is the model."""
        xs = np.asarray(x, dtype=float)
        w, b, c = (np.array([getattr(u, k).data for u in self.units]) for k in "wbc")
        shape = (-1,) + (1,) * xs.ndim
        z = w.reshape(shape) * xs + b.reshape(shape)
        # σ(z) = ½(1 + tanh(z/2)): the same function, without overflow warnings for large |z|.
        return c.reshape(shape) * 0.5 * (1.0 + np.tanh(0.5 * z))


def hard_sigmoid(x: Value | float) -> Value | float:
    """relu(x) − relu(x − 1) = clip(x, 0, 1): two ReLUs make one hard sigmoid.

    0 for x ≤ 0, x on [0, 1], 1 for x ≥ 1. d/dx = 1 on (0, 1) and 0 outside (0 at the kinks, as
    relu'(0) = 0). A Value gives a Value (graph: two relu nodes); a number gives a float.
    """
    v = x if isinstance(x, Value) else Value(x)
    out = v.relu() - (v - 1).relu()
    return out if isinstance(x, Value) else out.data

