"""The command line: ``python -m microgradlike train ...`` and ``python -m microgradlike graph ...``.

Every user mistake ends in one line on stderr and exit code 2 (argparse's own errors too: no
usage block before them), before any work is done where it can be checked first (output files,
their suffixes, two outputs that are one file, sizes, matplotlib): a trained model is never lost to
a file that cannot be written, and no output overwrites another or the input. An option that the
chosen dataset or optimiser does not use is refused, never ignored, and so is an option given
twice. Numbers are read by one rule, the CSV reader's (`data.read_number`), and errors say the
options as typed (``--n``, not a parameter's name). What the user typed is echoed cut short and
with control characters escaped, so a message never floods or reprograms the terminal. A
standard output that cannot be written (a full disk, a reader that stopped) ends the printing
with one line, not a traceback, and exit code 1; the files asked for are written all the same.
Ctrl-C stops `train`'s training and keeps its work: the model reached is saved and drawn as asked,
after one line saying so, with exit code 130 (a second Ctrl-C stops the writing, with no file
left half-written); anywhere else it ends the command with one line and exit code 130.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import itertools
import math
import os
import re
import shlex
import sys
import tempfile
import textwrap
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from . import __version__, data
from .bridge import import_torch
from .checks import cut, printable, short
from .engine import Value, topological_order
from .explorer import Explorer
from .expression import parse_bindings, parse_expression
from .files import check_writable, same_file, write_atomically
from .formatting import count, format_number
from .memory import check_memory
from .nn import MLP
from .ops import activations, parser_functions
from .optim import SGD, Adam
from .plots import plot_decision_boundary, plot_history
from .replay import Replay
from .torch_engine import torch_device
from .train import History, TrainingWarning, fit
from .trainers import FIT_ENGINES, choose_engine
from .viz import GraphvizNotInstalled, RenderTimeout, draw_dot

#: The toy datasets, each made by ``make(n=, seed=, noise=)`` (spirals also take ``arms=``).
_DATASETS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "moons": data.make_moons, "circles": data.make_circles, "xor": data.make_xor,
    "spirals": data.make_spirals}
_LOSS_NAMES = ("hinge", "binary_cross_entropy", "mse", "cross_entropy")
#: Learning rates used when --lr is not given (tuned on moons: Adam full batch reaches 100% test).
_DEFAULT_LR = {"adam": 0.05, "sgd": 0.1}
_DEFAULT_N, _DEFAULT_ARMS = 300, 3
#: What `graph -o` writes, by suffix: a picture (dot renders it), the DOT source, or the explorer page.
_GRAPH_PICTURES, _GRAPH_SOURCES = (".svg", ".png", ".pdf"), (".dot", ".gv")
_GRAPH_SUFFIXES = (*_GRAPH_PICTURES, *_GRAPH_SOURCES, ".html")
#: What each output of `train` writes, by suffix (--plot: matplotlib's own formats).
_OUTPUT_SUFFIXES = {"save": (".json",), "plot": (".png", ".svg", ".pdf"), "html": (".html",)}
#: Options that only one choice of another option uses: given with any other choice they would
#: do nothing, so they are refused (why, in a few words, after the option's name).
_ONLY_WITH = {"arms": ("dataset", "spirals", "the other datasets have two classes"),
              "momentum": ("optimizer", "sgd", "Adam keeps its own running means"),
              "device": ("engine", "torch", "it computes with Python and numpy on the CPU")}
#: How the user started the program, for usage lines and errors (set by `main`).
_program = "python -m microgradlike"


def _printable(text: object, limit: int = 400) -> str:
    """``text`` on one line for a terminal: control characters escaped (ESC as \\x1b: `checks.printable`),
    cut short."""
    return cut(printable(str(text)), limit)


def _fail(command: str, message: object, code: int = 2) -> int:
    """One line on stderr and an exit code (2 for bad arguments, as argparse uses), no traceback."""
    print(f"{_program} {command}: error: {_printable(message)}", file=sys.stderr)
    return code


class _OutputLost(Exception):
    """The standard output could not be written and the run has no file left to write: `main`
    ends it there, as a closed pipe ends most programs, with one line instead of a traceback."""


def _silence_stdout() -> None:
    """Point the standard output at the null device, so that nothing (Python's own flush at exit
    included) tries the lost stream again and prints a traceback of its own."""
    with contextlib.suppress(OSError, ValueError):  # not a real file (pytest's capture): nothing to do
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, sys.stdout.fileno())
        finally:
            os.close(null)


class _Report:
    """The run's report on stdout, one line at a time, each flushed at once (a log file shows each
    as it comes, and a full disk is found at the line that hit it).

    A line that cannot be written (a full disk, a reader such as ``| head`` that stopped) is not
    an error of the run's work: while the run still has files to write (``--save``, ``--plot``,
    ``--html``) the loss is remembered, the rest of the report dropped, and the files are written
    all the same; with none left, the run ends there (`_OutputLost`). Either way `main` then exits
    with 1, saying why on stderr (but not for a reader that stopped: that is the reader's choice)."""

    def __init__(self) -> None:
        self.lost: OSError | None = None
        self.files_to_write = False

    def say(self, line: str) -> None:
        if self.lost is not None:
            return
        try:
            print(line, flush=True)
        except OSError as e:
            self.lost = e
            _silence_stdout()
            if not self.files_to_write:
                raise _OutputLost(e) from e


#: Said when `graph` meets what looks like an option but may be an expression such as "-x*2".
_DASH_HINT = ("; an expression that starts with '-' goes after '--', options before it: "
              '{} graph -o graph.svg -- "-x*2" x=3')


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one printable line (no usage block before them: ``--help``
    shows it), and a hint when `graph` lacks its expression.

    ``intermixed=True`` reads options between positionals too, as `parse_intermixed_args` does
    (``graph EXPR -o g.svg x=2``: argparse alone would end the bindings at ``-o``)."""

    def __init__(self, *args: object, intermixed: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.intermixed, self.reading = intermixed, False
        for name in (None, "store"):  # every option that takes a value, of this parser and its subcommands
            self.register("action", name, _Once)

    def parse_known_args(self, args=None, namespace=None):  # as argparse's (whose stubs overload it)
        # parse_known_intermixed_args calls this in turn; and (Python 3.11) it drops a '--', after
        # which all is positional anyway ("graph -o g.svg -- -x*2 x=3"): the plain parse reads it.
        if not self.intermixed or self.reading or (args is not None and "--" in args):
            return super().parse_known_args(args, namespace)
        self.reading = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self.reading = False

    def error(self, message: str) -> NoReturn:
        if self.prog.endswith(" graph") and "required: expression" in message:
            message += _DASH_HINT.format(_program)
        elif message.endswith("required: {train,graph}"):  # no command at all: say which there are
            message = (f"give a command: train (train a small network) or graph (draw an expression's "
                       f"computation graph); {self.prog} --help says more, {self.prog} train --help lists "
                       f"train's options")
        self.exit(2, f"{self.prog}: error: {_printable(message)}\n")

    def print_help(self, file: Any = None) -> None:
        if file is not None:
            super().print_help(file)
        else:
            self.write_out(self.format_help())

    def write_out(self, text: str) -> None:
        """Write ``--help``'s or ``--version``'s text to stdout. argparse ignores a failed write and
        exits 0 with nothing shown; here a stdout that cannot take it (a full disk) ends the run
        with one line on stderr and exit 1 (a reader that stopped, with exit 1 alone)."""
        if sys.stdout is None:  # started with stdout closed (>&-)
            self.exit(1, f"{self.prog}: error: there is no standard output to write to\n")
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except OSError as e:
            _silence_stdout()
            self.exit(1, None if isinstance(e, BrokenPipeError)
                      else f"{self.prog}: error: cannot write to the standard output: {e}\n")


class _Once(argparse.Action):
    """Store an option's value, refusing the option a second time: argparse alone keeps the last
    value without a word (``-o a.svg -o b.svg`` would write b.svg alone, ``--data`` train on the
    second file). Positionals are stored as they come."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        if self.option_strings:
            given = vars(namespace).setdefault("options_given", {})
            if self.dest in given:
                first, second = short(given[self.dest]), short(values)
                raise argparse.ArgumentError(self, f"given twice ({first}, then {second}); give it once")
            given[self.dest] = values
        setattr(namespace, self.dest, values)


class _Version(argparse.Action):
    """``--version``: as argparse's, written by `_Parser.write_out` (a full stdout is said)."""

    def __init__(self, option_strings: Sequence[str], version: str, dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str = "show the version and exit") -> None:
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)
        self.version = version

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        assert isinstance(parser, _Parser)
        parser.write_out(f"{self.version}\n")
        parser.exit()


