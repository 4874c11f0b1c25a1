"""Compile a Value computation to a flat tape, and replay it fast: on floats, or on a whole batch.

The eager engine builds one Python object per operation, every time. But a model's graph has the
same *shape* for every input: only the numbers change. So we can run ``f`` once on Values, write
its graph down as a flat program over an array of **slots**, and replay that program::

    slot:   x0   x1   p0   p1   p2   v0                  v1
    code:                          v0 = p0*x0 + p1*x1 + p2   (dot)
                                                         v1 = max(v0, 0)   (relu)

Forward replay runs the instructions in order; backward replay runs the chain rule over them in
reverse, ``g[child] += g[out] · ∂out/∂child``, with the local derivatives recomputed from the
saved slot values: exactly what `Value.backward` does, minus the objects. Inputs (the arguments
of ``f``) and parameters (the leaf Values ``f`` reads, e.g. a model's weights) are named slots;
the tape reads the parameters' *current* ``.data`` on every call, so it stays valid while an
optimiser updates them.

The program is turned into straight-line Python source (``tape.source`` prints it), generated
from this module's op table only and compiled once: replaying is then as fast as a hand-written
float loop. The same source, with numpy in place of `math`, replays a *batch*: each input slot
holds a vector (one entry per sample), and one pass computes every sample's forward and backward.

What is frozen (as in ``jax.jit``): tracing records the ops that ran. A Python ``if`` on ``.data``
(``if x.data > 0: ...``), a plain number computed from ``.data`` (``m = max(v.data for v in z)``)
or an index chosen from data is fixed at trace time. Ops that branch *inside* the engine, such
as ``relu`` and ``abs``, are replayed: their branch is decided again for every input.

Example::

    >>> from microgradlike import Value
    >>> w = Value(-3.0, label="w")
    >>> tape = trace(lambda x: (x * w + 1).tanh(), 2.0)
    >>> round(tape(0.5), 6)                  # tanh(0.5·(−3) + 1)
    -0.462117
    >>> tape.backward(); round(tape.grads[0], 6), round(tape.param_grads[0], 6)
    (-2.359343, 0.393224)
"""

from __future__ import annotations

import inspect
import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import engine
from .engine import Value, topological_order

__all__ = ["ENGINES", "Instruction", "LossAndGrad", "Tape", "make_loss_and_grad", "trace"]

#: The compiled engines `make_loss_and_grad` offers.
ENGINES = ("tape", "batched")


# ---- the program -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Instruction:
    """One step of a tape: ``slots[out] = op(slots[args], const)``.

    ``op`` is an engine op (``"+"``, ``"*"``, ``"relu"``, ``"dot"``, ``"sum"`` ...) or, for an op
    with a plain-number operand, a form that says where the number goes: ``"+c"`` (x + c),
    ``"-c"`` (x − c), ``"c-"`` (c − x), ``"*c"``, ``"/c"``, ``"c/"``, ``"**c"`` (xⁿ), ``"c**"`` (cˣ).
    ``terms`` (dot only) lists Σ's terms in order: ``("mul", i, j)`` slot·slot, ``("scale", i, c)``
    slot·number, ``("add", i)`` a Value bias, ``("const", c)`` a plain number.
    """

    op: str
    out: int
    args: tuple[int, ...]
    const: float = 0.0
    terms: tuple[tuple, ...] = ()


_CONSTANT_FORMS = {("+", False): "+c", ("-", False): "-c", ("-", True): "c-", ("*", False): "*c",
                   ("/", False): "/c", ("/", True): "c/", ("**", False): "**c", ("**", True): "c**"}
_BINARY = {"+", "-", "*", "/", "**"}
_UNARY = {"neg", "abs", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "softplus"}


class _Recorder:
    """The engine's constant hook while tracing: remembers the plain numbers nodes don't keep."""

    def __init__(self) -> None:
        self.constants: dict[Value, tuple[float, bool]] = {}
        self.dot_terms: dict[Value, list[tuple]] = {}

    def __call__(self, out: Value, constant: float, constant_first: bool = False,
                 operands: tuple | None = None) -> None:
        self.constants[out] = (constant, constant_first)
        if out.op == "dot":
            # A dot node keeps its Value children but not which of them were multiplied
            # together: `engine.dot` hands its (weights, inputs, bias) over for that.
            if operands is None:
                raise RuntimeError("trace(): engine.dot did not pass its operands to the hook")
            self.dot_terms[out] = _dot_terms(*operands, out)


