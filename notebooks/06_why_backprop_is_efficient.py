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
# # 6 · Why backprop is efficient (反向传播：比较有效率、算梯度的方法)
#
# The notes: "深度学习的训练会用到反向传播(BackPropagation，BP)，其实它就是比较有效率、算梯度的方法" —
# backpropagation is just an *efficient* way to compute gradients. Efficient compared with what?
# Training needs ∂L/∂θᵢ for every one of a network's P parameters, at every update. There are
# three ways to get them:
#
# | method | idea | cost of all P partial derivatives |
# |---|---|---|
# | **central differences** | nudge θᵢ: (L(θ + ε·eᵢ) − L(θ − ε·eᵢ)) / 2ε | 2P evaluations of L |
# | **forward mode** | push "how fast θᵢ moves" forward by the chain rule | P passes, one per parameter |
# | **reverse mode (backprop)** | push ∂L/∂node backward by the chain rule | one forward + one backward pass |
#
# This lesson counts and times all three on an MLP loss.

# %%
import time
from itertools import pairwise

import graphviz
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from microgradlike import Value, dot, grad, jvp, numerical_grad, value_and_grad
from microgradlike.data import make_moons
from microgradlike.explorer import Explorer
from microgradlike.forward import tangent_steps
from microgradlike.losses import mse
from microgradlike.nn import MLP
from microgradlike.viz import draw_dot

graphviz.set_jupyter_format("png")  # graphs as PNG: they show on code-hosting sites too
plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})

# %% [markdown]
# ## 1 · The loss as a function of θ
#
# The notes: the loss is a function whose input is a set of parameters (损失是一个函数，其输入就是一组
# 参数), and θ is every w and b of the model packed into one vector. Here is exactly that: an MLP
# with 2 inputs, two hidden layers of 8 tanh neurons (tanh is smooth, so the three methods can
# agree to many digits) and a linear output, written as a function of its P numbers
# θ₁ … θ_P. The numbers are read in `model.parameters()` order: neuron by neuron, its weights then
# its bias.

# %%
X, y = make_moons(n=20, noise=0.1, seed=0)
rows, targets = X.tolist(), (2.0 * y - 1.0).tolist()  # the two classes as −1 and +1


def make_loss(sizes):
    """L(θ₁, …, θ_P): the MSE of an MLP with these layer sizes on the 20 points."""
    shape = list(pairwise(sizes))

    def loss(*theta):
        theta = iter(theta)
        # each layer: one (weights, bias) pair per neuron, read from θ in order
        layers = [[([next(theta) for _ in range(n_in)], next(theta)) for _ in range(n_out)]
                  for n_in, n_out in shape]
        predictions = []
        for x in rows:
            a = x
            for depth, layer in enumerate(layers, start=1):
                z = [dot(w, a, b) for w, b in layer]  # zˡ = Wˡ aˡ⁻¹ + bˡ, one node per neuron
                a = z if depth == len(layers) else [zi.tanh() for zi in z]
            predictions.append(a[0])
        return mse(predictions, targets)

    return loss


model = MLP(2, [8, 8, 1], activation="tanh", seed=0)
theta = [p.data for p in model.parameters()]
loss = make_loss([2, 8, 8, 1])
P = len(theta)
print(f"P = {P} parameters; L(θ) = {loss(*theta).data:.6f}")
print(f"the same model's own loss:  {mse([model(x) for x in rows], targets).data:.6f}")

# %% [markdown]
# ## 2 · Central differences: 2P evaluations
#
# Nudge one parameter by ε up and down and look at how L moves — the slope of lesson 1, once per
# parameter. A wrapper counts how often L is evaluated.

# %%
def counted(f):
    """f, counting its calls in .calls."""
    def wrapper(*args):
        wrapper.calls += 1
        return f(*args)

    wrapper.calls = 0
    return wrapper


f = counted(loss)
start = time.perf_counter()
by_differences = numerical_grad(f, theta)
t_differences = time.perf_counter() - start
print(f"central differences: {f.calls} evaluations of L (2P = {2 * P}), {t_differences:.3f} s")

# %% [markdown]
# ## 3 · Forward mode: P passes
#
# Forward mode asks: if the inputs move along a direction v (at rates ∂θᵢ/∂t = vᵢ), how fast
# does each node move? The rate of a node — its **tangent** — arrives from its children by the
# chain rule, in the forward order, through the same local derivatives backprop uses:
#
# ∂n/∂t = Σ over children c of ∂n/∂c · ∂c/∂t.
#
# `jvp(f, xs, v)` returns f(xs) and the tangent of the output, ∇f·v: ONE number per pass. Here is
# one pass on a neuron, tanh(x·w + b), with w moving (v = 1 for w, 0 for the others): the tangent
# arriving at each node, step by step:

