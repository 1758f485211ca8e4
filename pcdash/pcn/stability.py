"""Which PCNs trained, how unbalanced their energies are, and the largest state learning rate γ
that still trains (PCX paper §5.1 and Appendix D: Fig. 6c–d, Fig. 7, Fig. 14, Fig. 16).

A member *trained* when its final test accuracy is at least halfway from chance to perfect,
``acc ≥ c + ½(1 − c)`` with ``c = 1 / classes`` (0.55 on digits, 0.75 on two moons). PCX's own
cut for Fig. 6d is ``acc > 0.5`` on every dataset, which on two moons (chance 0.5) keeps models
that learned nothing. The energy ratio of a member is ``F_1 / F_L`` (first hidden ÷ output) of
its last training batch at the end of inference, with ``F_l`` summed over units and averaged
over the batch (PCX logs the L2 norm over the batch of the per-example energies one inference
step earlier, and plots the ratios of neighbouring layers).

Every function is pure: the tidy PCN frame of :mod:`pcdash.results` in, a small frame out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pcdash.results import final_rows

GRID = ["optimizer", "width", "state_lr"]


def dataset_classes(dataset: str) -> int:
    """The number of classes of ``dataset`` (from its registry entry; nothing is loaded)."""
    from pcdash.data.sources import get_source

    return len(get_source(dataset).class_names)


def chance_accuracy(num_classes: int) -> float:
    """``1 / classes``: the accuracy of guessing."""
    return 1.0 / int(num_classes)


def trained_accuracy(num_classes: int) -> float:
    """``c + ½(1 − c)`` with ``c`` the chance accuracy: the least test accuracy that counts as
    trained (0.55 for 10 classes, 0.75 for 2)."""
    chance = chance_accuracy(num_classes)
    return chance + 0.5 * (1.0 - chance)


def member_summary(frame: pd.DataFrame, num_classes: int) -> pd.DataFrame:
    """One row per PC member (finite γ): its grid cell, seed, final ``accuracy`` (test),
    ``energy_ratio = energy_1 / energy_L`` (last training batch of its last epoch), ``diverged``
    and ``trained`` (not diverged and accuracy ≥ :func:`trained_accuracy`)."""
    empty = pd.DataFrame(
        columns=[*GRID, "member", "seed", "accuracy", "energy_ratio", "diverged", "trained"]
    )
    if frame is None or not {"split", "member", "epoch", *GRID}.issubset(frame.columns):
        return empty
    cols = sorted(
        (c for c in frame.columns if c.startswith("energy_") and c[7:].isdigit()),
        key=lambda c: int(c[7:]),
    )
    test = final_rows(frame, "test")
    if test.empty:
        return empty
    train = final_rows(frame, "train").set_index("member")
    out = test[["member", *GRID, "seed", "accuracy"]].copy()
    out = out[np.isfinite(pd.to_numeric(out["state_lr"], errors="coerce"))]
    diverged = frame.groupby("member")["diverged"].any()
    out["diverged"] = out["member"].map(diverged).fillna(False).astype(bool)
    if len(cols) >= 2 and len(train):
        first = out["member"].map(train[cols[0]]).to_numpy(float)
        last = out["member"].map(train[cols[-1]]).to_numpy(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["energy_ratio"] = first / last
    else:
        out["energy_ratio"] = np.nan
    acc = pd.to_numeric(out["accuracy"], errors="coerce")
    out["trained"] = ~out["diverged"] & (acc >= trained_accuracy(num_classes))
    return out.reset_index(drop=True)


def energy_ratio_by_gamma(summary: pd.DataFrame, *, trained_only: bool = True) -> pd.DataFrame:
    """Per optimiser and γ: the geometric mean of the members' energy ratios (``ratio``), over
    the members that trained (``trained_only``) and have a positive, finite ratio; ``n``
    members used and ``n_left_out``. Widths are pooled, as in PCX's Fig. 6d."""
    rows = []
    for (opt, state_lr), grp in summary.groupby(["optimizer", "state_lr"]):
        keep = grp["trained"] if trained_only else ~grp["diverged"]
        ratio = grp.loc[keep, "energy_ratio"].to_numpy(float)
        ratio = ratio[np.isfinite(ratio) & (ratio > 0)]
        rows.append(
            {
                "optimizer": opt,
                "state_lr": float(state_lr),
                "n": len(ratio),
                "n_left_out": len(grp) - len(ratio),
                "ratio": float(np.exp(np.mean(np.log(ratio)))) if len(ratio) else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=["optimizer", "state_lr", "n", "n_left_out", "ratio"])


def largest_stable_state_lr(summary: pd.DataFrame, num_classes: int) -> pd.DataFrame:
    """Per optimiser and width (PCX Fig. 7): ``stable_state_lr``, the largest γ of the grid such
    that every γ up to it trains — the mean final test accuracy over seeds (a diverged seed
    counting as chance) is ≥ :func:`trained_accuracy` — or NaN when the smallest γ already fails;
    ``largest_state_lr`` is the top of the grid, so ``stable_state_lr == largest_state_lr``
    means no γ
    of the grid broke training."""
    cut = trained_accuracy(num_classes)
    chance = chance_accuracy(num_classes)
    rows = []
    for (opt, width), grp in summary.groupby(["optimizer", "width"]):
        acc = (
            pd.to_numeric(grp["accuracy"], errors="coerce")
            .where(~grp["diverged"], chance)
            .fillna(chance)
        )
        mean = acc.groupby(grp["state_lr"].astype(float)).mean().sort_index()
        stable = np.nan
        for state_lr, value in mean.items():
            if value < cut:
                break
            stable = float(state_lr)
        rows.append(
            {
                "optimizer": opt,
                "width": int(width),
                "stable_state_lr": stable,
                "largest_state_lr": float(mean.index.max()),
            }
        )
    return pd.DataFrame(rows, columns=["optimizer", "width", "stable_state_lr", "largest_state_lr"])
