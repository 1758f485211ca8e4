"""Small layers shared by the CNN and ViT CREs, following PyTorch's definitions (the authors'
models are PyTorch models)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


def batch_norm(
    x: Float[Array, "batch ... C"],
    running_mean: Float[Array, " C"],
    running_var: Float[Array, " C"],
    *,
    train: bool,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> tuple[Float[Array, "batch ... C"], Float[Array, " C"], Float[Array, " C"]]:
    """PyTorch's batch norm without its affine part, over every axis but the last:
    ``y = (x − μ) / √(σ² + ε)``.

    In train mode ``μ, σ²`` are the batch's (σ² biased) and the running statistics move towards
    them, ``new = (1 − momentum)·old + momentum·batch`` with the *unbiased* batch variance, gradient
    stopped; in eval mode the running statistics are used and returned unchanged.
    """
    axes = tuple(range(x.ndim - 1))
    if train:
        mean = jnp.mean(x, axis=axes)
        var = jnp.var(x, axis=axes)
        n = x.size // x.shape[-1]
        unbiased = var * n / max(n - 1, 1)
        new_mean = jax.lax.stop_gradient((1.0 - momentum) * running_mean + momentum * mean)
        new_var = jax.lax.stop_gradient((1.0 - momentum) * running_var + momentum * unbiased)
    else:
        mean, var = running_mean, running_var
        new_mean, new_var = running_mean, running_var
    return (x - mean) * jax.lax.rsqrt(var + eps), new_mean, new_var
