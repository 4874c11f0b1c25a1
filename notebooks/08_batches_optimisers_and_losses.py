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
# # 8 · Training: mini-batches, optimisers and losses (批量, 回合, 更新, 优化器, 均方误差, 交叉熵)
#
# The notes sum training up in four steps, repeated (训练就是不断迭代前向传播 + 反向传播): forward,
# loss, backward, update. Lesson 7 opened up the forward pass of a multilayer perceptron. This
# lesson is about the choices in the other three: how much of the data one update looks at (a
# mini-batch), how the update turns the gradient into a step (SGD, momentum, Adam), and which loss
# the gradient is of (MSE, cross-entropy, hinge). It ends with a whole run replayed.

# %%
import math
import warnings

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from microgradlike import Value, no_grad
from microgradlike.data import make_moons, make_spirals, train_test_split
from microgradlike.losses import binary_cross_entropy, hinge, mse
from microgradlike.nn import MLP, Neuron
from microgradlike.optim import SGD, Adam
from microgradlike.plots import plot_batch_paths, plot_decision_boundary, plot_descent, plot_replay
from microgradlike.replay import Replay
from microgradlike.train import TrainingWarning, fit

plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})

# %% [markdown]
# ## 1 · Mini-batches: serial updates, epochs and the batch losses L¹, L², L³ (批量, 回合, 更新)
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
lowest = np.linalg.lstsq(np.column_stack([Xl[:, 0], np.ones(10)]), yl, rcond=None)[0]  # θ* of this L
left, right = plot_batch_paths(loss_surface, {"full batch": runs[None], "batch size 4": runs[4]},
                               bounds=[(-0.8, 2.3), (-2.3, 2.4)], optimum=lowest)
left.set(xlabel="w (slope)", ylabel="b (intercept)", title="8 epochs of SGD, lr 0.1, from the same θ⁰")
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
# ## 2 · The update: SGD, momentum and Adam (优化器)
#
# Plain SGD steps along the gradient of the batch at hand: θ ← θ − η·g. Two refinements were met
# on the way here. **Momentum** (lesson 5) steps along a fading sum of past gradients,
# v ← μ·v + g, θ ← θ − η·v. **Adam** (lesson 4) keeps two running means per parameter: m of its
# gradient, v of the gradient's square, and its whole update is three lines (t counts the steps):
#
# m ← β₁·m + (1 − β₁)·g
#
# v ← β₂·v + (1 − β₂)·g²
#
# θ ← θ − η·m̂ / (√v̂ + ε),  with m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ)
#
# m̂ and v̂ undo the start at m = v = 0 (without them the first steps would be too short). √v̂ is
# the typical size of that parameter's gradient, so each parameter's step is about η whatever
# its gradient's scale; at t = 1 it is η·g/(|g| + ε): η in every coordinate. The three lines,
# by hand, against `optim.Adam`, for three steps on lesson 3's line fit L(w, b):

# %%
X2 = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
Y2 = [2.03, 2.97, 4.13, 5.02, 5.91, 7.05]  # lesson 3's six points, roughly y = 2x + 1


def surface(w, b):
    """L(w, b) of the line w·x + b on the six points: a long, narrow valley."""
    return sum((w * x + b - y) ** 2 for x, y in zip(X2, Y2)) / len(X2)


beta1, beta2, eps, eta = 0.9, 0.999, 1e-8, 0.3
hand, lib = [Value(-1.0), Value(4.0)], [Value(-1.0), Value(4.0)]  # θ⁰ = (w, b), twice
adam = Adam(lib, lr=eta, betas=(beta1, beta2), eps=eps)
m, v = [0.0, 0.0], [0.0, 0.0]
for t in (1, 2, 3):
    for theta in (hand, lib):
        for p in theta:
            p.grad = 0.0
        surface(*theta).backward()
    for i, p in enumerate(hand):
        g = p.grad
        m[i] = beta1 * m[i] + (1 - beta1) * g  # m ← β₁·m + (1 − β₁)·g
        v[i] = beta2 * v[i] + (1 - beta2) * g * g  # v ← β₂·v + (1 − β₂)·g²
        p.data -= eta * (m[i] / (1 - beta1**t)) / (math.sqrt(v[i] / (1 - beta2**t)) + eps)  # the step
    adam.step()
    print(f"t = {t}: θ = ({hand[0].data:+.4f}, {hand[1].data:+.4f}), m = ({m[0]:+.3f}, {m[1]:+.3f}), "
          f"v = ({v[0]:.3f}, {v[1]:.3f})")
print("by hand == optim.Adam:", [p.data for p in hand] == [p.data for p in lib], "| its m:",
      [round(x, 3) for x in adam.m], "its v:", [round(x, 3) for x in adam.v])

# %% [markdown]
# The first step moved both w and b by η = 0.3 (to the digits printed), though ∂L/∂w and ∂L/∂b
# differ. Now the three optimisers on that valley, from the same θ⁰ = (−1, 4), 60 steps each, each
# with a learning rate that suits it (a fair race needs more care: the next section):

