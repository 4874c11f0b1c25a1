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
# # 4 · Sigmoids: past a line, corners by hand, a hidden layer (Sigmoid 函数, Hard Sigmoid, 超参数)
#
# A straight line y = w·x + b can only ever be straight. The lecture these notes follow starts
# there: fit a line to a curve with corners, watch it fail, and only then build something that
# bends, from pieces: a constant plus one S-shaped step per corner. One such step is a **sigmoid
# unit**
#
# y = c·σ(b + w·x),   σ(t) = 1 / (1 + e⁻ᵗ)
#
# and the notes name its three knobs: "不同的w，改变斜率；不同的b，改变偏移；不同的c，改变高度" —
# w changes the slope, b the shift, c the height.

# %%
import graphviz
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from microgradlike import Value, no_grad
from microgradlike.data import piecewise_linear
from microgradlike.nn import MLP, Neuron, SigmoidSum, SigmoidUnit, hard_sigmoid
from microgradlike.plots import plot_fit_1d
from microgradlike.train import fit
from microgradlike.viz import draw_dot

graphviz.set_jupyter_format("png")
plt.rcParams.update({"figure.dpi": 96, "axes.grid": True, "grid.alpha": 0.3})


def curve(model, xs):
    """A model's output at each x, as plain numbers (no graph is built)."""
    with no_grad():
        return np.array([model(float(x)).data for x in xs])


# %% [markdown]
# ## A straight line fails: model bias
#
# The target of this lesson is piecewise linear (分段线性): straight pieces joined at corners,
# 80 points of it. The simplest model, a line ŷ = w·x + b (one linear `Neuron`), trained by
# gradient descent as in lesson 3 until the gradient is under the tolerance:

# %%
KNOTS = ((-2.0, 0.0), (-1.0, 1.0), (0.5, -0.5), (1.5, 0.5), (2.0, 0.5))
X, y = piecewise_linear(n=80, knots=KNOTS, seed=0)
kx, ky = np.array(KNOTS).T


def mse_of(model):
    """The model's mean squared error on the 80 points."""
    return float(np.mean((curve(model, X[:, 0]) - y) ** 2))


straight = Neuron(1, activation="linear", seed=0)
history = fit(straight, X, y, loss="mse", optimizer="sgd", lr=0.3, tol=1e-6, max_epochs=2000, progress=False)
print(f"{history.message}\nthe best line: ŷ = {straight.w[0].data:.3f}·x + {straight.b.data:.3f}, "
      f"mean squared error {mse_of(straight):.4f}")

grid = np.linspace(kx[0], kx[-1], 201)
fig, ax = plt.subplots(figsize=(7.5, 3.6))
ax.scatter(X[:, 0], y, s=14, color="#374151", alpha=0.6, label="target data")
ax.plot(grid, curve(straight, grid), color="#dc2626", lw=2.5,
        label=f"the best line ŷ = w·x + b: MSE {mse_of(straight):.3f}")
ax.plot(kx, ky, "s", color="k", ms=6, label="corners")
ax.set(xlabel="x", ylabel="y", title="no line follows the corners, however long it trains")
ax.legend(fontsize=8, loc="lower left")
plt.show()

# %% [markdown]
# Training did its job: the gradient is 0 (to the tolerance), so this is the best line there is
# for these points, and it is still far off. No choice of w and b can bend it. The lecture calls
# this **model bias**: the family of functions the model can be is too narrow for the target,
# and no amount of training fixes that; only a more flexible model does.
#
# ## The three knobs, including w < 0
#
# The unit's centre is where b + w·x = 0, at **x = −b/w**: there σ = 1/2, so y = c/2, and the
# slope is c·w/4 (σ' = σ(1 − σ) = 1/4 at the centre). So w sets how steep the step is *and which
# way it goes*; b moves the centre (with w > 0, **b > 0 moves the curve left**: the centre −b/w is
# negative); c sets the height of the step. The dot on each curve is its centre.

