"""Finished runs survive a server restart: PC comparisons and the generative parts are saved
with their trained weights and tables, and reloaded results compute the same things."""

from dataclasses import replace

import jax
import numpy as np
import pandas as pd
import pytest

from pcdash.errors import PcdashError
from pcdash.experiments.comparison import (
    ComparisonConfig,
    load_comparison,
    run_pcn_comparison,
    save_comparison,
)
from pcdash.experiments.mcpc import MCPCConfig, run_mcpc
from pcdash.experiments.ood import OODConfig
from pcdash.experiments.pcn_config import PCNConfig
from pcdash.experiments.result import load_result, save_result
from pcdash.pcn.landscape import loss_landscape
from pcdash.runs import list_runs, load_run, save_run


def test_tables_round_trip_and_bad_names_are_refused(tmp_path):
    frame = pd.DataFrame({"a": [1, 2]})
    table = pd.DataFrame({"set": ["ID", "OOD"], "score": [0.5, 1.5]})
    save_run(
        "k1",
        "test",
        {"dataset": "digits"},
        frame,
        {"x": np.arange(3)},
        {"seconds": 1.0},
        root=tmp_path,
        tables={"scores": table},
    )
    run = load_run("k1", root=tmp_path)
    pd.testing.assert_frame_equal(run.tables["scores"], table)
    np.testing.assert_array_equal(run.arrays["x"], np.arange(3))
    with pytest.raises(ValueError):
        save_run("k2", "test", {}, frame, tables={"../evil": table}, root=tmp_path)
    assert list(list_runs(tmp_path)["key"]) == ["k1"]  # the refused run left nothing behind
    (tmp_path / "k1" / "table_scores.csv").write_bytes(b"\x00\x01garbage\n\x00")
    (tmp_path / "k1" / "arrays.npz").write_bytes(b"not a zip")
    with pytest.raises(PcdashError, match="damaged"):
        load_run("k1", root=tmp_path)


def test_a_saved_comparison_reloads_with_its_weights():
    base = PCNConfig(
        dataset="moons",
        state_lrs=(0.1,),
        widths=(16,),
        depth=1,
        epochs=1,
        seeds=2,
        batch_size=64,
        inference_steps=3,
    )
    config = ComparisonConfig(tuple((n, replace(base, algorithm=n)) for n in ("pc-se", "bp-se")))
    out = run_pcn_comparison(config)
    assert load_comparison(config) is None
    save_comparison(config, out)
    back = load_comparison(config)
    assert back is not None and back.variants == out.variants
    pd.testing.assert_frame_equal(back.frame, out.frame, check_dtype=False)
    x = np.random.default_rng(0).normal(size=(32, 2)).astype(np.float32)
    y = np.arange(32) % 2
    for name in out.variants:
        a, b = out.runs[name], back.runs[name]
        assert b.algorithm == a.algorithm and list(b.members["variant"]) == [name] * 2
        np.testing.assert_array_equal(b.diverged, a.diverged)
        la = loss_landscape(jax.tree_util.tree_map(lambda t: t[0], a.mlp), x, y, points=3)
        lb = loss_landscape(jax.tree_util.tree_map(lambda t: t[0], b.mlp), x, y, points=3)
        np.testing.assert_allclose(lb[2], la[2], rtol=1e-6)


def test_a_saved_generative_part_reloads_with_tables_arrays_and_scalars():
    config = MCPCConfig(dataset="moons", epochs=1, train_steps=5, sample_steps=20, n_samples=50)
    result = run_mcpc(config)
    assert load_result(config) is None
    save_result(config, result)
    back = load_result(config)
    assert back is not None and back.scalars == pytest.approx(result.scalars)
    np.testing.assert_array_equal(back.arrays["samples"], result.arrays["samples"])
    pd.testing.assert_frame_equal(back.frame, result.frame, check_dtype=False)
    assert load_run(config.key()).kind == "generative-mcpc"
    assert load_result(OODConfig()) is None  # another part's key finds nothing


def test_a_generative_result_saved_before_the_one_result_schema_loads_in_it(tmp_path, monkeypatch):
    """An autoencoder run as pcdash saved it before (one wide row per member and epoch, γ called
    ``gamma``, the test MSE in ``test_mse``) loads as tidy train and test rows that the page's
    figures draw: the same numbers under the schema's names."""
    from pcdash.experiments.autoencoder import AEConfig
    from pcdash.figures.generative import mse_bars, training_curves

    monkeypatch.setenv("PCDASH_RUNS_DIR", str(tmp_path))
    config = AEConfig(epochs=2)
    old = pd.DataFrame(
        {
            "model": ["PC", "PC", "BP", "PC", "PC", "BP"],
            "member": [0, 1, 0, 0, 1, 0],
            "epoch": [1, 1, 1, 2, 2, 2],
            "loss": [0.6, 0.5, 0.4, 0.3, 0.2, 0.1],
            "test_mse": [0.44, 0.33, 0.22, 0.11, 0.10, 0.09],
            "gamma": [0.1, 0.3, np.nan, 0.1, 0.3, np.nan],
            "seed": [0.0] * 6,
        }
    )
    table = pd.DataFrame(
        {
            "model": ["PC", "PC", "BP"],
            "gamma": [0.1, 0.3, np.nan],
            "seed": [0, 0, 0],
            "epoch": [2, 2, 2],
            "test_mse": [0.11, 0.10, 0.09],
        }
    )
    save_run(
        config.key(),
        "generative-ae",
        {"gammas": [0.1, 0.3]},
        old,
        {"x": np.zeros((2, 64))},
        {"seconds": 1.0, "scalars": {"pc_gamma": 0.3}},
        tables={"mse": table},
    )
    result = load_result(config)
    frame = result.frame
    assert set(frame["split"]) == {"train", "test"} and len(frame) == 12
    train, test = frame[frame["split"] == "train"], frame[frame["split"] == "test"]
    assert train["loss"].tolist() == old["loss"].tolist()
    assert test["mse"].tolist() == old["test_mse"].tolist()
    assert test["state_lr"].tolist()[:2] == [0.1, 0.3] and "gamma" not in frame
    assert result.scalars == {"pc_state_lr": 0.3}
    curves = training_curves(frame, "mse", split="test")
    assert sorted(list(t.y) for t in curves.data) == [[0.22, 0.09], [0.33, 0.10], [0.44, 0.11]]
    bars = mse_bars(result.tables["mse"])
    assert [b.y[0] for b in bars.data] == [0.11, 0.10, 0.09]
    assert load_result(replace(config, epochs=3)) is None
