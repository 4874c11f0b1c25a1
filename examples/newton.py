"""Newton's method next to gradient descent on a 1-D loss, with second derivatives from the engine.

Gradient descent steps against the slope, w ← w − η·L'(w), with a learning rate η to choose.
Newton's method also reads the curvature L''(w) (a gradient of the gradient, computed by
`grad(grad(...))`) and jumps to where the tangent line of L' crosses 0: w ← w − L'(w)/L''(w).
Where L is a bowl (L'' > 0) that is much faster. Where L curves down (L'' < 0, a non-convex
region) Newton heads for the nearest point with L' = 0 — which there is a MAXIMUM.
Run: python examples/newton.py
"""

from microgradlike import grad


def bowl(w):
    """Convex everywhere: L''(w) = 2 + 1.2·w² > 0."""
    return (w - 1.5) ** 2 + 0.1 * w**4


def double_well(w):
    """Minima at w = ±√2, a maximum at 0; curves down (L'' < 0) for |w| < 0.816."""
    return w**4 / 4 - w**2


def slope(f):
    return lambda w: grad(f)(w)[0]


def curvature(f):
    return lambda w: grad(lambda v: grad(f)(v)[0])(w)[0]  # the derivative of the derivative


def newton(f, w, steps):
    path = [w]
    for _ in range(steps):
        w = w - slope(f)(w) / curvature(f)(w)
        path.append(w)
    return path


def descent(f, w, lr, steps):
    path = [w]
    for _ in range(steps):
        w = w - lr * slope(f)(w)
        path.append(w)
    return path


def show(title, f, start, lr, steps):
    print(f"{title}: start at w = {start}, L''(start) = {curvature(f)(start):+.3f}")
    print(f"{'step':>6}{'gradient descent (η = ' + str(lr) + ')':>34}{'Newton':>26}")
    gd, nt = descent(f, start, lr, steps), newton(f, start, steps)
    for k, (g, n) in enumerate(zip(gd, nt)):
        print(f"{k:>6}{g:>16.6f}  L = {f(g):>10.6f}{n:>14.6f}  L = {f(n):>8.4f}")
    end = nt[-1]
    kind = "a minimum" if curvature(f)(end) > 0 else "a MAXIMUM" if curvature(f)(end) < 0 else "a flat point"
    print(f"Newton ends at w = {end:.6f} with L' = {slope(f)(end):.1e} and L'' = {curvature(f)(end):+.3f}: "
          f"{kind}; gradient descent is at w = {gd[-1]:.6f}, L = {f(gd[-1]):.6f}, still going down\n")


show("a bowl", bowl, start=-2.0, lr=0.1, steps=6)
show("a non-convex region of a double well", double_well, start=0.5, lr=0.1, steps=6)
print("Newton's step divides by the curvature: in a bowl it jumps straight to the bottom; where")
print("the loss curves down (L'' < 0) it runs to the top of the hill, since L' = 0 there too.")
