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
# # 2 · Build your own engine (反向传播, 链式法则, 神经元)
#
# The notes: "反向传播（Backpropagation）就是用链式法则计算每个参数的梯度" — backpropagation computes
# every parameter's gradient with the chain rule. In lesson 1 we did that by hand, node by node,
# and then let `backward()` do it. Here we write `backward()` ourselves: a `Value` that remembers
# how it was made, four operations that each know how to pass a gradient back, a topological sort,
# and `backward()`: under a hundred lines. On top of it a `Neuron`, a `Layer`, an `MLP` and the
# training loop, which trains on the notes' curve and gets microgradlike's numbers, to the last
# few bits.
#
# **Checked as you go.** After each step a cell runs a checker from
# `microgradlike.exercises.engine_from_scratch` on the code above it. The checker builds random
# graphs twice, with *your* class and with microgradlike's, and compares every number: a ✓, or a ✗
# with a hint that never holds the answer. The code below is one way to write each step: type your
# own in its place (or change it) and run the check again. On the way we plant the classic bugs on
# purpose and watch the checker catch them.

# %%
import inspect
import math
import random

import graphviz
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

import microgradlike
from microgradlike.data import piecewise_linear
from microgradlike.exercises.engine_from_scratch import (
    check_backward,
    check_local_gradients,
    check_mlp,
    check_topological_order,
    check_training_loop,
    check_value,
)
from microgradlike.optim import SGD
from microgradlike.train import fit
from microgradlike.viz import ComputationGraph

graphviz.set_jupyter_format("png")  # graphs as PNG: they show on code-hosting sites too
plt.rcParams.update({"figure.dpi": 96, "axes.grid": True, "grid.alpha": 0.3})

# %% [markdown]
# ## 1. A value that remembers how it was made
#
# A node of the graph keeps five things (and a label, for pictures):
#
# * `data`, its number, computed in the forward pass (前向传播);
# * `grad`, ∂L/∂node, which stays 0 until backward fills it in;
# * `children`, the nodes it was computed from;
# * `op`, what computed it (for pictures);
# * `pass_back`, a function that sends this node's grad on to its children: the chain rule (链式法则)
#   for this one node, ∂L/∂child += ∂node/∂child · ∂L/∂node.
#
# An operation knows its own local derivative ∂node/∂child, so the operation writes `pass_back` when
# it makes the node. A leaf (an input, a parameter) has no children: its `pass_back` does nothing.
# Mind the `+=`: in lesson 1, a node used twice had to collect one share of gradient per use.

# %%
class Value:
    def __init__(self, data, children=(), op="", label=""):
        self.data = data
        self.grad = 0.0  # ∂L/∂self: nothing has been passed back yet
        self.children = children
        self.op = op
        self.label = label
        self.pass_back = lambda: None  # a leaf has nobody to pass to

    def __repr__(self):
        return f"Value(data={self.data:.4g}, grad={self.grad:.4g})"

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)  # a plain number becomes a leaf
        out = Value(self.data + other.data, (self, other), "+")

        def pass_back():  # ∂out/∂self = ∂out/∂other = 1
            self.grad += out.grad
            other.grad += out.grad

        out.pass_back = pass_back
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def pass_back():  # ∂out/∂self = other, ∂out/∂other = self
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out.pass_back = pass_back
        return out

    # 2 + a and 2 * a: Python asks the number first, which gives up, then asks the Value
    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    # − needs no pass_back of its own: it is made of + and ×
    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return (-self) + other


# %% [markdown]
# Try it: each result knows its inputs and the op that combined them.

# %%
a, b = Value(2.0, label="a"), Value(-3.0, label="b")
e = a * b
d = e + 10
print(d, "=", d.op, "of", d.children)
print(e, "=", e.op, "of", e.children)

# %%
check_value(Value)

# %% [markdown]
# ## 2. Two more ops: tanh and exp
#
# One-input ops work the same way. tanh's local derivative is lesson 1's first exercise, and it is
# written with the *output* t = tanh(x) that the forward pass computed. The notes:
# "反向传播的时候，你需要“把正向传播过程中算的每一层的 z^[l]，a^[l]
# 都拿出来”，因为梯度公式依赖它们" — backprop needs the values the forward pass computed, because
# the gradient formulas depend on them. exp is its own derivative, so it too reuses its output.
#
# We add them to the class as functions, one cell per idea (the class is still the same class).

