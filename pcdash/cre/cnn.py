"""Convolutional CREs: ``cnn``, the authors' model, and ``cnn-z``, pcdash's bottlenecked one.

``cnn`` follows the authors' ``EncoderCNNSmall`` / ``DecoderCNNSmall`` / ``ClassifierCNNSmall``
(wiskott-lab/classification-reconstruction-encoder, ``modules/encoders.py``, ``decoders.py``,
``classifiers.py``; the CNN setup of ``train_cre.py``):

- encoder: 3 × [conv 3×3 (stride 1, padding 1, 16 channels) → batch norm → max-pool 2×2 (stride
  2) → ReLU]; the latent ``z`` is the last feature map itself (16 × 4 × 4 = 256 numbers on MNIST);
- decoder: transposed conv 3×3 stride 2 (output padding 1) → ReLU → the same → ReLU → the same to
  the input's channels → tanh;
- classifier: one linear layer on the flattened feature map.

Adapted to the input size only: the authors' pooling paddings (0, 1, 0) take 28 → 14 → 8 → 4 and
the decoder's paddings (1, 2, 1) take 4 → 8 → 14 → 28. For sides divisible by 8 (digits' 8 × 8,
CIFAR-10's 32 × 32) every pooling padding is 0 (8 → 4 → 2 → 1, 32 → 16 → 8 → 4) and the decoder's
paddings are derived to mirror the sizes exactly, so on digits ``z`` is 16 × 1 × 1 and on CIFAR-10
16 × 4 × 4. The input channels follow the dataset (3 on CIFAR-10). The authors' dropout before each
batch norm has probability 0 in their script and is left out. Initialisation is PyTorch's default
(uniform ±1/√fan_in, with PyTorch's fan-in for the transposed convs); batch norm follows PyTorch
(momentum 0.1, ε = 1e-5, running variance unbiased). (The authors' larger CIFAR-10 CNN,
``EncoderCNNLarge``, is not offered.)

``cnn-z`` keeps the conv encoder with floor pooling, then flatten → linear → ``z`` of any
dim(z); decoder linear → ReLU → 3 transposed convs (kernel 4, stride 2, padding 1); classifier
z → 64 ReLU → classes.

All parts take batched, channels-last inputs and are pure functions of arrays, so a stacked
ensemble of models can be ``jax.vmap``-ed over.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from pcdash.cre.base import CRE, LATENT_ACTIVATIONS, MLP, StatefulPart, latent_activation_fn
from pcdash.cre.layers import batch_norm

CHANNELS = 16
BLOCKS = 3


def max_pool2(x: Float[Array, "batch H W C"], padding: int = 0) -> Float[Array, "batch H2 W2 C"]:
    """2×2 max pooling, stride 2, ``padding`` cells of −∞ on each side (PyTorch's ``MaxPool2d``):
    ``⌊(H + 2·padding − 2) / 2⌋ + 1`` rows (7 → 3, 14 → 7, 14 with padding 1 → 8)."""
    pads = ((0, 0), (padding, padding), (padding, padding), (0, 0))
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), pads)


def _apply_conv(
    conv: Callable[[Array], Array], x: Float[Array, "batch H W C"]
) -> Float[Array, "batch h w c"]:
    """Apply an unbatched channels-first equinox conv to a batched channels-last tensor."""
    y = jax.vmap(conv)(jnp.transpose(x, (0, 3, 1, 2)))
    return jnp.transpose(y, (0, 2, 3, 1))


def authors_pool_padding(side: int) -> tuple[int, ...]:
    """The pooling paddings of the authors' encoder adapted to an input side (see the module
    docstring)."""
    if side == 28:
        return (0, 1, 0)
    if side % 8 == 0:
        return (0,) * BLOCKS
    raise ValueError(f"the authors' CNN needs 28 × 28 inputs or a side divisible by 8; got {side}")


def _pooled_sizes(side: int, paddings: tuple[int, ...]) -> list[int]:
    sizes = [side]
    for p in paddings:
        sizes.append((sizes[-1] + 2 * p - 2) // 2 + 1)
    return sizes


def authors_cnn_latent_shape(input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """The shape (h, w, 16) of the authors' CNN's latent feature map on ``input_shape``."""
    side = _square_side(input_shape)
    last = _pooled_sizes(side, authors_pool_padding(side))[-1]
    return (last, last, CHANNELS)


def _square_side(input_shape: tuple[int, ...]) -> int:
    h, w, _ = (int(s) for s in input_shape)
    if h != w:
        raise ValueError(f"the CNN CREs need square images; got {input_shape}")
    return h


class ConvEncoder(StatefulPart):
    """``BLOCKS`` × [conv 3×3 → batch norm (affine) → max-pool 2 (with ``pool_padding``) → ReLU],
    then, with a ``bottleneck``, flatten (channels first) → linear → latent activation. Without one,
    the last block's activation is the latent activation and ``z`` is its feature map."""

    convs: tuple[eqx.nn.Conv2d, ...]
    bn_scale: Float[Array, "blocks C"]
    bn_offset: Float[Array, "blocks C"]
    bottleneck: eqx.nn.Linear | None
    pool_padding: tuple[int, ...] = eqx.field(static=True)
    latent_activation: str = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        pool_padding: tuple[int, ...],
        *,
        bottleneck: tuple[int, int] | None,
        latent_activation: str,
        key: PRNGKeyArray,
    ):
        keys = jax.random.split(key, BLOCKS + 1)
        chans = (in_channels,) + (CHANNELS,) * (BLOCKS - 1)
        self.convs = tuple(
            eqx.nn.Conv2d(c, CHANNELS, 3, padding=1, key=k)
            for c, k in zip(chans, keys, strict=False)
        )
        self.bn_scale = jnp.ones((BLOCKS, CHANNELS))
        self.bn_offset = jnp.zeros((BLOCKS, CHANNELS))
        self.bottleneck = None if bottleneck is None else eqx.nn.Linear(*bottleneck, key=keys[-1])
        self.pool_padding = tuple(pool_padding)
        self.latent_activation = latent_activation

    def init_state(self) -> PyTree:
        """Batch-norm running statistics: mean 0, variance 1, one row per block."""
        return {"mean": jnp.zeros((BLOCKS, CHANNELS)), "var": jnp.ones((BLOCKS, CHANNELS))}

    def __call__(
        self, x: Float[Array, "batch H W C"], state: PyTree, *, train: bool
    ) -> tuple[Array, PyTree]:
        means, vars_ = [], []
        h = x
        for i, conv in enumerate(self.convs):
            h, m, v = batch_norm(
                _apply_conv(conv, h), state["mean"][i], state["var"][i], train=train
            )
            h = max_pool2(h * self.bn_scale[i] + self.bn_offset[i], self.pool_padding[i])
            last = i == len(self.convs) - 1 and self.bottleneck is None
            h = latent_activation_fn(self.latent_activation)(h) if last else jax.nn.relu(h)
            means.append(m)
            vars_.append(v)
        state = {"mean": jnp.stack(means), "var": jnp.stack(vars_)}
        if self.bottleneck is None:
            return h, state
        flat = jnp.transpose(h, (0, 3, 1, 2)).reshape(h.shape[0], -1)  # (C, h, w) like the decoder
        return latent_activation_fn(self.latent_activation)(jax.vmap(self.bottleneck)(flat)), state


