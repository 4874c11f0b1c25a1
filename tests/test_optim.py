"""Tests for microgradlike.optim: the update rules, PyTorch agreement, and argument checks."""

from __future__ import annotations

import math

import pytest

from microgradlike.engine import Value
from microgradlike.nn import MLP
from microgradlike.optim import OPTIMIZERS, SGD, Adam, Optimizer, get_optimizer

START = [1.5, -0.7, 0.3]


def loss_of(theta: list[Value]) -> Value:
    """A smooth non-quadratic bowl: each coordinate's gradient depends on the others."""
    a, b, c = theta
    return (a - 1) ** 2 + 3 * (b + 0.5) ** 2 + (a * c).tanh() + 0.5 * c**4


def run(opt_factory, steps: int) -> list[list[float]]:
    theta = [Value(x) for x in START]
    opt = opt_factory(theta)
    path = []
    for _ in range(steps):
        opt.zero_grad()
        loss_of(theta).backward()
        opt.step()
        path.append([p.data for p in theta])
    return path


# ---- the update rules in closed form ------------------------------------------------------
def test_plain_sgd_moves_against_the_gradient():
    theta = [Value(2.0), Value(-1.0)]
    theta[0].grad, theta[1].grad = 4.0, -3.0
    SGD(theta, lr=0.1).step()
    assert [p.data for p in theta] == pytest.approx([2.0 - 0.4, -1.0 + 0.3])


def test_sgd_momentum_accumulates_a_velocity():
    p = Value(0.0)
    opt = SGD([p], lr=0.5, momentum=0.9)
    for _ in range(3):
        p.grad = 1.0  # a constant gradient: v = 1, 1.9, 2.71
        opt.step()
    assert p.data == pytest.approx(-0.5 * (1 + 1.9 + 2.71))


def test_adam_first_step_is_lr_times_the_gradient_sign():
    theta = [Value(0.0), Value(0.0), Value(0.0)]
    for p, g in zip(theta, [1e-4, -250.0, 3.0]):
        p.grad = g
    Adam(theta, lr=0.01).step()
    # m̂ = g and v̂ = g² after one bias-corrected step, so Δθ = −η·g/(|g| + ε) ≈ −η·sign(g)
    assert [p.data for p in theta] == pytest.approx([-0.01, 0.01, -0.01], rel=1e-4)


def test_adam_with_a_constant_gradient_keeps_stepping_lr():
    p = Value(0.0)
    opt = Adam([p], lr=0.1, eps=0.0)
    for _ in range(5):
        p.grad = 2.0
        opt.step()
    assert p.data == pytest.approx(-0.5, rel=1e-12)  # m̂ = 2, v̂ = 4 every step


def test_zero_grad_clears_the_parameters():
    theta = [Value(1.0), Value(2.0)]
    (theta[0] * theta[1]).backward()
    opt = SGD(theta)
    opt.zero_grad()
    assert [p.grad for p in theta] == [0.0, 0.0]


def test_lr_can_be_changed_between_steps():
    p = Value(1.0)
    opt = SGD([p], lr=0.1)
    opt.lr = 0.5
    p.grad = 1.0
    opt.step()
    assert p.data == pytest.approx(0.5)
    with pytest.raises(ValueError, match="lr must be a positive finite number, got -1"):
        opt.lr = -1
    assert opt.lr == 0.5


@pytest.mark.parametrize("factory", [lambda ps: SGD(ps, lr=0.05, momentum=0.8), lambda ps: Adam(ps, lr=0.05)])
def test_both_optimisers_descend(factory):
    theta = [Value(x) for x in START]
    start = loss_of(theta).data
    final = run(factory, 300)[-1]
    assert loss_of([Value(x) for x in final]).data < start - 1.0


def test_training_an_mlp_with_the_shared_interface_lowers_the_loss():
    from microgradlike.losses import mse

    model = MLP(1, [8, 1], activation="tanh", seed=0)
    xs = [-1.0, -0.5, 0.0, 0.5, 1.0]
    ys = [x * x for x in xs]
    for opt in (SGD(model.parameters(), lr=0.1, momentum=0.5), Adam(model.parameters(), lr=0.02)):
        first = None
        for _ in range(100):
            loss = mse([model(x) for x in xs], ys)
            first = first if first is not None else loss.data
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert loss.data < 0.5 * first


# ---- grads built as graphs: backward(create_graph=True) -------------------------------------------
OPTIMISERS = [lambda ps: SGD(ps, lr=0.05), lambda ps: SGD(ps, lr=0.05, momentum=0.9),
              lambda ps: Adam(ps, lr=0.05)]


