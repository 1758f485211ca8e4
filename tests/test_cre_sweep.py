"""The CRE sweep engine on digits: the trade-off, recompilation, divergence, stop, schema."""

from dataclasses import dataclass

import numpy as np
import pytest

from pcdash.cre.algorithm import CREAlgorithm
from pcdash.data import load_dataset
from pcdash.engine import train_members
from pcdash.errors import ConfigError
from pcdash.experiments.cre_config import CREConfig
from pcdash.experiments.cre_sweep import run_cre_sweep
from pcdash.results import final_rows, select_by_validation

SPEC_COLUMNS = {
    "dataset",
    "arch",
    "latent_dim",
    "lam",
    "seed",
    "epoch",
    "split",
    "accuracy",
    "mse",
    "ce",
    "diverged",
}


@pytest.fixture(scope="module")
def tradeoff():
    config = CREConfig(
        dataset="digits",
        arch="fc-medium",
        latent_dims=(3,),
        lambdas=(0.0, 0.5, 1.0),
        seeds=3,
        epochs=20,
        batch_size=32,
    )
    return run_cre_sweep(config)


def test_frame_has_the_spec_columns_and_one_row_per_member_epoch_split(tradeoff):
    frame = tradeoff.frame
    assert SPEC_COLUMNS <= set(frame.columns)
    assert len(frame) == 9 * 20 * 3  # members × epochs × (train, val, test)
    assert set(frame["split"]) == {"train", "val", "test"}
    assert not frame["diverged"].any()


def test_classification_wins_at_lambda_0_and_reconstruction_at_lambda_1(tradeoff):
    test = select_by_validation(tradeoff.frame, "loss")
    by_lam = test.groupby("lam")[["accuracy", "mse"]].mean()
    # 800 steps on digits: measured 0.89 at λ = 0 and 0.73 at λ = 1 (the λ = 1 classifier catches up
    # with longer training, see test_default_sweep_accuracy_gap_is_at_least_0_15)
    assert by_lam.loc[0.0, "accuracy"] > by_lam.loc[1.0, "accuracy"] + 0.1
    assert by_lam.loc[1.0, "mse"] < by_lam.loc[0.0, "mse"] - 0.03


def test_snapshot_holds_latents_and_reconstructions_for_every_member(tradeoff):
    snap = tradeoff.snapshot
    n = len(snap.y)
    # digits' test split has about 36 images per class, fewer than the 50 asked for: all are shown
    assert 350 <= n <= 360 and np.bincount(snap.y).min() >= 35
    assert set(snap.z) == set(tradeoff.members["member"])
    z = next(iter(snap.z.values()))
    assert z.shape == (n, 3) and (z >= 0).all()
    assert next(iter(snap.x_hat.values())).shape == (n, 8, 8, 1)


@dataclass(frozen=True)
class CountingCRE(CREAlgorithm):
    traces = [0]

    def train_step(self, carry, hp, x, y, key):
        CountingCRE.traces[0] += 1
        return super().train_step(carry, hp, x, y, key)


def test_new_lambdas_or_seeds_do_not_recompile():
    data = load_dataset("digits")
    algo = CountingCRE("fc-small", data.input_shape, data.num_classes, 2)
    x, y = data.x_train[:256], data.y_train[:256]
    train_members(
        algo, {"lam": np.array([0.0, 1.0])}, np.array([0, 1]), x, y, epochs=1, batch_size=64
    )
    after_first = CountingCRE.traces[0]
    assert after_first > 0
    train_members(
        algo, {"lam": np.array([0.3, 0.7])}, np.array([5, 9]), x, y, epochs=2, batch_size=64
    )
    assert CountingCRE.traces[0] == after_first


def test_a_nan_member_is_flagged_and_the_others_train_on():
    data = load_dataset("digits")
    algo = CREAlgorithm("fc-small", data.input_shape, data.num_classes, 8, "linear")
    result = train_members(
        algo,
        {"lam": np.array([0.5, np.nan, 0.5])},
        np.array([0, 1, 2]),
        data.x_train,
        data.y_train,
        epochs=3,
        batch_size=32,
        eval_sets={"val": data.split("val")},
    )
    assert result.diverged.tolist() == [False, True, False]
    acc = result.history[-1].evals["val"]["accuracy"]
    assert np.isfinite(acc[[0, 2]]).all() and (acc[[0, 2]] > 0.3).all()


