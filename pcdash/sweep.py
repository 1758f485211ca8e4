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
from collections.abc import Callable, Container, Hashable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, Self, cast

import equinox as eqx
import jax
import numpy as np
import pandas as pd

from pcdash.backends.parts import merge_results
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
# BP comparison's 6 groups trained 1.95x faster two at a time (3.3 vs 6.4 s for 3 epochs). A
# group larger than a lane's share trains as parts side by side (lane_units): with member blocks
# small enough for two lanes (pcdash.engine.BLOCK_BYTES), the Latent dimension page's default
# run went from 30.7 to 16.6 s, the CRE default's from 6.2 to 2.6 s (benchmarks/bench_pages.py).
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


def lane_units(groups: list[Group], lanes: int) -> list[tuple[int, np.ndarray | None]]:
    """What :func:`run_groups` trains, in order: ``(group index, None)`` for a group trained
    whole, ``(group index, positions)`` for one of the equal parts of a group that alone holds
    more than a lane's share of the sweep's members (with two lanes: more than half). Such a
    group would leave the other lanes idle while it trains; its parts run side by side, all with
    one compiled program (same shapes). A group whose size the lanes do not divide stays whole
    (unequal parts would be two programs to compile)."""
    total = sum(len(g) for g in groups)
    units: list[tuple[int, np.ndarray | None]] = []
    for gi, group in enumerate(groups):
        n = len(group)
        if lanes > 1 and n * lanes > total and n % lanes == 0:
            units.extend((gi, pos) for pos in np.split(np.arange(n), lanes))
        else:
            units.append((gi, None))
    return units


@dataclass
class _SharedPartHook:
    """The epoch hook of a part trained in this process: the part's own hook records, and what
    it recorded goes straight into its group's hook, so live views see every member's epoch."""

    group_hook: EpochHook
    part_hook: EpochHook
    lock: Any  # threading.Lock: the lanes' parts of one group merge one at a time

    def __call__(self, carry: Carry, record: EpochRecord) -> None:
        self.part_hook(carry, record)
        with self.lock:
            self.group_hook.merge(self.part_hook)


