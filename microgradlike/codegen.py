"""Write a traced program as straight-line Python source, and compile it: on floats or numpy vectors.

A `microgradlike.program.Program` is a flat list of instructions over numbered slots (inputs
x0 …, parameters p0 …, computed values v0 …). This module turns it into Python text, one line per
instruction, from the op table (`microgradlike.ops`): each op's forward formula and local
derivatives ∂out/∂child, rendered by `microgradlike.formulas`. For ``tanh(x · w)``::

    def forward(x0, P):                  def backward(V, P, seed0):
        (p0,) = P                            ...
        v0 = x0 * p0  # *                    gv1 = seed0
        v1 = tanh(v0)  # tanh                gv0 = gv1 * (1.0 - v1 * v1)   # ∂v1/∂v0 = 1 − v1²
        return (v1,), (x0, v0, v1,)          gx0 = gv0 * p0                # ∂v0/∂x0 = p0
                                             Gp0 = gv0 * x0                # ∂v0/∂p0 = x0

Backward is the chain rule in reverse order, g[child] += g[out] · ∂out/∂child, with each local
derivative recomputed from the saved slot values V.

``mode="float"`` renders the formulas for floats (the same functions as the eager engine: same
numbers, same errors); ``mode="numpy"`` for vectors, so the same program replays a whole batch
at once (one entry per sample in every slot); there each parameter's gradient is summed over the
batch, Σₛ g[s]·local[s]. Where an op is not defined (log of a negative number, say) the replay
raises the engine's error for it, naming the sample.

Only our generated text is ever compiled: every name in it comes from the op table and the
program's slot names.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import formulas
from .checks import short
from .ops import OPS
from .program import Instruction, Program

__all__ = ["compile_function", "generate", "header"]

_CHUNK = 64  # terms per line in long sums, so the compiler's recursion stays shallow


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
    """Writes the Python source of one program in one mode ("float" or "numpy")."""

    def __init__(self, program: Program, mode: str) -> None:
        self.program, self.mode = program, mode
        self.names = program.slot_names
        self.index = {name: i for i, name in enumerate(self.names)}

    def _operands(self, ins: Instruction) -> dict[str, str | float]:
        """The names a formula's a, b and out stand for in this instruction."""
        n = self.names
        slots = [n[i] for i in ins.args]
        if ins.layout == "ac":
            a, b = slots[0], ins.constant
        elif ins.layout == "ca":
            a, b = ins.constant, slots[0]
        else:
            a, b = slots[0], slots[1] if len(slots) > 1 else 0.0
        return {"a": a, "b": b, "out": n[ins.out]}  # type: ignore[dict-item]

    def _render(self, formula: str, ins: Instruction) -> str:
        return formulas.render(formula, self.mode, self._operands(ins))

    # -- forward --
    def forward_lines(self) -> list[str]:
        lines = []
        for ins in self.program.instructions:
            lines.extend(self._forward(ins))
        return lines

    def _forward(self, ins: Instruction) -> list[str]:
        n = self.names
        o = n[ins.out]
        if ins.op in ("dot", "sum"):
            if ins.op == "dot":
                parts = [self._term(t) for t in ins.terms]
            else:
                constant = ins.constant or 0.0
                parts = [n[i] for i in ins.args] + ([formulas.literal(constant)] if constant else [])
            parts = parts or ["0.0"]
            chunks = [parts[i:i + _CHUNK] for i in range(0, len(parts), _CHUNK)]
            lines = [f"{o} = {' + '.join(chunks[0])}  # {ins.op}"]
            lines += [f"{o} = {o} + {' + '.join(chunk)}" for chunk in chunks[1:]]
            return lines
        op = OPS[ins.op]
        return [*self._checks(ins), f"{o} = {self._render(op.forward, ins)}  # {ins.op}"]

    def _checks(self, ins: Instruction) -> list[str]:
        """Raise the engine's error where the op is not defined (only checks that can fail)."""
        op, operands, lines = OPS[ins.op], self._operands(ins), []
        shown = ", ".join(formulas.literal(v) if isinstance(v, float) else v
                          for v in (operands["a"], operands["b"]))
        for k, rule in enumerate(op.checks):
            if rule.only_if_value and isinstance(operands[rule.only_if_value], float):
                continue  # e.g. ∂/∂exponent is not needed when the exponent is a plain number
            condition = formulas.render(rule.condition, self.mode, operands)
            if condition == "True":
                continue
            test = f"not ({condition})" if self.mode == "float" else f"not _np.all({condition})"
            lines += [f"if {test}:", f"    _refuse({ins.op!r}, {k}, {condition}, {shown}, _sample)"]
        return lines

    def _term(self, term: tuple) -> str:
        kind, n = term[0], self.names
        if kind == "mul":
            return f"{n[term[1]]} * {n[term[2]]}"
        if kind == "scale":
            return f"{n[term[1]]} * {formulas.literal(term[2])}"
        if kind == "add":
            return n[term[1]]
        return formulas.literal(term[1])

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
                    out.append((term[1], "mul", formulas.literal(term[2])))
                elif term[0] == "add":
                    out.append((term[1], "one", ""))
            return out
        derivatives = OPS[ins.op].derivatives
        wanted = [1] if ins.layout == "ca" else [0] if ins.layout == "ac" else range(len(ins.args))
        return [(child, *self._contribution(self._render(derivatives[k], ins)))
                for child, k in zip(ins.args, wanted)]

    def _contribution(self, local: str) -> tuple[str, str]:
        """How a local derivative enters g[child] += g · local: as ±g, a product, or (for a branch
        between constants, relu's 1 or 0) the branch itself applied to g."""
        tree = ast.parse(local, mode="eval").body
        if isinstance(tree, ast.Constant | ast.UnaryOp) and _number(tree) in (1.0, -1.0):
            return ("one", "") if _number(tree) == 1.0 else ("neg", "")
        if self.mode == "float" and isinstance(tree, ast.IfExp) and _constant_branches(tree):
            return "expr", _apply_to_g(tree)
        if self.mode == "numpy":
            condition = _where_between(tree, 1.0, 0.0)
            if condition is not None:  # g * where(c, 1, 0) is g * c: booleans multiply as 1 and 0
                return "mul", f"({condition})"
        return "mul", local

    def backward_lines(self, wanted: set[int], accumulate: bool, seeds: Sequence[str]) -> list[str]:
        """The chain rule in reverse over the program, for the gradients of the ``wanted`` slots.

        Parameter gradients are plain sums (in numpy mode summed over the batch at once);
        with ``accumulate`` they are added to running totals (a loop over samples).
        """
        program, n = self.program, self.names
        numpy_mode = self.mode == "numpy"
        is_param = set(program.param_slots)
        needed = _depends_on(program.instructions, [i in wanted for i in range(len(n))])
        # in numpy mode: which slots change from sample to sample (depend on an input)
        varies = _depends_on(program.instructions, [i < program.n_input_slots for i in range(len(n))])
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

        for slot, seed in zip(program.outputs, seeds):
            if needed[slot]:
                emit(slot, "one", "", seed)
        for ins in reversed(program.instructions):
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


