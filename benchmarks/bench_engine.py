"""Benchmark: microgradlike's engine against micrograd (PyPI) — time and memory per graph node.

Run from the repository root::

    pip install micrograd==0.1.0       # the reference (only + - * / ** relu)
    python benchmarks/bench_engine.py           # ~30-60 s
    python benchmarks/bench_engine.py --quick   # a few seconds

Workloads, built the same way with both libraries:

* ``chain``: y ← relu(y·x + 1.0), repeated n times (a deep, narrow graph; 3 operations per step);
* ``wide``: s = Σᵢ wᵢ·xᵢ over n terms (a shallow, wide graph; 2n − 1 operations), written as a
  Python loop of * and + for both libraries, and, for microgradlike, also as one ``dot`` node.

For each: forward time and backward time (median of interleaved repetitions), and the bytes the
graph holds after the forward pass (tracemalloc), divided by (i) the number of operations in the
expression — the same for both libraries — and (ii) the library's own count of nodes it created
(micrograd wraps every plain number in a node; microgradlike does not; ``dot`` is one node).
Ratios are micrograd / microgradlike: above 1 means microgradlike is faster or smaller.
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import microgradlike
from microgradlike import dot

try:
    from micrograd.engine import Value as MicrogradValue
except ImportError:  # the comparison is the point of this script
    sys.exit("this benchmark needs micrograd: pip install micrograd==0.1.0")

from microgradlike import Value


@dataclass
class Case:
    """One workload on one library: how to make its leaves, and its forward pass."""

    workload: str
    library: str
    make_leaves: Callable[[], list[Any]]
    forward: Callable[[list[Any]], Any]
    n_ops: int
    children: Callable[[Any], Any]
    forward_times: list[float] = field(default_factory=list)
    backward_times: list[float] = field(default_factory=list)
    n_nodes: int = 0
    graph_bytes: int = 0


def chain_cases(n: int) -> list[Case]:
    """y ← relu(y·x + 1.0), n times: per step one *, one + (with a plain number) and one relu."""

    def forward(leaves: list[Any]) -> Any:
        x = y = leaves[0]
        for _ in range(n):
            y = (y * x + 1.0).relu()
        return y

    return [
        Case("chain", "micrograd", lambda: [MicrogradValue(0.5)], forward, 3 * n, _micrograd_children),
        Case("chain", "microgradlike", lambda: [Value(0.5)], forward, 3 * n, _children),
    ]


def wide_cases(n: int) -> list[Case]:
    """s = Σᵢ wᵢ·xᵢ over n terms: n products and n − 1 sums."""
    # deterministic, varied numbers; no randomness needed to time arithmetic
    numbers = [((i % 7) - 3) / 7 for i in range(n)] + [((i % 5) - 2) / 5 for i in range(n)]

    def loop(leaves: list[Any]) -> Any:
        ws, xs = leaves[:n], leaves[n:]
        total = ws[0] * xs[0]
        for w, x in zip(ws[1:], xs[1:]):
            total = total + w * x
        return total

    def one_dot(leaves: list[Any]) -> Any:
        return dot(leaves[:n], leaves[n:])

    return [
        Case("wide", "micrograd", lambda: [MicrogradValue(v) for v in numbers], loop, 2 * n - 1,
             _micrograd_children),
        Case("wide", "microgradlike", lambda: [Value(v) for v in numbers], loop, 2 * n - 1, _children),
        Case("wide", "microgradlike dot", lambda: [Value(v) for v in numbers], one_dot, 2 * n - 1,
             _children),
    ]


def _children(node: Value) -> tuple[Value, ...]:
    return node.children


def _micrograd_children(node: Any) -> Any:
    return node._prev


def count_nodes(root: Any, children: Callable[[Any], Any]) -> int:
    """Distinct nodes reachable from root (iterative: the chain is deep)."""
    seen: set[int] = set()
    todo = [root]
    while todo:
        node = todo.pop()
        if id(node) not in seen:
            seen.add(id(node))
            todo.extend(children(node))
    return len(seen)


def time_once(case: Case) -> None:
    """Forward and backward on fresh leaves, with the garbage collector off while timing."""
    leaves = case.make_leaves()
    gc.collect()
    gc.disable()  # same for both libraries: no collection pauses inside the timed regions
    try:
        start = time.perf_counter()
        root = case.forward(leaves)
        middle = time.perf_counter()
        root.backward()
        end = time.perf_counter()
    finally:
        gc.enable()
    case.forward_times.append(middle - start)
    case.backward_times.append(end - middle)
    del root, leaves
    gc.collect()  # micrograd's nodes sit in reference cycles (closures): free them now, untimed


def measure_memory(case: Case) -> None:
    """Bytes allocated by the forward pass and still held by the graph (leaves made beforehand)."""
    leaves = case.make_leaves()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    root = case.forward(leaves)
    case.graph_bytes = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    case.n_nodes = count_nodes(root, case.children) - len(leaves)
    del root, leaves
    gc.collect()


def check_same_results(cases: list[Case]) -> None:
    """Both libraries must compute the same numbers, or the timings compare different work."""
    results = []
    for case in cases:
        leaves = case.make_leaves()
        root = case.forward(leaves)
        root.backward()
        results.append((root.data, [leaf.grad for leaf in leaves]))
    reference_value, reference_grads = results[0]
    for case, (value, grads) in zip(cases[1:], results[1:]):
        close = abs(value - reference_value) <= 1e-9 * max(1.0, abs(reference_value)) and all(
            abs(a - b) <= 1e-9 * max(1.0, abs(b)) for a, b in zip(grads, reference_grads))
        if not close:
            raise AssertionError(f"{case.library} disagrees with micrograd on {case.workload}")
    gc.collect()


def run(chain_n: int, wide_n: int, repeats: int) -> list[Case]:
    groups = [chain_cases(chain_n), wide_cases(wide_n)]
    for group in groups:
        check_same_results(group)
    cases = [case for group in groups for case in group]
    for case in cases:
        measure_memory(case)
    for repeat in range(repeats):  # interleaved, alternating order, so drift hits all cases alike
        for case in cases if repeat % 2 == 0 else reversed(cases):
            time_once(case)
    return cases


def per_op_us(times: list[float], n: int) -> float:
    return statistics.median(times) / n * 1e6


def print_table(cases: list[Case]) -> None:
    header = (f"{'workload':<8} {'library':<18} {'ops':>7} {'nodes':>7} {'fwd µs/op':>10} "
              f"{'bwd µs/op':>10} {'fwd µs/node':>11} {'bwd µs/node':>11} {'B/op':>7} {'B/node':>8}")
    print(header)
    print("-" * len(header))
    for case in cases:
        print(f"{case.workload:<8} {case.library:<18} {case.n_ops:>7} {case.n_nodes:>7} "
              f"{per_op_us(case.forward_times, case.n_ops):>10.3f} "
              f"{per_op_us(case.backward_times, case.n_ops):>10.3f} "
              f"{per_op_us(case.forward_times, case.n_nodes):>11.3f} "
              f"{per_op_us(case.backward_times, case.n_nodes):>11.3f} "
              f"{case.graph_bytes / case.n_ops:>7.0f} {case.graph_bytes / case.n_nodes:>8.0f}")
    print()
    print("Ratios micrograd / microgradlike (> 1: microgradlike is faster or smaller)")
    header = (f"{'workload':<8} {'library':<18} {'fwd/op':>8} {'bwd/op':>8} {'fwd/node':>9} "
              f"{'bwd/node':>9} {'total':>7} {'B/op':>7} {'B/node':>7}")
    print(header)
    print("-" * len(header))
    reference = {case.workload: case for case in cases if case.library == "micrograd"}
    for case in cases:
        if case.library == "micrograd":
            continue
        ref = reference[case.workload]

        def ratio(times_ref: list[float], n_ref: int, times: list[float], n: int) -> float:
            return per_op_us(times_ref, n_ref) / per_op_us(times, n)

        total_ref = statistics.median(f + b for f, b in zip(ref.forward_times, ref.backward_times))
        total = statistics.median(f + b for f, b in zip(case.forward_times, case.backward_times))
        print(f"{case.workload:<8} {case.library:<18} "
              f"{ratio(ref.forward_times, ref.n_ops, case.forward_times, case.n_ops):>7.2f}x "
              f"{ratio(ref.backward_times, ref.n_ops, case.backward_times, case.n_ops):>7.2f}x "
              f"{ratio(ref.forward_times, ref.n_nodes, case.forward_times, case.n_nodes):>8.2f}x "
              f"{ratio(ref.backward_times, ref.n_nodes, case.backward_times, case.n_nodes):>8.2f}x "
              f"{total_ref / total:>6.2f}x "
              f"{(ref.graph_bytes / ref.n_ops) / (case.graph_bytes / case.n_ops):>6.2f}x "
              f"{(ref.graph_bytes / ref.n_nodes) / (case.graph_bytes / case.n_nodes):>6.2f}x")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, 3 repeats (a few seconds)")
    parser.add_argument("--chain", type=int, default=None, help="steps in the chain workload")
    parser.add_argument("--wide", type=int, default=None, help="terms in the wide workload")
    parser.add_argument("--repeats", type=int, default=None, help="timed repetitions per case")
    args = parser.parse_args(argv)
    chain_n = args.chain or (3_000 if args.quick else 20_000)
    wide_n = args.wide or (3_000 if args.quick else 20_000)
    repeats = args.repeats or (3 if args.quick else 9)
    # micrograd's backward sorts the graph recursively: one Python frame per node on the path
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 5 * max(chain_n, wide_n) + 1_000))

    print(f"Python {platform.python_version()} on {platform.machine()}; "
          f"microgradlike {microgradlike.__version__}, micrograd {metadata.version('micrograd')}")
    print(f"chain: {chain_n} steps; wide: {wide_n} terms; median of {repeats} interleaved repeats; "
          f"gc disabled inside timed regions for both libraries, gc.collect() between measurements")
    print()
    start = time.perf_counter()
    cases = run(chain_n, wide_n, repeats)
    print_table(cases)
    print(f"\n(took {time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
