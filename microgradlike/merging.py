"""One program for several traces that differ only in what they read: `merge`.

A loss that reads its target as a plain number is traced once per target value. The traces of
`losses.cross_entropy` for the classes 0 … 9 differ in one place only, which logit the term
subtracts (z_y)::

    class 2:  v3 = logsumexp(x0, x1, x2);  v4 = v3 - x2; …
    class 0:  v3 = logsumexp(x0, x1, x2);  v4 = v3 - x0; …

and those of `losses.binary_cross_entropy` only in the plain number y of y·z. Replaying one
program per class is ten small replays per batch. `merge` writes them as ONE program in which
each place where they differ reads a new input instead, a **choice** (``c0`` below), given for
each sample from its own trace: the input slot that trace read there, or the number it used::

    merged:   v3 = logsumexp(x0, x1, x2);  v4 = v3 - c0; …     (c0 = x_y, row by row)

Each sample then goes through exactly the arithmetic of its own trace. Traces that differ in
anything else (another op, another computed slot, another shape) are not merged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .ops import NUMBER_FIRST, NUMBER_SECOND, OPS, operands
from .program import Instruction, Program

__all__ = ["Choice", "Merged", "merge"]


@dataclass(frozen=True)
class Choice:
    """A place where the merged programs differ: for program k, the input slot ``slots[k]`` it
    read there, or the plain number ``numbers[k]`` it used (one of the two is None)."""

    slots: tuple[int, ...] | None
    numbers: tuple[float, ...] | None


@dataclass(frozen=True)
class Merged:
    """The merged program: the programs' arguments, then one more, ``choices``, a list of one
    number per `Choice` (absent when the programs are all the same)."""

    program: Program
    choices: tuple[Choice, ...]


def merge(programs: Sequence[Program]) -> Merged | None:
    """``programs`` as one (see the module docstring), or None if they differ in more than the
    input slots their instructions read and the plain numbers they use."""
    first = programs[0]
    shape = (first.input_layout, first.param_names, first.outputs, len(first.slot_names),
             len(first.instructions))
    if any((p.input_layout, p.param_names, p.outputs, len(p.slot_names), len(p.instructions)) != shape
           for p in programs):
        return None
    n_inputs = first.n_input_slots
    # where they differ: (instruction, argument position) -> slots, or (instruction, None) -> numbers
    places: dict[tuple[int, int | None], tuple] = {}
    for i, versions in enumerate(zip(*(p.instructions for p in programs))):
        ins = versions[0]
        if any((v.op, v.out, v.layout, v.terms, len(v.args)) != (ins.op, ins.out, ins.layout, ins.terms,
                                                                    len(ins.args)) for v in versions):
            return None
        for position, slots in enumerate(zip(*(v.args for v in versions))):
            if len(set(slots)) > 1:
                if not all(s < n_inputs for s in slots):
                    return None  # only inputs may differ: a computed slot would change the graph
                places[(i, position)] = slots
        constants = tuple(v.constant for v in versions)
        if len(set(constants)) > 1:
            in_operand = ins.layout in (NUMBER_SECOND, NUMBER_FIRST)  # x − c, not a sum's plain part
            if not in_operand or any(rule.only_if_value for rule in OPS[ins.op].checks):
                return None  # a sum's plain-number part; x ** c (a Value exponent has other rules)
            places[(i, None)] = constants
    if not places:
        return Merged(first, ())
    return Merged(_rewrite(first, places), tuple(
        Choice(None, values) if position is None else Choice(values, None)
        for (_, position), values in places.items()))


def _rewrite(program: Program, places: dict[tuple[int, int | None], tuple]) -> Program:
    """``program`` reading choice slot j at the j-th place. The choices are new input slots, after
    the program's inputs, so every later slot moves up by their number."""
    n_inputs, m = program.n_input_slots, len(places)
    choice_slot = {place: n_inputs + j for j, place in enumerate(places)}

    def moved(slot: int) -> int:
        return slot if slot < n_inputs else slot + m

    instructions = []
    for i, ins in enumerate(program.instructions):
        args = [choice_slot.get((i, p), moved(a)) for p, a in enumerate(ins.args)]
        terms = tuple(_moved_term(t, moved) for t in ins.terms)
        if (i, None) in choice_slot:  # x − c with c chosen per sample: a binary op on two slots
            c = choice_slot[(i, None)]
            args = list(operands(ins.layout, args, c))  # c in the plain number's place
            instructions.append(Instruction(ins.op, moved(ins.out), tuple(args), terms=terms))
        else:
            instructions.append(Instruction(ins.op, moved(ins.out), tuple(args), ins.constant, ins.layout,
                                            terms))
    names = program.slot_names
    slot_names = (*names[:n_inputs], *(f"x{n_inputs + j}" for j in range(m)), *names[n_inputs:])
    return Program(tuple(instructions), (*program.input_layout, ("choices", m)), program.param_names,
                   tuple(moved(o) for o in program.outputs), slot_names)


def _moved_term(term: tuple, moved: Callable[[int], int]) -> tuple:
    """A dot's term (see `microgradlike.program.Instruction`) with its slots renumbered."""
    if term[0] == "mul":
        return ("mul", moved(term[1]), moved(term[2]))
    if term[0] in ("scale", "add"):
        return (term[0], moved(term[1]), *term[2:])
    return term
