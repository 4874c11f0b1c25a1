"""The batched engine against PyTorch CPU (1 thread, float64): one full-batch training epoch.

    python benchmarks/bench_torch.py            # ~1 minute
    python benchmarks/bench_torch.py --quick    # ~15 s: fewer rounds, shorter timings

One epoch is what ``fit(model, X, y, loss, optimizer="sgd", engine="batched")`` does with the full
batch: one step (forward, loss, backward, SGD update) and then the epoch's loss over the training
set. microgradlike runs it with the public ``trainers.make_loss_and_grad(model, loss, "batched")``
and ``optim.SGD``, evaluating the loss as `fit` does (`trainers.make_evaluate`); PyTorch runs the
same epoch on ``bridge.to_torch(model)``, so both start from the same weights: zero_grad, forward,
loss, backward, ``torch.optim.SGD.step()``, then a forward pass under ``torch.no_grad()``. Both
read their losses out as Python floats, as `fit` does. fit's bookkeeping (gradient norm,
finiteness guard, History) is left out of both.

Before timing, each workload checks that the two give the same losses to 1e-9 over a few epochs,
and that `fit` itself records the same epoch losses as the replicated epoch (so the replica does
fit's work). Timing is CPU time (``time.process_time``), torch and numpy's BLAS limited to one
thread each. Both run in one process, interleaved: every round times both (several epochs each,
after a ``gc.collect()``), the order alternating between rounds; a time is the median over
rounds, and the ratio is batched / PyTorch (above 1: the batched engine is slower).
"""

# ruff: noqa: E402  (numpy's thread count is set before the imports that load numpy)
from __future__ import annotations

import os

# One thread for numpy's matrix products too, as for torch: a fair comparison, and on a busy
# machine a second BLAS thread only waits (CPU time counts its waiting). Set before numpy loads.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse
import copy
import gc
import math
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from microgradlike.bridge import INSTALL, to_torch, torch_loss

try:
    import torch
except ImportError:
    raise SystemExit(f"bench_torch.py compares with PyTorch, which is not installed: {INSTALL}") from None
from microgradlike.data import make_moons
from microgradlike.nn import MLP
from microgradlike.optim import SGD
from microgradlike.train import fit
from microgradlike.trainers import make_evaluate, make_loss_and_grad

LR = 0.05
CHECK_EPOCHS = 3
Epoch = Callable[[], tuple[float, float]]  # one epoch -> (the step's loss, the epoch's loss)


@dataclass
class Workload:
    name: str
    X: np.ndarray
    y: np.ndarray
    nouts: list[int]
    loss: str


def blobs(n: int, features: int, classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``classes`` Gaussian blobs in ``features`` dimensions: centres ~ N(0, 1), points ~ N(centre, 1)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, features))
    y = rng.permutation(np.arange(n) % classes)
    return centres[y] + rng.normal(size=(n, features)), y


def workloads() -> list[Workload]:
    moons_100, moons_1000 = make_moons(100, noise=0.1, seed=0), make_moons(1000, noise=0.1, seed=0)
    return [
        Workload("moons, 100 rows, MLP(2,[16,16,1]), hinge", *moons_100, [16, 16, 1], "hinge"),
        Workload("moons, 1,000 rows, MLP(2,[16,16,1]), hinge", *moons_1000, [16, 16, 1], "hinge"),
        Workload("64 features, 10 classes, 1,000 rows, MLP(64,[64,10]), cross-entropy",
                 *blobs(1000, 64, 10), [64, 10], "cross_entropy"),
    ]


# ---- one epoch, each way --------------------------------------------------------------------------
def microgradlike_epoch(model: MLP, work: Workload) -> Epoch:
    """fit's full-batch epoch with ``engine="batched"``, ``optimizer=SGD(lr)``, ``shuffle=False``:
    fit hands the engine numpy arrays (``X[batch]``, ``y[batch]``) and evaluates the epoch's loss
    with forward passes only."""
    params = model.parameters()
    optimizer = SGD(params, lr=LR)
    loss_and_grad = make_loss_and_grad(model, work.loss, "batched")
    evaluate = make_evaluate(model, work.loss, "batched", loss_and_grad)  # as fit evaluates
    X, y = np.asarray(work.X, dtype=float), np.asarray(work.y)
    batch = np.arange(len(X))

    def epoch() -> tuple[float, float]:
        step_loss = loss_and_grad(X[batch], y[batch])
        optimizer.step()
        return step_loss, evaluate(X, y)

    return epoch


