# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 10 · From scalars to tensors: where PyTorch takes over
#
# Everything so far ran on scalars: every number a `Value`, every operation a node that records
# its local derivative. That is the clearest way to see backpropagation (反向传播), and the slowest
# way to run it. This lesson takes the same computation, step by step, to the form deep-learning
# libraries use:
#
# 1. **a tape**: the graph written down once as straight-line code, replayed on plain floats;
# 2. **a batch**: the same code on numpy vectors, one entry per sample — all samples at once;
# 3. **tensors**: a whole layer as one matrix product, Z = X·Wᵀ + b;
# 4. **PyTorch**: the same model, the same numbers, and what PyTorch adds — GPUs and many machines.

# %%
import functools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import microgradlike
from microgradlike import Value
from microgradlike.compile import trace
from microgradlike.data import make_moons
from microgradlike.losses import hinge
from microgradlike.nn import MLP, Module
from microgradlike.train import fit
from microgradlike.trainers import make_loss_and_grad

plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})

# %% [markdown]
# ## 1 · The tape: a graph written down as code
#
# One neuron, out = tanh(x·w + b). `trace` runs it once on Values and writes its graph down as a
# flat program: one line per node, each result in a numbered slot (v0, v1 …), the parameters in
# p0, p1. `tape.source` is the generated Python, forward and backward:

# %%
w, b = Value(-3.0, label="w"), Value(6.88, label="b")
tape = trace(lambda x: (x * w + b).tanh(), 2.0)
print(tape.source)

# %% [markdown]
# Read `backward` against the notes: "反向传播的时候，你需要把正向传播过程中算的每一层的 zˡ，aˡ 都拿出来，
# 因为梯度公式依赖它们". `forward` returns, besides the output, the tuple `V` of every value it
# computed; `backward` starts by unpacking exactly those saved values, and each line is one
# local derivative times the gradient arriving from above: `gv1 = gv2 * (1.0 - v2 * v2)` is
# tanh's derivative, 1 − tanh², made from the saved output v2. The tape gives the graph's
# gradients:

# %%
out = (Value(2.0) * w + b).tanh()
out.backward()
tape(2.0)
tape.backward()
print("Value graph: ∂out/∂b, ∂out/∂w =", (b.grad, w.grad))
print("tape:        ∂out/∂b, ∂out/∂w =", tape.param_grads)

# %% [markdown]
# ## 2 · A batch: the same code on vectors
#
# Give the tape numpy vectors instead of floats and every line works on all samples at once.
# The batched source differs in one place that matters — how a **parameter's** gradient is made:

# %%
print(tape.batched_source.split("def backward")[1])

# %% [markdown]
# `Gp1 = _np.dot(gv0, x0)`: each sample contributes its own gv0·x0 to ∂L/∂w, and they are **added
# up**, as the gradients of a node used twice are (w is used once per sample). One call of the tape
# on 5 inputs equals the sum of 5 single-sample backward passes:

# %%
xs = np.array([2.0, 0.5, -1.0, 0.0, 1.5])
tape(xs)
tape.backward()
total = [0.0, 0.0]
for x in xs:
    w.grad = b.grad = 0.0
    (Value(float(x)) * w + b).tanh().backward()
    total = [total[0] + b.grad, total[1] + w.grad]
print("batched tape:                  ", np.round(tape.param_grads, 12))
print("sum of 5 single-sample passes: ", np.round(total, 12))

# %% [markdown]
# ## 3 · Three engines, one set of numbers
#
# `fit` trains with any of the three (lesson 7 named them): `"eager"` builds Value graphs (one
# node per operation per sample), `"tape"` replays the traced program on floats, sample by sample,
# `"batched"` replays it on numpy vectors, the whole batch per pass. All three give the same
# parameters (here with lesson 8's hinge loss):

# %%
X, y = make_moons(n=200, noise=0.1, seed=0)
trained = {}
for engine in ("eager", "tape", "batched"):
    model = MLP(2, [16, 16, 1], activation="relu", seed=0)
    fit(model, X, y, loss="hinge", optimizer="adam", lr=0.02, max_epochs=5, batch_size=50, engine=engine,
        progress=False)
    trained[engine] = np.array([p.data for p in model.parameters()])
for engine in ("tape", "batched"):
    print(f"largest difference, eager vs {engine}: {np.abs(trained[engine] - trained['eager']).max():.1e} "
          f"over {len(trained[engine])} parameters")