# %%
xs = np.linspace(-6, 6, 241)
panels = [
    ("w", [2.0, 0.5, -0.5, -2.0], "w: slope and direction (b = 0, c = 1)"),
    ("b", [-2.0, 0.0, 2.0], "b: shift; b > 0 moves it left (w = 1, c = 1)"),
    ("c", [0.5, 1.0, 2.0], "c: height (w = 1, b = 0)"),
]
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), sharey=True)
for ax, (knob, values, title) in zip(axes, panels):
    for value in values:
        knobs = {"w": 1.0, "b": 0.0, "c": 1.0, knob: value}
        centre = -knobs["b"] / knobs["w"] + 0.0  # + 0.0: no "−0"
        says = {"w": f"{'rises' if value > 0 else 'falls'}, slope {value / 4:g} at the centre",
                "b": f"centre x = −b/w = {centre:g}", "c": f"levels off at {value:g}"}[knob]
        line = ax.plot(xs, curve(SigmoidUnit(**knobs), xs), lw=2, label=f"{knob} = {value:g}: {says}")
        ax.plot([centre], [knobs["c"] / 2], "o", color=line[0].get_color(), mec="k")
    ax.set(title=title, xlabel="x")
    ax.legend(fontsize=8, loc="upper left")
axes[0].set_ylabel("y = c·σ(b + w·x)")
plt.tight_layout()
plt.show()

# %% [markdown]
# The notes: "如果 x1 的值，趋近于无穷大的时候 … e^−(b+wx1) 会趋近于0 … 函数就会收敛在高度为 c 的地方。
# 如果 x1 负的非常大的时候 … 函数的值就会趋近于 0" — as x → +∞ the curve levels off at c, as
# x → −∞ it goes to 0. That is true **for w > 0 only**. With w < 0, b + w·x → −∞ as x → +∞, so
# e^−(b+wx) blows up and y → 0 on the right, while y → c on the left: the step falls instead of
# rising. The far ends, numerically:

# %%
for w in (1.0, -1.0):
    unit = SigmoidUnit(w=w, b=0.0, c=2.0)
    print(f"w = {w:+}: y(x = −30) = {unit(-30.0).data:.3g},  y(x = +30) = {unit(30.0).data:.3g}  (c = 2)")

# %% [markdown]
# **Question.** With w = −1, which b puts the centre at x = 3? Does b > 0 move *this* curve left?

# %% [markdown]
# ## The target's corners, by hand, with hard sigmoids
#
# Back to the target with its corners. The lecture's
# recipe: start from a constant, the height at the left end, and add one **hard sigmoid** per
# piece — a ramp that is 0 before the piece, climbs (or falls) across it, and stays flat after —
# placed exactly at that piece's corners.
#
# And a hard sigmoid is two ReLUs (2 个 ReLU 才能够合成一个 Hard Sigmoid): relu(x) − relu(x − 1) is 0
# left of 0, rises with slope 1, and is cancelled back to flat at 1: the clipped line clip(x, 0, 1).

# %%
grid = np.linspace(-1.5, 2.5, 161)
hard = np.array([hard_sigmoid(Value(x)).data for x in grid])
print("largest difference from clip(x, 0, 1):", np.abs(hard - np.clip(grid, 0, 1)).max())

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(grid, np.maximum(grid, 0), "--", color="#2563eb", label="relu(x)")
ax.plot(grid, -np.maximum(grid - 1, 0), "--", color="#f97316", label="−relu(x − 1)")
ax.plot(grid, hard, color="k", lw=3, label="their sum: hard_sigmoid(x)")
ax.set(xlabel="x", ylabel="y", title="two ReLUs make one hard sigmoid")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Now the target, through five corners, and the pieces placed by hand: for the piece from corner
# (x₀, y₀) to corner (x₁, y₁), the ramp (y₁ − y₀)·hard_sigmoid((x − x₀)/(x₁ − x₀)).

