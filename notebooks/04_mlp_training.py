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
# # 4 · Multilayer perceptrons and the training loop (多层感知机, 批量, 回合, 更新)
#
# A neuron (神经元) takes a weighted sum and an activation; a layer (层) is neurons side by side;
# an MLP chains layers. The notes' forward pass (正向传播), for layers l = 1 … L:
#
# zˡ = Wˡ aˡ⁻¹ + bˡ,  aˡ = σ(zˡ),  a⁰ = x,  and only the last aᴸ is the prediction ŷ.
#
# Each zˡ entry is **one** graph node here (`engine.dot`), whose local derivatives are the
# weights and the inputs.

# %%
import matplotlib.pyplot as plt

from microgradlike.data import make_moons, train_test_split
from microgradlike.nn import MLP
from microgradlike.plots import plot_decision_boundary, plot_history
from microgradlike.train import fit
from microgradlike.viz import draw_dot

model = MLP(2, [3, 1], activation="relu", seed=0)   # one hidden layer (单隐藏层) of 3 neurons
print(model)
print(len(model.parameters()), "parameters θ:", [name for name, _ in model.named_parameters()][:5], "…")

for layer, (z, a) in enumerate(model.forward_trace([0.5, -1.0]), start=1):
    print(f"layer {layer}: z = {[round(v.data, 3) for v in z]}   a = {[round(v.data, 3) for v in a]}")

# %% [markdown]
# The graph of one prediction, its parameters named and grouped by neuron and layer:

# %%
y_hat = model([0.5, -1.0])
y_hat.backward()
draw_dot(y_hat, params=model)

# %% [markdown]
# ## Mini-batches, updates and epochs
#
# A **batch** (批量) is a small part of the training set. Updates are **serial**: each batch's
# gradient moves the parameters before the next batch is looked at. One pass over all batches is
# an **epoch** (回合); each parameter change is an **update** (更新). So
# updates = epochs × ⌈N / batch_size⌉.

# %%
X, y = make_moons(n=200, noise=0.1, seed=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_fraction=0.25, seed=0)
print("N =", len(X_train))
for batch_size in (None, 50, 16):
    model = MLP(2, [8, 8, 1], seed=0)
    h = fit(model, X_train, y_train, loss="hinge", optimizer="sgd", lr=0.05, max_epochs=5,
            batch_size=batch_size, seed=0)
    print(f"batch_size {batch_size!s:>4}: {h.n_epochs} epochs -> {h.n_updates:3d} updates, "
          f"final training loss {h.train_loss[-1]:.3f}")

# %% [markdown]
# ## SGD vs Adam (优化器)
#
# Same model, same data, same number of epochs; only the optimiser changes.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
for ax, (name, lr) in zip(axes, (("sgd", 0.05), ("adam", 0.02))):
    model = MLP(2, [16, 16, 1], seed=0)
    h = fit(model, X_train, y_train, loss="hinge", optimizer=name, lr=lr, max_epochs=60,
            batch_size=32, validation=(X_test, y_test), seed=0)
    plot_history(h, ax=ax)
    ax.set_title(f"{name}, lr={lr}: val loss {h.val_loss[-1]:.3f}")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## MSE vs cross-entropy (均方误差, 交叉熵)
#
# MSE suits regression; for classification the notes name cross-entropy. Here both learn the
# moons; cross-entropy takes the raw output as a logit (no sigmoid before it).

# %%
def accuracy(model, X, y, threshold):
    return sum((model(list(x)).data > threshold) == bool(t) for x, t in zip(X, y)) / len(y)


fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for ax, (loss, threshold) in zip(axes, (("mse", 0.5), ("binary_cross_entropy", 0.0))):
    model = MLP(2, [16, 16, 1], seed=0)
    h = fit(model, X_train, y_train, loss=loss, optimizer="adam", lr=0.02, max_epochs=80,
            batch_size=32, seed=0)
    plot_decision_boundary(model, X_test, y_test, ax=ax, threshold=threshold, resolution=40)
    ax.set_title(f"{loss}: test accuracy {accuracy(model, X_test, y_test, threshold):.0%}")
plt.tight_layout()
plt.show()
