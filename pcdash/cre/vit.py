"""Vision-Transformer CREs: ``vit``, the authors' model, and ``vit-z``, pcdash's bottlenecked one.

``vit`` follows the authors' ``EncoderViT`` / ``DecoderViT`` / ``ClassifierViT`` / ``CREViT``
(wiskott-lab/classification-reconstruction-encoder, ``modules/*.py``, MAE-style) with the settings
of their ``train_cre_vit.py``: patch 7 on 28 × 28 (a 4 × 4 grid of 16 patches), embedding 8,
4 heads, depth 1 in encoder and decoder, MLP ratio 4, decoder embedding 8, no masking.

- encoder: patches → linear embedding + fixed 2-D sin-cos position embedding; a learned class
  token (with a zero position embedding) in front; transformer blocks (pre-norm: LayerNorm →
  multi-head attention with qkv bias → residual; LayerNorm → MLP with exact GELU → residual);
  LayerNorm. The latent ``z`` is the whole token sequence with its class token, 17 × 8 = 136
  numbers (no ReLU: the latent activation setting does not apply);
- decoder: linear 8 → 8, the fixed sin-cos position embedding again, one block, LayerNorm, a
  linear map of each token to its patch's pixels; the class token is dropped and the patches put
  back together. No output non-linearity (the authors' decoder ends linear);
- classifier: mean of the patch tokens (class token left out) → batch norm without affine
  parameters (ε = 1e-6) → linear to the classes.

Initialisation as ``CREViT.initialize_weights``: every linear layer Xavier-uniform with zero bias,
the patch embedding's weight Xavier-uniform with PyTorch's conv bias, the class token normal with
σ = 0.02, LayerNorms 1 and 0.

Adapted to the input size only: the grid stays 4 × 4, so the patch is 2 on digits (8 × 8) and 8 on
CIFAR-10 (32 × 32), and the patch pixels follow the input's channels.

``vit-z``: patch embedding (8) + learned position embedding, one block (MLP ratio 2), LayerNorm,
mean pooling and a linear map to ``z`` of any dim(z); decoder linear z → 16 tokens × 8, one block,
LayerNorm, per-token linear to patch pixels, tanh; classifier linear z → classes.

All parts take batched, channels-last inputs and are pure functions of arrays.
"""

from __future__ import annotations

import math
from typing import TypeVar, cast

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from pcdash.cre.base import CRE, LATENT_ACTIVATIONS, MLP, StatefulPart, latent_activation_fn
from pcdash.cre.layers import batch_norm

GRID = 4  # patches per side: 16 patches in all
EMBED_DIM = 8
NUM_HEADS = 4


def patchify(x: Float[Array, "batch H W C"], grid: int = GRID) -> Float[Array, "batch n p"]:
    """Cut images into a grid x grid array of patches, row-major, each flattened (ph, pw, C)."""
    b, h, w, c = x.shape
    ph, pw = h // grid, w // grid
    x = x.reshape(b, grid, ph, grid, pw, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, grid * grid, ph * pw * c)


