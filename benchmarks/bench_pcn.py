"""PCN training speed: pcdash vs PCX 0.6.3, and a γ grid as one program vs one run per γ.

Configuration (PCX's ``examples/discriminative_experiments/MLP/fmnist`` PC-SE setting):
784-128-128-128-10 MLP, GELU, PC-SE, T = 5 inference steps (SGD, momentum 0.1), AdamW on the
weights, batch 128, 60,000 random FashionMNIST-shaped samples. Prints ratios measured in this
run; never asserts a time. Every measurement times ``--batches`` batches after a warm-up that
compiles, and is extrapolated explicitly to one epoch (60,000 // 128 = 468 batches). The
measurements are interleaved over ``--rounds`` rounds and each keeps its fastest round, so
that load from other processes on a shared machine does not bias one side. The γ-grid
comparison is repeated on a digits-sized MLP, where per-step work is small.

Where a batch goes: timing T = 1 and T = 9 splits each library's batch into one inference step
and the rest (the forward initialisation, the weight update, the library's own overhead), and the
six matrix products of an inference step are timed alone, a bound for the step. Measured in
two runs on 2026-11-30: pcdash 1.05× and 1.11× faster than PCX per epoch; an inference step
takes pcdash 0.149–0.163 ms and PCX 0.119–0.139 ms (the products alone 0.105–0.110 ms), the rest
of a batch pcdash 0.37 ms and PCX 0.72–0.79 ms (the engine scans the batches in one program;
PCX calls a jitted step per batch). Tried on pcdash's step and not kept, each within 3–5%: no
per-step energy record (the Energy page plots it), the inference loop unrolled, and a custom
VJP that keeps XLA from transposing each weight matrix inside the loop (it does, under vmap).

PCX is optional (``pip install pcx==0.6.3 --no-deps``); without it that comparison is skipped.

    python benchmarks/bench_pcn.py [--batches 36] [--rounds 5]
    python benchmarks/bench_pcn.py --algorithms     # every learning rule's time per epoch ÷ BP-SE
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import fastest as fastest_call  # noqa: E402

from pcdash.engine import train_members  # noqa: E402
from pcdash.pcn import PCNAlgorithm, pcn_hyper  # noqa: E402


@dataclass(frozen=True)
class Setting:
    sizes: tuple[int, ...]
    batch: int
    n_samples: int

    @property
    def batches_per_epoch(self) -> int:
        return self.n_samples // self.batch

    def describe(self) -> str:
        return (
            f"{'-'.join(map(str, self.sizes))} gelu, batch {self.batch}, {self.n_samples} samples"
        )


BENCH = Setting((784, 128, 128, 128, 10), batch=128, n_samples=60_000)  # FashionMNIST-shaped
SMALL = Setting((64, 64, 64, 10), batch=32, n_samples=1_280)  # digits-sized
T = 5
STATE_LR, STATE_MOMENTUM = 0.026, 0.1  # γ per example (see pcx_timer)
WEIGHT_LR, WEIGHT_DECAY = 3e-4, 1.8e-3
SIZES, BATCH, BATCHES_PER_EPOCH = BENCH.sizes, BENCH.batch, BENCH.batches_per_epoch


def random_data(setting: Setting = BENCH, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=(setting.n_samples, setting.sizes[0])).astype(np.float32)
    return x, rng.integers(0, setting.sizes[-1], size=setting.n_samples).astype(np.int32)


def algorithm(name: str = "pc-se", setting: Setting = BENCH, steps: int = T) -> PCNAlgorithm:
    return PCNAlgorithm(
        setting.sizes,
        algorithm=name,
        activation="gelu",
        inference_steps=steps,
        state_momentum=STATE_MOMENTUM,
        weight_decay=WEIGHT_DECAY,
    )


def pcdash_timer(
    x: np.ndarray,
    y: np.ndarray,
    gammas: list[float],
    batches: int,
    *,
    name: str = "pc-se",
    setting: Setting = BENCH,
    steps: int = T,
) -> Callable[[], float]:
    """Seconds per epoch of one engine call training ``len(gammas)`` members together.

    The returned function starts a sweep on the whole data set in chunks of ``batches``
    batches, stops it after two chunks and times the second (the first call also compiles),
    extrapolated to a full epoch. Set-up (initialisation, data transfer) is not timed.
    """
    n = len(gammas)
    hp = pcn_hyper(gammas, np.full(n, WEIGHT_LR), ["adamw"] * n)
    algo = algorithm(name, setting, steps)

    def run() -> float:
        stamps: list[float] = []
        train_members(
            algo,
            hp,
            np.arange(n),
            x,
            y,
            epochs=1,
            batch_size=setting.batch,
            chunk_steps=batches,
            on_progress=lambda _: stamps.append(time.perf_counter()),
            should_stop=lambda: len(stamps) >= 2,
        )
        return (stamps[1] - stamps[0]) / batches * setting.batches_per_epoch

    run()  # compile
    return run


def pcx_timer(
    x: np.ndarray, y: np.ndarray, batches: int, steps: int = T
) -> Callable[[], float] | None:
    """The same training with PCX 0.6.3, written as in its MLP examples: one jitted
    ``train_on_batch`` per batch, called from a Python loop over pre-made device batches.

    PCX differentiates the batch-*mean* energy, so its state gradient is each example's ÷ B;
    its state learning rate is ``γ·B`` here so that both libraries take the same steps.
    """
    try:
        import pcx as px
        import pcx.functional as pxf
        import pcx.nn as pxnn
        import pcx.predictive_coding as pxc
        import pcx.utils as pxu
    except ImportError:
        return None

    class Model(pxc.EnergyModule):
        def __init__(self) -> None:
            super().__init__()
            self.act_fn = px.static(jax.nn.gelu)
            self.layers = [pxnn.Linear(a, b) for a, b in itertools.pairwise(SIZES)]
            self.vodes = [pxc.Vode() for _ in SIZES[1:-1]] + [pxc.Vode(pxc.se_energy)]
            self.vodes[-1].h.frozen = True

        def __call__(self, x, y=None):
            for vode, layer in zip(self.vodes[:-1], self.layers[:-1], strict=True):
                x = vode(self.act_fn(layer(x)))
            x = self.vodes[-1](self.layers[-1](x))
            if y is not None:
                self.vodes[-1].set("h", y)
            return self.vodes[-1].get("u")

    batched = pxu.M(pxc.VodeParam | pxc.VodeParam.Cache).to((None, 0))

    @pxf.vmap(batched, in_axes=(0, 0), out_axes=0)
    def forward(x, y, *, model):
        return model(x, y)

    @pxf.vmap(batched, in_axes=(0,), out_axes=(None, 0), axis_name="batch")
    def energy(x, *, model):
        y_ = model(x, None)
        return jax.lax.pmean(model.energy().sum(), "batch"), y_

    @pxf.jit(static_argnums=0)
    def train_on_batch(steps, x, y, *, model, optim_w, optim_h):
        model.train()
        with pxu.step(model, pxc.STATUS.INIT, clear_params=pxc.VodeParam.Cache):
            forward(x, y, model=model)
        optim_h.init(pxu.M_hasnot(pxc.VodeParam, frozen=True)(model))
        for _ in range(steps):
            with pxu.step(model, clear_params=pxc.VodeParam.Cache):
                mask = pxu.M_hasnot(pxc.VodeParam, frozen=True).to([False, True])
                _, g = pxf.value_and_grad(mask, has_aux=True)(energy)(x, model=model)
            optim_h.step(model, g["model"])
        optim_h.clear()
        with pxu.step(model, clear_params=pxc.VodeParam.Cache):
            mask = pxu.M(pxnn.LayerParam).to([False, True])
            _, g = pxf.value_and_grad(mask, has_aux=True)(energy)(x, model=model)
        optim_w.step(model, g["model"])

    px.RKG.seed(0)
    model = Model()
    with pxu.step(model, pxc.STATUS.INIT, clear_params=pxc.VodeParam.Cache):
        forward(jnp.zeros((BATCH, SIZES[0])), None, model=model)
        optim_h = pxu.Optim(lambda: optax.sgd(STATE_LR * BATCH, momentum=STATE_MOMENTUM))
        optim_w = pxu.Optim(
            lambda: optax.adamw(WEIGHT_LR, weight_decay=WEIGHT_DECAY),
            pxu.M(pxnn.LayerParam)(model),
        )
    xs = jnp.asarray(x[: batches * BATCH]).reshape(batches, BATCH, -1)
    ys = jax.nn.one_hot(jnp.asarray(y[: batches * BATCH]), 10).reshape(batches, BATCH, -1)

    def run(n: int = batches) -> float:
        t0 = time.perf_counter()
        for i in range(n):
            train_on_batch(steps, xs[i], ys[i], model=model, optim_w=optim_w, optim_h=optim_h)
        jax.block_until_ready(model.layers[0].nn.weight.get())
        return (time.perf_counter() - t0) / n * BATCHES_PER_EPOCH

    run(3)  # compile
    return run


def fastest(timers: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Each timer's fastest of ``rounds`` interleaved runs (seconds per epoch)."""
    times: dict[str, list[float]] = {k: [] for k in timers}
    for _ in range(rounds):
        for k, timer in timers.items():
            times[k].append(timer())
    return {k: min(v) for k, v in times.items()}


