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

`generate` renders the formulas for floats (the same functions as the eager engine: same
numbers, same errors). `generate_batched` writes the batched replay of a fused program
(`microgradlike.fusion`): a whole batch at once, one row per sample, a layer's dots as one matrix
product and their activations as one numpy call over the layer's block, every other slot a
vector; there each parameter's gradient is summed over the batch, Σₛ g[s]·local[s]. Where an op
is not defined (log of a negative number, say) the replay raises the engine's error for it,
naming the sample.

Only our generated text is ever compiled: every name in it comes from the op table and the
program's slot names.
"""

from __future__ import annotations

import ast
import functools
import itertools
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import formulas
from .checks import first_few
from .fusion import Block, Dense, FusedProgram, Map, Reduce, depends_on
from .ops import NARY, OPS, operand_pair, operand_positions, refuse
from .program import Instruction, Program

__all__ = ["batched_header", "compile_function", "generate", "generate_batched", "header"]

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
        a, b = operand_pair(ins.layout, [n[i] for i in ins.args], ins.constant)
        return {"a": a, "b": b, "out": n[ins.out]}

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
        if ins.op == "logsumexp":
            return logsumexp_lines([n[i] for i in ins.args], o, self.mode)
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
        checks = self.checks(ins.op, self._operands(ins))
        value = self._render(op.forward, ins)
        return [*checks, f"{o} = {_as_extremum(value) if self.mode == 'numpy' else value}  # {ins.op}"]

    def checks(self, name: str, operands: dict[str, str | float]) -> list[str]:
        """Raise the engine's error where the op is not defined (only checks that can fail)."""
        op, lines = OPS[name], []
        shown = ", ".join(formulas.literal(v) if isinstance(v, float) else v
                          for v in (operands["a"], operands["b"]))
        for k, rule in enumerate(op.checks):
            if rule.only_if_value and isinstance(operands[rule.only_if_value], float):
                continue  # e.g. ∂/∂exponent is not needed when the exponent is a plain number
            failed = formulas.failure(rule.condition, self.mode, operands)
            if failed is None:
                continue
            test = failed if self.mode == "float" else f"_np.any({failed})"
            lines += [f"if {test}:", f"    _refuse({name!r}, {k}, {failed}, {shown}, _sample)"]
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
        if ins.op == "logsumexp":  # ∂out/∂v = e^(v − out), the softmax weight of v
            derivative = NARY["logsumexp"].derivative
            return [(i, "mul", formulas.render(derivative, self.mode, {"v": n[i], "out": n[ins.out]}))
                    for i in ins.args]
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
        wanted = operand_positions(ins.layout, len(ins.args))
        return [(child, *self._contribution(self._render(derivatives[k], ins)))
                for child, k in zip(ins.args, wanted)]

    def _contribution(self, local: str) -> tuple[str, str]:
        """How a local derivative enters g[child] += g · local: as ±g, a product, or (for a branch
        between constants, relu's 1 or 0) the branch itself applied to g."""
        tree = ast.parse(local, mode="eval").body
        if isinstance(tree, ast.Constant | ast.UnaryOp) and formulas.number_in(tree) in (1.0, -1.0):
            return ("one", "") if formulas.number_in(tree) == 1.0 else ("neg", "")
        if self.mode == "float" and isinstance(tree, ast.IfExp) and formulas.constant_branches(tree):
            return "expr", _apply_to_g(tree)
        if self.mode == "numpy":
            condition = _where_between(tree, 1.0, 0.0)
            if condition is not None:  # g * where(c, 1, 0) is g * c: booleans multiply as 1 and 0
                return "mul", f"({condition})"
            condition = _where_between(tree, 0.0, 1.0)
            if condition is not None:  # relu's where(a <= 0, 0, 1): not (a <= 0), which is 1 for nan
                return "mul", f"~({condition})"  # ~ of a comparison's booleans: their negation
        return "mul", local

    def backward_lines(self, wanted: set[int], accumulate: bool, seeds: Sequence[str]) -> list[str]:
        """The chain rule in reverse over the program, for the gradients of the ``wanted`` slots.

        Parameter gradients are plain sums; with ``accumulate`` they are added to running totals
        (a loop over samples).
        """
        program, n = self.program, self.names
        needed = depends_on(program.instructions, [i in wanted for i in range(len(n))])
        grads = _Gradients(self, accumulate)
        for slot, seed in zip(program.outputs, seeds):
            if needed[slot]:
                grads.add(slot, "one", "", seed)
        for ins in reversed(program.instructions):
            if needed[ins.out]:
                self.chain_rule(ins, needed, grads)
        for slot in sorted(wanted):
            if slot not in grads.assigned:  # f does not depend on it
                grads.lines.append(f"{grads.name(slot)} = 0.0")
        return grads.lines

    def chain_rule(self, ins: Instruction, needed: Sequence[bool], grads: _Gradients) -> None:
        """g[child] += g[out] · ∂out/∂child for each child of ``ins`` that needs a gradient."""
        grads.lines.append(f"# {ins.op} -> {self.names[ins.out]}")
        for child, kind, text in self.local_grads(ins):
            if needed[child]:
                grads.add(child, kind, text, grads.name(ins.out))

    def _slots_in(self, text: str) -> list[int]:
        """The slots an expression reads."""
        return [self.index[name] for name in re.findall(r"[A-Za-z_]\w*", text) if name in self.index]


