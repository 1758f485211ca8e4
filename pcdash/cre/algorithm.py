"""One CRE member as an :class:`~pcdash.engine.Algorithm`: Adam on the routed loss."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, Int, PRNGKeyArray

from pcdash.cre.base import CRE, CREModel
from pcdash.cre.losses import ce_per_example, mse_per_example, routed_loss
from pcdash.cre.models import build_cre
from pcdash.promotion import standard_promotion


@dataclass(frozen=True)
class CREAlgorithm:
    """Trains a CRE of variant ``arch`` with the gradient routing of
    :func:`pcdash.cre.losses.routed_loss`; ``hp["lam"]`` is the member's λ."""

    arch: str
    input_shape: tuple[int, ...]
    num_classes: int
    latent_dim: int
    latent_activation: str = "relu"
    lr: float = 1e-3
    init_scheme: str = "authors"  # see pcdash.cre.models.INITS

    @property
    def optimizer(self) -> optax.GradientTransformation:
        return standard_promotion(optax.adam(self.lr))

    def build(self, key: PRNGKeyArray) -> CRE:
        return build_cre(
            self.arch,
            self.input_shape,
            self.num_classes,
            self.latent_dim,
            latent_activation=self.latent_activation,
            init=self.init_scheme,
            key=key,
        )

    def carry_from_model(self, model: CREModel):
        return (
            model,
            model.init_state(),
            self.optimizer.init(eqx.filter(model, eqx.is_inexact_array)),
        )

    def init(self, key: PRNGKeyArray, hp: Mapping[str, Array]):
        return self.carry_from_model(self.build(key))

    def train_step(
        self,
        carry,
        hp: Mapping[str, Array],
        x: Float[Array, "batch ..."],
        y: Int[Array, " batch"],
        key: PRNGKeyArray,
    ):
        model, state, opt_state = carry
        grad_fn = eqx.filter_value_and_grad(routed_loss, has_aux=True)
        (_, (metrics, state)), grads = grad_fn(model, state, x, y, hp["lam"])
        updates, opt_state = self.optimizer.update(
            grads, opt_state, eqx.filter(model, eqx.is_inexact_array)
        )
        model = eqx.apply_updates(model, updates)
        return (model, state, opt_state), metrics

    def evaluate(
        self, carry, hp: Mapping[str, Array], x: Float[Array, "batch ..."], y: Int[Array, " batch"]
    ):
        """Per-example accuracy, MSE, CE and the member's objective ``loss = λ·MSE + (1−λ)·CE``
        (its mean over a split is the objective on that split, so validation can pick epochs)."""
        model, state, _ = carry
        z, _ = model.encode(x, state, train=False)
        logits, _ = model.classify(z, state, train=False)
        mse = mse_per_example(model.decode(z), x)
        ce = ce_per_example(logits, y)
        return {
            "accuracy": (jnp.argmax(logits, -1) == y).astype(jnp.float32),
            "mse": mse,
            "ce": ce,
            "loss": hp["lam"] * mse + (1.0 - hp["lam"]) * ce,
        }


def dead_latent_units(carry, xb: Float[Array, "batches batch ..."]) -> Int[Array, ""]:
    """The number of latent units that are zero for every example of ``xb`` (batches of one
    split; a batch may repeat examples as padding). A ReLU unit that is zero on every input gets
    no gradient through the latent and stays dead."""
    model, state, _ = carry

    def batch_max(x):
        z, _ = model.encode(x, state, train=False)
        return jnp.max(jnp.abs(z.reshape(z.shape[0], -1)), axis=0)

    dead = jnp.max(jax.lax.map(batch_max, xb), axis=0) == 0
    mask = getattr(model, "mask", None)  # a member padded to a larger latent (cre.padded)
    return jnp.sum(dead if mask is None else dead & mask)


def encode_decode(carry, x: Float[Array, "batch ..."]):
    """Latent codes (flattened: a feature map or token sequence becomes one vector per example),
    reconstructions and predicted classes of one member (evaluation mode)."""
    model, state, _ = carry
    z, _ = model.encode(x, state, train=False)
    logits, _ = model.classify(z, state, train=False)
    return z.reshape(z.shape[0], -1), model.decode(z), jnp.argmax(logits, -1)
