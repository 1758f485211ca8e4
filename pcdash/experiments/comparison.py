"""Several PCN configurations (learning rules, switches) trained as the groups of ONE sweep.

Each variant is its own compiled program (a group of :func:`pcdash.sweep.run_groups`), so
progress, Stop and divergence behave as in every other sweep; the tidy frame carries a
``variant`` column naming the configuration of each member. A comparison is itself a
configuration (:class:`ComparisonConfig`): its key names the saved run, which holds the frame,
the members and every variant's trained weights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

import numpy as np
import pandas as pd

from pcdash.backends import Backend
from pcdash.backends.local import LocalBackend
from pcdash.config import Config, require
from pcdash.experiments.pcn_config import PCNConfig
from pcdash.experiments.pcn_sweep import (
    WidthRun,
    flatten,
    hyperparameters,
    load_width_run,
    run_arrays,
    to_frame,
)
from pcdash.experiments.result import Experiment, reporting
from pcdash.pcn.algorithms import PCNAlgorithm
from pcdash.sweep import Group, SweepProgress

# The PC algorithms page's default: the MLP of PCX Table 1 (3 hidden layers of 128; §4.1 and the
# PCX code), 5 seeds as in the paper, on digits (see pcdash.paper.pages.PC_ALGORITHMS).
TABLE1_DEFAULT = PCNConfig(
    state_lrs=(0.1,),
    widths=(128,),
    depth=3,
    epochs=8,
    seeds=5,
    batch_size=32,
    inference_steps=8,
    weight_lr=1e-3,
)


@dataclass(frozen=True)
class ComparisonConfig(Config):
    """Named :class:`PCNConfig` s trained side by side on the same data: they must share
    dataset, batch size, epochs and validation fraction; each one's first width is used."""

    variants: tuple[tuple[str, PCNConfig], ...]

    KIND = "pcn-comparison"
    KEY_PREFIX = "cmp-"  # "cmp-" and a hash of the names and the configurations' keys, as saved

    def key_payload(self) -> str:
        return "|".join(f"{name}:{config.key()}" for name, config in self.variants)

    def __post_init__(self) -> None:
        object.__setattr__(self, "variants", tuple((str(n), c) for n, c in self.variants))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.variants)

    @property
    def first(self) -> PCNConfig:
        return self.variants[0][1]

    def check(self) -> None:
        require(len(self.variants) > 0, "choose at least one algorithm")
        require(
            len(set(self.names)) == len(self.names),
            f"variant names must be unique, got {list(self.names)}",
        )
        shared = lambda c: (c.dataset, c.batch_size, c.epochs, c.val_fraction)  # noqa: E731
        for _, c in self.variants:
            c.validate()
            require(
                shared(c) == shared(self.first),
                "all variants must share dataset, batch size, epochs and validation fraction",
            )

    def validate(self) -> ComparisonConfig:
        self.check()  # each variant is checked against the limits on its own
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.first.dataset,
            "variants": {n: c.to_dict() for n, c in self.variants},
        }


@dataclass
class ComparisonOutput:
    variants: tuple[str, ...]
    frame: pd.DataFrame  # tidy rows, with ``variant``
    members: pd.DataFrame
    runs: dict[str, WidthRun]  # variant -> its trained program (first width); empty while live
    stopped: bool
    seconds: float


