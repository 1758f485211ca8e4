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
    initial_states,
    per_example_energy,
    relax,
    state_optimizer,
)
from pcdash.pcn.mcpc import MCPCConfig, moment_distance, run_mcpc
from pcdash.pcn.memory import MemoryConfig, corrupt, recall_table, run_memory
from pcdash.pcn.network import init_mlp
from pcdash.pcn.ood import OODConfig, nll_table, roc_table, run_ood, shifted


def test_langevin_noise_has_the_variance_of_eq_4():
    lr, temperature = 0.01, 0.5
    opt = state_optimizer(lr, temperature=temperature, key=jax.random.PRNGKey(0))
    params = {"h": jnp.zeros((20000,))}
    state = opt.init(params)
    upd1, state = opt.update({"h": jnp.ones((20000,))}, state, params)
    upd2, _ = opt.update({"h": jnp.ones((20000,))}, state, params)
    noise = np.asarray(upd1["h"]) + lr  # the descent step contributes −γ·∇ = −lr
    assert abs(noise.mean()) < 0.01
    assert noise.std() == pytest.approx(np.sqrt(2 * lr * temperature), rel=0.03)
    assert not np.allclose(upd1["h"], upd2["h"])  # fresh noise every step
    # the same chain without noise is plain SGD (with momentum when m > 0)
    quiet = state_optimizer(lr, momentum=0.7, temperature=0.0, key=jax.random.PRNGKey(0))
    sgd = optax.sgd(lr, momentum=0.7)
    small = {"h": jnp.zeros(3)}
    qs, ss = quiet.init(small), sgd.init(small)
    for g in (1.0, -2.0, 0.5):
        uq, qs = quiet.update({"h": jnp.full(3, g)}, qs, small)
        us, ss = sgd.update({"h": jnp.full(3, g)}, ss, small)
        np.testing.assert_allclose(np.asarray(uq["h"]), np.asarray(us["h"]), rtol=1e-6)


@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
def test_both_langevin_forms_sample_exp_of_minus_f_over_t(momentum):
    """On ``F = ½ Σ h_i² / s_i²`` the first-order (Eq. 4) and second-order (Eq. 5–6) dynamics
    should both leave ``h_i ~ N(0, σ² s_i²)`` whatever the start (here far from the mode): the
    defining property of Langevin sampling. A noise scale without the ``1 − m`` would inflate the
    variance ``1 / (1 − m)``-fold."""
    lr, temperature, s2 = 0.01, 0.5, jnp.array([0.5, 1.0, 2.0])
    opt = state_optimizer(lr, momentum=momentum, temperature=temperature, key=jax.random.PRNGKey(3))

    def step(carry, _):
        h, st = carry
        upd, st = opt.update(h / s2, st, h)  # ∇F
        return (h + upd, st), None

    h0 = jnp.full((20000, 3), 3.0)
    (h, _), _ = jax.lax.scan(step, (h0, opt.init(h0)), None, length=3000)
    tail = np.asarray(h)  # the ensemble of chains at the last step
    print(f"m={momentum}: sample variance {tail.var(0)}, expected {np.asarray(temperature * s2)}")
    np.testing.assert_allclose(tail.mean(0), 0.0, atol=0.03)
    # unadjusted Langevin is biased by O(γ / (1 − m)): allow 10%
    np.testing.assert_allclose(tail.var(0), np.asarray(temperature * s2), rtol=0.1)


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


def _digit_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-like 28×28 uint8 images: sklearn's 8×8 digits, each pixel a 3×3 block, padded by 2."""
    from sklearn.datasets import load_digits

    d = load_digits()
    idx = np.random.default_rng(seed).permutation(len(d.images))[:n]
    big = np.kron(d.images[idx], np.ones((3, 3))) * (255 / 16)
    return np.pad(big, ((0, 0), (2, 2), (2, 2))).astype(np.uint8), d.target[idx].astype(np.uint8)


def _garment_images(n: int, seed: int) -> np.ndarray:
    """FashionMNIST-like stand-ins: large filled, textured blobs, unlike any digit stroke."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:28, :28]
    out = np.zeros((n, 28, 28))
    for i in range(n):
        cy, cx, ry, rx = rng.uniform(11, 17), rng.uniform(11, 17), rng.uniform(7, 12), rng.uniform(5, 12)
        inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1
        out[i] = inside * rng.uniform(120, 255) * (0.8 + 0.2 * np.sin(yy / rng.uniform(1, 3)))
    return out.astype(np.uint8)


def test_mnist_vs_fashion_mnist_ood_from_files_the_test_writes(tmp_path, monkeypatch):
    """The paper's Appendix F pairing, MNIST in-distribution and FashionMNIST out of it, read
    through the real IDX loader from small files written here."""
    from idx_files import idx_arrays, write_idx_set

    from pcdash import data

    monkeypatch.setenv("PCDASH_DATA_DIR", str(tmp_path))
    xtr, ytr = _digit_images(1200, 0)
    xte, yte = _digit_images(300, 1)
    write_idx_set(tmp_path / "mnist", monkeypatch, "mnist", idx_arrays(xtr, ytr, xte, yte))
    garments = _garment_images(300, 2)
    write_idx_set(tmp_path / "fashion_mnist", monkeypatch, "fashion_mnist",
                  idx_arrays(garments, np.arange(300, dtype=np.uint8) % 10, garments, np.arange(300, dtype=np.uint8) % 10))
    data.clear_cache()
    try:
        with pytest.raises(PcdashError, match="MNIST only"):
            OODConfig(dataset="digits", ood="fashion_mnist").validate()
        r = run_ood(OODConfig(dataset="mnist", ood="fashion_mnist", hidden=64, epochs=4, test_steps=20, n_test=200))
    finally:
        data.clear_cache()
    print(f"MNIST vs FashionMNIST stand-ins: {r.scalars}")
    assert r.scalars["test_accuracy"] > 0.8
    assert r.arrays["x_ood"].shape == (8, 28, 28, 1)
    # a semantic shift, harder than noise (the noise test asks for > 0.9): well above chance
    assert r.scalars["auroc_energy_after"] > 0.75
    nll = r.tables["nll"].set_index("set")
    assert nll.loc["OOD", "nll_after"] > nll.loc["ID", "nll_after"]  # OOD data is less likely under the model


def test_roc_table_and_shifts():
    scores = pd.DataFrame({"set": ["ID"] * 3 + ["OOD"] * 3, "energy_before": [1, 2, 3, 4, 5, 6],
                          "energy_after": [1, 2, 3, 4, 5, 6], "max_softmax": [.9, .8, .7, .6, .5, .4]})
    roc, auroc = roc_table(scores)
    assert auroc == {"energy_before": 1.0, "energy_after": 1.0, "max_softmax": 1.0}
    # the least confident half: energies 4–6 are all OOD (no curve); the softmax's least
    # confident half holds the ID example at 0.1, below both OOD examples: AUROC 0 there
    mixed = scores.assign(max_softmax=[.9, .8, .1, .6, .5, .4])
    _, hard = roc_table(mixed, least_confident=0.5)
    assert set(hard) == {"max_softmax"} and hard["max_softmax"] == 0.0
    nll = nll_table(scores).set_index("set")
    assert nll.loc["ID", "nll_before"] == 2.0 and nll.loc["OOD", "nll_after"] == 5.0
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
