"""The PC algorithms and PC-vs-BP pages render, reject bad input, and a tiny run draws figures;
on digits the PC variants land within a few points of BP."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.test_pages import _figures, _run_until

ROOT = Path(__file__).resolve().parents[1]


def _page(page: str, **params) -> AppTest:
    at = AppTest.from_file(str(ROOT / page), default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    return at


@pytest.mark.parametrize(
    "page,field,value,message",
    [
        ("views/pc_algorithms.py", "algs", "pc-se,backprop", "unknown algorithm"),
        ("views/pc_algorithms.py", "algs", "", "at least one"),
        ("views/pc_vs_bp.py", "conds", "magic", "unknown condition"),
    ],
)
def test_bad_input_gets_a_message(page, field, value, message):
    at = _page(page)
    at.sidebar.text_input(key=f"w_{field}").set_value(value)
    at.run()
    assert not at.exception
    assert any(message in e.value for e in at.sidebar.error), [e.value for e in at.sidebar.error]


def test_tiny_run_on_the_algorithms_page_draws_one_curve_per_algorithm():
    at = _page(
        "views/pc_algorithms.py", algs="pn,bp-se", aseeds="1", aepochs="2", awidth="16", aT="2"
    )
    at.button(key="algorithms_train").click()
    _run_until(at, lambda a: any("Trained in" in c.value for c in a.caption))
    figs = _figures(at)
    lines = {
        t["meta"]["variant"]
        for f in figs
        for t in f["data"]
        if t.get("meta", {}).get("split") == "test"
    }
    assert lines == {"pn", "bp-se"}
    bars = [t for f in figs for t in f["data"] if t.get("type") == "bar"]
    assert bars and bars[0]["meta"]["variants"] == ["pn", "bp-se"]
    # the paper's Table 1 (MLP rows) beside ours, and which table each panel shows
    table = next(
        df.value for df in at.dataframe if "PCX Table 1: MNIST" in df.value.columns
    ).set_index("Algorithm")
    assert table.loc["PN", "PCX Table 1: MNIST"] == "98.36 ± 0.06"
    assert table.loc["BP-SE", "PCX Table 1: FashionMNIST"] == "89.48 ± 0.07"
    assert "PCX paper, Table 1" in " ".join(c.value for c in at.caption)


def test_tiny_run_on_the_pc_vs_bp_page_draws_every_figure_of_the_paper_by_model_name():
    at = _page(
        "views/pc_vs_bp.py",
        conds="pc,pc_rc23,bp",
        cseeds="1",
        cepochs="2",
        cwidth="16",
        cT="8",
        ck="4",
        cdepth="2",
    )
    at.button(key="pc_vs_bp_train").click()
    _run_until(at, lambda a: any("Trained in" in c.value for c in a.caption))
    figs = _figures(at)
    names = ["pc_16_2", "pc_16_2_rc23", "bp_16_2"]  # the paper's naming
    bars = [
        t
        for f in figs
        for t in f["data"]
        if t.get("type") == "bar" and "metric" in (t.get("meta") or {})
    ]
    assert {t["meta"]["metric"] for t in bars} == {"accuracy", "time"} and bars[0]["meta"][
        "variants"
    ] == names
    curves = {
        (t["meta"]["model"], t["meta"]["metric"], t["meta"]["split"])
        for f in figs
        for t in f["data"]
        if "metric" in (t.get("meta") or {}) and t.get("type") == "scatter"
    }
    assert {(n, "loss", "train") for n in names} <= curves and {
        (n, "accuracy", "test") for n in names
    } <= curves
    kinds = {
        (t["meta"].get("kind"), t["meta"].get("model"))
        for f in figs
        for t in f["data"]
        if isinstance(t.get("meta"), dict)
    }
    assert {("surface", n) for n in names} <= kinds and {("contour", n) for n in names} <= kinds
    layers = {
        (t["meta"]["model"], t["meta"]["layer"])
        for f in figs
        for t in f["data"]
        if t.get("type") == "histogram"
    }
    assert layers == {(n, i) for n in names for i in (1, 2, 3)}
    cos = [
        t
        for f in figs
        for t in f["data"]
        if "layer" in (t.get("meta") or {}) and t.get("type") == "scatter"
    ]
    assert len(cos) == 2 * 3  # two PC models × three layers
    captions = " ".join(c.value for c in at.caption)
    for fig in ("Fig. 2", "Fig. 3", "Fig. 4", "Fig. 5"):
        assert f"Comparison paper, {fig}" in captions
    steps = [df for df in at.dataframe if "Inference steps per batch" in df.value.columns]
    used = steps[0].value.set_index("Model")["Inference steps per batch"]
    assert 1 <= used["pc_16_2"] <= 8 and used["pc_16_2_rc23"] == 8 and used["bp_16_2"] == 0


def test_pc_variants_land_within_a_few_points_of_bp_on_digits():
    from dataclasses import replace

    from pcdash.experiments.comparison import run_pcn_comparison
    from pcdash.experiments.pcn_config import PCNConfig
    from pcdash.figures.pc_compare import algorithm_table

    base = PCNConfig(
        state_lrs=(0.1,),
        widths=(64,),
        depth=1,
        epochs=6,
        seeds=1,
        batch_size=32,
        inference_steps=4,
        weight_lr=2e-3,
        beta0=0.5,
        beta_rate=0.25,
    )
    names = ("pc-se", "ipc", "pn", "nn", "cn", "bp-se")
    out = run_pcn_comparison([(n, replace(base, algorithm=n)) for n in names])
    table = algorithm_table(out.frame).set_index("variant")
    bp = table.loc["bp-se", "accuracy_mean"]
    assert bp > 90
    for n in names[:-1]:
        assert table.loc[n, "accuracy_mean"] > bp - 5, table


def test_the_paper_preset_loads_the_comparison_papers_setting_and_back():
    at = _page("views/pc_vs_bp.py")
    assert (
        at.sidebar.number_input(key="w_cdepth").value == 8
        and at.sidebar.number_input(key="w_cT").value == 256
    )
    at.sidebar.button(key="cmp_preset_1").click()
    at.run()
    assert not at.exception, at.exception
    assert at.sidebar.selectbox(key="w_cdata").value == "fashion_mnist"
    assert at.sidebar.number_input(key="w_cwidth").value == 256
    assert at.sidebar.number_input(key="w_ctol").value == 0.0  # always all 256 steps, as the paper
    assert at.sidebar.number_input(key="w_crlr").value == 1e-5
    assert "256" in str(at.query_params["cwidth"])  # and the link reproduces it
    at.sidebar.button(key="cmp_preset_0").click()
    at.run()
    assert (
        at.sidebar.number_input(key="w_cwidth").value == 64
        and at.sidebar.selectbox(key="w_cdata").value == "digits"
    )
