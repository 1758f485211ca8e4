"""Run a :class:`~pcdash.experiments.pcn_config.PCNConfig`: one program per width, one tidy
frame out, kept on disk with the trained weights.

Built on the shared sweep machinery (:func:`pcdash.sweep.run_groups`, one group per width),
so progress, Stop and divergence behave as in every other sweep. Progress reports carry the
partial :class:`PCNSweepOutput` (``result``): the frame so far, ``members`` and
``energy_trace`` ``(member, T + 1, L)`` of the last training batch of each member's latest
epoch (NaN until it has one); its ``runs`` (trained weights) are filled when it finishes.

On disk (:mod:`pcdash.runs`): the tidy frame, the live energy traces and the trained weights as
plain arrays, so a reloaded sweep can still compute the energy trace of a chosen batch, or a
loss landscape, without retraining.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

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
from pcdash.experiments.pcn_config import PCNConfig
from pcdash.experiments.result import Experiment, reporting
from pcdash.pcn.algorithms import PCNAlgorithm, PCNHyper, pcn_hyper
from pcdash.pcn.network import MLP
from pcdash.results import history_to_frame
from pcdash.sweep import Group, SweepProgress

TRAIN_METRICS = {
    "loss": "loss",
    "accuracy": "accuracy",
    "energy": "energy",
    "steps_used": "steps_used",
    "nudge_sign": "nudge_sign",
}  # steps_used: mean inference steps per batch; nudge_sign: ±1 (PN/NN)
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


def hyperparameters(members: pd.DataFrame) -> PCNHyper:
    """Per-member :class:`~pcdash.pcn.algorithms.PCNHyper` (BP members, whose γ is NaN, get 0)."""
    return pcn_hyper(
        members["state_lr"].to_numpy(), members["weight_lr"].to_numpy(), list(members["optimizer"])
    )


def run_pcn_sweep(
    config: PCNConfig,
    on_progress: Callable[[SweepProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    *,
    backend: Backend | None = None,
    data: Any | None = None,
) -> PCNSweepOutput:
    """Train every member of ``config``: each width is one vmapped program.

    Args:
        config: the grid (validated here).
        on_progress: called between chunks with a :class:`pcdash.sweep.SweepProgress` over all
            widths; its ``result`` is the partial output (see the module doc).
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
    x = {s: flatten(data.split(s)[0]) for s in ("train", "val", "test")}
    y = {s: np.asarray(data.split(s)[1], np.int32) for s in ("train", "val", "test")}
    if config.batch_size > len(y["train"]):
        raise ConfigError(
            f"batch size {config.batch_size} is larger than the training set ({len(y['train'])})"
        )
    shape = (config.inference_steps + 1, config.depth + 1)
    groups, tables, first = [], [], 0
    spe = len(y["train"]) // config.batch_size
    for width in config.widths:
        algo = config.algorithm_for(
            width, input_dim=x["train"].shape[1], num_classes=data.num_classes, steps_per_epoch=spe
        )
        members = config.members(width, first_member=first)
        first += len(members)
        groups.append(
            Group(
                algo,
                hyperparameters(members),
                members["seed"].to_numpy(),
                members,
                to_frame,
                label=f"width {width}",
                return_state=True,
            )
        )
        tables.append(members)
    all_members = pd.concat(tables, ignore_index=True)
    live = np.full((len(all_members), *shape), np.nan, np.float32)
    for group in groups:
        group.epoch_hook = TraceHook(live, group.members["member"].to_numpy())

    def partial(p: SweepProgress) -> PCNSweepOutput:
        return PCNSweepOutput(config, p.frame, all_members, live.copy(), [], False, p.elapsed_s)

    run = (backend or LocalBackend()).run(
        groups,
        x["train"],
        y["train"],
        eval_sets={s: (x[s], y[s]) for s in ("val", "test") if len(y[s])},
        epochs=config.epochs,
        batch_size=config.batch_size,
        on_progress=reporting(on_progress, partial),
        should_stop=should_stop,
    )
    runs = [
        WidthRun(
            int(w), cast(PCNAlgorithm, g.algo), g.members, r.carry.mlp, np.asarray(r.diverged, bool)
        )
        for w, g, r in zip(config.widths, groups, run.results, strict=False)
    ]
    for r in runs:  # a member that diverged in its last epoch keeps no trace
        live[r.members["member"].to_numpy()[r.diverged]] = np.nan
    return PCNSweepOutput(
        config,
        run.frame,
        all_members,
        live,
        runs,
        run.stopped,
        run.seconds,
        sum(r.compile_s for r in run.results),
    )


