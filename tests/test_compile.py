"""Tests for microgradlike.compile and microgradlike.tape: a traced tape, replayed on floats or
batched, equals eager.

The oracle is always the eager engine itself, run afresh on the same numbers: same forward
values, same gradient for every input and every parameter.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import linecache
import math
import sys
import threading
import traceback

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from microgradlike import Value, dot, no_grad, sum_values
from microgradlike.compile import trace
from microgradlike.engine import Term, dot_terms, logsumexp
from microgradlike.fusion import Dense, Map
from microgradlike.nn import MLP, SigmoidSum
from microgradlike.ops import operand_positions, operands
from microgradlike.program import Instruction

RTOL = 1e-9
#: Floats in [-3, 3]: inputs and constants for random graphs, where values must not blow up.
moderate_floats = st.floats(min_value=-3.0, max_value=3.0, allow_nan=False, allow_infinity=False)


def close(a: float, b: float, rtol: float = RTOL) -> bool:
    return math.isclose(a, b, rel_tol=rtol, abs_tol=1e-12)


def eager(f, args, params):
    """(output, input grads, param grads) of f at args by the eager engine."""
    xs = [Value(a) for a in args]
    for p in params:
        p.grad = 0.0
    out = f(*xs)
    out.backward()
    return out.data, [x.grad for x in xs], [p.grad for p in params]


# ---- random graphs: every op, constants on both sides, dot and sum ---------------------------
# Each op maps the Values computed so far (and a drawn number c in [-3, 3]) to a new Value.
# Inputs to fragile ops are made safe first (a*a + 1 > 0, tanh(a) bounded), so the same graph
# is valid at any input: the tape must agree with eager wherever it is replayed.
OPS = [
    lambda a, b, c: a + b,
    lambda a, b, c: a - b,
    lambda a, b, c: a * b,
    lambda a, b, c: a / (b * b + 1),
    lambda a, b, c: (a * a + 1) ** b.tanh(),
    lambda a, b, c: a + c,
    lambda a, b, c: c + a,
    lambda a, b, c: a - c,
    lambda a, b, c: c - a,
    lambda a, b, c: a * c,
    lambda a, b, c: c * a,
    lambda a, b, c: a / (abs(c) + 0.5),
    lambda a, b, c: c / (a * a + 1),
    lambda a, b, c: a ** 2,
    lambda a, b, c: a.tanh() ** 3,
    lambda a, b, c: (a * a + 1) ** -0.5,
    lambda a, b, c: (abs(c) + 0.5) ** a.tanh(),
    lambda a, b, c: -a,
    lambda a, b, c: abs(a),
    lambda a, b, c: a.tanh().exp(),
    lambda a, b, c: (a * a + 1).log(),
    lambda a, b, c: (a * a + 1).sqrt(),
    lambda a, b, c: a.tanh(),
    lambda a, b, c: a.sigmoid(),
    lambda a, b, c: a.relu(),
    lambda a, b, c: a.softplus(),
    lambda a, b, c: dot([a, c, b, 2.0, 1.5], [b, a, c, -1.0, b], c),
    lambda a, b, c: dot([a, b], [a, a], b),
    lambda a, b, c: sum_values([a, c, b, a, 0.5]),
]

programs = st.lists(
    st.tuples(st.integers(0, len(OPS) - 1), st.integers(0, 99), st.integers(0, 99), moderate_floats),
    min_size=1, max_size=12,
)


def build(program, params):
    """f(x, y) that runs ``program`` over [x, y, *params] and sums the last three results."""

    def f(x, y):
        values = [x, y, *params]
        for op, i, j, c in program:
            values.append(OPS[op](values[i % len(values)], values[j % len(values)], c))
        return sum_values(values[-3:]).tanh()

    return f


@given(programs, st.lists(moderate_floats, min_size=8, max_size=8))
def test_random_graphs_tape_and_batched_equal_eager(program, numbers):
    params = [Value(numbers[0], label="p"), Value(numbers[1], label="q")]
    f = build(program, params)
    tape = trace(f, numbers[2], numbers[3], params=params)
    points = [(numbers[4], numbers[5]), (numbers[6], numbers[7]), (numbers[2], numbers[3])]
    expected = [eager(f, point, params) for point in points]
    for point, (out, grads, pgrads) in zip(points, expected):
        assert close(tape(*point), out)
        tape.backward()
        assert all(close(a, b) for a, b in zip(tape.grads, grads))
        assert all(close(a, b) for a, b in zip(tape.param_grads, pgrads))
    xs, ys = np.array(points).T
    outs = tape(xs, ys)
    assert all(close(o, e[0]) for o, e in zip(outs, expected))
    tape.backward()
    for k in range(2):
        assert all(close(g, e[1][k]) for g, e in zip(tape.grads[k], expected))
    for k in range(2):
        assert close(tape.param_grads[k], sum(e[2][k] for e in expected), rtol=1e-8)


def test_parameters_are_named_and_leaves_found():
    w, b = Value(2.0, label="w"), Value(0.5, label="b")
    tape = trace(lambda x: x * w + b, 3.0)
    assert tape.input_names == ["x"] and sorted(tape.param_names) == ["b", "w"]
    named = trace(lambda x: x * w + b, 3.0, params=[("bias", b), ("weight", w)])
    assert named.param_names == ["bias", "weight"]
    assert named(4.0) == 8.5
    named.backward()
    assert named.param_grads == (1.0, 4.0) and named.grads == (2.0,)
    named.write_grads()
    assert (w.grad, b.grad) == (4.0, 1.0)


def test_tape_reads_current_parameters():
    w = Value(2.0)
    tape = trace(lambda x: (x * w).tanh(), 1.0)
    w.data = -0.5
    assert close(tape(3.0), math.tanh(-1.5))


def test_source_is_the_python_that_runs_and_says_which_slot_is_which():
    w = Value(2.0, label="w")
    tape = trace(lambda x: (dot([w], [x], 1.0)).relu(), 1.0)
    tape(1.5)
    tape.backward()
    tape(np.array([1.5, -2.0]))
    tape.backward()
    names = tape.program.slot_names
    for source, mode in ((tape.source, "float"), (tape.batched_source, "numpy")):
        tree = ast.parse(source)  # valid Python, for reading
        assert [f.name for f in tree.body if isinstance(f, ast.FunctionDef)] == ["forward", "backward"]
        for kind in ("forward", "backward"):  # what you read is what runs
            assert inspect.getsource(tape.function(kind, mode)) in source
        comments = [line for line in source.splitlines() if line.startswith("#")]
        for name, slot in (("x", names[0]), ("w", names[1])):  # a comment names each argument's slot
            assert any(repr(name) in head and slot in tail
                       for head, _, tail in (line.partition(":") for line in comments)), comments


def test_a_traceback_through_a_replay_shows_the_generated_line():
    tape = trace(lambda x: x.log() * 2.0, 1.0)
    with pytest.raises(ValueError, match="log") as caught:
        tape(-1.0)
    frames = [f for f in traceback.extract_tb(caught.value.__traceback__)
              if f.filename.startswith("<microgradlike")]
    assert [f.name for f in frames] == ["forward"]
    assert frames[0].line and "log" in frames[0].line  # the check that raised, read from linecache
    assert linecache.getlines(frames[0].filename) == inspect.getsource(tape.function("forward", "float"))\
        .splitlines(keepends=True)


def test_several_outputs():
    tape = trace(lambda x, y: [x * y, x + y, x * y * 2], 2.0, 3.0)
    assert tape(4.0, 5.0) == (20.0, 9.0, 40.0)
    tape.backward([1.0, 1.0, 0.5])  # d/dx = y + 1 + 0.5·2y, d/dy = x + 1 + 0.5·2x
    assert tape.grads == (11.0, 9.0)


def test_list_arguments_and_batched_rows():
    model = MLP(3, [4, 2], seed=0)
    tape = trace(lambda x: model(x), [0.1, 0.2, 0.3], params=model)
    rows = np.array([[0.5, -1.0, 2.0], [0.0, 0.3, -0.2]])
    outs = tape(rows)
    for k in range(2):
        for i, row in enumerate(rows):
            assert close(outs[k][i], model(row.tolist())[k].data)
    tape.backward([np.ones(2), np.zeros(2)])
    assert tape.grads[0].shape == (2, 3)
    x = [Value(v) for v in rows[1]]
    model.zero_grad()
    model(x)[0].backward()
    assert all(close(g, xi.grad) for g, xi in zip(tape.grads[0][1], x))


# ---- frozen branches -----------------------------------------------------------------------
def test_python_branch_on_data_is_frozen_but_relu_is_replayed():
    def f(x):
        if x.data > 0:  # decided once, at trace time
            return x * 2
        return x * -3

    tape = trace(f, 1.0)
    assert tape(-2.0) == -4.0  # the x > 0 branch, although x < 0
    assert f(Value(-2.0)).data == 6.0  # eager takes the other one
    relu = trace(lambda x: x.relu() * 3, 1.0)
    assert relu(-2.0) == 0.0 and relu(2.0) == 6.0
    relu.backward()
    assert relu.grads == (3.0,)
    relu(-2.0)
    relu.backward()
    assert relu.grads == (0.0,)
    assert list(relu(np.array([-1.0, 2.0]))) == [0.0, 6.0]


# ---- errors -------------------------------------------------------------------------------------
def test_wrong_argument_count_or_shape():
    tape = trace(lambda x, y: x * y, 1.0, 2.0)
    with pytest.raises(TypeError, match=r"takes 2 argument\(s\) \(x, y\), got 3"):
        tape(1.0, 2.0, 3.0)
    with pytest.raises(ValueError, match=r"x: \(3,\), y: \(2,\)"):
        tape(np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        tape(np.ones((2, 2)), np.ones(2))
    with pytest.raises(TypeError, match="must hold numbers"):
        tape("a", 1.0)
    rows = trace(lambda x: x[0] * x[1], [1.0, 2.0])
    with pytest.raises(ValueError, match="list of 2 numbers, got 3"):
        rows([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        rows(np.ones((4, 3)))
    with pytest.raises(RuntimeError, match="before backward"):
        trace(lambda x: x * 2, 1.0).backward()
    tape(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match=r"\(3,\)\), got shape \(2,\)"):
        tape.backward(np.ones(2))


def test_bad_functions():
    with pytest.raises(TypeError, match="must return a Value"):
        trace(lambda x: 3.0, 1.0)
    with pytest.raises(TypeError, match="needs a function"):
        trace(3.0, 1.0)


def test_a_node_made_before_trace_is_replayed_from_the_leaves():
    # A node keeps the plain number it was made with, so the tape can replay it too: like
    # everything below the output, from the parameters' current values.
    w = Value(1.0)
    outside = 2 - w  # kept: the constant 2.0, first
    tape = trace(lambda x: x * outside, 3.0)
    assert tape(3.0) == 3.0 * (2 - 1.0)
    w.data = 5.0
    assert tape(3.0) == 3.0 * (2 - 5.0)


def test_dot_of_iterators_traces_like_lists():
    w = Value(0.5)
    tape = trace(lambda x: dot(iter([x, w]), iter([w, x]), 0.25), 1.0)
    x = Value(-2.0)
    eager = dot([x, w], [w, x], 0.25)
    eager.backward()
    assert tape(-2.0) == eager.data
    tape.backward()
    assert tape.grads[0] == x.grad and tape.param_grads[0] == w.grad


def test_replay_errors_are_the_engines():
    tape = trace(lambda x: x.log(), 1.0)
    with pytest.raises(ValueError, match="positive"):
        tape(-1.0)
    tape = trace(lambda x: 1 / x, 1.0)
    with pytest.raises(ZeroDivisionError):
        tape(0.0)


# ---- models ----------------------------------------------------------------------------------
MODELS = [
    pytest.param(lambda: MLP(2, [5, 4, 1], "relu", seed=1), id="mlp-relu"),
    pytest.param(lambda: MLP(2, [5, 4, 1], "tanh", seed=2), id="mlp-tanh"),
    pytest.param(lambda: MLP(2, [5, 3], "sigmoid", seed=3), id="mlp-sigmoid-2-outputs"),
    pytest.param(lambda: SigmoidSum(6, seed=4), id="sigmoid-sum"),
]


def inputs_for(model, n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, model.nin if hasattr(model, "nin") else 1))


@pytest.mark.parametrize("make_model", MODELS)
def test_models_tape_and_batched_equal_eager(make_model):
    model = make_model()
    params = model.parameters()
    X = inputs_for(model, 6)

    def first_output(x):
        out = model(x)
        return out if isinstance(out, Value) else out[0] * 1.5 - out[-1]

    tape = trace(first_output, X[0].tolist(), params=model)
    expected = []
    for row in X:
        model.zero_grad()
        xs = [Value(v) for v in row]
        out = first_output(xs)
        out.backward()
        expected.append((out.data, [x.grad for x in xs], [p.grad for p in params]))
        assert close(tape(row.tolist()), out.data)
        tape.backward()
        assert all(close(a, x.grad) for a, x in zip(tape.grads[0], xs))
        assert all(close(a, p.grad) for a, p in zip(tape.param_grads, params))
    outs = tape(X)
    assert np.allclose(outs, [e[0] for e in expected], rtol=RTOL, atol=1e-12)
    tape.backward(np.full(len(X), 0.5))
    assert np.allclose(tape.grads[0], 0.5 * np.array([e[1] for e in expected]), rtol=RTOL, atol=1e-12)
    summed = 0.5 * np.sum([e[2] for e in expected], axis=0)
    assert np.allclose(tape.param_grads, summed, rtol=1e-8, atol=1e-12)




# ---- dot nodes keep their pairing; tracing needs no hook ------------------------------------------
def test_dot_terms_come_from_the_node():
    w, x, b = Value(2.0), Value(3.0), Value(0.5)
    node = dot([w, w, 5.0, 6.0], [x, 4.0, x, 7.0], b)
    assert dot_terms(node) == (Term("pair", w, x), Term("plain input", w, 4.0), Term("plain weight", 5.0, x),
                               Term("bias", b, 1.0))
    assert node.constant == 42.0  # the term of two plain numbers
    assert node.data == 2 * 3 + 2 * 4 + 5 * 3 + 6 * 7 + 0.5
    tape = trace(lambda: dot([w, w, 5.0, 6.0], [x, 4.0, x, 7.0], b), params=[w, x, b])
    assert tape.program.instructions[-1].terms == (("mul", 0, 1), ("scale", 0, 4.0), ("scale", 1, 5.0),
                                                   ("add", 2), ("const", 42.0))


def test_a_plain_number_is_read_back_where_it_sat():
    x = Value(2.0)
    cases = [(x - 3, (x, 3.0), (0,)), (3 - x, (3.0, x), (1,)), (x * x, (x, x), (0, 1)),
             (x.tanh(), (x,), (0,))]
    for node, expected, positions in cases:
        assert operands(node.layout, node.children, node.constant) == expected
        assert operand_positions(node.layout, len(node.children)) == positions
    ins = trace(lambda x: 3 - x, 2.0).program.instructions[-1]  # a traced instruction reads the same
    assert operands(ins.layout, ins.args, ins.constant) == (3.0, 0)


def test_a_dot_made_before_trace_ran_is_replayed():
    w = Value(1.5)
    outside = dot([w, 2.0], [w, w], 1.0)  # w² + 2w + 1, made outside the trace
    tape = trace(lambda x: x * outside, 2.0)
    w.data = 3.0
    assert tape(2.0) == 2.0 * (9.0 + 6.0 + 1.0)
    tape.backward()
    assert tape.param_grads == (2.0 * (2 * 3.0 + 2.0),)


def in_threads(work, n: int = 8) -> None:
    """Run ``work`` in ``n`` threads at once, switching between them often so that they interleave."""
    threads = [threading.Thread(target=work) for _ in range(n)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)


def test_tracing_from_several_threads_at_once():
    model = MLP(2, [16, 16, 1], seed=0)
    rows = np.random.default_rng(0).normal(size=(5, 2))
    expected = [model(row.tolist()).data for row in rows]
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work() -> None:
        try:
            start.wait()
            for _ in range(10):
                tape = trace(lambda x: model(x), [0.0, 0.0], params=model)
                assert np.allclose(tape(rows), expected, rtol=1e-12)
        except BaseException as e:
            errors.append(e)

    in_threads(work)
    assert not errors, errors[0]


# ---- a replay refuses what the eager engine refuses ---------------------------------------------
@pytest.mark.parametrize("bad", [None, True, 1 + 2j, "1.0", {"x": 1.0}])
def test_replay_refuses_non_numbers(bad):
    tape = trace(lambda x: x * 2, 1.0)
    with pytest.raises(TypeError, match="'x'"):
        tape(bad)


@pytest.mark.parametrize("bad", [np.array([1.0, np.nan]), np.array([1 + 0j, 2]), np.array([True, False]),
                                 [1.0, None]])
def test_batched_replay_refuses_what_value_refuses(bad):
    tape = trace(lambda x: x * 2, 1.0)
    with pytest.raises((TypeError, ValueError), match=r"'x'|x\[1\] must be a real number, got nan"):
        tape(bad)


def test_nan_is_refused_as_value_refuses_it():
    with pytest.raises(ValueError, match="nan"):
        Value(float("nan"))
    with pytest.raises(ValueError, match="nan"):
        trace(lambda x: x * 2, 1.0)(float("nan"))


def test_batched_replay_names_the_sample_and_op_outside_the_domain():
    tape = trace(lambda x: x.log(), 1.0)
    with pytest.raises(ValueError, match=r"log\(-2\.0\).*sample 2 of the batch, op 'log'"):
        tape(np.array([1.0, 3.0, -2.0, -5.0]))
    division = trace(lambda x: 1 / x, 1.0)
    with pytest.raises(ZeroDivisionError, match="sample 1"):
        division(np.array([1.0, 0.0]))


def test_float_loop_names_the_sample_outside_the_domain():
    tape = trace(lambda x: x.sqrt(), 1.0)
    with pytest.raises(ValueError, match=r"sqrt\(-1\.0\).*sample 1 of the batch"):
        tape.sum_over_rows([(4.0,), (-1.0,)])


def test_trace_refuses_inside_no_grad():
    with no_grad(), pytest.raises(RuntimeError, match="no_grad"):
        trace(lambda x: x * 2, 1.0)


def test_traces_in_threads_keep_nothing_alive_afterwards():
    import tracemalloc

    model = MLP(2, [16, 16, 1], seed=0)

    def work() -> None:
        for _ in range(10):
            with contextlib.suppress(ValueError):  # the old global hook failed here, falsely
                trace(lambda x: model(x), [0.0, 0.0], params=model)

    in_threads(work)
    w = [Value(0.5) for _ in range(16)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(2000):
            dot(w, w, 1.0)  # each node is garbage as soon as it is made
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after - before < 100_000  # a kept node would cost ~1 kB: 2 MB for all of them


# ---- the batched replay, fused: layers as matrix products (microgradlike.fusion) -------------------
def hand_built(ws, vs):
    """A layer written by hand: dots with the weights second and a plain-number bias, two ops on
    each of them, then a second layer, a sum and a logsumexp of the block, and scalar uses."""

    def f(x):
        z = [dot(x, w, 0.5) for w in ws]
        h = [zj.tanh() * 2.0 for zj in z]
        second = [dot(v, h) for v in vs]
        return [sum_values(h), logsumexp(h), h[0] * z[1], *second]

    return f


FUSED_MODELS = [
    *(pytest.param(lambda a=a: (m := MLP(3, [5, 4, 2], a, seed=7), m, 3), id=f"mlp-{a}")
      for a in ("relu", "tanh", "sigmoid", "linear")),
    pytest.param(lambda: (m := MLP(2, [6, 1], seed=8), m, 2), id="mlp-one-output"),
    pytest.param(lambda: (m := SigmoidSum(5, seed=9), m, 1), id="sigmoid-sum"),
    pytest.param(lambda: hand_built_case(), id="hand-built"),
]


def hand_built_case():
    ws = [[Value(0.1 * (i + j) - 0.3) for j in range(3)] for i in range(4)]
    vs = [[Value(0.2 * (i - j)) for j in range(4)] for i in range(2)]
    return hand_built(ws, vs), [p for row in ws + vs for p in row], 3


def fused_case(case):
    """(f returning a list of Values, its parameters, its input width) for a FUSED_MODELS entry."""
    made = case()
    if isinstance(made[1], list):
        return made
    model, width = made[1], made[2]
    return (lambda x: [model(x)] if isinstance(model(x), Value) else model(x)), model.parameters(), width


@pytest.mark.parametrize("n", [1, 7])
@pytest.mark.parametrize("case", FUSED_MODELS)
def test_fused_batched_replay_equals_eager(case, n):
    f, params, width = fused_case(case)
    X = np.random.default_rng(n).normal(size=(n, width))
    tape = trace(lambda x: f(x), X[0].tolist(), params=params)
    steps = tape.fused.steps
    assert any(isinstance(s, Dense) for s in steps)  # the dots became matrix products
    outputs = tape(X)
    k = len(outputs)
    seeds = np.random.default_rng(1).uniform(0.5, 1.5, size=(k, n))
    tape.backward(seeds[0] if k == 1 else list(seeds))
    want_grads = np.zeros(len(params))
    for s, row in enumerate(X):
        for p in params:
            p.grad = 0.0
        xs = [Value(v) for v in row]
        outs = f(xs)
        total = sum_values([o * float(seeds[j, s]) for j, o in enumerate(outs)])
        total.backward()
        for j, o in enumerate(outs):
            assert close(outputs[j][s], o.data)
        assert all(close(g, x.grad) for g, x in zip(tape.grads[0][s], xs))
        want_grads += [p.grad for p in params]
    assert all(close(g, w, rtol=1e-9) for g, w in zip(tape.param_grads, want_grads))


def test_fusion_finds_the_layers_of_any_model():
    def kinds(tape):
        return [type(s).__name__ if not isinstance(s, Instruction) else s.op for s in tape.fused.steps]

    mlp = MLP(3, [5, 4, 2], "tanh", seed=0)
    assert kinds(trace(lambda x: mlp(x), [0.0] * 3, params=mlp)) == ["Dense", "Map", "Dense", "Map", "Dense"]
    units = SigmoidSum(4, seed=0)
    assert kinds(trace(lambda x: units(x), [0.0], params=units)) == ["Dense", "Map", "Dense"]
    f, params, _ = hand_built_case()
    tape = trace(f, [0.0, 0.0, 0.0], params=params)
    assert kinds(tape) == ["Dense", "Map", "Map", "Reduce", "Reduce", "*", "Dense"]
    dense = tape.fused.steps[0]
    assert dense.constants == (0.5,) * 4 and dense.biases == () and dense.source.name == "X0"
    # the outputs' block takes the outputs' order: the model's output matrix needs no copy
    assert tape.fused.output_block is None
    assert trace(lambda x: mlp(x), [0.0] * 3, params=mlp).fused.output_block.name == "B4"


def test_fusion_leaves_shared_weights_to_plain_instructions():
    w, v = [Value(0.3), Value(-0.2)], [Value(0.7), Value(0.1)]
    # the third dot reads w again (tied weights): its weight matrix is not a plain gather
    f = lambda x: [dot(w, x).tanh(), dot(v, x, 1.0).tanh(), dot([w[1], w[0]], [x[1], x[0]])]  # noqa: E731
    tape = trace(f, [0.0, 0.0], params=w + v)
    assert [len(s.out.slots) for s in tape.fused.steps if isinstance(s, Dense)] == [2]
    X = np.array([[1.0, 2.0], [-0.5, 0.25]])
    outs = tape(X)
    tape.backward()
    grads = np.zeros(4)
    for s, row in enumerate(X):
        for p in w + v:
            p.grad = 0.0
        values = f(row.tolist())
        sum_values(values).backward()
        assert all(close(outs[j][s], value.data) for j, value in enumerate(values))
        grads += [p.grad for p in w + v]
    assert all(close(a, b) for a, b in zip(tape.param_grads, grads))


def test_fused_replay_reads_the_weights_afresh():
    mlp = MLP(2, [3, 1], seed=0)
    tape = trace(lambda x: mlp(x), [0.0, 0.0], params=mlp)
    X = np.array([[0.5, -1.0], [2.0, 0.1]])
    tape(X)
    for p in mlp.parameters():
        p.data *= -2.0
    assert np.allclose(tape(X), [mlp(row.tolist()).data for row in X], rtol=RTOL, atol=1e-12)


def test_fused_source_is_short_python_that_runs_each_layer_as_a_matrix():
    mlp = MLP(2, [16, 16, 1], seed=0)
    tape = trace(lambda x: mlp(x), [0.0, 0.0], params=mlp)
    source = tape.batched_source
    ast.parse(source)
    assert len(source.splitlines()) < 60  # 337 parameters, summed up in a line
    X = np.array([[0.5, -1.0], [2.0, 0.1]])
    assert np.allclose(tape(X), [mlp(row.tolist()).data for row in X], rtol=RTOL, atol=1e-12)
    tape.backward()
    for kind in ("forward", "backward"):  # what you read is what runs
        assert inspect.getsource(tape.function(kind, "numpy")) in source
    dense = [step for step in tape.fused.steps if isinstance(step, Dense)]
    assert [len(step.out.slots) for step in dense] == [16, 16, 1]  # each layer: one matrix product
    maps = [step for step in tape.fused.steps if isinstance(step, Map)]
    assert [(step.op, len(step.out.slots)) for step in maps] == [("relu", 16), ("relu", 16)]


def test_a_fused_block_outside_the_domain_names_the_sample():
    ws = [Value(1.0), Value(2.0)]
    tape = trace(lambda x: [dot([w], x).log() for w in ws], [1.0], params=ws)
    assert any(isinstance(s, Map) for s in tape.fused.steps)
    with pytest.raises(ValueError, match=r"log\(-2\.0\).*sample 1 of the batch, op 'log'"):
        tape(np.array([[1.0], [-2.0]]))


def test_batched_relu_is_eagers_bit_for_bit_at_zeros_infinities_and_nan():
    """The batched replay writes relu's ``0.0 if a <= 0 else a`` as numpy's one-pass maximum: the
    same numbers, down to the sign of a zero, and nan (from inf − inf) stays nan as in eager."""
    xs = [-0.0, 0.0, math.inf, -math.inf, 2.5, -2.5] * 20  # long enough for numpy's vector loops
    f = lambda x: [x.relu(), (x - x).relu(), (x * 3.0).relu() * 2.0]  # noqa: E731
    for tape in (trace(f, 1.0), trace(lambda row: [v.relu() for v in row], xs[:6])):
        batch = np.array(xs) if len(tape.input_layout) == 1 and tape.input_layout[0][1] is None \
            else np.array(xs).reshape(-1, 6)
        got = np.ravel(np.column_stack(tape(batch)))
        want = [v.data for x in xs for v in f(Value(x))] if batch.ndim == 1 else \
            [Value(x).relu().data for x in xs]
        assert np.array_equal(np.signbit(got), np.signbit(want)) and np.array_equal(got, want, equal_nan=True)


# ---- code shared by tapes of the same program ------------------------------------------------------
def test_tapes_of_the_same_program_share_their_code_and_read_their_own_parameters():
    """A model of the same shape, traced again (by the next fit), reuses the fused program and the
    compiled functions; each tape still replays its own model's parameters."""
    models = [MLP(3, [4, 2], seed=seed) for seed in (0, 1)]
    tapes = [trace(lambda x, m=m: m(x), [0.5, -1.0, 2.0], params=m) for m in models]
    X = np.array([[0.5, -1.0, 2.0], [1.0, 0.3, -0.7]])
    for model, tape in zip(models, tapes):
        outputs = tape(X)
        with no_grad():
            expected = [[v.data for v in model(row)] for row in X.tolist()]
        assert all(close(a, b) for a, b in zip(np.stack(outputs, axis=1).ravel(), np.ravel(expected)))
    assert tapes[0].digest == tapes[1].digest
    assert tapes[0].fused is tapes[1].fused
    assert tapes[0].function("forward", "numpy") is tapes[1].function("forward", "numpy")
    assert tapes[0].function("loop", "float") is tapes[1].function("loop", "float")


