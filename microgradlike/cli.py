"""The command line: ``python -m microgradlike train ...`` and ``python -m microgradlike graph ...``."""

from __future__ import annotations

import argparse
import io
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import data
from .engine import Value, no_grad, topological_order
from .explorer import Explorer
from .expression import parse_bindings, parse_expression
from .files import write_atomically
from .nn import MLP
from .optim import SGD, Adam
from .plots import plot_decision_boundary, plot_history
from .replay import Replay
from .train import ENGINES, History, fit
from .viz import GraphvizNotInstalled, draw_dot, format_number

_DATASETS = ("moons", "circles", "xor", "spirals")
_LOSS_NAMES = ("hinge", "binary_cross_entropy", "mse", "cross_entropy")
#: Learning rates used when --lr is not given (tuned on moons: Adam full batch reaches 100% test).
_DEFAULT_LR = {"adam": 0.05, "sgd": 0.1}
_GRAPH_SUFFIXES = (".svg", ".png", ".dot", ".html")


def _fail(command: str, message: object, code: int = 2) -> int:
    """One line on stderr and an exit code (2 for bad arguments, as argparse uses), no traceback."""
    print(f"python -m microgradlike {command}: error: {message}", file=sys.stderr)
    return code


def _missing_folder(path: str) -> str | None:
    """The folder ``path`` would be written into, if it does not exist (checked before any work)."""
    folder = os.path.dirname(os.path.abspath(path))
    return None if os.path.isdir(folder) else folder


def _add_train_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train", help="train an MLP on a toy 2-D dataset",
        usage="python -m microgradlike train [options]   (all options: --help)",
        description="Train an MLP on a toy 2-D dataset and report train/test accuracy: "
                    "forward -> loss -> backward -> update, repeated.",
    )
    dataset = parser.add_argument_group("data")
    dataset.add_argument("--dataset", choices=_DATASETS, default="moons", help="default: %(default)s")
    dataset.add_argument("--n", type=_positive_int, default=300,
                         help="number of points (default: %(default)s)")
    dataset.add_argument("--noise", type=_nonnegative_number, default=None,
                         help="noise level (default: the dataset's own)")
    dataset.add_argument("--arms", type=_positive_int, default=3,
                         help="number of arms (classes) of spirals (default: %(default)s)")
    dataset.add_argument("--test-fraction", type=_fraction, default=0.25,
                         help="share of the points held out for testing (default: %(default)s)")
    model = parser.add_argument_group("model")
    model.add_argument("--hidden", type=_layer_sizes, default=[16, 16],
                       help="hidden layer widths (default: 16,16)")
    model.add_argument("--activation", choices=("relu", "tanh", "sigmoid"), default="relu",
                       help="hidden-layer activation (default: %(default)s)")
    training = parser.add_argument_group("training")
    training.add_argument("--loss", choices=_LOSS_NAMES, default=None,
                          help="default: hinge for two classes, cross_entropy for more")
    training.add_argument("--optimizer", choices=tuple(_DEFAULT_LR), default="adam",
                          help="default: %(default)s")
    training.add_argument("--lr", type=_positive_number, default=None,
                          help="learning rate (default: 0.05 for adam, 0.1 for sgd)")
    training.add_argument("--momentum", type=_nonnegative_number, default=0.0,
                          help="SGD momentum in [0, 1) (default: %(default)s)")
    training.add_argument("--tol", type=_nonnegative_number, default=1e-6,
                          help="stop when the gradient norm falls below this (default: %(default)s)")
    training.add_argument("--epochs", type=_positive_int, default=100,
                          help="maximum number of epochs (default: %(default)s)")
    training.add_argument("--batch-size", type=_positive_int, default=None,
                          help="rows per update (default: all of them, the full batch)")
    training.add_argument("--seed", type=int, default=0,
                          help="seeds the data, the weights and the shuffling (default: %(default)s)")
    training.add_argument("--engine", choices=ENGINES, default="batched",
                          help="eager builds Value graphs; tape and batched replay a compiled one "
                               "(default: %(default)s)")
    training.add_argument("--progress", action=argparse.BooleanOptionalAction, default=False,
                          help="show a tqdm progress bar instead of a line every few epochs (default: off)")
    output = parser.add_argument_group("output")
    output.add_argument("--save", metavar="MODEL.json", default=None, help="save the trained model as JSON")
    output.add_argument("--plot", metavar="OUT.png", default=None,
                        help="draw the loss curves and the decision boundary (needs matplotlib)")
    output.add_argument("--html", metavar="RUN.html", default=None,
                        help="write a training replay: one self-contained page with a slider over the epochs")
    parser.set_defaults(handler=_train)


