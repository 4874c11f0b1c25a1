"""Exercises for the course notebooks, checked by the library: a clear verdict, a hint, never the answer.

Each notebook ends with one to three exercises the learner solves in code (write tanh's local
derivative, fill in a backward step, write the update rule, pick η for a curve …). The checker for
an exercise lives in the module of its lesson (``microgradlike.exercises.<lesson>``); it runs the
learner's code against an oracle — central differences or the engine itself — and returns a
`Verdict`::

    >>> from microgradlike.exercises import Verdict
    >>> Verdict("demo", passed=False, message="f'(2.0) should be 4.0, yours gives 2.0",
    ...         hint="the power rule: bring the exponent down")
    ✗ demo: f'(2.0) should be 4.0, yours gives 2.0
      hint: the power rule: bring the exponent down

A verdict is truthy when the exercise is solved, prints as one or two lines, and shows itself in
a notebook. A hint says where to look; it never gives the solution away.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

__all__ = ["Verdict"]


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one exercise."""

    exercise: str
    passed: bool
    message: str
    hint: str = ""  # shown only when the exercise is not solved yet

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        mark = "✓" if self.passed else "✗"
        text = f"{mark} {self.exercise}: {self.message}"
        if not self.passed and self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        colour = "#15803d" if self.passed else "#b91c1c"
        hint = "" if self.passed or not self.hint else f"<br><em>hint:</em> {html.escape(self.hint)}"
        mark = "✓" if self.passed else "✗"
        return (f'<div style="border-left:4px solid {colour};padding:4px 10px">'
                f'<b style="color:{colour}">{mark} {html.escape(self.exercise)}</b>: '
                f"{html.escape(self.message)}{hint}</div>")
