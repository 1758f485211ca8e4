"""Several PCN configurations (learning rules, switches) trained as the groups of ONE sweep.

Each variant is its own compiled program (a group of :func:`pcdash.sweep.run_groups`), so
progress, Stop and divergence behave as in every other sweep; the tidy frame carries a
``variant`` column naming the configuration of each member.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pcdash.backends import Backend
from pcdash.backends.local import LocalBackend
from pcdash.errors import ConfigError
from pcdash.pcn.config import PCNConfig
from pcdash.pcn.sweep import WidthRun, hyperparameters, to_frame
from pcdash.sweep import Group, SweepProgress

# The PC algorithms page's default: the MLP of PCX Table 1 (3 hidden layers of 128; §4.1 and the
# PCX code), 5 seeds as in the paper, on digits (see pcdash.paper.pages.PC_ALGORITHMS).
TABLE1_DEFAULT = PCNConfig(state_lrs=(0.1,), widths=(128,), depth=3, epochs=8, seeds=5, batch_size=32, inference_steps=8,
                           weight_lr=1e-3)  # fmt: skip


@dataclass
class ComparisonOutput:
    variants: tuple[str, ...]
    frame: pd.DataFrame  # tidy rows, with ``variant``
    members: pd.DataFrame
    runs: dict[str, WidthRun]  # variant -> its trained program (first width)
    stopped: bool
    seconds: float


def comparison_key(variants: Sequence[tuple[str, PCNConfig]]) -> str:
    """A stable run key for a list of ``(name, PCNConfig)``: ``cmp-`` and a hash of the names and
    the configurations' keys."""
    import hashlib

    blob = "|".join(f"{name}:{config.key()}" for name, config in variants)
    return "cmp-" + hashlib.sha256(blob.encode()).hexdigest()[:16]


def run_pcn_comparison(
    variants: Sequence[tuple[str, PCNConfig]],
    *,
    on_progress: Callable[[SweepProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    data: Any | None = None,
    backend: Backend | None = None,
) -> ComparisonOutput:
    """Train every ``(name, config)``; the configs must share dataset, batch size, epochs and
    validation fraction (they see the same data). Each config's first width is used.
    ``backend``: where to train (default: this process, :mod:`pcdash.backends`)."""
    if not variants:
        raise ConfigError("choose at least one algorithm")
    names = [n for n, _ in variants]
    if len(set(names)) != len(names):
        raise ConfigError(f"variant names must be unique, got {names}")
    first_cfg = variants[0][1]
    for _, c in variants:
        c.validate()
        if (c.dataset, c.batch_size, c.epochs, c.val_fraction) != (
            first_cfg.dataset, first_cfg.batch_size, first_cfg.epochs, first_cfg.val_fraction
        ):
            raise ConfigError("all variants must share dataset, batch size, epochs and validation fraction")
    if data is None:
        from pcdash.data import load_dataset

        data = load_dataset(first_cfg.dataset, val_fraction=first_cfg.val_fraction)
    x = {s: _flat(data.split(s)[0]) for s in ("train", "val", "test")}
    y = {s: np.asarray(data.split(s)[1], np.int32) for s in ("train", "val", "test")}
    if first_cfg.batch_size > len(y["train"]):
        raise ConfigError(f"batch size {first_cfg.batch_size} is larger than the training set ({len(y['train'])})")
    spe = len(y["train"]) // first_cfg.batch_size
    groups, first = [], 0
    for name, c in variants:
        width = c.widths[0]
        algo = c.algorithm_for(width, input_dim=x["train"].shape[1], num_classes=data.num_classes)
        members = c.members(width, first_member=first).assign(variant=name)
        first += len(members)
        groups.append(Group(algo, hyperparameters(members, spe), members["seed"].to_numpy(), members, to_frame,
                            label=name, return_state=True))  # fmt: skip
    run = (backend or LocalBackend()).run(
        groups, x["train"], y["train"], eval_sets={s: (x[s], y[s]) for s in ("val", "test") if len(y[s])},
        epochs=first_cfg.epochs, batch_size=first_cfg.batch_size, on_progress=on_progress, should_stop=should_stop,
    )  # fmt: skip
    runs = {
        name: WidthRun(int(g.members["width"].iloc[0]), g.algo, g.members, r.carry.mlp, np.asarray(r.diverged, bool))
        for name, g, r in zip(names, groups, run.results, strict=False)
    }
    members = pd.concat([g.members for g in groups], ignore_index=True)
    return ComparisonOutput(tuple(names), run.frame, members, runs, run.stopped, run.seconds)


def _flat(x) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x.reshape(x.shape[0], -1)
