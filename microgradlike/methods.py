# GENERATED from microgradlike/ops.py by `python microgradlike/methodgen.py --write`: do not edit.
# Change the op table and run that command; tests/test_ops.py fails while this file is stale.
"""The ops of `Value`, one method per row of the op table (`microgradlike.ops`), micrograd style.

Each method computes the result from its operands' numbers ``a`` (and ``b``), checks that the op
is defined there (raising the error the table gives), and records in the new node the local
derivatives ∂out/∂a (and ∂out/∂b), the numbers `Value.backward` multiplies by the chain rule.

A binary op has three forms: two Values (``x * y``: two children); a Value and a plain number
(``x * 3``: one child, and the node keeps the 3.0 as its ``constant``, layout "ac"); and the
reflected form (``3 * x``, layout "ca"). A plain number is never wrapped in a node.

`Value` (microgradlike/engine.py) inherits these methods from `ValueOps`. They build each node with
the engine's ``_node(data, children, local_grads, op)`` (``_with_constant`` also keeps the plain
number and where it stood), and ``_operand(x, op)`` reads a plain number (None for anything else,
and Python then tries the other operand's method; NaN is refused, naming the op).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .checks import short
from .ops import FUNCTIONS

if TYPE_CHECKING:  # at run time engine.py hands these four over, as soon as Value exists
    from .engine import Value, _node, _operand, _with_constant

# The math functions the formulas call, on floats (ops.FUNCTIONS defines each once, beside its
# numpy version).
exp = FUNCTIONS["exp"].float
log = FUNCTIONS["log"].float
sqrt = FUNCTIONS["sqrt"].float
tanh = FUNCTIONS["tanh"].float
sigmoid = FUNCTIONS["sigmoid"].float
softplus = FUNCTIONS["softplus"].float
sin = FUNCTIONS["sin"].float
cos = FUNCTIONS["cos"].float
power = FUNCTIONS["power"].float
abs = FUNCTIONS["abs"].float
is_integer = FUNCTIONS["is_integer"].float
inf = float("inf")


class ValueOps:
    """The ops of `Value`, written from the op table (see this module's docstring)."""

    __slots__ = ()
    data: float  # the forward number (a slot of Value)

    # ---- + ---------------------------------------------------------------------------------------
    def __add__(self, other: Value | float) -> Value:
        """out = a + b;  ∂out/∂a = 1,  ∂out/∂b = 1."""
        a = self.data
        if not isinstance(other, Value):  # x + 3, or not a number at all
            b = _operand(other, "+")
            if b is None:
                return NotImplemented
            return _with_constant(a + b, (self,), (1.0,), "+", b, "ac")
        b = other.data
        return _node(a + b, (self, other), (1.0, 1.0), "+")

    def __radd__(self, other: float) -> Value:
        """out = a + b for a plain number a: 2 + x;  ∂out/∂b = 1."""
        a = _operand(other, "+")
        if a is None:
            return NotImplemented
        b = self.data
        return _with_constant(a + b, (self,), (1.0,), "+", a, "ca")

    # ---- - ---------------------------------------------------------------------------------------
    def __sub__(self, other: Value | float) -> Value:
        """out = a − b;  ∂out/∂a = 1,  ∂out/∂b = -1."""
        a = self.data
        if not isinstance(other, Value):  # x - 3, or not a number at all
            b = _operand(other, "-")
            if b is None:
                return NotImplemented
            return _with_constant(a - b, (self,), (1.0,), "-", b, "ac")
        b = other.data
        return _node(a - b, (self, other), (1.0, -1.0), "-")

    def __rsub__(self, other: float) -> Value:
        """out = a − b for a plain number a: 2 - x;  ∂out/∂b = -1."""
        a = _operand(other, "-")
        if a is None:
            return NotImplemented
        b = self.data
        return _with_constant(a - b, (self,), (-1.0,), "-", a, "ca")

    # ---- * ---------------------------------------------------------------------------------------
    def __mul__(self, other: Value | float) -> Value:
        """out = a · b;  ∂out/∂a = b,  ∂out/∂b = a."""
        a = self.data
        if not isinstance(other, Value):  # x * 3, or not a number at all
            b = _operand(other, "*")
            if b is None:
                return NotImplemented
            return _with_constant(a * b, (self,), (b,), "*", b, "ac")
        b = other.data
        return _node(a * b, (self, other), (b, a), "*")

    def __rmul__(self, other: float) -> Value:
        """out = a · b for a plain number a: 2 * x;  ∂out/∂b = a."""
        a = _operand(other, "*")
        if a is None:
            return NotImplemented
        b = self.data
        return _with_constant(a * b, (self,), (a,), "*", a, "ca")

    # ---- / ---------------------------------------------------------------------------------------
    def __truediv__(self, other: Value | float) -> Value:
        """out = a / b;  ∂out/∂a = 1 / b,  ∂out/∂b = -out / b."""
        a = self.data
        if not isinstance(other, Value):  # x / 3, or not a number at all
            b = _operand(other, "/")
            if b is None:
                return NotImplemented
            if b == 0.0:
                raise ZeroDivisionError(f"division by zero: {short(self)} / {short(other)}")
            return _with_constant(a / b, (self,), (1.0 / b,), "/", b, "ac")
        b = other.data
        if b == 0.0:
            raise ZeroDivisionError(f"division by zero: {short(self)} / {short(other)}")
        out = a / b
        return _node(out, (self, other), (1.0 / b, -out / b), "/")

    def __rtruediv__(self, other: float) -> Value:
        """out = a / b for a plain number a: 2 / x;  ∂out/∂b = -out / b."""
        a = _operand(other, "/")
        if a is None:
            return NotImplemented
        b = self.data
        if b == 0.0:
            raise ZeroDivisionError(f"division by zero: {short(other)} / {short(self)}")
        out = a / b
        return _with_constant(out, (self,), (-out / b,), "/", a, "ca")

    # ---- ** --------------------------------------------------------------------------------------
    def __pow__(self, other: Value | float) -> Value:
        """out = aᵇ.

        ∂out/∂a = b * power(a, b - 1) if (a != 0 or b >= 1) and (b != 0 or abs(power(a, b - 1)) < inf) else
            inf - power(a, b) if b > 0 else 0.0
        ∂out/∂b = 0.0 if a <= 0 else out * log(a)

        at a = 0 every derivative in a is its limit from the right, as in PyTorch (x**0.5: inf, −inf, inf;
        x**1.5: 0, inf, −inf); ∂/∂b there is 0 (the limit of aᵇ·ln a), and so is ∂²/∂a∂b; at b = 0, ∂/∂a =
        b·aᵇ⁻¹ = 0 has derivative 1/a in b (PyTorch gives 0 on one side there: an asymmetric Hessian).
        """
        a = self.data
        if not isinstance(other, Value):  # x ** 3, or not a number at all
            b = _operand(other, "**")
            if b is None:
                return NotImplemented
            if a < 0.0 and (not is_integer(b)):
                raise ValueError(f"{short(self)} ** {short(other)}: a negative base to a non-integer power "
                                 "is not a real number")
            if a == 0.0 and b < 0.0:
                raise ZeroDivisionError(f"{short(self)} ** {short(other)}: zero to a negative power")
            da = (b * power(a, b - 1.0)
                  if (a != 0.0 or b >= 1.0) and (b != 0.0 or abs(power(a, b - 1.0)) < inf)
                  else inf - power(a, b) if b > 0.0 else 0.0)
            return _with_constant(power(a, b), (self,), (da,), "**", b, "ac")
        b = other.data
        if a < 0.0 and (not is_integer(b)):
            raise ValueError(f"{short(self)} ** {short(other)}: a negative base to a non-integer power "
                             "is not a real number")
        if a == 0.0 and b < 0.0:
            raise ZeroDivisionError(f"{short(self)} ** {short(other)}: zero to a negative power")
        if a <= 0.0 and (a != 0.0 or b <= 0.0):
            raise ValueError(f"{short(self)} ** {short(other)}: with a Value exponent the base must be "
                             "positive, since ∂/∂exponent = base**exponent · ln(base); use a number "
                             "exponent")
        out = power(a, b)
        da = (b * power(a, b - 1.0)
              if (a != 0.0 or b >= 1.0) and (b != 0.0 or abs(power(a, b - 1.0)) < inf)
              else inf - power(a, b) if b > 0.0 else 0.0)
        db = 0.0 if a <= 0.0 else out * log(a)
        return _node(out, (self, other), (da, db), "**")

    def __rpow__(self, other: float) -> Value:
        """out = aᵇ for a plain number a: 2 ** x.

        ∂out/∂b = 0.0 if a <= 0 else out * log(a)

        at a = 0 every derivative in a is its limit from the right, as in PyTorch (x**0.5: inf, −inf, inf;
        x**1.5: 0, inf, −inf); ∂/∂b there is 0 (the limit of aᵇ·ln a), and so is ∂²/∂a∂b; at b = 0, ∂/∂a =
        b·aᵇ⁻¹ = 0 has derivative 1/a in b (PyTorch gives 0 on one side there: an asymmetric Hessian).
        """
        a = _operand(other, "**")
        if a is None:
            return NotImplemented
        b = self.data
        if a < 0.0 and (not is_integer(b)):
            raise ValueError(f"{short(other)} ** {short(self)}: a negative base to a non-integer power "
                             "is not a real number")
        if a == 0.0 and b < 0.0:
            raise ZeroDivisionError(f"{short(other)} ** {short(self)}: zero to a negative power")
        if a <= 0.0 and (a != 0.0 or b <= 0.0):
            raise ValueError(f"{short(other)} ** {short(self)}: with a Value exponent the base must be "
                             "positive, since ∂/∂exponent = base**exponent · ln(base); use a number "
                             "exponent")
        out = power(a, b)
        return _with_constant(out, (self,), (0.0 if a <= 0.0 else out * log(a),), "**", a, "ca")

    # ---- neg -------------------------------------------------------------------------------------
    def __neg__(self) -> Value:
        """out = −a;  ∂out/∂a = -1."""
        a = self.data
        return _node(-a, (self,), (-1.0,), "neg")

    # ---- abs -------------------------------------------------------------------------------------
    def __abs__(self) -> Value:
        """out = |a|.

        ∂out/∂a = 1.0 if a > 0 else -1.0 if a < 0 else 0.0

        abs'(0) = 0, as in PyTorch: the derivative is sign(a), taken as 0 at a = 0; the second derivative is 0
        everywhere (away from the kink it is exact).
        """
        a = self.data
        return _node(abs(a), (self,), ((1.0,) if a > 0.0 else (-1.0,) if a < 0.0 else (0.0,)), "abs")

    # ---- exp -------------------------------------------------------------------------------------
    def exp(self) -> Value:
        """out = eᵃ;  ∂out/∂a = out."""
        a = self.data
        out = exp(a)
        return _node(out, (self,), (out,), "exp")

    # ---- log -------------------------------------------------------------------------------------
    def log(self) -> Value:
        """out = ln a;  ∂out/∂a = 1 / a."""
        a = self.data
        if a <= 0.0:
            raise ValueError(f"log({short(self)}): log is only defined for positive numbers")
        return _node(log(a), (self,), (1.0 / a,), "log")

    # ---- sqrt ------------------------------------------------------------------------------------
    def sqrt(self) -> Value:
        """out = √a.

        ∂out/∂a = 0.5 / out if out > 0 else inf - sqrt(a)

        sqrt'(0) = inf, and every derivative after it is its limit from the right too, as in PyTorch
        (sqrt''(0) = −inf, sqrt'''(0) = inf): at a = 0 the derivative is written inf − √a, whose own
        derivative is −sqrt'(0).
        """
        a = self.data
        if a < 0.0:
            raise ValueError(f"sqrt({short(self)}): sqrt is only defined for numbers >= 0")
        out = sqrt(a)
        return _node(out, (self,), (0.5 / out if out > 0.0 else inf - sqrt(a),), "sqrt")

    # ---- tanh ------------------------------------------------------------------------------------
    def tanh(self) -> Value:
        """out = tanh a;  ∂out/∂a = 1 - out * out."""
        a = self.data
        out = tanh(a)
        return _node(out, (self,), (1.0 - out * out,), "tanh")

    # ---- sigmoid ---------------------------------------------------------------------------------
    def sigmoid(self) -> Value:
        """out = σ(a) = 1/(1 + e⁻ᵃ);  ∂out/∂a = out * (1 - out)."""
        a = self.data
        out = sigmoid(a)
        return _node(out, (self,), (out * (1.0 - out),), "sigmoid")

    # ---- relu ------------------------------------------------------------------------------------
    def relu(self) -> Value:
        """out = max(0, a).

        ∂out/∂a = 0.0 if a <= 0 else 1.0

        relu'(0) = 0, as in PyTorch; the second derivative is 0 everywhere (exact away from 0); NaN passes
        through, relu(nan) = nan with derivative 1, as in PyTorch.
        """
        a = self.data
        if a <= 0.0:
            return _node(0.0, (self,), (0.0,), "relu")
        return _node(a, (self,), (1.0,), "relu")

    # ---- softplus --------------------------------------------------------------------------------
    def softplus(self) -> Value:
        """out = ln(1 + eᵃ);  ∂out/∂a = sigmoid(a)."""
        a = self.data
        return _node(softplus(a), (self,), (sigmoid(a),), "softplus")

    # ---- sin -------------------------------------------------------------------------------------
    def sin(self) -> Value:
        """out = sin a;  ∂out/∂a = cos(a)."""
        a = self.data
        return _node(sin(a), (self,), (cos(a),), "sin")

    # ---- cos -------------------------------------------------------------------------------------
    def cos(self) -> Value:
        """out = cos a;  ∂out/∂a = -sin(a)."""
        a = self.data
        return _node(cos(a), (self,), (-sin(a),), "cos")