@pytest.mark.parametrize("factory", OPTIMISERS)
def test_a_grad_built_as_a_graph_steps_with_its_number(factory):
    # After backward(create_graph=True) each grad is a Value; the step uses its number, as
    # PyTorch's optimisers do, so the path is exactly the plain backward's, and data stays a float.
    theta = [Value(x) for x in START]
    opt = factory(theta)
    path = []
    for _ in range(4):
        opt.zero_grad()
        loss_of(theta).backward(create_graph=True)
        assert all(isinstance(p.grad, Value) for p in theta)
        opt.step()
        assert all(type(p.data) is float for p in theta)
        path.append([p.data for p in theta])
    assert path == run(factory, 4)
    opt.zero_grad()  # clears the graph grads too: the next plain backward starts from numbers
    assert [p.grad for p in theta] == [0.0, 0.0, 0.0]
    loss_of(theta).backward()
    assert all(type(p.grad) is float for p in theta)


@pytest.mark.parametrize("factory", OPTIMISERS)
def test_a_grad_that_is_not_a_number_is_refused_naming_the_parameter(factory):
    theta = [Value(1.0), Value(2.0)]
    opt = factory(theta)
    theta[1].grad = "0.5"
    with pytest.raises(TypeError, match=r"parameter 1 \(Value\(data=2\.0.*not a number: str: '0\.5'"):
        opt.step()
    theta[1].grad = 10**400  # was the bare "the integer 1000… is too large for a float", naming no parameter
    with pytest.raises(ValueError, match=r"parameter 1 \(Value\(data=2\.0.*grad that is no float: the "
                                         r"integer 100000000000… \(401 digits\) is too large"):
        opt.step()


@pytest.mark.parametrize("cls", [SGD, Adam])
def test_the_model_itself_or_one_value_is_refused_saying_what_to_pass(cls):
    model = MLP(2, [3, 1], seed=0)
    with pytest.raises(TypeError, match=rf"{cls.__name__} takes the parameters, not the model: pass "
                                        rf"MLP\.parameters\(\)"):
        cls(model)  # was "'MLP' object is not iterable"
    for bad in (Value(1.0), 3.0, "w"):
        with pytest.raises(TypeError, match=rf"{cls.__name__} takes a list of parameters \(Values\), got "):
            cls(bad)


# ---- against PyTorch ------------------------------------------------------------------------------
def _torch_path(torch, make_opt, steps: int) -> list[list[float]]:
    theta = torch.tensor(START, dtype=torch.float64, requires_grad=True)
    opt = make_opt([theta])
    path = []
    for _ in range(steps):
        opt.zero_grad()
        a, b, c = theta
        loss = (a - 1) ** 2 + 3 * (b + 0.5) ** 2 + torch.tanh(a * c) + 0.5 * c**4
        loss.backward()
        opt.step()
        path.append(theta.detach().tolist())
    return path


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_matches_torch_optim(momentum):
    torch = pytest.importorskip("torch")
    ours = run(lambda ps: SGD(ps, lr=0.05, momentum=momentum), 8)
    theirs = _torch_path(torch, lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=momentum), 8)
    for step, (a, b) in enumerate(zip(ours, theirs)):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), f"step {step}"


@pytest.mark.parametrize(("lr", "betas", "eps"), [(0.01, (0.9, 0.999), 1e-8), (0.1, (0.5, 0.9), 1e-3)])
def test_adam_matches_torch_optim(lr, betas, eps):
    torch = pytest.importorskip("torch")
    ours = run(lambda ps: Adam(ps, lr=lr, betas=betas, eps=eps), 8)
    theirs = _torch_path(torch, lambda ps: torch.optim.Adam(ps, lr=lr, betas=betas, eps=eps), 8)
    for step, (a, b) in enumerate(zip(ours, theirs)):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), f"step {step}"


