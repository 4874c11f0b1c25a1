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
# # 3 · Gradient descent (梯度下降, 学习率, 容忍阈值)
#
# The notes: "梯度（gradient）本身指向的是损失函数增长最快的方向，而我们做梯度下降是为了让损失变小，
# 所以必须往反方向走" — the gradient points the way the loss grows fastest; to make the loss smaller
# we go the other way. One step of gradient descent is
#
# θ¹ = θ⁰ − η·∇L(θ⁰)
#
# with η the **learning rate** (学习率). The superscripts count the iterations (迭代轮次): θ⁰ is
# where we start, θ¹ after one update, θ² after two. This lesson runs that rule and looks at
# everything that can happen: the sign of the gradient, η too small or too large, the tolerance
# (容忍阈值), a local minimum (局部极小值), a plateau (平坦区), and the path across an error surface.

# %%
import matplotlib.pyplot as plt
import numpy as np

from microgradlike import Value, grad
from microgradlike.nn import Neuron
from microgradlike.plots import plot_descent
from microgradlike.train import fit, gradient_descent

plt.rcParams.update({"figure.dpi": 96, "axes.grid": True, "grid.alpha": 0.3})

xs = [1.0, 2.0, 3.0]
ys = [2.0, 4.1, 5.9]  # lesson 1's three points, roughly y = 2x


def loss(w):  # L(w) = mean of (w·x − y)², the loss of f_w(x) = w·x
    return sum((w * x - y) ** 2 for x, y in zip(xs, ys)) / len(xs)


# %% [markdown]
# ## The sign of the gradient
#
# - 梯度正 → 上坡在正方向 → w 变小: a positive gradient means uphill is to the right, so the step
#   goes left and **w gets smaller**;
# - 梯度负 → 上坡在负方向 → w 变大: a negative gradient means uphill is to the left, so the step
#   goes right and **w gets larger**.
#
# Below, the tangent at two points, one on each side of the bottom, and the step −η·dL/dw that
# descent takes from each (η = 0.05).

# %%
eta = 0.05
ws = np.linspace(-0.5, 4.5, 200)
fig, ax = plt.subplots(figsize=(8, 4.2))
ax.plot(ws, [loss(v) for v in ws], color="k", lw=2, label="L(w)")
for w0, colour in ((3.6, "#dc2626"), (0.4, "#2563eb")):
    (slope,) = grad(loss)(w0)
    w1 = w0 - eta * slope
    span = np.array([-0.6, 0.6])
    ax.plot(w0 + span, loss(w0) + slope * span, color=colour, lw=1.5, ls="--")
    ax.plot([w0], [loss(w0)], "o", color=colour)
    ax.annotate("", xy=(w1, -1.2), xytext=(w0, -1.2),
                arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 2.5})
    direction = "smaller" if w1 < w0 else "larger"
    print(f"w = {w0}: dL/dw = {slope:+.3f}, so w − η·dL/dw = {w1:.3f}: w gets {direction}")
    ax.plot([], [], color=colour, lw=2.5,
            label=f"at w = {w0}: dL/dw = {slope:+.1f} → the step makes w {direction}")
ax.axhline(0, color="#9ca3af", lw=0.8)
ax.set(xlabel="w", ylabel="L(w)", ylim=(-2.5, 22),
       title="the tangent's slope is dL/dw; the arrow is the step −η·dL/dw (η = 0.05)")
ax.legend(fontsize=8, loc="upper center")
plt.show()

# %% [markdown]
# **Question.** The two points are about as far from the bottom, one on each side, and the arrows
# are about as long. What happens to the arrow as the point moves towards the bottom, and why?

# %% [markdown]
# ## The learning rate η
#
# The same start, w = 5, four values of η, at most 100 steps each. Each panel's label is **worked
# out from its run** below (`describe`), not written by hand: "diverging" when the loss ended
# higher than it started, "oscillating" when the steps changed direction, "too small" when the
# run was still crawling after 100 steps, "good" when it reached the tolerance going one way.

# %%
def describe(run):
    """What a 1-D run did, in one word, with the evidence."""
    steps = len(run.trajectory) - 1
    moves = np.diff(run.trajectory)
    turns = int(np.sum(moves[1:] * moves[:-1] < 0))
    if run.stopped_because == "diverged" or run.values[-1] > run.values[0]:
        return "diverging", f"L grew from {run.values[0]:.3g} to {run.values[-1]:.3g} in {steps} steps"
    if turns:
        return "oscillating", (f"changed direction {turns} times; stopped ({run.stopped_because}) "
                               f"after {steps} steps")
    if run.stopped_because != "tolerance":
        return "too small", f"still moving after {steps} steps: L = {run.values[-1]:.4f}"
    return "good", f"reached the tolerance after {steps} steps, always downhill"


