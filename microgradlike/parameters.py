"""A set of parameters, named: how tracing, pictures and training read ``params``.

A Module names its parameters by their dotted paths (``"layers.0.neurons.3.w.1"``); a plain list
of Values, or a model of your own that only has ``parameters()``, names each by its label. Kept
apart from `microgradlike.nn` so that what reads parameters (the compiler, the pictures) need not
import the models.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .checks import short
from .engine import Value

__all__ = ["named", "positions", "tied"]

def named(params: Any) -> list[tuple[str, Value]]:
    """``params`` (None, a Module, a model with only ``parameters()``, or a list of Values or
    (name, Value) pairs) as (name, Value) pairs, the one way training, tracing and pictures read a
    set of parameters: a Module names them by their dotted paths, a Value without a name is called
    by its label, or ``param<i>``."""
    if params is None:
        return []
    if hasattr(params, "named_parameters"):
        return list(params.named_parameters())
    if callable(getattr(params, "parameters", None)):  # a model of your own: its Values, by their labels
        params = params.parameters()
    named = []
    for i, item in enumerate(params):
        if isinstance(item, Value):
            named.append((item.label or f"param{i}", item))
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Value):
            named.append((str(item[0]), item[1]))
        else:
            raise TypeError(f"params must be a Module or a list of Values or (name, Value) pairs; "
                            f"entry {i} is {short(item)}")
    return named


def tied(places: Iterable[tuple[str, Value]]) -> tuple[str, str] | None:
    """The first two names, among (name, Value) pairs for every place of a model that holds a
    parameter, that hold one and the same Value (tied weights: a Value, or a Neuron, used twice),
    or None when no Value is held twice. The one rule for what a file (`Module.save`) or a torch
    module (`bridge.to_torch`), which keep a number per place, cannot hold."""
    first: dict[int, str] = {}
    for name, p in places:
        if id(p) in first:
            return first[id(p)], name
        first[id(p)] = name
    return None


def positions(values: Iterable[Value], within: Iterable[Value]) -> list[int]:
    """Where each of ``values`` stands in ``within``, by identity: an optimiser's parameters in the
    model's order (the optimiser keeps its state in its own)."""
    position = {id(p): i for i, p in enumerate(within)}
    return [position[id(p)] for p in values]
