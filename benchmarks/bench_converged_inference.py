"""Converged inference (BP-vs-PC comparison, condition 2): ``lax.while_loop`` vs a fixed-length
``lax.scan`` with a freeze mask, both vmapped over members, inside one training step.

pcdash uses the while loop (``pcdash.pcn.inference.converged_inference``): under ``vmap`` it runs
until the last member has converged, while the scan always runs ``max_steps``. This script times
both on the same batches and members (interleaved rounds, fastest kept) and prints the ratio and
the steps each member used. Flags: ``--members``, ``--width``, ``--depth``, ``--tol``, ``--rounds``.

    python benchmarks/bench_converged_inference.py
"""

from __future__ import annotations

import argparse
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from pcdash.data import load_dataset
from pcdash.pcn.algorithms import layer_cosines
from pcdash.pcn.energies import layer_energies
from pcdash.pcn.gradients import pc_weight_gradients
from pcdash.pcn.inference import converged_inference, forward_init, inference
from pcdash.pcn.network import init_mlp, layer_prediction
from pcdash.pcn.optimizers import state_optimizer


def scan_with_freeze(mlp, x, target, *, max_steps, tol, state_lr, momentum=0.9):
    """The alternative: always ``max_steps`` iterations; after convergence the states freeze."""
    opt = state_optimizer(state_lr, momentum=momentum)
    mu_1 = layer_prediction(mlp, 1, x)
    batch = x.shape[0]

    def per_example_energy(h):
        e = layer_energies(mlp, x, h, target, mu_1=mu_1)
        return batch * jnp.sum(e), e

    def step(c, _):
        t, h, s, prev, done = c
        (_, e), g = jax.value_and_grad(per_example_energy, has_aux=True)(h)
        done = done | ((t > 0) & jnp.all(jnp.abs(e - prev) <= tol * jnp.abs(prev)))
        u, s_new = opt.update(g, s, h)
        h = jax.tree_util.tree_map(lambda a, b: jnp.where(done, a, a + b), h, u)
        s = jax.tree_util.tree_map(lambda a, b: jnp.where(done, a, b), s, s_new)
        return (t + jnp.where(done, 0, 1), h, s, jnp.where(done, prev, e), done), e

    h0 = forward_init(mlp, x)
    zeros = jnp.zeros(mlp.num_layers, jnp.float32)
    init = (jnp.int32(0), h0, opt.init(h0), zeros, jnp.bool_(False))
    (used, h, _, _, _), _ = jax.lax.scan(step, init, None, length=max_steps)
    return h, used


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--members", type=int, default=4)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--depth", type=int, default=8)
    p.add_argument("--steps", type=int, default=256)
    p.add_argument("--tol", type=float, default=3e-3)
    p.add_argument("--gamma", type=float, default=0.1)
    p.add_argument("--batches", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()

    data = load_dataset("digits")
    x_all = jnp.asarray(np.asarray(data.x_train, np.float32).reshape(len(data.x_train), -1))
    y_all = jax.nn.one_hot(jnp.asarray(data.y_train), 10)
    sizes = (x_all.shape[1], *[args.width] * args.depth, 10)
    mlps = jax.vmap(lambda k: init_mlp(k, sizes))(
        jax.random.split(jax.random.PRNGKey(0), args.members)
    )
    gammas = jnp.full(args.members, args.gamma, jnp.float32) * jnp.linspace(0.5, 1.0, args.members)
    kw = dict(max_steps=args.steps, tol=args.tol)

    @eqx.filter_jit
    def run_while(mlps, x, t):
        return jax.vmap(lambda m, g: converged_inference(m, x, t, state_lr=g, **kw)[2])(
            mlps, gammas
        )

    @eqx.filter_jit
    def run_scan(mlps, x, t):
        return jax.vmap(lambda m, g: scan_with_freeze(m, x, t, state_lr=g, **kw)[1])(mlps, gammas)

    batches = [
        (x_all[i * 32 : (i + 1) * 32], y_all[i * 32 : (i + 1) * 32]) for i in range(args.batches)
    ]
    best = {"while": np.inf, "scan": np.inf}
    used = {}
    for fn in (run_while, run_scan):
        jax.block_until_ready(fn(mlps, *batches[0]))  # compile
    for _ in range(args.rounds):
        for name, fn in (("while", run_while), ("scan", run_scan)):
            t0 = time.perf_counter()
            steps = [fn(mlps, xb, tb) for xb, tb in batches]
            jax.block_until_ready(steps)
            best[name] = min(best[name], time.perf_counter() - t0)
            used[name] = np.stack([np.asarray(s) for s in steps])
    assert np.array_equal(used["while"], used["scan"]), "both loops must stop at the same step"
    print(
        f"{args.members} members, {args.depth}×{args.width}, T ≤ {args.steps}, tol {args.tol:g}, "
        f"{args.batches} batches of 32 digits"
    )
    print(f"steps used per batch (mean over members): {used['while'].mean(1).round(1).tolist()}")
    print(
        f"while_loop: {best['while']:.3f} s   scan+freeze: {best['scan']:.3f} s   "
        f"scan / while = {best['scan'] / best['while']:.2f}×"
    )
    stopping_rules(mlps, batches[0], args)


def stopping_rules(mlps, batch, args) -> None:
    """Per-layer vs total relative energy change: the step each rule stops at and the smallest
    per-layer cosine between the weight gradient there and after 1,024 steps."""
    x, t = batch
    m = jax.tree_util.tree_map(lambda v: v[0], mlps)
    run = jax.jit(
        lambda steps: inference(m, x, t, steps=steps, state_lr=args.gamma), static_argnums=0
    )
    h_ref, trace = run(1024)
    g_ref = pc_weight_gradients(m, x, h_ref, t)[0]
    trace = np.asarray(trace, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):  # hidden energies are 0 at t = 0
        rel = np.abs(np.diff(trace, axis=0)) / np.abs(trace[:-1])
        total = np.abs(np.diff(trace.sum(1))) / np.abs(trace[:-1].sum(1))
    print(
        f"stopping rule (member 0, γ = {args.gamma:g}): step stopped, min layer cos(∇θ, ∇θ after "
        "1024 steps)"
    )
    for name, r in (("every layer", rel.max(1)), ("total F", total)):
        for tol in (1e-2, 3e-3, 1e-3, 1e-4):
            hit = np.flatnonzero(r[: args.steps] <= tol)
            stop = int(hit[0]) + 1 if len(hit) else args.steps
            cos = float(np.min(layer_cosines(pc_weight_gradients(m, x, run(stop)[0], t)[0], g_ref)))
            print(f"  {name:11s} tol {tol:<6g} stops at {stop:4d}   min cos {cos:.3f}")


if __name__ == "__main__":
    main()
