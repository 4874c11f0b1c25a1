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
# # 3 · Backpropagation, one node at a time (反向传播, 链式法则)
#
# The notes: backpropagation is *just an efficient way to compute gradients*, by the chain rule,
# layer by layer — and it needs the values saved during the forward pass (正向传播).
#
# In microgradlike every operation stores, at forward time, its **local derivative** with
# respect to each input, computed from forward values. Backprop then only multiplies:
#
# ∂L/∂child += ∂L/∂node · ∂node/∂child

# %%
from microgradlike import Value
from microgradlike.stepper import Stepper, step_through
from microgradlike.viz import draw_dot

# one neuron: out = tanh(x·w + b)
x = Value(2.0, label="x")
w = Value(-3.0, label="w")
b = Value(6.88, label="b")
xw = x * w
xw.label = "x·w"
z = xw + b
z.label = "z"
out = z.tanh()
out.label = "out"

# The forward pass already recorded what backprop will multiply:
for node in (xw, z, out):
    print(f"{node.label:>4} = {node.op:<4} of {[c.label for c in node.children]}: "
          f"data = {node.data:.4f}, local_grads = {tuple(round(g, 4) for g in node.local_grads)}")

# %% [markdown]
# The graph before backprop: every grad is still 0. Edges carry the local derivatives.

# %%
draw_dot(out)

# %% [markdown]
# ## Step through it
#
# Each step takes one node, in reverse topological order (a node only after everything that
# uses it), and pushes its gradient to its children. The highlighted node is the current one;
# `?` marks grads not reached yet.

# %%
steps = Stepper(out)
print(len(steps), "steps")
steps[0]

# %%
steps[1]

# %%
for step in steps:
    print(step.explain())
    print()

# %% [markdown]
# After the last step every gradient equals what `out.backward()` computes in one go:

# %%
stepped = {v.label: v.grad for v in (x, w, b)}
for v in (x, w, b):
    v.grad = 0.0
out.backward()
print("stepped :", stepped)
print("backward:", {v.label: v.grad for v in (x, w, b)})

# %% [markdown]
# ## A node used twice: gradients add up
#
# When a value feeds two places, both paths send gradient back and the contributions **sum**
# (that is the `+=` in the chain rule).

# %%
a = Value(3.0, label="a")
c = a * a + a
c.label = "c"
for step in c.backward_steps():
    print(step.explain())
print("dc/da =", a.grad, "= 2a + 1 =", 2 * a.data + 1)

# %% [markdown]
# With ipywidgets installed, a slider scrubs through the steps (plain iteration, as above, needs
# nothing extra):

# %%
from IPython.display import display

try:
    display(step_through(out))
except ImportError as missing:
    print(missing)
