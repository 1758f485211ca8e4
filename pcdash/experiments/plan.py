"""Planning a paper-scale sweep: the paper's grid as pcdash would run it (shape groups and their
members), a per-member cost measured here on a short run, and the wall time that gives on 1, 8
and 64 workers.

    wall(W) = makespan of the parts (:func:`pcdash.backends.parts.split_parts`, groups cut in
              proportion to their cost) on W workers,
              part = compile + members × epochs × (cost of one member-epoch),
              parts handed out largest first to the least busy worker

With one worker it is the local backend: every group once, one after another. The grids below
say, block by block, which numbers the papers give and which are assumptions
(``references/`` and the CRE authors' public code are the sources).
"""

from __future__ import annotations

import heapq
import json
import math
import os
import platform
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PAPERS = ("cre", "pcx")
WORKERS = (1, 8, 64)

# Training-set shapes as pcdash splits them (10% of train held out for validation).
SHAPES = {  # name: (input shape, classes, train, val, test)
    "mnist": ((28, 28, 1), 10, 54_000, 6_000, 10_000),
    "fashion_mnist": ((28, 28, 1), 10, 54_000, 6_000, 10_000),
    "cifar10": ((32, 32, 3), 10, 45_000, 5_000, 10_000),
    "moons": ((2,), 2, 1_440, 160, 400),  # pcdash's toy sets: 2,000 samples, 20% test
    "circles": ((2,), 2, 1_440, 160, 400),
}

CRE_LAMBDAS = 12  # assumed: 0, 0.1, …, 0.9, 0.99, 1
CRE_SEEDS = 10  # assumed
CRE_DIMS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 24, 32)  # assumed
CRE_NOTE = (
    "axes, ~10,000 instances, Adam 1e-3, batch 512, 10 epochs: paper and authors' train_cre.py; "
    "λ grid (12 values incl. 0.99), 12 dims and 10 seeds assumed to match that total"
)


@dataclass(frozen=True)
class Block:
    """Groups of one figure that differ only in their shape value (``shapes``: dim(z) for CREs,
    hidden width for PCNs), times ``programs`` further static settings (activation, optimiser
    momentum …) that each compile their own program. Inside a group, ``inside`` varies."""

    figure: str
    dataset: str
    model: str  # a CRE architecture, or "pcn"
    algorithm: str  # "cre", "pca", "rp", or a PCN algorithm
    shapes: tuple[int, ...]
    inside: tuple[tuple[str, int], ...]
    epochs: int
    batch_size: int
    programs: tuple[tuple[str, int], ...] = ()
    depth: int = 2
    inference_steps: int = 8
    note: str = ""

    @property
    def members_per_group(self) -> int:
        return math.prod(n for _, n in self.inside)

    @property
    def groups(self) -> int:
        return len(self.shapes) * math.prod(n for _, n in self.programs)

    @property
    def members(self) -> int:
        return self.groups * self.members_per_group

    def kind(self, shape: int) -> str:
        """What a member's cost depends on (the key of a measurement). A CRE's dim(z) is small
        beside its hidden layers, so its cost is measured once per block, at the largest dim(z);
        a PCN's width sets its cost and is measured for each."""
        if self.model != "pcn":
            shape = max(self.shapes)
        cost_alg = (
            self.algorithm
            if self.algorithm in ("ipc", "cre")
            else "bp"
            if self.algorithm.startswith("bp")
            else ("cre" if self.algorithm in ("pca", "rp") else "pc")
        )
        s = SHAPES[self.dataset]
        return (
            f"{self.model}|{cost_alg}|in={'x'.join(map(str, s[0]))}|classes={s[1]}|shape={shape}|"
            f"depth={self.depth}|T={self.inference_steps}|batch={self.batch_size}"
        )