def _add_train_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train", help="train an MLP on a toy 2-D dataset or your own points",
        usage="%(prog)s [options]",
        description="Train an MLP on a toy 2-D dataset (or your own points from a CSV file) and report "
                    "train/test accuracy: forward -> loss -> backward -> update, repeated.",
    )
    dataset = parser.add_argument_group("data")
    dataset.add_argument("--dataset", choices=tuple(_DATASETS), default=None, help="default: moons")
    dataset.add_argument("--n", type=_positive_int, default=None,
                         help=f"number of points (default: {_DEFAULT_N})")
    dataset.add_argument("--noise", type=_nonnegative_number, default=None,
                         help="noise level (default: the dataset's own)")
    dataset.add_argument("--arms", type=_positive_int, default=None,
                         help=f"number of arms (classes) of --dataset spirals (default: {_DEFAULT_ARMS})")
    dataset.add_argument("--data", metavar="POINTS.csv", type=_file_name, default=None,
                         help="train on your own points instead: a CSV file of numbers, one row per point, "
                              "header optional")
    dataset.add_argument("--target", type=_column, default=None,
                         help="the label column of --data: a header name, or a column index counted from 0 "
                              "(default: -1, the last)")
    dataset.add_argument("--test-fraction", type=_fraction, default=0.25,
                         help="share of the points held out for testing (default: %(default)s)")
    model = parser.add_argument_group("model")
    model.add_argument("--hidden", type=_layer_sizes, default=[16, 16],
                       help="hidden layer widths, comma-separated; none for a linear model (default: 16,16)")
    model.add_argument("--activation", choices=activations(), default="relu",
                       help="hidden-layer activation (default: %(default)s)")
    training = parser.add_argument_group("training")
    training.add_argument("--loss", choices=_LOSS_NAMES, default=None,
                          help="default: hinge for two classes, cross_entropy for more")
    training.add_argument("--optimizer", choices=tuple(_DEFAULT_LR), default="adam",
                          help="default: %(default)s")
    training.add_argument("--lr", type=_positive_number, default=None,
                          help="learning rate (default: 0.05 for adam, 0.1 for sgd)")
    training.add_argument("--momentum", type=_momentum, default=None,
                          help="momentum of --optimizer sgd, in [0, 1) (default: 0)")
    training.add_argument("--tol", type=_nonnegative_number, default=1e-6,
                          help="stop when the gradient norm falls below this (default: %(default)s)")
    training.add_argument("--epochs", type=_positive_int, default=100,
                          help="maximum number of epochs (default: %(default)s)")
    training.add_argument("--batch-size", type=_positive_int, default=None,
                          help="rows per update (default: all of them, the full batch)")
    training.add_argument("--seed", type=_seed, default=0,
                          help="seeds the data, the weights and the shuffling (default: %(default)s)")
    training.add_argument("--engine", choices=FIT_ENGINES, default="batched",
                          help="eager builds Value graphs; tape and batched replay a compiled one; "
                               "auto picks as fit does (batched, for these models); torch trains the same "
                               "model through PyTorch, on --device (default: %(default)s)")
    training.add_argument("--device", default=None,
                          help="with --engine torch: cpu (the default), or cuda (cuda:1, ...) for a GPU")
    training.add_argument("--progress", action=argparse.BooleanOptionalAction, default=False,
                          help="show a tqdm progress bar instead of a line every few epochs (default: off)")
    training.add_argument("--keep-best", action="store_true",
                          help="end with the parameters of the epoch with the lowest test loss, not the "
                               "last epoch's (the test points then double as the validation set, so the "
                               "test accuracy is a little optimistic)")
    output = parser.add_argument_group("output")
    output.add_argument("--save", metavar="MODEL.json", type=_file_name, default=None,
                        help="save the trained model as JSON (it records its classes: Module.load(path)"
                             ".predict(X) gives labels)")
    output.add_argument("--plot", metavar="OUT.png", type=_file_name, default=None,
                        help="draw the loss curves and the decision boundary as .png, .svg or .pdf "
                             "(needs matplotlib)")
    output.add_argument("--html", metavar="RUN.html", type=_file_name, default=None,
                        help="write a training replay to a .html file: one self-contained page with a "
                             "slider over the epochs")
    parser.set_defaults(handler=_train)


