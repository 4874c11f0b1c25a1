"""A model as a file, and what its outputs mean: saving, loading, and the task.

`Persistent` is the base of `microgradlike.nn.Module`: what it gives every model is here.

* ``state_dict()`` / ``load_state_dict(state)``: the parameters as a JSON-able dict (with the
  class, its config and the task), and back, all or nothing.
* ``save(path)`` / ``Module.load(path)``: that dict as a JSON file, written atomically
  (`microgradlike.files`), read back without pickle or eval; a class is rebuilt from its config
  by the name `save` wrote for it (`register` keeps the names: every Module subclass is there).
* ``set_task(...)`` / ``task`` / ``predict(X)``: what the outputs mean (classification with its
  classes and threshold, or regression), recorded by `fit`, kept in the file, read by `predict`.

A model class provides the rest (`microgradlike.nn.Module` does): its parameters by name, and how
many rows and outputs it reads and gives.
"""

from __future__ import annotations

import inspect
import json
import math
import numbers
import os
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from .checks import as_real, cut, first_few, float_array, real, short
from .engine import Value, checked_data, no_grad
from .files import check_path, open_regular_file, write_atomically
from .losses import decision_threshold, loss_name
from .parameters import tied

__all__ = ["Persistent", "register"]

#: Every Module subclass defined so far, by the name `save` writes for it (`register` adds them).
#: Weak: a class that is gone (say, one defined in a test) drops out by itself.
_CLASSES: weakref.WeakValueDictionary[str, type] = weakref.WeakValueDictionary()

#: The module whose classes a file names by their bare class name ("MLP"); their config makes
#: exactly their shape. Any other class is named by its module and name.
_BUILT_IN_MODULE = "microgradlike.nn"

#: Peak bytes `load` may use per byte of a model file (json's dicts, strings and floats; about 6
#: for a saved MLP, up to about 25 for a file of tiny JSON objects).
_BYTES_PER_JSON_BYTE = 25

_FORMAT = "microgradlike.module"
_VERSION = 1
_TASKS = ("classification", "regression")


def register(cls: type) -> None:
    """Let `load` rebuild ``cls`` by the name `save` writes for it (`Module.__init_subclass__`
    calls this for every subclass)."""
    _CLASSES[_class_name(cls)] = cls


def _registered(cls: type) -> str:
    """Why `load` would not rebuild ``cls`` by the name a file gives it, or "": another live class
    of the same module and qualified name (one factory called twice, a class defined again) holds
    that name, and load would build that one."""
    name = _class_name(cls)
    holder = _CLASSES.get(name)
    if holder is None:  # the class registered last under this name is gone: this one is the name's
        register(cls)
    elif holder is not cls:
        return (f"two classes are named {name}: this model's, and {holder!r} defined after it (one "
                f"factory called twice, or a class defined again), and load builds a model by that "
                f"name, so it would build the other one; give each class its own name (qualname), or "
                f"make the model again from the class now named so")
    return ""


def _built_in_names() -> list[str]:
    return [name for name, cls in _CLASSES.items() if cls.__module__ == _BUILT_IN_MODULE]


