"""CREs of several latent sizes trained as one program: each member's CRE of dim(z) = d sits
inside a CRE of the sweep's largest dim(z) = D, its parameters padded with zeros and its latent
multiplied by a mask of d ones and D − d zeros.

The masked latent units are zero for every input, so the decoder's and classifier's weights
reading them and the encoder's weights and biases writing them get zero gradients; Adam moves a
parameter whose gradients were all zero by exactly zero, so the padding stays zero and every
member trains as the CRE of its own d would: the same initialisation (the unpadded CRE is built
from the member's key and then padded), the same forward pass (products with exact zeros add
nothing) and the same updates, up to the order in which a matrix product sums.

Only the fully connected variants are padded (:data:`PADDABLE`): their latent is a plain vector
between dense layers, with no normalisation across its units that the zeros would shift.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, PyTree

from pcdash.cre.base import CRE

PADDABLE = ("fc-small", "fc-medium", "fc-large")


class PaddedLatent(eqx.Module):
    """A CRE of dim(z) = ``sum(mask)`` padded to ``len(mask)`` latent units. ``mask`` is boolean,
    so neither the optimiser nor the engine's filters treat it as a parameter."""

    model: CRE
    mask: Bool[Array, " D"]

    def init_state(self) -> PyTree:
        return self.model.init_state()

    def encode(
        self, x: Float[Array, "batch ..."], state: PyTree, *, train: bool
    ) -> tuple[Array, PyTree]:
        z, state = self.model.encode(x, state, train=train)
        return jnp.where(self.mask, z, jnp.zeros((), z.dtype)), state

    def decode(self, z: Array) -> Float[Array, "batch ..."]:
        return self.model.decode(z)

    def classify(
        self, z: Array, state: PyTree, *, train: bool
    ) -> tuple[Float[Array, "batch classes"], PyTree]:
        return self.model.classify(z, state, train=train)


def pad_like(small: PyTree, large: PyTree) -> PyTree:
    """``small`` with every array leaf padded with zeros at the end of each axis to the shape of
    the matching leaf of ``large``, in ``large``'s structure (which also carries the sizes as
    static fields, e.g. ``eqx.nn.Linear.in_features``). Leaves may carry leading member axes."""
    leaves, _ = jax.tree_util.tree_flatten(small)
    targets, structure = jax.tree_util.tree_flatten(large)

    def pad(a, b):
        widths = [(0, nb - na) for na, nb in zip(a.shape, b.shape, strict=True)]
        if any(w < 0 for _, w in widths):
            raise ValueError(f"cannot pad a leaf of shape {a.shape} to {b.shape}")
        return jnp.pad(a, widths)

    return jax.tree_util.tree_unflatten(
        structure, [pad(a, b) for a, b in zip(leaves, targets, strict=True)]
    )


def latent_mask(dims: np.ndarray, size: int) -> np.ndarray:
    """One row per member: ``True`` for its first ``dims[i]`` of ``size`` latent units."""
    return np.arange(size)[None, :] < np.asarray(dims)[:, None]


def padding_buckets(dims, cost, *, waste: float = 1.5) -> list[tuple[int, ...]]:
    """``dims`` (distinct latent sizes, each with the same number of members) grouped into runs
    of consecutive sizes that train as one program each: a run grows while training all its
    members at its largest size costs at most ``waste`` × training each at its own
    (``cost(d)``: e.g. the parameter count of a CRE of dim(z) = d)."""
    buckets: list[list[int]] = []
    for d in sorted(dims):
        if buckets:
            run = [*buckets[-1], d]
            if len(run) * cost(d) <= waste * sum(cost(e) for e in run):
                buckets[-1] = run
                continue
        buckets.append([d])
    return [tuple(b) for b in buckets]
