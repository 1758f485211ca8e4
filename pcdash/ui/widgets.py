"""Shared widgets: the CRE sidebar, the job panel (progress, ETA, Stop, live updates) and
figure/CSV export. Pages call these and draw what the library returns."""

from __future__ import annotations

import gc
import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Hashable
from dataclasses import replace
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from pcdash.backends import RAY_ADDRESS_ENV, backend_from_env
from pcdash.compile_cache import enable_compile_cache
from pcdash.cre.config import CREConfig
from pcdash.cre.models import ARCH_DESCRIPTIONS, ARCHS, FIXED_LATENT, INITS
from pcdash.cre.sweep import (
    EVAL_METRICS,
    TRAIN_METRICS,
    load_cre_output,
    precompile_cre,
    run_cre_sweep,
    save_cre_output,
)
from pcdash.data import DATASETS, DataError, dataset_available, describe, load_dataset
from pcdash.engine import EpochRecord, TrainResult
from pcdash.errors import PcdashError
from pcdash.figures.cre import empty_figure, pareto, tradeoff_boxes, tradeoff_means, training_curves
from pcdash.limits import estimate
from pcdash.paper.cre_notes import differences, figure_line
from pcdash.parsing import parse_float_list, parse_int_list
from pcdash.results import final_rows, history_to_frame
from pcdash.runs import asset_info, runs_dir
from pcdash.ui import state
from pcdash.ui.jobs import Job, JobManager

MAX_RUNNING_JOBS = 2
MAX_QUEUED_JOBS = 8  # waiting jobs of the whole server; more submissions are refused
MAX_JOBS_PER_SESSION = 3  # training or waiting jobs one browser session may have
DEFAULT = CREConfig()
EXPORT_FORMATS = ("png", "svg")
WARMING = "(Loading compiled programs in the background, once per server start…)"
LIVE_REDRAW_S = 2.0  # live figures are redrawn at most this often (the first epoch's at once)
T = TypeVar("T")


_manager: JobManager | None = None
_manager_lock = threading.Lock()


def job_manager() -> JobManager:
    """The server's jobs, one manager per process (shared by every browser session). Created
    as the server starts (``serve.py``) or else on the first page load, it starts warming up in
    the background: what the first Train of the default sweep would otherwise spend before it
    computes anything (loading the data; tracing, lowering and loading every program from the
    persistent compilation cache, :func:`~pcdash.cre.sweep.precompile_cre`; plotly's first
    figures). Nothing is trained. ``PCDASH_WARMUP=0`` turns this off."""
    global _manager
    with _manager_lock:
        if _manager is None:
            enable_compile_cache()
            freeze_heap()  # the modules imported so far; again after the warm-up
            _manager = JobManager(max_running=MAX_RUNNING_JOBS, max_queued=MAX_QUEUED_JOBS,
                                  journal=runs_dir() / ".jobs")
            if os.environ.get("PCDASH_WARMUP", "1") != "0":
                _manager.warm_up(lambda: precompile_cre(DEFAULT), then=warm_up_figures)
        return _manager


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
        1, {k: np.full(n, 0.5, np.float32) for k in TRAIN_METRICS}, {},
        {s: {k: np.full(n, 0.5, np.float32) for k in EVAL_METRICS} for s in ("val", "test")}, np.zeros(n, bool), 0.0,
    )
    placeholder = history_to_frame(TrainResult([record], record.diverged, None, False, 0), members,
                                   train_metrics=TRAIN_METRICS, eval_metrics=EVAL_METRICS)
    for build in (tradeoff_boxes, tradeoff_means, pareto, training_curves):
        build(placeholder)
    freeze_heap()


def memo(key: Hashable, source: object, build: Callable[[], T]) -> T:
    """``build()``, kept in the session for as long as ``source`` stays the same object.

    Result frames are replaced, never changed (a live sweep hands over a new frame when epochs
    finish). Pages build their figures through this, so a rerun that leaves the frame as it was
    (a control touched, a redraw of the finished sweep) builds no figure again: figure building
    holds the GIL that a training thread needs between its chunks.
    """
    store = st.session_state.setdefault("_pcdash_memo", {})
    hit = store.get(key)
    if hit is not None and hit[0] is source:
        return hit[1]
    value = build()
    store[key] = (source, value)
    return value


def dataset_label(name: str) -> str:
    return name if dataset_available(name) else f"{name} (not downloaded)"


