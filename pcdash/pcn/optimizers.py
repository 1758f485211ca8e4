"""The optax optimisers of a PCN: one for the states ``h`` (inference), one for the weights θ.

Learning rates may be traced per-member scalars, so a whole γ grid shares one compiled program.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float

STATE_OPTIMIZERS = ("sgd", "adam")
WEIGHT_OPTIMIZERS = ("adamw", "sgd")  # index = the ``opt_id`` hyperparameter


def state_optimizer(
    name: str, state_lr: float | Float[Array, ""], *, momentum: float = 0.9
) -> optax.GradientTransformation:
    """Inference optimiser on ``h``: ``"sgd"`` (``v ← m v + ∇_h F``, ``h ← h − γ v``) or ``"adam"``.

    ``state_lr`` is γ. Re-initialised for every batch, like the states themselves.
    """
    if name == "sgd":
        return optax.sgd(state_lr, momentum=momentum if momentum > 0 else None)
    if name == "adam":
        return optax.adam(state_lr)
    raise ValueError(f"unknown state optimizer {name!r}; choose from {', '.join(STATE_OPTIMIZERS)}")


def select_optimizer(
    index: int | Float[Array, ""] | Array, choices: Sequence[optax.GradientTransformation]
) -> optax.GradientTransformation:
    """Runs every optimiser in ``choices`` and keeps the updates of ``choices[index]``.

    All states are carried (they are small next to the activations), so members that use
    different optimisers have the same pytree structure and train in one vmapped program.
    """

    def init(params):
        return tuple(opt.init(params) for opt in choices)

    def update(grads, state, params=None):
        results = [opt.update(grads, s, params) for opt, s in zip(choices, state, strict=True)]
        which = jnp.round(jnp.asarray(index)).astype(jnp.int32)

        def pick(*leaves):
            return jnp.select([which == i for i in range(len(leaves))], list(leaves), leaves[0])

        updates = jax.tree_util.tree_map(pick, *(u for u, _ in results))
        return updates, tuple(s for _, s in results)

    return optax.GradientTransformation(init, update)


def weight_optimizer(
    opt_id: int | Float[Array, ""],
    weight_lr: float | Float[Array, ""],
    *,
    weight_decay: float = 1e-4,
    momentum: float = 0.9,
) -> optax.GradientTransformation:
    """Learning-phase optimiser on θ: AdamW (``opt_id = 0``) or SGD with momentum (``opt_id = 1``,
    ``v ← m v + ∇θ``, ``θ ← θ − lr (v + wd θ)``), as compared in the PCX paper's Fig. 6c and
    Fig. 7. Both decay the weights decoupled from the gradient (it never enters the momentum or
    Adam's moments), by ``lr · wd · θ`` per step."""
    sgd = optax.chain(
        optax.trace(decay=momentum) if momentum > 0 else optax.identity(),
        optax.add_decayed_weights(weight_decay) if weight_decay > 0 else optax.identity(),
        optax.scale_by_learning_rate(weight_lr),
    )
    return select_optimizer(opt_id, (optax.adamw(weight_lr, weight_decay=weight_decay), sgd))