def unpatchify(
    p: Float[Array, "batch n p"], shape: tuple[int, int, int], grid: int = GRID
) -> Float[Array, "batch H W C"]:
    """Inverse of :func:`patchify`."""
    h, w, c = shape
    ph, pw = h // grid, w // grid
    x = p.reshape(p.shape[0], grid, grid, ph, pw, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(p.shape[0], h, w, c)


def sincos_position_embedding(dim: int, grid: int, *, class_token: bool) -> np.ndarray:
    """The fixed 2-D sin-cos position embedding of MAE: token ``(i, j)`` (row-major) gets
    ``[e(j), e(i)]`` with ``e(p) = [sin(p·ω_k), cos(p·ω_k)]``, ``ω_k = 10000^(−k/(dim/4))``,
    ``k = 0 … dim/4 − 1``; a class token in front gets zeros."""
    if dim % 4:
        raise ValueError(f"the sin-cos embedding needs a dimension divisible by 4; got {dim}")
    omega = 1.0 / 10000 ** (np.arange(dim // 4, dtype=np.float64) / (dim / 4))

    def one_axis(pos: np.ndarray) -> np.ndarray:
        angles = np.outer(pos, omega)
        return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)

    rows, cols = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
    emb = np.concatenate([one_axis(cols.ravel()), one_axis(rows.ravel())], axis=1)
    if class_token:
        emb = np.concatenate([np.zeros((1, dim)), emb], axis=0)
    return emb.astype(np.float32)


class Attention(eqx.Module):
    """Multi-head self-attention of one token sequence (timm's ``Attention``): one ``qkv``
    projection split into queries, keys and values per head, ``softmax(q kᵀ / √d_head) v``, then
    an output projection."""

    qkv: eqx.nn.Linear
    proj: eqx.nn.Linear
    num_heads: int = eqx.field(static=True)

    def __init__(self, dim: int, num_heads: int, *, key: PRNGKeyArray):
        k1, k2 = jax.random.split(key)
        self.qkv = eqx.nn.Linear(dim, 3 * dim, key=k1)
        self.proj = eqx.nn.Linear(dim, dim, key=k2)
        self.num_heads = num_heads

    def __call__(self, x: Float[Array, "seq dim"]) -> Float[Array, "seq dim"]:
        n, d = x.shape
        hd = d // self.num_heads
        q, k, v = (
            a.reshape(n, self.num_heads, hd) for a in jnp.split(jax.vmap(self.qkv)(x), 3, axis=-1)
        )
        weights = jax.nn.softmax(jnp.einsum("qhd,khd->hqk", q, k) / math.sqrt(hd), axis=-1)
        return jax.vmap(self.proj)(jnp.einsum("hqk,khd->qhd", weights, v).reshape(n, d))


class Block(eqx.Module):
    """Pre-norm transformer block (timm's ``Block``): ``x + attn(LN(x))``, then
    ``x + fc2(GELU(fc1(LN(x))))`` with the exact (erf) GELU."""

    norm1: eqx.nn.LayerNorm
    attn: Attention
    norm2: eqx.nn.LayerNorm
    fc1: eqx.nn.Linear
    fc2: eqx.nn.Linear

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, *, key: PRNGKeyArray):
        k1, k2, k3 = jax.random.split(key, 3)
        hidden = int(dim * mlp_ratio)
        self.norm1 = eqx.nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads, key=k1)
        self.norm2 = eqx.nn.LayerNorm(dim)
        self.fc1 = eqx.nn.Linear(dim, hidden, key=k2)
        self.fc2 = eqx.nn.Linear(hidden, dim, key=k3)

    def __call__(self, x: Float[Array, "seq dim"]) -> Float[Array, "seq dim"]:
        x = x + self.attn(jax.vmap(self.norm1)(x))
        h = jax.nn.gelu(jax.vmap(self.fc1)(jax.vmap(self.norm2)(x)), approximate=False)
        return x + jax.vmap(self.fc2)(h)


class ViTEncoder(eqx.Module):
    """Patch embedding + position embedding (+ class token) → blocks → LayerNorm; then either the
    token sequence is ``z`` (no ``bottleneck``) or mean pooling → linear → latent activation."""

    patch_embed: eqx.nn.Linear
    pos_embed: Float[Array, "tokens dim"] | None  # learned; None: the fixed sin-cos embedding
    cls_token: Float[Array, " dim"] | None
    blocks: tuple[Block, ...]
    norm: eqx.nn.LayerNorm
    bottleneck: eqx.nn.Linear | None
    latent_activation: str = eqx.field(static=True)

    def _encode_one(self, patches: Float[Array, "n p"]) -> Array:
        tokens = jax.vmap(self.patch_embed)(patches)
        dim = tokens.shape[-1]
        if self.pos_embed is None:
            pos = jnp.asarray(
                sincos_position_embedding(dim, GRID, class_token=self.cls_token is not None)
            )
        else:
            pos = self.pos_embed
        if self.cls_token is not None:
            tokens = jnp.concatenate([self.cls_token[None, :] + pos[:1], tokens + pos[1:]], axis=0)
        else:
            tokens = tokens + pos
        for block in self.blocks:
            tokens = block(tokens)
        tokens = jax.vmap(self.norm)(tokens)
        if self.bottleneck is None:
            return tokens
        return self.bottleneck(jnp.mean(tokens, axis=0))

    def __call__(self, x: Float[Array, "batch H W C"]) -> Array:
        z = jax.vmap(self._encode_one)(patchify(x))
        return z if self.bottleneck is None else latent_activation_fn(self.latent_activation)(z)