etas = (0.005, 0.05, 0.19, 0.22)
runs = {eta: gradient_descent(loss, 5.0, lr=eta, tol=1e-6, max_steps=100) for eta in etas}
for eta, run in runs.items():
    word, evidence = describe(run)
    print(f"η = {eta:<5}: {word:>11}: {evidence}")

# %%
fig = plt.figure(figsize=(12, 7.5))
grid = fig.add_gridspec(2, 4, height_ratios=[1, 1.1])
ws = np.linspace(-3, 7, 300)
for i, (eta, run) in enumerate(runs.items()):
    ax = fig.add_subplot(grid[0, i], sharey=fig.axes[0] if i else None)
    path = np.array(run.trajectory[:11])  # the first 10 steps
    ax.plot(ws, [loss(v) for v in ws], color="#6b7280", lw=1.5)
    ax.plot(path, [loss(v) for v in path], "o-", color="#f97316", ms=4, lw=1)
    ax.plot(path[0], loss(path[0]), "o", color="#16a34a", ms=9, mec="k")
    ax.set(xlim=(-3, 7), ylim=(0, 130), xlabel="w", title=f"η = {eta}: {describe(run)[0]}")
    if i == 0:
        ax.set_ylabel("L(w)")
bottom = fig.add_subplot(grid[1, :])
for eta, run in runs.items():
    bottom.semilogy(run.values, marker=".", label=f"η = {eta}: {describe(run)[0]}")
bottom.set(xlabel="step k", ylabel="L(θᵏ) (log scale)",
           title="the loss after each step, all four on one scale")
bottom.legend(fontsize=9)
fig.suptitle("top: the first 10 steps from w = 5 (green) on L(w); bottom: every step", y=0.99)
plt.tight_layout()
plt.show()

# %% [markdown]
# Why these η? For this L, dL/dw = (28/3)·(w − w*), so one step multiplies the distance to the
# bottom by (1 − 28η/3). Below η = 3/28 ≈ 0.107 that factor is positive (each step stays on the
# same side); between 0.107 and 0.214 it is negative but shorter than 1 (each step jumps over the
# bottom, yet lands lower); above 0.214 it is longer than 1 (each jump lands higher).
#
# **Question.** Which η would reach the bottom in a single step?

# %% [markdown]
# ## Gradient = 0 stops everything; numerically, a tolerance (容忍阈值)
#
# "如果梯度 = 0 … 无论学习率 η 多大，η×0=0，所以参数不再移动" — at a point where the gradient is
# exactly 0, the step is η·0 = 0 whatever η is. L(w) = (w − 2)² has its bottom at exactly w = 2:

# %%
def bowl(w):
    return (w - 2) ** 2


for eta in (0.1, 10.0, 1000.0):
    run = gradient_descent(bowl, 2.0, lr=eta, tol=0.0, max_steps=3)
    print(f"η = {eta:>6}: θ⁰, θ¹, θ², θ³ = {run.trajectory}")

# %% [markdown]
# In practice descent only ever gets *near* such a point ("数值上常常只是接近 0"). Near the bottom
# w* = 27.9/14 each step multiplies the distance to it by the same factor (the straight line in
# the figure below; the question under it asks what sets the factor). A distance that shrinks by
# a fixed factor per step gets as small as you like but, in exact arithmetic, never reaches 0:
# the gradient would never be exactly 0. In floating point it can be, once w is within rounding
# of w* (run with no tolerance, this descent gets there at the step printed below), but nothing
# promises that. So descent stops when |dL/dw| falls under a **tolerance**. A smaller tolerance
# costs more steps and buys a w closer to the bottom:

# %%
w_star = sum(x * y for x, y in zip(xs, ys)) / sum(x * x for x in xs)
endless = gradient_descent(loss, 5.0, lr=0.05, tol=0.0, max_steps=200)
first_zero = next((k for k, g in enumerate(endless.grad_norms) if g == 0.0), None)
still = len(set(endless.trajectory[first_zero:])) == 1
print(f"tol = 0: dL/dw is exactly 0.0 first at step {first_zero}, at w = {endless.trajectory[first_zero]!r} "
      f"(w* = 27.9/14 ≈ {w_star!r});\nafter it, w {'never moved again' if still else 'still moved'} "
      f"(each step η·0 = 0) until the run stopped ({endless.stopped_because})")
fig, ax = plt.subplots(figsize=(8, 4))
run = gradient_descent(loss, 5.0, lr=0.05, tol=1e-12, max_steps=200)
ax.semilogy(run.grad_norms, "o-", ms=3, color="k", label="|dL/dw| at θᵏ (η = 0.05)")
for tol, colour in ((1e-2, "#dc2626"), (1e-5, "#f97316"), (1e-8, "#2563eb")):
    stop = gradient_descent(loss, 5.0, lr=0.05, tol=tol, max_steps=200)
    k = len(stop.trajectory) - 1
    ax.axhline(tol, color=colour, ls="--", lw=1)
    ax.plot([k], [stop.grad_norms[-1]], "o", ms=9, color=colour,
            label=f"tol = {tol:g}: stops at step {k} ({stop.stopped_because}), "
                  f"|w − w*| = {abs(stop.x_best - w_star):.1e}")
