"""What a digits-sized CRE training step can reach on this machine: the Latent dimension and
Trade-off pages' member step (FC-Medium, digits, batch 16, latent 3) taken apart, in pcdash's own
code, as the engine runs it — a block of members vmapped (``pcdash.engine.member_blocks`` picks
4 for these pages), 400 steps in one ``lax.scan``:

1. the forward pass alone (``routed_loss``),
2. forward and backward (its gradient, no optimiser),
3. the whole step (``CREAlgorithm.train_step``: the gradient and Adam).

Each is printed as µs per member-step and as the model FLOP/s of its matrix products (from the
jaxpr, :func:`common.dot_flops`) over a 2048² float32 matmul timed in the same run. Part 1 is a
bound from outside the optimiser and the engine: the products of a batch-16 step reach that share
of the matmul even with nothing else between them, so issue 12's 60% for a digits sweep's training
cannot be reached with XLA:CPU's kernels at these shapes. Part 3 minus part 2 is what Adam's
updates (memory traffic, no products) cost a step.

``--shape mnist`` takes apart ``bench_reference.py``'s step instead (batch 512, 784 features, its
11 members as one block: ``--members 11``). There part 2 bounds issue 12's 85% for MNIST-shaped
sweeps: measured over four runs, forward and backward alone reach 83–92% of the matmul, the
whole step 76–89%.

    python benchmarks/bench_step_bound.py [--members 4] [--rounds 5]
    python benchmarks/bench_step_bound.py --shape mnist --members 11 --rounds 3
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import dot_flops, interleaved, load, matmul_flops_per_s  # noqa: E402

from pcdash.cre.algorithm import CREAlgorithm  # noqa: E402
from pcdash.cre.losses import routed_loss  # noqa: E402

CLASSES, LATENT = 10, 3
# --shape: (batch, features, scanned steps)
SHAPES = {"digits": (16, 64, 400), "mnist": (512, 784, 12)}


def programs(members: int, shape: str = "digits"):
    """The three parts as jitted functions of (carries, hp, xs, ys), and each one step's
    (per member) model FLOPs."""
    BATCH, FEATURES, STEPS = SHAPES[shape]
    algo = CREAlgorithm("fc-medium", (FEATURES,), CLASSES, LATENT, init_scheme="active-latent")
    keys = jax.random.split(jax.random.PRNGKey(0), members)
    hp = {"lam": jnp.linspace(0.0, 1.0, members, dtype=jnp.float32)}
    carry = jax.vmap(lambda k: algo.init(k, {}))(keys)
    dynamic, static = eqx.partition(carry, eqx.is_array)
    rng = np.random.default_rng(0)
    xs = jnp.asarray(rng.random((STEPS, members, BATCH, FEATURES), dtype=np.float32))
    ys = jnp.asarray(rng.integers(0, CLASSES, (STEPS, members, BATCH)), dtype=jnp.int32)

    def forward(c, h, x, y):
        model, state, _ = c
        return routed_loss(model, state, x, y, h["lam"])[0]

    def gradient(c, h, x, y):
        model, state, _ = c
        return eqx.filter_grad(lambda m: routed_loss(m, state, x, y, h["lam"])[0])(model)

    def step(c, h, x, y):
        return algo.train_step(c, h, x, y, jax.random.PRNGKey(0))[0]

    def scanned(part, chained: bool):
        """``part`` over the block for every step; ``chained``: its output is the next step's
        carry (the whole step), else the sum of every leaf of it nudges the carry (so no part of
        it is dead code, and every step waits for the one before)."""

        @jax.jit
        def run(dyn, hp, xs, ys):
            def body(d, xy):
                c = eqx.combine(d, static)
                out = jax.vmap(part)(c, hp, *xy)
                if chained:
                    return eqx.filter(out, eqx.is_array), None
                total = sum(jnp.sum(v) for v in jax.tree_util.tree_leaves(out))
                first = jax.tree_util.tree_leaves(d)[0]
                nudge = 1e-30 * total  # a data dependency from step to step
                return jax.tree_util.tree_map(
                    lambda v: v + nudge.astype(v.dtype) if v is first else v, d
                ), None

            return jax.lax.scan(body, dyn, (xs, ys))[0]

        return lambda: run(dynamic, hp, xs, ys)

    one = jax.tree_util.tree_map(lambda v: v[0] if eqx.is_array(v) else v, carry)
    h1 = {"lam": jnp.float32(0.5)}
    x1, y1 = xs[0, 0], ys[0, 0]
    flops = {
        "forward": dot_flops(forward, one, h1, x1, y1),
        "forward + backward": dot_flops(gradient, one, h1, x1, y1),
        "whole step (+ Adam)": dot_flops(step, one, h1, x1, y1),
    }
    fns = {
        "forward": scanned(forward, False),
        "forward + backward": scanned(gradient, False),
        "whole step (+ Adam)": scanned(step, True),
    }
    return fns, flops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=4, help="members in the block")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--shape",
        choices=tuple(SHAPES),
        default="digits",
        help="digits: the pages' step (batch 16); mnist: bench_reference's (batch 512, 784 "
        "features; use --members 11, its block)",
    )
    args = parser.parse_args()
    fns, flops = programs(args.members, args.shape)
    batch, features, steps = SHAPES[args.shape]
    for fn in fns.values():  # compile
        jax.block_until_ready(fn())
    mm_before = matmul_flops_per_s()
    best = interleaved(fns, args.rounds)
    mm = max(mm_before, matmul_flops_per_s())
    member_steps = steps * args.members
    print(
        f"FC-Medium CRE, {args.shape} shapes ({features} features, latent {LATENT}), batch "
        f"{batch}, a block of {args.members} members × {steps} steps; float32 matmul "
        f"{mm / 1e9:.0f} GFLOP/s, load {load():.1f}"
    )
    print(f"{'part':24}{'µs/member-step':>16}{'MFLOP':>8}{'GFLOP/s':>10}{'of matmul':>11}")
    for name, seconds in best.items():
        us = 1e6 * seconds / member_steps
        rate = flops[name] * member_steps / seconds
        print(f"{name:24}{us:>16.1f}{flops[name] / 1e6:>8.2f}{rate / 1e9:>10.1f}{rate / mm:>10.0%}")
    adam = best["whole step (+ Adam)"] - best["forward + backward"]
    print(f"Adam's share of the whole step: {adam / best['whole step (+ Adam)']:.0%}")


if __name__ == "__main__":
    main()
