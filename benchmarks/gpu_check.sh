#!/usr/bin/env bash
# The CUDA paths of engine="torch", run on a GPU machine, with what they measure (under 4 minutes):
#   1. fit(engine="torch", device="cuda") against the CPU (torch engine) and the batched engine: every
#      loss and optimiser, 100 epochs; the largest relative parameter difference, and the time;
#   2. a bigger workload (200,000 rows, MLP(2, [64, 64, 1]), batches of 10,000): seconds per engine;
#   3. `train --engine torch --device cuda --n 200000` with --save, timed (step 5 compares a small one
#      with the CPU's);
#   4. examples/distributed.py under torchrun, one process per GPU (NCCL), against fit's model;
#   5. the test suite's CUDA tests (when pytest is there).
# Needs: python3 (or $PYTHON) with a CUDA build of torch and numpy; the train command also needs the
# graphviz Python package (pip install graphviz) and step 5 pytest. Nothing is installed or downloaded.
# Run from the repository's root: bash benchmarks/gpu_check.sh
set -u
PY=${PYTHON:-python3}
TIMEFORMAT="  %R s wall"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
step() { echo; echo "== $*"; }
has() { "$PY" -c "import $1" 2>/dev/null; }

SECONDS=0
step "python and torch"
"$PY" -c "import sys, numpy, torch; print(sys.version.split()[0], 'numpy', numpy.__version__, 'torch', torch.__version__,
'cuda', torch.version.cuda, 'available', torch.cuda.is_available(),
torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')" || { echo "needs numpy and torch"; exit 1; }
"$PY" -c "import torch; raise SystemExit(not torch.cuda.is_available())" || { echo "torch sees no GPU"; exit 1; }

step "1-2. fit: cuda against cpu (torch engine) and batched"
"$PY" - <<'EOF'
import time
import numpy as np
import torch
from microgradlike.data import make_moons, make_spirals
from microgradlike.nn import MLP
from microgradlike.optim import SGD, Adam
from microgradlike.train import fit

OPT = {"sgd": lambda p: SGD(p, lr=0.05), "sgd+momentum": lambda p: SGD(p, lr=0.02, momentum=0.9),
       "adam": lambda p: Adam(p, lr=0.01)}

def data(loss, n):
    if loss == "cross_entropy":
        X, y = make_spirals(n=n, arms=3, noise=0.1, seed=0)
        return X, y, 3
    X, y = make_moons(n=n, noise=0.2, seed=0)
    return X, (2 * y - 1 if loss in ("mse", "hinge") else y), 1

def run(loss, opt, engine, device=None, n=60, hidden=(8, 8), **kw):
    X, y, k = data(loss, n)
    model = MLP(2, [*hidden, k], seed=1)
    start = time.perf_counter()
    h = fit(model, X, y, loss=loss, optimizer=OPT[opt](model.parameters()), engine=engine, device=device, tol=0, **kw)
    return np.array([p.data for p in model.parameters()]), time.perf_counter() - start, h

def rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))

worst = 0.0
print(f"{'loss':22}{'optimiser':14}{'batch':>6} {'cuda vs cpu':>12} {'cuda vs batched':>16} {'s cuda':>7} {'s cpu':>6}")
for loss in ("mse", "binary_cross_entropy", "hinge", "cross_entropy"):
    for opt in OPT:
        for batch in (None, 16):
            if batch and opt != "adam":
                continue
            gpu, t_gpu, h = run(loss, opt, "torch", "cuda", max_epochs=100, batch_size=batch)
            cpu, t_cpu, _ = run(loss, opt, "torch", "cpu", max_epochs=100, batch_size=batch)
            ref, _, _ = run(loss, opt, "batched", max_epochs=100, batch_size=batch)
            worst = max(worst, rel(gpu, cpu), rel(gpu, ref))
            print(f"{loss:22}{opt:14}{batch or 'full':>6} {rel(gpu, cpu):12.2e} {rel(gpu, ref):16.2e} {t_gpu:7.2f} {t_cpu:6.2f}")
print(f"largest max|Δθ|/max|θ| after 100 epochs: {worst:.2e} (device {h.device})")
print("\n200,000 rows, MLP(2, [64, 64, 1]), hinge, Adam, batches of 10,000, 5 epochs:")
results = {}
for engine, device in (("torch", "cuda"), ("torch", "cpu"), ("batched", None)):
    results[engine, device] = run("hinge", "adam", engine, device, n=200_000, hidden=(64, 64), max_epochs=5,
                                  batch_size=10_000)
    print(f"  {engine:8}{device or '':5} {results[engine, device][1]:7.2f} s")
print(f"  cuda vs batched: max|Δθ|/max|θ| = {rel(results['torch', 'cuda'][0], results['batched', None][0]):.2e}")
EOF

step "3. train --engine torch --device cuda (the accuracies: predict on the CPU, one row at a time)"
if has graphviz; then
    time "$PY" -m microgradlike train --engine torch --device cuda --n 200000 --batch-size 10000 --epochs 10 \
        --save "$OUT/cuda.json" | tail -n 3
else
    echo "skipped: the CLI needs the graphviz Python package (pip install graphviz)"
fi

step "4. torchrun examples/distributed.py --device cuda (one process per GPU, NCCL)"
time "$PY" -m torch.distributed.run --standalone --nproc-per-node gpu examples/distributed.py --device cuda \
    --out "$OUT/ddp.json" 2>&1 | tail -n 3
"$PY" - "$OUT/ddp.json" <<'EOF'
import importlib.util, sys
import numpy as np
from microgradlike.nn import Module
from microgradlike.train import fit
spec = importlib.util.spec_from_file_location("example", "examples/distributed.py")
example = importlib.util.module_from_spec(spec)
spec.loader.exec_module(example)
args = example.parse_args([])
X, t = example.moons(args)
model = example.fresh_model(args)
fit(model, X, t, loss="hinge", optimizer="adam", lr=args.lr, max_epochs=args.epochs, tol=0, engine="batched")
a = np.array([p.data for p in Module.load(sys.argv[1]).parameters()])
b = np.array([p.data for p in model.parameters()])
print(f"  DDP on cuda vs fit (batched, one process): max|Δθ|/max|θ| = {np.max(np.abs(a - b)) / np.max(np.abs(b)):.2e}")
EOF

step "5. the CUDA tests"
if has pytest; then
    "$PY" -m pytest --noconftest -q -p no:cacheprovider -rs tests/test_torch_fit.py tests/test_distributed.py \
        tests/test_readme_commands.py -k "gpu or cuda" 2>&1 | tail -n 8
else
    echo "skipped: needs pytest"
fi
echo
echo "== done in ${SECONDS} s"
