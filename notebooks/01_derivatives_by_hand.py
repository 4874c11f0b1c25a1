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
# # 1 · Derivatives by hand (梯度, 链式法则)
#
# The notes put all of machine learning into three steps (机器学习的整体框架):
#
# 1. **a function with unknown parameters θ**, f_θ(x);
# 2. **a loss L(θ)** (损失函数): "损失是一个函数，其输入就是一组参数，去判断这一组参数的好坏" — a
#    function whose input is the parameters, judging how good they are;
# 3. **optimisation**: find the θ that makes L smallest, by gradient descent (梯度下降), which
#    needs the **gradient** (梯度) ∂L/∂θ: how much L moves when θ is nudged.
#
# "反向传播就是用链式法则计算每个参数的梯度" — backpropagation computes each parameter's gradient
# with the chain rule. Before trusting it, we compute gradients three ways and watch them agree:
# by nudging (a numerical slope), by hand with the chain rule (链式法则), and with `backward()`.

# %%
import math

import graphviz
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from microgradlike import Value, gradcheck, numerical_grad, topological_order
from microgradlike.viz import draw_dot

graphviz.set_jupyter_format("png")  # graphs as PNG: they show on code-hosting sites too
plt.rcParams.update({"figure.dpi": 96, "axes.grid": True, "grid.alpha": 0.3})

# %% [markdown]
# ## The three steps, with one unknown
#
# Three points that lie roughly on y = 2x. Step 1 is the function f_w(x) = w·x (`predict`), step 2 the loss
# L(w), the mean squared error (均方误差) of its predictions. The loss is an ordinary function of w:
# give it a w, it says how bad that w is.

# %%
xs = [1.0, 2.0, 3.0]
ys = [2.0, 4.1, 5.9]


def predict(w, x):  # step 1: a function with an unknown parameter w
    return w * x


def loss(w):  # step 2: the loss judges one choice of w (均方误差, MSE)
    return sum((predict(w, x) - y) ** 2 for x, y in zip(xs, ys)) / len(xs)


for w in (1.0, 2.0, 3.0):
    print(f"L({w}) = {loss(w):.4f}")

# %% [markdown]
# ## A numerical slope: nudge w and watch L move
#
# Step 3 asks: if w grows a little, does L go up or down, and how fast? Nudge w by a small h and
# measure: the slope is about (L(w + h) − L(w)) / h. As h shrinks, the estimates settle.

# %%
w = 1.0
for h in (0.1, 0.01, 0.001, 0.0001):
    moved = loss(w + h) - loss(w)
    print(f"h = {h:<7}  L(w + h) − L(w) = {moved:+.6f}   slope ≈ {moved / h:+.4f}")

# By calculus: dL/dw = (2/3)·Σ x·(w·x − y)
exact = 2 / len(xs) * sum(x * (w * x - y) for x, y in zip(xs, ys))
print(f"calculus says dL/dw = {exact:+.4f} at w = {w}")

# %% [markdown]
# On the left, each nudge is a secant line through (w, L(w)) and (w + h, L(w + h)); as h shrinks it
# turns into the tangent, whose slope is the derivative. On the right, how wrong the estimate is for
# each h, on a function whose derivative we know exactly (eˣ at x = 1: the slope is e): the
# error of the one-sided difference shrinks in proportion to h, that of the **central** difference
# (f(x + h) − f(x − h)) / 2h in proportion to h². But each stops shrinking at some h and below it
# gets *worse*: f(x + h) − f(x) subtracts two nearly equal numbers, and the digits that are left
# are rounding noise, which grows like 1/h. The central difference turns first (the printout
# under the figure says where), because its h² error is so small that the noise overtakes it
# sooner; the one-sided one turns only near h = 10⁻⁸.

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
ws = np.linspace(-0.5, 3.5, 200)
left.plot(ws, [loss(v) for v in ws], color="k", lw=2, label="L(w)")
for h, colour in ((1.5, "#f97316"), (0.5, "#2563eb")):
    slope = (loss(w + h) - loss(w)) / h
    span = np.array([-0.8, h + 0.4])
    left.plot(w + span, loss(w) + slope * span, color=colour, lw=1.2,
              label=f"secant, h = {h}: slope {slope:.2f}")
    left.plot([w + h], [loss(w + h)], "o", color=colour)
