"""The learning rules beside standard PC (iPC, PN, NN, CN) and the switches of the BP-vs-PC
comparison (precision, relaxed convergence, weight decay): each one's defining property."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from pcdash.cli import main
from pcdash.errors import ConfigError
from pcdash.pcn import ALGORITHMS, PCNAlgorithm, PCNConfig
from pcdash.pcn.algorithms import layer_cosines
from pcdash.pcn.energies import precision_weighted
from pcdash.pcn.landscape import filter_normalised_direction, loss_landscape

SIZES = (6, 10, 8, 3)
KEY = jax.random.PRNGKey(0)
X = jax.random.normal(jax.random.PRNGKey(1), (16, 6))
Y = jnp.arange(16) % 3


def hp(gamma=0.05, lr=0.01, opt=1.0, spe=2.0):
    return {"state_lr": jnp.float32(gamma), "weight_lr": jnp.float32(lr), "opt_id": jnp.float32(opt),
            "steps_per_epoch": jnp.float32(spe)}  # fmt: skip


def algo(name="pc-se", **kw):
    kw.setdefault("weight_momentum", 0.0)  # plain SGD (opt_id 1): update = −lr · gradient
    kw.setdefault("state_optimizer", "sgd")
    return PCNAlgorithm(SIZES, algorithm=name, **kw)


def step(a, h=None, carry=None):
    h = h or hp()
    carry = carry if carry is not None else a.init(KEY, h)
    return jax.jit(a.train_step)(carry, h, X, Y, KEY)


def delta(a, h=None, carry=None):
    h = h or hp()
    carry = carry if carry is not None else a.init(KEY, h)
    new, metrics = step(a, h, carry)
    return jax.tree_util.tree_map(jnp.subtract, new.mlp, carry.mlp), metrics, new


def close(a, b, tol=1e-6):
    return all(np.allclose(u, v, atol=tol, rtol=1e-5) for u, v in zip(jax.tree_util.tree_leaves(a),
                                                                       jax.tree_util.tree_leaves(b), strict=True))  # fmt: skip


def test_ipc_with_one_inference_step_is_pc_with_one_step_and_updates_weights_at_every_step():
    d_ipc, _, _ = delta(algo("ipc", inference_steps=1))
    d_pc, _, _ = delta(algo("pc-se", inference_steps=1))
    assert close(d_ipc, d_pc)
    # with T = 4: four weight updates inside one training step (AdamW counts them)
    new, _ = step(algo("ipc", inference_steps=4), hp(opt=0.0))
    counts = [s.count for s in jax.tree_util.tree_leaves(new.opt_state, is_leaf=lambda s: isinstance(s, optax.ScaleByAdamState))
              if isinstance(s, optax.ScaleByAdamState)]  # fmt: skip
    assert counts and all(int(c) == 4 for c in counts)
    new_pc, _ = step(algo("pc-se", inference_steps=4), hp(opt=0.0))
    counts_pc = [s.count for s in jax.tree_util.tree_leaves(new_pc.opt_state, is_leaf=lambda s: isinstance(s, optax.ScaleByAdamState))
                 if isinstance(s, optax.ScaleByAdamState)]  # fmt: skip
    assert all(int(c) == 1 for c in counts_pc)
    assert close(delta(algo("ipc", inference_steps=4))[0], delta(algo("pc-se", inference_steps=4, update_every=1))[0])


def test_relaxed_convergence_with_k_equal_to_t_is_standard_pc():
    d_std, m_std, _ = delta(algo("pc-se", inference_steps=6))
    d_k, m_k, _ = delta(algo("pc-se", inference_steps=6, update_every=6))
    assert close(d_std, d_k)
    np.testing.assert_allclose(m_std["energy_trace"], m_k["energy_trace"], rtol=1e-5, atol=1e-7)
    d_2, m_2, _ = delta(algo("pc-se", inference_steps=6, update_every=2))
    assert not close(d_std, d_2) and m_2["energy_trace"].shape == (7, 3)
    with pytest.raises(ValueError, match="divide"):
        algo("pc-se", inference_steps=6, update_every=4)
    with pytest.raises(ConfigError, match="divide"):
        PCNConfig(inference_steps=6, update_every=4).validate()


def test_positive_nudging_with_small_beta_follows_the_bp_gradient():
    a = algo("pn", inference_steps=100, beta0=0.01, beta_rate=0.0, alignment=True)
    _, metrics, _ = delta(a, hp(gamma=0.1))
    cos = np.asarray(metrics["bp_cosine"])
    assert cos.shape == (3,) and np.all(cos > 0.98), cos


def test_negative_nudging_is_the_sign_inverted_update_at_minus_beta_and_still_descends():
    beta = 0.05
    d_nn, m_nn, _ = delta(algo("nn", inference_steps=100, beta0=beta, beta_rate=0.0, alignment=True), hp(gamma=0.1))
    d_pn_neg, _, _ = delta(algo("pn", inference_steps=100, beta0=-beta, beta_rate=0.0), hp(gamma=0.1))
    assert close(d_nn, jax.tree_util.tree_map(jnp.negative, d_pn_neg))
    assert np.all(np.asarray(m_nn["bp_cosine"]) > 0.98)  # inverted: a descent direction on the loss


def test_beta_schedule_and_centred_nudging_alternate_by_epoch_parity():
    a = algo("cn", beta0=0.3, beta_rate=0.4)
    signs, betas = zip(*[a.nudge(hp(spe=2.0), jnp.int32(s)) for s in range(8)], strict=True)
    assert [float(s) for s in signs] == [1, 1, -1, -1, 1, 1, -1, -1]
    np.testing.assert_allclose([float(b) for b in betas], [0.3, 0.3, 0.7, 0.7, 1, 1, 1, 1], rtol=1e-6)
    # a CN step in an odd epoch is an NN step, in an even epoch a PN step (same β)
    h = hp(spe=2.0)
    for name, at in (("nn", 2), ("pn", 4)):
        c_cn = algo("cn", beta0=0.3, beta_rate=0.4).init(KEY, h)._replace(step=jnp.int32(at))
        c_ref = algo(name, beta0=0.3, beta_rate=0.4).init(KEY, h)._replace(step=jnp.int32(at))
        assert close(delta(algo("cn", beta0=0.3, beta_rate=0.4), h, c_cn)[0],
                     delta(algo(name, beta0=0.3, beta_rate=0.4), h, c_ref)[0])  # fmt: skip
    new, _ = step(a, h)
    assert int(new.step) == 1  # the carry counts steps


def test_precision_gradient_sign_and_its_fixed_point():
    energies = jnp.array([2.0, 0.5, 1.0])  # ½‖ε‖² per layer, batch-averaged
    dims = (4, 4, 3)
    grad = jax.grad(lambda s: jnp.sum(precision_weighted(energies, s, dims)))(jnp.zeros(3))
    # ∂F/∂s = ½ n − exp(−s) F: negative (variance grows) where the error per unit exceeds exp(s)
    np.testing.assert_allclose(grad, [2 - 2.0, 2 - 0.5, 1.5 - 1.0])
    s_star = jnp.log(2 * energies / jnp.array(dims))
    np.testing.assert_allclose(jax.grad(lambda s: jnp.sum(precision_weighted(energies, s, dims)))(s_star), 0, atol=1e-6)
    assert float(jax.grad(lambda s: jnp.sum(precision_weighted(energies, s, dims)))(jnp.full(3, 2.0))[0]) > 0
    # in training, the log-variances move and are reported per layer
    _, metrics, new = delta(algo("pc-se", precision=True))
    assert metrics["log_var"].shape == (3,) and float(jnp.abs(new.log_var).sum()) > 0
    _, _, plain = delta(algo("pc-se"))
    assert float(jnp.abs(plain.log_var).sum()) == 0


@pytest.mark.parametrize("opt", [0.0, 1.0])  # AdamW, SGD with momentum
def test_weight_decay_shrinks_the_weights_decoupled(opt):
    h = hp(opt=opt, lr=0.01)
    d0, _, c = delta(algo("pc-se", weight_decay=0.0), h)
    d1, _, _ = delta(algo("pc-se", weight_decay=0.5), h)
    theta = algo("pc-se").init(KEY, h).mlp
    expected = jax.tree_util.tree_map(lambda a, t: a - 0.01 * 0.5 * t, d0, theta)
    assert close(d1, expected, tol=1e-6)


def test_layer_cosines_and_the_bp_twin_aligns_with_itself():
    m = algo().init(KEY, hp()).mlp
    np.testing.assert_allclose(layer_cosines(m, m), 1.0, rtol=1e-6)
    _, metrics, _ = delta(algo("bp-se", alignment=True))
    np.testing.assert_allclose(metrics["bp_cosine"], 1.0, rtol=1e-5)


def test_filter_normalised_landscape_is_centred_on_the_model():
    m = algo().init(KEY, hp()).mlp
    d = filter_normalised_direction(KEY, m)
    for w, dw in zip(m.weights, d.weights, strict=True):
        np.testing.assert_allclose(jnp.linalg.norm(dw, axis=1), jnp.linalg.norm(w, axis=1), rtol=1e-5)
    assert all(float(jnp.abs(b).sum()) == 0 for b in d.biases)
    a, b, z = loss_landscape(m, np.asarray(X), np.asarray(Y), points=5, span=1.0)
    assert z.shape == (5, 5) and a[2] == 0 and b[2] == 0
    target = jax.nn.one_hot(Y, 3)
    from pcdash.pcn.network import forward_pass

    centre = 0.5 * jnp.mean(jnp.sum((forward_pass(m, X)[-1] - target) ** 2, -1))
    np.testing.assert_allclose(z[2, 2], centre, rtol=1e-5)
    assert np.all(np.isfinite(z)) and not np.allclose(z, z[2, 2])


@pytest.mark.parametrize("name", ALGORITHMS)
def test_every_algorithm_is_accepted_by_config_and_cli(name, tmp_path):
    assert PCNConfig(algorithm=name).validate().algorithm == name
    if name in ("ipc", "cn"):
        out = tmp_path / "r.csv"
        argv = ["pcn", "--dataset", "moons", "--algorithm", name, "--gammas", "0.1", "--widths", "8", "--steps", "2",
                "--epochs", "2", "--seeds", "1", "--out", str(out), "--quiet", "--precision", "--update-every", "1"]  # fmt: skip
        assert main(argv) == 0
