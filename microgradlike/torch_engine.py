"""`fit` on PyTorch: the same training, with the parameters as tensors on a CPU or a GPU.

``fit(model, X, y, ..., engine="torch", device="cuda")`` runs `microgradlike.train`'s loop as it
is (batches and their order, tolerance, the divergence guard, validation, early stopping,
``keep_best``, callbacks, `History`) with a `TorchTrainer` where the other engines have Values:

* the model becomes a float64 ``torch.nn.Sequential`` on the device (`bridge.to_torch`), the loss
  its torch counterpart (`bridge.torch_loss`), and microgradlike's `SGD` or `Adam` becomes
  ``torch.optim.SGD`` or ``torch.optim.Adam`` with the same settings and the same state (SGD's
  velocity v; Adam's step count t and running means m and v: a used optimiser carries on);
* each batch runs forward, loss, ``backward()`` and ‖∇L‖₂ on the device; two floats come back,
  the loss and the norm, which `History` and the stopping rules read;
* after each epoch, when there is a callback, and when `fit` returns, the parameters θ, their
  gradients and the optimiser's state are copied into the model's Values and the optimiser
  instance (`TorchTrainer.sync`): a callback such as `microgradlike.replay.Replay` reads the model
  and the optimiser as with any other engine;
* after the callback, θ and the optimiser's settings and state are read back from them
  (`TorchTrainer.reload`), so what a callback changes is trained on, as with the other engines:
  a parameter's value (a nan stops training, "diverged"), lr, SGD's momentum (switched on or
  off) and velocity, Adam's betas, eps, t, m and v.

On the CPU, in float64, the parameters equal the batched engine's to rounding (about 1e-13
relative after 100 epochs): same rows, same batches, same formulas, summed in another order.
Training runs with torch's autograd on, even when `fit` is called inside ``torch.no_grad()`` or
``torch.inference_mode()``, and makes its tensors on the CPU (then ``device``) whatever
``torch.set_default_device`` says ("meta" tensors hold no numbers). A model with tied weights (a
Value, or a Neuron, at two places) is refused by `bridge.to_torch`: a ``Linear`` would train the
places apart. torch is an optional extra, imported when a `TorchTrainer` is made.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from .bridge import import_torch, to_torch, torch_loss
from .checks import as_real, short
from .losses import LOSSES, bad_targets, binary_cross_entropy, cross_entropy, loss_name
from .nn import MLP, Layer, Neuron
from .optim import SGD, Adam, check_parameters
from .parameters import named, positions

if TYPE_CHECKING:  # torch is optional: only type checkers import it here
    import torch

__all__ = ["TorchTrainer", "torch_device"]

#: The models `bridge.to_torch` converts. Exactly these classes: a subclass may change the forward.
_MODELS = (Neuron, Layer, MLP)
#: The state `torch.optim`'s SGD and Adam keep per tensor, by the name microgradlike's keep it under.
_TORCH_STATE = {"velocity": "momentum_buffer", "m": "exp_avg", "v": "exp_avg_sq"}

Method = TypeVar("Method", bound=Callable[..., Any])


def _training(method: Method) -> Method:
    """``method`` of a `TorchTrainer`, run with torch's autograd on whatever the caller set: `fit`
    trains by backpropagation even inside ``torch.no_grad()`` or ``torch.inference_mode()`` (whose
    tensors could not be saved for backward)."""

    @functools.wraps(method)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        torch = import_torch("engine='torch'")
        with torch.inference_mode(False), torch.enable_grad():
            return method(self, *args, **kwargs)

    return run  # type: ignore[return-value]


def torch_device(device: Any = None) -> torch.device:
    """The ``torch.device`` that ``device`` names ("cpu", the default for None; "cuda", "cuda:1",
    or a ``torch.device``), checked before anything is trained: "cuda" needs a GPU that this
    torch can use. Raises ValueError saying what is missing, ImportError without torch."""
    torch = import_torch("engine='torch'")
    # 'cuda:N' is read here too: torch refuses an N beyond 64 bits with a message about the form,
    # and wraps one beyond 127 to a negative index ('cuda:128' is cuda:-128)
    written = re.fullmatch(r"\s*cuda:(\d+)\s*", device) if isinstance(device, str) else None
    try:
        found = torch.device("cpu" if device is None else device)
    except (RuntimeError, TypeError, ValueError):
        if written is None:
            raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or a torch.device, "
                             f"got {short(device)}") from None
        found = torch.device("cuda")
    if found.type == "cpu":
        return found
    if found.type != "cuda":
        raise ValueError(f"engine='torch' runs on 'cpu' or 'cuda' (float64), got device {short(device)}")
    if not torch.cuda.is_available():
        build = "built without CUDA" if torch.version.cuda is None else "no GPU visible"
        raise ValueError(f"device {short(device)} needs a CUDA GPU, but torch.cuda.is_available() is False "
                         f"(torch {torch.__version__}, {build}): train on the CPU ('cpu') instead")
    count = torch.cuda.device_count()
    index = (int(written[1]) if written is not None else
             torch.cuda.current_device() if found.index is None else found.index)
    if not 0 <= index < count:
        raise ValueError(f"device {short(device)}: there is no GPU {short(index)}; this machine has "
                         f"{count} (cuda:0 … cuda:{count - 1})")
    return torch.device("cuda", index)


class TorchTrainer:
    """The `microgradlike.trainers.Trainer` of ``engine="torch"``: θ, ∇L and the optimiser's state
    as float64 tensors on ``device``.

    ``model``: a `Neuron`, `Layer` or `MLP` without tied weights; ``loss_fn``: a loss of
    `microgradlike.losses`; ``optimizer``: microgradlike's `SGD` or `Adam` over the model's
    parameters (as `fit` builds it, or the instance given to `fit`). Anything else is refused by
    name (TypeError, ValueError). Its methods that make the tensors it trains, or train or change
    them, run with torch's autograd on (`_training`), per batch the forward and backward pass and
    the step.
    """

    @_training
    def __init__(self, model: Any, loss_fn: Any, optimizer: Any, device: Any = None) -> None:
        torch = import_torch("engine='torch'")
        if type(model) not in _MODELS:
            raise TypeError(f"engine='torch' trains a Neuron, Layer or MLP (what bridge.to_torch converts), "
                            f"got {type(model).__name__}: {short(model)}")
        name = loss_name(loss_fn)
        if name is None:
            given = getattr(loss_fn, "__name__", type(loss_fn).__name__)
            raise ValueError(f"engine='torch' computes the losses of microgradlike.losses "
                             f"({', '.join(LOSSES)}), not {short(given)}: use engine='eager' or 'batched' "
                             f"for a loss of your own")
        on = torch_device(device)
        self.device = str(on)
        self._named = named(model)
        self.params = [p for _, p in self._named]
        self.optimizer = optimizer
        self._torch, self._loss_fn = torch, loss_fn
        self._order = _optimizer_order(optimizer, model)
        self._inverse = np.argsort(self._order)  # optimiser order -> model order
        with torch.device("cpu"):  # not a default device of torch.set_default_device: "meta" holds no numbers
            self.net = to_torch(model).to(on)
        self._linears = [m for m in self.net if isinstance(m, torch.nn.Linear)]
        self._tensors = [t for linear in self._linears for t in (linear.weight, linear.bias)]
        self._width = self._linears[-1].out_features
        self._loss = torch_loss(name)
        self.torch_optimizer = self._torch_optimizer(optimizer)

    # ---- the data --------------------------------------------------------------------------
    @_training
    def data(self, X: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows as an (N, nin) float64 tensor on the device; targets as the torch loss takes them:
        class ids as int64 of shape (N,) for cross_entropy, else float64 of the outputs' shape
        (N, width). Targets the loss cannot take are refused here, naming the first such row."""
        torch = self._torch
        rows = torch.as_tensor(X.reshape(len(X), -1), dtype=torch.float64, device=self.device)
        return rows, torch.as_tensor(self._targets(y), device=self.device)

    def _targets(self, y: np.ndarray) -> np.ndarray:
        width, T = self._width, y.reshape(len(y), -1)
        if self._loss_fn is cross_entropy:
            ids = T[:, 0]
            bad = (T.shape[1] != 1) | bad_targets(cross_entropy, ids, width)
            if np.any(bad):
                i = int(np.argmax(bad))
                raise ValueError(f"the class id of row {i} is {short(y[i].tolist())}; cross_entropy takes "
                                 f"one integer in 0 … {width - 1} per row ({width} logits)")
            return ids.astype(np.int64)
        if T.shape[1] != width:
            raise ValueError(f"the model gives {width} outputs per row but the targets have {T.shape[1]} "
                             f"per row; they must match")
        refused = bad_targets(self._loss_fn, T).any(axis=1)  # hinge's and binary cross-entropy's labels
        if refused.any():
            i = int(np.argmax(refused))
            text = ("in [0, 1] (class labels 0/1)" if self._loss_fn is binary_cross_entropy
                    else "-1/+1 (or 0/1, 0 meaning -1)")
            raise ValueError(f"the target of row {i} is {short(y[i].tolist())}; {self._loss_fn.__name__} "
                             f"targets must be {text}")
        return T.astype(np.float64)

    # ---- one batch -------------------------------------------------------------------------
    @_training
    def loss_and_grad(self, X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        """forward → loss → backward on the device; the loss and ‖∇L‖₂ as floats."""
        torch = self._torch
        if X.is_inference():  # a batch taken (by fit's loop) inside the caller's torch.inference_mode():
            X, y = X.clone(), y.clone()  # autograd cannot save it for backward, a copy made here it can
        self.net.zero_grad()
        loss = self._loss(self.net(X), y)
        loss.backward()
        grads = torch.cat([t.grad.reshape(-1) for t in self._tensors])
        # ‖g‖ = s·‖g/s‖ with s = max |gᵢ|, as math.hypot does: gradients of 1e160 have a finite norm,
        # whose plain Σ gᵢ² would overflow to inf (and the divergence guard would refuse the step)
        scale = grads.abs().amax().clamp_min(torch.finfo(grads.dtype).tiny)
        norm = torch.where(scale.isinf(), scale, scale * torch.linalg.vector_norm(grads / scale))
        loss_value, norm_value = torch.stack([loss.detach(), norm]).tolist()  # one copy to the CPU
        return loss_value, norm_value

    def evaluate(self, X: torch.Tensor, y: torch.Tensor) -> float:
        with self._torch.no_grad():
            return float(self._loss(self.net(X), y).item())

    @_training
    def step(self) -> None:
        for group in self.torch_optimizer.param_groups:
            group["lr"] = self.optimizer.lr  # a callback may have changed it (a schedule)
        self.torch_optimizer.step()

    def finite(self) -> bool:
        torch = self._torch
        return bool(torch.stack([torch.isfinite(t).all() for t in self._tensors]).all())

    def snapshot(self) -> list[torch.Tensor]:
        return [t.detach().clone() for t in self._tensors]

    @_training
    def restore(self, snapshot: list[torch.Tensor]) -> None:
        with self._torch.no_grad():
            for t, saved in zip(self._tensors, snapshot):
                t.copy_(saved)

    def values(self) -> tuple[float, ...]:
        return tuple(self._flat(self._tensors).tolist())

    # ---- to the Values and back ------------------------------------------------------------
    def sync(self) -> None:
        """Copy θ and ∇L into the model's Values, and the optimiser's state into ``optimizer``."""
        grads = [t.grad if t.grad is not None else self._torch.zeros_like(t) for t in self._tensors]
        values = self._flat(self._tensors).tolist()
        for p, value, grad in zip(self.params, values, self._flat(grads).tolist()):
            p.data, p.grad = value, grad
        state, opt = self.torch_optimizer.state, self.optimizer
        for slot, name in self._slots().items():
            setattr(opt, name, self._flat([state[t][slot] for t in self._tensors])[self._order].tolist())
        if isinstance(opt, Adam):
            opt.t = int(state[self._tensors[0]]["step"].item())

    @_training
    def reload(self) -> None:
        """Read θ from the model's Values, and the optimiser's settings and state from ``optimizer``
        (`sync` undone): what a callback changed there is trained on. A parameter whose data is no
        real number is refused naming it (TypeError); a nan or inf is taken, for `fit`'s divergence
        guard to stop on, as with the other engines."""
        torch = self._torch
        theta = [_real(p.data, f"after the callback, parameter {name}") for name, p in self._named]
        with torch.no_grad():
            for t, part in zip(self._tensors, self._unflat(torch.tensor(theta, dtype=torch.float64,
                                                                        device=self.device))):
                t.copy_(part)
        self.torch_optimizer = self._torch_optimizer(self.optimizer)

    def _slots(self) -> dict[str, str]:
        """The torch optimiser's per-parameter state -> the microgradlike optimiser's attribute."""
        return {_TORCH_STATE[name]: name for name in self.optimizer.state_names()}

    def _torch_optimizer(self, opt: SGD | Adam) -> torch.optim.Optimizer:
        """torch.optim's SGD or Adam with ``opt``'s settings, starting from ``opt``'s state (made
        anew after each callback: a callback may change any of them, momentum from 0 included)."""
        torch = self._torch
        if isinstance(opt, Adam):
            if opt.eps == 0:  # microgradlike skips a 0/0 step there; torch.optim.Adam would make it nan
                raise ValueError("engine='torch' needs Adam's eps > 0 (got eps=0): where a gradient has "
                                 "always been 0, Adam's step is 0/0, which microgradlike skips and "
                                 "torch.optim.Adam does not")
            made = torch.optim.Adam(self._tensors, lr=opt.lr, betas=opt.betas, eps=opt.eps)
            for t in self._tensors:  # the step count t, as torch keeps it (one per tensor, on the CPU)
                made.state[t]["step"] = torch.tensor(float(opt.t), dtype=torch.float64, device="cpu")
        else:
            made = torch.optim.SGD(self._tensors, lr=opt.lr, momentum=opt.momentum)
        inverse = self._inverse
        for slot, name in self._slots().items():
            numbers = np.asarray(getattr(opt, name), dtype=np.float64)
            if numbers.shape != inverse.shape:
                raise ValueError(f"the optimiser's {name} has shape {numbers.shape}, but there are "
                                 f"{len(inverse)} parameters: it holds one number for each")
            numbers = numbers[inverse]
            for t, part in zip(self._tensors, self._unflat(torch.tensor(numbers, device=self.device))):
                made.state[t][slot] = part
        return made

    # ---- the parameters' order -------------------------------------------------------------
    def _flat(self, tensors: Sequence[torch.Tensor]) -> torch.Tensor:
        """One vector in ``model.parameters()`` order from per-Linear (weight, bias) tensors (or
        anything of their shapes): neuron i of each layer is row i of the weight, then bias[i]."""
        torch = self._torch
        pairs = zip(tensors[::2], tensors[1::2])
        return torch.cat([torch.cat([W.detach(), b.detach()[:, None]], dim=1).reshape(-1) for W, b in pairs])

    def _unflat(self, flat: torch.Tensor) -> list[torch.Tensor]:
        """`_flat` undone: (weight, bias) for each Linear, new tensors."""
        parts, start = [], 0
        for linear in self._linears:
            rows, cols = linear.out_features, linear.in_features
            block = flat[start:start + rows * (cols + 1)].reshape(rows, cols + 1)
            parts += [block[:, :cols].clone(), block[:, cols].clone()]
            start += rows * (cols + 1)
        return parts


def _real(x: object, name: str) -> float:
    """``x`` as a float, nan and ±inf included (training stops on them, "diverged"), or TypeError
    (ValueError for an int beyond a float's range) naming ``name``."""
    try:
        number = as_real(x)
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None
    if number is None:
        raise TypeError(f"{name} must be a real number, got {type(x).__name__}: {short(x)} "
                        f"(p.data = float(...) makes it one)")
    return number


def _optimizer_order(optimizer: Any, model: Any) -> np.ndarray:
    """For each of the optimiser's parameters, its position in ``model.parameters()``; refuses an
    optimiser that is not microgradlike's SGD or Adam over exactly the model's parameters."""
    if type(optimizer) not in (SGD, Adam):
        raise TypeError(f"engine='torch' runs microgradlike's SGD and Adam (as torch.optim's), got "
                        f"{type(optimizer).__name__}: {short(optimizer)}")
    check_parameters(optimizer, named(model))
    return np.asarray(positions(optimizer.params, model.parameters()), dtype=np.intp)
