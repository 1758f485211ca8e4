"""The one sweep engine: many members of the same shape trained as one compiled program.

An :class:`Algorithm` says how to initialise, train and evaluate *one* member. The engine
vmaps it over members, scans it over a chunk of batches, puts the data on the device once,
and hands control back to Python only between chunks (for progress, live plots and Stop).

A member whose loss turns NaN/inf is flagged ``diverged`` (sticky); members are independent
under vmap, so every other member trains on unaffected.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

Carry = Any
Metrics = dict[str, Array]


class Algorithm(Protocol):
    """How to train one member. Implementations are frozen, hashable dataclasses whose fields
    are static configuration (architecture, loss type, inference steps...): two equal
    algorithms share one compiled program."""

    def init(self, key: PRNGKeyArray, hp: Mapping[str, Array]) -> Carry:
        """One member's training state (parameters, optimiser state, ...)."""

    def train_step(
        self,
        carry: Carry,
        hp: Mapping[str, Array],
        x: Float[Array, "batch ..."],
        y: Int[Array, " batch"],
        key: PRNGKeyArray,
    ) -> tuple[Carry, Metrics]:
        """One optimisation step on one batch. Metrics must hold a scalar ``loss``."""

    def evaluate(
        self, carry: Carry, hp: Mapping[str, Array], x: Float[Array, "batch ..."], y: Int[Array, " batch"]
    ) -> Metrics:
        """Per-example metrics, each of shape ``(batch,)``; the engine averages them."""


@dataclass
class EpochRecord:
    epoch: int  # 1-based
    train: dict[str, np.ndarray]  # step metrics averaged over the epoch, leading axis = member
    last_step: dict[str, np.ndarray]  # step metrics of the epoch's last batch
    evals: dict[str, dict[str, np.ndarray]]  # split -> metric -> (member,)
    diverged: np.ndarray  # (member,) bool, as of the end of this epoch
    seconds: float  # wall time of the epoch's training (excluding evaluation)


@dataclass
class Progress:
    steps_done: int
    steps_total: int
    epoch: int
    elapsed_s: float
    history: list[EpochRecord]

    @property
    def fraction(self) -> float:
        return self.steps_done / max(self.steps_total, 1)

    @property
    def eta_s(self) -> float | None:
        if self.steps_done == 0:
            return None
        return self.elapsed_s / self.steps_done * (self.steps_total - self.steps_done)


@dataclass
class TrainResult:
    history: list[EpochRecord]
    diverged: np.ndarray
    carry: Carry  # final state, stacked over members
    stopped: bool
    steps_per_epoch: int
    compile_s: float = 0.0
    extras: dict[str, Any] = field(default_factory=dict)


@eqx.filter_jit
def _init_members(algo: Algorithm, keys: PRNGKeyArray, hp: Mapping[str, Array]) -> Carry:
    return eqx.filter_vmap(algo.init)(keys, hp)


@eqx.filter_jit
def _train_chunk(
    state: tuple[Carry, Array, dict[str, Array]],
    static: Carry,
    algo: Algorithm,
    hp: Mapping[str, Array],
    x: Array,
    y: Array,
    perms: Int[Array, "member n"],
    step_keys: PRNGKeyArray,
    first_step: Int[Array, ""],
    batch_size: int,
    chunk_steps: int,
    steps_in_epoch: Int[Array, ""],
    ragged: bool,
):
    """Runs ``chunk_steps`` batches for every member. When the chunk length does not divide
    the epoch (``ragged``), steps past the end of the epoch are skipped with a non-batched
    ``lax.cond``; otherwise there is no branch in the loop at all."""

    def member_step(dynamic, hp_m, perm_m, key_m, diverged_m, step):
        # Members are independent under vmap, so a diverged member's NaNs cannot reach the
        # others; its flag is sticky and its metrics are reported as NaN.
        idx = jax.lax.dynamic_slice_in_dim(perm_m, step * batch_size, batch_size)
        new_carry, metrics = algo.train_step(eqx.combine(dynamic, static), hp_m, x[idx], y[idx], key_m)
        now_diverged = diverged_m | ~jnp.isfinite(metrics["loss"])
        return eqx.filter(new_carry, eqx.is_array), metrics, now_diverged

    def run(state, step):
        carry, diverged, sums = state
        keys = jax.vmap(lambda k: jax.random.fold_in(k, step))(step_keys)
        carry, metrics, diverged = jax.vmap(member_step, in_axes=(0, 0, 0, 0, 0, None))(
            carry, hp, perms, keys, diverged, step
        )
        sums = {
            "count": sums["count"] + 1,
            "sum": jax.tree_util.tree_map(jnp.add, sums["sum"], metrics),
            "last": metrics,
        }
        return carry, diverged, sums

    def body(state, i):
        step = first_step + i
        if not ragged:
            return run(state, step), None
        return jax.lax.cond(step < steps_in_epoch, lambda s: run(s, step), lambda s: s, state), None

    state, _ = jax.lax.scan(body, state, jnp.arange(chunk_steps))
    return state


