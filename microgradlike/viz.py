"""Pictures of computation graphs: `draw_dot` turns a `Value` graph into a Graphviz drawing.

Each value is a record ``label | data | grad``; each operation is a small circle; the edge
from a child into an operation carries the local derivative ∂out/∂child (``×3``), the number
backprop multiplies the upstream gradient by::

    ∂L/∂child += ∂L/∂out · ∂out/∂child

Graphs of whole training steps have thousands of nodes: past ``max_nodes`` only the nodes
nearest the output are drawn and a note on the picture says how many were left out. A value
used by ops far apart (x in x·x·…·x) is drawn again, dashed, beside each far op, so that no edge
crosses the whole picture: such edges are what makes ``dot`` take minutes. Pictures larger than
80 × 80 inches are scaled down to fit (a PNG is at most 7680 pixels a side). A label longer
than `LABEL_CHARS` characters is cut in the picture (``abcd…xyz``) and shown whole in the node's
tooltip as far as it fits; the Value keeps its whole label. After ``backward(create_graph=True)``
a grad is itself a Value (a graph of its own): the picture shows its number, marked "(a graph)".

Building a drawing needs only the ``graphviz`` Python package; turning it into SVG or PNG
needs the ``dot`` program. Without it, notebooks show the DOT source with an install hint
and explicit renders raise `GraphvizNotInstalled`; ``dot`` running past the graph's
``timeout`` is stopped with `RenderTimeout`.

The matplotlib plots (`plot_history`, `plot_decision_boundary`, `plot_fit_1d`, `plot_descent`)
live in `microgradlike.plots`, which needs no graphviz.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import warnings
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, overload

import graphviz

from .checks import printable, short
from .engine import Value, node_names, topological_order
from .explain import data_number, grad_number
from .files import write_atomically
from .formatting import format_number
from .ops import NARY, OPS, activations, operand_positions
from .parameters import named

__all__ = [
    "COLORS",
    "INSTALL_HINT",
    "LABEL_CHARS",
    "ComputationGraph",
    "GraphvizNotInstalled",
    "RenderTimeout",
    "cut_label",
    "draw_dot",
    "format_number",
    "grad_field",
]

INSTALL_HINT = (
    "install Graphviz's `dot` program: apt-get install graphviz (Debian/Ubuntu), "
    "brew install graphviz (macOS), or conda install -c conda-forge graphviz"
)

#: Fill colours, one per kind of node (the legend repeats them).
COLORS = {
    "leaf": "#dbeafe",  # light blue: inputs and other leaves
    "parameter": "#bbf7d0",  # light green: a model's parameters
    "output": "#e9d5ff",  # light purple: the root
    "computed": "#ffffff",
    "highlight": "#fde047",  # yellow, with a thick border
    "op": "#f3f4f6",
    "note": "#fee2e2",
}
_LEGEND_TEXT = {
    "leaf": "input / leaf",
    "parameter": "parameter",
    "output": "output",
    "highlight": "highlighted",
}
def _op_label(node: Value) -> str:
    """The op's symbol from the op table, with the plain number it used: "+ 1", "2 −", "× 3",
    "dot + 0.5"."""
    op = OPS.get(node.op) or NARY.get(node.op)
    symbol = op.symbol if op is not None else cut_label(node.op)
    c = node.constant
    if c is None or (c == 0 and node.op in NARY):
        return symbol
    if node.op in NARY:
        return f"{symbol} + {format_number(c)}"
    number_first = operand_positions(node.layout, 1) == (1,)  # its Value is b: 2 − x
    return f"{format_number(c)} {symbol}" if number_first else f"{symbol} {format_number(c)}"


_IMAGE_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf"}
_DOT_SUFFIXES = (".dot", ".gv")
#: Pictures bigger than this many inches a side are scaled down to fit (dot's ``size``).
_MAX_INCHES = 80
#: An edge from a value into an op may skip at most this many ranks (value, op, value, … columns)
#: before it is drawn from a copy of the value instead (see `_far_inputs`).
_MAX_SPAN = 10


class GraphvizNotInstalled(RuntimeError):
    """Rendering needs Graphviz's ``dot`` program, and it is not on PATH."""


