"""JAX's persistent compilation cache, so compiled sweep programs survive restarts."""

from __future__ import annotations

import os
from pathlib import Path

import jax

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
    jax.config.update("jax_compilation_cache_dir", str(root))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    _enabled = root
    return root


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