def _torch_conv_transpose_init(
    conv: eqx.nn.ConvTranspose2d, key: PRNGKeyArray
) -> eqx.nn.ConvTranspose2d:
    """PyTorch's default for ``ConvTranspose2d``: weight and bias uniform ±1/√fan_in with
    fan_in = out_channels · k² (its weight is stored (in, out, k, k))."""
    out_channels, _, kh, kw = conv.weight.shape
    bound = 1.0 / jnp.sqrt(out_channels * kh * kw)
    kw_, kb = jax.random.split(key)
    weight = jax.random.uniform(kw_, conv.weight.shape, minval=-bound, maxval=bound)
    assert conv.bias is not None  # built with ConvTranspose2d's default use_bias=True
    bias = jax.random.uniform(kb, conv.bias.shape, minval=-bound, maxval=bound)
    return eqx.tree_at(lambda c: (c.weight, c.bias), conv, (weight, bias))


class ConvDecoder(eqx.Module):
    """Optionally linear → ReLU → reshape to a (h, w, C) map; then transposed convs with ReLU
    between them and tanh at the end."""

    dense: eqx.nn.Linear | None
    deconvs: tuple[eqx.nn.ConvTranspose2d, ...]
    map_shape: tuple[int, int, int] = eqx.field(static=True)

    def __call__(self, z: Array) -> Float[Array, "batch H W C"]:
        h = z
        if self.dense is not None:
            h3, w3, c = self.map_shape
            h = jax.nn.relu(jax.vmap(self.dense)(z))
            h = jnp.transpose(h.reshape(z.shape[0], c, h3, w3), (0, 2, 3, 1))
        for i, deconv in enumerate(self.deconvs):
            h = _apply_conv(deconv, h)
            h = jnp.tanh(h) if i == len(self.deconvs) - 1 else jax.nn.relu(h)
        return h


