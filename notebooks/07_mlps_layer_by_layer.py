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
# # 6 · MLPs and training (多层感知机, 激活函数, 批量, 回合, 更新)
#
# The notes sum training up in four steps, repeated (训练就是不断迭代前向传播 + 反向传播):
#
# 1. **forward** (正向传播): input x → layers of "linear + activation" → prediction ŷ;
# 2. **loss** (损失函数): how far ŷ is from the true y;
# 3. **backward** (反向传播): the gradient of the loss with respect to every parameter θ;
# 4. **update** (参数更新): an optimiser (SGD, Adam …) moves θ against the gradient.
#
# This lesson opens up each step on a multilayer perceptron (多层感知机, MLP): what every layer
# computes, why the activation function (激活函数) is what makes a network more than a line,
# what a mini-batch update is, how optimisers and losses differ, and a whole run replayed.

# %%
import math
import warnings

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from microgradlike import Value, no_grad
from microgradlike.data import make_moons, make_spirals, piecewise_linear, train_test_split
from microgradlike.losses import binary_cross_entropy, mse
from microgradlike.nn import MLP, Module, Neuron
from microgradlike.optim import Adam
from microgradlike.plots import plot_decision_boundary
from microgradlike.replay import Replay
from microgradlike.train import TrainingWarning, fit

plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})

# %% [markdown]
# ## 1 · Every layer's zˡ and aˡ, and why the last layer is linear
#
# The notes' forward pass, for layers l = 1 … L:
#
# zˡ = Wˡ aˡ⁻¹ + bˡ (linear transform, 线性变换),  aˡ = σ(zˡ) (activation, 激活函数),  a⁰ = x.
#
# "隐藏层输出 aˡ 不是等于预测的 y，它只是'中间特征表示'。只有最后一层的 aᴸ 才是 ŷ": a hidden layer's
# output is an intermediate feature; only the last layer's output is the prediction.
#
# Each sigmoid or ReLU is a **neuron** (神经元, `Neuron`); a row of them reading the same input is a
# **layer** (`Layer`); every layer but the last is a **hidden layer** (隐藏层); many hidden layers
# make the network "deep" — hence **deep learning** (深度学习). `MLP.forward_trace` returns every
# layer's z and a:

# %%
model = MLP(2, [3, 3, 1], activation="relu", seed=1)
x = [0.5, -1.0]
trace = model.forward_trace(x)
for k, (z, a) in enumerate(trace, start=1):
    role = "hidden layer (隐藏层)" if k < len(trace) else "output layer: a = z = ŷ"
    print(f"layer {k}, {role}\n   z{k} = {[round(v.data, 3) for v in z]}\n"
          f"   a{k} = {[round(v.data, 3) for v in a]}")
print("ŷ = model(x) =", round(model(x).data, 3), "| hidden layers:", len(model.layers) - 1,
      "| neurons per layer:", [len(layer.neurons) for layer in model.layers])

