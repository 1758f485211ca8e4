"""Defining behaviours of the generative experiments (PCX paper, §4.2, Appendices C and F), on
tiny offline configurations: the PC autoencoder learns and keeps up with backprop, MCPC samples
move towards the data, recall repairs corrupted memories, and the energy flags OOD inputs."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
import pytest

from pcdash.errors import PcdashError
from pcdash.pcn.autoencoder import AEConfig, run_autoencoder
from pcdash.pcn.generative import (
    add_langevin_noise,
    initial_states,
    per_example_energy,
    relax,
    state_optimizer,
)
from pcdash.pcn.mcpc import MCPCConfig, moment_distance, run_mcpc
from pcdash.pcn.memory import MemoryConfig, corrupt, recall_table, run_memory
from pcdash.pcn.network import init_mlp
from pcdash.pcn.ood import OODConfig, roc_table, run_ood, shifted


def test_langevin_noise_has_the_variance_of_eq_4():
    lr, temperature = 0.01, 0.5
    opt = optax.chain(optax.sgd(lr), add_langevin_noise(lr, temperature, jax.random.PRNGKey(0)))
    params = {"h": jnp.zeros((20000,))}
    state = opt.init(params)
    upd1, state = opt.update({"h": jnp.ones((20000,))}, state, params)
    upd2, _ = opt.update({"h": jnp.ones((20000,))}, state, params)
    noise = np.asarray(upd1["h"]) + lr  # sgd contributes −γ·∇ = −lr
    assert abs(noise.mean()) < 0.01
    assert noise.std() == pytest.approx(np.sqrt(2 * lr * temperature), rel=0.03)
    assert not np.allclose(upd1["h"], upd2["h"])  # fresh noise every step


def test_relax_lowers_the_energy_and_keeps_fixed_entries():
    mlp = init_mlp(jax.random.PRNGKey(0), (4, 16, 10), activation="tanh")
    x = jax.random.normal(jax.random.PRNGKey(1), (5, 10))
    fixed = jnp.arange(10) < 5
    states = initial_states(mlp, jnp.zeros((5, 4)), x)
    out, trace = relax(mlp, states, steps=50, optimizer=state_optimizer(0.05, momentum=0.5), fixed=fixed)
    assert float(jnp.mean(per_example_energy(mlp, out))) < float(trace[0])
    np.testing.assert_array_equal(np.asarray(out[-1][:, :5]), np.asarray(x[:, :5]))


def test_pc_autoencoder_learns_and_is_within_a_factor_of_backprop():
    r = run_autoencoder(AEConfig(latent=8, hidden=32, gammas=(0.1,), epochs=3, inference_steps=10))
    pc = r.frame[r.frame["model"] == "PC"].sort_values("epoch")["test_mse"].to_numpy()
    bp = r.frame[r.frame["model"] == "BP"].sort_values("epoch")["test_mse"].to_numpy()
    print(f"PC test MSE by epoch {pc}, BP {bp}")
    assert pc[-1] < 0.7 * pc[0]  # decreases with training
    assert pc[-1] < 3.0 * bp[-1]  # within a factor of the BP autoencoder with the same decoder
    assert r.arrays["pc"].shape == r.arrays["bp"].shape == r.arrays["x"].shape == (8, 8, 8, 1)


def test_mcpc_samples_move_towards_the_data():
    r = run_mcpc(MCPCConfig(dataset="moons", epochs=4, train_steps=30, sample_steps=300, n_samples=500))
    print(f"moment distance to the data: {r.scalars}")
    assert r.scalars["distance_after"] < 0.8 * r.scalars["distance_before"]
    assert r.arrays["samples"].shape == (500, 2) and np.isfinite(r.arrays["samples"]).all()
    assert moment_distance(r.arrays["data"], r.arrays["data"]) == pytest.approx(0.0, abs=1e-9)


def test_recall_lowers_the_error_of_corrupted_stored_images():
    r = run_memory(MemoryConfig(ns=(4, 32), widths=(64,), train_steps=200, recall_steps=200))
    rows = r.tables["recall"]
    print(rows)
    for kind in ("noise", "mask"):
        small = rows[(rows["corruption"] == kind) & (rows["n"] == 4)].iloc[0]
        assert small["mse_recalled"] < 0.7 * small["mse_corrupted"], kind
    table = recall_table(rows, "mask")
    assert table.loc[4, 64] < table.loc[32, 64]  # more memories, worse recall (Table 3's trend)
    assert r.arrays["mask_64"].shape == (3, 4, 8, 8, 1)


def test_mask_keeps_the_top_half_and_erases_the_bottom():
    x = np.arange(2 * 64, dtype=np.float32).reshape(2, 64) / 128
    xc, fixed = corrupt(x, "mask", image_shape=(8, 8, 1))
    assert fixed[:, :32].all() and not fixed[:, 32:].any()
    np.testing.assert_array_equal(xc[:, :32], x[:, :32])
    assert (xc[:, 32:] == 0).all()


def test_energy_detects_a_clearly_shifted_set():
    r = run_ood(OODConfig(ood="noise", epochs=3, test_steps=20, n_test=200))
    print(f"OOD scores: {r.scalars}")
    assert r.scalars["auroc_energy_after"] > 0.9
    assert r.scalars["auroc_energy_before"] > 0.9
    scores = r.tables["scores"]
    assert (scores["energy_after"] <= scores["energy_before"] + 1e-4).mean() > 0.95  # inference lowers F


def test_roc_table_and_shifts():
    scores = pd.DataFrame({"set": ["ID"] * 3 + ["OOD"] * 3, "energy_before": [1, 2, 3, 4, 5, 6],
                          "energy_after": [1, 2, 3, 4, 5, 6], "max_softmax": [.9, .8, .7, .6, .5, .4]})
    roc, auroc = roc_table(scores)
    assert auroc == {"energy_before": 1.0, "energy_after": 1.0, "max_softmax": 1.0}
    x = np.random.default_rng(0).uniform(-1, 1, (3, 8, 8, 1)).astype(np.float32)
    for kind in ("noise", "inverted", "rotated", "shuffled"):
        assert shifted(x, kind).shape == x.shape


@pytest.mark.parametrize("make", [
    lambda: AEConfig(gammas=()), lambda: MCPCConfig(gamma=0.05, out_var=0.01), lambda: MemoryConfig(ns=(0,)),
    lambda: OODConfig(ood="fashion_mnist"), lambda: AEConfig(dataset="moons"),
])
def test_bad_configs_raise_a_message(make):
    with pytest.raises(PcdashError):
        make().validate()