def logsumexp_lines(args: Sequence[str], out: str, mode: str) -> list[str]:
    """``out = logsumexp(args)`` as `engine.logsumexp` computes it: m = max, then
    m + log Σ e^(v − m) (just m when m = ±inf), each vector entry on its own in numpy mode."""
    def call(function: str, arg: str) -> str:
        return formulas.render(f"{function}(a)", mode, {"a": arg})

    terms = [call("exp", f"{v} - _m") for v in args]
    chunks = [terms[i:i + _CHUNK] for i in range(0, len(terms), _CHUNK)]
    maximum = args[0] if len(args) == 1 else f"{'max' if mode == 'float' else '_maximum'}({', '.join(args)})"
    lines = [f"_m = {maximum}", f"_s = {' + '.join(chunks[0])}"]
    lines += [f"_s = _s + {' + '.join(chunk)}" for chunk in chunks[1:]]
    result = f"_m + {call('log', '_s')}"
    if mode == "float":
        lines.append(f"{out} = {result} if _m - _m == 0.0 else _m  # logsumexp (m = ±inf: m)")
    else:
        lines.append(f"{out} = _np.where(_np.isfinite(_m), {result}, _m)  # logsumexp (m = ±inf: m)")
    return lines


class _Gradients:
    """The backward lines that sum each slot's gradient, g[child] += g[out] · ∂out/∂child.

    A slot's gradient is ``g<name>`` (``G<name>`` for a parameter). In numpy mode a parameter's
    gradient is summed over the batch at once, Σₛ g[s]·local[s], and arrays are never updated
    in place (an array may be shared with another gradient); with ``accumulate`` (the float
    loop) parameter gradients add to running totals.
    """

    def __init__(self, gen: _Codegen, accumulate: bool) -> None:
        program = gen.program
        self.gen, self.numpy_mode = gen, gen.mode == "numpy"
        self.is_param = set(program.param_slots)
        # which slots change from sample to sample (depend on an input)
        self.varies = depends_on(program.instructions,
                                  [i < program.n_input_slots for i in range(len(gen.names))])
        self.assigned: set[int] = set(self.is_param) if accumulate else set()
        self.lines: list[str] = []

    def name(self, slot: int) -> str:
        return ("G" if slot in self.is_param else "g") + self.gen.names[slot]

    def add(self, slot: int, kind: str, text: str, g: str) -> None:
        """Add ``g`` times the local derivative (``kind`` and ``text`` as `_Codegen.local_grads`
        gives them) to ``slot``'s gradient."""
        target, lines = self.name(slot), self.lines
        factor = text if _is_simple(text) else f"({text})"
        if slot in self.is_param and self.numpy_mode:  # reduce over the batch: Σₛ g[s]·local[s]
            if kind == "mul" and not any(self.varies[s] for s in self.gen._slots_in(text)):
                value = f"{g}.sum() * {factor}"
            else:
                value = {"one": f"{g}.sum()", "neg": f"-{g}.sum()", "mul": f"_np.dot({g}, {text})",
                         "expr": f"_np.sum({text.format(g=g)})"}[kind]
            lines.append(f"{target} {'+=' if slot in self.assigned else '='} {value}")
        else:
            value = {"one": g, "neg": f"-{g}", "mul": f"{g} * {factor}",
                     "expr": text.format(g=g) if kind == "expr" else ""}[kind]
            if slot not in self.assigned:
                lines.append(f"{target} = {value}")
            elif self.numpy_mode:  # never in place: an array may be shared with another gradient
                sign, term = ("-", g) if kind == "neg" else ("+", value)
                lines.append(f"{target} = {target} {sign} {term}")
            else:
                lines.append(f"{target} -= {g}" if kind == "neg" else f"{target} += {value}")
        self.assigned.add(slot)


