"""Vision-Transformer Classification-Reconstruction Encoder (ViT-based CRE).

Encoder: the image is cut into a 4 x 4 grid of patches (patch 2 on 8x8, 7 on 28x28, 8 on 32x32),
each patch is linearly embedded (dim 8) plus a learned positional embedding, then one pre-norm
transformer block (LayerNorm -> MHA(4 heads) -> residual, LayerNorm -> MLP(ratio 2, gelu) ->
residual), a final LayerNorm, mean pooling over tokens and a linear map to the latent (ReLU or
linear). Decoder (small mirror): linear z -> 16 tokens x 8, one transformer block, LayerNorm,
per-token linear to patch pixels, patches folded back to H x W x C, tanh.
Classifier: a single linear layer z -> classes (the ViT head on the mean-pooled representation).

All methods take batched, channels-last inputs and are pure functions of arrays.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from pcdash.cre.models import LATENT_ACTIVATIONS, latent_activation_fn

GRID = 4  # patches per side: 16 patches in all


class TransformerBlock(eqx.Module):
    """Pre-norm transformer block acting on one (unbatched) token sequence."""

    norm1: eqx.nn.LayerNorm
    attn: eqx.nn.MultiheadAttention
    norm2: eqx.nn.LayerNorm
    mlp_in: eqx.nn.Linear
    mlp_out: eqx.nn.Linear

    def __init__(self, dim: int, num_heads: int, mlp_ratio: int, *, key: PRNGKeyArray):
        k1, k2, k3 = jax.random.split(key, 3)
        self.norm1 = eqx.nn.LayerNorm(dim)
        self.attn = eqx.nn.MultiheadAttention(
            num_heads,
            dim,
            use_query_bias=True,
            use_key_bias=True,
            use_value_bias=True,
            use_output_bias=True,
            key=k1,
        )
        self.norm2 = eqx.nn.LayerNorm(dim)
        self.mlp_in = eqx.nn.Linear(dim, dim * mlp_ratio, key=k2)
        self.mlp_out = eqx.nn.Linear(dim * mlp_ratio, dim, key=k3)

    def __call__(self, x: Float[Array, "seq dim"]) -> Float[Array, "seq dim"]:
        h = jax.vmap(self.norm1)(x)
        x = x + self.attn(h, h, h)
        h = jax.vmap(self.norm2)(x)
        return x + jax.vmap(self.mlp_out)(jax.nn.gelu(jax.vmap(self.mlp_in)(h)))


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


class ViTCRE(eqx.Module):
    """ViT-based CRE: patch-embedding transformer encoder, transformer decoder, linear classifier."""

    patch_embed: eqx.nn.Linear
    pos_embed: Float[Array, "tokens dim"]
    enc_block: TransformerBlock
    enc_norm: eqx.nn.LayerNorm
    enc_linear: eqx.nn.Linear
    dec_linear: eqx.nn.Linear
    dec_block: TransformerBlock
    dec_norm: eqx.nn.LayerNorm
    dec_patch: eqx.nn.Linear
    cls_out: eqx.nn.Linear
    input_shape: tuple[int, int, int] = eqx.field(static=True)
    num_classes: int = eqx.field(static=True)
    latent_dim: int = eqx.field(static=True)
    latent_activation: str = eqx.field(static=True)
    embed_dim: int = eqx.field(static=True)
    num_heads: int = eqx.field(static=True)
    mlp_ratio: int = eqx.field(static=True)

    def __init__(
        self,
        input_shape: tuple[int, int, int],
        num_classes: int,
        latent_dim: int,
        *,
        latent_activation: str = "relu",
        embed_dim: int = 8,
        num_heads: int = 4,
        mlp_ratio: int = 2,
        key: PRNGKeyArray,
    ):
        if latent_activation not in LATENT_ACTIVATIONS:
            raise ValueError(f"unknown latent activation {latent_activation!r}")
        h, w, c = (int(s) for s in input_shape)
        if h % GRID or w % GRID:
            raise ValueError(f"ViT-CRE needs H and W divisible by {GRID}, got {input_shape}")
        self.input_shape = (h, w, c)
        self.num_classes = int(num_classes)
        self.latent_dim = int(latent_dim)
        self.latent_activation = latent_activation
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.mlp_ratio = mlp_ratio

        n = GRID * GRID
        patch_dim = (h // GRID) * (w // GRID) * c
        keys = jax.random.split(key, 8)
        self.patch_embed = eqx.nn.Linear(patch_dim, embed_dim, key=keys[0])
        self.pos_embed = 0.02 * jax.random.normal(keys[1], (n, embed_dim))
        self.enc_block = TransformerBlock(embed_dim, num_heads, mlp_ratio, key=keys[2])
        self.enc_norm = eqx.nn.LayerNorm(embed_dim)
        self.enc_linear = eqx.nn.Linear(embed_dim, latent_dim, key=keys[3])
        self.dec_linear = eqx.nn.Linear(latent_dim, n * embed_dim, key=keys[4])
        self.dec_block = TransformerBlock(embed_dim, num_heads, mlp_ratio, key=keys[5])
        self.dec_norm = eqx.nn.LayerNorm(embed_dim)
        self.dec_patch = eqx.nn.Linear(embed_dim, patch_dim, key=keys[6])
        self.cls_out = eqx.nn.Linear(latent_dim, num_classes, key=keys[7])

    def init_state(self) -> PyTree:
        """No non-trainable state."""
        return {}

    def _encode_one(self, patches: Float[Array, "n p"]) -> Float[Array, " latent"]:
        tokens = jax.vmap(self.patch_embed)(patches) + self.pos_embed
        tokens = jax.vmap(self.enc_norm)(self.enc_block(tokens))
        return self.enc_linear(jnp.mean(tokens, axis=0))

    def _decode_one(self, z: Float[Array, " latent"]) -> Float[Array, "n p"]:
        tokens = self.dec_linear(z).reshape(GRID * GRID, self.embed_dim)
        tokens = jax.vmap(self.dec_norm)(self.dec_block(tokens))
        return jax.vmap(self.dec_patch)(tokens)

    def encode(
        self, x: Float[Array, "batch H W C"], state: PyTree, *, train: bool
    ) -> tuple[Float[Array, "batch latent"], PyTree]:
        del train  # no dropout / batch statistics
        z = jax.vmap(self._encode_one)(patchify(x))
        return latent_activation_fn(self.latent_activation)(z), state

    def decode(self, z: Float[Array, "batch latent"]) -> Float[Array, "batch H W C"]:
        patches = jax.vmap(self._decode_one)(z)
        return jnp.tanh(unpatchify(patches, self.input_shape))

    def classify(self, z: Float[Array, "batch latent"]) -> Float[Array, "batch classes"]:
        return jax.vmap(self.cls_out)(z)
