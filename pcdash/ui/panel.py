"""The job panel every page uses: Train/Stop (or Join) buttons, a progress bar with ETA, live
figures while the job trains and the result when it is done (:func:`job_panel`), and
:func:`experiment_panel`, which runs one :class:`~pcdash.experiments.result.Experiment` of a
configuration through it: the job is keyed by the configuration's key, found again on disk
after a restart, and saved when it finishes. A page's ``draw(result, live)`` gets the same
kind of result live and finished (``live`` only says which)."""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable
from typing import Any

import streamlit as st

from pcdash.backends import RAY_ADDRESS_ENV, backend_from_env
from pcdash.data import DataError
from pcdash.errors import PcdashError
from pcdash.experiments.result import Experiment
from pcdash.figures.style import empty_figure
from pcdash.jobs import Job, JobManager
from pcdash.runs import asset_info
from pcdash.ui import state
from pcdash.ui.server import MAX_JOBS_PER_SESSION, job_manager, session_id

WARMING = "(Loading compiled programs in the background, once per server start…)"
LIVE_REDRAW_S = 2.0  # live figures are redrawn at most this often (the first epoch's at once)
MAX_POLL_S = 3.0  # the slowest the status polls while a drawn job trains (see poll_interval)
FIRST_WAIT_S = 0.8  # the longest a status poll waits for a job's first results
END_WAIT_S = 1.0  # the longest a status poll waits for a job about to end (see end_wait)


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
        except (
            Exception
        ) as err:  # a run whose files check out but whose content a loader cannot use
            traceback.print_exc()
            state.error(
                f"saved run {key} cannot be used ({type(err).__name__}: {err}); delete it on the "
                "Runs page (or train it again)"
            )
            saved = None
        if saved is not None:
            job = manager.adopt(key, label, saved, origin=asset_info(key))
        else:
            lost = manager.lost(key)
            if lost is not None:
                when = time.strftime("%Y-%m-%d %H:%M", time.localtime(lost["submitted"]))
                state.warning(
                    f"This configuration was training (started {when}) when the server stopped, "
                    "and its results were lost. Press Train to run it again."
                )
    return job


def cluster_note() -> None:
    """Says so when jobs train on a Ray cluster ($PCDASH_RAY_ADDRESS) rather than here."""
    address = os.environ.get(RAY_ADDRESS_ENV, "").strip()
    if address:
        st.caption(f"Jobs train on the Ray cluster at `{address}` (set by ${RAY_ADDRESS_ENV}).")


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "estimating…"
    return f"{seconds:.0f} s left" if seconds < 120 else f"{seconds / 60:.1f} min left"


