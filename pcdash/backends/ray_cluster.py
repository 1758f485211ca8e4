"""The Ray backend: a sweep's groups cut into parts (:func:`pcdash.backends.parts.split_parts`),
each part one Ray task that runs :func:`pcdash.engine.train_members` on a worker, the results
merged back into the one result schema.

- The training data goes into Ray's object store once and is shared by every task.
- Progress: each task posts its steps and finished epochs to a small actor that the driver
  reads twice a second, so a page's plots grow epoch by epoch as on the local backend.
- Stop cancels every task (the workers are interrupted) and returns the epochs finished so far.
- A worker that dies (killed, out of memory, a node lost) is retried by Ray up to
  ``MAX_RETRIES`` times; a retried part starts again from its first epoch, and since a
  member's seed fixes everything about its training, the result is the same.

Every node needs pcdash installed (the same version as the driver) and Ray itself.
"""

from __future__ import annotations

import copy
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import ray

from pcdash.backends.parts import (
    MAX_PART_MEMBERS,
    PARTS_PER_WORKER,
    Part,
    merge_results,
    split_parts,
)
from pcdash.backends.ray_progress import Reporter
from pcdash.engine import EpochRecord, Progress, TrainResult
from pcdash.errors import ConfigError, PcdashError
from pcdash.sweep import EpochHook, Group, SweepProgress, SweepRun, to_host

MAX_RETRIES = 3  # per task, for system failures (a dead worker or node)
POLL_S = 0.5
REPORT_EVERY_S = 1.0  # a task posts its step count at most this often (epochs always)
CONNECT_TIMEOUT_S = 5.0


def connect(address: str | None) -> None:
    """Join the cluster at ``address`` (``host:port``, ``auto`` or ``ray://…``), or start a
    local Ray instance when it is None. A wrong address is a ConfigError within about
    ``CONNECT_TIMEOUT_S`` seconds, not a hang: Ray itself would retry for minutes."""
    if ray.is_initialized():
        return
    if address and "://" not in address and address != "auto":
        _check_gcs(address)
    logging.getLogger("ray").setLevel(logging.ERROR)  # no notices between the progress lines
    try:
        ray.init(
            address=address,
            include_dashboard=False,
            logging_level=logging.ERROR,
            log_to_driver=False,
            configure_logging=False,
        )
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"cannot join the Ray cluster at {address}: {first}") from err