def step_products_s(sizes: tuple[int, ...], batch: int, reps: int = 200, tries: int = 5) -> float:
    """Seconds of the matrix products one inference step of a PC-SE MLP needs, each alone: for
    every layer ``l ≥ 2`` its prediction ``f(h_{l−1}) W_lᵀ`` (``batch × d_{l−1}`` by
    ``d_{l−1} × d_l``) and the product ``ε_l W_l`` that carries its error down (``batch × d_l``
    by ``d_l × d_{l−1}``); ``μ_1`` comes from the clamped input and is computed once per batch.
    Each product runs ``reps`` times on different inputs in one compiled loop; the fastest of
    ``tries`` loops counts."""
    rng = np.random.default_rng(0)
    total = 0.0
    for d_in, d_out in itertools.pairwise(sizes[1:]):
        for k, n in ((d_in, d_out), (d_out, d_in)):
            a = jnp.asarray(rng.standard_normal((reps, batch, k), dtype=np.float32))
            w = jnp.asarray(rng.standard_normal((k, n), dtype=np.float32))
            f = jax.jit(lambda a, w: jax.lax.map(lambda ai: ai @ w, a))
            jax.block_until_ready(f(a, w))  # compiled before the clock
            total += fastest_call(lambda f=f, a=a, w=w: f(a, w), tries) / reps
    return total