class Persistent:
    """State, files and the task of a model (see the module docstring); `microgradlike.nn.Module`
    is one, and provides the methods under "what the model class provides"."""

    #: What the outputs mean (see `set_task`); None until a task is recorded.
    _task: dict[str, Any] | None = None

    # ---- what the model class provides --------------------------------------------------
    def config(self) -> dict[str, Any]:
        """The constructor arguments that fix the model's shape (saved with its parameters)."""
        return {}

    def __call__(self, x: Any) -> Any:
        """The model's output for one input row: a Value, or a list of them."""
        raise NotImplementedError

    def named_parameters(self) -> list[tuple[str, Value]]:
        """Every parameter with its dotted name, each once, in a fixed order."""
        raise NotImplementedError

    def _parameter_slots(self) -> Iterator[tuple[str, Value]]:
        """Every (dotted name, parameter) pair, a Value shared by two places at each of them."""
        raise NotImplementedError

    def _input_width(self) -> int | None:
        """How many numbers one input row holds, when the model says; else None."""
        return None

    def _output_width(self) -> int | None:
        """How many numbers the model returns per row, when known; else None."""
        return None

    def _batch_outputs(self, rows: np.ndarray) -> np.ndarray | None:
        """The outputs for all ``rows`` at once (shape (n, outputs)), where the class can compute
        them without Values; None (the default): `predict` runs the model row by row."""
        return None

    # ---- state ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """A JSON-able snapshot: class name, constructor config, name -> float per parameter, and
        the task (what the outputs mean, see `set_task`) when one was recorded."""
        return self._state(self.named_parameters())

    def _state(self, named: list[tuple[str, Value]]) -> dict[str, Any]:
        """`state_dict` of this model, whose `named_parameters` are ``named``."""
        state = {
            "format": _FORMAT,
            "version": _VERSION,
            "class": _class_name(type(self)),
            "config": self.config(),
            # as a float: a numpy float32 set into p.data is a number JSON cannot write as it is
            "parameters": {name: checked_data(p, f"parameter {name}") for name, p in named},
        }
        if self._task is not None:
            state["task"] = dict(self._task)
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Set the parameters from ``state``: a `state_dict()` or a plain mapping name -> number.

        Nothing changes unless every parameter is present, none is unexpected and every value
        is a finite number; otherwise ValueError names the offending entries. A `state_dict()`
        holding a task (see `set_task`) sets it too.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a dict, got {type(state).__name__}")
        values: Any = state
        task = None
        if "parameters" in state:
            self._check_metadata(state)
            values = _saved_parameters(state)
            task = _checked_task(state["task"], self._output_width()) if "task" in state else None
        named = dict(self.named_parameters())
        missing = [name for name in named if name not in values]
        unexpected = [name for name in values if name not in named]
        problems = []
        if missing:
            problems.append(f"missing parameters {first_few(missing)}")
        if unexpected:
            problems.append(f"unexpected parameters {first_few([_name(n) for n in unexpected])}")
        bad = _not_finite((name, v) for name, v in values.items() if name in named)
        if bad:
            problems.append(first_few(bad, sep="; "))
        if problems:
            raise ValueError(f"cannot load state into {self!r}: " + "; ".join(problems))
        for name, p in named.items():
            p.data = float(values[name])
        if task is not None:
            self._task = task

    def _check_metadata(self, state: Mapping[str, Any]) -> None:
        cls_name, config = state.get("class"), state.get("config")
        if cls_name is not None and cls_name != _class_name(type(self)):
            raise ValueError(f"state is for a {short(cls_name)}, but this model is {self!r}")
        if config is not None and config != self.config():
            raise ValueError(f"state is for config {short(config)}, but this model is {self!r} "
                             f"(shapes differ)")

    # ---- what the outputs mean ------------------------------------------------------
    @property
    def task(self) -> dict[str, Any] | None:
        """The recorded task (a copy), as `set_task` made it and the saved file holds it; or None."""
        return None if self._task is None else dict(self._task)

    def set_task(self, task: str | None, classes: Sequence[Any] | np.ndarray | None = None,
                 threshold: float | None = None, loss: str | None = None) -> None:
        """Record what the outputs mean, so that `predict` answers and `save` keeps it.

        `train.fit` records the task itself (the loss and the classes of the targets it saw);
        call this to name the classes in your own labels, or for a model not trained by `fit`.
        ``"regression"``: `predict` returns the outputs themselves.
        ``"classification"``: ``classes`` lists the labels (all numbers, or all strings) in
        class-id order. With ONE output, the output is a score s and the label is ``classes[1]``
        where s > ``threshold``, else ``classes[0]``; two numbers may be listed in either order,
        and are kept low to high (``task["classes"]`` shows them so): the larger is the one
        predicted above the threshold, since its target is the higher one whatever the loss
        (``classes=[1, 0]`` after mse on 0/1 predicts 1 where s > 0.5). Strings name the classes
        in order: the second is predicted above the threshold. With k ≥ 2 outputs
        (cross-entropy's logits), the label is ``classes[argmax]``.
        ``loss``: the loss the model was trained with (default: the one `fit` recorded).
        ``threshold`` (default: the one the loss and the classes' targets imply): when the
        recorded task (from `fit`) has two classes and the same loss, its threshold, so that
        renaming the classes keeps the rule; otherwise `losses.decision_threshold` with the
        classes as the targets: 0 after hinge and binary cross-entropy, 0.5 after mse on 0/1.
        ``None`` as the task forgets the recorded one.
        A bad task, classes that do not match the number of outputs, or a threshold that
        nothing implies (no loss known, or mse with classes that are not numbers) raise ValueError.
        """
        if task is None:
            if classes is not None or threshold is not None or loss is not None:
                raise ValueError("set_task(None) forgets the task: it takes no classes, threshold or loss")
            self._task = None
            return
        recorded = self._task
        if loss is None and recorded is not None:
            loss = recorded.get("loss")  # the model is still the one fit trained with it
        record: dict[str, Any] = {"task": task}
        if task == "classification":
            record["classes"] = classes.tolist() if isinstance(classes, np.ndarray) else classes
            if threshold is not None:
                record["threshold"] = threshold
        elif classes is not None or threshold is not None:
            raise ValueError(f"classes and threshold are for task='classification', not {short(task)}")
        if loss is not None:
            record["loss"] = loss
        width = self._output_width()
        checked = _checked_task(record, width)  # the classes are checked before a threshold is implied
        if task == "classification" and not _per_class(checked, width):
            checked["classes"] = _low_to_high(checked["classes"])
        if task == "classification" and threshold is None:
            checked["threshold"] = _implied_threshold(checked, width, recorded)
        self._task = checked

    def predict(self, X: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
        """Answers for the rows of ``X`` (shape (n, inputs)), as the recorded task says.

        Classification: an array of n labels from the task's classes (a model trained by `fit`,
        or loaded from ``train --save``, gives its own labels, whatever loss it was trained with).
        Regression: the outputs, shape (n,) for one output, (n, k) for k. No graph is built: the
        library's own models (`microgradlike.batch`) compute all rows at once with numpy, the same
        numbers as the Values give to rounding (~1e-15); any other model runs row by row.
        A model without a task raises ValueError saying how to record one (`set_task`).
        """
        if self._task is None:
            raise ValueError(
                f"{self!r} does not record what its outputs mean, so predict cannot answer: call "
                f"model.set_task('classification', classes=[0, 1], loss=...) or "
                f"model.set_task('regression') first (a model trained by fit records it, unless "
                f"its loss was your own function); model(row) gives the raw outputs"
            )
        bad = _not_finite((name, p.data) for name, p in self.named_parameters())  # as model(row) does
        if bad:
            raise ValueError(f"{self!r} cannot predict: {first_few(bad, sep='; ')} (was it assigned, "
                             f"or did training diverge?)")
        rows = _rows(X)
        nin = self._input_width()
        if nin is not None and rows.shape[1] != nin:  # checked even with no rows: (0, 5) is not (0, 2)
            raise ValueError(f"{self!r} takes {nin} input(s) per row, but X has rows of "
                             f"{rows.shape[1]} (shape {rows.shape})")
        if len(rows) == 0:
            return np.empty(0)
        scores = self._batch_outputs(rows)  # the library's models: numpy, one matrix product per layer
        if scores is None:
            with no_grad():
                outputs = [self(row) for row in rows.tolist()]
            scores = np.array([[v.data for v in out] if isinstance(out, list) else [out.data]
                               for out in outputs], dtype=float).reshape(len(rows), -1)
        task, width = self._task, scores.shape[1]
        if task["task"] == "regression":
            return scores[:, 0] if width == 1 else scores
        classes = task["classes"]
        if width not in _widths_for(len(classes)):
            raise ValueError(f"{self!r} gives {width} outputs per row, but its task names "
                             f"{len(classes)} classes")
        ids = (scores[:, 0] > task["threshold"]).astype(int) if width == 1 else scores.argmax(axis=1)
        return np.array(classes)[ids]

    # ---- files ---------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write `state_dict()` to ``path`` as JSON, atomically.

        The JSON is made first, then written to a temporary file in the same directory,
        flushed to disk and renamed over ``path``: a crash leaves the old file or the new
        one, never half of one (`files.write_atomically`: an existing file keeps its mode, a
        symbolic link is followed). Non-finite parameters cannot be saved (ValueError), nor data
        that is not a number (TypeError naming the parameter: a numpy array, a Decimal).

        The file holds the class, its config and the parameters, and the task when one was
        recorded (`fit` records it, and `set_task`): an untrained model is saved without it, and
        a model loaded from that file answers `predict` only after ``set_task`` says what its
        outputs mean (``model(x)`` always gives them raw).

        Nothing is written that `load` would refuse (ValueError saying why): the class must be
        one `load` can rebuild from its config (a subclass of your own: see `Module`), and the
        config must make exactly these parameters, so two weights tied into one Value after
        building cannot be saved (the file would hold one number where the config makes two).
        Nor is a model whose rebuilt twin would compute something else: a Value that
        ``parameters()`` does not list (in a ``_private`` attribute or a dict), or a class that
        shares its name with another (one factory called twice), which load would build instead.
        """
        named = self.named_parameters()
        not_numbers = [f"{_name(name)} is {type(p.data).__name__} {short(p.data)}" for name, p in named
                       if as_real(p.data) is None]
        if not_numbers:
            raise TypeError(f"cannot save {self!r}: a parameter's data must be a float, but "
                             f"{first_few(not_numbers)} (p.data = float(...) makes it one)")
        bad = _not_finite((name, p.data) for name, p in named)
        if bad:
            raise ValueError(f"cannot save {self!r}: {first_few(bad, sep='; ')}")
        problem = _registered(type(self)) or self._unlisted({id(p) for _, p in named})
        if problem:  # load would rebuild another model: one that computes something else
            raise ValueError(f"cannot save {self!r}: {problem}")
        text = json.dumps(self._state(named), indent=1, allow_nan=False, default=_json_scalar)
        problem = self._unloadable(json.loads(text), len(named))
        if problem:
            raise ValueError(f"cannot save {self!r}: Module.load could not rebuild it from the file: "
                             f"{problem}")
        write_atomically(path, text)

    def _unloadable(self, state: dict[str, Any], count: int) -> str:
        """Why `from_state_dict` would refuse ``state`` (this model's, as its file holds it), or ""."""
        cls = type(self)
        problem = _counter_problem(cls)
        if problem:
            return problem
        try:
            made = cls._parameter_count(**state["config"])
        except (TypeError, ValueError) as e:
            return f"{cls.__name__}._parameter_count(**{short(state['config'])}) fails ({cut(str(e))})"
        if made != count:
            return f"its config makes {made} parameters, but it holds {count}{self._tied()}"
        if cls.__module__ == _BUILT_IN_MODULE:  # their config makes exactly their shape: the count settles it
            return ""
        try:  # another class's constructor may do anything with its config: rebuild it once
            Persistent.from_state_dict(state)
        except (TypeError, ValueError) as e:
            return (f"{cut(str(e))} (a Module subclass loads when config() returns its constructor's "
                    f"arguments and the constructor takes seed=)")
        return ""

    def _unlisted(self, listed: set[int]) -> str:
        """A clause naming an attribute that holds a Value `named_parameters` does not list (the
        ids ``listed``: a ``_private`` attribute, a dict, …), or "": the file would not hold it, so
        the model `load` builds would have the constructor's Value there instead, and compute
        something else."""
        seen: set[int] = set()
        stack: list[tuple[str, object]] = [(name, item) for name, item in reversed(vars(self).items())]
        while stack:
            where, item = stack.pop()
            if id(item) in seen:
                continue
            seen.add(id(item))
            if isinstance(item, Value):
                if id(item) not in listed:
                    return (f"the attribute {_name(where)} holds a Value that parameters() does not list "
                            f"(it lists public attributes holding Values, Modules, or lists and tuples "
                            f"of them): the file would not keep it, so the model Module.load builds "
                            f"would hold its constructor's Value there and compute something else; "
                            f"make it a public attribute, or a plain number")
            elif isinstance(item, Persistent):
                stack.extend((f"{where}.{k}", v) for k, v in reversed(vars(item).items()))
            elif isinstance(item, list | tuple):
                stack.extend((f"{where}.{i}", v) for i, v in reversed(list(enumerate(item))))
            elif isinstance(item, Mapping):
                stack.extend((f"{where}[{short(k, 30)}]", v) for k, v in reversed(list(item.items())))
        return ""

    def _tied(self) -> str:
        """A clause naming two places that hold one Value (tied weights), or ""."""
        pair = tied(self._parameter_slots())
        if pair is None:
            return ""
        return (f": {_name(pair[0])} and {_name(pair[1])} are one Value (tied weights), "
                f"which a file holds once and load would build as two; untie them to save")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Persistent:
        """Rebuild the model saved at ``path`` (JSON only; never pickle or eval).

        ``Module.load`` returns whichever class was saved; ``MLP.load`` also checks it is an MLP.
        A missing, unreadable, corrupt or mismatched file, an impossible file name, or a path that
        is not a regular file (a FIFO, a device: `files.open_regular_file`, the rule `load_csv`
        follows too) raises ValueError saying what is wrong (every value it quotes is cut short).
        """
        text = check_path(path)
        name = short(text, 200)
        try:  # a FIFO or a device (/dev/zero) is refused before it can block or be read forever
            f = open_regular_file(text, name, "Module.load reads a model file that save() wrote",
                                  _BYTES_PER_JSON_BYTE)
        except FileNotFoundError:
            raise ValueError(f"no model file at {name}") from None
        except OSError as e:
            raise ValueError(f"cannot read model file {name}: {cut(str(e))}") from e
        try:
            with f:
                state = json.load(f, object_pairs_hook=_unique_keys)
        except _DuplicateKeyError as e:
            raise ValueError(f"{name}: {e}") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ValueError(f"cannot read model file {name}: {cut(str(e))}") from e
        except ValueError as e:  # JSONDecodeError, or an int too long to convert
            raise ValueError(f"{name} is not valid JSON (corrupt or truncated?): {cut(str(e))}") from e
        except RecursionError:
            raise ValueError(f"{name} is nested too deeply to be a saved model") from None
        try:
            return cls.from_state_dict(state)
        except ValueError as e:
            raise ValueError(f"{name}: {cut(str(e))}") from e

    @classmethod
    def from_state_dict(cls, state: object) -> Persistent:
        """A new model of the saved class and config, holding the saved parameters."""
        if not isinstance(state, dict):
            raise ValueError(f"expected a JSON object, got {type(state).__name__}")
        if state.get("format") != _FORMAT:
            raise ValueError(f"not a saved microgradlike model (format {short(state.get('format'))})")
        version = state.get("version")
        if isinstance(version, bool) or version != _VERSION:  # True == 1 in Python, not in the format
            raise ValueError(f"unsupported version {short(version)} (this code reads {_VERSION})")
        missing = [key for key in ("class", "config", "parameters") if key not in state]
        if missing:
            raise ValueError(f"missing keys {missing}")
        name, config = state["class"], state["config"]
        model_cls = _CLASSES.get(name) if isinstance(name, str) else None
        if model_cls is None:
            raise ValueError(f"unknown model class {short(name)}; built in: "
                             f"{', '.join(_built_in_names())} (a Module subclass of your "
                             f"own loads once it is defined or imported)")
        if not issubclass(model_cls, cls):
            raise ValueError(f"the file holds a {name}, but {cls.__name__}.load was called")
        if not isinstance(config, dict):
            raise ValueError(f"config must be a JSON object, got {short(config)}")
        saved = _saved_parameters(state)
        problem = _counter_problem(model_cls)
        if problem:
            raise ValueError(problem)
        try:
            # Counted BEFORE building: a hostile nin = 10¹² must not allocate anything.
            count = model_cls._parameter_count(**config)
            if count != len(saved):
                raise ValueError(f"it makes {count} parameters, but the file holds {len(saved)}")
            build: Callable[..., Persistent] = model_cls  # a Module's constructor: config and seed
            model = build(**config, seed=0)  # the seed is irrelevant: every weight is replaced
        except (TypeError, ValueError, NotImplementedError) as e:
            raise ValueError(f"bad config for {name}: {short(config)} ({cut(str(e))})") from e
        model.load_state_dict(state)
        return model

    @classmethod
    def _parameter_count(cls, *args: Any, **kwargs: Any) -> int:
        """How many parameters ``cls(**config)`` holds, found without building it: `load`
        compares it with the file's count first, so no config can make it allocate a huge model."""
        raise NotImplementedError(f"{cls.__name__} cannot count its parameters from a config")


def _counter_problem(cls: type) -> str:
    """Why ``cls._parameter_count`` cannot count the parameters of a config for `load`, or ""."""
    counter = inspect.getattr_static(cls, "_parameter_count")
    if counter is inspect.getattr_static(Persistent, "_parameter_count"):
        return (f"{cls.__name__} does not define _parameter_count(**config), which load uses to "
                f"check a file before building the model it describes")
    if isinstance(counter, classmethod | staticmethod):
        return ""
    got = "a plain method, which needs a model to call it" if callable(counter) else \
        f"{type(counter).__name__} {short(counter)}"
    return (f"{cls.__name__}._parameter_count must be a classmethod (or staticmethod) counting the "
            f"parameters of a config, got {got}")


class _DuplicateKeyError(ValueError):
    """A JSON object in a model file names one key twice."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's object_pairs_hook: a dict, refusing a key given twice (json keeps the last, silently)."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(f"the key {short(key, 100)} appears twice in one JSON object "
                                     f"(which value is meant?)")
        result[key] = value
    return result


def _json_scalar(x: object) -> Any:
    """json.dumps' fallback: a numpy scalar (e.g. an np.int64 in a config) as its Python number."""
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"{short(x)} ({type(x).__name__}) cannot be written as JSON")


