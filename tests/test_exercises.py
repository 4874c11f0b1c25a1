"""Exercise checkers: every checker accepts a correct solution and rejects a wrong one with a hint.

The solutions live here, never in the notebooks."""

from __future__ import annotations

from microgradlike.exercises import Verdict


def test_a_verdict_is_truthy_when_solved_and_hints_only_when_not():
    solved = Verdict("power rule", True, "f'(2.0) = 4.0", hint="bring the exponent down")
    unsolved = Verdict("power rule", False, "f'(2.0) should be 4.0, yours gives 2.0",
                       hint="bring the exponent down")
    assert solved and not unsolved
    assert "hint" not in str(solved) and str(solved).startswith("✓")
    assert str(unsolved).splitlines() == ["✗ power rule: f'(2.0) should be 4.0, yours gives 2.0",
                                          "  hint: bring the exponent down"]
    assert "hint" in unsolved._repr_html_() and "&#x27;" in unsolved._repr_html_()