# %%
fig, axes = plt.subplots(1, 3, figsize=(10, 2.8), sharey=True)
for k, (ax, (z, a)) in enumerate(zip(axes, trace), start=1):
    idx = np.arange(len(z))
    ax.bar(idx - 0.18, [v.data for v in z], width=0.36, color="#93c5fd", edgecolor="#1d4ed8", label=f"z{k}")
    ax.bar(idx + 0.18, [v.data for v in a], width=0.36, color="#f97316", label=f"a{k} = σ(z{k})")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(idx, [f"neuron {i + 1}" for i in idx])
    last = k == len(trace)
    ax.set_title(f"layer {k}: " + ("output, linear (a = z)" if last else "hidden, ReLU"), fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
axes[0].set_ylabel("value for x = (0.5, −1.0)")
fig.suptitle("one forward pass: ReLU zeroes the negative z in the hidden layers; the output layer keeps z",
             fontsize=10)
plt.tight_layout()
plt.show()

# %% [markdown]
# **Why is the last layer linear?** ŷ must be able to take any value the target can: a
# regression target below zero, a logit (a score before the sigmoid) of −5. An activation on the
# output would clip it — a ReLU output can never be negative. Below, the same network is trained
# twice on a target that dips to −0.5: once as it is, once with a ReLU on its output
# (`ReluOutput`, a model of our own: any object with `parameters()` and a call trains with `fit`).

# %%
X1, y1 = piecewise_linear(n=40, seed=0)  # a curve of four straight pieces, down to −0.5


class ReluOutput(Module):
    """An MLP whose output goes through one more ReLU: ŷ = relu(MLP(x))."""

    def __init__(self, seed):
        self.mlp = MLP(1, [8, 1], activation="tanh", seed=seed)

    def __call__(self, x):
        return self.mlp(x).relu()


linear_out = MLP(1, [8, 1], activation="tanh", seed=0)
relu_out = ReluOutput(seed=0)
xs = np.linspace(-2, 2, 200)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharey=True)
for ax, net, name in ((axes[0], linear_out, "last layer linear (as MLP does)"),
                      (axes[1], relu_out, "a ReLU after the last layer")):
    # engine="tape" (lesson 8: the traced graph replayed on floats, the same numbers, faster) is safe
    # here: no Python `if` looks at .data (relu branches inside the engine)
    h = fit(net, X1, y1, loss="mse", optimizer="adam", lr=0.05, max_epochs=300, engine="tape",
            progress=False)
    with no_grad():
        ax.plot(xs, [net(float(v)).data for v in xs], color="#dc2626", lw=2, label="model ŷ(x)")
    ax.scatter(X1[:, 0], y1, s=12, color="#374151", label="training data")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_title(f"{name}\ntraining MSE {h.train_loss[-1]:.4f}", fontsize=10)
    ax.set_xlabel("x")
    ax.legend(fontsize=8)
axes[0].set_ylabel("y")
plt.tight_layout()
plt.show()

# %% [markdown]
# *Question:* which output activation would keep ŷ between 0 and 1, and when would you want that?
# (Section 6 answers: the output stays linear, a logit, and the loss applies the sigmoid itself.)

# %% [markdown]
# ## 2 · The activation function adds non-linearity (激活函数 … 增加非线性能力)
#
# The notes: "激活函数（sigmoid、ReLU 等）… 用来增加非线性能力，让模型学到更复杂的映射关系". Take
# the activation away (`activation="linear"`, σ(z) = z) and every layer is a linear map of the one
# before: W³(W²(W¹x + b¹) + b²) + b³ is again W·x + b, **one straight line however deep the
# network is**. Three networks of the same shape, three hidden layers of 8, trained the same way:

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 3.3), sharey=True)
deep = {}
for ax, act in zip(axes, ("linear", "relu", "sigmoid")):
    net = MLP(1, [8, 8, 8, 1], activation=act, seed=0)
    h = fit(net, X1, y1, loss="mse", optimizer="adam", lr=0.02, max_epochs=600, engine="tape",
            progress=False)
    deep[act] = net
    with no_grad():
        ax.plot(xs, [net(float(v)).data for v in xs], color="#dc2626", lw=2, label="model ŷ(x)")
    ax.scatter(X1[:, 0], y1, s=12, color="#374151", label="training data")
    ax.set_title(f'activation="{act}"\n{len(net.parameters())} parameters, '
                 f"training MSE {h.train_loss[-1]:.4f}", fontsize=10)
    ax.set_xlabel("x")
    ax.legend(fontsize=8, loc="lower right")
axes[0].set_ylabel("y")
plt.tight_layout()
plt.show()

with no_grad():
    at0, at1 = deep["linear"](0.0).data, deep["linear"](1.0).data
print(f"the linear network, 3 hidden layers and {len(deep['linear'].parameters())} parameters, is the line "
      f"ŷ = {at1 - at0:.4f}·x + {at0:.4f}")

