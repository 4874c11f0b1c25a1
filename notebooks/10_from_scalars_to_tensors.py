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
import time

import matplotlib.pyplot as plt
import numpy as np

from microgradlike import Value
from microgradlike.compile import trace
from microgradlike.data import make_moons
from microgradlike.losses import hinge
from microgradlike.nn import MLP
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
# timed for each engine (`trainers.make_loss_and_grad` is the function `fit` calls for each batch),
# and — when it is installed — PyTorch on the same model:

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
        timings[engine].append(seconds(step, repeat=2 if engine == "eager" else 3))
if torch is not None:
    net, loss_fn = to_torch(model), torch_loss("hinge")
    timings["PyTorch"] = []
    for n in sizes:
        Xn, yn = make_moons(n=n, noise=0.1, seed=0)
        Xt, yt = torch.tensor(Xn), torch.tensor(yn)

        def step(net=net, Xt=Xt, yt=yt):
            net.zero_grad()
            loss_fn(net(Xt).squeeze(-1), yt).backward()

        timings["PyTorch"].append(seconds(step, repeat=5))
for name, ts in timings.items():
    print(f"{name:>8}: " + "  ".join(f"N={n}: {t * 1e3:8.2f} ms" if np.isfinite(t) else f"N={n}: not timed"
                                     for n, t in zip(sizes, ts)))
print("\nfrom N = 100 to N = 400, four times the samples: " +
      ", ".join(f"{name} ×{ts[2] / ts[1]:.1f}" for name, ts in timings.items()))
if torch is not None:
    print("PyTorch's time over the batched engine's: " + ", ".join(
        f"N={n}: ×{t / b:.2f}" for n, t, b in zip(sizes, timings["PyTorch"], timings["batched"])))

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
# Eager and tape grow at least in step with N (four times the samples, about four times the time
# or more, as printed): one Python step per node per sample, and eager also builds and frees a
# whole graph per sample. The batched engine barely grows: each layer is one matrix product over
# the whole batch, numpy does the N samples in C, and its Python work per pass is the same
# whatever N is: a few numpy calls per layer, plus reading each of the 337 parameters' `.data`
# into the weight matrices and writing each `.grad` back.
#
# PyTorch (the red line) has no per-parameter work: its weights live in tensors already. But each
# of its calls pays a fixed cost (dispatch, autograd bookkeeping), and on a network this small, on
# one core, that cost decides the race: the printout says, for this run, at which N PyTorch is
# slower than the batched engine and at which it is faster. What grows with the width of the
# layers is our per-parameter work, not PyTorch's; and PyTorch runs the same model on a GPU (§6).
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
# `optimizer.step()` — the loop you wrote in lesson 5, on tensors. And `bridge.from_torch(net)`
# brings a trained `Sequential` back, to draw its graph or step through it here.

# %% [markdown]
# ## 6 · Where PyTorch takes over
#
# Everything above was about *how* gradients are computed. What a real library adds is *where*:
#
# * **Batched tensors.** Weights that live in tensors, and one compiled call per layer, with
#   nothing done per parameter in Python. On §3's small network, on one core, that made PyTorch
#   no clear winner over our batched engine (the red line against the green one: slower at some N,
#   faster at others); but our per-parameter work grows with the width of the layers, PyTorch's
#   does not.
# * **GPUs.** The same matrix products run on thousands of cores. In PyTorch it is one line,
#   `net.to("cuda")` and `X.to("cuda")`; the model code does not change.
# * **Many machines: `torch.nn.parallel.DistributedDataParallel`.** Each process holds a copy of
#   the model and takes its own slice of the batch; after `backward()` the processes average
#   their gradients (an all-reduce), so every copy takes the same step. It is exact, for the
#   reason §2 showed: the loss is a mean over samples, so its gradient is the mean of the slices'
#   gradients. Two "processes" by hand, on one batch cut in two:

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
# With real processes it reads (not run here: it needs one process per worker, started with
# `torchrun --nproc_per_node=2 train.py`):
#
# ```python
# torch.distributed.init_process_group("gloo")            # "nccl" on GPUs
# ddp = torch.nn.parallel.DistributedDataParallel(net)    # wraps the same module
# rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
# rows, targets = X_t[rank::world], y_t[rank::world]      # this worker's slice of the batch
# loss = torch_loss("hinge")(ddp(rows).squeeze(-1), targets)
# loss.backward()                                         # gradients averaged across workers here
# optimizer.step()                                        # every copy takes the same step
# ```
#
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
