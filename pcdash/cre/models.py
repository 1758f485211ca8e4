"""Classification-Reconstruction Encoders: an encoder to a shared latent ``z``, a decoder back
to the input and a classifier head on ``z`` (Rathjens & Wiskott, Fig. 1):

    z = encoder(x),   x̂ = decoder(z),   logits = classifier(z).

A :class:`CRE` holds the three parts, as the authors' ``CRE(encoder, decoder, classifier)``
does, so the gradient routing of :func:`pcdash.cre.losses.routed_loss` can be checked part by
part for every variant. Every model takes *batched*, channels-last inputs with pixels in
[-1, 1] and exposes

- ``init_state()``: non-trainable state (batch-norm statistics of its stateful parts),
- ``encode(x, state, *, train) -> (z, state)``,
- ``decode(z) -> x_hat``,
- ``classify(z, state, *, train) -> (logits, state)``.

``z`` keeps the shape the architecture gives it: a vector for the FC variants and ``cnn-z`` /
``vit-z``, the conv feature map for ``cnn`` and the token sequence for ``vit``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, cast

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from pcdash.cre import cnn, vit
from pcdash.cre.base import CRE, MLP, latent_activation_fn

FC_VARIANTS: dict[str, dict[str, tuple[int, ...]]] = {
    "fc-small": dict(hidden=(), classifier_hidden=()),
    "fc-medium": dict(hidden=(616,), classifier_hidden=(12,)),
    "fc-large": dict(hidden=(716, 684, 616), classifier_hidden=(64,)),
}


def fc_cre(
    input_shape: tuple[int, ...],
    num_classes: int,
    latent_dim: int,
    *,
    hidden: Sequence[int],
    classifier_hidden: Sequence[int],
    latent_activation: str = "relu",
    key: PRNGKeyArray,
) -> CRE:
    """Fully connected CRE. ``hidden`` lists the encoder's hidden widths; the decoder mirrors it.

    - ``fc-small``:  enc in→z; dec z→in tanh; cls linear z→classes.
    - ``fc-medium``: enc in→616→z; dec z→616→in; cls z→12 ReLU→classes.
    - ``fc-large``:  enc in→716→684→616→z; dec mirrored; cls z→64 ReLU→classes.
    """
    k_enc, k_dec, k_cls = jax.random.split(key, 3)
    d = math.prod(input_shape)
    latent_activation_fn(latent_activation)  # validate
    return CRE(
        MLP([d, *hidden, latent_dim], final=latent_activation, key=k_enc),
        MLP(
            [latent_dim, *reversed(hidden), d],
            final="tanh",
            out_shape=tuple(input_shape),
            key=k_dec,
        ),
        MLP([latent_dim, *classifier_hidden, num_classes], final="linear", key=k_cls),
    )


ARCHS = ("fc-small", "fc-medium", "fc-large", "cnn", "vit", "cnn-z", "vit-z")
# architectures whose latent is fixed by the architecture (a feature map, a token sequence)
FIXED_LATENT = ("cnn", "vit")
IMAGE_ONLY = ("cnn", "vit", "cnn-z", "vit-z")

ARCH_DESCRIPTIONS = {
    "fc-small": "FC, the authors' small variant: encoder in→z ReLU; decoder z→in tanh; classifier "
    "linear z→10.",
    "fc-medium": "FC, the authors' medium variant: encoder in→616→z (ReLU); decoder z→616→in "
    "(tanh); "
    "classifier z→12 ReLU→10.",
    "fc-large": "FC, the authors' large variant: encoder in→716→684→616→z; decoder mirrored; "
    "classifier z→64 ReLU→10.",
    "cnn": "CNN as the authors built it: 3 × [conv 3×3, 16 channels → batch norm → max-pool 2 → "
    "ReLU]; "
    "z is the last feature map itself (its size is fixed by the architecture: dim(z) = 16 × h × "
    "w); "
    "decoder 3 transposed convs (3×3, stride 2); classifier one linear layer on the flattened map.",
    "vit": "ViT as the authors built it (MAE-style): 4 × 4 patches embedded to 8 dims, fixed 2-D "
    "sin-cos "
    "position embedding, a class token, 1 transformer block (4 heads, MLP ratio 4); z is the whole "
    "token sequence with its class token (dim(z) = 17 × 8 = 136, fixed by the architecture); "
    "decoder 1 block and a linear patch predictor; classifier: mean of the patch tokens → batch "
    "norm → linear.",
    "cnn-z": "CNN with a dense bottleneck (pcdash's, not the authors'): the conv encoder, then "
    "flatten → "
    "linear → z of the dim(z) you choose; mirrored transposed-conv decoder; classifier z→64→10. "
    "For dim(z) studies.",
    "vit-z": "ViT with a dense bottleneck (pcdash's, not the authors'): patch tokens → 1 block → "
    "mean pool → "
    "linear → z of the dim(z) you choose; decoder z→tokens→1 block→patches (tanh); linear "
    "classifier. For dim(z) studies.",
}


INITS = ("active-latent", "authors")
LATENT_BIAS_INIT = 0.5


def active_latent_init(model: CRE) -> CRE:
    """pcdash's initialisation ``"active-latent"``: PyTorch's default (the authors'), except that

    - the dense latent layer's bias starts at ``LATENT_BIAS_INIT`` = +0.5 (the last batch-norm
      offset for the authors' CNN), so every ReLU latent unit starts active for every input;
    - the classifier's output layer starts at zero, so the first predictions are uniform and the
      cross-entropy sends no input-independent push into the latent.

    With PyTorch's default, a ReLU unit of a small latent can start active for a few percent of
    the inputs and the first Adam steps (each weight moves by the learning rate, all 616 inputs of
    a unit together) push it below zero for every input, where it stays: dead. In the default
    digits sweep (dim(z) = 3, 5 seeds × 6 λ, 1,200 Adam steps) 21 of 30 models had dead latent
    units with PyTorch's default (one seed lost all three), 12 of 30 with this initialisation (one
    unit each, all at 0 < λ < 1).
    """
    last: eqx.nn.Linear = (
        model.classifier.layers[-1]
        if isinstance(model.classifier, MLP)
        else cast(Any, model.classifier).linear  # the ViT's PooledBatchNormClassifier
    )
    assert last.bias is not None  # every classifier's Linear keeps the default use_bias=True
    zero = (jnp.zeros_like(last.weight), jnp.zeros_like(last.bias))

    def classifier_out(m):
        layer = m.classifier.layers[-1] if isinstance(m.classifier, MLP) else m.classifier.linear
        return layer.weight, layer.bias

    model = eqx.tree_at(classifier_out, model, zero)
    enc = model.encoder
    if isinstance(enc, MLP):
        latent_bias = enc.layers[-1].bias
        assert latent_bias is not None  # MLP's Linear layers keep the default use_bias=True
        return eqx.tree_at(
            lambda m: m.encoder.layers[-1].bias,
            model,
            jnp.full_like(latent_bias, LATENT_BIAS_INIT),
        )
    bottleneck = getattr(enc, "bottleneck", None)
    if bottleneck is not None:
        return eqx.tree_at(
            lambda m: m.encoder.bottleneck.bias,
            model,
            jnp.full_like(bottleneck.bias, LATENT_BIAS_INIT),
        )
    if hasattr(enc, "bn_offset"):  # the authors' CNN: its latent is the last block's ReLU output
        return eqx.tree_at(
            lambda m: m.encoder.bn_offset, model, enc.bn_offset.at[-1].set(LATENT_BIAS_INIT)
        )
    return model  # the authors' ViT: its latent (LayerNorm-ed tokens) has no ReLU


def latent_size(arch: str, input_shape: tuple[int, ...], latent_dim: int) -> int:
    """The number of latent units of ``arch`` on inputs of ``input_shape``: ``latent_dim`` for the
    dense latents, and the architecture's own size for :data:`FIXED_LATENT`."""
    if arch == "cnn":
        return math.prod(cnn.authors_cnn_latent_shape(input_shape))
    if arch == "vit":
        return math.prod(vit.authors_vit_latent_shape(input_shape))
    return int(latent_dim)