# %%
x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.88, label="b")
out = (x * w + b).tanh()
for step in tangent_steps(out, {w: 1.0}):
    print(step.explain())

# %% [markdown]
# One pass, one derivative: ∂L/∂w. To get ∂L/∂x and ∂L/∂b too, x and then b must move in passes
# of their own. The backward pass on the same graph (lesson 5's step-through) ends with **all
# three**: the same local derivatives, multiplied from the output down instead of from the inputs
# up. The explorer shows both: press its "forward mode (∂/∂w)" button and step through (the page
# needs a live kernel). Under it, as a picture, where that mode ends: every node's tangent ∂/∂w.

# %%
display(Explorer(out, wrt=w))
tangent = {x: 0.0, w: 1.0, b: 0.0}  # the leaves: w moves at rate 1, x and b stay still
tangent.update({step.node: step.tangent for step in tangent_steps(out, {w: 1.0})})
draw_dot(out, grad_text=lambda v: f"∂/∂w = {tangent[v]:.4g}")

# %% [markdown]
# So the whole gradient of our loss by forward mode is P passes, one per parameter, each with
# v = the unit vector eᵢ:

# %%
f = counted(loss)
start = time.perf_counter()
by_forward_mode = [jvp(f, theta, [1.0 if j == i else 0.0 for j in range(P)])[1] for i in range(P)]
t_forward = time.perf_counter() - start
print(f"forward mode: {f.calls} passes (P = {P}), {t_forward:.3f} s")

# %% [markdown]
# ## 4 · Reverse mode (backprop): one forward, one backward
#
# One forward pass records every local derivative; one backward pass, from L down, gives
# ∂L/∂node for every node, the parameters included.

# %%
f = counted(loss)
start = time.perf_counter()
value, by_backprop = value_and_grad(f)(*theta)
t_backprop = time.perf_counter() - start
print(f"backprop: {f.calls} evaluation of L, then one backward pass, {t_backprop:.4f} s")

print(f"\n{'method':<22}{'evaluations of L':>18}{'seconds':>10}{'× backprop':>12}{'largest difference':>20}")
for name, count, seconds, grads in (("central differences", 2 * P, t_differences, by_differences),
                                    ("forward mode", P, t_forward, by_forward_mode),
                                    ("backprop", 1, t_backprop, by_backprop)):
    gap = max(abs(a - b) for a, b in zip(grads, by_backprop))
    print(f"{name:<22}{count:>18}{seconds:>10.3f}{seconds / t_backprop:>12.1f}{gap:>20.1e}")

# %% [markdown]
# All three agree: forward mode and backprop to rounding (they multiply the same local
# derivatives), central differences to about 10⁻¹⁰. That last gap is not the method's truncation
# error (∝ ε², far smaller at `numerical_grad`'s ε = 10⁻⁶) but rounding: L(θ + ε) − L(θ − ε)
# subtracts two nearly equal numbers, and dividing by 2ε magnifies their last digits' noise, so
# it grows as ε shrinks (∝ 1/ε). Each ε's largest difference from backprop:

# %%
for eps in (1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8):
    gap = max(abs(a - b) for a, b in zip(numerical_grad(loss, theta, eps=eps), by_backprop))
    print(f"ε = {eps:.0e}: largest difference {gap:.1e}")

# %% [markdown]
# Down to ε = 10⁻⁵ the gap shrinks about a hundredfold for each tenfold smaller ε: that is the
# truncation error, ∝ ε². Below, it grows about tenfold for each: rounding, ∝ 1/ε. At the
# default 10⁻⁶ we are already on the rounding side. (Lesson 1's figure showed the same turn for eˣ.)
#
# The counts are the point: for a loss of P parameters, forward mode pays P times what backprop
# pays, and central differences 2P times.
#
# Why tanh and not ReLU here? The notes: the loss must be differentiable in θ (对 θ 可导) for
# gradient descent to work. ReLU is not differentiable at 0: it has a kink, where the slope jumps
# from 0 to 1. Backprop and forward mode use a convention there (relu'(0) = 0, as PyTorch does);
# central differences straddle the kink and see the average slope:

# %%
def kink(z):
    return z.relu()


print("relu'(0) by backprop:           ", grad(kink)(0.0)[0])
print("relu'(0) by forward mode:       ", jvp(kink, [0.0], [1.0])[1])
print("relu'(0) by central differences:", numerical_grad(kink, [0.0])[0])

# %% [markdown]
# A network meets an input that puts a ReLU exactly at 0 almost never (z is a sum of products of
# real numbers), so in training the convention hardly matters. In a gradient check it does: a
# check through a kink compares two different conventions, which is why this lesson's loss is
# smooth.