# %% [markdown]
# With ReLU the curve is **piecewise linear** (分段线性): each ReLU adds a kink where its z crosses 0.
# With sigmoid it bends smoothly. Without an activation, 169 parameters buy two numbers, a slope and
# an intercept. Exercise 3 below asks you to multiply the layers out yourself.
#
# *Question:* a ReLU network's curve is made of straight pieces. Where can its kinks be, and how
# many can a hidden layer of 8 ReLUs make on a line?

# %% [markdown]
# ## 3 · Each hidden layer's output is a new feature for the next (组合结果就是新的特征值，送到下一层)
#
# The notes: the sigmoid units' weighted sum "就是新的特征值，送到下一层去". Train a small network on
# the two moons and draw what every neuron computes over the input plane: each small picture is one
# aᵢˡ(x₁, x₂). The first layer can only cut the plane with straight lines (each ReLU is a ramp
# rising across one line); the second layer combines those ramps into bent regions; the output adds
# the second layer's features up into the decision boundary.

# %%
Xm, ym = make_moons(n=120, noise=0.1, seed=0)
features = MLP(2, [6, 6, 1], activation="relu", seed=0)
h = fit(features, Xm, ym, loss="binary_cross_entropy", optimizer="adam", lr=0.05, max_epochs=150,
        engine="batched", progress=False)
with no_grad():
    accuracy = np.mean([(features(list(x)).data > 0) == t for x, t in zip(Xm, ym)])
print(f"after {h.n_epochs} epochs: training loss {h.train_loss[-1]:.3f}, training accuracy {accuracy:.0%}")

g1, g2 = np.meshgrid(np.linspace(-1.6, 2.6, 36), np.linspace(-1.2, 1.7, 28))
with no_grad():
    traces = [features.forward_trace([float(a), float(b)]) for a, b in zip(g1.ravel(), g2.ravel())]
