"""End to end: a real server, Debian's Chromium driven by Playwright. Opens every page, runs a
tiny sweep from the Trade-off page, waits for it to finish and checks the charts are drawn.
Screenshots of every page go to ``artifacts/screenshots/``."""

import subprocess
import tempfile

import pytest
from browser_server import CHROMIUM, NO_CHROMIUM, ROOT, serve

pytestmark = pytest.mark.e2e

SHOTS = ROOT / "artifacts" / "screenshots"
PAGES = {
    "home": "",
    "tradeoff": "tradeoff",
    "latent": "latent",
    "reconstructions": "reconstructions",
    "latent_dim": "latent_dim",
    "energy": "energy",
    "algorithms": "algorithms",
    "pc_vs_bp": "pc_vs_bp",
    "autoencoder": "autoencoder",
    "mcpc": "mcpc",
    "memory": "memory",
    "ood": "ood",
    "runs": "runs",
}
SERVER_LOG = SHOTS / "server.log"
TINY = "lams=0,0.5,1&seeds=2&epochs=3&batch=128"

if CHROMIUM is None:  # CI installs it (.ci/run); a developer machine without it cannot run these
    pytest.fail(NO_CHROMIUM, pytrace=False)


@pytest.fixture(scope="module")
def server():
    # as a user runs it: serve.py, warming up the default sweep's programs as the server starts
    SHOTS.mkdir(parents=True, exist_ok=True)
    SERVER_LOG.write_text("")
    # its own runs folder: a run that another test of this process saved under the same
    # configuration (test_pages trains the Energy page's) would turn Train into Retrain
    runs = tempfile.mkdtemp(prefix="pcdash-e2e-runs-")
    proc, url = serve({"PCDASH_WARMUP": "1", "PCDASH_RUNS_DIR": runs}, SERVER_LOG, wait_s=60)
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def _wait_idle(page, timeout=90_000):
    """Streamlit shows its status widget while a script runs; wait for the app to settle."""
    page.wait_for_selector("[data-testid='stApp'] h1", timeout=timeout)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout
    )
    page.wait_for_timeout(300)


def _open(browser, url, width: int = 1400):
    page = browser.new_page(viewport={"width": width, "height": 1000})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    _wait_idle(page)
    # a direct link opens its page in the app's navigation (no "Page not found", no raw file list)
    assert page.get_by_text("Page not found").count() == 0
    assert page.locator("[data-testid='stSidebarNav']").get_by_text("Trade-off").count() == 1
    return page, errors


def _wait_text(page, text: str, timeout: int, shot: str) -> None:
    """Wait for ``text``; fail at once if the page shows an error instead, and on either failure
    report what the page showed and the server's last lines."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    wanted = page.get_by_text(text)
    error = page.locator("[data-testid='stAlertContentError'], [data-testid='stException']")
    try:
        wanted.or_(error).first.wait_for(timeout=timeout)
        problem = None if wanted.count() else "the page shows an error"
    except PlaywrightTimeout:
        problem = f"{text!r} did not appear in {timeout / 1000:.0f} s"
    if problem:
        page.screenshot(path=str(SHOTS / f"{shot}_failed.png"), full_page=True)
        shown = page.locator("[data-testid='stMain']").inner_text()[-1500:]
        log = SERVER_LOG.read_text()[-4000:] if SERVER_LOG.exists() else ""
        pytest.fail(f"{problem}.\nPage:\n{shown}\nServer log:\n{log}")


@pytest.mark.parametrize("name", list(PAGES))
def test_each_page_opens_without_error(server, browser, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page, errors = _open(browser, f"{server}/{PAGES[name]}")
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.locator("h1").count() >= 1
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    page.close()
    assert not errors, errors


def test_tiny_sweep_from_the_tradeoff_page(server, browser):
    page, _ = _open(browser, f"{server}/tradeoff?{TINY}")
    page.get_by_role("button", name="Train", exact=True).first.click()
    _wait_text(page, "Trained in", 240_000, "tradeoff")
    _wait_idle(page)
    # the figures follow the caption, element by element: on a loaded machine they can still be
    # on their way when the status widget has gone
    page.wait_for_function(
        "document.querySelectorAll('.js-plotly-plot').length >= 4", timeout=60_000
    )
    # the finished job's line replaced its progress bar (no "2 s left" under a finished job)
    assert page.locator("[data-testid='stProgress']").count() == 0
    # the box plot really has boxes drawn in it
    page.wait_for_selector(".js-plotly-plot .boxlayer path", state="attached", timeout=30_000)
    page.screenshot(path=str(SHOTS / "tradeoff_trained.png"), full_page=True)
    # the other CRE pages show the same sweep without retraining
    for name in ("latent", "reconstructions"):
        page.goto(f"{server}/{PAGES[name]}?{TINY}")
        _wait_idle(page)
        _wait_text(page, "Trained in", 60_000, name)
        page.wait_for_selector(".js-plotly-plot", timeout=60_000)
        page.screenshot(path=str(SHOTS / f"{name}_trained.png"), full_page=True)
    page.close()


def test_tiny_pcn_sweep_from_the_energy_page(server, browser):
    page, errors = _open(browser, f"{server}/energy?gammas=0.01,0.1&pseeds=1&pepochs=2")
    page.get_by_role("button", name="Train", exact=True).first.click()
    _wait_text(page, "Trained in", 240_000, "energy")
    _wait_idle(page)
    # the finished sweep's figures are drawn by the rerun that follows "Trained in"
    page.wait_for_function(
        "document.querySelectorAll('.js-plotly-plot').length >= 5", timeout=60_000
    )
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(SHOTS / "energy_trained.png"), full_page=True)
    page.close()
    assert not errors, errors


# Each chart's title (``text.gtitle``) whose box reaches past its chart's, in screen pixels
_TITLE_OVERFLOWS = """() => {
  const out = [];
  document.querySelectorAll('.js-plotly-plot').forEach((plot) => {
    const svg = plot.querySelector('svg.main-svg');
    if (!svg) return;
    const chart = svg.getBoundingClientRect();
    plot.querySelectorAll('text.gtitle').forEach((t) => {
      const r = t.getBoundingClientRect();
      const over = Math.max(chart.left - r.left, r.right - chart.right, chart.top - r.top);
      if (r.width > 0 && over > 1) out.push(t.textContent + ' (' + Math.round(over) + ' px)');
    });
  });
  return out;
}"""


def test_chart_titles_fit_their_charts_on_a_laptop_window(server, browser):
    """On a 1,100 px window two charts side by side are about 312 px wide: Plotly drew long
    titles on one line and cut them at the chart's edge ("Pareto view: reconstruction error vs
    accuracy (test, dim(z) = 3)" lost 240 px). Titles are wrapped to fit
    (pcdash.ui.export.show_figure). The Trade-off page's four charts, after a tiny sweep."""
    page, errors = _open(browser, f"{server}/tradeoff?lams=0,1&seeds=1&epochs=2&batch=128", 1100)
    page.get_by_role("button", name="Train", exact=True).first.click()
    _wait_text(page, "Trained in", 240_000, "tradeoff_titles")
    _wait_idle(page)
    page.wait_for_function(
        "document.querySelectorAll('.js-plotly-plot text.gtitle').length >= 4", timeout=60_000
    )
    overflows = page.evaluate(_TITLE_OVERFLOWS)
    if overflows:
        page.screenshot(path=str(SHOTS / "tradeoff_titles_failed.png"), full_page=True)
    page.close()
    assert not overflows, overflows
    assert not errors, errors
