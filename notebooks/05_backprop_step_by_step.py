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
# # 5 · Backpropagation, one step at a time, and one training round by hand (反向传播, 链式法则)
#
# The notes: "深度学习的训练会用到反向传播(BackPropagation，BP)，其实它就是比较有效率、算梯度的方法" —
# backpropagation is just an efficient way to compute gradients — "利用链式法则逐层回传" — by the
# chain rule, layer by layer, and "反向传播的时候，你需要把正向传播过程中算的每一层的 z^[l]，a^[l]
# 都拿出来，因为梯度公式依赖它们" — it needs the values the forward pass computed.
#
# In lesson 1 we filled in a graph's gradients by hand. Here the library does the same walk, one
# node at a time, and says what it multiplies and where each number came from. Then we train a
# tiny network for exactly one round, by hand: forward, loss, backward, update.

# %%
import graphviz
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from microgradlike import Value, no_grad
from microgradlike.explorer import Explorer
from microgradlike.losses import mse
from microgradlike.nn import MLP
from microgradlike.optim import SGD
from microgradlike.stepper import Stepper, step_through
from microgradlike.train import fit
from microgradlike.viz import draw_dot

graphviz.set_jupyter_format("png")
plt.rcParams.update({"figure.dpi": 96, "axes.grid": True, "grid.alpha": 0.3})

# %% [markdown]
# ## One neuron, forward
#
# A neuron (神经元) computes z = x·w + b, then its activation a = tanh(z). Every node records, in
# the forward pass, its **local derivatives**: how it changes with each of its inputs, computed
# from the forward values. tanh's is 1 − out², from its own output: the "saved aˡ" of the notes.

# %%
x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.88, label="b")
xw = x * w
xw.label = "x·w"
z = xw + b
z.label = "z"
out = z.tanh()
out.label = "out"
for node in (xw, z, out):
    inputs = ", ".join(child.label for child in node.children)
    local = ", ".join(f"{g:.4f}" for g in node.local_grads)
    print(f"{node.label:>4} = {node.op}({inputs}) = {node.data:.4f};  local derivatives: ({local})")
draw_dot(out)

# %% [markdown]
# ## The stepper: backward, one node at a time
#
# `Stepper(out)` (or `out.backward_steps()`, one step at a time) runs exactly what `out.backward()`
# runs, and keeps every step: the node it is at, the gradient arriving at it (∂out/∂node, complete
# by then), and what it adds to each input:
#
# ∂out/∂child += ∂out/∂node · ∂node/∂child
#
# Step 1 is at the output: its gradient is the seed, 1. In the picture the current node is yellow,
# the edges it sends gradient along are bold, and `?` marks grads not reached yet.

# %%
steps = Stepper(out)
print(f"{len(steps)} steps: one per node that has inputs\n")
print(steps[0].explain())
steps[0].graph()

# %% [markdown]
# Step 2, at z: the gradient that arrived is 1 − tanh²(z), and a sum passes it to both its inputs
# unchanged.

# %%
print(steps[1].explain())
steps[1].graph()

# %% [markdown]
# All the steps, as text; then the check that stepping gives what one `backward()` call gives.

# %%
for step in steps:
    print(step.explain(), end="\n\n")
stepped = {v.label: v.grad for v in (x, w, b)}
out.zero_grad()
out.backward()
print("stepped  :", stepped)
print("backward :", {v.label: v.grad for v in (x, w, b)})

# %% [markdown]
# With ipywidgets, `step_through(out)` gives a slider and a play button over the same steps. (A
# widget needs a live kernel: run the cell to see it.) Like `backward()`, a pass of the stepper
# *adds* to the grads the leaves already hold, so we clear them first.

# %%
out.zero_grad()
display(step_through(out))

# %% [markdown]
# ## The backprop explorer, in the page
#
# `Explorer(out)` turns the same steps into a self-contained web page: next / previous / reset /
# play (or the arrow keys), the current node highlighted, each grad appearing as backprop reaches
# it; two more modes replay the forward pass and forward mode (lesson 6). In Jupyter it shows
# inline (run the cell: a notebook you have not run yourself, or one read on a code-hosting site,
# does not show pages); `.save("backprop.html")` writes it to open in any browser. Under the
# page, the same state as a picture: the graph at step 3, as the page shows it after three
# presses of "next". The README's screenshot of the page, at that step of this very neuron (its
# nodes unnamed there):
#
# ![The backprop explorer at step 3 of tanh(x·w + b)](../docs/img/explorer.png)

