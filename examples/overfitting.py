"""Overfitting (过拟合): a big network on few noisy points. Training loss keeps falling while the
test loss turns and rises. Run: python examples/overfitting.py [--plot curves.png]
"""

import argparse

from microgradlike.data import piecewise_linear, train_test_split
from microgradlike.nn import MLP
from microgradlike.train import fit

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--plot", metavar="PNG", help="draw the loss curves (needs matplotlib)")
args = parser.parse_args()

X, y = piecewise_linear(n=40, noise=0.2, seed=3)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_fraction=0.5, seed=0)
model = MLP(1, [32, 32, 1], activation="tanh", seed=0)
history = fit(model, X_train, y_train, loss="mse", optimizer="adam", lr=0.01, max_epochs=1000,
              validation=(X_test, y_test), engine="batched")
best = min(range(history.n_epochs), key=history.val_loss.__getitem__)
print(f"lowest test loss {history.val_loss[best]:.4f} at epoch {best + 1}; "
      f"after {history.n_epochs} epochs: train {history.train_loss[-1]:.4f}, test {history.val_loss[-1]:.4f}")
if args.plot:
    import matplotlib

    matplotlib.use("Agg")
    from microgradlike.plots import plot_history

    plot_history(history).figure.savefig(args.plot, dpi=100, bbox_inches="tight")
    print("wrote", args.plot)