fig, axes = plt.subplots(3, 6, figsize=(11, 5.2))
for row in (0, 1):  # row 0: layer 1's neurons, row 1: layer 2's
    for i in range(6):
        ax = axes[row, i]
        grid = np.array([t[row].a[i].data for t in traces]).reshape(g1.shape)
        ax.contourf(g1, g2, grid, levels=12, cmap="viridis")
        ax.scatter(Xm[:, 0], Xm[:, 1], c=ym, s=3, cmap="coolwarm", alpha=0.6)
        dead = "  (off everywhere)" if grid.max() == 0 else ""
        ax.set_title(f"a{row + 1} neuron {i + 1}{dead}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
for i in range(6):
    axes[2, i].axis("off")
ax = axes[2, 2]
ax.axis("on")
out = np.array([t[-1].a[0].data for t in traces]).reshape(g1.shape)
ax.contourf(g1, g2, out, levels=12, cmap="coolwarm")
ax.contour(g1, g2, out, levels=[0], colors="k")
ax.scatter(Xm[:, 0], Xm[:, 1], c=ym, s=3, cmap="coolwarm", edgecolors="k", linewidths=0.2)
ax.set_title("output ŷ = W³a² + b³\n(black: ŷ = 0, the boundary)", fontsize=8)
ax.set_xticks([])
ax.set_yticks([])
ax.grid(False)
axes[2, 0].text(0, 0.5, "row 1: layer 1's features a¹\n(functions of x)\n\nrow 2: layer 2's features a²\n"
                "(functions of a¹)\n\nbottom: the output layer\nadds a² up", fontsize=9, va="center")
fig.suptitle("what each neuron computes over the input plane (each picture its own scale: yellow = its "
             "largest a, dark = 0)", fontsize=10)
plt.tight_layout()
plt.show()

# %% [markdown]
# *Question:* the first layer's pictures are all ramps with straight edges. Which pictures in the
# second row could not have been made by a single first-layer neuron, and why?

# %% [markdown]
# ## 4 · Mini-batches: serial updates, epochs and the batch losses L¹, L², L³ (批量, 回合, 更新)
#
# The notes: "batch 是指你训练集的一小部分数据 … 更新是串行的，不是并行 … 把所有的批量都看过一次，称为一个回合
# (epoch)，每一次更新参数叫做一次更新". A batch is a small part of the training set; each batch's
# gradient moves θ **before** the next batch is looked at; one pass over all batches is an epoch;
# each change of θ is an update. So updates = epochs × ⌈N / batch_size⌉.
#
# To draw it, take a model with only two parameters, ŷ = w·x + b (one linear `Neuron`), so the
# loss L(w, b) is a landscape we can draw as contours. N = 10 points, batch size 4: the batches
# hold 4, 4 and 2 points, so each epoch makes 3 updates. `keep_params=True` records θ⁰, θ¹, θ² …

# %%
rng = np.random.default_rng(0)
Xl = rng.uniform(0, 3, size=(10, 1))
yl = 1.5 * Xl[:, 0] - 1.0 + rng.normal(0, 0.3, size=10)
start = (-0.5, 2.0)  # θ⁰ = (w, b), the same for both runs


def loss_surface(w, b):
    """L(w, b): the MSE over all 10 points, the landscape both runs descend."""
    return mse([w * float(x) + b for x in Xl[:, 0]], yl.tolist())


runs = {}
for batch_size in (None, 4):
    neuron = Neuron(1, activation="linear", seed=0)
    neuron.w[0].data, neuron.b.data = start
    runs[batch_size] = fit(neuron, Xl, yl, loss="mse", optimizer="sgd", lr=0.1, max_epochs=8,
                           batch_size=batch_size, keep_params=True, tol=0.0, progress=False)
for batch_size, h in runs.items():
    print(f"batch_size={batch_size!s:>4}: {h.n_epochs} epochs × ⌈10 / {batch_size or 10}⌉ = {h.n_updates:2d} "
          f"updates; L over all 10 points at the end {h.train_loss[-1]:.4f}")
print("epoch 1's batch losses, each before its update: " +
      ", ".join(f"L{'¹²³'[k]} = {v:.3f}" for k, v in enumerate(runs[4].update_loss[:3])))

# %%
W, B = np.meshgrid(np.linspace(-0.8, 2.3, 60), np.linspace(-2.3, 2.4, 60))
with no_grad():
    L = np.array([[loss_surface(w, b).data for w, b in zip(ws, bs)] for ws, bs in zip(W, B)])
lowest = np.linalg.lstsq(np.column_stack([Xl[:, 0], np.ones(10)]), yl, rcond=None)[0]  # θ* of this L
small, full, per_epoch = np.array(runs[4].params), np.array(runs[None].params), 3

fig, axes = plt.subplots(1, 2, figsize=(11, 4.3), gridspec_kw={"width_ratios": [1.1, 1]})
ax = axes[0]
levels = np.quantile(L, np.linspace(0, 1, 16))  # as many lines in the valley as on the rim
filled = ax.contourf(W, B, L, levels=levels, cmap="Greys_r", alpha=0.4)
ax.contour(W, B, L, levels=levels, colors="k", linewidths=0.3)
fig.colorbar(filled, ax=ax, label="L(w, b): MSE over all 10 points", format="%.2g")
ax.plot(small[:, 0], small[:, 1], color="#f97316", lw=1.3, marker="o", ms=3,
        label=f"batch size 4: {len(small) - 1} updates")
ax.plot(full[:, 0], full[:, 1], color="#2563eb", lw=2, marker="s", ms=5,
        label=f"full batch: {len(full) - 1} updates")
ends = small[per_epoch::per_epoch]
ax.plot(ends[:, 0], ends[:, 1], ls="none", marker="D", ms=7, mfc="none", mec="k", mew=1.3,
        label="batch size 4: θ at the end of each epoch")
ax.plot(*start, marker="o", ms=10, color="#16a34a", mec="k", ls="none", label="start θ⁰ (both runs)")
ax.plot(*lowest, marker="*", ms=15, color="#facc15", mec="k", ls="none", label="θ*: the lowest L")
for k, offset in ((1, (-6, 9)), (2, (2, 9)), (3, (-22, -4))):
    ax.annotate(f"θ{'⁰¹²³'[k]}", small[k], textcoords="offset points", xytext=offset, fontsize=10,
                color="#9a3412", weight="bold")
ax.set_xlabel("w (slope)")
ax.set_ylabel("b (intercept)")
ax.set_title("8 epochs of SGD, lr 0.1, from the same θ⁰", fontsize=10)
ax.legend(fontsize=7.5, loc="lower left")

ax = axes[1]
mb, fb = runs[4], runs[None]
ax.plot(np.arange(len(mb.update_loss)) / per_epoch, mb.update_loss, ls="none", marker="o", ms=4,
        color="#f97316", label="batch size 4: its batch's loss, before each update")
ax.plot(np.arange(1, mb.n_epochs + 1), mb.train_loss, color="#f97316", lw=2,
        label="batch size 4: L over all 10 points, after each epoch")
ax.plot(np.arange(1, fb.n_epochs + 1), fb.train_loss, color="#2563eb", lw=2, marker="s", ms=5,
        label="full batch: L over all 10 points, after each epoch")
for k in range(3):
    ax.annotate(f"L{'¹²³'[k]}", (k / per_epoch, mb.update_loss[k]), textcoords="offset points", xytext=(5, 3),
                fontsize=10, color="#9a3412", weight="bold")
for e in range(1, mb.n_epochs + 1):
    ax.axvline(e, color="#6b7280", ls=":", lw=1)
ax.set_xlabel("epoch (dotted lines: epoch boundaries)")
ax.set_ylabel("loss (MSE)")
ax.set_title("the same runs over time", fontsize=10)
ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# Each mini-batch step goes downhill on **its batch's** loss, not on L: the orange path zig-zags
# where L¹, L², L³ disagree, and the batch losses (dots) jump from update to update because each
# is measured on different points (`fit` shuffles the rows every epoch, so the batches change too).
# For the same 80 looks at a point, the mini-batch run made 24 updates and the full batch 8, and
# the mini-batch run is much further down the valley towards θ*.
#
# *Question:* with batch size 1, how many updates does one epoch make here? What would the path
# look like?

# %% [markdown]
# ## 5 · SGD vs Adam, compared fairly (优化器)
#
# A comparison of two optimisers is only fair when nothing else differs. Both get the same model
# and starting weights, the same data, the same batches (batch size 32, the same shuffling seed),
# the same 40 epochs, and **each gets its own best learning rate**: each optimiser has its own
# scale of steps (Adam's step is about η in every coordinate; SGD's is η times the gradient), so
# one shared η would favour one of them. Both are tuned on the same grid of η, judged on a
# **validation** set the training never sees (lesson 7 says why not the test set).

# %%
Xo, yo = make_moons(n=200, noise=0.2, seed=1)
X_fit, X_val, y_fit, y_val = train_test_split(Xo, yo, test_fraction=0.3, seed=0)
grid = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
results = {}
with warnings.catch_warnings():  # large η end far worse than their best epoch: fit would warn
    warnings.simplefilter("ignore", TrainingWarning)
    for name, lr in [(name, lr) for name in ("sgd", "adam") for lr in grid]:
        net = MLP(2, [8, 8, 1], activation="relu", seed=0)
        results[name, lr] = fit(net, X_fit, y_fit, loss="binary_cross_entropy", optimizer=name, lr=lr,
                                max_epochs=40, batch_size=32, seed=0, validation=(X_val, y_val),
                                engine="batched", progress=False)
best = {name: min(grid, key=lambda lr, n=name: results[n, lr].val_loss[-1]) for name in ("sgd", "adam")}
for name in ("sgd", "adam"):
    final = results[name, best[name]].val_loss[-1]
    print(f"{name:>4}: best lr {best[name]}, final validation loss {final:.3f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
colors = {"sgd": "#2563eb", "adam": "#dc2626"}
for name in ("sgd", "adam"):
    finals = [results[name, lr].val_loss[-1] for lr in grid]
    axes[0].plot(grid, finals, marker="o", color=colors[name], label=name.upper())
    axes[0].plot([best[name]], [results[name, best[name]].val_loss[-1]], marker="*", ms=16,
                 color=colors[name], mec="k", ls="none")
    h = results[name, best[name]]
    axes[1].plot(range(1, h.n_epochs + 1), h.val_loss, color=colors[name], lw=2,
                 label=f"{name.upper()}, lr {best[name]}: validation")
    axes[1].plot(range(1, h.n_epochs + 1), h.train_loss, color=colors[name], lw=1, ls="--",
                 label=f"{name.upper()}, lr {best[name]}: training")
axes[0].set_xscale("log")
axes[0].set_xlabel("learning rate η (log scale)")
axes[0].set_ylabel("binary cross-entropy")
axes[0].set_title("validation loss after 40 epochs, per η (★ = each one's best)", fontsize=10)
axes[0].legend(fontsize=8)
axes[1].set_xlabel("epoch")
axes[1].set_title("each at its own best η, same everything else", fontsize=10)
axes[1].legend(fontsize=8)
axes[0].set_ylim(0, 1.0)
plt.tight_layout()
plt.show()

# %% [markdown]
# Each at its own best η, Adam gets further in the same 40 epochs, and it is good over a wider
# range of η (its curve on the left is lower over most of the grid): that is why it is the usual
# first choice. One run per η, so differences of a few hundredths are noise. And with one shared η, the
# same two optimisers could be made to look as different as you like: read off η = 0.001 or
# η = 3 on the left.
#
# *Question:* SGD crawls at small η and bounces about at large ones. Read off the left panel: over
# how many factors of 10 does each optimiser get below a validation loss of 0.4?

# %% [markdown]
# ## 6 · MSE vs cross-entropy, where they differ (均方误差, 交叉熵)
#
# The notes: regression uses mean squared error (均方误差), classification cross-entropy (交叉熵). On
# an easy dataset both classify well, so final accuracy cannot show the difference. It shows when
# the model is **confidently wrong**. One example of class 1 and the model's logit z (its raw
# score; the probability is σ(z)):
#
# * MSE on the probability: L = (σ(z) − 1)², ∂L/∂z = 2(σ(z) − 1)·σ(z)(1 − σ(z));
# * cross-entropy: L = −log σ(z), ∂L/∂z = σ(z) − 1.
#
# Both derivatives below are computed by `backward()` through the library's own losses.

# %%
zs = np.linspace(-10, 6, 161)
curves = {"MSE on σ(z)": ([], []), "cross-entropy": ([], [])}
for z in zs:
    for name, make in (("MSE on σ(z)", lambda v: mse([v.sigmoid()], [1.0])),
                       ("cross-entropy", lambda v: binary_cross_entropy([v], [1.0]))):
        v = Value(float(z))
        loss = make(v)
        loss.backward()
        curves[name][0].append(loss.data)
        curves[name][1].append(v.grad)

fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
for name, color in (("MSE on σ(z)", "#2563eb"), ("cross-entropy", "#dc2626")):
    axes[0].plot(zs, curves[name][0], color=color, lw=2, label=name)
    axes[1].plot(zs, curves[name][1], color=color, lw=2, label=name)
for ax in axes:
    ax.axvspan(-10, -3, color="#fde68a", alpha=0.5, label="confidently wrong: σ(z) < 0.05")
    ax.set_xlabel("logit z of an example whose true class is 1")
    ax.legend(fontsize=8)
axes[0].set_ylabel("loss L")
axes[0].set_title("the loss: MSE stays below 1, cross-entropy grows like −z", fontsize=10)
axes[1].set_ylabel("∂L/∂z (from backward())")
axes[1].set_title("the gradient: MSE's vanishes when confidently wrong", fontsize=10)
plt.tight_layout()
plt.show()

# %% [markdown]
# Where the model is most wrong (the yellow band), MSE's gradient is nearly 0: the sigmoid is flat
# there, and MSE multiplies by its slope. Gradient descent then barely moves. Cross-entropy's log
# cancels the sigmoid's flatness: its gradient stays near −1 — the more wrong, the firmer the push.
# Here is the consequence: a one-neuron classifier started confidently wrong (w = −4: it calls
# every point the opposite class), trained by plain SGD with the same η on both losses.

# %%
Xc = np.linspace(-2, 2, 40)[:, None]
yc = (Xc[:, 0] > 0).astype(float)


def mse_on_probability(logits, targets):
    """MSE between σ(logit) and the 0/1 label: a classifier trained like a regression."""
    return mse([z.sigmoid() for z in logits], targets)


fig, axes = plt.subplots(1, 2, figsize=(11, 3.3), sharex=True)
for loss, name, color in ((mse_on_probability, "MSE on σ(z)", "#2563eb"),
                          ("binary_cross_entropy", "cross-entropy", "#dc2626")):
    clf = Neuron(1, activation="linear", seed=0)  # z = w·x + b, the logit
    clf.w[0].data, clf.b.data = -4.0, 0.0
    weight, accuracy = [], []

    def record(history, clf=clf, weight=weight, accuracy=accuracy):
        weight.append(clf.w[0].data)
        with no_grad():
            accuracy.append(100 * np.mean([(clf([float(x)]).data > 0) == t for x, t in zip(Xc[:, 0], yc)]))

    fit(clf, Xc, yc, loss=loss, optimizer="sgd", lr=0.5, max_epochs=150, tol=0.0, callback=record,
        progress=False)
    epochs = range(0, len(weight) + 1)
    axes[0].plot(epochs, [-4.0, *weight], color=color, lw=2, label=name)
    axes[1].plot(epochs[1:], accuracy, color=color, lw=2, label=name)
axes[0].axhline(0, color="k", lw=1, ls="--", label="w = 0: the predictions flip")
axes[0].set_ylabel("the weight w")
axes[0].set_title("w, from −4 (confidently wrong), epoch by epoch", fontsize=10)
axes[1].set_ylabel("training accuracy (%)")
axes[1].set_ylim(-3, 103)
axes[1].set_title("training accuracy", fontsize=10)
for ax in axes:
    ax.set_xlabel("epoch (full batch, plain SGD, lr 0.5)")
    ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# *Question:* MSE does get there in the end. Why does it start so slowly, and why does it then
# speed up? (Look at the gradient panel above: where on the z axis does each point start?)

# %% [markdown]
# ## 7 · Softmax cross-entropy: three spiral arms
#
# With K classes the network has K outputs z₁ … z_K, one logit per class. Softmax turns them into
# probabilities pⱼ = e^{zⱼ} / Σₖ e^{zₖ}, and the loss of an example of class y is −log p_y
# (`losses.cross_entropy`, which takes the logits: no softmax before it). Three interleaved arms:

# %%
Xs, ys = make_spirals(n=180, arms=3, noise=0.05, seed=0)
Xs_train, Xs_test, ys_train, ys_test = train_test_split(Xs, ys, test_fraction=0.25, seed=0)
spiral = MLP(2, [16, 16, 3], activation="relu", seed=0)
h = fit(spiral, Xs_train, ys_train, loss="cross_entropy", optimizer="adam", lr=0.02, max_epochs=250,
        engine="batched", progress=False)
print(f"{h.n_epochs} epochs, training cross-entropy {h.train_loss[-1]:.4f}")

row, label = Xs_test[0].tolist(), int(ys_test[0])
with no_grad():
    logits = [v.data for v in spiral(row)]
probs = np.exp(np.array(logits) - max(logits))
probs /= probs.sum()
print(f"one test point of class {label}: logits {np.round(logits, 2)} → softmax {np.round(probs, 3)} "
      f"→ loss −log p_{label} = {-math.log(probs[label]):.4f}")

fig, ax = plt.subplots(figsize=(5.6, 5.4))
plot_decision_boundary(spiral, Xs_train, ys_train, ax=ax, resolution=45, X_test=Xs_test, y_test=ys_test)
plt.tight_layout()
plt.show()

# %% [markdown]
# *Question:* the three logits of a point can all be shifted by the same number without changing
# the softmax. What does that mean for the loss, and for its gradient?

# %% [markdown]
# ## 8 · The whole run, replayed
#
# `Replay` is a `fit` callback: after every epoch it keeps the weights, each gradient and Adam's
# running means. Shown here it is a page with a slider over the epochs and a play button: the
# decision boundary with the training (filled) and test (ringed) points, one picture per neuron of
# the first hidden layer (its output over the plane, as in section 3), the loss curves, and any
# parameter with its gradient and Adam's m and v. `replay.save("run.html")` writes it as one file.

# %%
Xr, yr = make_moons(n=100, noise=0.15, seed=2)
Xr_train, Xr_test, yr_train, yr_test = train_test_split(Xr, yr, test_fraction=0.25, seed=0)
net = MLP(2, [8, 8, 1], activation="relu", seed=0)
opt = Adam(net.parameters(), lr=0.05)
replay = Replay(net, Xr_train, yr_train, validation=(Xr_test, yr_test), optimizer=opt, max_snapshots=20,
                settings={"loss": "hinge", "batch size": "full"})
fit(net, Xr_train, yr_train, loss="hinge", optimizer=opt, max_epochs=40, engine="batched",
    validation=(Xr_test, yr_test), callback=replay, progress=False)
display(replay)  # in a notebook, the page itself; print(replay) says what it holds

# %% [markdown]
# *Question:* move the slider to the first epochs. Which first-layer neurons change the most, and
# does the boundary follow them?

# %% [markdown]
# ## Exercises
#
# Each cell below holds a stub: replace the `...` with your code and run the cell; the check
# under it says whether it is right, and gives a hint when it is not.
#
# **1. Serial mini-batch updates.** Write one epoch of plain SGD with the MSE loss over the rows
# *in their order*, in batches of `batch_size` (the last batch may be smaller). For each batch:
# its loss, the backward pass, the update `θ ← θ − η·∂L/∂θ`. Update `model` in place and return the
# batch losses [L¹, L², …], each taken **before** its update. (`mse` is imported above.)

# %%
from microgradlike.exercises.training import (
    check_linear_collapse,
    check_minibatch_epoch,
    check_softmax_cross_entropy,
)


def one_epoch(model, X, y, batch_size, lr):
    """X: a list of rows, y: a list of targets. Returns the batch losses, in order."""
    ...  # your code here


check_minibatch_epoch(one_epoch)

# %% [markdown]
# **2. Softmax cross-entropy for one row.** Given a row of logits (Values) and the true class id,
# return the Value −log softmax(z)_target, built with Value ops (`.exp()`, `.log()`, `+`, `-`) so
# that `backward()` reaches every logit. It must also work for logits like [1000, 0, −1000].

# %%
def softmax_cross_entropy(logits, target):
    """logits: a list of Values; target: the index of the true class."""
    ...  # your code here


check_softmax_cross_entropy(softmax_cross_entropy)

# %% [markdown]
# **3. A linear network is one layer.** Given the weight matrices Wˡ (numpy, shape (nout, nin):
# row i holds neuron i's weights) and biases bˡ of a network with linear activations, return the
# one layer (W, b) with W·x + b equal to the network's output for every x. `layer_matrices(model)`
# reads them from a model (numpy's `@` multiplies matrices).

# %%
from microgradlike.exercises.training import layer_matrices

weights, biases = layer_matrices(deep["linear"])
print("the linear network of section 2:", [w.shape for w in weights])


def collapse(weights, biases):
    """Returns (W, b)."""
    ...  # your code here


check_linear_collapse(collapse)