def cre_sidebar(*, grids: bool = True) -> CREConfig | None:
    """The shared CRE controls, bound to the URL. Returns a valid config, or None after
    showing what is wrong. ``grids=False``: the λ grid and dim(z) are left out (a page that sets
    its own, in view, replaces them)."""
    sb = st.sidebar
    sb.header("Sweep")
    values: dict[str, Any] = {}
    values["dataset"] = state.select("Dataset", "dataset", DATASETS, DEFAULT.dataset, format_func=dataset_label,
                                     help="digits is bundled and works offline", container=sb)
    values["arch"] = state.select("Architecture", "arch", ARCHS, DEFAULT.arch, container=sb,
                                  help="cnn and vit are the authors' models; cnn-z and vit-z add a dense dim(z)")
    sb.caption(ARCH_DESCRIPTIONS[values["arch"]])
    fixed = values["arch"] in FIXED_LATENT
    if grids and not fixed:
        values["dims"] = state.text("Latent dims dim(z)", "dims", ",".join(map(str, DEFAULT.latent_dims)),
                                    help="comma-separated, e.g. 2,3,8", container=sb)
    if grids:
        values["lams"] = state.text("λ grid", "lams", ",".join(f"{v:g}" for v in DEFAULT.lambdas),
                                    help="comma-separated values in [0, 1]", container=sb)
    values["seeds"] = state.number("Seeds", "seeds", DEFAULT.seeds, min_value=1, max_value=20, container=sb)
    values["epochs"] = state.number("Epochs", "epochs", DEFAULT.epochs, min_value=1, max_value=500, container=sb)
    with sb.expander("Optimisation"):
        values["lr"] = state.number("Learning rate (Adam)", "lr", DEFAULT.lr, min_value=1e-5, max_value=1.0,
                                    fmt_str="%.4g", step=1e-4, container=st)
        values["batch"] = state.number("Batch size", "batch", DEFAULT.batch_size, min_value=1, max_value=4096, container=st)
        values["init"] = state.select("Initialisation", "init", INITS, DEFAULT.init, container=st,
                                      help="authors: as in the authors' code (PyTorch's default; Xavier for the ViT); active-latent: latent units "
                                           "start active and the classifier's output at zero (no dead ReLU latents)")
        values["latent"] = state.select("Latent activation", "latent", ("relu", "linear"), DEFAULT.latent_activation,
                                        help="ReLU as in the reference code; linear lets z go negative", container=st)
    state.sync_url(values)
    state.report_bad_url_values()
    try:
        config = CREConfig(
            dataset=values["dataset"], arch=values["arch"],
            latent_dims=parse_int_list(values["dims"], "latent dims") if "dims" in values else DEFAULT.latent_dims,
            lambdas=parse_float_list(values["lams"], "λ grid") if "lams" in values else DEFAULT.lambdas,
            seeds=int(values["seeds"]), epochs=int(values["epochs"]), batch_size=int(values["batch"]),
            lr=float(values["lr"]), latent_activation=values["latent"], init=values["init"],
        ).validate()
    except PcdashError as err:
        state.error(err, sb)
        state.error(f"The sweep set in the sidebar cannot run: {err}")
        return None
    if fixed:
        sb.caption(f"dim(z) = {config.latent_dims[0]} on {config.dataset}: fixed by the architecture "
                   f"(use {values['arch']}-z to choose it)")
    sb.caption(describe(config.dataset))
    if grids:
        sb.caption(f"{config.n_members} models · one compiled program per dim(z) · {cost_summary(config)}")
    return config


def cost_summary(config: Any) -> str:
    """``"≈ 40 MB memory, ≈ 2 min by estimate"`` for a validated configuration."""
    cost = estimate(config)
    return "" if cost is None else f"{cost.summary()} by estimate"


def session_id() -> str:
    """This browser session's id: the owner of the jobs it starts or joins."""
    return st.session_state.setdefault("_pcdash_session", uuid.uuid4().hex)


def _train_size(config: CREConfig) -> int | None:
    if not dataset_available(config.dataset):
        return None
    try:
        return len(load_dataset(config.dataset, val_fraction=config.val_fraction).x_train)
    except (PcdashError, DataError):
        return None


def paper_note(page: str, config: CREConfig) -> None:
    """Which figure of the paper the page shows and how this configuration differs from the
    paper's setting (text from :mod:`pcdash.paper.cre_notes`)."""
    diffs = differences(page, config, _train_size(config))
    text = figure_line(page)
    if diffs:
        text += "  \nDiffers from the paper: " + "; ".join(diffs) + "."
    st.caption(text)


def dead_units_warning(frame: pd.DataFrame) -> None:
    """A warning naming the CRE models whose latent has units that are zero for every test
    example (a dead ReLU unit gets no gradient and stays dead)."""
    if "dead_latent_units" not in frame or "model" not in frame:
        return
    rows = final_rows(frame[frame["model"] == "cre"], "test").dropna(subset=["dead_latent_units"])
    dead = rows[rows["dead_latent_units"] > 0]
    if dead.empty:
        return
    names = ", ".join(f"λ = {r.lam:g} seed {int(r.seed)} ({int(r.dead_latent_units)} of {int(r.latent_dim)})"
                      for r in dead.itertuples())
    st.warning(f"{len(dead)} of {len(rows)} models have dead latent units, zero for every test image: {names}. "
               "Such a model uses fewer latent dimensions than dim(z); see `dead_latent_units` in the data.")