def _number(node: ast.expr) -> float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, float | int):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _number(node.operand)
        return None if inner is None else -inner
    return None


def _constant_branches(node: ast.expr) -> bool:
    if isinstance(node, ast.IfExp):
        return _constant_branches(node.body) and _constant_branches(node.orelse)
    return _number(node) is not None


def _apply_to_g(node: ast.expr) -> str:
    """``g * (1.0 if t else 0.0)`` written as ``(g if t else 0.0)``: no multiply for a branch."""
    if isinstance(node, ast.IfExp):
        return f"({_apply_to_g(node.body)} if {ast.unparse(node.test)} else {_apply_to_g(node.orelse)})"
    c = _number(node)
    assert c is not None
    shown = {1.0: "{g}", -1.0: "-{g}", 0.0: "0.0"}
    return shown.get(c, f"{{g}} * {formulas.literal(c)}")


def _where_between(node: ast.expr, yes: float, no: float) -> str | None:
    """The condition of ``_np.where(condition, yes, no)``, else None."""
    if (isinstance(node, ast.Call) and ast.unparse(node.func) == "_np.where" and len(node.args) == 3
            and _number(node.args[1]) == yes and _number(node.args[2]) == no):
        return ast.unparse(node.args[0])
    return None


def _depends_on(program: Sequence[Instruction], flags: list[bool]) -> list[bool]:
    """``flags`` (one per slot) carried forward through the program: an instruction's output is
    flagged when any of its arguments is."""
    for ins in program:
        flags[ins.out] = any(flags[a] for a in ins.args)
    return flags


