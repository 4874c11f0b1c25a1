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
# # 1 · The three steps, and gradient descent by hand (梯度下降)
#
# The notes put all of machine learning into three steps (机器学习的整体框架):
#
# 1. **a function with unknown parameters θ** — f_θ(x);
# 2. **a loss L(θ)** (损失函数) — a function *of the parameters* that says how good one choice of θ is;
# 3. **optimisation** — find θ* = argmin L(θ), here by gradient descent: θ ← θ − η·∇L(θ).
#
# We do all three with one parameter, by hand, so nothing is hidden.

# %%
from microgradlike import Value, grad
from microgradlike.plots import plot_descent
from microgradlike.train import gradient_descent

# Step 1: a function with an unknown parameter w:  f_w(x) = w · x
xs = [1.0, 2.0, 3.0]
ys = [2.0, 4.1, 5.9]          # roughly y = 2x


# Step 2: the loss L(w) = mean of (f_w(x) − y)²  (均方误差, MSE)
def loss(w):
    return sum((w * x - y) ** 2 for x, y in zip(xs, ys)) / len(xs)


print("L(1.0) =", loss(Value(1.0)).data, "  L(2.0) =", loss(Value(2.0)).data)

# %% [markdown]
# ## The sign of the gradient
#
# The gradient points **uphill** (梯度指向损失增长最快的方向). Descent goes the other way:
#
# - gradient positive → uphill is to the right → we step left → **w gets smaller**;
# - gradient negative → uphill is to the left → we step right → **w gets larger**.

# %%
eta = 0.05  # learning rate η (学习率)
for w0 in (5.0, -1.0):
    (g,) = grad(loss)(w0)
    w1 = w0 - eta * g
    print(f"w = {w0:+.1f}: dL/dw = {g:+8.3f}  ->  w - η·dL/dw = {w1:+.3f}  "
          f"({'down' if w1 < w0 else 'up'})")

# %% [markdown]
# ## Step 3: repeat until the slope is (almost) flat
#
# If the gradient is exactly 0 the update η·0 = 0 moves nothing, whatever η is. In floating
# point it is only ever *near* 0, so we stop when |∇L| falls under a **tolerance** (容忍阈值).

# %%
run = gradient_descent(loss, 5.0, lr=0.05, tol=1e-6, max_steps=500)
w_best, trajectory = run
print(f"w* = {w_best:.6f} after {len(trajectory) - 1} updates; stopped because: {run.stopped_because}")
print("θ⁰, θ¹, θ², θ³ =", [round(w, 4) for w in trajectory[:4]])

# %% [markdown]
# ## The learning rate η
#
# Too small and we crawl; larger is faster until each step overshoots the valley: at η = 0.2 it
# zig-zags across, at η = 0.25 every step lands higher than the last and the run diverges.

# %%
for eta in (0.005, 0.05, 0.2, 0.25):
    run = gradient_descent(loss, 5.0, lr=eta, tol=1e-6, max_steps=200)
    print(f"η = {eta:<5}: {run.stopped_because:>9} after {len(run.trajectory) - 1:3d} steps, "
          f"w = {run.trajectory[-1]:.4g}")
plot_descent(loss, gradient_descent(loss, 5.0, lr=0.05, tol=1e-6, max_steps=200));

# %% [markdown]
# ## Where we stop depends on where we start: local minima (局部极小值) and plateaus (平坦区)
#
# L(w) = w⁴ − 3w² + w has two valleys. Started on the left, descent finds the deep one; started
# on the right, it stops in the shallow one — the gradient is 0 there too.

# %%
def bumpy(w):
    return w ** 4 - 3 * w ** 2 + w


for w0 in (-2.0, 2.0):
    run = gradient_descent(bumpy, w0, lr=0.01, tol=1e-6, max_steps=2000)
    print(f"start {w0:+.1f} -> w = {run.x_best:+.4f}, L = {bumpy(Value(run.x_best)).data:+.4f} "
          f"({run.stopped_because})")
plot_descent(bumpy, gradient_descent(bumpy, 2.0, lr=0.01, tol=1e-6, max_steps=2000), bounds=[(-2.2, 2.2)]);

# %% [markdown]
# A **plateau**: L(w) = (1 − σ(w))² is flat far to the left, where σ(w) ≈ 0. The slope there is
# so small that the gradient is already under the tolerance, and descent stops at once with
# L ≈ 1 — far from the small losses to the right.

# %%
def plateau(w):
    return (1 - w.sigmoid()) ** 2


run = gradient_descent(plateau, -20.0, lr=0.5, tol=1e-6, max_steps=1000)
print(f"start -20: stopped because {run.stopped_because} after {len(run.trajectory) - 1} steps, "
      f"|gradient| = {run.grad_norms[-1]:.2e}, L = {run.values[-1]:.4f} (the minimum is 0)")
run = gradient_descent(plateau, 2.0, lr=0.5, tol=1e-6, max_steps=1000)
print(f"start  +2: stopped because {run.stopped_because}, L = {run.values[-1]:.2e}")