# %%
out.zero_grad()  # the explorer, too, shows leaf grads accumulating on what they held
explorer = Explorer(out)
display(explorer)  # the page: needs a live kernel
print(steps[2].explain())
steps[2].graph()  # the page's step 3, as a picture

# %% [markdown]
# **Question.** Step 3 adds to both x and w. Why does ∂out/∂x use w's *value*, and ∂out/∂w use x's?

# %% [markdown]
# ## One training round by hand (训练 = 前向传播 → 损失 → 反向传播 → 更新)
#
# The notes' summary: training repeats four things — forward (前向传播: x → layers → ŷ), the loss
# (计算损失), backward (反向传播: the gradient of the loss for every parameter), and the update
# (参数更新). One round of it, on a tiny network with one hidden layer of two tanh neurons: seven
# parameters, θ = (w, b of each neuron), packed into one list by `model.parameters()`.

# %%
xs = [-1.0, -0.5, 0.0, 0.5, 1.0]
ys = [0.8, 0.2, -0.3, -0.1, 0.6]
model = MLP(1, [2, 1], activation="tanh", seed=0)
names = [name for name, _ in model.named_parameters()]
theta0 = [p.data for p in model.parameters()]  # θ⁰
print(len(theta0), "parameters:", ", ".join(names))

# %% [markdown]
# **Forward and loss.** Predictions for the five points, and their mean squared error (均方误差):

# %%
preds = [model([x]) for x in xs]  # forward: one ŷ per x
loss = mse(preds, ys)  # the loss L(θ⁰), one Value
print("ŷ =", [round(p.data, 3) for p in preds])
print(f"L(θ⁰) = {loss.data:.4f}")

# %% [markdown]
# **Backward.** One call fills the grad of every node in the graph, the parameters included: each
# p.grad is now ∂L/∂p at θ⁰.

# %%
model.zero_grad()  # start from 0: grads add up otherwise (see below)
loss.backward()
grads = [p.grad for p in model.parameters()]

# %% [markdown]
# **Update.** Every parameter takes a step against its own gradient, `p.data -= lr * p.grad`:
# θ¹ = θ⁰ − η·∇L(θ⁰).

# %%
lr = 0.1
for p in model.parameters():
    p.data -= lr * p.grad
theta1 = [p.data for p in model.parameters()]  # θ¹
with no_grad():
    loss_after = mse([model([x]) for x in xs], ys).data
print(f"{'parameter':<22} {'θ⁰':>8} {'∂L/∂θ':>8} {'θ¹':>8}")
for name, t0, g, t1 in zip(names, theta0, grads, theta1):
    print(f"{name:<22} {t0:>8.4f} {g:>+8.4f} {t1:>8.4f}")
print(f"\nL(θ⁰) = {loss.data:.4f}  →  L(θ¹) = {loss_after:.4f}")

# %%
grid = np.linspace(-1.2, 1.2, 121)


def curve_at(theta):
    for p, t in zip(model.parameters(), theta):
        p.data = t
    with no_grad():
        return [model([x]).data for x in grid]


fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1, 1.3]})
left.scatter(xs, ys, color="k", zorder=3, label="data")
left.plot(grid, curve_at(theta0), color="#9ca3af", lw=2, label=f"ŷ(x) at θ⁰: L = {loss.data:.4f}")
left.plot(grid, curve_at(theta1), color="#2563eb", lw=2, label=f"ŷ(x) at θ¹: L = {loss_after:.4f}")
left.set(xlabel="x", ylabel="y", title="the model before and after one update")
left.legend(fontsize=8)
at = np.arange(len(names))
right.bar(at - 0.2, grads, width=0.4, color="#9ca3af", label="∂L/∂θ at θ⁰ (uphill)")
right.bar(at + 0.2, np.subtract(theta1, theta0), width=0.4, color="#2563eb",
          label="the step θ¹ − θ⁰ = −η·∂L/∂θ")
right.set_xticks(at, [n.replace("layers.", "L").replace("neurons.", "n") for n in names], rotation=30)
right.axhline(0, color="k", lw=0.8)
right.set(ylabel="value", title=f"each parameter steps against its own gradient (η = {lr})")
right.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# The parameter names read as paths: `layers.0.neurons.1.w.0` is weight 0 of neuron 1 of layer 0
# (the hidden layer); `layers.1` is the linear output layer. In the bar chart, L0.n1.w.0 and so on.
#
# `fit` is this very loop, repeated. One epoch of full-batch SGD with the same η gives the same θ¹:

