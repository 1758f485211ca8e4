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
from pcdash.experiments.pcn_config import PCNConfig
from pcdash.pcn import ALGORITHMS, PCNAlgorithm, pcn_hyper
from pcdash.pcn.algorithms import layer_cosines
from pcdash.pcn.energies import gaussian_energy, layer_energies
from pcdash.pcn.landscape import filter_normalised_direction, loss_landscape

SIZES = (6, 10, 8, 3)
KEY = jax.random.PRNGKey(0)
X = jax.random.normal(jax.random.PRNGKey(1), (16, 6))
Y = jnp.arange(16) % 3


def hp(gamma=0.05, lr=0.01, opt="sgd"):
    return pcn_hyper(gamma, lr, opt)


def algo(name="pc-se", **kw):
    kw.setdefault("weight_momentum", 0.0)  # plain SGD: update = −lr · gradient
    kw.setdefault("state_optimizer", "sgd")
    kw.setdefault("steps_per_epoch", 2)
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
    return all(
        np.allclose(u, v, atol=tol, rtol=1e-5)
        for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True)
    )


def _reference_energy(weights, biases, x, h, target):
    """F(h, θ) = Σ_l ½ ⟨‖h_l − μ_l‖²⟩_batch for leaky-ReLU hidden layers and a linear output,
    written out independently of pcdash.pcn."""
    states = [x, *h, target]
    total = 0.0
    for layer, (w, b) in enumerate(zip(weights, biases, strict=True), start=1):
        pre = states[layer - 1] @ w.T + b
        mu = pre if layer == len(weights) else jnp.where(pre >= 0, pre, 0.01 * pre)
        total = total + 0.5 * jnp.mean(jnp.sum((states[layer] - mu) ** 2, axis=-1))
    return total


