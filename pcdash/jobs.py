"""Background training jobs shared by every browser session of one server.

A job is keyed by its configuration: two sessions asking for the same sweep share one job (the
results are deterministic), different configurations train independently. At most
``max_running`` jobs train at once, each in its own thread (JAX releases the GIL while
compiled programs run, so the UI stays responsive); at most ``max_queued`` more wait in order,
without a thread, and a submission beyond that is refused with a :class:`QueueFull` message.

A job belongs to the sessions that started or joined it (``owners``): only they can stop it,
and it stops when the last of them does (:meth:`JobManager.stop`). A job without owners (one
started from a script) can be stopped by its caller.

With a ``journal`` folder, every job that has not finished (or whose result could not be
kept) has a small file there; after a restart :meth:`JobManager.lost` tells a page that the
job of its configuration was lost with the server.

A server can :meth:`JobManager.warm_up` in the background (load the default sweep's compiled
programs before anyone presses Train); jobs that start meanwhile wait for it rather than trace
the same programs a second time beside it. Later warm-up tasks (the other pages' default runs)
start only once no job has run for a while, and give way to a job that arrives.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pcdash.errors import PcdashError

Runner = Callable[[Callable[[Any], None], Callable[[], bool]], Any]
LOST_KEEP_S = 7 * 86400.0  # journal entries of lost jobs older than this are dropped


class QueueFull(PcdashError):
    """The server's queue of waiting jobs is full."""