def _train(args: argparse.Namespace) -> int:
    try:
        problem = _TrainProblem.from_args(args)
    except (ValueError, ImportError, NotImplementedError) as e:
        return _fail("train", e)
    print(problem.describe())
    every = max(1, args.epochs // 10)

    def report(history: History) -> None:
        if not args.progress and (history.n_epochs % every == 0 or history.n_epochs == 1):
            print(f"epoch {history.n_epochs:>5}/{args.epochs}  train loss {history.train_loss[-1]:.4f}"
                  f"  test loss {history.val_loss[-1]:.4f}")

    replay = problem.replay() if args.html else None

    def after_epoch(history: History) -> None:
        report(history)
        if replay is not None:
            replay(history)

    start = time.perf_counter()
    try:
        history = fit(problem.model, problem.X_train, problem.y_train, loss=problem.loss,
                      optimizer=problem.optimizer, lr=problem.lr, tol=args.tol, max_epochs=args.epochs,
                      batch_size=args.batch_size, seed=args.seed, validation=(problem.X_test, problem.y_test),
                      progress=args.progress, engine=args.engine, callback=after_epoch)
    except (ValueError, NotImplementedError) as e:
        return _fail("train", e)
    seconds = time.perf_counter() - start
    print(f"{history.message}; {history.n_epochs} epochs, {history.n_updates} updates in {seconds:.1f} s")
    print(f"train accuracy {problem.accuracy('train'):.1%}   test accuracy {problem.accuracy('test'):.1%}")
    if args.save:
        problem.model.save(args.save)
        print(f"saved the model to {args.save}")
    if args.plot:
        _plot_training(args.plot, problem, history)
        print(f"drew the loss curves and decision boundary to {args.plot}")
    if replay is not None:
        replay.save(args.html)
        print(f"wrote the training replay to {args.html} (open it in a browser)")
    return 0


class _TrainProblem:
    """The dataset, split, targets, model and optimiser that ``train``'s arguments describe."""

    def __init__(self, args: argparse.Namespace) -> None:
        make = {"moons": data.make_moons, "circles": data.make_circles, "xor": data.make_xor,
                "spirals": lambda **kw: data.make_spirals(arms=args.arms, **kw)}[args.dataset]
        noise = {} if args.noise is None else {"noise": args.noise}
        X, labels = make(n=args.n, seed=args.seed, **noise)
        self.n_classes = args.arms if args.dataset == "spirals" else 2
        self.loss = args.loss or ("hinge" if self.n_classes == 2 else "cross_entropy")
        if self.n_classes > 2 and self.loss != "cross_entropy":
            raise ValueError(f"--loss {self.loss} handles two classes; {args.dataset} with "
                             f"--arms {args.arms} has {self.n_classes}: use --loss cross_entropy")
        # hinge and mse want labels -1/+1, binary cross-entropy 0/1, cross_entropy class ids
        targets = 2 * labels - 1 if self.loss in ("hinge", "mse") else labels
        split = data.train_test_split(X, targets, test_fraction=args.test_fraction, seed=args.seed)
        self.X_train, self.X_test, self.y_train, self.y_test = split
        n_out = self.n_classes if self.loss == "cross_entropy" else 1
        self.model = MLP(2, [*args.hidden, n_out], activation=args.activation, seed=args.seed)
        self.lr = args.lr if args.lr is not None else _DEFAULT_LR[args.optimizer]
        if args.optimizer == "adam" and args.momentum:
            raise ValueError("--momentum is for --optimizer sgd (Adam keeps its own running means)")
        params = self.model.parameters()
        sgd = args.optimizer == "sgd"
        self.optimizer = SGD(params, self.lr, args.momentum) if sgd else Adam(params, self.lr)
        self.args = args

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> _TrainProblem:
        """Check what can be checked before training (output folders, matplotlib), then build."""
        for option, path in (("--save", args.save), ("--plot", args.plot), ("--html", args.html)):
            folder = _missing_folder(path) if path else None
            if folder is not None:
                raise ValueError(f"{option} {path}: the folder {folder} does not exist")
        if args.plot:
            _import_pyplot_free_figure()
        return cls(args)

    def replay(self) -> Replay:
        """A `Replay` recording this run (fit's callback), listing the settings it used."""
        a = self.args
        settings = {"dataset": a.dataset, "points": f"{len(self.y_train)} train / {len(self.y_test)} test",
                    "noise": a.noise, "loss": self.loss, "optimizer": a.optimizer, "lr": self.lr,
                    "batch size": a.batch_size or "full batch", "max epochs": a.epochs, "tol": a.tol,
                    "seed": a.seed, "engine": a.engine}
        if a.optimizer == "sgd":
            settings["momentum"] = a.momentum
        return Replay(self.model, self.X_train, self.y_train, validation=(self.X_test, self.y_test),
                      optimizer=self.optimizer, settings=settings)

    def describe(self) -> str:
        a = self.args
        batch = "full batch" if a.batch_size is None else f"batches of {a.batch_size}"
        return (f"training MLP(2, {self.model.nouts}, {a.activation}) on {a.dataset}: "
                f"{len(self.y_train)} train / {len(self.y_test)} test points; {self.loss} loss, "
                f"{a.optimizer} lr={self.lr:g}, {batch}, up to {a.epochs} epochs, {a.engine} engine")

    def predict(self, rows: list[list[float]]) -> list[int]:
        """Class ids: the sign of the single score (> 0 is class 1), or the largest of several."""
        with no_grad():
            outputs = [self.model(row) for row in rows]
        if self.n_classes == 2 and self.loss != "cross_entropy":
            return [int(out.data > 0) for out in outputs]
        return [max(range(len(out)), key=lambda j, out=out: out[j].data) for out in outputs]

    def accuracy(self, split: str) -> float:
        """The share of the ``"train"`` or ``"test"`` points whose class the model predicts."""
        X, targets = (self.X_train, self.y_train) if split == "train" else (self.X_test, self.y_test)
        return sum(p == t for p, t in zip(self.predict(X.tolist()), self.labels(targets))) / len(targets)

    def labels(self, targets: Sequence[float]) -> list[int]:
        """Targets back to class ids (hinge and mse trained on -1/+1)."""
        return [int(t > 0) for t in targets] if self.loss in ("hinge", "mse") else [int(t) for t in targets]


def _import_pyplot_free_figure() -> type:
    """matplotlib's Figure class (drawn without pyplot, so no GUI backend is touched)."""
    try:
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError("--plot needs matplotlib: pip install matplotlib") from e
    return Figure


def _plot_training(path: str, problem: _TrainProblem, history: History) -> None:
    """Two panels, the loss curves and the decision regions, written to ``path`` atomically."""
    figure = _import_pyplot_free_figure()(figsize=(11, 4.4), layout="constrained")
    curves, regions = figure.subplots(1, 2)
    plot_history(history, ax=curves)
    X = np.concatenate([problem.X_train, problem.X_test])
    labels = problem.labels(np.concatenate([problem.y_train, problem.y_test]))
    plot_decision_boundary(problem.model, X, labels, ax=regions)
    regions.set_title(f"{problem.args.dataset}: decision regions, all points")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    write_atomically(path, buffer.getvalue())


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _finite_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _nonnegative_number(text: str) -> float:
    value = _finite_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _positive_number(text: str) -> float:
    value = _finite_number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _fraction(text: str) -> float:
    value = _finite_number(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text}")
    return value


def _layer_sizes(text: str) -> list[int]:
    """'16,16' -> [16, 16]; '' -> [] (no hidden layer: a linear model)."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    try:
        sizes = [int(part) for part in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 16,16, got {text!r}") from None
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"layer widths must be >= 1, got {text!r}")
    return sizes


def _add_graph_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "graph", help="draw the computation graph of an expression",
        description="Build the Value graph of EXPRESSION (parsed safely: numbers, bound names, "
                    "+ - * / **, and tanh exp log sqrt sigmoid relu abs softplus; never eval), run "
                    "backward, and draw it with each value's data and grad and each edge's local "
                    "derivative. Start an expression that begins with '-' after a '--'.",
        epilog='example: python -m microgradlike graph "tanh(x*w + b)" x=2 w=-3 b=6.88 -o graph.svg',
    )
    parser.add_argument("expression", help='e.g. "tanh(x*w + b)"')
    parser.add_argument("bindings", nargs="*", metavar="NAME=NUMBER",
                        help="values of the names, e.g. x=2 w=-3")
    parser.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="graph.svg or graph.png (needs Graphviz's dot), graph.dot for the DOT source, "
                             "or page.html: a backprop explorer to step through in a browser")
    parser.add_argument("--rankdir", choices=("LR", "TB", "RL", "BT"), default="LR",
                        help="layout direction (default: LR, left to right)")
    parser.add_argument("--no-grad", dest="show_grad", action="store_false",
                        help="draw data only: no backward pass, no grads")
    parser.set_defaults(handler=_graph)


def _graph(args: argparse.Namespace) -> int:
    def fail(message: object, code: int = 2) -> int:
        return _fail("graph", message, code)

    suffix = Path(args.output).suffix.lower()
    if suffix not in _GRAPH_SUFFIXES:
        return fail(f"cannot write {args.output!r}: the suffix must be .svg, .png, .dot or .html, "
                    f"not {suffix!r}")
    if suffix == ".html" and not args.show_grad:
        return fail("--no-grad draws no grads, and the .html page steps through backprop: drop one of them")
    folder = _missing_folder(args.output)
    if folder is not None:
        return fail(f"cannot write {args.output!r}: the folder {folder} does not exist")
    try:
        bindings = parse_bindings(args.bindings)
        out = parse_expression(args.expression, bindings)
        page = Explorer(out, rankdir=args.rankdir) if suffix == ".html" else None  # before backward
        if args.show_grad:
            out.backward()
    except (ValueError, TypeError, ZeroDivisionError) as e:
        return fail(e)
    graph = draw_dot(out, rankdir=args.rankdir, show_grad=args.show_grad)
    try:
        if page is not None:
            page.save(args.output)
        elif suffix == ".dot":
            write_atomically(Path(args.output), graph.source.encode("utf-8"))
        else:
            graph.save(args.output)
    except GraphvizNotInstalled:
        return fail(f"cannot draw {suffix[1:].upper()}: Graphviz's `dot` program is not installed "
                    f"(apt-get install graphviz, brew install graphviz, or conda install -c conda-forge "
                    f"graphviz); -o {Path(args.output).with_suffix('.dot').name} writes the DOT source "
                    f"without it", 1)
    except OSError as e:
        return fail(f"cannot write {args.output!r}: {e.strerror or e}", 1)
    print(f"wrote {args.output}: {args.expression} = {format_number(out.data)}")
    if args.show_grad and bindings:
        print("  " + ", ".join(f"∂/∂{name} = {format_number(_leaf_grad(out, name))}" for name in bindings))
    return 0


def _leaf_grad(root: Value, name: str) -> float:
    """The grad of the leaf labelled ``name`` below ``root`` (0 if the expression never uses it)."""
    return next((v.grad for v in topological_order(root) if not v.children and v.label == name), 0.0)


def build_parser() -> argparse.ArgumentParser:
    """The ``train`` and ``graph`` subcommands, each with the function that runs it."""
    parser = argparse.ArgumentParser(
        prog="python -m microgradlike",
        description="Train a small network on a toy dataset, or draw the computation graph of an expression.")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_train_parser(commands)
    _add_graph_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand (``argv`` defaults to the command line); returns the exit code."""
    args = build_parser().parse_args(argv)
    return args.handler(args)
