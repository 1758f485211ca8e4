"""Sweeps made of shape groups: each group is one compiled program over its members (see
:mod:`pcdash.engine`); groups run in order, two side by side where there are two cores or more,
with progress combined across them.

Used by the CRE sweep (one group per latent dimension, plus baselines) and the PCN sweep (one
group per width), by the dashboard and the CLI alike. :func:`run_groups` trains in this process;
a backend of :mod:`pcdash.backends` may instead cut the groups into parts
(:meth:`Group.part`) and train those elsewhere (a Ray cluster), with the same results: a
member's seed alone fixes its initialisation, data order and step keys.
"""

from __future__ import annotations

import contextvars
import functools
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, Self

import equinox as eqx
import jax
import numpy as np
import pandas as pd

from pcdash.compile_cache import release_programs
from pcdash.engine import (
    Algorithm,
    Carry,
    EpochRecord,
    Progress,
    TrainResult,
    precompile,
    train_members,
)

# Compile the next groups' programs in a background thread while a group trains (run_groups).
PRECOMPILE_AHEAD = True
# Groups trained side by side (run_groups). XLA runs a small program (a single member, a
# converged-inference while loop, batch 16) largely on one core: on this 2-core machine the PC vs
# BP comparison's 6 groups trained 1.95x faster two at a time (3.3 vs 6.4 s for 3 epochs), the
# Latent dimension page's 120-member group in two halves 7-10% faster.
LANES = min(2, os.cpu_count() or 1)
_COMPILED: set = set()  # program keys (see _program_key) of groups this process has trained


class EpochHook(Protocol):
    """Called after each epoch with a group's stacked state (e.g. to keep latent codes for a
    page). A hook can be cut like its group: :meth:`part` makes a hook for some of the group's
    members with storage of its own, which can run in another process; :meth:`merge` takes
    back what such a part recorded."""

    def __call__(self, carry: Carry, record: EpochRecord) -> None: ...

    def part(self, positions: np.ndarray) -> Self: ...

    def merge(self, part: Self) -> None: ...


@dataclass
class Group:
    """Members sharing shapes. ``members`` has one row per member with its descriptive columns
    (a global ``member`` id among them); ``to_frame`` turns a (partial) result into tidy rows.
    ``return_state``: the sweep needs the trained state afterwards (a remote backend then sends
    it back; otherwise it only sends metrics)."""

    algo: Algorithm
    hp: Any  # per-member hyperparameters: a pytree with a member axis (see pcdash.engine)
    seeds: np.ndarray
    members: pd.DataFrame
    to_frame: Callable[[TrainResult, pd.DataFrame], pd.DataFrame]
    init_carry: Carry | None = None
    epoch_hook: EpochHook | None = None
    label: str = ""
    return_state: bool = False

    def __len__(self) -> int:
        return len(self.seeds)

    def train(
        self,
        x_train,
        y_train,
        *,
        epochs: int,
        batch_size: int,
        eval_sets: Mapping[str, tuple[np.ndarray, np.ndarray]],
        on_progress: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        epoch_hook: EpochHook | None = None,
    ) -> TrainResult:
        """:func:`pcdash.engine.train_members` of this group's members (from its initial state,
        if it has one), with ``epoch_hook`` (default: the group's own)."""
        return train_members(
            self.algo,
            self.hp,
            self.seeds,
            x_train,
            y_train,
            epochs=epochs,
            batch_size=batch_size,
            eval_sets=eval_sets,
            on_progress=on_progress,
            should_stop=should_stop,
            init_carry=self.init_carry,
            epoch_hook=self.epoch_hook if epoch_hook is None else epoch_hook,
        )

    def part(self, positions: np.ndarray) -> Group:
        """The members at ``positions`` (in order) as a group of their own, on the host, ready
        to be sent to another process. Each member keeps its seed and hyperparameters, so it
        trains exactly as it would inside the whole group."""
        positions = np.asarray(positions, dtype=int)
        return replace(
            self,
            hp=jax.tree_util.tree_map(lambda v: np.asarray(v)[positions], self.hp),
            seeds=np.asarray(self.seeds)[positions],
            members=self.members.iloc[positions].reset_index(drop=True),
            init_carry=None if self.init_carry is None else to_host(self.init_carry, positions),
            epoch_hook=None if self.epoch_hook is None else self.epoch_hook.part(positions),
        )