def inference_step_costs(x: np.ndarray, y: np.ndarray, batches: int, rounds: int) -> None:
    """Where a PC-SE batch goes, pcdash and PCX alike: one inference step is the difference of
    T = 9 and T = 1 over 8, the rest of the batch what T = 1 costs beyond one step; the step's
    matrix products timed alone (:func:`step_products_s`) bound it from below."""
    lo, hi = 1, 9
    timers = {f"pc{t}": pcdash_timer(x, y, [STATE_LR], batches, steps=t) for t in (lo, hi)}
    for t in (lo, hi):
        pcx = pcx_timer(x, y, batches, steps=t)
        if pcx is not None:
            timers[f"pcx{t}"] = pcx
    per_epoch = fastest(timers, rounds)
    ms = {k: v / BATCHES_PER_EPOCH * 1e3 for k, v in per_epoch.items()}
    products = step_products_s(SIZES, BATCH) * 1e3
    print(f"\nwhere a PC-SE batch goes ({BENCH.describe()}; ms per batch, T = {lo} and {hi})")
    for lib, key in (("pcdash", "pc"), ("PCX 0.6.3", "pcx")):
        if f"{key}{lo}" not in ms:
            continue
        step = (ms[f"{key}{hi}"] - ms[f"{key}{lo}"]) / (hi - lo)
        rest = ms[f"{key}{lo}"] - step
        print(
            f"  {lib:10s}: one inference step {step:6.3f} ms ({products / step:4.0%} of it the "
            f"products alone), the rest of a batch {rest:6.3f} ms; at T = {T}: "
            f"{rest + T * step:6.3f} ms"
        )
    print(f"  the {2 * (len(SIZES) - 2)} matrix products of a step, each alone: {products:6.3f} ms")