def _check_gcs(address: str) -> None:
    """Something at ``address`` answers like a Ray head node (its GCS, a gRPC server: HTTP/2)."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"a Ray address is HOST:PORT (e.g. 10.0.0.5:6379), not {address!r}")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S) as sock:
            sock.settimeout(CONNECT_TIMEOUT_S)
            # HTTP/2 client preface and an empty SETTINGS frame; a gRPC server answers with a
            # SETTINGS frame (type 4) of its own.
            sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))
            head = sock.recv(9)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise ConfigError(
            f"no Ray cluster answers at {address} ({reason.lower()}); start one with "
            "`ray start --head`, or leave out --address for a local one"
        ) from None
    if len(head) < 4 or head[3] != 4:
        raise ConfigError(
            f"{address} answers, but it is not a Ray head node (its GCS port, 6379 by default)"
        )


def train_part(
    group: Group, data: tuple, epochs: int, batch_size: int, reporter, index: int
) -> tuple[TrainResult, EpochHook | None]:
    """One Ray task: train the part ``group`` (see :meth:`pcdash.sweep.Group.part`) and return
    its result (with the trained state only when ``group.return_state``) and its epoch hook,
    which holds what it recorded."""
    from pcdash.compile_cache import enable_compile_cache, release_programs

    enable_compile_cache()
    release_programs()  # a worker process is reused for task after task
    x_train, y_train, eval_sets = data
    hook = copy.deepcopy(group.epoch_hook)  # writable: Ray hands arguments' arrays over read-only
    attempt = uuid.uuid4().hex
    # Waited for, so that the driver knows of every attempt that trains (and counts re-runs).
    ray.get(
        reporter.post.remote(("start", index, attempt, os.getpid(), ray.util.get_node_ip_address()))
    )
    last = {"t": 0.0, "epochs": 0}

    def progress(p: Progress) -> None:
        now = time.monotonic()
        if len(p.history) > last["epochs"]:
            last["epochs"] = len(p.history)
            reporter.post.remote(("epoch", index, attempt, p.steps_done, p.history[-1]))
        elif now - last["t"] >= REPORT_EVERY_S:
            reporter.post.remote(("steps", index, attempt, p.steps_done, None))
        else:
            return
        last["t"] = now

    result = group.train(
        x_train,
        y_train,
        epochs=epochs,
        batch_size=batch_size,
        eval_sets=eval_sets,
        on_progress=progress,
        epoch_hook=hook,
    )
    return replace(result, carry=to_host(result.carry) if group.return_state else None), hook


@dataclass
class _PartState:
    part: Part
    attempt: str | None = None
    starts: int = 0
    pid: int | None = None
    node: str | None = None
    steps: int = 0
    records: list[EpochRecord] = field(default_factory=list)
    result: TrainResult | None = None
    hook: EpochHook | None = None

    def take(self, event: tuple) -> None:
        kind, _, attempt, *rest = event
        if kind == "start":
            self.attempt, self.starts, self.steps, self.records = attempt, self.starts + 1, 0, []
            self.pid, self.node = rest
        elif attempt == self.attempt and self.result is None:  # ignore a lost attempt's last words
            self.steps, record = rest
            if record is not None:
                self.records.append(record)


class RayBackend:
    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        parts_per_worker: int = PARTS_PER_WORKER,
        max_members: int | None = MAX_PART_MEMBERS,
    ):
        self.address = address
        self.parts_per_worker = parts_per_worker
        self.max_members = max_members

    def describe(self) -> str:
        return f"the Ray cluster at {self.address}" if self.address else "a local Ray instance"

    def run(
        self,
        groups: list[Group],
        x_train: np.ndarray,
        y_train: np.ndarray,
        *,
        eval_sets: Mapping[str, tuple[np.ndarray, np.ndarray]],
        epochs: int,
        batch_size: int,
        on_progress: Callable[[SweepProgress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> SweepRun:
        """Train every group on the cluster; the same contract as
        :func:`pcdash.sweep.run_groups`."""
        t0 = time.perf_counter()
        connect(self.address)
        workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        parts = split_parts(
            [len(g) for g in groups],
            workers,
            parts_per_worker=self.parts_per_worker,
            max_members=self.max_members,
        )
        states = [_PartState(p) for p in parts]
        self._seen: tuple | None = None
        self._live = pd.DataFrame()
        data = ray.put(
            (
                np.asarray(x_train),
                np.asarray(y_train),
                {k: (np.asarray(v[0]), np.asarray(v[1])) for k, v in eval_sets.items()},
            )
        )
        reporter: Any = ray.remote(num_cpus=0)(Reporter).remote()  # an actor handle
        task = ray.remote(num_cpus=1, max_retries=MAX_RETRIES, retry_exceptions=False)(train_part)
        refs = {
            task.remote(groups[p.group].part(p.positions), data, epochs, batch_size, reporter, i): i
            for i, p in enumerate(parts)
        }
        steps_total = epochs * (len(x_train) // batch_size) * sum(len(g) for g in groups)
        pending, stopped, mail = list(refs), False, reporter.drain.remote()
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=len(pending), timeout=POLL_S)
                for ref in done:
                    state = states[refs[ref]]
                    state.result, state.hook = _get(ref, state)
                if ray.wait([mail], timeout=0)[0] or not pending:  # never wait for the mailbox
                    for event in ray.get(mail):
                        states[event[1]].take(event)
                    mail = reporter.drain.remote()
                    if not pending:  # the drain above may predate a re-run's start: drain once more
                        for event in ray.get(mail):
                            states[event[1]].take(event)
                if should_stop is not None and should_stop() and pending:
                    for ref in pending:
                        ray.cancel(ref, force=True)
                    stopped, pending = True, []
                if on_progress is not None:
                    on_progress(self._progress(groups, states, steps_total, epochs, t0))
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        finally:
            ray.kill(reporter)
        return self._collect(groups, states, stopped, t0)

    def _progress(self, groups, states, steps_total, epochs, t0) -> SweepProgress:
        done_steps = sum(
            len(s.part) * (s.steps if s.result is None else s.result.steps_per_epoch * epochs)
            for s in states
        )
        fraction = done_steps / max(steps_total, 1)
        elapsed = time.perf_counter() - t0
        finished = sum(s.result is not None for s in states)
        running = sum(s.result is None and s.attempt is not None for s in states)
        retries = sum(max(0, s.starts - 1) for s in states)
        message = (
            f"on {self.describe()} · parts {finished}/{len(states)} done, {running} running"
            + (f" · {retries} re-run after a lost worker" if retries else "")
        )
        extras = {
            "backend": self.describe(),
            "parts": len(states),
            "parts_done": finished,
            "retries": retries,
            "workers": {
                i: (s.node, s.pid, s.steps)
                for i, s in enumerate(states)
                if s.result is None and s.pid
            },
        }
        seen = tuple((len(s.records), s.result is not None) for s in states)
        if seen != self._seen:  # a new epoch somewhere: rebuild the live frame
            self._seen, self._live = seen, _frame(groups, states)
        return SweepProgress(
            fraction,
            elapsed,
            elapsed / fraction * (1 - fraction) if fraction > 0 else None,
            self._live,
            message,
            extras,
        )

    def _collect(self, groups, states, stopped, t0) -> SweepRun:
        results = []
        for g, group in enumerate(groups):
            mine = sorted(
                (s for s in states if s.part.group == g), key=lambda s: s.part.positions[0]
            )
            if any(s.result is None for s in mine):
                break  # results hold the leading groups that finished completely
            for s in mine:
                if group.epoch_hook is not None and s.hook is not None:
                    group.epoch_hook.merge(s.hook)
            results.append(merge_results([s.result for s in mine]))
        retries = sum(max(0, s.starts - 1) for s in states)
        extras = {"backend": self.describe(), "parts": len(states), "retries": retries}
        return SweepRun(_frame(groups, states), results, stopped, time.perf_counter() - t0, extras)


def _get(ref, state: _PartState):
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as err:
        if isinstance(err.cause, PcdashError):
            raise err.cause from None
        raise
    except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError) as err:
        raise PcdashError(
            f"a Ray worker was lost {MAX_RETRIES + 1} times while training part "
            f"{state.part.group}:{state.part.positions[0]}…; giving up ({type(err).__name__})"
        ) from err


def _frame(groups: list[Group], states: list[_PartState]) -> pd.DataFrame:
    """Tidy rows of every epoch finished so far, in the local backend's order (group, epoch,
    split, member)."""
    frames = []
    for g, group in enumerate(groups):
        mine = sorted((s for s in states if s.part.group == g), key=lambda s: s.part.positions[0])
        parts = []
        for s in mine:
            result = s.result or TrainResult(s.records, np.zeros(0, bool), None, False, 0)
            if result.history:
                parts.append(
                    group.to_frame(
                        result, group.members.iloc[s.part.positions].reset_index(drop=True)
                    )
                )
        if parts:
            frame = pd.concat(parts, ignore_index=True)
            split_rank = {name: i for i, name in enumerate(dict.fromkeys(frame["split"]))}
            order = np.lexsort(
                (frame["split"].map(split_rank).to_numpy(), frame["epoch"].to_numpy())
            )
            frames.append(frame.iloc[order].reset_index(drop=True))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
