"""Pages' default runs in the browser: a fresh ``streamlit run serve.py`` on a compilation cache
given by ``--cache`` (fill it first, e.g. ``bench_pages.py --cache DIR``, or leave it empty to
time the empty-cache case), Chromium opens each page, presses its Train button, and we time
click → "Trained in" shows; then Retrain in the same server (programs already in memory: the
"after warm-up" case) and time it again. A 2048² float32 matmul is timed around each page.
Train is pressed once the server's log says the page's default run is warm (``--no-wait``:
as soon as the page shows). Printed beside the browser's times: the server's own time for each
job (start to done, from its log) and how long the page's warm-up took after the server
started.

    python benchmarks/bench_browser_pages.py --cache /tmp/cache       # every page
    python benchmarks/bench_browser_pages.py --cache /tmp/cache --pages tradeoff,pc_vs_bp
"""

from __future__ import annotations

import argparse
import os
import re
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


def server_seconds(log: Path) -> list[float]:
    """The server's own time for each job, start to done (its log lines
    ``pcdash job · …: done after 12.3 s``): what the browser adds is the difference."""
    return [
        float(m) for m in re.findall(r"pcdash job · .*: done after ([0-9.]+) s", log.read_text())
    ]


# A page's URL path -> its default run's warm-up line in the server's log (pcdash.ui.server:
# the default sweep's "done after", then each page default's "<run> ready after").
WARM_UP_LINE = {
    "": r"done",
    "tradeoff": r"done",
    "latent": r"done",
    "reconstructions": r"done",
    "latent_dim": r"latent_dim ready",
    "energy": r"energy ready",
    "algorithms": r"pc_algorithms ready",
    "pc_vs_bp": r"pc_vs_bp ready",
    "autoencoder": r"autoencoder ready",
    "mcpc": r"mcpc ready",
    "memory": r"memory ready",
    "ood": r"ood ready",
}


def wait_warm(log: Path, path: str, timeout_s: float = 600.0) -> float:
    """Seconds until the server's log says that ``path``'s default run is warm."""
    t0 = time.time()
    pattern = re.compile(rf"pcdash warm-up · {WARM_UP_LINE[path]} after")
    while not pattern.search(log.read_text()):
        if time.time() - t0 > timeout_s:
            raise RuntimeError(f"{path}: no warm-up line in {timeout_s:.0f} s")
        time.sleep(0.2)
    return time.time() - t0


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
    parser.add_argument(
        "--pages",
        default=",".join(WARM_UP_LINE),
        help="URL paths, comma-separated (the Home page's is empty); default: every page with a "
        "Train button",
    )
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="press Train as soon as the page shows, not after the page's warm-up",
    )
    args = parser.parse_args()
    runs = tempfile.mkdtemp(prefix="pcdash-runs-")
    env = {
        **os.environ,
        "PCDASH_CACHE_DIR": args.cache,
        "PCDASH_RUNS_DIR": runs,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    print(
        f"{'page':14}{'first press':>12}{'retrain':>10}{'server':>16}"
        f"{'warm':>9}{'matmul GFLOP/s':>16}{'load':>6}"
    )
    for path in args.pages.split(","):
        name = path or "home"  # (the Home page's path is empty)
        log = Path(runs) / f"server-{path}.log"
        server, url = serve(env, log, wait_s=60)
        try:
            warm = float("nan") if args.no_wait else wait_warm(log, path)
            mm = matmul_flops_per_s()
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(f"{url}/")  # serve() returned once the server accepts connections
                first, again = time_page(page, path, url)
                page.screenshot(path=f"/tmp/perf-browser-{name}.png", full_page=True)
                browser.close()
            mm = min(mm, matmul_flops_per_s())
            jobs = server_seconds(log)
            print(
                f"{name:14}{first:>11.1f}s{again:>9.1f}s"
                f"{' / '.join(f'{s:.1f}' for s in jobs[:2]) + ' s':>16}"
                f"{warm:>8.1f}s{mm / 1e9:>16.0f}{load():>6.1f}",
                flush=True,
            )
        finally:
            server.terminate()
            server.wait(10)
            shutil.copy(log, f"/tmp/perf-browser-{name}.log")  # the server log, kept
    shutil.rmtree(runs, ignore_errors=True)


if __name__ == "__main__":
    main()
