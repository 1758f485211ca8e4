"""Feed-forward networks whose layers predict each other: ``μ_l = f_l(h_{l−1}; θ_l)``.

Notation of the PCX paper (§3): ``h_0 = x`` is the input, ``h_1 … h_{L−1}`` the hidden states,
``h_L`` the output. Hidden layers are ``μ_l = σ(W_l h_{l−1} + b_l)``; the output layer has no
activation, ``μ_L = W_L h_{L−1} + b_L`` (:data:`OUTPUT_ACTIVATION`), as in PCX.

What PCX does: every discriminative PCN of the PCX code — its two-moons tutorial, the MLPs of the
benchmark (``examples/discriminative_experiments/MLP``) and the energy-propagation and
training-stability models of §5.1 (``examples/energy_propagation_training_stability``) — builds
its hidden layers as ``vode(act(linear(h)))`` and its output as ``vode(linear(h))``, with no
activation. The squared-error output energy ``½‖y − μ_L‖²`` therefore compares the one-hot label
with unbounded logits, and the cross-entropy energy ``−Σ_k y_k log softmax(μ_L)_k`` applies its
softmax inside the energy, not in the network. (Only PCX's backprop baseline of the
training-stability study applies the activation to its output layer too; pcdash's BP twins use
this same network, so PC and BP differ only in how they learn.) Arrays are batched on the
leading axis.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "relu": jax.nn.relu,
    "leaky_relu": jax.nn.leaky_relu,
    "gelu": jax.nn.gelu,
    "tanh": jnp.tanh,
    "hard_tanh": jax.nn.hard_tanh,
}
ACTIVATION_NAMES: dict[str, str] = {
    "relu": "ReLU",
    "leaky_relu": "LeakyReLU",
    "gelu": "GELU",
    "tanh": "Tanh",
    "hard_tanh": "HardTanh",
}
OUTPUT_ACTIVATION = "identity"  # μ_L = W_L h_{L−1} + b_L, as in PCX (see the module doc)
FORMS = ("post", "pre")  # the layer forms of layer_prediction


class MLP(eqx.Module):
    """Weights ``θ_l = (W_l, b_l)`` for ``l = 1 … L``; ``activation`` is a static name from
    :data:`ACTIVATIONS`, applied to every layer but the last."""

    weights: tuple[Float[Array, "out in"], ...]
    biases: tuple[Float[Array, " out"], ...]
    activation: str = eqx.field(static=True)

    @property
    def num_layers(self) -> int:
        """``L``, the number of weight layers (hidden layers + 1)."""
        return len(self.weights)

    @property
    def sizes(self) -> tuple[int, ...]:
        """``(d_0, d_1, …, d_L)``: input, hidden and output widths."""
        return (self.weights[0].shape[1], *(w.shape[0] for w in self.weights))


def init_mlp(key: PRNGKeyArray, sizes: Sequence[int], *, activation: str = "leaky_relu") -> MLP:
    """An MLP with layer widths ``sizes = (d_0, …, d_L)``.

    Weights and biases are drawn from ``U(−1/√d_in, 1/√d_in)``, the initialisation of
    ``equinox.nn.Linear`` (and therefore of PCX's ``pxnn.Linear``).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose from {', '.join(ACTIVATIONS)}")
    if len(sizes) < 2:
        raise ValueError("an MLP needs at least an input and an output size")
    # One draw for every parameter: each random op costs XLA a noticeable compile on CPU.
    pairs = list(itertools.pairwise(int(s) for s in sizes))
    counts = [n for d_in, d_out in pairs for n in (d_out * d_in, d_out)]
    u = jax.random.uniform(key, (sum(counts),), minval=-1.0, maxval=1.0)
    chunks = jnp.split(u, list(itertools.accumulate(counts))[:-1])
    weights, biases = [], []
    for (d_in, d_out), w, b in zip(pairs, chunks[0::2], chunks[1::2], strict=True):
        bound = 1.0 / (d_in**0.5)
        weights.append(bound * w.reshape(d_out, d_in))
        biases.append(bound * b)
    return MLP(tuple(weights), tuple(biases), activation)


def layer_prediction(
    mlp: MLP, layer: int, h_prev: Float[Array, "batch d_prev"], *, form: str = "post"
) -> Float[Array, "batch d"]:
    """``μ_l`` from ``h_{l−1}`` (``layer`` 1-based, ``1 … L``, as in the paper), in one of two
    layer forms (:data:`FORMS`):

    * ``"post"``: ``μ_l = σ(W_l h_{l−1} + b_l)`` for hidden layers and ``μ_L = W_L h_{L−1} + b_L``
      for the output (no activation: :data:`OUTPUT_ACTIVATION`, as in PCX's discriminative
      models and its autoencoder, whose states are activations);
    * ``"pre"``: ``μ_l = W_l σ(h_{l−1}) + b_l`` — PCX's MCPC models, whose states are
      pre-activations: each layer feeds ``σ`` of the state below into a linear map, so the unit
      noise of a hidden state is squashed by ``σ`` before it reaches the layer it predicts.
    """
    w, b = mlp.weights[layer - 1], mlp.biases[layer - 1]
    if form == "pre":
        return ACTIVATIONS[mlp.activation](h_prev) @ w.T + b[None, :]
    if form != "post":
        raise ValueError(f"unknown layer form {form!r}; choose from {', '.join(FORMS)}")
    pre = h_prev @ w.T + b[None, :]
    return pre if layer == mlp.num_layers else ACTIVATIONS[mlp.activation](pre)


def predictions(
    mlp: MLP,
    x: Float[Array, "batch d_0"],
    hidden: Sequence[Float[Array, "batch _"]],
    *,
    mu_1: Float[Array, "batch d_1"] | None = None,
    form: str = "post",
) -> tuple[Float[Array, "batch _"], ...]:
    """``(μ_1, …, μ_L)`` with ``μ_l = f_l(h_{l−1})``, ``h_0 = x`` and ``h_1 … h_{L−1} = hidden``.

    ``μ_1`` depends only on ``h_0``, so callers that evaluate it many times with ``h_0``
    clamped (discriminative inference) may pass it precomputed.
    """
    first = layer_prediction(mlp, 1, x, form=form) if mu_1 is None else mu_1
    rest = (layer_prediction(mlp, layer, h, form=form) for layer, h in enumerate(hidden, start=2))
    return (first, *rest)


def forward_pass(
    mlp: MLP, x: Float[Array, "batch d_0"], *, form: str = "post"
) -> tuple[Float[Array, "batch _"], ...]:
    """Forward initialisation ``h_l = μ_l(h_{l−1})`` for ``l = 1 … L``; returns ``(h_1, …, h_L)``.

    This sets every prediction error ``ε_l = h_l − μ_l`` to zero; ``h_L`` is the network output
    (for a generative model, the top-down pass from ``h_0 = x`` alone).
    """
    states = []
    h = x
    for layer in range(1, mlp.num_layers + 1):
        h = layer_prediction(mlp, layer, h, form=form)
        states.append(h)
    return tuple(states)