# %%
def path(optimizer, steps=60):
    """θ⁰, θ¹, … of `steps` updates of `optimizer` (given the two parameters) on the surface."""
    theta = [Value(-1.0), Value(4.0)]
    opt = optimizer(theta)
    points = [tuple(p.data for p in theta)]
    for _ in range(steps):
        opt.zero_grad()
        surface(*theta).backward()
        opt.step()
        points.append(tuple(p.data for p in theta))
    return points


fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), sharey=True)
for ax, (name, optimizer) in zip(axes, (
        ("SGD, η = 0.15", lambda theta: SGD(theta, lr=0.15)),
        ("SGD with momentum μ = 0.9, η = 0.03", lambda theta: SGD(theta, lr=0.03, momentum=0.9)),
        ("Adam, η = 0.3", lambda theta: Adam(theta, lr=0.3)))):
    points = path(optimizer)
    plot_descent(surface, points, ax=ax, bounds=[(-1.5, 3.5), (-1.0, 5.5)], label="L(w, b)")
    end = surface(*(Value(t) for t in points[-1])).data
    print(f"{name:>36}: after 60 steps θ = ({points[-1][0]:.3f}, {points[-1][1]:.3f}), L = {end:.4f}")
    ax.set(xlabel="w", ylabel="b" if ax is axes[0] else "", title=f"{name}\n60 steps: L = {end:.4f}")
    ax.title.set_fontsize(10)
    ax.legend(fontsize=7, loc="lower left")
plt.tight_layout()
plt.show()

# %% [markdown]
# SGD's steps point mostly across the valley (lesson 3's zig-zag, clear in its first steps), so it
# creeps along it: after 60 steps it is still short of the bottom. Momentum's sum cancels the
# across-valley part (those gradients change sign from step to step) and builds up speed along the
# valley, where they agree; it overshoots the bottom, and swings back. Adam's first steps go
# diagonally, η in each coordinate, whatever the gradient's proportions; then m, a running mean,
# turns with the valley.
#
# *Question:* Adam's step is about η in size for every parameter. Why can that be a problem near
# the bottom, where the gradient goes to 0, and what in the three lines lets the step shrink?

# %% [markdown]
# ## 3 · SGD vs Adam, compared fairly
#
# A comparison of two optimisers is only fair when nothing else differs. Both get the same model
# and starting weights, the same data, the same batches (batch size 32, the same shuffling seed),
# the same 40 epochs, and **each gets its own best learning rate**: each optimiser has its own
# scale of steps (Adam's step is about η in every coordinate; SGD's is η times the gradient), so
# one shared η would favour one of them. Both are tuned on the same grid of η, judged on a
# **validation** set the training never sees (lesson 9 says why not the test set).
#
# Each run here computes its gradients with `engine="batched"`: `fit` traces the network's graph
# for one sample once and replays it with numpy on the whole batch at once. The numbers are those
# of the Value graphs you know (to rounding), many times faster; lesson 10 opens it up.

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
    print(f"{name:>4}: best lr {best[name]}, final validation loss {final:.3f} (the loss that chose it)")

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
colors = {"sgd": "#2563eb", "adam": "#dc2626"}
shown = {"sgd": "SGD", "adam": "Adam"}  # the optimisers as the lessons name them
for name in ("sgd", "adam"):
    finals = [results[name, lr].val_loss[-1] for lr in grid]
    axes[0].plot(grid, finals, marker="o", color=colors[name], label=shown[name])
    axes[0].plot([best[name]], [results[name, best[name]].val_loss[-1]], marker="*", ms=16,
                 color=colors[name], mec="k", ls="none")
    h = results[name, best[name]]
    axes[1].plot(range(1, h.n_epochs + 1), h.val_loss, color=colors[name], lw=2,
                 label=f"{shown[name]}, lr {best[name]}: validation")
    axes[1].plot(range(1, h.n_epochs + 1), h.train_loss, color=colors[name], lw=1, ls="--",
                 label=f"{shown[name]}, lr {best[name]}: training")
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
# The validation loss printed for each best η is the very number that picked it, so it flatters the
# winner a little: to report how good the chosen setting is, a test set is needed (lesson 9).
#
# Each at its own best η, Adam gets further in the same 40 epochs, and it is good over a wider
# range of η (its curve on the left is lower over most of the grid): that is why it is the usual
# first choice. One run per η, so differences of a few hundredths are noise. And with one shared η, the
# same two optimisers could be made to look as different as you like: read off η = 0.001 or
# η = 3 on the left.
#
# *Question:* SGD crawls at small η and bounces about at large ones. Read off the left panel: over
# how many factors of 10 does each optimiser get below a validation loss of 0.4?

