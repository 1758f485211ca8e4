"""Pages' default runs in the browser: a fresh ``streamlit run serve.py`` on a compilation cache
given by ``--cache`` (fill it first, e.g. ``bench_pages.py --cache DIR``, or leave it empty to
time the empty-cache case), Chromium opens each page, presses its Train button, and we time
click → "Trained in" shows; then Retrain in the same server (programs already in memory: the
"after warm-up" case) and time it again. A 2048² float32 matmul is timed around each page.

    python benchmarks/bench_browser_pages.py --cache /tmp/cache --pages tradeoff,pc_vs_bp
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from browser_server import CHROMIUM, serve  # noqa: E402  (the browser tests' server start)
from common import load, matmul_flops_per_s  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_MS = 900_000


def trained_text(page) -> str:
    captions = page.get_by_text("Trained in")
    return captions.first.inner_text() if captions.count() else ""


def time_page(page, path: str, url: str) -> tuple[float, float]:
    page.goto(f"{url}/{path}")
    # a page whose default has a shipped, precomputed result (assets/) offers Retrain instead
    button = (
        page.get_by_role("button", name="Train", exact=True)
        .or_(page.get_by_role("button", name="Retrain", exact=True))
        .first
    )
    button.wait_for(timeout=120_000)
    t0 = time.time()
    button.click()
    page.get_by_text("Trained in").first.wait_for(timeout=TIMEOUT_MS)
    first = time.time() - t0
    before = trained_text(page)
    retrain = page.get_by_role("button", name="Retrain", exact=True).first
    t0 = time.time()
    retrain.click()
    deadline = time.time() + TIMEOUT_MS / 1000
    gone = False
    while time.time() < deadline:  # the caption goes, then comes back with the new time
        text = trained_text(page)
        gone = gone or not text
        if text and (text != before or gone):  # the same time twice ("Trained in 1.7 s") too
            break
        time.sleep(0.2)
    return first, time.time() - t0


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cache", required=True, help="compilation cache folder (PCDASH_CACHE_DIR)"
    )
    parser.add_argument("--pages", default="tradeoff,latent_dim,energy,algorithms,pc_vs_bp")
    args = parser.parse_args()
    runs = tempfile.mkdtemp(prefix="pcdash-runs-")
    env = {
        **os.environ,
        "PCDASH_CACHE_DIR": args.cache,
        "PCDASH_RUNS_DIR": runs,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    print(f"{'page':14}{'first press':>12}{'retrain':>10}{'matmul GFLOP/s':>16}{'load':>6}")
    for path in args.pages.split(","):
        server, url = serve(env, Path(runs) / "server.log", wait_s=60)
        try:
            mm = matmul_flops_per_s()
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(f"{url}/")  # serve() returned once the server accepts connections
                first, again = time_page(page, path, url)
                page.screenshot(path=f"/tmp/perf-browser-{path}.png", full_page=True)
                browser.close()
            mm = min(mm, matmul_flops_per_s())
            print(
                f"{path:14}{first:>11.1f}s{again:>9.1f}s{mm / 1e9:>16.0f}{load():>6.1f}", flush=True
            )
        finally:
            server.terminate()
            server.wait(10)
    shutil.rmtree(runs, ignore_errors=True)


if __name__ == "__main__":
    main()