def _apply_to_g(node: ast.expr) -> str:
    """``g * (1.0 if t else 0.0)`` written as ``(g if t else 0.0)``: no multiply for a branch."""
    if isinstance(node, ast.IfExp):
        return f"({_apply_to_g(node.body)} if {ast.unparse(node.test)} else {_apply_to_g(node.orelse)})"
    c = formulas.number_in(node)
    assert c is not None
    shown = {1.0: "{g}", -1.0: "-{g}", 0.0: "0.0"}
    return shown.get(c, f"{{g}} * {formulas.literal(c)}")


def _as_extremum(text: str) -> str:
    """``_np.where(x <= c, c, x)`` (relu's ``0.0 if a <= 0 else a``) as ``_np.maximum(x, c)``, ``>=``
    as ``minimum``: one pass, where numpy's ``where`` takes several times as long on a layer's
    block. The same numbers: both give nan where x is nan (the comparison is False there, and
    maximum propagates nan); only the sign of a zero could differ (maximum(−0.0, 0.0) may be
    −0.0), so + 0.0 makes it 0.0 again."""
    tree = ast.parse(text, mode="eval").body
    if not (isinstance(tree, ast.Call) and ast.unparse(tree.func) == "_np.where" and len(tree.args) == 3):
        return text
    test, c, x = tree.args
    value = formulas.number_in(c)
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.LtE | ast.GtE) and value is not None
            and formulas.number_in(test.comparators[0]) == value
            and ast.unparse(test.left) == ast.unparse(x)):
        return text
    function = "_np.maximum" if isinstance(test.ops[0], ast.LtE) else "_np.minimum"
    zero = " + 0.0" if value == 0.0 else ""
    if value == 0.0 and math.copysign(1.0, value) < 0:  # −0.0 + 0.0 would be 0.0, not −0.0
        return text
    return f"{function}({ast.unparse(x)}, {ast.unparse(c)}){zero}"


def _where_between(node: ast.expr, yes: float, no: float) -> str | None:
    """The condition of ``_np.where(condition, yes, no)``, else None."""
    if (isinstance(node, ast.Call) and ast.unparse(node.func) == "_np.where" and len(node.args) == 3
            and formulas.number_in(node.args[1]) == yes and formulas.number_in(node.args[2]) == no):
        return ast.unparse(node.args[0])
    return None


# ---- errors during a replay --------------------------------------------------------------------
def _refuse(op: str, check: int, failed: Any, a: Any, b: Any, sample: int | None) -> None:
    """Raise the engine's error for ``OPS[op].checks[check]``, naming the sample it failed on."""
    where = ""
    if np.ndim(failed) > 0:  # a batch (a vector, or a block of columns): the first sample where it fails
        first = tuple(np.argwhere(np.asarray(failed, dtype=bool))[0])
        sample = int(first[0])
        a, b = (v[first[:np.ndim(v)]] if np.ndim(v) > 0 else v for v in (a, b))
    if sample is not None:
        where = f" (sample {sample} of the batch, op {op!r})"
    raise refuse(op, check, float(a), float(b), where)


