"""Member blocking in the training chunk (``pcdash.engine.member_blocks``), as the sweep runs
it: a group cut into one part per lane (``pcdash.sweep.lane_units``), each part's chunk
trained side by side in its own thread, its members cut into blocks of ``s`` members (every
``s`` dividing the part). Prints member-steps per second for each block size (interleaved
rounds, fastest kept), the ratio to no blocking, the largest parameter difference from no
blocking (float rounding only), the model FLOP/s of the products (``common.dot_flops``) as a
fraction of a 2048² float32 matmul timed in the same run, and the block size the engine picks
(``pcdash.engine.BLOCK_BYTES``).

    python benchmarks/bench_blocks.py                     # Latent dimension page, 2 lanes
    python benchmarks/bench_blocks.py --run cre --lanes 1 # CRE default in one lane
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import equinox as eqx
import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import dot_flops, interleaved, load, matmul_flops_per_s  # noqa: E402

from pcdash import engine  # noqa: E402
from pcdash.experiments.cre_sweep import sweep_setup  # noqa: E402
from pcdash.sweep import lane_units  # noqa: E402
from pcdash.ui.page_runs import BY_NAME  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="latent_dim", choices=("latent_dim", "cre"))
    parser.add_argument("--lanes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="", help="members a block (default: every divisor)")
    args = parser.parse_args()
    config, data, _, groups, _, _ = sweep_setup(BY_NAME[args.run].config(), None)
    group = groups[0]  # the CRE members (the largest group)
    units = [u for u in lane_units(groups, args.lanes) if u[0] == 0]
    parts = [group if pos is None else group.part(pos) for _, pos in units]
    plans, states = [], []
    for part in parts:
        plan = engine._plan(
            part.algo,
            part.hp,
            part.seeds,
            data.x_train,
            data.y_train,
            config.batch_size,
            None,
            None,
            None,
        )
        carry, static, diverged, zero = plan.initial_state(part.init_carry)
        state = (carry, diverged, {"count": engine._scalar(0), "sum": zero, "last": zero})
        plans.append(plan)
        states.append((state, static, plan.permutations(1)))
    n = plans[0].n_padded
    carry0, static0 = states[0][0][0], states[0][1]
    one = engine.member_slice(eqx.combine(carry0, static0), 0)
    step_flops = dot_flops(
        lambda c, h, xb, yb: group.algo.train_step(c, h, xb, yb, jax.random.PRNGKey(0))[1],
        one,
        jax.tree_util.tree_map(lambda v: jax.numpy.asarray(v[0]), group.hp),
        jax.numpy.asarray(data.x_train[: config.batch_size]),
        jax.numpy.asarray(data.y_train[: config.batch_size]),
    )
    picked = n // plans[0].blocks
    sizes = (
        [int(s) for s in args.sizes.split(",")]
        if args.sizes
        else [s for s in range(1, n + 1) if n % s == 0]
    )
    pool = ThreadPoolExecutor(len(parts))
    fns, outs = {}, {}
    for s in sizes:

        def side_by_side(s=s):
            def one(i):
                plans[i].blocks = n // s
                state, static, perms = states[i]
                return jax.block_until_ready(
                    engine._train_chunk(*plans[i].chunk_args(state, static, perms, 0))
                )

            return list(pool.map(one, range(len(parts))))

        t = time.perf_counter()
        outs[s] = side_by_side()
        print(f"{s:3d} a block: compiled and ran once in {time.perf_counter() - t:.1f} s")
        fns[s] = side_by_side
    matmul = matmul_flops_per_s()
    best = interleaved(fns, args.rounds)
    steps = plans[0].chunk * n * len(parts)
    print(
        f"\n{args.run}: {len(group)} CRE members as {len(parts)} part(s) of {n} side by side, "
        f"{plans[0].chunk} steps a chunk, batch {config.batch_size}; the engine picks {picked} a "
        f"block (BLOCK_BYTES {engine.BLOCK_BYTES / 2**20:.1f} MiB); matmul {matmul / 1e9:.0f} "
        f"GFLOP/s; load {load():.1f}"
    )
    whole = n
    for s, seconds in best.items():
        diff = max(
            float(np.max(np.abs(np.asarray(u, float) - np.asarray(v, float))))
            for a, b in zip(outs[s], outs[whole], strict=True)
            for u, v in zip(
                jax.tree_util.tree_leaves(a[0]), jax.tree_util.tree_leaves(b[0]), strict=True
            )
        )
        mark = "  <- engine" if s == picked else ""
        print(
            f"  {s:3d} a block: {steps / seconds:8.0f} member-steps/s, "
            f"{steps * step_flops / seconds / matmul:4.0%} of the matmul, "
            f"{best[whole] / seconds:.2f}x no blocking, max |Δθ| {diff:.1e}{mark}"
        )


if __name__ == "__main__":
    main()
