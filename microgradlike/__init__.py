"""microgradlike: a scalar reverse-mode autograd engine you can watch, and a small neural-net library.

The engine (`Value`) records each operation's local derivatives at forward time;
`Value.backward()` applies the chain rule over them. See README.md for the three steps
(a function with unknown θ, a loss L(θ), optimisation to θ*).
"""

from . import data, losses, nn, optim, train
from .derivatives import gradients
from .engine import Value, dot, is_grad_enabled, logsumexp, no_grad, sum_values, topological_order
from .functional import grad, gradcheck, hessian, hvp, jvp, numerical_grad, value_and_grad

__all__ = [
    "Value",
    "data",
    "dot",
    "grad",
    "gradcheck",
    "gradients",
    "hessian",
    "hvp",
    "is_grad_enabled",
    "jvp",
    "logsumexp",
    "losses",
    "nn",
    "no_grad",
    "numerical_grad",
    "optim",
    "sum_values",
    "topological_order",
    "train",
    "value_and_grad",
]
__version__ = "0.1.0"
