"""Compiled programs kept in memory: each holds memory maps of its own, and a process that keeps
thousands reaches Linux's limit on maps and dies in XLA (pcdash.compile_cache.release_programs).
"""

import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pcdash import sweep
from pcdash.compile_cache import cache_events, memory_maps, release_programs

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="memory maps are read from /proc")


def _programs(n: int, offset: int) -> list:
    """``n`` distinct compiled programs (each shape is one program), called once each."""
    fns = []
    for i in range(n):
        f = jax.jit(lambda x: jnp.tanh(x @ x.T).sum())
        x = jnp.ones((offset + i, 3))
        f(x).block_until_ready()
        fns.append((f, x))
    return fns


def test_programs_held_in_memory_hold_memory_maps():
    before, limit = memory_maps()
    assert limit >= 1000 and before > 0
    fns = _programs(20, offset=100)
    after, _ = memory_maps()
    assert after - before >= 20  # at least one map a program (about 10 measured)
    del fns


def test_releasing_drops_the_maps_and_programs_come_back_from_the_persistent_cache():
    fns = _programs(20, offset=200)
    want = [float(f(x)) for f, x in fns]
    held, _ = memory_maps()
    assert not release_programs(share=1.0)  # below the limit: nothing is dropped
    assert release_programs(share=0.0)
    released, _ = memory_maps()
    assert held - released >= 20
    events = cache_events()
    hits = events["hits"]
    got = [float(f(x)) for f, x in fns]
    assert got == want
    assert events["hits"] - hits == len(fns)  # loaded from disk, not compiled again


def test_a_sweep_starts_by_releasing_programs_when_the_process_holds_too_many(monkeypatch):
    calls = []
    monkeypatch.setattr(sweep, "release_programs", lambda: calls.append(1) or True)
    monkeypatch.setattr(sweep, "_COMPILED", {"a program key"})
    from pcdash.experiments.cre_config import CREConfig
    from pcdash.experiments.cre_sweep import run_cre_sweep

    config = CREConfig(arch="fc-small", latent_dims=(2,), lambdas=(0.5,), seeds=1, epochs=1)
    result = run_cre_sweep(config)
    assert calls and "a program key" not in sweep._COMPILED
    assert np.isfinite(result.frame["accuracy"].dropna()).all()
