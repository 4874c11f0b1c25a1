"""Which instructions of a traced program the batched replay runs together, as matrix operations.

A trace is scalar: a layer of 64 neurons is 64 ``dot`` instructions that read the same inputs,
then 64 ``relu`` instructions, one per dot. Replayed one instruction at a time with numpy (one
vector entry per sample), that is 64 × 64 multiply-adds of N-vectors where one matrix product
would do. `fuse` finds such groups in any traced program (an `nn.MLP`, a `SigmoidSum`, layers
built by hand) and turns each into one step over a **block**: several slots held together as the
columns of one N × k matrix, one row per sample.

* `Dense`: ``dot`` instructions over the same inputs x₁ … x_d whose weights (and biases) are
  parameters: z_j = Σᵢ W_ji·xᵢ + b_j for each of them is, over the batch, one matrix product

      Z = A·Wᵀ + b      (A: N × d, the inputs; W: k × d, one row of weights per dot; Z: N × k)

  and backward  ∂L/∂A = ∂L/∂Z · W,   ∂L/∂W = (∂L/∂Z)ᵀ · A,   ∂L/∂b = Σ_samples ∂L/∂Z.
* `Map`: the same op (with the same plain number, if any) applied to every column of a block —
  each neuron's activation — is one numpy call over the whole N × k block.
* `Reduce`: a ``sum`` or ``logsumexp`` of exactly a block's columns is one call along each row.

Everything else stays an `Instruction`, replayed on its own column. Each list argument of the
traced function is a block already (``X0``: the N × k matrix of that argument's rows). The
numbers are the same as the unfused replay's up to rounding (a matrix product adds in another
order). Which parameters make up each weight matrix is decided here, once; their numbers are
read afresh on every call (`microgradlike.codegen` gathers them), since an optimiser changes them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .ops import OPS
from .program import Instruction, Program, depends_on

__all__ = ["Block", "Dense", "FusedProgram", "Map", "Reduce", "fuse"]


@dataclass(frozen=True)
class Block:
    """Slots replayed together: column j of the N × k matrix ``name`` is slot ``slots[j]``."""

    name: str
    slots: tuple[int, ...]


@dataclass(frozen=True)
class Dense:
    """``out = A·Wᵀ + b (+ c)``: the dot instructions of ``out``'s slots, over the same ``inputs``.

    ``weights[j][i]`` is the parameter slot that multiplies ``inputs[i]`` in column j;
    ``biases[j]`` the parameter slot added to column j (``()`` without); ``constants[j]`` the
    plain number added (``()`` when all are 0). ``source`` is the block the inputs are, in
    order, if they are one (else they are stacked into a matrix at each replay).
    """

    out: Block
    inputs: tuple[int, ...]
    weights: tuple[tuple[int, ...], ...]
    biases: tuple[int, ...]
    constants: tuple[float, ...]
    source: Block | None
    instructions: tuple[Instruction, ...]


@dataclass(frozen=True)
class Map:
    """``out = op(source)`` entry by entry: one instruction ``instructions[j]`` per column, all
    with the same op, plain number (``constant``) and ``layout``."""

    out: Block
    source: Block
    op: str
    constant: float | None
    layout: str
    instructions: tuple[Instruction, ...]


@dataclass(frozen=True)
class Reduce:
    """``instruction`` (a "sum" or "logsumexp") over exactly the columns of ``source``."""

    instruction: Instruction
    source: Block


Step = Instruction | Dense | Map | Reduce


@dataclass(frozen=True)
class FusedProgram:
    """A program's instructions as `Step`s, in an order that computes every slot before its use.

    ``input_blocks`` has one entry per argument: the block of a list argument, None for a number.
    ``output_block`` is the block the outputs are, in order, if they are one.
    """

    program: Program
    steps: tuple[Step, ...]
    input_blocks: tuple[Block | None, ...]
    output_block: Block | None


# ---- planning: blocks whose column order can still change ---------------------------------------
@dataclass(eq=False)
class _Family:
    """A Dense group or a list argument (the root) and the Maps applied to it: one column order
    for all. A list argument's order is fixed; a Dense group's is fixed by its first reader."""

    order: list[int]  # the root's slots, in column order
    fixed: bool


@dataclass(eq=False)
class _Planned:
    """A block being planned: its slot in each column, found through the root's slot there."""

    family: _Family
    member_of: dict[int, int]  # root slot -> this block's slot in the same column
    root_of: dict[int, int] = field(default_factory=dict)  # the reverse

    def __post_init__(self) -> None:
        self.root_of = {slot: root for root, slot in self.member_of.items()}

    @property
    def slots(self) -> tuple[int, ...]:
        return tuple(self.member_of[root] for root in self.family.order)