def _dot_terms(weights: Any, inputs: Any, bias: Any, out: Value) -> list[tuple]:
    """Σ's terms of the dot node ``out``, in the order `engine.dot` added them."""
    terms: list[tuple] = []
    for w, x in zip(weights, inputs):
        w_is_value, x_is_value = isinstance(w, Value), isinstance(x, Value)
        if w_is_value and x_is_value:
            terms.append(("mul", w, x))
        elif w_is_value or x_is_value:
            terms.append(("scale", w if w_is_value else x, float(x if w_is_value else w)))
        else:
            terms.append(("const", float(w) * float(x)))
    terms.append(("add", bias) if isinstance(bias, Value) else ("const", float(bias)))
    n_values = sum(1 + (t[0] == "mul") for t in terms if t[0] != "const")
    if n_values != len(out.children):
        raise TypeError("trace(): dot() was given iterators; pass lists so the pairing can be read back")
    return terms


# ---- generating source -------------------------------------------------------------------------
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
    return repr(c) if c >= 0 or (c == 0 and math.copysign(1, c) > 0) else f"({c!r})"


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

    def varies(self) -> list[bool]:
        """Per slot: does it change from sample to sample (depend on an input)?"""
        flags = [i < self.tape._n_input_slots for i in range(len(self.names))]
        for ins in self.tape.program:
            flags[ins.out] = any(flags[a] for a in ins.args)
        return flags

    def backward_lines(self, wanted: set[int], accumulate: bool, seeds: Sequence[str]) -> list[str]:
        """The chain rule in reverse over the program, for the gradients of the ``wanted`` slots.

        Parameter gradients are plain sums (in numpy mode summed over the batch at once);
        with ``accumulate`` they are added to running totals (a loop over samples).
        """
        tape, n = self.tape, self.names
        numpy_mode = self.mode == "numpy"
        is_param = set(range(tape._n_input_slots, tape._n_input_slots + len(tape.params)))
        needed = [i in wanted for i in range(len(n))]
        for ins in tape.program:
            needed[ins.out] = any(needed[a] for a in ins.args)
        varies = self.varies() if numpy_mode else []
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
        index = self.tape._slot_index
        return [index[token] for token in _tokens(text) if token in index]


def _tokens(text: str) -> Iterable[str]:
    word = ""
    for ch in text + " ":
        if ch.isalnum() or ch == "_":
            word += ch
        elif word:
            yield word
            word = ""


# Helpers the generated code calls: the engine's own float math, and numpy versions.
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


