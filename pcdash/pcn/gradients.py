"""Weight gradients: predictive coding's local rule and backprop's, on the same MLP.

PC (learning phase, PCX paper Eq. 3): ``∇θ_l = ∂F/∂θ_l = −(∂μ_l/∂θ_l)ᵀ ε_l`` evaluated at the
relaxed states, each layer using only its own prediction error. BP: ``∇_θ ℓ(μ_L(x), y)`` through
the forward pass. With the output nudged, ``h_L = μ_L + β(y − μ_L)``, and inference at
equilibrium, ``∇_θ F / β → ∇_θ ½‖μ_L − y‖²`` as ``β → 0`` (the limit in which PC equals BP).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

import jax
from jaxtyping import Array, Float

from pcdash.pcn.energies import layer_energies, output_energy
from pcdash.pcn.network import MLP, forward_pass


@overload
def pc_weight_gradients(
    mlp: MLP,
    x: Float[Array, "batch d_0"],
    hidden: Sequence[Float[Array, "batch _"]],
    target: Float[Array, "batch k"],
    *,
    loss: str = ...,
    log_var: None = ...,
) -> tuple[MLP, Float[Array, " L"]]: ...


@overload
def pc_weight_gradients(
    mlp: MLP,
    x: Float[Array, "batch d_0"],
    hidden: Sequence[Float[Array, "batch _"]],
    target: Float[Array, "batch k"],
    *,
    loss: str = ...,
    log_var: Sequence[Float[Array, " _"]],
) -> tuple[tuple[MLP, tuple[Array, ...]], Float[Array, " L"]]: ...


def pc_weight_gradients(
    mlp: MLP,
    x: Float[Array, "batch d_0"],
    hidden: Sequence[Float[Array, "batch _"]],
    target: Float[Array, "batch k"],
    *,
    loss: str = "se",
    log_var: Sequence[Float[Array, " _"]] | None = None,
) -> tuple[MLP, Float[Array, " L"]] | tuple[tuple[MLP, tuple[Array, ...]], Float[Array, " L"]]:
    """``∇_θ F(h, θ)`` at the given states, with the per-layer energies ``(F_1, …, F_L)``.

    F is the batch-averaged energy, so the gradient is the batch mean of each example's. With
    ``log_var`` (trainable precision, per layer or per neuron) the gradient is
    ``(∇_θ F, ∇_s F)``; the precision-weighted error ``exp(−s_l) ε_l`` replaces ``ε_l``
    (BP-vs-PC comparison, Eq. 8).
    """
    params = mlp if log_var is None else (mlp, log_var)

    def total(p) -> tuple[Float[Array, ""], Float[Array, " L"]]:
        m, lv = (p, None) if log_var is None else p
        e = layer_energies(m, x, hidden, target, loss=loss, log_var=lv)
        return e.sum(), e

    (_, energies), grads = jax.value_and_grad(total, has_aux=True)(params)
    return grads, energies


def bp_loss_and_gradients(
    mlp: MLP, x: Float[Array, "batch d_0"], y: Float[Array, "batch k"], *, loss: str = "se"
) -> tuple[Float[Array, ""], MLP]:
    """``ℓ = ½‖μ_L − y‖²`` (``"se"``) or ``−Σ_k y_k log softmax(μ_L)_k`` (``"ce"``) of the forward
    pass, batch-averaged, and ``∇_θ ℓ`` by backpropagation."""

    def objective(m: MLP) -> Float[Array, ""]:
        return output_energy(y, forward_pass(m, x)[-1], loss=loss)

    return jax.value_and_grad(objective)(mlp)


def nudged_target(
    mu_out: Float[Array, "batch k"], y: Float[Array, "batch k"], beta: float | Float[Array, ""]
) -> Float[Array, "batch k"]:
    """``h_L = μ_L + β (y − μ_L)``: the output nudged a fraction β of the way to the label
    (β = 1 clamps it to the label; PCX paper, Appendix B, positive nudging; a negative β pushes
    it away, negative nudging)."""
    return mu_out + beta * (y - mu_out)
