"""The server's side of the dashboard: one job manager per process (shared by every browser
session, warmed up as the server starts), the garbage collector kept off the training
thread's back, and the id of a browser session."""

from __future__ import annotations

import gc
import os
import threading
import uuid
from collections.abc import Callable

import numpy as np
import pandas as pd
import streamlit as st

from pcdash.compile_cache import enable_compile_cache
from pcdash.engine import EpochRecord, TrainResult, compile_only
from pcdash.experiments.cre_config import CREConfig
from pcdash.experiments.cre_sweep import EVAL_METRICS, TRAIN_METRICS, precompile_cre
from pcdash.figures.cre import pareto, tradeoff_boxes, tradeoff_means, training_curves
from pcdash.jobs import JobManager
from pcdash.results import history_to_frame
from pcdash.runs import runs_dir
from pcdash.ui.page_runs import BY_NAME

MAX_RUNNING_JOBS = 2
MAX_QUEUED_JOBS = 8  # waiting jobs of the whole server; more submissions are refused
MAX_JOBS_PER_SESSION = 3  # training or waiting jobs one browser session may have
WARM_UP_CONFIG = (
    CREConfig()
)  # the Home page's default sweep: its programs load as the server starts
# Then the other pages' default runs (pcdash.ui.page_runs), those whose first Train would wait
# longest for its programs first.
PAGE_WARM_UP = (
    "latent_dim",
    "pc_vs_bp",
    "pc_algorithms",
    "energy",
    "autoencoder",
    "ood",
    "memory",
    "mcpc",
)
# ... once no job has run for this long. A task gives way to a job only between programs, and on
# an empty compilation cache one program can take seconds to compile: with Train pressed 2 s
# after the default sweep's part, the server trained that sweep in 7.9 s beside the Latent
# dimension page's compilation, and in 4.2 s with this wait (bench_responsiveness).
PAGE_WARM_UP_QUIET_S = 10.0


_manager: JobManager | None = None
_manager_lock = threading.Lock()


def job_manager() -> JobManager:
    """The server's jobs, one manager per process (shared by every browser session). Created
    as the server starts (``serve.py``) or else on the first page load, it starts warming up in
    the background: what the first Train of the default sweep would otherwise spend before it
    computes anything (loading the data; tracing, lowering and loading every program from the
    persistent compilation cache, :func:`~pcdash.experiments.cre_sweep.precompile_cre`; plotly's
    first figures). Then, once no job has trained or waited for :data:`PAGE_WARM_UP_QUIET_S`,
    every other page's default run (:data:`PAGE_WARM_UP`) the same way, so that its first Train
    computes at once too; a job that arrives meanwhile does not wait for these. Nothing is
    trained. ``PCDASH_WARMUP=0`` turns all of this off, ``PCDASH_WARMUP=default`` keeps the
    default sweep's part only."""
    global _manager
    with _manager_lock:
        if _manager is None:
            enable_compile_cache()
            freeze_heap()  # the modules imported so far; again after the warm-up
            _manager = JobManager(
                max_running=MAX_RUNNING_JOBS,
                max_queued=MAX_QUEUED_JOBS,
                journal=runs_dir() / ".jobs",
            )
            mode = os.environ.get("PCDASH_WARMUP", "1")
            if mode != "0":
                _manager.warm_up(
                    lambda: precompile_cre(WARM_UP_CONFIG),
                    then=warm_up_figures,
                    later=page_warm_ups() if mode != "default" else (),
                    quiet_s=PAGE_WARM_UP_QUIET_S,
                )
        return _manager


def page_warm_ups() -> list[tuple[str, Callable[[Callable[[], bool]], None]]]:
    """The warm-up tasks of :data:`PAGE_WARM_UP`'s default runs, for :meth:`JobManager.warm_up`:
    each runs its page's default under :func:`~pcdash.engine.compile_only` (every program
    traced and loaded, nothing trained), stopping early when ``busy`` says a job has come."""

    def task(name: str) -> Callable[[Callable[[], bool]], None]:
        def warm(busy: Callable[[], bool]) -> None:
            with compile_only():
                BY_NAME[name](should_stop=busy)
            if not busy():
                freeze_heap()  # what it loaded stays out of the collections after every rerun

        return warm

    return [(name, task(name)) for name in PAGE_WARM_UP]


def freeze_heap() -> None:
    """Leave what is alive now (modules, compiled programs, caches) out of later garbage
    collections. Streamlit collects garbage after every script run, fragment runs included
    (``runner.postScriptGC``); with JAX, pandas and plotly loaded a full collection takes ~0.15 s
    with the GIL held, and the progress bar reruns twice a second while a job trains, so the
    training thread would wait for the collector a third of the time. After this it takes ~1 ms."""
    gc.collect()
    gc.freeze()


def warm_up_figures(members: pd.DataFrame) -> None:
    """Build the trade-off figures once from a placeholder frame of ``members`` (plotly loads its
    code lazily, which would otherwise delay the first live figure), then :func:`freeze_heap`."""
    n = len(members)
    record = EpochRecord(
        1,
        {k: np.full(n, 0.5, np.float32) for k in TRAIN_METRICS},
        {},
        {s: {k: np.full(n, 0.5, np.float32) for k in EVAL_METRICS} for s in ("val", "test")},
        np.zeros(n, bool),
        0.0,
    )
    placeholder = history_to_frame(
        TrainResult([record], record.diverged, None, False, 0),
        members,
        train_metrics=TRAIN_METRICS,
        eval_metrics=EVAL_METRICS,
    )
    for build in (tradeoff_boxes, tradeoff_means, pareto, training_curves):
        build(placeholder)
    freeze_heap()


def session_id() -> str:
    """This browser session's id: the owner of the jobs it starts or joins."""
    return st.session_state.setdefault("_pcdash_session", uuid.uuid4().hex)
