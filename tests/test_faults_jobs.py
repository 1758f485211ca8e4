"""Fault injection on the server's jobs: a flood of submissions is bounded (threads and queue),
a queued job stops at once, only the sessions that started or joined a job can stop it, a job
lost with the server is reported after a restart, a result that could not be saved says so,
and four browser sessions training equal and different sweeps at once get the right results."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from pcdash.errors import PcdashError
from pcdash.jobs import JobManager, QueueFull

APP = Path(__file__).resolve().parents[1] / "app.py"


def _blocking(release: threading.Event):
    def runner(on_progress, should_stop):
        while not release.is_set() and not should_stop():
            time.sleep(0.01)
        return "done"

    return runner


def _wait(predicate, timeout: float = 30.0) -> None:
    t0 = time.time()
    while not predicate():
        assert time.time() - t0 < timeout, "timed out"
        time.sleep(0.02)


def test_300_submissions_start_no_more_threads_than_slots_and_the_queue_refuses_the_rest():
    manager = JobManager(max_running=2, max_queued=8)
    release = threading.Event()
    before = threading.active_count()
    accepted, refused = [], []
    for i in range(300):
        try:
            accepted.append(manager.submit(f"flood-{i}", f"flood {i}", _blocking(release)))
        except QueueFull as err:
            refused.append(str(err))
    threads = threading.active_count() - before
    assert len(accepted) == 10 and len(refused) == 290  # 2 training + 8 waiting
    assert threads <= 2, f"{threads} threads for 2 slots"  # was: one waiting thread per submission
    assert "busy" in refused[0] and "\n" not in refused[0]
    assert [j.status for j in accepted].count("running") == 2 and len(manager.queued()) == 8
    release.set()
    _wait(lambda: all(j.status == "done" for j in accepted))
    _wait(lambda: threading.active_count() <= before)
    assert manager.submit("after", "after", _blocking(release)) is not None  # room again


def test_stopping_a_queued_job_ends_it_at_once_and_it_can_be_queued_again():
    manager = JobManager(max_running=1, max_queued=4)
    release = threading.Event()
    first = manager.submit("first", "first", _blocking(release), owner="a")
    queued = manager.submit("second", "second", _blocking(release), owner="a")
    assert queued.status == "queued"
    assert manager.stop(queued, owner="a") == "stopped"
    assert (
        queued.status == "stopped" and not queued.active and queued.result is None
    )  # the page is usable
    assert manager.queued() == []
    again = manager.submit("second", "second", _blocking(release), owner="a", restart=True)
    assert again is not queued and again.status == "queued"
    release.set()
    _wait(lambda: first.status == again.status == "done")


def test_only_a_session_that_started_or_joined_a_job_can_stop_it():
    manager = JobManager(max_running=2)
    release = threading.Event()
    job = manager.submit("shared", "shared", _blocking(release), owner="alice")
    with pytest.raises(PcdashError, match="only a session that started or joined"):
        manager.stop(job, owner="mallory")
    assert job.active and not job.stop_event.is_set()
    assert (
        manager.submit("shared", "shared", _blocking(release), owner="bob") is job
    )  # dedupe: bob joins
    assert manager.stop(job, owner="alice") == "left"  # bob still follows it: it goes on
    assert job.active and not job.stop_event.is_set()
    assert manager.stop(job, owner="bob") == "stopped"
    _wait(lambda: job.status == "done")  # the runner saw should_stop and returned
    release.set()


def test_a_job_lost_with_the_server_is_reported_after_a_restart(tmp_path):
    journal = tmp_path / ".jobs"
    release = threading.Event()
    first = JobManager(journal=journal)
    job = first.submit("lostkey", "CRE sweep · digits", _blocking(release))
    assert (journal / "lostkey.json").exists()
    # the server process dies here; a new one (another pid) reads the journal
    entry = (
        (journal / "lostkey.json").read_text().replace(f'"pid": {os.getpid()}', '"pid": 4199999')
    )
    (journal / "lostkey.json").write_text(entry)
    second = JobManager(journal=journal)
    lost = second.lost("lostkey")
    assert lost is not None and lost["label"] == "CRE sweep · digits"
    assert second.lost("otherkey") is None
    release.set()
    _wait(lambda: job.status == "done")
    assert not (journal / "lostkey.json").exists()  # a finished job leaves no entry
    second.submit("lostkey", "again", _blocking(release))
    assert second.lost("lostkey") is None


def test_a_failed_save_keeps_the_job_in_the_journal_and_on_the_job(tmp_path):
    manager = JobManager(journal=tmp_path)

    def fail(result):
        raise OSError(28, "No space left on device")

    job = manager.submit("unsaved", "unsaved", lambda p, s: "result", on_done=fail)
    _wait(lambda: not job.active)
    assert job.status == "done" and job.result == "result"
    assert "No space left on device" in job.save_error
    assert (tmp_path / "unsaved.json").exists()  # after a restart the page will say it was lost


# ------------------------------------------------------------------------------ pages

TINY = {
    "seeds": "2",
    "epochs": "1",
    "batch": "128",
}  # fc-medium, dim(z) 3, 3 λ: the shapes of test_pages's sweeps


def _page(params: dict) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    at.switch_page("views/tradeoff.py")
    at.run()
    assert not at.exception, at.exception
    return at


def _button(at: AppTest, key: str):
    return next(b for b in at.button if b.key == key)


@pytest.fixture
def fresh_manager(tmp_path, monkeypatch):
    """A new server: its own job manager, runs folder and journal."""
    from pcdash.ui import server

    monkeypatch.setenv("PCDASH_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setattr(server, "_manager", None)
    yield server.job_manager
    manager = server._manager
    if manager is not None:
        for job in manager.jobs():
            job.stop()


def test_after_a_restart_a_page_whose_job_was_lost_says_so(fresh_manager, tmp_path):
    from pcdash.experiments.cre_config import CREConfig

    config = CREConfig(lambdas=(0.0, 0.5, 1.0), seeds=2, epochs=1, batch_size=128)
    journal = tmp_path / "runs" / ".jobs"
    journal.mkdir(parents=True)
    entry = {
        "label": "CRE sweep",
        "submitted": time.time(),
        "pid": 4199999,
    }  # a process that is gone
    (journal / f"{config.key()}.json").write_text(json.dumps(entry))
    at = _page({**TINY, "lams": "0,0.5,1"})
    assert any("when the server stopped" in w.value for w in at.warning), [
        w.value for w in at.warning
    ]
    assert not _button(at, "tradeoff_train").disabled


def test_a_job_whose_result_could_not_be_saved_says_so_on_its_page(fresh_manager, monkeypatch):
    from pcdash.experiments import cre_sweep

    def full_disk(out):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cre_sweep, "save_cre_output", full_disk)
    at = _page({**TINY, "lams": "0,0.5,1"})
    _button(at, "tradeoff_train").click().run()
    job = fresh_manager().jobs()[0]
    _wait(lambda: not job.active, timeout=240)
    at.run()
    assert not at.exception, at.exception
    assert any(
        "could not be saved" in w.value and "No space left" in w.value for w in at.warning
    ), [w.value for w in at.warning]
    assert any("Trained in" in c.value for c in at.caption)  # and the result is shown all the same


def test_four_sessions_train_equal_and_different_sweeps_at_once(fresh_manager):
    """Sessions A and B ask for the same sweep, C and D for two others, all at once on a server
    with two slots (still warming up, so the first two jobs hold them): A and B share one job,
    the third job waits its turn, a session that
    neither started nor joined a job cannot stop it, and every session gets its own sweep's
    results, equal to the same sweep trained alone."""
    from pcdash.experiments.cre_config import CREConfig
    from pcdash.experiments.cre_sweep import run_cre_sweep

    grids = {"A": "0,0.5,1", "B": "0,0.5,1", "C": "0.2,0.5,1", "D": "0,0.5,0.8"}
    manager = fresh_manager()
    gate = threading.Event()
    manager.warm_up(
        lambda: gate.wait(120)
    )  # the server is still warming up: jobs hold their slots meanwhile
    sessions = {name: _page({**TINY, "lams": lams}) for name, lams in grids.items()}
    for at in sessions.values():
        _button(at, "tradeoff_train").click().run()
        assert not at.exception, at.exception
    jobs = {j.key: j for j in manager.jobs()}
    assert len(jobs) == 3  # A and B share one job
    assert sorted(j.status for j in jobs.values()) == ["queued", "running", "running"]
    a_job = next(j for j in jobs.values() if len(j.owners) == 2)
    # C opens A's sweep: it may watch, not stop, until it joins
    c_on_a = sessions["C"]
    c_on_a.sidebar.text_input(key="w_lams").set_value("0,0.5,1").run()
    assert a_job.active and _button(c_on_a, "tradeoff_stop").disabled
    assert _button(c_on_a, "tradeoff_train").label == "Join"
    gate.set()
    _wait(lambda: not any(j.active for j in jobs.values()), timeout=300)
    assert all(j.status == "done" for j in jobs.values()), [
        (j.status, j.error) for j in jobs.values()
    ]
    for name, lams in grids.items():
        at = sessions[name] if name != "C" else _page({**TINY, "lams": lams})
        at.run()
        assert not at.exception and any("Trained in" in c.value for c in at.caption)
        config = CREConfig(
            lambdas=tuple(float(v) for v in lams.split(",")), seeds=2, epochs=1, batch_size=128
        )
        result = manager.get(config.key()).result
        assert sorted(result.frame["lam"].dropna().unique()) == sorted(config.lambdas)
    alone = run_cre_sweep(CREConfig(lambdas=(0.2, 0.5, 1.0), seeds=2, epochs=1, batch_size=128))
    together = manager.get(alone.config.key()).result
    cols = ["lam", "seed", "epoch", "split", "accuracy", "mse"]
    a = alone.frame[cols].sort_values(cols[:4]).reset_index(drop=True)
    b = together.frame[cols].sort_values(cols[:4]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, rtol=1e-5)
    assert np.isfinite(b["accuracy"]).all()


def test_stopping_a_queued_job_from_its_page_leaves_the_page_usable(fresh_manager):
    manager = fresh_manager()
    manager.max_running = 0  # every slot taken: the job waits
    at = _page({**TINY, "lams": "0,0.5,1"})
    _button(at, "tradeoff_train").click().run()
    [job] = manager.jobs()
    assert job.status == "queued" and not _button(at, "tradeoff_stop").disabled
    _button(at, "tradeoff_stop").click().run()
    assert not at.exception, at.exception
    assert job.status == "stopped" and manager.queued() == []
    assert any("Stopped before it started" in w.value for w in at.warning), [
        w.value for w in at.warning
    ]
    train = _button(at, "tradeoff_train")
    assert not train.disabled and train.label == "Train"  # the page can queue it again


def test_later_warm_up_tasks_run_only_while_idle_and_give_way_to_jobs():
    """The warm-up's later tasks (the other pages' defaults) wait while a job trains and until
    the server has been quiet for ``quiet_s``, stop early when a job is submitted (their
    ``busy`` turns true), run again from the start once the server is quiet again, and jobs
    never wait for them."""
    manager = JobManager(max_running=1)
    log: list[str] = []
    second_started, first_gate, finish = threading.Event(), threading.Event(), threading.Event()

    started: dict[str, float] = {}

    def first(busy):
        log.append("first")
        started["first"] = time.time()
        first_gate.wait(30)

    def second(busy):
        log.append("second")
        second_started.set()
        while not busy() and not finish.is_set():  # a long task: it ends when a job comes
            time.sleep(0.01)
        log.append("second gave way" if busy() else "second done")

    release = threading.Event()
    blocker = manager.submit("blocker", "blocker", _blocking(release))
    manager.warm_up(lambda: None, later=[("first", first), ("second", second)], quiet_s=0.5)
    time.sleep(0.3)
    assert log == [] and not manager.warming  # the default part is done; the rest waits
    release.set()
    _wait(lambda: blocker.status == "done")
    ended = time.time()
    _wait(lambda: log == ["first"])
    assert started["first"] - ended >= 0.45  # the server was quiet for quiet_s first
    first_gate.set()
    _wait(second_started.is_set)
    gate = threading.Event()
    t0 = time.time()
    job = manager.submit("job", "job", _blocking(gate))
    _wait(lambda: job.status == "running")
    assert time.time() - t0 < 5  # the job did not wait for the warm-up task
    _wait(lambda: log == ["first", "second", "second gave way"])
    second_started.clear()
    time.sleep(0.3)
    assert not second_started.is_set()  # not again while the job trains
    gate.set()
    _wait(lambda: job.status == "done")
    _wait(second_started.is_set)  # idle again: it starts over
    assert log[-1] == "second"
    finish.set()
    _wait(lambda: log[-1] == "second done")


def test_wait_idle_reports_a_busy_server_and_wakes_when_its_last_job_ends():
    manager = JobManager(max_running=1)
    assert manager.wait_idle(0) and not manager.busy()
    release = threading.Event()
    manager.submit("a", "a", _blocking(release))
    queued = manager.submit("b", "b", _blocking(threading.Event()))
    assert manager.busy() and not manager.wait_idle(0.1)
    manager.stop(queued)  # a stopped queued job leaves the queue
    release.set()
    assert manager.wait_idle(30) and not manager.busy()


def test_a_status_poll_wakes_when_the_first_results_come_and_when_the_job_ends():
    from types import SimpleNamespace

    from pcdash.ui.panel import FIRST_WAIT_S, end_wait, wait_for_news

    manager = JobManager(max_running=1)
    report, release = threading.Event(), threading.Event()
    eta = [0.2]

    def runner(on_progress, should_stop):
        report.wait(30)
        on_progress(SimpleNamespace(frame=pd.DataFrame({"epoch": [1]}), eta_s=eta[0], elapsed_s=0))
        release.wait(30)
        return "done"

    def timed(*args) -> float:
        t0 = time.monotonic()
        wait_for_news(*args)
        return time.monotonic() - t0

    job = manager.submit("news", "news", runner)
    _wait(lambda: job.status == "running")
    # nothing new yet: a poll before the first figures waits its whole bound, then gives up
    assert FIRST_WAIT_S - 0.05 <= timed(job, False, 1.0) < FIRST_WAIT_S + 0.5
    # the first results come 0.1 s into a poll: it returns then, not at its bound
    threading.Timer(0.1, report.set).start()
    assert timed(job, False, 1.0) < FIRST_WAIT_S - 0.1 and job.has_results
    # figures drawn, the estimate says the end is near: the poll waits for it and wakes at it
    assert 0 < end_wait(job, 1.0) <= 1.0
    threading.Timer(0.1, release.set).start()
    assert timed(job, True, 1.0) < 0.9 and job.status == "done" and not job.active
    # a job with a while to go is not waited for: the page stays free for clicks
    eta[0] = 30.0
    release.clear()  # (the first results are still reported at once: report stays set)
    long = manager.submit("long", "long", runner)
    _wait(lambda: long.has_results)
    assert end_wait(long, 1.0) == 0.0 and timed(long, True, 1.0) < 0.1
    # nor is one waiting in the queue (its page stays free for Stop)
    queued = manager.submit("queued", "queued", runner)
    assert queued.status == "queued" and timed(queued, False, 1.0) < 0.1
    release.set()
    _wait(lambda: long.status == queued.status == "done")
