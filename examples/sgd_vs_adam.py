"""SGD, SGD with momentum, and Adam compared fairly (优化器): the same model, starting weights, data,
batches and epochs; each optimiser gets its own best learning rate from the same grid, chosen on a
validation set; the test set is used once, for the three chosen runs.
Run: python examples/sgd_vs_adam.py
"""

import warnings

from microgradlike import no_grad
from microgradlike.data import make_moons, train_test_split
from microgradlike.losses import hinge
from microgradlike.nn import MLP
from microgradlike.optim import SGD, Adam
from microgradlike.train import TrainingWarning, fit

X, y = make_moons(n=240, noise=0.2, seed=0)
X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_fraction=0.2, seed=0)
X_train, X_val, y_train, y_val = train_test_split(X_rest, y_rest, test_fraction=0.25, seed=0)
GRID = (0.01, 0.03, 0.1, 0.3, 1.0)
OPTIMIZERS = (("SGD", lambda p, lr: SGD(p, lr=lr)),
              ("SGD + momentum 0.9", lambda p, lr: SGD(p, lr=lr, momentum=0.9)),
              ("Adam", lambda p, lr: Adam(p, lr=lr)))


def train(make, lr):
    """The model after 40 epochs with this optimiser and lr, and its final validation loss."""
    model = MLP(2, [16, 16, 1], seed=0)
    with warnings.catch_warnings():  # a too-large lr ends far from its best epoch: expected while tuning
        warnings.simplefilter("ignore", TrainingWarning)
        history = fit(model, X_train, y_train, loss="hinge", optimizer=make(model.parameters(), lr),
                      max_epochs=40, batch_size=32, seed=0, validation=(X_val, y_val), engine="batched",
                      progress=False)
    return model, history.val_loss[-1]


print(f"{len(X_train)} training, {len(X_val)} validation, {len(X_test)} test points; lr grid {GRID}")
for name, make in OPTIMIZERS:
    runs = {lr: train(make, lr) for lr in GRID}
    lr = min(runs, key=lambda k: runs[k][1])
    model, val_loss = runs[lr]
    with no_grad():
        test = hinge([model(row) for row in X_test.tolist()], y_test.tolist()).data
    print(f"{name:>18}: best lr {lr} (validation loss {val_loss:.4f}), test loss {test:.4f}")
