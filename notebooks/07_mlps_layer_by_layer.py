# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 7 · MLPs, layer by layer (多层感知机, 神经元, 隐藏层, 激活函数)
#
# The notes sum training up in four steps, repeated (训练就是不断迭代前向传播 + 反向传播):
#
# 1. **forward** (正向传播): input x → layers of "linear + activation" → prediction ŷ;
# 2. **loss** (损失函数): how far ŷ is from the true y;
# 3. **backward** (反向传播): the gradient of the loss with respect to every parameter θ;
# 4. **update** (参数更新): an optimiser (SGD, Adam …) moves θ against the gradient.
#
# This lesson opens up the first step on a multilayer perceptron (多层感知机, MLP): what every
# layer computes, why the activation function (激活函数) is what makes a network more than a line,
# and what the hidden layers' outputs are for. Lesson 8 takes the other three.

# %%
import matplotlib.pyplot as plt
import numpy as np

from microgradlike import no_grad
from microgradlike.data import make_moons, piecewise_linear
from microgradlike.nn import MLP, Module
from microgradlike.plots import plot_layer_features
from microgradlike.train import fit

plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})

# %% [markdown]
# ## 1 · Every layer's zˡ and aˡ, and why the last layer is linear
#
# The notes' forward pass, for layers l = 1 … L:
#
# zˡ = Wˡ aˡ⁻¹ + bˡ (linear transform, 线性变换),  aˡ = σ(zˡ) (activation, 激活函数),  a⁰ = x.
#
# "隐藏层输出 aˡ 不是等于预测的 y，它只是'中间特征表示'。只有最后一层的 aᴸ 才是 ŷ": a hidden layer's
# output is an intermediate feature; only the last layer's output is the prediction.
#
# Each sigmoid or ReLU is a **neuron** (神经元, `Neuron`); a row of them reading the same input is a
# **layer** (`Layer`); every layer but the last is a **hidden layer** (隐藏层); many hidden layers
# make the network "deep" — hence **deep learning** (深度学习). `MLP.forward_trace` returns every
# layer's z and a:

# %%
model = MLP(2, [3, 3, 1], activation="relu", seed=1)
x = [0.5, -1.0]
trace = model.forward_trace(x)
for k, (z, a) in enumerate(trace, start=1):
    role = "hidden layer (隐藏层)" if k < len(trace) else "output layer: a = z = ŷ"
    print(f"layer {k}, {role}\n   z{k} = {[round(v.data, 3) for v in z]}\n"
          f"   a{k} = {[round(v.data, 3) for v in a]}")
print("ŷ = model(x) =", round(model(x).data, 3), "| hidden layers:", len(model.layers) - 1,
      "| neurons per layer:", [len(layer.neurons) for layer in model.layers])

# %%
fig, axes = plt.subplots(1, 3, figsize=(10, 2.8), sharey=True)
for k, (ax, (z, a)) in enumerate(zip(axes, trace), start=1):
    idx = np.arange(len(z))
    ax.bar(idx - 0.18, [v.data for v in z], width=0.36, color="#93c5fd", edgecolor="#1d4ed8", label=f"z{k}")
    ax.bar(idx + 0.18, [v.data for v in a], width=0.36, color="#f97316", label=f"a{k} = σ(z{k})")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(idx, [f"neuron {i + 1}" for i in idx])
    last = k == len(trace)
    ax.set_title(f"layer {k}: " + ("output, linear (a = z)" if last else "hidden, ReLU"), fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
axes[0].set_ylabel("value for x = (0.5, −1.0)")
fig.suptitle("one forward pass: ReLU zeroes the negative z in the hidden layers; the output layer keeps z",
             fontsize=10)
plt.tight_layout()
plt.show()

# %% [markdown]
# **Why is the last layer linear?** ŷ must be able to take any value the target can: a
# regression target below zero, a logit (a score before the sigmoid) of −5. An activation on the
# output would clip it — a ReLU output can never be negative. Below, the same network is trained
# twice on a target that dips to −0.5: once as it is, once with a ReLU on its output
# (`ReluOutput`, a model of our own: any object with `parameters()` and a call trains with `fit`).
#
# A word on `fit(..., engine=...)`, used from here on: it says how `fit` computes each batch's
# gradients. `"eager"` builds the Value graph of every sample and calls `backward()`, as in the
# lessons so far. `"tape"` and `"batched"` trace the graph of one sample once and replay it as
# generated code: `"tape"` on plain floats, sample by sample, `"batched"` with numpy, all samples
# at once. Same numbers (to rounding), many times faster. The default, `"auto"`, picks `"batched"`
# for the library's own models and losses and `"eager"` otherwise: a model of your own may branch
# on `.data` in Python, which a trace would freeze. Lesson 10 opens the tape up, and shows a fourth,
# `"torch"`, which trains the same model through PyTorch (never picked by `"auto"`).

# %%
X1, y1 = piecewise_linear(n=40, seed=0)  # a curve of four straight pieces, down to −0.5


class ReluOutput(Module):
    """An MLP whose output goes through one more ReLU: ŷ = relu(MLP(x))."""

    def __init__(self, seed):
        self.mlp = MLP(1, [8, 1], activation="tanh", seed=seed)

    def __call__(self, x):
        return self.mlp(x).relu()


linear_out = MLP(1, [8, 1], activation="tanh", seed=0)
relu_out = ReluOutput(seed=0)
xs = np.linspace(-2, 2, 200)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharey=True)
for ax, net, name in ((axes[0], linear_out, "last layer linear (as MLP does)"),
                      (axes[1], relu_out, "a ReLU after the last layer")):
    # engine="tape" is safe for ReluOutput too: no Python `if` looks at .data (relu branches inside
    # the engine), so a trace replays every sample exactly
    h = fit(net, X1, y1, loss="mse", optimizer="adam", lr=0.05, max_epochs=300, engine="tape",
            progress=False)
    with no_grad():
        ax.plot(xs, [net(float(v)).data for v in xs], color="#dc2626", lw=2, label="model ŷ(x)")
    ax.scatter(X1[:, 0], y1, s=12, color="#374151", label="training data")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_title(f"{name}\ntraining MSE {h.train_loss[-1]:.4f}", fontsize=10)
    ax.set_xlabel("x")
    ax.legend(fontsize=8)
