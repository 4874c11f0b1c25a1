"""Tests for microgradlike.merging: per-target traces merged into one program give each sample its
own trace's numbers, and traces that differ in more than what they read are not merged."""

from __future__ import annotations

import numpy as np
import pytest

from microgradlike import losses
from microgradlike.compile import trace
from microgradlike.merging import merge
from microgradlike.tape import Tape


def loss_tapes(loss, targets, k):
    return [trace(lambda x, t=t: loss([x if k > 1 else x[0]], [t]), [0.5] * k) for t in targets]


@pytest.mark.parametrize(("loss", "targets", "k", "slots", "numbers"), [
    (losses.cross_entropy, [0, 1, 2, 3], 4, (0, 1, 2, 3), None),
    (losses.binary_cross_entropy, [0, 1, 0.25], 1, None, (0.0, 1.0, 0.25)),
])
def test_merged_loss_gives_each_row_its_own_traces_numbers(loss, targets, k, slots, numbers):
    tapes = loss_tapes(loss, targets, k)
    merged = merge([t.program for t in tapes])
    assert len(merged.choices) == 1
    assert (merged.choices[0].slots, merged.choices[0].numbers) == (slots, numbers)
    assert merged.program.input_layout[-1] == ("choices", 1)
    rng = np.random.default_rng(0)
    X = rng.normal(scale=3.0, size=(len(targets) * 3, k))
    which = np.arange(len(X)) % len(targets)  # row s uses trace which[s]
    choice = merged.choices[0]
    chosen = X[np.arange(len(X)), np.asarray(slots)[which]] if slots else np.asarray(numbers)[which]
    tape = Tape(merged.program, [], single_output=True)
    values = tape(X, chosen[:, None])
    tape.backward()
    for s, row in enumerate(X):
        own = tapes[which[s]]
        assert values[s] == pytest.approx(own(row.tolist()), rel=1e-13)
        own.backward()
        grads = np.array(own.grads[0])
        if choice.slots:  # the chosen logit's gradient is the choice's
            grads[slots[which[s]]] -= tape.grads[1][s][0]
        assert np.allclose(tape.grads[0][s], grads, rtol=1e-12, atol=1e-15)


def test_one_program_or_equal_programs_merge_without_choices():
    tapes = loss_tapes(losses.mse, [0.0, 0.0], 1)
    merged = merge([t.program for t in tapes])
    assert merged.choices == () and merged.program is tapes[0].program


def test_traces_that_differ_in_an_op_or_a_computed_slot_are_not_merged():
    assert merge([t.program for t in loss_tapes(losses.hinge, [-1, 1], 1)]) is None  # 1 − s, s + 1
    a = trace(lambda x, y: (x * y).tanh() + x, 1.0, 2.0)
    b = trace(lambda x, y: (x * y).tanh() + (x * y), 1.0, 2.0)  # reads a computed slot instead
    assert merge([a.program, b.program]) is None
    # x ** c with c per sample would be a Value exponent, which has other rules (base > 0)
    powers = [trace(lambda x, c=c: x ** c, 2.0) for c in (2.0, 3.0)]
    assert merge([p.program for p in powers]) is None
    products = [trace(lambda x, c=c: x * c, 2.0) for c in (2.0, 3.0)]
    assert merge([p.program for p in products]).choices[0].numbers == (2.0, 3.0)
