"""CRE sweeps: λ × dim(z) × seed grids (and baselines) trained as one program per latent
dimension, returning the tidy result frame and, for a fixed evaluation subset, every member's
latent codes and reconstructions. Progress carries the partial :class:`CRESweepOutput`
(``result``) with the snapshot so far; a finished sweep is kept under its configuration's key."""

from __future__ import annotations

import math
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
from pcdash.cre.padded import PADDABLE, PaddedLatent, latent_mask, pad_like, padding_buckets
from pcdash.data import Dataset, load_dataset
from pcdash.engine import (
    Carry,
    TrainResult,
    compile_only,
    eval_block,
    map_members,
    member_init_keys,
)
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


def _per_member(fn, carry, x, block: int):
    """``fn(a member's carry, x)`` for every member of the stacked ``carry``, ``block`` members
    at a time (:func:`~pcdash.engine.map_members`)."""
    dynamic, static = eqx.partition(carry, eqx.is_array)
    return map_members(lambda d: fn(eqx.combine(d, static), x), dynamic, block)


@eqx.filter_jit
def _encode_members(carry, x, block: int):
    return _per_member(encode_decode, carry, x, block)


@eqx.filter_jit
def _dead_units_members(carry, xb, block: int):
    return _per_member(dead_latent_units, carry, xb, block)


