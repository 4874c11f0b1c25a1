"""fit(..., engine="torch"): the same training as the batched engine, through PyTorch.

On the CPU in float64 the parameters, the losses and the gradient norms equal the batched engine's to
1e-9 relative after 100 epochs, for every loss and optimiser, full batch and shuffled mini-batches;
so do early stopping, keep_best, the divergence guard and what a callback sees. The CUDA tests run
only where torch sees a GPU. The tests that need torch are skipped without it; the one that checks
what happens without torch simulates its absence, so it always runs.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from microgradlike.cli import main
from microgradlike.data import make_moons, make_spirals
from microgradlike.losses import get_loss, hinge
from microgradlike.nn import MLP, Layer, Module, Neuron, SigmoidSum
from microgradlike.optim import SGD, Adam
from microgradlike.replay import Replay
from microgradlike.torch_engine import TorchTrainer
from microgradlike.train import fit

ROOT = Path(__file__).parent.parent
REL = 1e-9
LOSSES = ["mse", "binary_cross_entropy", "hinge", "cross_entropy"]
OPTIMIZERS = {"sgd": lambda p: SGD(p, lr=0.05), "sgd+momentum": lambda p: SGD(p, lr=0.02, momentum=0.9),
              "adam": lambda p: Adam(p, lr=0.01)}
cuda = pytest.mark.skipif("not torch_cuda()", reason="needs a CUDA GPU that torch can use")


def torch_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.fixture(scope="module", autouse=True)
def torch():
    """torch, on one thread: on a shared 2-core machine more threads only wait for each other."""
    torch = pytest.importorskip("torch", reason="engine='torch' needs PyTorch: pip install torch==2.13.0")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)


def problem(loss: str, n: int = 40):
    """Rows, targets as the loss takes them, and a fresh model (the same one every call)."""
    if loss == "cross_entropy":
        X, y = make_spirals(n=n, arms=3, noise=0.1, seed=0)
        return X, y, MLP(2, [6, 6, 3], seed=1)
    X, y = make_moons(n=n, noise=0.2, seed=0)
    return X, (2 * y - 1 if loss in ("mse", "hinge") else y), MLP(2, [6, 6, 1], seed=1)


def params(model) -> np.ndarray:
    return np.array([p.data for p in model.parameters()])


def assert_close(ours, theirs, rel: float = REL) -> None:
    """Each number within ``rel`` of the other's, relative to itself or to a thousandth of the
    largest, whichever is more (so |0 - 1e-17| passes); inf and nan only where the other has them."""
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    assert ours.shape == theirs.shape
    same = (ours == theirs) | (np.isnan(ours) & np.isnan(theirs))
    ours, theirs = ours[~same], theirs[~same]
    scale = max(np.max(np.abs(theirs), initial=0.0), 1e-300)
    worst = np.max(np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1e-3 * scale), initial=0.0)
    assert worst <= rel, f"max relative difference {worst:.3g}"


def train(loss: str, engine: str, make_optimizer=None, y_scale: float = 1.0, **options):
    """(model, History, optimiser) of a run from the problem's fresh model."""
    X, y, model = problem(loss)
    optimizer = (make_optimizer or OPTIMIZERS["adam"])(model.parameters())
    history = fit(model, X, y * y_scale, loss=loss, optimizer=optimizer, engine=engine, **options)
    return model, history, optimizer


def both(loss: str, make_optimizer=None, y_scale: float = 1.0, **options):
    """Train the same model from the same start with the batched engine and the torch one."""
    return tuple(train(loss, engine, make_optimizer, y_scale, **options) for engine in ("batched", "torch"))


def assert_same_run(batched, torched, grads: bool = True) -> None:
    (model_b, history_b, _), (model_t, history_t, _) = batched, torched
    assert_close(params(model_t), params(model_b))
    if grads:
        assert_close([p.grad for p in model_t.parameters()], [p.grad for p in model_b.parameters()], 1e-7)
    for name in ("train_loss", "val_loss", "update_loss", "grad_norm"):
        assert_close(getattr(history_t, name), getattr(history_b, name))
    for name in ("n_updates", "n_epochs", "stopped_because"):
        assert getattr(history_t, name) == getattr(history_b, name)