def authors_cnn(
    input_shape: tuple[int, ...],
    num_classes: int,
    latent_dim: int | None = None,
    *,
    latent_activation: str = "relu",
    key: PRNGKeyArray,
) -> CRE:
    """The authors' CNN CRE (module docstring); ``latent_dim`` is unused: ``z`` is the feature
    map."""
    del latent_dim
    if latent_activation not in LATENT_ACTIVATIONS:
        raise ValueError(f"unknown latent activation {latent_activation!r}")
    side, channels = _square_side(input_shape), int(input_shape[-1])
    padding = authors_pool_padding(side)
    sizes = _pooled_sizes(side, padding)
    k_enc, k_dec, k_init, k_cls = jax.random.split(key, 4)
    encoder = ConvEncoder(
        channels, padding, bottleneck=None, latent_activation=latent_activation, key=k_enc
    )
    deconvs = []
    outs = (CHANNELS,) * (BLOCKS - 1) + (channels,)
    for i, (co, kd, ki) in enumerate(
        zip(outs, jax.random.split(k_dec, BLOCKS), jax.random.split(k_init, BLOCKS), strict=True)
    ):
        size_in, size_out = sizes[BLOCKS - i], sizes[BLOCKS - 1 - i]
        # out = 2·in + 2 − 2·padding with kernel 3, stride 2 and output padding 1
        pad = size_in + 1 - size_out // 2
        if size_out % 2 or pad < 0:
            raise ValueError(f"cannot mirror the pooling sizes {sizes}")
        conv = eqx.nn.ConvTranspose2d(
            CHANNELS, co, 3, stride=2, padding=pad, output_padding=1, key=kd
        )
        deconvs.append(_torch_conv_transpose_init(conv, ki))
    decoder = ConvDecoder(None, tuple(deconvs), (sizes[-1], sizes[-1], CHANNELS))
    flat = sizes[-1] * sizes[-1] * CHANNELS
    return CRE(encoder, decoder, MLP([flat, num_classes], final="linear", key=k_cls))


def bottleneck_cnn(
    input_shape: tuple[int, ...],
    num_classes: int,
    latent_dim: int,
    *,
    latent_activation: str = "relu",
    cls_hidden_dim: int = 64,
    key: PRNGKeyArray,
) -> CRE:
    """``cnn-z``: the conv encoder with floor pooling and a dense ``latent_dim`` bottleneck."""
    if latent_activation not in LATENT_ACTIVATIONS:
        raise ValueError(f"unknown latent activation {latent_activation!r}")
    h, w, c = (int(s) for s in input_shape)
    sizes = [(h, w)]
    for _ in range(BLOCKS):
        sizes.append((sizes[-1][0] // 2, sizes[-1][1] // 2))
    if min(sizes[-1]) < 1:
        raise ValueError(f"input {input_shape} too small for {BLOCKS} poolings")
    h3, w3 = sizes[-1]
    flat = CHANNELS * h3 * w3
    k_enc, k_dense, k_dec, k_cls = jax.random.split(key, 4)
    encoder = ConvEncoder(
        c,
        (0,) * BLOCKS,
        bottleneck=(flat, latent_dim),
        latent_activation=latent_activation,
        key=k_enc,
    )
    deconvs = []
    outs = (CHANNELS,) * (BLOCKS - 1) + (c,)
    for i, (co, k) in enumerate(zip(outs, jax.random.split(k_dec, BLOCKS), strict=True)):
        (hi, wi), (ho, wo) = sizes[BLOCKS - i], sizes[BLOCKS - 1 - i]
        # kernel 4, stride 2, padding 1 gives 2·in + output_padding, output_padding in {0, 1}
        deconvs.append(
            eqx.nn.ConvTranspose2d(
                CHANNELS,
                co,
                4,
                stride=2,
                padding=1,
                output_padding=(ho - 2 * hi, wo - 2 * wi),
                key=k,
            )
        )
    decoder = ConvDecoder(
        eqx.nn.Linear(latent_dim, flat, key=k_dense), tuple(deconvs), (h3, w3, CHANNELS)
    )
    return CRE(
        encoder, decoder, MLP([latent_dim, cls_hidden_dim, num_classes], final="linear", key=k_cls)
    )
