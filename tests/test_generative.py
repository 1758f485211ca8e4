"""Defining behaviours of the generative experiments (PCX paper, §4.2, Appendices C and F), on
tiny offline configurations: the PC autoencoder learns and keeps up with backprop, MCPC samples
move towards the data, recall repairs corrupted memories, and the energy flags OOD inputs."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
import pytest

from pcdash.data import load_dataset
from pcdash.data.iris import load_iris_2d
from pcdash.errors import PcdashError
from pcdash.experiments.autoencoder import AEConfig, run_autoencoder
from pcdash.experiments.mcpc import (
    MCPCConfig,
    default_mcpc,
    iris_paper,
    mmd,
    moment_distance,
    run_mcpc,
)
from pcdash.experiments.memory import MemoryConfig, corrupt, recall_table, run_memory
from pcdash.experiments.ood import OODConfig, default_ood, ood_algorithm, run_ood
from pcdash.paper.pages import TABS
from pcdash.pcn.generative import (
    GenerativePCN,
    clamp_output,
    decode,
    free_energy,
    generative_hyper,
    generative_states,
    infer_latents,
    reconstruct,
)
from pcdash.pcn.inference import relax
from pcdash.pcn.network import init_mlp, layer_prediction
from pcdash.pcn.ood import nll_table, roc_table, shifted
from pcdash.pcn.optimizers import WEIGHT_OPTIMIZERS, state_optimizer


def test_langevin_noise_has_the_variance_of_eq_4():
    lr, temperature = 0.01, 0.5
    opt = state_optimizer(lr, momentum=0.0, temperature=temperature, key=jax.random.PRNGKey(0))
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
    states = generative_states(mlp, jnp.zeros((5, 4)), x)
    out, _, trace = relax(
        free_energy(mlp),
        states,
        optimizer=state_optimizer(0.05, momentum=0.5),
        steps=50,
        clamp=clamp_output(x, fixed),
    )
    assert float(jnp.mean(free_energy(mlp)(out)[0])) < float(trace[0])
    np.testing.assert_array_equal(np.asarray(out[-1][:, :5]), np.asarray(x[:, :5]))


def test_pc_reconstruction_is_a_top_down_pass_from_the_inferred_latent():
    """§4: infer h_0 with the image clamped, then decode h_0 alone. The relaxed hidden states
    must not reach the output: the old reconstruction μ_L(h_{L−1}) did, and bypassed the latent."""
    mlp = init_mlp(jax.random.PRNGKey(0), (2, 32, 64), activation="hard_tanh")
    x = jax.random.uniform(jax.random.PRNGKey(1), (16, 64), minval=-1, maxval=1)
    kw = dict(steps=20, state_lr=0.3, momentum=0.5)
    states = infer_latents(mlp, x, **kw)
    rec = reconstruct(mlp, x, **kw)
    np.testing.assert_allclose(
        np.asarray(rec), np.asarray(decode(mlp, states[0])), rtol=1e-5, atol=1e-6
    )
    h = states[0]
    for layer in (1, 2):
        h = layer_prediction(mlp, layer, h)
    np.testing.assert_allclose(np.asarray(rec), np.asarray(h), rtol=1e-5, atol=1e-6)
    through_hidden = layer_prediction(mlp, 2, states[1])  # what the old code returned
    assert float(jnp.mean(jnp.square(through_hidden - x))) < float(jnp.mean(jnp.square(rec - x)))


def test_pc_and_bp_autoencoders_are_limited_by_their_bottleneck():
    """With a 2-d latent on digits neither autoencoder can do much better than the best linear
    2-d code, PCA: both test MSEs stay ≥ 0.8 × PCA(2)'s. The old PC reconstruction, through the
    relaxed 64-unit hidden layer, scored 0.026 against PCA's 0.212 (0.12 ×)."""
    from sklearn.decomposition import PCA

    data = load_dataset("digits")
    x_train = data.x_train.reshape(len(data.x_train), -1)
    x_test = data.x_test.reshape(len(data.x_test), -1)
    pca = PCA(2).fit(x_train)
    pca_mse = float(np.mean(np.square(pca.inverse_transform(pca.transform(x_test)) - x_test)))
    r = run_autoencoder(AEConfig(latent=2))
    mse = r.tables["mse"]
    pc = mse[mse["model"] == "PC"]["mse"].min()
    bp = mse[mse["model"] == "BP"]["mse"].min()
    print(f"test MSE, latent 2: PC {pc:.4f}, BP {bp:.4f}, PCA(2) {pca_mse:.4f}")
    assert pc >= 0.8 * pca_mse
    assert bp >= 0.8 * pca_mse
    assert pc < 1.25 * pca_mse and bp < 1.25 * pca_mse  # and both learn a useful code