def test_stop_request_ends_cleanly_with_what_was_trained():
    data = load_dataset("digits")
    seen = {"epoch": 0}

    def progress(p):  # the two members train side by side (pcdash.sweep.lane_units)
        if len(p.frame):
            seen["epoch"] = max(seen["epoch"], int(p.frame["epoch"].max()))

    out = run_cre_sweep(
        CREConfig(lambdas=(0.0, 1.0), seeds=1, epochs=50, batch_size=64),
        on_progress=progress,
        should_stop=lambda: seen["epoch"] >= 2,
        data=data,
    )
    assert out.stopped
    assert 1 <= out.frame["epoch"].max() < 50
    # every reported epoch is complete: all members, all splits
    assert (out.frame.groupby("epoch").size() == 2 * 3).all()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"lambdas": (0.0, 1.5)}, "λ must lie in"),
        ({"lambdas": ()}, "empty"),
        ({"latent_dims": (0,)}, "≥ 1"),
        ({"dataset": "imagenet"}, "unknown dataset"),
        ({"arch": "resnet"}, "unknown architecture"),
        ({"seeds": 0}, "seeds"),
    ],
)
def test_bad_configs_are_refused_with_a_clear_message(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        CREConfig(**kwargs).validate()


def test_baselines_share_heads_and_pca_has_an_analytic_row():
    out = run_cre_sweep(CREConfig(lambdas=(0.5,), seeds=2, epochs=3, baselines=("pca", "rp")))
    models = set(out.frame["model"])
    assert models == {"cre", "pca", "rp", "pca-analytic"}
    rows = out.frame[(out.frame["split"] == "test") & (out.frame["model"] == "pca-analytic")]
    assert len(rows) == 1 and 0 < rows["mse"].iloc[0] < 1
    # random projections differ between seeds; PCA does not
    assert out.frame[out.frame["model"] == "rp"]["seed"].nunique() == 2


def test_a_baseline_carries_and_updates_only_its_heads_and_projection():
    import equinox as eqx
    import jax

    from pcdash.cre.baselines import ProjectionCRE, pca_components

    data = load_dataset("digits")
    algo = CREAlgorithm("fc-medium", data.input_shape, data.num_classes, 3, "linear")
    cre = algo.build(jax.random.PRNGKey(0))
    comps, mean = pca_components(data.x_train, 3)
    base = ProjectionCRE.on(comps, mean, cre)
    assert base.heads.encoder is None

    def size(tree):
        return sum(v.size for v in jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_array)))

    # Adam's two moments (and its step count) cover the decoder, the classifier and the frozen
    # projection: no copy of the unused encoder, which is half of an FC-Medium CRE's parameters
    carry = algo.carry_from_model(base)
    heads = size(cre.decoder) + size(cre.classifier)
    assert size(carry[2]) == 1 + 2 * (heads + comps.size + mean.size)
    assert size(cre.encoder) > 0.45 * size(cre)
    # the same heads as the CRE it was built from, on the projection's codes
    x = data.x_test[:8]
    z, _ = base.encode(x, base.init_state(), train=False)
    np.testing.assert_allclose(np.asarray(z), (x.reshape(8, -1) - mean) @ comps, rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(base.decode(z)), np.asarray(cre.decode(z)))
    # a step moves the heads and leaves the projection where it was
    (after, _, _), _ = algo.train_step(
        carry, {"lam": 0.5}, x, data.y_test[:8], jax.random.PRNGKey(1)
    )
    assert not np.allclose(after.heads.decoder.layers[0].weight, cre.decoder.layers[0].weight)
    np.testing.assert_array_equal(np.asarray(after.components), comps)
    np.testing.assert_array_equal(np.asarray(after.mean), mean)


def _tiny_train_set(data, n_train: int):
    """digits with only ``n_train`` training images (validation and test as they are)."""
    from dataclasses import replace

    return replace(data, x_train=data.x_train[:n_train], y_train=data.y_train[:n_train])


