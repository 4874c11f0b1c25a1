"""The backprop explorer: a graph you step through in a browser, one self-contained HTML page.

``Explorer(root)`` runs `Stepper` (the stepper's backward pass) on the graph below ``root`` and
turns it into a page: the graph drawn by Graphviz (inline SVG), buttons next / previous / reset /
play (and the arrow keys), and for each step the current node highlighted with its incoming
edges, every grad shown as backprop reaches it (``?`` before) and the step's explanation, the
very text of `BackwardStep.explain()`::

    ∂L/∂child += ∂L/∂node · ∂node/∂child

A second mode replays the forward pass: every value appears in topological order (inputs before
the nodes that use them), with a line such as ``c = a × b = 2.0 × 3.0 = 6.0`` (`forward_steps`).
A third is forward-mode differentiation (`tangent_steps`): one input moves, and each node's tangent
arrives from its inputs through the same local derivatives, multiplied in the other order.

Every text and number is computed here, in Python, and embedded as JSON; the page's script only
shows them. A mode is data: an intro, a legend, the first text of each node field (``"data"``,
``"grad"``, and ``"local"``: the local derivatives on the edges into the node, ``None`` for the
numbers drawn there) and a list of steps, each naming its node, its explanation and which fields
of which nodes change, so each mode is one entry in `Explorer.modes`, with no change to the script.

The user's graph is left as it was found: the pass runs, and then every grad is put back.

    >>> Explorer(loss).save("backprop.html")       # open it in a browser
    >>> Explorer(loss)                              # in Jupyter: shown inline

Command line: ``python -m microgradlike graph "tanh(x*w + b)" x=2 w=-3 b=6.88 -o page.html``.
"""

from __future__ import annotations

import html
import os
import re
import xml.etree.ElementTree as ET
from typing import Any

from .checks import first_few, short
from .engine import Value, topological_order
from .explain import data_number
from .formatting import format_number
from .forward import forward_steps, tangent_steps
from .pages import iframe, page, write_page
from .stepper import BackwardStep, Stepper
from .viz import GraphvizNotInstalled, cut_label, draw_dot

__all__ = ["Explorer"]

_SVG = "http://www.w3.org/2000/svg"
_XLINK = "http://www.w3.org/1999/xlink"
ET.register_namespace("", _SVG)
ET.register_namespace("xlink", _XLINK)

# draw_dot options the explorer sets itself (they are what the page animates).
_RESERVED = frozenset({"show_grad", "highlight", "names", "grad_text", "bold_inputs_of"})
# A value node's grad field is drawn with this marker, so the node can be found in the SVG.
_MARK = re.compile(r"⟦(\d+)⟧")