def split_batches(x: np.ndarray, batch: int = DEAD_UNITS_BATCH) -> np.ndarray:
    """``x`` cut into equal batches, the last one padded with copies of the first example (which
    changes no maximum over examples)."""
    batch = max(1, min(batch, len(x)))
    n = -(-len(x) // batch) * batch
    padded = np.concatenate([x, np.repeat(x[:1], n - len(x), axis=0)])
    return padded.reshape(n // batch, batch, *x.shape[1:])


def dead_units_of_codes(z: np.ndarray, latent_dims: np.ndarray | None = None) -> np.ndarray:
    """Each member's number of latent units that are zero for every example of ``z`` (member ×
    example × unit; a member's units beyond its ``latent_dims``, padding, do not count): what
    :func:`pcdash.cre.algorithm.dead_latent_units` counts, from codes already computed."""
    dead = np.max(np.abs(z), axis=1) == 0
    if latent_dims is not None:
        dead &= np.arange(z.shape[-1])[None, :] < np.asarray(latent_dims)[:, None]
    return dead.sum(axis=1)


@dataclass
class SnapshotHook:
    """After each epoch: the latent codes, reconstructions and predictions of the members
    ``member_ids`` (a group, in order) on the snapshot's inputs (a diverged member keeps its last
    finite ones), and each member's number of dead latent units on the test split (added to the
    epoch's test metrics). A :class:`pcdash.sweep.EpochHook`."""

    snapshot: Snapshot
    member_ids: np.ndarray
    x_test: np.ndarray | None = None  # the test split in batches (:func:`split_batches`)
    # each member's dim(z) where members of several sizes train padded to the largest
    # (pcdash.cre.padded): its codes are cut back to its own units
    latent_dims: np.ndarray | None = None
    # the snapshot's inputs are the whole test split (as on digits, whose classes have fewer
    # test images than points_per_class): its codes count the dead units, with no second pass
    snapshot_is_test: bool = False

    def __call__(self, carry, record) -> None:
        snap = self.snapshot
        block = eval_block(carry, len(self.member_ids))
        z, x_hat, pred = (
            np.asarray(a) for a in _encode_members(carry, jax.device_put(snap.x), block)
        )
        for i, m in enumerate(self.member_ids):
            if record.diverged[i]:
                continue
            z_i = z[i] if self.latent_dims is None else z[i][:, : int(self.latent_dims[i])]
            snap.z[int(m)], snap.x_hat[int(m)], snap.pred[int(m)] = z_i, x_hat[i], pred[i]
            snap.epoch[int(m)] = record.epoch
        if self.x_test is not None and "test" in record.evals:
            if self.snapshot_is_test:
                dead = dead_units_of_codes(z, self.latent_dims)
            else:
                dead = _dead_units_members(carry, jax.device_put(self.x_test), block)
            record.evals["test"]["dead_latent_units"] = np.asarray(dead, dtype=np.float32)

    def part(self, positions: np.ndarray) -> SnapshotHook:
        snap = Snapshot(self.snapshot.x, self.snapshot.y)
        dims = None if self.latent_dims is None else np.asarray(self.latent_dims)[positions]
        ids = np.asarray(self.member_ids)[positions]
        return SnapshotHook(snap, ids, self.x_test, dims, self.snapshot_is_test)

    def merge(self, part: SnapshotHook) -> None:
        for name in ("z", "x_hat", "pred", "epoch"):
            getattr(self.snapshot, name).update(getattr(part.snapshot, name))


def _to_frame(result: TrainResult, members: pd.DataFrame) -> pd.DataFrame:
    return history_to_frame(result, members, train_metrics=TRAIN_METRICS, eval_metrics=EVAL_METRICS)


def _baseline_models(algo: CREAlgorithm, kind: str, seeds: np.ndarray, data: Dataset):
    """The stacked :class:`ProjectionCRE` members of a baseline at ``algo``'s dimension."""
    d_in = data.input_dim
    k = algo.latent_dim
    if kind == "pca":
        comps, mean = pca_components(data.x_train, k)
        projections = [(comps, mean)] * len(seeds)
    else:
        mean = np.zeros(d_in, np.float32)
        projections = [(random_projection(d_in, k, int(s)), mean) for s in seeds]

    def make(key, comps, mean):
        return ProjectionCRE.on(comps, mean, algo.build(key))

    keys = jax.vmap(jax.random.PRNGKey)(jnp.asarray(seeds, dtype=jnp.uint32) + 10_000)
    stacked = jnp.stack([p[0] for p in projections])
    means = jnp.stack([p[1] for p in projections])
    return eqx.filter_vmap(make)(keys, stacked, means)


def _baseline_carry(
    config: CREConfig, data: Dataset, kind: str, bucket: tuple[int, ...], seeds: np.ndarray
) -> Carry:
    """The stacked training state of a baseline's members of the dimensions ``bucket`` (``seeds``
    each), padded to the largest where there are several."""
    algos = [_cre_algorithm(config, data, d, baseline=True) for d in bucket]
    models = [_baseline_models(a, kind, seeds, data) for a in algos]
    if len(bucket) == 1:
        return eqx.filter_vmap(algos[0].carry_from_model)(models[0])
    d_in, size = data.input_dim, max(bucket)

    def largest(key):  # shapes only (traced by eval_shape, nothing computed)
        return ProjectionCRE.on(jnp.zeros((d_in, size)), jnp.zeros(d_in), algos[-1].build(key))

    template = eqx.filter_eval_shape(eqx.filter_vmap(largest), member_init_keys(seeds))
    mask = latent_mask(np.repeat(bucket, len(seeds)), size)
    return _pad_members(models, template, jax.device_put(mask), algos[-1])


def build_groups(
    config: CREConfig, data: Dataset, snapshot: Snapshot
) -> tuple[list[Group], pd.DataFrame]:
    """The CRE members (every λ × seed of each latent dimension), then each baseline's (every
    seed of each dimension). A group trains one latent dimension, or for the FC variants a run of
    nearby dimensions padded to the largest of them (:func:`latent_buckets`,
    :mod:`pcdash.cre.padded`). Member ids follow kind × ``latent_dims`` × λ × seed, however the
    members are grouped."""
    for kind in config.baselines:
        for dim in config.latent_dims:
            if dim > data.input_dim:
                raise ConfigError(
                    f"a {kind.upper()} baseline of dim {dim} needs inputs of at least that many "
                    f"features; {config.dataset} has {data.input_dim}"
                )
    x_test = split_batches(data.x_test) if len(data.x_test) else None
    snapshot_is_test = len(snapshot.x) == len(data.x_test)  # (a subset of it, so all of it)
    seeds = np.arange(config.seeds)
    lams, lam_seeds = (
        a.ravel()
        for a in np.meshgrid(np.asarray(config.lambdas, dtype=np.float64), seeds, indexing="ij")
    )
    buckets = latent_buckets(config, data)
    groups, tables, first_id = [], [], 0
    for kind in ("cre", *config.baselines):
        lam, seed = (lams, lam_seeds) if kind == "cre" else (np.full(len(seeds), np.nan), seeds)
        n = len(seed)
        first = {int(d): first_id + i * n for i, d in enumerate(config.latent_dims)}
        first_id += n * len(config.latent_dims)
        for bucket in buckets:
            members = pd.DataFrame(
                {
                    "member": np.concatenate([np.arange(first[d], first[d] + n) for d in bucket]),
                    "dataset": config.dataset,
                    "arch": config.arch,
                    "model": kind,
                    "latent_dim": np.repeat(bucket, n),
                    "lam": np.tile(lam, len(bucket)),
                    "seed": np.tile(seed, len(bucket)).astype(int),
                }
            )
            padded = len(bucket) > 1
            if kind == "cre":
                init_carry = _padded_carry(config, data, bucket, seed) if padded else None
                hp = {"lam": members["lam"].to_numpy()}
                dims = members["latent_dim"].to_numpy() if padded else None
                hook = SnapshotHook(
                    snapshot, members["member"].to_numpy(), x_test, dims, snapshot_is_test
                )
            else:  # λ does not matter: the frozen encoder gets no gradient
                init_carry = _baseline_carry(config, data, kind, bucket, seed)
                hp, hook = {"lam": np.full(len(members), 0.5)}, None
            groups.append(
                Group(
                    _cre_algorithm(config, data, max(bucket), baseline=kind != "cre"),
                    hp,
                    members["seed"].to_numpy(),
                    members,
                    _to_frame,
                    init_carry=init_carry,
                    epoch_hook=hook,
                    label=("" if kind == "cre" else f"{kind.upper()} ")
                    + "dim(z)="
                    + ",".join(map(str, bucket)),
                )
            )
            tables.append(members)
    members = pd.concat(tables, ignore_index=True).sort_values("member", kind="stable")
    return groups, members.reset_index(drop=True)


def _cre_algorithm(
    config: CREConfig, data: Dataset, dim: int, *, baseline: bool = False
) -> CREAlgorithm:
    """The CRE of ``config`` at dim(z) = ``dim``; for a baseline, with a linear latent (its
    frozen projection's)."""
    return CREAlgorithm(
        config.arch,
        data.input_shape,
        data.num_classes,
        int(dim),
        "linear" if baseline else config.latent_activation,
        config.lr,
        config.init,
    )


def latent_buckets(config: CREConfig, data: Dataset) -> list[tuple[int, ...]]:
    """How the CRE members' latent dimensions are grouped into programs: one per dimension, or
    for the FC variants runs of nearby dimensions padded to their largest
    (:func:`pcdash.cre.padded.padding_buckets`, the cost of a dimension being its CRE's parameter
    count). One program instead of several saves their compiles and per-step overheads, which
    on small data (digits, batch 16) outweigh the padding's extra arithmetic."""
    dims = [int(d) for d in config.latent_dims]
    if config.arch not in PADDABLE or len(dims) == 1:
        return [(d,) for d in dims]

    def cost(d: int) -> int:
        shapes = eqx.filter_eval_shape(_cre_algorithm(config, data, d).build, jax.random.key(0))
        return sum(math.prod(v.shape) for v in jax.tree_util.tree_leaves(shapes))

    return padding_buckets(dims, cost)


def _padded_carry(
    config: CREConfig, data: Dataset, bucket: tuple[int, ...], seeds: np.ndarray
) -> Carry:
    """The stacked training state of ``bucket``'s members (``seeds`` per dimension, in order),
    each built as the CRE of its own dimension from the key the engine would give it, then padded
    to the largest (:class:`pcdash.cre.padded.PaddedLatent`)."""
    mask = latent_mask(np.repeat(bucket, len(seeds)), max(bucket))
    return _padded_init(
        tuple(_cre_algorithm(config, data, d) for d in bucket),
        member_init_keys(seeds),
        jax.device_put(mask),
    )


@eqx.filter_jit
def _padded_init(algos: tuple[CREAlgorithm, ...], keys, mask):
    # one program (cached across processes like the engine's), not hundreds of eager operations
    big = algos[-1]
    template = eqx.filter_eval_shape(eqx.filter_vmap(big.build), keys)
    return _pad_members([eqx.filter_vmap(a.build)(keys) for a in algos], template, mask, big)


@eqx.filter_jit
def _pad_members(models: list, template, mask, algo: CREAlgorithm) -> Carry:
    """Stacked members of several latent sizes (``models``, one stacked tree per size) padded to
    ``template``'s and concatenated, as the stacked training state of ``algo``."""
    padded = [pad_like(m, template) for m in models]
    stacked = jax.tree_util.tree_map(lambda *v: jnp.concatenate(v), *padded)
    return eqx.filter_vmap(algo.carry_from_model)(PaddedLatent(stacked, mask))


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
    with compile_only():  # the same units, programs and hooks as a run (pcdash.sweep)
        return run_cre_sweep(config, data=data).members


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
