"""The persistent compilation cache as pcdash configures it (:mod:`pcdash.compile_cache`): size
limited, and so read and written under JAX's file lock. Without the lock an entry is written in
place, and a lookup made while another thread writes the same program reads half a file (XLA
then crashes loading it: the test suite segfaulted so once two lanes compiled one program)."""

from __future__ import annotations

import pathlib
import threading
import time

import jax
import pytest

from pcdash.compile_cache import CACHE_MAX_BYTES, enable_compile_cache


def test_the_cache_has_a_size_limit():
    enable_compile_cache()
    assert jax.config.jax_compilation_cache_max_size == CACHE_MAX_BYTES > 0


@pytest.mark.parametrize("max_size,whole", [(CACHE_MAX_BYTES, True), (-1, False)])
def test_a_lookup_during_a_write_gets_all_or_nothing(tmp_path, monkeypatch, max_size, whole):
    """An entry written slowly (half, a pause, the rest) while another thread looks it up: with
    pcdash's limit the lookup waits for the lock and gets the whole entry; without one (JAX's
    default, the second case) it reads the half that was there."""
    from jax._src.lru_cache import LRUCache  # the class JAX's persistent cache uses

    real = pathlib.Path.write_bytes
    writing = threading.Event()

    def slow_write(self, data):
        if self.name.endswith("-cache"):
            real(self, data[: len(data) // 2])
            writing.set()
            time.sleep(0.3)
        return real(self, data)

    monkeypatch.setattr(pathlib.Path, "write_bytes", slow_write)
    cache = LRUCache(str(tmp_path), max_size=max_size)
    value = bytes(range(256)) * 64
    writer = threading.Thread(target=cache.put, args=("program", value))
    writer.start()
    assert writing.wait(5)
    got = cache.get("program")
    writer.join()
    assert (got == value) is whole
    if not whole:
        assert got == value[: len(value) // 2]
