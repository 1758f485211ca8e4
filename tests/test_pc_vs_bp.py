"""The conditions of the BP-vs-PC comparison: converged inference, the paper's model names and
their configurations, coupled weight decay, landscape sharpness, time to convergence."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from pcdash.errors import ConfigError
from pcdash.experiments.conditions import (
    QUICK,
    comparison_variants,
    condition_config,
    paper_name,
    parse_conditions,
)
from pcdash.experiments.pcn_config import PCNConfig
from pcdash.figures.pc_compare import algorithm_table, weight_layers
from pcdash.pcn import PCNAlgorithm, inference, init_mlp, pcn_hyper
from pcdash.pcn.algorithms import layer_cosines
from pcdash.pcn.gradients import pc_weight_gradients
from pcdash.pcn.inference import converged_inference
from pcdash.pcn.landscape import sharpness

SIZES = (6, 12, 12, 12, 3)
X = jax.random.normal(jax.random.PRNGKey(1), (16, 6))
TARGET = jax.nn.one_hot(jnp.arange(16) % 3, 3)
MLP_ = init_mlp(jax.random.PRNGKey(0), SIZES)


def test_converged_inference_stops_at_the_first_step_where_every_layer_settles():
    tol = 1e-3
    hidden, trace, used = jax.jit(
        lambda m: converged_inference(m, X, TARGET, max_steps=256, tol=tol, state_lr=0.1)
    )(MLP_)
    used = int(used)
    assert 1 < used < 256
    _, full = inference(MLP_, X, TARGET, steps=256, state_lr=0.1)
    full = np.asarray(full)
    with np.errstate(divide="ignore", invalid="ignore"):  # hidden energies are 0 at t = 0
        rel = np.abs(np.diff(full, axis=0)) / np.abs(full[:-1])  # rel[t - 1]: from step t − 1 to t
    settled = np.all(rel <= tol, axis=1)
    assert settled[used - 1] and not settled[: used - 1].any()
    # the same states as running exactly `used` steps; the trace holds them after convergence
    fixed_hidden, fixed_trace = inference(MLP_, X, TARGET, steps=used, state_lr=0.1)
    for a, b in zip(hidden, fixed_hidden, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(trace[: used + 1], fixed_trace, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(
        trace[used:], np.broadcast_to(fixed_trace[-1], trace[used:].shape), rtol=1e-6
    )
    # tol = 0 never stops early: all T steps, as the paper's 256
    _, _, never = converged_inference(MLP_, X, TARGET, max_steps=20, tol=0.0, state_lr=0.1)
    assert int(never) == 20


def test_each_member_under_vmap_stops_on_its_own():
    gammas = jnp.array([0.03, 0.1, 0.3])
    run = jax.jit(
        jax.vmap(
            lambda g: converged_inference(MLP_, X, TARGET, max_steps=256, tol=1e-3, state_lr=g)
        )
    )
    hidden, _, used = run(gammas)
    alone = [
        int(converged_inference(MLP_, X, TARGET, max_steps=256, tol=1e-3, state_lr=g)[2])
        for g in gammas
    ]
    assert [int(u) for u in used] == alone and len(set(alone)) > 1
    for i, g in enumerate(gammas):
        h_alone = converged_inference(MLP_, X, TARGET, max_steps=256, tol=1e-3, state_lr=g)[0]
        for a, b in zip(jax.tree_util.tree_map(lambda v, i=i: v[i], hidden), h_alone, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_standard_pc_converges_before_its_weight_update_and_reports_the_steps():
    """Condition 2 kept: the update at convergence is the update after 1,024 steps."""
    hp = pcn_hyper(0.1, 1e-3, "adamw")
    algo = PCNAlgorithm(SIZES, inference_steps=256, inference_tol=1e-3, weight_decay=0.0)
    carry = algo.init(jax.random.PRNGKey(2), hp)
    _, metrics = jax.jit(algo.train_step)(carry, hp, X, jnp.arange(16) % 3, jax.random.PRNGKey(0))
    used = int(metrics["steps_used"])
    assert 1 < used < 256 and metrics["energy_trace"].shape == (257, 4)
    h_conv = converged_inference(carry.mlp, X, TARGET, max_steps=256, tol=1e-3, state_lr=0.1)[0]
    h_long, _ = inference(carry.mlp, X, TARGET, steps=1024, state_lr=0.1)
    cos = layer_cosines(
        pc_weight_gradients(carry.mlp, X, h_conv, TARGET)[0],
        pc_weight_gradients(carry.mlp, X, h_long, TARGET)[0],
    )
    assert float(jnp.min(cos)) > 0.98, cos
    relaxed = PCNAlgorithm(SIZES, inference_steps=256, inference_tol=1e-3, update_every=8)
    assert not relaxed.converges  # relaxed models run all T steps
    _, m = jax.jit(relaxed.train_step)(
        relaxed.init(jax.random.PRNGKey(2), hp), hp, X, jnp.arange(16) % 3, jax.random.PRNGKey(0)
    )
    assert int(m["steps_used"]) == 256


def test_the_papers_names_and_what_each_model_changes():
    assert paper_name("pc", 256, 8) == "pc_256_8"
    assert (
        paper_name("pc_rc23", 256, 8) == "pc_256_8_rc23"
        and paper_name("bp", 1024, 8) == "bp_1024_8"
    )
    assert paper_name("pc_rc23_wd", 64, 8) == "pc_64_8_rc23_wd"
    assert parse_conditions("pc, bp,pc") == ("pc", "bp")
    for bad in ("magic", "bp_rc2", "pc_rc4", ""):
        with pytest.raises(ConfigError):
            parse_conditions(bad)
    base = PCNConfig(inference_steps=256, inference_tol=1e-3, weight_lr=1e-3, weight_decay=1e-4)
    pc = condition_config("pc", base)
    assert (
        pc.algorithm,
        pc.update_every,
        pc.inference_tol,
        pc.precision,
        pc.l2_decay,
        pc.weight_decay,
    ) == ("pc-se", 0, 1e-3, "none", 0.0, 0.0)
    rc2 = condition_config("pc_rc2", base, relaxed_every=8, relaxed_lr=1e-5)
    assert (rc2.update_every, rc2.inference_tol, rc2.weight_lr, rc2.precision) == (
        8,
        0.0,
        1e-5,
        "none",
    )
    rc3 = condition_config("pc_rc3", base, precision="neuron", relaxed_lr=1e-5)
    assert (rc3.precision, rc3.update_every, rc3.weight_lr) == ("neuron", 0, 1e-3)
    wd = condition_config("pc_rc23_wd", base, weight_decay=1e-6)
    assert (wd.precision, wd.update_every, wd.l2_decay) == ("layer", 8, 1e-6)
    assert condition_config("bp_wd", base).algorithm == "bp-se"
    names = [n for n, _ in QUICK.variants()]
    assert names == [
        "pc_64_8",
        "pc_64_8_rc2",
        "pc_64_8_rc3",
        "pc_64_8_rc23",
        "pc_64_8_rc23_wd",
        "bp_64_8",
    ]
    with pytest.raises(ConfigError, match="divide"):
        comparison_variants(["pc_rc2"], base, relaxed_every=7)


def test_l2_decay_is_the_gradient_of_a_gaussian_prior_through_the_optimiser():
    hp = pcn_hyper(0.1, 0.01, "sgd")
    kw = dict(inference_steps=4, weight_momentum=0.0, weight_decay=0.0, precision="layer")
    plain, prior = PCNAlgorithm(SIZES, **kw), PCNAlgorithm(SIZES, l2_decay=0.5, **kw)
    carry = plain.init(jax.random.PRNGKey(3), hp)
    y = jnp.arange(16) % 3
    a, _ = plain.train_step(carry, hp, X, y, None)
    b, _ = prior.train_step(prior.init(jax.random.PRNGKey(3), hp), hp, X, y, None)
    for before, pa, pb in zip(
        jax.tree_util.tree_leaves((carry.mlp, carry.log_var)),
        jax.tree_util.tree_leaves((a.mlp, a.log_var)),
        jax.tree_util.tree_leaves((b.mlp, b.log_var)),
        strict=True,
    ):
        np.testing.assert_allclose(pb - pa, -0.01 * 0.5 * before, rtol=1e-4, atol=1e-8)  # −lr · λ θ


def test_sharpness_counts_decades_of_loss_around_the_centre():
    a = np.linspace(-1, 1, 21)
    aa, bb = np.meshgrid(a, a)
    flat, bowl, steep = np.ones_like(aa), 1 + aa**2 + bb**2, 1 + 100 * (aa**2 + bb**2)
    assert sharpness(a, a, flat) == 0
    assert 0 < sharpness(a, a, bowl) < sharpness(a, a, steep)
    inside = np.hypot(aa, bb) <= 1
    np.testing.assert_allclose(sharpness(a, a, bowl), np.mean(np.log10(bowl[inside])), rtol=1e-12)
    assert sharpness(a, a, steep, radius=0.1) < sharpness(a, a, steep)


def test_time_to_convergence_is_the_time_to_90_percent_of_the_final_accuracy():
    rows = []
    for variant, accs, secs in (
        ("slow", [0.2, 0.5, 0.85, 0.9], [9.0, 2.0, 2.0, 2.0]),
        ("fast", [0.8, 0.82, 0.8, 0.85], [5.0, 1.0, 1.0, 1.0]),
    ):
        for epoch, (acc, s) in enumerate(zip(accs, secs, strict=True), start=1):
            for split in ("train", "test"):
                rows.append(
                    {
                        "variant": variant,
                        "algorithm": "pc-se",
                        "member": variant,
                        "epoch": epoch,
                        "split": split,
                        "accuracy": acc,
                        "diverged": False,
                        "epoch_seconds": s,
                        "steps_used": 10.0,
                    }
                )
    table = algorithm_table(pd.DataFrame(rows)).set_index("variant")
    assert (
        table.loc["slow", "epochs_to_90"] == 3 and table.loc["slow", "time_to_90"] == 6.0
    )  # epoch 1 compiles
    assert table.loc["fast", "epochs_to_90"] == 1 and table.loc["fast", "time_to_90"] == 1.0
    assert table.loc["fast", "steps_used"] == 10.0


def test_weight_layers_are_the_first_two_and_the_last_two():
    assert weight_layers(9) == [1, 2, 8, 9]
    assert weight_layers(3) == [1, 2, 3]
