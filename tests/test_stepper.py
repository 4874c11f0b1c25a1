"""Tests for `microgradlike.stepper`: stepping equals `backward()` (leaf accumulation included) on
random graphs, each step's numbers obey the chain rule, `explain()` prints those numbers and the
forward values the local derivatives came from, and the notebook views degrade politely."""

from __future__ import annotations

import math
import re
import sys

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from microgradlike import Value, dot, sum_values
from microgradlike.engine import topological_order
from microgradlike.stepper import BackwardStep, Stepper, backward_steps, step_through
from tests.strategies import moderate_floats, random_dags

NUMBER = r"\(?(-?(?:\d+\.?\d*(?:e[+-]?\d+)?|inf))\)?"
CHAIN_LINE = re.compile(
    rf"∂(\S+)/∂(\S+) \+= ∂\S+/∂(\S+) · ∂\S+/∂\S+ = {NUMBER} · {NUMBER} = {NUMBER}$"
)


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12 * max(1.0, abs(a), abs(b)))


def build_dag(dag, held_grads):  # type: ignore[no-untyped-def]
    """The random DAG with a dot and a sum on top (the engine's two many-input nodes), its leaves
    holding ``held_grads`` from an earlier pass."""
    leaves = [Value(x, label=f"x{i}") for i, x in enumerate(dag.leaf_values)]
    nodes = dag.build(leaves)
    for leaf, g in zip(leaves, held_grads):
        leaf.grad = g
    z = dot(nodes[-2:], [nodes[0], 1.5], bias=nodes[-1]) if len(nodes) >= 2 else nodes[-1]
    return sum_values([z, nodes[-1], 0.25]), leaves


@given(random_dags(max_steps=8), st.lists(moderate_floats, min_size=4, max_size=4))
def test_stepping_equals_backward_with_leaf_accumulation(dag, held) -> None:  # type: ignore[no-untyped-def]
    root, leaves = build_dag(dag, held)
    order = topological_order(root)
    if not all(math.isfinite(v.data) for v in order):
        return
    steps = list(root.backward_steps())
    stepped = [v.grad for v in order]
    for leaf, g in zip(leaves, held):
        leaf.grad = g
    root.backward()
    expected = [v.grad for v in order]
    assert all(close(a, b) for a, b in zip(stepped, expected)), (stepped, expected)
    # one step per node with children, in reverse topological order
    assert [s.node for s in steps] == [v for v in reversed(order) if v.children]
    grads = dict(zip(order, expected))
    for step in steps:
        # the upstream gradient was already final when the step ran ...
        assert close(step.upstream, grads[step.node])
        # ... and each child got upstream · local derivative
        assert [c.child for c in step.contributions] == list(step.node.children)
        for c, local in zip(step.contributions, step.node.local_grads):
            assert c.local_grad == local
            assert c.added_grad == step.upstream * local


@given(random_dags(max_steps=8), st.lists(moderate_floats, min_size=4, max_size=4))
def test_grads_after_the_last_step_are_the_final_grads(dag, held) -> None:  # type: ignore[no-untyped-def]
    root, _ = build_dag(dag, held)
    steps = list(backward_steps(root))
    if steps:
        snapshot = steps[-1].grads()
        assert all(snapshot[v] == v.grad for v in topological_order(root))


def test_each_step_sees_the_grads_known_so_far() -> None:
    a, b = Value(2.0, label="a"), Value(3.0, label="b")
    c = a * b
    c.label = "c"
    d = c + a  # a is used twice: its grad is partial until both uses are done
    d.label = "d"
    steps = list(d.backward_steps())
    first = steps[0].grads()
    assert first[d] == 1.0 and first[c] == 1.0 and first[a] == 1.0 and first[b] == 0.0
    source = steps[0].graph().source
    assert "grad ?" in source  # b not reached
    assert "grad 1 so far" in source  # a: one of its two uses done
    final = steps[-1].grads()
    assert final[a] == 1.0 + b.data and final[b] == a.data  # ∂d/∂a = b + 1, ∂d/∂b = a
    assert "so far" not in steps[-1].graph().source and "grad ?" not in steps[-1].graph().source


