"""The chain rule by hand: one neuron, every local derivative printed, then backprop step by step.
Run: python examples/chain_rule.py
"""

from microgradlike import Value

x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.88, label="b")
z = x * w + b
z.label = "z"
out = z.tanh()
out.label = "out"
for step in out.backward_steps():
    print(step.explain(), end="\n\n")
print("grads:", {v.label: round(v.grad, 6) for v in (x, w, b)})
