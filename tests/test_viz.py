"""Tests for `microgradlike.viz` (graph drawings): the DOT source carries labels, data, grads and
local derivatives; big graphs stay bounded and fast; a missing `dot` gives our clear error and
notebooks degrade to the DOT source."""

from __future__ import annotations

import html
import math
import re
import shutil
import sys
import time

import graphviz
import numpy as np
import pytest

from microgradlike import Value, sum_values
from microgradlike.engine import topological_order
from microgradlike.nn import MLP
from microgradlike.viz import (
    COLORS,
    ComputationGraph,
    GraphvizNotInstalled,
    RenderTimeout,
    cut_label,
    draw_dot,
    format_number,
)

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")
NODE_LINE = re.compile(r"^\s*(\S+) \[label=", re.MULTILINE)


def neuron() -> tuple[Value, dict[str, Value]]:
    """o = tanh(x·w + b) at x = 2, w = −3, b = 6.88, after backward."""
    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.88, label="b")
    n = x * w + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    o.backward()
    return o, {"x": x, "w": w, "b": b, "n": n, "o": o}


def drawn_node_ids(source: str) -> list[str]:
    return [name for name in NODE_LINE.findall(source) if name not in ("legend", "note")]


def test_source_has_labels_data_grads_and_local_derivatives() -> None:
    o, v = neuron()
    source = draw_dot(o).source
    t = math.tanh(2 * -3 + 6.88)
    dt = 1 - t * t  # ∂o/∂n
    for name in ("x", "w", "b", "n", "o"):
        assert f"{{ {name} | data {format_number(v[name].data)} |" in source
    assert f"grad {format_number(dt)}" in source  # n and b
    assert f"grad {format_number(dt * -3)}" in source  # x: ∂o/∂x = (1 − t²)·w
    assert f"grad {format_number(dt * 2)}" in source  # w
    assert f"data {format_number(t)}" in source
    # edges into ops carry ∂out/∂child: w for x, x for w, 1 − t² for n
    for local in (-3.0, 2.0, dt):
        assert f'label="×{format_number(local)}"' in source
    assert "tanh" in source and "×" in source  # the op circles


def test_show_grad_and_edge_labels_can_be_turned_off() -> None:
    o, _ = neuron()
    source = draw_dot(o, show_grad=False, edge_labels=False, legend=False).source
    assert "| grad" not in source
    assert not [ln for ln in source.splitlines() if "->" in ln and "label=" in ln]


def test_colours_mark_output_leaves_parameters_and_highlight() -> None:
    o, v = neuron()
    source = draw_dot(o, highlight=[v["n"]], params=[("weight", v["w"])]).source
    lines = source.splitlines()
    line = {name: next(ln for ln in lines if f"{{ {name} |" in ln) for name in ("x", "weight", "n", "o")}
    assert COLORS["leaf"] in line["x"]
    assert COLORS["parameter"] in line["weight"]  # named from params, not its label
    assert COLORS["highlight"] in line["n"]
    assert COLORS["output"] in line["o"]
    assert "legend" in source


def test_node_ids_are_unique_and_stable() -> None:
    o, _ = neuron()
    first, second = draw_dot(o).source, draw_dot(o).source
    assert first == second
    ids = drawn_node_ids(first)
    assert len(ids) == len(set(ids)) == 6 + 3  # x, w, b, x·w, n, o and the ops ×, +, tanh


def test_repeated_child_gets_both_edges() -> None:
    a = Value(3.0, label="a")
    sq = a * a
    edges = [ln for ln in draw_dot(sq).source.splitlines() if "->" in ln and "×3" in ln]
    assert len(edges) == 2


def test_labels_with_record_characters_are_escaped() -> None:
    x = Value(1.0, label='a|b{c}<d>"e"')
    source = draw_dot(x * 2).source
    assert r"a\|b\{c\}\<d\>\"e\"" in source


@needs_dot
def test_renders_svg_and_png(tmp_path) -> None:  # type: ignore[no-untyped-def]
    o, _ = neuron()
    graph = draw_dot(o)
    svg = graph.pipe(format="svg", encoding="utf-8")
    assert "<svg" in svg and "tanh" in svg
    assert graph.save(tmp_path / "g.svg") == str(tmp_path / "g.svg")
    assert (tmp_path / "g.svg").read_text().lstrip().startswith("<?xml")
    graph.save(tmp_path / "g.png")
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "image/svg+xml" in graph._repr_mimebundle_()