class ViTDecoder(eqx.Module):
    """Tokens (the latent sequence through ``embed``, or ``z`` through ``embed`` reshaped to 16
    tokens) → (+ fixed sin-cos positions) → blocks → LayerNorm → per-token linear to patch pixels
    (class token dropped) → image (tanh if ``squash``)."""

    embed: eqx.nn.Linear
    blocks: tuple[Block, ...]
    norm: eqx.nn.LayerNorm
    pred: eqx.nn.Linear
    input_shape: tuple[int, int, int] = eqx.field(static=True)
    from_sequence: bool = eqx.field(static=True)
    squash: bool = eqx.field(static=True)

    def _decode_one(self, z: Array) -> Float[Array, "n p"]:
        if self.from_sequence:
            tokens = jax.vmap(self.embed)(z)
            tokens = tokens + jnp.asarray(
                sincos_position_embedding(tokens.shape[-1], GRID, class_token=True)
            )
        else:
            tokens = self.embed(z).reshape(GRID * GRID, -1)
        for block in self.blocks:
            tokens = block(tokens)
        patches = jax.vmap(self.pred)(jax.vmap(self.norm)(tokens))
        return patches[1:] if self.from_sequence else patches

    def __call__(self, z: Array) -> Float[Array, "batch H W C"]:
        x = unpatchify(jax.vmap(self._decode_one)(z), self.input_shape)
        return jnp.tanh(x) if self.squash else x


class PooledBatchNormClassifier(StatefulPart):
    """The authors' ViT classifier: mean of the patch tokens (not the class token) → batch norm
    without affine parameters (ε = 1e-6) → linear."""

    linear: eqx.nn.Linear

    def init_state(self) -> PyTree:
        dim = self.linear.in_features
        return {"mean": jnp.zeros(dim), "var": jnp.ones(dim)}

    def __call__(
        self, z: Float[Array, "batch tokens dim"], state: PyTree, *, train: bool
    ) -> tuple[Array, PyTree]:
        pooled = jnp.mean(z[:, 1:, :], axis=1)
        y, mean, var = batch_norm(pooled, state["mean"], state["var"], train=train, eps=1e-6)
        return jax.vmap(self.linear)(y), {"mean": mean, "var": var}