# ---- the tape ----------------------------------------------------------------------------------
class Tape:
    """A traced computation: a flat program over slots, replayable on floats or numpy vectors.

    ``tape(*args)`` replays the forward pass (arguments shaped like ``trace``'s examples; numpy
    vectors, one entry per sample, for a batch) and returns the output (a tuple if ``f``
    returned several). ``tape.backward(seed)`` then replays the chain rule: ``tape.grads``
    (one per argument) and ``tape.param_grads`` (one per parameter, summed over a batch).
    ``tape.write_grads()`` puts the parameter gradients into the parameters' ``.grad``.
    """

    def __init__(self, program: list[Instruction], inputs: list[tuple[str, int | None]],
                 params: list[tuple[str, Value]], outputs: list[int], slot_names: list[str],
                 single_output: bool) -> None:
        self.program = program
        self.input_layout = inputs  # (argument name, None for a number or k for a list of k)
        self.input_names = [name for name, _ in inputs]
        self.param_names = [name for name, _ in params]
        self.params = [p for _, p in params]
        self._outputs = outputs
        self._single = single_output
        self._slot_names = slot_names
        self._slot_index = {name: i for i, name in enumerate(slot_names)}
        self._n_input_slots = sum(1 if k is None else k for _, k in inputs)
        self._compiled: dict[tuple, Callable] = {}
        self._sources: dict[tuple, str] = {}
        self._state: tuple | None = None
        self.grads: tuple[Any, ...] = ()
        self.param_grads: tuple[float, ...] = ()

    def __repr__(self) -> str:
        return (f"Tape(inputs={self.input_names}, {len(self.params)} parameters, "
                f"{len(self.program)} instructions)")

    # -- source --
    @property
    def source(self) -> str:
        """The generated Python of the float replay (forward and backward), for reading."""
        return self._header() + self._source("forward", "float") + "\n" + self._source("backward", "float")

    @property
    def batched_source(self) -> str:
        """The generated Python of the batched (numpy) replay."""
        return self._header() + self._source("forward", "numpy") + "\n" + self._source("backward", "numpy")

    def _header(self) -> str:
        n = self._slot_names
        lines = [f"# {self!r}"]
        slot = 0
        for name, k in self.input_layout:
            shown = n[slot] if k is None else f"{n[slot]} … {n[slot + k - 1]}" if k else "(empty)"
            lines.append(f"# input {name!r}: {shown}")
            slot += 1 if k is None else k
        for j, name in enumerate(self.param_names):
            lines.append(f"# parameter {name!r}: {n[self._n_input_slots + j]}")
        return "\n".join(lines) + "\n"

    def _source(self, kind: str, mode: str, wanted: tuple[bool, ...] | None = None) -> str:
        key = (kind, mode, wanted)
        if key not in self._sources:
            self._sources[key] = self._generate(kind, mode, wanted)
        return self._sources[key]

    def _generate(self, kind: str, mode: str, wanted: tuple[bool, ...] | None) -> str:
        gen, n = _Codegen(self, mode), self._slot_names
        inputs = n[:self._n_input_slots]
        params = n[self._n_input_slots:self._n_input_slots + len(self.params)]
        saved = inputs + n[self._n_input_slots + len(self.params):]
        outputs = [n[o] for o in self._outputs]
        unpack_params = _wrap(params, "    (", ",) = P") if params else []
        body: list[str]
        if kind == "forward":
            head = [f"def forward({', '.join([*inputs, 'P'])}):"]
            body = gen.forward_lines()
            tail = _wrap(saved, "return (" + ", ".join(outputs) + ",), (", ",)")
            return "\n".join(head + unpack_params + ["    " + line for line in body + tail]) + "\n"
        seeds = [f"seed{i}" for i in range(len(outputs))]
        param_slots = range(self._n_input_slots, self._n_input_slots + len(self.params))
        if kind == "backward":
            wanted = wanted or (True,) * self._n_input_slots
            input_slots = [i for i in range(self._n_input_slots) if wanted[i]]
            body = gen.backward_lines({*input_slots, *param_slots}, False, seeds)
            head = [f"def backward({', '.join(['V', 'P', *seeds])}):"]
            head += _wrap(saved, "    (", ",) = V") if saved else []
            grads = [f"g{n[i]}" for i in input_slots]
            pgrads = [f"G{p}" for p in params]
            tail = _wrap(grads, "return (", ",), (") if grads else ["return (), ("]
            tail[-1] += ", ".join(pgrads) + ("," if pgrads else "") + ")"
            return "\n".join(head + unpack_params + ["    " + line for line in body + tail]) + "\n"
        # kind == "loop": Σ over rows of the output and its parameter gradients (float mode)
        body = gen.backward_lines(set(param_slots), True, ["1.0"])
        pgrads = [f"G{p}" for p in params]
        head = ["def loop(rows, P):", *unpack_params, "    total = 0.0"]
        head += [f"    {g} = 0.0" for g in pgrads]
        head += _wrap(inputs, "    for (", ",) in rows:") if inputs else ["    for _ in rows:"]
        inner = [*gen.forward_lines(), f"total += {outputs[0]}", *body]
        tail = _wrap(pgrads, "    return total, (", ",)") if pgrads else ["    return total, ()"]
        return "\n".join(head + ["        " + line for line in inner] + tail) + "\n"

    def _function(self, kind: str, mode: str, wanted: tuple[bool, ...] | None = None) -> Callable:
        key = (kind, mode, wanted)
        if key not in self._compiled:
            source = self._source(kind, mode, wanted)
            namespace = dict(_NAMESPACE)
            # Only our generated text is compiled: names come from the op table and slot numbers.
            exec(compile(source, f"<microgradlike tape {next(_tape_ids)} {kind}>", "exec"), namespace)
            self._compiled[key] = namespace[kind]
        return self._compiled[key]

    # -- replay --
    def _current_params(self) -> list[float]:
        return [p.data for p in self.params]

    def __call__(self, *args: Any) -> Any:
        """Replay the forward pass on ``args`` (floats, or numpy vectors for a batch)."""
        flat, batch = self._flatten(args)
        mode = "float" if batch is None else "numpy"
        params = self._current_params()
        with np.errstate(over="ignore"):  # exp overflows to inf, as the engine's does
            outputs, saved = self._function("forward", mode)(*flat, params)
        if batch is not None:
            outputs = tuple(np.broadcast_to(o, (batch,)).astype(np.float64) for o in outputs)
        self._state = (mode, saved, params, batch)
        return outputs[0] if self._single else outputs

    def backward(self, seed: Any = None) -> None:
        """Replay the chain rule from the output of the last call, seeding ∂out/∂out = ``seed``.

        ``seed`` defaults to 1 (per sample, for a batch); for a batch it may be a number or one
        weight per sample (e.g. 1/N for a mean). With several outputs give one seed per output.
        Fills ``grads`` (per argument; per-sample arrays for a batch) and ``param_grads``
        (summed over the batch).
        """
        if self._state is None:
            raise RuntimeError("call the tape on some inputs before backward()")
        mode, saved, params, batch = self._state
        seeds = self._seeds(seed, batch)
        with np.errstate(over="ignore"):
            input_grads, param_grads = self._function("backward", mode)(saved, params, *seeds)
        if batch is not None:
            input_grads = tuple(np.broadcast_to(g, (batch,)).astype(np.float64) for g in input_grads)
            param_grads = tuple(float(g) for g in param_grads)
        self.grads = self._unflatten(input_grads, batch)
        self.param_grads = param_grads

    def write_grads(self, accumulate: bool = False) -> None:
        """Set each parameter's ``.grad`` to its gradient from the last backward (or add to it)."""
        for p, g in zip(self.params, self.param_grads):
            p.grad = p.grad + g if accumulate else g

    def sum_over_rows(self, rows: Iterable[Sequence[float]]) -> tuple[float, tuple[float, ...]]:
        """(Σ output, Σ ∂output/∂p per parameter) over ``rows``, each a tuple of every input slot's
        number: a float loop, all in generated code (one output only)."""
        if len(self._outputs) != 1:
            raise TypeError("sum_over_rows needs a tape with one output")
        return self._function("loop", "float")(rows, self._current_params())

    def batched_value_and_grad(self, columns: Sequence[Any], weights: Any,
                               wanted: tuple[bool, ...] | None = None) -> tuple[Any, tuple, tuple]:
        """One batched pass: (per-sample outputs, input grads, Σ-weighted parameter grads).

        ``columns`` holds one vector per input slot; ``wanted`` marks the input slots whose
        gradients to compute (the others are skipped: e.g. the targets)."""
        params = self._current_params()
        with np.errstate(over="ignore"):
            outputs, saved = self._function("forward", "numpy")(*columns, params)
            seeds = weights if len(self._outputs) > 1 else (weights,)
            grads, param_grads = self._function("backward", "numpy", wanted)(saved, params, *seeds)
        return outputs, grads, param_grads

    # -- argument checking --
    def _flatten(self, args: tuple) -> tuple[list[Any], int | None]:
        layout = self.input_layout
        if len(args) != len(layout):
            names = ", ".join(name for name, _ in layout)
            raise TypeError(f"this tape takes {len(layout)} argument(s) ({names}), got {len(args)}")
        arrays: list[tuple[str, np.ndarray | None, Any]] = []
        for (name, k), arg in zip(layout, args):
            arrays.append((name, *_as_input(name, k, arg)))
        batched = [(name, a) for name, a, _ in arrays if a is not None]
        if not batched:
            flat: list[Any] = []
            for _, _, numbers_ in arrays:
                flat.extend(numbers_)
            return flat, None
        sizes = {a.shape[0] for _, a in batched}
        if len(sizes) != 1:
            shapes = ", ".join(f"{name}: {a.shape}" for name, a in batched)
            raise ValueError(f"batched arguments must hold the same number of samples, got shapes {shapes}")
        n = sizes.pop()
        flat = []
        for (_, k), (_, a, numbers_) in zip(layout, arrays):
            if a is None:  # a plain number is the same for every sample
                flat.extend(np.full(n, x) for x in numbers_)
            elif k is None:
                flat.append(a)
            else:
                flat.extend(np.ascontiguousarray(a.T))
        return flat, n

    def _unflatten(self, flat: Sequence[Any], batch: int | None) -> tuple[Any, ...]:
        out, i = [], 0
        for _, k in self.input_layout:
            if k is None:
                out.append(flat[i])
                i += 1
            else:
                part = list(flat[i:i + k])
                if batch is not None:
                    part = np.stack(part, axis=1) if part else np.zeros((batch, 0))
                out.append(part)
                i += k
        return tuple(out)

    def _seeds(self, seed: Any, batch: int | None) -> list[Any]:
        n_out = len(self._outputs)
        if seed is None:
            seeds: list[Any] = [1.0] * n_out
        elif n_out == 1:
            seeds = [seed]
        else:
            seeds = list(seed)
            if len(seeds) != n_out:
                raise ValueError(f"this tape has {n_out} outputs; give one seed each, got {len(seeds)}")
        if batch is None:
            return [_scalar(s, "seed") for s in seeds]
        checked = []
        for s in seeds:
            a = np.asarray(s, dtype=np.float64)
            if a.ndim == 0:
                a = np.full(batch, float(a))
            if a.shape != (batch,):
                raise ValueError(f"seed must be a number or one weight per sample (shape ({batch},)), "
                                 f"got shape {a.shape}")
            checked.append(a)
        return checked


