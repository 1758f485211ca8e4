"""The one result schema: a tidy DataFrame, one row per member per evaluation.

Every sweep (CRE or PCN, CLI or dashboard) turns its :class:`~pcdash.engine.TrainResult` into
this frame with :func:`history_to_frame`. A member is described by the columns of a members
table (``lam``, ``latent_dim``, ``seed`` ... or ``algorithm``, ``state_lr``, ``width`` ...);
evaluation rows add ``epoch``, ``split`` (``train``, ``val``, ``test``), the metrics and
``diverged``. Training-split rows hold the metrics averaged over the epoch's batches.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats  # scikit-learn depends on scipy

from pcdash.engine import TrainResult

SPLITS = ("train", "val", "test")


def history_to_frame(
    result: TrainResult,
    members: pd.DataFrame,
    *,
    train_metrics: Mapping[str, str],
    eval_metrics: Mapping[str, str],
    per_layer: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Tidy rows from a training history.

    Args:
        result: what :func:`pcdash.engine.train_members` returned.
        members: one row per member (in training order) with its descriptive columns.
        train_metrics: step-metric name -> output column, averaged over each epoch.
        eval_metrics: per-example metric name -> output column, for each evaluated split.
        per_layer: step-metric name -> column prefix, for metrics with a trailing layer axis
            taken from the epoch's *last* batch; layer ``l`` (1-based) becomes ``prefix_l``.

    Returns:
        ``len(members) × epochs × splits`` rows; metrics of diverged members are NaN.
    """
    frames = []
    base = members.reset_index(drop=True)
    for rec in result.history:
        blocks = {
            "train": {col: rec.train[key] for key, col in train_metrics.items() if key in rec.train}
        }
        for split, metrics in rec.evals.items():
            blocks[split] = {
                col: metrics[key] for key, col in eval_metrics.items() if key in metrics
            }
        layer_cols = {}
        for key, prefix in (per_layer or {}).items():
            if key in rec.last_step:
                values = np.asarray(rec.last_step[key])
                for layer in range(values.shape[-1]):
                    layer_cols[f"{prefix}_{layer + 1}"] = values[:, layer]
        for split, cols in blocks.items():
            frame = base.copy()
            frame["epoch"] = rec.epoch
            frame["split"] = split
            for col, values in {**cols, **layer_cols}.items():
                frame[col] = np.where(rec.diverged, np.nan, np.asarray(values, dtype=np.float64))
            frame["diverged"] = rec.diverged.astype(bool)
            frame["epoch_seconds"] = rec.seconds
            frames.append(frame)
    if not frames:
        return base.iloc[0:0].assign(
            epoch=pd.Series(dtype=int), split=pd.Series(dtype=str), diverged=pd.Series(dtype=bool)
        )
    return pd.concat(frames, ignore_index=True)


def final_rows(frame: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Each member's row at its last epoch for ``split``."""
    rows = frame[frame["split"] == split]
    if rows.empty:
        return rows
    last = rows.groupby("member")["epoch"].transform("max")
    return rows[rows["epoch"] == last].reset_index(drop=True)


def select_by_validation(
    frame: pd.DataFrame, criterion: str, split: str = "test", higher_is_better: bool = False
) -> pd.DataFrame:
    """Each member's ``split`` row at the epoch whose *validation* ``criterion`` is best.

    Model choice never looks at test: the epoch is chosen on ``val`` and only then is the
    chosen epoch's ``split`` row returned.
    """
    val = frame[(frame["split"] == "val") & ~frame["diverged"]].dropna(subset=[criterion])
    if val.empty:
        return final_rows(frame, split)
    idx = (
        val.groupby("member")[criterion].idxmax()
        if higher_is_better
        else val.groupby("member")[criterion].idxmin()
    )
    chosen = val.loc[idx, ["member", "epoch"]]
    return (
        frame[frame["split"] == split].merge(chosen, on=["member", "epoch"]).reset_index(drop=True)
    )


def write_csv_atomic(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``frame`` to ``path`` so that a reader never sees a half-written file, with the
    mode an ordinary ``open()`` would give it (see :func:`pcdash.files.write_atomic`)."""
    from pcdash.files import write_atomic

    return write_atomic(path, lambda fh: frame.to_csv(fh, index=False))


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and a Student-t confidence interval (lo, hi); a single value gives a zero-width
    interval, and NaNs are ignored."""
    arr = np.asarray([v for v in values if np.isfinite(v)], dtype=np.float64)
    if arr.size == 0:
        return (np.nan, np.nan, np.nan)
    mean = float(arr.mean())
    if arr.size == 1:
        return (mean, mean, mean)
    half = float(
        stats.t.ppf(0.5 + confidence / 2, arr.size - 1) * arr.std(ddof=1) / np.sqrt(arr.size)
    )
    return (mean, mean - half, mean + half)
