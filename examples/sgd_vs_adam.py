"""SGD, SGD with momentum, and Adam on the same model and data (优化器).
Run: python examples/sgd_vs_adam.py
"""

from microgradlike.data import make_moons, train_test_split
from microgradlike.nn import MLP
from microgradlike.optim import SGD, Adam
from microgradlike.train import fit

X, y = make_moons(n=200, noise=0.1, seed=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, seed=0)
for name, make in (("SGD", lambda p: SGD(p, lr=0.05)),
                   ("SGD + momentum 0.9", lambda p: SGD(p, lr=0.05, momentum=0.9)),
                   ("Adam", lambda p: Adam(p, lr=0.02))):
    model = MLP(2, [16, 16, 1], seed=0)
    history = fit(model, X_train, y_train, loss="hinge", optimizer=make(model.parameters()),
                  max_epochs=60, batch_size=32, validation=(X_test, y_test), engine="batched")
    print(f"{name:>18}: train loss {history.train_loss[-1]:.4f}, test loss {history.val_loss[-1]:.4f}")
