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


_DAMAGED_ENTRY = r"""
import sys, warnings
from pathlib import Path
import jax, jax.numpy as jnp
from pcdash.compile_cache import cache_events, enable_compile_cache

root = enable_compile_cache(sys.argv[1])
events = cache_events()
f = jax.jit(lambda x: jnp.tanh(x * 3.0 + 1.0).sum())
x = jnp.ones((17, 5))
want = float(f(x))
entries = sorted(root.glob("jit__lambda-*-cache"))  # the program called again below
sizes = {p: p.stat().st_size for p in entries}
for p in entries:  # as a writer killed half-way would leave them
    p.write_bytes(p.read_bytes()[: sizes[p] // 2])

def fresh_call():
    jax.clear_caches()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = float(jax.jit(lambda x: jnp.tanh(x * 3.0 + 1.0).sum())(x))
    return got, [str(w.message) for w in caught if "compilation cache" in str(w.message)]

got, damaged = fresh_call()  # JAX cannot read the halves, compiles again and writes anew
mended = {p: p.stat().st_size for p in entries}
hits = events["hits"]
again, clean = fresh_call()  # now read from disk
print(repr((want, got, again, len(entries), bool(damaged), clean,
            all(mended[p] > sizes[p] // 2 for p in entries),
            events["hits"] - hits,
            sorted(p.name for p in root.iterdir() if p.name.endswith(".tmp")))))
"""


def test_a_damaged_cache_entry_is_replaced_on_the_next_compile(tmp_path):
    """A truncated entry (its writer killed) is not left to fail every later process: the
    recompile after the failed read writes it whole, and the next process loads it."""
    import ast
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", _DAMAGED_ENTRY, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    want, got, again, n_entries, warned, clean, mended, hits, temps = ast.literal_eval(
        out.strip().splitlines()[-1]
    )
    assert n_entries == 1 and want == got == again
    assert warned  # the halves could not be read
    assert mended  # rewritten to their full size, not left as halves
    assert clean == [] and hits >= 1  # and then read back without complaint
    assert temps == []


def test_a_cache_entry_is_never_visible_half_written(tmp_path, monkeypatch):
    """An entry is renamed into place whole: a write that fails before the rename leaves no
    file under the entry's name (nor a temporary one)."""
    import os

    from jax._src import lru_cache

    from pcdash.compile_cache import publish_entries_atomically

    assert publish_entries_atomically()
    cache = lru_cache.LRUCache(str(tmp_path), max_size=-1)
    cache.put("k1", b"x" * 1000)
    assert cache.get("k1") == b"x" * 1000

    def refuse(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        cache.put("k2", b"y" * 1000)
    assert cache.get("k2") is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k1-cache"]
