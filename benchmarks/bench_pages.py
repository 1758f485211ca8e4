"""Where the time of every page's default run goes (issue 12, item 1).

For each run of :data:`pcdash.ui.page_runs.DEFAULT_RUNS` (the CRE default shared by Home,
Trade-off, Latent space and Reconstructions; Latent dimension; Energy dynamics; PC algorithms;
PC vs BP; the four Generative tabs), each in a fresh process so that only JAX's persistent
compilation cache carries over:

1. **cold**: an empty compilation cache; the run traces and compiles everything itself;
2. **warm**: the cache that run filled; the process first warms up as the dashboard's server
   does (``pcdash.engine.compile_only``: every program traced, lowered and loaded, nothing
   trained), then the run is timed.

Printed per run: the wall time of each, the warm run's phases (``TrainResult.timings`` summed over
its programs: trace + lowering, XLA compile or cache load, training, evaluation, epoch hooks such
as the latent snapshots, the live progress frames) plus the page's figures built from the result,
the persistent-cache hits and misses of the warm run, and the model FLOP/s of training (the matrix
products of one member's ``train_step`` from its jaxpr, × members × steps, ÷ training seconds)
as a fraction of a 2048² float32 matmul (numpy's or JAX's, the faster) timed in the same process
right before and after the run (the slower of the two kept, so load during the run counts
against the reference rather than for pcdash). The load average is printed beside every figure.

    python benchmarks/bench_pages.py                  # every page
    python benchmarks/bench_pages.py --runs cre,pc_vs_bp --skip-cold
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent

CHILD = r"""
import json, sys, time
sys.path.insert(0, {here!r})
t0 = time.perf_counter()
from pcdash.compile_cache import enable_compile_cache, cache_events
enable_compile_cache()
import bench_pages
from common import load, matmul_flops_per_s
from pcdash import engine
from pcdash.engine import compile_only, recording
if {no_blocks!r}:  # as before issue 12's levers: one block a chunk, groups compiled in turn
    import pcdash.sweep
    engine.BLOCK_BYTES = 1 << 62
    pcdash.sweep.PRECOMPILE_AHEAD = False
from pcdash.ui.page_runs import BY_NAME
run = BY_NAME[{name!r}]
imported = time.perf_counter() - t0
warm_up_s = None
if {warm!r}:
    t = time.perf_counter()
    with compile_only():
        run()
    warm_up_s = time.perf_counter() - t
events = cache_events()
mm_before = matmul_flops_per_s()
load_before = load()
before = dict(events)
with recording() as records:
    t = time.perf_counter()
    out = run()
    wall = time.perf_counter() - t
cache = {{k: events[k] - before[k] for k in events}}
load_after = load()
mm_after = matmul_flops_per_s()
t = time.perf_counter()
bench_pages.build_figures({name!r}, out)
figures_s = time.perf_counter() - t
print(json.dumps({{"import_s": imported, "warm_up_s": warm_up_s, "wall_s": wall,
                  "figures_s": figures_s, "phases": bench_pages.phases(records),
                  "model_flops": bench_pages.training_flops(records),
                  "matmul": min(mm_before, mm_after), "load": max(load_before, load_after),
                  "cache": cache,
                  "runs": len(records),
                  "programs": len({{(repr(r.algo), len(r.seeds), r.x_shape, r.batch_size)
                                   for r in records}}),
                  "members": int(sum(len(r.seeds) for r in records))}}))