ax.set(xlabel="step k", ylabel="|dL/dw| (log scale)",
       title="descent stops at the first step whose gradient is under tol")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# **Question.** The gradient norm falls by about the same factor every step (a straight line on
# the log scale). What sets that factor?
#
# Training a model works the same way: `fit` stops when the gradient's norm over all parameters
# falls under `tol`, and says so. Here one linear neuron, y = w·x + b, learns the three points:

# %%
neuron = Neuron(1, activation="linear", seed=0)
history = fit(neuron, [[x] for x in xs], ys, loss="mse", optimizer="sgd", lr=0.05, tol=1e-4,
              max_epochs=5000, progress=False)
print(history.stopped_because, "after", history.n_epochs, "epochs")
print(history.message)

# %% [markdown]
# ## Where descent stops depends on where it starts: a local minimum (局部极小值)
#
# "但是可能到达了局部极小值（local minimum）" — the gradient is 0 at the bottom of *every* valley,
# not only the deepest one. L(w) = w⁴ − 3w² + w has two valleys; two starts, one on each side:

# %%
def bumpy(w):
    return w**4 - 3 * w**2 + w


grid_w = np.linspace(-2.2, 2.2, 400)
lowest = min(bumpy(v) for v in grid_w)  # the global minimum, by looking everywhere
fig, ax = plt.subplots(figsize=(8, 4.5))
ax.plot(grid_w, [bumpy(v) for v in grid_w], color="k", lw=2, label="L(w) = w⁴ − 3w² + w")
for w0, colour in ((-2.0, "#2563eb"), (2.0, "#dc2626")):
    run = gradient_descent(bumpy, w0, lr=0.01, tol=1e-6, max_steps=2000)
    end = run.x_best
    kind = "the global minimum" if bumpy(end) - lowest < 1e-3 else "a local minimum only"
    path = np.array(run.trajectory)
    ax.plot(path, [bumpy(v) for v in path], "o", ms=3, color=colour, alpha=0.6)
    ax.plot([end], [bumpy(end)], "X", ms=12, color=colour, mec="k",
            label=f"start {w0:+}: {len(path) - 1} steps, stops ({run.stopped_because}) at w = {end:+.3f}, "
                  f"L = {bumpy(end):.3f}: {kind}")
    print(f"start {w0:+}: w = {end:+.4f}, L = {bumpy(end):+.4f}, |dL/dw| = {run.grad_norms[-1]:.1e}: {kind}")
ax.set(xlabel="w", ylabel="L(w)", ylim=(-4.5, 6), title="two starts, two valleys: both stop where dL/dw ≈ 0")
ax.legend(fontsize=8, loc="upper center")
plt.show()

# %% [markdown]
# ## A plateau (平坦区)
#
# "也可能在平坦区（plateau）卡住" — where the loss is almost flat, the gradient is tiny, the steps are
# tiny, and descent can crawl for a long time or stop at once. L(w) = 1 − exp(−(w − 3)²) is a
# single well at w = 3 in a wide flat plain. Three starts, η = 0.5:

# %%
def well(w):
    return 1 - (-((w - 3) ** 2)).exp()


fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6))
grid_w = np.linspace(-2.5, 6, 400)
left.plot(grid_w, [well(Value(v)).data for v in grid_w], color="k", lw=2, label="L(w) = 1 − exp(−(w − 3)²)")
for w0, colour in ((1.5, "#16a34a"), (0.5, "#f97316"), (-1.5, "#dc2626")):
    run = gradient_descent(well, w0, lr=0.5, tol=1e-6, max_steps=1000)
    steps, end = len(run.trajectory) - 1, run.values[-1]
    where = "at the bottom" if end < 1e-3 else "stuck on the plateau"
    label = f"start {w0:+}: stops ({run.stopped_because}) after {steps} steps, L = {end:.2g}: {where}"
    print(label, f"(first |dL/dw| = {run.grad_norms[0]:.1e})")
    left.plot(run.trajectory, run.values, "o", ms=3, color=colour, alpha=0.7)
    left.plot([w0], [run.values[0]], "o", ms=10, color=colour, mec="k", label=label)
    left.plot([run.trajectory[-1]], [end], "X", ms=11, color=colour, mec="k")
    right.semilogy(run.grad_norms, "o-", ms=3, color=colour, label=f"start {w0:+}")