@dataclass(frozen=True)
class _Dot:
    """A dot instruction Σᵢ wᵢ·xᵢ (+ b) (+ c) with parameter weights (and bias)."""

    ins: Instruction
    inputs: tuple[int, ...]
    weights: tuple[int, ...]
    bias: int | None
    constant: float


def fuse(program: Program) -> FusedProgram:
    """Group ``program``'s instructions into `Dense`, `Map` and `Reduce` steps where they fit
    (see the module docstring); every other instruction stays a step of its own."""
    instructions = program.instructions
    params = set(program.param_slots)
    varies = depends_on(instructions, [i < program.n_input_slots for i in range(len(program.slot_names))])
    block_of: dict[int, _Planned] = {}  # slot -> the planned block that holds it

    def plan(family: _Family, member_of: dict[int, int]) -> _Planned:
        block = _Planned(family, member_of)
        for slot in member_of.values():
            block_of[slot] = block
        return block

    arguments: list[_Planned | None] = []  # one per argument: a list argument is a block
    slot = 0
    for _, k in program.input_layout:
        columns = list(range(slot, slot + (k or 0)))
        arguments.append(plan(_Family(columns, fixed=True), {s: s for s in columns}) if k else None)
        slot += 1 if k is None else k
    dense: dict[int, tuple[_Planned, list[_Dot]]] = {}  # each dot's out slot -> (block, group)
    groups = _dense_groups(instructions, params, varies)
    for group in groups:
        group.sort(key=lambda dot: dot.weights[0])  # parameter order, until a reader asks for another
        outs = [dot.ins.out for dot in group]
        block = plan(_Family(outs, fixed=False), {s: s for s in outs})
        for dot in group:
            dense[dot.ins.out] = (block, group)
    maps = _map_groups(instructions, block_of, plan, set(dense))
    # A block read as a whole in some order (a layer's inputs, the outputs) takes that order.
    for group in groups:
        _take_order(block_of, group[0].inputs)
    _take_order(block_of, program.outputs)

    names: dict[int, str] = {id(a): f"X{i}" for i, a in enumerate(arguments) if a is not None}

    def frozen(block: _Planned) -> Block:
        name = names.setdefault(id(block), f"B{sum(n.startswith('B') for n in names.values())}")
        return Block(name, block.slots)

    steps: list[Step] = []
    made: set[int] = set()  # planned blocks already made by a step
    for ins in instructions:
        if ins.out in dense or ins.out in maps:  # the group's step comes where its first member was
            block = dense[ins.out][0] if ins.out in dense else maps[ins.out][0]
            if id(block) not in made:
                made.add(id(block))
                if ins.out in dense:
                    steps.append(_dense_step(frozen(block), dense[ins.out][1], block_of, frozen))
                else:
                    _, source, members = maps[ins.out]
                    out = frozen(block)
                    by_out = {m.out: m for m in members}
                    first = members[0]
                    steps.append(Map(out, frozen(source), first.op, first.constant, first.layout,
                                     tuple(by_out[s] for s in out.slots)))
            continue
        whole = _whole_block(ins, block_of)
        steps.append(ins if whole is None else Reduce(ins, frozen(whole)))
    input_blocks = tuple(None if a is None else frozen(a) for a in arguments)
    outputs = block_of.get(program.outputs[0]) if program.outputs else None
    is_block = outputs is not None and outputs.slots == tuple(program.outputs)
    output_block = frozen(outputs) if is_block else None  # type: ignore[arg-type]
    return FusedProgram(program, tuple(steps), input_blocks, output_block)


def _dense_groups(instructions: Sequence[Instruction], params: set[int],
                  varies: list[bool]) -> list[list[_Dot]]:
    """The dots that make `Dense` steps, grouped by their inputs (in order) and by whether they
    have a bias. A group's parameters must be its own, each used once in all the groups, so that
    its weight matrix is a plain gather (a parameter may still be used by other instructions)."""
    groups: dict[tuple, list[_Dot]] = {}
    for ins in instructions:
        dot = _as_dot(ins, params, varies)
        if dot is not None:
            groups.setdefault((dot.inputs, dot.bias is None), []).append(dot)
    kept: list[list[_Dot]] = []
    used: set[int] = set()
    for group in groups.values():
        owned = [p for dot in group for p in (*dot.weights, *(() if dot.bias is None else (dot.bias,)))]
        if len(set(owned)) == len(owned) and used.isdisjoint(owned):
            used.update(owned)
            kept.append(group)
    return kept