def grid_vs_sequential(setting: Setting, batches: int, rounds: int) -> None:
    """8 γ values trained as one vmapped program vs 8 single-member runs one after another."""
    x, y = random_data(setting)
    gammas = [float(g) for g in np.geomspace(1e-3, 0.3, 8)]
    together = pcdash_timer(x, y, gammas, batches, setting=setting)
    alone = [pcdash_timer(x, y, [g], batches, setting=setting) for g in gammas]
    t = fastest({"together": together, "in_a_row": lambda: sum(f() for f in alone)}, rounds)
    print(f"\n{setting.describe()}; {batches} of {setting.batches_per_epoch} batches per run")
    print(f"  8 γ values, one program     : {t['together']:7.2f} s/epoch")
    print(
        f"  8 γ values, 8 runs in a row : {t['in_a_row']:7.2f} s/epoch  "
        f"(one program {t['in_a_row'] / t['together']:.2f}x faster)"
    )


def algorithms_vs_bp(batches: int, rounds: int) -> None:
    """Time per epoch of every learning rule relative to BP-SE on the same MLP, one run."""
    from pcdash.pcn import ALGORITHMS

    x, y = random_data()
    timers = {name: pcdash_timer(x, y, [STATE_LR], batches, name=name) for name in ALGORITHMS}
    t = fastest(timers, rounds)
    print(f"\nlearning rules on {BENCH.describe()}, T={T}; {batches} batches per run")
    for name in ALGORITHMS:
        print(f"  {name:6s}: {t[name]:7.2f} s/epoch  ({t[name] / t['bp-se']:.2f}x BP-SE)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=36, help="batches per timed run")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved runs; fastest kept")
    parser.add_argument(
        "--algorithms", action="store_true", help="only time every learning rule vs BP"
    )
    args = parser.parse_args()
    if args.algorithms:
        algorithms_vs_bp(min(args.batches, BENCH.batches_per_epoch), args.rounds)
        return
    b = min(args.batches, BENCH.batches_per_epoch)
    x, y = random_data()
    backend = f"{jax.devices()[0].device_kind} ({jax.default_backend()})"
    print(f"{backend}, jax {jax.__version__}; best of {args.rounds} interleaved rounds")
    print(f"{BENCH.describe()}, PC-SE T={T}; {b} of {BENCH.batches_per_epoch} batches per run")

    timers = {"pc": pcdash_timer(x, y, [STATE_LR], b)}
    timers["bp"] = pcdash_timer(x, y, [STATE_LR], b, name="bp-se")
    pcx = pcx_timer(x, y, b)
    if pcx is not None:
        timers["pcx"] = pcx
    t = fastest(timers, args.rounds)
    print(f"  pcdash PC-SE, 1 member      : {t['pc']:7.2f} s/epoch")
    print(
        f"  pcdash BP-SE, same MLP      : {t['bp']:7.2f} s/epoch  "
        f"(PC / BP = {t['pc'] / t['bp']:.2f}x)"
    )
    if pcx is None:
        print("  PCX 0.6.3                   : skipped (pip install pcx==0.6.3 --no-deps)")
    else:
        print(
            f"  PCX 0.6.3 PC-SE             : {t['pcx']:7.2f} s/epoch  "
            f"(pcdash {t['pcx'] / t['pc']:.2f}x faster)"
        )

    inference_step_costs(x, y, b, args.rounds)
    grid_vs_sequential(BENCH, b, args.rounds)
    grid_vs_sequential(SMALL, 20, args.rounds)
    algorithms_vs_bp(b, args.rounds)


if __name__ == "__main__":
    main()
