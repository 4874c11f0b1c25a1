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
# # 2 · Sigmoids: three knobs, sums of them, and two ReLUs (Sigmoid 函数, Hard Sigmoid)
#
# One sigmoid unit is y = c·σ(b + w·x) with σ(t) = 1 / (1 + e⁻ᵗ). The notes: as x → +∞,
# e^−(b+wx) → 0 and y levels off at height **c**; as x → −∞ the denominator blows up and y → 0.
# **w changes the slope, b the shift, c the height** (不同的w改变斜率，b改变偏移，c改变高度).

# %%
import matplotlib.pyplot as plt
import numpy as np

from microgradlike import Value
from microgradlike.data import piecewise_linear
from microgradlike.nn import SigmoidSum, SigmoidUnit, hard_sigmoid
from microgradlike.plots import plot_fit_1d
from microgradlike.train import fit
from microgradlike.viz import draw_dot

xs = np.linspace(-6, 6, 200)


def curve(unit):
    return [unit(x).data for x in xs]


fig, axes = plt.subplots(1, 3, figsize=(12, 3), sharey=True)
for ax, knob, values in zip(axes, "wbc", ([0.5, 1, 3], [-2, 0, 2], [0.5, 1, 1.5])):
    for v in values:
        unit = SigmoidUnit(**{"w": 1.0, "b": 0.0, "c": 1.0, knob: v})
        ax.plot(xs, curve(unit), label=f"{knob} = {v}")
    ax.set_title({"w": "w: slope", "b": "b: shift", "c": "c: height"}[knob])
    ax.legend()
    ax.set_xlabel("x")
plt.show()

# %% [markdown]
# ## A sum of sigmoids draws a piecewise-linear-like curve
#
# y = b + Σᵢ cᵢ·σ(bᵢ + wᵢ·x). Each unit adds one smooth step; with more units the curve can
# have more pieces. How many units to use is our choice: a **hyperparameter** (超参数).
# The units work on x **at the same time** (同时处理输入) — nobody cuts the x axis into
# pieces; training finds each unit's centre, slope and height by itself.

# %%
X, y = piecewise_linear(n=80, seed=0)
errors = {}
models = {}
for n in (1, 2, 4, 8):
    model = SigmoidSum(n, seed=1)
    history = fit(model, X, y, loss="mse", optimizer="adam", lr=0.05, max_epochs=400, tol=1e-5)
    errors[n] = history.train_loss[-1]
    models[n] = model
    print(f"{n} sigmoid(s): training MSE {errors[n]:.4f} after {history.n_epochs} epochs "
          f"({history.stopped_because})")

# %% [markdown]
# The learned units one by one, and their sum:

# %%
plot_fit_1d(models[4], X, y);

# %% [markdown]
# Each unit's three knobs after training (its centre is where b + w·x = 0, at x = −b/w):

# %%
for i, unit in enumerate(models[4].units):
    w, b, c = unit.w.data, unit.b.data, unit.c.data
    print(f"unit {i}: w = {w:+7.3f}  b = {b:+7.3f}  c = {c:+7.3f}   centre x = {-b / w:+.2f}")

# %% [markdown]
# ## Two ReLUs make one hard sigmoid (2 个 ReLU 才能够合成一个 Hard Sigmoid)
#
# relu(x) − relu(x − 1) is 0 left of 0, rises with slope 1, and stays at 1 right of 1: the
# clipped line clip(x, 0, 1). The graph shows the two `relu` nodes it is made of.

# %%
grid = np.linspace(-2, 3, 101)
hard = [hard_sigmoid(Value(x)).data for x in grid]
print("largest difference from clip(x, 0, 1):", max(abs(h - c) for h, c in zip(hard, np.clip(grid, 0, 1))))
plt.figure(figsize=(5, 3))
plt.plot(grid, [max(x, 0) for x in grid], "--", label="relu(x)")
plt.plot(grid, [-max(x - 1, 0) for x in grid], "--", label="−relu(x − 1)")
plt.plot(grid, hard, lw=3, label="hard sigmoid (their sum)")
plt.legend()
plt.show()

x = Value(0.4, label="x")
out = hard_sigmoid(x)
out.label = "hard_sigmoid"
out.backward()
draw_dot(out)
