"""CRE sweeps: λ × dim(z) × seed grids (and baselines) trained as one program per latent
dimension, returning the tidy result frame and, for a fixed evaluation subset, every member's
latent codes and reconstructions. Progress carries the partial :class:`CRESweepOutput`
(``result``) with the snapshot so far; a finished sweep is kept under its configuration's key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from pcdash.backends import Backend
from pcdash.backends.local import LocalBackend
from pcdash.cre.algorithm import CREAlgorithm, dead_latent_units, encode_decode
from pcdash.cre.baselines import (
    ProjectionCRE,
    pca_components,
    pca_reconstruction_mse,
    random_projection,
)
from pcdash.data import Dataset, load_dataset
from pcdash.engine import TrainResult, precompile
from pcdash.errors import ConfigError
from pcdash.experiments.cre_config import CREConfig
from pcdash.experiments.result import Experiment, reporting
from pcdash.results import history_to_frame
from pcdash.sweep import Group, SweepProgress

TRAIN_METRICS = {"accuracy": "accuracy", "mse": "mse", "ce": "ce", "loss": "loss"}
# per-example means from CREAlgorithm.evaluate, and the per-member count that the epoch hook
# adds to the test split (see SnapshotHook)
EVAL_METRICS = {
    "accuracy": "accuracy",
    "mse": "mse",
    "ce": "ce",
    "loss": "loss",
    "dead_latent_units": "dead_latent_units",
}
DEAD_UNITS_BATCH = 1024


@dataclass
class Snapshot:
    """A fixed evaluation subset and, per member id, its latent codes ``z``, reconstructions
    ``x_hat`` and predicted classes, as of ``epoch``."""

    x: np.ndarray
    y: np.ndarray
    z: dict[int, np.ndarray] = field(default_factory=dict)
    x_hat: dict[int, np.ndarray] = field(default_factory=dict)
    pred: dict[int, np.ndarray] = field(default_factory=dict)
    epoch: dict[int, int] = field(default_factory=dict)


@dataclass
class CRESweepOutput:
    config: CREConfig
    frame: pd.DataFrame
    members: pd.DataFrame
    snapshot: Snapshot
    stopped: bool
    seconds: float
    compile_seconds: float
    class_names: tuple[str, ...]
    input_shape: tuple[int, ...]


def evaluation_subset(
    data: Dataset, points_per_class: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``points_per_class`` test points of every class (fewer where the split has fewer),
    fixed by ``seed`` so every member is shown the same inputs."""
    rng = np.random.default_rng(seed)
    picked: list[int] = []
    for c in range(data.num_classes):
        members = np.flatnonzero(data.y_test == c)
        picked.extend(rng.permutation(members)[:points_per_class])
    idx = np.sort(np.asarray(picked, dtype=np.int_))
    return np.asarray(data.x_test[idx]), np.asarray(data.y_test[idx])


@eqx.filter_jit
def _encode_members(carry, x):
    return eqx.filter_vmap(encode_decode, in_axes=(eqx.if_array(0), None))(carry, x)


@eqx.filter_jit
def _dead_units_members(carry, xb):
    return eqx.filter_vmap(dead_latent_units, in_axes=(eqx.if_array(0), None))(carry, xb)