# %%
def ramp(x, k):
    """Piece k of the target, as one hard sigmoid placed at its corners."""
    return (ky[k + 1] - ky[k]) * hard_sigmoid((x - kx[k]) / (kx[k + 1] - kx[k]))


def by_hand(x):
    return ky[0] + sum(ramp(x, k) for k in range(len(KNOTS) - 1))


grid = np.linspace(kx[0], kx[-1], 201)
built = np.array([by_hand(Value(x)).data for x in grid])
print("largest difference from the target:", np.abs(built - np.interp(grid, kx, ky)).max())

fig, ax = plt.subplots(figsize=(8, 4.2))
ax.scatter(X[:, 0], y, s=14, color="#374151", alpha=0.6, label="target data")
ax.axhline(ky[0], color="#6b7280", ls=":", label=f"constant = {ky[0]:g}")
for k in range(len(KNOTS) - 1):
    ax.plot(grid, [ramp(Value(x), k).data for x in grid], "--", lw=1.3,
            label=f"piece {k + 1}: ramp of {ky[k + 1] - ky[k]:+g} from x = {kx[k]:g} to {kx[k + 1]:g}")
ax.plot(grid, built, color="#dc2626", lw=2.5, label="constant + the four ramps")
ax.plot(kx, ky, "s", color="k", ms=6, label="corners")
ax.set(xlabel="x", ylabel="y", title="the target rebuilt from hard sigmoids placed at its corners")
ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)
plt.show()

# %% [markdown]
# The last piece is flat: its ramp has height 0 and contributes nothing. So three units are enough.
#
# Can smooth sigmoids do the same by hand? Take the obvious recipe: for each piece that climbs or
# falls, a sigmoid unit centred on the middle m of the piece, as high as the piece's rise Δy, and
# as steep at its centre as the piece (c·w/4 = Δy/Δx gives w = 4/Δx), b = −w·m. Set by hand into
# the notes' model `SigmoidSum(3)`, y = b + Σᵢ cᵢ·σ(bᵢ + wᵢ·x):

# %%
pieces = [k for k in range(len(KNOTS) - 1) if ky[k + 1] != ky[k]]
hand_made = SigmoidSum(len(pieces))
hand_made.b.data = ky[0]
for unit, k in zip(hand_made.units, pieces):
    width, middle = kx[k + 1] - kx[k], (kx[k] + kx[k + 1]) / 2
    unit.w.data = 4 / width
    unit.b.data = -unit.w.data * middle
    unit.c.data = ky[k + 1] - ky[k]
    print(f"piece {k + 1}: {unit}, centre x = {middle:g}")


print(f"mean squared error on the data: {mse_of(hand_made):.4f} (the best line's: {mse_of(straight):.4f})")
peak = int(np.argmax(curve(hand_made, grid)))
print(f"its highest point: {curve(hand_made, grid)[peak]:.2f} at x = {grid[peak]:.2f}; "
      f"the target's corner there is at {np.interp(grid[peak], kx, ky):.2f}")

# %% [markdown]
# It bends, but it is not the target with rounded corners: it falls well short of the corners
# (the left panel of the figure below). A hard sigmoid is flat outside its piece; a sigmoid never
# quite is: each unit's tails reach into its neighbours' pieces, and where a rise meets a fall
# they cancel. Placing smooth units by hand means allowing for all that overlap at once.
#
# ## Training finds them by itself
#
# "神经网络不是人为切段的，而是让模型自己学习每个 Sigmoid 单元的中心位置、斜率、偏移量" — nobody
# needs to cut the x axis: start three units at random and let gradient descent move their knobs.
# "多个 Sigmoid 单元，是同时处理输入" — every unit sees every x, all at once, and nothing tells a unit
# which piece is its own.
#
# The descent here is **Adam**, plain gradient descent with two running averages per parameter.
# With g the parameter's gradient at step t = 1, 2, …:
#
# m ← β₁·m + (1 − β₁)·g,  v ← β₂·v + (1 − β₂)·g²,  θ ← θ − η·m̂ / (√v̂ + ε)
#
# m is a running mean of the gradient (it keeps the direction the steps have been going; lesson 5
# meets the same idea as momentum), v a running mean of its square (its typical size), and
# m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ) undo their start at 0 (β₁ = 0.9, β₂ = 0.999, ε = 10⁻⁸). So each
# parameter steps about η, whatever the scale of its gradient: a knob with a tiny gradient moves as
# fast as one with a large one. Lesson 8 compares it with plain SGD.