# %%
twin = MLP(1, [2, 1], activation="tanh", seed=0)  # θ⁰ again
history = fit(twin, [[x] for x in xs], ys, loss="mse", optimizer=SGD(twin.parameters(), lr=lr),
              max_epochs=1, tol=0.0, shuffle=False, keep_params=True, progress=False)
print("θ¹ by hand == θ¹ from fit:", np.allclose(history.params[1], theta1, rtol=1e-12, atol=0))
print(f"loss before the update: {history.update_loss[0]:.4f} (by hand {loss.data:.4f})")

# %% [markdown]
# **Question.** Which parameter moved the most, and does that mean it matters the most?

# %% [markdown]
# ## What forgetting `zero_grad` does
#
# Within one pass, backprop adds each use's share into a node's grad with `+=`: that is what makes
# a node used twice come out right (lesson 1). Across passes, `backward()` **adds** too, but that
# is a separate choice (PyTorch makes it as well): a leaf, such as a parameter, keeps the grad it
# held and the new gradient is added to it. Between training rounds that means the old gradients
# are still there unless they are cleared. Two backward calls on the same loss, without clearing:

# %%
model = MLP(1, [2, 1], activation="tanh", seed=0)
loss = mse([model([x]) for x in xs], ys)
loss.backward()
first = [p.grad for p in model.parameters()]
loss.backward()
second = [p.grad for p in model.parameters()]
print("after one backward :", [round(g, 4) for g in first])
print("after two backwards:", [round(g, 4) for g in second])
print("exactly twice?", all(s == 2 * f for f, s in zip(first, second)))

# %% [markdown]
# Now 400 rounds of training, the same model and η, once with `model.zero_grad()` before each
# backward and once without. Without it, each step uses the sum of *every* gradient so far. On
# the right, for the run without it: the size of that sum, which the update uses, and the size of
# the round's own gradient, ‖∇L(θ)‖.

# %%
def train(zero_grad, rounds=400, lr=0.1):
    """Losses, the norm of the grad the update used, and the norm of the round's own gradient."""
    model = MLP(1, [2, 1], activation="tanh", seed=0)
    losses, used, own = [], [], []
    for _ in range(rounds):
        loss = mse([model([x]) for x in xs], ys)  # forward, loss
        if zero_grad:
            model.zero_grad()
        before = [p.grad for p in model.parameters()]
        loss.backward()  # backward
        used.append(np.hypot.reduce([p.grad for p in model.parameters()]))
        own.append(np.hypot.reduce([p.grad - g for p, g in zip(model.parameters(), before)]))
        for p in model.parameters():  # update
            p.data -= lr * p.grad
        losses.append(loss.data)
    return losses, used, own


fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
for zero_grad, colour in ((True, "#2563eb"), (False, "#dc2626")):
    losses, used, own = train(zero_grad)
    last = losses[-100:]
    label = (f"{'with' if zero_grad else 'without'} zero_grad: L {losses[0]:.3f} → {losses[-1]:.3f}; "
             f"last 100 rounds between {min(last):.3f} and {max(last):.3f}")
    print(label)
    left.semilogy(range(1, len(losses) + 1), losses, color=colour, label=label)
    if not zero_grad:
        right.semilogy(used, color=colour, label="without zero_grad: ‖p.grad‖, the sum the update used")
        right.semilogy(own, color="k", lw=1, label="the round's own gradient ‖∇L(θ)‖")
left.set(xlabel="round (update)", ylabel="loss before the update (log scale)",
         title="the same training, with and without zero_grad")
left.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.17))
right.set(xlabel="round (update)", ylabel="gradient norm (log scale)",
          title="what the update used, without zero_grad")
right.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.17))
plt.tight_layout()
plt.show()

# %% [markdown]
# For the first rounds the sum of old gradients can even help (it keeps pushing the way things
# were going: the idea of momentum, next). But it never fades: where the round's own gradient gets
# small, near the bottom, the sum it is added to does not, so the steps stay large, the loss keeps
# swinging, and the run can never stop by the tolerance. The update that runs is not the one we
# wrote, θ − η·∇L(θ).
#
# **Question.** PyTorch has the same rule (`.grad` accumulates; `optimizer.zero_grad()` clears it).
# Why would a library *choose* to add rather than overwrite?

