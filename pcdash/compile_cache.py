"""JAX's persistent compilation cache, so compiled sweep programs survive restarts; and a bound
on the compiled programs one process keeps in memory (:func:`release_programs`)."""

from __future__ import annotations

import functools
import gc
import os
from pathlib import Path

import jax

from pcdash.files import sweep_temp_files, write_atomic

_enabled: Path | None = None


def enable_compile_cache(path: str | os.PathLike | None = None) -> Path:
    """Turn on the persistent cache at ``path`` (default ``$PCDASH_CACHE_DIR/jax`` or
    ``~/.cache/pcdash/jax``). Idempotent; returns the directory in use."""
    global _enabled
    if _enabled is not None:
        return _enabled
    root = (
        Path(path or os.environ.get("PCDASH_CACHE_DIR") or Path.home() / ".cache" / "pcdash")
        / "jax"
    )
    root.mkdir(parents=True, exist_ok=True)
    publish_entries_atomically()
    sweep_temp_files(root)  # what writers killed mid-entry left behind
    jax.config.update("jax_compilation_cache_dir", str(root))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    _enabled = root
    return root


# JAX (0.10) writes a cache entry in place (``Path.write_bytes``) and skips a key whose file
# exists. A process killed while it writes an entry (a stopped server, a killed worker) leaves a
# truncated file; every later process then fails to read it, warns, compiles the program again
# and, since the file exists, never replaces it: the program is never cached again. A process
# that reads an entry while another still writes it fails the same way. Entries are therefore
# published the way pcdash writes its own files (:func:`pcdash.files.write_atomic`): written
# beside the target and renamed over it, so a reader sees a whole entry or none. A write for a
# key whose file exists (JAX writes only after it compiled: the read missed or failed) replaces
# it, which mends a damaged entry on the next compile. The hook is on JAX's private cache class;
# where that class is not as expected, JAX's own writes stay in place.
def publish_entries_atomically() -> bool:
    """Make JAX's persistent cache publish each entry atomically (see above). Idempotent;
    returns whether the cache's writes are atomic now."""
    try:
        from jax._src import lru_cache
    except ImportError:
        return False
    cls = getattr(lru_cache, "LRUCache", None)
    put = getattr(cls, "put", None)
    suffix = getattr(lru_cache, "_CACHE_SUFFIX", None)
    if cls is None or put is None or not isinstance(suffix, str):
        return False
    if getattr(put, "_pcdash_atomic", False):
        return True

    @functools.wraps(put)
    def put_atomically(self, key: str, value: bytes) -> None:
        folder = getattr(self, "path", None)
        if (
            getattr(self, "eviction_enabled", True)
            or not isinstance(folder, os.PathLike)
            or "://" in os.fspath(folder)
        ):  # a size-bounded cache (JAX locks it) or a remote one (gs://...): JAX's own write
            return put(self, key, value)
        if not key:
            raise ValueError("key cannot be empty")

        def write(fh) -> None:
            fh.write(value)

        write_atomic(Path(os.fspath(folder)) / f"{key}{suffix}", write, binary=True)

    put_atomically._pcdash_atomic = True  # type: ignore[attr-defined]
    cls.put = put_atomically
    return True


_CACHE_EVENTS = {
    "/jax/compilation_cache/cache_hits": "hits",
    "/jax/compilation_cache/cache_misses": "misses",
}
_events: dict[str, int] | None = None


def cache_events() -> dict[str, int]:
    """Counts of persistent-cache ``hits`` (a compiled program loaded from disk) and ``misses``
    (compiled by XLA, then written) since the first call in this process; the dict returned is
    live and keeps counting. Programs this process already holds in memory count as neither."""
    global _events
    if _events is None:
        _events = {"hits": 0, "misses": 0}

        def listen(event: str, **_kwargs) -> None:
            name = _CACHE_EVENTS.get(event)
            if name is not None and _events is not None:
                _events[name] += 1

        jax.monitoring.register_event_listener(listen)
    return _events


# Every program XLA:CPU compiles (or loads from the persistent cache) keeps its machine code in
# memory maps of its own, about 12 for a small scan and more for a training chunk, for as long
# as JAX's in-memory caches hold the program. A process that meets thousands of programs (a
# server that has trained many configurations, the test suite) reaches Linux's limit on maps
# per process (vm.max_map_count, 65,530 by default); the next program's code then cannot be
# mapped and the process dies in a segfault inside XLA. Measured: the test suite's process
# grew to about 65,000 maps and crashed when it compiled a program of its last test file.
# Past this share of the limit, release_programs drops JAX's in-memory caches: the maps go
# with the programs, and later calls load their programs again from the persistent cache.
RELEASE_SHARE = 0.5


def memory_maps() -> tuple[int, int] | None:
    """``(maps, limit)``: the memory maps this process holds and the system's limit per
    process, or ``None`` where the system does not say (not Linux)."""
    try:
        with open("/proc/sys/vm/max_map_count", "rb") as f:
            limit = int(f.read())
        count = 0
        with open("/proc/self/maps", "rb") as f:
            while chunk := f.read(1 << 20):
                count += chunk.count(b"\n")
    except (OSError, ValueError):
        return None
    return count, limit


def release_programs(share: float = RELEASE_SHARE) -> bool:
    """Drop JAX's in-memory caches of compiled programs when this process holds more than
    ``share`` of the memory maps it may (:func:`memory_maps`); returns whether it did. Programs
    in use keep running; the next call of a dropped one loads it from the persistent cache
    (or compiles it again without one). Call it between runs, not in a training loop."""
    maps = memory_maps()
    if maps is None or maps[0] <= share * maps[1]:
        return False
    jax.clear_caches()
    gc.collect()  # the executables go when the last reference does
    return True