def job_panel(
    job: Job | None,
    *,
    start: Callable[[bool], Job],
    body: Callable[[Any, bool], None],
    train_label: str = "Train",
    key: str = "job",
    placeholder: str | None = None,
) -> None:
    """Train/Stop buttons, a progress bar with ETA, and ``body(result, live)``: the finished
    result, or while the job trains the partial result its progress carries (same type).

    While the job trains, only the progress bar polls (a fragment: :func:`poll_interval`,
    :func:`wait_for_news`). When it sees the first epochs, new epochs at least
    ``LIVE_REDRAW_S`` after the last drawing, or the end, it redraws the page: ``body`` runs a
    few times per sweep rather than at every poll, so building the figures, and the browser
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
        if cols[0].button(
            "Join",
            type="primary",
            key=f"{key}_train",
            help="Follow this job, which another session started: then you can stop it too",
        ):
            manager.join(job, me)
            following = True
    elif cols[0].button(
        "Retrain" if job is not None and job.status == "done" else train_label,
        type="primary",
        key=f"{key}_train",
        disabled=following,
    ):
        mine = [j for j in manager.jobs() if j.active and me in j.owners]
        if len(mine) >= MAX_JOBS_PER_SESSION:
            state.error(
                f"This session already has {len(mine)} jobs training or waiting, the most it may; "
                "stop one or wait for one to finish."
            )
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
    if (
        cols[1].button(
            "Stopping…" if running and stopping else "Stop",
            key=f"{key}_stop",
            disabled=not (running and following) or stopping,
            help=None
            if following or not running
            else "Only a session that started or joined this job can stop it",
        )
        and job is not None
    ):
        try:
            if manager.stop(job, owner=me) == "left":
                st.info(
                    f"You left this job; {len(job.owners)} other session(s) still follow it, so "
                    "it goes on."
                )
            else:
                st.rerun()  # redraw the buttons: a queued job has ended, a running one is stopping
        except PcdashError as err:
            state.error(err)
    warming = job is None and manager.warming
    progress = job.progress if running and job is not None else None
    shown = progress.frame if progress is not None else None  # what this page run draws
    drawn = shown is not None and len(shown) > 0
    drawn_at = time.monotonic()

    # No timer while nothing trains: a full-app rerun fired from a fragment during a page's first
    # load makes Streamlit show "Page not found", so the warm-up's end is not pushed to the page.
    poll = (
        poll_interval(drawn, progress.eta_s if progress is not None else None) if running else None
    )

    runs = [0]  # the fragment keeps this closure: its reruns after the first are the polls

    @st.fragment(run_every=poll)
    def status():
        runs[0] += 1
        # One slot, whatever it shows (the progress bar, then how long the job took): a fragment
        # whose number of elements changes between runs leaves Streamlit's frontend a stale
        # progress bar ("2 s left" under a finished job), or a late tick of its timer, queued
        # while the page redrew, blanks the element after it.
        with st.empty():
            _status_line(job, manager, train_label, warming)
        if running and job is not None:
            # Before the first figures the page's own run waits too: nothing is drawn below yet,
            # and the first results may be a fraction of a second away (the first poll is a
            # whole poll_interval later). After them only the polls wait: the page's own run
            # would hold its figures below.
            if not drawn or runs[0] > 1:
                wait_for_news(job, drawn, poll)
            p = job.progress
            new_epochs = p is not None and p.frame is not shown and len(p.frame)
            due = not drawn or time.monotonic() - drawn_at >= LIVE_REDRAW_S
            if not job.active or (new_epochs and due):
                st.rerun()

    status()
    cluster_note()
    if job is None:
        if placeholder:
            fig = empty_figure(placeholder)
            fig.update_layout(height=220, margin=dict(l=10, r=10, t=10, b=10))
            st.plotly_chart(
                fig, key=f"{key}_placeholder", theme=None, config={"displayModeBar": False}
            )
    elif job.status == "error":
        state.error(job.error)
    elif job.status == "stopped" and job.result is None:
        st.warning(
            f"Stopped before it started training. Press **{train_label}** to queue it again."
        )
    elif job.status in ("done", "stopped") and job.result is not None:
        if job.save_error:
            state.warning(
                f"Trained, but the result could not be saved ({job.save_error}): it is kept only "
                "until the server stops."
            )
        if job.status == "stopped":
            st.warning("Stopped: showing the epochs that finished.")
        body(job.result, False)
    elif drawn and progress is not None:  # drawn implies a progress
        body(progress.result, True)


def poll_interval(drawn: bool, eta_s: float | None) -> float:
    """Seconds between two polls of a training job's status. Until the first figures are drawn,
    once a second, each poll waiting up to :data:`FIRST_WAIT_S` for them (:func:`wait_for_news`),
    so the first chart shows as soon as the first results come; before, polls came four times a
    second to get close to that. Then about four times over the time the job has left, between
    once a second and once every :data:`MAX_POLL_S`: each poll costs the browser a redraw of the
    status, on a machine whose cores the job uses (measured on the Latent dimension page's 17 s
    default, with Chromium on the same 2 cores: 0.1 s of Chromium's CPU time a poll, 1.4 s per
    job at one poll a second), and it is also when new figures are drawn. Near the end a poll
    waits for the end (:func:`end_wait`)."""
    if not drawn or eta_s is None:
        return 1.0
    return min(MAX_POLL_S, max(1.0, eta_s / 4))


def wait_for_news(job: Job, drawn: bool, poll: float | None) -> None:
    """Hold a status poll of the running ``job`` until it has something new for the page, so
    that the page is redrawn the moment it does rather than up to a poll later: before the first
    figures, its first results or its end, for at most :data:`FIRST_WAIT_S`; after them, its end
    when its estimate says it ends before the next poll (:func:`end_wait`). The script thread is
    held meanwhile (a click waits that long), so nothing is held while figures are shown and
    the job has a while to go, nor while it waits in the queue."""
    if job.status != "running":
        return
    if not drawn:
        job.wait_for(lambda: not job.active or job.has_results, FIRST_WAIT_S)
        return
    wait = end_wait(job, poll)
    if wait:
        job.wait_for(lambda: not job.active, wait)


def end_wait(job: Job, poll: float | None) -> float:
    """Seconds a status poll waits for ``job`` to end: when its estimate says it ends before the
    next poll, up to :data:`END_WAIT_S`; otherwise 0. Measured on the Latent dimension page with
    polls once a second, the finished figures came 1.0 s after the job's end without this wait
    and 0.3-0.4 s with it."""
    p, started = job.progress, job.started
    if poll is None or p is None or p.eta_s is None or started is None:
        return 0.0
    # the estimate was made p.elapsed_s into the run, which began about when the job started
    left = p.eta_s - max(0.0, time.time() - started - p.elapsed_s)
    return min(END_WAIT_S, max(left, 0.0) + 0.25) if left <= poll else 0.0


def _status_line(job: Job | None, manager: JobManager, train_label: str, warming: bool) -> None:
    """The job's one line: what to press, its place in the queue, its progress, how long it took
    or where a precomputed result comes from."""
    if job is None:
        st.info(
            f"Press **{train_label}** to train this configuration."
            + (f" {WARMING}" if warming else "")
        )
    elif job.status == "queued":
        waiting = manager.queued()
        place = f" (number {waiting.index(job) + 1} in line)" if job in waiting else ""
        st.progress(
            0.0,
            text=f"Waiting{place}: {manager.max_running} jobs are already training on this server…",
        )
    elif job.status == "running":
        p = job.progress
        frac = 0.0 if p is None else min(max(p.fraction, 0.0), 1.0)
        text = "compiling…" if p is None else f"{p.message} · {_eta(p.eta_s)}"
        st.progress(frac, text=text)
    elif job.result is not None and job.origin is not None:
        st.info(precomputed_label(job.origin), icon=":material/inventory_2:")
    elif (
        job.result is not None
        and job.status in ("done", "stopped")
        and job.started
        and job.finished
    ):
        st.caption(f"Trained in {job.finished - job.started:.1f} s.")


def precomputed_label(origin: dict) -> str:
    """What a page says over a shipped result: precomputed, when and by which pcdash."""
    made = state.plain(origin.get("made", "an earlier run"))
    version = state.plain(origin.get("version", "?"))
    commit = f", commit {state.plain(origin['commit'])}" if origin.get("commit") else ""
    return (
        f"Precomputed result shipped with pcdash (assets/, made {made} by pcdash "
        f"{version}{commit}). "
        "Press **Retrain** to train it live here."
    )


def experiment_panel(
    experiment: Experiment,
    config: Any,
    draw: Callable[[Any, bool], None],
    *,
    key: str,
    train_label: str = "Train",
    placeholder: str | None = None,
) -> None:
    """The job panel of ``experiment`` on ``config``: Train runs it in the background (on the Ray
    cluster of ``$PCDASH_RAY_ADDRESS`` when it is set), a finished result is saved under
    ``config.key()`` and found again after a restart, and ``draw(result, live)`` lays out its
    figures."""
    label = experiment.label(config)

    def start(restart: bool) -> Job:
        backend = backend_from_env()

        def runner(on_progress, should_stop):
            return experiment.run(config, on_progress, should_stop, backend=backend)

        return job_manager().submit(
            config.key(),
            label,
            runner,
            on_done=lambda out: experiment.save(config, out),
            restart=restart,
        )

    job = saved_job(config.key(), label, lambda: experiment.load(config))
    job_panel(
        job, start=start, body=draw, key=key, train_label=train_label, placeholder=placeholder
    )