def _train(args: argparse.Namespace, out: _Report) -> int:
    try:
        problem = _TrainProblem.from_args(args)
    except (ValueError, ImportError, NotImplementedError) as e:
        return _fail("train", e)
    # from here on, a stdout that stops taking lines no longer ends the run: the files come first
    out.files_to_write = any(getattr(args, name) is not None for name in _OUTPUT_SUFFIXES)
    out.say(problem.describe())
    bar = args.progress and _has_tqdm()
    if args.progress and not bar:
        print("note: --progress needs tqdm (pip install tqdm); showing a line every few epochs instead",
              file=sys.stderr)
    every = max(1, args.epochs // 10)

    def report_epoch(history: History) -> None:
        if not bar and (history.n_epochs % every == 0 or history.n_epochs == 1):
            # 4 significant digits: a loss of 1e300 is not printed with its 301 digits
            train, test = format_number(history.train_loss[-1]), format_number(history.val_loss[-1])
            out.say(f"epoch {history.n_epochs:>5}/{args.epochs}  train loss {train}  test loss {test}")

    try:
        replay = problem.replay() if args.html else None
    except ValueError as e:  # e.g. a model with more than two inputs: no plane to draw
        return _fail("train", f"--html {args.html}: {e}")

    seen = _Seen()

    def after_epoch(history: History) -> None:
        seen.epoch_ended(history)
        report_epoch(history)
        if replay is not None:
            replay(history)

    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TrainingWarning)  # said below, in the CLI's words
            history = fit(problem.model, problem.X_train, problem.y_train, loss=problem.loss,
                          optimizer=problem.optimizer, lr=problem.lr, tol=args.tol, max_epochs=args.epochs,
                          batch_size=args.batch_size, seed=args.seed,
                          validation=(problem.X_test, problem.y_test), progress=bar, engine=args.engine,
                          callback=after_epoch, keep_best=args.keep_best, device=problem.device,
                          held_out="test")  # the points of --test-fraction only measure: "test loss"
        interrupted = False
    except (ValueError, NotImplementedError) as e:
        return _fail("train", e)
    except KeyboardInterrupt:  # Ctrl-C: training stops, and the model it reached is kept (fit synced it)
        history, interrupted = seen.interrupted(problem), True
    seconds = time.perf_counter() - start
    problem.record_task()
    # The files first, each whatever became of another (a --save that failed keeps the model
    # elsewhere and still leaves --plot and --html to be written): the report comes after.
    try:
        code, written = _write_outputs(args, problem, history, replay, interrupted)
    except _InterruptedWriting as e:
        out.files_to_write = False
        print(f"{_program} train: {e}", file=sys.stderr)
        return _INTERRUPTED
    out.files_to_write = False
    ran = count(history.n_epochs, "whole epoch" if interrupted else "epoch")
    out.say(f"{history.message}; {ran}, {count(history.n_updates, 'update')} in {seconds:.1f} s")
    if history.worse_than_best and not args.keep_best:
        out.say(f"warning: the last epoch's test loss is much worse than epoch {history.best_epoch}'s; "
                   f"--keep-best ends with the best epoch's parameters (or try a smaller --lr)")
    out.say(f"train accuracy {problem.accuracy('train'):.1%}   test accuracy {problem.accuracy('test'):.1%}")
    for line in written:
        out.say(line)
    return _INTERRUPTED if interrupted else code