def saved_job(key: str, label: str, load: Callable[[], Any]) -> Job | None:
    """The job under ``key``: from memory, else adopted from what ``load()`` finds on disk
    (a damaged saved run is reported on the page), else None (saying so if the job of this
    configuration was lost when the server stopped)."""
    manager = job_manager()
    job = manager.get(key)
    if job is None:
        try:
            saved = load()
        except PcdashError as err:
            state.error(err)
            saved = None
        except Exception as err:  # a run whose files check out but whose content a loader cannot use
            traceback.print_exc()
            state.error(f"saved run {key} cannot be used ({type(err).__name__}: {err}); delete it on the Runs page "
                        "(or train it again)")
            saved = None
        if saved is not None:
            job = manager.adopt(key, label, saved, origin=asset_info(key))
        else:
            lost = manager.lost(key)
            if lost is not None:
                when = time.strftime("%Y-%m-%d %H:%M", time.localtime(lost["submitted"]))
                state.warning(f"This configuration was training (started {when}) when the server stopped, and its "
                              "results were lost. Press Train to run it again.")
    return job


def cre_result(config: CREConfig) -> Job | None:
    """The finished (or live) job for ``config``: from memory, else from disk, else None."""
    return saved_job(config.key(), "CRE sweep", lambda: load_cre_output(config))


def start_cre_job(config: CREConfig, *, restart: bool = False) -> Job:
    backend = backend_from_env()  # a Ray cluster when $PCDASH_RAY_ADDRESS is set

    def runner(on_progress, should_stop):
        return run_cre_sweep(config, on_progress=on_progress, should_stop=should_stop, backend=backend)

    return job_manager().submit(config.key(), f"CRE sweep · {config.dataset} · {config.n_members} models", runner,
                                on_done=save_cre_output, restart=restart)


def cluster_note() -> None:
    """Says so when jobs train on a Ray cluster ($PCDASH_RAY_ADDRESS) rather than here."""
    address = os.environ.get(RAY_ADDRESS_ENV, "").strip()
    if address:
        st.caption(f"Jobs train on the Ray cluster at `{address}` (set by ${RAY_ADDRESS_ENV}).")


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "estimating…"
    return f"{seconds:.0f} s left" if seconds < 120 else f"{seconds / 60:.1f} min left"


