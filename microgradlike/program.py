"""The flat program a trace records: instructions over numbered slots.

::

    slot:   x0   x1   p0   p1   p2   v0                        v1
    code:                            v0 = p0*x0 + p1*x1 + p2   (dot)
                                                               v1 = relu(v0)

Slots hold the inputs (x0 …), the parameters (p0 …) and every computed value (v0 …), in that
order. `microgradlike.compile` writes a program down from a Value graph, `microgradlike.codegen`
turns it into Python, and `microgradlike.tape.Tape` replays it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Instruction", "Program", "depends_on"]


@dataclass(frozen=True)
class Instruction:
    """One step: ``slots[out] = op(slots[args])``, ``op`` an engine op (see `microgradlike.ops`).

    For a binary op with a plain-number operand, ``constant`` is that number and ``layout`` says
    where it sits, as on the node: ``"ac"`` (x − 3) or ``"ca"`` (3 − x). A "sum" keeps its
    plain-number part in ``constant``. A "dot" lists its Σ's ``terms`` in order: ``("mul", i, j)``
    slot·slot, ``("scale", i, c)`` slot·number, ``("add", i)`` a Value bias, ``("const", c)``.
    """

    op: str
    out: int
    args: tuple[int, ...]
    constant: float | None = None
    layout: str = ""
    terms: tuple[tuple, ...] = ()


@dataclass(frozen=True)
class Program:
    """Instructions over slots, and what the slots hold.

    ``input_layout``: one (argument name, None for a number or k for a list of k numbers) per
    argument; the input slots come first, then one slot per parameter (``param_names``), then
    the computed values. ``outputs`` are the slots returned. ``slot_names`` name every slot in
    generated code (x0 …, p0 …, v0 …).
    """

    instructions: tuple[Instruction, ...]
    input_layout: tuple[tuple[str, int | None], ...]
    param_names: tuple[str, ...]
    outputs: tuple[int, ...]
    slot_names: tuple[str, ...]

    @property
    def n_input_slots(self) -> int:
        return sum(1 if k is None else k for _, k in self.input_layout)

    @property
    def param_slots(self) -> range:
        return range(self.n_input_slots, self.n_input_slots + len(self.param_names))


def depends_on(program: Sequence[Instruction], flags: list[bool]) -> list[bool]:
    """``flags`` (one per slot) carried forward through the program: an instruction's output is
    flagged when any of its arguments is (e.g. "depends on an input")."""
    for ins in program:
        flags[ins.out] = any(flags[a] for a in ins.args)
    return flags
