"""The shipped results in assets/: one per experiment, under the key of its current quick setting
(so a changed default without regenerated assets fails here), loaded through the same code as a
live run, small, stamped, with every claim deciding as recorded — and every page opens on them,
labelled as precomputed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pcdash.paper import EXPERIMENTS, FIGURES
from pcdash.paper.assets import INDEX
from pcdash.paper.runners import load, run_key

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets" / "runs"
APP = ROOT / "app.py"
PAGE_FILES = {
    "tradeoff": "views/tradeoff.py",
    "latent_dim": "views/latent_dimension.py",
    "energy": "views/energy_dynamics.py",
    "algorithms": "views/pc_algorithms.py",
    "pc_vs_bp": "views/pc_vs_bp.py",
    "autoencoder": "views/autoencoder.py",
    "mcpc": "views/mcpc.py",
    "memory": "views/memory.py",
    "ood": "views/ood.py",
}
PRECOMPUTED = "Precomputed result shipped with pcdash"


@pytest.fixture
def shipped(monkeypatch, tmp_path):
    """The shipped assets on, an empty user run store, and no job of theirs in memory."""
    monkeypatch.setenv("PCDASH_ASSETS_DIR", str(ASSETS))
    monkeypatch.setenv("PCDASH_RUNS_DIR", str(tmp_path / "runs"))
    from pcdash.ui.server import job_manager

    for exp in EXPERIMENTS.values():
        job_manager().forget(run_key(exp.kind, exp.config()))
    return ASSETS


def test_every_experiment_ships_the_run_of_its_current_quick_setting():
    keys = {name: run_key(e.kind, e.config()) for name, e in EXPERIMENTS.items()}
    missing = {
        name: key for name, key in keys.items() if not (ASSETS / key / "manifest.json").is_file()
    }
    assert not missing, (
        f"assets/ is stale for {missing}: run `python -m pcdash reproduce all --quick --assets "
        "--out /tmp/r`"
    )
    extra = {p.name for p in ASSETS.iterdir() if not p.name.startswith(".")} - set(keys.values())
    assert not extra, f"assets/runs holds runs no experiment uses: {extra}"


def test_the_assets_are_small_and_stamped():
    size = sum(p.stat().st_size for p in (ROOT / "assets").rglob("*") if p.is_file())
    assert size < 5 * 2**20, f"assets/ is {size / 2**20:.1f} MB"
    index = json.loads((ROOT / "assets" / INDEX).read_text())
    assert (
        index["made"] and index["version"] and "reproduce all --quick --assets" in index["command"]
    )
    for run in ASSETS.iterdir():
        stamp = json.loads((run / "config.json").read_text())["meta"]["precomputed"]
        assert stamp["made"] and stamp["version"] and stamp["experiment"] in EXPERIMENTS, run.name


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_shipped_results_load_like_live_ones_and_decide_their_claims_as_recorded(shipped, name):
    exp = EXPERIMENTS[name]
    result = load(
        exp.kind, exp.config()
    )  # the loader every page uses: the user's store, then assets/
    assert result is not None and len(result.frame) > 0
    index = json.loads((ROOT / "assets" / INDEX).read_text())
    recorded = {e["figure"]: e for e in index["figures"]}
    for f in (f for f in FIGURES.values() if f.experiment is exp):
        assert recorded[f.name]["run_key"] == run_key(exp.kind, exp.config())
        for (claim, verdict), rec in zip(
            f.verdicts(result), recorded[f.name]["claims"], strict=True
        ):
            assert verdict.holds == claim.expected == rec["holds"], (
                f.name,
                claim.text,
                verdict.summary,
            )


def _open(page_file: str | None, query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=180)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    if page_file:
        at.switch_page(page_file)
        at.run()
    assert not at.exception, at.exception
    return at


def _precomputed(at: AppTest) -> int:
    return sum(PRECOMPUTED in str(el.value) for el in at.info)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_each_figure_link_opens_its_page_on_the_shipped_result(shipped, name):
    """The Paper figures page's link for the experiment (its exact settings in the URL) opens
    the dedicated page, which finds the same run and shows it as precomputed."""
    exp = EXPERIMENTS[name]
    at = _open(PAGE_FILES[exp.page], exp.query(exp.config()))
    if (
        exp.link_note
    ):  # the page cannot train this exact run: its link opens the nearest setting, unshipped
        assert _precomputed(at) == 0 and any("Train" in str(el.value) for el in at.info)
        return
    assert _precomputed(at) >= 1, [str(e.value) for e in at.info]


@pytest.mark.slow
def test_pages_open_populated_without_a_link(shipped):
    """A new user's first visit, no URL values: every page that trains shows a shipped result."""
    for page, expected in (
        (None, 1),
        ("views/tradeoff.py", 1),
        ("views/latent_space.py", 1),
        ("views/reconstructions.py", 1),
        ("views/latent_dimension.py", 1),
        ("views/energy_dynamics.py", 3),
        ("views/pc_algorithms.py", 1),
        ("views/pc_vs_bp.py", 1),
        ("views/autoencoder.py", 1),
        ("views/mcpc.py", 1),
        ("views/memory.py", 1),
        ("views/ood.py", 1),
    ):
        assert _precomputed(_open(page, {})) >= expected, page


@pytest.mark.slow
def test_paper_figures_page_shows_every_claim_with_its_verdict(shipped):
    at = _open("views/paper_figures.py", {})
    summary = at.dataframe[0].value  # the claims overview, first on the page
    assert len(summary) == sum(len(f.claims) for f in FIGURES.values())
    assert not summary["on our data"].str.startswith("—").any()
    assert set(summary["on our data"]) <= {"✅ holds", "❌ does not hold"}
    assert any(PRECOMPUTED in str(el.value) for el in at.info)
    assert at.get("plotly_chart")