#: The exit code of a program stopped by Ctrl-C (SIGINT): 128 + 2, as a shell reports it.
_INTERRUPTED = 130


class _Seen:
    """What `fit`'s callback last saw: its `History` (the same object fit goes on filling) and
    the epochs and updates it held then, to say where a Ctrl-C stopped the run."""

    def __init__(self) -> None:
        self.history: History | None = None
        self.epochs = self.updates = 0

    def epoch_ended(self, history: History) -> None:
        self.history, self.epochs, self.updates = history, history.n_epochs, history.n_updates

    def interrupted(self, problem: _TrainProblem) -> History:
        """The run's History, saying that Ctrl-C stopped it in which epoch (a new, empty one when
        it came before the first epoch ended: fit gives its History to the callback only then)."""
        history = self.history or History(engine=problem.engine(), device=problem.device or "",
                                          held_out="test")
        inside = self.history is None or history.n_updates > self.updates
        epoch = self.epochs + 1 if inside else self.epochs
        history.message = (f"interrupted at epoch {epoch} (Ctrl-C): training stopped there, and the model is "
                           f"kept as it left it")
        return history


class _InterruptedWriting(Exception):
    """A second Ctrl-C while the files were written: which were written, and which not."""


def _write_outputs(args: argparse.Namespace, problem: _TrainProblem, history: History,
                   replay: Replay | None, interrupted: bool) -> tuple[int, list[str]]:
    """Write --save, --plot and --html; return the exit code (1 if one failed) and a line for each
    file written. A Ctrl-C meanwhile stops the writing (`_InterruptedWriting`): every file is
    written atomically, so the one being written is left as it was, never half-written."""
    code, written, done = 0, [], []
    what = [(option, path) for option in _OUTPUT_SUFFIXES if (path := getattr(args, option)) is not None]
    try:
        for option, path in what:
            if option == "save":
                try:
                    problem.model.save(path)
                    written.append(f"saved the model to {_printable(path)}")
                except OSError as e:  # checked before training, but a disk can fill up meanwhile
                    code = _fail("train", f"cannot write --save {path}: {e.strerror or e}; "
                                          f"{_save_elsewhere(problem.model)}", 1)
            elif option == "plot":
                try:
                    drawn = _plot_training(path, problem, history, interrupted)
                    written.append(f"drew {drawn} to {_printable(path)}")
                except OSError as e:
                    code = _fail("train", f"cannot write --plot {path}: {e.strerror or e}", 1)
            elif replay is not None:
                replay.finish(history)  # a run that stopped inside its first epoch never called the callback
                try:
                    replay.save(path)
                    written.append(f"wrote the training replay to {_printable(path)} (open it in a browser)")
                except OSError as e:
                    code = _fail("train", f"cannot write --html {path}: {e.strerror or e}", 1)
            done.append(f"--{option} {path}")
    except KeyboardInterrupt:
        left = [f"--{option} {path}" for option, path in what][len(done):]
        wrote = f"wrote {', '.join(done)}; " if done else ""
        raise _InterruptedWriting(f"interrupted while writing the files (Ctrl-C): {wrote}did not write "
                                  f"{', '.join(left)} (no file is left half-written)") from None
    return code, written


def _save_elsewhere(model: MLP) -> str:
    """Save a trained model whose file could not be written to a new temporary file instead
    (removed again if that fails too: no empty file is left behind)."""
    path = None
    try:
        fd, path = tempfile.mkstemp(prefix="microgradlike-model-", suffix=".json")
        os.close(fd)
        model.save(path)
    except OSError as e:
        if path is not None:
            with contextlib.suppress(OSError):
                os.unlink(path)
        return f"saving it to a temporary file failed too ({e.strerror or e}): the model is lost"
    return f"the model was saved to {path} instead"


def _has_tqdm() -> bool:
    try:
        import tqdm.auto  # noqa: F401
    except ImportError:
        return False
    return True