def test_ipc_updates_states_and_weights_from_the_same_states_and_weights():
    """PCX §4: iPC updates θ "alongside the latent variables at every time step": step t takes
    ∇_h F and ∇_θ F both at (h^t, θ^t). Hand computation with plain gradient descent."""
    gamma, lr, steps = 0.05, 0.01, 3
    a = algo("ipc", inference_steps=steps, state_momentum=0.0, weight_decay=0.0)
    carry = a.init(KEY, hp(gamma=gamma, lr=lr))
    new, metrics = step(a, hp(gamma=gamma, lr=lr), carry)
    w, b = [np.asarray(v) for v in carry.mlp.weights], [np.asarray(v) for v in carry.mlp.biases]
    target = jax.nn.one_hot(Y, 3)
    h, prev = [], X  # forward initialisation
    for wl, bl in zip(w[:-1], b[:-1], strict=True):
        pre = prev @ wl.T + bl
        prev = jnp.where(pre >= 0, pre, 0.01 * pre)
        h.append(prev)
    for _ in range(steps):
        g_w, g_b, g_h = jax.grad(_reference_energy, argnums=(0, 1, 3))(w, b, X, h, target)
        h = [hl - gamma * len(X) * gl for hl, gl in zip(h, g_h, strict=True)]  # γ per example
        w = [wl - lr * gl for wl, gl in zip(w, g_w, strict=True)]
        b = [bl - lr * gl for bl, gl in zip(b, g_b, strict=True)]
    for got, want in zip((*new.mlp.weights, *new.mlp.biases), (*w, *b), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    assert metrics["energy_trace"].shape == (steps + 1, 3)
    # its first step is from forward initialisation, where only the output layer has an error:
    # the hidden layers' weights do not move (updating from h^{t+1} would move them)
    one = algo("ipc", inference_steps=1, state_momentum=0.0, weight_decay=0.0)
    d, _, _ = delta(one, hp(gamma=gamma, lr=lr))
    assert all(float(jnp.abs(dw).max()) == 0 for dw in d.weights[:-1])
    assert float(jnp.abs(d.weights[-1]).max()) > 0
    # T weight updates inside one training step (AdamW counts them); standard PC makes one
    for name, count in (("ipc", 4), ("pc-se", 1)):
        new, _ = step(algo(name, inference_steps=4), hp(opt="adamw"))
        counts = [
            int(s.count)
            for s in jax.tree_util.tree_leaves(
                new.opt_state, is_leaf=lambda s: isinstance(s, optax.ScaleByAdamState)
            )
            if isinstance(s, optax.ScaleByAdamState)
        ]
        assert counts and all(c == count for c in counts)


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
    d_nn, m_nn, _ = delta(
        algo("nn", inference_steps=100, beta0=beta, beta_rate=0.0, alignment=True), hp(gamma=0.1)
    )
    d_pn_neg, _, _ = delta(
        algo("pn", inference_steps=100, beta0=-beta, beta_rate=0.0), hp(gamma=0.1)
    )
    assert close(d_nn, jax.tree_util.tree_map(jnp.negative, d_pn_neg))
    assert np.all(np.asarray(m_nn["bp_cosine"]) > 0.98)  # inverted: a descent direction on the loss


def test_beta_schedule_and_alternating_centred_nudging_follow_epoch_parity():
    a = algo("cn", beta0=0.3, beta_rate=0.4, cn_schedule="alternate")
    signs, betas = zip(*[a.nudge(jnp.int32(s)) for s in range(8)], strict=True)
    assert [float(s) for s in signs] == [1, 1, -1, -1, 1, 1, -1, -1]
    np.testing.assert_allclose(
        [float(b) for b in betas], [0.3, 0.3, 0.7, 0.7, 1, 1, 1, 1], rtol=1e-6
    )
    # a CN step in an odd epoch is an NN step, in an even epoch a PN step (same β)
    h = hp()
    for name, at in (("nn", 2), ("pn", 4)):
        c_cn = a.init(KEY, h)._replace(step=jnp.int32(at))
        c_ref = algo(name, beta0=0.3, beta_rate=0.4).init(KEY, h)._replace(step=jnp.int32(at))
        assert close(delta(a, h, c_cn)[0], delta(algo(name, beta0=0.3, beta_rate=0.4), h, c_ref)[0])
    new, _ = step(a, h)
    assert int(new.step) == 1  # the carry counts steps


def _cn_signs(seed: int, epochs: int = 40, schedule: str = "random") -> list[int]:
    """The sign (+1 PN, −1 NN) of every epoch of a CN member initialised from ``seed``."""
    a = algo("cn", cn_schedule=schedule, steps_per_epoch=3)
    carry = a.init(jax.random.PRNGKey(seed), hp())
    return [int(a.nudge(jnp.int32(3 * e + 1), carry.nudge_key)[0]) for e in range(epochs)]


def test_centred_nudging_picks_pn_or_nn_at_random_each_epoch_seeded_per_member():
    """PCX App. B: CN "randomly alternat[es] between epochs in which we train with either
    negative or positive nudging"."""
    signs = _cn_signs(0)
    assert set(signs) == {1, -1} and 10 <= signs.count(1) <= 30  # both, about half each
    assert any(signs[e] == signs[e + 1] for e in range(len(signs) - 1))  # not a strict alternation
    assert signs == _cn_signs(0)  # reproducible for a seed
    assert signs != _cn_signs(1) and _cn_signs(1) != _cn_signs(2)  # differs across seeds
    assert _cn_signs(0, 8, "alternate") == _cn_signs(5, 8, "alternate") == [1, -1] * 4
    # a CN step is exactly a PN step in a positive epoch and an NN step in a negative one
    h = hp()
    a = algo("cn", beta0=0.3, beta_rate=0.0, steps_per_epoch=3)
    carry = a.init(KEY, h)
    for e in (signs.index(1), signs.index(-1)):
        at = carry._replace(step=jnp.int32(3 * e))
        ref = algo("pn" if signs[e] > 0 else "nn", beta0=0.3, beta_rate=0.0, steps_per_epoch=3)
        assert close(
            delta(a, h, at)[0], delta(ref, h, ref.init(KEY, h)._replace(step=jnp.int32(3 * e)))[0]
        )
        assert float(step(a, h, at)[1]["nudge_sign"]) == signs[e]
    with pytest.raises(ConfigError, match="CN schedule"):
        PCNConfig(algorithm="cn", cn_schedule="sometimes").validate()


def test_precision_weighted_energy_its_gradients_and_optimal_variances():
    """Eq. 6–8 of the BP-vs-PC comparison: F_l = ½ Σ_i (Σ_i⁻¹ ε_i² + ln Σ_i) per unit; the error
    is scaled by the inverse variance; the optimal variance is the mean squared error."""
    eps = jax.random.normal(jax.random.PRNGKey(3), (32, 4)) * jnp.array([0.5, 1.0, 2.0, 3.0])
    h, mu = eps, jnp.zeros_like(eps)
    msq_unit = jnp.mean(eps**2, axis=0)  # per neuron
    msq_layer = jnp.mean(msq_unit)  # per unit of the layer
    s = jnp.array([0.3, -0.2, 0.1, 0.5])
    # by hand, per neuron and per layer (a (1,) log-variance broadcast over the 4 units)
    want = 0.5 * jnp.mean(jnp.sum(jnp.exp(-s) * eps**2 + s, axis=-1))
    np.testing.assert_allclose(gaussian_energy(h, mu, s), want, rtol=1e-6)
    np.testing.assert_allclose(
        gaussian_energy(h, mu, jnp.array([0.3])),
        0.5 * jnp.mean(jnp.sum(jnp.exp(-0.3) * eps**2, -1)) + 0.5 * 4 * 0.3,
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        gaussian_energy(h, mu, jnp.zeros(1)), 0.5 * jnp.mean(jnp.sum(eps**2, -1)), rtol=1e-6
    )
    # ∂F/∂s_i = ½ (1 − exp(−s_i) ⟨ε_i²⟩); ∂F/∂h = exp(−s) ε / batch (the precision-weighted error)
    np.testing.assert_allclose(
        jax.grad(gaussian_energy, 2)(h, mu, s), 0.5 * (1 - jnp.exp(-s) * msq_unit), rtol=1e-5
    )
    np.testing.assert_allclose(
        jax.grad(gaussian_energy, 0)(h, mu, s), jnp.exp(-s) * eps / 32, rtol=1e-5
    )
    # the optimum: exp(s) = mean squared error per neuron / per unit of the layer
    np.testing.assert_allclose(jax.grad(gaussian_energy, 2)(h, mu, jnp.log(msq_unit)), 0, atol=1e-6)
    np.testing.assert_allclose(
        jax.grad(gaussian_energy, 2)(h, mu, jnp.log(msq_layer)[None]), 0, atol=1e-5
    )
    for shape, want in ((4, msq_unit), (1, msq_layer[None])):  # gradient descent on s finds them
        lv = jnp.zeros(shape)
        for _ in range(400):
            lv = lv - 0.2 * jax.grad(gaussian_energy, 2)(h, mu, lv)
        np.testing.assert_allclose(jnp.exp(lv), want, rtol=1e-3)
    # in the network: unit variances give the plain energy; training moves the log-variances
    m = algo().init(KEY, hp()).mlp
    hid = tuple(
        jax.random.normal(k, (16, d))
        for k, d in zip(jax.random.split(KEY, 2), SIZES[1:-1], strict=True)
    )
    target = jax.nn.one_hot(Y, 3)
    zeros = tuple(jnp.zeros(d) for d in SIZES[1:])
    np.testing.assert_allclose(
        layer_energies(m, X, hid, target, log_var=zeros),
        layer_energies(m, X, hid, target),
        rtol=1e-6,
    )
    for precision, shapes in (("layer", [(1,)] * 3), ("neuron", [(10,), (8,), (3,)])):
        _, metrics, new = delta(algo("pc-se", precision=precision))
        assert [tuple(v.shape) for v in new.log_var] == shapes
        assert metrics["log_var"].shape == (3,) and all(
            float(jnp.abs(v).sum()) > 0 for v in new.log_var
        )
    _, _, plain = delta(algo("pc-se"))
    assert all(float(jnp.abs(v).sum()) == 0 for v in plain.log_var)


@pytest.mark.parametrize("opt", ["adamw", "sgd"])  # SGD with momentum
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
        np.testing.assert_allclose(
            jnp.linalg.norm(dw, axis=1), jnp.linalg.norm(w, axis=1), rtol=1e-5
        )
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
        argv = [
            "pcn",
            "--dataset",
            "moons",
            "--algorithm",
            name,
            "--state-lrs",
            "0.1",
            "--widths",
            "8",
            "--steps",
            "2",
            "--epochs",
            "2",
            "--seeds",
            "1",
            "--out",
            str(out),
            "--quiet",
            "--precision",
            "--update-every",
            "1",
        ]
        assert main(argv) == 0
