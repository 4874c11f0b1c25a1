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

The program is turned into straight-line Python source (``tape.source`` prints it) by
`microgradlike.codegen`, from its op table only, and compiled once: replaying is then as fast as
a hand-written float loop. The same source, with numpy in place of `math`, replays a *batch*:
each input slot holds a vector (one entry per sample), and one pass computes every sample's
forward and backward.

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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import codegen, engine
from .checks import as_real
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
    """The engine's dot hook while tracing: which operands each dot node multiplied together.

    (Every other plain number an op used is kept on its node: ``node.constant``.)"""

    def __init__(self) -> None:
        self.dot_terms: dict[Value, list[tuple]] = {}

    def __call__(self, out: Value, weights: Sequence, inputs: Sequence, bias: object) -> None:
        self.dot_terms[out] = _dot_terms(weights, inputs, bias)


def _dot_terms(weights: Any, inputs: Any, bias: Any) -> list[tuple]:
    """The terms of a dot node's Σ, in the order `engine.dot` added them."""
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
    return terms


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
        self._n_input_slots = sum(1 if k is None else k for _, k in inputs)
        self._compiled: dict[tuple, Callable] = {}
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
        return self._readable("float")

    @property
    def batched_source(self) -> str:
        """The generated Python of the batched (numpy) replay."""
        return self._readable("numpy")

    def _readable(self, mode: str) -> str:
        forward, backward = (codegen.generate(self, kind, mode) for kind in ("forward", "backward"))
        return codegen.header(self) + forward + "\n" + backward

    def _function(self, kind: str, mode: str, wanted: tuple[bool, ...] | None = None) -> Callable:
        """The compiled ``kind`` function ("forward", "backward" or "loop"), made on first use."""
        key = (kind, mode, wanted)
        if key not in self._compiled:
            self._compiled[key] = codegen.compile_function(codegen.generate(self, kind, mode, wanted), kind)
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
    number = as_real(x)
    if number is None:
        raise TypeError(f"{name} must be a number, got {type(x).__name__}: {x!r}")
    return number


def _as_input(name: str, k: int | None, arg: Any) -> tuple[np.ndarray | None, list[float]]:
    """(batch array or None, the numbers of one sample) for one argument of layout ``k``."""
    single_ndim = 0 if k is None else 1
    if _is_number(arg):
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
    their order. ``f`` must return a Value or a list of Values. Everything below its result is
    replayed from those leaves, nodes made before ``trace`` ran included (each op keeps its
    plain-number operand, ``node.constant``), except a "dot" made outside, whose pairing of
    factors only a running trace can see.

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
    previous = engine._dot_hook
    engine._dot_hook = recorder
    try:
        result = f(*call_args)
    finally:
        engine._dot_hook = previous
    single = isinstance(result, Value)
    outputs = [result] if single else list(result) if isinstance(result, Sequence) else []
    if not outputs or not all(isinstance(o, Value) for o in outputs):
        raise TypeError(f"the traced function must return a Value or a list of Values, "
                        f"got {type(result).__name__}: {result!r}")
    return _build(recorder, layout, inputs, named, outputs, single)


def _is_number(x: Any) -> bool:
    return isinstance(x, Value) or as_real(x) is not None


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
    slot: dict[Value, int] = {}  # node -> its slot number; names[slot] is its name in the source
    names: list[str] = []

    def give_slot(node: Value, name: str) -> None:
        slot[node] = len(names)
        names.append(name)

    for i, v in enumerate(inputs):
        give_slot(v, f"x{i}")
    params: list[tuple[str, Value]] = []
    # the named parameters first, then any other leaf f reached (also read afresh at each call)
    leaves = [(node.label or None, node) for node in order if not node.children]
    for name, p in [*named, *leaves]:
        if p not in slot:
            params.append((f"leaf{len(params)}" if name is None else name, p))
            give_slot(p, f"p{len(params) - 1}")
    program = []
    for node in order:
        if node.children:
            give_slot(node, f"v{len(program)}")
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
        return Instruction("sum", out, args, node.constant or 0.0)
    if op in _BINARY and len(args) == 2:
        return Instruction(op, out, args)
    if op in _BINARY and len(args) == 1:
        return Instruction(_CONSTANT_FORMS[(op, node.constant_first)], out, args, node.constant)
    if op in _UNARY and len(args) == 1:
        return Instruction(op, out, args)
    raise NotImplementedError(f"trace() cannot record op {op!r} with {len(args)} children ({node!r})")


