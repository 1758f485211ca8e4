"""Groups trained side by side (:func:`pcdash.sweep.run_groups` with two lanes): the same
numbers, in the groups' order, as one after another; progress that only grows; a stop that ends
every lane and starts nothing more; an error that is raised once every lane has ended; and the
caller's engine mode (compile only, recording) reaching the lanes' threads."""

from __future__ import annotations

import jax
import numpy as np
import pandas as pd
import pytest

from pcdash.data import load_dataset
from pcdash.engine import compile_only, recording
from pcdash.experiments.cre_config import CREConfig
from pcdash.experiments.cre_sweep import sweep_setup
from pcdash.sweep import run_groups


@pytest.fixture(scope="module")
def setup():
    config = CREConfig(
        latent_dims=(3,), lambdas=(0.0, 1.0), seeds=2, epochs=2, batch_size=64,
        baselines=("pca", "rp"),
    )  # fmt: skip
    config, data, _, groups, _, eval_sets = sweep_setup(config, load_dataset("digits"))
    assert len(groups) == 3  # CRE, PCA, RP
    return config, data, groups, eval_sets


def _run(setup, lanes, **kw):
    config, data, groups, eval_sets = setup
    return run_groups(
        groups,
        data.x_train,
        data.y_train,
        eval_sets=eval_sets,
        epochs=config.epochs,
        batch_size=config.batch_size,
        lanes=lanes,
        **kw,
    )


def test_two_lanes_give_what_one_gives_in_the_groups_order(setup):
    one, two = _run(setup, 1), _run(setup, 2)
    assert not one.stopped and not two.stopped
    timing = ["epoch_seconds"]  # wall time, the one column that may differ
    pd.testing.assert_frame_equal(one.frame.drop(columns=timing), two.frame.drop(columns=timing))
    groups = setup[2]
    for g, r1, r2 in zip(groups, one.results, two.results, strict=True):
        assert len(r2.history) == 2 and r2.diverged.shape == (len(g.seeds),)
        np.testing.assert_allclose(
            r1.history[-1].evals["test"]["mse"], r2.history[-1].evals["test"]["mse"], rtol=1e-6
        )
    # the frame's members come group after group, as the groups were given
    order = two.frame.drop_duplicates("member")["member"].to_numpy()
    assert (order == np.concatenate([g.members["member"].to_numpy() for g in groups])).all()


def test_progress_only_grows_and_ends_complete(setup):
    seen = []

    def record(p):
        seen.append((p.fraction, len(p.frame)))

    run = _run(setup, 2, on_progress=record)
    fractions = [f for f, _ in seen]
    assert np.all(np.diff(fractions) >= 0)
    assert fractions[-1] == pytest.approx(1.0)
    assert max(n for _, n in seen) == len(run.frame)


def test_a_stop_ends_every_lane_and_starts_no_further_group(setup):
    calls = []
    run = _run(setup, 2, on_progress=calls.append, should_stop=lambda: len(calls) > 0)
    assert run.stopped
    # only the two groups that were running when the stop came trained, each for less than all
    # its epochs; the third never started
    assert len(run.results) <= 2
    assert all(len(r.history) < 2 or r.stopped for r in run.results)


def test_an_error_in_one_lane_is_raised_after_the_other_ends(setup, monkeypatch):
    import pcdash.sweep as sweep

    real = sweep.train_members
    finished = []

    def flaky(algo, *a, **kw):
        if algo.latent_activation == "linear" and not finished:  # the first baseline group
            finished.append("failed")
            raise RuntimeError("boom")
        out = real(algo, *a, **kw)
        finished.append("trained")
        return out

    monkeypatch.setattr(sweep, "train_members", flaky)
    with pytest.raises(RuntimeError, match="boom"):
        _run(setup, 2)
    # the CRE group's lane was not abandoned mid-run: it ended (stopped by the error) first
    assert "trained" in finished


def test_the_caller_s_engine_mode_reaches_the_lanes(setup):
    with recording() as records:
        _run(setup, 2)
    assert len(records) == 3  # one record per group, whichever lane trained it
    with compile_only(), recording() as records:
        run = _run(setup, 2)
    # compile only: every group gets its programs ready and trains no step (one epoch reported)
    assert len(records) == 3 and all(len(r.history) == 1 for r in run.results)


