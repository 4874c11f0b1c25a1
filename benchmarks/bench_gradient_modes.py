"""Why backprop is the efficient one: the gradient of an MLP loss by three methods, as P grows.

    python benchmarks/bench_gradient_modes.py            # ~1 minute
    python benchmarks/bench_gradient_modes.py --quick

For a loss L(θ) of P parameters (MLP(2, [h, h, 1]) with tanh, hinge loss on 30 two-moons points):

* backprop       one forward pass (building the graph) and one backward pass: all P at once;
* forward mode   the same forward pass, then one tangent pass per parameter: P passes
                 (`microgradlike.forward.tangents`, the same local derivatives backprop uses);
* differences    central differences, 2P forward evaluations (under no_grad: no graph).

Before timing, the three gradients are checked to agree (forward mode exactly, differences to
1e-6). The methods run interleaved, round after round; times are CPU-time medians. The table gives
the number of passes and the time of each method, and its ratio to backprop: it grows like P.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable

import numpy as np

from microgradlike import losses, no_grad
from microgradlike.data import make_moons
from microgradlike.forward import tangents
from microgradlike.nn import MLP


def methods(hidden: int) -> tuple[int, dict[str, Callable[[], list[float]]]]:
    X, y = make_moons(n=30, seed=0)
    rows, targets = X.tolist(), (2 * y - 1).tolist()
    model = MLP(2, [hidden, hidden, 1], "tanh", seed=0)  # smooth: differences have no kink to cross
    params = model.parameters()

    def loss():
        return losses.hinge([model(row) for row in rows], targets)

    def backprop() -> list[float]:
        model.zero_grad()
        loss().backward()
        return [p.grad for p in params]

    def forward_mode() -> list[float]:
        root = loss()
        return [tangents(root, {p: 1.0})[root] for p in params]

    def differences(eps: float = 1e-6) -> list[float]:
        out = []
        with no_grad():
            for p in params:
                p.data += eps
                above = loss().data
                p.data -= 2 * eps
                below = loss().data
                p.data += eps
                out.append((above - below) / (2 * eps))
        return out

    return len(params), {"backprop": backprop, "forward mode": forward_mode, "differences": differences}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two small sizes, 3 rounds")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    sizes = [2, 4] if args.quick else [2, 4, 8, 16]
    rounds = args.rounds or (3 if args.quick else 5)
    print(f"{'P':>5}  {'method':<14}{'passes':>26}{'ms':>10}{'× backprop':>12}")
    for h in sizes:
        P, runs = methods(h)
        reference = np.array(runs["backprop"]())
        assert np.allclose(runs["forward mode"](), reference, rtol=1e-12, atol=1e-12)
        assert np.allclose(runs["differences"](), reference, rtol=1e-5, atol=1e-6)
        times: dict[str, list[float]] = {name: [] for name in runs}
        for r in range(rounds):
            for name in (runs if r % 2 == 0 else reversed(list(runs))):
                gc.collect()
                start = time.process_time()
                runs[name]()
                times[name].append(time.process_time() - start)
        base = statistics.median(times["backprop"])
        passes = {"backprop": "1 forward + 1 backward", "forward mode": f"1 forward + {P} tangent",
                  "differences": f"{2 * P} forward"}
        for name in runs:
            t = statistics.median(times[name])
            print(f"{P:>5}  {name:<14}{passes[name]:>26}{t * 1e3:>10.1f}{t / base:>12.1f}")


if __name__ == "__main__":
    main()