axes[0].set_ylabel("y")
plt.tight_layout()
plt.show()

# %% [markdown]
# *Question:* which output activation would keep ŷ between 0 and 1, and when would you want that?
# (Lesson 8, section 4, answers: the output stays linear, a logit, and the loss applies the sigmoid itself.)

# %% [markdown]
# ## 2 · The activation function adds non-linearity (激活函数 … 增加非线性能力)
#
# The notes: "激活函数（sigmoid、ReLU 等）… 用来增加非线性能力，让模型学到更复杂的映射关系". Take
# the activation away (`activation="linear"`, σ(z) = z) and every layer is a linear map of the one
# before: W³(W²(W¹x + b¹) + b²) + b³ is again W·x + b, **one straight line however deep the
# network is**. Three networks of the same shape, three hidden layers of 8, trained the same way:

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 3.3), sharey=True)
deep = {}
for ax, act in zip(axes, ("linear", "relu", "sigmoid")):
    net = MLP(1, [8, 8, 8, 1], activation=act, seed=0)
    h = fit(net, X1, y1, loss="mse", optimizer="adam", lr=0.02, max_epochs=600, engine="tape",
            progress=False)
    deep[act] = net
    with no_grad():
        ax.plot(xs, [net(float(v)).data for v in xs], color="#dc2626", lw=2, label="model ŷ(x)")
    ax.scatter(X1[:, 0], y1, s=12, color="#374151", label="training data")
    ax.set_title(f'activation="{act}"\n{len(net.parameters())} parameters, '
                 f"training MSE {h.train_loss[-1]:.4f}", fontsize=10)
    ax.set_xlabel("x")
    ax.legend(fontsize=8, loc="lower right")
axes[0].set_ylabel("y")
plt.tight_layout()
plt.show()

with no_grad():
    at0, at1 = deep["linear"](0.0).data, deep["linear"](1.0).data
print(f"the linear network, 3 hidden layers and {len(deep['linear'].parameters())} parameters, is the line "
      f"ŷ = {at1 - at0:.4f}·x + {at0:.4f}")

# %% [markdown]
# With ReLU the curve is **piecewise linear** (分段线性): each ReLU adds a kink where its z crosses 0.
# With sigmoid it bends smoothly. Without an activation, 169 parameters buy two numbers, a slope and
# an intercept. The exercise below asks you to multiply the layers out yourself.
#
# *Question:* a ReLU network's curve is made of straight pieces. Where can its kinks be, and how
# many can a hidden layer of 8 ReLUs make on a line?

# %% [markdown]
# ## 3 · Each hidden layer's output is a new feature for the next (组合结果就是新的特征值，送到下一层)
#
# The notes: the sigmoid units' weighted sum "就是新的特征值，送到下一层去". Train a small network on
# the two moons and draw what every neuron computes over the input plane: each small picture is one
# aᵢˡ(x₁, x₂). The first layer can only cut the plane with straight lines (each ReLU is a ramp
# rising across one line); the second layer combines those ramps into bent regions; the output adds
# the second layer's features up into the decision boundary.

# %%
Xm, ym = make_moons(n=120, noise=0.1, seed=0)
features = MLP(2, [6, 6, 1], activation="relu", seed=0)
h = fit(features, Xm, ym, loss="binary_cross_entropy", optimizer="adam", lr=0.05, max_epochs=150,
        engine="batched", progress=False)
with no_grad():
    accuracy = np.mean([(features(list(x)).data > 0) == t for x, t in zip(Xm, ym)])
print(f"after {h.n_epochs} epochs: training loss {h.train_loss[-1]:.3f}, training accuracy {accuracy:.0%}")

plot_layer_features(features, Xm, ym, resolution=32)
plt.tight_layout()
plt.show()

# %% [markdown]
# *Question:* the first layer's pictures are all ramps with straight edges. Which pictures in the
# second row could not have been made by a single first-layer neuron, and why?

# %% [markdown]
# ## Exercise
#
# The cell below holds a stub: replace the `...` with your code and run the cell; the check under
# it says whether it is right, and gives a hint when it is not.
#
# **A linear network is one layer.** Given the weight matrices Wˡ (numpy, shape (nout, nin):
# row i holds neuron i's weights) and biases bˡ of a network with linear activations, return the
# one layer (W, b) with W·x + b equal to the network's output for every x. `layer_matrices(model)`
# reads them from a model (numpy's `@` multiplies matrices).

# %%
from microgradlike.exercises.training import check_linear_collapse, layer_matrices

weights, biases = layer_matrices(deep["linear"])
print("the linear network of section 2:", [w.shape for w in weights])


def collapse(weights, biases):
    """Returns (W, b)."""
    ...  # your code here


check_linear_collapse(collapse)