def test_leaf_root_has_no_steps_but_is_seeded_and_accumulates() -> None:
    x = Value(4.0)
    x.grad = 0.5
    assert list(x.backward_steps()) == []
    assert x.grad == 1.5  # as backward(): 0.5 held + the seed 1


def test_abandoned_pass_keeps_the_leaves_earlier_grads() -> None:
    x = Value(2.0, label="x")
    x.grad = 10.0
    y = (x * 3).tanh()
    steps = y.backward_steps()
    next(steps)
    steps.close()
    assert x.grad == 10.0  # nothing reached x yet; its held grad is added back


def parse_chain_lines(text: str) -> list[tuple[str, str, str, float, float, float]]:
    found = []
    for line in text.splitlines():
        m = CHAIN_LINE.search(line.strip())
        if m:
            loss, child, node, up, local, added = m.groups()
            found.append((loss, child, node, float(up), float(local), float(added)))
    return found


@given(random_dags(max_steps=6), st.lists(moderate_floats, min_size=4, max_size=4))
def test_explain_prints_the_steps_numbers(dag, held) -> None:  # type: ignore[no-untyped-def]
    root, _ = build_dag(dag, held)
    for step in backward_steps(root):
        lines = parse_chain_lines(step.explain())
        assert len(lines) == len(step.contributions)
        for (loss, child, node, up, local, added), c in zip(lines, step.contributions):
            assert loss == "L" and node == step.name(step.node) and child == step.name(c.child)
            for shown, true in ((up, step.upstream), (local, c.local_grad), (added, c.added_grad)):
                assert math.isclose(shown, true, rel_tol=1e-5, abs_tol=1e-300) or (
                    math.isinf(true) and math.isinf(shown)
                )


def explanation_of(root: Value, node: Value) -> str:
    step = next(s for s in backward_steps(root) if s.node is node)
    return step.explain()