def _class_name(cls: type) -> str:
    """The name a file gives ``cls``: a built-in class by its name, any other by module and name."""
    return cls.__name__ if cls.__module__ == _BUILT_IN_MODULE else f"{cls.__module__}.{cls.__qualname__}"


def _saved_parameters(state: Mapping[str, Any]) -> Mapping[str, Any]:
    """``state["parameters"]``, which must map names to numbers."""
    values = state["parameters"]
    if not isinstance(values, Mapping):
        raise ValueError(f"state['parameters'] must be a dict, got {type(values).__name__}")
    return values


def _checked_task(record: object, width: int | None) -> dict[str, Any]:
    """A task record (see `Module.set_task`) after checking it, JSON-ready; ValueError if bad."""
    if not isinstance(record, Mapping):
        raise ValueError(f"the task must be a JSON object, got {short(record)}")
    unknown = set(record) - {"task", "classes", "threshold", "loss"}
    if unknown:
        raise ValueError(f"unknown keys in the task: {first_few(sorted(map(_name, unknown)))}")
    task, loss = record.get("task"), record.get("loss")
    if task not in _TASKS:
        raise ValueError(f"task must be 'classification' or 'regression', got {short(task)}")
    if loss is not None and not isinstance(loss, str):
        raise ValueError(f"the task's loss must be a name, got {short(loss)}")
    checked: dict[str, Any] = {"task": task}
    if task == "regression":
        if "classes" in record or "threshold" in record:
            raise ValueError("a regression task has no classes or threshold")
    else:
        classes = record.get("classes")
        if isinstance(classes, str | bytes) or not isinstance(classes, Sequence):
            raise ValueError(f"a classification task needs its classes as a list, got {short(classes)}")
        labels = [_label(c) for c in classes]
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise ValueError(f"classes must be at least two distinct labels, got {short(classes)}")
        if len({isinstance(c, str) for c in labels}) > 1:  # numpy would turn every label into a string
            raise ValueError(f"classes must be all numbers or all strings, not a mix: got {short(classes)}")
        if width is not None and width not in _widths_for(len(labels)):
            raise ValueError(f"the model gives {width} output(s) per row, which cannot score "
                             f"{len(labels)} classes (one output scores two classes; k outputs score k)")
        threshold = as_real(record.get("threshold", 0.0))
        if threshold is None or not math.isfinite(threshold):
            raise ValueError(f"the task's threshold must be a finite number, "
                             f"got {short(record['threshold'])}")
        checked.update(classes=labels, threshold=threshold)
    if loss is not None:
        checked["loss"] = loss
    return checked