def _scalar(x: Any, name: str) -> float:
    if isinstance(x, Value):
        return x.data
    number = engine._number(x)
    if number is None:
        raise TypeError(f"{name} must be a number, got {type(x).__name__}: {x!r}")
    return number


def _as_input(name: str, k: int | None, arg: Any) -> tuple[np.ndarray | None, list[float]]:
    """(batch array or None, the numbers of one sample) for one argument of layout ``k``."""
    single_ndim = 0 if k is None else 1
    if isinstance(arg, Value) or engine._number(arg) is not None:
        if k is not None:
            raise ValueError(f"argument {name!r} must be a list of {k} numbers, got {arg!r}")
        return None, [_scalar(arg, name)]
    if isinstance(arg, str):
        raise TypeError(f"argument {name!r} must hold numbers, got a str: {arg!r}")
    if isinstance(arg, Sequence) and any(isinstance(x, Value) for x in arg):
        arg = [_scalar(x, name) for x in arg]
    try:
        array = np.asarray(arg, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"argument {name!r} must hold numbers, got {type(arg).__name__}: {arg!r}") from e
    expected = "a number" if k is None else f"a list of {k} numbers"
    if array.ndim == single_ndim:
        if k is not None and array.shape[0] != k:
            raise ValueError(f"argument {name!r} must be {expected}, got {array.shape[0]}")
        return None, array.tolist() if k is not None else [float(array)]
    if array.ndim == single_ndim + 1 and (k is None or array.shape[1] == k):
        return array, []
    batch_shape = "(N,)" if k is None else f"(N, {k})"
    raise ValueError(f"argument {name!r} must be {expected}, or a batch of shape {batch_shape}; "
                     f"got shape {array.shape}")