# ---- argument checks ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("build", "error", "fragment"),
    [
        (lambda ps: SGD(ps, lr=0), ValueError, "lr must be a positive finite number, got 0"),
        (lambda ps: SGD(ps, lr=-0.1), ValueError, "got -0.1"),
        (lambda ps: SGD(ps, lr=math.nan), ValueError, "got nan"),
        (lambda ps: SGD(ps, lr=math.inf), ValueError, "got inf"),
        (lambda ps: SGD(ps, lr="0.1"), TypeError, "'0.1'"),
        (lambda ps: SGD(ps, lr=True), TypeError, "True"),
        (lambda ps: SGD(ps, momentum=1.0), ValueError, "momentum must be in [0, 1), got 1.0"),
        (lambda ps: SGD(ps, momentum=-0.1), ValueError, "got -0.1"),
        (lambda ps: Adam(ps, lr=0), ValueError, "got 0"),
        (lambda ps: Adam(ps, betas=(1.0, 0.999)), ValueError, "beta1 must be in [0, 1), got 1.0"),
        (lambda ps: Adam(ps, betas=(0.9, -0.5)), ValueError, "beta2 must be in [0, 1), got -0.5"),
        (lambda ps: Adam(ps, betas=(0.9,)), TypeError, "(0.9,)"),
        (lambda ps: Adam(ps, betas=0.9), TypeError, "0.9"),
        (lambda ps: Adam(ps, eps=-1e-8), ValueError, "eps must be a finite number >= 0, got -1e-08"),
    ],
)
def test_bad_hyperparameters_raise_precise_errors(build, error, fragment):
    with pytest.raises(error) as info:
        build([Value(1.0)])
    assert fragment in str(info.value)


@pytest.mark.parametrize("cls", [SGD, Adam])
def test_bad_parameter_lists_are_rejected(cls):
    with pytest.raises(ValueError, match="empty parameter list"):
        cls([])
    with pytest.raises(TypeError, match=r"parameter 1 must be a Value, got float: 2\.0"):
        cls([Value(1.0), 2.0])
    p = Value(1.0)
    with pytest.raises(ValueError, match=r"parameter 1 .* appears twice"):
        cls([p, p])


def test_params_may_be_any_iterable():
    model = MLP(2, [3, 1], seed=0)
    opt = SGD(iter(model.parameters()))
    assert opt.params == model.parameters()


# ---- lookup -----------------------------------------------------------------------------------
def test_get_optimizer_by_name_class_or_instance():
    params = [Value(1.0), Value(2.0)]
    sgd = get_optimizer("sgd", params, lr=0.3, momentum=0.5)
    assert isinstance(sgd, SGD) and sgd.lr == 0.3 and sgd.momentum == 0.5
    adam = get_optimizer("Adam", params)
    assert isinstance(adam, Adam) and adam.lr == 0.01  # the class default when lr is None
    assert isinstance(get_optimizer(Adam, params, lr=0.1), Adam)
    assert get_optimizer(sgd, params, lr=99.0) is sgd
    assert set(OPTIMIZERS.values()) == {SGD, Adam}
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        get_optimizer("rmsprop", params)
    with pytest.raises(TypeError, match="42"):
        get_optimizer(42, params)
    with pytest.raises(NotImplementedError):
        Optimizer(params, lr=0.1).step()


def test_adam_without_eps_leaves_a_parameter_that_never_had_a_gradient_alone():
    # eps = 0 is allowed; with g = 0 so far, m̂ = v̂ = 0 and the step m̂/√v̂ must not be 0/0.
    still, moving = Value(1.0), Value(0.0)
    opt = Adam([still, moving], lr=0.1, eps=0.0)
    moving.grad = 3.0
    opt.step()
    assert still.data == 1.0
    assert moving.data == pytest.approx(-0.1, rel=1e-12)  # m̂/√v̂ = g/|g| = 1


@pytest.mark.parametrize("eps", [1e-8, 0.0])
def test_adam_with_a_nan_gradient_makes_the_parameter_nan_as_sgd_and_torch_do(eps):
    """It froze the parameter (its step was skipped as if √v̂ + ε were 0), and m, v stayed NaN, so
    no later finite gradient ever moved it again. The numpy Adam of the compiled engines too."""
    import numpy as np

    from microgradlike.trainers import VectorTrainer

    sgd, adam = Value(1.0), Value(1.0)
    for p, opt in ((sgd, SGD([sgd])), (adam, Adam([adam], eps=eps))):
        p.grad = math.nan
        opt.step()
        assert math.isnan(p.data), type(opt).__name__
    vector = Value(1.0)
    trainer = VectorTrainer([vector], Adam([vector], eps=eps),
                            lambda X, y, theta: (0.0, np.array([math.nan])), lambda X, y, theta: 0.0)
    trainer.loss_and_grad(None, None)
    trainer.step()
    assert math.isnan(trainer.values()[0])
    torch = pytest.importorskip("torch")
    t = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    t.grad = torch.tensor([math.nan], dtype=torch.float64)
    torch.optim.Adam([t], eps=eps).step()
    assert math.isnan(t.item())
