"""The CRE sweep engine on digits: the trade-off, recompilation, divergence, stop, schema."""

from dataclasses import dataclass

import numpy as np
import pytest

from pcdash.cre.algorithm import CREAlgorithm
from pcdash.cre.config import CREConfig
from pcdash.cre.sweep import run_cre_sweep
from pcdash.data import load_dataset
from pcdash.engine import train_members
from pcdash.errors import ConfigError
from pcdash.results import select_by_validation

SPEC_COLUMNS = {"dataset", "arch", "latent_dim", "lam", "seed", "epoch", "split", "accuracy", "mse", "ce", "diverged"}


@pytest.fixture(scope="module")
def tradeoff():
    config = CREConfig(dataset="digits", arch="fc-medium", latent_dims=(3,), lambdas=(0.0, 0.5, 1.0),
                       seeds=3, epochs=20, batch_size=32)
    return run_cre_sweep(config)


def test_frame_has_the_spec_columns_and_one_row_per_member_epoch_split(tradeoff):
    frame = tradeoff.frame
    assert SPEC_COLUMNS <= set(frame.columns)
    assert len(frame) == 9 * 20 * 3  # members × epochs × (train, val, test)
    assert set(frame["split"]) == {"train", "val", "test"}
    assert not frame["diverged"].any()


def test_classification_wins_at_lambda_0_and_reconstruction_at_lambda_1(tradeoff):
    test = select_by_validation(tradeoff.frame, "loss" if "loss" in tradeoff.frame else "ce")
    by_lam = test.groupby("lam")[["accuracy", "mse"]].mean()
    assert by_lam.loc[0.0, "accuracy"] > by_lam.loc[1.0, "accuracy"] + 0.2
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
    train_members(algo, {"lam": np.array([0.0, 1.0])}, np.array([0, 1]), x, y, epochs=1, batch_size=64)
    after_first = CountingCRE.traces[0]
    assert after_first > 0
    train_members(algo, {"lam": np.array([0.3, 0.7])}, np.array([5, 9]), x, y, epochs=2, batch_size=64)
    assert CountingCRE.traces[0] == after_first


def test_a_nan_member_is_flagged_and_the_others_train_on():
    data = load_dataset("digits")
    algo = CREAlgorithm("fc-small", data.input_shape, data.num_classes, 8, "linear")
    result = train_members(
        algo, {"lam": np.array([0.5, np.nan, 0.5])}, np.array([0, 1, 2]), data.x_train, data.y_train,
        epochs=3, batch_size=32, eval_sets={"val": data.split("val")},
    )
    assert result.diverged.tolist() == [False, True, False]
    acc = result.history[-1].evals["val"]["accuracy"]
    assert np.isfinite(acc[[0, 2]]).all() and (acc[[0, 2]] > 0.3).all()


def test_stop_request_ends_cleanly_with_what_was_trained():
    data = load_dataset("digits")
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 3

    out = run_cre_sweep(CREConfig(lambdas=(0.0, 1.0), seeds=1, epochs=50, batch_size=64), should_stop=stop, data=data)
    assert out.stopped
    assert 1 <= out.frame["epoch"].max() < 50
    # every reported epoch is complete: all members, all splits
    assert (out.frame.groupby("epoch").size() == 2 * 3).all()


@pytest.mark.parametrize("kwargs,match", [
    ({"lambdas": (0.0, 1.5)}, "λ must lie in"),
    ({"lambdas": ()}, "empty"),
    ({"latent_dims": (0,)}, "≥ 1"),
    ({"dataset": "imagenet"}, "unknown dataset"),
    ({"arch": "resnet"}, "unknown architecture"),
    ({"seeds": 0}, "seeds"),
])
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
