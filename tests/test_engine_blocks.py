"""Member blocking in the training chunk (``pcdash.engine.member_blocks``): members cut into
blocks that each run the whole chunk in turn train to the same numbers, up to float rounding, as
all members stepping together; and the block count follows the cache budget."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pcdash import engine
from pcdash.cre.algorithm import CREAlgorithm
from pcdash.data import load_dataset


def _train(monkeypatch, budget: int, chunk_steps: int):
    monkeypatch.setattr(engine, "BLOCK_BYTES", budget)
    data = load_dataset("digits")
    x, y = data.x_train[:400], data.y_train[:400]
    algo = CREAlgorithm("fc-medium", data.input_shape, data.num_classes, 3)
    lam = np.repeat([0.0, 0.5, 1.0], 2)
    evals = {"val": data.split("val")}
    return engine.train_members(
        algo,
        {"lam": lam},
        np.tile([0, 1], 3),
        x,
        y,
        epochs=2,
        batch_size=16,
        eval_sets=evals,
        chunk_steps=chunk_steps,
    )


@pytest.mark.parametrize("chunk_steps", [25, 10])  # 25 steps an epoch: 10 leaves a ragged chunk
def test_blocked_members_train_as_unblocked_ones(monkeypatch, chunk_steps):
    one = _train(monkeypatch, 1 << 62, chunk_steps)
    # FC-Medium on digits holds about 1 MB of parameters and Adam moments per member (6.4 MB in all,
    # over twice the budget): a 2.5 MB budget fits 2 members a block, so the 6 run as 3 blocks
    blocked_budget = int(2.5 * 2**20)
    per_member = sum(v.nbytes for v in jax.tree_util.tree_leaves(one.carry) if eqx.is_array(v)) / 6
    assert 2 * per_member <= blocked_budget < 3 * per_member and 6 * per_member > 2 * blocked_budget
    assert engine.member_blocks(one.carry, 6, budget=blocked_budget) == 3
    blocked = _train(monkeypatch, blocked_budget, chunk_steps)
    assert len(one.history) == len(blocked.history) == 2
    for a, b in zip(one.history, blocked.history, strict=True):
        for got, want in [
            (b.train, a.train),
            (b.last_step, a.last_step),
            (b.evals["val"], a.evals["val"]),
        ]:
            assert got.keys() == want.keys()
            for k in want:
                np.testing.assert_allclose(got[k], want[k], rtol=2e-4, atol=2e-5, err_msg=k)
    np.testing.assert_array_equal(one.diverged, blocked.diverged)


def test_block_count_follows_the_budget():
    carry = {"w": jnp.zeros((30, 1000), jnp.float32)}  # 4,000 bytes a member
    assert (
        engine.member_blocks(carry, 30, budget=60_000) == 1
    )  # at most twice the budget: one block
    assert engine.member_blocks(carry, 30, budget=40_000) == 3  # 10 members a block
    assert (
        engine.member_blocks(carry, 30, budget=25_000) == 5
    )  # 6 a block: the largest divisor that fits
    assert (
        engine.member_blocks(carry, 30, budget=5_000) == 1
    )  # one member a block would lose batching
    assert engine.member_blocks({"w": jnp.zeros((7, 1000))}, 7, budget=20_000) == 1  # 7 is prime


@pytest.mark.parametrize("block", [1, 4, 6, 9])  # 4 leaves a remainder of 2; 9 > the members
def test_map_members_in_blocks_equals_one_vmap(block):
    w = jax.random.normal(jax.random.PRNGKey(0), (6, 5, 3))
    x = jax.random.normal(jax.random.PRNGKey(1), (7, 5))

    def f(member):
        w_m, s = member
        return {"y": jnp.tanh(x @ w_m) * s, "n": jnp.sum(w_m)}

    members = (w, jnp.arange(6.0))
    want = jax.vmap(f)(members)
    got = jax.jit(lambda m: engine.map_members(f, m, block))(members)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-6, atol=1e-6)


def test_evaluation_in_member_blocks_gives_the_same_metrics(monkeypatch):
    data = load_dataset("digits")
    algo = CREAlgorithm("fc-medium", data.input_shape, data.num_classes, 3)
    out = {}
    for name, budget in [("all", 1 << 62), ("blocks", 1)]:  # 6 members at once, or 1 at a time
        monkeypatch.setattr(engine, "EVAL_BLOCK_BYTES", budget)
        out[name] = engine.train_members(
            algo,
            {"lam": np.repeat([0.0, 0.5, 1.0], 2)},
            np.tile([0, 1], 3),
            data.x_train[:200],
            data.y_train[:200],
            epochs=1,
            batch_size=50,
            eval_sets={"val": data.split("val"), "test": data.split("test")},
        )
    assert engine.eval_block(out["all"].carry, 6, budget=1) == 1
    assert engine.eval_block(out["all"].carry, 6, budget=1 << 62) == 6
    for split in ("val", "test"):
        want, got = out["all"].history[0].evals[split], out["blocks"].history[0].evals[split]
        for k in want:
            np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-6, err_msg=k)