# %%
trained = SigmoidSum(3, seed=0)
history = fit(trained, X, y, loss="mse", optimizer="adam", lr=0.05, max_epochs=1500, progress=False)
print(f"trained: mean squared error {history.train_loss[-1]:.4f} after {history.n_epochs} epochs "
      f"({history.stopped_because}); by hand: {mse_of(hand_made):.4f}")
print("centres −b/w learned:", sorted(round(-u.b.data / u.w.data, 2) for u in trained.units))
print("middles of the pieces:", sorted(float(kx[k] + kx[k + 1]) / 2 for k in pieces))

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.4), sharey=True)
plot_fit_1d(hand_made, X, y, ax=left)
left.set_title(f"by hand: one unit per piece, MSE {mse_of(hand_made):.4f}")
plot_fit_1d(trained, X, y, ax=right)
right.set_title(f"trained from a random start, MSE {mse_of(trained):.4f}")
for ax in (left, right):
    ax.legend(fontsize=7, loc="lower left")
plt.tight_layout()
plt.show()

# %% [markdown]
# Training put the three centres close to the middles of the three pieces, but it did not copy
# our heights and slopes: its units are wider and taller, and where they overlap their sum bends
# more sharply than our three separate steps. Its fit is about ten times closer than ours.
#
# **Question.** The trained units come in another order than the pieces. Why does the order not
# matter for the loss?

# %% [markdown]
# ## How many sigmoids? A hyperparameter (超参数)
#
# "Sigmoid 的数量是由自己决定的 … Sigmoid 越多可以产生有越多段线的分段线性函数 … Sigmoid 的数量也是一个
# 超参数" — the number of units is ours to choose, before training: a hyperparameter. The same
# training (Adam, lr 0.05, 1500 epochs, seed 0) for n = 1, 2, 3, 4, 8:

# %%
counts = (1, 2, 3, 4, 8)
fits = {}
for n in counts:
    model = SigmoidSum(n, seed=0)
    fit(model, X, y, loss="mse", optimizer="adam", lr=0.05, max_epochs=1500, progress=False)
    fits[n] = model
    print(f"n = {n}: mean squared error {mse_of(model):.5f}")

# %%
fig, axes = plt.subplots(1, len(counts) + 1, figsize=(15, 3.4),
                         gridspec_kw={"width_ratios": [1] * len(counts) + [1.2]})
grid = np.linspace(kx[0], kx[-1], 200)
for ax, n in zip(axes, counts):
    ax.scatter(X[:, 0], y, s=6, color="#374151", alpha=0.5)
    ax.plot(grid, curve(fits[n], grid), color="#dc2626", lw=2)
    ax.set(title=f"n = {n}: MSE {mse_of(fits[n]):.4f}", xlabel="x", ylim=(-1.0, 1.4))
    if n != counts[0]:
        ax.tick_params(labelleft=False)
axes[0].set_ylabel("y")
axes[-1].semilogy(counts, [mse_of(fits[n]) for n in counts], "o-", color="k")
axes[-1].set(xlabel="n (number of sigmoids)", ylabel="MSE (log scale)", xticks=counts,
             title="error against n")
plt.tight_layout()
plt.show()

# %% [markdown]
# One unit makes one step, two make two: neither can follow three pieces that climb or fall. With
# three, the error drops about twentyfold; with four or eight it hardly changes: the three pieces
# are covered, and what is left is the rounding of the corners. More units are not free: more
# parameters, more time, and (lesson 9) more room to overfit.
#
# **Question.** n = 4 is not better than n = 3 here. What would the fourth unit need to do to help,
# and why might training not find it?