span = np.array([-0.8, 1.2])
left.plot(w + span, loss(w) + exact * span, color="#16a34a", lw=2, ls="--",
          label=f"tangent: slope dL/dw = {exact:.2f}")
left.plot([w], [loss(w)], "ko")
left.set(xlabel="w", ylabel="L(w)", ylim=(-3, 25), title="nudging w by h: the secant tends to the tangent")
left.legend(fontsize=8)

hs = np.logspace(-14, 0, 57)
one_sided = [max(abs((math.exp(1 + h) - math.exp(1)) / h - math.e), 1e-17) for h in hs]
central = [max(abs((math.exp(1 + h) - math.exp(1 - h)) / (2 * h) - math.e), 1e-17) for h in hs]
right.loglog(hs, one_sided, label="one-sided: (f(x + h) − f(x)) / h")
right.loglog(hs, central, label="central: (f(x + h) − f(x − h)) / 2h")
for errors, colour in ((one_sided, "C0"), (central, "C1")):
    best = int(np.argmin(errors))
    right.plot(hs[best], errors[best], "o", ms=9, mfc="none", mec=colour, mew=2)
right.plot([], [], "o", ms=9, mfc="none", mec="k", label="the smallest error of each")
right.set(xlabel="h", ylabel="|estimate − true slope|", title="error of the numerical slope of eˣ at x = 1")
right.legend(fontsize=8)
plt.tight_layout()
plt.show()
for name, errors in (("one-sided", one_sided), ("central", central)):
    best = int(np.argmin(errors))
    print(f"{name:>9}: smallest error {errors[best]:.1e} at h = {hs[best]:.1e}")

# %% [markdown]
# **Question.** The one-sided error is smallest near h = 10⁻⁸, the central one at a larger h,
# where it is some hundreds of times smaller. Why can the central difference afford a larger h?

# %% [markdown]
# ## Nudging several inputs
#
# The same works for each input of an expression with several: nudge one, hold the others, and
# divide the change of the output by h. Here d = a·b + c.

# %%
def d_of(a, b, c):
    return a * b + c


a, b, c = 2.0, -3.0, 10.0
h = 1e-4
d0 = d_of(a, b, c)
for name, nudged in (("a", d_of(a + h, b, c)), ("b", d_of(a, b + h, c)), ("c", d_of(a, b, c + h))):
    print(f"nudge {name} by h: d goes from {d0} to {nudged:.4f}; Δd / h = {(nudged - d0) / h:+.4f}")

# %% [markdown]
# **Question.** Before reading the numbers: nudging a moves d by −3 per unit. Why −3, and why does
# nudging c move d by exactly 1 per unit?

# %% [markdown]
# ## Every gradient by hand, node by node
#
# Nudging needs one extra evaluation per input: a network with a million parameters would need a
# million. The chain rule gets them all in one sweep backwards. Here is a small graph,
# L = (a·b + c)·f, built from `Value`s. Each box shows a value's label, its data and its grad
# (still 0); each edge carries the **local derivative** of the op it goes into.

# %%
a, b, c, f = Value(2.0, label="a"), Value(-3.0, label="b"), Value(10.0, label="c"), Value(-2.0, label="f")
e = a * b
e.label = "e"
d = e + c
d.label = "d"
L = d * f
L.label = "L"
draw_dot(L)

# %% [markdown]
# Now fill in each grad by hand, starting at L and walking back. The rule at every node is the
# chain rule (链式法则):
#
# ∂L/∂child = ∂L/∂node · ∂node/∂child
#
# where ∂node/∂child is the local derivative: for a product, the other factor; for a sum, 1.

