"""The member axis sharded over every local device: two CPU devices (XLA's
``--xla_force_host_platform_device_count=2``, which must be set before JAX starts, so the
checks run in a child process) give the same results as one, padded members never show."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from pcdash.backends.parts import merge_results, split_parts
from pcdash.cre.algorithm import CREAlgorithm
from pcdash.data import load_dataset
from pcdash.engine import member_mesh, padded_count, train_members

CHILD = textwrap.dedent("""
    import jax, numpy as np
    from pcdash.cre.algorithm import CREAlgorithm
    from pcdash.experiments.cre_config import CREConfig
    from pcdash.experiments.cre_sweep import run_cre_sweep
    from pcdash.data import load_dataset
    from pcdash.engine import train_members
    from pcdash.experiments.pcn_config import PCNConfig
    from pcdash.experiments.pcn_sweep import run_pcn_sweep

    assert len(jax.local_devices()) == 2, jax.local_devices()
    data = load_dataset("digits")
    evals = {s: data.split(s) for s in ("val", "test")}

    def close(a, b):
        for ra, rb in zip(a.history, b.history, strict=True):
            for got, want in [(ra.train, rb.train), (ra.last_step, rb.last_step)] + [
                    (ra.evals[s], rb.evals[s]) for s in rb.evals]:
                assert got.keys() == want.keys()
                for k in want:
                    assert got[k].shape == want[k].shape, (k, got[k].shape, want[k].shape)
                    np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-6, err_msg=k)
        leaves = jax.tree_util.tree_leaves
        for x, y in zip(leaves(a.carry), leaves(b.carry), strict=True):
            assert x.shape == y.shape
            np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6)

    # 3 CRE members on 2 devices: one padded member
    algo = CREAlgorithm("fc-small", data.input_shape, data.num_classes, 3)
    hp, seeds = {"lam": np.array([0.0, 0.5, 1.0], np.float32)}, np.array([0, 1, 2])
    run = lambda **kw: train_members(algo, hp, seeds, data.x_train, data.y_train, epochs=2,
                                     batch_size=128, eval_sets=evals, **kw)
    sharded, single = run(), run(devices=jax.local_devices()[:1])
    assert (sharded.devices, single.devices) == (2, 1)
    assert sharded.diverged.shape == (3,)
    assert len(sharded.history[-1].evals["test"]["accuracy"]) == 3
    close(sharded, single)

    hooked = []
    train_members(algo, hp, seeds, data.x_train, data.y_train, epochs=1, batch_size=128,
                  epoch_hook=lambda carry, rec: hooked.append(
                      jax.tree_util.tree_leaves(carry)[0].shape[0]))
    assert hooked == [3], hooked  # the hook sees the real members only

    # a whole CRE sweep (baselines start from a given state) and a PCN sweep; the parent
    # compares them with its own, on one device
    cre = CREConfig(**CRE_SWEEP)
    frame = run_cre_sweep(cre).frame
    assert sorted(frame["member"].unique()) == [0, 1, 2, 3], frame["member"].unique()
    assert len(frame) == 4 * 3  # members × splits: no row of a padded member
    pcn = PCNConfig(**PCN_SWEEP)
    energies = run_pcn_sweep(pcn).energy_trace
    assert energies.shape[0] == 3 and np.isfinite(energies).all()
    print("OK", frame.to_json(), energies.tolist())
""")


CRE_SWEEP = dict(
    arch="fc-small",
    latent_dims=(2,),
    lambdas=(0.0, 0.5, 1.0),
    seeds=1,
    epochs=1,
    batch_size=128,
    baselines=("rp",),
)
PCN_SWEEP = dict(widths=(16,), state_lrs=(0.03, 0.1, 0.3), seeds=1, epochs=1, batch_size=64)


@pytest.mark.slow
def test_two_devices_give_the_results_of_one():
    """In a child with two CPU devices: engine results sharded vs on one device, padded members
    absent. Its sweep results then equal this process's, which has one device."""
    import json

    import pandas as pd

    from pcdash.experiments.cre_config import CREConfig
    from pcdash.experiments.cre_sweep import run_cre_sweep
    from pcdash.experiments.pcn_config import PCNConfig
    from pcdash.experiments.pcn_sweep import run_pcn_sweep

    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "JAX_PLATFORMS": "cpu",
    }
    code = CHILD.replace("CRE_SWEEP", repr(CRE_SWEEP)).replace("PCN_SWEEP", repr(PCN_SWEEP))
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600
    )
    assert res.returncode == 0, res.stderr[-3000:]
    frame_json, energies_json = res.stdout.split("OK ", 1)[1].split(" ", 1)

    a = pd.read_json(io.StringIO(frame_json))
    b = run_cre_sweep(CREConfig(**CRE_SWEEP)).frame
    numeric = [c for c in b.select_dtypes("number").columns if c != "epoch_seconds"]
    assert list(a["member"]) == list(b["member"]) and list(a["split"]) == list(b["split"])
    np.testing.assert_allclose(
        a[numeric].to_numpy(float), b[numeric].to_numpy(float), rtol=1e-5, atol=1e-6
    )
    energies = run_pcn_sweep(PCNConfig(**PCN_SWEEP)).energy_trace
    np.testing.assert_allclose(json.loads(energies_json), energies, rtol=1e-5, atol=1e-7)


def test_one_device_shards_nothing_and_pads_nothing():
    import jax

    assert len(jax.local_devices()) == 1  # the test process: XLA's default of one CPU device
    assert member_mesh() is None and padded_count(5, None) == 5


def test_parts_of_a_group_merged_in_order_equal_the_whole_group():
    """A member's seed fixes its training, so training a group in parts and merging gives the
    group's result: what the Ray backend relies on."""
    data = load_dataset("digits")
    algo = CREAlgorithm("fc-small", data.input_shape, data.num_classes, 2)
    lam, seeds = np.array([0.0, 0.25, 0.5, 0.75, 1.0], np.float32), np.arange(5)
    evals = {"val": data.split("val")}

    def train(idx):
        return train_members(
            algo,
            {"lam": lam[idx]},
            seeds[idx],
            data.x_train,
            data.y_train,
            epochs=1,
            batch_size=128,
            eval_sets=evals,
        )

    whole = train(np.arange(5))
    parts = [p for p in split_parts([5], workers=1, parts_per_worker=2)]
    assert sorted(len(p) for p in parts) == [2, 3]
    merged = merge_results(
        [train(p.positions) for p in sorted(parts, key=lambda p: p.positions[0])]
    )
    for k, v in whole.history[0].evals["val"].items():
        np.testing.assert_allclose(merged.history[0].evals["val"][k], v, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        merged.history[0].train["loss"], whole.history[0].train["loss"], rtol=1e-5
    )
    assert merged.carry is not None  # parts trained here keep their state


def test_split_parts_covers_every_member_once_largest_first():
    parts = split_parts([10, 3, 1], workers=2, parts_per_worker=2, max_members=4)
    for g, size in enumerate([10, 3, 1]):
        got = np.concatenate([p.positions for p in parts if p.group == g])
        assert sorted(got.tolist()) == list(range(size))
    assert all(len(p) <= 4 for p in parts)
    assert [len(p) for p in parts] == sorted((len(p) for p in parts), reverse=True)
    assert len(split_parts([7], workers=64)) == 7  # never an empty part