def test_different_programs_never_share_code():
    """Another activation, width, loss, tied weight, or a constant that differs only in the sign
    of a zero: another program, with its own code (whose numbers are its own)."""
    x = [0.5, -1.0]

    def tied():
        model = MLP(2, [2, 1], seed=0)
        model.layers[0].neurons[1].w[0] = model.layers[0].neurons[0].w[0]  # one Value at two places
        return model

    def with_loss(loss):
        model = MLP(2, [2, 1], seed=0)
        return lambda x: loss([model(x)], [1.0]), model

    from microgradlike import losses
    cases = [(lambda x, m=m: m(x), m) for m in (MLP(2, [2, 1], seed=0), MLP(2, [2, 1], "tanh", seed=0),
                                                 MLP(2, [3, 1], seed=0), tied())]
    cases += [with_loss(losses.mse), with_loss(losses.hinge)]
    tapes = [trace(f, x, params=m) for f, m in cases]
    assert len({t.digest for t in tapes}) == len(tapes)
    for (f, _), tape in zip(cases, tapes):
        assert close(tape(x), f(x).data) and close(tape(np.array([x]))[0], f(x).data)
    zero, minus_zero = trace(lambda v: v * 0.0, 1.0), trace(lambda v: v * -0.0, 1.0)
    assert zero.program == minus_zero.program  # equal as dataclasses (0.0 == -0.0) ...
    assert zero.digest != minus_zero.digest  # ... but not the same program
    assert math.copysign(1.0, zero(1.0)) == 1.0 and math.copysign(1.0, minus_zero(1.0)) == -1.0


def test_shared_code_is_bounded():
    import microgradlike.tape as tape_module

    for k in range(tape_module.SHARED_ENTRIES + 5):
        trace(lambda v, k=k: v * float(k + 1000), 1.0).function("forward", "float")
    assert len(tape_module._SHARED) == tape_module.SHARED_ENTRIES