class RenderTimeout(RuntimeError):
    """``dot`` did not finish within the graph's ``timeout``; it was stopped."""


#: A label in a picture is cut to this many characters: a record is one line, and ``dot`` refuses
#: a quoted string over 16384 bytes ("syntax error … longer than 16384?").
LABEL_CHARS = 40
#: A tooltip (where a cut label is shown whole) is cut to this many characters.
_TOOLTIP_CHARS = 2000


def cut_label(text: str, limit: int = LABEL_CHARS) -> str:
    """``text`` as a picture shows it: `checks.printable` (a NUL or a lone surrogate is written as
    its escape, which ``dot`` and UTF-8 accept), whole up to ``limit`` characters, else its start
    and end around an ellipsis, ``limit`` characters in all ("layers.0.neurons.1…w.15")."""
    text = printable(text)
    if len(text) <= limit:
        return text
    tail = (limit - 1) // 3
    return f"{text[:limit - 1 - tail]}…{text[len(text) - tail:]}"


def grad_field(node: Value) -> str:
    """A value's grad as its record shows it: "grad 0.5"; a grad that is a Value (made by
    ``backward(create_graph=True)``, a graph that can be differentiated again) shows its number
    (`explain.grad_number`), "grad 0.5 (a graph)"; anything else is a TypeError naming the node."""
    shown = f"grad {format_number(grad_number(node))}"
    return f"{shown} (a graph)" if isinstance(node.grad, Value) else shown


_NODE_STATEMENT = re.compile(r"^\t+(\S+) \[", re.MULTILINE)
_EDGE_STATEMENT = re.compile(r"^\t+\S+ -> ", re.MULTILINE)


