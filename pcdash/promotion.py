"""Third-party optimisers under JAX's standard dtype promotion.

The tests run with ``jax_numpy_dtype_promotion = "strict"`` (as Equinox's do), so that an
implicit cast in pcdash's own code is an error. optax's Adam computes its bias correction
``1 − β ** count`` with an int32 ``count``, which strict promotion rejects; its update is
therefore traced under standard promotion, and only its own.
"""

from __future__ import annotations

import jax
import optax


def standard_promotion(opt: optax.GradientTransformation) -> optax.GradientTransformation:
    """``opt`` with its ``update`` traced under standard dtype promotion (same numbers)."""

    def update(updates, state, params=None):
        with jax.numpy_dtype_promotion("standard"):
            return opt.update(updates, state, params)

    return optax.GradientTransformation(opt.init, update)
