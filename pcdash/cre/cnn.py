"""Convolutional Classification-Reconstruction Encoder (CNN-based CRE).

Encoder: 3 x [conv3x3 (SAME) -> batch norm -> maxpool 2 (floor) -> ReLU], 16 channels,
then flatten -> linear -> latent (ReLU or linear). Decoder: linear -> ReLU -> (16, h3, w3) ->
3 x transposed conv (kernel 4, stride 2, padding 1; output_padding chosen so the sizes mirror
the encoder exactly), ReLU between and tanh at the end. Classifier: z -> 64 ReLU -> classes.

All methods take batched, channels-last inputs and are pure functions of arrays, so a stacked
ensemble of models can be ``jax.vmap``-ed over.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from pcdash.cre.models import LATENT_ACTIVATIONS, latent_activation_fn


def batch_norm(
    x: Float[Array, "batch H W C"],
    scale: Float[Array, " C"],
    offset: Float[Array, " C"],
    running_mean: Float[Array, " C"],
    running_var: Float[Array, " C"],
    *,
    train: bool,
    momentum: float = 0.9,
    eps: float = 1e-5,
) -> tuple[Float[Array, "batch H W C"], Float[Array, " C"], Float[Array, " C"]]:
    """Functional batch norm over (batch, H, W) of a channels-last tensor.

    Returns the normalised (and affinely transformed) tensor and the new running mean/var.
    In train mode the batch statistics are used and the running statistics are moved towards
    them (``new = momentum * old + (1 - momentum) * batch``, gradient-stopped); in eval mode the
    running statistics are used and returned unchanged.
    """
    if train:
        mean = jnp.mean(x, axis=(0, 1, 2))
        var = jnp.var(x, axis=(0, 1, 2))
        new_mean = jax.lax.stop_gradient(momentum * running_mean + (1.0 - momentum) * mean)
        new_var = jax.lax.stop_gradient(momentum * running_var + (1.0 - momentum) * var)
    else:
        mean, var = running_mean, running_var
        new_mean, new_var = running_mean, running_var
    y = (x - mean) * jax.lax.rsqrt(var + eps)
    return y * scale + offset, new_mean, new_var


def max_pool2(x: Float[Array, "batch H W C"]) -> Float[Array, "batch H2 W2 C"]:
    """2x2 max pooling with stride 2 and floor semantics (28 -> 14 -> 7 -> 3)."""
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def _apply_conv(conv: eqx.Module, x: Float[Array, "batch H W C"]) -> Float[Array, "batch h w c"]:
    """Apply an unbatched channels-first equinox conv to a batched channels-last tensor."""
    y = jax.vmap(conv)(jnp.transpose(x, (0, 3, 1, 2)))
    return jnp.transpose(y, (0, 2, 3, 1))


class CNNCRE(eqx.Module):
    """CNN-based CRE: conv/batch-norm encoder, transposed-conv decoder, MLP classifier."""

    convs: tuple[eqx.nn.Conv2d, ...]
    bn_scale: Float[Array, "3 16"]
    bn_offset: Float[Array, "3 16"]
    enc_linear: eqx.nn.Linear
    dec_linear: eqx.nn.Linear
    deconvs: tuple[eqx.nn.ConvTranspose2d, ...]
    cls_hidden: eqx.nn.Linear
    cls_out: eqx.nn.Linear
    input_shape: tuple[int, int, int] = eqx.field(static=True)
    num_classes: int = eqx.field(static=True)
    latent_dim: int = eqx.field(static=True)
    latent_activation: str = eqx.field(static=True)
    channels: int = eqx.field(static=True)
    cls_hidden_dim: int = eqx.field(static=True)
    sizes: tuple[tuple[int, int], ...] = eqx.field(static=True)

    def __init__(
        self,
        input_shape: tuple[int, int, int],
        num_classes: int,
        latent_dim: int,
        *,
        latent_activation: str = "relu",
        channels: int = 16,
        cls_hidden_dim: int = 64,
        key: PRNGKeyArray,
    ):
        if latent_activation not in LATENT_ACTIVATIONS:
            raise ValueError(f"unknown latent activation {latent_activation!r}")
        h, w, c = (int(s) for s in input_shape)
        sizes = [(h, w)]
        for _ in range(3):
            sizes.append((sizes[-1][0] // 2, sizes[-1][1] // 2))
        if min(sizes[-1]) < 1:
            raise ValueError(f"input {input_shape} too small for 3 poolings")
        self.input_shape = (h, w, c)
        self.num_classes = int(num_classes)
        self.latent_dim = int(latent_dim)
        self.latent_activation = latent_activation
        self.channels = channels
        self.cls_hidden_dim = cls_hidden_dim
        self.sizes = tuple(sizes)

        keys = jax.random.split(key, 10)
        in_chs = (c, channels, channels)
        self.convs = tuple(
            eqx.nn.Conv2d(ci, channels, 3, padding="SAME", key=k)
            for ci, k in zip(in_chs, keys[:3], strict=True)
        )
        self.bn_scale = jnp.ones((3, channels))
        self.bn_offset = jnp.zeros((3, channels))
        h3, w3 = sizes[-1]
        flat = channels * h3 * w3
        self.enc_linear = eqx.nn.Linear(flat, latent_dim, key=keys[3])
        self.dec_linear = eqx.nn.Linear(latent_dim, flat, key=keys[4])
        out_chs = (channels, channels, c)
        deconvs = []
        for i, (co, k) in enumerate(zip(out_chs, keys[5:8], strict=True)):
            (hi, wi), (ho, wo) = sizes[3 - i], sizes[2 - i]
            # kernel 4, stride 2, padding 1 gives 2*in + output_padding, output_padding in {0, 1}
            deconvs.append(
                eqx.nn.ConvTranspose2d(
                    channels,
                    co,
                    4,
                    stride=2,
                    padding=1,
                    output_padding=(ho - 2 * hi, wo - 2 * wi),
                    key=k,
                )
            )
        self.deconvs = tuple(deconvs)
        self.cls_hidden = eqx.nn.Linear(latent_dim, cls_hidden_dim, key=keys[8])
        self.cls_out = eqx.nn.Linear(cls_hidden_dim, num_classes, key=keys[9])

    def init_state(self) -> PyTree:
        """Batch-norm running statistics: mean 0, variance 1, one row per conv block."""
        return {
            "mean": jnp.zeros((3, self.channels)),
            "var": jnp.ones((3, self.channels)),
        }

    def encode(
        self, x: Float[Array, "batch H W C"], state: PyTree, *, train: bool
    ) -> tuple[Float[Array, "batch latent"], PyTree]:
        means, vars_ = [], []
        h = x
        for i, conv in enumerate(self.convs):
            h = _apply_conv(conv, h)
            h, m, v = batch_norm(
                h,
                self.bn_scale[i],
                self.bn_offset[i],
                state["mean"][i],
                state["var"][i],
                train=train,
            )
            h = jax.nn.relu(max_pool2(h))
            means.append(m)
            vars_.append(v)
        # flatten channels-first so the layout matches (C, h3, w3) in the decoder
        flat = jnp.transpose(h, (0, 3, 1, 2)).reshape(h.shape[0], -1)
        z = latent_activation_fn(self.latent_activation)(jax.vmap(self.enc_linear)(flat))
        return z, {"mean": jnp.stack(means), "var": jnp.stack(vars_)}

    def decode(self, z: Float[Array, "batch latent"]) -> Float[Array, "batch H W C"]:
        h3, w3 = self.sizes[-1]
        h = jax.nn.relu(jax.vmap(self.dec_linear)(z))
        h = jnp.transpose(h.reshape(z.shape[0], self.channels, h3, w3), (0, 2, 3, 1))
        for i, deconv in enumerate(self.deconvs):
            h = _apply_conv(deconv, h)
            h = jnp.tanh(h) if i == len(self.deconvs) - 1 else jax.nn.relu(h)
        return h

    def classify(self, z: Float[Array, "batch latent"]) -> Float[Array, "batch classes"]:
        return jax.vmap(self.cls_out)(jax.nn.relu(jax.vmap(self.cls_hidden)(z)))