class ComputationGraph(graphviz.Digraph):
    """A `graphviz.Digraph` of a Value graph, as `draw_dot` makes it.

    * ``.save("graph.svg")`` (or ``.png``, ``.pdf``) writes the picture, the format picked by the
      suffix; ``.save("graph.dot")`` writes the DOT source and needs no Graphviz.
    * ``.render(filename, format=...)`` and ``.pipe(format=...)`` follow `graphviz.Digraph`
      exactly: render writes the DOT source to ``filename`` and the picture next to it
      (``filename + "." + format``) and returns the picture's path; pipe returns the picture's bytes
      (a str when given ``encoding``).
    * In Jupyter it shows as SVG (or PNG after ``graphviz.set_jupyter_format("png")``, which
      avoids the cropping of wide SVGs some front ends do).
    * ``dot`` runs at most ``timeout`` seconds (a class default, settable per graph; None waits
      as long as it takes), then stops with `RenderTimeout` naming what to do instead.
    * Without the ``dot`` program, rendering raises `GraphvizNotInstalled` (a RuntimeError) naming
      the install commands, and notebooks show the DOT source instead of a traceback;
      ``.source`` (the DOT text) always works.
    """

    #: Seconds ``dot`` may run for one picture (None: no limit).
    timeout: float | None = 60.0
    #: How many values of the graph `draw_dot` left out, and the ``max_nodes`` that cut it.
    not_drawn: int = 0
    max_nodes: int | None = None

    def __repr__(self) -> str:
        return (f"<ComputationGraph: {self._size()}; .save('graph.svg') (or .png, .pdf, .dot for the "
                f"DOT source), .render('graph', format='png'), .pipe(format='svg') for bytes, "
                f".source for the DOT text>")

    def _size(self) -> str:
        """What is drawn: "6 values, 3 ops, 8 edges" (dashed copies count as values)."""
        source = self.source
        names = _NODE_STATEMENT.findall(source)
        ops = sum(1 for n in names if n.endswith("op"))
        values = sum(1 for n in names if n.startswith("v")) - ops
        size = f"{values} values, {ops} ops, {len(_EDGE_STATEMENT.findall(source))} edges"
        if self.not_drawn:
            size += f" (cut at max_nodes={self.max_nodes}: {self.not_drawn} more values not drawn)"
        return size

    def copy(self) -> ComputationGraph:
        """An independent copy, with the same ``timeout`` (and what draw_dot left out)."""
        new = super().copy()
        new.timeout, new.not_drawn, new.max_nodes = self.timeout, self.not_drawn, self.max_nodes
        return new

    def _repr_mimebundle_(self, include: Iterable[str] | None = None,
                          exclude: Iterable[str] | None = None, **kwargs: Any) -> dict[str, Any]:
        try:
            return super()._repr_mimebundle_(include, exclude, **kwargs)
        except GraphvizNotInstalled:
            return {
                "text/plain": f"{self.source}\n# {INSTALL_HINT}",
                "text/html": (f"<pre>{html.escape(self.source)}</pre>"
                              f"<p><em>Graphviz not found: {html.escape(INSTALL_HINT)}</em></p>"),
            }
        except RenderTimeout as e:  # a notebook cell says why there is no picture, without a traceback
            return {"text/plain": str(e), "text/html": f"<p><em>{html.escape(str(e))}</em></p>"}

    @overload
    def pipe(self, format: str | None = None, renderer: str | None = None, formatter: str | None = None,
             neato_no_op: bool | int | None = None, quiet: bool = False, *, engine: str | None = None,
             encoding: None = None) -> bytes: ...

    @overload
    def pipe(self, format: str | None = None, renderer: str | None = None, formatter: str | None = None,
             neato_no_op: bool | int | None = None, quiet: bool = False, *, engine: str | None = None,
             encoding: str) -> str: ...

    def pipe(self, format: str | None = None, renderer: str | None = None, formatter: str | None = None,
             neato_no_op: bool | int | None = None, quiet: bool = False, *, engine: str | None = None,
             encoding: str | None = None) -> bytes | str:
        """The picture as bytes (as text when ``encoding`` is given), as `graphviz.Digraph.pipe`.

        Raises `GraphvizNotInstalled` without ``dot``, `RenderTimeout` past ``self.timeout``
        seconds, `graphviz.CalledProcessError` when ``dot`` fails.
        """
        command = self._command(format, renderer, formatter, neato_no_op, engine)
        data = self._run(command, quiet)
        return data if encoding is None else data.decode(encoding)

    def _command(self, format: str | None, renderer: str | None, formatter: str | None,
                 neato_no_op: bool | int | None, engine: str | None) -> list[str]:
        """The ``dot`` command line, each option checked as graphviz checks it."""
        engine = engine if engine is not None else self.engine
        fmt = format if format is not None else self.format
        renderer = renderer if renderer is not None else self.renderer
        formatter = formatter if formatter is not None else self.formatter
        for kind, value, known in (("engine", engine, graphviz.ENGINES), ("format", fmt, graphviz.FORMATS),
                                   ("renderer", renderer, graphviz.RENDERERS),
                                   ("formatter", formatter, graphviz.FORMATTERS)):
            if value is not None and value.lower() not in known:
                raise ValueError(f"unknown {kind}: {value!r} (must be one of {sorted(known)})")
        if formatter is not None and renderer is None:
            raise graphviz.RequiredArgumentError("formatter given without renderer")
        output = ":".join(p for p in (fmt, renderer, formatter) if p is not None)
        command = [os.fspath(graphviz.DOT_BINARY), f"-K{engine}", f"-T{output}"]
        if neato_no_op:
            command.append(f"-n{int(neato_no_op)}")
        return command

    def _run(self, command: list[str], quiet: bool) -> bytes:
        """Run ``command`` on the DOT source, stopped after ``self.timeout`` seconds; its stdout."""
        source = self.source.encode(self.encoding)
        try:
            done = subprocess.run(command, input=source, capture_output=True, timeout=self.timeout)
        except FileNotFoundError:
            raise GraphvizNotInstalled(f"cannot render the graph: {INSTALL_HINT}") from (
                graphviz.ExecutableNotFound(command))
        except subprocess.TimeoutExpired:  # subprocess.run has already killed dot
            raise RenderTimeout(self._timeout_message()) from None
        if done.stderr and not quiet:
            sys.stderr.write(done.stderr.decode(self.encoding, errors="replace"))
        if done.returncode:
            raise graphviz.CalledProcessError(done.returncode, command, output=done.stdout,
                                              stderr=done.stderr)
        return done.stdout

    def _timeout_message(self) -> str:
        return (f"dot did not finish drawing this graph ({self._size()}) within {self.timeout:g} s and was "
                f"stopped; draw fewer nodes (draw_dot(..., max_nodes=100)), save the DOT source "
                f"instead (.save('graph.dot')) and run dot on it yourself, or allow more time "
                f"(graph.timeout = 600; None waits as long as it takes)")

    def render(self, filename: str | os.PathLike[str] | None = None,
               directory: str | os.PathLike[str] | None = None, view: bool = False, cleanup: bool = False,
               format: str | None = None, renderer: str | None = None, formatter: str | None = None,
               neato_no_op: bool | int | None = None, quiet: bool = False, quiet_view: bool = False, *,
               outfile: str | os.PathLike[str] | None = None, engine: str | None = None,
               raise_if_result_exists: bool = False, overwrite_source: bool = False) -> str:
        """Save the DOT source to ``filename`` and the picture beside it, as `graphviz.Digraph.render`.

        ``render("g", format="png")`` writes ``g`` (DOT) and ``g.png``; ``render(outfile="g.svg")``
        writes ``g.gv`` and ``g.svg``. Returns the picture's path. The picture is written
        atomically, after ``dot`` succeeded within ``self.timeout`` seconds.
        """
        if outfile is not None:
            outfile = Path(outfile)
            format = _outfile_format(outfile, format)
            if directory is None:
                outfile = Path(self.directory, outfile)
            if filename is None:
                filename = outfile.with_suffix(".gv")
        command = self._command(format, renderer, formatter, neato_no_op, engine)  # checked first
        filepath = Path(super().save(filename, directory=directory))  # then the source, as graphviz
        if outfile is None:
            parts = (formatter, renderer, format if format is not None else self.format)
            outfile = filepath.with_suffix(filepath.suffix + "." + ".".join(p for p in parts if p))
        elif outfile.resolve() == filepath.resolve() and not overwrite_source:
            raise ValueError(f"outfile {os.fspath(outfile)!r} must be different from the DOT source file "
                             f"{os.fspath(filepath)!r} (or pass overwrite_source=True)")
        if raise_if_result_exists and outfile.exists():
            raise graphviz.FileExistsError(f"output file exists: {os.fspath(outfile)!r}")
        write_atomically(outfile, self._run(command, quiet))
        if cleanup:
            os.remove(filepath)
        if view or quiet_view:
            graphviz.view(outfile, quiet=quiet_view)
        return os.fspath(outfile)

    def save(self, filename: str | os.PathLike[str] | None = None,
             directory: str | os.PathLike[str] | None = None, *, skip_existing: bool | None = False) -> str:
        """Write the picture to ``filename``, the format picked by its suffix.

        ``.svg``, ``.png``, ``.pdf``: rendered by ``dot`` (written atomically: nothing is left
        behind if rendering fails). ``.dot``, ``.gv`` (or no filename): the DOT source, as
        `graphviz.Digraph.save` does — this works without Graphviz installed. Returns the path.
        """
        suffix = Path(os.fspath(filename)).suffix.lower() if filename is not None else ".gv"
        if filename is None or suffix in _DOT_SUFFIXES:
            return super().save(filename, directory=directory, skip_existing=skip_existing)
        if suffix not in _IMAGE_FORMATS:
            raise ValueError(
                f"cannot save a graph as {os.fspath(filename)!r}: unknown suffix {suffix!r}; "
                f"use .svg, .png, .pdf, or .dot for the DOT source"
            )
        path = Path(directory, filename) if directory is not None else Path(filename)
        if skip_existing and path.exists():
            return os.fspath(path)
        data = self.pipe(format=_IMAGE_FORMATS[suffix])  # before touching the disk
        write_atomically(path, data)
        return os.fspath(path)