def test_lane_units_cut_only_a_group_larger_than_a_lane_s_share():
    from pcdash.sweep import lane_units

    class G:  # only the size matters
        def __init__(self, n):
            self.seeds = np.arange(n)

        def __len__(self):
            return len(self.seeds)

    def shape(units):
        return [(gi, None if pos is None else pos.tolist()) for gi, pos in units]

    # the Latent dimension page: 120 CRE members, then 30 PCA and 30 RP ones
    units = lane_units([G(120), G(30), G(30)], 2)
    assert shape(units) == [
        (0, list(range(60))), (0, list(range(60, 120))), (1, None), (2, None)
    ]  # fmt: skip
    assert shape(lane_units([G(6)], 2)) == [(0, [0, 1, 2]), (0, [3, 4, 5])]
    assert shape(lane_units([G(6)], 3)) == [(0, [0, 1]), (0, [2, 3]), (0, [4, 5])]
    assert shape(lane_units([G(5)], 2)) == [(0, None)]  # unequal parts: two programs
    assert shape(lane_units([G(4), G(4)], 2)) == [(0, None), (1, None)]  # half each: no cut
    assert shape(lane_units([G(6)], 1)) == [(0, None)]


def test_a_group_cut_into_parts_gives_what_it_gives_whole():
    """One CRE group of 4 members (no baselines): with two lanes it trains as two parts of 2,
    side by side; the frame, the merged results and the latent snapshots (written by the parts'
    hooks into the group's) equal those of the whole group in one lane."""
    config = CREConfig(
        latent_dims=(3,), lambdas=(0.0, 1.0), seeds=2, epochs=2, batch_size=64, baselines=()
    )
    out = {}
    for lanes in (1, 2):
        _, data, snapshot, groups, _, eval_sets = sweep_setup(config, load_dataset("digits"))
        for g in groups:
            g.return_state = True  # the merged state comes back as well
        reports = []
        run = run_groups(
            groups,
            data.x_train,
            data.y_train,
            eval_sets=eval_sets,
            epochs=2,
            batch_size=64,
            lanes=lanes,
            on_progress=lambda p, reports=reports: reports.append((p.fraction, p.message)),
        )
        out[lanes] = run, snapshot, reports
    (one, snap1, _), (two, snap2, reports) = out[1], out[2]
    assert any("part 2/2" in m for _, m in reports)  # it did train as parts
    assert np.all(np.diff([f for f, _ in reports]) >= 0)
    timing = ["epoch_seconds"]
    pd.testing.assert_frame_equal(
        one.frame.drop(columns=timing), two.frame.drop(columns=timing), rtol=1e-5
    )
    (r1,), (r2,) = one.results, two.results
    assert r2.diverged.shape == (4,) and len(r2.history) == 2
    leaves = [jax.tree_util.tree_leaves(r.carry) for r in (r1, r2)]
    for a, b in zip(*leaves, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
    assert sorted(snap1.z) == sorted(snap2.z) == [0, 1, 2, 3]
    for m in snap1.z:
        np.testing.assert_allclose(snap2.z[m], snap1.z[m], rtol=1e-4, atol=1e-5)
        assert snap2.epoch[m] == snap1.epoch[m] == 2


@pytest.mark.parametrize(
    "keys, lanes, held, want",
    [
        # two lanes start a and b, each compiles its own; c waits: compiled ahead
        (["a", "b", "c"], 2, set(), [2]),
        # a program this process holds is not compiled again
        (["a", "b", "c"], 2, {"c"}, []),
        # two starting parts of one group share a: one compilation for both
        (["a", "a", "b"], 2, set(), [0, 2]),
        # a later unit of a starting program waits for that one's compilation
        (["a", "b", "a", "b"], 2, set(), []),
        # an unknown key is always compiled ahead, and never shared
        ([None, "a", None], 2, set(), [0, 2]),
        # one lane: everything after the first unit is ahead, once per program
        (["a", "b", "b", "a"], 1, set(), [1]),
    ],
)
def test_which_programs_compile_ahead(keys, lanes, held, want):
    from pcdash.sweep import compiled_ahead

    assert compiled_ahead(keys, lanes, held) == want
