"""Energies of a predictive coding network (PCX paper, Eq. 1).

``F = Σ_{l=1}^{L} F_l`` with ``F_l = ½‖h_l − μ_l‖²`` for the hidden layers and, at the output,
either the same squared error (``"se"``) or a cross-entropy (``"ce"``):
``F_L = −Σ_k y_k log softmax(μ_L)_k`` with ``h_L = y`` clamped to the (one-hot) label.
Every energy here is summed over units and averaged over the batch, like PCX's ``model.energy()``.
With trainable precision (BP-vs-PC comparison, condition 3 relaxed) a squared-error layer has a
learned variance per layer or per neuron: :func:`gaussian_energy`.
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


def gaussian_energy(
    h: Float[Array, "batch d"], mu: Float[Array, "batch d"], log_var: Float[Array, " d_or_1"]
) -> Float[Array, ""]:
    """``½ ⟨Σ_i exp(−s_i) (h_i − μ_i)² + s_i⟩_batch``: the negative log-likelihood of
    ``N(h; μ, diag(exp(s)))`` without its constant (BP-vs-PC comparison, Eq. 6).

    ``log_var`` is ``s``, one log-variance per unit (shape ``(d,)``: precision per neuron) or one
    for the whole layer (shape ``(1,)``, broadcast: precision per layer, ``Σ_i s = d·s``). With
    ``s = 0`` this is :func:`squared_error`. ``∂/∂s_i = ½ (1 − exp(−s_i) ⟨(h_i − μ_i)²⟩)`` is zero
    where the variance ``exp(s_i)`` equals the mean squared error of unit ``i`` (per layer: of the
    layer's units together); ``∂/∂h = exp(−s) (h − μ)`` is the precision-weighted error (Eq. 7).
    """
    s = jnp.broadcast_to(log_var, h.shape[-1:])
    return 0.5 * jnp.mean(jnp.sum(jnp.exp(-s) * jnp.square(h - mu) + s, axis=-1))


def layer_energies(
    mlp: MLP,
    x: Float[Array, "batch d_0"],
    hidden: Sequence[Float[Array, "batch _"]],
    target: Float[Array, "batch k"],
    *,
    loss: str = "se",
    mu_1: Float[Array, "batch d_1"] | None = None,
    log_var: Sequence[Float[Array, " _"]] | None = None,
) -> Float[Array, " L"]:
    """``(F_1, …, F_L)`` with ``F_l = ½‖h_l − μ_l‖²`` (``l < L``) and ``F_L`` the output energy.

    Args:
        mlp: the weights θ.
        x: the clamped input ``h_0``.
        hidden: the free states ``h_1 … h_{L−1}``.
        target: the clamped output ``h_L`` (one-hot label, or a nudged target).
        loss: output energy, ``"se"`` or ``"ce"``.
        mu_1: ``μ_1(x)`` if already computed (it does not depend on the states).
        log_var: trainable precision: per layer ``l = 1 … L`` its log-variances ``s_l`` (shape
            ``(1,)`` per layer or ``(d_l,)`` per neuron), or None for unit variances. Every
            squared-error layer's energy becomes :func:`gaussian_energy`; a cross-entropy
            output is left unscaled.

    Returns:
        One energy per layer, layer 1 = first hidden layer, layer L = output.
    """
    mus = predictions(mlp, x, hidden, mu_1=mu_1)
    states = (*hidden, target)
    if log_var is None:
        energies = [squared_error(h, mu) for h, mu in zip(hidden, mus[:-1], strict=True)]
    else:
        energies = [gaussian_energy(h, mu, s) for h, mu, s in zip(states, mus, log_var, strict=True)]
        if loss == "se":
            return jnp.stack(energies)
        energies = energies[:-1]
    return jnp.stack([*energies, output_energy(target, mus[-1], loss=loss)])


def init_log_var(sizes: Sequence[int], *, per_neuron: bool) -> tuple[Float[Array, " _"], ...]:
    """Unit variances (``s = 0``) for layers ``1 … L`` of an MLP with widths ``sizes``: one
    log-variance per unit (``per_neuron``) or one per layer."""
    return tuple(jnp.zeros(int(d) if per_neuron else 1, jnp.float32) for d in sizes[1:])


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
