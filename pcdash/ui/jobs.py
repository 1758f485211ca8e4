"""Background training jobs shared by every browser session of one server.

A job is keyed by its configuration: two sessions asking for the same sweep share one job (the
results are deterministic), different configurations train independently. At most
``max_running`` jobs train at once; the rest wait in order. Plain threads suffice: JAX releases
the GIL while compiled programs run, so the UI stays responsive.

A server can :meth:`JobManager.warm_up` in the background (load the default sweep's compiled
programs before anyone presses Train); jobs that start meanwhile wait for it rather than trace
the same programs a second time beside it.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pcdash.errors import PcdashError

Runner = Callable[[Callable[[Any], None], Callable[[], bool]], Any]


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
    first_update_s: float | None = None  # seconds from submit to the first partial result

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")

    def stop(self) -> None:
        self.stop_event.set()


class JobManager:
    def __init__(self, max_running: int = 2, keep: int = 64, warm_up_wait_s: float = 60.0):
        self.max_running = max_running
        self._slots = threading.BoundedSemaphore(max_running)
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._keep = keep
        self._warm = threading.Event()
        self._warm.set()  # set while no warm-up runs
        self.warm_up_wait_s = warm_up_wait_s
        self.warm_up_s: float | None = None  # how long the last warm-up took

    @property
    def warming(self) -> bool:
        return not self._warm.is_set()

    def warm_up(self, fn: Callable[[], Any], then: Callable[[Any], Any] | None = None) -> None:
        """Run ``fn`` (e.g. tracing and loading compiled programs) in a background thread, then
        ``then(fn())`` if given. Jobs that start while ``fn`` runs wait for it, at most
        ``warm_up_wait_s``: they would need the same programs, and two threads tracing side by
        side on a small machine only slow each other down (``then`` runs beside them). A failing
        warm-up is logged and otherwise ignored: it only saves time."""
        with self._lock:
            if self.warming:
                return
            self._warm.clear()

        def run() -> None:
            t0 = time.time()
            try:
                value = fn()
            except Exception:
                traceback.print_exc()
                return
            finally:
                self.warm_up_s = time.time() - t0
                self._warm.set()
            if then is not None:
                try:
                    then(value)
                except Exception:
                    traceback.print_exc()

        threading.Thread(target=run, daemon=True, name="pcdash-warm-up").start()

    def get(self, key: str) -> Job | None:
        with self._lock:
            return self._jobs.get(key)

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def running(self) -> int:
        return sum(j.status == "running" for j in self.jobs())

    def adopt(self, key: str, label: str, result: Any) -> Job:
        """Register an already finished result (e.g. loaded from disk) under ``key``."""
        job = Job(key, label, status="done", result=result, finished=time.time())
        with self._lock:
            self._jobs[key] = job
            self._trim()
        return job

    def submit(self, key: str, label: str, runner: Runner, *, on_done: Callable[[Any], None] | None = None,
               restart: bool = False) -> Job:
        """Start ``runner(on_progress, should_stop)`` in the background unless a job for ``key``
        is already active or finished (then that job is returned). ``restart`` retrains a
        finished, stopped or failed job."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and (job.active or (job.status == "done" and not restart)):
                return job
            job = Job(key, label)
            self._jobs[key] = job
            self._jobs.move_to_end(key)
            self._trim()
        thread = threading.Thread(target=self._run, args=(job, runner, on_done), daemon=True, name=f"pcdash-{key}")
        thread.start()
        return job

    def _trim(self) -> None:
        while len(self._jobs) > self._keep:
            oldest = next((k for k, j in self._jobs.items() if not j.active), None)
            if oldest is None:
                break
            del self._jobs[oldest]

    def _run(self, job: Job, runner: Runner, on_done) -> None:
        with self._slots:
            if job.stop_event.is_set():
                job.status, job.finished = "stopped", time.time()
                return
            job.status, job.started = "running", time.time()
            _log(f"{job.label}: started")
            self._warm.wait(self.warm_up_wait_s)

            def on_progress(p):
                if job.first_update_s is None and getattr(p, "frame", None) is not None and len(p.frame):
                    job.first_update_s = time.time() - job.submitted
                    _log(f"{job.label}: first results {job.first_update_s:.2f} s after submission")
                job.progress = p

            try:
                job.result = runner(on_progress, job.stop_event.is_set)
                # finished before the status: a page that sees the job end shows how long it took
                job.finished = time.time()
                job.status = "stopped" if getattr(job.result, "stopped", False) else "done"
                if on_done is not None and job.status == "done":
                    try:  # e.g. saving to disk: a failure there leaves the result in memory
                        on_done(job.result)
                    except Exception:
                        traceback.print_exc()
                        _log(f"{job.label}: trained, but keeping it failed (see above)")
            except PcdashError as err:
                job.status, job.error = "error", str(err)
            except Exception as err:  # shown on the page as one line; details go to the server log
                traceback.print_exc()
                job.status, job.error = "error", f"{type(err).__name__}: {err}"
            finally:
                job.finished = job.finished or time.time()
                _log(f"{job.label}: {job.status} after {job.finished - job.started:.1f} s"
                     + (f" ({job.error})" if job.error else ""))


def _log(message: str) -> None:
    """One line in the server's log per job event (start, end, failure)."""
    print(f"{time.strftime('%H:%M:%S')} pcdash job · {message}", file=sys.stderr, flush=True)
