"""Lesson 2's checkers: a learner's own engine, checked step by step against microgradlike's.

A right engine (the one the lesson builds, written again here) gets ✓ at every step; the classic
bugs each get ✗ with a hint that does not give the code away: `=` instead of `+=` for a node used
twice, a backward in the wrong order, a missing seed of 1, a forgotten zero_grad."""

from __future__ import annotations

import itertools
import math
import random
import time

import pytest

import microgradlike
from microgradlike.exercises.engine_from_scratch import (
    OPS,
    check_backward,
    check_local_gradients,
    check_mlp,
    check_topological_order,
    check_training_loop,
    check_value,
)

#: Code that must never appear in a hint.
ANSWERS = ("+=", "reversed(", "grad = 1", "1 - t", "1 - out", "zero_grad()", "out.data *", "[::-1]")


def rejected(verdict, why: str) -> bool:
    """The verdict fails, its hint says ``why``-ish and gives no code away."""
    text = f"{verdict.message} {verdict.hint}"
    return not verdict and why in text and not any(a in verdict.hint for a in ANSWERS)


# ---- a right engine: ops build nodes of the class they are called on, so a subclass can swap one part ------
class Value:
    def __init__(self, data, children=(), op=""):
        self.data = data
        self.grad = 0.0
        self.children = children
        self.op = op
        self.pass_back = lambda: None

    def _node(self, other):
        return other if isinstance(other, Value) else type(self)(other)

    def __add__(self, other):
        other = self._node(other)
        out = type(self)(self.data + other.data, (self, other), "+")

        def pass_back():
            self.grad += out.grad
            other.grad += out.grad
        out.pass_back = pass_back
        return out

    def __mul__(self, other):
        other = self._node(other)
        out = type(self)(self.data * other.data, (self, other), "*")

        def pass_back():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out.pass_back = pass_back
        return out

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return (-self) + other

    def __pow__(self, k):
        out = type(self)(self.data ** k, (self,), f"**{k}")

        def pass_back():
            self.grad += k * self.data ** (k - 1) * out.grad
        out.pass_back = pass_back
        return out

    def __truediv__(self, other):
        return self * self._node(other) ** -1

    def tanh(self):
        t = math.tanh(self.data)
        out = type(self)(t, (self,), "tanh")

        def pass_back():
            self.grad += (1 - t * t) * out.grad
        out.pass_back = pass_back
        return out

    def exp(self):
        out = type(self)(math.exp(self.data), (self,), "exp")

        def pass_back():
            self.grad += out.data * out.grad
        out.pass_back = pass_back
        return out

    def relu(self):
        out = type(self)(max(self.data, 0.0), (self,), "relu")

        def pass_back():
            self.grad += (self.data > 0) * out.grad
        out.pass_back = pass_back
        return out

    def backward(self):
        self.grad = 1.0
        for node in reversed(topological_order(self)):
            node.pass_back()


def topological_order(root):
    order, visited = [], set()

    def visit(node):
        if node not in visited:
            visited.add(node)
            for child in node.children:
                visit(child)
            order.append(node)
    visit(root)
    return order


def iterative_order(root):
    order, visited, stack = [], set(), [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
        elif node not in visited:
            visited.add(node)
            stack.append((node, True))
            stack.extend((child, False) for child in node.children)
    return order


class Neuron:
    def __init__(self, nin, linear=False):
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0.0)
        self.linear = linear

    def __call__(self, x):
        z = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return z if self.linear else z.tanh()

    def parameters(self):
        return [*self.w, self.b]


class Layer:
    def __init__(self, nin, nout, linear=False):
        self.neurons = [Neuron(nin, linear) for _ in range(nout)]

    def __call__(self, x):
        outs = [n(x) for n in self.neurons]
        return outs[0] if len(outs) == 1 else outs

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]


