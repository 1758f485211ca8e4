"""The energy of a predictive coding network over all its layers (PCX paper, Eq. 1 and §3).

With states ``h_0 … h_L`` and predictions ``μ_l = f_l(h_{l−1})``, per example

    F = F_0 + Σ_l F_l,  F_0 = prior/2 ‖h_0 − θ_0‖²,  F_l = ½ Σ_i e^{−s_{l,i}} ε_{l,i}² + s_{l,i}

with ``ε_l = h_l − μ_l``. ``F_0`` is the prior ``P(h_0) = N(θ_0, I / prior)`` of a generative
model (zero for a discriminative one, whose ``h_0 = x`` is clamped); ``s_l`` are log-variances
(precision per layer or per neuron; ``s = 0``, unit variance, unless given), so ``F_l`` is
``½‖ε_l‖²`` by default. At the output ``F_L`` may instead be a cross-entropy (``loss="ce"``):
``−Σ_k h_{L,k} log softmax(μ_L)_k`` with ``h_L`` clamped to the (one-hot) label. Which states
are clamped is the caller's choice (:mod:`pcdash.pcn.inference`): the energy is the same.

:func:`example_energies` gives ``F_l`` per example; the discriminative helpers
(:func:`layer_energies`, :func:`energy`) average over the batch, like PCX's ``model.energy()``.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from pcdash.pcn.network import MLP, predictions

OUTPUT_ENERGIES = ("se", "ce")
States = Sequence[Float[Array, "batch _"]]  # (h_0, h_1, …, h_L)
LogVar = Sequence[
    Float[Array, " _"]
]  # s_1 … s_L, each of shape (1,) (per layer) or (d_l,) (per neuron)


def squared_error(h: Float[Array, "batch d"], mu: Float[Array, "batch d"]) -> Float[Array, ""]:
    """``½ ⟨‖h − μ‖²⟩_batch``: a Gaussian layer's energy (unit variance)."""
    return jnp.mean(_gaussian(h, mu, None))


def cross_entropy(y: Float[Array, "batch k"], logits: Float[Array, "batch k"]) -> Float[Array, ""]:
    """``⟨−Σ_k y_k log softmax(μ)_k⟩_batch``: a categorical output layer's energy."""
    return jnp.mean(_categorical(y, logits))


def output_energy(
    target: Float[Array, "batch k"], mu_out: Float[Array, "batch k"], *, loss: str = "se"
) -> Float[Array, ""]:
    """``F_L``: ``½‖h_L − μ_L‖²`` (``loss="se"``) or ``−Σ_k h_{L,k} log softmax(μ_L)_k`` (``"ce"``),
    with the output state ``h_L = target`` clamped; batch mean."""
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
    return jnp.mean(_gaussian(h, mu, log_var))


def _gaussian(h, mu, log_var) -> Float[Array, " batch"]:
    if log_var is None:
        return 0.5 * jnp.sum(jnp.square(h - mu), axis=-1)
    s = jnp.broadcast_to(log_var, h.shape[-1:])
    return 0.5 * jnp.sum(jnp.exp(-s) * jnp.square(h - mu) + s, axis=-1)


def _categorical(y, logits) -> Float[Array, " batch"]:
    return -jnp.sum(y * jax.nn.log_softmax(logits, axis=-1), axis=-1)


def example_energies(
    mlp: MLP,
    states: States,
    *,
    loss: str = "se",
    log_var: LogVar | None = None,
    form: str = "post",
    mu_1: Float[Array, "batch d_1"] | None = None,
) -> Float[Array, "batch L"]:
    """``F_l^{(n)}`` for ``l = 1 … L``, one row per example.

    Args:
        mlp: the weights θ.
        states: ``(h_0, h_1, …, h_L)``, clamped or not.
        loss: the output energy, ``"se"`` (Gaussian, like every other layer) or ``"ce"``.
        log_var: per layer ``l = 1 … L`` its log-variances ``s_l`` (shape ``(1,)`` per layer or
            ``(d_l,)`` per neuron), or None for unit variances. A cross-entropy output is left
            unscaled.
        form: the layer form of :func:`~pcdash.pcn.network.layer_prediction`.
        mu_1: ``μ_1(h_0)`` if already computed (when ``h_0`` is clamped it never changes).
    """
    if loss not in OUTPUT_ENERGIES:
        raise ValueError(
            f"unknown output energy {loss!r}; choose from {', '.join(OUTPUT_ENERGIES)}"
        )
    mus = predictions(mlp, states[0], states[1:-1], mu_1=mu_1, form=form)
    variances = log_var if log_var is not None else (None,) * len(mus)
    energies = [
        _gaussian(h, mu, s) for h, mu, s in zip(states[1:-1], mus[:-1], variances[:-1], strict=True)
    ]
    if loss == "ce":
        energies.append(_categorical(states[-1], mus[-1]))
    else:
        energies.append(_gaussian(states[-1], mus[-1], variances[-1]))
    return jnp.stack(energies, axis=-1)


def prior_energy(
    h0: Float[Array, "batch d_0"],
    *,
    prior: float = 0.0,
    prior_mean: Float[Array, " d_0"] | None = None,
) -> Float[Array, " batch"]:
    """``F_0 = prior/2 ‖h_0 − θ_0‖²`` per example (``prior_mean`` None: ``θ_0 = 0``)."""
    centred = h0 if prior_mean is None else h0 - prior_mean
    return 0.5 * prior * jnp.sum(jnp.square(centred), axis=-1)


def total_energy(
    mlp: MLP,
    states: States,
    *,
    prior: float = 0.0,
    prior_mean: Float[Array, " d_0"] | None = None,
    **options,
) -> Float[Array, " batch"]:
    """``F^{(n)} = F_0 + Σ_l F_l`` per example; ``options`` as :func:`example_energies`."""
    return prior_energy(states[0], prior=prior, prior_mean=prior_mean) + jnp.sum(
        example_energies(mlp, states, **options), axis=-1
    )


def layer_energies(
    mlp: MLP,
    x: Float[Array, "batch d_0"],
    hidden: Sequence[Float[Array, "batch _"]],
    target: Float[Array, "batch k"],
    *,
    loss: str = "se",
    mu_1: Float[Array, "batch d_1"] | None = None,
    log_var: LogVar | None = None,
) -> Float[Array, " L"]:
    """``(F_1, …, F_L)`` of a discriminative network, averaged over the batch: ``h_0 = x`` and
    ``h_L = target`` (one-hot label, or a nudged target) clamped, ``hidden = (h_1 … h_{L−1})``.
    Layer 1 is the first hidden layer, layer L the output; see :func:`example_energies`."""
    states = (x, *hidden, target)
    return jnp.mean(example_energies(mlp, states, loss=loss, log_var=log_var, mu_1=mu_1), axis=0)


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
