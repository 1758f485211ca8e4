"""python -m pcdash plan: the papers' grids as stated in their appendices, the wall-time
arithmetic, a real cost measurement, and the command's output."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pcdash.experiments.plan import (
    Block,
    Cost,
    Plan,
    cache_key,
    cre_grid,
    make_plan,
    measure,
    pcx_grid,
)


def _members(blocks, **match) -> int:
    return sum(b.members for b in blocks if all(getattr(b, k) == v for k, v in match.items()))


def test_pcx_grids_count_what_the_appendices_state():
    blocks = pcx_grid()
    # Fig. 6 (App. D.1): 6 lr_θ × 7 γ × 2 activations × 5 optimiser settings × 4 widths × seeds
    assert (
        _members(blocks, figure="Fig. 6", dataset="fashion_mnist") == 6 * 7 * 2 * 5 * 4 * 3 == 5_040
    )
    assert _members(blocks, figure="Fig. 6", dataset="moons") == 6 * 7 * 2 * 5 * 4 * 10 == 16_800
    assert _members(blocks, figure="Fig. 6", dataset="circles") == 16_800
    # Fig. 7 (App. D.2): widths 32 … 4096 (8) × 10 γ × SGD/Adam × seeds, and BP baselines
    assert (
        _members(blocks, figure="Fig. 7", dataset="fashion_mnist", algorithm="pc-se")
        == 8 * 10 * 2 * 3
        == 480
    )
    assert (
        _members(blocks, figure="Fig. 7", dataset="fashion_mnist", algorithm="bp-se") == 8 * 2 * 3
    )
    assert (
        _members(blocks, figure="Fig. 7", dataset="moons", algorithm="pc-se")
        == 8 * 10 * 2 * 10
        == 1_600
    )
    # Table 1's MLP rows: 8 algorithms × MNIST/FashionMNIST × 5 seeds
    assert _members(blocks, figure="Table 1") == 8 * 2 * 5 == 80
    assert all(b.depth == 3 and b.shapes == (128,) for b in blocks if b.figure == "Table 1")
    assert sum(b.members for b in blocks) == 41_008


def test_the_cre_grid_is_about_the_papers_ten_thousand_instances():
    blocks = cre_grid()
    cres = _members(blocks, algorithm="cre")
    assert 9_000 <= cres <= 11_000  # "approximately 10,000 trained instances" (ESANN paper, §2)
    assert {b.dataset for b in blocks if b.algorithm == "cre"} == {
        "mnist",
        "fashion_mnist",
        "cifar10",
    }
    assert {b.model for b in blocks} == {"fc-small", "fc-medium", "fc-large", "cnn", "vit"}
    fc = [b for b in blocks if b.model.startswith("fc")]
    assert {b.dataset for b in fc} == {
        "mnist",
        "fashion_mnist",
    }  # the authors' FC models take 784 inputs
    assert all(b.epochs == 10 and b.batch_size == 512 for b in blocks)  # train_cre.py


def _fake_plan(cost: float = 1.0, compile_s: float = 0.0) -> Plan:
    blocks = [
        Block("f", "moons", "pcn", "pc-se", (8, 16), (("seed", 30),), 2, 32),
        Block("g", "moons", "pcn", "bp-se", (8,), (("seed", 7),), 2, 32),
    ]
    costs = {b.kind(s): Cost(cost, compile_s) for b in blocks for s in b.shapes}
    return Plan("pcx", blocks, costs)


def test_wall_time_is_the_sum_on_one_worker_and_a_balanced_share_on_many():
    plan = _fake_plan(cost=1.0, compile_s=0.0)
    total = (30 + 30 + 7) * 2  # members × epochs × 1 s
    assert plan.wall_seconds(1) == total
    walls = [plan.wall_seconds(w) for w in (2, 4, 8, 64)]
    assert all(a >= b for a, b in zip(walls, walls[1:], strict=False))  # more workers never slower
    assert walls[0] >= total / 2 and walls[0] <= total / 2 + 2 * 15  # within one part of perfect
    assert plan.wall_seconds(64) == 2 * 2  # parts of 1–2 members: the largest part bounds it
    with_compile = _fake_plan(cost=1.0, compile_s=5.0)
    assert with_compile.wall_seconds(1) == total + 3 * 5  # once per group on one worker


@pytest.mark.slow
def test_a_cost_is_measured_by_training():
    block = Block("t", "moons", "pcn", "pc-se", (16,), (("seed", 2),), 1, 32)
    cost = measure(block, 16, steps=2)
    assert 0 < cost.member_epoch_s < 60 and cost.compile_s >= 0 and "cores" in cost.measured
    wide = measure(
        Block("t", "moons", "pcn", "pc-se", (1024,), (("seed", 2),), 1, 32), 1024, steps=2
    )
    assert wide.member_epoch_s > cost.member_epoch_s  # 1024 wide costs more than 16 wide


def test_the_plan_command_prints_groups_costs_and_wall_times(tmp_path):
    """With every cost kept from an earlier measurement nothing is measured again."""
    plan = make_plan("pcx", measure_costs=False)
    cache = {
        cache_key(b.kind(s)): Cost(b.depth * s / 1e4, 2.0, "earlier").__dict__
        for b in plan.blocks
        for s in b.shapes
    }
    (tmp_path / "plan_costs.json").write_text(json.dumps(cache))
    env = {**os.environ, "PCDASH_CACHE_DIR": str(tmp_path)}
    res = subprocess.run(
        [sys.executable, "-m", "pcdash", "plan", "--paper", "pcx"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert "measuring" not in res.stderr
    out = res.stdout
    assert "41,008 members in 168 shape groups" in out
    assert "estimated wall time: 1 worker:" in out and "8 workers:" in out and "64 workers:" in out
    assert "Fig. 7   moons" in out and "32,64,128,256,512,1024,2048,4096" in out
    bad = subprocess.run(
        [sys.executable, "-m", "pcdash", "plan", "--paper", "bpx"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert (
        bad.returncode == 2
        and bad.stderr.strip() == "pcdash: error: unknown paper 'bpx'; choose from cre, pcx"
    )
