"""Time one full-batch training step of MLP(2, [16, 16, 1]) with hinge loss, four ways.

    python benchmarks/bench_train.py              # 100 and 1,000 two-moons samples (~1-2 minutes)
    python benchmarks/bench_train.py --sizes 100 --rounds 5

One step = forward over the whole batch + backward + an SGD update, for:

* micrograd   PyPI ``micrograd`` 0.1.0: its own ``MLP(2, [16, 16, 1])`` and the loss written as
              in its demo notebook, mean of relu(1 + −y·score), inputs wrapped in Values
              (the recursion limit is raised: its recursive sort of a 1,000-term sum needs it);
* eager       microgradlike's Value graph: ``nn.MLP`` + ``losses.hinge`` + ``backward()``;
* tape        ``trainers.make_loss_and_grad(..., "tape")``: generated float code, sample by sample;
* batched     ``trainers.make_loss_and_grad(..., "batched")``: numpy, the batch in one pass, each
              layer one matrix product.

The engines run interleaved in one process (round after round, each engine once per round, the
fast ones several steps per round). Each microgradlike engine first takes one warm-up step
(which also traces and compiles the tapes), shown as "1st step" and left out of the median;
micrograd has nothing to warm up, so its "1st step" is its first round. Times are CPU time
(``time.process_time``), taken after a ``gc.collect()`` so that one step does not pay for the
garbage of earlier ones; the garbage collector stays on during the step, as in normal use
(micrograd's closures make reference cycles, so its steps include collector passes). A per-step
time is the median over rounds; a ratio is micrograd's median divided by the engine's; "vs gc
off" divides micrograd's time with the collector disabled during its step (its arithmetic alone)
instead. Peak memory is measured separately, one step under ``tracemalloc``.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

from microgradlike import losses
from microgradlike.data import make_moons
from microgradlike.nn import MLP
from microgradlike.optim import SGD
from microgradlike.trainers import make_loss_and_grad

LR = 0.05
Step = Callable[[], None]


def micrograd_step(X: np.ndarray, y: np.ndarray) -> Step:
    """micrograd's own MLP and its demo's hinge loss (no regularisation)."""
    import random

    from micrograd.engine import Value as MgValue
    from micrograd.nn import MLP as MgMLP

    random.seed(0)
    # micrograd sorts its graph recursively, and sum() of N terms is a chain N deep.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20 * len(X) + 1000))
    model = MgMLP(2, [16, 16, 1])
    rows, targets = X.tolist(), y.tolist()

    def step() -> None:
        inputs = [list(map(MgValue, row)) for row in rows]
        scores = list(map(model, inputs))
        hinge = [(1 + -yi * si).relu() for yi, si in zip(targets, scores)]
        loss = sum(hinge) * (1.0 / len(hinge))
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= LR * p.grad

    return step


def microgradlike_step(X: np.ndarray, y: np.ndarray, engine: str) -> Step:
    model = MLP(2, [16, 16, 1], seed=0)
    optimizer = SGD(model.parameters(), lr=LR)
    rows, targets = X.tolist(), y.tolist()
    if engine == "eager":
        def step() -> None:
            loss = losses.hinge([model(row) for row in rows], targets)
            model.zero_grad()
            loss.backward()
            optimizer.step()

        return step
    loss_and_grad = make_loss_and_grad(model, losses.hinge, engine)

    def compiled_step() -> None:
        loss_and_grad(X, targets)
        optimizer.step()

    return compiled_step


def seconds(step: Step, repeat: int = 1) -> float:
    """CPU seconds per step (process time: other programs on the machine do not count)."""
    gc.collect()  # the previous steps' garbage is not this step's cost
    start = time.process_time()
    for _ in range(repeat):
        step()
    return (time.process_time() - start) / repeat


def peak_bytes(step: Step) -> int:
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def without_gc(step: Step) -> Step:
    """The same step with the garbage collector off: compute alone, for a second baseline."""

    def quiet_step() -> None:
        gc.disable()
        try:
            step()
        finally:
            gc.enable()

    return quiet_step


def run(n: int, rounds: int, fast_repeat: int) -> list[tuple[str, float, float, float | None]]:
    X, labels = make_moons(n, noise=0.1, seed=0)
    y = 2 * labels - 1  # hinge wants ±1
    micrograd = micrograd_step(X, y)
    steps = {"micrograd": micrograd, "micrograd, gc off": without_gc(micrograd)}
    steps.update({engine: microgradlike_step(X, y, engine) for engine in ("eager", "tape", "batched")})
    # Warm-up (tracing and compiling the tapes); micrograd has nothing to warm up.
    first = {name: seconds(step) for name, step in steps.items() if not name.startswith("micrograd")}
    repeat = {"eager": 1, "tape": fast_repeat, "batched": 4 * fast_repeat}
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            times[name].append(seconds(step, repeat.get(name, 1)))
    memory = {name: peak_bytes(step) for name, step in steps.items() if name != "micrograd, gc off"}
    return [(name, statistics.median(times[name]), first.get(name, times[name][0]), memory.get(name))
            for name in steps]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--rounds", type=int, default=0,
                        help="rounds per size (default: 5 at 100, 1 at 1000)")
    parser.add_argument("--fast-repeat", type=int, default=5,
                        help="steps per round for tape (4x that for batched)")
    args = parser.parse_args()
    print(__doc__.split("\n\n")[-1].strip(), "\n")
    print(f"{'samples':>7} {'engine':>17} {'step (ms)':>10} {'vs micrograd':>13} {'vs gc off':>10} "
          f"{'1st step (ms)':>14} {'peak memory':>12}")
    for n in args.sizes:
        rounds = args.rounds or (5 if n <= 100 else 1)
        results = run(n, rounds, args.fast_repeat)
        base, base_quiet = results[0][1], results[1][1]
        for name, t, first, peak in results:
            memory = "-" if peak is None else f"{peak / 2**20:.2f} MiB"
            print(f"{n:>7} {name:>17} {t * 1e3:>10.3f} {base / t:>12.1f}x {base_quiet / t:>9.1f}x "
                  f"{first * 1e3:>14.1f} {memory:>12}")


if __name__ == "__main__":
    main()
