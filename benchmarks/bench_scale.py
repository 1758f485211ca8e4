"""Scale-out benchmark (issue 14). Prints ratios measured in this one run; never asserts.

1. ``single``: the engine's single-device path against the engine before sharding (its source
   read from git, ``--base``), same sweep, alternating repetitions after one warm-up each.
2. ``devices``: in a child with ``XLA_FLAGS=--xla_force_host_platform_device_count=2``, the
   member axis sharded over both CPU devices against the same run on one device.
3. ``ray``: the same sweep through the Ray backend on a local cluster with one worker node and
   with two (one CPU each), after a warm-up run on each (the workers import JAX and load the
   compiled programs once).

All three share this machine's cores with whatever else runs on it: compare ratios, not times.

   ``ray1``: the same with one XLA thread per worker process (a worker = one core).

Run: ``python benchmarks/bench_scale.py [single] [devices] [ray] [ray1] [--reps N] [--base REV]``
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = "9bbeeca"  # the last commit before the member axis was sharded


def sweep_args():
    import numpy as np

    from pcdash.cre.algorithm import CREAlgorithm
    from pcdash.data import load_dataset

    data = load_dataset("digits")
    algo = CREAlgorithm("fc-medium", data.input_shape, data.num_classes, 3)
    lam, seed = (a.ravel() for a in np.meshgrid(np.linspace(0, 1, 11), np.arange(5), indexing="ij"))
    evals = {s: data.split(s) for s in ("val", "test")}
    return algo, {"lam": lam.astype(np.float32)}, seed, data.x_train, data.y_train, evals


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bench_single(reps: int, base: str) -> None:
    from pcdash import engine

    source = subprocess.run(
        ["git", "show", f"{base}:pcdash/engine.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "engine_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("engine_before", path)
    before = importlib.util.module_from_spec(spec)
    sys.modules["engine_before"] = before  # dataclasses look their module up
    spec.loader.exec_module(before)
    algo, hp, seeds, x, y, evals = sweep_args()

    def run(module):
        return lambda: module.train_members(
            algo, hp, seeds, x, y, epochs=3, batch_size=64, eval_sets=evals
        )

    texts = [_chunk_program(module, algo, hp, seeds, x, y, evals) for module in (before, engine)]
    print(
        "[single] the compiled training chunk of one device is the program it was before: "
        f"{texts[0] == texts[1]}"
    )
    for module in (before, engine):
        timed(run(module))  # compile
    now, then = [], []
    for _ in range(reps):
        then.append(timed(run(before)))
        now.append(timed(run(engine)))
    ratio = statistics.median(n / t for n, t in zip(now, then, strict=True))
    print(
        f"[single] {len(seeds)} members × 3 epochs, 1 device: before "
        f"{statistics.median(then):.2f}s, "
        f"now {statistics.median(now):.2f}s (medians of {reps}); now/before: per repetition "
        f"(median) {ratio:.3f}, "
        f"of the medians {statistics.median(now) / statistics.median(then):.3f}"
    )


def _chunk_program(module, algo, hp, seeds, x, y, evals) -> str:
    """The StableHLO text of ``module``'s first training chunk for this sweep."""
    plan = module._plan(algo, hp, seeds, x, y, 64, evals, None, 1024)
    carry, static, diverged, zeros = plan.initial_state(None)
    sums = {"count": module._scalar(0), "sum": zeros, "last": zeros}
    args = plan.chunk_args((carry, diverged, sums), static, plan.permutations(1), 0)
    return module._train_chunk.lower(*args).lowered.as_text()


CHILD = """
import statistics, sys, time, jax
sys.path.insert(0, {bench!r})
from bench_scale import sweep_args, timed
from pcdash.engine import train_members
algo, hp, seeds, x, y, evals = sweep_args()
run = lambda devices: lambda: train_members(algo, hp, seeds, x, y, epochs=3, batch_size=64,
                                            eval_sets=evals, devices=devices)
one, two = jax.local_devices()[:1], jax.local_devices()
timed(run(one)); timed(run(two))
t1, t2 = [], []
for _ in range({reps}):
    t1.append(timed(run(one))); t2.append(timed(run(two)))
print(f"[devices] {{len(seeds)}} members × 3 epochs "
      f"(padded to {{-(-len(seeds) // 2) * 2}}): 1 device "
      f"{{statistics.median(t1):.2f}}s, 2 devices {{statistics.median(t2):.2f}}s; "
      f"speed-up {{statistics.median(a / b for a, b in zip(t1, t2)):.2f}}x")
"""


def bench_devices(reps: int) -> None:
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "JAX_PLATFORMS": "cpu",
        "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    code = CHILD.format(bench=str(Path(__file__).parent), reps=reps)
    res = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=1800
    )
    print(res.stdout.strip() or res.stderr[-2000:])


def bench_ray(reps: int, one_thread: bool = False) -> None:
    """``one_thread``: each worker process runs XLA on one thread, so that a worker is one core
    (by default a worker's XLA uses every core of its machine)."""
    if one_thread:  # the cluster's processes inherit this environment
        os.environ["XLA_FLAGS"] = (
            "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        )
    import ray
    from ray.cluster_utils import Cluster

    from pcdash.backends.ray_cluster import RayBackend
    from pcdash.experiments.cre_config import CREConfig
    from pcdash.experiments.cre_sweep import run_cre_sweep

    config = CREConfig(
        arch="fc-medium",
        latent_dims=(2, 3),
        lambdas=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
        seeds=4,
        epochs=5,
        batch_size=64,
    )
    times = {}
    for workers in (1, 2):
        cluster = Cluster(
            initialize_head=True, head_node_args={"num_cpus": 0, "object_store_memory": 100 * 2**20}
        )
        try:
            for _ in range(workers):
                cluster.add_node(num_cpus=1, object_store_memory=100 * 2**20)
            cluster.wait_for_nodes()
            backend = RayBackend(cluster.address)
            timed(
                lambda b=backend: run_cre_sweep(config, backend=b)
            )  # workers start, programs load
            times[workers] = [
                timed(lambda b=backend: run_cre_sweep(config, backend=b)) for _ in range(reps)
            ]
        finally:
            ray.shutdown()
            cluster.shutdown()
    t1, t2 = statistics.median(times[1]), statistics.median(times[2])
    label = "ray, one XLA thread per worker" if one_thread else "ray"
    print(
        f"[{label}] {config.n_members} members (2 groups) × {config.epochs} epochs on a local Ray "
        "cluster: "
        f"1 worker {t1:.1f}s, 2 workers {t2:.1f}s (medians of {reps}); speed-up {t1 / t2:.2f}x on "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("which", nargs="*", default=["single", "devices", "ray"])
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--base", default=BASE)
    args = p.parse_args()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start")
    if "single" in args.which:
        bench_single(args.reps, args.base)
    if "devices" in args.which:
        bench_devices(args.reps)
    if "ray" in args.which:
        bench_ray(args.reps)
    if "ray1" in args.which:
        bench_ray(args.reps, one_thread=True)


if __name__ == "__main__":
    main()