def torch_loss_fn(work: Workload) -> tuple[Callable, torch.Tensor]:
    """The torch loss and its targets. For hinge, the labels are mapped to ±1 once, outside the
    epoch, and the loss is the formula of `bridge.torch_hinge`, relu(1 − t·s).mean(), without the
    label checks torch_hinge runs on every call: a lean PyTorch loop is the fair reference."""
    if work.loss == "hinge":
        t = torch.tensor(np.where(work.y == 0, -1.0, work.y), dtype=torch.float64)
        return (lambda scores, t: torch.relu(1 - t * scores).mean()), t
    dtype = torch.int64 if work.loss == "cross_entropy" else torch.float64
    return torch_loss(work.loss), torch.tensor(work.y, dtype=dtype)


def torch_epoch(net: torch.nn.Module, work: Workload) -> Epoch:
    """The same epoch in PyTorch, the way a PyTorch training loop writes it."""
    loss_fn, y = torch_loss_fn(work)
    optimizer = torch.optim.SGD(net.parameters(), lr=LR)
    X = torch.tensor(work.X, dtype=torch.float64)
    one_output = work.nouts[-1] == 1  # (N, 1) -> (N,): one score per row, like model(row)

    def forward() -> torch.Tensor:
        out = net(X)
        return out.squeeze(-1) if one_output else out

    def epoch() -> tuple[float, float]:
        optimizer.zero_grad()
        loss = loss_fn(forward(), y)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            return loss.item(), loss_fn(forward(), y).item()

    return epoch


# ---- checks ------------------------------------------------------------------------------------
def check_same_numbers(work: Workload, ours: Epoch, theirs: Epoch, model: MLP) -> None:
    """Both engines give the same losses for a few epochs, and `fit` gives the replica's."""
    replica = copy.deepcopy(model)  # before any epoch: the same starting weights
    for epoch in range(1, CHECK_EPOCHS + 1):
        a, b = ours(), theirs()
        if not all(math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12) for x, y in zip(a, b)):
            raise SystemExit(f"{work.name}: epoch {epoch} losses differ: batched {a}, PyTorch {b}")
        if epoch == 1:
            first = a
    history = fit(replica, work.X, work.y, loss=work.loss, optimizer="sgd", lr=LR, tol=0.0,
                  max_epochs=1, shuffle=False, engine="batched")
    fitted = (history.update_loss[0], history.train_loss[0])
    if not all(math.isclose(x, y, rel_tol=1e-12) for x, y in zip(fitted, first)):
        raise SystemExit(f"{work.name}: fit's first epoch {fitted} is not the replica's {first}: "
                         f"update microgradlike_epoch to do what fit does")


# ---- timing -------------------------------------------------------------------------------------
def seconds(epoch: Epoch, repeat: int) -> float:
    """CPU seconds per epoch, over ``repeat`` epochs."""
    gc.collect()  # earlier garbage is not this measurement's cost
    start = time.process_time()
    for _ in range(repeat):
        epoch()
    return (time.process_time() - start) / repeat


def run(work: Workload, rounds: int, target: float) -> tuple[float, float]:
    """Median seconds per epoch: (PyTorch, batched)."""
    model = MLP(work.X.shape[1], work.nouts, seed=0)
    epochs = {"PyTorch": torch_epoch(to_torch(model), work), "batched": microgradlike_epoch(model, work)}
    check_same_numbers(work, epochs["batched"], epochs["PyTorch"], model)
    # Enough epochs per measurement to last about `target` seconds (timer noise stays small).
    repeat = {name: max(1, round(target / max(seconds(epoch, 3), 1e-7))) for name, epoch in epochs.items()}
    times: dict[str, list[float]] = {name: [] for name in epochs}
    order = list(epochs)
    for _ in range(rounds):
        for name in order:
            times[name].append(seconds(epochs[name], repeat[name]))
        order.reverse()  # alternate who goes first
    return statistics.median(times["PyTorch"]), statistics.median(times["batched"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds of ~10 ms measurements (~15 s)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per workload (default 15; 3 quick)")
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.quick else 15)
    target = 0.01 if args.quick else 0.05
    torch.set_num_threads(1)
    print(f"Python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__} "
          f"({torch.get_num_threads()} thread), float64; {rounds} rounds, CPU time, medians\n")
    header = f"{'workload':<70} {'PyTorch ms/epoch':>16} {'batched ms/epoch':>16} {'batched/torch':>13}"
    print(header)
    print("-" * len(header))
    ratios = []
    for work in workloads():
        t_torch, t_batched = run(work, rounds, target)
        ratios.append(t_batched / t_torch)
        print(f"{work.name:<70} {t_torch * 1e3:>16.3f} {t_batched * 1e3:>16.3f} {ratios[-1]:>12.1f}x")
    print(f"\nworst ratio (batched / PyTorch): {max(ratios):.1f}x")


if __name__ == "__main__":
    main()
