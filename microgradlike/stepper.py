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

In Jupyter a step shows the graph with its node highlighted, the grads known so far (``?`` not
reached yet, "so far" for partial sums) and its explanation; `step_through(root)` gives a slider.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .engine import Value, node_names, topological_order
from .ops import NARY, OPS

__all__ = [
    "BackwardStep",
    "Contribution",
    "Stepper",
    "backward_steps",
    "local_derivative_explanation",
    "step_through",
]


class Contribution(NamedTuple):
    """What one step added to one child: ``added_grad = upstream · local_grad``."""

    child: Value
    local_grad: float
    added_grad: float


def _num(x: float) -> str:
    """A number for explanations: 6 significant digits, and "2.0" rather than "2"."""
    text = f"{x + 0.0:.6g}"  # + 0.0 turns −0.0 into 0.0
    if text.lstrip("-").isdigit():
        text += ".0"
    return text


def _factor(x: float) -> str:
    """A number inside a product: negative ones in parentheses, 2.0 · (-3.0)."""
    return f"({_num(x)})" if x < 0 else _num(x)


# ---- the run shared by all steps of one pass -------------------------------------------------
@dataclass(eq=False)
class _Pass:
    """One backward pass: the graph, its names, and what each step did (for redrawing any step)."""

    root: Value
    order: list[Value]  # topological: children before parents
    interior: list[Value]  # the nodes with children, in backprop order
    held: dict[Value, float]  # leaf grads from before this pass
    names: dict[Value, str] = field(default_factory=dict)
    n_parents: dict[Value, int] = field(default_factory=dict)
    steps: list[BackwardStep] = field(default_factory=list)
    draw_options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(cls, root: Value) -> _Pass:
        order = topological_order(root)
        run = cls(root, order, [n for n in reversed(order) if n.children],
                  {n: n.grad for n in order if not n.children})
        run.names = node_names(root, order)
        for node in order:
            for child in set(node.children):
                run.n_parents[child] = run.n_parents.get(child, 0) + 1
        return run

    @property
    def loss_name(self) -> str:
        return self.root.label or "L"

    def grads_after(self, index: int) -> dict[Value, float]:
        """Every node's grad right after step ``index`` (recomputed: steps only record what they added)."""
        grads = dict.fromkeys(self.order, 0.0)
        grads[self.root] = 1.0
        for step in self.steps[: index + 1]:
            for child, _, added in step.contributions:
                grads[child] += added
        if index == len(self.interior) - 1:
            for leaf, before in self.held.items():
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
            upstream = node.grad
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
        leaf.grad += before


# ---- explaining a step ---------------------------------------------------------------------
def _operand_names(node: Value, name: Callable[[Value], str]) -> dict[str, str]:
    """The op's a and b as the step shows them: a Value's name, or the plain number it used."""
    kids = [name(k) for k in node.children]
    if node.layout == "ac":
        return {"a": kids[0], "b": _num(node.constant)}  # type: ignore[arg-type]
    if node.layout == "ca":
        return {"a": _num(node.constant), "b": kids[0]}  # type: ignore[arg-type]
    return {"a": kids[0] if kids else "", "b": kids[1] if len(kids) > 1 else ""}


def _operand_values(node: Value) -> tuple[float, float]:
    kids = [k.data for k in node.children]
    if node.layout == "ac":
        return kids[0], node.constant  # type: ignore[return-value]
    if node.layout == "ca":
        return node.constant, kids[0]  # type: ignore[return-value]
    return (kids[0] if kids else 0.0), (kids[1] if len(kids) > 1 else 0.0)


def _compared_with_zero(x: float) -> str:
    return "> 0" if x > 0 else "< 0" if x < 0 else "= 0 (the kink: taken as 0 there)"


def local_derivative_explanation(node: Value, i: int, name: Callable[[Value], str]) -> str:
    """Why ∂node/∂(child i) has the value recorded in ``node.local_grads[i]``, naming the forward
    values it came from, in the words of the op table (`microgradlike.ops`)."""
    if node.op in NARY:
        return _nary_explanation(node, i, name)
    op = OPS.get(node.op)
    if op is None:
        raise ValueError(f"no op {node.op!r} in microgradlike.ops: cannot explain {node!r}")
    names = _operand_names(node, name)
    va, vb = _operand_values(node)
    # which operand child i is: with a plain number, the Value is the other one
    position = 1 if node.layout == "ca" else i
    with_number = node.layout in ("ac", "ca") and op.words_with_number
    template = (op.words_with_number if with_number else op.words)[position]
    operand = va if position == 0 else vb
    return template.format(a=names["a"], b=names["b"], out=name(node), va=_num(va), vb=_num(vb),
                           vout=_num(node.data), d=_num(node.local_grads[i]),
                           cmp=_compared_with_zero(operand))


def _nary_explanation(node: Value, i: int, name: Callable[[Value], str]) -> str:
    """A "dot" child: its partner from the node's layout (or the bias); a "sum" term: 1; a
    "logsumexp" term: its softmax weight e^(v − out)."""
    words = NARY[node.op].words
    if node.op == "sum":
        return words["term"]
    if node.op == "logsumexp":
        term = node.children[i]
        return words["term"].format(v=name(term), out=name(node), vv=_num(term.data), vout=_num(node.data),
                                    d=_num(node.local_grads[i]))
    role, partner = dot_role(node, i)
    d = _num(node.local_grads[i])
    if role == "pair":
        assert partner is not None
        return words["pair"].format(partner=name(partner), d=d)
    return words[role].format(d=d)


