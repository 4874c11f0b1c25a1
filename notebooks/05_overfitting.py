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
# # 5 · Overfitting: good on training data, bad on test data (过拟合)
#
# The notes: when results on the training data (训练数据) and the test data (测试数据) disagree,
# the model has overfit. To see it we need data the model never trains on: split the set, train
# on one part, and watch the loss on both parts after every epoch.

# %%
import matplotlib.pyplot as plt

from microgradlike.data import piecewise_linear, train_test_split
from microgradlike.nn import MLP
from microgradlike.plots import plot_fit_1d, plot_history
from microgradlike.train import fit

X, y = piecewise_linear(n=40, noise=0.2, seed=3)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_fraction=0.5, seed=0)
print(len(X_train), "training points,", len(X_test), "test points")

# %% [markdown]
# A big network (two hidden layers of 32) and only 20 noisy training points: it has enough
# parameters to chase the noise. The `batched` engine runs the same computation as the scalar
# graph over all samples at once, so 1,500 epochs take seconds.

# %%
big = MLP(1, [32, 32, 1], activation="tanh", seed=0)
history = fit(big, X_train, y_train, loss="mse", optimizer="adam", lr=0.01, max_epochs=1500,
              validation=(X_test, y_test), engine="batched", seed=0)
best = min(range(len(history.val_loss)), key=history.val_loss.__getitem__)
print(f"training loss {history.train_loss[-1]:.4f}, test loss {history.val_loss[-1]:.4f} "
      f"(lowest test loss {history.val_loss[best]:.4f} at epoch {best + 1})")

fig, axes = plt.subplots(1, 2, figsize=(12, 4))
plot_history(history, ax=axes[0])
plot_fit_1d(big, X_train, y_train, ax=axes[1], show_units=False)
axes[1].scatter(X_test[:, 0], y_test, marker="x", color="black", label="test data", zorder=5)
axes[1].legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# The curves part: training loss keeps falling while the test loss turns and rises. The fitted
# curve bends through training points that are only noise.
#
# Two cures to compare: a smaller model (fewer parameters to chase the noise with), or **early
# stopping** — stop when the validation loss has not improved for `patience` epochs and keep the
# best parameters. On this data the smaller model helps a little and early stopping the most.

# %%
small = MLP(1, [4, 1], activation="tanh", seed=0)
h_small = fit(small, X_train, y_train, loss="mse", optimizer="adam", lr=0.05, max_epochs=1500,
              validation=(X_test, y_test), engine="batched", seed=0)
stopped = MLP(1, [32, 32, 1], activation="tanh", seed=0)
h_stopped = fit(stopped, X_train, y_train, loss="mse", optimizer="adam", lr=0.01, max_epochs=1500,
                validation=(X_test, y_test), engine="batched", seed=0, patience=50)
for name, h in (("big, 1500 epochs", history), ("small model", h_small),
                ("big, early stopping", h_stopped)):
    print(f"{name:>20}: train {h.train_loss[-1]:.4f}  test {h.val_loss[-1]:.4f}  "
          f"({h.stopped_because} after {h.n_epochs} epochs)")