# %% [markdown]
# ## A sum of sigmoids is a network with one hidden layer (单隐藏层)
#
# "这个图只有一层隐藏层：输入 x → 线性变换 → 激活函数 → 加权求和 → 输出 y" — one hidden layer: input
# x → linear transform → activation → weighted sum → output y. That is exactly `SigmoidSum(n)`:
# each unit's b + w·x is a **neuron**'s linear part (神经元), σ its activation (激活函数), and the
# output is a weighted sum, c₁·a₁ + … + cₙ·aₙ + b, with no activation: the last layer is linear.
# In microgradlike's terms, `SigmoidSum(n)` is `MLP(1, [n, 1], activation="sigmoid")`. Copy the
# trained knobs into an MLP and compare:

# %%
net = MLP(1, [3, 1], activation="sigmoid", seed=0)
hidden, output = net.layers  # a row of neurons (a hidden layer), then the linear output layer
for neuron, unit, k in zip(hidden.neurons, trained.units, range(3)):
    neuron.w[0].data, neuron.b.data = unit.w.data, unit.b.data  # zᵢ = wᵢ·x + bᵢ,  aᵢ = σ(zᵢ)
    output.neurons[0].w[k].data = unit.c.data  # ŷ = Σᵢ cᵢ·aᵢ + b
output.neurons[0].b.data = trained.b.data
grid = np.linspace(-3, 3, 601)
print("largest difference on 601 points:", np.abs(curve(net, grid) - curve(trained, grid)).max())
print("parameters:", len(trained.parameters()), "and", len(net.parameters()), "(3n + 1 for n = 3)")
print("hidden layer:", hidden, "\noutput layer:", output)

# %% [markdown]
# Its graph at x = 0.5, the parameters grouped by neuron and by layer: three sigmoid neurons side
# by side, each reading x (zᵢ = wᵢ·x + bᵢ, aᵢ = σ(zᵢ)), and one linear output neuron summing them.
# `forward_trace` hands back every layer's z and a, so we can name them in the picture.

# %%
hidden_trace, output_trace = net.forward_trace(Value(0.5, label="x"))
for i, (z_i, a_i) in enumerate(zip(hidden_trace.z, hidden_trace.a), start=1):
    z_i.label, a_i.label = f"z{i}", f"a{i}"
y_hat = output_trace.a[0]
y_hat.label = "ŷ"
picture = draw_dot(y_hat, params=net, show_grad=False, edge_labels=False)
picture.graph_attr["remincross"] = "false"  # keep each box's inputs in order: w.0, w.1, w.2, b
display(picture)

# %% [markdown]
# ## Exercises
#
# **1. Three knobs.** Choose w, b and c so that c·σ(b + w·x) **falls** from height 2 (far left) to
# 0 (far right), is at half height at x = 1, and has slope −1 there.

# %%
from microgradlike.exercises.sigmoids import check_sigmoid_knobs

w, b, c = ..., ..., ...  # your numbers
check_sigmoid_knobs(w, b, c)

# %% [markdown]
# **2. Two ReLUs make a ramp.** Write `ramp_exercise(x)` for the Value x with exactly two `relu` ops (and
# + − × /): 0 for x ≤ 1, climbing in a straight line to 3 at x = 2, and 3 from there on.

# %%
from microgradlike.exercises.sigmoids import check_ramp


def ramp_exercise(x):
    ...  # your code


check_ramp(ramp_exercise)

# %% [markdown]
# **3. The corners by hand.** Build the piecewise-linear curve through these corners as a
# constant plus hard sigmoids (`hard_sigmoid`, or relus), as above. Only the part between the
# first and the last corner is checked.

# %%
from microgradlike.exercises.sigmoids import BENDS_KNOTS, check_bends

print("corners:", BENDS_KNOTS)


def bends(x):
    ...  # your code


check_bends(bends)
