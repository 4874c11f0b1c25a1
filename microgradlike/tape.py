"""A traced program you can call: replay it on floats, or on a whole batch of numpy vectors.

`microgradlike.compile.trace` records a computation as a `Tape`. Calling the tape replays the
forward pass with generated straight-line Python (`microgradlike.codegen`); ``tape.backward()``
replays the chain rule. Inputs are numbers (one sample) or numpy vectors, one entry per sample
(a batch: one pass computes every sample's forward and backward). The tape reads its parameters'
*current* ``.data`` on every call, so it stays valid while an optimiser updates them.

Inputs are checked as the eager engine checks them: a replay refuses what ``Value`` refuses
(``None``, booleans, complex numbers, NaN), and an op outside its domain raises the engine's error,
naming the sample and the op.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from . import codegen
from .checks import as_real, real, short
from .engine import Value, checked_data
from .fusion import FusedProgram, fuse
from .program import Program

__all__ = ["Tape", "input_numbers"]

_NO_PARAMETERS = np.zeros(0)
_NO_PARAMETERS.flags.writeable = False  # shared by every tape without parameters
# Code is written one thread at a time: CPython 3.11's ast module keeps its recursion count in
# state that threads share, so two threads parsing at once can fail with "SystemError: AST
# constructor recursion depth mismatch" (python/cpython#106905). Reentrant: a tape fuses its
# program while it writes code.
_WRITING_CODE = threading.RLock()
#: What tapes of the same program share, most recently used last: the fused program and the
#: compiled functions are made from the program alone, so a model of the same shape traced again
#: (by the next `fit`, with the same loss and targets) reuses them. The key is a digest of the
#: program's repr, which tells apart what == does not (0.0 and -0.0, 1 and 1.0, True and 1).
_SHARED: OrderedDict[tuple, Any] = OrderedDict()
#: How many entries `_SHARED` keeps (a fit makes a few to a few dozen).
SHARED_ENTRIES = 64


def _shared(key: tuple, make: Callable[[], Any]) -> Any:
    """``make()``, or what it made for the same key before; call with _WRITING_CODE held."""
    if key in _SHARED:
        _SHARED.move_to_end(key)
        return _SHARED[key]
    made = _SHARED[key] = make()
    while len(_SHARED) > SHARED_ENTRIES:
        _SHARED.popitem(last=False)
    return made


class Tape:
    """A traced computation: a flat program over slots, replayable on floats or numpy vectors.

    ``tape(*args)`` replays the forward pass (arguments shaped like ``trace``'s examples; numpy
    vectors, one entry per sample, for a batch) and returns the output (a tuple if ``f``
    returned several). ``tape.backward(seed)`` then replays the chain rule: ``tape.grads``
    (one per argument) and ``tape.param_grads`` (one per parameter, summed over a batch).
    ``tape.write_grads()`` puts the parameter gradients into the parameters' ``.grad``.

    A batch replays the program fused (`microgradlike.fusion`): the dots of a layer as one matrix
    product, the activations that follow as one numpy call over the layer's block.
    """

    def __init__(self, program: Program, params: Sequence[Value], single_output: bool) -> None:
        self.program = program
        self.params = list(params)
        self.input_layout = list(program.input_layout)
        self.input_names = [name for name, _ in program.input_layout]
        self.param_names = list(program.param_names)
        self.single_output = single_output
        self._compiled: dict[tuple, Callable] = {}
        self._fused: FusedProgram | None = None
        self._digest: bytes | None = None
        self._state: tuple | None = None
        self.grads: tuple[Any, ...] = ()
        self.param_grads: tuple[float, ...] = ()

    def __repr__(self) -> str:
        return (f"Tape(inputs={self.input_names}, {len(self.params)} parameters, "
                f"{len(self.program.instructions)} instructions)")

    # -- source --
    @property
    def fused(self) -> FusedProgram:
        """The program as the batched replay runs it: `microgradlike.fusion.fuse` of it."""
        if self._fused is None:
            with _WRITING_CODE:
                self._fused = _shared((self.digest, "fused"), lambda: fuse(self.program))
        return self._fused

    @property
    def digest(self) -> bytes:
        """What identifies the program: equal digests, equal programs (its repr, hashed)."""
        if self._digest is None:
            self._digest = hashlib.blake2b(repr(self.program).encode(), digest_size=32).digest()
        return self._digest

    @property
    def source(self) -> str:
        """The generated Python of the float replay (forward and backward), for reading."""
        forward, backward = (codegen.generate(self.program, kind) for kind in ("forward", "backward"))
        return codegen.header(self.program, repr(self)) + forward + "\n" + backward

    @property
    def batched_source(self) -> str:
        """The generated Python of the batched (numpy) replay, fused: blocks are matrices."""
        forward, backward = (codegen.generate_batched(self.fused, kind)[0]
                             for kind in ("forward", "backward"))
        return codegen.batched_header(self.fused, repr(self)) + forward + "\n" + backward

    def function(self, kind: str, mode: str, wanted: tuple[bool, ...] | None = None) -> Callable:
        """The compiled ``kind`` function in ``mode``, made on first use: on floats ("float":
        "forward", "backward", "loop" or "total", see `microgradlike.codegen.generate`; ``wanted``
        marks input slots) or on a batch ("numpy": "forward" or "backward", see
        `microgradlike.codegen.generate_batched`; ``wanted`` marks arguments)."""
        key = (kind, mode, wanted)
        if key not in self._compiled:
            with _WRITING_CODE:
                self._compiled[key] = _shared((self.digest, *key), lambda: self._write(kind, mode, wanted))
        return self._compiled[key]

    def _write(self, kind: str, mode: str, wanted: tuple[bool, ...] | None) -> Callable:
        if mode == "float":
            source, constants = codegen.generate(self.program, kind, wanted), None
        else:
            source, constants = codegen.generate_batched(self.fused, kind, wanted)
        return codegen.compile_function(source, kind, mode, constants)

    def current_params(self) -> list[float]:
        """The parameters' numbers right now (the tape reads them afresh at every call)."""
        return [p.data for p in self.params]

    def params_vector(self) -> np.ndarray:
        """The parameters' numbers right now, as the vector P the batched replay reads."""
        if not self.params:  # a loss's tape reads none: no array to fill on every call
            return _NO_PARAMETERS
        # from a list: numpy fills its array from a list faster than from a map over the Values
        return np.fromiter([p.data for p in self.params], np.float64, len(self.params))

    # -- replay --
    def __call__(self, *args: Any) -> Any:
        """Replay the forward pass on ``args`` (floats, or numpy vectors for a batch)."""
        flat, batch = self._flatten(args)
        if batch is None:
            params = self.current_params()
            outputs, saved = self.function("forward", "float")(*flat, params)
            self._state = ("float", saved, params, batch)
            return outputs[0] if self.single_output else outputs
        vector = self.params_vector()
        with np.errstate(all="ignore"):  # exp overflows to inf, as the engine's does
            outputs, saved = self.function("forward", "numpy")(*flat, vector)
        self._state = ("numpy", saved, vector, batch)
        columns = tuple(np.array(outputs[:, j]) for j in range(outputs.shape[1]))
        return columns[0] if self.single_output else columns

    def backward(self, seed: Any = None) -> None:
        """Replay the chain rule from the output of the last call, seeding ∂out/∂out = ``seed``.

        ``seed`` defaults to 1 (per sample, for a batch); for a batch it may be a number or one
        weight per sample (e.g. 1/N for a mean). With several outputs give one seed per output.
        Fills ``grads`` (per argument; per-sample arrays for a batch) and ``param_grads``
        (summed over the batch).
        """
        if self._state is None:
            raise RuntimeError("call the tape on some inputs before backward()")
        _, saved, params, batch = self._state
        seeds = self._seeds(seed, batch)
        if batch is None:
            input_grads, param_grads = self.function("backward", "float")(saved, params, *seeds)
            self.grads = self._unflatten(input_grads)
            self.param_grads = param_grads
            return
        with np.errstate(all="ignore"):
            grads, param_grads = self.function("backward", "numpy")(saved, params, np.stack(seeds, axis=1))
        self.grads = tuple(np.array(np.broadcast_to(g, (batch,) if k is None else (batch, k)))
                           for g, (_, k) in zip(grads, self.input_layout))
        self.param_grads = tuple(param_grads.tolist())

    def write_grads(self, accumulate: bool = False) -> None:
        """Set each parameter's ``.grad`` to its gradient from the last backward (or add to it)."""
        for p, g in zip(self.params, self.param_grads):
            p.grad = p.grad + g if accumulate else g

    def sum_over_rows(self, rows: Iterable[Sequence[float]],
                      params: Sequence[float] | None = None) -> tuple[float, tuple[float, ...]]:
        """(Σ output, Σ ∂output/∂p per parameter) over ``rows``, each a tuple of every input slot's
        number: a float loop, all in generated code (one output only). ``params``: the parameters'
        numbers to use (default: their ``.data`` now)."""
        self._one_output("sum_over_rows")
        return self.function("loop", "float")(rows, self.current_params() if params is None else params)

    def total_over_rows(self, rows: Iterable[Sequence[float]],
                        params: Sequence[float] | None = None) -> float:
        """Σ output over ``rows`` (as `sum_over_rows`), the forward pass alone: no gradients."""
        self._one_output("total_over_rows")
        return self.function("total", "float")(rows, self.current_params() if params is None else params)

    def _one_output(self, what: str) -> None:
        if len(self.program.outputs) != 1:
            raise TypeError(f"{what} needs a tape with one output")

    # -- argument checking --
    def _flatten(self, args: tuple) -> tuple[list[Any], int | None]:
        """One sample: every input slot's number, in order (batch None). A batch: one array per
        argument (N × k for a list argument, an N-vector for a number) and N."""
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
            if a is not None:
                flat.append(a)
            elif k is None:  # a plain number is the same for every sample
                flat.append(np.full(n, numbers_[0]))
            else:
                flat.append(np.tile(np.asarray(numbers_, dtype=np.float64), (n, 1)).reshape(n, k))
        return flat, n

    def _unflatten(self, flat: Sequence[Any]) -> tuple[Any, ...]:
        """One sample's input-slot gradients, grouped by argument (a list for a list argument)."""
        out, i = [], 0
        for _, k in self.input_layout:
            if k is None:
                out.append(flat[i])
                i += 1
            else:
                out.append(list(flat[i:i + k]))
                i += k
        return tuple(out)

    def _seeds(self, seed: Any, batch: int | None) -> list[Any]:
        n_out = len(self.program.outputs)
        if seed is None:
            seeds: list[Any] = [1.0] * n_out
        elif n_out == 1:
            seeds = [seed]
        else:
            seeds = list(seed)
            if len(seeds) != n_out:
                raise ValueError(f"this tape has {n_out} outputs; give one seed each, got {len(seeds)}")
        if batch is None:
            return [input_number(s, "seed") for s in seeds]
        checked = []
        for s in seeds:
            a = _number_array(s, "seed")
            if a.ndim == 0:
                a = np.full(batch, float(a))
            if a.shape != (batch,):
                raise ValueError(f"seed must be a number or one weight per sample (shape ({batch},)), "
                                 f"got shape {a.shape}")
            checked.append(a)
        return checked