# %% [markdown]
# ## Momentum: a sum of past gradients that fades (SGD with momentum)
#
# Without `zero_grad`, round t stepped along v = g¹ + g² + … + gᵗ, every gradient so far at full
# weight. **SGD with momentum** keeps such a running sum, on purpose, but lets the old gradients
# fade: before the new gradient g is added, the sum is multiplied by a number μ < 1,
#
# v ← μ·v + g,   θ ← θ − η·v   (v starts at 0)
#
# μ = 0 is plain gradient descent; μ = 1 is the forgotten `zero_grad` above. With μ = 0.9 a
# gradient's weight halves in about 7 rounds (0.9⁷ ≈ 0.48): the steps grow where the gradients
# keep agreeing (down a long valley), and swings, where they disagree, cancel out. The sum is
# kept by the optimiser, not in `p.grad`, so the grads are still cleared every round.
# `optim.SGD(params, lr, momentum=μ)` is those two lines; first, checked against them by hand:

# %%
by_hand, by_sgd = MLP(1, [2, 1], activation="tanh", seed=0), MLP(1, [2, 1], activation="tanh", seed=0)
opt = SGD(by_sgd.parameters(), lr=0.1, momentum=0.9)
velocity = [0.0] * len(by_hand.parameters())
for _ in range(5):
    for net in (by_hand, by_sgd):
        loss = mse([net([x]) for x in xs], ys)
        net.zero_grad()
        loss.backward()
    for i, p in enumerate(by_hand.parameters()):
        velocity[i] = 0.9 * velocity[i] + p.grad  # v ← μ·v + g
        p.data -= 0.1 * velocity[i]  # θ ← θ − η·v
    opt.step()
same = [p.data for p in by_hand.parameters()] == [p.data for p in by_sgd.parameters()]
print("5 rounds by hand == 5 rounds of SGD(momentum=0.9):", same)

# %% [markdown]
# Then the 400 rounds again, three ways: plain gradient descent (μ = 0), momentum μ = 0.9, and the
# forgotten `zero_grad` (a sum that never fades, μ = 1 in effect):

# %%
def train_sgd(momentum, rounds=400, lr=0.1):
    """The losses of `rounds` rounds of SGD(momentum=...), clearing the grads every round."""
    model = MLP(1, [2, 1], activation="tanh", seed=0)
    opt = SGD(model.parameters(), lr=lr, momentum=momentum)
    losses = []
    for _ in range(rounds):
        loss = mse([model([x]) for x in xs], ys)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.data)
    return losses


fig, ax = plt.subplots(figsize=(8, 3.8))
runs = ((train_sgd(0.0), "#2563eb", "plain SGD, μ = 0 (with zero_grad)"),
        (train_sgd(0.9), "#16a34a", "SGD with momentum μ = 0.9 (with zero_grad)"),
        (train(zero_grad=False)[0], "#dc2626", "without zero_grad: a sum that never fades"))
for losses, colour, name in runs:
    label = f"{name}: L after 400 rounds {losses[-1]:.1e}"
    print(label)
    ax.semilogy(range(1, len(losses) + 1), losses, color=colour, lw=2, label=label)
ax.set(xlabel="round (update)", ylabel="loss before the update (log scale)",
       title="the same network and η = 0.1: a running sum of gradients helps when it fades")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# In the same 400 rounds momentum ends far lower than plain descent (the printout gives both), and
# is still going down; the sum that never fades keeps swinging. Momentum is the first half of **Adam**
# (lesson 4): Adam's m is this running sum, scaled (m ← β₁·m + (1 − β₁)·g), and its v divides
# each parameter's step by the size of that parameter's gradients. Lesson 8 compares them.
#
# **Question.** With μ = 0.9, roughly how many times larger than one gradient can the step become
# when every round's gradient is the same? (Sum the series 1 + μ + μ² + ….)

# %% [markdown]
# ## Exercises
#
# **1. The update.** Write `update(params, lr)`: move every parameter one step of gradient descent,
# in place (the model holds these very Values). The checker compares with `SGD(params, lr).step()`.

# %%
from microgradlike.exercises.backprop import check_sgd_update


def update(params, lr):
    ...  # your code


check_sgd_update(update)

# %% [markdown]
# **2. One training round.** Write `train_round(model, xs, ys, lr)`: forward, the loss
# `mse(preds, ys)`, backward, the update; return the loss (before the update). The checker calls
# it three times in a row on a fresh `MLP(1, [3, 1], "tanh")` and compares every θ with `fit`'s,
# so mind what the rounds leave behind for each other.

# %%
from microgradlike.exercises.backprop import check_training_round


def train_round(model, xs, ys, lr):
    ...  # your code


check_training_round(train_round)
