"""Energies of a predictive coding network (PCX paper, Eq. 1).

``F = Σ_{l=1}^{L} F_l`` with ``F_l = ½‖h_l − μ_l‖²`` for the hidden layers and, at the output,
either the same squared error (``"se"``) or a cross-entropy (``"ce"``):
``F_L = −Σ_k y_k log softmax(μ_L)_k`` with ``h_L = y`` clamped to the (one-hot) label.
Every energy here is summed over units and averaged over the batch, like PCX's ``model.energy()``.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from pcdash.pcn.network import MLP, predictions

OUTPUT_ENERGIES = ("se", "ce")


def squared_error(h: Float[Array, "batch d"], mu: Float[Array, "batch d"]) -> Float[Array, ""]:
    """``½ ⟨‖h − μ‖²⟩_batch``: a Gaussian layer's energy (unit variance)."""
    return 0.5 * jnp.mean(jnp.sum(jnp.square(h - mu), axis=-1))


def cross_entropy(y: Float[Array, "batch k"], logits: Float[Array, "batch k"]) -> Float[Array, ""]:
    """``⟨−Σ_k y_k log softmax(μ)_k⟩_batch``: a categorical output layer's energy."""
    return jnp.mean(-jnp.sum(y * jax.nn.log_softmax(logits, axis=-1), axis=-1))


def output_energy(
    target: Float[Array, "batch k"], mu_out: Float[Array, "batch k"], *, loss: str = "se"
) -> Float[Array, ""]:
    """``F_L``: ``½‖h_L − μ_L‖²`` (``loss="se"``) or ``−Σ_k h_{L,k} log softmax(μ_L)_k`` (``"ce"``),
    with the output state ``h_L = target`` clamped."""
    if loss == "se":
        return squared_error(target, mu_out)
    if loss == "ce":
        return cross_entropy(target, mu_out)
    raise ValueError(f"unknown output energy {loss!r}; choose from {', '.join(OUTPUT_ENERGIES)}")


def layer_energies(
    mlp: MLP,
    x: Float[Array, "batch d_0"],
    hidden: Sequence[Float[Array, "batch _"]],
    target: Float[Array, "batch k"],
    *,
    loss: str = "se",
    mu_1: Float[Array, "batch d_1"] | None = None,
) -> Float[Array, " L"]:
    """``(F_1, …, F_L)`` with ``F_l = ½‖h_l − μ_l‖²`` (``l < L``) and ``F_L`` the output energy.

    Args:
        mlp: the weights θ.
        x: the clamped input ``h_0``.
        hidden: the free states ``h_1 … h_{L−1}``.
        target: the clamped output ``h_L`` (one-hot label, or a nudged target).
        loss: output energy, ``"se"`` or ``"ce"``.
        mu_1: ``μ_1(x)`` if already computed (it does not depend on the states).

    Returns:
        One energy per layer, layer 1 = first hidden layer, layer L = output.
    """
    mus = predictions(mlp, x, hidden, mu_1=mu_1)
    hidden_energies = [squared_error(h, mu) for h, mu in zip(hidden, mus[:-1], strict=True)]
    return jnp.stack([*hidden_energies, output_energy(target, mus[-1], loss=loss)])


def energy(
    mlp: MLP,
    x: Float[Array, "batch d_0"],
    hidden: Sequence[Float[Array, "batch _"]],
    target: Float[Array, "batch k"],
    *,
    loss: str = "se",
) -> Float[Array, ""]:
    """The variational free energy ``F = Σ_l F_l`` (PCX paper, Eq. 1), averaged over the batch."""
    return jnp.sum(layer_energies(mlp, x, hidden, target, loss=loss))