@eqx.filter_jit
def _evaluate(algo: Algorithm, dynamic: Carry, static: Carry, hp: Mapping[str, Array], x: Array, y: Array, eval_batch: int):
    """Mean of the per-example metrics over ``x`` for every member, in fixed-size batches
    (padded, with padding masked out) so memory stays bounded on large sets."""
    n = x.shape[0]
    n_batches = -(-n // eval_batch)
    pad = n_batches * eval_batch - n
    xp = jnp.concatenate([x, jnp.zeros((pad, *x.shape[1:]), x.dtype)]) if pad else x
    yp = jnp.concatenate([y, jnp.zeros((pad,), y.dtype)]) if pad else y
    mask = (jnp.arange(n_batches * eval_batch) < n).reshape(n_batches, eval_batch)
    xb = xp.reshape(n_batches, eval_batch, *x.shape[1:])
    yb = yp.reshape(n_batches, eval_batch)

    def one_batch(args):
        xi, yi, mi = args
        metrics = jax.vmap(lambda d, h: algo.evaluate(eqx.combine(d, static), h, xi, yi))(dynamic, hp)
        return jax.tree_util.tree_map(lambda v: jnp.sum(jnp.where(mi, v, 0.0), axis=-1), metrics)

    sums = jax.lax.map(one_batch, (xb, yb, mask))
    return jax.tree_util.tree_map(lambda s: jnp.sum(s, axis=0) / n, sums)


@functools.partial(jax.jit, static_argnums=2)
def _permutations(keys: PRNGKeyArray, epoch: Int[Array, ""], n: int) -> Int[Array, "member n"]:
    """Each member's order of the training set for ``epoch``."""
    return jax.vmap(lambda k: jax.random.permutation(jax.random.fold_in(k, epoch), n))(keys)


@eqx.filter_jit
def _zeros_like_metrics(algo, dynamic, static, hp, x, y, keys, batch_size):
    """Zeros shaped like one step's metrics, for the running sums. Jitted so that the shape
    inference is cached like any other program (no extra trace per run)."""

    def one(d, h, k):
        return algo.train_step(eqx.combine(d, static), h, x[:batch_size], y[:batch_size], k)[1]

    shapes = jax.eval_shape(lambda d, h, k: jax.vmap(one)(d, h, k), dynamic, hp, keys)
    return jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)


def default_chunk_steps(steps_per_epoch: int, target: int = 64) -> int:
    """Steps per compiled chunk: a divisor of the epoch near ``target`` when there is one (no
    branch in the loop), else ``target`` with the tail of the epoch skipped by a branch.
    Small enough that the UI hears back often, large enough that dispatch is negligible."""
    if steps_per_epoch <= target:
        return steps_per_epoch
    best = max(d for d in range(1, target + 1) if steps_per_epoch % d == 0)
    return best if best * 4 >= target else target


