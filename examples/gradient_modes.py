"""Three ways to get the gradient of an MLP's loss with respect to its P parameters, counted and timed.

* central differences: nudge one parameter up and down, 2 forward evaluations per parameter: 2P;
* forward mode: push a tangent through the recorded local derivatives, one parameter per pass: P;
* backprop (reverse mode): one forward and one backward pass give all P at once.

The notes: backpropagation is "just an efficient way to compute gradients". Here is how efficient.
Run: python examples/gradient_modes.py [--hidden 8,8]
"""

import argparse
import time

from microgradlike import losses, no_grad
from microgradlike.data import make_moons
from microgradlike.forward import tangents
from microgradlike.nn import MLP

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--hidden", default="8,8", help="hidden layer widths (default: 8,8)")
args = parser.parse_args()

X, y = make_moons(n=30, seed=0)
model = MLP(2, [*map(int, args.hidden.split(",")), 1], "tanh", seed=0)  # smooth: no relu kink
params = model.parameters()


def loss():
    return losses.hinge([model(row) for row in X.tolist()], (2 * y - 1).tolist())


start = time.perf_counter()
L = loss()
L.backward()  # reverse mode: every ∂L/∂p in one backward pass
backprop = [p.grad for p in params]
t_backprop = time.perf_counter() - start

start = time.perf_counter()
L = loss()  # forward mode reuses one forward pass's recorded local derivatives ...
forward = [tangents(L, {p: 1.0})[L] for p in params]  # ... but needs one pass per parameter
t_forward = time.perf_counter() - start

start = time.perf_counter()
eps, numeric = 1e-6, []
with no_grad():
    for p in params:
        p.data += eps
        above = loss().data
        p.data -= 2 * eps
        below = loss().data
        p.data += eps
        numeric.append((above - below) / (2 * eps))
t_numeric = time.perf_counter() - start

P = len(params)
print(f"MLP(2, {model.nouts}) with P = {P} parameters, hinge loss on {len(X)} points\n")
print(f"{'method':<22}{'passes':>26}{'seconds':>10}{'× backprop':>12}")
for name, passes, seconds in [("backprop", "1 forward + 1 backward", t_backprop),
                              ("forward mode", f"1 forward + {P} tangent", t_forward),
                              ("central differences", f"{2 * P} forward", t_numeric)]:
    print(f"{name:<22}{passes:>26}{seconds:>10.3f}{seconds / t_backprop:>12.1f}")
worst_forward = max(abs(a - b) for a, b in zip(forward, backprop))
worst_numeric = max(abs(a - b) for a, b in zip(numeric, backprop))
print(f"\nforward mode and backprop agree to {worst_forward:.1e}; central differences to {worst_numeric:.1e}")