# %% [markdown]
# They differ in speed. One forward and backward pass over N samples of that MLP (337 parameters),
# timed for each engine (`trainers.make_loss_and_grad` builds the loss-and-gradient function `fit`
# runs on each batch), and — when it is installed — PyTorch on the same model:

# %%
try:
    import torch

    from microgradlike.bridge import to_torch, torch_loss

    torch.set_num_threads(1)  # one core, as the engines use: a fair race, and steady on a busy machine
except ImportError:
    torch = None
    print("PyTorch is not installed: the PyTorch cells below say so and skip (pip install torch==2.13.0)")


def seconds(step, repeat):
    """The best of ``repeat`` timings of step(), after one warm-up call (tracing, caches)."""
    step()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - start)
    return best


sizes = [25, 100, 400, 1600]
model = MLP(2, [16, 16, 1], activation="relu", seed=0)
timings = {}
for engine in ("eager", "tape", "batched"):
    loss_and_grad = make_loss_and_grad(model, hinge, engine)
    timings[engine] = []
    for n in sizes:
        Xn, yn = make_moons(n=n, noise=0.1, seed=0)
        rows, targets = Xn.tolist(), yn.tolist()
        if engine == "eager" and n > 400:  # about a second a pass: we know the trend by now
            timings[engine].append(np.nan)  # not timed
            continue
        step = functools.partial(loss_and_grad, rows, targets)
        # the best of several (of many when a pass takes well under a millisecond): a busy machine's
        # hiccups only ever add time
        timings[engine].append(seconds(step, repeat=5 if engine in ("eager", "tape") else 20))
if torch is not None:
    net, loss_fn = to_torch(model), torch_loss("hinge")
    timings["PyTorch"] = []
    for n in sizes:
        Xn, yn = make_moons(n=n, noise=0.1, seed=0)
        Xt, yt = torch.tensor(Xn), torch.tensor(yn)

        def step(net=net, Xt=Xt, yt=yt):
            net.zero_grad()
            loss_fn(net(Xt).squeeze(-1), yt).backward()

        timings["PyTorch"].append(seconds(step, repeat=20))
for name, ts in timings.items():
    print(f"{name:>8}: " + "  ".join(f"N={n}: {t * 1e3:8.2f} ms" if np.isfinite(t) else f"N={n}: not timed"
                                     for n, t in zip(sizes, ts)))
print("\nfrom N = 100 to N = 400, four times the samples: " +
      ", ".join(f"{name} ×{ts[2] / ts[1]:.1f}" for name, ts in timings.items()))
if torch is not None:
    print("PyTorch's time over the batched engine's: " + ", ".join(
        f"N={n}: ×{t / b:.2f}" for n, t, b in zip(sizes, timings["PyTorch"], timings["batched"])))
    pairs = list(zip(sizes, timings["PyTorch"], timings["batched"]))
    faster = ", ".join(str(n) for n, t, b in pairs if t < b) or "no N"
    slower = ", ".join(str(n) for n, t, b in pairs if t > b) or "no N"
    print(f"in this run PyTorch is faster than the batched engine at N = {faster}, slower at N = {slower}")

# %%
fig, ax = plt.subplots(figsize=(7.5, 4))
styles = {"eager": ("#6b7280", "o"), "tape": ("#2563eb", "s"), "batched": ("#16a34a", "D"),
          "PyTorch": ("#dc2626", "^")}
for name, ts in timings.items():
    color, marker = styles[name]
    ax.plot(sizes, np.array(ts) * 1e3, color=color, marker=marker, lw=2, label=name)
last = max(k for k, t in enumerate(timings["eager"]) if np.isfinite(t))
if last < len(sizes) - 1:  # the eager line stops: say why, where it stops
    guess = timings["eager"][last] * sizes[last + 1] / sizes[last]  # at least in step with N
    ax.annotate(f"eager at N = {sizes[last + 1]}: not timed\n(in step with N: {guess:.1f} s a pass)",
                (sizes[last], timings["eager"][last] * 1e3), textcoords="offset points", xytext=(10, -6),
                fontsize=8, color=styles["eager"][0], va="top")
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("samples N in the batch (log scale)")
ax.set_ylabel("one forward + backward pass (ms, log scale)")
ax.set_title("MLP(2, [16, 16, 1]), the hinge loss, one batch", fontsize=10)
ax.legend(fontsize=9)
plt.tight_layout()
plt.show()