class MLP:
    def __init__(self, nin, nouts):
        sizes = [nin, *nouts]
        self.layers = [Layer(sizes[i], sizes[i + 1], linear=i == len(nouts) - 1) for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0.0


def mse(preds, ys):
    return sum(((p - y) * (p - y) for p, y in zip(preds, ys)), Value(0.0)) * (1 / len(ys))


def train(model, xs, ys, lr, steps):
    losses = []
    for _ in range(steps):
        model.zero_grad()
        loss = mse([model(x) for x in xs], ys)
        loss.backward()
        for p in model.parameters():
            p.data -= lr * p.grad
        losses.append(loss.data)
    return losses


def test_the_right_engine_passes_every_step():
    for verdict in (check_value(Value), check_local_gradients(Value),
                    check_local_gradients(Value, ops=("relu", "**")),
                    check_topological_order(topological_order),
                    check_topological_order(iterative_order, depth=5000),
                    check_backward(Value), check_backward(Value, ops=("+", "*", "-", "/", "**", "relu")),
                    check_mlp(MLP), check_training_loop(train, MLP)):
        assert verdict, verdict


@pytest.mark.parametrize("ops", [ops for k in (1, 2, 3) for ops in itertools.combinations(OPS, k)])
def test_a_right_engine_passes_backward_on_graphs_of_any_ops(ops):
    """Random graphs were made safe at one set of leaf numbers and checked at another: relu's exact
    0 raised to the power -1 and chains of exp overflowed (a ✗ blaming the learner, for the library's
    own Value too), and ** or relu alone made the graph builder loop until the time limit (a ✗
    that sent the learner looking for an endless loop of their own)."""
    start = time.perf_counter()
    mine, library = check_backward(Value, ops=ops), check_backward(microgradlike.Value, ops=ops)
    assert mine and library, (mine, library)
    assert time.perf_counter() - start < 2


# ---- step 1: the record ------------------------------------------------------------------------------------
class KeepsData(Value):
    def __add__(self, other):
        out = super().__add__(other)
        out.children = tuple(child.data for child in out.children)  # numbers, not the nodes
        return out


class NoReflected(Value):
    __radd__ = object.__getattribute__(object, "__init_subclass__") and None  # no 2 + a
    __rmul__ = None


class GradStartsAtOne(Value):
    def __init__(self, data, children=(), op=""):
        super().__init__(data, children, op)
        self.grad = 1.0


class ReluSlopeOneAtZero(Value):
    def relu(self):
        out = type(self)(max(self.data, 0.0), (self,), "relu")

        def pass_back():
            self.grad += (self.data >= 0) * out.grad  # slope 1 at exactly 0
        out.pass_back = pass_back
        return out


class ReflectedMakesALeaf(Value):
    def __rsub__(self, other):
        return type(self)(other - self.data)  # 2 - a: the right number, but no graph

    def __rmul__(self, other):
        return type(self)(other * self.data)


def test_wrong_answers_that_only_show_at_a_kink_or_with_a_number_first_are_rejected():
    """relu with slope 1 at exactly 0, and 2 - a or 2 * a that lose their graph, got ✓ from every
    check: the points were kept away from 0, and a plain number was always written second."""
    assert rejected(check_local_gradients(ReluSlopeOneAtZero, ops=("relu",)), "at exactly 0")
    assert rejected(check_backward(ReflectedMakesALeaf), "grad")  # 2 * a among the basic ops
    assert rejected(check_backward(ReflectedMakesALeaf, ops=("+", "-")), "grad")


@pytest.mark.parametrize(("engine", "why"), [
    (KeepsData, "children"),
    (NoReflected, "__radd__"),
    (GradStartsAtOne, "grad is 0"),
    (42, "your Value class"),
])
def test_a_wrong_record_is_rejected(engine, why):
    assert rejected(check_value(engine), why), check_value(engine)


# ---- step 2: each op's pass_back ---------------------------------------------------------------------------
class Overwrites(Value):
    """The classic bug: `=` instead of `+=`, so a second use replaces the first one's share."""

    def __mul__(self, other):
        other = self._node(other)
        out = type(self)(self.data * other.data, (self, other), "*")

        def pass_back():
            self.grad = other.data * out.grad
            other.grad = self.data * out.grad
        out.pass_back = pass_back
        return out


class ForgetsOutGrad(Value):
    def tanh(self):
        out = super().tanh()

        def pass_back():
            self.grad += 1 - out.data ** 2  # the local derivative alone, not times out.grad
        out.pass_back = pass_back
        return out


class WrongExp(Value):
    def exp(self):
        out = super().exp()

        def pass_back():
            self.grad += self.data * out.grad
        out.pass_back = pass_back
        return out


@pytest.mark.parametrize(("engine", "why"), [
    (Overwrites, "never replace it"),
    (ForgetsOutGrad, "the chain rule"),
    (WrongExp, "eˣ"),
])
def test_a_wrong_pass_back_is_rejected(engine, why):
    verdict = check_local_gradients(engine)
    assert rejected(verdict, why), verdict


def test_the_overwriting_bug_is_named_by_backward_too():
    verdict = check_backward(Overwrites)
    assert rejected(verdict, "never replace it"), verdict
    assert "a leaf used twice by one op" in verdict.message


def test_ops_not_written_yet_are_named():
    class Stubs(Value):
        def relu(self): ...

    verdict = check_local_gradients(Stubs, ops=("relu",))
    assert not verdict and "not written yet" in verdict.message
    verdict = check_local_gradients(Value, ops=("sin",))
    assert not verdict and "ops must name" in verdict.message


# ---- step 3: the topological order -------------------------------------------------------------------------
def parents_first(root):
    return list(reversed(topological_order(root)))


def no_visited_set(root):
    order = []

    def visit(node):
        for child in node.children:
            visit(child)
        order.append(node)
    visit(root)
    return order


def leaves_only(root):
    return [node for node in topological_order(root) if not node.children]


@pytest.mark.parametrize(("order", "why"), [
    (parents_first, "after every one of its children"),
    (no_visited_set, "appears twice"),
    (leaves_only, "list the root itself"),
    (lambda root: None, "not written yet"),
])
def test_a_wrong_order_is_rejected(order, why):
    verdict = check_topological_order(order)
    assert rejected(verdict, why), verdict


def test_a_recursive_sort_is_refused_on_a_deep_chain_with_the_reason():
    verdict = check_topological_order(topological_order, depth=5000)
    assert rejected(verdict, "RecursionError"), verdict
    assert "stack" in verdict.hint


# ---- step 4: backward --------------------------------------------------------------------------------------
class NoSeed(Value):
    def backward(self):
        for node in reversed(topological_order(self)):
            node.pass_back()


class ChildrenFirst(Value):
    """The wrong order: pass_back in the sort's order, children before the nodes that use them."""

    def backward(self):
        self.grad = 1.0
        for node in topological_order(self):
            node.pass_back()


class TwiceOverShared(Value):
    """A sort without a visited set: a node reached twice passes its grad back twice."""

    def backward(self):
        self.grad = 1.0
        for node in reversed(no_visited_set(self)):
            node.pass_back()


@pytest.mark.parametrize(("engine", "why"), [
    (NoSeed, "∂L/∂L"),
    (ChildrenFirst, "in what order"),
    (TwiceOverShared, "passed back once"),
])
def test_a_wrong_backward_is_rejected(engine, why):
    verdict = check_backward(engine)
    assert rejected(verdict, why), verdict


# ---- step 5: the MLP ---------------------------------------------------------------------------------------
class TanhEverywhere(MLP):
    def __init__(self, nin, nouts):
        super().__init__(nin, nouts)
        for layer in self.layers:
            for neuron in layer.neurons:
                neuron.linear = False


class NoBias(MLP):
    def parameters(self):
        return [p for layer in self.layers for n in layer.neurons for p in n.w]


class BiasFirst(MLP):
    def parameters(self):
        return [p for layer in self.layers for n in layer.neurons for p in (n.b, *n.w)]


class CopiedParameters(MLP):
    def parameters(self):
        return [Value(p.data) for p in super().parameters()]


@pytest.mark.parametrize(("network", "why"), [
    (TanhEverywhere, "the last layer is linear"),
    (NoBias, "one bias"),
    (BiasFirst, "weights then its bias"),
    (CopiedParameters, "not copies"),
])
def test_a_wrong_mlp_is_rejected(network, why):
    verdict = check_mlp(network)
    assert rejected(verdict, why), verdict


# ---- step 6: the training loop -----------------------------------------------------------------------------
def forgets_zero_grad(model, xs, ys, lr, steps):
    losses = []
    for _ in range(steps):
        loss = mse([model(x) for x in xs], ys)
        loss.backward()
        for p in model.parameters():
            p.data -= lr * p.grad
        losses.append(loss.data)
    return losses


def uphill(model, xs, ys, lr, steps):
    return train(model, xs, ys, -lr, steps)


def summed_loss(model, xs, ys, lr, steps):
    losses = []
    for _ in range(steps):
        model.zero_grad()
        loss = sum(((model(x) - y) * (model(x) - y) for x, y in zip(xs, ys)), Value(0.0))
        loss.backward()
        for p in model.parameters():
            p.data -= lr * p.grad
        losses.append(loss.data)
    return losses


def fixed_rate(model, xs, ys, lr, steps):
    return train(model, xs, ys, 0.1, steps)


def loss_after(model, xs, ys, lr, steps):
    losses = train(model, xs, ys, lr, steps)
    return [*losses[1:], mse([model(x) for x in xs], ys).data]


@pytest.mark.parametrize(("loop", "why"), [
    (forgets_zero_grad, "ADDS"),
    (uphill, "uphill"),
    (summed_loss, "the mean"),
    (fixed_rate, "the lr your function is given"),
    (loss_after, "before the first update"),
])
def test_a_wrong_training_loop_is_rejected(loop, why):
    verdict = check_training_loop(loop, MLP)
    assert rejected(verdict, why), verdict
