"""The command line: ``python -m microgradlike train ...`` and ``python -m microgradlike graph ...``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def _add_train_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("train", help="train an MLP on a toy 2-D dataset")
    parser.set_defaults(handler=_train)


def _train(args: argparse.Namespace) -> int:
    raise NotImplementedError("train: being written")


def _add_graph_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("graph", help="draw the computation graph of an expression")
    parser.set_defaults(handler=_graph)


def _graph(args: argparse.Namespace) -> int:
    raise NotImplementedError("graph: being written")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m microgradlike", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    _add_train_parser(commands)
    _add_graph_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)