def numbers_in(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+\.\d+(?:e[+-]?\d+)?", text)]


def test_explain_names_the_forward_value_of_a_product() -> None:
    a, b = Value(2.0, label="a"), Value(3.0, label="b")
    c = a * b
    c.label = "c"
    loss = c * 2.0  # ∂L/∂c = 2
    text = explanation_of(loss, c)
    assert "∂L/∂a += ∂L/∂c · ∂c/∂a = 2.0 · 3.0 = 6.0" in text
    assert "∂c/∂a = b = 3.0 (b's forward value" in text
    assert "∂c/∂b = a = 2.0 (a's forward value" in text


def test_explain_tanh_uses_the_forward_output() -> None:
    x = Value(0.88, label="n")
    o = x.tanh()
    o.label = "o"
    text = explanation_of(o, o)
    line = next(line for line in text.splitlines() if "tanh²" in line)
    assert "1 − o²" in line and "from the forward pass" in line
    shown_local, shown_out = numbers_in(line.split("=", 3)[-1])[:2]
    t = math.tanh(0.88)
    assert math.isclose(shown_local, 1 - t * t, rel_tol=1e-5)
    assert math.isclose(shown_out, t, rel_tol=1e-5)


@pytest.mark.parametrize(("data", "local", "reason"),
                         [(2.0, 1.0, "> 0"), (-1.5, 0.0, "< 0"), (0.0, 0.0, "= 0 (the kink")])
def test_explain_relu_gives_the_reason(data: float, local: float, reason: str) -> None:
    a = Value(data, label="a")
    r = a.relu()
    text = explanation_of(r, r)
    assert f"= {local} because a = {data} {reason}" in text


def test_explain_relu_of_nan_says_nan_not_the_kink() -> None:
    a = Value(math.inf, label="a")
    z = a * 0.0  # nan, made inside the graph
    z.label = "z"
    r = z.relu()
    text = explanation_of(r, r)
    assert "= 1.0 because z = nan is NaN" in text and "kink" not in text


def test_explain_dot_pairs_each_weight_with_its_input() -> None:
    w1, w2, x1, x2, b = (Value(v, label=n) for v, n in
                         [(0.5, "w1"), (-2.0, "w2"), (3.0, "x1"), (4.0, "x2"), (0.1, "b")])
    z = dot([w1, w2], [x1, x2], b)
    z.label = "z"
    text = explanation_of(z, z)
    assert "∂z/∂w1 = x1 = 3.0 (x1's forward value" in text
    assert "∂z/∂x2 = w2 = -2.0 (w2's forward value" in text
    assert "∂z/∂b = 1 (the bias" in text


def test_explain_dot_with_a_plain_input_of_one_is_no_bias() -> None:
    # dot([w], [1.0]): w is multiplied by the plain number 1.0; there is no bias at all
    w = Value(0.7, label="w")
    z = dot([w], [1.0])
    z.label = "z"
    text = explanation_of(z, z)
    assert "z = w·1.0 = 0.7" in text
    assert "∂z/∂w = 1.0, the plain number it is multiplied by" in text
    assert "bias" not in text


def test_explain_dot_names_the_right_partner_when_values_are_equal() -> None:
    # c = 3.0; a, b, u = Value(c), Value(c), Value(c); dot([a, b], [c, u]) is a·3.0 + b·u
    c = 3.0
    a, b, u = Value(c, label="a"), Value(c, label="b"), Value(c, label="u")
    z = dot([a, b], [c, u])
    z.label = "z"
    text = explanation_of(z, z)
    assert "z = a·3.0 + b·u = 18.0" in text
    assert "∂z/∂a = 3.0, the plain number it is multiplied by" in text
    assert "∂z/∂b = u = 3.0 (u's forward value: the factor it multiplies)" in text
    assert "∂z/∂u = b = 3.0 (b's forward value: the factor it multiplies)" in text


def test_explain_constants_and_unlabelled_nodes() -> None:
    a = Value(2.0, label="a")
    y = a * 3.0  # unlabelled: gets a short name like n1
    z = y.tanh()  # an unlabelled root is L, what is differentiated
    text = "\n".join(step.explain() for step in z.backward_steps())
    assert "the constant 3.0" in text
    assert re.search(r"Step 2 of 2: n\d+ = a × 3\.0 = 6\.0", text)
    assert "Step 1 of 2: L = tanh(n1)" in text and "∂L/∂L = 1.0: the seed" in text


def test_explain_mentions_leaf_accumulation_on_the_last_step() -> None:
    w = Value(1.0, label="w")
    w.grad = 0.25
    steps = list((w * 2.0).backward_steps())
    assert "w += 0.25" in steps[-1].explain()
    assert w.grad == 2.25


def test_step_shows_itself_in_a_notebook() -> None:
    x = Value(2.0, label="x")
    y = (x * x).tanh()
    step = next(iter(Stepper(y)))
    assert isinstance(step, BackwardStep)
    bundle = step._repr_mimebundle_()
    assert bundle["text/plain"] == step.explain()
    assert "tanh²" in bundle["text/html"]  # the explanation, under the picture
    assert "<svg" in bundle["text/html"] or "<pre>" in bundle["text/html"]


def test_step_view_without_dot_shows_source(monkeypatch: pytest.MonkeyPatch) -> None:
    x = Value(2.0, label="x")
    step = next(iter(Stepper(x.exp())))
    monkeypatch.setenv("PATH", "")
    html = step._repr_mimebundle_()["text/html"]
    assert "digraph" in html and "apt-get install graphviz" in html


def test_stepper_and_slider() -> None:
    pytest.importorskip("ipywidgets")
    x = Value(2.0, label="x")
    y = (x * 3 + 1).relu()
    s = Stepper(y, max_nodes=50)
    assert len(s) == 3 and s[0].node is y
    assert x.grad == 3.0  # the whole pass has run
    ui = step_through(y)
    slider = ui.children[0].children[1]
    assert (slider.min, slider.max) == (1, 3)
    slider.value = 2  # scrubbing does not fail


def test_step_through_without_ipywidgets_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets -> ImportError
    with pytest.raises(ImportError, match="pip install ipywidgets"):
        step_through(Value(1.0) * 2)
    # plain iteration still works
    assert len(list(backward_steps(Value(1.0) * 2))) == 1


def test_backward_steps_rejects_non_values() -> None:
    with pytest.raises(TypeError, match=r"3\.0"):
        list(backward_steps(3.0))  # type: ignore[arg-type]


FORMS = {  # how the step names a node made from the Value a and the plain number c
    "a + c": lambda a, c: a + c, "a − c": lambda a, c: a - c, "c − a": lambda a, c: c - a,
    "a × c": lambda a, c: a * c, "a / c": lambda a, c: a / c, "c / a": lambda a, c: c / a,
    "a ** c": lambda a, c: a**c, "c ** a": lambda a, c: c**a,
}


def outside_the_domain(form: str, a: float, c: float) -> type[Exception] | None:
    """The error ``FORMS[form]`` raises for the Value a and the plain number c, None inside the domain."""
    if (form == "a / c" and c == 0) or (form == "c / a" and a == 0):
        return ZeroDivisionError
    if form in ("a ** c", "c ** a"):
        base, exponent = (a, c) if form == "a ** c" else (c, a)
        if base < 0 and not float(exponent).is_integer():
            return ValueError  # not a real number
        if base == 0 and exponent < 0:
            return ZeroDivisionError
        if form == "c ** a" and not (base > 0 or (base == 0 and exponent > 0)):
            return ValueError  # ∂/∂exponent = cᵃ·ln c needs c > 0
    return None


def first_line(out: Value) -> str:
    return next(backward_steps(out)).explain().splitlines()[0]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("a", [0.0, 1.0, -1.0, 2.0, -3.0, 0.5, -0.7, 0.1, 3.7, 100.0])
@pytest.mark.parametrize("c", [0.0, 1.0, 2.0, 3.0, -1.0, 0.5, 0.1, -2.5, 10.0, 1 / 3])
def test_a_constant_operand_is_shown_exactly(form: str, a: float, c: float) -> None:
    error = outside_the_domain(form, a, c)
    if error is not None:  # no node to show: the error names the constant as it was given
        with pytest.raises(error, match=re.escape(repr(c))):
            FORMS[form](Value(a, label="a"), c)
        return
    out = FORMS[form](Value(a, label="a"), c)
    line = first_line(out)
    formula = line.split(" = ")[1]
    shown = f"{c + 0.0:.6g}"
    number = shown if "." in shown or "e" in shown else shown + ".0"
    written = form.replace("c", f"({number})" if c < 0 else number)  # negative numbers in brackets
    # the constant printed is the one the node was made with, on the side it stood
    assert formula == written, line


def test_a_constant_lost_to_rounding_in_the_forward_value_is_still_shown() -> None:
    # 1e20 + 1.0 == 1e20: the forward values alone no longer tell the constant; the node keeps it.
    for out, shown in ((Value(1e20, label="a") + 1.0, "a + 1.0"),
                       (Value(100.0, label="a") - 1e-8, "a − 1e-08"),
                       (2.0 - Value(1e20, label="a"), "2.0 − a")):
        assert shown in first_line(out)


# ---- the forward direction: the forward pass and forward mode -------------------------------------
def test_forward_steps_compute_each_value_from_its_inputs() -> None:
    from microgradlike.forward import forward_steps

    x, w = Value(2.0, label="x"), Value(-3.0, label="w")
    out = (x * w + 1.0).tanh()
    texts = [step.explain() for step in forward_steps(out)]
    assert len(texts) == 5  # x, w, x·w, + 1, tanh
    assert texts[2] == "Step 3 of 5: n2 = x × w = 2.0 × (-3.0) = -6.0"
    assert texts[3] == "Step 4 of 5: n3 = n2 + 1.0 = (-6.0) + 1.0 = -5.0"
    assert texts[4].startswith("Step 5 of 5: L = tanh(n3) = tanh(-5.0) = -0.999909")


@given(random_dags(max_leaves=3, max_steps=8), st.lists(moderate_floats, min_size=3, max_size=3))
def test_tangent_steps_end_at_the_directional_derivative(dag, v) -> None:  # type: ignore[no-untyped-def]
    from microgradlike.forward import tangent_steps

    leaves = [Value(x) for x in dag.leaf_values]
    out = dag.build(leaves)[-1]
    assume(dag.well_conditioned([n.data for n in dag.build(leaves)]))
    seeds = dict(zip(leaves, v))
    steps = list(tangent_steps(out, seeds))
    out.backward()
    expected = sum(leaf.grad * seeds.get(leaf, 0.0) for leaf in set(leaves))
    if not steps:  # the output is a leaf: its tangent is its own rate
        return
    assert math.isclose(steps[-1].tangent, expected, rel_tol=1e-12, abs_tol=1e-12)
    for step in steps:  # each explained with the same local derivatives backprop uses
        assert [c.local for c in step.contributions] == list(step.node.local_grads)
        assert f"∂{step.name(step.node)}/∂t =" in step.explain()


# ---- grads that are Values (create_graph), grads and data set by hand, odd labels --------------------
def test_stepping_after_create_graph_explains_every_step_with_the_grads_numbers() -> None:
    x = Value(0.5, label="x")
    y = (x.sin() * x).tanh()
    y.backward(create_graph=True)  # every grad is a Value now
    first = x.grad.data
    texts = [step.explain() for step in y.backward_steps()]  # raised TypeError ('<' on a Value)
    assert texts[-1].endswith(f"(x += {first:.6g})")  # the leaf adds the number it held
    assert isinstance(x.grad, Value) and math.isclose(x.grad.data, 2 * first, rel_tol=1e-15)  # as backward()
    steps = Stepper(y)
    assert steps[-1].grad_text(x) == f"grad {3 * first:.4g}"  # held 2·first, plus this pass's first
    assert "grad" in steps[-1].graph().source


@pytest.mark.parametrize(("field", "bad", "says"), [
    ("grad", "abc", "the grad of Value(.*label='x'.*) is str 'abc'"),
    ("grad", None, "the grad of Value(.*label='x'.*) is NoneType None"),
    ("data", Value(3.0), r"the data of Value(.*label='x'.*) is Value .*p\.data -= lr \* p\.grad"),
])
def test_a_grad_or_data_set_by_hand_to_a_non_number_is_a_type_error_naming_the_node(field, bad, says) -> None:
    x = Value(0.5, label="x")
    y = (x * 2.0).tanh()
    setattr(x, field, bad)
    with pytest.raises(TypeError, match=says):
        list(y.backward_steps())
    assert getattr(x, field) is bad and y.grad == 0.0  # refused before anything changed


@pytest.mark.parametrize(("label", "shown"),
                         [("a\x00b", "a\\x00b"), ("\ud800", "\\ud800"), ("a\nb", "a\\nb")])
def test_a_label_that_cannot_be_shown_is_escaped_in_the_steps(label: str, shown: str) -> None:
    from microgradlike.forward import forward_steps, tangent_steps

    x = Value(0.5, label=label)
    y = (x * 2.0).tanh()
    texts = [s.explain() for s in y.backward_steps()] + [s.explain() for s in forward_steps(y)]
    texts += [s.explain() for s in tangent_steps(y, {x: 1.0})]
    assert all(label not in t for t in texts) and any(shown in t for t in texts)
    "\n".join(texts).encode("utf-8")  # printable: a lone surrogate would not encode
    assert x.label == label  # the Value keeps its label


def test_tangent_steps_take_one_leaf_as_moving_at_rate_1_and_refuse_a_list() -> None:
    from microgradlike.forward import tangent_steps

    x, w = Value(2.0, label="x"), Value(-3.0, label="w")
    y = (x * w).tanh()
    assert list(tangent_steps(y, x))[-1].tangent == list(tangent_steps(y, {x: 1.0}))[-1].tangent
    with pytest.raises(TypeError, match=r"seeds must map leaves to rates, like \{x: 1\.0\}.*got list"):
        list(tangent_steps(y, [x]))