# %%
def tanh(self):
    t = math.tanh(self.data)
    out = Value(t, (self,), "tanh")

    def pass_back():  # d tanh(x)/dx = 1 − tanh²(x), from the saved output
        self.grad += (1 - t * t) * out.grad

    out.pass_back = pass_back
    return out


def exp(self):
    out = Value(math.exp(self.data), (self,), "exp")

    def pass_back():  # d eˣ/dx = eˣ, the output itself
        self.grad += out.data * out.grad

    out.pass_back = pass_back
    return out


Value.tanh = tanh
Value.exp = exp
check_local_gradients(Value)

# %% [markdown]
# The checker gives each input some gradient *before* calling `pass_back`, then looks at what was
# added. Here is why. The classic bug writes `=` where the chain rule needs `+=`; for one use it
# gives the same numbers, so only a node used twice tells them apart. We swap in a `*` with that
# bug, check it, and put the right one back:

# %%
def mul_overwriting(self, other):  # the classic bug: `=` instead of `+=`
    other = other if isinstance(other, Value) else Value(other)
    out = Value(self.data * other.data, (self, other), "*")

    def pass_back():
        self.grad = other.data * out.grad  # replaces what another use already passed back
        other.grad = self.data * out.grad

    out.pass_back = pass_back
    return out


right_mul = Value.__mul__
Value.__mul__ = mul_overwriting
display(check_local_gradients(Value))
Value.__mul__ = right_mul  # the right one back

# %% [markdown]
# **Question.** With the overwriting `*`, what does b = a·a give for ∂b/∂a at a = 3, and what is
# right? And why would `Value(3.0) * Value(3.0)` not show the bug at all?

# %% [markdown]
# ## 3. The order: a topological sort
#
# `backward()` must call every node's `pass_back`, and in the right order: **a node may pass its
# grad on only when that grad is complete**, that is, after every node that uses it has passed its
# share back. Passed on too early, the shares that arrive later never reach the children.
#
# A depth-first walk gives such an order. Visit a node's children first, and put the node in the
# list only after all of them: every node then comes *after* everything below it. Read backwards,
# every node comes before everything below it, so before everything it passes to. A set of visited
# nodes keeps a node reached along two paths from being listed twice.

# %%
def topological_order(root):
    order, visited = [], set()

    def visit(node):
        if node not in visited:
            visited.add(node)
            for child in node.children:
                visit(child)
            order.append(node)  # after all of its children

    visit(root)
    return order


# %% [markdown]
# Lesson 1's graph f = (a·b)·(a + b), where a and b each feed two nodes. Each box shows the node's
# place in the order, its label, data and grad; each circle is an op. Backward will walk the numbers
# down, from the last to 0.

# %%
def draw(root):
    """Our graph, left to right: a box per node (its place in topological_order, label, data,
    grad), a circle per op. (microgradlike's ComputationGraph is a graphviz Digraph that shows
    the DOT text, not a traceback, where Graphviz is not installed.)"""
    dot = ComputationGraph(graph_attr={"rankdir": "LR"}, edge_attr={"arrowsize": "0.7"},
                           node_attr={"fontname": "Helvetica", "fontsize": "11"})
    order = topological_order(root)
    place = {node: k for k, node in enumerate(order)}
    for k, node in enumerate(order):
        dot.node(f"v{k}", f"#{k} {node.label} | data {node.data:.3f} | grad {node.grad:.3f}", shape="record")
        if node.op:
            dot.node(f"v{k}op", node.op, shape="circle", width="0.3")
            dot.edge(f"v{k}op", f"v{k}")
            for child in node.children:
                dot.edge(f"v{place[child]}", f"v{k}op")
    return dot


a, b = Value(-2.0, label="a"), Value(3.0, label="b")
d = a * b
d.label = "d"
e = a + b
e.label = "e"
f = d * e
f.label = "f"
draw(f)

# %%
check_topological_order(topological_order)

# %% [markdown]
# ## 4. backward()
#
# Now backward is three lines. The **seed** starts the chain rule: ∂f/∂f = 1 (nudge f by h and f
# moves by h). Then every node passes back, in reverse topological order.

# %%
def backward(self):
    self.grad = 1.0  # the seed: ∂self/∂self
    for node in reversed(topological_order(self)):  # every grad is complete when it is passed on
        node.pass_back()


Value.backward = backward
f.backward()
draw(f)

# %% [markdown]
# The same graph in microgradlike gives the same gradients:

# %%
reference = microgradlike.grad(lambda a, b: (a * b) * (a + b))(-2.0, 3.0)
print(f"ours:          ∂f/∂a = {a.grad}, ∂f/∂b = {b.grad}")
print(f"microgradlike: ∂f/∂a = {reference[0]}, ∂f/∂b = {reference[1]}")

# %%
check_backward(Value)

# %% [markdown]
# Two more classic bugs, planted one at a time: passing back in the sort's own order (children
# first, so every node passes on a grad that is not complete yet), and forgetting the seed (then
# the grad that starts the chain is 0, and 0 is what reaches everywhere).

# %%
def backward_in_sort_order(self):  # bug: children before the nodes that use them
    self.grad = 1.0
    for node in topological_order(self):
        node.pass_back()


def backward_without_seed(self):  # bug: ∂self/∂self is never set
    for node in reversed(topological_order(self)):
        node.pass_back()


for bug in (backward_in_sort_order, backward_without_seed):
    Value.backward = bug
    print(check_backward(Value), end="\n\n")
Value.backward = backward  # the right one back

# %% [markdown]
# **Question.** Call `f.backward()` a second time and look at a.grad: it is not the same. Which
# nodes' grads went wrong, and why? (Nothing in our `backward` sets a grad back to 0.)

# %% [markdown]
# ## 5. Neuron, Layer, MLP (神经元, 隐藏层, 多层感知机)
#
# The notes: "Sigmoid 或 ReLU 称为神经元(neuron)，很多的神经元称为神经网络
# (neural network)" — a unit is a neuron, many of them a network. A neuron computes
# z = Σᵢ wᵢ·xᵢ + b and then its activation a = tanh(z); a layer is neurons that read the same
# inputs; an MLP is layers in a row, each reading the previous one's outputs. As in microgradlike,
# the last layer is linear (no tanh), so that the output can be any number, not only one in (−1, 1).
# Nothing here is new: these classes only build graphs out of our `Value`.

# %%
class Neuron:
    def __init__(self, nin, linear=False):
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0.0)
        self.linear = linear

    def __call__(self, x):
        z = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)  # Σ wᵢ·xᵢ + b
        return z if self.linear else z.tanh()

    def parameters(self):
        return [*self.w, self.b]


class Layer:
    def __init__(self, nin, nout, linear=False):
        self.neurons = [Neuron(nin, linear) for _ in range(nout)]

    def __call__(self, x):
        outs = [neuron(x) for neuron in self.neurons]
        return outs[0] if len(outs) == 1 else outs

    def parameters(self):
        return [p for neuron in self.neurons for p in neuron.parameters()]


