"""Classification-Reconstruction Encoders: an encoder to a shared latent ``z``, a decoder back
to the input and a classifier head on ``z`` (Rathjens & Wiskott, Fig. 1).

Every model takes *batched*, channels-last inputs with pixels in [-1, 1] and exposes

- ``init_state()``: non-trainable state (batch-norm statistics; ``{}`` for most models),
- ``encode(x, state, *, train) -> (z, state)``,
- ``decode(z) -> x_hat`` (tanh output),
- ``classify(z) -> logits``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

LATENT_ACTIVATIONS = ("relu", "linear")


def latent_activation_fn(name: str) -> Callable[[Array], Array]:
    if name == "relu":
        return jax.nn.relu
    if name == "linear":
        return lambda z: z
    raise ValueError(f"unknown latent activation {name!r}; choose from {', '.join(LATENT_ACTIVATIONS)}")


class MLP(eqx.Module):
    """Dense layers with ReLU between them and ``final`` after the last one."""

    layers: tuple[eqx.nn.Linear, ...]
    final: str = eqx.field(static=True)

    def __init__(self, sizes: Sequence[int], *, final: str, key: PRNGKeyArray):
        keys = jax.random.split(key, len(sizes) - 1)
        self.layers = tuple(eqx.nn.Linear(a, b, key=k) for a, b, k in zip(sizes[:-1], sizes[1:], keys, strict=True))
        self.final = final

    def __call__(self, x: Float[Array, "batch d_in"]) -> Float[Array, "batch d_out"]:
        for i, layer in enumerate(self.layers):
            x = x @ layer.weight.T + layer.bias
            if i < len(self.layers) - 1:
                x = jax.nn.relu(x)
        return {"relu": jax.nn.relu, "tanh": jnp.tanh, "linear": lambda v: v}[self.final](x)


class FCCRE(eqx.Module):
    """Fully connected CRE. ``hidden`` lists the encoder's hidden widths; the decoder mirrors it.

    - ``fc-small``:  enc in→z; dec z→in tanh; cls linear z→classes.
    - ``fc-medium``: enc in→616→z; dec z→616→in; cls z→12 ReLU→classes.
    - ``fc-large``:  enc in→716→684→616→z; dec mirrored; cls z→64 ReLU→classes.
    """

    encoder: MLP
    decoder: MLP
    classifier: MLP
    input_shape: tuple[int, ...] = eqx.field(static=True)

    def __init__(
        self,
        input_shape: tuple[int, ...],
        num_classes: int,
        latent_dim: int,
        *,
        hidden: Sequence[int],
        classifier_hidden: Sequence[int],
        latent_activation: str = "relu",
        key: PRNGKeyArray,
    ):
        k_enc, k_dec, k_cls = jax.random.split(key, 3)
        d = math.prod(input_shape)
        latent_activation_fn(latent_activation)  # validate
        self.input_shape = tuple(input_shape)
        self.encoder = MLP([d, *hidden, latent_dim], final=latent_activation, key=k_enc)
        self.decoder = MLP([latent_dim, *reversed(hidden), d], final="tanh", key=k_dec)
        self.classifier = MLP([latent_dim, *classifier_hidden, num_classes], final="linear", key=k_cls)

    def init_state(self) -> PyTree:
        return {}

    def encode(self, x: Float[Array, "batch ..."], state: PyTree, *, train: bool) -> tuple[Float[Array, "batch latent"], PyTree]:
        return self.encoder(x.reshape(x.shape[0], -1)), state

    def decode(self, z: Float[Array, "batch latent"]) -> Float[Array, "batch ..."]:
        return self.decoder(z).reshape(z.shape[0], *self.input_shape)

    def classify(self, z: Float[Array, "batch latent"]) -> Float[Array, "batch classes"]:
        return self.classifier(z)


FC_VARIANTS = {
    "fc-small": dict(hidden=(), classifier_hidden=()),
    "fc-medium": dict(hidden=(616,), classifier_hidden=(12,)),
    "fc-large": dict(hidden=(716, 684, 616), classifier_hidden=(64,)),
}
ARCHS = ("fc-small", "fc-medium", "fc-large", "cnn", "vit")


def build_cre(
    arch: str,
    input_shape: tuple[int, ...],
    num_classes: int,
    latent_dim: int,
    *,
    latent_activation: str = "relu",
    key: PRNGKeyArray,
) -> eqx.Module:
    """A CRE of variant ``arch`` whose input size adapts to ``input_shape``."""
    if arch in FC_VARIANTS:
        return FCCRE(input_shape, num_classes, latent_dim, latent_activation=latent_activation, key=key, **FC_VARIANTS[arch])
    if len(input_shape) != 3 and arch in ("cnn", "vit"):
        raise ValueError(f"{arch!r} needs image inputs; this dataset has input shape {input_shape}")
    if arch == "cnn":
        from pcdash.cre.cnn import CNNCRE

        return CNNCRE(input_shape, num_classes, latent_dim, latent_activation=latent_activation, key=key)
    if arch == "vit":
        from pcdash.cre.vit import ViTCRE

        return ViTCRE(input_shape, num_classes, latent_dim, latent_activation=latent_activation, key=key)
    raise ValueError(f"unknown architecture {arch!r}; choose from {', '.join(ARCHS)}")
