"""The forward direction, one node at a time: the forward pass, and forward-mode differentiation.

`forward_steps(root)` replays the forward pass of a graph already built: every node in topological
order (inputs first), each computed from its children's values::

    n3 = a × b = 2.0 × 3.0 = 6.0

`tangent_steps(root, seeds)` is **forward mode**. The inputs in ``seeds`` move at the given rates
(a direction v), and each node's *tangent* — how fast it moves — arrives from its children, by the
chain rule in the forward order::

    ∂n3/∂t = ∂n3/∂a · ∂a/∂t + ∂n3/∂b · ∂b/∂t

with the very local derivatives ∂n3/∂a that backprop uses (`microgradlike.stepper`), multiplied the
other way round. One forward-mode pass gives the derivative of every node along ONE direction; one
backward pass gives the derivative of ONE output with respect to every input. For a loss of many
parameters that is why backprop is the efficient one (`microgradlike.functional.jvp` vs
`grad`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from .checks import short
from .derivatives import local_derivatives
from .engine import Value, sum_values, topological_order
from .explain import display_names, formula, local_derivative_explanation
from .formatting import factor, number

__all__ = ["ForwardStep", "TangentStep", "forward_steps", "tangent_steps", "tangents"]

Number = float | Value


@dataclass(frozen=True, eq=False)
class ForwardStep:
    """One node of the forward pass: ``node`` computed from its children (a leaf is given)."""

    node: Value
    index: int  # 0-based position in topological order
    total: int
    names: Mapping[Value, str]

    def name(self, value: Value) -> str:
        return self.names.get(value) or value.label or "?"

    def explain(self) -> str:
        """``n3 = a × b = 2.0 × 3.0 = 6.0``; for a leaf, its given value."""
        head = f"Step {self.index + 1} of {self.total}: "
        out = self.name(self.node)
        if not self.node.children:
            return f"{head}{out} = {number(self.node.data)}: a leaf (an input or a parameter), given"
        in_names = formula(self.node, self.name)
        in_numbers = formula(self.node, lambda v: number(v.data))
        return f"{head}{out} = {in_names} = {in_numbers} = {number(self.node.data)}"

    def __str__(self) -> str:
        return self.explain()


def forward_steps(root: Value) -> Iterator[ForwardStep]:
    """Every node below ``root`` in topological order, leaves first, each with its computation."""
    if not isinstance(root, Value):
        raise TypeError(f"forward_steps needs a Value, got {type(root).__name__}: {root!r}")
    order = topological_order(root)
    names = display_names(root, order)
    for k, node in enumerate(order):
        yield ForwardStep(node, k, len(order), names)


class TangentContribution(tuple):
    """What one child adds to a node's tangent: ``added = local · child_tangent`` (exactly 0 from a
    child that stays still: see `tangents`)."""

    __slots__ = ()

    def __new__(cls, child: Value, local: float, child_tangent: float,
                moving: bool = True) -> TangentContribution:
        return super().__new__(cls, (child, local, child_tangent, local * child_tangent if moving else 0.0))

    child = property(lambda self: self[0])
    local = property(lambda self: self[1])
    child_tangent = property(lambda self: self[2])
    added = property(lambda self: self[3])


@dataclass(frozen=True, eq=False)
class TangentStep:
    """One node of a forward-mode pass: its ``tangent`` ∂node/∂t, summed from its children's."""

    node: Value
    tangent: float
    contributions: tuple[TangentContribution, ...]
    index: int  # 0-based position among the nodes with children
    total: int
    names: Mapping[Value, str]
    seeds: Mapping[Value, float]

    def name(self, value: Value) -> str:
        return self.names.get(value) or value.label or "?"

    def explain(self) -> str:
        """The step as arithmetic: ∂n/∂t = Σ ∂n/∂c · ∂c/∂t, then why each ∂n/∂c has its value."""
        name, out = self.name, self.name(self.node)
        lines = [f"Step {self.index + 1} of {self.total}: {out} = {formula(self.node, name)} = "
                 f"{number(self.node.data)}"]
        symbols = " + ".join(f"∂{out}/∂{name(c.child)} · ∂{name(c.child)}/∂t"
                             for c in self.contributions)
        numbers = " + ".join(f"{factor(c.local)} · {factor(c.child_tangent)}" for c in self.contributions)
        lines.append(f"  ∂{out}/∂t = {symbols} = {numbers} = {number(self.tangent)}")
        for i, c in enumerate(self.contributions):
            why = local_derivative_explanation(self.node, i, name)
            lines.append(f"      ∂{out}/∂{name(c.child)} = {why}")
        if self.index == 0:
            moving = ", ".join(f"∂{name(v)}/∂t = {number(t)}" for v, t in self.seeds.items()) or "none"
            lines.append(f"  The inputs move at {moving}; every other leaf stays still (∂/∂t = 0)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.explain()


def tangent_steps(root: Value, seeds: Mapping[Value, float] | Value) -> Iterator[TangentStep]:
    """Forward mode through the graph below ``root``: the leaves in ``seeds`` move at those rates,
    and each node with children gets its tangent ∂node/∂t = Σ ∂node/∂child · ∂child/∂t, in
    topological order. The last step's tangent is ∇root · v, what `functional.jvp` returns.
    One leaf alone, ``tangent_steps(y, x)``, is ``{x: 1.0}``: the last tangent is ∂y/∂x."""
    if not isinstance(root, Value):
        raise TypeError(f"tangent_steps needs a Value, got {type(root).__name__}: {short(root)}")
    if isinstance(seeds, Value):
        seeds = {seeds: 1.0}
    if not isinstance(seeds, Mapping):
        raise TypeError(f"seeds must map leaves to rates, like {{x: 1.0}} (or be one leaf x, moving at "
                        f"rate 1), got {type(seeds).__name__}: {short(seeds)}")
    for leaf in seeds:
        if not isinstance(leaf, Value) or leaf.children:
            raise ValueError(f"seeds must map leaves of the graph to rates, got {short(leaf)}")
    order = topological_order(root)
    names = display_names(root, order)
    tangent, moving = _tangents(root, seeds, order, False)  # the arithmetic; the steps only show it
    interior = [node for node in order if node.children]
    for k, node in enumerate(interior):
        parts = tuple(TangentContribution(child, local, tangent[child], child in moving)  # type: ignore[arg-type]
                      for child, local in zip(node.children, node.local_grads))
        yield TangentStep(node, tangent[node], parts, k, len(interior), names, dict(seeds))  # type: ignore[arg-type]


def tangents(root: Value, seeds: Mapping[Value, Number], order: list[Value] | None = None,
             create_graph: bool = False) -> dict[Value, Number]:
    """Every node's tangent below ``root`` when the nodes in ``seeds`` move at those rates
    (other leaves stay still): ṅ = Σ_c ∂n/∂c · ċ, in topological order (``order``, when the
    caller has it already). A seeded node moves at its own rate, whatever it was computed from.

    A node that depends on no seed stays still: its tangent is exactly 0, and it adds nothing to
    the nodes above it, whatever its local derivative (as in JAX: ∞ · 0 is not computed, so a
    still √0 never makes a tangent NaN). With ``create_graph`` the tangents are Values, built from
    each op's derivative formula (`microgradlike.derivatives`), so they can be differentiated
    again; the rates may be Values."""
    return _tangents(root, seeds, topological_order(root) if order is None else order, create_graph)[0]


def _tangents(root: Value, seeds: Mapping[Value, Number], order: list[Value],
              create_graph: bool) -> tuple[dict[Value, Number], set[Value]]:
    """`tangents`, and the set of nodes that move."""
    tangent: dict[Value, Number] = {}
    moving: set[Value] = set()
    for node in order:
        if node in seeds:
            tangent[node] = seeds[node] if create_graph else float(seeds[node])
            moving.add(node)
            continue
        tangent[node] = 0.0
        if not any(child in moving for child in node.children):
            continue  # still
        moving.add(node)
        if create_graph:
            parts = [local * tangent[child]
                     for child, local in zip(node.children, local_derivatives(node)) if child in moving]
            tangent[node] = sum_values(parts) if any(isinstance(p, Value) for p in parts) else sum(parts)
            continue
        total: Number = 0.0
        for child, local in zip(node.children, node.local_grads):
            if child in moving:
                total += local * tangent[child]
        tangent[node] = total
    return tangent, moving