def _per_class(task: Mapping[str, Any], width: int | None) -> bool:
    """Whether a checked classification ``task`` scores each class with an output of its own (the
    largest wins: cross-entropy), rather than two classes with one output and a threshold."""
    if len(task["classes"]) > 2:
        return True
    return width > 1 if width is not None else loss_name(task.get("loss")) == "cross_entropy"


def _low_to_high(classes: list[Any]) -> list[Any]:
    """Two classes that are numbers, in the order one output scores them: the larger second,
    predicted above the threshold, since its target is the higher one whatever the loss (mse's
    targets are the numbers; hinge's −1/0 → −1 and 1 → +1; binary cross-entropy's 0 and 1).
    Names (strings) keep the order given."""
    return classes if isinstance(classes[0], str) else sorted(classes)


def _implied_threshold(task: Mapping[str, Any], width: int | None,
                       recorded: Mapping[str, Any] | None) -> float:
    """The threshold of a checked classification ``task`` that set_task was given none for."""
    classes, loss = task["classes"], task.get("loss")
    if _per_class(task, width):
        return 0.0  # one output per class: the largest wins, no threshold is read
    if (recorded is not None and recorded["task"] == "classification" and len(recorded["classes"]) == 2
            and loss_name(recorded.get("loss")) == loss_name(loss)):
        return recorded["threshold"]  # the same model, its classes renamed: the rule fit found stays
    if loss is None:
        raise ValueError(f"where does the one output split {short(classes)}? the threshold follows from "
                         f"the loss the model was trained with: give loss= ('hinge', "
                         f"'binary_cross_entropy', 'mse') or threshold= (fit records both by itself)")
    return decision_threshold(loss, classes)