class _TrainProblem:
    """The dataset, split, targets, model and optimiser that ``train``'s arguments describe."""

    def __init__(self, args: argparse.Namespace) -> None:
        # without torch, or --device cuda without a GPU: said now, before the data is made
        self.device = None
        if args.engine == "torch":
            import_torch("--engine torch")  # an ImportError naming the option and the install command
            try:
                self.device = str(torch_device(args.device))
            except ValueError as e:  # said with the option's name, not the parameter's
                raise ValueError(f"--device {short(args.device)}: {e}") from None
        X, ids, self.classes, self.source = _points(args)
        self.nin, self.n_classes = X.shape[1], len(self.classes)
        self.loss = args.loss or ("hinge" if self.n_classes == 2 else "cross_entropy")
        if self.n_classes > 2 and self.loss != "cross_entropy":
            raise ValueError(f"--loss {self.loss} handles two classes; {self.source} has "
                             f"{self.n_classes}: use --loss cross_entropy")
        # hinge and mse want labels -1/+1, binary cross-entropy 0/1, cross_entropy class ids
        targets = 2 * ids - 1 if self.loss in ("hinge", "mse") else ids
        try:
            split = data.train_test_split(X, targets, test_fraction=args.test_fraction, seed=args.seed)
        except ValueError:  # the one way left for it to fail: a part without points, said in option names
            n, n_test = len(targets), round(args.test_fraction * len(targets))
            more = "--n" if args.data is None else "more rows in --data"
            raise ValueError(f"--test-fraction {args.test_fraction:g} of {n} points holds out {n_test} for "
                             f"testing and leaves {n - n_test} for training; each needs at least one: give "
                             f"more points ({more}) or another --test-fraction") from None
        self.X_train, self.X_test, self.y_train, self.y_test = split
        n_out = self.n_classes if self.loss == "cross_entropy" else 1
        self.model = MLP(self.nin, [*args.hidden, n_out], activation=args.activation, seed=args.seed)
        self.lr = args.lr if args.lr is not None else _DEFAULT_LR[args.optimizer]
        params = self.model.parameters()
        sgd = args.optimizer == "sgd"
        self.optimizer = SGD(params, self.lr, args.momentum or 0.0) if sgd else Adam(params, self.lr)
        self.args = args

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> _TrainProblem:
        """Check what can be checked before training (options, output files, sizes, matplotlib),
        then build."""
        _check_options(args)
        _check_outputs(args)
        if args.plot is not None:
            _import_pyplot_free_figure()
        return cls(args)

    def replay(self) -> Replay:
        """A `Replay` recording this run (fit's callback), listing the settings it used."""
        a = self.args
        points = f"{len(self.y_train)} train / {len(self.y_test)} test"
        settings: dict[str, object] = {"data": self.source, "points": points}
        if a.data is None:
            given = a.noise is not None
            settings["noise"] = f"{a.noise:g}" if given else _default_noise(a.dataset or "moons")
        # the page lists the optimiser itself, with its lr (and momentum, or Adam's betas)
        settings.update({"loss": self.loss, "batch size": a.batch_size or "full batch",
                         "max epochs": a.epochs, "tol": a.tol, "seed": a.seed, "engine": self.engine(),
                         "keep best": a.keep_best})
        return Replay(self.model, self.X_train, self.y_train, validation=(self.X_test, self.y_test),
                      optimizer=self.optimizer, settings=settings)

    def record_task(self) -> None:
        """Record what the outputs mean, in the dataset's own labels, so that the saved file and
        `predict` answer in them. fit recorded the loss and the rule (unless Ctrl-C stopped it
        first); one output splits at 0 here, since hinge and mse trained on -1/+1 and binary
        cross-entropy on 0/1."""
        threshold = 0.0 if self.model.nouts[-1] == 1 else None
        self.model.set_task("classification", classes=self.classes, loss=self.loss, threshold=threshold)

    def describe(self) -> str:
        a = self.args
        batch = "full batch" if a.batch_size is None else f"batches of {a.batch_size}"
        return (f"training MLP({self.nin}, {self.model.nouts}, {a.activation}) on {self.source}: "
                f"{len(self.y_train)} train / {len(self.y_test)} test points; {self.loss} loss, "
                f"{a.optimizer} lr={self.lr:g}, {batch}, up to {a.epochs} epochs, {self.engine()} engine"
                f"{'' if self.device is None else f' on {self.device}'}")

    def engine(self) -> str:
        """The engine that will run: --engine, or what `choose_engine` picks for auto."""
        return self.args.engine if self.args.engine != "auto" else choose_engine(self.model, self.loss)[0]

    def predict(self, rows: Sequence[Sequence[float]]) -> list[int]:
        """Class ids 0..k-1 of the rows, by the model's own `predict` (the rule its file records)."""
        labels = self.model.predict(np.asarray(rows, dtype=float).reshape(len(rows), self.nin))
        return np.searchsorted(self.classes, labels).tolist()

    def accuracy(self, split: str) -> float:
        """The share of the ``"train"`` or ``"test"`` points whose class the model predicts."""
        X, targets = (self.X_train, self.y_train) if split == "train" else (self.X_test, self.y_test)
        return sum(p == t for p, t in zip(self.predict(X.tolist()), self.labels(targets))) / len(targets)

    def labels(self, targets: Iterable[float]) -> list[int]:
        """Targets back to class ids (hinge and mse trained on -1/+1)."""
        return [int(t > 0) for t in targets] if self.loss in ("hinge", "mse") else [int(t) for t in targets]


