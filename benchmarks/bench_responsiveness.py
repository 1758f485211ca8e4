"""How soon a user sees the trade-off: time from pressing Train on the default digits sweep to
the first plot update, and to the end of the sweep, with compiled programs already in JAX's
persistent compilation cache (as after the dashboard's first use).

Measurements, each in a fresh process so only the persistent cache carries over:
1. the library path (JobManager, as the dashboard uses it): submit → first partial results →
   done; the page polls every 0.5 s, so the first plot appears at most 0.5 s after the first
   partial result. Once straight after import (what a fresh process pays: loading the data,
   tracing and lowering every program, loading it from the cache), once after
   ``precompile_cre`` (what ``serve.py`` starts in the background as the server starts);
2. the real thing, when Chromium is installed: ``streamlit run serve.py`` (the README's
   command), a browser presses Train on
   the Trade-off page and we time until the first chart of the new job with data in it is
   drawn (plotly has drawn a trace in a live chart, whose element key ends in ``_live``; or the
   job has ended, "Trained in", before a live drawing) and until "Trained in" shows. The page
   shows its shipped, precomputed result before the click, so a chart with data is there from
   the start: an earlier version of this benchmark waited for any such chart and printed 0.1-0.6
   s for what was the old result. Twice, each with a fresh server: once the click
   comes as soon as the button shows (the worst case: the server is still loading its compiled
   programs in the background and the browser its chart code), once as a user who reads the
   page first: the click comes READ_S seconds after the page has loaded (its placeholder chart
   drawn). The button pressed is Retrain (of the shipped result).

Targets (issue 3): first plot ≤ 3 s, whole default sweep ≤ 20 s on a 2-core machine.
Run: python benchmarks/bench_responsiveness.py [--skip-browser]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from browser_server import CHROMIUM, serve  # noqa: E402  (the browser tests' server start)

READ_S = 5.0  # how long the "reading" user looks at the loaded page before pressing Train

LIBRARY_RUN = r"""
import json, sys, time
t_import = time.time()
from pcdash.compile_cache import enable_compile_cache
enable_compile_cache()
from pcdash.experiments.cre_config import CREConfig
from pcdash.experiments.cre_sweep import run_cre_sweep
from pcdash.jobs import JobManager
imported = time.time() - t_import
config = CREConfig()
manager = JobManager()
precompile_s = None
if "--precompiled" in sys.argv:
    from pcdash.experiments.cre_sweep import precompile_cre
    t = time.time()
    precompile_cre(config)
    precompile_s = time.time() - t
t0 = time.time()
job = manager.submit(config.key(), "bench",
                     lambda p, s: run_cre_sweep(config, on_progress=p, should_stop=s))
while job.active:
    time.sleep(0.01)
total = time.time() - t0
frame = job.result.frame
last = frame[(frame.split == "test") & (frame.epoch == frame.epoch.max())]
test = last.groupby("lam")[["accuracy", "mse"]].mean()
print(json.dumps({"import_s": imported, "precompile_s": precompile_s,
                  "first_update_s": job.first_update_s, "total_s": total,
                  "members": config.n_members, "epochs": config.epochs,
                  "acc": test["accuracy"].round(3).tolist(), "mse": test["mse"].round(4).tolist(),
                  "lams": list(config.lambdas)}))