# ---- tracing -----------------------------------------------------------------------------------
def trace(f: Callable[..., Any], *example_args: Any, params: Any = None) -> Tape:
    """Run ``f`` once on Values made from ``example_args`` and record its graph as a `Tape`.

    Each example argument — a number (or Value) or a list of numbers — becomes a named input:
    ``f`` receives a Value (or a list of Values) in its place. Every other leaf Value ``f``
    reads (a model's weights, say) becomes a parameter slot, read afresh at each replay;
    ``params`` (a Module, or a list of Values or of (name, Value) pairs) names them and fixes
    their order. ``f`` must return a Value or a list of Values.

    Frozen at trace time, as with ``jax.jit``: Python branches on ``.data``, plain numbers
    derived from ``.data``, and indices chosen by data. Ops (relu, abs, ...) are replayed.
    """
    if not callable(f):
        raise TypeError(f"trace needs a function, got {type(f).__name__}: {f!r}")
    if not engine.is_grad_enabled():
        raise RuntimeError("trace() records the graph, which no_grad() turns off: call it outside no_grad()")
    names = _argument_names(f, len(example_args))
    layout: list[tuple[str, int | None]] = []
    inputs: list[Value] = []
    call_args: list[Any] = []
    for name, arg in zip(names, example_args):
        if _is_number(arg):
            v = Value(_scalar(arg, name), label=name)
            inputs.append(v)
            call_args.append(v)
            layout.append((name, None))
        else:
            vs = [Value(x, label=f"{name}[{j}]") for j, x in enumerate(_sequence_numbers(name, arg))]
            inputs.extend(vs)
            call_args.append(vs)
            layout.append((name, len(vs)))
    named = _named_params(params)
    recorder = _Recorder()
    previous = engine._constant_hook
    engine._constant_hook = recorder
    try:
        result = f(*call_args)
    finally:
        engine._constant_hook = previous
    single = isinstance(result, Value)
    outputs = [result] if single else list(result) if isinstance(result, Sequence) else []
    if not outputs or not all(isinstance(o, Value) for o in outputs):
        raise TypeError(f"the traced function must return a Value or a list of Values, "
                        f"got {type(result).__name__}: {result!r}")
    return _build(recorder, layout, inputs, named, outputs, single)