def _as_dot(ins: Instruction, params: set[int], varies: list[bool]) -> _Dot | None:
    """``ins`` as a `_Dot` if it is a dot Σᵢ wᵢ·xᵢ (+ b) (+ c) whose wᵢ and b are parameters and
    whose xᵢ change from sample to sample; None otherwise."""
    if ins.op != "dot":
        return None
    inputs, weights, bias, constant = [], [], None, 0.0
    for term in ins.terms:
        if term[0] == "mul" and bias is None:
            w, x = (term[1], term[2]) if term[1] in params else (term[2], term[1])
            if w not in params or x in params or not varies[x]:
                return None
            weights.append(w)
            inputs.append(x)
        elif term[0] == "add" and bias is None and term[1] in params:
            bias = term[1]
        elif term[0] == "const":
            constant = term[1]
        else:
            return None
    return _Dot(ins, tuple(inputs), tuple(weights), bias, constant) if weights else None


def _map_groups(instructions: Sequence[Instruction], block_of: dict[int, _Planned],
                plan: Callable[[_Family, dict[int, int]], _Planned],
                taken: set[int]) -> dict[int, tuple[_Planned, _Planned, list[Instruction]]]:
    """Ops applied to every column of a block alike (same op, plain number and layout), as new
    blocks: each map instruction's out slot -> (its block, the source block, the instructions).
    A Map's result is a block too, so chains (tanh, then × 2) fuse step after step."""
    readers: dict[int, list[Instruction]] = {}  # slot -> the one-Value-operand ops that read it
    for ins in instructions:
        if ins.op in OPS and len(ins.args) == 1 and ins.out not in taken:
            readers.setdefault(ins.args[0], []).append(ins)
    maps: dict[int, tuple[_Planned, _Planned, list[Instruction]]] = {}
    queue = list(dict.fromkeys(block_of.values()))  # each planned block once, in planning order
    while queue:
        source = queue.pop(0)
        columns = list(source.member_of.items())  # (root slot, this block's slot)
        first_readers = readers.get(columns[0][1], [])
        for key in dict.fromkeys((r.op, r.constant, r.layout) for r in first_readers):
            members = []
            for _, slot in columns:
                match = next((r for r in readers.get(slot, []) if (r.op, r.constant, r.layout) == key
                              and r.out not in maps), None)
                if match is None:
                    break
                members.append(match)
            if len(members) < len(columns):
                continue
            block = plan(source.family, {root: m.out for (root, _), m in zip(columns, members)})
            for m in members:
                maps[m.out] = (block, source, members)
            queue.append(block)
    return maps


def _take_order(block_of: dict[int, _Planned], slots: Sequence[int]) -> None:
    """Give the block that holds exactly ``slots`` that column order, unless its order is fixed."""
    block = block_of.get(slots[0]) if slots else None
    if block is None or block.family.fixed:
        return
    if len(slots) != len(block.root_of) or set(slots) != set(block.root_of):
        return
    block.family.order[:] = [block.root_of[s] for s in slots]
    block.family.fixed = True


def _dense_step(out: Block, group: list[_Dot], block_of: dict[int, _Planned],
                frozen: Callable[[_Planned], Block]) -> Dense:
    by_out = {dot.ins.out: dot for dot in group}
    dots = [by_out[s] for s in out.slots]
    inputs = dots[0].inputs
    source = block_of.get(inputs[0])
    constants = tuple(dot.constant for dot in dots)
    return Dense(out, inputs, tuple(dot.weights for dot in dots),
                 () if dots[0].bias is None else tuple(dot.bias for dot in dots),  # type: ignore[misc]
                 constants if any(constants) else (),
                 frozen(source) if source is not None and source.slots == inputs else None,
                 tuple(dot.ins for dot in dots))


def _whole_block(ins: Instruction, block_of: dict[int, _Planned]) -> _Planned | None:
    """The block a "sum" or "logsumexp" adds up, if its operands are exactly that block's columns
    (in any order: both ops are symmetric)."""
    if ins.op not in ("sum", "logsumexp") or not ins.args:
        return None
    block = block_of.get(ins.args[0])
    if block is None or len(ins.args) != len(block.root_of) or set(ins.args) != set(block.root_of):
        return None
    return block