"""


def matmul_s(n: int = 1024, repeats: int = 10) -> float:
    """Median seconds of one n×n float32 matmul (numpy): the reference the times are divided by,
    so runs on a shared, busy machine can be compared."""
    import numpy as np

    a = np.ones((n, n), np.float32)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        a @ a
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def library_run(env: dict, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", LIBRARY_RUN, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def browser_run(env: dict, *, read: bool) -> dict:
    from playwright.sync_api import sync_playwright

    log = Path(tempfile.mkdtemp(prefix="pcdash-bench-")) / "server.log"
    server, url = serve(env, log, wait_s=60)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/tradeoff")  # serve() returned once the server accepts connections
            t_load = time.time()
            train = page.get_by_role("button", name="Retrain", exact=True)
            train.wait_for(timeout=60_000)
            loaded = None
            if read:
                page.wait_for_selector(
                    ".js-plotly-plot .main-svg", state="attached", timeout=120_000
                )  # placeholder drawn
                loaded = time.time() - t_load
                time.sleep(READ_S)
            t0 = time.time()
            train.click(timeout=60_000)
            page.get_by_text("Trained in").wait_for(state="detached", timeout=60_000)
            page.wait_for_function(  # a live chart with data drawn, or the end
                "() => document.querySelector('[class*=\"_live\"] .js-plotly-plot g.trace')"
                " !== null || document.body.innerText.includes('Trained in')",
                polling=50,
                timeout=120_000,
            )
            first = time.time() - t0
            page.get_by_text("Trained in").wait_for(timeout=300_000)
            total = time.time() - t0
            browser.close()
    finally:
        server.terminate()
        server.wait(10)
    found = re.findall(r"first results ([0-9.]+) s after submission", log.read_text())
    shutil.copy(log, f"/tmp/perf-responsiveness-{'read' if read else 'at-once'}.log")  # kept
    shutil.rmtree(log.parent, ignore_errors=True)
    return {
        "first_plot_s": first,
        "total_s": total,
        "loaded_s": loaded,
        "server_first_s": float(found[0]) if found else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-browser", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        env = {
            **os.environ,
            "PCDASH_CACHE_DIR": cache,
            "PCDASH_RUNS_DIR": os.path.join(cache, "runs"),
        }
        cold = library_run(env)  # fills the persistent compilation cache
        shutil.rmtree(env["PCDASH_RUNS_DIR"], ignore_errors=True)
        warm = library_run(env)
        shutil.rmtree(env["PCDASH_RUNS_DIR"], ignore_errors=True)
        ref = matmul_s()
        pre = library_run(env, "--precompiled")
        ref = (ref + matmul_s()) / 2
        print(
            f"default sweep: {warm['members']} models × {warm['epochs']} epochs on digits (λ = "
            f"{warm['lams']})"
        )
        print(f"  test accuracy per λ: {warm['acc']}")
        print(f"  test MSE per λ:      {warm['mse']}")
        print(f"{'':34}{'cold cache':>12}{'warm cache':>12}   target")
        print(
            f"{'library: first partial results':34}{cold['first_update_s']:>11.1f}s"
            f"{warm['first_update_s']:>11.1f}s   ≤ 3 s "
            "(+ ≤ 0.5 s "
            "page poll)"
        )
        print(
            f"{'library: whole sweep':34}{cold['total_s']:>11.1f}s{warm['total_s']:>11.1f}s   ≤ 20 "
            "s"
        )
        print(
            f"  warm/cold first update: {warm['first_update_s'] / cold['first_update_s']:.2f}; "
            f"warm/cold whole sweep: {warm['total_s'] / cold['total_s']:.2f}"
        )
        print(
            f"library, after precompile_cre ({pre['precompile_s']:.1f} s; what serve.py does as "
            "the server starts):"
        )
        print(
            f"{'  first partial results':34}{'':>12}{pre['first_update_s']:>11.1f}s   ≤ 3 s (+ ≤ "
            "0.5 s page poll)"
        )
        print(f"{'  whole sweep':34}{'':>12}{pre['total_s']:>11.1f}s   ≤ 20 s")
        print(
            f"  = {pre['total_s'] / ref:.0f} × a 1024² float32 matmul ({ref * 1000:.1f} ms, timed "
            "around the run)"
        )
        if not args.skip_browser and CHROMIUM:
            for read, label in (
                (False, "click as soon as the button shows"),
                (True, f"click after reading the page {READ_S:.0f} s"),
            ):
                shutil.rmtree(env["PCDASH_RUNS_DIR"], ignore_errors=True)
                ref = matmul_s()
                b = browser_run(env, read=read)
                ref = (ref + matmul_s()) / 2
                loaded = (
                    f" (page loaded {b['loaded_s']:.1f} s after opening it)"
                    if b["loaded_s"] is not None
                    else ""
                )
                print(f"browser, {label}{loaded}:")
                print(
                    f"{'  click → first chart with data':34}{'':>12}{b['first_plot_s']:>11.1f}s   "
                    "≤ 3 s"
                )
                print(
                    f"{'    of which: first results (server)':34}{'':>12}"
                    f"{b['server_first_s']:>11.1f}s"
                )
                print(f"{'  click → sweep finished':34}{'':>12}{b['total_s']:>11.1f}s   ≤ 20 s")
                print(
                    f"    = {b['total_s'] / ref:.0f} × a 1024² matmul ({ref * 1000:.1f} ms, timed "
                    "around the run)"
                )


if __name__ == "__main__":
    main()
