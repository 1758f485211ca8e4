"""Member blocking in the training chunk (``pcdash.engine.member_blocks``): the CRE page
default's 30 members (digits, FC-Medium, batch 16) trained for one chunk as one block and as
2, 3, 5, 6 and 10 blocks, interleaved rounds, fastest kept; the ratio to one block, the largest
parameter difference from it (float rounding only), and the block count the engine picks.

    python benchmarks/bench_blocks.py [--rounds 3] [--blocks 1,2,3,5,6,10]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import interleaved, load  # noqa: E402

from pcdash import engine  # noqa: E402
from pcdash.experiments.cre_config import CREConfig  # noqa: E402
from pcdash.experiments.cre_sweep import sweep_setup  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--blocks", default="1,2,3,5,6,10")
    parser.add_argument(
        "--lambdas",
        default="",
        help="λ grid (default: the page default's 6; the Latent "
        "dimension page's 0,0.5,0.9,1 gives its 20-member groups)",
    )
    args = parser.parse_args()
    config = CREConfig()
    if args.lambdas:
        config = CREConfig(lambdas=tuple(float(v) for v in args.lambdas.split(",")))
    config, data, _, groups, _, _ = sweep_setup(config, None)
    group = groups[0]
    plan = engine._plan(
        group.algo,
        group.hp,
        group.seeds,
        data.x_train,
        data.y_train,
        config.batch_size,
        None,
        None,
        None,
    )
    carry, static, diverged, zero = plan.initial_state(None)
    picked = plan.blocks
    state = (carry, diverged, {"count": engine._scalar(0), "sum": zero, "last": zero})
    perms = plan.permutations(1)
    fns, outs = {}, {}
    for b in (int(s) for s in args.blocks.split(",")):
        plan.blocks = b
        chunk_args = plan.chunk_args(state, static, perms, 0)
        fns[b] = lambda chunk_args=chunk_args: engine._train_chunk(*chunk_args)
        t = time.perf_counter()
        outs[b] = jax.block_until_ready(fns[b]())
        print(f"blocks {b}: compiled and ran once in {time.perf_counter() - t:.1f} s")
    best = interleaved(fns, args.rounds)
    first = next(iter(fns))
    print(
        f"\n{len(group.seeds)} members, {plan.chunk} steps a chunk, batch {config.batch_size}; "
        "engine picks "
        f"{picked} block(s); load {load():.1f}"
    )
    for b, seconds in best.items():
        diff = max(
            float(np.max(np.abs(np.asarray(u) - np.asarray(v))))
            for u, v in zip(
                jax.tree_util.tree_leaves(outs[b][0]),
                jax.tree_util.tree_leaves(outs[first][0]),
                strict=True,
            )
        )
        print(
            f"  {b:3d} block(s): {seconds:.3f} s a chunk, {best[first] / seconds:.2f}x one block, "
            f"max |Δθ| {diff:.1e}"
        )


if __name__ == "__main__":
    main()
