"""Sweep-engine benchmark (issue 2, item 9). Prints ratios measured in this one run; never asserts.

1. digits, fc-medium, latent 3, 11 λ × 5 seeds = 55 members: model-epochs/s of the one-program
   sweep (``train_members`` over all 55) vs the same 55 models one after another
   (``train_members`` with one member each). Both programs are compiled in a warm-up call first;
   compile time is reported separately. Repetitions alternate sweep / sequential.
2. 60,000 random MNIST-shaped samples, same model, batch 512: achieved FLOP/s of the sweep's
   compiled chunk (``pcdash.engine._train_chunk``, called exactly as ``train_members`` calls it)
   as a fraction of a jitted 2048² float32 matmul, each repetition timing both back to back.
   FLOPs come from XLA's cost analysis of a 1-step chunk (``_train_chunk.lower(...)`` via
   equinox, then the wrapped ``jax.stages.Lowered.compile().cost_analysis()``). XLA counts a
   ``while`` (scan) body once whatever its trip count, so the 1-step program gives FLOPs/step.

Run: ``python benchmarks/bench_sweep.py [--quick] [--skip-mnist]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from pcdash import engine
from pcdash.cre.algorithm import CREAlgorithm
from pcdash.data import load_dataset

LAMBDAS = np.round(np.linspace(0.0, 1.0, 11), 2)
N_SEEDS = 5


def grid() -> tuple[np.ndarray, np.ndarray]:
    lam, seed = (a.ravel() for a in np.meshgrid(LAMBDAS, np.arange(N_SEEDS), indexing="ij"))
    return lam.astype(np.float32), seed.astype(np.uint32)


def timed(fn) -> tuple[float, object]:
    t = time.perf_counter()
    out = jax.block_until_ready(fn())
    return time.perf_counter() - t, out


def n_compiled() -> int:
    return engine._train_chunk._cached._cache_size()


def bench_digits(epochs: int, reps: int, batch: int = 64) -> dict:
    data = load_dataset("digits")
    x, y = data.x_train, data.y_train
    algo = CREAlgorithm("fc-medium", data.input_shape, data.num_classes, 3)
    lam, seeds = grid()
    m = len(lam)

    def run(idx, n_epochs):
        return engine.train_members(
            algo, {"lam": lam[idx]}, seeds[idx], x, y, epochs=n_epochs, batch_size=batch
        ).carry

    def sweep():
        return run(slice(None), epochs)

    def sequential():
        return [run(slice(i, i + 1), epochs) for i in range(m)]

    warm_sweep, _ = timed(lambda: run(slice(None), 1))
    warm_one, _ = timed(lambda: run(slice(0, 1), 1))
    programs = n_compiled()
    steps = len(x) // batch
    print(
        f"[digits] {len(x)} train samples, batch {batch} ({steps} steps/epoch), {m} members, "
        f"{epochs} epochs/run"
    )
    print(
        f"[digits] warm-up (compile + 1 epoch): sweep {warm_sweep:.1f}s, single member "
        f"{warm_one:.1f}s (compiled once, reused {m}x)"
    )
    ratios, sweep_rate, seq_rate = [], [], []
    for r in range(reps):
        t_sweep, _ = timed(sweep)
        t_seq, _ = timed(sequential)
        sweep_rate.append(m * epochs / t_sweep)
        seq_rate.append(m * epochs / t_seq)
        ratios.append(t_seq / t_sweep)
        print(
            f"[digits] rep {r + 1}: sweep {t_sweep:.2f}s = {sweep_rate[-1]:.1f} model-epochs/s | "
            f"sequential {t_seq:.2f}s = {seq_rate[-1]:.1f} model-epochs/s | ratio {ratios[-1]:.2f}x"
        )
    print(f"[digits] chunk programs compiled during timed runs: {n_compiled() - programs}")
    return {
        "sweep": statistics.median(sweep_rate),
        "seq": statistics.median(seq_rate),
        "ratio": statistics.median(ratios),
        "warm_sweep": warm_sweep,
        "warm_one": warm_one,
    }


def chunk_args(algo, hp, seeds, x, y, batch: int, chunk: int):
    """The arguments ``train_members`` passes to ``_train_chunk`` for the first chunk of epoch 1."""
    n, m = x.shape[0], len(seeds)
    root = jax.vmap(jax.random.PRNGKey)(jnp.asarray(seeds))
    init_keys, data_keys, step_keys = (
        jax.vmap(lambda k, i=i: jax.random.fold_in(k, i))(root) for i in range(3)
    )
    carry, static = eqx.partition(engine._init_members(algo, init_keys, hp), eqx.is_array)
    zeros = engine._zeros_like_metrics(algo, carry, static, hp, x, y, step_keys, batch)
    perms = engine._permutations(data_keys, jnp.asarray(1, jnp.int32), n)
    steps_per_epoch = n // batch
    state = (
        carry,
        jnp.zeros((m,), bool),
        {"count": jnp.zeros((), jnp.int32), "sum": zeros, "last": zeros},
    )
    rest = (
        static,
        algo,
        hp,
        x,
        y,
        perms,
        step_keys,
        jnp.asarray(0, jnp.int32),
        batch,
        chunk,
        jnp.asarray(steps_per_epoch, jnp.int32),
        steps_per_epoch % chunk != 0,
    )
    return state, rest


def xla_flops(state, rest) -> float:
    compiled = engine._train_chunk.lower(state, *rest).lowered.compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list | tuple) else cost
    return float(cost["flops"])


def matmul_flops_per_s(n: int = 2048, tries: int = 5) -> float:
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.PRNGKey(1), (n, n), jnp.float32)
    mm = jax.jit(jnp.matmul)
    mm(a, b).block_until_ready()
    return 2 * n**3 / min(timed(lambda: mm(a, b))[0] for _ in range(tries))


def bench_mnist(n: int, chunk: int, reps: int, batch: int = 512) -> dict:
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.uniform(-1.0, 1.0, (n, 28, 28, 1)).astype(np.float32))
    y = jnp.asarray(rng.integers(0, 10, n).astype(np.int32))
    algo = CREAlgorithm("fc-medium", (28, 28, 1), 10, 3)
    lam, seeds = grid()
    m = len(lam)
    hp = {"lam": jnp.asarray(lam)}
    flops_step = xla_flops(*chunk_args(algo, hp, seeds, x, y, batch, 1))
    sizes = [(784, 616), (616, 3), (3, 616), (616, 784), (3, 12), (12, 10)]
    macs = sum(a * b for a, b in sizes)
    analytic = 2 * batch * macs * 3 * m
    analytic_no_dx = analytic - 2 * batch * 784 * 616 * m  # the input layer needs no dL/dx
    state, rest = chunk_args(algo, hp, seeds, x, y, batch, chunk)
    t_compile, state = timed(lambda: engine._train_chunk(state, *rest))
    print(
        f"[mnist] {n} samples, batch {batch} ({n // batch} steps/epoch), {m} members, timing "
        f"{chunk}-step chunks"
    )
    print(
        f"[mnist] FLOPs/step: XLA {flops_step / 1e9:.1f} G | analytic 2*B*sum(fan_in*fan_out)*3 "
        f"{analytic / 1e9:.1f} G | analytic without input-layer dx {analytic_no_dx / 1e9:.1f} G"
    )
    print(f"[mnist] first chunk (trace + compile + run): {t_compile:.1f}s")
    fracs, achieved, peaks = [], [], []
    for r in range(reps):
        peaks.append(matmul_flops_per_s())
        t, state = timed(lambda s=state: engine._train_chunk(s, *rest))
        achieved.append(flops_step * chunk / t)
        fracs.append(achieved[-1] / peaks[-1])
        print(
            f"[mnist] rep {r + 1}: matmul {peaks[-1] / 1e9:.1f} GFLOP/s | chunk {t:.2f}s = "
            f"{t / chunk:.2f}s/step, {achieved[-1] / 1e9:.1f} GFLOP/s | fraction {fracs[-1]:.1%}"
        )
    return {
        "peak": statistics.median(peaks),
        "achieved": statistics.median(achieved),
        "frac": statistics.median(fracs),
        "xla": flops_step,
        "analytic": analytic,
        "step_s": flops_step / statistics.median(achieved),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--quick", action="store_true", help="short smoke run (1 epoch, 1 rep, 6,000 MNIST samples)"
    )
    p.add_argument(
        "--skip-mnist", action="store_true", help="only the digits sweep-vs-sequential part"
    )
    p.add_argument(
        "--epochs", type=int, default=None, help="digits epochs per timed run (default 3; quick 1)"
    )
    p.add_argument(
        "--reps", type=int, default=None, help="interleaved repetitions (default 3; quick 1)"
    )
    args = p.parse_args()
    reps = args.reps or (1 if args.quick else 3)
    epochs = args.epochs or (1 if args.quick else 3)
    print(
        f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} cpus, "
        f"load average {os.getloadavg()[0]:.1f} (other processes share the machine: compare "
        "ratios, not times)"
    )
    t0 = time.perf_counter()
    d = bench_digits(epochs, reps)
    mn = (
        None
        if args.skip_mnist
        else bench_mnist(6000 if args.quick else 60000, 1 if args.quick else 3, reps)
    )
    print(
        f"\nload average now {os.getloadavg()[0]:.1f}; total {time.perf_counter() - t0:.0f}s; "
        f"medians over {reps} rep(s)"
    )
    rows = [
        ("digits sweep (55 members, one program)", f"{d['sweep']:.1f} model-epochs/s", ""),
        ("digits sequential (55 x 1 member)", f"{d['seq']:.1f} model-epochs/s", ""),
        ("digits sweep / sequential", f"{d['ratio']:.2f}x", "target >= 5x"),
        (
            "digits warm-up incl. compile",
            f"sweep {d['warm_sweep']:.1f}s, single {d['warm_one']:.1f}s",
            "excluded",
        ),
    ]
    if mn is not None:
        rows += [
            (
                "mnist FLOPs/step (XLA | analytic)",
                f"{mn['xla'] / 1e9:.1f} G | {mn['analytic'] / 1e9:.1f} G",
                "",
            ),
            ("mnist step time (55 members)", f"{mn['step_s']:.2f}s", ""),
            (
                "mnist achieved / float32 matmul",
                f"{mn['achieved'] / 1e9:.1f} / {mn['peak'] / 1e9:.1f} GFLOP/s",
                "",
            ),
            ("mnist fraction of matmul throughput", f"{mn['frac']:.1%}", "target >= 50%"),
        ]
    w = max(len(r[0]) for r in rows)
    v = max(len(r[1]) for r in rows)
    print("\n" + "\n".join(f"{a:<{w}}  {b:<{v}}  {c}" for a, b, c in rows))


if __name__ == "__main__":
    main()