class Explorer:
    """The backward pass of ``root`` (and its forward pass) as a page to step through.

    ``wrt`` is the leaf that moves in the forward-mode view (default: the first leaf of the formula).
    ``draw_options`` go to `microgradlike.viz.draw_dot` (e.g. ``rankdir="TB"``, ``params=model``,
    ``max_nodes``). ``explorer.html()`` is the page, ``explorer.save("page.html")`` writes it,
    and Jupyter shows it inline. ``explorer.modes`` holds everything the page shows.
    """

    def __init__(self, root: Value, wrt: Value | None = None, **draw_options: Any) -> None:
        if not isinstance(root, Value):
            raise TypeError(f"Explorer needs a Value, got {type(root).__name__}: {short(root)}")
        reserved = sorted(_RESERVED & draw_options.keys())
        if reserved:
            raise TypeError(f"Explorer sets {', '.join(reserved)} itself; pass other draw_dot options")
        self.root = root
        self.draw_options = draw_options
        self.order = topological_order(root)  # the stepper names node k "n<k>" in this order
        held = [v.grad for v in self.order]
        # After backward(create_graph=True) a grad is a Value: the steps show its number (the
        # stepper's rule, `explain.grad_number`), and the intro says so.
        self._held_graphs = [v for v, g in zip(self.order, held) if isinstance(g, Value)]
        self._data = [data_number(v) for v in self.order]  # a Value put in .data is named here
        try:
            self.steps: list[BackwardStep] = list(Stepper(root))
        finally:  # exporting must not change the user's graph
            for v, g in zip(self.order, held):
                v.grad = g
        self.names = [self._name(v) for v in self.order]
        self.index = {v: k for k, v in enumerate(self.order)}
        self.modes: list[dict[str, Any]] = [self._backward_mode(), self._forward_mode()]
        wrt = _first_leaf(root) if wrt is None else wrt
        if wrt not in self.index or wrt.children:
            raise ValueError(f"wrt must be a leaf of the graph (an input or a parameter), got {short(wrt)}")
        if self.steps:  # a leaf root has no tangent to follow
            self.modes.append(self._tangent_mode(wrt))

    def _name(self, v: Value) -> str:
        if self.steps:
            return self.steps[0].name(v)
        return v.label or "n0"  # a leaf root: no step to ask

    # ---- the two modes, as data -------------------------------------------------------------
    def _backward_mode(self) -> dict[str, Any]:
        """Each step: its node, `explain()`'s text, and the grads that change, as the stepper's
        pictures print them ("grad ?" not reached, "grad 0.5 so far" while uses remain)."""
        index = self.index
        out = []
        shown = ["grad ?"] * len(self.order)  # each grad as the page shows it so far
        for step in self.steps:
            touched = [*([self.root] if step.index == 0 else []),
                       *(child for child, _, _ in step.contributions)]
            last = step.index == len(self.steps) - 1  # leaves add back what they held: every grad final
            sets: list[list[Any]] = [[index[v], "grad", step.grad_text(v)]
                                    for v in dict.fromkeys(self.order if last else touched)]
            # red: what this step added to; on the last step also a leaf whose held grad it adds
            # back (its number moves), not every grad it merely writes out as final
            touched_at = {index[v] for v in touched}
            changed = [k for k, _, text in sets if k in touched_at or text != shown[k]]
            for k, _, text in sets:
                shown[k] = text
            out.append({"node": index[step.node], "text": step.explain(), "set": sets, "changed": changed})
        loss = cut_label(self.names[-1])  # the root: its label, or L
        intro = (f"Backprop starts at the output {loss} with ∂{loss}/∂{loss} = 1 (the seed). Each step "
                 f"takes one node, whose gradient is then complete, and passes it on to the node's "
                 f"inputs by the chain rule: ∂{loss}/∂input += ∂{loss}/∂node · ∂node/∂input. "
                 f"Press next (or →) for the first step.")
        if not self.steps:
            intro = f"{loss} is a leaf: it has no inputs, so backprop has nothing to do."
        leaves = [cut_label(self._name(v)) for v in self._held_graphs if not v.children]
        if leaves:
            listed = first_few(leaves)
            one = len(leaves) == 1
            graph = "a Value (a graph" if one else "Values (graphs"
            intro += (f" Before this pass {'the grad' if one else 'the grads'} of {listed} held {graph} made "
                      f"by backward(create_graph=True)): the last step adds {'its' if one else 'their'} "
                      f"{'number' if one else 'numbers'}, as a leaf adds what it held; "
                      f"{'the Value is' if one else 'the Values are'} left as before.")
        legend = {"node": "the node of this step",
                  "edges": "the edges into it, along which its gradient flows back · ? not reached "
                           "yet · so far: more uses still to come",
                  "changed": "a grad this step set or added to"}
        return {"id": "backward", "label": "backward pass (backprop)", "intro": intro, "legend": legend,
                "initial": {"data": [f"data {format_number(d)}" for d in self._data],
                            "grad": ["grad ?"] * len(self.order)}, "steps": out}

    def _forward_mode(self) -> dict[str, Any]:
        """Each value in topological order, as `forward_steps` explains it: "c = a × b = 2.0 × 3.0 = 6.0".
        The local derivatives on the edges into a node are computed from the same inputs, so they
        show ("×?" before) once the node is computed: it records them then, for backprop."""
        out = [{"node": k, "text": step.explain(),
                "set": [[k, "data", f"data {format_number(step.node.data)}"], [k, "local", None]],
                "changed": []}
               for k, step in enumerate(forward_steps(self.root))]
        intro = ("The forward pass computes every value from its inputs, in topological order: a node "
                 "only after all the nodes it reads. With its value, each node records its local "
                 "derivatives (×… on the edges into it, ×? until then), which backprop will multiply. "
                 "Press next (or →) to compute the first value.")
        n = len(self.order)
        legend = {"node": "the value computed in this step",
                  "edges": "the inputs it is computed from, each edge with its local derivative · ? not "
                           "computed yet"}
        return {"id": "forward", "label": "forward pass", "intro": intro, "legend": legend,
                "initial": {"data": ["data ?"] * n, "grad": ["grad ?"] * n, "local": ["×?"] * n},
                "steps": out}

    def _tangent_mode(self, wrt: Value) -> dict[str, Any]:
        """Forward mode: ``wrt`` moves at rate 1, and each node's tangent ∂node/∂t arrives from its
        inputs as `tangent_steps` explains it (the same local derivatives as backprop's)."""
        x = cut_label(self._name(wrt))  # it is shown in every node of the picture
        initial = [f"∂/∂{x} = {format_number(1.0 if v is wrt else 0.0)}" if not v.children
                   else f"∂/∂{x} ?" for v in self.order]
        out = [{"node": self.index[step.node], "text": step.explain(),
                "set": [[self.index[step.node], "grad", f"∂/∂{x} = {format_number(step.tangent)}"]],
                "changed": []}
               for step in tangent_steps(self.root, {wrt: 1.0})]
        intro = (f"Forward mode: the input {x} moves at rate 1 (∂{x}/∂t = 1) while every other leaf "
                 f"stays still. Each step takes the next node in topological order and adds up how "
                 f"fast its inputs move, each times its local derivative: ∂node/∂t = Σ ∂node/∂input · "
                 f"∂input/∂t. The output's tangent is ∂{cut_label(self.names[-1])}/∂{x}; one pass per input, "
                 f"where "
                 f"backprop gives every input's gradient in one pass.")
        legend = {"node": "the node whose tangent arrives in this step",
                  "edges": "its inputs, whose tangents it adds up · ? not reached yet"}
        return {"id": "tangent", "label": f"forward mode (∂/∂{x})", "intro": intro, "legend": legend,
                "initial": {"data": [f"data {format_number(d)}" for d in self._data],
                            "grad": initial}, "steps": out}

    # ---- the picture --------------------------------------------------------------------------
    def svg(self) -> str:
        """The graph as SVG, each value node marked ``data-node="<name>"`` and ``data-index="k"``
        (its topological position), its fields ``data-role="data"`` / ``"grad"``; each op circle
        ``data-op-of="k"`` and each edge into it or out of it ``data-into="k"``."""
        widest: dict[int, int] = {}
        for mode in self.modes:
            for k, text in enumerate(mode["initial"]["grad"]):
                widest[k] = max(widest.get(k, 0), len(text))
            for step in mode["steps"]:
                for k, field, text in step["set"]:
                    if field == "grad":
                        widest[k] = max(widest.get(k, 0), len(text))

        def marker(v: Value) -> str:
            k = self.index[v]
            text = f"grad ⟦{k}⟧"
            return text + "0" * max(0, widest[k] - len(text))  # as wide as its widest grad

        # Labelled values keep their labels, which are their names: a parameter drawn in its
        # neuron's box is then shown as "w.1" rather than "layers.0.neurons.3.w.1".
        unlabelled = {v: name for v, name in zip(self.order, self.names) if not v.label}
        graph = draw_dot(self.root, names=unlabelled, grad_text=marker, **self.draw_options)
        return _mark_up(graph.pipe(format="svg").decode("utf-8"), self.names)

    # ---- the page -----------------------------------------------------------------------------
    def html(self) -> str:
        """The whole page (needs Graphviz's ``dot`` to draw the graph)."""
        title = f"Backprop explorer: {cut_label(self.names[-1])} = {format_number(self.root.data)}"
        body = _BODY.format(title=html.escape(title), svg=self.svg(),
                            buttons="".join(f'<button type="button" data-mode="{m["id"]}">'
                                            f'{html.escape(m["label"])}</button>' for m in self.modes))
        return page(title, body, ["page.css", "explorer.css"], ["explorer.js"],
                    {"nodes": self.names, "modes": self.modes})

    def save(self, path: str | os.PathLike[str]) -> str:
        """Write the page to ``path`` (atomically); returns the path."""
        return write_page(path, self.html())

    def _repr_html_(self) -> str:
        try:
            document = self.html()
        except GraphvizNotInstalled as e:
            text = "\n\n".join(step.explain() for step in self.steps)
            return f"<p><em>{html.escape(str(e))}</em></p><pre>{html.escape(text)}</pre>"
        height = re.search(r'<svg[^>]*\sheight="([\d.]+)pt"', document)
        picture = float(height.group(1)) * 4 / 3 if height else 300
        return iframe(document, min(900, int(picture) + 380))

    def __repr__(self) -> str:
        return (f"Explorer({cut_label(self.names[-1])} = {format_number(self.root.data)}: "
                f"{len(self.order)} values, {len(self.steps)} backward steps)")