def compiled_ahead(keys: Sequence[Hashable | None], lanes: int, held: Container) -> list[int]:
    """The training units (their program ``keys`` in order; ``None``: a key that cannot be
    told) whose programs :func:`run_groups` compiles in the background: every unit with an
    unknown key, and of each program not ``held`` by this process the first unit using it,
    unless that unit starts at once (one of the first ``lanes``) and is the only starting unit
    of that program, in which case it compiles itself on starting."""
    starting = keys[:lanes]
    todo = []
    for u, key in enumerate(keys):
        if key is None:
            todo.append(u)
        elif key not in held and keys.index(key) == u and (u >= lanes or starting.count(key) > 1):
            todo.append(u)
    return todo


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
    """Train the groups, ``lanes`` at a time (default :data:`LANES`), in order; a group larger
    than a lane's share is cut into equal parts that train side by side (:func:`lane_units`)
    and are merged back into one result. Progress is weighted by member count; the partial
    frame given to ``on_progress`` holds every epoch finished so far, so plots can update live.
    Results and frames come in the groups' order whatever the lanes; a stop (``should_stop``,
    or a group that stopped) ends every lane after its current chunk and starts nothing more."""
    t0 = time.perf_counter()
    if release_programs():  # a process with many programs in memory lets them go first
        _COMPILED.clear()
    n = len(groups)
    units = lane_units(groups, max(1, LANES if lanes is None else lanes))
    lanes = max(1, min(LANES if lanes is None else lanes, len(units)))
    lock = threading.Lock()
    trainees = [
        groups[gi] if pos is None else _in_process_part(groups[gi], pos, lock) for gi, pos in units
    ]
    u_count = len(units)
    weights = np.array([len(t.seeds) for t in trainees], dtype=float)
    weights = weights / weights.sum()
    unit_results: list[TrainResult | None] = [None] * u_count
    results: list[TrainResult | None] = [None] * n
    done: list[pd.DataFrame | None] = [None] * n  # each finished group's rows
    rows: list[list[pd.DataFrame]] = [[] for _ in range(u_count)]  # a training unit's rows so far
    seen, fraction = [0] * u_count, np.zeros(u_count)
    halt = threading.Event()
    upcoming = iter(range(u_count))
    live: dict[str, pd.DataFrame | None] = {"frame": None}  # the frame of the last report
    of_group = [[u for u, (gi, _) in enumerate(units) if gi == g] for g in range(n)]

    def stop() -> bool:
        return halt.is_set() or (should_stop is not None and should_stop())

    # While a unit trains, the next ones' programs compile in a background thread (XLA
    # compiles on one core; training leaves room): a sweep of many small programs, such as a
    # comparison of 8 PC algorithms, spends most of an empty-cache run compiling. Programs this
    # process already holds are skipped (tracing them again would only take CPU from training),
    # and a program is compiled once however many units share it: the parts of a group that
    # start side by side wait for one compilation instead of each compiling it.
    keys = [_program_key(t, x_train, batch_size, eval_sets) for t in trainees]
    first_of = {u: keys.index(k) if k is not None else u for u, k in enumerate(keys)}
    todo = compiled_ahead(keys, lanes, _COMPILED)
    ahead = None
    if PRECOMPILE_AHEAD and todo:
        ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pcdash-precompile")
    compiling: list[Future | None] = [None] * u_count
    for u in todo if ahead is not None else ():
        assert ahead is not None  # the loop runs only with a pool
        t = trainees[u]
        compiling[u] = ahead.submit(
            contextvars.copy_context().run,
            precompile,
            t.algo,
            t.hp,
            t.seeds,
            x_train,
            y_train,
            batch_size=batch_size,
            eval_sets=eval_sets,
            init_carry=t.init_carry,
        )
    for u in range(u_count):  # later units of a program wait for its first one's compilation
        if compiling[u] is None:
            compiling[u] = compiling[first_of[u]]

    def progress(p: Progress, u: int) -> None:
        if on_progress is None:
            return
        gi, pos = units[u]
        trainee = trainees[u]
        with lock:
            if len(p.history) != seen[u]:
                # rows of the epochs new since the last call only: a frame's rows are per
                # epoch, and rebuilding the whole history at every epoch grew as epochs²
                # (72 s of the Latent dimension page's 288 s under load)
                new = TrainResult(p.history[seen[u] :], np.zeros(0, bool), None, False, 0)
                rows[u].append(trainee.to_frame(new, trainee.members))
                seen[u] = len(p.history)
                live["frame"] = None
            if live["frame"] is None:  # built again only when rows came, not at every report
                parts = [
                    f
                    for g in range(n)
                    for f in (
                        [done[g]]
                        if done[g] is not None
                        else [r for v in of_group[g] for r in rows[v]]
                    )
                ]
                live["frame"] = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
            frame = live["frame"]
            fraction[u] = p.fraction
            total = float(weights @ fraction)
            elapsed = time.perf_counter() - t0
            eta = elapsed / total * (1 - total) if total > 0 else None
            group = groups[gi]
            label = f" · {group.label}" if group.label else ""
            if pos is not None:
                label += f" · part {of_group[gi].index(u) + 1}/{len(of_group[gi])}"
            message = f"group {gi + 1}/{n}{label} · epoch {p.epoch}/{epochs}"
            # under the lock: the lanes' reports arrive in the order they were made
            on_progress(SweepProgress(total, elapsed, eta, frame, message))

    def finish(u: int, result: TrainResult) -> None:
        """Keep unit ``u``'s result; the unit that completes its group merges the group's."""
        gi = units[u][0]
        with lock:
            unit_results[u] = result
            complete = all(unit_results[v] is not None for v in of_group[gi])
        if not complete:
            return
        group = groups[gi]
        mine = [r for v in of_group[gi] if (r := unit_results[v]) is not None]
        if len(mine) == 1:
            merged = mine[0]
        else:
            merged = merge_results(
                [replace(r, carry=to_host(r.carry) if group.return_state else None) for r in mine]
            )
        frame = group.to_frame(merged, group.members)
        with lock:
            results[gi], done[gi] = merged, frame
            for v in of_group[gi]:
                rows[v], fraction[v] = [], 1.0
            live["frame"] = None  # the next report builds it with this group's final rows

    def lane() -> None:
        while not stop():
            with lock:
                u = next(upcoming, None)
            if u is None:
                return
            _wait_or_cancel(compiling[u])
            trainee = trainees[u]
            try:
                result = trainee.train(
                    x_train,
                    y_train,
                    epochs=epochs,
                    batch_size=batch_size,
                    eval_sets=eval_sets,
                    on_progress=functools.partial(progress, u=u),
                    should_stop=stop,
                )
            except BaseException:
                halt.set()  # the other lanes end too; the error is raised below
                raise
            if keys[u] is not None:
                _COMPILED.add(keys[u])
            finish(u, result)
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


def _in_process_part(group: Group, positions: np.ndarray, lock: threading.Lock) -> Group:
    """Members ``positions`` of ``group`` as a part trained in this process (see
    :func:`lane_units`): its hook records into the group's at every epoch."""
    part = group.part(positions)
    if group.epoch_hook is None or part.epoch_hook is None:
        return part
    # only called, never cut further or sent away: the rest of the protocol is not needed
    hook = cast(EpochHook, _SharedPartHook(group.epoch_hook, part.epoch_hook, lock))
    return replace(part, epoch_hook=hook)


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
