"""Tests for the CNN- and ViT-based CREs (pcdash.cre.cnn, pcdash.cre.vit)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from pcdash.cre.cnn import CNNCRE, batch_norm, max_pool2
from pcdash.cre.vit import ViTCRE, patchify, unpatchify

SHAPES = [(8, 8, 1), (28, 28, 1), (32, 32, 3)]
MODELS = [CNNCRE, ViTCRE]
NUM_CLASSES = 10
LATENT = 4  # one latent size and batch size throughout keeps XLA compilations few
B = 8


@eqx.filter_jit
def _forward(model, state, x, big):
    z, new_state = model.encode(x, state, train=True)
    z_eval, _ = model.encode(x, state, train=False)
    return z, new_state, z_eval, model.decode(z), model.decode(big), model.classify(z)


def _images(key, n, shape, shift=0.0):
    return jnp.clip(jax.random.uniform(key, (n, *shape), minval=-1.0, maxval=1.0) + shift, -5, 5)


@pytest.mark.parametrize("cls", MODELS)
@pytest.mark.parametrize("shape", SHAPES)
def test_shapes_and_ranges(cls, shape):
    x = _images(jax.random.key(1), B, shape)
    big = 100.0 * jax.random.normal(jax.random.key(2), (B, LATENT))
    for act in ("relu", "linear"):
        model = cls(shape, NUM_CLASSES, LATENT, latent_activation=act, key=jax.random.key(0))
        state = model.init_state()
        z, new_state, z_eval, xr, xr_big, logits = _forward(model, state, x, big)
        assert z.shape == z_eval.shape == (B, LATENT)
        assert jax.tree.structure(new_state) == jax.tree.structure(state)
        assert xr.shape == (B, *shape)
        assert bool(jnp.all(jnp.abs(xr) <= 1.0))
        assert bool(jnp.all(jnp.abs(xr_big) <= 1.0)) and bool(jnp.all(jnp.isfinite(xr_big)))
        assert logits.shape == (B, NUM_CLASSES)
        if act == "relu":
            assert bool(jnp.all(z >= 0)) and bool(jnp.all(z_eval >= 0))
        else:
            assert bool(jnp.any(z < 0))


def test_bad_latent_activation():
    with pytest.raises(ValueError):
        CNNCRE((8, 8, 1), 10, 3, latent_activation="tanh", key=jax.random.key(0))
    with pytest.raises(ValueError):
        ViTCRE((8, 8, 1), 10, 3, latent_activation="tanh", key=jax.random.key(0))


def test_maxpool_floor_and_patch_roundtrip():
    assert max_pool2(jnp.zeros((2, 7, 7, 3))).shape == (2, 3, 3, 3)
    x = jax.random.normal(jax.random.key(0), (2, 28, 28, 1))
    p = patchify(x)
    assert p.shape == (2, 16, 49)
    np.testing.assert_array_equal(p[0, 1], x[0, :7, 7:14, 0].reshape(-1))
    np.testing.assert_array_equal(unpatchify(p, (28, 28, 1)), x)


def test_batch_norm_helper():
    key = jax.random.key(0)
    c = 4
    x = 3.0 + 2.0 * jax.random.normal(key, (16, 5, 5, c))
    ones, zeros = jnp.ones(c), jnp.zeros(c)
    y, m, v = batch_norm(x, ones, zeros, zeros, ones, train=True)
    np.testing.assert_allclose(jnp.mean(y, axis=(0, 1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(jnp.var(y, axis=(0, 1, 2)), 1.0, atol=1e-3)
    bm, bv = jnp.mean(x, axis=(0, 1, 2)), jnp.var(x, axis=(0, 1, 2))
    np.testing.assert_allclose(m, 0.1 * bm, rtol=1e-5)
    np.testing.assert_allclose(v, 0.9 + 0.1 * bv, rtol=1e-5)
    # running stats move towards the batch stats
    assert bool(jnp.all(jnp.abs(m - bm) < jnp.abs(zeros - bm)))
    assert bool(jnp.all(jnp.abs(v - bv) < jnp.abs(ones - bv)))
    # affine part
    y2, _, _ = batch_norm(x, 2.0 * ones, ones, zeros, ones, train=True)
    np.testing.assert_allclose(y2, 2.0 * y + 1.0, atol=1e-5)
    # eval mode uses the running stats and leaves them unchanged
    ye, me, ve = batch_norm(x, ones, zeros, zeros, ones, train=False)
    np.testing.assert_allclose(ye, x / jnp.sqrt(1.0 + 1e-5), rtol=1e-5)
    np.testing.assert_array_equal(me, zeros)
    np.testing.assert_array_equal(ve, ones)
    # returned stats carry no gradient
    g = jax.grad(lambda x: jnp.sum(batch_norm(x, ones, zeros, zeros, ones, train=True)[1]))(x)
    assert float(jnp.max(jnp.abs(g))) == 0.0


@eqx.filter_jit
def _eval_after_updates(model, state, x, n):
    state = jax.lax.fori_loop(0, n, lambda _, s: model.encode(x, s, train=True)[1], state)
    return model.encode(x, state, train=False)[0]


def test_cnn_state_and_eval_mode():
    shape = (8, 8, 1)
    model = CNNCRE(shape, NUM_CLASSES, LATENT, latent_activation="linear", key=jax.random.key(0))
    state = model.init_state()
    x = _images(jax.random.key(1), B, shape, shift=2.0)  # shifted batch: stats far from (0, 1)
    big = jnp.zeros((B, LATENT))
    z_train, new_state, z_eval, *_ = _forward(model, state, x, big)
    for k in ("mean", "var"):
        assert new_state[k].shape == state[k].shape == (3, 16)
        assert not np.allclose(new_state[k], state[k])
    # eval mode uses the (initial) running stats, so it differs from train mode
    assert not np.allclose(z_train, z_eval, atol=1e-3)
    # after many updates on the same batch, the running stats approach the batch stats
    z_eval2 = _eval_after_updates(model, state, x, 100)
    assert float(jnp.max(jnp.abs(z_eval2 - z_train))) < 0.1 * float(
        jnp.max(jnp.abs(z_eval - z_train))
    )


@eqx.filter_jit
@eqx.filter_vmap(in_axes=(eqx.if_array(0), eqx.if_array(0), None))
def _ensemble_forward(m, s, x):
    z, s2 = m.encode(x, s, train=True)
    return z, s2, m.decode(z), m.classify(z)


@pytest.mark.parametrize("cls", MODELS)
def test_ensemble_vmap(cls):
    shape = (8, 8, 1)
    keys = jax.random.split(jax.random.key(0), 3)
    make = eqx.filter_vmap(lambda k: cls(shape, NUM_CLASSES, LATENT, key=k))
    # vmapped construction traces (checked without paying for compiling the random init) ...
    abstract = eqx.filter_eval_shape(make, keys)
    # ... and gives the same pytree as stacking members built one by one (whose eager
    # kernels are already compiled by the shape tests)
    members = [cls(shape, NUM_CLASSES, LATENT, key=k) for k in keys]
    params = [eqx.filter(m, eqx.is_array) for m in members]
    models = eqx.combine(jax.tree.map(lambda *a: jnp.stack(a), *params), members[0])
    assert jax.tree.structure(abstract) == jax.tree.structure(models)
    for a, b in zip(jax.tree.leaves(abstract), jax.tree.leaves(models), strict=True):
        if eqx.is_array(b):  # (non-array leaves, e.g. the attention's dropout rate, stay)
            assert a.shape == b.shape and a.shape[0] == 3
    states = eqx.filter_vmap(lambda m: m.init_state())(models)
    x = _images(jax.random.key(1), B, shape)
    z, new_states, xr, logits = _ensemble_forward(models, states, x)
    assert z.shape == (3, B, LATENT)
    assert xr.shape == (3, B, *shape)
    assert logits.shape == (3, B, NUM_CLASSES)
    assert jax.tree.structure(new_states) == jax.tree.structure(states)
    for leaf in jax.tree.leaves(new_states):
        assert leaf.shape[0] == 3
    assert not np.allclose(z[0], z[1]) and not np.allclose(z[1], z[2])
    assert not np.allclose(logits[0], logits[1])
    # each member's slice of the vmapped run equals running that member on its own
    z1, _ = members[1].encode(x, members[1].init_state(), train=True)
    np.testing.assert_allclose(z[1], z1, rtol=1e-4, atol=1e-5)


def _loss(model, state, x, y):
    z, new_state = model.encode(x, state, train=True)
    mse = jnp.mean((model.decode(z) - x) ** 2)
    ce = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(model.classify(z), y))
    return mse + ce, new_state


def _parts(cls, grads):
    if cls is CNNCRE:
        return {
            "encoder": (grads.convs, grads.bn_scale, grads.bn_offset, grads.enc_linear),
            "decoder": (grads.dec_linear, grads.deconvs),
            "classifier": (grads.cls_hidden, grads.cls_out),
        }
    return {
        "encoder": (grads.patch_embed, grads.pos_embed, grads.enc_block, grads.enc_linear),
        "decoder": (grads.dec_linear, grads.dec_block, grads.dec_patch),
        "classifier": (grads.cls_out,),
    }


@pytest.mark.parametrize("cls", MODELS)
@pytest.mark.parametrize("act", ["relu", "linear"])
def test_gradients_flow_and_adam_lowers_loss(cls, act):
    shape = (8, 8, 1)
    model = cls(shape, NUM_CLASSES, LATENT, latent_activation=act, key=jax.random.key(0))
    state = model.init_state()
    x = _images(jax.random.key(1), B, shape)
    y = jnp.arange(B) % NUM_CLASSES
    opt = optax.adam(3e-3)
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
            for name, part in _parts(cls, grads).items():
                leaves = jax.tree.leaves(eqx.filter(part, eqx.is_array))
                assert all(bool(jnp.all(jnp.isfinite(g))) for g in leaves), name
                assert sum(float(jnp.sum(g**2)) for g in leaves) > 0, name
    assert all(np.isfinite(losses))
    assert losses[-1] < losses[0] - 0.05
