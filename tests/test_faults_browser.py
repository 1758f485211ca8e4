"""Fault injection through a real browser against a real server: a crafted link with a huge
grid is refused on the page, markdown in link values is shown as text (no live link, no image
request), the Runs page shows a damaged run with Delete, and after the server is killed while
training, the restarted server's page says the job was lost. Screenshots go to
``artifacts/screenshots/faults_*.png``."""

from __future__ import annotations

import subprocess
import time
import urllib.parse
from pathlib import Path

import pandas as pd
import pytest
from browser_server import CHROMIUM, NO_CHROMIUM, ROOT, serve

from pcdash.runs import save_run

pytestmark = pytest.mark.e2e

SHOTS = ROOT / "artifacts" / "screenshots"
EVIL = ("evil.example", "127.0.0.1:9")  # where a crafted link would send the browser


def _evil(url: str) -> bool:
    """Whether ``url`` points at one of the crafted targets (not merely carries one in its
    query)."""
    parts = urllib.parse.urlsplit(url)
    return parts.netloc in EVIL


if CHROMIUM is None:  # CI installs it (.ci/run)
    pytest.fail(NO_CHROMIUM, pytrace=False)


def _serve(runs: Path, log: Path) -> tuple[subprocess.Popen, str]:
    env = {"PYTHONPATH": str(ROOT), "PCDASH_RUNS_DIR": str(runs), "PCDASH_WARMUP": "0"}
    return serve(env, log, wait_s=90)


def _open(browser, url: str, wait_for: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.requests_to_evil = []
    page.on("request", lambda r: page.requests_to_evil.append(r.url) if _evil(r.url) else None)
    page.goto(url)
    page.get_by_text(wait_for).first.wait_for(timeout=120_000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000
    )
    page.wait_for_timeout(500)
    return page


def _live_evil_markup(page) -> list[str]:
    links = page.eval_on_selector_all("a", "els => els.map(e => e.href)")
    images = page.eval_on_selector_all("img", "els => els.map(e => e.src)")
    return [u for u in links + images if _evil(u)]


def test_crafted_links_damaged_runs_and_a_lost_job_through_a_browser(tmp_path):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    runs = tmp_path / "runs"
    runs.mkdir()
    frame = pd.DataFrame({"epoch": [1, 2], "loss": [0.5, 0.4]})
    save_run(
        "aaa-damaged",
        "generative-ood",
        {"dataset": "digits"},
        frame,
        meta={"seconds": 2.0},
        root=runs,
    )
    save_run(
        "bbb-intact",
        "generative-ood",
        {"dataset": "digits"},
        frame,
        meta={"seconds": 2.0},
        root=runs,
    )
    data = (runs / "aaa-damaged" / "results.csv").read_bytes()
    (runs / "aaa-damaged" / "results.csv").write_bytes(data[: len(data) // 2])  # a truncated CSV
    log = SHOTS / "faults_server.log"
    log.write_text("")
    server, url = _serve(runs, log)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
            # 1. the "40020 models" link: refused with one message, no Train button
            lams = ",".join(f"{i / 2000:g}" for i in range(2001))
            page = _open(
                browser,
                f"{url}/tradeoff?lams={lams}&seeds=20",
                "cannot run: the λ grid has 2001 values",
            )
            assert page.get_by_role("button", name="Train", exact=True).count() == 0
            assert page.locator("[data-testid='stException']").count() == 0
            page.screenshot(path=str(SHOTS / "faults_refused_grid.png"))
            page.close()
            # 2. markdown in link values is text: no live link, no image request
            for query, shown in (
                (f"lams={urllib.parse.quote('[click me](http://evil.example/x)')}", "click me"),
                (f"dataset={urllib.parse.quote('![x](http://127.0.0.1:9/pixel.png)')}", "pixel"),
            ):
                page = _open(browser, f"{url}/tradeoff?{query}", shown)
                page.wait_for_timeout(1000)
                assert _live_evil_markup(page) == [] and page.requests_to_evil == [], query
                page.close()
            # 3. the Runs page lists the damaged run, says what is wrong and offers Delete
            page = _open(browser, f"{url}/runs", "is damaged")
            page.get_by_role("button", name="Delete this run").wait_for(timeout=60_000)
            assert page.get_by_text("results.csv has").count() >= 1
            page.screenshot(path=str(SHOTS / "faults_runs_damaged.png"), full_page=True)
            page.get_by_role("button", name="Delete this run").click()
            page.get_by_text("Deleted run aaa-damaged").wait_for(timeout=60_000)
            assert not (runs / "aaa-damaged").exists() and (runs / "bbb-intact").exists()
            page.close()
            # 4. a job lost with the server: kill it while training, start another, open the same
            # link
            long = f"{url}/tradeoff?epochs=400&seeds=3"
            page = _open(browser, long, "Press")
            page.get_by_role("button", name="Train", exact=True).first.click()
            deadline = time.time() + 60
            while not list(
                (runs / ".jobs").glob("*.json")
            ):  # the server noted the job: it is training
                assert time.time() < deadline, "the job did not start"
                time.sleep(0.2)
            page.close()
            server.kill()
            server.wait(30)
            server, url = _serve(runs, log)
            page = _open(
                browser, long.replace(long.split("/tradeoff")[0], url), "when the server stopped"
            )
            page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
            page.screenshot(path=str(SHOTS / "faults_lost_job.png"))
            page.close()
            browser.close()
    finally:
        server.kill()
        server.wait(30)
