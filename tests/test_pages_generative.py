"""The Generative & memory pages (autoencoder, MCPC, associative memory, OOD) reject bad input
with a message, and one tiny run per page draws the expected figures (checked on the plotly
specs)."""

import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

VIEWS = Path(__file__).resolve().parents[1] / "views"
PAGES = {"g_ae": "autoencoder", "g_mc": "mcpc", "g_mem": "memory", "g_ood": "ood"}  # part -> page


def _app(part: str, **params) -> AppTest:
    at = AppTest.from_file(str(VIEWS / f"{PAGES[part]}.py"), default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


def _figures(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def _train(at: AppTest, part: str, timeout: float = 120.0) -> list[dict]:
    at.button(key=f"{part}_train").click()
    t0 = time.time()
    while time.time() - t0 < timeout:
        at.run()
        assert not at.exception, at.exception
        assert not at.error, [e.value for e in at.error]
        if any("Trained in" in c.value for c in at.caption):
            return _figures(at)
        time.sleep(0.3)
    raise AssertionError(f"{part} did not finish in time")


def _metas(figs, key):
    return [
        t.get("meta", {})
        for f in figs
        for t in f["data"]
        if isinstance(t.get("meta"), dict) and key in t["meta"]
    ]


@pytest.mark.parametrize("part", list(PAGES))
def test_each_page_has_its_train_button(part):
    at = _app(part)
    assert f"{part}_train" in {b.key for b in at.button}


@pytest.mark.parametrize(
    "part,params,message",
    [
        ("g_ae", {"g_ae_state_lrs": "0.1,-1"}, "γ must be > 0"),
        ("g_mem", {"g_mem_ns": "a,b"}, "comma-separated"),
        ("g_mc", {"g_mc_state_lr": "0.5"}, "γ / σ²_L"),
    ],
)
def test_bad_input_gets_a_message(part, params, message):
    at = _app(part, **params)
    assert any(message in e.value for e in at.error), [e.value for e in at.error]


def test_tiny_autoencoder_run_shows_pc_and_bp():
    at = _app("g_ae", g_ae_epochs="2", g_ae_state_lrs="0.1", g_ae_hidden="16", g_ae_T="5")
    figs = _train(at, "g_ae")
    bars = _metas(figs, "state_lr")
    assert sorted(m["model"] for m in bars) == ["BP", "PC"]
    grids = [
        f["layout"]["meta"]
        for f in figs
        if isinstance(f["layout"].get("meta"), dict) and "grid" in f["layout"]["meta"]
    ]
    assert [3, 8] in [g["grid"] for g in grids]  # original, PC, BP rows


def test_tiny_mcpc_run_draws_densities_over_the_data():
    at = _app("g_mc", g_mc_data="moons", g_mc_epochs="1", g_mc_steps="20")
    figs = _train(at, "g_mc")
    roles = [m["role"] for m in _metas(figs, "role")]
    assert roles.count("samples") == 2 and roles.count("data") == 2  # before and after training


def test_tiny_memory_run_draws_the_table_and_pictures():
    at = _app("g_mem", g_mem_ns="2,4", g_mem_widths="16", g_mem_steps="20", g_mem_recall="20")
    figs = _train(at, "g_mem")
    heat = _metas(figs, "width")
    assert len(heat) == 2 and all(
        m["n"] == [2, 4] and m["width"] == [16] for m in heat
    )  # noise and mask


def test_tiny_ood_run_draws_roc_curves_with_auroc():
    at = _app("g_ood", g_ood_epochs="1", g_ood_T="5")
    figs = _train(at, "g_ood")
    scores = {m["score"]: m.get("auroc") for m in _metas(figs, "score") if "auroc" in m}
    assert set(scores) == {"energy_before", "energy_after", "max_softmax"}
    assert all(0.0 <= a <= 1.0 for a in scores.values())
    hist = {(m["set"], m["score"]) for m in _metas(figs, "set")}
    assert len(hist) == 6
    titles = [f["layout"].get("title", {}).get("text", "") for f in figs]
    assert any("least confident 25%" in t for t in titles)  # the hard-case ROC beside the full one
    assert any("Energy against max softmax" in t for t in titles)
    nll = at.dataframe[0].value
    assert list(nll["set"]) == ["ID", "OOD"] and {"nll_before", "nll_after"} <= set(nll.columns)


def test_mcpc_momentum_control_reaches_the_config():
    at = _app("g_mc", g_mc_m="0.5", g_mc_T="7")
    assert at.number_input(key="w_g_mc_m").value == 0.5
    bad = _app("g_mc", g_mc_m="1.5")  # outside [0, 0.99]: reported and replaced by the default
    assert bad.number_input(key="w_g_mc_m").value == 0.9  # the default on iris (Appendix C.2)


def test_every_page_says_which_paper_figure_it_shows_and_what_differs():
    figures = {
        "g_ae": ("Table 2", "Fig. 3"),
        "g_mc": ("Fig. 4",),
        "g_mem": ("Table 3", "Fig. 5"),
        "g_ood": ("Fig. 19–25",),
    }
    presets = 0
    for part, expected in figures.items():
        at = _app(part)
        captions = " ".join(c.value for c in at.caption)
        assert all(figure in captions for figure in expected), (part, expected)
        settings = [t.value for t in at.table if "why the default differs" in t.value.columns]
        assert len(settings) == 1, part  # one settings table per page
        presets += "paper preset" in settings[0].columns
    assert presets == 2  # MCPC and OOD offer the paper's setting


def test_paper_presets_replace_the_quick_controls():
    mc, ood = _app("g_mc", g_mc_preset="paper"), _app("g_ood", g_ood_preset="paper")
    assert "w_g_mc_epochs" not in {n.key for n in mc.number_input}
    assert "w_g_ood_epochs" not in {n.key for n in ood.number_input}
    assert "10,200 weight updates" in " ".join(i.value for i in mc.info)
    assert "3 × 512 GELU" in " ".join(i.value for i in ood.info)
    assert "w_g_mc_epochs" in {n.key for n in _app("g_mc").number_input}
    assert "w_g_ood_epochs" in {n.key for n in _app("g_ood").number_input}