# %% [markdown]
# The figure shows the printed times, one line per engine. Eager and tape grow about in step with N,
# or faster (four times the samples: the printed ratios from N = 100 to N = 400): one Python step per
# node per sample, and eager also builds and frees a whole graph per sample. The batched engine
# grows far more slowly: each layer is one matrix product over the whole batch, numpy does the N
# samples in C, and its Python work per pass is the same whatever N is: a few numpy calls per
# layer, plus reading each of the 337 parameters' `.data` into the weight matrices and writing
# each `.grad` back.
#
# PyTorch (the red line) has no per-parameter work: its weights live in tensors already. But each
# of its calls pays a fixed cost (dispatch, autograd bookkeeping), and on a network this small, on
# one core, that cost is a large part of the whole pass. Which of the two is faster, at which N,
# is what the last printed line says for this run (the timings come from the machine that built
# the page, and from the library's version: run the cell to see yours). What grows with the width
# of the layers is our per-parameter work, not PyTorch's; and PyTorch runs the same model on a
# GPU (§6).
#
# *Question:* the batched engine's time is almost flat in N. What does its time grow with instead?

# %% [markdown]
# ## 4 · Tensors: a layer is one matrix product
#
# Put layer l's weights in a matrix Wˡ (row i = neuron i's weights) and the batch in a matrix X
# (row n = sample n). Then every neuron's z for every sample is one matrix product,
# Zˡ = Aˡ⁻¹·Wˡᵀ + bˡ (entry (n, i) is Σⱼ Wˡ[i, j]·Aˡ⁻¹[n, j] + bˡ[i]), and Aˡ = σ(Zˡ) entry by
# entry. That is what a tensor library runs. The same MLP, its forward pass in numpy, three
# matrix products for the three layers:

# %%
Ws = [np.array([[wi.data for wi in n.w] for n in layer.neurons]) for layer in model.layers]
bs = [np.array([n.b.data for n in layer.neurons]) for layer in model.layers]
print("weight matrices:", [W.shape for W in Ws])

A = X  # (200, 2): one sample per row
for depth, (W, bias) in enumerate(zip(Ws, bs), start=1):
    Z = A @ W.T + bias
    A = np.maximum(Z, 0.0) if depth < len(Ws) else Z  # ReLU on the hidden layers; the output layer is linear
scalar = np.array([model(list(x)).data for x in X])
print(f"numpy, 3 matrix products: {A.shape}; largest difference from the Value engine: "
      f"{np.abs(A[:, 0] - scalar).max():.1e}")

# %% [markdown]
# The backward pass is matrix products too (exercise 2 asks you to write them): a whole batch's
# chain rule in three lines per layer.

# %% [markdown]
# ## 5 · The same model in PyTorch
#
# `bridge.to_torch(model)` builds a float64 `torch.nn.Sequential` of `Linear` and activation
# modules holding the same numbers (a `Linear`'s weight is our Wˡ, its bias our bˡ). Same outputs,
# same loss, same gradients:

# %%
if torch is None:
    print("skipped: this cell needs PyTorch (pip install torch==2.13.0)")
else:
    net = to_torch(model)
    print(net)
    X_t, y_t = torch.tensor(X), torch.tensor(y)
    loss_t = torch_loss("hinge")(net(X_t).squeeze(-1), y_t)  # (200, 1) -> (200,): one score per row
    loss_t.backward()
    model.zero_grad()
    loss_v = hinge([model(list(x)) for x in X], y.tolist())
    loss_v.backward()
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    # microgradlike's order: neuron by neuron, its weights then its bias = each Linear row by row, bias last
    torch_grads = torch.cat([torch.cat([lin.weight.grad, lin.bias.grad[:, None]], dim=1).flatten()
                             for lin in linears])
    ours = torch.tensor([p.grad for p in model.parameters()], dtype=torch.float64)
    print(f"loss: PyTorch {loss_t.item():.15f}, microgradlike {loss_v.data:.15f}")
    gap = (torch_grads - ours).abs().max().item()
    print(f"largest gradient difference over {len(ours)} parameters: {gap:.1e}")

# %% [markdown]
# From here on it is plain PyTorch: `torch.optim.Adam(net.parameters())`, `loss.backward()`,
# `optimizer.step()` — the loop you wrote in lesson 2, on tensors. And `bridge.from_torch(net)`
# brings a trained `Sequential` back, to draw its graph or step through it here.