def test_best_on_validation_selects_an_earlier_epoch_when_a_run_overfits():
    data = _tiny_train_set(load_dataset("digits"), 50)
    config = CREConfig(
        lambdas=(0.0, 0.2), latent_dims=(16,), seeds=2, epochs=40, batch_size=10, lr=3e-3
    )
    frame = run_cre_sweep(config, data=data).frame
    val = frame[frame["split"] == "val"]
    # validation rows carry each member's objective λ·MSE + (1−λ)·CE
    assert val["loss"].notna().all()
    np.testing.assert_allclose(
        val["loss"], val["lam"] * val["mse"] + (1 - val["lam"]) * val["ce"], rtol=1e-4
    )
    curves = val.pivot(index="epoch", columns="member", values="loss")
    best_epoch, last_epoch = curves.idxmin(), curves.index.max()
    # 50 training images and 200 steps: every member overfits, its validation loss at the end is
    # well above its minimum (measured 1.13 … 1.45 × the minimum, reached at epochs 9 … 16)
    assert (curves.loc[last_epoch] > 1.08 * curves.min()).all()
    chosen = select_by_validation(frame, "loss", split="test").set_index("member")
    assert (chosen["epoch"] == best_epoch.loc[chosen.index]).all()
    assert (chosen["epoch"] < last_epoch).all()
    # the test rows returned are those of the chosen epochs, not the last ones
    last = final_rows(frame, "test").set_index("member")
    assert not np.allclose(chosen["loss"].sort_index(), last["loss"].sort_index())


def test_dead_latent_units_counts_units_that_are_zero_for_every_example():
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    from pcdash.cre.algorithm import dead_latent_units
    from pcdash.experiments.cre_sweep import split_batches

    data = load_dataset("digits")
    algo = CREAlgorithm("fc-medium", data.input_shape, data.num_classes, 3)
    model, state, opt = algo.init(jax.random.PRNGKey(0), {"lam": jnp.float32(0.5)})
    xb = split_batches(data.x_test, batch=100)  # 4 batches, the last padded with copies
    assert xb.shape[:2] == (4, 100)
    z, _ = model.encode(jnp.asarray(data.x_test), state, train=False)
    want = int(jnp.sum(jnp.all(z == 0, axis=0)))
    assert int(dead_latent_units((model, state, opt), xb)) == want
    # a unit whose bias is far below zero is zero for every input: dead
    bias = model.encoder.layers[-1].bias
    killed = eqx.tree_at(lambda m: m.encoder.layers[-1].bias, model, bias.at[1].set(-1e3))
    z, _ = killed.encode(jnp.asarray(data.x_test), state, train=False)
    assert bool(jnp.all(z[:, 1] == 0))
    assert (
        int(dead_latent_units((killed, state, opt), xb))
        == int(jnp.sum(jnp.all(z == 0, axis=0)))
        >= 1
    )