def _check_options(args: argparse.Namespace) -> None:
    """Refuse an option that the chosen data or optimiser would not use, rather than ignore it."""
    if args.data is not None:
        given = [f"--{name}" for name in ("dataset", "n", "noise", "arms") if getattr(args, name) is not None]
        if given:
            raise ValueError(f"--data {args.data} brings its own points: drop {', '.join(given)}")
    elif args.target is not None:
        raise ValueError("--target picks the label column of --data; the toy datasets have their own labels")
    chosen = {"dataset": args.dataset or "moons", "optimizer": args.optimizer, "engine": args.engine}
    for option, (other, value, why) in _ONLY_WITH.items():
        given = getattr(args, option)
        if given is not None and chosen[other] != value:
            raise ValueError(f"--{option} {short(given)} is for --{other} {value}; {chosen[other]} does not "
                             f"use it ({why}): drop --{option}")
    if args.device is not None and not re.fullmatch(r"(cpu|cuda)(:\d+)?", args.device):  # said without torch
        raise ValueError(f"--device {short(args.device)}: expected cpu, or cuda for a GPU (cuda:N for GPU "
                         f"number N)")
    arms = args.arms or _DEFAULT_ARMS
    if args.data is None and args.dataset == "spirals" and args.n is not None and args.n < arms:
        raise ValueError(f"--n {short(args.n)} gives fewer points than the {short(arms)} arms of the spirals "
                         f"(--arms): each arm needs at least one; give --n {short(arms)} or more")


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse an output that cannot be written, whose suffix is not what it writes, or that is the
    same file as another output or as --data (after links: one would overwrite the other)."""
    outputs = [(f"--{name}", path) for name in _OUTPUT_SUFFIXES if (path := getattr(args, name)) is not None]
    files = ([("--data", args.data)] if args.data is not None else []) + outputs
    for (first, a), (second, b) in itertools.combinations(files, 2):
        if same_file(a, b):
            raise ValueError(f"{second} {b} is the same file as {first} {a}: one would overwrite the other; "
                             f"give each its own name")
    for option, path in outputs:
        try:
            check_writable(path)
        except OSError as e:
            raise ValueError(f"cannot write {option} {path}: {e.strerror}") from None
        suffixes, suffix = _OUTPUT_SUFFIXES[option[2:]], Path(path).suffix.lower()
        if suffix not in suffixes:
            raise ValueError(f"{option} {path}: {_wrong_suffix(suffix, suffixes)}")


def _default_noise(dataset: str) -> str:
    """The noise a toy dataset is made with when --noise is not given, in words."""
    noise = inspect.signature(_DATASETS[dataset]).parameters["noise"].default
    return f"{noise:g} (the dataset's default)"


def _wrong_suffix(suffix: str, suffixes: Sequence[str]) -> str:
    """Why a file name is refused: its suffix (or that it has none) and the ones allowed."""
    allowed = ", ".join(suffixes[:-1]) + f" or {suffixes[-1]}" if len(suffixes) > 1 else suffixes[0]
    if not suffix:
        return f"the name has no suffix; it must end in {allowed}"
    return f"the suffix must be {allowed}, not {suffix}"


def _points(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, list, str]:
    """The points X, their class ids 0..k-1, the k class labels, and a name for the data.

    Toy data is checked against the memory before it is made; a CSV file by `data.load_csv`."""
    if args.data is not None:
        X, y = data.load_csv(args.data, -1 if args.target is None else args.target)
        if not np.issubdtype(y.dtype, np.integer):
            label = next(v for v in y if v != round(v))
            raise ValueError(f"{args.data}: the target column holds {label:g}, which is not a class label: "
                             f"train classifies points, so labels are whole numbers (like 0 and 1)")
        classes, ids = np.unique(y, return_inverse=True)
        _check_training_memory(args, len(y), X.shape[1], len(classes))
        return X, ids, classes.tolist(), os.path.basename(args.data)
    name, arms, n = args.dataset or "moons", args.arms or _DEFAULT_ARMS, args.n or _DEFAULT_N
    n_classes = arms if name == "spirals" else 2
    _check_training_memory(args, n, 2, n_classes)
    more: dict[str, Any] = {} if args.noise is None else {"noise": args.noise}
    if name == "spirals":
        more["arms"] = arms
    X, ids = _DATASETS[name](n=n, seed=args.seed, **more)
    return X, ids, list(range(n_classes)), name if name != "spirals" else f"spirals with {arms} arms"


#: Peak bytes per row and per unit of the network (an input, a neuron or an output) while
#: training, measured with `train` at 100,000 rows (batched 33, tape 14; eager 560 per row of a
#: batch, as it builds a graph per batch; torch 32 at 200,000 rows, on the CPU) and rounded up.
#: Each parameter costs at most 400 bytes.
_BYTES_PER_ROW_AND_UNIT = {"batched": 40, "tape": 16, "eager": 600, "torch": 40}


def _check_training_memory(args: argparse.Namespace, n: int, nin: int, n_classes: int) -> None:
    """Refuse at once, saying the limit, a run the machine cannot hold (before anything is built)."""
    widths = [nin, *args.hidden, n_classes]
    n_parameters = sum((a + 1) * b for a, b in itertools.pairwise(widths))
    rows_in_a_graph = min(n, args.batch_size or n) if args.engine == "eager" else n
    per_unit = _BYTES_PER_ROW_AND_UNIT.get(args.engine, max(_BYTES_PER_ROW_AND_UNIT.values()))
    need = (n * (data.BYTES_PER_POINT + 32 * nin) + 400 * n_parameters
            + rows_in_a_graph * sum(widths) * per_unit)
    check_memory(need, f"training on {short(n)} points with hidden layers {short(args.hidden)} "
                       f"and the {args.engine} engine")


def _import_pyplot_free_figure() -> type:
    """matplotlib's Figure class (drawn without pyplot, so no GUI backend is touched)."""
    try:
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError("--plot needs matplotlib: pip install matplotlib") from e
    return Figure


def _plot_training(path: str, problem: _TrainProblem, history: History, interrupted: bool = False) -> str:
    """The loss curves and (for two inputs) the decision regions with the train and test points,
    written to ``path`` atomically in the format its suffix names (.png, .svg or .pdf). Returns
    what was drawn (no loss curve when no update was recorded: none was applied, or Ctrl-C came
    before the first epoch ended)."""
    two_d = problem.nin == 2
    figure = _import_pyplot_free_figure()(figsize=(12 if two_d else 6, 5.5), layout="constrained")
    curves, *regions = figure.subplots(1, 2 if two_d else 1, squeeze=False)[0]
    if history.update_loss:
        plot_history(history, ax=curves, held_out="test")  # the run's own name for these points
        drawn = "the loss curves"
    else:  # e.g. diverged at update 1: there is no loss to draw, so say why in its place
        why = "interrupted before the first epoch ended" if interrupted else "no update was applied"
        curves.set_axis_off()
        curves.text(0.5, 0.5, f"no loss curve: {why}\n\n" + _wrap(history.message, 60),
                    ha="center", va="center", transform=curves.transAxes, fontsize=10)
        drawn = f"no loss curve ({why})"
    if two_d:
        plot_decision_boundary(problem.model, problem.X_train, problem.labels(problem.y_train), ax=regions[0],
                               X_test=problem.X_test, y_test=problem.labels(problem.y_test),
                               class_names=problem.classes)  # the data's own labels
        model = "" if history.update_loss else " (untrained model)"
        if history.update_loss and history.kept_epoch not in (None, history.n_epochs):
            model = f" (epoch {history.kept_epoch}'s parameters)"  # --keep-best put them back
        regions[0].set_title(f"{problem.source}{model}: {regions[0].get_title()}")
        drawn += " and the decision boundary"
    buffer = io.BytesIO()
    figure.savefig(buffer, format=Path(path).suffix.lower()[1:], dpi=100)
    write_atomically(path, buffer.getvalue())
    return drawn


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width))