# %% [markdown]
# ## 6 · Where PyTorch takes over
#
# Everything above was about *how* gradients are computed. What a real library adds is *where*:
#
# * **Batched tensors.** Weights that live in tensors, and one compiled call per layer, with
#   nothing done per parameter in Python. On §3's small network, on one core, PyTorch's fixed cost
#   per call is a large part of each pass (§3's last printed line says at which N it came out
#   ahead of our batched engine, if any); but our per-parameter work grows with the width of the
#   layers, PyTorch's does not.
# * **GPUs.** The same matrix products run on thousands of cores. In PyTorch it is one line,
#   `net.to("cuda")` and `X.to("cuda")`; the model code does not change.
# * **Many machines: `torch.nn.parallel.DistributedDataParallel`.** Each process holds a copy of
#   the model and takes its own slice of the batch; after `backward()` the processes average
#   their gradients (an all-reduce), so every copy takes the same step.
#
# ### The same `fit`, on PyTorch
#
# You need not leave `fit` behind to get there. `fit(..., engine="torch", device="cpu")` trains
# through the bridge: the model becomes its float64 `Sequential` on `device`, the loss its
# `torch_loss`, the optimiser `torch.optim`'s SGD or Adam with the same settings and state. The
# batches (in the same shuffled order), the tolerance, validation, early stopping, callbacks and the
# `History` are `fit`'s own, and when `fit` returns (or a callback runs) the model's Values hold
# the trained parameters. On the CPU it gives the batched engine's numbers, to rounding:

# %%
if torch is None:
    print("skipped: this cell needs PyTorch (pip install torch==2.13.0)")
else:
    finals, histories = {}, {}
    for engine, where in (("batched", {}), ("torch", {"device": "cpu"})):
        fresh = MLP(2, [16, 16, 1], activation="relu", seed=0)
        histories[engine] = fit(fresh, X, y, loss="hinge", optimizer="adam", lr=0.02, max_epochs=100,
                                batch_size=50, engine=engine, progress=False, **where)
        finals[engine] = np.array([p.data for p in fresh.parameters()])
    h = histories["torch"]
    print(f"engine={h.engine!r} on device {h.device!r}: {h.n_epochs} epochs, "
          f"final loss {h.train_loss[-1]:.6f} (batched: {histories['batched'].train_loss[-1]:.6f})")
    print(f"largest parameter difference, torch vs batched, over {len(finals['torch'])} parameters: "
          f"{np.abs(finals['torch'] - finals['batched']).max():.1e}")

# %% [markdown]
# On a GPU the same call says `device="cuda"`, and the command line has it too (with `--save`,
# `--plot` and `--html` as before):
#
# ```bash
# python -m microgradlike train --engine torch --device cuda --n 200000 --batch-size 10000 --epochs 10
# ```
#
# Where does a GPU pay? Not on small batches like this lesson's: each call does too little work to
# hide its fixed cost (§3 showed that cost on the CPU; on a GPU each call also launches work on the
# device). It pays on big batches of wide layers. As
# measured by `benchmarks/gpu_check.sh` on one NVIDIA H200, in float64 (the numbers the README's
# "Growing out of it" reports): 200,000 rows of `MLP(2, [64, 64, 1])`, batches of 10,000, 5 epochs
# in 0.3 s on the GPU, against 1.0 s for the torch engine on 16 CPU cores and 3.3 s for the batched
# engine; and after 100 epochs the GPU's parameters were within 5e-12 of the CPU's, for every loss
# and optimiser.
#
# ### Many processes: data parallelism
#
# Why averaging is exact, for the reason §2 showed: the loss is a mean over samples, so its
# gradient is the mean of the slices' gradients. Two "processes" by hand, on one batch cut in two:

# %%
if torch is None:
    print("skipped: this cell needs PyTorch (pip install torch==2.13.0)")
else:
    print("a GPU here:", torch.cuda.is_available(),
          "(with one, net.to('cuda') and X_t.to('cuda') are all it takes)")

    def grads_on(rows, targets):
        net.zero_grad()
        torch_loss("hinge")(net(rows).squeeze(-1), targets).backward()
        return torch.cat([p.grad.flatten() for p in net.parameters()])

    whole = grads_on(X_t, y_t)
    halves = [grads_on(X_t[:100], y_t[:100]), grads_on(X_t[100:], y_t[100:])]  # worker 0, worker 1
    averaged = (halves[0] + halves[1]) / 2  # what the all-reduce computes
    print(f"largest difference, whole-batch gradient vs the two halves averaged: "
          f"{(whole - averaged).abs().max().item():.1e}")

