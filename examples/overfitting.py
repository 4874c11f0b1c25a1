"""Overfitting (过拟合): a big network on few noisy points. The training loss keeps falling while the
validation loss (on points it never trains on) turns and rises. The test set stays out of it: it is
used once, after every choice is made (notebook 09_overfitting).
Run: python examples/overfitting.py [--plot curves.png]
"""

import argparse
import warnings

from microgradlike.data import piecewise_linear, train_test_split
from microgradlike.nn import MLP
from microgradlike.train import TrainingWarning, fit

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--plot", metavar="PNG", help="draw the loss curves (needs matplotlib)")
args = parser.parse_args()

X, y = piecewise_linear(n=95, noise=0.25, seed=3)
X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_fraction=40 / 95, seed=0)  # kept for the end
X_train, X_val, y_train, y_val = train_test_split(X_rest, y_rest, test_fraction=40 / 55, seed=0)
model = MLP(1, [16, 16, 1], activation="tanh", seed=0)  # 321 parameters for 15 training points
with warnings.catch_warnings(record=True) as caught:  # fit warns that the end is worse than the best:
    warnings.simplefilter("always", TrainingWarning)  # here that is the lesson, said in one line below
    history = fit(model, X_train, y_train, loss="mse", optimizer="adam", lr=0.03, max_epochs=400,
                  validation=(X_val, y_val), engine="tape", progress=False)
best = history.best_epoch
print(f"{len(X_train)} training points, {len(X_val)} validation points")
print(f"lowest validation loss {history.val_loss[best - 1]:.4f} at epoch {best}; after {history.n_epochs} "
      f"epochs: train {history.train_loss[-1]:.4f}, validation {history.val_loss[-1]:.4f}")
for warning in caught:
    print(f"fit warned: {warning.message}")
if args.plot:
    import matplotlib

    matplotlib.use("Agg")
    from microgradlike.plots import plot_history

    plot_history(history).figure.savefig(args.plot, dpi=100, bbox_inches="tight")
    print("wrote", args.plot)
