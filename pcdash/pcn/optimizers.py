"""The optax optimisers of a PCN: one chain for the states ``h`` (inference, with Langevin
noise prepended for Monte Carlo PC), one for the weights θ.

Learning rates may be traced per-member scalars, so a whole γ grid shares one compiled program;
the weight optimiser is a traced integer, so AdamW and SGD members share one too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, Int, PRNGKeyArray

from pcdash.promotion import standard_promotion

STATE_OPTIMIZERS = ("sgd", "adam")
WEIGHT_OPTIMIZERS = ("adamw", "sgd")  # index = the ``weight_optimizer`` hyperparameter (int)


class LangevinState(NamedTuple):
    key: PRNGKeyArray


def add_langevin_noise(
    state_lr: float | Array, temperature: float | Array, key: PRNGKeyArray, momentum: float = 0.0
) -> optax.GradientTransformation:
    """Adds ``N(0, 2 σ² (1 − m) / γ)`` to every gradient (``σ² = temperature``, ``m = momentum``).

    Placed before ``trace(m)`` and ``scale_by_learning_rate(γ)`` (see :func:`state_optimizer`)
    it turns descent on the states into Langevin dynamics that sample ``exp(−F / σ²)``:

    * ``m = 0``: ``Δh = −γ ∇F + √(2γ) N``, ``N ~ N(0, σ²)`` (PCX paper, Eq. 4);
    * ``m > 0``: ``v ← m v + ∇F + ξ``, ``Δh = −γ v`` — second-order Langevin dynamics with
      friction ``1 − m`` (Eq. 5–6; the printed equations put ``γ`` into the velocity's units,
      this is the form of the PCX implementation, ``sgdld``).

    The key is carried in the state, so every call draws fresh noise."""

    def init(params):
        del params
        return LangevinState(key)

    def update(updates, state, params=None):
        del params
        next_key, sub = jax.random.split(state.key)
        std = jnp.sqrt(2.0 * temperature * (1.0 - momentum) / state_lr)
        leaves, treedef = jax.tree_util.tree_flatten(updates)
        keys = jax.random.split(sub, len(leaves))
        noisy = [
            u + std * jax.random.normal(k, u.shape, u.dtype)
            for u, k in zip(leaves, keys, strict=True)
        ]
        return jax.tree_util.tree_unflatten(treedef, noisy), LangevinState(next_key)

    return optax.GradientTransformation(init, update)


def state_optimizer(
    state_lr: float | Float[Array, ""],
    *,
    name: str = "sgd",
    momentum: float = 0.9,
    temperature: float | Float[Array, ""] = 0.0,
    key: PRNGKeyArray | None = None,
) -> optax.GradientTransformation:
    """The optimiser of the states ``h`` (inference), one optax chain:

    ``[add_langevin_noise] → [trace(m)] → scale_by_learning_rate(γ)`` for ``name="sgd"``
    (``v ← m v + ∇_h F``, ``h ← h − γ v``; no trace when ``m = 0``), or Adam (``"adam"``).
    With a ``key`` the chain starts with Langevin noise of ``temperature`` σ² (MCPC,
    :func:`add_langevin_noise`); without one it is exactly ``optax.sgd(γ, m)``.

    ``state_lr`` is γ. Re-initialised for every batch, like the states themselves.
    """
    if name == "adam":
        if key is not None:
            raise ValueError("Langevin noise goes with the SGD state optimiser")
        return standard_promotion(optax.adam(state_lr))
    if name != "sgd":
        raise ValueError(
            f"unknown state optimizer {name!r}; choose from {', '.join(STATE_OPTIMIZERS)}"
        )
    if key is None:
        return optax.sgd(state_lr, momentum=momentum if momentum > 0 else None)
    return optax.chain(
        add_langevin_noise(state_lr, temperature, key, momentum),
        optax.trace(decay=momentum) if momentum > 0 else optax.identity(),
        optax.scale_by_learning_rate(state_lr),
    )


def select_optimizer(
    index: int | Int[Array, ""], choices: Sequence[optax.GradientTransformation]
) -> optax.GradientTransformation:
    """Runs every optimiser in ``choices`` and keeps the updates of ``choices[index]``.

    All states are carried (they are small next to the activations), so members that use
    different optimisers have the same pytree structure and train in one vmapped program.
    """

    def init(params):
        return tuple(opt.init(params) for opt in choices)

    def update(grads, state, params=None):
        results = [opt.update(grads, s, params) for opt, s in zip(choices, state, strict=True)]
        which = jnp.asarray(index)

        def pick(*leaves):
            return jnp.select([which == i for i in range(len(leaves))], list(leaves), leaves[0])

        updates = jax.tree_util.tree_map(pick, *(u for u, _ in results))
        return updates, tuple(s for _, s in results)

    return optax.GradientTransformation(init, update)


def weight_optimizer(
    optimizer: int | Int[Array, ""],
    weight_lr: float | Float[Array, ""],
    *,
    weight_decay: float = 1e-4,
    momentum: float = 0.9,
) -> optax.GradientTransformation:
    """Learning-phase optimiser on θ: AdamW (``optimizer = 0``) or SGD with momentum (``1``,
    ``v ← m v + ∇θ``, ``θ ← θ − lr (v + wd θ)``), as compared in the PCX paper's Fig. 6c and
    Fig. 7. Both decay the weights decoupled from the gradient (it never enters the momentum or
    Adam's moments), by ``lr · wd · θ`` per step."""
    sgd = optax.chain(
        optax.trace(decay=momentum) if momentum > 0 else optax.identity(),
        optax.add_decayed_weights(weight_decay) if weight_decay > 0 else optax.identity(),
        optax.scale_by_learning_rate(weight_lr),
    )
    adamw = standard_promotion(optax.adamw(weight_lr, weight_decay=weight_decay))
    return select_optimizer(optimizer, (adamw, sgd))
