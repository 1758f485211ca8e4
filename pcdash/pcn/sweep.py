"""Run a :class:`~pcdash.pcn.config.PCNConfig`: one program per width, one tidy frame out.

Built on the shared sweep machinery (:func:`pcdash.sweep.run_groups`, one group per width),
so progress, Stop and divergence behave as in every other sweep. Progress reports carry, in
``extras``, what the live energy plot needs: ``energy_trace`` ``(member, T + 1, L)`` of the
last training batch of each member's latest epoch (NaN until it has one) and ``members``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jaxtyping import Array, Float

from pcdash.backends import Backend
from pcdash.backends.local import LocalBackend
from pcdash.engine import EpochRecord, TrainResult
from pcdash.errors import ConfigError
from pcdash.pcn.algorithms import PCNAlgorithm
from pcdash.pcn.config import PCNConfig
from pcdash.pcn.network import MLP
from pcdash.pcn.optimizers import WEIGHT_OPTIMIZERS
from pcdash.results import history_to_frame
from pcdash.sweep import Group, SweepProgress

TRAIN_METRICS = {"loss": "loss", "accuracy": "accuracy", "energy": "energy", "steps_used": "steps_used",
                 "nudge_sign": "nudge_sign"}  # steps_used: mean inference steps per batch; nudge_sign: ±1 (PN/NN)
EVAL_METRICS = {"accuracy": "accuracy", "loss": "loss", "ce": "ce", "mse": "mse"}
PER_LAYER = {"energies": "energy", "bp_cosine": "bp_cosine", "log_var": "log_var"}
# -> energy_1 … energy_L (layer 1 = first hidden); bp_cosine_l and log_var_l when recorded


@dataclass
class WidthRun:
    """One compiled program: the members of one width and their trained weights."""

    width: int
    algorithm: PCNAlgorithm
    members: pd.DataFrame
    mlp: MLP  # stacked over members
    diverged: np.ndarray


@dataclass
class PCNSweepOutput:
    config: PCNConfig
    frame: pd.DataFrame  # tidy rows, see pcdash.results
    members: pd.DataFrame  # one row per member, all widths, in ``energy_trace`` order
    energy_trace: np.ndarray  # (member, T + 1, L), last training batch; NaN if diverged/untrained
    runs: list[WidthRun]
    stopped: bool
    seconds: float = 0.0
    compile_seconds: float = 0.0


def to_frame(result: TrainResult, members: pd.DataFrame) -> pd.DataFrame:
    """Tidy rows of one width's (partial) history; energies from each epoch's last batch."""
    return history_to_frame(
        result, members, train_metrics=TRAIN_METRICS, eval_metrics=EVAL_METRICS, per_layer=PER_LAYER
    )


def hyperparameters(members: pd.DataFrame, steps_per_epoch: int = 1) -> dict[str, np.ndarray]:
    """Per-member ``hp`` of :class:`PCNAlgorithm` (BP members, whose γ is NaN, get 0)."""
    return {
        "state_lr": np.nan_to_num(members["state_lr"].to_numpy(np.float32), nan=0.0),
        "weight_lr": members["weight_lr"].to_numpy(np.float32),
        "opt_id": members["optimizer"].map(WEIGHT_OPTIMIZERS.index).to_numpy(np.float32),
        "steps_per_epoch": np.full(len(members), steps_per_epoch, np.float32),
    }


def run_pcn_sweep(
    config: PCNConfig,
    *,
    on_progress: Callable[[SweepProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    data: Any | None = None,
    backend: Backend | None = None,
) -> PCNSweepOutput:
    """Train every member of ``config``: each width is one vmapped program.

    Args:
        config: the grid (validated here).
        on_progress: called between chunks with a :class:`pcdash.sweep.SweepProgress` over all
            widths; ``extras`` holds ``energy_trace`` and ``members`` (see the module doc).
        should_stop: polled between chunks; the sweep ends with the epochs finished so far.
        data: a loaded :class:`pcdash.data.Dataset` (default: ``load_dataset(config.dataset)``).
        backend: where to train (default: this process, :mod:`pcdash.backends`).

    Raises:
        ConfigError: the configuration cannot run (message meant for the user).
        DataError: the dataset is missing or corrupt.
    """
    config.validate()
    if data is None:
        from pcdash.data import load_dataset

        data = load_dataset(config.dataset, val_fraction=config.val_fraction)
    x = {s: _flat(data.split(s)[0]) for s in ("train", "val", "test")}
    y = {s: np.asarray(data.split(s)[1], np.int32) for s in ("train", "val", "test")}
    if config.batch_size > len(y["train"]):
        raise ConfigError(
            f"batch size {config.batch_size} is larger than the training set ({len(y['train'])})"
        )
    shape = (config.inference_steps + 1, config.depth + 1)
    groups, tables, first = [], [], 0
    for width in config.widths:
        algo = config.algorithm_for(
            width, input_dim=x["train"].shape[1], num_classes=data.num_classes
        )
        members = config.members(width, first_member=first)
        first += len(members)
        spe = len(y["train"]) // config.batch_size
        groups.append(Group(algo, hyperparameters(members, spe), members["seed"].to_numpy(), members,
                            to_frame, label=f"width {width}", return_state=True))  # fmt: skip
        tables.append(members)
    all_members = pd.concat(tables, ignore_index=True)
    live = np.full((len(all_members), *shape), np.nan, np.float32)
    for group in groups:
        group.epoch_hook = TraceHook(live, group.members["member"].to_numpy())

    def progress(p: SweepProgress) -> None:
        if on_progress is not None:
            p.extras = {**p.extras, "energy_trace": live.copy(), "members": all_members}
            on_progress(p)

    run = (backend or LocalBackend()).run(
        groups, x["train"], y["train"], eval_sets={s: (x[s], y[s]) for s in ("val", "test") if len(y[s])},
        epochs=config.epochs, batch_size=config.batch_size, on_progress=progress, should_stop=should_stop,
    )  # fmt: skip
    runs = [
        WidthRun(int(w), g.algo, g.members, r.carry.mlp, np.asarray(r.diverged, bool))
        for w, g, r in zip(config.widths, groups, run.results, strict=False)
    ]
    for r in runs:  # a member that diverged in its last epoch keeps no trace
        live[r.members["member"].to_numpy()[r.diverged]] = np.nan
    return PCNSweepOutput(
        config, run.frame, all_members, live, runs, run.stopped, run.seconds,
        sum(r.compile_s for r in run.results),
    )  # fmt: skip


def energy_trace_for_batch(
    output: PCNSweepOutput, x: np.ndarray | Array, y: np.ndarray | Array
) -> Float[np.ndarray, "member steps_plus_1 L"]:
    """Per-layer energies over the inference steps of every trained member on a chosen batch.

    Inference from forward initialisation with the weights at the end of training; nothing is
    updated. ``x`` is ``(batch, …)`` (flattened here), ``y`` integer labels. Rows follow
    ``output.members``; diverged members (and widths never trained) get NaN.
    """
    xb, yb = jnp.asarray(_flat(x)), jnp.asarray(np.asarray(y, np.int32))
    shape = output.energy_trace.shape[1:]
    traces = np.full((len(output.members), *shape), np.nan, np.float32)
    for run in output.runs:
        hp = {k: jnp.asarray(v) for k, v in hyperparameters(run.members).items()}
        trace = np.array(_member_traces(run.algorithm, run.mlp, hp, xb, yb))
        trace[run.diverged] = np.nan
        traces[run.members["member"].to_numpy()] = trace
    return traces


@eqx.filter_jit
def _member_traces(algo: PCNAlgorithm, mlp: MLP, hp: dict[str, Array], x: Array, y: Array) -> Array:
    def one(m: MLP, h: dict[str, Array]) -> Array:
        target = jax.nn.one_hot(y, algo.sizes[-1], dtype=x.dtype)
        return algo.relax(m, h, x, target)[1]

    return jax.vmap(one)(mlp, hp)


@dataclass
class TraceHook:
    """Keeps each member's per-layer energies over the inference steps of its latest epoch's
    last batch (NaN once diverged) in ``live``: rows = member ids (the whole sweep's table),
    or, for a part trained elsewhere (``local``), rows = the part's members in order. A
    :class:`pcdash.sweep.EpochHook`."""

    live: np.ndarray  # (rows, T + 1, L)
    ids: np.ndarray  # member ids of the group's (or part's) members, in order
    local: bool = False

    def __call__(self, carry: Any, record: EpochRecord) -> None:
        trace = np.array(record.last_step["energy_trace"], np.float32)
        trace[np.asarray(record.diverged, bool)] = np.nan
        self.live[np.arange(len(self.ids)) if self.local else self.ids] = trace

    def part(self, positions: np.ndarray) -> TraceHook:
        ids = np.asarray(self.ids)[positions]
        return TraceHook(np.full((len(ids), *self.live.shape[1:]), np.nan, np.float32), ids, local=True)

    def merge(self, part: TraceHook) -> None:
        self.live[part.ids] = part.live


def _flat(x: np.ndarray | Array) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x.reshape(x.shape[0], -1)
