"""Layers as weight matrices, evaluated on many rows at once with numpy: aˡ = σˡ(aˡ⁻¹·Wˡᵀ + bˡ).

A `microgradlike.nn` model is weight matrices in disguise: an MLP's layer l holds Wˡ (one row per
neuron, its weights) and bˡ (the biases), and `SigmoidSum`'s y = b + Σᵢ cᵢ·σ(bᵢ + wᵢ·x) is two
such layers (the units' w and b, then their heights c and the bias): `nn.numpy_layers` reads them
out of the Values. `numpy_forward` evaluates every row with one matrix product per layer and each
activation's forward formula from the op table (`formulas.numpy_forward`): the numbers the Values
give (to rounding, ~1e-15), without building a node per row and operation. `Module.predict`,
`plots.plot_decision_boundary` and the replay page (`microgradlike.replay`) compute with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from . import formulas
from .ops import activations

__all__ = ["ACTIVATIONS", "NumpyLayer", "numpy_forward"]

#: Each activation of the op table on numpy arrays (its forward formula, written for numpy by
#: `microgradlike.formulas`), and "linear".
ACTIVATIONS = {**{name: formulas.numpy_forward(name) for name in activations()}, "linear": lambda z: z}

#: Rows evaluated at once: a batch of 65,536 rows through a layer of 256 neurons is 128 MiB.
_CHUNK = 65_536


class NumpyLayer(NamedTuple):
    """One layer as numbers: a = σ(x·Wᵀ + b), W of shape (outputs, inputs)."""

    W: np.ndarray
    b: np.ndarray
    activation: str  # a name of `ACTIVATIONS`


def numpy_forward(layers: Sequence[NumpyLayer], rows: np.ndarray) -> np.ndarray:
    """aˡ = σˡ(aˡ⁻¹·Wˡᵀ + bˡ) for every row of ``rows`` (shape (n, inputs)); the rows of the
    result (shape (n, outputs)) are the outputs. Overflow gives ±inf and nan, as floats do."""
    out = []
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for start in range(0, max(len(rows), 1), _CHUNK):
            a = np.asarray(rows[start:start + _CHUNK], dtype=float)
            for W, b, activation in layers:
                a = ACTIVATIONS[activation](a @ W.T + b)
            out.append(a)
    return np.concatenate(out) if len(out) > 1 else out[0]