def _is_number(x: Any) -> bool:
    return isinstance(x, Value) or engine._number(x) is not None


def _sequence_numbers(name: str, arg: Any) -> list[float]:
    if isinstance(arg, str) or not isinstance(arg, Sequence | np.ndarray):
        raise TypeError(f"example argument {name!r} must be a number, a Value or a list of them, "
                        f"got {type(arg).__name__}: {arg!r}")
    if isinstance(arg, np.ndarray) and arg.ndim != 1:
        raise ValueError(f"example argument {name!r} must be one sample (1-D), got shape {arg.shape}")
    return [_scalar(x, f"{name}[{j}]") for j, x in enumerate(arg)]


def _argument_names(f: Callable, n: int) -> list[str]:
    """f's parameter names for its first n positional arguments (x0, x1, ... where unknown)."""
    try:
        parameters = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    names = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    names = names[:n]
    return names + [f"x{i}" for i in range(len(names), n)]


def _named_params(params: Any) -> list[tuple[str, Value]]:
    if params is None:
        return []
    if hasattr(params, "named_parameters"):
        return list(params.named_parameters())
    named = []
    for i, item in enumerate(params):
        if isinstance(item, Value):
            named.append((item.label or f"param{i}", item))
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Value):
            named.append((str(item[0]), item[1]))
        else:
            raise TypeError(f"params must be a Module or a list of Values or (name, Value) pairs; "
                            f"entry {i} is {item!r}")
    return named


def _build(recorder: _Recorder, layout: list[tuple[str, int | None]], inputs: list[Value],
           named: list[tuple[str, Value]], outputs: list[Value], single: bool) -> Tape:
    order: list[Value] = []
    seen: set[Value] = set()
    for out in outputs:
        for node in topological_order(out):
            if node not in seen:
                seen.add(node)
                order.append(node)
    slot: dict[Value, int] = {}
    names: list[str] = []
    for i, v in enumerate(inputs):
        slot[v] = len(names)
        names.append(f"x{i}")
    params: list[tuple[str, Value]] = []
    for name, p in named:
        if p not in slot:
            slot[p] = len(names)
            names.append(f"p{len(params)}")
            params.append((name, p))
    for node in order:  # other leaves f reached: parameters too (they are read at each call)
        if not node.children and node not in slot:
            slot[node] = len(names)
            names.append(f"p{len(params)}")
            params.append((node.label or f"leaf{len(params)}", node))
    program = []
    for node in order:
        if node.children:
            slot[node] = len(names)
            names.append(f"v{len(program)}")
            program.append(_instruction(node, slot, recorder))
    return Tape(program, layout, params, [slot[o] for o in outputs], names, single)


def _instruction(node: Value, slot: dict[Value, int], recorder: _Recorder) -> Instruction:
    op, out, args = node.op, slot[node], tuple(slot[c] for c in node.children)
    if op == "dot":
        if node not in recorder.dot_terms:
            raise _outside(node)
        terms = tuple((t[0], *(slot[x] if isinstance(x, Value) else x for x in t[1:]))
                      for t in recorder.dot_terms[node])
        return Instruction("dot", out, args, terms=terms)
    if op == "sum":
        if node not in recorder.constants:
            raise _outside(node)
        return Instruction("sum", out, args, recorder.constants[node][0])
    if op in _BINARY and len(args) == 2:
        return Instruction(op, out, args)
    if op in _BINARY and len(args) == 1:
        if node not in recorder.constants:
            raise _outside(node)
        constant, first = recorder.constants[node]
        return Instruction(_CONSTANT_FORMS[(op, first)], out, args, constant)
    if op in _UNARY and len(args) == 1:
        return Instruction(op, out, args)
    raise NotImplementedError(f"trace() cannot record op {op!r} with {len(args)} children ({node!r})")


