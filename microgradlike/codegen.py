"""Write a tape's program as straight-line Python source, and compile it: on floats or numpy vectors.

A `microgradlike.compile.Tape` is a flat program over numbered slots (inputs x0 …, parameters
p0 …, computed values v0 …). This module turns it into Python text, one line per instruction,
from a table that gives each op's forward expression and its local derivatives ∂out/∂child.
For ``tanh(x · w)``::

    def forward(x0, P):                  def backward(V, P, seed0):
        (p0,) = P                            ...
        v0 = x0 * p0  # *                    gv1 = seed0
        v1 = _tanh(v0)  # tanh               gv0 = gv1 * (1.0 - v1 * v1)   # ∂v1/∂v0 = 1 − v1²
        return (v1,), (x0, v0, v1,)          gx0 = gv0 * p0                # ∂v0/∂x0 = p0
                                             Gp0 = gv0 * x0                # ∂v0/∂p0 = x0

Backward is the chain rule in reverse order, g[child] += g[out] · ∂out/∂child, with each local
derivative recomputed from the saved slot values V.

The float table calls `math` and the engine's own helpers, so a replay gives the same numbers and
the same errors as the eager engine. The numpy table replaces what differs for vectors, so the
same program replays a whole batch at once (one entry per sample in every slot); there each
parameter's gradient is summed over the batch, Σₛ g[s]·local[s].

Only our generated text is ever compiled: every name in it comes from the op table and the
tape's slot names.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import engine

if TYPE_CHECKING:
    from .compile import Instruction, Tape

__all__ = ["compile_function", "generate", "header"]


# ---- the op table --------------------------------------------------------------------------------
# Per op: the forward expression and, per child, ∂out/∂child, as templates over the names
# {a}, {b} (children), {o} (the output), {c} (the constant). "1" and "-1" mean ±g; a template
# holding {g} is the whole contribution. FLOAT uses math and the engine's own helpers (same
# numbers, same errors as eager); NUMPY overrides what differs for vectors.
_FLOAT: dict[str, tuple[str, tuple[str, ...]]] = {
    "+": ("{a} + {b}", ("1", "1")),
    "-": ("{a} - {b}", ("1", "-1")),
    "*": ("{a} * {b}", ("{b}", "{a}")),
    "/": ("{a} / {b}", ("1.0 / {b}", "-{o} / {b}")),
    "**": ("_power_vv({a}, {b})", ("_dpower({a}, {b})", "_dexponent({a}, {o})")),
    "+c": ("{a} + {c}", ("1",)),
    "-c": ("{a} - {c}", ("1",)),
    "c-": ("{c} - {a}", ("-1",)),
    "*c": ("{a} * {c}", ("{c}",)),
    "/c": ("{a} / {c}", ("{inv}",)),
    "c/": ("{c} / {a}", ("-{o} / {a}",)),
    "**c": ("_power({a}, {c})", ("_dpower({a}, {c})",)),
    "c**": ("_power({c}, {a})", ("{o} * {logc}",)),
    "neg": ("-{a}", ("-1",)),
    "abs": ("abs({a})", ("({g} if {a} > 0.0 else -{g} if {a} < 0.0 else 0.0)",)),
    "exp": ("_exp({a})", ("{o}",)),
    "log": ("_log({a})", ("1.0 / {a}",)),
    "sqrt": ("_sqrt({a})", ("0.5 / {o} if {o} > 0.0 else inf",)),
    "tanh": ("_tanh({a})", ("1.0 - {o} * {o}",)),
    "sigmoid": ("_sigmoid({a})", ("{o} * (1.0 - {o})",)),
    "relu": ("({a} if {a} > 0.0 else 0.0)", ("({g} if {a} > 0.0 else 0.0)",)),
    "softplus": ("_softplus({a})", ("_sigmoid({a})",)),
}
_NUMPY: dict[str, tuple[str, tuple[str, ...]]] = {
    **_FLOAT,
    "**": ("_np.power({a}, {b})", ("_np_dpower({a}, {b})", "_np_dexponent({a}, {o})")),
    "**c": ("_np.power({a}, {c})", ("_np_dpower({a}, {c})",)),
    "c**": ("_np.power({c}, {a})", ("{o} * {logc}",)),
    "abs": ("_np.abs({a})", ("_np.sign({a})",)),
    "exp": ("_np.exp({a})", ("{o}",)),
    "log": ("_np.log({a})", ("1.0 / {a}",)),
    "sqrt": ("_np.sqrt({a})", ("_np_dsqrt({o})",)),
    "tanh": ("_np.tanh({a})", ("1.0 - {o} * {o}",)),
    "sigmoid": ("_np_sigmoid({a})", ("{o} * (1.0 - {o})",)),
    "relu": ("_np.maximum({a}, 0.0)", ("{a} > 0.0",)),
    "softplus": ("_np_softplus({a})", ("_np_sigmoid({a})",)),
}
_SQUARE = ("{a} * {a}", ("2.0 * {a}",))  # x ** 2, the commonest power, without a call
_CHUNK = 64  # terms per line in long sums, so the compiler's recursion stays shallow


def _literal(c: float) -> str:
    """A float as source text that reads back to exactly the same float."""
    if math.isnan(c):
        return "nan"
    if math.isinf(c):
        return "inf" if c > 0 else "(-inf)"
    return repr(c) if math.copysign(1.0, c) > 0 else f"({c!r})"  # negative, -0.0 included


def _is_simple(expr: str) -> bool:
    """A name or a number: needs no parentheses as a factor."""
    try:
        float(expr.strip("()"))
    except ValueError:
        return expr.isidentifier()
    return True


def _wrap(items: Sequence[str], prefix: str, suffix: str, width: int = 100) -> list[str]:
    """``prefix + ", ".join(items) + suffix`` broken into lines of about ``width`` characters."""
    lines, line = [], prefix
    for i, item in enumerate(items):
        piece = item + (", " if i < len(items) - 1 else "")
        if len(line) + len(piece) > width and line.strip() not in ("", prefix.strip()):
            lines.append(line.rstrip())
            line = "        "
        line += piece
    lines.append(line + suffix)
    return lines


class _Codegen:
    """Writes the Python source of one tape in one mode ("float" or "numpy")."""

    def __init__(self, tape: Tape, mode: str) -> None:
        self.tape, self.mode = tape, mode
        self.rules = _FLOAT if mode == "float" else _NUMPY
        self.names = tape._slot_names
        self.index = {name: i for i, name in enumerate(self.names)}

    # -- forward --
    def forward_lines(self) -> list[str]:
        lines = []
        for ins in self.tape.program:
            lines.extend(self._forward(ins))
        return lines

    def _forward(self, ins: Instruction) -> list[str]:
        n = self.names
        o = n[ins.out]
        if ins.op in ("dot", "sum"):
            if ins.op == "dot":
                parts = [self._term(t) for t in ins.terms]
            else:
                parts = [n[i] for i in ins.args] + ([_literal(ins.const)] if ins.const != 0.0 else [])
            parts = parts or ["0.0"]
            chunks = [parts[i:i + _CHUNK] for i in range(0, len(parts), _CHUNK)]
            lines = [f"{o} = {' + '.join(chunks[0])}  # {ins.op}"]
            lines += [f"{o} = {o} + {' + '.join(chunk)}" for chunk in chunks[1:]]
            return lines
        template, _ = self._rule(ins)
        return [f"{o} = {self._fill(template, ins)}  # {ins.op}"]

    def _term(self, term: tuple) -> str:
        kind, n = term[0], self.names
        if kind == "mul":
            return f"{n[term[1]]} * {n[term[2]]}"
        if kind == "scale":
            return f"{n[term[1]]} * {_literal(term[2])}"
        if kind == "add":
            return n[term[1]]
        return _literal(term[1])

    def _rule(self, ins: Instruction) -> tuple[str, tuple[str, ...]]:
        if ins.op == "**c" and ins.const == 2.0:
            return _SQUARE
        return self.rules[ins.op]

    def _fill(self, template: str, ins: Instruction, g: str = "") -> str:
        n, c = self.names, ins.const
        return template.format(
            a=n[ins.args[0]], b=n[ins.args[1]] if len(ins.args) > 1 else "", o=n[ins.out], g=g,
            c=_literal(c),
            inv=_literal(1.0 / c) if ins.op == "/c" else "",
            logc=_literal(math.log(c) if c > 0 else 0.0) if ins.op == "c**" else "",
        )

    # -- backward --
    def local_grads(self, ins: Instruction) -> list[tuple[int, str, str]]:
        """(child slot, kind, text) per child: kind "one", "neg", "mul" (text = ∂out/∂child),
        or "expr" (text = the whole contribution, with {g} for the upstream gradient)."""
        n = self.names
        if ins.op == "sum":
            return [(i, "one", "") for i in ins.args]
        if ins.op == "dot":
            out = []
            for term in ins.terms:
                if term[0] == "mul":
                    out += [(term[1], "mul", n[term[2]]), (term[2], "mul", n[term[1]])]
                elif term[0] == "scale":
                    out.append((term[1], "mul", _literal(term[2])))
                elif term[0] == "add":
                    out.append((term[1], "one", ""))
            return out
        _, locals_ = self._rule(ins)
        out = []
        for child, template in zip(ins.args, locals_):
            if template == "1":
                out.append((child, "one", ""))
            elif template == "-1":
                out.append((child, "neg", ""))
            elif "{g}" in template:
                out.append((child, "expr", self._fill(template, ins, g="{g}")))
            else:
                out.append((child, "mul", self._fill(template, ins)))
        return out

    def backward_lines(self, wanted: set[int], accumulate: bool, seeds: Sequence[str]) -> list[str]:
        """The chain rule in reverse over the program, for the gradients of the ``wanted`` slots.

        Parameter gradients are plain sums (in numpy mode summed over the batch at once);
        with ``accumulate`` they are added to running totals (a loop over samples).
        """
        tape, n = self.tape, self.names
        numpy_mode = self.mode == "numpy"
        is_param = set(range(tape._n_input_slots, tape._n_input_slots + len(tape.params)))
        needed = _depends_on(tape.program, [i in wanted for i in range(len(n))])
        # in numpy mode: which slots change from sample to sample (depend on an input)
        varies = _depends_on(tape.program, [i < tape._n_input_slots for i in range(len(n))])
        name_of = {slot: ("G" if slot in is_param else "g") + n[slot] for slot in range(len(n))}
        assigned: set[int] = set(is_param) if accumulate else set()
        lines: list[str] = []

        def emit(slot: int, kind: str, text: str, g: str) -> None:
            target = name_of[slot]
            factor = text if _is_simple(text) else f"({text})"
            if slot in is_param and numpy_mode:  # reduce over the batch: Σₛ g[s]·local[s]
                if kind == "mul" and not any(varies[s] for s in self._slots_in(text)):
                    value = f"{g}.sum() * {factor}"
                else:
                    value = {"one": f"{g}.sum()", "neg": f"-{g}.sum()",
                             "mul": f"_np.dot({g}, {text})",
                             "expr": f"_np.sum({text.format(g=g)})"}[kind]
                op = "+=" if slot in assigned else "="
                lines.append(f"{target} {op} {value}")
            else:
                value = {"one": g, "neg": f"-{g}", "mul": f"{g} * {factor}",
                         "expr": text.format(g=g) if kind == "expr" else ""}[kind]
                if slot not in assigned:
                    lines.append(f"{target} = {value}")
                elif numpy_mode:  # never in place: an array may be shared with another gradient
                    sign, term = ("-", g) if kind == "neg" else ("+", value)
                    lines.append(f"{target} = {target} {sign} {term}")
                else:
                    lines.append(f"{target} -= {g}" if kind == "neg" else f"{target} += {value}")
            assigned.add(slot)

        for slot, seed in zip(tape._outputs, seeds):
            if needed[slot]:
                emit(slot, "one", "", seed)
        for ins in reversed(tape.program):
            if not needed[ins.out]:
                continue
            lines.append(f"# {ins.op} -> {n[ins.out]}")
            for child, kind, text in self.local_grads(ins):
                if needed[child]:
                    emit(child, kind, text, name_of[ins.out])
        for slot in sorted(wanted):
            if slot not in assigned:  # f does not depend on it
                lines.append(f"{name_of[slot]} = 0.0")
        return lines

    def _slots_in(self, text: str) -> list[int]:
        """The slots an expression reads."""
        return [self.index[name] for name in re.findall(r"[A-Za-z_]\w*", text) if name in self.index]


def _depends_on(program: Sequence[Instruction], flags: list[bool]) -> list[bool]:
    """``flags`` (one per slot) carried forward through the program: an instruction's output is
    flagged when any of its arguments is."""
    for ins in program:
        flags[ins.out] = any(flags[a] for a in ins.args)
    return flags


# ---- the functions generated code calls: the engine's own float math, and numpy versions ---------
def _power_vv(a: float, n: float) -> float:
    if not (a > 0 or (a == 0 and n > 0)):
        raise ValueError(f"{a!r} ** {n!r}: with a Value exponent the base must be positive")
    return engine._check_power(a, n, a, n)


def _dexponent(a: float, out: float) -> float:
    return out * math.log(a) if a > 0 else 0.0


def _log(a: float) -> float:
    if a <= 0:
        raise ValueError(f"log({a!r}): log is only defined for positive numbers (replaying a tape)")
    return math.log(a)


def _sqrt(a: float) -> float:
    if a < 0:
        raise ValueError(f"sqrt({a!r}): sqrt is only defined for numbers >= 0 (replaying a tape)")
    return math.sqrt(a)


def _softplus(a: float) -> float:
    return max(a, 0.0) + math.log1p(math.exp(-abs(a)))


def _np_sigmoid(a: Any) -> Any:
    e = np.exp(-np.abs(a))  # never overflows; σ(a) = 1/(1 + e) for a ≥ 0, e/(1 + e) below
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _np_softplus(a: Any) -> Any:
    return np.maximum(a, 0.0) + np.log1p(np.exp(-np.abs(a)))


def _np_dpower(a: Any, n: Any) -> Any:
    with np.errstate(all="ignore"):
        d = n * np.power(a, np.subtract(n, 1.0))
        return np.where(np.equal(n, 0), 0.0, np.where(np.equal(a, 0) & np.less(n, 1), math.inf, d))


def _np_dexponent(a: Any, out: Any) -> Any:
    positive = np.greater(a, 0)
    return np.where(positive, out * np.log(np.where(positive, a, 1.0)), 0.0)


def _np_dsqrt(out: Any) -> Any:
    positive = np.greater(out, 0)
    return np.where(positive, 0.5 / np.where(positive, out, 1.0), math.inf)


_NAMESPACE = {
    "inf": math.inf, "nan": math.nan, "_np": np,
    "_power": lambda a, n: engine._check_power(a, n, a, n), "_power_vv": _power_vv,
    "_dpower": engine._power_derivative, "_dexponent": _dexponent, "_exp": engine._exp,
    "_log": _log, "_sqrt": _sqrt, "_tanh": math.tanh, "_sigmoid": engine._sigmoid,
    "_softplus": _softplus, "_np_sigmoid": _np_sigmoid, "_np_softplus": _np_softplus,
    "_np_dpower": _np_dpower, "_np_dexponent": _np_dexponent, "_np_dsqrt": _np_dsqrt,
}
_tape_ids = itertools.count()

# ---- whole functions -----------------------------------------------------------------------------
def header(tape: Tape) -> str:
    """Comment lines that say which slot holds which argument and parameter."""
    n = tape._slot_names
    lines = [f"# {tape!r}"]
    slot = 0
    for name, k in tape.input_layout:
        shown = n[slot] if k is None else f"{n[slot]} … {n[slot + k - 1]}" if k else "(empty)"
        lines.append(f"# input {name!r}: {shown}")
        slot += 1 if k is None else k
    for j, name in enumerate(tape.param_names):
        lines.append(f"# parameter {name!r}: {n[tape._n_input_slots + j]}")
    return "\n".join(lines) + "\n"


def generate(tape: Tape, kind: str, mode: str, wanted: tuple[bool, ...] | None = None) -> str:
    """The source of one function of ``tape`` in ``mode`` ("float" or "numpy"):

    * ``forward(*inputs, P) -> (outputs, saved slots)``;
    * ``backward(saved, P, *seeds) -> (input grads, parameter grads)``, for the input slots
      ``wanted`` marks (all by default);
    * ``loop(rows, P) -> (Σ output, Σ parameter grads)`` over rows of inputs (float mode only).
    """
    gen, n = _Codegen(tape, mode), tape._slot_names
    n_inputs, n_params = tape._n_input_slots, len(tape.params)
    inputs = n[:n_inputs]
    params = n[n_inputs:n_inputs + n_params]
    saved = inputs + n[n_inputs + n_params:]
    outputs = [n[o] for o in tape._outputs]
    param_slots = range(n_inputs, n_inputs + n_params)
    pgrads = [f"G{p}" for p in params]
    unpack_params = _wrap(params, "    (", ",) = P") if params else []
    if kind == "forward":
        head = [f"def forward({', '.join([*inputs, 'P'])}):"]
        tail = _wrap(saved, "return (" + ", ".join(outputs) + ",), (", ",)")
        return "\n".join(head + unpack_params + ["    " + line for line in gen.forward_lines() + tail]) + "\n"
    if kind == "backward":
        seeds = [f"seed{i}" for i in range(len(outputs))]
        wanted = wanted or (True,) * n_inputs
        input_slots = [i for i in range(n_inputs) if wanted[i]]
        body = gen.backward_lines({*input_slots, *param_slots}, False, seeds)
        head = [f"def backward({', '.join(['V', 'P', *seeds])}):"]
        head += _wrap(saved, "    (", ",) = V") if saved else []
        grads = [f"g{n[i]}" for i in input_slots]
        tail = _wrap(grads, "return (", ",), (") if grads else ["return (), ("]
        tail[-1] += ", ".join(pgrads) + ("," if pgrads else "") + ")"
        return "\n".join(head + unpack_params + ["    " + line for line in body + tail]) + "\n"
    # kind == "loop": Σ over rows of the output and its parameter gradients (float mode)
    body = gen.backward_lines(set(param_slots), True, ["1.0"])
    head = ["def loop(rows, P):", *unpack_params, "    total = 0.0"]
    head += [f"    {g} = 0.0" for g in pgrads]
    head += _wrap(inputs, "    for (", ",) in rows:") if inputs else ["    for _ in rows:"]
    inner = [*gen.forward_lines(), f"total += {outputs[0]}", *body]
    tail = _wrap(pgrads, "    return total, (", ",)") if pgrads else ["    return total, ()"]
    return "\n".join(head + ["        " + line for line in inner] + tail) + "\n"


def compile_function(source: str, kind: str) -> Callable:
    """Compile the generated ``source`` of one function named ``kind`` and return it."""
    namespace = dict(_NAMESPACE)
    # Only our generated text is compiled: names come from the op table and slot numbers.
    exec(compile(source, f"<microgradlike tape {next(_tape_ids)} {kind}>", "exec"), namespace)
    return namespace[kind]