def _outfile_format(outfile: Path, format: str | None) -> str:
    """The format `graphviz.Digraph.render` uses for ``outfile``: ``format``, else the suffix's."""
    inferred = outfile.suffix[1:].lower()
    if inferred in graphviz.FORMATS:
        if format is not None and format.lower() != inferred:
            warnings.warn(f"expected format {inferred!r} from outfile differs from given format: {format!r}",
                          graphviz.FormatSuffixMismatchWarning, stacklevel=3)
            return format
        return inferred
    if format is None:
        raise graphviz.RequiredArgumentError(
            f"cannot infer rendering format from suffix {outfile.suffix!r} of outfile: "
            f"{os.fspath(outfile)!r} (provide format or outfile with a suffix like .svg or .png)")
    warnings.warn(f"unknown outfile suffix {outfile.suffix!r} (expected: {'.' + format!r})",
                  graphviz.UnknownSuffixWarning, stacklevel=3)
    return format


# ---- choosing what to draw ------------------------------------------------------------------
def _nearest_nodes(root: Value, budget: int) -> tuple[list[Value], int]:
    """The values nearest ``root`` (breadth first) whose drawing fits in ``budget`` graph nodes
    (a value costs 1, plus 1 for its op circle), and the total number of values in the graph."""
    chosen: list[Value] = []
    seen = {root}
    queue = deque([root])
    used = 0
    while queue:
        node = queue.popleft()
        cost = 2 if node.children else 1
        if used + cost > budget and chosen:
            queue.appendleft(node)
            break
        chosen.append(node)
        used += cost
        for child in node.children:
            if child not in seen:
                seen.add(child)
                queue.append(child)
    # Values left out are only counted (no layout); if none were, the chosen ones are all of them.
    return chosen, len(topological_order(root)) if queue else len(chosen)