def _columns(n: int, columns: Sequence[Any]) -> np.ndarray:
    """An n × k matrix whose column j is ``columns[j]`` (a vector, or a number for every row)."""
    out = np.empty((n, len(columns)))
    for j, column in enumerate(columns):
        out[:, j] = column
    return out


def _maximum(*xs: Any) -> Any:
    """The entry-wise max of several vectors (or numbers)."""
    return functools.reduce(np.maximum, xs)


_NAMESPACES = {
    mode: {**formulas.NAMESPACES[mode], "_np": np, "_refuse": _refuse, "_maximum": _maximum,
           "_columns": _columns}
    for mode in ("float", "numpy")
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


def generate(program: Program, kind: str, wanted: tuple[bool, ...] | None = None) -> str:
    """The source of one function of ``program`` on floats (one sample):

    * ``forward(*inputs, P) -> (outputs, saved slots)``;
    * ``backward(saved, P, *seeds) -> (input grads, parameter grads)``, for the input slots
      ``wanted`` marks (all by default);
    * ``loop(rows, P) -> (Σ output, Σ parameter grads)`` over rows of inputs;
    * ``total(rows, P) -> Σ output`` over rows of inputs: the forward pass alone.

    The batched replay (numpy, a whole batch at once) is `generate_batched`.
    """
    gen, n = _Codegen(program, "float"), program.slot_names
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
    loop = _wrap(inputs, "    for _sample, (", ",) in enumerate(rows):") if inputs else \
        ["    for _sample, _ in enumerate(rows):"]
    if kind == "total":  # Σ over rows of the output: the forward pass only
        head = ["def total(rows, P):", *unpack_params, "    total = 0.0", *loop]
        inner = [*gen.forward_lines(), f"total += {outputs[0]}"]
        return "\n".join(head + ["        " + line for line in inner] + ["    return total"]) + "\n"
    # kind == "loop": Σ over rows of the output and its parameter gradients
    body = gen.backward_lines(set(program.param_slots), True, ["1.0"])
    head = ["def loop(rows, P):", *unpack_params, "    total = 0.0"]
    head += [f"    {g} = 0.0" for g in pgrads]
    head += loop
    inner = [*gen.forward_lines(), f"total += {outputs[0]}", *body]
    tail = _wrap(pgrads, "    return total, (", ",)") if pgrads else ["    return total, ()"]
    return "\n".join(head + ["        " + line for line in inner] + tail) + "\n"


# ---- the batched replay: a fused program (microgradlike.fusion) on numpy arrays ----------------------
def _factor(text: str) -> str:
    """``text`` as a factor of a product: in parentheses unless it is a name, a number or already
    one parenthesised whole."""
    if _is_simple(text):
        return text
    depth = 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and i < len(text) - 1:
            return f"({text})"
    return text if text.startswith("(") else f"({text})"


class _Batched:
    """Writes the numpy replay of a `FusedProgram`.

    A block is an N × k matrix (one row per sample), every other slot an N-vector; a list argument
    arrives as the block ``X<i>``, a number argument as a vector. Parameters come as one vector P
    (their numbers now); a `Dense` gathers its weight matrix from it with an index array made here
    (``_W0``: which entry of P each weight is), which is why the compiled function needs
    `constants` in its namespace.
    """

    def __init__(self, fused: FusedProgram) -> None:
        self.fused, program = fused, fused.program
        self.gen = _Codegen(program, "numpy")
        self.names = program.slot_names
        self.first_param = program.n_input_slots
        self.constants: dict[str, np.ndarray] = {}
        self.dense_names: dict[str, int] = {}  # a Dense's out block -> its number (W0, A0, …)
        for step in fused.steps:
            if isinstance(step, Dense):
                k = self.dense_names.setdefault(step.out.name, len(self.dense_names))
                self.constants[f"_W{k}"] = np.array(step.weights, dtype=np.intp) - self.first_param
                if step.biases:
                    self.constants[f"_b{k}"] = np.array(step.biases, dtype=np.intp) - self.first_param
                if step.constants:
                    self.constants[f"_c{k}"] = np.array(step.constants, dtype=np.float64)
        # the slots read one column at a time: by plain instructions, stacked inputs, the outputs
        read: set[int] = set()
        for step in fused.steps:
            if isinstance(step, Instruction):
                read.update(step.args)
            elif isinstance(step, Dense) and step.source is None:
                read.update(step.inputs)
        if fused.output_block is None:
            read.update(program.outputs)
        self.read = read
        self.arguments = self._arguments()
        self.varies = depends_on(program.instructions,
                                  [i < program.n_input_slots for i in range(len(self.names))])

    def _arguments(self) -> list[str]:
        """Each argument's name in the generated code: ``X<i>`` for a list, its slot for a number."""
        out, slot = [], 0
        for i, (_, k) in enumerate(self.fused.program.input_layout):
            out.append(f"X{i}" if k is not None else self.names[slot])
            slot += 1 if k is None else k
        return out

    # -- forward --
    def forward(self) -> tuple[list[str], list[str]]:
        """(the lines of the forward pass, the names it defines, which backward gets back)."""
        n, fused = self.names, self.fused
        lines = ["_sample = None", f"_n = len({self.arguments[0]})"]
        defined = [*self.arguments, "_n"]
        for slot in sorted(self.read & set(fused.program.param_slots)):
            lines.append(f"{n[slot]} = P[{slot - self.first_param}]")
            defined.append(n[slot])
        for block in fused.input_blocks:
            if block is not None:
                self._unpack(block, lines, defined)
        for step in fused.steps:
            if isinstance(step, Dense):
                lines += self._dense_forward(step, defined)
            elif isinstance(step, Map):
                lines += self._map_forward(step)
            elif isinstance(step, Reduce):
                lines += self._reduce_forward(step)
            else:
                lines += self.gen._forward(step)
            if isinstance(step, Dense | Map):
                defined.append(step.out.name)
                self._unpack(step.out, lines, defined)
            elif isinstance(step, Reduce):
                defined.append(n[step.instruction.out])
            else:
                defined.append(n[step.out])
        outputs = [n[o] for o in fused.program.outputs]
        if fused.output_block is not None:
            lines.append(f"return {fused.output_block.name}, V")
        elif len(outputs) == 1 and self.varies[fused.program.outputs[0]]:  # a vector, not a number
            lines.append(f"return _np.reshape({outputs[0]}, (_n, 1)), V")
        else:
            lines.append(f"return _columns(_n, ({', '.join(outputs)},)), V")
        lines[-1:-1] = _wrap(defined, "V = (", ",)")
        return lines, defined

    def _unpack(self, block: Block, lines: list[str], defined: list[str]) -> None:
        """The block's columns that are read one at a time, as vectors (views, not copies)."""
        for j, slot in enumerate(block.slots):
            if slot in self.read:
                lines.append(f"{self.names[slot]} = {block.name}[:, {j}]")
                defined.append(self.names[slot])

    def _dense_forward(self, step: Dense, defined: list[str]) -> list[str]:
        k, n = self.dense_names[step.out.name], self.names
        rows, width = len(step.weights), len(step.inputs)
        first = first_few([n[w] for w in step.weights[0]])
        lines = [f"W{k} = P[_W{k}]  # {rows} × {width}, row j the weights of column j (row 0: {first})"]
        defined.append(f"W{k}")
        if step.source is not None:
            a = step.source.name
        else:
            a = f"A{k}"
            lines.append(f"{a} = _columns(_n, ({', '.join(n[x] for x in step.inputs)},))")
            defined.append(a)
        outs = first_few([n[s] for s in step.out.slots])
        lines.append(f"{step.out.name} = {a} @ W{k}.T  # dot ×{len(step.out.slots)}: {outs}")
        # in place: the product is a new array, and a second N × k one would cost time to allocate
        if step.biases:
            biases = first_few([n[b] for b in step.biases])
            lines.append(f"{step.out.name} += P[_b{k}]  # the biases: {biases}")
        if step.constants:
            lines.append(f"{step.out.name} += _c{k}  # the plain numbers")
        return lines

    def _map_operands(self, step: Map) -> dict[str, str | float]:
        a, b = operand_pair(step.layout, [step.source.name], step.constant)
        return {"a": a, "b": b, "out": step.out.name}

    def _map_forward(self, step: Map) -> list[str]:
        operands = self._map_operands(step)
        value = _as_extremum(formulas.render(OPS[step.op].forward, "numpy", operands))
        outs = first_few([self.names[s] for s in step.out.slots])
        line = f"{step.out.name} = {value}  # {step.op} ×{len(step.out.slots)}: {outs}"
        return [*self.gen.checks(step.op, operands), line]

    def _reduce_forward(self, step: Reduce) -> list[str]:
        ins, block = step.instruction, step.source.name
        out = self.names[ins.out]
        if ins.op == "sum":
            plain = f" + {formulas.literal(ins.constant)}" if ins.constant else ""
            return [f"{out} = {block}.sum(axis=1){plain}  # sum of the columns of {block}"]
        exp = formulas.render("exp(a)", "numpy", {"a": f"{block} - _m[:, None]"})
        log = formulas.render("log(a)", "numpy", {"a": "_s"})
        return [f"_m = {block}.max(axis=1)", f"_s = {exp}.sum(axis=1)",
                f"{out} = _np.where(_np.isfinite(_m), _m + {log}, _m)  # logsumexp of the columns of {block}"]

    # -- backward --
    def backward(self, wanted: Sequence[bool]) -> list[str]:
        """The chain rule in reverse over the steps, for the parameters and the ``wanted`` arguments.

        A block's gradient ``g<block>`` is summed as whole matrices from the steps that read the
        block whole; the gradients its columns got one at a time (``gv5``, from plain
        instructions) are added as columns when the step that made the block is reached."""
        fused, program, n = self.fused, self.fused.program, self.names
        wanted_slots = set(program.param_slots)
        for want, slots in zip(wanted, self._argument_slots()):
            if want:
                wanted_slots.update(slots)
        self.needed = depends_on(program.instructions, [i in wanted_slots for i in range(len(n))])
        self.grads = _Gradients(self.gen, accumulate=False)
        self.assigned: set[str] = set()  # the blocks whose gradient has a value
        self.owned: set[str] = set()  # ... held by no other name (a new array)
        lines = self.grads.lines
        lines.append(f"G = _np.zeros({len(program.param_names)})")
        if fused.output_block is not None:
            self._add(fused.output_block, "S")
        else:
            for j, out in enumerate(program.outputs):
                if self.needed[out]:
                    self.grads.add(out, "one", "", f"S[:, {j}]")
        for step in reversed(fused.steps):
            if isinstance(step, Instruction):
                if self.needed[step.out]:
                    self.gen.chain_rule(step, self.needed, self.grads)
            elif isinstance(step, Reduce):
                self._reduce_backward(step)
            elif self._complete(step.out):
                self._dense_backward(step) if isinstance(step, Dense) else self._map_backward(step)
        returned = []
        for want, (_, k), block, slots in zip(wanted, program.input_layout, fused.input_blocks,
                                              self._argument_slots()):
            if not want:
                returned.append("None")
            elif block is not None and self._complete(block):
                returned.append(f"g{block.name}")
            elif k is not None:
                returned.append(f"_np.zeros((_n, {k}))")
            else:
                got = slots[0] in self.grads.assigned
                returned.append(self.grads.name(slots[0]) if got else "_np.zeros(_n)")
        in_blocks = {p for step in fused.steps if isinstance(step, Dense)
                     for p in (*step.biases, *(w for row in step.weights for w in row))}
        for p in program.param_slots:  # gradients summed by plain instructions
            if p in self.grads.assigned:
                add = "+=" if p in in_blocks else "="
                lines.append(f"G[{p - self.first_param}] {add} {self.grads.name(p)}")
        return lines + _wrap(returned, "return (", ",), G")

    def _argument_slots(self) -> list[range]:
        out, slot = [], 0
        for _, k in self.fused.program.input_layout:
            width = 1 if k is None else k
            out.append(range(slot, slot + width))
            slot += width
        return out

    def _add(self, block: Block, value: str) -> None:
        """g<block> += value, as a new array (an array may be shared: the seed, another gradient)."""
        g = f"g{block.name}"
        self.grads.lines.append(f"{g} = {g} + {value}" if block.name in self.assigned else f"{g} = {value}")
        self.assigned.add(block.name)
        # a computed value is a new array, only ever held here: its columns may be added to in place
        if value.isidentifier():
            self.owned.discard(block.name)
        else:
            self.owned.add(block.name)

    def _complete(self, block: Block) -> bool:
        """Add the gradients the block's columns got one at a time; whether it has a gradient."""
        grads = self.grads
        got = [(j, grads.name(s)) for j, s in enumerate(block.slots) if s in grads.assigned]
        if got and block.name in self.owned:
            grads.lines += [f"g{block.name}[:, {j}] += {g}" for j, g in got]
        elif got:
            columns = [grads.name(s) if s in grads.assigned else "0.0" for s in block.slots]
            self._add(block, f"_columns(_n, ({', '.join(columns)},))")
        return block.name in self.assigned

    def _dense_backward(self, step: Dense) -> None:
        k, out, lines = self.dense_names[step.out.name], step.out.name, self.grads.lines
        a = step.source.name if step.source is not None else f"A{k}"
        lines += [f"# dot ×{len(step.out.slots)} -> {out} = {a}·W{k}ᵀ + b: ∂L/∂W{k} = (∂L/∂{out})ᵀ·{a}, "
                  f"∂L/∂b = Σ ∂L/∂{out}, ∂L/∂{a} = ∂L/∂{out}·W{k}",
                  f"G[_W{k}] = g{out}.T @ {a}"]
        if step.biases:
            lines.append(f"G[_b{k}] = g{out}.sum(axis=0)")
        if not any(self.needed[x] for x in step.inputs):
            return
        if step.source is not None:
            self._add(step.source, f"g{out} @ W{k}")
            return
        lines.append(f"g{a} = g{out} @ W{k}")
        for j, x in enumerate(step.inputs):  # the stacked inputs, column by column
            if self.needed[x]:
                self.grads.add(x, "one", "", f"g{a}[:, {j}]")

    def _map_backward(self, step: Map) -> None:
        if not any(self.needed[s] for s in step.source.slots):
            return
        (position,) = operand_positions(step.layout, 1)  # which operand the block is
        local = formulas.render(OPS[step.op].derivatives[position], "numpy", self._map_operands(step))
        kind, text = self.gen._contribution(local)
        g, source = f"g{step.out.name}", step.source.name
        self.grads.lines.append(f"# {step.op} ×{len(step.out.slots)} -> {step.out.name}")
        if step.out.name in self.owned and source not in self.assigned:
            # g<out> is a new array no one else holds, and is not needed again: reuse it in place
            if kind != "one":
                self.grads.lines.append(f"{g} *= {'-1.0' if kind == 'neg' else _factor(text)}")
            self.grads.lines.append(f"g{source} = {g}")
            self.assigned.add(source)
            self.owned.add(source)
            return
        self._add(step.source, {"one": g, "neg": f"-{g}"}.get(kind) or f"{g} * {_factor(text)}")

    def _reduce_backward(self, step: Reduce) -> None:
        ins, source, n = step.instruction, step.source, self.names
        if not (self.needed[ins.out] and any(self.needed[s] for s in source.slots)):
            return
        self.grads.lines.append(f"# {ins.op} of the columns of {source.name} -> {n[ins.out]}")
        g = self.grads.name(ins.out)
        if ins.op == "sum":  # ∂out/∂v = 1 for each column v
            self._add(source, f"_np.repeat({g}[:, None], {len(source.slots)}, axis=1)")
        else:  # logsumexp: ∂out/∂v = e^(v − out) for each column v
            local = formulas.render(NARY[ins.op].derivative, "numpy",
                                    {"v": source.name, "out": f"{n[ins.out]}[:, None]"})
            self._add(source, f"{g}[:, None] * {local}")


def generate_batched(fused: FusedProgram, kind: str,
                     wanted: tuple[bool, ...] | None = None) -> tuple[str, dict[str, np.ndarray]]:
    """The numpy source of one function of ``fused`` for a batch, and the constants it reads:

    * ``forward(*arguments, P) -> (outputs, saved)``: each list argument an N × k matrix, each
      number argument an N-vector, P the parameters' numbers as a vector; the outputs as an
      N × (number of outputs) matrix;
    * ``backward(saved, P, S) -> (gradients, G)``: S the seed, one column per output;
      one gradient per argument (None where ``wanted``, one flag per argument, is False);
      G the parameters' gradients summed over the batch, a vector like P.
    """
    writer = _Batched(fused)
    arguments = writer.arguments
    if kind == "forward":
        body, _ = writer.forward()
        head = [f"def forward({', '.join([*arguments, 'P'])}):"]
    else:
        _, defined = writer.forward()
        body = _wrap(defined, "(", ",) = V") + writer.backward(wanted or (True,) * len(arguments))
        head = ["def backward(V, P, S):"]
    return "\n".join(head + ["    " + line for line in body]) + "\n", writer.constants


def batched_header(fused: FusedProgram, title: str) -> str:
    """Comment lines that say what each argument, parameter and block of the batched replay holds."""
    program, n = fused.program, fused.program.slot_names
    lines = [f"# {title}",
             "# batched: one row per sample; a block holds several slots side by side, one column each"]
    slot = 0
    for i, (name, k) in enumerate(program.input_layout):
        if k is None:
            lines.append(f"# input {name!r}: {n[slot]}, one entry per sample")
        else:
            lines.append(f"# input {name!r}: X{i}, one row per sample ({first_few(n[slot:slot + k])})")
        slot += 1 if k is None else k
    shown = program.param_names if len(program.param_names) <= 12 else program.param_names[:5]
    for j, name in enumerate(shown):
        lines.append(f"# parameter {name!r}: {n[program.n_input_slots + j]} = P[{j}]")
    if len(shown) < len(program.param_names):
        last = len(program.param_names) - 1
        lines.append(f"# … and {last + 1 - len(shown)} more parameters, to "
                     f"{n[program.n_input_slots + last]} = P[{last}] (tape.param_names names them all)")
    for step in fused.steps:
        if isinstance(step, Dense | Map):
            what = f"{step.instructions[0].op} ×{len(step.instructions)}"
            lines.append(f"# block {step.out.name} = ({first_few([n[s] for s in step.out.slots])}): {what}")
    return "\n".join(lines) + "\n"


def compile_function(source: str, kind: str, mode: str, constants: dict[str, Any] | None = None) -> Callable:
    """Compile the generated ``source`` of one function named ``kind`` and return it; ``constants``
    are names it reads besides those of ``mode`` (the index arrays of `generate_batched`). The
    source is registered under ``<microgradlike tape N: kind (mode)>``, so a traceback through the
    replay shows the line that raised, and pdb can list and step through it."""
    namespace = {**_NAMESPACES[mode], **(constants or {})}
    # Only our generated text is compiled: names come from the op table and slot numbers.
    filename = f"<microgradlike tape {next(_tape_ids)}: {kind} ({mode})>"
    return formulas.define(source, kind, filename, namespace)