def train_members(
    algo: Algorithm,
    hp: Mapping[str, np.ndarray],
    seeds: np.ndarray,
    x_train: np.ndarray | Array,
    y_train: np.ndarray | Array,
    *,
    epochs: int,
    batch_size: int,
    eval_sets: Mapping[str, tuple[np.ndarray | Array, np.ndarray | Array]] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    chunk_steps: int | None = None,
    eval_batch: int = 1024,
    init_carry: Carry | None = None,
    epoch_hook: Callable[[Carry, EpochRecord], None] | None = None,
) -> TrainResult:
    """Train every member of ``hp``/``seeds`` together.

    Args:
        algo: how one member is initialised, trained and evaluated.
        hp: per-member hyperparameters, each an array of shape ``(member,)``.
        seeds: ``(member,)`` integer seeds; a member's seed sets its initialisation and the
            order in which it sees the data.
        x_train, y_train: the training set; moved to the device once.
        epochs, batch_size: the schedule; the last incomplete batch of an epoch is dropped.
        eval_sets: split name -> (x, y), evaluated on every member after every epoch.
        on_progress: called between chunks (and after each epoch's evaluation).
        should_stop: polled between chunks; when it returns True training ends cleanly with
            the epochs completed so far.
        init_carry: resume from this stacked state instead of initialising.
        epoch_hook: called after each epoch with the current carry (e.g. to snapshot latents).

    Returns:
        A :class:`TrainResult` whose history holds one :class:`EpochRecord` per finished epoch.
    """
    seeds = np.asarray(seeds, dtype=np.uint32)
    n_members = len(seeds)
    if n_members == 0:
        raise ValueError("no members to train")
    hp = {k: jnp.asarray(np.asarray(v, dtype=np.float32)) for k, v in hp.items()}
    for k, v in hp.items():
        if v.shape != (n_members,):
            raise ValueError(f"hyperparameter {k!r} has shape {v.shape}, expected ({n_members},)")
    x = jnp.asarray(x_train)
    y = jnp.asarray(y_train, dtype=jnp.int32)
    n = x.shape[0]
    steps_per_epoch = n // batch_size
    if steps_per_epoch < 1:
        raise ValueError(f"batch size {batch_size} is larger than the training set ({n})")
    chunk = int(chunk_steps or default_chunk_steps(steps_per_epoch))
    chunks_per_epoch = -(-steps_per_epoch // chunk)
    evals = {k: (jnp.asarray(v[0]), jnp.asarray(v[1], dtype=jnp.int32)) for k, v in (eval_sets or {}).items()}

    root = jax.vmap(jax.random.PRNGKey)(jnp.asarray(seeds))
    init_keys, data_keys, step_keys = (jax.vmap(lambda k, i=i: jax.random.fold_in(k, i))(root) for i in range(3))

    t0 = time.perf_counter()
    carry = init_carry if init_carry is not None else _init_members(algo, init_keys, hp)
    carry, static = eqx.partition(carry, eqx.is_array)
    zero_metrics = _zeros_like_metrics(algo, carry, static, hp, x, y, step_keys, batch_size)
    diverged = jnp.zeros((n_members,), bool)
    history: list[EpochRecord] = []
    total_steps = epochs * steps_per_epoch
    steps_done = 0
    stopped = False
    compile_s = 0.0

    for epoch in range(1, epochs + 1):
        perms = _permutations(data_keys, jnp.asarray(epoch, jnp.int32), n)
        sums = {"count": jnp.zeros((), jnp.int32), "sum": zero_metrics, "last": zero_metrics}
        state = (carry, diverged, sums)
        t_epoch = time.perf_counter()
        for c in range(chunks_per_epoch):
            if should_stop is not None and should_stop():
                stopped = True
                break
            tc = time.perf_counter()
            state = _train_chunk(
                state, static, algo, hp, x, y, perms, step_keys,
                jnp.asarray(c * chunk, jnp.int32), batch_size, chunk, jnp.asarray(steps_per_epoch, jnp.int32),
                steps_per_epoch % chunk != 0,
            )
            jax.block_until_ready(state[1])
            if epoch == 1 and c == 0:
                compile_s = time.perf_counter() - tc
            steps_done = (epoch - 1) * steps_per_epoch + min((c + 1) * chunk, steps_per_epoch)
            if on_progress is not None:
                on_progress(Progress(steps_done, total_steps, epoch, time.perf_counter() - t0, history))
        carry, diverged, sums = state
        if stopped:
            break
        seconds = time.perf_counter() - t_epoch
        count = sums["count"]
        train = {k: np.asarray(v / count) for k, v in sums["sum"].items()}
        last = {k: np.asarray(v) for k, v in sums["last"].items()}
        split_metrics = {
            name: {k: np.asarray(v) for k, v in _evaluate(algo, carry, static, hp, ex, ey, min(eval_batch, max(1, ex.shape[0]))).items()}
            for name, (ex, ey) in evals.items()
            if ex.shape[0] > 0
        }
        record = EpochRecord(epoch, train, last, split_metrics, np.asarray(diverged), seconds)
        history.append(record)
        if epoch_hook is not None:
            epoch_hook(eqx.combine(carry, static), record)
        if on_progress is not None:
            on_progress(Progress(steps_done, total_steps, epoch, time.perf_counter() - t0, history))

    return TrainResult(history, np.asarray(diverged), eqx.combine(carry, static), stopped, steps_per_epoch, compile_s)


def member_slice(carry: Carry, i: int) -> Carry:
    """Member ``i`` of a stacked state."""
    return jax.tree_util.tree_map(lambda v: v[i] if eqx.is_array(v) else v, carry)


def num_chunks(steps_per_epoch: int, chunk: int) -> int:
    return math.ceil(steps_per_epoch / chunk)