_BODY = """<main class="explorer" data-explorer>
<h1>{title}</h1>
<nav class="modes" aria-label="mode">{buttons}</nav>
<div class="controls">
  <button type="button" data-action="reset" title="back to the start (Home)">reset</button>
  <button type="button" data-action="prev" title="previous step (←)">◀ previous</button>
  <button type="button" data-action="next" title="next step (→)">next ▶</button>
  <button type="button" data-action="play" title="play / pause (space)">▶ play</button>
  <span class="counter">step <span data-role="step">0 / 0</span></span>
</div>
<pre class="explanation" data-role="explanation" aria-live="polite"></pre>
<div class="picture">{svg}</div>
<p class="legend">
  <span class="legend-item"><span class="swatch swatch-current"></span>
    <span data-role="legend-node"></span></span>
  <span class="legend-item"><span class="swatch swatch-active"></span>
    <span data-role="legend-edges"></span></span>
  <span class="legend-item" data-role="legend-changed-item"><span class="changed-sample">red</span>
    <span data-role="legend-changed"></span></span>
</p>
</main>"""


def _first_leaf(root: Value) -> Value:
    """The leaf a reader meets first in the formula: following each node's first input."""
    node = root
    while node.children:
        node = node.children[0]
    return node


# ---- marking up Graphviz's SVG ---------------------------------------------------------------
def _mark_up(svg: str, names: list[str]) -> str:
    """Find each value node by the marker in its grad field and give the page its handles."""
    root = ET.fromstring(svg)  # the comments and the DOCTYPE are dropped
    g, text_tag, title_tag = f"{{{_SVG}}}g", f"{{{_SVG}}}text", f"{{{_SVG}}}title"
    node_of_id: dict[str, int] = {}  # Graphviz node name -> value index
    groups = {}
    for group in root.iter(g):
        kind = group.get("class")
        if kind not in ("node", "edge"):
            continue
        title = group.find(title_tag)
        dot_id = (title.text or "") if title is not None else ""
        groups[group] = (kind, dot_id)
        if title is not None:
            group.remove(title)  # Graphviz's internal node names would show as tooltips
        if kind != "node":
            continue
        for text in group.iter(text_tag):
            found = _MARK.search(text.text or "")
            if found:
                k = int(found.group(1))
                node_of_id[dot_id] = k
                group.set("data-node", names[k])
                group.set("data-index", str(k))
                text.set("data-role", "grad")
                text.text = "grad ?"
                tip = ET.Element(title_tag)
                tip.text = names[k]
                group.insert(0, tip)
        for text in group.iter(text_tag):
            if group.get("data-index") is not None and (text.text or "").startswith("data "):
                text.set("data-role", "data")
    # An op circle is the one node with an edge into a value node; edges into it feed that value.
    edges: list[tuple[ET.Element, str, str]] = []
    for group, (kind, dot_id) in groups.items():
        if kind == "edge" and "->" in dot_id:
            source, _, target = dot_id.partition("->")
            edges.append((group, source, target))
    op_of = {source: node_of_id[target] for _, source, target in edges if target in node_of_id}
    for group, (kind, dot_id) in groups.items():
        if kind == "node" and dot_id in op_of:
            group.set("data-op-of", str(op_of[dot_id]))
    for group, _, target in edges:
        into = node_of_id.get(target, op_of.get(target))
        if into is not None:
            group.set("data-into", str(into))
            for text in group.iter(text_tag):  # the local derivative ∂node/∂input ("×3")
                text.set("data-role", "local")
    return ET.tostring(root, encoding="unicode")