def test_save_dot_source_and_refuse_unknown_suffix(tmp_path) -> None:  # type: ignore[no-untyped-def]
    o, _ = neuron()
    graph = draw_dot(o)
    graph.save(tmp_path / "g.dot")
    assert (tmp_path / "g.dot").read_text().strip() == graph.source.strip()
    with pytest.raises(ValueError, match=r"\.jpg"):
        graph.save(tmp_path / "g.jpg")
    assert not (tmp_path / "g.jpg").exists()


def test_missing_dot_gives_our_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    o, _ = neuron()
    graph = draw_dot(o)  # building needs no `dot`
    monkeypatch.setenv("PATH", "")
    with pytest.raises(GraphvizNotInstalled) as caught:
        graph.pipe(format="svg")
    message = str(caught.value)
    for command in ("apt-get install", "brew install", "conda install -c conda-forge"):
        assert f"{command} graphviz" in message
    assert isinstance(caught.value, RuntimeError)
    assert isinstance(caught.value.__cause__, graphviz.ExecutableNotFound)
    with pytest.raises(GraphvizNotInstalled):
        graph.save(tmp_path / "g.png")
    assert list(tmp_path.iterdir()) == []  # nothing half-written
    with pytest.raises(GraphvizNotInstalled):
        graph.render(directory=tmp_path, format="svg")
    assert "digraph" in graph.source  # the source is always there


def test_notebook_display_degrades_without_dot(monkeypatch: pytest.MonkeyPatch) -> None:
    o, _ = neuron()
    graph = draw_dot(o)
    monkeypatch.setenv("PATH", "")
    bundle = graph._repr_mimebundle_()
    assert graph.source in bundle["text/plain"]
    assert "apt-get install graphviz" in bundle["text/plain"]
    assert html.escape(graph.source) in bundle["text/html"]  # "->" shown as "-&gt;", not as markup
    assert bundle["text/html"].startswith("<pre>")


def test_is_a_digraph_and_follows_set_jupyter_format() -> None:
    o, _ = neuron()
    graph = draw_dot(o)
    assert isinstance(graph, graphviz.Digraph) and isinstance(graph, ComputationGraph)
    if shutil.which("dot") is None:
        pytest.skip("needs dot to render")
    previous = graphviz.set_jupyter_format("png")
    try:
        assert "image/png" in graph._repr_mimebundle_()
    finally:
        graphviz.set_jupyter_format(previous)


def mlp_loss(n_samples: int) -> tuple[Value, MLP]:
    model = MLP(2, [16, 16, 1], seed=0)
    rows = np.random.default_rng(0).normal(size=(n_samples, 2))
    loss = sum_values([(model(list(r)) - 1.0) ** 2 for r in rows]) * (1 / n_samples)
    loss.backward()
    return loss, model


def test_big_graphs_stay_bounded_and_fast() -> None:
    loss, model = mlp_loss(100)
    total = len(topological_order(loss))
    assert total > 5000
    start = time.perf_counter()
    graph = draw_dot(loss, max_nodes=300, params=model)
    assert time.perf_counter() - start < 1.5
    ids = drawn_node_ids(graph.source)
    assert len(ids) <= 300
    values = [i for i in ids if not i.endswith("op")]
    note = re.search(r"… (\d+) more nodes not drawn \(max_nodes=300\)", graph.source)
    assert note and int(note.group(1)) == total - len(values)


def test_small_graphs_have_no_note() -> None:
    o, _ = neuron()
    assert "not drawn" not in draw_dot(o).source