def energy_trace_for_batch(
    output: PCNSweepOutput, x: np.ndarray | Array, y: np.ndarray | Array
) -> Float[np.ndarray, "member steps_plus_1 L"]:
    """Per-layer energies over the inference steps of every trained member on a chosen batch.

    Inference from forward initialisation with the weights at the end of training; nothing is
    updated. ``x`` is ``(batch, …)`` (flattened here), ``y`` integer labels. Rows follow
    ``output.members``; diverged members (and widths never trained) get NaN.
    """
    xb, yb = jnp.asarray(flatten(x)), jnp.asarray(np.asarray(y, np.int32))
    shape = output.energy_trace.shape[1:]
    traces = np.full((len(output.members), *shape), np.nan, np.float32)
    for run in output.runs:
        hp = jax.tree_util.tree_map(jnp.asarray, hyperparameters(run.members))
        trace = np.array(_member_traces(run.algorithm, run.mlp, hp, xb, yb))
        trace[run.diverged] = np.nan
        traces[run.members["member"].to_numpy()] = trace
    return traces


@eqx.filter_jit
def _member_traces(algo: PCNAlgorithm, mlp: MLP, hp: PCNHyper, x: Array, y: Array) -> Array:
    def one(m: MLP, h: PCNHyper) -> Array:
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
        return TraceHook(
            np.full((len(ids), *self.live.shape[1:]), np.nan, np.float32), ids, local=True
        )

    def merge(self, part: TraceHook) -> None:
        self.live[part.ids] = part.live


def flatten(x: np.ndarray | Array) -> np.ndarray:
    """``x`` as float32 rows ``(n, features)``."""
    x = np.asarray(x, np.float32)
    return x.reshape(x.shape[0], -1)


# ------------------------------------------------------------------------------ on disk


def run_arrays(run: WidthRun, tag: str) -> dict[str, np.ndarray]:
    """A trained program's weights and divergence flags as plain arrays named by ``tag``."""
    arrays = {
        f"diverged_{tag}": run.diverged,
        f"steps_per_epoch_{tag}": np.asarray(run.algorithm.steps_per_epoch, np.int32),
    }
    for layer, (w, b) in enumerate(zip(run.mlp.weights, run.mlp.biases, strict=True), start=1):
        arrays[f"weight_{tag}_l{layer}"] = np.asarray(w)
        arrays[f"bias_{tag}_l{layer}"] = np.asarray(b)
    return arrays


def load_width_run(
    arrays, tag: str, config: PCNConfig, width: int, members: pd.DataFrame
) -> WidthRun:
    """The :class:`WidthRun` that :func:`run_arrays` wrote under ``tag``."""
    layers = config.depth + 1
    weights = tuple(arrays[f"weight_{tag}_l{i}"] for i in range(1, layers + 1))
    biases = tuple(arrays[f"bias_{tag}_l{i}"] for i in range(1, layers + 1))
    spe = int(arrays.get(f"steps_per_epoch_{tag}", 0))
    algo = config.algorithm_for(
        width, input_dim=weights[0].shape[-1], num_classes=weights[-1].shape[1], steps_per_epoch=spe
    )
    return WidthRun(
        int(width),
        algo,
        members,
        MLP(weights, biases, config.activation),
        arrays[f"diverged_{tag}"],
    )


def save_pcn_output(out: PCNSweepOutput) -> None:
    """Keep a finished sweep under its configuration key, replacing an earlier one."""
    arrays = {"energy_trace": out.energy_trace}
    for run in out.runs:
        arrays.update(run_arrays(run, f"w{run.width}"))
    meta = {
        "seconds": out.seconds,
        "stopped": out.stopped,
        "compile_seconds": out.compile_seconds,
        "widths_trained": [run.width for run in out.runs],
    }
    out.config.save(out.frame, arrays, meta)


def load_pcn_output(config: PCNConfig) -> PCNSweepOutput | None:
    """The saved sweep of ``config``, or None if there is none."""
    saved = config.load_saved()
    if saved is None:
        return None
    members = pd.concat([config.members(w) for w in config.widths], ignore_index=True)
    members["member"] = np.arange(len(members))
    runs = [
        load_width_run(
            saved.arrays,
            f"w{width}",
            config,
            width,
            members[members["width"] == width].reset_index(drop=True),
        )
        for width in saved.meta.get("widths_trained", [])
    ]
    return PCNSweepOutput(
        config,
        saved.frame,
        members,
        saved.arrays["energy_trace"],
        runs,
        bool(saved.meta.get("stopped")),
        float(saved.meta.get("seconds", 0.0)),
        float(saved.meta.get("compile_seconds", 0.0)),
    )


PCN_SWEEP = Experiment(
    "pcn",
    run_pcn_sweep,
    lambda config, out: save_pcn_output(out),
    load_pcn_output,
    lambda config: f"PCN sweep · {config.dataset} · {config.algorithm}",
)
