"""More sigmoids, more pieces: fit a piecewise-linear target with SigmoidSum(n) for growing n.

The number of sigmoid units is a hyperparameter (超参数); the training error falls as it grows.
Run: python examples/sigmoid_count.py
"""

from microgradlike.data import piecewise_linear
from microgradlike.nn import SigmoidSum
from microgradlike.train import fit

X, y = piecewise_linear(n=60, seed=0)
for n in (1, 2, 4, 8):
    model = SigmoidSum(n, seed=1)
    history = fit(model, X, y, loss="mse", optimizer="adam", lr=0.05, max_epochs=300, engine="batched")
    print(f"SigmoidSum({n}): training MSE {history.train_loss[-1]:.5f}")