def cre_grid() -> list[Block]:
    """The CRE paper's grid (Rathjens & Wiskott): FC (small/medium/large, 784 inputs in the
    authors' code: MNIST, FashionMNIST) over dim(z); CNN and ViT (the authors' latent: conv
    map, token sequence) on all three datasets; PCA and RP baselines per FC dim (Fig. 4)."""
    lam_seed = (("λ", CRE_LAMBDAS), ("seed", CRE_SEEDS))
    blocks = []
    for arch in ("fc-small", "fc-medium", "fc-large"):
        for ds in ("mnist", "fashion_mnist"):
            blocks.append(
                Block("Fig. 2-4", ds, arch, "cre", CRE_DIMS, lam_seed, 10, 512, note=CRE_NOTE)
            )
    for arch in ("cnn", "vit"):
        for ds in ("mnist", "fashion_mnist", "cifar10"):
            blocks.append(
                Block(
                    "Fig. 2",
                    ds,
                    arch,
                    "cre",
                    (8,),
                    lam_seed,
                    10,
                    512,
                    note="the authors' model: no dim(z) axis (costed at pcdash's model of that "
                    "name)",
                )
            )
    for kind in ("pca", "rp"):
        for ds in ("mnist", "fashion_mnist"):
            blocks.append(
                Block(
                    "Fig. 4",
                    ds,
                    "fc-medium",
                    kind,
                    CRE_DIMS,
                    (("seed", CRE_SEEDS),),
                    10,
                    512,
                    note="heads trained on a frozen projection (cost taken as a CRE's)",
                )
            )
    return blocks


def pcx_grid() -> list[Block]:
    """The PCX paper's grids (Pinchetti et al.), from its appendices D.1 (Fig. 6), D.2 (Fig. 7)
    and B (Table 1, the MLP rows: pcdash has no VGG/ResNet)."""
    blocks = []
    fig6 = (
        "App. D.1: 2 hidden layers, 8 epochs, T = 8, SGD states; lr_θ 1e-5…1 (6), γ 1e-3…1 (7), "
        "LeakyReLU/HardTanh, AdamW or SGD with m ∈ {0, .5, .9, .95}; batch size not given (assumed)"
    )
    for ds, widths, seeds in (
        ("fashion_mnist", (512, 1024, 2048, 4096), 3),
        ("moons", (128, 256, 512, 1024), 10),
        ("circles", (128, 256, 512, 1024), 10),
    ):
        blocks.append(
            Block(
                "Fig. 6",
                ds,
                "pcn",
                "pc-se",
                widths,
                (("lr_θ", 6), ("γ", 7), ("seed", seeds)),
                8,
                128 if ds == "fashion_mnist" else 32,
                programs=(("activation", 2), ("optimiser", 5)),
                note=fig6,
            )
        )
    fig7 = (
        "App. D.2: 2 hidden LeakyReLU layers, 8 epochs, T = 8; γ 1e-5…0.3 (10), SGD or Adam (lr "
        "0.01 "
        "FashionMNIST, 0.03 moons), BP baselines alike; batch size not given (assumed)"
    )
    for ds, seeds in (("fashion_mnist", 3), ("moons", 10)):
        widths = tuple(2**k for k in range(5, 13))  # 32 … 4096
        batch = 128 if ds == "fashion_mnist" else 32
        blocks.append(
            Block(
                "Fig. 7",
                ds,
                "pcn",
                "pc-se",
                widths,
                (("γ", 10), ("optimiser", 2), ("seed", seeds)),
                8,
                batch,
                note=fig7,
            )
        )
        blocks.append(
            Block(
                "Fig. 7",
                ds,
                "pcn",
                "bp-se",
                widths,
                (("optimiser", 2), ("seed", seeds)),
                8,
                batch,
                note=fig7,
            )
        )
    tab1 = (
        "App. B: MLP 3×128, 5 seeds at the best hyperparameters; epochs, T and batch assumed (10, "
        "8, 128): "
        "the search space (Table 7) is not legible in references/pcx-benchmark-paper.md"
    )
    for ds in ("mnist", "fashion_mnist"):
        for alg in ("pc-ce", "pc-se", "pn", "nn", "cn", "ipc", "bp-ce", "bp-se"):
            blocks.append(
                Block(
                    "Table 1", ds, "pcn", alg, (128,), (("seed", 5),), 10, 128, depth=3, note=tab1
                )
            )
    return blocks


GRIDS: dict[str, Callable[[], list[Block]]] = {"cre": cre_grid, "pcx": pcx_grid}


@dataclass(frozen=True)
class Cost:
    member_epoch_s: float  # one member, one epoch (training and evaluation), on one worker
    compile_s: float  # once per group and worker
    measured: str = ""  # when and where
    load: float = math.nan  # the machine's load average then


def _synthetic(dataset: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    shape, classes = SHAPES[dataset][:2]
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (n, *shape)).astype(np.float32), rng.integers(0, classes, n).astype(
        np.int32
    )