right.axhline(1e-6, color="k", ls="--", lw=1, label="tol = 1e-6")
left.set(xlabel="w", ylabel="L(w)", ylim=(-0.05, 1.1), title="the paths on L(w): start ●, end ✕")
left.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15))
right.set(xlabel="step k", ylabel="|dL/dw| (log scale)", title="the gradient along each path")
right.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# From 0.5 the first steps are tiny (the edge of the plateau), then the slope steepens and
# descent runs down into the well. From −1.5 the gradient is already under the tolerance: descent
# stops at step 0 with L ≈ 1, as if it were at a minimum. Nothing in the gradient tells a flat
# plain from a bottom.
#
# **Question.** What would you change to get the start at −1.5 moving: η, the tolerance, or both?
# What would each cost?

# %% [markdown]
# ## The error surface L(w, b) and the path θ⁰, θ¹, θ², …
#
# With two parameters, θ = (w, b) (the notes: θ is all the parameters packed together), the loss
# is a surface over the (w, b) plane: the **error surface**. Here the model is a line
# f(x) = w·x + b fitted to six points; the colours are L(w, b), and each step of descent moves
# θ across the contour lines, downhill.

# %%
X = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
Y = [2.03, 2.97, 4.13, 5.02, 5.91, 7.05]  # roughly y = 2x + 1


def surface(w, b):
    return sum((w * x + b - y) ** 2 for x, y in zip(X, Y)) / len(X)


run = gradient_descent(surface, (-1.0, 4.0), lr=0.15, tol=1e-3, max_steps=1000)
for k in range(3):
    w, b = run.trajectory[k]
    print(f"θ{'⁰¹²'[k]} = (w, b) = ({w:+.3f}, {b:+.3f}),  L = {run.values[k]:.3f}")
print(f"... θ at step {len(run.trajectory) - 1} = ({run.x_best[0]:.3f}, {run.x_best[1]:.3f}), "
      f"L = {run.values[-1]:.4f} ({run.stopped_because})")

# %%
fig, ax = plt.subplots(figsize=(8, 6))
plot_descent(surface, run, ax=ax, bounds=[(-1.5, 3.5), (-1.0, 5.5)])
for k in range(3):
    ax.annotate(f"θ{'⁰¹²'[k]}", run.trajectory[k], textcoords="offset points", xytext=(8, 6),
                fontsize=14, fontweight="bold", color="#7c2d12")
ax.set_aspect("equal")  # one unit of w as long as one unit of b: right angles look right
ax.set(xlabel="w (slope)", ylabel="b (offset)",
       title=f"error surface L(w, b), descent path (η = 0.15, {len(run.trajectory) - 1} steps)")
ax.legend(loc="lower left", fontsize=8)
fig.axes[-1].set_ylabel("L(w, b)")  # the colour bar
plt.show()

# %% [markdown]
# The path zig-zags: the valley is long and narrow, and the gradient (at right angles to the
# contour line through each θᵏ) points across the valley more than along it.
#
# **Question.** θ¹ jumps further than θ² does. Why, if η is the same for every step?

# %% [markdown]
# ## Exercises
#
# **1. The update rule.** Write one step of gradient descent for one parameter: given w, the slope
# dL/dw there and the learning rate, return the new w.

# %%
from microgradlike.exercises.descent import check_update_rule


def update(w, dL_dw, lr):
    ...  # your code


check_update_rule(update)

# %% [markdown]
# **2. Pick η.** Here is the curve `valley`. Choose a learning rate with which descent from
# w = −1 stops by the tolerance 1e-6 within 30 steps, and **never jumps over the bottom** (every
# step lands on the same side as the one before). Try a few, and look at what the checker says
# each one does.

# %%
from microgradlike.exercises.descent import VALLEY_START, check_learning_rate, valley

grid_w = np.linspace(-1.5, 5, 200)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(grid_w, [valley(Value(v)).data for v in grid_w], color="k", lw=2, label="valley(w)")
ax.plot([VALLEY_START], [valley(Value(VALLEY_START)).data], "o", ms=9, color="#16a34a", mec="k",
        label=f"start, w = {VALLEY_START}")
ax.set(xlabel="w", ylabel="L(w)", title="the curve of exercise 2")
ax.legend()
plt.show()

# %%
my_lr = ...  # your η
check_learning_rate(my_lr)

# %% [markdown]
# **3. The loop, with a tolerance.** Write gradient descent yourself: from w0, repeat your update
# from exercise 1 with the slope `grad(f)(w)[0]`, and return the list [θ⁰, θ¹, …]. Stop *before*
# an update when |dL/dw| < tol, or when max_steps updates have been made. The checker compares
# your list with `gradient_descent`'s.

# %%
from microgradlike.exercises.descent import check_descent_loop


def descend(f, w0, lr, tol, max_steps):
    ...  # your code


check_descent_loop(descend)
