"""Backprop one node at a time: watch the chain rule run.

`backward_steps(root)` (also ``root.backward_steps()``) does exactly what ``root.backward()``
does, but pauses after each node: every grad of this pass is summed from zero, the root is seeded
with ∂L/∂L = 1, and the nodes are visited in reverse topological order. A step is yielded for
every node that HAS children (a leaf passes nothing on), right after its chain rule was applied::

    ∂L/∂child += ∂L/∂node · ∂node/∂child        for each child

``upstream`` = ∂L/∂node is complete at that moment (every use of the node is later in the graph,
so already visited). The local derivative ∂node/∂child was computed in the forward pass from
forward values (the notes: backprop needs the zˡ and aˡ saved going forward); `explain()` says
which. Leaf grads accumulate across passes, as with `backward()`: the grad a leaf held before the
pass is added back with the last step, so after the last step every grad equals `backward()`'s.
After ``backward(create_graph=True)`` a leaf holds a Value (a graph): the steps show and add its
number (`explain.grad_number`, the rule of every picture and page), and the last step adds the
Value itself back, as ``backward()`` does.

In Jupyter a step shows the graph with its node highlighted, the grads known so far (``?`` not
reached yet, "so far" for partial sums) and its explanation; `step_through(root)` gives a slider.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple, cast

from .checks import first_few
from .engine import Value, topological_order
from .explain import data_number, display_names, formula, grad_number, local_derivative_explanation
from .formatting import factor, format_number, number

__all__ = [
    "BackwardStep",
    "Contribution",
    "Stepper",
    "backward_steps",
    "step_through",
]


class Contribution(NamedTuple):
    """What one step added to one child: ``added_grad = upstream · local_grad``."""

    child: Value
    local_grad: float
    added_grad: float


# ---- the run shared by all steps of one pass -------------------------------------------------
@dataclass(eq=False)
class _Pass:
    """One backward pass: the graph, its names, and what each step did (for redrawing any step)."""

    root: Value
    order: list[Value]  # topological: children before parents
    interior: list[Value]  # the nodes with children, in backprop order
    held: dict[Value, float | Value]  # leaf grads from before this pass (a Value after create_graph)
    #: The numbers of ``held`` (`explain.grad_number`), which the steps show and add up.
    held_numbers: dict[Value, float] = field(default_factory=dict)
    names: dict[Value, str] = field(default_factory=dict)
    n_parents: dict[Value, int] = field(default_factory=dict)
    steps: list[BackwardStep] = field(default_factory=list)
    draw_options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(cls, root: Value) -> _Pass:
        order = topological_order(root)
        leaves = [n for n in order if not n.children]
        # checked before anything changes: a grad or data set by hand to a str, None or a Value
        # (p.data = p - lr * p.grad) is named here, not met halfway through the pass
        numbers = {n: grad_number(n) for n in leaves}
        for node in order:
            data_number(node)
        run = cls(root, order, [n for n in reversed(order) if n.children], {n: n.grad for n in leaves},
                  numbers)
        run.names = display_names(root, order)
        for node in order:
            for child in set(node.children):
                run.n_parents[child] = run.n_parents.get(child, 0) + 1
        return run

    @property
    def loss_name(self) -> str:
        return self.names[self.root]  # its label, or "L"

    def grads_after(self, index: int) -> dict[Value, float]:
        """Every node's grad right after step ``index`` (recomputed: steps only record what they added)."""
        grads = dict.fromkeys(self.order, 0.0)
        grads[self.root] = 1.0
        for step in self.steps[: index + 1]:
            for child, _, added in step.contributions:
                grads[child] += added
        if index == len(self.interior) - 1:
            for leaf, before in self.held_numbers.items():
                grads[leaf] += before
        return grads

    def uses_done(self, index: int) -> dict[Value, int]:
        """How many of each node's parents have passed their gradient on, after step ``index``."""
        done: dict[Value, int] = {}
        for node in self.interior[: index + 1]:
            for child in set(node.children):
                done[child] = done.get(child, 0) + 1
        return done


