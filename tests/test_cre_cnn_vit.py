"""The CNN and ViT CREs: ``cnn`` and ``vit`` as the authors built them (their public code,
wiskott-lab/classification-reconstruction-encoder), ``cnn-z`` and ``vit-z`` with a dense dim(z)."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from pcdash.cre.cnn import authors_cnn_latent_shape, max_pool2
from pcdash.cre.layers import batch_norm
from pcdash.cre.models import build_cre, latent_size
from pcdash.cre.vit import patchify, sincos_position_embedding, unpatchify
from pcdash.promotion import standard_promotion

SHAPES = [(8, 8, 1), (28, 28, 1), (32, 32, 3)]
ARCHS = ["cnn", "vit", "cnn-z", "vit-z"]
NUM_CLASSES = 10
LATENT = 4  # the dense dim(z) of cnn-z and vit-z
B = 8


def _n_params(model) -> int:
    return sum(a.size for a in jax.tree.leaves(eqx.filter(model, eqx.is_array)))


@eqx.filter_jit
def _forward(model, state, x):
    z, new_state = model.encode(x, state, train=True)
    z_eval, _ = model.encode(x, state, train=False)
    logits, new_state = model.classify(z, new_state, train=True)
    return z, new_state, z_eval, model.decode(z), logits


def _images(key, n, shape, shift=0.0):
    return jnp.clip(jax.random.uniform(key, (n, *shape), minval=-1.0, maxval=1.0) + shift, -5, 5)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("shape", SHAPES)
def test_shapes(arch, shape):
    x = _images(jax.random.key(1), B, shape)
    model = build_cre(arch, shape, NUM_CLASSES, LATENT, key=jax.random.key(0))
    state = model.init_state()
    z, new_state, z_eval, x_hat, logits = _forward(model, state, x)
    assert z.shape == z_eval.shape
    assert math.prod(z.shape[1:]) == latent_size(arch, shape, LATENT)
    assert jax.tree.structure(new_state) == jax.tree.structure(state)
    assert x_hat.shape == (B, *shape) and logits.shape == (B, NUM_CLASSES)
    if arch in ("cnn-z", "vit-z"):
        assert z.shape == (B, LATENT) and bool(
            jnp.all(z >= 0)
        )  # a dense ReLU latent of the chosen size


@pytest.mark.parametrize(
    "shape,latent", [((8, 8, 1), (1, 1, 16)), ((28, 28, 1), (4, 4, 16)), ((32, 32, 3), (4, 4, 16))]
)
def test_authors_cnn_latent_is_the_feature_map(shape, latent):
    """3 blocks of 2×2 pooling: 28 → 14 → 8 → 4 with the authors' paddings (0, 1, 0); 8 → 4 → 2
    → 1 and
    32 → 16 → 8 → 4 otherwise. The latent is the ReLU-ed map, the classifier one linear layer on
    it."""
    assert authors_cnn_latent_shape(shape) == latent
    model = build_cre("cnn", shape, NUM_CLASSES, LATENT, key=jax.random.key(0))
    z, _ = model.encode(_images(jax.random.key(1), B, shape), model.init_state(), train=True)
    assert z.shape == (B, *latent) and bool(jnp.all(z >= 0))
    assert model.classifier.layers[0].weight.shape == (NUM_CLASSES, math.prod(latent))
    assert [c.weight.shape[:2] for c in model.encoder.convs] == [
        (16, shape[-1]),
        (16, 16),
        (16, 16),
    ]
    assert [c.weight.shape[2:] for c in model.encoder.convs] == [(3, 3)] * 3


def test_authors_models_have_the_authors_parameter_counts_on_mnist():
    """Counted by hand from the authors' modules on 28×28×1:
    CNN: convs 160 + 2,320 + 2,320, batch norms 3 × 32, transposed convs 2,320 + 2,320 + 145,
    classifier 256·10 + 10 → 12,251.
    ViT: patch embedding 49·8 + 8, class token 8, block 872 (LayerNorms 2·16, qkv 8·24 + 24,
    proj 72,
    MLP 8·32 + 32 + 32·8 + 8), LayerNorm 16; decoder embedding 72, block 872, LayerNorm 16,
    predictor
    8·49 + 49; classifier 8·10 + 10 → 2,787 (the authors' unused mask token, 8 more, is left
    out)."""
    key = jax.random.key(0)
    assert _n_params(build_cre("cnn", (28, 28, 1), 10, 0, key=key)) == 12_251
    assert _n_params(build_cre("vit", (28, 28, 1), 10, 0, key=key)) == 2_787


def test_authors_vit_latent_is_the_token_sequence_with_its_class_token():
    shape = (28, 28, 1)
    model = build_cre("vit", shape, NUM_CLASSES, 0, key=jax.random.key(0))
    x = _images(jax.random.key(1), B, shape)
    z, state = model.encode(x, model.init_state(), train=True)
    assert z.shape == (B, 17, 8)  # 16 patches of 7×7 and the class token, embedding 8
    # the tokens leave a LayerNorm: zero mean and unit variance over the embedding
    np.testing.assert_allclose(jnp.mean(z, -1), 0.0, atol=1e-5)
    np.testing.assert_allclose(jnp.var(z, -1), 1.0, atol=1e-3)
    # the classifier ignores the class token: it pools the patch tokens only
    z2 = z.at[:, 0].set(123.0)
    np.testing.assert_allclose(
        model.classify(z2, state, train=False)[0],
        model.classify(z, state, train=False)[0],
        rtol=1e-5,
    )
    # the decoder ends linear (no tanh), as the authors'
    assert float(jnp.max(jnp.abs(model.decode(100.0 * z)))) > 1.0
    # Xavier-uniform linear layers with zero bias; the patch embedding keeps a conv bias
    qkv = model.encoder.blocks[0].attn.qkv
    assert (
        float(jnp.max(jnp.abs(qkv.weight))) <= math.sqrt(6 / (8 + 24))
        and float(jnp.max(jnp.abs(qkv.bias))) == 0
    )
    assert float(jnp.max(jnp.abs(model.encoder.patch_embed.bias))) > 0
    assert model.encoder.blocks[0].fc1.weight.shape == (32, 8)  # MLP ratio 4


def test_sincos_position_embedding_is_mae_s():
    """MAE's 2-D sin-cos table: token (row i, column j) → [sin(j·ω), cos(j·ω), sin(i·ω),
    cos(i·ω)] with
    ω = (1, 10000^(−1/2)) for dimension 8; the class token's row is zero."""
    emb = sincos_position_embedding(8, 4, class_token=True)
    assert emb.shape == (17, 8) and not emb[0].any()
    w = np.array([1.0, 0.01])
    i, j = 2, 1  # token 2·4 + 1, after the class token
    want = np.concatenate([np.sin(j * w), np.cos(j * w), np.sin(i * w), np.cos(i * w)])
    np.testing.assert_allclose(emb[1 + 4 * i + j], want, rtol=1e-6)