# %% [markdown]
# With real processes it is `examples/distributed.py`, started by `torchrun`, which launches the
# processes and tells each its rank r and their number W. Each process makes the same data and the
# same starting MLP (same seeds), keeps rows r, r + W, r + 2W, … (its shard), wraps the bridged
# model in `DistributedDataParallel` (gloo on the CPU, NCCL on GPUs), and trains full-batch with
# Adam; process 0 saves the result as a microgradlike model. Its heart:
#
# ```python
# dist.init_process_group("gloo")                          # "nccl" on GPUs
# net = DistributedDataParallel(to_torch(model))           # the same starting MLP in every process
# for _ in range(args.epochs):
#     optimizer.zero_grad()
#     loss = weight * hinge(net(X_r).squeeze(-1), t_r)    # this process's shard of the rows
#     loss.backward()                                      # DDP averages the gradients here
#     optimizer.step()                                     # every copy takes the same step
# ```
#
# (`weight` is 1 when the shards are equal; the example's docstring says why unequal shards need
# it.) On one machine, two processes:
#
# ```bash
# torchrun --standalone --nproc-per-node 2 examples/distributed.py --out moons.json
# ```
#
# on two machines, the same line on each, meeting at the first one's address
# (`torchrun --nnodes 2 --nproc-per-node 1 --rdzv-backend c10d --rdzv-endpoint 10.0.0.1:29500
# --rdzv-id moons examples/distributed.py --out moons.json`), and on GPUs, one process per GPU
# (`torchrun --standalone --nproc-per-node gpu examples/distributed.py --device cuda --out moons.json`).
#
# Here the first command runs, with 100 rows, as a subprocess of this notebook (a few seconds:
# each process starts its own Python and imports PyTorch). Then `fit` trains the same MLP on the
# same 100 rows in one process, full batch, and the two models are compared:

# %%
root = Path(microgradlike.__file__).resolve().parent.parent  # the checkout holding examples/
example = root / "examples" / "distributed.py"
if torch is None or not example.exists():
    print("skipped: this cell needs PyTorch and a checkout of microgradlike with its examples/ folder")
else:
    with tempfile.TemporaryDirectory() as folder:  # run in a temporary folder: moons.json is written there
        launch, options = ["--standalone", "--nproc-per-node", "2"], ["--rows", "100", "--out", "moons.json"]
        print("$ torchrun " + " ".join([*launch, "examples/distributed.py", *options]))
        path = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path}  # the processes import this microgradlike
        torchrun = [sys.executable, "-m", "torch.distributed.run"]  # what the torchrun command runs
        done = subprocess.run([*torchrun, *launch, str(example), *options], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=120)
        print(done.stdout.strip() or done.stderr.strip()[-2000:])
        if done.returncode == 0:
            by_ddp = np.array([p.data for p in Module.load(Path(folder) / "moons.json").parameters()])
    if done.returncode == 0:
        Xd, yd = make_moons(n=100, noise=0.2, seed=0)  # the example's data, labels as −1/+1
        single = MLP(2, [16, 16, 1], activation="relu", seed=0)  # and its starting model
        fit(single, Xd, 2 * yd - 1, loss="hinge", optimizer="adam", lr=0.05, max_epochs=100, tol=0,
            batch_size=None, engine="batched", progress=False)
        by_fit = np.array([p.data for p in single.parameters()])
        print(f"largest parameter difference, 2 processes (DDP) vs fit in one process: "
              f"{np.abs(by_ddp - by_fit).max():.1e} over {len(by_fit)} parameters")

# %% [markdown]
# *Question:* the notes say mini-batch updates are serial (更新是串行的). Does data parallelism
# change that? What is computed in parallel, and what still happens one update after another?

# %% [markdown]
# ## Exercises
#
# **1. A layer on a batch.** W holds a ReLU layer's weights (shape (nout, nin), row i = neuron i),
# b its biases (nout,), X a batch (N, nin), one sample per row. Return (Z, A), both of shape
# (N, nout): every sample's pre-activations and activations, with numpy and no Python loop.

# %%
from microgradlike.exercises.tensors import check_batched_backward, check_batched_layer


def layer_forward(W, b, X):
    ...  # your code here: return Z, A


check_batched_layer(layer_forward)

# %% [markdown]
# **2. Its backward pass.** For Z = X·Wᵀ + b, the layers above send back G = ∂L/∂Z (shape
# (N, nout)). Return (dW, db, dX) = (∂L/∂W, ∂L/∂b, ∂L/∂X), each shaped like what it is the
# gradient of. Write one entry with the chain rule first, then find the matrix product.

# %%
def layer_backward(X, W, G):
    ...  # your code here: return dW, db, dX


check_batched_backward(layer_backward)