def _grid_patch(input_shape: tuple[int, ...]) -> tuple[int, int]:
    h, w, c = (int(s) for s in input_shape)
    if h % GRID or w % GRID:
        raise ValueError(f"the ViT CREs need H and W divisible by {GRID}, got {input_shape}")
    return GRID * GRID, (h // GRID) * (w // GRID) * c


def authors_vit_latent_shape(input_shape: tuple[int, ...]) -> tuple[int, int]:
    """The shape (tokens, dim) of the authors' ViT latent: 16 patch tokens and the class token."""
    n, _ = _grid_patch(input_shape)
    return (n + 1, EMBED_DIM)


_M = TypeVar("_M", bound=eqx.Module)


def _xavier_linears(module: _M, key: PRNGKeyArray) -> _M:
    """Every ``eqx.nn.Linear`` in ``module``: weight Xavier-uniform, ±√(6 / (fan_in + fan_out)),
    bias 0 (``CREViT._init_weights``)."""
    is_linear = lambda node: isinstance(node, eqx.nn.Linear)  # noqa: E731

    def linears(tree):
        return [
            node for node in jax.tree_util.tree_leaves(tree, is_leaf=is_linear) if is_linear(node)
        ]

    found = linears(module)
    new = []
    for layer, k in zip(found, jax.random.split(key, len(found)), strict=True):
        fan_out, fan_in = layer.weight.shape
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        weight = jax.random.uniform(k, layer.weight.shape, minval=-bound, maxval=bound)
        new.append(
            eqx.tree_at(
                lambda node: (node.weight, node.bias), layer, (weight, jnp.zeros_like(layer.bias))
            )
        )
    return eqx.tree_at(linears, module, new)


def authors_vit(
    input_shape: tuple[int, ...],
    num_classes: int,
    latent_dim: int | None = None,
    *,
    latent_activation: str = "relu",
    mlp_ratio: float = 4.0,
    depth: int = 1,
    key: PRNGKeyArray,
) -> CRE:
    """The authors' ViT CRE (module docstring). ``latent_dim`` and ``latent_activation`` are
    unused: ``z`` is the LayerNorm-ed token sequence."""
    del latent_dim, latent_activation
    n, patch_dim = _grid_patch(input_shape)
    keys = jax.random.split(key, 9)
    encoder = ViTEncoder(
        eqx.nn.Linear(patch_dim, EMBED_DIM, key=keys[0]),
        None,
        jnp.zeros(EMBED_DIM),
        tuple(
            Block(EMBED_DIM, NUM_HEADS, mlp_ratio, key=k) for k in jax.random.split(keys[1], depth)
        ),
        eqx.nn.LayerNorm(EMBED_DIM),
        None,
        "linear",
    )
    decoder = ViTDecoder(
        eqx.nn.Linear(EMBED_DIM, EMBED_DIM, key=keys[2]),
        tuple(
            Block(EMBED_DIM, NUM_HEADS, mlp_ratio, key=k) for k in jax.random.split(keys[3], depth)
        ),
        eqx.nn.LayerNorm(EMBED_DIM),
        eqx.nn.Linear(EMBED_DIM, patch_dim, key=keys[4]),
        cast(tuple[int, int, int], tuple(int(s) for s in input_shape)),  # (h, w, c): _grid_patch
        from_sequence=True,
        squash=False,
    )
    model = CRE(
        encoder,
        decoder,
        PooledBatchNormClassifier(eqx.nn.Linear(EMBED_DIM, num_classes, key=keys[5])),
    )
    model = _xavier_linears(model, keys[6])
    # the patch embedding is a conv in the authors' code: its bias keeps PyTorch's conv default
    bound = 1.0 / math.sqrt(patch_dim)
    patch_bias = jax.random.uniform(keys[7], (EMBED_DIM,), minval=-bound, maxval=bound)
    cls_token = 0.02 * jax.random.normal(keys[8], (EMBED_DIM,))
    return eqx.tree_at(
        lambda m: (m.encoder.patch_embed.bias, m.encoder.cls_token), model, (patch_bias, cls_token)
    )


def bottleneck_vit(
    input_shape: tuple[int, ...],
    num_classes: int,
    latent_dim: int,
    *,
    latent_activation: str = "relu",
    mlp_ratio: float = 2.0,
    key: PRNGKeyArray,
) -> CRE:
    """``vit-z``: mean-pooled transformer encoder with a dense ``latent_dim`` bottleneck."""
    if latent_activation not in LATENT_ACTIVATIONS:
        raise ValueError(f"unknown latent activation {latent_activation!r}")
    n, patch_dim = _grid_patch(input_shape)
    keys = jax.random.split(key, 8)
    encoder = ViTEncoder(
        eqx.nn.Linear(patch_dim, EMBED_DIM, key=keys[0]),
        0.02 * jax.random.normal(keys[1], (n, EMBED_DIM)),
        None,
        (Block(EMBED_DIM, NUM_HEADS, mlp_ratio, key=keys[2]),),
        eqx.nn.LayerNorm(EMBED_DIM),
        eqx.nn.Linear(EMBED_DIM, latent_dim, key=keys[3]),
        latent_activation,
    )
    decoder = ViTDecoder(
        eqx.nn.Linear(latent_dim, n * EMBED_DIM, key=keys[4]),
        (Block(EMBED_DIM, NUM_HEADS, mlp_ratio, key=keys[5]),),
        eqx.nn.LayerNorm(EMBED_DIM),
        eqx.nn.Linear(EMBED_DIM, patch_dim, key=keys[6]),
        cast(tuple[int, int, int], tuple(int(s) for s in input_shape)),  # (h, w, c): _grid_patch
        from_sequence=False,
        squash=True,
    )
    return CRE(encoder, decoder, MLP([latent_dim, num_classes], final="linear", key=keys[7]))