def measure(block: Block, shape: int, *, steps: int = 3, members: int = 2) -> Cost:
    """Train ``members`` members of ``block``'s group ``shape`` for ``steps`` batches (and the
    matching share of evaluation) three times on synthetic data of the dataset's shape: the
    faster of the last two is the cost, the first run's extra time the compile. A step's cost
    does not
    depend on the pixel values, so the real files are not needed."""
    from pcdash.engine import train_members

    shape_in, classes, n_train, n_val, n_test = SHAPES[block.dataset]
    steps = max(1, min(steps, n_train // block.batch_size))
    x, y = _synthetic(block.dataset, steps * block.batch_size, 0)
    n_eval = max(1, round((n_val + n_test) * steps * block.batch_size / n_train))
    evals = {"val": _synthetic(block.dataset, n_eval, 1)}
    algo, hp = _algorithm(block, shape, members, n_train // block.batch_size)
    if block.model == "pcn":
        x, evals = (
            x.reshape(len(x), -1),
            {k: (v[0].reshape(len(v[0]), -1), v[1]) for k, v in evals.items()},
        )
    seeds = np.arange(members)

    def run() -> float:
        t = time.perf_counter()
        train_members(algo, hp, seeds, x, y, epochs=1, batch_size=block.batch_size, eval_sets=evals)
        return time.perf_counter() - t

    first = run()
    best = min(run(), run())  # the less disturbed of two: other work on the machine only adds
    per_epoch = best / members * (n_train // block.batch_size) / steps
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return Cost(
        per_epoch,
        max(first - best, 0.0),
        f"{time.strftime('%Y-%m-%d %H:%M')} on {socket.gethostname()} ({os.cpu_count()} cores)",
        load,
    )


def _algorithm(block: Block, shape: int, members: int, steps_per_epoch: int):
    shape_in, classes = SHAPES[block.dataset][:2]
    if block.model != "pcn":
        from pcdash.cre.algorithm import CREAlgorithm

        return CREAlgorithm(block.model, shape_in, classes, int(shape)), {
            "lam": np.full(members, 0.5, np.float32)
        }
    from pcdash.experiments.pcn_config import PCNConfig
    from pcdash.experiments.pcn_sweep import hyperparameters

    config = PCNConfig(
        dataset="digits",
        algorithm=block.algorithm,
        widths=(shape,),
        depth=block.depth,
        inference_steps=block.inference_steps,
        state_lrs=(0.01,),
        seeds=members,
        batch_size=block.batch_size,
    )
    algo = config.algorithm_for(
        shape, input_dim=math.prod(shape_in), num_classes=classes, steps_per_epoch=steps_per_epoch
    )
    return algo, hyperparameters(config.members(shape).iloc[:members])


def cache_key(kind: str) -> str:
    """A kind's key in the cost cache: costs are this machine's."""
    return f"{socket.gethostname()}|{platform.machine()}|{os.cpu_count()}|{kind}"


def cache_path() -> Path:
    root = Path(os.environ.get("PCDASH_CACHE_DIR", Path.home() / ".cache" / "pcdash"))
    root.mkdir(parents=True, exist_ok=True)
    return root / "plan_costs.json"


def costs_for(
    blocks: Sequence[Block],
    *,
    remeasure: bool = False,
    steps: int = 3,
    on_measure: Callable[[str], None] | None = None,
) -> dict[str, Cost]:
    """A measured :class:`Cost` for every kind of group in ``blocks``, measured once per
    machine and kept in ``$PCDASH_CACHE_DIR/plan_costs.json``."""
    path = cache_path()
    try:
        cache = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        cache = {}
    costs = {}
    for block in blocks:
        for shape in block.shapes:
            kind = block.kind(shape)
            key = cache_key(kind)
            if kind in costs:
                continue
            if key in cache and not remeasure:
                costs[kind] = Cost(**cache[key])
                continue
            if on_measure is not None:
                on_measure(kind)
            costs[kind] = measure(block, shape, steps=steps)
            cache[key] = costs[kind].__dict__
            path.write_text(json.dumps(cache, indent=1))
    return costs


@dataclass
class Plan:
    paper: str
    blocks: list[Block]
    costs: dict[str, Cost] = field(default_factory=dict)

    @property
    def members(self) -> int:
        return sum(b.members for b in self.blocks)

    @property
    def groups(self) -> int:
        return sum(b.groups for b in self.blocks)

    def group_list(self) -> list[tuple[Block, int]]:
        """(block, shape) of every group, each as often as it has programs."""
        return [
            (b, s) for b in self.blocks for s in b.shapes for _ in range(b.groups // len(b.shapes))
        ]

    def member_seconds(self, block: Block, shape: int) -> float:
        """One member's training, every epoch, on one worker."""
        return self.costs[block.kind(shape)].member_epoch_s * block.epochs

    def wall_seconds(self, workers: int) -> float:
        """The estimated wall time on ``workers`` workers (see the module doc)."""
        from pcdash.backends.parts import split_parts

        groups = self.group_list()
        if workers == 1:
            return sum(
                self.costs[b.kind(s)].compile_s + b.members_per_group * self.member_seconds(b, s)
                for b, s in groups
            )
        parts = split_parts(
            [b.members_per_group for b, _ in groups],
            workers,
            member_costs=[self.member_seconds(b, s) for b, s in groups],
        )
        loads = [0.0] * workers
        for part in parts:  # largest first onto the least busy worker
            b, s = groups[part.group]
            least = heapq.heappop(loads)
            heapq.heappush(
                loads,
                least + self.costs[b.kind(s)].compile_s + len(part) * self.member_seconds(b, s),
            )
        return max(loads)


def make_plan(
    paper: str,
    *,
    measure_costs: bool = True,
    remeasure: bool = False,
    steps: int = 3,
    on_measure: Callable[[str], None] | None = None,
) -> Plan:
    from pcdash.errors import ConfigError

    if paper not in GRIDS:
        raise ConfigError(f"unknown paper {paper!r}; choose from {', '.join(PAPERS)}")
    blocks = GRIDS[paper]()
    plan = Plan(paper, blocks)
    if measure_costs:
        plan.costs = costs_for(blocks, remeasure=remeasure, steps=steps, on_measure=on_measure)
    return plan


def duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


TITLES = {"cre": "CRE (Rathjens & Wiskott)", "pcx": "PCX benchmark (Pinchetti et al.)"}


def render(plan: Plan, workers: Sequence[int] = WORKERS) -> str:
    """The plan as text: one line per block, then totals and wall times."""
    lines = [
        f"{TITLES[plan.paper]}: {plan.members:,} members in {plan.groups:,} shape groups "
        "(one compiled program each)",
        "",
    ]
    head = (
        f"{'figure':9}{'dataset':14}{'model':10}{'alg':7}"
        f"{'groups':>7}{'× members':>10}{'= members':>10}"
        f"{'ep':>4}{'batch':>6}  "
        f"{'inside a group':24}{'shape values: dim(z) / width':30}{'member cost':>13}"
    )
    lines += [head, "-" * len(head)]
    notes: dict[str, int] = {}
    for b in plan.blocks:
        note = notes.setdefault(b.note, len(notes) + 1)
        cost = ""
        if plan.costs:
            secs = [plan.member_seconds(b, s) for s in b.shapes]
            cost = (
                duration(secs[0])
                if len(set(secs)) == 1
                else f"{duration(min(secs))}-{duration(max(secs))}"
            )
        inside = " ".join(f"{k}{n}" for k, n in b.inside)
        shapes = ",".join(map(str, b.shapes)) + (
            f" (×{b.groups // len(b.shapes)})" if b.programs else ""
        )
        lines.append(
            f"{b.figure:9}{b.dataset:14}{b.model:10}{b.algorithm:7}{b.groups:>7}{b.members_per_group:>10}"
            f"{b.members:>10}{b.epochs:>4}{b.batch_size:>6}  {inside:24}{shapes:30}{cost:>13} "
            f"[{note}]"
        )
    lines.append("")
    lines += [f"[{i}] {text}" for text, i in notes.items()]
    programs = {", ".join(f"{n} {k}" for k, n in b.programs) for b in plan.blocks if b.programs}
    if programs:
        lines.append("(×N): each shape value is N programs: " + "; ".join(sorted(programs)))
    if plan.costs:
        first = next(iter(plan.costs.values()))
        loads = [c.load for c in plan.costs.values() if math.isfinite(c.load)]
        load = (
            f", load average {min(loads):.0f}-{max(loads):.0f}: a busy machine inflates it"
            if loads
            else ""
        )
        lines += [
            "",
            "member cost: one member's whole training (every epoch, with evaluation) on one "
            "worker, measured "
            "here on a short run of synthetic data with the real datasets' shapes "
            f"({first.measured}{load})",
            "estimated wall time: "
            + " · ".join(
                f"{w} worker{'s' if w > 1 else ''}: {duration(plan.wall_seconds(w))}"
                for w in workers
            ),
        ]
    return "\n".join(lines)
