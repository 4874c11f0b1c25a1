"""Tests for `microgradlike.viz` (graph drawings): the DOT source carries labels, data, grads and
local derivatives; big graphs stay bounded and fast; a missing `dot` gives our clear error and
notebooks degrade to the DOT source."""

from __future__ import annotations

import html
import math
import re
import shutil
import time

import graphviz
import numpy as np
import pytest

from microgradlike import Value, sum_values
from microgradlike.engine import topological_order
from microgradlike.nn import MLP
from microgradlike.viz import COLORS, ComputationGraph, GraphvizNotInstalled, draw_dot, format_number

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
