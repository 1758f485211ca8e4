"""Several latent sizes trained as one program (pcdash.cre.padded): a member padded to a larger
latent is the CRE of its own size, at initialisation, after training and in every number the
sweep reports."""

from dataclasses import replace

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pcdash.cre.algorithm import CREAlgorithm, dead_latent_units
from pcdash.cre.padded import PaddedLatent, latent_mask, pad_like, padding_buckets
from pcdash.experiments import cre_sweep
from pcdash.experiments.cre_config import CREConfig


def _algo(dim: int, arch: str = "fc-medium") -> CREAlgorithm:
    return CREAlgorithm(arch, (8, 8, 1), 10, dim, "relu", 1e-3, "active-latent")


def _padded(dim: int, size: int, key) -> tuple[CREAlgorithm, PaddedLatent, eqx.Module]:
    small = _algo(dim).build(key)
    big = _algo(size)
    template = eqx.filter_eval_shape(big.build, key)
    mask = jnp.asarray(latent_mask(np.array([dim]), size)[0])
    return big, PaddedLatent(pad_like(small, template), mask), small


def test_a_padded_cre_computes_what_the_cre_of_its_own_size_computes():
    x = jax.random.uniform(jax.random.key(1), (32, 8, 8, 1), minval=-1, maxval=1)
    _, padded, small = _padded(3, 16, jax.random.key(0))
    z_small, _ = small.encode(x, small.init_state(), train=False)
    z_pad, _ = padded.encode(x, padded.init_state(), train=False)
    assert z_pad.shape == (32, 16)
    np.testing.assert_array_equal(np.asarray(z_pad[:, 3:]), 0.0)
    np.testing.assert_allclose(z_pad[:, :3], z_small, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(padded.decode(z_pad), small.decode(z_small), atol=1e-5)
    logits_pad, _ = padded.classify(z_pad, {}, train=False)
    logits_small, _ = small.classify(z_small, {}, train=False)
    np.testing.assert_allclose(logits_pad, logits_small, atol=1e-5)


def test_the_padding_gets_no_update_and_the_member_trains_as_its_own_size():
    big, padded, small = _padded(2, 8, jax.random.key(3))
    x = jax.random.uniform(jax.random.key(4), (16, 8, 8, 1), minval=-1, maxval=1)
    y = jnp.arange(16) % 10
    hp = {"lam": jnp.float32(0.5)}
    step_big = eqx.filter_jit(big.train_step)
    step_small = eqx.filter_jit(_algo(2).train_step)
    carry_big, carry_small = big.carry_from_model(padded), _algo(2).carry_from_model(small)
    for _ in range(20):
        carry_big, m_big = step_big(carry_big, hp, x, y, jax.random.key(0))
        carry_small, m_small = step_small(carry_small, hp, x, y, jax.random.key(0))
    model = carry_big[0].model
    # padded rows/columns: exactly zero after 20 Adam steps
    assert np.all(np.asarray(model.encoder.layers[-1].weight[2:]) == 0)
    assert np.all(np.asarray(model.encoder.layers[-1].bias[2:]) == 0)
    assert np.all(np.asarray(model.decoder.layers[0].weight[:, 2:]) == 0)
    assert np.all(np.asarray(model.classifier.layers[0].weight[:, 2:]) == 0)
    # the rest is the small member's, up to float rounding
    np.testing.assert_allclose(
        model.encoder.layers[-1].weight[:2], carry_small[0].encoder.layers[-1].weight, atol=1e-5
    )
    np.testing.assert_allclose(
        model.decoder.layers[0].weight[:, :2], carry_small[0].decoder.layers[0].weight, atol=1e-5
    )
    for k in ("mse", "ce", "loss"):
        np.testing.assert_allclose(m_big[k], m_small[k], rtol=1e-4)


def test_padded_units_are_not_counted_as_dead():
    big, padded, _ = _padded(3, 16, jax.random.key(5))
    x = jax.random.uniform(jax.random.key(6), (2, 64, 8, 8, 1), minval=-1, maxval=1)
    carry = big.carry_from_model(padded)
    # active-latent initialisation: all 3 real units are active somewhere; 13 padded ones are not
    assert int(dead_latent_units(carry, x)) == 0


def test_padding_buckets_group_nearby_sizes_and_keep_far_ones_apart():
    def cost(d):  # FC-Medium on 8 × 8 digits: parameters of a CRE with dim(z) = d
        return 64 * 616 + 616 + 616 * d + d + d * 616 + 616 + 616 * 64 + 64 + d * 12 + 12 + 130

    assert padding_buckets([1, 2, 3, 4, 8, 16], cost) == [(1, 2, 3, 4, 8, 16)]
    assert padding_buckets([16, 1], cost) == [(1, 16)]
    # padding 2 and 4 to 512 would cost ~7× training each at its own size
    assert padding_buckets([2, 4, 512], cost) == [(2, 4), (512,)]
    for bucket in padding_buckets([1, 2, 3, 40, 64, 100, 256, 300], cost):
        assert len(bucket) * cost(max(bucket)) <= 1.5 * sum(cost(d) for d in bucket)


@pytest.fixture(scope="module")
def both_ways():
    """One small latent-dimension sweep trained padded (one program) and per dimension."""
    config = replace(
        CREConfig(),
        latent_dims=(5, 2),
        lambdas=(0.0, 1.0),
        seeds=2,
        epochs=2,
        batch_size=64,
        baselines=("pca",),
    ).validate()
    padded = cre_sweep.run_cre_sweep(config)
    original = cre_sweep.latent_buckets
    cre_sweep.latent_buckets = lambda c, d: [(int(x),) for x in c.latent_dims]
    try:
        separate = cre_sweep.run_cre_sweep(config)
    finally:
        cre_sweep.latent_buckets = original
    return config, padded, separate


def test_a_padded_sweep_reports_what_one_program_per_dimension_reports(both_ways):
    config, padded, separate = both_ways
    assert len(cre_sweep.latent_buckets(config, cre_sweep.load_dataset("digits"))) == 1
    key = ["member", "epoch", "split"]
    a = padded.frame.sort_values(key).reset_index(drop=True)
    b = separate.frame.sort_values(key).reset_index(drop=True)
    assert len(a) == len(b) and (a[key].to_numpy() == b[key].to_numpy()).all()
    for col in ("mse", "ce", "loss"):
        np.testing.assert_allclose(a[col], b[col], rtol=2e-3, atol=2e-4, err_msg=col)
    # rounding may flip an example or two near a decision boundary (1/640 of a split here)
    np.testing.assert_allclose(a["accuracy"], b["accuracy"], atol=0.005)
    dead = "dead_latent_units"
    test_a, test_b = a[a.split == "test"], b[b.split == "test"]
    assert test_a.loc[test_a.model == "cre", dead].notna().all()
    np.testing.assert_array_equal(test_a[dead], test_b[dead])
    assert padded.members.equals(separate.members)


def test_a_padded_member_s_latent_codes_have_its_own_size(both_ways):
    _, padded, separate = both_ways
    for _, row in padded.members[padded.members.model == "cre"].iterrows():
        m = int(row["member"])
        assert padded.snapshot.z[m].shape[1] == row["latent_dim"]
        np.testing.assert_allclose(padded.snapshot.z[m], separate.snapshot.z[m], atol=2e-3)
