"""Loss landscapes along two filter-normalised random directions (Li et al., 2018).

``L(α, β) = ℓ(θ + α d_1 + β d_2)``: each direction is Gaussian, then every row of every weight
matrix (one output unit's incoming weights: a "filter" of an MLP) is rescaled to the norm of the
same row of θ, so the plot is comparable across models whose weights differ in scale. Bias
directions are zero, as in Li et al.'s ``ignore biases`` setting.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from pcdash.pcn.energies import output_energy
from pcdash.pcn.network import MLP, forward_pass


def filter_normalised_direction(key: PRNGKeyArray, mlp: MLP) -> MLP:
    """A random direction shaped like ``mlp``: each weight row has the norm of θ's row; biases 0."""
    keys = jax.random.split(key, len(mlp.weights))
    weights = []
    for k, w in zip(keys, mlp.weights, strict=True):
        d = jax.random.normal(k, w.shape, w.dtype)
        d = (
            d
            / (jnp.linalg.norm(d, axis=1, keepdims=True) + 1e-10)
            * jnp.linalg.norm(w, axis=1, keepdims=True)
        )
        weights.append(d)
    return MLP(tuple(weights), tuple(jnp.zeros_like(b) for b in mlp.biases), mlp.activation)


@eqx.filter_jit
def _grid(
    mlp: MLP, d1: MLP, d2: MLP, x: Array, target: Array, alphas: Array, betas: Array, loss: str
) -> Array:
    def at(a, b):
        m = jax.tree_util.tree_map(lambda t, u, v: t + a * u + b * v, mlp, d1, d2)
        return output_energy(target, forward_pass(m, x)[-1], loss=loss)

    return jax.vmap(lambda b: jax.vmap(lambda a: at(a, b))(alphas))(betas)


def loss_landscape(
    mlp: MLP,
    x: np.ndarray | Array,
    y: np.ndarray | Array,
    *,
    seed: int = 0,
    span: float = 1.0,
    points: int = 21,
    loss: str = "se",
) -> tuple[np.ndarray, np.ndarray, Float[np.ndarray, "points points"]]:
    """``(alphas, betas, Z)`` with ``Z[j, i] = ℓ(θ + alphas[i] d_1 + betas[j] d_2)`` on ``(x, y)``.

    ``mlp`` is one (unstacked) model; ``y`` integer labels; ``loss`` the output loss (``"se"``:
    ½‖μ_L − y‖², ``"ce"``: cross-entropy), averaged over the batch. The same ``seed`` gives the
    same (normalised) directions for models of the same shape, so PC and BP share them.
    """
    if points < 2 or span <= 0:
        raise ValueError("need points >= 2 and span > 0")
    x = jnp.asarray(np.asarray(x, np.float32).reshape(len(x), -1))
    target = jax.nn.one_hot(
        jnp.asarray(np.asarray(y, np.int32)), mlp.weights[-1].shape[0], dtype=x.dtype
    )
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    d1, d2 = filter_normalised_direction(k1, mlp), filter_normalised_direction(k2, mlp)
    alphas = np.linspace(-span, span, points, dtype=np.float32)
    z = _grid(mlp, d1, d2, x, target, jnp.asarray(alphas), jnp.asarray(alphas), loss)
    return alphas, alphas.copy(), np.asarray(z)


def sharpness(
    alphas: np.ndarray, betas: np.ndarray, z: np.ndarray, *, radius: float | None = None
) -> float:
    """``⟨log₁₀ L(α, β) − log₁₀ L(0, 0)⟩`` over the grid points with ``√(α² + β²) ≤ radius``
    (default: the grid's half-width): how many decades, on average, the loss rises within that
    distance of the trained model. A sharper minimum rises more (the BP-vs-PC comparison's Fig. 4:
    relaxing condition 2 makes the loss "rapidly grow to excessive values")."""
    a, b = np.meshgrid(np.asarray(alphas, float), np.asarray(betas, float))
    r = float(np.max(np.abs(alphas))) if radius is None else float(radius)
    inside = np.hypot(a, b) <= r + 1e-9
    centre = np.unravel_index(np.argmin(np.hypot(a, b)), a.shape)
    logs = np.log10(np.maximum(np.asarray(z, float), 1e-12))
    return float(np.mean(logs[inside] - logs[centre]))
