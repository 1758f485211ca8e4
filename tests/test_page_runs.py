"""Every page's default run as the server warms it up and the benchmarks time it
(:mod:`pcdash.ui.page_runs`) is the run that page submits when Train is pressed before any
control is touched: same experiment, same configuration key."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pcdash.ui.page_runs import BY_NAME, DEFAULT_RUNS
from pcdash.ui.server import PAGE_WARM_UP, WARM_UP_CONFIG

APP = Path(__file__).resolve().parents[1] / "app.py"


def page_files() -> dict[str, str]:
    """Page title -> view file, from app.py's ``st.Page(file, title=...)`` calls."""
    found = {}
    for node in ast.walk(ast.parse(APP.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "Page":
            title = next(k.value.value for k in node.keywords if k.arg == "title")
            found[title] = node.args[0].value
    return found


def submitted(page_file: str, monkeypatch) -> list[tuple[object, object]]:
    """(experiment, config) of every job panel ``page_file`` lays out, in order."""
    import pcdash.ui.panel

    calls = []
    monkeypatch.setattr(
        pcdash.ui.panel,
        "experiment_panel",
        lambda experiment, config, *a, **k: calls.append((experiment, config)),
    )
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    calls.clear()  # the Home page's, which opens first
    at.switch_page(page_file)
    at.run()
    assert not at.exception, at.exception
    return calls


@pytest.mark.parametrize(
    "run, title",
    [(run, title) for run in DEFAULT_RUNS for title in run.pages],
    ids=lambda v: v if isinstance(v, str) else v.name,
)
def test_a_default_run_is_what_its_page_submits(run, title, monkeypatch):
    calls = submitted(page_files()[title], monkeypatch)
    assert calls, f"{title} lays out no job panel"
    experiment, config = calls[0]  # the page's first panel is its default run
    assert experiment is run.load_experiment()
    assert config.key() == run.config().key()


def test_every_page_with_a_train_button_has_a_default_run():
    assert set(page_files()) - {"Paper figures", "Runs"} == {
        title for run in DEFAULT_RUNS for title in run.pages
    }


def test_the_server_warms_up_every_page_default():
    """The default sweep first (jobs wait for it), then every other page's default."""
    assert sorted(PAGE_WARM_UP) == sorted(r.name for r in DEFAULT_RUNS if r.name != "cre")
    assert BY_NAME["cre"].config().key() == WARM_UP_CONFIG.validate().key()


def test_a_page_warm_up_task_leaves_nothing_for_that_pages_train_to_compile_or_load(monkeypatch):
    """After the server's warm-up task for the Energy dynamics page, its default run finds every
    program in memory: no persistent-cache hit (a load) and no miss (a compilation)."""
    import pcdash.ui.server
    from pcdash.compile_cache import cache_events
    from pcdash.engine import recording
    from pcdash.ui.server import page_warm_ups

    # the server's gc.freeze() would keep this test process's garbage for good
    monkeypatch.setattr(pcdash.ui.server, "freeze_heap", lambda: None)

    (task,) = [task for name, task in page_warm_ups() if name == "energy"]
    events = cache_events()
    task(lambda: False)
    before = dict(events)
    with recording() as records:
        out = BY_NAME["energy"]()
    assert records and len(out.frame)
    assert dict(events) == before, (before, dict(events))
