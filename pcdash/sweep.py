"""Sweeps made of shape groups: each group is one compiled program over its members (see
:mod:`pcdash.engine`); groups run one after another with progress combined across them.

Used by the CRE sweep (one group per latent dimension, plus baselines) and the PCN sweep (one
group per width), by the dashboard and the CLI alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pcdash.engine import Algorithm, Carry, EpochRecord, Progress, TrainResult, train_members


@dataclass
class Group:
    """Members sharing shapes. ``members`` has one row per member with its descriptive columns
    (a global ``member`` id among them); ``to_frame`` turns a (partial) result into tidy rows."""

    algo: Algorithm
    hp: Mapping[str, np.ndarray]
    seeds: np.ndarray
    members: pd.DataFrame
    to_frame: Callable[[TrainResult, pd.DataFrame], pd.DataFrame]
    init_carry: Carry | None = None
    epoch_hook: Callable[[Carry, EpochRecord], None] | None = None
    label: str = ""


@dataclass
class SweepProgress:
    fraction: float
    elapsed_s: float
    eta_s: float | None
    frame: pd.DataFrame  # tidy rows of every finished epoch so far
    message: str
    extras: dict[str, Any] = field(default_factory=dict)  # sweep-specific live data (e.g. latents)


@dataclass
class SweepRun:
    frame: pd.DataFrame
    results: list[TrainResult]
    stopped: bool
    seconds: float
    extras: dict[str, Any] = field(default_factory=dict)


def run_groups(
    groups: list[Group],
    x_train: np.ndarray,
    y_train: np.ndarray,
    *,
    eval_sets: Mapping[str, tuple[np.ndarray, np.ndarray]],
    epochs: int,
    batch_size: int,
    on_progress: Callable[[SweepProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> SweepRun:
    """Train each group in turn. Progress is weighted by member count; the partial frame given
    to ``on_progress`` holds every epoch finished so far, so plots can update live."""
    t0 = time.perf_counter()
    weights = np.array([len(g.seeds) for g in groups], dtype=float)
    weights = weights / weights.sum()
    done_frames: list[pd.DataFrame] = []
    results: list[TrainResult] = []
    stopped = False
    cache: dict[str, Any] = {"epochs": -1, "frame": pd.DataFrame()}

    for gi, group in enumerate(groups):
        base = float(weights[:gi].sum())

        def progress(p: Progress, group=group, base=base, gi=gi):
            if on_progress is None:
                return
            if len(p.history) != cache["epochs"]:
                partial = TrainResult(p.history, np.zeros(0, bool), None, False, 0)
                cache["frame"] = pd.concat([*done_frames, group.to_frame(partial, group.members)], ignore_index=True)
                cache["epochs"] = len(p.history)
            fraction = base + weights[gi] * p.fraction
            elapsed = time.perf_counter() - t0
            eta = elapsed / fraction * (1 - fraction) if fraction > 0 else None
            label = f" · {group.label}" if group.label else ""
            message = f"group {gi + 1}/{len(groups)}{label} · epoch {p.epoch}/{epochs}"
            on_progress(SweepProgress(fraction, elapsed, eta, cache["frame"], message))

        result = train_members(
            group.algo, group.hp, group.seeds, x_train, y_train,
            epochs=epochs, batch_size=batch_size, eval_sets=eval_sets,
            on_progress=progress, should_stop=should_stop,
            init_carry=group.init_carry, epoch_hook=group.epoch_hook,
        )
        cache["epochs"] = -1
        results.append(result)
        done_frames.append(group.to_frame(result, group.members))
        if result.stopped:
            stopped = True
            break

    frame = pd.concat(done_frames, ignore_index=True) if done_frames else pd.DataFrame()
    return SweepRun(frame, results, stopped, time.perf_counter() - t0)
