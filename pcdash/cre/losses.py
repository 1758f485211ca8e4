"""The CRE objective with the reference's gradient routing.

The encoder is trained on ``L = λ·L_MSE + (1−λ)·L_CE``, while the decoder always receives
``∇L_MSE`` and the classifier always ``∇L_CE`` — at every λ, including 0 and 1. A plain
weighted sum would be wrong: at λ = 0 the decoder would never learn.

One loss does all three with :func:`scale_grad`: the decoder reads ``scale_grad(z, λ)`` and the
classifier ``scale_grad(z, 1−λ)``; both equal ``z`` in the forward pass, so the heads see the
true latent, but the gradient flowing back into the encoder is scaled by λ and 1−λ.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, Int, PyTree


def scale_grad(x: Array, scale: Array | float) -> Array:
    """Identity in the forward pass; multiplies the backward gradient by ``scale``:
    ``scale·x + (1 − scale)·stop_gradient(x)``."""
    return scale * x + (1.0 - scale) * jax.lax.stop_gradient(x)


def mse_per_example(
    x_hat: Float[Array, "batch ..."], x: Float[Array, "batch ..."]
) -> Float[Array, " batch"]:
    """Mean squared error over pixels (in [−1, 1] units), one value per example."""
    return jnp.mean(jnp.square(x_hat - x).reshape(x.shape[0], -1), axis=-1)


def ce_per_example(
    logits: Float[Array, "batch classes"], y: Int[Array, " batch"]
) -> Float[Array, " batch"]:
    return optax.softmax_cross_entropy_with_integer_labels(logits, y)


def routed_loss(
    model,
    state: PyTree,
    x: Float[Array, "batch ..."],
    y: Int[Array, " batch"],
    lam: Array | float,
    *,
    train: bool = True,
) -> tuple[Array, tuple[dict[str, Array], PyTree]]:
    """``L_MSE + L_CE`` whose gradient is ∇L_MSE for the decoder, ∇L_CE for the classifier and
    ``λ∇L_MSE + (1−λ)∇L_CE`` for the encoder.

    Returns:
        (the routed scalar, (metrics with ``mse``, ``ce``, ``accuracy``, ``loss`` = λ·MSE +
        (1−λ)·CE,
        the updated non-trainable state)).
    """
    z, state = model.encode(x, state, train=train)
    x_hat = model.decode(scale_grad(z, lam))
    logits, state = model.classify(scale_grad(z, 1.0 - lam), state, train=train)
    mse = jnp.mean(mse_per_example(x_hat, x))
    ce = jnp.mean(ce_per_example(logits, y))
    metrics = {
        "mse": mse,
        "ce": ce,
        "accuracy": jnp.mean(jnp.argmax(logits, -1) == y),
        "loss": lam * mse + (1.0 - lam) * ce,
    }
    return mse + ce, (metrics, state)