def test_pc_autoencoder_learns_and_keeps_up_with_backprop():
    """At the page's defaults (latent 8) the PC decoder's test MSE falls with training and ends
    within 25% of the BP autoencoder with the same decoder (PCX Table 2: comparable)."""
    r = run_autoencoder(AEConfig())
    test = r.frame[r.frame["split"] == "test"]
    pc = test[test["model"] == "PC"]
    best_state_lr = pc[pc["epoch"] == pc["epoch"].max()].sort_values("mse")["state_lr"].iloc[0]
    curve = pc[pc["state_lr"] == best_state_lr].sort_values("epoch")["mse"].to_numpy()
    bp = test[test["model"] == "BP"].sort_values("epoch")["mse"].to_numpy()
    print(
        f"PC (γ = {best_state_lr:g}) test MSE by epoch {np.round(curve, 4)}, BP {np.round(bp, 4)}"
    )
    assert curve[-1] < 0.7 * curve[0]
    assert curve[-1] < 1.25 * bp[-1]
    assert r.arrays["pc"].shape == r.arrays["bp"].shape == r.arrays["x"].shape == (8, 8, 8, 1)
    # the pictures are the reconstructions that were scored
    x = r.arrays["x"].reshape(8, -1)
    shown_mse = float(np.mean(np.square(r.arrays["pc"].reshape(8, -1) - x)))
    assert shown_mse < 2.0 * curve[-1]


def test_pcx_layer_form_feeds_the_activation_of_the_state_below():
    """PCX's MCPC layers: μ_l = W_l σ(h_{l−1}) + b_l ("pre"); pcdash's MLP: σ(W_l h_{l−1} + b_l)."""
    mlp = init_mlp(jax.random.PRNGKey(0), (3, 4, 2), activation="tanh")
    h = jax.random.normal(jax.random.PRNGKey(1), (5, 3)) * 3
    w, b = mlp.weights[0], mlp.biases[0]
    np.testing.assert_allclose(
        np.asarray(layer_prediction(mlp, 1, h, form="pre")),
        np.asarray(jnp.tanh(h) @ w.T + b),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        np.asarray(layer_prediction(mlp, 1, h, form="post")),
        np.asarray(jnp.tanh(h @ w.T + b)),
        rtol=1e-6,
    )
    states = generative_states(mlp, h, None, form="pre")  # a forward pass: zero prediction errors
    assert float(jnp.max(free_energy(mlp, form="pre")(states)[0])) < 1e-10
    np.testing.assert_allclose(
        np.asarray(states[-1]), np.asarray(decode(mlp, h, form="pre")), rtol=1e-6
    )


def test_prior_mean_gradient_is_the_mean_prior_error():
    """F ∋ ½ prior ‖h_0 − θ_0‖², so ∂F̄/∂θ_0 = −prior · mean_n (h_0 − θ_0): the learned prior
    mean moves towards the posterior latents. Without ``learn_prior_mean`` it gets no gradient."""
    sizes = (3, 8, 2)
    mlp = init_mlp(jax.random.PRNGKey(0), sizes, activation="tanh")
    theta0 = jnp.array([0.3, -0.2, 0.1])
    h0 = jax.random.normal(jax.random.PRNGKey(1), (5, 3)) + 1.0
    states = generative_states(mlp, h0, jax.random.normal(jax.random.PRNGKey(2), (5, 2)))
    w = jnp.ones(5)
    for prior in (1.0, 4.0):
        algo = GenerativePCN(
            sizes, activation="tanh", prior=prior, learn_prior_mean=True, out_var=0.01
        )
        grad = jax.grad(algo.energy)((mlp, theta0), states, w)[1]
        np.testing.assert_allclose(
            np.asarray(grad), -prior * np.asarray(jnp.mean(h0 - theta0, axis=0)), rtol=1e-5
        )
    fixed = GenerativePCN(sizes, activation="tanh", prior=1.0, learn_prior_mean=False)
    assert not np.any(np.asarray(jax.grad(fixed.energy)((mlp, theta0), states, w)[1]))