"""


def phases(records) -> dict[str, float]:
    """Seconds per phase, summed over the programs of one run."""
    total: dict[str, float] = {}
    for r in records:
        for k, v in r.result.timings.items():
            total[k] = total.get(k, 0.0) + v
    return total


def training_flops(records) -> float:
    """Model FLOPs of every training step the run took (see the module docstring)."""
    import jax
    import numpy as np
    from common import dot_flops

    from pcdash.engine import member_slice

    total = 0.0
    for r in records:
        res = r.result
        if not res.history:
            continue
        steps_used = [rec.train["steps_used"] for rec in res.history if "steps_used" in rec.train]
        trips = float(np.nanmean(steps_used)) if steps_used else None
        carry = member_slice(res.carry, 0)
        hp = jax.tree_util.tree_map(lambda v: jax.numpy.asarray(v[0]), r.hp)
        x = jax.numpy.zeros((r.batch_size, *r.x_shape[1:]), jax.numpy.float32)
        y = jax.numpy.zeros((r.batch_size,), jax.numpy.int32)
        step = dot_flops(
            lambda c, h, xb, yb, a=r.algo: a.train_step(c, h, xb, yb, jax.random.PRNGKey(0))[1],
            carry,
            hp,
            x,
            y,
            while_trips=trips,
        )
        total += step * len(r.seeds) * len(res.history) * res.steps_per_epoch
    return total


def build_figures(name: str, out) -> None:
    """The figures the page(s) of run ``name`` draw once it has finished (their default views)."""
    import numpy as np

    if name in ("cre", "latent_dim"):
        from pcdash.figures import cre, latent

        frame = out.frame
        if name == "latent_dim":
            cre.latent_dim_curves(frame)
            return
        rows = frame[frame["model"] == "cre"]
        for build in (cre.tradeoff_boxes, cre.tradeoff_means, cre.pareto):
            build(rows, split="test")
        cre.training_curves(rows, metric="accuracy")
        members = out.members[out.members["model"] == "cre"]
        snap = out.snapshot
        latent.latent_small_multiples(
            snap, members, seed=0, latent_dim=out.config.latent_dims[0], class_names=out.class_names
        )
        m = int(members["member"].iloc[0])
        latent.latent_2d(snap.z[m], snap.y, out.class_names, np.arange(len(snap.y)))
        latent.reconstruction_grid(
            snap, members, seed=0, per_class=1, latent_dim=out.config.latent_dims[0]
        )
    elif name == "energy":
        from pcdash.figures import pcn
        from pcdash.pcn.stability import dataset_classes, trained_accuracy

        frame, members = out.frame, out.members.reset_index(drop=True)
        pcn.energy_vs_step(out.energy_trace[0], title="")
        pcn.accuracy_vs_gamma(frame)
        chosen = members[
            (members["width"] == members["width"].iloc[0]) & (members["optimizer"] == "adamw")
        ]
        pcn.energy_vs_step_grid(
            out.energy_trace[chosen.index.to_numpy()], chosen.reset_index(drop=True)
        )
        pcn.energy_ratio_vs_gamma(
            frame, min_accuracy=trained_accuracy(dataset_classes(out.config.dataset))
        )
        pcn.pcn_training_curves(frame)
        pcn.energy_per_layer_over_epochs(frame[frame["member"] == members.loc[0, "member"]])
    elif name in ("pc_algorithms", "pc_vs_bp"):
        from pcdash.figures import pc_compare

        table = pc_compare.algorithm_table(out.frame)
        if name == "pc_algorithms":
            pc_compare.accuracy_curves(out.frame)
            pc_compare.time_per_epoch(table)
            return
        from pcdash.experiments.conditions import landscapes

        pc_compare.benchmark(table)
        pc_compare.condition_curves(out.frame)
        land = landscapes(out, out.members["dataset"].iloc[0])
        pc_compare.landscape_surfaces(land.alphas, land.alphas, land.surfaces)
        pc_compare.landscape_contours(land.alphas, land.alphas, land.surfaces)
        pc_compare.sharpness_bars(land.sharpness())
        models = land.models
        pc_compare.weight_histograms(models)
        pc_compare.cosine_over_training(out.frame)
    else:
        from pcdash.figures import generative as g

        if name == "autoencoder":
            g.training_curves(out.frame, "mse", split="test", title="")
        else:
            g.training_curves(out.frame, "loss", title="")
        if name == "autoencoder":
            g.reconstructions(out.arrays)
            g.mse_bars(out.tables.get("mse"))
        elif name == "mcpc":
            for key in ("samples_before", "samples"):
                g.density_2d(out.arrays["data"], out.arrays[key], title=key)
        elif name == "memory":
            from pcdash.experiments.memory import recall_table

            rows = out.tables.get("recall")
            for kind in ("noise", "mask"):
                g.recall_heatmap(recall_table(rows, kind), title=kind)
        elif name == "ood":
            scores = out.tables.get("scores")
            g.ood_histograms(scores)
            g.roc_curves(out.tables.get("roc"), {})
            g.energy_vs_softmax(scores)


def child(name: str, cache: str, warm: bool, no_blocks: bool = False) -> dict:
    env = {
        **os.environ,
        "PCDASH_CACHE_DIR": cache,
        "PCDASH_RUNS_DIR": os.path.join(cache, "runs"),
        "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    code = CHILD.format(here=str(HERE), name=name, warm=warm, no_blocks=no_blocks)
    res = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if res.returncode != 0:
        raise RuntimeError(f"{name}: {res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    from pcdash.ui.page_runs import DEFAULT_RUNS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", default=",".join(r.name for r in DEFAULT_RUNS), help="comma-separated run names"
    )
    parser.add_argument(
        "--skip-cold", action="store_true", help="only the warm runs (the cache of --cache is kept)"
    )
    parser.add_argument(
        "--cache", default=None, help="compilation cache folder (default: a fresh temporary one)"
    )
    parser.add_argument(
        "--no-blocks",
        action="store_true",
        help="without member blocking and compiling ahead (as before issue 12)",
    )
    args = parser.parse_args()
    names = [n for n in args.runs.split(",") if n]
    by_name = {r.name: r for r in DEFAULT_RUNS}
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache or tmp
        rows = []
        for name in names:
            cold = (
                None if args.skip_cold else child(name, cache, warm=False, no_blocks=args.no_blocks)
            )
            warm = child(name, cache, warm=True, no_blocks=args.no_blocks)
            rows.append((name, cold, warm))
            report(by_name[name], cold, warm)
    print(
        "\nsummary (seconds; warm = after the server's warm-up; ratio = training FLOP/s ÷ matmul "
        "FLOP/s)"
    )
    print(
        "(engine = trace + compile + train + eval + hook + progress inside train_members; rest = "
        "the runner's own work outside it: baselines, sampling, scoring, frames. Groups train two "
        "side by side (pcdash.sweep.LANES), so the phases are lane-seconds: their sum can exceed "
        "the wall time, and rest is then negative. 'of matmul' is per lane-second of training; "
        "'wall' divides the same FLOPs by the whole run's wall time, a lower bound for the "
        "machine)"
    )
    print(
        f"{'run':15}{'cold':>8}{'warm':>8}{'compile':>8}{'train':>8}{'eval':>7}{'hook':>7}{'rest':>7}{'figs':>7}"
        f"{'of matmul':>11}{'wall':>6}{'load':>7}"
    )
    for name, cold, warm in rows:
        p = warm["phases"]
        frac = warm["model_flops"] / max(p.get("train", 0.0), 1e-9) / warm["matmul"]
        rest = warm["wall_s"] - sum(p.values())
        compile_s = p.get("trace", 0) + p.get("compile", 0)
        print(
            f"{name:15}{cold['wall_s'] if cold else float('nan'):>8.1f}"
            f"{warm['wall_s']:>8.1f}{compile_s:>8.1f}"
            f"{p.get('train', 0):>8.1f}{p.get('evaluate', 0):>7.1f}"
            f"{p.get('hook', 0):>7.1f}{rest:>7.1f}"
            f"{warm['figures_s']:>7.1f}{frac:>11.0%}"
            f"{warm['model_flops'] / warm['wall_s'] / warm['matmul']:>6.0%}"
            f"{warm['load']:>7.1f}"
        )


def report(run, cold: dict | None, warm: dict) -> None:
    p = warm["phases"]
    flops = warm["model_flops"]
    achieved = flops / max(p.get("train", 0.0), 1e-9)
    print(
        f"\n== {run.name}: {', '.join(run.pages)} — {warm['members']} models, "
        f"{warm['runs']} engine run(s) (groups, or parts of one trained side by side) of "
        f"{warm['programs']} distinct program(s)"
    )
    if cold is not None:
        c = cold["phases"]
        print(
            f"  empty cache: {cold['wall_s']:.1f} s (trace {c.get('trace', 0):.1f}, compile "
            f"{c.get('compile', 0):.1f}, "
            f"train {c.get('train', 0):.1f}); load {cold['load']:.1f}, matmul "
            f"{cold['matmul'] / 1e9:.0f} GFLOP/s"
        )
    print(
        f"  after warm-up ({warm['warm_up_s']:.1f} s): {warm['wall_s']:.1f} s; load "
        f"{warm['load']:.1f}, "
        f"matmul {warm['matmul'] / 1e9:.0f} GFLOP/s; persistent cache {warm['cache']}"
    )
    rest = warm["wall_s"] - sum(p.values())
    print(
        "  "
        + ", ".join(f"{k} {v:.2f}" for k, v in p.items())
        + f", outside the engine {rest:.2f}, "
        f"figures {warm['figures_s']:.2f}"
    )
    print(
        f"  training: {flops / 1e9:.1f} GFLOP of matrix products, {achieved / 1e9:.1f} GFLOP/s = "
        f"{achieved / warm['matmul']:.0%} of the matmul per lane-second; over the run's wall "
        f"time {flops / warm['wall_s'] / 1e9:.1f} GFLOP/s = "
        f"{flops / warm['wall_s'] / warm['matmul']:.0%}"
    )


if __name__ == "__main__":
    main()