def backward_steps(root: Value) -> Iterator[BackwardStep]:
    """Run ``root.backward()`` one node at a time, yielding a `BackwardStep` per node with children.

    The same arithmetic in the same order as `Value.backward`, so after the last step every grad
    is exactly what ``backward()`` would give (leaf grads accumulate across passes). If you stop
    early, the grads are partial sums; the leaves' earlier grads are still added back.
    """
    if not isinstance(root, Value):
        raise TypeError(f"backward_steps needs a Value, got {type(root).__name__}: {root!r}")
    run = _Pass.start(root)
    for node in run.order:
        node.grad = 0.0
    root.grad = 1.0  # seed: ∂L/∂L = 1
    last = len(run.interior) - 1
    restored = False
    try:
        for index, node in enumerate(run.interior):
            upstream = cast(float, node.grad)  # summed from 0.0 by this pass: a float
            contributions = []
            for child, local in zip(node.children, node.local_grads):
                added = upstream * local
                child.grad += added  # the chain rule
                contributions.append(Contribution(child, local, added))
            if index == last:
                _restore(run)
                restored = True
            step = BackwardStep(node, upstream, tuple(contributions), index, run)
            run.steps.append(step)
            yield step
    finally:
        if not restored:  # a leaf root, or a pass abandoned early
            _restore(run)


def _restore(run: _Pass) -> None:
    """Leaf grads accumulate: add back what each leaf held before the pass."""
    for leaf, before in run.held.items():
        leaf.grad += before  # a Value after create_graph, as backward() leaves it


@dataclass(frozen=True, eq=False)
class BackwardStep:
    """One node's chain-rule step: ``node``, ``upstream`` = ∂L/∂node, and ``contributions``,
    one (child, local_grad, added_grad) per child, with added_grad = upstream · local_grad."""

    node: Value
    upstream: float
    contributions: tuple[Contribution, ...]
    index: int  # 0-based position in the pass
    _run: _Pass = field(repr=False)

    @property
    def total(self) -> int:
        """How many steps the whole pass has."""
        return len(self._run.interior)

    def name(self, value: Value) -> str:
        """How this pass names ``value``: its label, or "n<k>" (k its topological position)."""
        return self._run.names.get(value) or value.label or "?"

    def explain(self) -> str:
        """The step as arithmetic: one ``∂L/∂child += ∂L/∂node · ∂node/∂child`` line per child,
        followed by where the local derivative came from."""
        run, name = self._run, self.name
        L, out = run.loss_name, name(self.node)
        lines = [f"Step {self.index + 1} of {self.total}: {out} = {formula(self.node, name)} = "
                 f"{number(self.node.data)}"]
        if self.node is run.root:
            lines.append(f"  ∂{L}/∂{out} = {number(self.upstream)}: the seed (how {L} changes with itself)")
        else:
            lines.append(f"  ∂{L}/∂{out} = {number(self.upstream)} is complete: every use of {out} is done")
        for i, (child, local, added) in enumerate(self.contributions):
            c = name(child)
            lines.append(f"  ∂{L}/∂{c} += ∂{L}/∂{out} · ∂{out}/∂{c} = "
                         f"{factor(self.upstream)} · {factor(local)} = {number(added)}")
            lines.append(f"      ∂{out}/∂{c} = {local_derivative_explanation(self.node, i, name)}")
        if self.index == self.total - 1:
            carried = [(leaf, g) for leaf, g in run.held_numbers.items() if g != 0.0]
            if carried:
                shown = first_few([f"{name(leaf)} += {factor(float(g))}" for leaf, g in carried])
                lines.append(f"  Last step: leaf grads accumulate, so each adds what it held before "
                             f"({shown})")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.explain()

    def grads(self) -> dict[Value, float]:
        """Every node's grad right after this step (later steps do not change this answer)."""
        return dict(self._grads)

    @cached_property
    def _grads(self) -> dict[Value, float]:
        return self._run.grads_after(self.index)

    @cached_property
    def _uses_done(self) -> dict[Value, int]:
        return self._run.uses_done(self.index)

    def grad_text(self, value: Value) -> str:
        """How this step's picture (and the explorer page) shows ``value``'s grad: "grad 0.5" once
        complete, "grad ?" before backprop reaches it, "grad 0.5 so far" while uses remain."""
        run, grad = self._run, self._grads[value]
        uses, total = self._uses_done.get(value, 0), run.n_parents.get(value, 0)
        if value is run.root or uses == total or self.index == self.total - 1:
            return f"grad {format_number(grad)}"
        if uses == 0:
            return "grad ?"
        return f"grad {format_number(grad)} so far"

    def graph(self, **options: Any) -> Any:
        """The graph at this step: this node yellow, the edges it pushes gradient along bold, each
        grad as known now ("?" not reached, "so far" while other uses are still to come).
        ``options`` go to `microgradlike.viz.draw_dot` (e.g. ``max_nodes``, ``params``, ``rankdir``)."""
        from .viz import draw_dot  # the one way up: pictures are viz's (the steps need none of it)

        run = self._run
        kwargs = {**run.draw_options, **options}
        kwargs.setdefault("names", {v: n for v, n in run.names.items() if not v.label})
        return draw_dot(run.root, highlight=(self.node,), grad_text=self.grad_text,
                        bold_inputs_of=(self.node,), **kwargs)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **_: Any) -> dict[str, str]:
        text = self.explain()
        picture = self.graph()._repr_mimebundle_(include=["image/svg+xml"])
        if "image/svg+xml" in picture:
            shown = f'<div style="overflow-x:auto">{picture["image/svg+xml"]}</div>'
        else:
            shown = picture["text/html"]  # no `dot`: the DOT source and an install hint
        return {"text/plain": text, "text/html": f"{shown}<pre>{html.escape(text)}</pre>"}