def run_pcn_comparison(
    variants: ComparisonConfig | Sequence[tuple[str, PCNConfig]],
    on_progress: Callable[[SweepProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    *,
    backend: Backend | None = None,
    data: Any | None = None,
) -> ComparisonOutput:
    """Train every ``(name, config)`` of the comparison (validated here). ``backend``: where to
    train (default: this process, :mod:`pcdash.backends`); progress carries the partial
    :class:`ComparisonOutput` (without trained weights)."""
    config = (
        variants if isinstance(variants, ComparisonConfig) else ComparisonConfig(tuple(variants))
    )
    config.validate()
    first_cfg = config.first
    if data is None:
        from pcdash.data import load_dataset

        data = load_dataset(first_cfg.dataset, val_fraction=first_cfg.val_fraction)
    x = {s: flatten(data.split(s)[0]) for s in ("train", "val", "test")}
    y = {s: np.asarray(data.split(s)[1], np.int32) for s in ("train", "val", "test")}
    require(
        first_cfg.batch_size <= len(y["train"]),
        f"batch size {first_cfg.batch_size} is larger than the training set ({len(y['train'])})",
    )
    spe = len(y["train"]) // first_cfg.batch_size
    groups, first = [], 0
    for name, c in config.variants:
        width = c.widths[0]
        algo = c.algorithm_for(
            width, input_dim=x["train"].shape[1], num_classes=data.num_classes, steps_per_epoch=spe
        )
        members = c.members(width, first_member=first).assign(variant=name)
        first += len(members)
        groups.append(
            Group(
                algo,
                hyperparameters(members),
                members["seed"].to_numpy(),
                members,
                to_frame,
                label=name,
                return_state=True,
            )
        )
    members = pd.concat([g.members for g in groups], ignore_index=True)

    def partial(p: SweepProgress) -> ComparisonOutput:
        return ComparisonOutput(config.names, p.frame, members, {}, False, p.elapsed_s)

    run = (backend or LocalBackend()).run(
        groups,
        x["train"],
        y["train"],
        eval_sets={s: (x[s], y[s]) for s in ("val", "test") if len(y[s])},
        epochs=first_cfg.epochs,
        batch_size=first_cfg.batch_size,
        on_progress=reporting(on_progress, partial),
        should_stop=should_stop,
    )
    runs = {
        name: WidthRun(
            int(g.members["width"].iloc[0]),
            cast(PCNAlgorithm, g.algo),  # every group here was built by algorithm_for
            g.members,
            r.carry.mlp,
            np.asarray(r.diverged, bool),
        )
        for name, g, r in zip(config.names, groups, run.results, strict=False)
    }
    return ComparisonOutput(config.names, run.frame, members, runs, run.stopped, run.seconds)


def save_comparison(config: ComparisonConfig, out: ComparisonOutput) -> None:
    """Keep a finished comparison under ``config.key()``."""
    arrays = {}
    for i, name in enumerate(out.variants):
        if name in out.runs:
            arrays.update(run_arrays(out.runs[name], f"v{i}"))
    meta = {
        "seconds": out.seconds,
        "stopped": out.stopped,
        "variants": list(out.variants),
        "trained": [name in out.runs for name in out.variants],
    }
    config.save(out.frame, arrays, meta, tables={"members": out.members})


def load_comparison(config: ComparisonConfig) -> ComparisonOutput | None:
    """The saved comparison of ``config``, or None."""
    saved = config.load_saved()
    if saved is None:
        return None
    configs = dict(config.variants)
    names = tuple(saved.meta.get("variants", []))
    members = saved.tables.get("members", pd.DataFrame())
    runs = {}
    for i, (name, trained) in enumerate(zip(names, saved.meta.get("trained", []), strict=True)):
        if trained and name in configs:
            width = configs[name].widths[0]
            group = (
                members[members["variant"] == name].reset_index(drop=True)
                if len(members)
                else members
            )
            runs[name] = load_width_run(saved.arrays, f"v{i}", configs[name], width, group)
    return ComparisonOutput(
        names,
        saved.frame,
        members,
        runs,
        bool(saved.meta.get("stopped")),
        float(saved.meta.get("seconds", 0.0)),
    )


def algorithm_variants(
    names: Sequence[str], base: PCNConfig = TABLE1_DEFAULT, **changes
) -> ComparisonConfig:
    """One variant per learning rule ``names`` (in order, without repeats) on ``base`` with
    ``changes`` (the PC algorithms page)."""
    from pcdash.pcn.algorithms import ALGORITHMS

    names = [n.strip() for n in names if n.strip()]
    require(len(names) > 0, "choose at least one algorithm")
    unknown = [n for n in names if n not in ALGORITHMS]
    require(
        not unknown,
        f"unknown algorithm {unknown[0]!r}; choose from {', '.join(ALGORITHMS)}" if unknown else "",
    )
    base = replace(base, **changes)
    return ComparisonConfig(
        tuple((n, replace(base, algorithm=n).validate()) for n in dict.fromkeys(names))
    )


PCN_COMPARISON = Experiment(
    "pcn-comparison",
    run_pcn_comparison,
    save_comparison,
    load_comparison,
    lambda config: f"PC comparison · {config.first.dataset}",
)
