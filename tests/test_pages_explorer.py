"""The backprop explorer: the data it embeds (Python), and the page clicked through in Chromium."""

from __future__ import annotations

import html
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import browser
import pytest
from browser import launch, screenshot, wait_until, watched_page

from microgradlike import Value
from microgradlike.engine import topological_order
from microgradlike.explorer import Explorer
from microgradlike.forward import forward_steps, tangent_steps
from microgradlike.losses import hinge
from microgradlike.nn import MLP
from microgradlike.stepper import Stepper
from microgradlike.viz import cut_label, format_number

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")


def neuron() -> Value:
    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.88, label="b")
    out = (x * w + b).tanh()
    out.label = "o"
    return out


def reused() -> Value:
    """x is used three times and the sum node twice: grads arrive as partial sums ("so far")."""
    x = Value(1.5, label="x")
    s = x * x + x
    out = s * s + s.exp()
    out.label = "L"
    return out


def model_loss() -> Value:
    model = MLP(2, [3, 1], seed=0)
    loss = hinge([model([0.5, -1.0]), model([1.0, 2.0])], [1, -1])
    loss.label = "loss"
    return loss


# ---- the data, in Python ---------------------------------------------------------------------
@pytest.mark.parametrize("make", [neuron, reused, model_loss])
def test_backward_steps_are_the_steppers(make) -> None:
    root = make()
    explorer = Explorer(root)
    expected = Stepper(make())
    backward = explorer.modes[0]
    assert backward["id"] == "backward"
    assert [s["text"] for s in backward["steps"]] == [s.explain() for s in expected]
    names = [expected[0].name(v) for v in topological_order(expected.root)]
    assert explorer.names == names
    assert [names[s["node"]] for s in backward["steps"]] == [s.name(s.node) for s in expected]


@pytest.mark.parametrize("make", [neuron, reused, model_loss])
def test_the_last_step_shows_backwards_grads(make) -> None:
    explorer = Explorer(make())
    shown = list(explorer.modes[0]["initial"]["grad"])
    for step in explorer.modes[0]["steps"]:
        for k, _, text in step["set"]:
            shown[k] = text
    root = make()
    root.backward()
    assert shown == [f"grad {format_number(v.grad)}" for v in topological_order(root)]


@pytest.mark.parametrize("before", ["fresh", "after backward", "odd grads"])
def test_exporting_leaves_every_grad_as_it_was(before: str) -> None:
    root = reused()
    nodes = topological_order(root)
    if before == "after backward":
        root.backward()
    elif before == "odd grads":
        for i, v in enumerate(nodes):
            v.grad = 0.25 * i - 1
    held = [v.grad for v in nodes]
    explorer = Explorer(root)
    assert [v.grad for v in nodes] == held
    # ... and the page explains the pass backward() would run now (leaf grads accumulate)
    assert [s["text"] for s in explorer.modes[0]["steps"]] == [s.explain() for s in Stepper(root)]


def test_forward_pass_computes_each_value_in_order() -> None:
    root = neuron()
    explorer = Explorer(root)
    forward = explorer.modes[1]
    assert forward["id"] == "forward"
    assert [s["node"] for s in forward["steps"]] == list(range(6))  # topological order
    assert [s["text"] for s in forward["steps"]] == [step.explain() for step in forward_steps(root)]
    texts = {explorer.names[s["node"]]: s["text"] for s in forward["steps"]}
    assert texts["n3"].endswith("n3 = x × w = 2.0 × (-3.0) = -6.0")
    assert texts["n4"].endswith("n4 = n3 + b = (-6.0) + 6.88 = 0.88")
    assert texts["o"].endswith("o = tanh(n4) = tanh(0.88) = 0.706419")
    assert "x = 2.0: a leaf" in texts["x"]
    assert forward["initial"]["data"] == ["data ?"] * 6


def test_forward_mode_pushes_tangents_through_the_same_local_derivatives() -> None:
    root = neuron()
    x = next(v for v in topological_order(root) if v.label == "x")
    explorer = Explorer(root, wrt=x)
    tangent = explorer.modes[2]
    assert tangent["id"] == "tangent" and "∂/∂x" in tangent["label"]
    assert [s["text"] for s in tangent["steps"]] == [s.explain() for s in tangent_steps(root, {x: 1.0})]
    last = tangent["steps"][-1]["set"][0][2]
    root.backward()
    assert last == f"∂/∂x = {format_number(x.grad)}"  # forward mode's ∂o/∂x is backprop's
    with pytest.raises(ValueError, match="leaf"):
        Explorer(root, wrt=root)