# %% [markdown]
# ## 5 · As the network grows
#
# The same comparison for MLPs of growing width, timed. One evaluation of L costs about as much as
# there are parameters (each weight is used once per point), so the total cost grows like P for
# backprop and like P² for the other two (once P is large enough for that cost to dominate):

# %%
widths = [2, 4, 8, 16]
table = {"central differences": [], "forward mode": [], "backprop": []}
counts = []
for width in widths:
    sizes = [2, width, width, 1]
    net_loss = make_loss(sizes)
    params = [p.data for p in MLP(2, sizes[1:], activation="tanh", seed=0).parameters()]
    n = len(params)
    counts.append(n)
    start = time.perf_counter()
    numerical_grad(net_loss, params)
    table["central differences"].append(time.perf_counter() - start)
    start = time.perf_counter()
    for i in range(n):
        jvp(net_loss, params, [1.0 if j == i else 0.0 for j in range(n)])
    table["forward mode"].append(time.perf_counter() - start)
    backprop_times = []  # a few milliseconds: the best of 5, so a busy machine's hiccups do not show
    for _ in range(5):
        start = time.perf_counter()
        value_and_grad(net_loss)(*params)
        backprop_times.append(time.perf_counter() - start)
    table["backprop"].append(min(backprop_times))
for name, seconds in table.items():
    print(f"{name:>20}: " + "  ".join(f"P={n}: {s:7.3f} s" for n, s in zip(counts, seconds)))

# %%
fig, ax = plt.subplots(figsize=(7.5, 4.2))
styles = {"central differences": ("#6b7280", "o"), "forward mode": ("#2563eb", "s"),
          "backprop": ("#dc2626", "^")}
for name, seconds in table.items():
    color, marker = styles[name]
    ax.plot(counts, seconds, color=color, marker=marker, lw=2, ms=7, label=name)
p = np.array([counts[0], counts[-1]], dtype=float)
for power, text in ((1, "∝ P"), (2, "∝ P²")):
    ref = table["backprop" if power == 1 else "forward mode"][0] * (p / p[0]) ** power
    ax.plot(p, ref, color="k", ls=":", lw=1)
    ax.annotate(text, (p[-1], ref[-1]), textcoords="offset points", xytext=(4, -4), fontsize=10)
ax.set_xscale("log")
ax.set_yscale("log")
ax.minorticks_off()
ax.set_xticks(counts, [str(n) for n in counts])
ax.set_xlim(10, 700)
ax.set_xlabel("P, the number of parameters (log scale): MLP(2, [w, w, 1]) for w = 2, 4, 8, 16")
ax.set_ylabel("seconds for the whole gradient (log)")
ax.set_title("the gradient of an MLP loss on 20 points, three ways", fontsize=10)
ax.legend(fontsize=9, loc="upper left")
plt.tight_layout()
plt.show()

# %% [markdown]
# Backprop's line rises with P, the other two with P²: at P = 337 the gap is a couple of orders of
# magnitude, and a modern network has millions to billions of parameters. That is the whole reason
# deep learning trains by backpropagation.
#
# Two fair remarks. Backprop's price is memory: it must keep every node's value (the notes: the
# zˡ and aˡ of the forward pass) until the backward pass has used it; forward mode can forget a
# node as soon as its tangent is passed on. And forward mode wins where the shape is the other way
# round: a function of **one** input with **many** outputs (a trajectory over time, say) — one
# forward pass gives how every output moves with that input, where backprop would need one
# backward pass per output.
#
# *Question:* central differences are the slowest and only approximate. Why does every test in
# this project still use them? (Hint: what could be wrong with a gradient that backprop computes?)

# %% [markdown]
# ## Exercises
#
# **1. Count the parameters.** Forward mode needs one pass per parameter. Write how many
# parameters `MLP(nin, nouts)` holds, every weight and every bias, from `nin` and the list of
# layer widths `nouts` alone.

# %%
from microgradlike.exercises.efficiency import check_forward_mode_gradient, check_parameter_count


def parameter_count(nin, nouts):
    ...  # your code here


check_parameter_count(parameter_count)

# %% [markdown]
# **2. The gradient by forward mode.** Using `jvp(f, xs, v)` — which gives f(xs) and the
# derivative of f along the direction v — return the whole gradient of `f` at `xs`, one entry per
# input. The check counts how often `f` is evaluated, and whether a reverse pass (`backward()` or
# `grad`) ran.

# %%
def gradient_by_forward_mode(f, xs):
    ...  # your code here


check_forward_mode_gradient(gradient_by_forward_mode)