@dataclass
class Job:
    key: str
    label: str
    status: str = "queued"  # queued | running | done | stopped | error
    progress: Any = None  # the latest SweepProgress
    result: Any = None
    error: str | None = None
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)
    # notified when the job's first results come and when it ends (see wait_for)
    changed: threading.Condition = field(default_factory=threading.Condition, repr=False)
    first_update_s: float | None = None  # seconds from submit to the first partial result
    owners: set[str] = field(default_factory=set)  # sessions that started or joined it
    save_error: str | None = None  # trained, but keeping the result (on_done) failed
    origin: dict | None = (
        None  # a shipped, precomputed result: its stamp (when, pcdash version, commit)
    )

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")

    @property
    def has_results(self) -> bool:
        """Whether its progress carries rows to draw (the first finished epoch's or later)."""
        frame = getattr(self.progress, "frame", None)
        return frame is not None and len(frame) > 0

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until ``predicate()`` holds, checked now and whenever the job notifies (its
        first results, its end), for at most ``timeout`` seconds; returns the last check."""
        with self.changed:
            return self.changed.wait_for(predicate, timeout)

    def notify(self) -> None:
        with self.changed:
            self.changed.notify_all()

    def stop(self) -> None:
        """Ask the runner to stop (a queued job is skipped when its turn comes); pages stop
        through :meth:`JobManager.stop`, which checks ownership and ends a queued job at once."""
        self.stop_event.set()


@dataclass
class _Queued:
    job: Job
    runner: Runner
    on_done: Callable[[Any], None] | None


class JobManager:
    def __init__(
        self,
        max_running: int = 2,
        keep: int = 64,
        warm_up_wait_s: float = 60.0,
        *,
        max_queued: int = 8,
        journal: Path | None = None,
    ):
        self.max_running = max_running
        self.max_queued = max_queued
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._queue: deque[_Queued] = deque()
        self._running = 0
        self._lock = threading.Lock()
        self._keep = keep
        self._idle = threading.Condition(self._lock)  # notified when a job ends
        self._quiet_since = time.time()  # when the last job ended (or the warm-up's first part)
        self._warm = threading.Event()
        self._warm.set()  # set while no warm-up runs
        self.warm_up_wait_s = warm_up_wait_s
        self.warm_up_s: float | None = None  # how long the last warm-up took
        self._journal = journal
        self._lost: dict[str, dict] = self._read_journal() if journal is not None else {}

    @property
    def warming(self) -> bool:
        return not self._warm.is_set()

    def busy(self) -> bool:
        """Whether a job trains or waits."""
        with self._lock:
            return self._running > 0 or bool(self._queue)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no job trains or waits (at most ``timeout`` seconds); whether it is so."""
        with self._idle:
            return self._idle.wait_for(lambda: not (self._running or self._queue), timeout)

    def wait_quiet(self, seconds: float) -> None:
        """Block until no job has trained or waited for ``seconds``: asleep on the condition a
        job's end notifies while one trains or waits, else until the quiet time would be over
        (then checked again: a job may have come and gone meanwhile)."""
        with self._idle:
            while True:
                busy = self._running or self._queue
                left = seconds - (time.time() - self._quiet_since)
                if not busy and left <= 0:
                    return
                self._idle.wait(None if busy else left)

    def warm_up(
        self,
        fn: Callable[[], Any],
        then: Callable[[Any], Any] | None = None,
        later: Sequence[tuple[str, Callable[[Callable[[], bool]], Any]]] = (),
        quiet_s: float = 0.0,
    ) -> None:
        """Run ``fn`` (e.g. tracing and loading compiled programs) in a background thread, then
        ``then(fn())`` if given. Jobs that start while ``fn`` runs wait for it, at most
        ``warm_up_wait_s``: they would need the same programs, and two threads tracing side by
        side on a small machine only slow each other down (``then`` runs beside them).

        Then each ``(name, task)`` of ``later`` in turn, ``task(busy)``, in the same thread and
        only once no job has trained or waited for ``quiet_s`` seconds (counted from the end of
        ``then`` or of the last job): jobs do not wait for these. A task polls ``busy`` and
        returns early once a job has come, which it can only do between its steps (a program
        being compiled is finished first); it runs again, from the start, when the server is
        quiet again (what it got ready stays ready, so that costs little). A failing warm-up
        task is logged and otherwise ignored: it only saves time."""
        with self._lock:
            if self.warming:
                return
            self._warm.clear()

        def run() -> None:
            t0 = time.time()
            failed = True
            try:
                value = fn()
                failed = False
            except Exception:
                traceback.print_exc()
                return
            finally:
                self.warm_up_s = time.time() - t0
                self._warm.set()
                _log(f"{'failed' if failed else 'done'} after {self.warm_up_s:.1f} s", "warm-up")
            if then is not None:
                try:
                    then(value)
                except Exception:
                    traceback.print_exc()
            with self._lock:
                self._quiet_since = max(self._quiet_since, time.time())
            for name, task in later:
                self._when_quiet(name, task, quiet_s)

        threading.Thread(target=run, daemon=True, name="pcdash-warm-up").start()

    def _when_quiet(
        self, name: str, task: Callable[[Callable[[], bool]], Any], quiet_s: float
    ) -> None:
        """Run ``task(busy)`` once no job has trained or waited for ``quiet_s``, again after
        each job that cut it short, until it has once run to its end undisturbed."""
        while True:
            self.wait_quiet(quiet_s)
            t0 = time.time()
            try:
                task(self.busy)
            except Exception:
                traceback.print_exc()
                return
            if not self.busy():
                _log(f"{name} ready after {time.time() - t0:.1f} s", "warm-up")
                return
            _log(f"{name} gave way to a job after {time.time() - t0:.1f} s", "warm-up")

    def get(self, key: str) -> Job | None:
        with self._lock:
            return self._jobs.get(key)

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def running(self) -> int:
        return sum(j.status == "running" for j in self.jobs())

    def queued(self) -> list[Job]:
        """The waiting jobs, first in line first."""
        with self._lock:
            return [q.job for q in self._queue]

    def adopt(self, key: str, label: str, result: Any, origin: dict | None = None) -> Job:
        """Register an already finished result (e.g. loaded from disk) under ``key``; ``origin``
        is the stamp of a shipped, precomputed result."""
        job = Job(key, label, status="done", result=result, finished=time.time(), origin=origin)
        with self._lock:
            self._jobs[key] = job
            self._trim()
        return job

    def forget(self, key: str) -> bool:
        """Drop a finished job from memory (e.g. its saved run was deleted); an active job stays."""
        with self._lock:
            job = self._jobs.get(key)
            if job is None or job.active:
                return False
            del self._jobs[key]
            return True

    def submit(
        self,
        key: str,
        label: str,
        runner: Runner,
        *,
        on_done: Callable[[Any], None] | None = None,
        restart: bool = False,
        owner: str | None = None,
    ) -> Job:
        """Start ``runner(on_progress, should_stop)`` in the background unless a job for ``key``
        is already active or finished (then that job is returned, joined by ``owner``).
        ``restart`` retrains a finished, stopped or failed job.

        Raises:
            QueueFull: ``max_running`` jobs train and ``max_queued`` wait already.
        """
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and (job.active or (job.status == "done" and not restart)):
                if owner is not None and job.active:
                    job.owners.add(owner)
                return job
            if self._running >= self.max_running and len(self._queue) >= self.max_queued:
                raise QueueFull(
                    f"the server is busy: {self._running} jobs are training and {len(self._queue)} "
                    "are waiting, the most it queues; try again when one has finished"
                )
            job = Job(key, label, owners={owner} if owner is not None else set())
            self._jobs[key] = job
            self._jobs.move_to_end(key)
            self._queue.append(_Queued(job, runner, on_done))
            self._lost.pop(key, None)
            self._trim()
            self._note(job)
            self._dispatch()
        return job

    def join(self, job: Job, owner: str) -> None:
        """Let session ``owner`` follow (and so stop) an active ``job``."""
        with self._lock:
            if job.active:
                job.owners.add(owner)

    def stop(self, job: Job, owner: str | None = None) -> str:
        """Stop ``job`` on behalf of session ``owner``: ``"stopped"``, or ``"left"`` when other
        sessions still follow it (it goes on for them).

        Raises:
            PcdashError: ``owner`` neither started nor joined the job.
        """
        with self._lock:
            if owner is not None:
                if owner not in job.owners:
                    raise PcdashError("only a session that started or joined this job can stop it")
                if len(job.owners) > 1:
                    job.owners.discard(owner)
                    return "left"
            job.stop_event.set()
            for i, item in enumerate(self._queue):
                if item.job is job:
                    del self._queue[i]
                    job.status, job.finished = "stopped", time.time()
                    job.notify()
                    self._unnote(job)
                    self._quiet_since = time.time()
                    self._idle.notify_all()
                    break
        return "stopped"

    def lost(self, key: str) -> dict | None:
        """What the journal says of a job for ``key`` that a previous server process started
        and never finished (``label``, ``submitted``), or None."""
        with self._lock:
            if key in self._jobs:
                return None
            return self._lost.get(key)

    # -------------------------------------------------------------------------- internals

    def _trim(self) -> None:
        while len(self._jobs) > self._keep:
            oldest = next((k for k, j in self._jobs.items() if not j.active), None)
            if oldest is None:
                break
            del self._jobs[oldest]

    def _dispatch(self) -> None:
        """Start queued jobs while slots are free (with the lock held)."""
        while self._running < self.max_running and self._queue:
            item = self._queue.popleft()
            self._running += 1
            item.job.status = "running"  # before the thread starts: no second dispatch of it
            threading.Thread(
                target=self._run, args=(item,), daemon=True, name=f"pcdash-{item.job.key}"
            ).start()

    def _run(self, item: _Queued) -> None:
        job, runner, on_done = item.job, item.runner, item.on_done
        try:
            if job.stop_event.is_set():
                job.status, job.finished = "stopped", time.time()
                job.notify()
                self._unnote(job)
                return
            job.started = time.time()
            _log(f"{job.label}: started")
            self._warm.wait(self.warm_up_wait_s)
            self._train(job, runner, on_done)
        finally:
            with self._lock:
                self._running -= 1
                self._dispatch()
                self._quiet_since = time.time()
                self._idle.notify_all()

    def _train(self, job: Job, runner: Runner, on_done) -> None:
        def on_progress(p):
            job.progress = p
            if job.first_update_s is None and job.has_results:
                job.first_update_s = time.time() - job.submitted
                _log(f"{job.label}: first results {job.first_update_s:.2f} s after submission")
                job.notify()  # after the progress is set: a waiter checks it

        try:
            job.result = runner(on_progress, job.stop_event.is_set)
            # finished before the status: a page that sees the job end shows how long it took
            job.finished = time.time()
            stopped = bool(getattr(job.result, "stopped", False))
            if on_done is not None and not stopped:
                try:  # e.g. saving to disk: a failure there leaves the result in memory
                    on_done(job.result)
                except Exception as err:
                    traceback.print_exc()
                    job.save_error = (
                        f"{type(err).__name__}: {err}"
                        if not isinstance(err, PcdashError)
                        else str(err)
                    )
                    _log(f"{job.label}: trained, but keeping it failed (see above)")
            job.status = "stopped" if stopped else "done"
        except PcdashError as err:
            job.status, job.error = "error", str(err)
        except Exception as err:  # shown on the page as one line; details go to the server log
            traceback.print_exc()
            job.status, job.error = "error", f"{type(err).__name__}: {err}"
        finally:
            job.finished = job.finished or time.time()
            started = job.started if job.started is not None else job.finished  # set by _run
            if job.save_error is None:
                self._unnote(job)
            _log(
                f"{job.label}: {job.status} after {job.finished - started:.1f} s"
                + (f" ({job.error})" if job.error else "")
            )
            job.notify()

    def _journal_file(self, key: str) -> Path | None:
        from pcdash.runs import KEY

        if self._journal is None or not KEY.fullmatch(key):
            return None
        return self._journal / f"{key}.json"

    def _note(self, job: Job) -> None:
        file = self._journal_file(job.key)
        if file is None:
            return
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            tmp = file.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(
                json.dumps({"label": job.label, "submitted": job.submitted, "pid": os.getpid()})
            )
            os.replace(tmp, file)
        except OSError:
            traceback.print_exc()

    def _unnote(self, job: Job) -> None:
        file = self._journal_file(job.key)
        if file is not None:
            try:
                file.unlink(missing_ok=True)
            except OSError:
                traceback.print_exc()

    def _read_journal(self) -> dict[str, dict]:
        """Jobs that other, no longer running, processes left unfinished."""
        from pcdash.files import pid_alive

        lost: dict[str, dict] = {}
        if self._journal is None:
            return lost
        try:
            files = sorted(self._journal.glob("*.json"))
        except OSError:
            return lost
        for file in files:
            try:
                entry = json.loads(file.read_text())
                pid, submitted = int(entry["pid"]), float(entry["submitted"])
                label = str(entry["label"])
            except (OSError, ValueError, KeyError, TypeError):
                file.unlink(missing_ok=True)
                continue
            if pid == os.getpid() or pid_alive(pid):
                continue
            if time.time() - submitted > LOST_KEEP_S:
                file.unlink(missing_ok=True)
                continue
            lost[file.stem] = {"label": label, "submitted": submitted}
        return lost


def _log(message: str, what: str = "job") -> None:
    """One line in the server's log per job event (start, end, failure) or warm-up step."""
    print(f"{time.strftime('%H:%M:%S')} pcdash {what} · {message}", file=sys.stderr, flush=True)
