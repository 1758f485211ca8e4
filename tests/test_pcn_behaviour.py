"""PCN sweeps end to end: accuracy and energy imbalance on digits, divergence, recompiles, API."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from pcdash import engine
from pcdash.data import load_dataset
from pcdash.errors import ConfigError
from pcdash.experiments.pcn_config import PCNConfig
from pcdash.experiments.pcn_sweep import (
    PCNSweepOutput,
    energy_trace_for_batch,
    load_pcn_output,
    run_pcn_sweep,
    save_pcn_output,
)
from pcdash.pcn import PCNAlgorithm, pcn_hyper
from pcdash.sweep import SweepProgress

DIGITS_GAMMAS = (0.003, 0.01, 0.03, 0.1)
HUGE_GAMMA = 1e8  # overflows the states within a few inference steps


@pytest.fixture(scope="module")
def digits_sweep() -> PCNSweepOutput:
    """PC-SE, 64-64 leaky-ReLU MLP, T = 8, AdamW 1e-3, batch 32, 10 epochs: one program."""
    config = PCNConfig(
        dataset="digits",
        algorithm="pc-se",
        widths=(64,),
        depth=2,
        activation="leaky_relu",
        state_lrs=(*DIGITS_GAMMAS, HUGE_GAMMA),
        optimizers=("adamw",),
        inference_steps=8,
        weight_lr=1e-3,
        batch_size=32,
        epochs=10,
        seeds=1,
    )
    return run_pcn_sweep(config)


def final_test_rows(output: PCNSweepOutput):
    frame = output.frame
    return frame[(frame["split"] == "test") & (frame["epoch"] == output.config.epochs)].set_index(
        "state_lr"
    )


def test_pc_se_reaches_95_percent_on_digits(digits_sweep: PCNSweepOutput) -> None:
    rows = final_test_rows(digits_sweep)
    accuracies = rows.loc[list(DIGITS_GAMMAS), "accuracy"]
    assert accuracies.max() >= 0.95, accuracies.to_dict()
    assert accuracies.min() >= 0.90, accuracies.to_dict()


def test_a_nan_member_is_flagged_and_the_others_train_on(digits_sweep: PCNSweepOutput) -> None:
    rows = final_test_rows(digits_sweep)
    assert bool(rows.loc[HUGE_GAMMA, "diverged"])
    assert math.isnan(rows.loc[HUGE_GAMMA, "accuracy"])
    assert not rows.loc[list(DIGITS_GAMMAS), "diverged"].any()
    huge = digits_sweep.members.index[digits_sweep.members["state_lr"] == HUGE_GAMMA][0]
    assert np.isnan(digits_sweep.energy_trace[huge]).all()


def test_first_layer_energy_is_orders_below_the_last_and_grows_with_gamma(
    digits_sweep: PCNSweepOutput,
) -> None:
    """PCX Fig. 6d: energy_1 / energy_L at the end of inference, on a fixed test batch."""
    data = load_dataset("digits")
    traces = energy_trace_for_batch(digits_sweep, data.x_test[:128], data.y_test[:128])
    gammas = digits_sweep.members["state_lr"].to_numpy()
    ratio = {g: traces[i, -1, 0] / traces[i, -1, -1] for i, g in enumerate(gammas)}

    assert ratio[0.003] < 1e-4 and ratio[0.01] < 1e-2, ratio
    assert all(ratio[a] < ratio[b] for a, b in zip(DIGITS_GAMMAS, DIGITS_GAMMAS[1:], strict=False))
    assert np.isnan(ratio[HUGE_GAMMA])
    # The same imbalance is in the frame (last training batch): energy_1 ≪ energy_3.
    rows = final_test_rows(digits_sweep)
    assert rows.loc[0.003, "energy_1"] < 1e-3 * rows.loc[0.003, "energy_3"]


_TRACES: list[str] = []


@dataclass(frozen=True)
class TraceCountingPCN(PCNAlgorithm):
    """A PCN that notes every Python trace of its training step."""

    def train_step(self, carry, hp, x, y, key):
        _TRACES.append("train_step")
        return super().train_step(carry, hp, x, y, key)


def test_new_gammas_or_seeds_do_not_recompile() -> None:
    algo = TraceCountingPCN((4, 8, 3), inference_steps=3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=96).astype(np.int32)

    def sweep(gammas: list[float], seeds: list[int]) -> None:
        hp = pcn_hyper(gammas, [1e-3] * 3, ["adamw", "sgd", "adamw"])
        engine.train_members(
            algo,
            hp,
            np.asarray(seeds),
            x,
            y,
            epochs=2,
            batch_size=16,
            eval_sets={"val": (x[:32], y[:32])},
        )

    cache = getattr(engine._train_chunk, "_cached", None)
    counts, compiled = [], None
    for gammas, seeds in [
        ([0.01, 0.1, 0.3], [0, 1, 2]),
        ([0.02, 0.05, 0.5], [3, 4, 5]),
        ([1e-4, 1e-3, 1.0], [0, 7, 9]),
    ]:
        before = len(_TRACES)
        sweep(gammas, seeds)
        counts.append(len(_TRACES) - before)
        if compiled is None and cache is not None:
            compiled = cache._cache_size()

    # The first sweep traces the step for the compiled chunk (and the engine's shape probe);
    # a retrace of the chunk would make a later sweep trace as often as the first did.
    assert counts[0] >= 1 and counts[1] < counts[0] and counts[2] < counts[0], counts
    if compiled is not None:
        assert cache._cache_size() == compiled


def test_sweep_over_widths_gives_one_tidy_frame_and_combined_progress() -> None:
    config = PCNConfig(
        dataset="moons",
        widths=(8, 16),
        depth=1,
        activation="tanh",
        state_lrs=(0.01, 0.1),
        optimizers=("adamw", "sgd"),
        inference_steps=4,
        weight_lr=0.01,
        batch_size=64,
        epochs=2,
        seeds=2,
    )
    seen: list[SweepProgress] = []
    output = run_pcn_sweep(config, on_progress=seen.append)

    frame = output.frame
    required = {"dataset", "algorithm", "optimizer", "state_lr", "width", "seed", "member", "epoch"}
    required |= {"split", "accuracy", "loss", "diverged", "energy_1", "energy_2"}
    assert required <= set(frame.columns) and "energy_3" not in frame.columns
    assert len(output.members) == 16 and list(output.members["member"]) == list(range(16))
    assert len(frame) == 16 * 2 * 3
    assert set(frame["split"]) == {"train", "val", "test"}
    assert set(frame["width"]) == {8, 16} and set(frame["optimizer"]) == {"adamw", "sgd"}
    assert output.energy_trace.shape == (16, 5, 2) and np.isfinite(output.energy_trace).all()
    assert not output.stopped and not frame["diverged"].any()
    test_rows = frame[(frame["split"] == "test") & (frame["epoch"] == 2)]
    assert test_rows["accuracy"].max() > 0.8

    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert len(seen[-1].frame) == len(frame)
    live = seen[-1].result  # the live result has the interface of the finished one
    assert isinstance(live, PCNSweepOutput) and live.frame is seen[-1].frame
    assert live.energy_trace.shape == (16, 5, 2) and np.isfinite(live.energy_trace).all()
    assert list(live.members["member"]) == list(range(16))
    assert np.isnan(seen[0].result.energy_trace).all()  # no epoch finished yet

    # Saved and reloaded, the sweep still computes energy traces of a chosen batch.
    data = load_dataset("moons")
    before = energy_trace_for_batch(output, data.x_test[:64], data.y_test[:64])
    save_pcn_output(output)
    loaded = load_pcn_output(config)
    assert loaded is not None and len(loaded.frame) == len(frame)
    after = energy_trace_for_batch(loaded, data.x_test[:64], data.y_test[:64])
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-8)

    # Stop after the first chunk: the sweep ends cleanly, the frame has what finished.
    calls = iter(range(10**6))
    stopped = run_pcn_sweep(config, should_stop=lambda: next(calls) >= 1)
    assert stopped.stopped and len(stopped.frame) < len(frame)
    assert stopped.energy_trace.shape == (16, 5, 2)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"state_lrs": (0.1, -1.0)}, "γ"),
        ({"state_lrs": (0.0,)}, "γ"),
        ({"state_lrs": (math.inf,)}, "finite"),
        ({"state_lrs": ()}, "at least one"),
        ({"widths": ()}, "at least one"),
        ({"widths": (0,)}, "width"),
        ({"depth": 0}, "depth"),
        ({"activation": "sigmoid"}, "activation"),
        ({"algorithm": "pc-xx"}, "algorithm"),
        ({"dataset": "imagenet"}, "dataset"),
        ({"optimizers": ("rmsprop",)}, "optimizer"),
        ({"state_optimizer": "lbfgs"}, "state optimizer"),
        ({"inference_steps": 0}, "inference steps"),
        ({"seeds": 0}, "seeds"),
        ({"epochs": 0}, "epochs"),
        ({"weight_lr": float("nan")}, "weight learning rate"),
        ({"state_momentum": 1.0}, "momentum"),
        ({"widths": tuple(range(1, 40)), "state_lrs": tuple(np.linspace(0.01, 1, 30))}, "members"),
    ],
)
def test_bad_configs_get_one_line_messages(change: dict, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as info:
        run_pcn_sweep(PCNConfig(**change))
    assert "\n" not in str(info.value)


def test_batch_larger_than_the_training_set_is_refused() -> None:
    with pytest.raises(ConfigError, match="batch size"):
        run_pcn_sweep(PCNConfig(dataset="moons", batch_size=100_000))