# %%
L.grad = 1.0  # ∂L/∂L: nudging L by h moves L by h
f.grad = d.data * L.grad  # L = d·f, so ∂L/∂f = d
d.grad = f.data * L.grad  # ... and ∂L/∂d = f
c.grad = 1.0 * d.grad  # d = e + c: a sum passes the gradient on unchanged
e.grad = 1.0 * d.grad
a.grad = b.data * e.grad  # e = a·b: ∂e/∂a = b, times ∂L/∂e
b.grad = a.data * e.grad
by_hand = {v.label: v.grad for v in (a, b, c, f)}
draw_dot(L)

# %% [markdown]
# Two checks. Nudging each input (central differences, `numerical_grad`), and `backward()`, which
# does the same walk, for any graph. The local derivatives it multiplies were written down on each
# node in the forward pass: e = a·b recorded (∂e/∂a, ∂e/∂b) = (b, a) = (−3, 2).

# %%
nudged = numerical_grad(lambda a, b, c, f: (a * b + c) * f, [2.0, -3.0, 10.0, -2.0])
L.zero_grad()  # forget the hand-made grads
L.backward()
print("e.local_grads =", e.local_grads)
print(f"{'':>3} {'by hand':>9} {'backward()':>11} {'nudging':>10}")
for v, slope in zip((a, b, c, f), nudged):
    print(f"{v.label:>3} {by_hand[v.label]:>9.4f} {v.grad:>11.4f} {slope:>10.4f}")

# %% [markdown]
# **Question.** Nudging needed 8 evaluations of L for these 4 gradients (two per input). How many
# passes over the graph did `backward()` need?

# %% [markdown]
# ## A node used twice: gradients add up
#
# In `b = a + a`, the node a feeds the `+` twice. Nudge a by h and b moves by 2h: db/da = 2. Each
# use of a sends its own share of gradient back, and the shares must be **added**: that is why
# the chain rule above reads `+=` in code. A backprop that *sets* `child.grad = …` keeps only the
# last share. Here both, written over the engine's own graph:

# %%
def backprop(root, add):
    """Walk the graph from root backwards; `add=False` is the bug of overwriting."""
    for node in topological_order(root):
        node.grad = 0.0
    root.grad = 1.0
    for node in reversed(topological_order(root)):
        for child, local in zip(node.children, node.local_grads):
            if add:
                child.grad += node.grad * local
            else:
                child.grad = node.grad * local  # a second use overwrites the first


a = Value(3.0, label="a")
b = a + a
b.label = "b"
backprop(b, add=False)
print(f"b = a + a, overwriting: ∂b/∂a = {a.grad}")
backprop(b, add=True)
print(f"b = a + a, adding:      ∂b/∂a = {a.grad}  (nudging: {numerical_grad(lambda a: a + a, [3.0])[0]:.4f})")

# %% [markdown]
# The same bug where a node is used by two *different* ops: f = (a·b)·(a + b) with a = −2, b = 3.
# Both a and b feed two nodes, d = a·b and e = a + b.

# %%
a, b = Value(-2.0, label="a"), Value(3.0, label="b")
d = a * b
d.label = "d"
e = a + b
e.label = "e"
f = d * e
f.label = "f"
nudged = numerical_grad(lambda a, b: (a * b) * (a + b), [-2.0, 3.0])
backprop(f, add=False)
wrong = (a.grad, b.grad)
f.zero_grad()  # leaf grads accumulate across backward calls: start again from 0
f.backward()
for v, bad, slope in zip((a, b), wrong, nudged):
    print(f"∂f/∂{v.label}: overwriting {bad:+.1f}, adding (backward) {v.grad:+.1f}, nudging {slope:+.4f}")
picture = draw_dot(f, rankdir="TB")  # top to bottom, spaced out: a's and b's edges cross once,
picture.graph_attr["nodesep"] = "0.8"  # and each local derivative stays beside its own edge
display(picture)

# %% [markdown]
# In the picture, a sends two edges out, one into `×` and one into `+`; its grad is the sum of
# what comes back along both.
#
# **Question.** In `b = a * a`, what does the overwriting version give for ∂b/∂a at a = 3, and what
# is right?

# %% [markdown]
# ## gradcheck: backprop against central differences
#
# `gradcheck(f, xs)` computes the gradient both ways, backprop and central differences, and raises
# an `AssertionError` naming the input where they disagree. It is how every op of this project is
# tested.