def test_a_mode_is_data_the_page_shows_without_new_script() -> None:
    """Every mode has the same keys, and changes only fields the picture has."""
    explorer = Explorer(reused())
    for mode in explorer.modes:
        assert set(mode) == {"id", "label", "intro", "legend", "initial", "steps"}
        for step in mode["steps"]:
            assert {field for _, field, _ in step["set"]} <= set(mode["initial"])


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="Explorer needs a Value, got float"):
        Explorer(2.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="highlight"):
        Explorer(neuron(), highlight=())


def test_grads_that_are_values_are_stepped_as_their_numbers_and_left_as_they_were() -> None:
    x = Value(3.0, label="x")
    y = x * x * x
    y.label = "y"
    y.backward(create_graph=True)  # every grad is now a Value: x.grad = 3x² = 27
    held = {v: v.grad for v in topological_order(y)}
    explorer = Explorer(y)
    assert all(v.grad is g for v, g in held.items())  # the very same Values, put back
    backward = explorer.modes[0]
    assert backward["steps"][-1]["text"].endswith("(x += 27.0)")  # a leaf adds the number it held
    assert "the grad of x held a Value (a graph made by backward(create_graph=True))" in backward["intro"]
    shown = {explorer.names[k]: text for k, _, text in backward["steps"][-1]["set"]}
    assert shown["x"] == "grad 54"  # 27 held + 27 from this pass, as backward() would give


def test_bad_arguments_are_named_short() -> None:
    for call in (lambda: Explorer(10**400), lambda: Explorer(neuron(), wrt=10**400)):
        with pytest.raises((TypeError, ValueError)) as info:
            call()
        assert len(str(info.value)) < 200 and "(401 digits)" in str(info.value)


@needs_dot
@pytest.mark.parametrize("n", [16_000, 17_000])
def test_a_long_label_is_cut_in_the_picture_and_kept_in_the_page(n: int) -> None:
    x = Value(2.0, label="x" * n)
    out = (x * Value(-3.0, label="w")).tanh()
    out.label = "L" * n
    explorer = Explorer(out)
    svg = explorer.svg()
    assert f'data-node="{x.label}"' in svg and f'data-node="{out.label}"' in svg  # whole, as handles
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert cut_label(x.label) in texts and cut_label(out.label) in texts
    assert max(map(len, texts)) < 100  # every text of the picture is short: the markers too
    tangent = explorer.modes[2]
    assert tangent["label"] == f"forward mode (∂/∂{cut_label(x.label)})"
    assert all(len(text) < 100 for text in tangent["initial"]["grad"])
    assert out.label in explorer.modes[0]["steps"][0]["text"]  # the explanation is explain()'s, whole
    assert cut_label(out.label) in explorer.html()


@needs_dot
def test_every_value_node_is_marked_in_the_picture() -> None:
    explorer = Explorer(reused())
    svg = explorer.svg()
    for k, name in enumerate(explorer.names):
        assert svg.count(f'data-node="{name}"') == 1
        assert svg.count(f'data-index="{k}"') == 1
    assert "⟦" not in svg  # every marker was found and replaced
    assert svg.count('data-role="grad"') == svg.count('data-role="data"') == len(explorer.names)
    interior = sum(1 for v in explorer.order if v.children)
    assert len(set(re.findall(r'data-op-of="(\d+)"', svg))) == interior
    assert "<title>v" not in svg  # Graphviz's internal node names are not shown as tooltips


@needs_dot
def test_the_page_is_self_contained() -> None:
    document = Explorer(model_loss(), params=None).html()
    for outside in ("<link", "src=", "@import", "url(", "//cdn", "https://"):
        assert outside not in document
    assert set(re.findall(r"http://[^\"' ]+", document)) <= {"http://www.w3.org/2000/svg",
                                                            "http://www.w3.org/1999/xlink"}
    assert "<!DOCTYPE svg" not in document and "<?xml" not in document


@needs_dot
def test_jupyter_shows_it_in_an_iframe() -> None:
    shown = Explorer(neuron())._repr_html_()
    assert shown.startswith("<iframe srcdoc=") and "<script" not in shown  # escaped inside srcdoc
    assert html.unescape(re.search(r'srcdoc="([^"]*)"', shown).group(1)) == Explorer(neuron()).html()


