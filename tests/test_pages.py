"""Every page listed in app.py renders without an exception (the smoke test), bad input gets a
message, and a tiny sweep run from the Trade-off page draws one box per λ."""

import ast
import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "app.py"


def app_pages() -> list[str]:
    """The page files app.py navigates to: the first argument of every ``st.Page(...)``."""
    tree = ast.parse(APP.read_text())
    return [
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "attr", "") == "Page"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    ]


PAGES = app_pages()


def _app(page: str | None = None, **params) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    return at


def test_the_smoke_test_covers_every_page_file():
    assert len(PAGES) == len(set(PAGES)) >= 13
    assert {f"views/{p.name}" for p in (APP.parent / "views").glob("*.py")} == set(PAGES)


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_without_exception(page):
    at = _app(page)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]  # the defaults are valid everywhere


def _run_until(at: AppTest, done, timeout=240.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        at.run()
        assert not at.exception, at.exception
        if done(at):
            return
        time.sleep(0.5)
    raise AssertionError("the sweep did not finish in time")


def _figures(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def test_tiny_sweep_from_the_tradeoff_page_draws_one_box_per_lambda():
    at = _app("views/tradeoff.py", lams="0,0.5,1", seeds="2", epochs="2", batch="128")
    assert at.sidebar.text_input(key="w_lams").value == "0,0.5,1"  # the link set the control
    at.button(key="tradeoff_train").click()
    _run_until(at, lambda a: any("Trained in" in c.value for c in a.caption))
    figs = _figures(at)
    boxes = [t for f in figs for t in f["data"] if t.get("type") == "box"]
    acc = sorted(t["meta"]["lam"] for t in boxes if t["meta"]["metric"] == "accuracy")
    mse = sorted(t["meta"]["lam"] for t in boxes if t["meta"]["metric"] == "mse")
    assert acc == mse == [0.0, 0.5, 1.0]  # one box per λ and metric
    assert all(len(t["y"]) == 2 for t in boxes)  # one value per seed
    # the URL keeps the controls, so the link reproduces the view
    assert at.query_params["lams"] == ["0,0.5,1"] or at.query_params["lams"] == "0,0.5,1"


@pytest.mark.parametrize(
    "page,field,value,message",
    [
        ("views/tradeoff.py", "lams", "0,1.5", "λ must lie in"),
        ("views/tradeoff.py", "lams", "", "empty"),
        ("views/tradeoff.py", "lams", "a,b", "comma-separated numbers"),
        ("views/tradeoff.py", "dims", "0", "≥ 1"),
        ("views/energy_dynamics.py", "state_lrs", "0,0.1", "γ"),
        ("views/energy_dynamics.py", "widths", "0", "width"),
        ("views/energy_dynamics.py", "state_lrs", "x", "comma-separated numbers"),
    ],
)
def test_bad_input_gets_a_clear_message_not_a_traceback(page, field, value, message):
    at = _app(page)
    at.sidebar.text_input(key=f"w_{field}").set_value(value)
    at.run()
    assert not at.exception
    assert any(message in e.value for e in at.sidebar.error), [e.value for e in at.sidebar.error]


def test_a_bad_link_value_is_reported_and_replaced_by_the_default():
    at = _app(None, dataset="imagenet")
    assert not at.exception
    assert at.sidebar.selectbox(key="w_dataset").value == "digits"
    assert any("imagenet" in w.value for w in at.warning)


def test_tiny_pcn_sweep_from_the_energy_page_draws_energies_per_layer():
    at = _app(
        "views/energy_dynamics.py",
        state_lrs="0.01,0.1",
        pseeds="1",
        pepochs="2",
        depth="2",
        wopt="adamw,sgd",
    )
    at.button(key="energy_train").click()
    _run_until(at, lambda a: any("Trained in" in c.value for c in a.caption))
    figs = _figures(at)
    log_y = [f for f in figs if f["layout"].get("yaxis", {}).get("type") == "log"]
    assert log_y, "no log-scale energy plot"
    per_step = next(
        f for f in figs if "inference step" in json.dumps(f["layout"].get("xaxis", {})).lower()
    )
    layer_lines = [t for t in per_step["data"] if t.get("mode", "").startswith("lines")]
    assert len(layer_lines) == 3  # two hidden layers and the output
    names = json.dumps([t.get("name") for f in figs for t in f["data"]])
    assert "SGD" in names and "AdamW" in names  # Fig. 6c compares the weight optimisers


def test_runs_page_lists_a_saved_run_offers_its_tables_and_deletes_it():
    import pandas as pd

    from pcdash.runs import list_runs, save_run

    key = "test-runs-page-0001"
    save_run(
        key,
        "generative-ood",
        {"dataset": "digits"},
        pd.DataFrame({"epoch": [1], "loss": [0.5]}),
        meta={"seconds": 1.234},
        tables={"scores": pd.DataFrame({"set": ["ID"], "energy_after": [0.1]})},
    )
    at = _app("views/runs.py")
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert key in set(table["key"])
    at.selectbox[0].set_value(key).run()
    labels = [b.label for b in at.get("download_button")]
    assert "Results (CSV)" in labels and "scores (CSV)" in labels
    [delete] = [b for b in at.button if b.label == "Delete this run"]
    delete.click().run()
    left = list_runs()
    assert left.empty or key not in set(left["key"])


def test_a_link_made_before_gamma_got_one_name_still_sets_the_state_learning_rates():
    at = _app("views/energy_dynamics.py", gammas="0.02,0.2")
    assert not at.exception, at.exception
    assert at.sidebar.text_input(key="w_state_lrs").value == "0.02,0.2"
    assert "gammas" not in at.query_params  # the link is rewritten under the new name
    assert at.query_params["state_lrs"] in ("0.02,0.2", ["0.02,0.2"])


def test_a_drawn_job_polls_about_four_times_over_its_time_left_and_each_second_near_the_end():
    from pcdash.ui.panel import MAX_POLL_S, poll_interval

    # until the first figures: once a second, each poll waiting for them (wait_for_news)
    assert poll_interval(False, 30.0) == poll_interval(False, None) == 1.0
    assert poll_interval(True, None) == 1.0  # no estimate yet
    assert poll_interval(True, 60.0) == MAX_POLL_S == 3.0
    assert poll_interval(True, 8.0) == 2.0
    assert poll_interval(True, 2.0) == poll_interval(True, 0.0) == 1.0
