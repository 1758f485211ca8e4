"""Shared widgets: the CRE sidebar, the job panel (progress, ETA, Stop, live updates) and
figure/CSV export. Pages call these and draw what the library returns."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from pcdash.compile_cache import enable_compile_cache
from pcdash.cre.config import CREConfig
from pcdash.cre.models import ARCHS
from pcdash.cre.sweep import load_cre_output, run_cre_sweep, save_cre_output
from pcdash.data import DATASETS, DataError, dataset_available, describe
from pcdash.errors import PcdashError
from pcdash.parsing import parse_float_list, parse_int_list
from pcdash.ui import state
from pcdash.ui.jobs import Job, JobManager

MAX_RUNNING_JOBS = 2
DEFAULT = CREConfig()
EXPORT_FORMATS = ("png", "svg")


@st.cache_resource
def job_manager() -> JobManager:
    enable_compile_cache()
    return JobManager(max_running=MAX_RUNNING_JOBS)


def dataset_label(name: str) -> str:
    return name if dataset_available(name) else f"{name} (not downloaded)"


def cre_sidebar() -> CREConfig | None:
    """The shared CRE controls, bound to the URL. Returns a valid config, or None after
    showing what is wrong."""
    sb = st.sidebar
    sb.header("Sweep")
    values: dict[str, Any] = {}
    values["dataset"] = state.select("Dataset", "dataset", DATASETS, DEFAULT.dataset, format_func=dataset_label,
                                     help="digits is bundled and works offline", container=sb)
    values["arch"] = state.select("Architecture", "arch", ARCHS, DEFAULT.arch, container=sb)
    values["dims"] = state.text("Latent dims dim(z)", "dims", "3", help="comma-separated, e.g. 2,3,8", container=sb)
    values["lams"] = state.text("λ grid", "lams", "0,0.2,0.4,0.6,0.8,1", help="comma-separated values in [0, 1]", container=sb)
    values["seeds"] = state.number("Seeds", "seeds", DEFAULT.seeds, min_value=1, max_value=20, container=sb)
    values["epochs"] = state.number("Epochs", "epochs", DEFAULT.epochs, min_value=1, max_value=500, container=sb)
    with sb.expander("Optimisation"):
        values["lr"] = state.number("Learning rate (Adam)", "lr", DEFAULT.lr, min_value=1e-5, max_value=1.0,
                                    fmt_str="%.4g", step=1e-4, container=st)
        values["batch"] = state.number("Batch size", "batch", DEFAULT.batch_size, min_value=1, max_value=4096, container=st)
        values["latent"] = state.select("Latent activation", "latent", ("relu", "linear"), DEFAULT.latent_activation,
                                        help="ReLU as in the reference code; linear lets z go negative", container=st)
    state.sync_url(values)
    state.report_bad_url_values()
    try:
        config = CREConfig(
            dataset=values["dataset"], arch=values["arch"],
            latent_dims=parse_int_list(values["dims"], "latent dims"),
            lambdas=parse_float_list(values["lams"], "λ grid"),
            seeds=int(values["seeds"]), epochs=int(values["epochs"]), batch_size=int(values["batch"]),
            lr=float(values["lr"]), latent_activation=values["latent"],
        ).validate()
    except PcdashError as err:
        sb.error(str(err))
        return None
    sb.caption(describe(config.dataset))
    sb.caption(f"{config.n_members} models · one compiled program per dim(z)")
    return config


def cre_result(config: CREConfig):
    """The finished (or live) job for ``config``: from memory, else from disk, else None."""
    manager = job_manager()
    job = manager.get(config.key())
    if job is None:
        try:
            saved = load_cre_output(config)
        except PcdashError as err:
            st.error(str(err))
            saved = None
        if saved is not None:
            job = manager.adopt(config.key(), "CRE sweep", saved)
    return job


def start_cre_job(config: CREConfig, *, restart: bool = False) -> Job:
    def runner(on_progress, should_stop):
        return run_cre_sweep(config, on_progress=on_progress, should_stop=should_stop)

    return job_manager().submit(config.key(), f"CRE sweep · {config.dataset} · {config.n_members} models", runner,
                                on_done=save_cre_output, restart=restart)


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "estimating…"
    return f"{seconds:.0f} s left" if seconds < 120 else f"{seconds / 60:.1f} min left"


def job_panel(job: Job | None, *, start: Callable[[bool], Job], body: Callable[[Any, bool], None],
              train_label: str = "Train", key: str = "job") -> None:
    """Train/Stop buttons, a progress bar with ETA, and ``body(result_or_progress, live)``
    redrawn every half second while the job trains."""
    cols = st.columns([1, 1, 4])
    if cols[0].button(train_label if job is None else "Retrain", type="primary", key=f"{key}_train",
                      disabled=job is not None and job.active):
        try:
            job = start(job is not None)
        except (PcdashError, DataError) as err:
            st.error(str(err))
            return
    running = job is not None and job.active
    if cols[1].button("Stop", key=f"{key}_stop", disabled=not running) and job is not None:
        job.stop()

    @st.fragment(run_every=0.5 if running else None)
    def live():
        current = job
        if current is None:
            st.info(f"Press **{train_label}** to train this configuration.")
            return
        if current.status == "queued":
            st.progress(0.0, text=f"Waiting: {job_manager().max_running} jobs are already training on this server…")
        elif current.status == "running":
            p = current.progress
            frac = 0.0 if p is None else min(max(p.fraction, 0.0), 1.0)
            text = "compiling…" if p is None else f"{p.message} · {_eta(p.eta_s)}"
            st.progress(frac, text=text)
        elif current.status == "error":
            st.error(current.error)
            return
        elif current.status == "stopped":
            st.warning("Stopped: showing the epochs that finished.")
        if current.status in ("done", "stopped") and current.result is not None:
            if current.started and current.finished:
                st.caption(f"Trained in {current.finished - current.started:.1f} s.")
            body(current.result, False)
            if running:  # it just finished: redraw the whole page without the timer
                st.rerun()
        elif current.progress is not None and len(current.progress.frame):
            body(current.progress, True)

    live()


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
        st.download_button("Data (CSV)", data.to_csv(index=False).encode(), file_name=f"{name}.csv",
                           mime="text/csv", key=f"{key}_csv")
    return event


def replace_config(config: CREConfig, **changes) -> CREConfig:
    return replace(config, **changes).validate()


def wait_for(job: Job, timeout: float = 600.0) -> Job:
    """Block until ``job`` ends (used by tests and the benchmark)."""
    t0 = time.time()
    while job.active and time.time() - t0 < timeout:
        time.sleep(0.05)
    return job