@needs_dot
def test_the_graph_command_writes_a_page(tmp_path: Path) -> None:
    out = tmp_path / "page.html"
    done = subprocess.run([sys.executable, "-m", "microgradlike", "graph", "tanh(x*w + b)", "x=2", "w=-3",
                           "b=6.88", "-o", str(out)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    t = math.tanh(2 * -3 + 6.88)
    assert f"∂/∂x = {format_number((1 - t * t) * -3)}" in done.stdout  # the command still reports grads
    assert 'data-node="x"' in out.read_text(encoding="utf-8")


def test_the_graph_command_refuses_a_page_without_grads(tmp_path: Path) -> None:
    out = tmp_path / "page.html"
    done = subprocess.run([sys.executable, "-m", "microgradlike", "graph", "x*x", "x=2", "-o", str(out),
                           "--no-grad"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--no-grad" in done.stderr
    assert not out.exists()


def test_without_graphviz_jupyter_shows_the_steps_and_the_command_says_how(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    shown = Explorer(neuron())._repr_html_()
    assert "apt-get install graphviz" in shown
    assert html.escape(Stepper(neuron())[0].explain()) in shown
    out = tmp_path / "page.html"
    done = subprocess.run([sys.executable, "-m", "microgradlike", "graph", "x*x", "x=2", "-o", str(out)],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "PATH": ""})
    assert done.returncode == 1 and "Graphviz" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


# ---- the page, in a browser ------------------------------------------------------------------
@pytest.fixture(scope="module")
def chromium():
    with launch() as launched:
        yield launched


def grad_texts(page) -> dict[str, str]:
    return page.eval_on_selector_all(
        "[data-node]", "els => Object.fromEntries(els.map(e => [e.dataset.node, "
        "e.querySelector('[data-role=grad]').textContent]))")


def current_nodes(page) -> list[str]:
    return page.eval_on_selector_all(".current", "els => els.map(e => e.dataset.node)")


@needs_dot
@pytest.mark.parametrize("make", [neuron, reused, model_loss])
def test_stepping_through_the_page_matches_the_stepper(chromium, tmp_path: Path, make) -> None:
    path = tmp_path / "explorer.html"
    Explorer(make()).save(path)
    steps = Stepper(make())
    names = {v: steps[0].name(v) for v in topological_order(steps.root)}
    total = len(steps)
    with watched_page(chromium, path) as page:
        assert page.inner_text("[data-role=step]") == f"0 / {total}"
        assert set(grad_texts(page).values()) == {"grad ?"}
        assert current_nodes(page) == []
        reached = {steps.root}
        for k, step in enumerate(steps, start=1):
            page.click("[data-action=next]")
            assert page.inner_text("[data-role=step]") == f"{k} / {total}"
            assert page.inner_text("[data-role=explanation]") == step.explain()
            assert current_nodes(page) == [names[step.node]]
            reached.update(step.node.children)
            shown = grad_texts(page)
            for v, name in names.items():
                assert (shown[name] == "grad ?") == (v not in reached), (k, name, shown[name])
            if k == 2:
                screenshot(page, tmp_path, f"explorer-{make.__name__}-step2.png", full_page=True)
        final = {names[v]: f"grad {format_number(g)}" for v, g in steps[-1].grads().items()}
        assert grad_texts(page) == final
        assert page.is_disabled("[data-action=next]")
        page.click("[data-action=prev]")
        assert page.inner_text("[data-role=explanation]") == steps[-2].explain()
        page.click("[data-action=reset]")
        assert page.inner_text("[data-role=step]") == f"0 / {total}"
        assert set(grad_texts(page).values()) == {"grad ?"}
        assert current_nodes(page) == []


@needs_dot
def test_arrow_keys_play_and_the_forward_mode(chromium, tmp_path: Path) -> None:
    path = tmp_path / "explorer.html"
    Explorer(neuron()).save(path)
    steps = Stepper(neuron())
    with watched_page(chromium, path, width=1100, height=700) as page:
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        assert page.inner_text("[data-role=step]") == "2 / 3"
        page.keyboard.press("ArrowLeft")
        assert page.inner_text("[data-role=explanation]") == steps[0].explain()
        page.keyboard.press("Home")
        page.click("[data-action=play]")
        wait_until(lambda: page.inner_text("[data-role=step]") == "3 / 3")
        page.click("[data-mode=forward]")
        assert page.inner_text("[data-role=step]") == "0 / 6"
        data = page.eval_on_selector_all("[data-node] [data-role=data]", "els => els.map(e => e.textContent)")
        assert set(data) == {"data ?"}
        for _ in range(4):
            page.click("[data-action=next]")
        assert page.inner_text("[data-role=explanation]").endswith("n3 = x × w = 2.0 × (-3.0) = -6.0")
        assert current_nodes(page) == ["n3"]
        assert page.text_content("[data-node=n3] [data-role=data]") == "data -6"
        assert page.text_content("[data-node=n4] [data-role=data]") == "data ?"
        screenshot(page, tmp_path, "explorer-forward.png")
        page.click("[data-mode=tangent]")
        assert page.inner_text("[data-role=step]") == "0 / 3"
        for _ in range(3):
            page.click("[data-action=next]")
        assert "∂o/∂t = ∂o/∂n4 · ∂n4/∂t" in page.inner_text("[data-role=explanation]")
        assert page.text_content("[data-node=o] [data-role=grad]").startswith("∂/∂")
        screenshot(page, tmp_path, "explorer-tangent.png")


def test_red_marks_only_the_grads_a_step_added_to_also_on_the_last_step() -> None:
    """The last step writes every grad out as final, and the page painted them all red (o, n4 and
    b at step 3 of tanh(x*w + b), where only x and w were added to), against its own legend."""
    explorer = Explorer(neuron())
    names = explorer.names
    backward = explorer.modes[0]
    red = [sorted(names[k] for k in step["changed"]) for step in backward["steps"]]
    assert red == [["n4", "o"], ["b", "n3"], ["w", "x"]]  # step 1 sets the seed and n4
    assert all(step["changed"] == [] for mode in explorer.modes[1:] for step in mode["steps"])
    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(1.0, label="b")
    b.grad = 5.0  # held before the pass: the last step adds it back, so b's number moves then
    held = Explorer(x * w + b)
    assert b.grad == 5.0  # the explorer leaves the Values as they were
    assert sorted(held.names[k] for k in held.modes[0]["steps"][-1]["changed"]) == ["b", "w", "x"]


@needs_dot
def test_the_page_paints_red_only_the_grads_the_step_added_to(chromium, tmp_path: Path) -> None:
    path = tmp_path / "explorer.html"
    Explorer(neuron()).save(path)
    with watched_page(chromium, path, width=1100, height=700) as page:
        for want in (["n4"], ["b", "n3"], ["w", "x"]):  # the step's own node is drawn as current
            page.keyboard.press("ArrowRight")
            red = page.eval_on_selector_all("text.changed", "els => els.map(e => e.closest('[data-node]')"
                                                            ".dataset.node).sort()")
            assert red == want


def edge_labels(page) -> dict[str, list[str]]:
    """The local derivatives drawn on the edges into each value node, by the node's index."""
    return page.eval_on_selector_all(
        "[data-into] text[data-role=local]",
        "els => els.reduce((all, e) => { const k = e.closest('[data-into]').dataset.into; "
        "(all[k] = all[k] || []).push(e.textContent); return all; }, {})")


@needs_dot
def test_the_forward_pass_shows_a_local_derivative_once_its_values_are_computed(chromium,
                                                                              tmp_path: Path) -> None:
    """The forward pass showed ×0.501 on the edge into tanh before any value was computed; and
    the red of a grad a step changed was in no legend."""
    path = tmp_path / "explorer.html"
    explorer = Explorer(neuron())
    explorer.save(path)
    forward = explorer.modes[1]
    assert forward["initial"]["local"] == ["×?"] * len(explorer.order)
    assert all([k, "local", None] in step["set"] for k, step in enumerate(forward["steps"]))
    n3 = explorer.names.index("n3")
    with watched_page(chromium, path, width=1100, height=700) as page:
        drawn = edge_labels(page)
        assert drawn[str(n3)] == ["×-3", "×2"] and "×?" not in str(drawn)  # backward: as drawn
        page.click("[data-action=next]")
        sample = page.eval_on_selector(".changed-sample", "e => getComputedStyle(e).color")
        assert page.is_visible("[data-role=legend-changed-item]")
        assert "a grad this step set or added to" in page.inner_text(".legend")
        assert page.eval_on_selector_all("text.changed", "els => els.map(e => getComputedStyle(e).fill)") \
            == [sample] * 1  # the one grad step 1 set: the sample's red
        page.click("[data-mode=forward]")
        assert not page.is_visible("[data-role=legend-changed-item]")  # nothing turns red here
        assert {text for texts in edge_labels(page).values() for text in texts} == {"×?"}
        while page.inner_text("[data-role=explanation]").split(": ", 1)[-1][:2] != "n3":
            page.click("[data-action=next]")
        shown = edge_labels(page)
        assert shown[str(n3)] == drawn[str(n3)]
        others = {k: ["×?"] * len(v) for k, v in drawn.items() if k != str(n3)}
        assert {k: v for k, v in shown.items() if k != str(n3)} == others
        screenshot(page, tmp_path, "explorer-forward-locals.png")
        page.click("[data-mode=tangent]")
        assert edge_labels(page) == drawn  # forward mode starts after the forward pass


@needs_dot
def test_two_explorers_in_one_notebook_do_not_clash(chromium, tmp_path: Path) -> None:
    """Jupyter puts each `_repr_html_` into the notebook page: here, two of them side by side."""
    notebook = tmp_path / "notebook.html"
    notebook.write_text(f"<!DOCTYPE html><html><body>{Explorer(neuron())._repr_html_()}"
                        f"{Explorer(reused())._repr_html_()}</body></html>", encoding="utf-8")
    with watched_page(chromium, notebook) as page:
        first, second = page.frames[1], page.frames[2]
        first.wait_for_selector("[data-role=step]")
        second.wait_for_selector("[data-role=step]")
        first.click("[data-action=next]")
        assert first.inner_text("[data-role=step]") == "1 / 3"
        assert second.inner_text("[data-role=step]") == f"0 / {len(Stepper(reused()))}"
        assert first.eval_on_selector_all(".current", "els => els.length") == 1
        assert second.eval_on_selector_all(".current", "els => els.length") == 0


@needs_dot
def test_a_leaf_has_nothing_to_step(chromium, tmp_path: Path) -> None:
    path = tmp_path / "leaf.html"
    Explorer(Value(3.0, label="a")).save(path)
    with watched_page(chromium, path) as page:
        assert page.inner_text("[data-role=step]") == "0 / 0"
        assert "nothing to do" in page.inner_text("[data-role=explanation]")
        assert page.is_disabled("[data-action=next]")


@needs_dot
def test_labels_cannot_break_the_page(chromium, tmp_path: Path) -> None:
    """A label is text: markup in it is shown, never run, and cannot end the page's script."""
    x = Value(2.0, label='</script><script>document.title="x"</script>')
    y = Value(3.0, label='a "quoted" <b>label</b> & more')
    out = x * y
    out.label = "<!-- L"
    path = tmp_path / "labels.html"
    Explorer(out).save(path)
    steps = Stepper(out)
    with watched_page(chromium, path) as page:
        page.click("[data-action=next]")
        assert page.inner_text("[data-role=explanation]") == steps[0].explain()
        assert page.eval_on_selector_all("[data-node]", "els => els.map(e => e.dataset.node).sort()") == \
            sorted([x.label, y.label, out.label])
        assert page.title().startswith("Backprop explorer")


@needs_dot
def test_a_page_with_a_long_label_steps_in_the_browser(chromium, tmp_path: Path) -> None:
    x = Value(2.0, label="x" * 17_000)
    product = x * Value(-3.0, label="w")
    out = product.tanh()
    out.label = "L"
    path = tmp_path / "long-label.html"
    explorer = Explorer(out)
    explorer.save(path)
    name = explorer.names[explorer.index[product]]
    with watched_page(chromium, path) as page:
        for _ in range(2):
            page.click("[data-action=next]")
        assert grad_texts(page)[x.label] == f"grad {format_number(-3 * (1 - math.tanh(-6.0) ** 2))}"
        page.click("[data-mode=tangent]")
        page.click("[data-action=next]")
        shown = page.text_content(f"[data-node={name}] [data-role=grad]")
        assert shown == f"∂/∂{cut_label(x.label)} = -3"
        screenshot(page, tmp_path, "explorer-long-label.png")


def test_browser_tests_skip_on_a_learners_machine_and_fail_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        browser.unavailable("no Chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run the browser tests"):
        browser.unavailable("no Chromium")


def test_grads_or_data_set_by_hand_to_non_numbers_are_named_and_left_as_they_were() -> None:
    x = Value(0.5, label="x")
    y = (x * 2.0).tanh()
    for field, bad in (("grad", "abc"), ("grad", None), ("data", Value(3.0))):
        setattr(x, field, bad)
        with pytest.raises(TypeError, match=rf"the {field} of Value\(.*label='x'"):
            Explorer(y)
        assert getattr(x, field) is bad
        setattr(x, field, 0.0 if field == "grad" else 0.5)


@needs_dot
def test_labels_that_cannot_be_shown_are_escaped_in_the_page() -> None:
    x = Value(0.5, label="a\x00b")
    w = Value(-3.0, label="\ud800w")
    y = (x * w).tanh()
    page = Explorer(y).html()
    page.encode("utf-8")  # a lone surrogate raised UnicodeEncodeError here
    assert "a\\x00b" in page and "\\ud800w" in page and "\x00" not in page