def test_a_train_step_moves_the_prior_mean_towards_the_inferred_latents():
    sizes = (2, 16, 2)
    algo = GenerativePCN(
        sizes,
        activation="tanh",
        inference_steps=30,
        prior=1.0,
        learn_prior_mean=True,
        out_var=0.01,
        weight_decay=0.0,
    )
    hp = generative_hyper(0.01, 0.05)
    carry = algo.init(jax.random.PRNGKey(0), hp)
    x = jnp.tile(jnp.array([[2.0, -1.5]]), (64, 1))
    states = infer_latents(
        carry.mlp, x, steps=30, state_lr=0.01, prior=1.0, prior_mean=carry.prior_mean, out_var=0.01
    )
    direction = np.sign(np.asarray(jnp.mean(states[0] - carry.prior_mean, axis=0)))
    new, _ = algo.train_step(carry, hp, x, jnp.zeros(64, jnp.int32), jax.random.PRNGKey(1))
    moved = np.asarray(new.prior_mean - carry.prior_mean)
    np.testing.assert_allclose(moved, 0.05 * direction, rtol=1e-3)  # Adam's first step: lr · sign


@pytest.mark.parametrize("dataset", ["moons", "iris"])
def test_mcpc_samples_match_the_data_better_than_the_untrained_model(dataset):
    """Samples of the trained model (all states free, h_0 from the learned prior) are closer to
    the data than the untrained model's, by their first two moments and by MMD²."""
    r = run_mcpc(default_mcpc(dataset))
    s = r.scalars
    print(
        f"{dataset}: moment distance {s['distance_before']:.3f} → {s['distance_after']:.3f}, "
        f"MMD² {s['mmd_before']:.4f} → {s['mmd_after']:.4f}, ‖θ_0‖ {s['prior_mean_norm']:.3f}"
    )
    assert s["distance_after"] < 0.6 * s["distance_before"]
    assert s["mmd_after"] < 0.6 * s["mmd_before"]
    assert s["prior_mean_norm"] > 0.05  # the prior mean was learned
    assert r.arrays["samples"].shape == (1000, 2) and np.isfinite(r.arrays["samples"]).all()
    assert moment_distance(r.arrays["data"], r.arrays["data"]) == pytest.approx(0.0, abs=1e-9)


def test_mmd_sees_modes_that_moments_miss():
    rng = np.random.default_rng(0)
    two_modes = np.concatenate([rng.normal(-2, 0.2, (500, 1)), rng.normal(2, 0.2, (500, 1))])
    blob = rng.normal(0, 1, (1000, 1))
    blob = (
        blob - blob.mean()
    ) / blob.std() * two_modes.std() + two_modes.mean()  # same mean and variance
    assert moment_distance(blob, two_modes) < 1e-9
    assert mmd(blob, two_modes) > 10 * mmd(
        two_modes[::-1] + rng.normal(0, 0.01, two_modes.shape), two_modes
    )