class MLP:
    def __init__(self, nin, nouts):
        sizes = [nin, *nouts]
        last = len(nouts) - 1
        self.layers = [Layer(sizes[i], sizes[i + 1], linear=i == last) for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0.0


check_mlp(MLP)

# %% [markdown]
# ## 6. The training loop (训练 = 前向传播 → 损失 → 反向传播 → 参数更新)
#
# The notes' four steps, repeated: forward (predictions for every x), the loss (the mean squared
# error, 均方误差), backward, and the update θ ← θ − η·∂L/∂θ. Before backward, every grad is set
# back to 0: our `pass_back` *adds*, and last step's gradients are still there.

# %%
def mse(preds, ys):
    return sum(((p - y) * (p - y) for p, y in zip(preds, ys)), Value(0.0)) * (1 / len(ys))


def train(model, xs, ys, lr, steps):
    losses = []
    for _ in range(steps):
        model.zero_grad()
        loss = mse([model(x) for x in xs], ys)  # forward, then the loss
        loss.backward()  # backward
        for p in model.parameters():  # the update
            p.data -= lr * p.grad
        losses.append(loss.data)
    return losses


check_training_loop(train, MLP)

# %% [markdown]
# And the fourth classic bug: the same loop without `zero_grad`. Every step then moves by the sum of
# all the gradients so far.

# %%
def train_without_zero_grad(model, xs, ys, lr, steps):
    losses = []
    for _ in range(steps):
        loss = mse([model(x) for x in xs], ys)
        loss.backward()
        for p in model.parameters():
            p.data -= lr * p.grad
        losses.append(loss.data)
    return losses


check_training_loop(train_without_zero_grad, MLP)

# %% [markdown]
# ## 7. Our engine against microgradlike, on the notes' curve
#
# The notes' target: a piecewise-linear curve (the one the sigmoids lesson builds from its
# corners), 30 noisy points. Our `MLP(1, [8, 1])` starts from microgradlike's
# `MLP(1, [8, 1], activation="tanh", seed=0)`: the same 25 numbers, copied one by one (both list
# each neuron's weights, then its bias). Then 200 steps of our loop, and 200 epochs of
# microgradlike's `fit` with plain SGD on all the data at once: the same algorithm.

# %%
X, y = piecewise_linear(n=30, noise=0.05, seed=0)
xs, ys = X.tolist(), y.tolist()

theirs = microgradlike.nn.MLP(1, [8, 1], activation="tanh", seed=0)
ours = MLP(1, [8, 1])
for mine, their in zip(ours.parameters(), theirs.parameters(), strict=True):
    mine.data = their.data

our_losses = train(ours, xs, ys, lr=0.1, steps=200)
history = fit(theirs, X, y, loss="mse", optimizer=SGD(theirs.parameters(), lr=0.1), max_epochs=200,
              tol=0.0, shuffle=False, engine="eager", progress=False)
their_losses = history.update_loss

gap = max(abs(m - t) for m, t in zip(our_losses, their_losses))
params_gap = max(abs(m.data - t.data) for m, t in zip(ours.parameters(), theirs.parameters()))
assert np.allclose(our_losses, their_losses, rtol=1e-9, atol=0), gap
assert params_gap < 1e-9, params_gap
print(f"loss: {our_losses[0]:.4f} → {our_losses[-1]:.4f} (ours), "
      f"{their_losses[0]:.4f} → {their_losses[-1]:.4f} (microgradlike)")
print(f"largest difference over 200 steps: losses {gap:.1e}, parameters after training {params_gap:.1e}")

# %% [markdown]
# On the left the two loss curves (ours dashed, on top of microgradlike's); in the middle how far
# apart they are, step by step; on the right both trained models over the data.

# %%
grid = np.linspace(X.min(), X.max(), 200)
fig, (left, middle, right) = plt.subplots(1, 3, figsize=(14, 3.8))
steps = np.arange(1, len(our_losses) + 1)
left.semilogy(steps, their_losses, color="#2563eb", lw=3, alpha=0.5, label="microgradlike: fit")
left.semilogy(steps, our_losses, color="k", lw=1.2, ls="--", label="ours: train")
left.set(xlabel="step (update)", ylabel="mean squared error", title="the same loss, step by step")
left.legend(fontsize=8)
difference = np.abs(np.subtract(our_losses, their_losses))
middle.semilogy(steps, np.maximum(difference, 1e-18), ".", color="#dc2626", ms=3,
                label="|ours − microgradlike's| (0 drawn at 1e-18)")
middle.semilogy(steps, np.spacing(their_losses), color="k", lw=1,
                label="one rounding step of the loss (np.spacing)")
middle.set(xlabel="step", ylabel="difference of the losses (log)", ylim=(1e-18, 1e-13),
           title="how far apart: a dozen rounding steps at most")
middle.legend(fontsize=8, loc="upper right")
right.scatter(X[:, 0], y, s=12, color="k", label="data (piecewise linear + noise)")
right.plot(grid, [theirs([x]).data for x in grid], color="#2563eb", lw=3, alpha=0.5,
           label="microgradlike's MLP")
right.plot(grid, [ours([x]).data for x in grid], color="k", lw=1.2, ls="--", label="ours")
right.set(xlabel="x", ylabel="y", title="after 200 steps")
right.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# The two agree to the last few bits, not to every bit: both add the same numbers, but not always
# in the same order (our neuron adds b first, microgradlike's last), and floating-point addition
# rounds differently in a different order.
#
# **Question.** 200 steps is not enough to fit all four pieces of the curve. What would you change
# first: the number of steps, η, or the width of the hidden layer? Try it, with both engines.

# %% [markdown]
# ## 8. Where microgradlike's engine is the same idea, and where it differs
#
# **The same idea.** Its `backward()` walks the nodes in reverse topological order, starts from the
# seed 1 and adds, at every node, the node's grad times a local derivative to each child's grad:

# %%
print(inspect.getsource(microgradlike.Value.backward))

# %% [markdown]
# Its ops are not written by hand one by one. Each is a row of one table, `microgradlike.ops.OPS`:
# the forward formula, the local derivatives (in a, b and the saved output `out`), the symbol for
# pictures. The rows for × and tanh hold what our `__mul__` and `tanh` hold:

# %%
for name in ("*", "tanh"):
    op = microgradlike.ops.OPS[name]
    print(f"{name:>4}: out = {op.forward:<8}  local derivatives {op.derivatives}")

# %% [markdown]
# From that table a generator writes the `Value` methods, one per row, into an ordinary Python file,
# `microgradlike/methods.py` (committed with the library, and written again by
# `python microgradlike/methodgen.py --write` when a row changes). So `inspect.getsource` shows them
# as it shows any method. The one for ×, to read next to ours from §1:

# %%
print(inspect.getsource(microgradlike.Value.__mul__))

# %% [markdown]
# **Where it differs.** (1) It records each local derivative as a *number* on the node, at forward
# time (the `(b, a)` handed to `_node` above), where ours hides it in a closure: `local_grads` can
# be printed, drawn, stepped through, and compiled. `backward()` is then one loop for every op,
# `child.grad += node.grad * local`. (A plain number, as in `x * 3`, is kept on the node as a
# constant, not wrapped in a leaf as ours does.)

# %%
x, w = microgradlike.Value(2.0), microgradlike.Value(-3.0)
print("microgradlike: (x·w).local_grads =", (x * w).local_grads, "  (∂/∂x = w, ∂/∂w = x)")
hidden = (Value(2.0) * Value(-3.0)).pass_back
print("ours: the numbers are computed inside pass_back, from what it closes over:",
      hidden.__code__.co_freevars)

# %% [markdown]
# (2) A neuron's Σᵢ wᵢ·xᵢ + b is **one** node there, `dot`, with every weight, input and the bias as
# children; ours builds it from one × and one + per input. Fewer nodes, the same gradients:

# %%
inputs = [0.5, -1.0, 2.0]
our_neuron = Neuron(3)
their_neuron = microgradlike.nn.Neuron(3, activation="tanh", seed=0)
for mine, their in zip(our_neuron.parameters(), their_neuron.parameters(), strict=True):
    mine.data = their.data
ours_out, theirs_out = our_neuron(inputs), their_neuron(inputs)
ours_nodes = [n for n in topological_order(ours_out) if n.op]
theirs_nodes = [n for n in microgradlike.topological_order(theirs_out) if n.op]
print(f"ours: {len(ours_nodes)} op nodes ({', '.join(n.op for n in ours_nodes)})")
print(f"microgradlike: {len(theirs_nodes)} op nodes ({', '.join(n.op for n in theirs_nodes)})")
ours_out.backward()
theirs_out.backward()
print("same grads:", np.allclose([p.grad for p in our_neuron.parameters()],
                                 [p.grad for p in their_neuron.parameters()], rtol=1e-12))

# %% [markdown]
# (3) Around the same core it adds what a library needs: `backward()` computes interior grads
# afresh on every call (only the leaves, the parameters, accumulate, as in PyTorch: the question of
# §4), `no_grad()`, an iterative topological sort with no depth limit, and a precise error for bad
# input, such as a `Value` made from a string.

# %% [markdown]
# ## Exercises
#
# Each is checked by the same checkers: a ✓, or a ✗ with a hint (never the answer). Replace the
# `...` with your code and run the cell.
#
# **1. relu and powers.** Give our `Value` a `relu` (max(0, x); at exactly 0 take the slope 0, as
# microgradlike and PyTorch do) and `**` with a plain-number exponent, each with its `pass_back`.

# %%
def relu(self):
    ...  # your code


def power(self, k):  # self ** k, for a plain number k
    ...  # your code


Value.relu = relu
Value.__pow__ = power
check_local_gradients(Value, ops=("relu", "**"))

# %% [markdown]
# **2. A topological sort without recursion.** Our `visit` calls itself once per level of the
# graph, and Python stops a function nested about a thousand calls deep: a chain of 5000 nodes,
# which a deep network's graph easily is, is too deep for it.

# %%
check_topological_order(topological_order, depth=5000)

# %% [markdown]
# Write `topological_order_iterative(root)`: the same list, with a list of your own as the stack of
# nodes still to visit (a node must come back to the stack once its children are done).

# %%
def topological_order_iterative(root):
    ...  # your code


check_topological_order(topological_order_iterative, depth=5000)

# %% [markdown]
# **3. Division for free.** Write `a / b` for our `Value` with the ops it already has (a / b is
# a · b⁻¹, and exercise 1 gave you `**`): no new `pass_back`. The checker runs `backward()` on random
# graphs that divide.

# %%
def truediv(self, other):
    ...  # your code


Value.__truediv__ = truediv
check_backward(Value, ops=("+", "*", "/", "tanh"))