def _widths_for(n_classes: int) -> tuple[int, ...]:
    """Output widths that can score ``n_classes`` classes: one score, or one per class."""
    return (1, 2) if n_classes == 2 else (n_classes,)


def _label(c: object) -> int | float | str:
    """One class label as JSON holds it: a string, or a finite number (ints stay ints)."""
    if isinstance(c, str):
        return c
    number = as_real(c)
    if number is None or not math.isfinite(number):
        raise ValueError(f"a class label must be a string or a finite number, got {short(c)}")
    return int(c) if isinstance(c, numbers.Integral) else number

def _rows(X: object) -> np.ndarray:
    """``X`` as a finite 2-D float array of rows; ValueError naming what is wrong."""
    rows = float_array(X, "X", "rows of numbers")
    if rows.ndim != 2:
        raise ValueError(f"X must be a 2-D array of rows (n, inputs), got shape {rows.shape}; "
                         f"one row is [row], one input per row is X.reshape(-1, 1)")
    bad = np.argwhere(~np.isfinite(rows))
    if len(bad):
        i, j = bad[0]
        raise ValueError(f"X[{i}, {j}] = {rows[i, j]} is not a finite number")
    return rows


def _name(name: object) -> str:
    """A parameter name for a message: as it is if short, else cut (a hostile file may hold 10 MB)."""
    return name if isinstance(name, str) and len(name) <= 60 else short(name)


def _not_finite(values: Iterable[tuple[str, object]]) -> list[str]:
    """What `checks.real` says of each parameter value that is not a finite real number."""
    bad = []
    for name, v in values:
        try:
            real(v, f"parameter {_name(name)}", finite=True)
        except (TypeError, ValueError) as e:
            bad.append(str(e))
    return bad