def test_maxpool_padding_and_patch_roundtrip():
    assert max_pool2(jnp.zeros((2, 7, 7, 3))).shape == (2, 3, 3, 3)
    assert max_pool2(jnp.zeros((2, 14, 14, 3)), padding=1).shape == (2, 8, 8, 3)
    # padding is −∞: a border of negative values is not replaced by zeros
    assert float(max_pool2(-jnp.ones((1, 2, 2, 1)), padding=1).max()) == -1.0
    x = jax.random.normal(jax.random.key(0), (2, 28, 28, 1))
    p = patchify(x)
    assert p.shape == (2, 16, 49)
    np.testing.assert_array_equal(p[0, 1], x[0, :7, 7:14, 0].reshape(-1))
    np.testing.assert_array_equal(unpatchify(p, (28, 28, 1)), x)


def test_batch_norm_follows_pytorch():
    key = jax.random.key(0)
    c = 4
    x = 3.0 + 2.0 * jax.random.normal(key, (16, 5, 5, c))
    ones, zeros = jnp.ones(c), jnp.zeros(c)
    y, m, v = batch_norm(x, zeros, ones, train=True)
    np.testing.assert_allclose(jnp.mean(y, axis=(0, 1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(jnp.var(y, axis=(0, 1, 2)), 1.0, atol=1e-3)
    n = 16 * 5 * 5
    bm, bv = (
        jnp.mean(x, axis=(0, 1, 2)),
        jnp.var(x, axis=(0, 1, 2)) * n / (n - 1),
    )  # unbiased, as PyTorch
    np.testing.assert_allclose(m, 0.1 * bm, rtol=1e-5)
    np.testing.assert_allclose(v, 0.9 + 0.1 * bv, rtol=1e-5)
    # eval mode uses the running stats and leaves them unchanged
    ye, me, ve = batch_norm(x, zeros, ones, train=False)
    np.testing.assert_allclose(ye, x / jnp.sqrt(1.0 + 1e-5), rtol=1e-5)
    np.testing.assert_array_equal(me, zeros)
    np.testing.assert_array_equal(ve, ones)
    # returned stats carry no gradient
    g = jax.grad(lambda x: jnp.sum(batch_norm(x, zeros, ones, train=True)[1]))(x)
    assert float(jnp.max(jnp.abs(g))) == 0.0


@eqx.filter_jit
def _eval_after_updates(model, state, x, n):
    state = jax.lax.fori_loop(0, n, lambda _, s: model.encode(x, s, train=True)[1], state)
    return model.encode(x, state, train=False)[0]


@pytest.mark.parametrize("arch", ["cnn", "cnn-z"])
def test_cnn_state_and_eval_mode(arch):
    shape = (8, 8, 1)
    model = build_cre(
        arch, shape, NUM_CLASSES, LATENT, latent_activation="linear", key=jax.random.key(0)
    )
    state = model.init_state()
    x = _images(jax.random.key(1), B, shape, shift=2.0)  # shifted batch: stats far from (0, 1)
    z_train, new_state, z_eval, *_ = _forward(model, state, x)
    for k in ("mean", "var"):
        assert new_state["encoder"][k].shape == state["encoder"][k].shape == (3, 16)
        assert not np.allclose(new_state["encoder"][k], state["encoder"][k])
    # eval mode uses the (initial) running stats, so it differs from train mode
    assert not np.allclose(z_train, z_eval, atol=1e-3)
    # after many updates on the same batch, the running stats approach the batch stats
    z_eval2 = _eval_after_updates(model, state, x, 100)
    assert float(jnp.max(jnp.abs(z_eval2 - z_train))) < 0.1 * float(
        jnp.max(jnp.abs(z_eval - z_train))
    )


def test_vit_classifier_batch_norm_has_running_statistics():
    shape = (8, 8, 1)
    model = build_cre("vit", shape, NUM_CLASSES, 0, key=jax.random.key(0))
    state = model.init_state()
    assert set(state) == {"classifier"} and state["classifier"]["mean"].shape == (8,)
    z, _ = model.encode(_images(jax.random.key(1), B, shape), state, train=True)
    _, new_state = model.classify(z, state, train=True)
    assert not np.allclose(new_state["classifier"]["mean"], 0.0)


@eqx.filter_jit
@eqx.filter_vmap(in_axes=(eqx.if_array(0), eqx.if_array(0), None))
def _ensemble_forward(m, s, x):
    z, s2 = m.encode(x, s, train=True)
    logits, s2 = m.classify(z, s2, train=True)
    return z, s2, m.decode(z), logits


@pytest.mark.parametrize("arch", ARCHS)
def test_ensemble_vmap(arch):
    shape = (8, 8, 1)
    keys = jax.random.split(jax.random.key(0), 3)
    members = [build_cre(arch, shape, NUM_CLASSES, LATENT, key=k) for k in keys]
    params = [eqx.filter(m, eqx.is_array) for m in members]
    models = eqx.combine(jax.tree.map(lambda *a: jnp.stack(a), *params), members[0])
    abstract = eqx.filter_eval_shape(
        eqx.filter_vmap(lambda k: build_cre(arch, shape, NUM_CLASSES, LATENT, key=k)), keys
    )
    assert jax.tree.structure(abstract) == jax.tree.structure(models)
    states = eqx.filter_vmap(lambda m: m.init_state())(models)
    x = _images(jax.random.key(1), B, shape)
    z, new_states, xr, logits = _ensemble_forward(models, states, x)
    assert (
        z.shape[:2] == (3, B) and xr.shape == (3, B, *shape) and logits.shape == (3, B, NUM_CLASSES)
    )
    assert jax.tree.structure(new_states) == jax.tree.structure(states)
    assert not np.allclose(logits[0], logits[1])
    # each member's slice of the vmapped run equals running that member on its own
    z1, _ = members[1].encode(x, members[1].init_state(), train=True)
    np.testing.assert_allclose(z[1], z1, rtol=1e-4, atol=1e-5)


def _loss(model, state, x, y):
    z, state = model.encode(x, state, train=True)
    logits, state = model.classify(z, state, train=True)
    mse = jnp.mean((model.decode(z) - x) ** 2)
    return mse + jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y)), state


@pytest.mark.parametrize("arch", ARCHS)
def test_gradients_reach_every_part_and_adam_lowers_the_loss(arch):
    shape = (8, 8, 1)
    model = build_cre(arch, shape, NUM_CLASSES, LATENT, key=jax.random.key(0))
    state = model.init_state()
    x = _images(jax.random.key(1), B, shape)
    y = jnp.arange(B) % NUM_CLASSES
    opt = standard_promotion(optax.adam(3e-3))
    opt_state = opt.init(eqx.filter(model, eqx.is_array))

    @eqx.filter_jit
    def step(model, state, opt_state):
        (loss, state), grads = eqx.filter_value_and_grad(_loss, has_aux=True)(model, state, x, y)
        updates, opt_state = opt.update(grads, opt_state, eqx.filter(model, eqx.is_array))
        return eqx.apply_updates(model, updates), state, opt_state, loss, grads

    losses = []
    for i in range(20):
        model, state, opt_state, loss, grads = step(model, state, opt_state)
        losses.append(float(loss))
        if i == 0:  # gradients reach every part, and are finite
            for name in ("encoder", "decoder", "classifier"):
                leaves = jax.tree.leaves(eqx.filter(getattr(grads, name), eqx.is_array))
                assert all(bool(jnp.all(jnp.isfinite(g))) for g in leaves), name
                assert sum(float(jnp.sum(g**2)) for g in leaves) > 0, name
    assert all(np.isfinite(losses))
    assert losses[-1] < losses[0] - 0.05