def to_host(stacked: Carry, positions: np.ndarray | None = None) -> Carry:
    """A stacked state with every array leaf as a NumPy array (optionally only the members at
    ``positions``); static leaves are kept as they are."""

    def one(v):
        if not eqx.is_array(v):
            return v
        v = np.asarray(v)
        return v if positions is None else v[positions]

    return jax.tree_util.tree_map(one, stacked)


@dataclass
class SweepProgress:
    fraction: float
    elapsed_s: float
    eta_s: float | None
    frame: pd.DataFrame  # tidy rows of every finished epoch so far
    message: str
    extras: dict[str, Any] = field(
        default_factory=dict
    )  # where it trains (a backend's workers, retries)
    result: Any = None  # the experiment's partial result, of the type of its final result


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
    lanes: int | None = None,
) -> SweepRun:
    """Train the groups, ``lanes`` at a time (default :data:`LANES`), in order. Progress is
    weighted by member count; the partial frame given to ``on_progress`` holds every epoch
    finished so far, so plots can update live. Results and frames come in the groups' order
    whatever the lanes; a stop (``should_stop``, or a group that stopped) ends every lane after
    its current chunk and starts no further group."""
    t0 = time.perf_counter()
    if release_programs():  # a process with many programs in memory lets them go first
        _COMPILED.clear()
    n = len(groups)
    lanes = max(1, min(LANES if lanes is None else lanes, n))
    weights = np.array([len(g.seeds) for g in groups], dtype=float)
    weights = weights / weights.sum()
    results: list[TrainResult | None] = [None] * n
    done: list[pd.DataFrame | None] = [None] * n  # each finished group's rows
    rows: list[list[pd.DataFrame]] = [[] for _ in range(n)]  # a training group's rows so far
    seen, fraction = [0] * n, np.zeros(n)
    lock = threading.Lock()
    halt = threading.Event()
    upcoming = iter(range(n))
    live: dict[str, pd.DataFrame | None] = {"frame": None}  # the frame of the last report

    def stop() -> bool:
        return halt.is_set() or (should_stop is not None and should_stop())

    # While a group trains, the next groups' programs compile in a background thread (XLA
    # compiles on one core; training leaves room): a sweep of many small programs, such as a
    # comparison of 8 PC algorithms, spends most of an empty-cache run compiling.
    # Groups whose programs this process already holds are skipped: tracing them again would
    # only take CPU from training.
    keys = [_program_key(g, x_train, batch_size, eval_sets) for g in groups]
    todo = [gi for gi in range(lanes, n) if keys[gi] is None or keys[gi] not in _COMPILED]
    ahead = None
    if PRECOMPILE_AHEAD and todo:
        ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pcdash-precompile")
    compiling: list[Future | None] = [None] * n
    for gi in todo if ahead is not None else ():
        assert ahead is not None  # the loop runs only with a pool
        g = groups[gi]
        compiling[gi] = ahead.submit(
            contextvars.copy_context().run,
            precompile,
            g.algo,
            g.hp,
            g.seeds,
            x_train,
            y_train,
            batch_size=batch_size,
            eval_sets=eval_sets,
            init_carry=g.init_carry,
        )

    def progress(p: Progress, gi: int) -> None:
        if on_progress is None:
            return
        group = groups[gi]
        with lock:
            if len(p.history) != seen[gi]:
                # rows of the epochs new since the last call only: a frame's rows are per
                # epoch, and rebuilding the whole history at every epoch grew as epochs²
                # (72 s of the Latent dimension page's 288 s under load)
                new = TrainResult(p.history[seen[gi] :], np.zeros(0, bool), None, False, 0)
                rows[gi].append(group.to_frame(new, group.members))
                seen[gi] = len(p.history)
                live["frame"] = None
            if live["frame"] is None:  # built again only when rows came, not at every report
                parts = [
                    f for j in range(n) for f in ([done[j]] if done[j] is not None else rows[j])
                ]
                live["frame"] = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
            frame = live["frame"]
            fraction[gi] = p.fraction
            total = float(weights @ fraction)
            elapsed = time.perf_counter() - t0
            eta = elapsed / total * (1 - total) if total > 0 else None
            label = f" · {group.label}" if group.label else ""
            message = f"group {gi + 1}/{n}{label} · epoch {p.epoch}/{epochs}"
            # under the lock: the lanes' reports arrive in the order they were made
            on_progress(SweepProgress(total, elapsed, eta, frame, message))

    def lane() -> None:
        while not stop():
            with lock:
                gi = next(upcoming, None)
            if gi is None:
                return
            _wait_or_cancel(compiling[gi])
            group = groups[gi]
            try:
                result = group.train(
                    x_train,
                    y_train,
                    epochs=epochs,
                    batch_size=batch_size,
                    eval_sets=eval_sets,
                    on_progress=functools.partial(progress, gi=gi),
                    should_stop=stop,
                )
            except BaseException:
                halt.set()  # the other lanes end too; the error is raised below
                raise
            if keys[gi] is not None:
                _COMPILED.add(keys[gi])
            frame = group.to_frame(result, group.members)
            with lock:
                results[gi], done[gi], rows[gi], fraction[gi] = result, frame, [], 1.0
                live["frame"] = None  # the next report builds it with this group's final rows
            if result.stopped:
                halt.set()

    try:
        if lanes == 1:
            lane()
        else:  # XLA's own threads leave cores idle on small programs: train groups side by side
            with ThreadPoolExecutor(lanes, thread_name_prefix="pcdash-lane") as pool:
                futures = [pool.submit(contextvars.copy_context().run, lane) for _ in range(lanes)]
                for future in futures:
                    future.exception()  # every lane has ended before an error is raised
                for future in futures:
                    future.result()
    finally:  # a stop or an error: what has not started compiling never does
        for future in reversed(compiling):
            _wait_or_cancel(future)
        if ahead is not None:
            ahead.shutdown(wait=True)

    # groups start in order and none starts after a stop, so the trained ones come first
    trained = [gi for gi in range(n) if results[gi] is not None]
    frames = [done[gi] for gi in trained]
    return SweepRun(
        pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(),
        [r for r in results if r is not None],
        any(r.stopped for r in results if r is not None) or len(trained) < n,
        time.perf_counter() - t0,
    )


def _wait_or_cancel(future: Future | None) -> None:
    """A background compilation: cancelled when it has not started (the caller compiles
    itself), else waited for, so the same program is never compiled twice at once. Its errors
    are not raised here: training the group raises them with the full context."""
    if future is not None and not future.cancel():
        future.exception()


def _program_key(group: Group, x_train, batch_size: int, eval_sets) -> tuple | None:
    """What fixes a group's compiled programs: its algorithm, member count, data and evaluation
    shapes, batch size and whether it starts from a given state; None when the algorithm cannot
    be hashed (then it is always compiled ahead)."""
    shapes = tuple(
        (k, np.shape(v[0]), np.shape(v[1])) for k, v in sorted((eval_sets or {}).items())
    )
    key = (
        group.algo,
        len(group.seeds),
        np.shape(x_train),
        batch_size,
        shapes,
        group.init_carry is None,
    )
    try:
        hash(key)
    except TypeError:
        return None
    return key
