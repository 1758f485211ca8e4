"""pcdash's CRE sweep side by side with a PyTorch training loop like the authors' (issue 12,
item 4), in the same process: FC-Medium (784→616→3 ReLU; 3→616→784 tanh; 3→12 ReLU→10) on
60,000 MNIST-shaped random samples, batch 512, Adam (lr 1e-3).

The PyTorch loop is this project's own restatement of the reference's scheme, not its code: three
Adam optimisers, one each for encoder, decoder and classifier, and routed gradients — the decoder
gets ∇MSE, the classifier ∇CE and the encoder ∇(λ·MSE + (1−λ)·CE) — one model at a time, timed at
1 thread and at torch's default thread count. pcdash trains the 11 λ values 0, 0.1, …, 1 as one
program (``pcdash.engine._train_chunk``). Both are timed over a few batches after a warm-up,
interleaved rounds, the fastest kept, and printed as seconds per model-epoch (117 steps) and the
ratio, beside a float32 matmul timed in the same run. Needs torch (optional); without it the
script says so and exits 0.

    python benchmarks/bench_reference.py [--steps 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import interleaved, load, matmul_flops_per_s  # noqa: E402

N, BATCH, LR = 60_000, 512, 1e-3
LAMBDAS = np.round(np.linspace(0.0, 1.0, 11), 2)


def torch_loop(torch, lam: float, steps: int):
    """A function that runs ``steps`` routed-gradient Adam steps of one FC-Medium CRE."""
    nn = torch.nn
    torch.manual_seed(0)
    enc = nn.Sequential(nn.Flatten(), nn.Linear(784, 616), nn.ReLU(), nn.Linear(616, 3), nn.ReLU())
    dec = nn.Sequential(nn.Linear(3, 616), nn.ReLU(), nn.Linear(616, 784), nn.Tanh())
    cls = nn.Sequential(nn.Linear(3, 12), nn.ReLU(), nn.Linear(12, 10))
    opts = [torch.optim.Adam(m.parameters(), lr=LR) for m in (enc, dec, cls)]
    gen = torch.Generator().manual_seed(0)
    x = torch.rand((N, 1, 28, 28), generator=gen) * 2 - 1
    y = torch.randint(0, 10, (N,), generator=gen)
    order = torch.randperm(N, generator=gen)

    def run():
        for s in range(steps):
            idx = order[s * BATCH : (s + 1) * BATCH]
            xb, yb = x[idx], y[idx]
            z = enc(xb)
            mse = torch.mean((dec(z) - xb.flatten(1)) ** 2)
            ce = nn.functional.cross_entropy(cls(z), yb)
            for opt in opts:
                opt.zero_grad(set_to_none=True)
            # decoder on MSE, classifier on CE, encoder on λ·MSE + (1−λ)·CE
            dec_grads = torch.autograd.grad(mse, list(dec.parameters()), retain_graph=True)
            cls_grads = torch.autograd.grad(ce, list(cls.parameters()), retain_graph=True)
            (lam * mse + (1 - lam) * ce).backward(inputs=list(enc.parameters()))
            for p, g in zip(
                [*dec.parameters(), *cls.parameters()], [*dec_grads, *cls_grads], strict=True
            ):
                p.grad = g
            for opt in opts:
                opt.step()
        return None

    return run


def pcdash_chunk(steps: int):
    """A function that runs ``steps`` batches of the 11-member sweep as one compiled chunk."""
    import jax

    from pcdash import engine
    from pcdash.cre.algorithm import CREAlgorithm

    rng = np.random.default_rng(0)
    x = rng.uniform(-1.0, 1.0, (N, 28, 28, 1)).astype(np.float32)
    y = rng.integers(0, 10, N).astype(np.int32)
    algo = CREAlgorithm("fc-medium", (28, 28, 1), 10, 3)
    plan = engine._plan(
        algo, {"lam": LAMBDAS}, np.arange(len(LAMBDAS)), x, y, BATCH, None, steps, None
    )
    carry, static, diverged, zero = plan.initial_state(None)
    state = (carry, diverged, {"count": engine._scalar(0), "sum": zero, "last": zero})
    chunk_args = plan.chunk_args(state, static, plan.permutations(1), 0)
    jax.block_until_ready(engine._train_chunk(*chunk_args))  # compile
    return lambda: engine._train_chunk(*chunk_args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8, help="batches per timed call")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print(
            "torch is not installed: the PyTorch reference is skipped (pip install torch to run it)"
        )
        return
    default_threads = torch.get_num_threads()

    def with_threads(n, fn):
        def run():
            torch.set_num_threads(n)
            return fn()

        return run

    loop = torch_loop(torch, 0.5, args.steps)
    fns = {
        "pcdash (11 members, one program)": pcdash_chunk(args.steps),
        "torch, 1 thread": with_threads(1, loop),
        f"torch, {default_threads} threads (default)": with_threads(default_threads, loop),
    }
    for fn in fns.values():  # warm-up
        fn()
    matmul = matmul_flops_per_s()
    best = interleaved(fns, args.rounds)
    torch.set_num_threads(default_threads)
    steps_per_epoch = N // BATCH
    per_model_epoch = {
        k: t / args.steps * steps_per_epoch / (len(LAMBDAS) if k.startswith("pcdash") else 1)
        for k, t in best.items()
    }
    ours = next(v for k, v in per_model_epoch.items() if k.startswith("pcdash"))
    macs = 784 * 616 + 616 * 3 + 3 * 616 + 616 * 784 + 3 * 12 + 12 * 10
    # forward + two backward products per weight, but no input gradient for the first layer
    # (neither loop computes it: 3 × macs would count 19% more FLOPs than either performs)
    flops = 2 * BATCH * (3 * macs - 784 * 616) * steps_per_epoch
    print(
        f"\nFC-Medium CRE, {N} MNIST-shaped samples, batch {BATCH}, {steps_per_epoch} steps/epoch; "
        "torch "
        f"{torch.__version__}; load {load():.1f}; float32 matmul {matmul / 1e9:.0f} GFLOP/s"
    )
    print(f"{'':40}{'s/model-epoch':>14}{'of matmul':>11}{'÷ pcdash':>10}")
    for k, v in per_model_epoch.items():
        print(f"{k:40}{v:>14.2f}{flops / v / matmul:>11.0%}{v / ours:>10.2f}")


if __name__ == "__main__":
    main()