def _integer(text: str) -> int:
    """An integer as a user types it: `data.read_integer`'s rule (digits 0-9, an optional sign)."""
    try:
        value = data.read_integer(text.strip())
    except ValueError:  # more digits than Python converts (4300): no count or seed is that long
        raise argparse.ArgumentTypeError(f"{short(text)} is too large") from None
    if value is None:
        raise argparse.ArgumentTypeError(f"expected an integer (digits 0-9, like 300), got {short(text)}")
    return value


def _positive_int(text: str) -> int:
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {short(value)}")
    return value


def _seed(text: str) -> int:
    """--seed: an int >= 0 (numpy's rule, checked here so the message names the seed)."""
    try:
        value = _integer(text)
    except argparse.ArgumentTypeError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"the seed must be an int >= 0, got {short(text)}")
    return value


def _file_name(text: str) -> str:
    """An output or input file name: not empty (an empty one used to be ignored without a word)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a file name, got {short(text)}")
    return text


def _column(text: str) -> int | str:
    """--target: a column index (an int, counted from 0; -1 is the last) or a header name."""
    try:
        return _integer(text)
    except argparse.ArgumentTypeError:
        return text


def _finite_number(text: str) -> float:
    """A number as a user types it: `data.read_number`'s rule, the CSV reader's; finite."""
    value = data.read_number(text.strip())
    if value is None:
        raise argparse.ArgumentTypeError(f"expected a number ({data.NUMBER_RULE}), got {short(text)}")
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {short(text)}")
    return value


def _nonnegative_number(text: str) -> float:
    value = _finite_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {short(text)}")
    return value


def _positive_number(text: str) -> float:
    value = _finite_number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {short(text)}")
    return value


def _fraction(text: str) -> float:
    value = _finite_number(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {short(text)}")
    return value


def _momentum(text: str) -> float:
    """--momentum: in [0, 1), checked here so that the message names the option (SGD's says
    "momentum")."""
    value = _finite_number(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1) (0 is plain SGD), got {short(text)}")
    return value


def _layer_sizes(text: str) -> list[int]:
    """'16,16' -> [16, 16]; 'none' -> [] (no hidden layer: a linear model). Every width is an
    integer >= 1: an empty one ('16,', '') is refused, not skipped."""
    if text.strip().lower() == "none":
        return []
    parts = [part.strip() for part in text.split(",")]
    try:
        sizes = [_integer(part) if part else None for part in parts]
    except argparse.ArgumentTypeError:
        sizes = [None]
    if None in sizes or not parts:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, like 16,16 (or none, for "
                                         f"no hidden layer), got {short(text)}")
    if any(size < 1 for size in sizes):  # type: ignore[operator]
        raise argparse.ArgumentTypeError(f"layer widths must be >= 1, got {short(text)}")
    return sizes  # type: ignore[return-value]


def _add_graph_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "graph", help="draw the computation graph of an expression",
        description="Build the Value graph of EXPRESSION (parsed safely: numbers, bound names, "
                    f"+ - * / **, and {' '.join(parser_functions())}; never eval), run "
                    "backward, and draw it with each value's data and grad and each edge's local "
                    "derivative. Start an expression that begins with '-' after a '--'.",
        epilog='example: %(prog)s "tanh(x*w + b)" x=2 w=-3 b=6.88 -o graph.svg',
        intermixed=True,
    )
    parser.add_argument("expression", help='e.g. "tanh(x*w + b)"')
    parser.add_argument("bindings", nargs="*", default=[], metavar="NAME=NUMBER",
                        help="values of the names, e.g. x=2 w=-3")
    parser.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="graph.svg, graph.png or graph.pdf (needs Graphviz's dot), graph.dot (or .gv) "
                             "for the DOT source, or page.html: a backprop explorer to step through in a "
                             "browser")
    parser.add_argument("--rankdir", choices=("LR", "TB", "RL", "BT"), default="LR",
                        help="layout direction (default: LR, left to right)")
    parser.add_argument("--no-grad", dest="show_grad", action="store_false",
                        help="draw data only: no backward pass, no grads")
    parser.set_defaults(handler=_graph)


def _graph(args: argparse.Namespace, report: _Report) -> int:
    def fail(message: object, code: int = 2) -> int:
        return _fail("graph", message, code)

    suffix = Path(args.output).suffix.lower()
    if suffix not in _GRAPH_SUFFIXES:
        return fail(f"cannot write {args.output!r}: {_wrong_suffix(suffix, _GRAPH_SUFFIXES)}")
    if suffix == ".html" and not args.show_grad:
        return fail("--no-grad draws no grads, and the .html page steps through backprop: drop one of them")
    try:
        check_writable(args.output)
    except OSError as e:
        return fail(f"cannot write {args.output!r}: {e.strerror}")
    try:
        leaves = {name: Value(v, label=name) for name, v in parse_bindings(args.bindings).items()}
        out = parse_expression(args.expression, leaves)
        _check_all_used(leaves, out, args.expression)
        page = Explorer(out, rankdir=args.rankdir) if suffix == ".html" else None  # before backward
        if args.show_grad:
            out.backward()
    except (ValueError, TypeError, ZeroDivisionError) as e:
        return fail(e)
    graph = draw_dot(out, rankdir=args.rankdir, show_grad=args.show_grad)
    try:
        if page is not None:
            page.save(args.output)
        elif suffix in _GRAPH_SOURCES:
            write_atomically(Path(args.output), graph.source.encode("utf-8"))
        else:
            graph.save(args.output)
    except GraphvizNotInstalled:  # not a mistake in the command (exit 1): this machine lacks a program
        return fail(f"cannot draw {suffix[1:].upper()}: Graphviz's `dot` program is not installed "
                    f"(apt-get install graphviz, brew install graphviz, or conda install -c conda-forge "
                    f"graphviz); -o {_dot_name(args.output)} writes the DOT source without it", 1)
    except RenderTimeout:
        return fail(f"dot did not finish drawing {args.output!r} within {graph.timeout:g} s and was stopped; "
                    f"-o {_dot_name(args.output)} writes the DOT source, which you can render with dot "
                    f"yourself", 1)
    except OSError as e:
        return fail(f"cannot write {args.output!r}: {e.strerror or e}", 1)
    report.say(_printable(f"wrote {args.output}: {args.expression} = {format_number(out.data)}", 10_000))
    if args.show_grad and leaves:
        grads = (f"∂/∂{name} = {format_number(float(leaf.grad))}" for name, leaf in leaves.items())
        report.say("  " + ", ".join(grads))
    return 0


def _check_all_used(leaves: dict[str, Value], out: Value, expression: str) -> None:
    """Refuse a binding the expression never uses (most likely a misspelt name, said nowhere else)."""
    in_graph = {id(v) for v in topological_order(out)}
    unused = [name for name, leaf in leaves.items() if id(leaf) not in in_graph]
    if unused:
        names, (verb, it) = ", ".join(unused), ("is", "it") if len(unused) == 1 else ("are", "them")
        raise ValueError(f"{names} {verb} bound but {short(expression)} does not use {it}: drop {it}, "
                         f"or check the expression for a misspelt name")


def _dot_name(output: str) -> str:
    """The ``-o`` that writes the DOT source instead of ``output``: its folder and name, with .dot."""
    return shlex.quote(str(Path(output).with_suffix(".dot")))


def build_parser(prog: str = "python -m microgradlike") -> argparse.ArgumentParser:
    """The ``train`` and ``graph`` subcommands, each with the function that runs it."""
    parser = _Parser(
        prog=prog,
        description="Train a small network on a toy dataset, or draw the computation graph of an expression.")
    parser.add_argument("--version", action=_Version, version=f"microgradlike {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,graph}")
    _add_train_parser(commands)
    _add_graph_parser(commands)
    return parser


def _program_name() -> str:
    """How the user started us, for usage lines and errors: ``microgradlike`` when run as the
    installed script, else ``python -m microgradlike`` (also when called from Python)."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return name if re.fullmatch(r"microgradlike(\.exe)?", name) else "python -m microgradlike"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand (``argv`` defaults to the command line); returns the exit code."""
    global _program
    _program = _program_name()
    parser = build_parser(_program)
    argv = sys.argv[1:] if argv is None else list(argv)
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # as parse_args would say (naming the subcommand), with a hint where one is known
        message = f"unrecognized arguments: {' '.join(unknown)}{_hint(args, argv, unknown)}"
        parser.exit(2, f"{_program} {args.command}: error: {_printable(message)}\n")
    report = _Report()
    try:
        code = args.handler(args, report)
    except _OutputLost:
        code = 1
    except KeyboardInterrupt:  # Ctrl-C where nothing is left to keep (`train` keeps its model itself)
        print(f"{_program} {args.command}: interrupted (Ctrl-C)", file=sys.stderr)
        return _INTERRUPTED
    if report.lost is None:
        return code
    if not isinstance(report.lost, BrokenPipeError):  # `... | head` stopped reading: no message
        _fail(args.command, f"cannot write to the standard output: {report.lost}", 1)
    return max(code, 1)


def _hint(args: argparse.Namespace, argv: list[str], unknown: list[str]) -> str:
    """What to do instead, for the unrecognized arguments whose cause is known: an expression that
    starts with '-' (`graph` took it for an option), or widths after --hidden 16 (they go in one word)."""
    if args.command == "graph" and any(arg.startswith("-") and not arg.startswith("--") for arg in unknown):
        return _DASH_HINT.format(_program)
    if args.command == "train" and "--hidden" in argv:
        at = len(argv) - 1 - argv[::-1].index("--hidden")  # the last --hidden is the one argparse kept
        widths = list(itertools.takewhile(str.isdigit, argv[at + 1:]))
        if len(widths) > 1 and widths[1:] == unknown[:len(widths) - 1]:
            return f"; --hidden takes its widths as one word, with commas: --hidden {','.join(widths)}"
    return ""