# ---- the same numbers as the batched engine ----------------------------------------------------------
@pytest.mark.parametrize("batch_size", [None, 16], ids=["full batch", "shuffled batches of 16"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("loss", LOSSES)
def test_100_epochs_equal_the_batched_engine(loss, optimizer, batch_size):
    batched, torched = both(loss, OPTIMIZERS[optimizer], max_epochs=100, tol=0, batch_size=batch_size)
    assert torched[1].n_epochs == 100 and torched[1].n_updates == 100 * (1 if batch_size is None else 3)
    assert_same_run(batched, torched)
    assert torched[1].engine == "torch" and torched[1].device == "cpu" and torched[1].engine_reason == ""
    assert "engine='torch', device='cpu'" in repr(torched[1])


def test_validation_early_stopping_and_keep_best_as_batched():
    X, y, _ = problem("hinge", 60)
    for options in ({"patience": 3}, {"keep_best": True}):
        batched, torched = both("hinge", lambda p: Adam(p, lr=0.3), validation=(X[:20], y[:20]),
                                max_epochs=60, batch_size=8, **options)
        assert_same_run(batched, torched)
        assert torched[1].message == batched[1].message  # "restored the parameters of epoch …"
    assert "restored the parameters of epoch" in torched[1].message


@pytest.mark.parametrize(("lr", "y_scale", "what"), [
    (1e3, 1, "the loss was inf and the gradient norm 1.224e+156"),
    (1.7e308, 100, "diverged at update 1 (epoch 1): the update made a parameter non-finite; it was undone"),
])
def test_divergence_is_refused_or_undone_as_batched(lr, y_scale, what):
    """A gradient of 1e156 has a finite norm (as math.hypot computes it, not as a plain Σ g² would)."""
    batched, torched = both("mse", lambda p: SGD(p, lr=lr), y_scale, max_epochs=50)
    assert torched[1].stopped_because == "diverged" and what in torched[1].message
    assert_same_run(batched, torched)
    assert torched[1].message == batched[1].message
    assert np.all(np.isfinite(params(torched[0])))


def test_tolerance_stops_at_the_same_epoch():
    batched, torched = both("mse", lambda p: SGD(p, lr=0.1), max_epochs=500, tol=0.05)
    assert torched[1].stopped_because == "tolerance"
    assert_same_run(batched, torched)


def test_keep_params_records_each_update():
    batched, torched = both("binary_cross_entropy", max_epochs=5, batch_size=20, keep_params=True)
    assert len(torched[1].params) == 1 + 10
    assert_close(torched[1].params, batched[1].params)


def test_a_used_optimiser_carries_on_and_a_callbacks_lr_schedule_is_followed():
    """The optimiser's state goes to torch and back: a second fit with the same Adam continues it."""
    results = {}
    for engine in ("batched", "torch"):
        X, y, model = problem("cross_entropy")
        adam = Adam(model.parameters(), lr=0.05)

        def halve(history, adam=adam):
            adam.lr /= 2

        fit(model, X, y, loss="cross_entropy", optimizer=adam, max_epochs=10, engine=engine, callback=halve)
        fit(model, X, y, loss="cross_entropy", optimizer=adam, max_epochs=10, engine=engine)
        results[engine] = (params(model), adam)
    (ours, adam), (theirs, reference) = results["torch"], results["batched"]
    assert_close(ours, theirs)
    assert adam.t == reference.t == 20 and adam.lr == reference.lr == 0.05 / 2**10
    assert_close(adam.m, reference.m, 1e-7)
    assert_close(adam.v, reference.v, 1e-7)


# ---- what a callback sees ----------------------------------------------------------------------------
@pytest.mark.parametrize("optimizer", ["sgd+momentum", "adam"])
def test_a_callback_sees_the_trained_parameters_and_replay_records_the_optimisers_state(optimizer):
    replays = {}
    for engine in ("batched", "torch"):
        X, y, model = problem("hinge")
        opt = OPTIMIZERS[optimizer](model.parameters())
        seen = []
        replay = Replay(model, X, y, optimizer=opt)

        def callback(history, model=model, replay=replay, seen=seen):
            seen.append(params(model))
            replay(history)

        fit(model, X, y, loss="hinge", optimizer=opt, max_epochs=12, batch_size=16, engine=engine,
            callback=callback)
        replays[engine] = (replay, seen)
    (replay_t, seen_t), (replay_b, seen_b) = replays["torch"], replays["batched"]
    assert len(seen_t) == 12
    assert_close(seen_t, seen_b)
    slots = {"adam": {"m", "v"}, "sgd+momentum": {"velocity"}}[optimizer]
    for ours, theirs in zip(replay_t.snapshots, replay_b.snapshots, strict=True):
        assert ours.epoch == theirs.epoch and set(ours.state) == set(theirs.state) == slots
        assert_close(ours.values, theirs.values)
        assert_close(ours.grads, theirs.grads, 1e-7)
        for slot in slots:
            assert_close(ours.state[slot], theirs.state[slot], 1e-7)
    assert "data-replay" in replay_t.html()


def test_the_values_hold_the_parameters_even_when_a_callback_raises():
    X, y, model = problem("mse")
    before = params(model)
    epochs = []

    def stop(history):
        epochs.append(params(model))
        if history.n_epochs == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(model, X, y, loss="mse", max_epochs=10, engine="torch", callback=stop)
    assert not np.array_equal(params(model), before)
    assert np.array_equal(params(model), epochs[-1])


def halve_every_parameter(history, model, opt):
    for p in model.parameters():
        p.data *= 0.5


def adam_betas(history, model, opt):
    opt.betas = (0.5, 0.5)


def adam_eps(history, model, opt):
    opt.eps = 1e-2


def adam_restarts(history, model, opt):
    opt.m, opt.v, opt.t = [0.0] * len(opt.m), [0.0] * len(opt.v), 0


def momentum_off(history, model, opt):
    opt.momentum = 0.0


def momentum_on(history, model, opt):
    opt.momentum = 0.9


def momentum_off_then_on(history, model, opt):
    opt.momentum = 0.0 if history.n_epochs == 2 else 0.9


def velocity_reset(history, model, opt):
    opt.velocity = [0.0] * len(opt.velocity)


def a_parameter_to_nan(history, model, opt):
    if history.n_epochs == 3:  # the output's bias: a nan reaches the loss through no relu (nor hinge)
        model.parameters()[-1].data = float("nan")


CHANGES = {  # what a callback changes, with the optimiser it changes
    "halve every parameter": (halve_every_parameter, "sgd+momentum"),
    "halve every parameter (adam)": (halve_every_parameter, "adam"),
    "adam's betas": (adam_betas, "adam"),
    "adam's eps": (adam_eps, "adam"),
    "adam's m, v and t reset": (adam_restarts, "adam"),
    "momentum 0.9 -> 0": (momentum_off, "sgd+momentum"),
    "momentum 0 -> 0.9": (momentum_on, "sgd"),
    "momentum off, then on": (momentum_off_then_on, "sgd+momentum"),
    "sgd's velocity reset": (velocity_reset, "sgd+momentum"),
    "a parameter to nan": (a_parameter_to_nan, "adam"),
}


@pytest.mark.parametrize("batch_size", [None, 16], ids=["full batch", "batches of 16"])
@pytest.mark.parametrize("change", CHANGES)
def test_what_a_callback_changes_is_trained_on_as_batched(change, batch_size):
    """θ and the optimiser's settings and state are read back after every callback: the run, the
    optimiser's state and a nan's divergence are the batched engine's."""
    callback, optimizer = CHANGES[change]
    runs = []
    for engine in ("batched", "torch"):
        X, y, model = problem("mse")
        opt = OPTIMIZERS[optimizer](model.parameters())
        history = fit(model, X, y, loss="mse", optimizer=opt, max_epochs=6, tol=0, batch_size=batch_size,
                      engine=engine, callback=lambda h, model=model, opt=opt: callback(h, model, opt))
        runs.append((model, history, opt))
    batched, torched = runs
    # after a nan, the grads of the refused update differ where a relu is off: torch's relu passes
    # 0 back there, microgradlike's 0·nan = nan
    assert_same_run(batched, torched, grads=change != "a parameter to nan")
    assert torched[1].message == batched[1].message
    if change == "a parameter to nan":
        assert torched[1].stopped_because == "diverged" and np.isnan(params(torched[0])[-1])
        assert torched[1].n_epochs == 3 and "the loss was nan" in torched[1].message
    else:
        assert torched[1].stopped_because == "max_epochs"
    (opt_t, opt_b) = torched[2], batched[2]
    assert opt_t.state_names() == opt_b.state_names()
    for name in ("velocity", "m", "v"):
        if hasattr(opt_b, name):
            assert_close(getattr(opt_t, name), getattr(opt_b, name))
    assert getattr(opt_t, "t", None) == getattr(opt_b, "t", None)


def test_a_callback_that_puts_no_number_in_a_parameter_is_refused_naming_it():
    X, y, model = problem("mse")

    def spoil(history):
        model.layers[1].neurons[2].w[4].data = "abc"

    with pytest.raises(TypeError, match=r"after the callback, parameter layers\.1\.neurons\.2\.w\.4 must be "
                                        r"a real number, got str: 'abc'"):
        fit(model, X, y, loss="mse", max_epochs=3, engine="torch", callback=spoil)
    X, y, model = problem("mse")
    adam = Adam(model.parameters())

    def shorten(history):
        adam.m = [0.0]

    with pytest.raises(ValueError, match=r"the optimiser's m has shape \(1,\), but there are 67 parameters"):
        fit(model, X, y, loss="mse", optimizer=adam, max_epochs=3, engine="torch", callback=shorten)


# ---- the caller's torch settings -----------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["no_grad", "inference_mode"])
def test_fit_trains_inside_torchs_no_grad_and_inference_mode(mode, torch):
    """fit trains by backpropagation whatever grad mode it is called in, and leaves the mode as it was."""
    X, y, _ = problem("mse")
    options = {"max_epochs": 5, "batch_size": 16, "validation": (X[:10], y[:10]), "keep_best": True}
    batched = train("mse", "batched", **options)
    with getattr(torch, mode)():
        torched = train("mse", "torch", callback=lambda history: None, **options)
        assert not torch.is_grad_enabled()
    assert_same_run(batched, torched)


def test_a_meta_default_device_does_not_take_the_models_copy(torch):
    """torch.set_default_device('meta') makes tensors without numbers: the model is made on the CPU,
    then moved to fit's device."""
    batched = train("binary_cross_entropy", "batched", max_epochs=5, callback=lambda history: None)
    torch.set_default_device("meta")
    try:
        torched = train("binary_cross_entropy", "torch", max_epochs=5, callback=lambda history: None)
    finally:
        torch.set_default_device(None)
    assert_same_run(batched, torched)


# ---- tied weights -------------------------------------------------------------------------------------
def tie_a_weight(model):
    model.layers[0].neurons[1].w[0] = model.layers[0].neurons[0].w[0]
    return "layers.0.neurons.0.w.0 and layers.0.neurons.1.w.0"


def share_a_neuron(model):
    model.layers[1].neurons[3] = model.layers[1].neurons[1]
    return "layers.1.neurons.1.w.0 and layers.1.neurons.3.w.0"


@pytest.mark.parametrize("tie", [tie_a_weight, share_a_neuron])
def test_tied_weights_are_refused_naming_both_places(tie):
    """A Linear holds a number per place: tied places would train apart (and the model's Values
    would be read into the wrong places), so they are refused before training, as save refuses them."""
    X, y, model = problem("mse")
    places = tie(model)
    before = params(model)
    with pytest.raises(ValueError, match=rf"{re.escape(places)} are one Value \(tied weights\)"):
        fit(model, X, y, loss="mse", max_epochs=5, engine="torch")
    assert np.array_equal(params(model), before)
    assert fit(model, X, y, loss="mse", max_epochs=5, engine="batched").n_epochs == 5  # the others train them


# ---- the models, losses and optimisers the bridge has ---------------------------------------------
@pytest.mark.parametrize("model", [Neuron(2, "tanh", seed=0), Layer(2, 3, "sigmoid", seed=0),
                                   MLP(2, [4, 2], "linear", seed=0)], ids=lambda m: type(m).__name__)
def test_every_model_the_bridge_converts(model):
    X, y = make_moons(n=30, seed=1)
    width = 1 if isinstance(model, Neuron) else model.nout if isinstance(model, Layer) else model.nouts[-1]
    Y = np.column_stack([y] * width).astype(float)
    twin = type(model).from_state_dict(model.state_dict())
    fit(model, X, Y, loss="mse", optimizer="adam", max_epochs=30, batch_size=8, engine="torch")
    fit(twin, X, Y, loss="mse", optimizer="adam", max_epochs=30, batch_size=8, engine="batched")
    assert_close(params(model), params(twin))


class Scaled(MLP):
    def __call__(self, x):
        return super().__call__(x) * 2


def custom_loss(preds, targets):
    return sum((p - t) ** 2 for p, t in zip(preds, targets))


@pytest.mark.parametrize(("model", "loss", "optimizer", "error", "message"), [
    (SigmoidSum(3, seed=0), "mse", "sgd", TypeError, "trains a Neuron, Layer or MLP.*got SigmoidSum"),
    (Scaled(2, [3, 1], seed=0), "mse", "sgd", TypeError, "got Scaled"),
    (MLP(2, [3, 1], seed=0), custom_loss, "sgd", ValueError, "not 'custom_loss'.*'eager' or 'batched'"),
    (MLP(2, [3, 1], seed=0), "mse", Adam, ValueError, "needs Adam's eps > 0"),
])
def test_what_the_bridge_cannot_train_is_refused_by_name(model, loss, optimizer, error, message):
    X, y = make_moons(n=10, seed=0)
    if optimizer is Adam:
        optimizer = Adam(model.parameters(), eps=0.0)
    before = params(model)
    with pytest.raises(error, match=message):
        fit(model, X[:, 0] if isinstance(model, SigmoidSum) else X, y, loss=loss, optimizer=optimizer,
            engine="torch")
    assert np.array_equal(params(model), before)


def test_an_optimiser_of_another_kind_or_over_other_parameters_is_refused():
    X, y = make_moons(n=10, seed=0)
    model = MLP(2, [3, 1], seed=0)

    class Momentum(SGD):
        pass

    with pytest.raises(TypeError, match=r"runs microgradlike's SGD and Adam.*got Momentum"):
        fit(model, X, y, optimizer=Momentum(model.parameters()), engine="torch")
    with pytest.raises(ValueError, match="does not update the model's parameter"):
        TorchTrainer(model, hinge, SGD(model.parameters()[:4]))
    with pytest.raises(ValueError, match="also updates 13 Value"):
        TorchTrainer(model, hinge, SGD(model.parameters() + MLP(2, [3, 1], seed=0).parameters()))


@pytest.mark.parametrize(("loss", "y", "message"), [
    ("hinge", [1, -1, 2, 1], r"the target of row 2 is 2; hinge targets must be -1/\+1"),
    ("binary_cross_entropy", [0, 1, 1, 1.5], r"row 3 is 1.5; binary_cross_entropy .* in \[0, 1\]"),
    ("mse", [[1, 2]] * 4, "the model gives 3 outputs per row but the targets have 2"),
    ("cross_entropy", [0, 1, 3, 0], r"the class id of row 2 is 3; cross_entropy takes one integer in 0 … 2"),
    ("cross_entropy", [0, 1, 0.5, 0], r"the class id of row 2 is 0.5"),
])
def test_targets_the_loss_cannot_take_are_refused_naming_the_row(loss, y, message):
    """Before they reach torch, whose losses take anything (and whose CUDA kernels would fail on a
    class id out of range with a device-side assert). fit checks class ids first, in its words."""
    model = MLP(2, [3, 3 if loss in ("cross_entropy", "mse") else 1], seed=0)
    trainer = TorchTrainer(model, get_loss(loss), SGD(model.parameters()))
    with pytest.raises(ValueError, match=message):
        trainer.data(np.zeros((4, 2)), np.asarray(y))
    in_fit = {"cross_entropy": r"y\[2\] = (3|0.5) is not", "hinge": r"y\[2\] = 2: hinge reads targets",
              "binary_cross_entropy": r"y\[3\] = 1\.5: binary_cross_entropy reads targets in \[0, 1\]"}
    with pytest.raises(ValueError, match=in_fit.get(loss, message)):  # fit checks first, in its words
        fit(model, np.zeros((4, 2)), y, loss=loss, engine="torch")


# ---- devices -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("device", "message"), [
    ("tpu", "device must be 'cpu', 'cuda', 'cuda:N' or a torch.device, got 'tpu'"),
    ("meta", "runs on 'cpu' or 'cuda'"),
    (3.5, "got 3.5"),
])
def test_a_device_that_is_not_a_cpu_or_gpu_is_refused(device, message):
    X, y = make_moons(n=10, seed=0)
    with pytest.raises(ValueError, match=re.escape(message)):
        fit(MLP(2, [3, 1], seed=0), X, y, engine="torch", device=device)


