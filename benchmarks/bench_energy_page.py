"""The Energy dynamics page's default run: library time, as a multiple of a jitted 2048×2048
float32 matmul timed in the same process (other load on the machine shifts both alike).

Times ``run_pcn_sweep`` on the page's default configuration (``energy_propagation_config``,
the PCX §5.1 setting) and, for comparison, on the page's default before issue 9 (5 epochs,
2 seeds, γ 0.003 … 0.3, state momentum 0.9). Each configuration runs once to compile (not
counted), then ``--reps`` times; the fastest repetition is kept, and a matmul timing is taken
right before each repetition (its fastest kept too).

    python benchmarks/bench_energy_page.py [--reps 3] [--dataset digits]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp

from pcdash.experiments.pcn_config import PCNConfig
from pcdash.experiments.pcn_sweep import run_pcn_sweep
from pcdash.experiments.pcx_settings import energy_propagation_config

BEFORE = PCNConfig(
    optimizers=("adamw", "sgd"), state_lrs=(0.003, 0.01, 0.03, 0.1, 0.3), seeds=2, epochs=5
)


def matmul_seconds(n: int = 2048, reps: int = 10) -> float:
    """The fastest of ``reps`` jitted ``n × n`` float32 matmuls (compiled beforehand)."""
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
    f = jax.jit(lambda x: x @ x)
    f(a).block_until_ready()
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        f(a).block_until_ready()
        best = min(best, time.perf_counter() - t)
    return best


def sweep_seconds(config: PCNConfig) -> float:
    t = time.perf_counter()
    run_pcn_sweep(config)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--dataset", default="digits")
    args = parser.parse_args()
    configs = {
        "before (issue 9)": PCNConfig(**{**BEFORE.to_dict(), "dataset": args.dataset}),
        "now (PCX §5.1)": energy_propagation_config(args.dataset),
    }
    print(f"dataset {args.dataset}; fastest of {args.reps} warm repetitions")
    for name, config in configs.items():
        sweep_seconds(config)  # compile
        runs, mms = [], []
        for _ in range(args.reps):
            mms.append(matmul_seconds())
            runs.append(sweep_seconds(config))
        members = (
            len(config.widths) * len(config.optimizers) * len(config.swept_state_lrs) * config.seeds
        )
        print(
            f"{name:18s} {members:3d} models × {config.epochs} epochs: {min(runs):6.2f} s "
            f"= {min(runs) / min(mms):7.0f} × a 2048² float32 matmul ({min(mms) * 1e3:.1f} ms)"
        )


if __name__ == "__main__":
    main()