def _group_of(name: str) -> str:
    """The module a dotted parameter name belongs to: drop trailing indices, then the attribute.

    "layers.0.neurons.3.w.1" -> "layers.0.neurons.3";  "units.2.c" -> "units.2";  "b" -> "".
    """
    parts = name.split(".")
    while parts and parts[-1].isdigit():
        parts.pop()
    return ".".join(parts[:-1])


def _modules_enclosing(group: str) -> list[str]:
    """``group`` and every module around it, innermost first ("" excluded)."""
    chain = []
    while group:
        chain.append(group)
        group = _group_of(group)
    return chain


def _common_group(groups: Iterable[str]) -> str:
    """The innermost module containing all of ``groups`` ("" for none)."""
    common: set[str] | None = None
    innermost: list[str] = []
    for group in groups:
        chain = _modules_enclosing(group)
        if common is None:
            common, innermost = set(chain), chain
        else:
            common &= set(chain)
    return next((g for g in innermost if common and g in common), "")


_ACTIVATION_OPS = frozenset(activations())


def _clusters(nodes: Sequence[Value], param_names: Mapping[Value, str]) -> dict[Value, str]:
    """Which module cluster each drawn node goes in: parameters by their names, a node computed
    from parameters in the innermost module holding them all, an activation with its input."""
    group: dict[Value, str] = {}
    for node in nodes:
        if node in param_names:
            group[node] = _group_of(param_names[node])
    for node in reversed(nodes):  # BFS from the root, reversed: inputs mostly come first
        if node in group or not node.children:
            continue
        owners = [_group_of(param_names[c]) for c in node.children if c in param_names]
        if owners:
            group[node] = _common_group(owners)
        elif node.op in _ACTIVATION_OPS and group.get(node.children[0]):
            group[node] = group[node.children[0]]
    return {node: g for node, g in group.items() if g}


# ---- drawing --------------------------------------------------------------------------------
def _record_escape(text: str) -> str:
    """Text safe inside a Graphviz record field."""
    for ch in "\\{}|<>\"":
        text = text.replace(ch, "\\" + ch)
    return text