# %%
def g(a, b, c):
    return (a * b + c.exp()) / (1 + a**2)


print(gradcheck(g, [0.5, -1.5, 0.3]))

# %% [markdown]
# ### Where it fails: at a kink (对 θ 可导)
#
# The notes: the loss must be differentiable in θ (对 θ 可导), which is what makes gradient descent
# possible. relu(x) = max(0, x) is not differentiable at 0: its slope is 0 on the left and 1 on the
# right. The engine, like PyTorch, uses the convention relu'(0) = 0. Central differences straddle
# the kink and see the average of both sides:

# %%
try:
    gradcheck(lambda x: x.relu(), [0.0])
except AssertionError as disagreement:
    print("AssertionError:", disagreement)
print("a hair away from the kink they agree:", gradcheck(lambda x: x.relu(), [1e-3]),
      gradcheck(lambda x: x.relu(), [-1e-3]))

# %%
eps = 0.4  # a large ε, to see it: numerical_grad uses 1e-6
grid = np.linspace(-1, 1, 201)
fig, ax = plt.subplots(figsize=(6, 3.6))
ax.plot(grid, np.maximum(grid, 0), color="k", lw=2, label="relu(x)")
ax.plot([-eps, eps], [0, eps], "o--", color="#f97316",
        label=f"central difference over ±ε: slope {(max(eps, 0) - max(-eps, 0)) / (2 * eps):.1f}")
ax.plot([-0.6, 0.6], [0, 0], color="#2563eb", lw=3, alpha=0.6, label="backprop's slope at 0: 0 (convention)")
ax.set(xlabel="x", ylabel="relu(x)", title="at the kink x = 0 the two methods disagree")
ax.legend(fontsize=8, loc="upper left")
plt.show()

# %% [markdown]
# Where it matters: only exactly *at* the kink. A relu network's units sit there only when a
# pre-activation is exactly 0 (rare with real data). abs at 0 (convention 0) and the hinge loss at
# its margin (convention: the flat side; lesson 8 defines it) are the other kinks of this project.
#
# **Question.** `gradcheck(lambda x: abs(x), [0.0])` passes. Is abs differentiable at 0, or is
# the agreement luck?

# %% [markdown]
# ## Exercises
#
# Each exercise is checked by the library: a ✓, or a ✗ with a hint (never the answer). Replace the
# `...` with your code and run the cell.
#
# **1. tanh's local derivative.** tanh(x) = (eˣ − e⁻ˣ)/(eˣ + e⁻ˣ). Write d tanh(x)/dx as a function
# of the float x (you may use `math.tanh`). The checker compares it with backprop through the
# engine's `tanh` and with central differences.

# %%
from microgradlike.exercises.derivatives import check_tanh_derivative


def tanh_derivative(x):
    ...  # your code


check_tanh_derivative(tanh_derivative)

# %% [markdown]
# **2. Backward by hand.** Here is L = (a·b + c)·a with a = 2, b = −3, c = 10 (data shown, no
# grads). Work out ∂L/∂node for every node on paper, the way we did above, and fill them in. Mind
# the node used twice.

# %%
from microgradlike.exercises.derivatives import backward_exercise_graph, check_backward_by_hand

draw_dot(backward_exercise_graph(), show_grad=False)

# %%
my_grads = {"L": ..., "d": ..., "e": ..., "c": ..., "b": ..., "a": ...}  # your numbers
check_backward_by_hand(my_grads)

# %% [markdown]
# **3. tanh from exp.** Write tanh(x) = (e²ˣ − 1)/(e²ˣ + 1) with the Value x's own operations
# (`x.exp()`, `+`, `-`, `*`, `/`), without `x.tanh()`. Backprop through your graph must give the
# same gradient as through `tanh`: the engine does not care how a function was written, only that
# every op records its local derivative.

# %%
from microgradlike.exercises.derivatives import check_tanh_from_exp


def my_tanh(x):
    ...  # your code


check_tanh_from_exp(my_tanh)