def _outside(node: Value) -> ValueError:
    return ValueError(f"{node!r} was computed before trace() ran, so its plain-number operand is "
                      f"unknown; compute it inside the traced function")


# ---- training: the loss and its gradient over a batch -------------------------------------------
LossAndGrad = Callable[[Any, Any], float]


def make_loss_and_grad(model: Any, loss_fn: Callable[[Any, Any], Value] | str,
                       engine: str = "tape") -> LossAndGrad:
    """``(X_batch, y_batch) -> L`` that also sets every ``model.parameters()`` ``.grad`` to ∂L/∂p,

        L = loss_fn([model(x) for x in X_batch], y_batch),

    equal to the eager engine's result (to rounding) without building a graph per step.

    How: the per-sample loss ℓ(x, y) = loss_fn([model(x)], [y]) is traced once and replayed,
    and L = (1/N) Σₛ ℓ(xₛ, yₛ), ∂L/∂p = (1/N) Σₛ ∂ℓ/∂p. That holds when the loss is a mean of
    per-sample terms, true for every loss in `microgradlike.losses`; a custom loss must be one.

    Targets: for ``mse`` (which does arithmetic on its targets) y is an input slot, so one tape
    serves every target. Losses that read their targets as plain numbers — ``cross_entropy``
    indexes the row by the class id, ``hinge`` picks 1 − s or 1 + s by sign, ``binary_cross_entropy``
    multiplies by y — are traced once per distinct target (usually a handful of labels), so every
    sample replays exactly the graph eager builds for it. A custom loss is treated like mse,
    unless all its targets are integers (labels), which get one trace each.

    ``engine="tape"``: a generated float loop over the samples (model and loss fused).
    ``engine="batched"``: one numpy pass over the whole batch for the model, then each target's
    loss tape on its samples; parameter gradients are the weighted sums over samples.
    """
    from . import losses

    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(map(repr, ENGINES))}")
    loss = losses.get_loss(loss_fn) if isinstance(loss_fn, str) else loss_fn
    if not callable(loss):
        raise TypeError(f"loss_fn must be a callable (preds, targets) -> Value or a name, got {loss_fn!r}")
    by_value = loss in (losses.cross_entropy, losses.hinge, losses.binary_cross_entropy)
    return _LossAndGrad(model, loss, engine, by_value)