def job_panel(job: Job | None, *, start: Callable[[bool], Job], body: Callable[[Any, bool], None],
              train_label: str = "Train", key: str = "job", placeholder: str | None = None) -> None:
    """Train/Stop buttons, a progress bar with ETA, and ``body(result_or_progress, live)``.

    While the job trains, only the progress bar polls (a fragment, every quarter second until
    the first figures, then every second). When it sees the first epochs, new epochs at least
    ``LIVE_REDRAW_S`` after the last drawing, or the end, it redraws the page: ``body`` runs a
    few times per sweep rather than twice a second, so building the figures, and the browser
    drawing them, leave the CPU to the training.

    ``placeholder``: before the first Train, an empty chart with this text where the figures
    will appear. Besides showing where to look, it makes the browser load its chart code (several
    MB of plotly.js, loaded on a page's first chart) before Train rather than after it, when the
    first figure would be waiting for it."""
    manager = job_manager()
    me = session_id()
    cols = st.columns([1, 1, 4])
    following = job is not None and job.active and me in job.owners
    if job is not None and job.active and not following:
        if cols[0].button("Join", type="primary", key=f"{key}_train",
                          help="Follow this job, which another session started: then you can stop it too"):
            manager.join(job, me)
            following = True
    elif cols[0].button("Retrain" if job is not None and job.status == "done" else train_label, type="primary",
                        key=f"{key}_train", disabled=following):  # fmt: skip
        mine = [j for j in manager.jobs() if j.active and me in j.owners]
        if len(mine) >= MAX_JOBS_PER_SESSION:
            state.error(f"This session already has {len(mine)} jobs training or waiting, the most it may; stop one "
                        "or wait for one to finish.")
            return
        try:
            job = start(job is not None)
        except (PcdashError, DataError) as err:
            state.error(err)
            return
        manager.join(job, me)
        following = job.active
    running = job is not None and job.active
    stopping = job is not None and job.stop_event.is_set()
    if cols[1].button("Stopping…" if running and stopping else "Stop", key=f"{key}_stop",
                      disabled=not (running and following) or stopping,
                      help=None if following or not running else "Only a session that started or joined this job "
                      "can stop it") and job is not None:  # fmt: skip
        try:
            if manager.stop(job, owner=me) == "left":
                st.info(f"You left this job; {len(job.owners)} other session(s) still follow it, so it goes on.")
            else:
                st.rerun()  # redraw the buttons: a queued job has ended, a running one is stopping
        except PcdashError as err:
            state.error(err)
    warming = job is None and manager.warming
    progress = job.progress if running else None
    shown = progress.frame if progress is not None else None  # what this page run draws
    drawn = shown is not None and len(shown) > 0
    drawn_at = time.monotonic()

    # Until the first figures are drawn (what the user waits for), poll four times a second once
    # the job computes (half as often while it waits for the warm-up); then once a second: each
    # poll costs the browser a redraw of the page's status.
    # No timer while nothing trains: a full-app rerun fired from a fragment during a page's first
    # load makes Streamlit show "Page not found", so the warm-up's end is not pushed to the page.
    poll = (0.5 if manager.warming else 0.25) if running and not drawn else 1.0 if running else None

    @st.fragment(run_every=poll)
    def status():
        current = job
        if current is None:
            st.info(f"Press **{train_label}** to train this configuration." + (f" {WARMING}" if warming else ""))
            return
        if current.status == "queued":
            waiting = manager.queued()
            place = f" (number {waiting.index(current) + 1} in line)" if current in waiting else ""
            st.progress(0.0, text=f"Waiting{place}: {manager.max_running} jobs are already training on this server…")
        elif current.status == "running":
            p = current.progress
            frac = 0.0 if p is None else min(max(p.fraction, 0.0), 1.0)
            text = "compiling…" if p is None else f"{p.message} · {_eta(p.eta_s)}"
            st.progress(frac, text=text)
        if running:
            p = current.progress
            new_epochs = p is not None and p.frame is not shown and len(p.frame)
            due = not drawn or time.monotonic() - drawn_at >= LIVE_REDRAW_S
            if not current.active or (new_epochs and due):
                st.rerun()

    status()
    cluster_note()
    if job is None:
        if placeholder:
            fig = empty_figure(placeholder)
            fig.update_layout(height=220, margin=dict(l=10, r=10, t=10, b=10))
            st.plotly_chart(fig, key=f"{key}_placeholder", theme=None, config={"displayModeBar": False})
    elif job.status == "error":
        state.error(job.error)
    elif job.status == "stopped" and job.result is None:
        st.warning(f"Stopped before it started training. Press **{train_label}** to queue it again.")
    elif job.status in ("done", "stopped") and job.result is not None:
        if job.save_error:
            state.warning(f"Trained, but the result could not be saved ({job.save_error}): it is kept only until "
                          "the server stops.")
        if job.status == "stopped":
            st.warning("Stopped: showing the epochs that finished.")
        if job.origin is not None:
            st.info(precomputed_label(job.origin), icon=":material/inventory_2:")
        elif job.started and job.finished:
            st.caption(f"Trained in {job.finished - job.started:.1f} s.")
        body(job.result, False)
    elif drawn:
        body(progress, True)


def precomputed_label(origin: dict) -> str:
    """What a page says over a shipped result: precomputed, when and by which pcdash."""
    made = state.plain(origin.get("made", "an earlier run"))
    version = state.plain(origin.get("version", "?"))
    commit = f", commit {state.plain(origin['commit'])}" if origin.get("commit") else ""
    return (f"Precomputed result shipped with pcdash (assets/, made {made} by pcdash {version}{commit}). Press "
            "**Retrain** to train it live here.")


def export_format_control() -> None:
    """The format of the chart toolbar's camera button (PNG or SVG), shared by every page."""
    fmt = state.select("Chart download format", "img", EXPORT_FORMATS, "png", container=st.sidebar,
                       help="The camera button in each chart's toolbar saves the figure in this format")
    state.sync_url({"img": fmt})


def show_figure(fig: go.Figure, data: pd.DataFrame | None, name: str, *, key: str, **kwargs) -> Any:
    """A chart whose toolbar saves it as PNG or SVG, with its data as CSV below it."""
    fmt = st.session_state.get("w_img", "png")
    config = {"displaylogo": False, "toImageButtonOptions": {"format": fmt, "scale": 2, "filename": name}}
    event = st.plotly_chart(fig, config=config, key=key, theme=None, **kwargs)
    if data is not None and len(data):
        csv = memo(("csv", key), data, lambda: data.to_csv(index=False).encode())
        st.download_button("Data (CSV)", csv, file_name=f"{name}.csv", mime="text/csv", key=f"{key}_csv")
    return event


def replace_config(config: CREConfig, **changes) -> CREConfig:
    return replace(config, **changes).validate()


def wait_for(job: Job, timeout: float = 600.0) -> Job:
    """Block until ``job`` ends (used by tests and the benchmark)."""
    t0 = time.time()
    while job.active and time.time() - t0 < timeout:
        time.sleep(0.05)
    return job