def _tooltip(text: str) -> str:
    """Text as a DOT tooltip: cut to `_TOOLTIP_CHARS`, backslashes kept (a trailing one would
    end the quoted string), never read as an HTML-like label (``<b>`` stays text)."""
    return graphviz.nohtml(cut_label(text, _TOOLTIP_CHARS).replace("\\", "\\\\"))


def draw_dot(
    root: Value,
    rankdir: str = "LR",
    show_grad: bool = True,
    highlight: Iterable[Value] = (),
    max_nodes: int = 500,
    params: Any = None,
    *,
    edge_labels: bool = True,
    legend: bool = True,
    names: Mapping[Value, str] | None = None,
    grad_text: Callable[[Value], str] | None = None,
    bold_inputs_of: Collection[Value] = (),
) -> ComputationGraph:
    """Draw the graph below ``root``: values as records, ops as circles, edges child → op
    labelled with the local derivative ∂out/∂child.

    Args:
        root: the output (drawn purple); leaves are blue, ``params`` green, ``highlight`` yellow.
        rankdir: "LR" (left to right, the default), "TB", "RL" or "BT".
        show_grad: print each value's grad beside its data.
        highlight: values to fill yellow (e.g. the node backprop is at).
        max_nodes: at most this many graph nodes (values and op circles) are drawn, the ones
            nearest the root; a note says how many values were left out. Ops whose inputs were
            cut have a dashed outline. (Dashed copies of far-used values come on top.)
        params: a Module (anything with ``named_parameters()``) or a list of (name, Value): its
            parameters are named and coloured, and grouped into one box per neuron and per layer
            (Graphviz clusters from the dotted names).
        edge_labels: label edges with the local derivatives.
        legend: add a small legend of the colours used.
        names: text to show for particular values (default: their ``label``, or for a value
            without one the "n<k>" name that `microgradlike.stepper` explanations use).
        grad_text: how to print a value's grad (default ``"grad 0.5"``); `microgradlike.stepper`
            uses it to mark gradients that are still partial sums.
        bold_inputs_of: values whose incoming edges are drawn bold (the chain-rule step in progress).

    Returns a `ComputationGraph` (a `graphviz.Digraph`): display it in Jupyter, or call
    ``.save("graph.svg")`` (or ``.png``, ``.pdf``, ``.dot``), ``.render``, ``.pipe``, ``.source``.
    """
    if not isinstance(root, Value):
        raise TypeError(f"draw_dot needs a Value, got {type(root).__name__}: {short(root)}")
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"rankdir must be 'LR', 'TB', 'RL' or 'BT', got {short(rankdir)}")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"max_nodes must be a positive int, got {short(max_nodes)}")
    highlighted = {highlight} if isinstance(highlight, Value) else set(highlight)
    param_names = {p: name for name, p in named(params)}
    if names is None:  # unlabeled values get the names step explanations use: "n<k>"
        names = {v: n for v, n in node_names(root).items() if not v.label and v not in param_names}
    shown_names = dict(names)
    bold = set(bold_inputs_of)

    nodes, total = _nearest_nodes(root, max_nodes)
    drawn = set(nodes)
    groups = _clusters(nodes, param_names)

    graph = ComputationGraph(
        name="computation_graph",
        # size: a drawing bigger than 80 x 80 inches (7680 px at dot's 96 dpi) is scaled down to
        # fit, so a PNG of a big graph stays a sane size; smaller drawings keep their size.
        graph_attr={"rankdir": rankdir, "fontname": "Helvetica", "nodesep": "0.25", "ranksep": "0.35",
                    "size": f"{_MAX_INCHES},{_MAX_INCHES}"},
        node_attr={"fontname": "Helvetica", "fontsize": "11"},
        edge_attr={"fontname": "Helvetica", "fontsize": "10", "color": "#6b7280", "arrowsize": "0.6"},
    )
    statements: dict[str, list[tuple[str, dict[str, str]]]] = {}  # group -> node statements
    value_attrs: dict[Value, dict[str, str]] = {}
    kinds_used: set[str] = set()
    graph_grads = False  # any grad drawn that is a Value (backward(create_graph=True))

    for node in nodes:
        vid = f"v{id(node)}"
        if node in highlighted:
            kind = "highlight"
        elif node is root:
            kind = "output"
        elif node in param_names:
            kind = "parameter"
        elif not node.children:
            kind = "leaf"
        else:
            kind = "computed"
        kinds_used.add(kind)
        fields = []
        name = shown_names.get(node)
        if name is None:
            name = param_names.get(node, node.label)
            if node in groups and name.startswith(groups[node] + "."):
                name = name[len(groups[node]) + 1:]  # the cluster's title says the rest
        if name:
            fields.append(cut_label(name))
        fields.append(f"data {format_number(data_number(node))}")
        if show_grad:
            fields.append(grad_text(node) if grad_text else grad_field(node))
            graph_grads |= grad_text is None and isinstance(node.grad, Value)
        label = " | ".join(_record_escape(f) for f in fields)
        attrs = {
            # Braces flip a record's fields across the rank direction: one row in LR, and a
            # narrow column in TB, so wide layers stay readable either way.
            "label": "{ " + label + " }",
            "shape": "record",
            "style": "filled",
            "fillcolor": COLORS[kind],
        }
        if kind == "highlight":
            attrs["penwidth"] = "2.5"
        if node in param_names or len(name) > LABEL_CHARS:  # the whole name, as far as it fits
            attrs["tooltip"] = _tooltip(param_names.get(node, name))
        value_attrs[node] = attrs
        group = groups.get(node, "")
        statements.setdefault(group, []).append((vid, attrs))
        if node.children:
            hidden = sum(1 for c in node.children if c not in drawn)
            op_attrs = {
                "label": _op_label(node),
                "shape": "circle",
                "style": "filled,dashed" if hidden else "filled",
                "fillcolor": COLORS["op"],
                "width": "0.3",
                "fixedsize": "false",
                "margin": "0.02",
                "fontsize": "10",
            }
            if hidden:
                op_attrs["tooltip"] = f"{hidden} input(s) not drawn"
            statements[group].append((f"{vid}op", op_attrs))

    far = _far_inputs(nodes, drawn)
    for node, child in far:  # each drawn again beside its far consumer, in that consumer's box
        copy = {**value_attrs[child], "style": "filled,dashed",
                "tooltip": "the same value drawn again, next to the op that uses it"}
        statements.setdefault(groups.get(node, ""), []).append((_copy_id(node, child), copy))

    _emit_clusters(graph, statements)

    for node in nodes:
        if not node.children:
            continue
        vid = f"v{id(node)}"
        graph.edge(f"{vid}op", vid)
        for child, local in zip(node.children, node.local_grads):
            if child not in drawn:
                continue
            attrs = {}
            if edge_labels:
                attrs["label"] = f"×{format_number(local)}"
            if node in bold:
                attrs.update(penwidth="2.2", color="#b45309", fontcolor="#b45309")
            source = _copy_id(node, child) if (node, child) in far else f"v{id(child)}"
            graph.edge(source, f"{vid}op", **attrs)

    graph.not_drawn, graph.max_nodes = total - len(nodes), max_nodes
    if total > len(nodes):
        graph.node(
            "note",
            label=graphviz.nohtml(f"… {total - len(nodes)} more nodes not drawn (max_nodes={max_nodes});\\n"
                                 "a dashed circle is an op with inputs not drawn"),
            shape="note",
            style="filled",
            fillcolor=COLORS["note"],
            fontsize="12",
        )
    if legend:
        _add_legend(graph, kinds_used, edge_labels, copies=bool(far), graph_grads=graph_grads)
    return graph


