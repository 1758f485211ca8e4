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
    log_var: Float[Array, " L"] | None = None,
) -> Float[Array, " L"]:
    """``(F_1, …, F_L)`` with ``F_l = ½‖h_l − μ_l‖²`` (``l < L``) and ``F_L`` the output energy.

    Args:
        mlp: the weights θ.
        x: the clamped input ``h_0``.
        hidden: the free states ``h_1 … h_{L−1}``.
        target: the clamped output ``h_L`` (one-hot label, or a nudged target).
        loss: output energy, ``"se"`` or ``"ce"``.
        mu_1: ``μ_1(x)`` if already computed (it does not depend on the states).
        log_var: per-layer log-variances ``s_l`` (trainable precision), or None for unit
            variances. A squared-error layer's energy becomes ``exp(−s_l) F_l + ½ n_l s_l``
            (Gaussian with variance ``exp(s_l)``, up to a constant); a cross-entropy output is
            left unscaled.

    Returns:
        One energy per layer, layer 1 = first hidden layer, layer L = output.
    """
    mus = predictions(mlp, x, hidden, mu_1=mu_1)
    hidden_energies = [squared_error(h, mu) for h, mu in zip(hidden, mus[:-1], strict=True)]
    energies = jnp.stack([*hidden_energies, output_energy(target, mus[-1], loss=loss)])
    if log_var is None:
        return energies
    return precision_weighted(energies, log_var, tuple(mu.shape[-1] for mu in mus), loss=loss)


def precision_weighted(
    energies: Float[Array, " L"], log_var: Float[Array, " L"], dims: tuple[int, ...], *, loss: str = "se"
) -> Float[Array, " L"]:
    """``F_l ← exp(−s_l) F_l + ½ n_l s_l`` for every squared-error layer (all hidden layers, and
    the output for ``loss="se"``): the negative log-likelihood of ``N(h_l; μ_l, exp(s_l) I)``
    without its constant. ``∂F_l/∂s_l = ½ n_l − exp(−s_l) F_l`` is zero where the variance
    ``exp(s_l)`` equals the mean squared error per unit."""
    n = jnp.asarray(dims, energies.dtype)
    weighted = jnp.exp(-log_var) * energies + 0.5 * n * log_var
    if loss != "se":
        weighted = weighted.at[-1].set(energies[-1])
    return weighted


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