def test_iris_preset_is_the_papers_setting():
    """Appendix C.2 and PCX's mcpc_iris.py: the iris features, the model and every number."""
    x, species = load_iris_2d()
    assert x.shape == (150, 2) and set(species) == {0, 1, 2}
    np.testing.assert_allclose(x.mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(x.std(0), 1, atol=1e-5)
    from sklearn.datasets import load_iris

    raw = load_iris().data
    assert (
        np.corrcoef(x[:, 0], raw[:, 0])[0, 1] > 0.999
        and np.corrcoef(x[:, 1], raw[:, 2])[0, 1] > 0.999
    )
    c = iris_paper().validate()
    assert default_mcpc("moons", "paper") == c
    assert (
        c.dataset == "iris"
        and c.sizes(2) == (64, 64, 2)
        and c.activation == "tanh"
        and c.form == "pre"
    )
    assert (c.state_lr, c.momentum, c.temperature, c.out_var) == (0.01, 0.9, 1.0, 0.01)
    assert (c.train_steps, c.sample_steps, c.batch_size) == (500, 10_000, 150)
    assert (c.weight_lr, c.weight_decay) == (1e-3, 1e-4)
    assert (
        c.epochs * (150 * c.data_repeats // c.batch_size) == 10_200
    )  # PCX: 68 epochs of 150 batches


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
    assert (
        scores["energy_after"] <= scores["energy_before"] + 1e-4
    ).mean() > 0.95  # inference lowers F


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
        cy, cx, ry, rx = (
            rng.uniform(11, 17),
            rng.uniform(11, 17),
            rng.uniform(7, 12),
            rng.uniform(5, 12),
        )
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
    write_idx_set(
        tmp_path / "fashion_mnist",
        monkeypatch,
        "fashion_mnist",
        idx_arrays(
            garments,
            np.arange(300, dtype=np.uint8) % 10,
            garments,
            np.arange(300, dtype=np.uint8) % 10,
        ),
    )
    data.clear_cache()
    try:
        with pytest.raises(PcdashError, match="MNIST only"):
            OODConfig(dataset="digits", ood="fashion_mnist").validate()
        r = run_ood(
            OODConfig(
                dataset="mnist", ood="fashion_mnist", hidden=64, epochs=4, test_steps=20, n_test=200
            )
        )
    finally:
        data.clear_cache()
    print(f"MNIST vs FashionMNIST stand-ins: {r.scalars}")
    assert r.scalars["test_accuracy"] > 0.8
    assert r.arrays["x_ood"].shape == (8, 28, 28, 1)
    # a semantic shift, harder than noise (the noise test asks for > 0.9): well above chance
    assert r.scalars["auroc_energy_after"] > 0.75
    nll = r.tables["nll"].set_index("set")
    assert (
        nll.loc["OOD", "nll_after"] > nll.loc["ID", "nll_after"]
    )  # OOD data is less likely under the model


def test_ood_preset_is_appendix_f():
    """3 × 512 GELU with a CE output, T = 10, γ = 0.01 without momentum, SGD with lr
    0.01 and momentum 0.9, T = 100 at test; the quick default stays small."""
    c = default_ood(preset="paper").validate()
    algo, hp = ood_algorithm(c, 64, 10)
    assert (
        algo.sizes == (64, 512, 512, 512, 10)
        and algo.activation == "gelu"
        and algo.algorithm == "pc-ce"
    )
    assert (
        algo.inference_steps == 10 and algo.state_momentum == 0.0 and algo.state_optimizer == "sgd"
    )
    assert algo.weight_momentum == 0.9 and algo.weight_decay == 0.0
    assert int(hp.weight_optimizer[0]) == WEIGHT_OPTIMIZERS.index("sgd")
    assert hp.weight_optimizer.dtype == np.int32 and float(hp.weight_lr[0]) == pytest.approx(0.01)
    assert float(hp.state_lr[0]) == pytest.approx(0.01)
    assert c.test_steps == 100 and c.epochs == 75
    quick, _ = ood_algorithm(default_ood(), 64, 10)
    assert quick.sizes == (64, 128, 128, 10)


def test_roc_table_and_shifts():
    scores = pd.DataFrame(
        {
            "set": ["ID"] * 3 + ["OOD"] * 3,
            "energy_before": [1, 2, 3, 4, 5, 6],
            "energy_after": [1, 2, 3, 4, 5, 6],
            "max_softmax": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4],
        }
    )
    roc, auroc = roc_table(scores)
    assert auroc == {"energy_before": 1.0, "energy_after": 1.0, "max_softmax": 1.0}
    # the least confident half: energies 4–6 are all OOD (no curve); the softmax's least
    # confident half holds the ID example at 0.1, below both OOD examples: AUROC 0 there
    mixed = scores.assign(max_softmax=[0.9, 0.8, 0.1, 0.6, 0.5, 0.4])
    _, hard = roc_table(mixed, least_confident=0.5)
    assert set(hard) == {"max_softmax"} and hard["max_softmax"] == 0.0
    nll = nll_table(scores).set_index("set")
    assert nll.loc["ID", "nll_before"] == 2.0 and nll.loc["OOD", "nll_after"] == 5.0
    x = np.random.default_rng(0).uniform(-1, 1, (3, 8, 8, 1)).astype(np.float32)
    for kind in ("noise", "inverted", "rotated", "shuffled"):
        assert shifted(x, kind).shape == x.shape


@pytest.mark.parametrize(
    "make",
    [
        lambda: AEConfig(state_lrs=()),
        lambda: MCPCConfig(state_lr=0.05, out_var=0.01),
        lambda: MemoryConfig(ns=(0,)),
        lambda: OODConfig(ood="fashion_mnist"),
        lambda: AEConfig(dataset="moons"),
        lambda: AEConfig(state_momentum=1.0),
        lambda: OODConfig(weight_optimizer="lion"),
        lambda: MCPCConfig(data_repeats=0),
        lambda: default_mcpc("moons", "fast"),
        lambda: default_ood(preset="fast"),
    ],
)
def test_bad_configs_raise_a_message(make):
    with pytest.raises(PcdashError):
        make().validate()


def test_every_tab_names_its_paper_figures_and_settings():
    expected = {
        "autoencoder": ("Table 2", "Fig. 3"),
        "mcpc": ("Fig. 4",),
        "memory": ("Table 3", "Fig. 5"),
        "ood": ("Fig. 19–25",),
    }
    for tab, figures in expected.items():
        notes = TABS[tab]
        assert all(f in notes.shows for f in figures), tab
        frame = notes.settings_frame()
        assert len(frame) >= 5 and frame["paper"].str.len().min() > 0
        # every differing setting says why
        differs = frame[
            (frame["paper"] != frame["pcdash default"]) & (frame["pcdash default"] != "the same")
        ]
        assert (differs["why the default differs"].str.len() > 0).all(), differs