def _copy_id(consumer: Value, value: Value) -> str:
    return f"v{id(value)}for{id(consumer)}"


def _far_inputs(nodes: Sequence[Value], drawn: set[Value]) -> dict[tuple[Value, Value], None]:
    """The (consumer, input) pairs whose edge would skip more than `_MAX_SPAN` ranks: their input
    is drawn again beside the consumer (in insertion order, so the DOT source is stable).

    Why: dot routes an edge that skips k ranks through k − 1 invisible nodes, and its last pass
    (network simplex, placing every node) slows down much faster than their number grows. A value
    used all along a chain (x in x·x·…·x reaches one op further with each factor) makes about n²
    of them: 50 factors took dot 5-20 s, 100 factors over 300 s. Copies keep every edge short.
    """
    # The rank of each value in a left-to-right drawing: an op circle sits between a value and
    # its deepest drawn input; a value without drawn inputs sits just before its first consumer.
    rank: dict[Value, int] = {}
    for first in nodes:
        stack = [first]
        while stack:
            node = stack[-1]
            if node in rank:
                stack.pop()
                continue
            pending = [c for c in node.children if c in drawn and c not in rank]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            rank[node] = max((rank[c] + 2 for c in node.children if c in drawn), default=0)
    first_op: dict[Value, int] = {}  # a source's nearest consumer's op rank
    for node in nodes:
        for child in node.children:
            if child in drawn and not any(c in drawn for c in child.children):
                first_op[child] = min(first_op.get(child, rank[node] - 1), rank[node] - 1)
    far: dict[tuple[Value, Value], None] = {}
    for node in nodes:
        for child in node.children:
            if child in drawn:
                start = first_op[child] - 1 if child in first_op else rank[child]
                if rank[node] - 1 - start > _MAX_SPAN:
                    far[node, child] = None
    return far


