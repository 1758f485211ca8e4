"""The Energy dynamics page: it names the paper figure of each panel and its setting, offers
App. D.2's learning rates per dataset and HardTanh, and runs the Fig. 7 width sweep on its own."""

import json
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "app.py"
PAGE = "views/energy_dynamics.py"


def _app(**params) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, at.exception
    return at


def _text(at: AppTest) -> str:
    return " ".join(el.value for kind in ("caption", "markdown") for el in at.get(kind))


def test_the_page_names_the_paper_figures_and_the_setting():
    at = _app()
    text = _text(at)
    for figure in ("Fig. 6b", "Fig. 6c", "Fig. 6d", "Fig. 7", "Fig. 14", "Fig. 16"):
        assert figure in text, figure
    assert "no momentum" in text and "FashionMNIST" in text
    assert at.sidebar.selectbox(key="w_act").value == "hard_tanh"
    assert "HardTanh" in at.sidebar.selectbox(key="w_act").options
    assert at.sidebar.toggle(key="w_plr").value is True
    assert any("AdamW and SGD: 0.01" in c.value for c in at.sidebar.caption)
    at.sidebar.selectbox(key="w_pdata").set_value("moons").run()
    assert any("AdamW and SGD: 0.03 (PCX App. D.2)" in c.value for c in at.sidebar.caption)
    at.sidebar.toggle(key="w_plr").set_value(False).run()
    assert at.sidebar.number_input(key="w_wlr_sgd").value > 0  # each optimiser its own rate
    assert at.button(key="stability_train").label == "Train the width sweep"


def test_a_bad_width_list_for_the_width_sweep_gets_a_message():
    at = _app(s_widths="64,x")
    assert any("comma-separated" in e.value for e in at.error), [e.value for e in at.error]


def test_a_tiny_width_sweep_draws_the_stability_figure():
    at = _app(state_lrs="0.01,1", pseeds="1", pepochs="1", s_widths="8,16", pbatch="128")
    at.button(key="stability_train").click()
    t0 = time.time()
    while time.time() - t0 < 240:
        at.run()
        assert not at.exception, at.exception
        figs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
        stab = [f for f in figs if "Training stability" in json.dumps(f["layout"].get("title", {}))]
        widths = {
            t["meta"]["width"] for f in stab for t in f["data"] if "width" in (t.get("meta") or {})
        }
        if widths == {8, 16} and any("Trained in" in c.value for c in at.caption):
            break
        time.sleep(0.5)
    else:
        raise AssertionError("the width sweep did not finish in time")
    assert any("Largest γ that still trains" in c.value for c in at.caption)