def input_number(x: Any, name: str) -> float:
    """One input number as the eager engine accepts it: a Value's data or a real number, not NaN."""
    if isinstance(x, Value):
        return checked_data(x, f"the data of {name}")
    return real(x, name)


def input_numbers(name: str, arg: Any) -> list[float]:
    """A list of input numbers (one sample), each checked like `input_number`."""
    if isinstance(arg, str) or not isinstance(arg, Sequence | np.ndarray):
        raise TypeError(f"argument {name!r} must be a number, a Value or a list of them, "
                        f"got {type(arg).__name__}: {short(arg)}")
    if isinstance(arg, np.ndarray) and arg.ndim != 1:
        raise ValueError(f"argument {name!r} must be one sample (1-D), got shape {arg.shape}")
    return [input_number(x, f"{name}[{j}]") for j, x in enumerate(arg)]


def is_input_number(x: Any) -> bool:
    """A single number (not a list): a Value or a real number."""
    return isinstance(x, Value) or (as_real(x) is not None)


def _number_array(arg: Any, name: str) -> np.ndarray:
    """``arg`` as a float64 array, refusing what is not real numbers (bool, complex, None, text,
    NaN), as `Value` does."""
    if isinstance(arg, Sequence) and not isinstance(arg, str) and any(isinstance(x, Value) for x in arg):
        arg = [input_number(x, name) for x in arg]
    try:
        array = np.asarray(arg)
    except ValueError as e:  # ragged rows
        raise TypeError(f"argument {name!r} must hold rows of numbers of one length, got {short(arg)}") from e
    if array.dtype.kind not in "iuf":
        kind = {"b": "booleans", "c": "complex numbers", "O": "objects", "U": "text"}.get(array.dtype.kind,
                                                                                       str(array.dtype))
        raise TypeError(f"argument {name!r} must hold real numbers, got {kind}: {short(arg)}")
    array = array.astype(np.float64, copy=False)
    if np.isnan(array).any():
        where = ", ".join(str(int(i)) for i in np.argwhere(np.isnan(array))[0])
        real(math.nan, f"{name}[{where}]")  # raises, in the one wording
    return array


def _as_input(name: str, k: int | None, arg: Any) -> tuple[np.ndarray | None, list[float]]:
    """(batch array or None, the numbers of one sample) for one argument of layout ``k``."""
    single_ndim = 0 if k is None else 1
    if is_input_number(arg):
        if k is not None:
            raise ValueError(f"argument {name!r} must be a list of {k} numbers, got {short(arg)}")
        return None, [input_number(arg, name)]
    if isinstance(arg, str) or arg is None or isinstance(arg, bool | complex):
        raise TypeError(f"argument {name!r} must hold numbers, got {type(arg).__name__}: {short(arg)}")
    array = _number_array(arg, name)
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