_Statements = Mapping[str, list[tuple[str, dict[str, str]]]]  # group -> (node id, attributes)


def _emit_clusters(graph: graphviz.Digraph, statements: _Statements) -> None:
    """Put each group's nodes into nested ``cluster_…`` subgraphs (layer boxes hold neuron boxes)."""
    children: dict[str, list[str]] = {}
    for group in statements:
        g = group
        while g:  # make sure every enclosing module has a box too
            parent = _group_of(g)
            children.setdefault(parent, [])
            if g not in children[parent]:
                children[parent].append(g)
            g = parent

    def emit(target: graphviz.Digraph, group: str) -> None:
        for node_id, attrs in statements.get(group, []):
            target.node(node_id, **attrs)
        for sub in sorted(children.get(group, []), key=_natural):
            title = cut_label(sub[len(group) + 1:] if group else sub)
            with target.subgraph(name="cluster_" + sub.replace(".", "_")) as box:
                box.attr(label=title, style="rounded,dashed", color="#9ca3af", fontsize="10",
                         fontcolor="#4b5563")
                emit(box, sub)

    emit(graph, "")


def _natural(group: str) -> list[tuple[int, int | str]]:
    """Sort key putting "layers.2" before "layers.10"."""
    return [(0, int(p)) if p.isdigit() else (1, p) for p in group.split(".")]


def _add_legend(graph: graphviz.Digraph, kinds: set[str], edge_labels: bool, copies: bool = False,
                graph_grads: bool = False) -> None:
    """One compact node naming the colours that appear in this picture."""
    cells = [
        f'<td bgcolor="{COLORS[k]}" border="{2 if k == "highlight" else 1}">{_LEGEND_TEXT[k]}</td>'
        for k in ("leaf", "parameter", "output", "highlight") if k in kinds
    ]
    if copies:
        cells.append("<td>dashed box: a value drawn again beside a far-away op</td>")
    if edge_labels:
        cells.append("<td>edge ×g: local derivative ∂out/∂in</td>")
    if graph_grads:
        cells.append("<td>grad … (a graph): a Value made by backward(create_graph=True); its number "
                     "is shown</td>")
    if cells:
        table = f'<<table border="0" cellspacing="4" cellpadding="3"><tr>{"".join(cells)}</tr></table>>'
        graph.node("legend", label=table, shape="plaintext", fontsize="10")