# ---- stepping in a notebook --------------------------------------------------------------------
class Stepper:
    """Every step of one backward pass, kept for scrubbing back and forth.

    ``Stepper(root)`` runs the whole pass at once (the grads are then ``backward()``'s) and keeps
    the steps: ``len(s)``, ``s[k]``, iteration, and ``s.widget()`` for a slider in Jupyter.
    ``draw_options`` go to `microgradlike.viz.draw_dot` for every picture.
    """

    def __init__(self, root: Value, **draw_options: Any) -> None:
        self.root = root
        self.steps: list[BackwardStep] = list(backward_steps(root))
        if self.steps:
            self.steps[0]._run.draw_options.update(draw_options)

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, k: int) -> BackwardStep:
        return self.steps[k]

    def __iter__(self) -> Iterator[BackwardStep]:
        return iter(self.steps)

    def widget(self) -> Any:
        """A slider (and play button) over the steps, showing the current one below it."""
        widgets = _ipywidgets()
        from IPython.display import display

        if not self.steps:
            return widgets.HTML("<em>Nothing to step through: the root is a leaf (it has no children).</em>")
        out = widgets.Output()
        n = len(self.steps)
        slider = widgets.IntSlider(value=1, min=1, max=n, description="step", continuous_update=False)
        play = widgets.Play(value=1, min=1, max=n, interval=1500, description="play")
        widgets.jslink((play, "value"), (slider, "value"))

        def show(_: object = None) -> None:
            with out:
                out.clear_output(wait=True)
                display(self.steps[slider.value - 1])

        slider.observe(show, names="value")
        show()
        return widgets.VBox([widgets.HBox([play, slider]), out])


def _ipywidgets() -> Any:
    try:
        import ipywidgets
    except ImportError as e:
        raise ImportError(
            "the step-through slider needs ipywidgets: pip install ipywidgets "
            "(plain iteration works without it: for step in root.backward_steps(): print(step.explain()))"
        ) from e
    return ipywidgets


def step_through(root: Value, **draw_options: Any) -> Any:
    """An ipywidgets slider scrubbing through ``root``'s backward pass, one step per position.

    Runs the whole pass first (so all grads end as ``root.backward()`` leaves them). Needs
    ipywidgets; without it use ``Stepper(root)`` or ``root.backward_steps()`` and print the steps.
    """
    _ipywidgets()  # fail before doing any work
    return Stepper(root, **draw_options).widget()