def dot_role(node: Value, i: int) -> tuple[str, Value | None]:
    """What child ``i`` of a "dot" node is, from its ``layout``: ("pair", the Value it multiplied),
    ("plain input", None) for a Value weight times a plain number, ("plain weight", None) for a
    plain number times a Value input, or ("bias", None)."""
    child = 0
    for kind in node.layout:
        width = 2 if kind == "p" else 0 if kind == "c" else 1
        if child <= i < child + width:
            if kind == "p":
                return "pair", node.children[child + 1 if i == child else child]
            return {"w": "plain input", "x": "plain weight", "b": "bias"}[kind], None
        child += width
    raise IndexError(f"child {i} is not in the layout {node.layout!r} of {node!r}")


def _dot_formula(node: Value, name: Callable[[Value], str]) -> str:
    """Σ's terms in names: "w0·x0 + w1·2.0 + b"."""
    terms, child = [], 0
    kids, local = node.children, node.local_grads
    for kind in node.layout:
        if kind == "p":
            terms.append(f"{name(kids[child])}·{name(kids[child + 1])}")
            child += 2
        elif kind == "w":
            terms.append(f"{name(kids[child])}·{_num(local[child])}")
            child += 1
        elif kind == "x":
            terms.append(f"{_num(local[child])}·{name(kids[child])}")
            child += 1
        elif kind == "b":
            terms.append(name(kids[child]))
            child += 1
    if node.constant:
        terms.append(_num(node.constant))
    if len(terms) > 5:
        terms = [*terms[:4], f"… ({len(terms) - 4} more terms)"]
    return " + ".join(terms) if terms else "0.0"


def _formula(node: Value, name: Callable[[Value], str]) -> str:
    """How ``node`` was computed, in names: "c = a × b", "o = tanh(n)", "z = w0·x0 + b"."""
    if node.op == "dot":
        return _dot_formula(node, name)
    op = OPS.get(node.op)
    if op is not None and op.infix:
        names = _operand_names(node, name)
        return f"{names['a']} {op.symbol} {names['b']}"
    kids = [name(k) for k in node.children]
    if node.op == "neg":
        return f"{op.symbol}{kids[0]}"  # type: ignore[union-attr]
    shown = kids if len(kids) <= 6 else [*kids[:5], f"… {len(kids) - 5} more"]
    plain = f" + {_num(node.constant)}" if node.constant else ""  # a sum's plain-number part
    symbol = op.symbol if op is not None else node.op
    return f"{symbol}({', '.join(shown)}){plain}"


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
        lines = [f"Step {self.index + 1} of {self.total}: {out} = {_formula(self.node, name)} = "
                 f"{_num(self.node.data)}"]
        if self.node is run.root:
            lines.append(f"  ∂{L}/∂{out} = {_num(self.upstream)}: the seed (how {L} changes with itself)")
        else:
            lines.append(f"  ∂{L}/∂{out} = {_num(self.upstream)} is complete: every use of {out} is done")
        for i, (child, local, added) in enumerate(self.contributions):
            c = name(child)
            lines.append(f"  ∂{L}/∂{c} += ∂{L}/∂{out} · ∂{out}/∂{c} = "
                         f"{_factor(self.upstream)} · {_factor(local)} = {_num(added)}")
            lines.append(f"      ∂{out}/∂{c} = {local_derivative_explanation(self.node, i, name)}")
        if self.index == self.total - 1:
            carried = [(leaf, g) for leaf, g in run.held.items() if g != 0.0]
            if carried:
                shown = ", ".join(f"{name(leaf)} += {_factor(g)}" for leaf, g in carried[:5])
                more = f" and {len(carried) - 5} more" if len(carried) > 5 else ""
                lines.append(f"  Last step: leaf grads accumulate, so each adds what it held before "
                             f"({shown}{more})")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.explain()

    def grads(self) -> dict[Value, float]:
        """Every node's grad right after this step (later steps do not change this answer)."""
        return self._run.grads_after(self.index)

    def graph(self, **options: Any) -> Any:
        """The graph at this step: this node yellow, the edges it pushes gradient along bold, each
        grad as known now ("?" not reached, "so far" while other uses are still to come).
        ``options`` go to `microgradlike.viz.draw_dot` (e.g. ``max_nodes``, ``params``, ``rankdir``)."""
        from .viz import draw_dot, format_number  # viz draws; the stepper only knows steps

        run = self._run
        grads, done = self.grads(), run.uses_done(self.index)
        last = self.index == self.total - 1

        def grad_text(v: Value) -> str:
            uses, total = done.get(v, 0), run.n_parents.get(v, 0)
            if v is run.root or uses == total or last:
                return f"grad {format_number(grads[v])}"
            if uses == 0:
                return "grad ?"
            return f"grad {format_number(grads[v])} so far"

        kwargs = {**run.draw_options, **options}
        kwargs.setdefault("names", {v: n for v, n in run.names.items() if not v.label})
        return draw_dot(run.root, highlight=(self.node,), grad_text=grad_text,
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