def test_test_rows_carry_each_members_dead_latent_units(tradeoff):
    frame = tradeoff.frame
    test = frame[frame["split"] == "test"]
    assert test["dead_latent_units"].notna().all()
    assert ((test["dead_latent_units"] >= 0) & (test["dead_latent_units"] <= 3)).all()
    assert (test["dead_latent_units"] % 1 == 0).all()
    assert frame.loc[frame["split"] != "test", "dead_latent_units"].isna().all()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"arch": "cnn", "latent_dims": (2, 3)}, "fixed by the architecture"),
        ({"arch": "vit", "baselines": ("pca",)}, "dense dim"),
        ({"arch": "cnn-z", "dataset": "moons"}, "image dataset"),
        ({"init": "xavier"}, "unknown initialisation"),
    ],
)
def test_more_bad_configs(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        CREConfig(**kwargs).validate()


@pytest.mark.parametrize(
    "arch,dataset,size",
    [
        ("cnn", "digits", 16),
        ("cnn", "mnist", 256),
        ("cnn", "cifar10", 256),
        ("vit", "digits", 136),
        ("vit", "fashion_mnist", 136),
    ],
)
def test_fixed_latent_architectures_report_their_own_latent_size(arch, dataset, size):
    """dim(z) of the authors' CNN is its feature map (16 × 1 × 1 on digits, 16 × 4 × 4 on 28×28 and
    32×32), of their ViT the 17 tokens × 8; the config says so instead of a dim(z) it cannot
    have."""
    from pcdash import limits

    # the digits defaults on MNIST/CIFAR would take hours: only the latent size is asked here
    with limits.using(limits.parse_limits("hours=1000,memory_gb=1000"), hint="{}"):
        assert CREConfig(arch=arch, dataset=dataset, latent_dims=(3,)).validate().latent_dims == (
            size,
        )
        assert CREConfig(
            arch=f"{arch}-z", dataset=dataset, latent_dims=(3,)
        ).validate().latent_dims == (3,)


def _headline(frame):
    test = final_rows(frame[frame["model"] == "cre"], "test")
    return {lam: rows for lam, rows in test.groupby("lam")}


@pytest.fixture(scope="module")
def default_sweep():
    """The dashboard's default sweep: digits, fc-medium, dim(z) = 3, λ = 0 … 1, 5 seeds."""
    config = CREConfig()
    assert (config.dataset, config.arch, config.latent_dims, config.seeds) == (
        "digits",
        "fc-medium",
        (3,),
        5,
    )
    return run_cre_sweep(config)


@pytest.mark.slow
def test_default_sweep_shows_the_trade_off_clearly(default_sweep):
    """Issue 9's numbers for the default, 5 seeds on digits: mean test accuracy at λ = 0 ≥ 0.90 and
    ≥ 0.15 above λ = 1; mean test MSE at λ = 1 at least 20% below λ = 0; the λ = 0 and λ = 1 boxes
    (min … max over seeds) do not overlap on either metric; no dead latent unit at λ = 0 or 1.
    Measured (seeds 0–4): accuracy 0.906 (0.89 … 0.92) at λ = 0, 0.750 (… 0.81) at λ = 1, gap 0.157;
    MSE 0.452 (0.430 …) → 0.128 (… 0.155). Seeds 5–9 give a gap of 0.100 and seeds 10–14 0.162: on
    digits the λ = 1 classifier reads 3-D autoencoder codes that are ~75–80% classifiable, so
    the gap
    is about 0.10–0.16 and this test's 0.15 is near its edge; everything else holds for all 15
    seeds."""
    by_lam = _headline(default_sweep.frame)
    lam0, lam1 = by_lam[0.0], by_lam[1.0]
    assert len(lam0) == len(lam1) == 5
    assert lam0["accuracy"].mean() >= 0.90
    assert lam0["accuracy"].mean() - lam1["accuracy"].mean() >= 0.15
    assert lam1["mse"].mean() <= 0.8 * lam0["mse"].mean()
    assert lam0["accuracy"].min() > lam1["accuracy"].max()
    assert lam1["mse"].max() < lam0["mse"].min()
    assert (lam0["dead_latent_units"] == 0).all() and (lam1["dead_latent_units"] == 0).all()


@pytest.mark.slow
def test_lambda_1_reconstructions_are_bounded_by_pca_with_as_many_components(default_sweep):
    """A bound from outside the model: the dim(z) = 3 autoencoder (λ = 1) reconstructs held-out
    images
    from 3 numbers. Its nonlinear decoder may beat PCA's best linear 3-D code (PCA-3 test MSE
    0.176 on
    digits; measured 0.12 … 0.16, i.e. 0.66 … 0.88 × PCA-3), but not by half: that is better than
    PCA with 8 components (0.098), and would mean the reconstruction does not really pass
    through z."""
    from pcdash.cre.baselines import pca_reconstruction_mse

    data = load_dataset("digits")
    pca3 = pca_reconstruction_mse(data.x_train, data.x_test, 3)
    mse = _headline(default_sweep.frame)[1.0]["mse"]
    assert (mse >= 0.5 * pca3).all() and (mse <= pca3).all(), (mse.tolist(), pca3)


def test_dead_units_from_the_snapshots_codes_equal_a_pass_over_the_test_split():
    # digits has at most 37 test images a class: with 50 points a class the snapshot is the
    # whole test split and its codes count the dead units; with 5 it is a subset and the test
    # split gets its own pass. Same training (the snapshot does not touch it), same counts; the
    # authors' initialisation leaves dead units here, and dims 2 and 8 train padded to 8.
    from pcdash.experiments.cre_sweep import dead_units_of_codes

    frames = {}
    for per_class in (50, 5):
        config = CREConfig(
            lambdas=(0.0, 1.0),
            latent_dims=(2, 8),
            seeds=2,
            epochs=2,
            init="authors",
            points_per_class=per_class,
        )
        out = run_cre_sweep(config)
        test = out.frame[(out.frame["split"] == "test") & (out.frame["model"] == "cre")]
        frames[per_class] = test.sort_values(["member", "epoch"])["dead_latent_units"].to_numpy()
        whole = len(out.snapshot.x) == len(load_dataset("digits").x_test)
        assert whole == (per_class == 50)
    assert frames[50].max() >= 3 and frames[50].min() == 0  # something to count
    np.testing.assert_array_equal(frames[50], frames[5])
    # padding units (beyond a member's dim) never count, however zero they are
    z = np.zeros((2, 4, 8))
    z[0, :, 0] = z[1, 1, :3] = 1.0
    np.testing.assert_array_equal(dead_units_of_codes(z, np.array([2, 8])), [1, 5])
    np.testing.assert_array_equal(dead_units_of_codes(z), [7, 5])