def test_module_parameters_are_named_and_clustered() -> None:
    model = MLP(2, [3, 1], seed=1)
    out = model([0.5, -1.0])
    out.backward()
    source = draw_dot(out, params=model).source
    # a neuron's box nested inside its layer's box
    layer0 = source.index("\n\tsubgraph cluster_layers_0 {")
    layer1 = source.index("\n\tsubgraph cluster_layers_1 {")
    assert layer0 < source.index("\n\t\tsubgraph cluster_layers_0_neurons_2 {") < layer1
    p = model.layers[0].neurons[2].w[1]
    line = next(ln for ln in source.splitlines() if ln.strip().startswith(f"v{id(p)} "))
    assert "w.1 |" in line and COLORS["parameter"] in line  # short name inside its neuron's box
    assert 'tooltip="layers.0.neurons.2.w.1"' in line


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match=r"3\.5"):
        draw_dot(3.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'XY'"):
        draw_dot(Value(1.0), rankdir="XY")
    with pytest.raises(ValueError, match="0"):
        draw_dot(Value(1.0), max_nodes=0)
    with pytest.raises(TypeError, match="params"):
        draw_dot(Value(1.0), params=[1, 2])


def test_an_op_circle_shows_the_plain_number_it_used():
    x = Value(2.0, label="x")
    source = draw_dot((2 - x) * 3 + x ** 2).source
    for shown in ("2 −", "× 3", "** 2"):
        assert f'label="{shown}"' in source, shown


# ---- rendering outside Jupyter: graphviz's own render/pipe conventions -------------------------
def plain_digraph(graph: ComputationGraph) -> graphviz.Digraph:
    """The same DOT source in a plain `graphviz.Digraph`: the reference for file names and results."""
    return graphviz.Digraph(name=graph.name, graph_attr=graph.graph_attr, node_attr=graph.node_attr,
                            edge_attr=graph.edge_attr, body=list(graph.body))


@needs_dot
@pytest.mark.parametrize("call", [
    {"args": ("g",), "kwargs": {}},                            # format: graphviz's default (pdf)
    {"args": ("g",), "kwargs": {"format": "png"}},
    {"args": ("g1.png",), "kwargs": {"format": "png"}},  # the source goes to g1.png, the PNG to g1.png.png
    {"args": (), "kwargs": {"outfile": "g.svg"}},              # g.gv and g.svg
    {"args": ("g.dot",), "kwargs": {"format": "svg", "cleanup": True}},
])
def test_render_writes_what_graphviz_writes(tmp_path, monkeypatch, call) -> None:  # type: ignore[no-untyped-def]
    o, _ = neuron()
    graph = draw_dot(o)
    results = {}
    for who, target in (("ours", graph), ("theirs", plain_digraph(graph))):
        (tmp_path / who).mkdir()
        monkeypatch.chdir(tmp_path / who)  # relative names, as typed in a REPL
        results[who] = target.render(*call["args"], **call["kwargs"])
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    assert results["ours"] == results["theirs"]  # the rendered file's (relative) path
    assert sorted(p.name for p in ours.iterdir()) == sorted(p.name for p in theirs.iterdir())
    for path in theirs.iterdir():  # the DOT source equal; the pictures of the same kind
        mine = (ours / path.name).read_bytes()
        if path.suffix in (".gv", "") or path.name == "g1.png":
            assert mine == path.read_bytes()
        else:
            assert mine[:4] == path.read_bytes()[:4]


@needs_dot
def test_pipe_returns_bytes_or_text_as_graphviz_does() -> None:
    o, _ = neuron()
    graph = draw_dot(o)
    png = graph.pipe(format="png")
    assert isinstance(png, bytes) and png[:8] == b"\x89PNG\r\n\x1a\n"
    svg = graph.pipe(format="svg", encoding="utf-8")
    assert isinstance(svg, str) and "<svg" in svg
    assert graph.pipe(format="svg") == plain_digraph(graph).pipe(format="svg")
    with pytest.raises(ValueError, match="'jpeg2'"):
        graph.pipe(format="jpeg2")


def test_repr_says_what_it_is_and_how_to_save_it() -> None:
    o, _ = neuron()
    text = repr(draw_dot(o))
    assert "\n" not in text and len(text) < 300
    assert "6 values" in text and "3 ops" in text and "8 edges" in text  # 5 into ops, 3 out of them
    assert ".save('graph.svg')" in text and ".render(" in text


def test_a_slow_dot_is_stopped_with_a_clear_message(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A `dot` that never finishes (here a stand-in that sleeps) is stopped after ``timeout``."""
    fake = tmp_path / "bin" / "dot"
    fake.parent.mkdir()
    fake.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(30)\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    o, _ = neuron()
    graph = draw_dot(o)
    graph.timeout = 0.5
    start = time.perf_counter()
    with pytest.raises(RenderTimeout) as caught:
        graph.save(tmp_path / "g.svg")
    assert time.perf_counter() - start < 10
    message = str(caught.value)
    for hint in ("0.5 s", "6 values", "max_nodes", ".save('graph.dot')", "graph.timeout"):
        assert hint in message
    assert not (tmp_path / "g.svg").exists()
    assert graph.copy().timeout == 0.5
    bundle = graph._repr_mimebundle_()  # a notebook shows the message, not a traceback
    assert bundle["text/plain"] == message


# ---- big pictures: quick to lay out, a sane size ---------------------------------------------
EDGE_LINE = re.compile(r"^\t+(\S+) -> (\S+)", re.MULTILINE)


def chain(n: int) -> Value:
    """x·x·…·x with n factors, after backward: x feeds every one of the n − 1 multiplications."""
    x = Value(1.01, label="x")
    out = x
    for _ in range(n - 1):
        out = out * x
    out.backward()
    return out


def skipped_ranks(source: str) -> int:
    """How many ranks the edges of a left-to-right layering skip in all: dot routes an edge that
    skips k ranks through k − 1 invisible nodes, and placing them is what made dot slow."""
    edges = EDGE_LINE.findall(source)
    rank: dict[str, int] = {}
    into: dict[str, list[str]] = {}
    for tail, head in edges:
        into.setdefault(head, []).append(tail)
    def longest(node: str) -> int:  # recursion is fine: these test graphs are a few hundred deep
        if node not in rank:
            rank[node] = 1 + max((longest(t) for t in into.get(node, [])), default=-1)
        return rank[node]
    sys.setrecursionlimit(10_000)
    heads = {h for _, h in edges}
    first_use = {}
    for tail, head in edges:
        if tail not in heads:  # a source sits just before its nearest consumer
            first_use[tail] = min(first_use.get(tail, longest(head)), longest(head))
    return sum(longest(h) - (first_use[t] - 1 if t in first_use else longest(t)) - 1 for t, h in edges)


def test_a_value_used_all_along_a_chain_keeps_every_edge_short() -> None:
    out = chain(100)
    source = draw_dot(out).source
    edges = EDGE_LINE.findall(source)
    assert skipped_ranks(source) <= len(edges)  # was about 100² / 2 with one x for all 99 ops
    # every multiplication still takes x (drawn once, or again in a dashed box beside the op)
    labels = dict(re.findall(r'^\t+(\S+) \[label="([^"]*)"', source, re.MULTILINE))
    ops = [h for h in {h for _, h in edges} if h.endswith("op")]
    assert len(ops) == 99
    for op in ops:
        x_inputs = [t for t, h in edges if h == op and labels[t].startswith("{ x | data 1.01 |")]
        assert x_inputs, op
    copies = [line for line in source.splitlines() if "style=\"filled,dashed\"" in line and "{ x |" in line]
    assert copies and "drawn again" in source  # the legend says what a dashed box is


def test_small_graphs_draw_each_value_once() -> None:
    source = draw_dot(chain(6)).source
    assert source.count("{ x | data") == 1
    o, _ = neuron()
    assert "dashed box" not in draw_dot(o).source


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@needs_dot
def test_long_chains_render_quickly_at_a_sane_size(capfd: pytest.CaptureFixture[str]) -> None:
    graph = draw_dot(chain(200))
    graph.timeout = 60  # it takes well under a second; before, 100 factors took dot over 300 s
    width, height = png_size(graph.pipe(format="png"))
    assert max(width, height) <= 80 * 96  # scaled to fit 80 x 80 inches at 96 dpi
    assert width > 4000  # ... and not smaller than that
    assert "too large" not in capfd.readouterr().err


@needs_dot
def test_small_graphs_keep_their_natural_size() -> None:
    o, _ = neuron()
    graph = draw_dot(o)
    natural = plain_digraph(graph)
    natural.graph_attr.pop("size", None)
    assert png_size(graph.pipe(format="png")) == png_size(natural.pipe(format="png"))


# ---- grads that are graphs, long labels, cut pictures ------------------------------------------
def cubed_with_graph_grads() -> tuple[Value, Value]:
    """y = x·x·x at x = 3 after backward(create_graph=True): every grad below y is a Value."""
    x = Value(3.0, label="x")
    y = x * x * x
    y.label = "y"
    y.backward(create_graph=True)
    assert isinstance(x.grad, Value)
    return x, y


def test_a_grad_that_is_a_value_is_drawn_as_its_number_marked_as_a_graph() -> None:
    x, y = cubed_with_graph_grads()
    source = draw_dot(y).source
    assert "{ x | data 3 | grad 27 (a graph) }" in source  # 3x² = 27
    assert "(a graph): a Value made by backward(create_graph=True)" in source  # the legend says so
    assert isinstance(x.grad, Value) and x.grad.data == 27.0  # drawing changes nothing
    assert "(a graph)" not in draw_dot(neuron()[0]).source


@needs_dot
def test_a_graph_with_value_grads_renders(tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, y = cubed_with_graph_grads()
    path = draw_dot(y).save(tmp_path / "graph-grads.png")
    assert (tmp_path / "graph-grads.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path


def test_cut_label_keeps_start_and_end_within_the_limit() -> None:
    assert cut_label("layers.0.neurons.3.w.1") == "layers.0.neurons.3.w.1"
    cut = cut_label("a" * 50 + "b" * 50, 40)
    assert len(cut) == 40 and cut.startswith("a" * 26) and cut.endswith("…" + "b" * 13)


@pytest.mark.parametrize("label", ["x" * 17_000, "长" * 6_000, "{|}" * 6_000])
def test_a_long_label_is_cut_in_the_picture_and_kept_whole_on_the_node(label: str) -> None:
    x = Value(2.0, label=label)
    out = x * 3
    out.label = label
    source = draw_dot(out).source
    assert x.label == label and out.label == label
    assert max(len(line) for line in source.splitlines()) < 4000  # dot refuses strings over 16384 bytes
    records = re.findall(r'label="\{ (.*?) \| data', source)
    assert len(records) == 2 and all(r.replace("\\", "") == cut_label(label) for r in records)
    assert re.findall(r'tooltip="([^"]*)"', source) == [cut_label(label, 2000)] * 2  # as much as fits


@needs_dot
def test_a_long_label_renders(tmp_path) -> None:  # type: ignore[no-untyped-def]
    x = Value(2.0, label="x" * 17_000)
    out = (x * 3).tanh()
    out.label = "L" * 20_000
    draw_dot(out).save(tmp_path / "long.svg")
    svg = (tmp_path / "long.svg").read_text(encoding="utf-8")
    assert cut_label(x.label) in svg and cut_label(out.label) in svg


def test_the_repr_says_when_the_picture_is_cut() -> None:
    loss, _ = mlp_loss(20)
    total = len(topological_order(loss))
    graph = draw_dot(loss, max_nodes=100)
    drawn = len([i for i in drawn_node_ids(graph.source) if not i.endswith("op")])
    expected = f"(cut at max_nodes=100: {total - drawn} more values not drawn)"
    assert expected in repr(graph) and expected in repr(graph.copy())
    assert len(repr(graph)) < 400 and "cut" not in repr(draw_dot(neuron()[0]))


def test_bad_arguments_are_named_short() -> None:
    for call in (lambda: draw_dot(10**400), lambda: draw_dot(Value(1.0), max_nodes=-(10**400)),
                 lambda: draw_dot(Value(1.0), rankdir="x" * 10_000)):
        with pytest.raises((TypeError, ValueError)) as info:
            call()
        assert len(str(info.value)) < 200 and "…" in str(info.value)


@pytest.mark.parametrize(("field", "bad", "says"), [
    ("grad", "abc", "the grad of Value(.*label='x'.*) is str 'abc'"),
    ("grad", None, "the grad of Value(.*label='x'.*) is NoneType None"),
    ("data", Value(3.0), "the data of Value(.*label='x'.*) is Value"),
])
def test_a_grad_or_data_that_is_no_number_is_a_type_error_naming_the_node(field, bad, says) -> None:
    x = Value(0.5, label="x")
    y = x * 2.0
    setattr(x, field, bad)
    with pytest.raises(TypeError, match=says):
        draw_dot(y)


@pytest.mark.parametrize(("label", "shown"), [("a\x00b", "a\\\\x00b"), ("\ud800w", "\\\\ud800w"),
                                              ("two\nlines", "two\\\\nlines")])
def test_a_label_that_cannot_be_shown_is_escaped_in_the_picture(label: str, shown: str) -> None:
    x = Value(0.5, label=label)
    y = (x * 2.0).tanh()
    y.label = label
    source = draw_dot(y).source
    assert label not in source and source.count(shown) == 2  # the record's escape of the escape
    source.encode("utf-8")
    if shutil.which("dot"):
        assert draw_dot(y).pipe(format="svg")  # dot refused a NUL; UTF-8 a lone surrogate