# ---- errors during a replay --------------------------------------------------------------------
def _refuse(op: str, check: int, ok: Any, a: Any, b: Any, sample: int | None) -> None:
    """Raise the engine's error for ``OPS[op].checks[check]``, naming the sample it failed on."""
    rule = OPS[op].checks[check]
    where = ""
    if np.ndim(ok) > 0:  # a batch: the first sample where the condition fails
        sample = int(np.flatnonzero(~np.asarray(ok, dtype=bool))[0])
        a, b = (v[sample] if np.ndim(v) > 0 else v for v in (a, b))
    if sample is not None:
        where = f" (sample {sample} of the batch, op {op!r})"
    message = rule.message.format(a=short(float(a)), b=short(float(b))) + where
    raise rule.error(message)


_NAMESPACES = {
    mode: {**formulas.NAMESPACES[mode], "_np": np, "_refuse": _refuse} for mode in ("float", "numpy")
}
_tape_ids = itertools.count()


# ---- whole functions -----------------------------------------------------------------------------
def header(program: Program, title: str) -> str:
    """Comment lines that say which slot holds which argument and parameter."""
    n = program.slot_names
    lines = [f"# {title}"]
    slot = 0
    for name, k in program.input_layout:
        shown = n[slot] if k is None else f"{n[slot]} … {n[slot + k - 1]}" if k else "(empty)"
        lines.append(f"# input {name!r}: {shown}")
        slot += 1 if k is None else k
    for j, name in enumerate(program.param_names):
        lines.append(f"# parameter {name!r}: {n[program.n_input_slots + j]}")
    return "\n".join(lines) + "\n"


def generate(program: Program, kind: str, mode: str, wanted: tuple[bool, ...] | None = None) -> str:
    """The source of one function of ``program`` in ``mode`` ("float" or "numpy"):

    * ``forward(*inputs, P) -> (outputs, saved slots)``;
    * ``backward(saved, P, *seeds) -> (input grads, parameter grads)``, for the input slots
      ``wanted`` marks (all by default);
    * ``loop(rows, P) -> (Σ output, Σ parameter grads)`` over rows of inputs (float mode only).
    """
    gen, n = _Codegen(program, mode), program.slot_names
    n_inputs = program.n_input_slots
    inputs = list(n[:n_inputs])
    params = [n[i] for i in program.param_slots]
    saved = inputs + list(n[n_inputs + len(params):])
    outputs = [n[o] for o in program.outputs]
    pgrads = [f"G{p}" for p in params]
    unpack_params = _wrap(params, "    (", ",) = P") if params else []
    if kind == "forward":
        head = [f"def forward({', '.join([*inputs, 'P'])}):", "    _sample = None"]
        tail = _wrap(saved, "return (" + ", ".join(outputs) + ",), (", ",)")
        return "\n".join(head + unpack_params + ["    " + line for line in gen.forward_lines() + tail]) + "\n"
    if kind == "backward":
        seeds = [f"seed{i}" for i in range(len(outputs))]
        wanted = wanted or (True,) * n_inputs
        input_slots = [i for i in range(n_inputs) if wanted[i]]
        body = gen.backward_lines({*input_slots, *program.param_slots}, False, seeds)
        head = [f"def backward({', '.join(['V', 'P', *seeds])}):"]
        head += _wrap(saved, "    (", ",) = V") if saved else []
        grads = [f"g{n[i]}" for i in input_slots]
        tail = _wrap(grads, "return (", ",), (") if grads else ["return (), ("]
        tail[-1] += ", ".join(pgrads) + ("," if pgrads else "") + ")"
        return "\n".join(head + unpack_params + ["    " + line for line in body + tail]) + "\n"
    # kind == "loop": Σ over rows of the output and its parameter gradients (float mode)
    body = gen.backward_lines(set(program.param_slots), True, ["1.0"])
    head = ["def loop(rows, P):", *unpack_params, "    total = 0.0"]
    head += [f"    {g} = 0.0" for g in pgrads]
    head += _wrap(inputs, "    for _sample, (", ",) in enumerate(rows):") if inputs else \
        ["    for _sample, _ in enumerate(rows):"]
    inner = [*gen.forward_lines(), f"total += {outputs[0]}", *body]
    tail = _wrap(pgrads, "    return total, (", ",)") if pgrads else ["    return total, ()"]
    return "\n".join(head + ["        " + line for line in inner] + tail) + "\n"


def compile_function(source: str, kind: str, mode: str) -> Callable:
    """Compile the generated ``source`` of one function named ``kind`` and return it."""
    namespace = dict(_NAMESPACES[mode])
    # Only our generated text is compiled: names come from the op table and slot numbers.
    exec(compile(source, f"<microgradlike tape {next(_tape_ids)} {kind}>", "exec"), namespace)
    return namespace[kind]
