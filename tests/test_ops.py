"""One conformance test for every op in the table (`microgradlike.ops`): each part reads it.

For every op, in every form (two Values; a Value and a plain number on either side), at random
points of its domain: the closed form, central differences, PyTorch float64 (first and second
derivatives), the tape and batched replays, the step explanation, the expression parser and the
picture; for an activation, nn, the replay page and the torch bridge. An op added to the table
without an entry in the reference tables below fails here, loudly. So does a table whose
generated ``methods.py`` is stale, and a wrong formula, at import.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from microgradlike import Value, batch, grad, methodgen, numerical_grad
from microgradlike.compile import trace
from microgradlike.derivatives import gradients
from microgradlike.expression import FUNCTIONS, parse_expression
from microgradlike.nn import ACTIVATIONS, Neuron
from microgradlike.ops import OPS, activations, parser_functions, refuse
from microgradlike.stepper import Stepper
from microgradlike.viz import draw_dot

#: Closed forms, written independently of the table: (forward, (∂/∂a, ∂/∂b)) on floats.
CLOSED_FORMS = {
    "+": (lambda a, b: a + b, (lambda a, b: 1.0, lambda a, b: 1.0)),
    "-": (lambda a, b: a - b, (lambda a, b: 1.0, lambda a, b: -1.0)),
    "*": (lambda a, b: a * b, (lambda a, b: b, lambda a, b: a)),
    "/": (lambda a, b: a / b, (lambda a, b: 1 / b, lambda a, b: -a / b**2)),
    "**": (lambda a, b: a**b, (lambda a, b: b * a ** (b - 1), lambda a, b: a**b * math.log(a))),
    "neg": (lambda a: -a, (lambda a: -1.0,)),
    "abs": (abs, (lambda a: math.copysign(1.0, a),)),
    "exp": (math.exp, (math.exp,)),
    "log": (math.log, (lambda a: 1 / a,)),
    "sqrt": (math.sqrt, (lambda a: 0.5 / math.sqrt(a),)),
    "tanh": (math.tanh, (lambda a: 1 / math.cosh(a) ** 2,)),
    "sigmoid": (lambda a: 1 / (1 + math.exp(-a)), (lambda a: math.exp(-a) / (1 + math.exp(-a)) ** 2,)),
    "relu": (lambda a: max(a, 0.0), (lambda a: float(a > 0),)),
    "softplus": (lambda a: math.log1p(math.exp(a)), (lambda a: 1 / (1 + math.exp(-a)),)),
    "sin": (math.sin, (math.cos,)),
    "cos": (math.cos, (lambda a: -math.sin(a),)),
}


#: The same ops in PyTorch, as functions of the torch module and the operands (a plain number may
#: stand for either). A table of names, so an op without a counterpart fails even without torch.
TORCH = {
    "+": lambda t, a, b: a + b, "-": lambda t, a, b: a - b, "*": lambda t, a, b: a * b,
    "/": lambda t, a, b: a / b, "**": lambda t, a, b: a**b, "neg": lambda t, a: -a,
    "abs": lambda t, a: t.abs(a), "exp": lambda t, a: t.exp(a), "log": lambda t, a: t.log(a),
    "sqrt": lambda t, a: t.sqrt(a), "tanh": lambda t, a: t.tanh(a), "sigmoid": lambda t, a: t.sigmoid(a),
    "relu": lambda t, a: t.relu(a), "softplus": lambda t, a: t.nn.functional.softplus(a),
    "sin": lambda t, a: t.sin(a), "cos": lambda t, a: t.cos(a),
}


def torch_ops():
    """`TORCH` with the torch module bound (None without torch)."""
    try:
        import torch as t
    except ImportError:
        return None
    return {name: functools.partial(f, t) for name, f in TORCH.items()}


#: The forms each op is tested in: which operands are Values.
FORMS = [(name, form) for name, op in OPS.items()
         for form in (("vv", "vc", "cv") if op.arity == 2 else ("v",))]
points = st.floats(min_value=-3.0, max_value=3.0, allow_nan=False, allow_infinity=False)


def test_every_op_has_a_closed_form_and_a_torch_counterpart():
    assert set(CLOSED_FORMS) == set(OPS)
    assert set(TORCH) == set(OPS)  # checked with or without torch installed


def apply(name: str, form: str, a: float, b: float) -> tuple[Value, list[Value]]:
    """``name`` applied in ``form``: ``vv`` two Values, ``vc`` Value then number, ``cv`` number
    then Value, ``v`` one Value. Returns the result and the Value operands."""
    op = OPS[name]
    A, B = Value(a, label="a"), Value(b, label="b")
    if form == "v":
        return getattr(A, op.method)(), [A]
    if form == "vv":
        return getattr(A, op.method)(B), [A, B]
    if form == "vc":
        return getattr(A, op.method)(b), [A]
    return getattr(B, op.reflected)(a), [B]


def in_domain(name: str, a: float, b: float) -> bool:
    """Away from poles, kinks and where the op or central differences are ill-conditioned."""
    if name in ("abs", "relu") and abs(a) < 1e-3:
        return False
    if name == "/" and abs(b) < 0.1:
        return False
    if name == "**":
        return a > 0.1  # a Value exponent needs a positive base; keep a away from 0
    if name in ("log", "sqrt"):
        return a > 0.1
    return True


@pytest.mark.parametrize(("name", "form"), FORMS)
@given(a=points, b=points)
def test_op_conforms(name: str, form: str, a: float, b: float) -> None:
    assume(in_domain(name, a, b))
    op = OPS[name]
    out, operands = apply(name, form, a, b)
    forward, derivatives = CLOSED_FORMS[name]
    args = (a,) if op.arity == 1 else (a, b)
    # the closed form: value and local derivatives
    assert math.isclose(out.data, forward(*args), rel_tol=1e-12, abs_tol=1e-12)
    wanted = {"v": [0], "vv": [0, 1], "vc": [0], "cv": [1]}[form]
    for local, k in zip(out.local_grads, wanted):
        assert math.isclose(local, derivatives[k](*args), rel_tol=1e-9, abs_tol=1e-12), (name, form, k)
    # backward agrees with central differences
    out.backward()
    grads = [v.grad for v in operands]
    numeric = numerical_grad(lambda *vs: apply_values(name, form, vs, a, b), [v.data for v in operands])
    for g, n in zip(grads, numeric):
        assert math.isclose(g, n, rel_tol=1e-5, abs_tol=1e-6)
    # PyTorch float64
    ops = torch_ops()
    if ops is not None:
        import torch

        ta, tb = (torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in (a, b))
        targs = {"v": (ta,), "vv": (ta, tb), "vc": (ta, b), "cv": (a, tb)}[form]
        tout = ops[name](*targs)
        tout.backward()
        assert math.isclose(out.data, tout.item(), rel_tol=1e-12, abs_tol=1e-12)
        used = {"v": (ta,), "vv": (ta, tb), "vc": (ta,), "cv": (tb,)}[form]
        tgrads = [t.grad.item() for t in used]
        for g, tg in zip(grads, tgrads):
            assert math.isclose(g, tg, rel_tol=1e-12, abs_tol=1e-12), (name, form)
    # the tape replay and the batched replay give the eager numbers
    tape = trace(lambda *vs: apply_values(name, form, vs, a, b), *[v.data for v in operands])
    assert math.isclose(tape(*[v.data for v in operands]), out.data, rel_tol=1e-15, abs_tol=0)
    tape.backward()
    assert all(math.isclose(g, e, rel_tol=1e-15, abs_tol=0) for g, e in zip(tape.grads, grads))
    batch = [np.array([v.data, v.data]) for v in operands]
    # numpy's exp, sin, power … may differ from math's in the last bit or two
    assert np.allclose(tape(*batch), out.data, rtol=1e-13, atol=0)
    tape.backward()
    assert all(np.allclose(g, e, rtol=1e-13, atol=1e-300) for g, e in zip(tape.grads, grads))


def apply_values(name: str, form: str, vs: tuple, a: float, b: float) -> Value:
    """The op on given operands (Values or numbers), with the plain number of ``form``."""
    op = OPS[name]
    if form == "v":
        return getattr(vs[0], op.method)()
    if form == "vv":
        return getattr(vs[0], op.method)(vs[1])
    if form == "vc":
        return getattr(vs[0], op.method)(b)
    return getattr(vs[0], op.reflected)(a)


@pytest.mark.parametrize(("name", "form"), FORMS)
def test_op_is_explained_parsed_and_drawn(name: str, form: str) -> None:
    op = OPS[name]
    a, b = 0.7, 1.3
    out, _ = apply(name, form, a, b)
    out.label = "out"
    steps = list(Stepper(out))
    text = steps[-1].explain()
    assert "{" not in text and "}" not in text  # every field of the op's words was filled
    for local in out.local_grads:
        assert f"{local + 0.0:.6g}" in text  # each local derivative, with the numbers it came from
    picture = draw_dot(out).source
    assert op.symbol in picture
    # the parser offers the function, or writes the operator
    if op.parser:
        parsed = parse_expression(f"{name}(a)", {"a": a})
        assert parsed.data == out.data and parsed.op == name
    elif op.infix and form == "vv":
        infix = {"**": "**", "*": "*", "/": "/", "+": "+", "-": "-"}[name]
        parsed = parse_expression(f"a {infix} b", {"a": a, "b": b})
        assert parsed.data == out.data and parsed.op == name


#: Where a NaN operand is tested, per form: the Value operands that take it in turn.
NAN_PLACES = {"v": (0,), "vv": (0, 1), "vc": (0,), "cv": (0,)}


@pytest.mark.parametrize(("name", "form", "place"),
                         [(name, form, place) for name, form in FORMS for place in NAN_PLACES[form]])
def test_nan_passes_through_every_op_in_every_engine_as_in_pytorch(name: str, form: str, place: int) -> None:
    """A NaN made inside a graph (inf·0) is no domain error and never turns into a number: eager,
    the float tape and the batched tape give PyTorch's value and gradients (relu(nan) = nan with
    derivative 1; |a|' = 0 at nan, as torch's sign(nan) = 0)."""
    torch = pytest.importorskip("torch")
    n_values = {"v": 1, "vv": 2, "vc": 1, "cv": 1}[form]
    other = 0.5  # the other operand, a Value or a plain number (nan ** 0.5: a non-integer power)

    def f(x, params):  # the operand at ``place`` is params[0]·x: nan for params[0] = inf, x = 0
        vs = [params[0] * x if i == place else params[1] for i in range(n_values)]
        return apply_values(name, form, tuple(vs), other, other)

    params = [Value(math.inf), Value(other)]
    out = f(Value(0.0), params)
    out.backward()
    eager = (out.data, *(p.grad for p in params))
    tape = trace(lambda x: f(x, params), 0.0, params=params)
    float_tape = (tape(0.0), *(tape.backward() or tape.param_grads))
    batched_out = tape(np.zeros(20))  # long enough for numpy's vector loops
    tape.backward()
    batched = (batched_out[3], *(g / 20 for g in tape.param_grads))

    t_params = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in (math.inf, other)]
    t_vs = [t_params[0] * 0.0 if i == place else t_params[1] for i in range(n_values)]
    t_args = {"v": lambda: (t_vs[0],), "vv": lambda: (t_vs[0], t_vs[1]), "vc": lambda: (t_vs[0], other),
              "cv": lambda: (other, t_vs[0])}[form]()
    t_out = TORCH[name](torch, *t_args)
    t_out.backward()
    want = (t_out.item(), *(0.0 if t.grad is None else t.grad.item() for t in t_params))
    assert math.isnan(want[0])
    for engine, got in (("eager", eager), ("float tape", float_tape), ("batched", batched)):
        assert np.allclose(got, want, equal_nan=True, rtol=1e-12, atol=0), (engine, got, want)


@pytest.mark.parametrize("a", [5e-324, -5e-324, 1e-310, 2.0])
def test_a_power_of_0_has_derivative_0_also_where_one_over_the_base_overflows(a: float) -> None:
    """b·aᵇ⁻¹ at b = 0 was 0·inf = nan for a subnormal base a (1/a overflows); PyTorch gives 0,
    in every engine, and through grad."""
    x = Value(a)
    (x**0).backward()
    tape = trace(lambda v: v**0 + v * 0.0, a)
    tape(np.full(20, a))
    tape.backward()
    assert x.grad == 0.0 and grad(lambda v: v**0 + v)(a) == (1.0,)
    assert np.all(tape.grads[0] == 0.0), tape.grads  # batched: every row
    torch = pytest.importorskip("torch")
    t = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    (t**0).backward()
    assert t.grad.item() == x.grad


@pytest.mark.parametrize("name", [name for name, op in OPS.items() if op.arity == 1 and not op.checks])
@pytest.mark.parametrize("x", [math.inf, -math.inf])
def test_an_op_on_an_infinity_gives_pytorchs_number_eager_and_batched(name: str, x: float) -> None:
    """sin(inf) is nan as in PyTorch and numpy (math.sin raised "math domain error", naming nothing)."""
    torch = pytest.importorskip("torch")
    out = getattr(Value(x), OPS[name].method)()
    want = TORCH[name](torch, torch.tensor(x, dtype=torch.float64)).item()
    batched = trace(lambda v: getattr(v, OPS[name].method)(), 1.0)(np.full(20, x))
    got = [out.data, batched[0]]
    assert np.allclose(got, want, equal_nan=True, rtol=0, atol=0), (got, want)


def test_parser_and_activations_read_the_table():
    assert list(FUNCTIONS) == parser_functions()
    assert {"sin", "cos", "tanh", "relu"} <= set(FUNCTIONS)
    assert list(ACTIVATIONS) == [*activations(), "linear"]


@pytest.mark.parametrize("name", [name for name, op in OPS.items() if op.checks])
def test_outside_the_domain_eager_and_replay_raise_the_same_error(name: str) -> None:
    op = OPS[name]
    bad = {"/": (1.0, 0.0), "**": (-2.0, 0.5), "log": (-1.0, 0.0), "sqrt": (-4.0, 0.0)}[name]
    error = op.checks[0].error
    with pytest.raises(error):
        apply(name, "vv" if op.arity == 2 else "v", *bad)
    good = {"/": (1.0, 2.0), "**": (2.0, 0.5), "log": (1.0, 0.0), "sqrt": (4.0, 0.0)}[name]
    tape = trace(lambda *vs: apply_values(name, "vv" if op.arity == 2 else "v", vs, *good),
                 *good[:op.arity])
    with pytest.raises(error, match="sample 1"):
        tape(*[np.array([g, x]) for g, x in zip(good, bad)][:op.arity])


def test_sin_cos_end_to_end_in_an_expression() -> None:
    out = parse_expression("sin(x) * cos(y)", {"x": 0.3, "y": -1.1})
    out.backward()
    x, y = sorted((v for v in out.children for v in v.children), key=lambda v: v.label)
    assert math.isclose(x.grad, math.cos(0.3) * math.cos(-1.1), rel_tol=1e-15)
    assert math.isclose(y.grad, -math.sin(0.3) * math.sin(-1.1), rel_tol=1e-15)


# ---- second derivatives: the derivative formulas, differentiated again on Values ---------------------
@pytest.mark.parametrize(("name", "form"), FORMS)
@given(a=points, b=points)
def test_second_derivatives_match_pytorch(name: str, form: str, a: float, b: float) -> None:
    torch = pytest.importorskip("torch")
    assume(in_domain(name, a, b))
    out, operands = apply(name, form, a, b)
    first = gradients(out, operands, create_graph=True)
    ours = [gradients(d, operands) if isinstance(d, Value) else (0.0,) * len(operands) for d in first]
    ta, tb = (torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in (a, b))
    targs = {"v": (ta,), "vv": (ta, tb), "vc": (ta, b), "cv": (a, tb)}[form]
    used = {"v": [ta], "vv": [ta, tb], "vc": [ta], "cv": [tb]}[form]
    # a**b with two tensors as e^(b·ln a) (a > 0 here): the same function, without torch's pow rule,
    # which takes ∂(aᵇ)/∂a as 0 at b = 0 and so gives ∂²/∂b∂a = 0 there instead of 1/a
    reference = (lambda t, x, y: (y * t.log(x)).exp()) if (name, form) == ("**", "vv") else TORCH[name]
    tfirst = torch.autograd.grad(reference(torch, *targs), used, create_graph=True)
    for row, d in zip(ours, tfirst):
        expected = [0.0] * len(used) if not d.requires_grad else [
            0.0 if g is None else g.item()
            for g in torch.autograd.grad(d, used, retain_graph=True, allow_unused=True)]
        for got, want in zip(row, expected):
            assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-10), (name, form, row, expected)


def test_the_second_derivative_code_can_be_read_where_it_runs() -> None:
    import linecache

    x = Value(0.3)
    (dx,) = gradients(x.tanh(), [x], create_graph=True)  # ∂tanh/∂a = 1 − out², compiled on Values
    (d2x,) = gradients(dx, [x])
    assert math.isclose(d2x, -2 * math.tanh(0.3) * (1 - math.tanh(0.3) ** 2), rel_tol=1e-12)
    lines = linecache.getlines("<microgradlike ∂tanh/∂a>")  # what tracebacks and pdb show
    assert lines[0].startswith("def d(a, b, out):") and "out" in lines[1]


# ---- the generated methods: a committed file, current with the table ---------------------------------
def test_methods_py_is_what_the_op_table_gives() -> None:
    # python microgradlike/methodgen.py --write rewrites it after a change to ops.py
    assert methodgen.PATH.read_text(encoding="utf-8") == methodgen.source()


def test_methodgen_check_fails_on_a_stale_file_and_write_makes_it_current(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "methods.py"
    stale.write_text(methodgen.source().replace("1.0 - out * out", "1.0 - out"), encoding="utf-8")
    monkeypatch.setattr(methodgen, "PATH", stale)
    assert methodgen.main(["--check"]) == 1
    assert "methodgen.py --write" in capsys.readouterr().err
    assert methodgen.main(["--write"]) == 0
    assert stale.read_text(encoding="utf-8") == methodgen.source()
    assert methodgen.main(["--check"]) == 0


CHECKS = [(name, k) for name, op in OPS.items() for k in range(len(op.checks))]


@pytest.mark.parametrize(("name", "check"), CHECKS)
def test_an_op_outside_its_domain_raises_the_tables_error_and_message(name: str, check: int) -> None:
    rule = OPS[name].checks[check]
    bad = VIOLATIONS[(name, check)]
    forms = ["v"] if OPS[name].arity == 1 else [
        form for form in ("vv", "vc", "cv") if rule.only_if_value != {"vc": "b", "cv": "a"}.get(form)]
    for form in forms:
        given_ = [Value(x) if keep else x for x, keep in zip(bad, {"v": (1,), "vv": (1, 1), "vc": (1, 0),
                                                                  "cv": (0, 1)}[form])]
        with pytest.raises(rule.error) as caught:
            apply_values(name, form, tuple(v for v in given_ if isinstance(v, Value)), *(*bad, 0.0)[:2])
        assert str(caught.value) == str(refuse(name, check, *given_)), form


#: Operands outside each domain check of the table, (op, check number) -> (a, b).
VIOLATIONS = {("/", 0): (1.0, 0.0), ("**", 0): (-2.0, 0.5), ("**", 1): (0.0, -1.0), ("**", 2): (-2.0, 2.0),
              ("log", 0): (-1.0,), ("sqrt", 0): (-4.0,)}


def test_every_domain_check_has_an_example_outside_it() -> None:
    assert set(VIOLATIONS) == set(CHECKS)


# ---- a wrong table fails at import, naming what is wrong ----------------------------------------------
@pytest.mark.parametrize(("old", "new", "says"), [
    ('("cos(a)",), "sin a"', '("cos(x)",), "sin a"', "reads 'x'"),  # a typo for the operand
    ('("cos(a)",), "sin a"', '("cosine(a)",), "sin a"', "calls cosine"),  # a function not in FUNCTIONS
    ('"sin": Function(_sin, np.sin, "sin")', '"sin": Function(_sin, "sin")', "missing 1 required"),
    ('"sin": Function(_sin, np.sin, "sin")', '"sin": Function(_sin, np.sin, "sine")',
     "function sin is computed on Values by op 'sine'"),
])
def test_a_wrong_formula_or_function_fails_at_import(tmp_path, old: str, new: str, says: str) -> None:
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    package = Path(methodgen.__file__).parent
    copy = tmp_path / "microgradlike"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    ops = (copy / "ops.py").read_text(encoding="utf-8")
    assert old in ops
    (copy / "ops.py").write_text(ops.replace(old, new), encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", "import microgradlike"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0 and says in done.stderr, done.stderr


# ---- activations: nn, the replay page and the torch bridge all come from the table ---------------------
@pytest.mark.parametrize("name", activations())
def test_an_activation_works_in_nn_the_replay_page_and_the_bridge(name: str) -> None:
    op = OPS[name]
    zs = np.linspace(-4.0, 4.0, 17)
    eager = [getattr(Value(z), op.method)().data for z in zs]
    neuron = Neuron(1, activation=name, seed=0)  # nn: a = σ(w·x + b)
    w, b = neuron.w[0].data, neuron.b.data
    assert [neuron([x]).data for x in zs] == [getattr(Value(w * x + b), op.method)().data for x in zs]
    # the replay page draws each neuron with the same function, on numpy arrays
    assert np.allclose(batch.ACTIVATIONS[name](zs), eager, rtol=1e-12, atol=1e-15)
    torch = pytest.importorskip("torch")
    from microgradlike.bridge import from_torch, to_torch

    if not op.torch_module:  # torch has no such module: refused by name
        with pytest.raises(ValueError, match=repr(name)):
            to_torch(neuron)
        return
    net = to_torch(neuron)
    assert type(net[1]) is getattr(torch.nn, op.torch_module)
    assert np.allclose(net(torch.tensor(zs[:, None], dtype=torch.float64)).detach().numpy()[:, 0],
                       [neuron([x]).data for x in zs], rtol=1e-12, atol=1e-15)
    assert from_torch(net).activation == name


def test_the_replay_page_and_the_bridge_offer_the_tables_activations() -> None:
    from microgradlike.bridge import _ACTIVATION_CLASSES

    assert list(batch.ACTIVATIONS) == [*activations(), "linear"]
    assert set(_ACTIVATION_CLASSES) == {n for n in activations() if OPS[n].torch_module} | {"linear"}