def split_batches(x: np.ndarray, batch: int = DEAD_UNITS_BATCH) -> np.ndarray:
    """``x`` cut into equal batches, the last one padded with copies of the first example (which
    changes no maximum over examples)."""
    batch = max(1, min(batch, len(x)))
    n = -(-len(x) // batch) * batch
    padded = np.concatenate([x, np.repeat(x[:1], n - len(x), axis=0)])
    return padded.reshape(n // batch, batch, *x.shape[1:])


@dataclass
class SnapshotHook:
    """After each epoch: the latent codes, reconstructions and predictions of the members
    ``member_ids`` (a group, in order) on the snapshot's inputs (a diverged member keeps its last
    finite ones), and each member's number of dead latent units on the test split (added to the
    epoch's test metrics). A :class:`pcdash.sweep.EpochHook`."""

    snapshot: Snapshot
    member_ids: np.ndarray
    x_test: np.ndarray | None = None  # the test split in batches (:func:`split_batches`)

    def __call__(self, carry, record) -> None:
        snap = self.snapshot
        z, x_hat, pred = (np.asarray(a) for a in _encode_members(carry, jax.device_put(snap.x)))
        for i, m in enumerate(self.member_ids):
            if record.diverged[i]:
                continue
            snap.z[int(m)], snap.x_hat[int(m)], snap.pred[int(m)] = z[i], x_hat[i], pred[i]
            snap.epoch[int(m)] = record.epoch
        if self.x_test is not None and "test" in record.evals:
            dead = np.asarray(
                _dead_units_members(carry, jax.device_put(self.x_test)), dtype=np.float32
            )
            record.evals["test"]["dead_latent_units"] = dead

    def part(self, positions: np.ndarray) -> SnapshotHook:
        snap = Snapshot(self.snapshot.x, self.snapshot.y)
        return SnapshotHook(snap, np.asarray(self.member_ids)[positions], self.x_test)

    def merge(self, part: SnapshotHook) -> None:
        for name in ("z", "x_hat", "pred", "epoch"):
            getattr(self.snapshot, name).update(getattr(part.snapshot, name))


def _to_frame(result: TrainResult, members: pd.DataFrame) -> pd.DataFrame:
    return history_to_frame(result, members, train_metrics=TRAIN_METRICS, eval_metrics=EVAL_METRICS)


def _baseline_carry(algo: CREAlgorithm, kind: str, seeds: np.ndarray, data: Dataset):
    d_in = data.input_dim
    k = algo.latent_dim
    if kind == "pca":
        comps, mean = pca_components(data.x_train, k)
        projections = [(comps, mean)] * len(seeds)
    else:
        mean = np.zeros(d_in, np.float32)
        projections = [(random_projection(d_in, k, int(s)), mean) for s in seeds]

    def make(key, comps, mean):
        return algo.carry_from_model(ProjectionCRE(comps, mean, algo.build(key)))

    keys = jax.vmap(jax.random.PRNGKey)(jnp.asarray(seeds, dtype=jnp.uint32) + 10_000)
    stacked = jnp.stack([p[0] for p in projections])
    means = jnp.stack([p[1] for p in projections])
    return eqx.filter_vmap(make)(keys, stacked, means)


def build_groups(
    config: CREConfig, data: Dataset, snapshot: Snapshot
) -> tuple[list[Group], pd.DataFrame]:
    """One group per latent dimension (every λ × seed), then one per baseline and dimension."""
    groups, tables = [], []
    x_test = split_batches(data.x_test) if len(data.x_test) else None
    next_id = 0
    seeds = np.arange(config.seeds)
    for dim in config.latent_dims:
        algo = CREAlgorithm(
            config.arch,
            data.input_shape,
            data.num_classes,
            int(dim),
            config.latent_activation,
            config.lr,
            config.init,
        )
        lam, seed = (
            a.ravel()
            for a in np.meshgrid(np.asarray(config.lambdas, dtype=np.float64), seeds, indexing="ij")
        )
        ids = np.arange(next_id, next_id + len(lam))
        next_id += len(lam)
        members = pd.DataFrame(
            {
                "member": ids,
                "dataset": config.dataset,
                "arch": config.arch,
                "model": "cre",
                "latent_dim": int(dim),
                "lam": lam,
                "seed": seed.astype(int),
            }
        )
        groups.append(
            Group(
                algo,
                {"lam": lam},
                seed,
                members,
                _to_frame,
                epoch_hook=SnapshotHook(snapshot, ids, x_test),
                label=f"dim(z)={dim}",
            )
        )
        tables.append(members)
    for kind in config.baselines:
        for dim in config.latent_dims:
            if dim > data.input_dim:
                raise ConfigError(
                    f"a {kind.upper()} baseline of dim {dim} needs inputs of at least that many "
                    f"features; {config.dataset} has {data.input_dim}"
                )
            algo = CREAlgorithm(
                config.arch,
                data.input_shape,
                data.num_classes,
                int(dim),
                "linear",
                config.lr,
                config.init,
            )
            ids = np.arange(next_id, next_id + len(seeds))
            next_id += len(seeds)
            members = pd.DataFrame(
                {
                    "member": ids,
                    "dataset": config.dataset,
                    "arch": config.arch,
                    "model": kind,
                    "latent_dim": int(dim),
                    "lam": np.nan,
                    "seed": seeds,
                }
            )
            carry = _baseline_carry(algo, kind, seeds, data)
            groups.append(
                Group(
                    algo,
                    {"lam": np.full(len(seeds), 0.5)},
                    seeds,
                    members,
                    _to_frame,
                    init_carry=carry,
                    label=f"{kind.upper()} dim(z)={dim}",
                )
            )
            tables.append(members)
    return groups, pd.concat(tables, ignore_index=True)


def _pca_analytic_rows(config: CREConfig, data: Dataset, first_id: int) -> pd.DataFrame:
    rows = []
    for i, dim in enumerate(config.latent_dims):
        for split in ("val", "test"):
            x, _ = data.split(split)
            if len(x) == 0:
                continue
            rows.append(
                {
                    "member": first_id + i,
                    "dataset": config.dataset,
                    "arch": config.arch,
                    "model": "pca-analytic",
                    "latent_dim": int(dim),
                    "lam": np.nan,
                    "seed": 0,
                    "epoch": config.epochs,
                    "split": split,
                    "accuracy": np.nan,
                    "mse": pca_reconstruction_mse(data.x_train, x, int(dim)),
                    "ce": np.nan,
                    "loss": np.nan,
                    "diverged": False,
                    "epoch_seconds": 0.0,
                }
            )
    return pd.DataFrame(rows)


def sweep_setup(config: CREConfig, data: Dataset | None):
    """What a sweep of ``config`` trains: the validated configuration (batch capped at the
    training set), the data, the latent snapshot, the shape groups, the members and the
    evaluation sets."""
    config = config.validate()
    data = data or load_dataset(config.dataset, val_fraction=config.val_fraction)
    batch = min(config.batch_size, len(data.x_train))
    if batch != config.batch_size:
        config = replace(config, batch_size=batch)
    x_sub, y_sub = evaluation_subset(data, config.points_per_class)
    snapshot = Snapshot(x_sub, y_sub)
    groups, members = build_groups(config, data, snapshot)
    eval_sets = {s: data.split(s) for s in ("val", "test")}
    return config, data, snapshot, groups, members, eval_sets


def precompile_cre(config: CREConfig, *, data: Dataset | None = None) -> pd.DataFrame:
    """Get every compiled program of ``config``'s sweep ready in this process (traced, lowered,
    loaded from the persistent compilation cache or compiled) without training anything, so a
    later :func:`run_cre_sweep` of the same shapes starts computing at once; the number of epochs
    does not matter. Returns the members table.

    Raises:
        ConfigError, DataError: as :func:`run_cre_sweep`.
    """
    config, data, snapshot, groups, members, eval_sets = sweep_setup(config, data)
    for group in groups:
        carry = precompile(
            group.algo,
            group.hp,
            group.seeds,
            data.x_train,
            data.y_train,
            batch_size=config.batch_size,
            eval_sets=eval_sets,
            init_carry=group.init_carry,
        )
        if group.epoch_hook is not None:  # the snapshot of latents and reconstructions, dead units
            # equinox's filter_jit wrapper has .lower; its stubs type it as the wrapped function
            _encode_members.lower(  # type: ignore[attr-defined]
                carry, jax.device_put(snapshot.x)
            ).lowered.compile()
            if len(data.x_test):
                _dead_units_members.lower(  # type: ignore[attr-defined]
                    carry, split_batches(data.x_test)
                ).lowered.compile()
    return members


def run_cre_sweep(
    config: CREConfig,
    on_progress: Callable[[SweepProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    *,
    backend: Backend | None = None,
    data: Dataset | None = None,
) -> CRESweepOutput:
    """Train every member of ``config``. Validation picks models; test is only reported.
    ``backend``: where to train (default: this process, :mod:`pcdash.backends`).

    Raises:
        ConfigError: the configuration cannot run (message meant for the user).
        DataError: the dataset is missing or corrupt.
    """
    config, data, snapshot, groups, members, eval_sets = sweep_setup(config, data)

    def partial(p: SweepProgress) -> CRESweepOutput:
        return CRESweepOutput(
            config,
            p.frame,
            members,
            snapshot,
            False,
            p.elapsed_s,
            0.0,
            tuple(data.class_names),
            tuple(data.input_shape),
        )

    run = (backend or LocalBackend()).run(
        groups,
        data.x_train,
        data.y_train,
        eval_sets=eval_sets,
        epochs=config.epochs,
        batch_size=config.batch_size,
        on_progress=reporting(on_progress, partial),
        should_stop=should_stop,
    )
    frame = run.frame
    if "pca" in config.baselines and not run.stopped:
        frame = pd.concat(
            [frame, _pca_analytic_rows(config, data, int(members["member"].max()) + 1)],
            ignore_index=True,
        )
    return CRESweepOutput(
        config,
        frame,
        members,
        snapshot,
        run.stopped,
        run.seconds,
        sum(r.compile_s for r in run.results),
        tuple(data.class_names),
        tuple(data.input_shape),
    )


MEMBER_COLUMNS = ["member", "dataset", "arch", "model", "latent_dim", "lam", "seed"]


def save_cre_output(out: CRESweepOutput) -> None:
    """Keep a finished sweep on disk under its configuration key (see :mod:`pcdash.runs`)."""
    snap = out.snapshot
    arrays = {"x": snap.x, "y": snap.y}
    for m in snap.z:
        arrays[f"z_{m}"], arrays[f"xhat_{m}"], arrays[f"pred_{m}"] = (
            snap.z[m],
            snap.x_hat[m],
            snap.pred[m],
        )
    meta = {
        "seconds": out.seconds,
        "stopped": out.stopped,
        "class_names": list(out.class_names),
        "input_shape": list(out.input_shape),
        "compile_seconds": out.compile_seconds,
    }
    out.config.save(out.frame, arrays, meta)


def load_cre_output(config: CREConfig) -> CRESweepOutput | None:
    """The saved sweep of ``config``, or None."""
    run = config.load_saved()
    if run is None:
        return None
    snap = Snapshot(run.arrays["x"], run.arrays["y"])
    for name, value in run.arrays.items():
        kind, _, member = name.partition("_")
        if member.isdigit():
            target = {"z": snap.z, "xhat": snap.x_hat, "pred": snap.pred}[kind]
            target[int(member)] = value
    members = run.frame[[c for c in MEMBER_COLUMNS if c in run.frame]].drop_duplicates("member")
    members = members[members["model"] != "pca-analytic"].reset_index(drop=True)
    return CRESweepOutput(
        config,
        run.frame,
        members,
        snap,
        bool(run.meta.get("stopped")),
        float(run.meta.get("seconds", 0)),
        float(run.meta.get("compile_seconds", 0)),
        tuple(run.meta.get("class_names", ())),
        tuple(run.meta.get("input_shape", ())),
    )


CRE_SWEEP = Experiment(
    "cre",
    run_cre_sweep,
    lambda config, out: save_cre_output(out),
    load_cre_output,
    lambda config: f"CRE sweep · {config.dataset} · {config.n_members} models",
)