class _LossAndGrad:
    """The callable `make_loss_and_grad` returns; caches one tape per target key."""

    def __init__(self, model: Any, loss: Callable, engine_name: str, by_value: bool) -> None:
        self.model, self.loss, self.engine, self.by_value = model, loss, engine_name, by_value
        self.params = list(model.parameters())
        self.n_in = int(getattr(model, "nin", 0)) or None
        self._fused: dict[Any, tuple[Tape, list[int]]] = {}
        self._model_tape: Tape | None = None
        self._loss_tapes: dict[Any, Tape] = {}

    def __call__(self, X_batch: Any, y_batch: Any) -> float:
        X = np.asarray(X_batch, dtype=np.float64)
        if X.ndim == 1:
            X = X.reshape(-1, 1)
        n = X.shape[0]
        if X.ndim != 2 or n == 0:
            raise ValueError(f"X_batch must be a non-empty list of rows, got shape {X.shape}")
        targets = y_batch.tolist() if isinstance(y_batch, np.ndarray) else list(y_batch)
        if len(targets) != n:
            raise ValueError(f"X_batch has {n} rows but y_batch has {len(targets)} targets")
        flat_targets = [_flatten_target(t) for t in targets]
        integral = all(float(v).is_integer() for t in flat_targets for v in t)
        by_value = self.by_value or integral
        groups: dict[Any, list[int]] = {}
        for i, t in enumerate(flat_targets):
            key = tuple(t) if by_value else len(t)
            groups.setdefault(key, []).append(i)
        if self.engine == "tape":
            total, grads = self._run_tape(X, targets, flat_targets, groups, by_value)
        else:
            total, grads = self._run_batched(X, targets, flat_targets, groups, by_value)
        for p, g in zip(self.params, grads):
            p.grad = g / n
        return total / n

    # -- engine="tape": one fused tape (model + loss) per target key, a float loop over samples --
    def _fused_tape(self, key: Any, x0: list[float], target: Any, flat_target: list[float],
                    by_value: bool) -> Tape:
        cache_key = (by_value, key)
        if cache_key not in self._fused:
            model, loss = self.model, self.loss
            if by_value:
                tape = trace(lambda x: loss([model(x)], [target]), x0, params=self.model)
            else:
                shape = target if isinstance(target, Sequence) else None
                tape = trace(lambda x, y: loss([model(x)], [_reshape(y, shape)]), x0, flat_target,
                             params=self.model)
            self._fused[cache_key] = tape
        return self._fused[cache_key]

    def _run_tape(self, X: np.ndarray, targets: list, flat_targets: list, groups: dict,
                  by_value: bool) -> tuple[float, list[float]]:
        rows_all = X.tolist()
        total, grads = 0.0, [0.0] * len(self.params)
        for key, idx in groups.items():
            first = idx[0]
            tape = self._fused_tape(key, rows_all[first], targets[first], flat_targets[first], by_value)
            if by_value:
                rows = [rows_all[i] for i in idx]
            else:
                rows = [rows_all[i] + flat_targets[i] for i in idx]
            part, part_grads = tape.sum_over_rows(rows)
            total += part
            grads = [a + b for a, b in zip(grads, part_grads[:len(grads)])]
        return total, grads

    # -- engine="batched": the model batched once, then each key's loss tape on its samples --
    def _run_batched(self, X: np.ndarray, targets: list, flat_targets: list, groups: dict,
                     by_value: bool) -> tuple[float, list[float]]:
        n = X.shape[0]
        if self._model_tape is None:
            model = self.model
            self._model_tape = trace(lambda x: _as_outputs(model(x)), X[0].tolist(), params=model)
        model_tape = self._model_tape
        params = model_tape._current_params()
        columns = list(np.ascontiguousarray(X.T))
        with np.errstate(over="ignore"):
            preds, saved = model_tape._function("forward", "numpy")(*columns, params)
        preds = [np.broadcast_to(p, (n,)) for p in preds]
        k = len(preds)
        total = 0.0
        dpreds = [np.zeros(n) for _ in range(k)]
        for key, idx in groups.items():
            first = idx[0]
            tape = self._loss_tape(key, k, [float(p[first]) for p in preds], targets[first],
                                   flat_targets[first], by_value)
            index = np.asarray(idx)
            cols = [p[index] for p in preds]
            if not by_value:
                cols += list(np.asarray([flat_targets[i] for i in idx], dtype=np.float64).T)
            wanted = (True,) * k + (False,) * (tape._n_input_slots - k)
            outputs, grads, _ = tape.batched_value_and_grad(cols, np.ones(len(idx)), wanted)
            total += float(np.sum(outputs[0]))
            for j in range(k):
                dpreds[j][index] = grads[j]
        wanted_none = (False,) * model_tape._n_input_slots
        with np.errstate(over="ignore"):
            _, param_grads = model_tape._function("backward", "numpy", wanted_none)(saved, params, *dpreds)
        return total, [float(g) for g in param_grads]

    def _loss_tape(self, key: Any, k: int, example_preds: list[float], target: Any,
                   flat_target: list[float], by_value: bool) -> Tape:
        cache_key = (by_value, key)
        if cache_key not in self._loss_tapes:
            loss = self.loss

            def pred_of(zs: list[Value]) -> Any:
                return zs[0] if k == 1 else zs

            if by_value:
                tape = trace(lambda z: loss([pred_of(z)], [target]), example_preds)
            else:
                shape = target if isinstance(target, Sequence) else None
                tape = trace(lambda z, y: loss([pred_of(z)], [_reshape(y, shape)]),
                             example_preds, flat_target)
            self._loss_tapes[cache_key] = tape
        return self._loss_tapes[cache_key]


def _as_outputs(out: Any) -> list[Value]:
    return [out] if isinstance(out, Value) else list(out)


def _flatten_target(t: Any) -> list[float]:
    if isinstance(t, Sequence | np.ndarray) and not isinstance(t, str):
        return [float(v) for v in np.asarray(t, dtype=np.float64).ravel()]
    return [float(t)]


def _reshape(ys: list[Value], shape: Any) -> Any:
    """Target Values back in the example target's shape (a number, or a flat list)."""
    return ys[0] if shape is None else list(ys)
