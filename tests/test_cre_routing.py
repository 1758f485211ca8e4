"""Gradient routing: encoder ← λ∇MSE + (1−λ)∇CE, decoder ← ∇MSE, classifier ← ∇CE, at every λ."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pcdash.cre.losses import ce_per_example, mse_per_example, routed_loss, scale_grad
from pcdash.cre.models import build_cre


def _separate_losses(model, x, y):
    state = model.init_state()
    z, state = model.encode(x, state, train=True)
    logits, _ = model.classify(z, state, train=True)
    mse = jnp.mean(mse_per_example(model.decode(z), x))
    ce = jnp.mean(ce_per_example(logits, y))
    return mse, ce


@pytest.mark.parametrize("lam", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("arch", ["fc-small", "fc-medium", "cnn", "cnn-z", "vit", "vit-z"])
def test_routed_gradients_match_separately_computed_ones(lam, arch):
    """Encoder ← λ∇MSE + (1−λ)∇CE, decoder ← ∇MSE, classifier ← ∇CE, for every variant (the
    authors' CNN and ViT with their batch norms in train mode included)."""
    key = jax.random.PRNGKey(1)
    model = build_cre(arch, (8, 8, 1), 10, 3, latent_activation="linear", key=key)
    x = jax.random.uniform(jax.random.PRNGKey(2), (16, 8, 8, 1), minval=-1, maxval=1)
    y = jnp.arange(16) % 10

    g = eqx.filter_grad(lambda m: routed_loss(m, m.init_state(), x, y, lam)[0])(model)
    g_mse = eqx.filter_grad(lambda m: _separate_losses(m, x, y)[0])(model)
    g_ce = eqx.filter_grad(lambda m: _separate_losses(m, x, y)[1])(model)

    expected_encoder = jax.tree_util.tree_map(
        lambda a, b: lam * a + (1 - lam) * b, g_mse.encoder, g_ce.encoder
    )
    for got, want in zip(
        jax.tree_util.tree_leaves(g.encoder),
        jax.tree_util.tree_leaves(expected_encoder),
        strict=True,
    ):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    for got, want in zip(
        jax.tree_util.tree_leaves(g.decoder), jax.tree_util.tree_leaves(g_mse.decoder), strict=True
    ):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    for got, want in zip(
        jax.tree_util.tree_leaves(g.classifier),
        jax.tree_util.tree_leaves(g_ce.classifier),
        strict=True,
    ):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    # the heads learn at both ends of the λ range: a plain weighted sum would zero one of them
    assert any(
        float(jnp.abs(leaf).max()) > 0
        for leaf in jax.tree_util.tree_leaves(eqx.filter(g.decoder, eqx.is_array))
    )
    assert any(
        float(jnp.abs(leaf).max()) > 0
        for leaf in jax.tree_util.tree_leaves(eqx.filter(g.classifier, eqx.is_array))
    )


def test_routed_loss_reports_the_weighted_objective():
    model = build_cre("fc-small", (8, 8, 1), 10, 2, key=jax.random.PRNGKey(0))
    x = jax.random.uniform(jax.random.PRNGKey(3), (8, 8, 8, 1), minval=-1, maxval=1)
    y = jnp.arange(8)
    _, (metrics, _) = routed_loss(model, {}, x, y, 0.25)
    mse, ce = _separate_losses(model, x, y)
    np.testing.assert_allclose(metrics["loss"], 0.25 * mse + 0.75 * ce, rtol=1e-5)
    np.testing.assert_allclose(metrics["mse"], mse, rtol=1e-5)


def test_scale_grad_is_identity_forward_and_scales_backward():
    x = jnp.array([1.0, -2.0, 3.0])
    np.testing.assert_allclose(scale_grad(x, 0.3), x)
    g = jax.grad(lambda v: jnp.sum(scale_grad(v, 0.3) ** 2))(x)
    np.testing.assert_allclose(g, 0.3 * 2 * x, rtol=1e-6)


@pytest.mark.parametrize("arch,n_hidden", [("fc-small", 0), ("fc-medium", 1), ("fc-large", 3)])
def test_fc_variants_have_the_reference_widths(arch, n_hidden):
    model = build_cre(arch, (28, 28, 1), 10, 5, key=jax.random.PRNGKey(0))
    enc = [layer.weight.shape for layer in model.encoder.layers]
    assert len(enc) == n_hidden + 1 and enc[0][1] == 784 and enc[-1][0] == 5
    dec = [layer.weight.shape for layer in model.decoder.layers]
    assert [s[::-1] for s in reversed(dec)] == enc  # the decoder mirrors the encoder
    z, _ = model.encode(jnp.zeros((4, 28, 28, 1)), {}, train=False)
    assert z.shape == (4, 5) and bool(jnp.all(z >= 0))  # ReLU latent by default
    assert model.decode(z).shape == (4, 28, 28, 1)
    assert model.classify(z, {}, train=False)[0].shape == (4, 10)


def test_linear_latent_can_be_negative():
    model = build_cre(
        "fc-small", (8, 8, 1), 10, 3, latent_activation="linear", key=jax.random.PRNGKey(0)
    )
    z, _ = model.encode(jax.random.normal(jax.random.PRNGKey(1), (64, 8, 8, 1)), {}, train=False)
    assert bool(jnp.any(z < 0))
