"""How a number is written for a learner: in explanations, and in pictures.

Two formats, for two jobs, and each used everywhere for its job:

* `number` (and `factor`, the same inside a product): the step-by-step explanations, which a learner
  re-does by hand. Six significant digits, and a float keeps its ".0" as Python prints it
  (``2.0 · 3.0 = 6.0``), so the arithmetic on the screen multiplies out.
* `format_number`: the fields of a picture (a node's data and grad, an edge's local derivative),
  where a record has room for a few characters. Four significant digits, compact (``-3``, ``0.7064``).

The step-throughs, the explorer page and the exercise checkers write their numbers with `number`;
the graph pictures, the pages' node fields, the matplotlib plots' titles and legends and the command
line's summary with `format_number`, and the replay page's table with its JavaScript twin (``fmt`` in
``web/replay.js``, checked against it by the page's tests). Axis ticks are left to the axes (round
numbers, as matplotlib writes them).
"""

from __future__ import annotations

__all__ = ["count", "factor", "format_number", "number"]


def number(x: float) -> str:
    """A number for explanations: 6 significant digits, and "2.0" rather than "2"."""
    text = f"{x + 0.0:.6g}"  # + 0.0 turns −0.0 into 0.0
    if text.lstrip("-").isdigit():
        text += ".0"
    return text


def factor(x: float) -> str:
    """A number inside a product: negative ones in parentheses, 2.0 · (-3.0)."""
    return f"({number(x)})" if x < 0 else number(x)


def format_number(x: float, digits: int = 4) -> str:
    """x with ``digits`` significant digits, compact, for a picture: 0.7064, -3, 6.88, 1.5e-05, inf."""
    return f"{x + 0.0:.{digits}g}"  # + 0.0 turns −0.0 into 0.0


def count(n: int, thing: str) -> str:
    """``n`` and ``thing``, plural unless ``n`` is 1: "1 epoch", "2 epochs", "0 updates"."""
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"