def build_cre(
    arch: str,
    input_shape: tuple[int, ...],
    num_classes: int,
    latent_dim: int,
    *,
    latent_activation: str = "relu",
    init: str = "authors",
    key: PRNGKeyArray,
) -> CRE:
    """A CRE of variant ``arch`` whose input size adapts to ``input_shape``. ``latent_dim`` is
    ignored by :data:`FIXED_LATENT` architectures (see :func:`latent_size`); ``init`` is one of
    :data:`INITS` (see :func:`active_latent_init`)."""
    if init not in INITS:
        raise ValueError(f"unknown initialisation {init!r}; choose from {', '.join(INITS)}")
    model = _build(arch, input_shape, num_classes, latent_dim, latent_activation, key)
    return active_latent_init(model) if init == "active-latent" else model


def _build(
    arch: str,
    input_shape: tuple[int, ...],
    num_classes: int,
    latent_dim: int,
    latent_activation: str,
    key: PRNGKeyArray,
) -> CRE:
    if arch in FC_VARIANTS:
        return fc_cre(
            input_shape,
            num_classes,
            latent_dim,
            latent_activation=latent_activation,
            key=key,
            **FC_VARIANTS[arch],
        )
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; choose from {', '.join(ARCHS)}")
    if len(input_shape) != 3:
        raise ValueError(f"{arch!r} needs image inputs; this dataset has input shape {input_shape}")
    build: Callable[..., CRE]
    if arch in ("cnn", "cnn-z"):
        build = cnn.authors_cnn if arch == "cnn" else cnn.bottleneck_cnn
    else:
        build = vit.authors_vit if arch == "vit" else vit.bottleneck_vit
    return build(input_shape, num_classes, latent_dim, latent_activation=latent_activation, key=key)