# %% [markdown]
# ## 4 · MSE, cross-entropy and hinge, where they differ (均方误差, 交叉熵)
#
# The notes: regression uses mean squared error (均方误差), classification cross-entropy (交叉熵). On
# an easy dataset both classify well, so final accuracy cannot show the difference. It shows when
# the model is **confidently wrong**. One example of class 1 and the model's logit z (its raw
# score; the probability is σ(z)):
#
# * MSE on the probability: L = (σ(z) − 1)², ∂L/∂z = 2(σ(z) − 1)·σ(z)(1 − σ(z));
# * cross-entropy: L = −log σ(z), ∂L/∂z = σ(z) − 1.
#
# A third loss for classification, used by this lesson's replay and by lesson 10, is the
# **hinge** (`losses.hinge`). Its targets are t = ±1 (a 0/1 label y becomes t = 2y − 1) and the
# model's output s is a score, not a probability:
#
# * hinge: L = max(0, 1 − t·s), ∂L/∂s = −t while t·s < 1, and 0 once t·s ≥ 1.
#
# It is 0 for an example on its side of the boundary by a **margin** of at least 1, and grows in a
# straight line the further the example is from that. So it stops pushing the examples it already
# gets right by the margin, and pushes every other one equally hard. At the margin, t·s = 1, it has
# a kink; the engine takes the flat side's slope, 0 (lesson 1's relu convention: the hinge is
# relu(1 − t·s)). All three derivatives below are computed by `backward()` through the library's
# own losses.

# %%
zs = np.linspace(-10, 6, 161)
losses = {"MSE on σ(z)": lambda v: mse([v.sigmoid()], [1.0]),
          "cross-entropy": lambda v: binary_cross_entropy([v], [1.0]),
          "hinge": lambda v: hinge([v], [1.0])}
curves = {name: ([], []) for name in losses}
for z in zs:
    for name, make in losses.items():
        v = Value(float(z))
        loss = make(v)
        loss.backward()
        curves[name][0].append(loss.data)
        curves[name][1].append(v.grad)

fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
for name, color in (("MSE on σ(z)", "#2563eb"), ("cross-entropy", "#dc2626"), ("hinge", "#16a34a")):
    axes[0].plot(zs, curves[name][0], color=color, lw=2, label=name)
    axes[1].plot(zs, curves[name][1], color=color, lw=2, label=name)
for ax in axes:
    ax.axvspan(-10, -3, color="#fde68a", alpha=0.5, label="confidently wrong: σ(z) < 0.05")
    ax.axvline(1, color="#16a34a", ls=":", lw=1.2, label="the hinge's margin, z = 1")
    ax.set_xlabel("output z of an example whose true class is 1 (t = +1)")
    ax.legend(fontsize=8)
axes[0].set_ylabel("loss L")
axes[0].set_title("the loss: MSE stays below 1; cross-entropy and hinge grow like −z", fontsize=10)
axes[1].set_ylabel("∂L/∂z (from backward())")
axes[1].set_title("the gradient: MSE's vanishes when confidently wrong", fontsize=10)
plt.tight_layout()
plt.show()

# %% [markdown]
# Where the model is most wrong (the yellow band), MSE's gradient is nearly 0: the sigmoid is flat
# there, and MSE multiplies by its slope. Gradient descent then barely moves. Cross-entropy's log
# cancels the sigmoid's flatness: its gradient stays near −1 — the more wrong, the firmer the push.
# The hinge's is exactly −1 until the margin, then exactly 0: cross-entropy never quite stops
# pushing, the hinge does.
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
# ## 5 · Softmax cross-entropy: three spiral arms
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
# ## 6 · The whole run, replayed
#
# `Replay` is a `fit` callback: after every epoch it keeps the weights, each gradient and Adam's
# running means. Shown here it is a page with a slider over the epochs and a play button: the
# decision boundary with the training (filled) and test (ringed) points, one picture per neuron of
# the first hidden layer (its output over the plane, as in lesson 7), the loss curves, and any
# parameter with its gradient and Adam's m and v. `replay.save("run.html")` writes it as one file.
# The run trains with the hinge loss (section 4), its 0/1 labels read as −1/+1. The page needs a
# live kernel; under it, `plot_replay` draws the run's end as a picture: the boundary, the losses,
# and one weight's gradient with Adam's m and √v at each recorded epoch. The held-out points here
# only measure (no choice is made on them), so the call says `held_out="test"`: the page, the
# picture and fit's messages call them test points (by default they are "validation" points).

# %%
Xr, yr = make_moons(n=100, noise=0.15, seed=2)
Xr_train, Xr_test, yr_train, yr_test = train_test_split(Xr, yr, test_fraction=0.25, seed=0)
net = MLP(2, [8, 8, 1], activation="relu", seed=0)
opt = Adam(net.parameters(), lr=0.05)
replay = Replay(net, Xr_train, yr_train, validation=(Xr_test, yr_test), optimizer=opt, max_snapshots=20,
                settings={"loss": "hinge", "batch size": "full"})
fit(net, Xr_train, yr_train, loss="hinge", optimizer=opt, max_epochs=40, engine="batched",
    validation=(Xr_test, yr_test), held_out="test", callback=replay, progress=False)
display(replay)  # in a notebook, the page itself; print(replay) says what it holds
plot_replay(replay, parameter="layers.0.neurons.0.w.0")
plt.tight_layout()
plt.show()

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
from microgradlike.exercises.training import check_minibatch_epoch, check_softmax_cross_entropy


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