def _outside(node: Value) -> ValueError:
    return ValueError(f"{node!r} was computed before trace() ran, so which of its operands were "
                      f"multiplied together is unknown; compute it inside the traced function")


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
        self._fused: dict[Any, Tape] = {}  # engine="tape": model + loss, per target key
        self._model_tape: Tape | None = None  # engine="batched": the model alone ...
        self._loss_tapes: dict[Any, Tape] = {}  # ... and the loss, per target key

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
        by_value = self.by_value or all(float(v).is_integer() for t in flat_targets for v in t)
        # A tuple key (the target itself) or an int key (its length) never collide.
        groups: dict[Any, list[int]] = {}
        for i, t in enumerate(flat_targets):
            groups.setdefault(tuple(t) if by_value else len(t), []).append(i)
        run = self._run_tape if self.engine == "tape" else self._run_batched
        total, grads = run(X, targets, flat_targets, groups, by_value)
        for p, g in zip(self.params, grads):
            p.grad = g / n
        return total / n

    # -- engine="tape": one fused tape (model + loss) per target key, a float loop over samples --
    def _run_tape(self, X: np.ndarray, targets: list, flat_targets: list, groups: dict,
                  by_value: bool) -> tuple[float, list[float]]:
        rows_all = X.tolist()
        total, grads = 0.0, [0.0] * len(self.params)
        for key, idx in groups.items():
            first = idx[0]
            if key not in self._fused:
                self._fused[key] = _trace_sample_loss(self.loss, self.model, rows_all[first], targets[first],
                                                      flat_targets[first], by_value, params=self.model)
            if by_value:
                rows = [rows_all[i] for i in idx]
            else:
                rows = [rows_all[i] + flat_targets[i] for i in idx]
            part, part_grads = self._fused[key].sum_over_rows(rows)
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
            if key not in self._loss_tapes:
                self._loss_tapes[key] = _trace_sample_loss(
                    self.loss, _first_if_one, [float(p[first]) for p in preds], targets[first],
                    flat_targets[first], by_value)
            tape = self._loss_tapes[key]
            index = np.asarray(idx)
            cols = [p[index] for p in preds]
            if not by_value:
                cols += list(np.asarray([flat_targets[i] for i in idx], dtype=np.float64).T)
            wanted = (True,) * k + (False,) * (tape._n_input_slots - k)  # ∂ℓ/∂preds, not ∂ℓ/∂y
            outputs, grads, _ = tape.batched_value_and_grad(cols, np.ones(len(idx)), wanted)
            total += float(np.sum(outputs[0]))
            for j in range(k):
                dpreds[j][index] = grads[j]
        wanted_none = (False,) * model_tape._n_input_slots
        with np.errstate(over="ignore"):
            _, param_grads = model_tape._function("backward", "numpy", wanted_none)(saved, params, *dpreds)
        return total, [float(g) for g in param_grads]


def _trace_sample_loss(loss: Callable, predict: Callable, example: list[float], target: Any,
                       flat_target: list[float], by_value: bool, params: Any = None) -> Tape:
    """The tape of one sample's loss ℓ = loss([predict(x)], [y]), traced at ``example``.

    ``by_value``: ``target`` is built in as the plain number(s) it is (one tape per distinct
    target). Otherwise y is a second input (its numbers flattened, as ``flat_target``)."""
    if by_value:
        return trace(lambda x: loss([predict(x)], [target]), example, params=params)
    as_list = isinstance(target, Sequence)
    return trace(lambda x, y: loss([predict(x)], [y if as_list else y[0]]), example, flat_target,
                 params=params)


def _first_if_one(zs: list[Value]) -> Value | list[Value]:
    """A model's outputs as the model gives them: one Value alone, several as a list."""
    return zs[0] if len(zs) == 1 else zs


def _as_outputs(out: Any) -> list[Value]:
    return [out] if isinstance(out, Value) else list(out)


def _flatten_target(t: Any) -> list[float]:
    if isinstance(t, Sequence | np.ndarray) and not isinstance(t, str):
        return [float(v) for v in np.asarray(t, dtype=np.float64).ravel()]
    return [float(t)]