def test_device_needs_engine_torch_and_auto_never_picks_it():
    X, y = make_moons(n=10, seed=0)
    for engine in ("auto", "batched", "eager"):
        with pytest.raises(ValueError, match="device='cpu' is for engine='torch'"):
            fit(MLP(2, [3, 1], seed=0), X, y, engine=engine, device="cpu")
    assert fit(MLP(2, [3, 1], seed=0), X, y, max_epochs=1).engine == "batched"
    default = fit(MLP(2, [3, 1], seed=0), X, y, loss="hinge", max_epochs=1, engine="torch", device=None)
    assert default.device == "cpu"


@pytest.mark.skipif("torch_cuda()", reason="checks the refusal on a machine without a GPU")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_cuda_without_a_gpu_is_refused_before_training(device):
    X, y = make_moons(n=10, seed=0)
    model = MLP(2, [3, 1], seed=0)
    before, called = params(model), []
    refusal = rf"device '{device}' needs a CUDA GPU, but torch.cuda.is_available\(\) is False"
    with pytest.raises(ValueError, match=refusal):
        fit(model, X, y, engine="torch", device=device, callback=called.append)
    assert np.array_equal(params(model), before) and not called


@pytest.mark.parametrize("device", ["cuda:2", "cuda:128", "cuda:99999999999999999999"])
def test_a_gpu_that_does_not_exist_is_named(device, torch, monkeypatch):
    """On a machine with 2 GPUs (as torch.cuda says here): torch wraps cuda:128 to cuda:-128 and
    refuses an index beyond 64 bits as a malformed string; both are GPUs that do not exist."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    X, y = make_moons(n=10, seed=0)
    index = device.split(":")[1]
    with pytest.raises(ValueError, match=rf"device '{device}': there is no GPU {index}; this machine has 2 "
                                         rf"\(cuda:0 … cuda:1\)"):
        fit(MLP(2, [3, 1], seed=0), X, y, engine="torch", device=device)


@cuda
@pytest.mark.parametrize("loss", LOSSES)
def test_on_the_gpu_the_numbers_are_the_cpus(loss, torch):
    cpu, gpu = (train(loss, "torch", max_epochs=50, batch_size=16, tol=0, device=d) for d in ("cpu", "cuda"))
    assert gpu[1].device == f"cuda:{torch.cuda.current_device()}"
    assert_same_run(cpu, gpu)


# ---- the command line ----------------------------------------------------------------------------------
SMALL = ["train", "--n", "80", "--epochs", "30", "--hidden", "6,6", "--batch-size", "16"]


def test_train_with_engine_torch_writes_the_same_model_plot_and_replay(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    saved = {}
    for engine in ("batched", "torch"):
        files = {option: tmp_path / f"{engine}{suffix}"
                 for option, suffix in (("--save", ".json"), ("--plot", ".png"), ("--html", ".html"))}
        assert main([*SMALL, "--engine", engine, *(str(a) for pair in files.items() for a in pair)]) == 0
        out = capsys.readouterr().out
        assert all(path.stat().st_size > 0 for path in files.values())
        saved[engine] = (params(Module.load(files["--save"])), re.search(r"train accuracy .*", out).group())
    assert "torch engine on cpu" in out
    assert_close(saved["torch"][0], saved["batched"][0])
    assert saved["torch"][1] == saved["batched"][1]


@pytest.mark.parametrize(("argv", "said"), [
    (["--device", "cuda"], "--device 'cuda' is for --engine torch; batched does not use it"),
    (["--engine", "auto", "--device", "cpu"], "--device 'cpu' is for --engine torch; auto does not use it"),
    (["--engine", "torch", "--device", "tpu"], "--device 'tpu': expected cpu, or cuda for a GPU"),
])
def test_a_device_without_engine_torch_or_of_another_kind_is_one_line_exit_2(argv, said, tmp_path, capsys):
    model = tmp_path / "model.json"
    assert main([*SMALL, *argv, "--save", str(model)]) == 2
    out, err = capsys.readouterr()
    assert said in err and len(err.splitlines()) == 1 and not out and not model.exists()


@pytest.mark.skipif("torch_cuda()", reason="checks the refusal on a machine without a GPU")
def test_train_on_cuda_without_a_gpu_is_refused_before_training(tmp_path, capsys):
    assert main([*SMALL, "--engine", "torch", "--device", "cuda", "--save", str(tmp_path / "m.json")]) == 2
    out, err = capsys.readouterr()
    assert "device 'cuda' needs a CUDA GPU" in err and len(err.splitlines()) == 1 and not out


@cuda
def test_train_on_the_gpu_saves_the_cpus_model(tmp_path, capsys):
    models = {}
    for device in ("cpu", "cuda"):
        path = tmp_path / f"{device}.json"
        assert main([*SMALL, "--engine", "torch", "--device", device, "--save", str(path)]) == 0
        models[device] = params(Module.load(path))
    assert "torch engine on cuda:" in capsys.readouterr().out
    assert_close(models["cuda"], models["cpu"])


# ---- without torch ----------------------------------------------------------------------------------
def test_without_torch_fit_names_the_install_command():
    """In a fresh process where `import torch` fails: fit(engine='torch') says how to install it."""
    code = ("import sys; sys.modules['torch'] = None\n"
            "from microgradlike.nn import MLP\nfrom microgradlike.train import fit\n"
            "try:\n    fit(MLP(2, [1], seed=0), [[0.0, 1.0]], [1.0], engine='torch')\n"
            "except ImportError as e:\n    print(e)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    said = "engine='torch' needs PyTorch, which is not installed: pip install torch==2.13.0"
    assert said in done.stdout, done.stderr
    cli = ("import sys; sys.modules['torch'] = None\nfrom microgradlike.cli import main\n"
           "raise SystemExit(main(['train', '--engine', 'torch']))")
    done = subprocess.run([sys.executable, "-c", cli], capture_output=True, text=True, timeout=120, cwd=ROOT)
    said = said.replace("engine='torch'", "--engine torch")  # the command line names its option
    assert done.returncode == 2 and said in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr
