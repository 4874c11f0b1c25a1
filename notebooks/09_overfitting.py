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
# # 9 · Overfitting: good on training data, bad on new data (过拟合)
#
# The notes: "在训练数据和测试数据上的结果是不一致的，这种情况称为过拟合(overfitting)" — when the
# results on the training data (训练数据) and on the test data (测试数据) disagree, the model has
# overfit: it has learnt the noise of its training points along with the pattern.
#
# To see it, and to do something about it honestly, the data is split three ways, one job each:
#
# | set | its job | looked at |
# |---|---|---|
# | **training** | fit the parameters θ (the gradients come from it) | at every update |
# | **validation** | choose: the epoch to stop at, the number of layers, η … | by every choice |
# | **test** | say how good the final model is, on data nothing was chosen with | **once**, at the end |
#
# Whatever is chosen by looking at a set's loss is fitted to that set a little, so its loss stops
# being an honest estimate: the test set stays out of every choice.

# %%
import warnings
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np

from microgradlike import no_grad
from microgradlike.data import piecewise_linear, train_test_split
from microgradlike.losses import mse
from microgradlike.nn import MLP
from microgradlike.plots import plot_history
from microgradlike.train import TrainingWarning, fit

plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})
warnings.simplefilter("ignore", TrainingWarning)  # fit warns when the last epoch is far from the best
xs = np.linspace(-2, 2, 300)


def curve(model):
    """ŷ(x) on the plotting grid."""
    with no_grad():
        return np.array([model(float(x)).data for x in xs])


def loss_on(model, X, y):
    """The model's MSE on (X, y)."""
    with no_grad():
        return mse([model(float(x)) for x in X[:, 0]], y.tolist()).data


# %% [markdown]
# ## 1 · Three sets
#
# 95 noisy points of a piecewise-linear curve: 15 to train on, 40 to validate with, 40 to test
# with. So few training points make overfitting easy to see; the validation and test sets are
# larger so that their losses are trustworthy estimates.

# %%
X, y = piecewise_linear(n=95, noise=0.25, seed=3)
X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_fraction=40 / 95, seed=0)
X_train, X_val, y_train, y_val = train_test_split(X_rest, y_rest, test_fraction=40 / 55, seed=0)
print(f"{len(X_train)} training, {len(X_val)} validation, {len(X_test)} test points")

truth = piecewise_linear(n=300, seed=0)  # the noiseless curve the points were drawn around
fig, ax = plt.subplots(figsize=(7.5, 3.4))
ax.plot(truth[0][:, 0], truth[1], color="#6b7280", lw=1.5, ls="--", label="the curve without noise")
ax.scatter(X_train[:, 0], y_train, s=40, color="#1d4ed8", label="training (15)", zorder=3)
ax.scatter(X_val[:, 0], y_val, s=18, marker="s", facecolors="none", edgecolors="#ea580c",
           label="validation (40)")
ax.scatter(X_test[:, 0], y_test, s=22, marker="x", color="#6b7280", alpha=0.6,
           label="test (40): not used until §6")
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.legend(fontsize=8, ncol=2, loc="lower left")
ax.set_title("the data, split three ways", fontsize=10)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 2 · A network that overfits
#
# Two hidden layers of 16 (321 parameters) for 15 points: enough parameters to pass through every
# training point. After every epoch `fit` measures the loss on the whole training set and on the
# validation set (`validation=`); the validation set is never used for a gradient.
# `engine="tape"` replays the traced graph on floats: the same numbers as the Value graph, faster
# for a few points (lesson 7 said what the engines are, lesson 10 opens them up). Full batch: one
# update per epoch, whose loss (before it) is the previous epoch's training loss, so the picture
# leaves those update losses out; they would lie exactly under the training curve.

# %%
big = MLP(1, [16, 16, 1], activation="tanh", seed=0)
history = fit(big, X_train, y_train, loss="mse", optimizer="adam", lr=0.03, max_epochs=400,
              validation=(X_val, y_val), engine="tape", progress=False)
best = history.best_epoch
print(f"after {history.n_epochs} epochs: training loss {history.train_loss[-1]:.4f}, validation loss "
      f"{history.val_loss[-1]:.4f} (its lowest was {history.val_loss[best - 1]:.4f}, epoch {best})")

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
plot_history(replace(history, update_loss=[]), ax=axes[0], logy=False)  # full batch: see above
axes[0].set_ylim(0, 0.5)
axes[1].plot(xs, curve(big), color="#dc2626", lw=2, label=f"the network after {history.n_epochs} epochs")
axes[1].scatter(X_train[:, 0], y_train, s=40, color="#1d4ed8", label="training", zorder=3)
axes[1].scatter(X_val[:, 0], y_val, s=18, marker="s", facecolors="none", edgecolors="#ea580c",
                label="validation")
axes[1].set_xlabel("x")
axes[1].set_ylabel("y")
axes[1].set_title("it bends through the training points' noise", fontsize=10)
axes[1].legend(fontsize=8, loc="lower left")
plt.tight_layout()
plt.show()

# %% [markdown]
# The two curves part: the training loss keeps falling, the validation loss turns and rises. From
# the turn on, each update fits the 15 points' noise a little better and new points a little
# worse: that is overfitting (过拟合), seen as it happens.
#
# *Question:* where is the network's curve furthest from the validation points, and are there
# training points there?

# %% [markdown]
# ## 3 · Early stopping, on the validation set
#
# Early stopping watches the validation loss: when it has not improved on its best for `patience`
# epochs, training stops and the parameters of the best epoch are put back. The same network,
# started from the same weights, with `patience=50`:

# %%
stopped = MLP(1, [16, 16, 1], activation="tanh", seed=0)
h_stopped = fit(stopped, X_train, y_train, loss="mse", optimizer="adam", lr=0.03, max_epochs=400,
                validation=(X_val, y_val), patience=50, engine="tape", progress=False)
print(h_stopped.message)
kept = h_stopped.best_epoch
print(f"kept epoch {kept}: training loss {h_stopped.train_loss[kept - 1]:.4f}, "
      f"validation loss {h_stopped.val_loss[kept - 1]:.4f}")

fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
for ax, model, name in ((axes[0], big, f"trained {history.n_epochs} epochs"),
                        (axes[1], stopped, f"early stopping: epoch {h_stopped.best_epoch} kept")):
    ax.plot(truth[0][:, 0], truth[1], color="#6b7280", lw=1.5, ls="--", label="the curve without noise")
    ax.plot(xs, curve(model), color="#dc2626", lw=2, label="the network")
    ax.scatter(X_train[:, 0], y_train, s=40, color="#1d4ed8", label="training", zorder=3)
    ax.set_title(f"{name}: validation loss {loss_on(model, X_val, y_val):.4f}", fontsize=10)
    ax.set_xlabel("x")
    ax.legend(fontsize=8, loc="lower left")
axes[0].set_ylabel("y")
plt.tight_layout()
plt.show()

# %% [markdown]
# The test set has not been looked at yet, and will not be until every choice is made.
#
# *Question:* `patience=50` is itself a choice. Which set would you use to choose it?

# %% [markdown]
# ## 4 · One, two or three hidden layers, compared on data they have not seen
#
# Hung-yi Lee's lecture (the one these notes follow) trains networks of 1 to 4 layers on the
# same data: the training loss keeps going down as layers are added, while on data the networks
# have not seen the deepest one does worse. Here: 1, 2 and 3 hidden layers of 8 tanh neurons, each
# trained the same way (400 epochs, Adam, η = 0.03), judged on the validation set.

# %%
depths = {}
for k in (1, 2, 3):
    net = MLP(1, [8] * k + [1], activation="tanh", seed=0)
    h = fit(net, X_train, y_train, loss="mse", optimizer="adam", lr=0.03, max_epochs=400,
            validation=(X_val, y_val), engine="tape", progress=False)
    depths[k] = (net, h)
    print(f"{k} hidden layer(s), {len(net.parameters()):3d} parameters: "
          f"training loss {h.train_loss[-1]:.4f}, validation loss {h.val_loss[-1]:.4f}")

fig, axes = plt.subplots(1, 4, figsize=(11.5, 3.2), gridspec_kw={"width_ratios": [1.2, 1, 1, 1]})
ks = np.array(list(depths))
axes[0].bar(ks - 0.18, [h.train_loss[-1] for _, h in depths.values()], width=0.36, color="#1d4ed8",
            label="training (seen)")
axes[0].bar(ks + 0.18, [h.val_loss[-1] for _, h in depths.values()], width=0.36, color="#ea580c",
            label="validation (unseen)")
axes[0].set_xticks(ks, [f"{k} hidden" for k in ks])
axes[0].set_ylabel("MSE after 400 epochs")
axes[0].legend(fontsize=8)
axes[0].set_title("loss by depth", fontsize=10)
for ax, (k, (net, _)) in zip(axes[1:], depths.items()):
    ax.plot(xs, curve(net), color="#dc2626", lw=2)
    ax.scatter(X_train[:, 0], y_train, s=25, color="#1d4ed8", zorder=3)
    ax.scatter(X_val[:, 0], y_val, s=12, marker="s", facecolors="none", edgecolors="#ea580c")
    ax.set_ylim(-1.8, 1.6)
    ax.set_title(f"{k} hidden layer{'s' if k > 1 else ''}", fontsize=10)
    ax.set_xlabel("x")
plt.tight_layout()
plt.show()

# %% [markdown]
# More layers, lower training loss, higher validation loss: the deeper networks use their extra
# parameters to fit the 15 points more closely, noise included. With 15 training points the turn
# comes at once; with more data, deeper networks pay off for longer (in the lecture, up to 3
# layers).
#
# *Question:* would a deeper network with early stopping (§3) do better than the 3-layer one
# trained for 400 epochs? Try it.

# %% [markdown]
# ## 5 · Choosing, with the validation set only
#
# The candidates: the three depths of §4 and the early-stopped network of §3. The choice is made
# on validation loss alone.

# %%
candidates = {f"{k} hidden layer{'s' if k > 1 else ''}": net for k, (net, _) in depths.items()}
candidates["2 × 16, early stopping"] = stopped
validation = {name: loss_on(net, X_val, y_val) for name, net in candidates.items()}
for name, loss in validation.items():
    print(f"{name:>24}: validation loss {loss:.4f}")
chosen = min(validation, key=validation.get)
print("chosen:", chosen)

# %% [markdown]
# ## 6 · The test set, once
#
# Every choice is made: the model, its depth, its epoch. Now, and only now, the test set:

# %%
test_loss = loss_on(candidates[chosen], X_test, y_test)
print(f"{chosen}: test loss {test_loss:.4f}  (its validation loss was {validation[chosen]:.4f})")

# %% [markdown]
# That one number is what we report: the loss to expect on new data. A toy problem lets us check
# it, with a luxury real problems do not have: 400 fresh points from the same source.

# %%
X_new, y_new = piecewise_linear(n=400, noise=0.25, seed=100)
print(f"{chosen} on 400 fresh points: {loss_on(candidates[chosen], X_new, y_new):.4f}  "
      f"(the test set said {test_loss:.4f})")

# %% [markdown]
# 40 test points give an estimate, off by a few hundredths one way or the other. What makes it
# worth reporting is that nothing was chosen with it: it is as likely to be too high as too low.

# %% [markdown]
# ## 7 · What goes wrong when the test set chooses
#
# A common mistake is to early-stop on the test set (pass it as `validation=`) and then report its
# loss as if unseen. Here it is done on purpose, next to the right way, with the fresh points as
# the judge. `keep_params=True` keeps θ after every epoch, so each run can be rewound to the epoch
# it picks.

# %%
runs = {}
for name, watched in (("validation", (X_val, y_val)), ("test", (X_test, y_test))):
    net = MLP(1, [16, 16, 1], activation="tanh", seed=0)
    runs[name] = (net, fit(net, X_train, y_train, loss="mse", optimizer="adam", lr=0.03, max_epochs=400,
                           validation=watched, engine="tape", keep_params=True, progress=False))


def rewound(net, h, epoch):
    """The network as it was after ``epoch`` (full batch: one update per epoch)."""
    for p, value in zip(net.parameters(), h.params[epoch]):
        p.data = value
    return net


h_val, h_test = runs["validation"][1], runs["test"][1]  # the same run (same seed), watched on two sets
picks = {"picked on validation (right)": h_val.best_epoch, "picked on test (wrong)": h_test.best_epoch}
fresh = {}
for name, epoch in picks.items():
    fresh[name] = loss_on(rewound(*runs["validation"], epoch), X_new, y_new)
    print(f"{name:>29}: epoch {epoch:3d}, reported test loss {h_test.val_loss[epoch - 1]:.4f}, "
          f"on fresh points {fresh[name]:.4f}")

fig, ax = plt.subplots(figsize=(8, 3.6))
epochs = np.arange(1, h_val.n_epochs + 1)
ax.plot(epochs, h_val.val_loss, color="#ea580c", lw=1.8, label="validation loss")
ax.plot(epochs, h_test.val_loss, color="#6b7280", lw=1.8, label="test loss")
for (name, epoch), color in zip(picks.items(), ("#ea580c", "#6b7280")):
    ax.axvline(epoch, color=color, ls=":", lw=1.5)
    ax.plot([epoch], [h_test.val_loss[epoch - 1]], marker="o", ms=8, color=color, mec="k",
            label=f"{name}: the test loss it reports")
    ax.plot([epoch], [fresh[name]], marker="*", ms=14, color=color, mec="k",
            label=f"{name}: its loss on fresh points")
ax.set_ylim(0, 0.3)
ax.set_xlabel("epoch")
ax.set_ylabel("MSE")
ax.set_title("one training run, watched on two sets", fontsize=10)
ax.legend(fontsize=7.5, loc="upper right")
plt.tight_layout()
plt.show()

# %% [markdown]
# The wrong way reports the lowest point of the test curve, by construction the most flattering
# number that curve holds: a lower test loss than the right way reports, for a model that is
# *worse* on fresh points. Its error is on the hopeful side, and that is no accident: the epoch was
# picked because the test points happened to like it. Here the gap is small — one choice (an
# epoch) made on 40 points — but it grows with every choice made on the test set (the depth, η,
# the seed …), until the test loss says more about the choosing than about the model.
#
# *Question:* after §6 you find a bug and retrain. Can you still use the same test set? What would
# you have to be careful about?

# %% [markdown]
# ## Exercises
#
# **1. The best epoch.** Given the training and validation losses after each epoch (epoch 1
# first), return the epoch, counted from 1, whose model early stopping keeps.

# %%
from microgradlike.exercises.overfitting import (
    check_best_epoch,
    check_choose_and_report,
    check_stopping_epoch,
)


def best_epoch(train_loss, val_loss):
    ...  # your code here


check_best_epoch(best_epoch)

# %% [markdown]
# **2. When does early stopping stop?** `fit(..., patience=p)` stops as soon as the best
# validation loss so far is `p` epochs old. Given the validation losses and `p`, return the epoch
# after which training stops (the last epoch if it never does). At each epoch, only the losses so
# far are known.

# %%
def stopping_epoch(val_loss, patience):
    ...  # your code here


check_stopping_epoch(stopping_epoch)

# %% [markdown]
# **3. Choose, then report.** `results` maps each candidate (its number of hidden layers) to its
# losses, e.g. `{1: {"train": 0.05, "validation": 0.06, "test": 0.07}, 2: {...}}`. Return the
# candidate you choose and the loss you report for it.

# %%
def choose_and_report(results):
    ...  # your code here: return (candidate, loss_to_report)


check_choose_and_report(choose_and_report)
