"""Saved runs on disk: one folder per configuration key holding ``config.json``,
``results.csv``, ``arrays.npz`` (plain arrays; never pickled objects) and, for runs with more
than one table, ``table_<name>.csv``.

Written atomically (a temporary folder renamed into place), so a crash never leaves a half
saved run that a later session would mistake for a finished one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pcdash.errors import PcdashError


def runs_dir() -> Path:
    """``$PCDASH_RUNS_DIR``, else ``$PCDASH_CACHE_DIR/runs`` (default ``~/.cache/pcdash/runs``)."""
    root = os.environ.get("PCDASH_RUNS_DIR")
    root = Path(root) if root else Path(os.environ.get("PCDASH_CACHE_DIR", Path.home() / ".cache" / "pcdash")) / "runs"
    root.mkdir(parents=True, exist_ok=True)
    return root


@dataclass
class SavedRun:
    key: str
    kind: str
    config: dict
    frame: pd.DataFrame
    arrays: dict[str, np.ndarray]
    meta: dict
    path: Path
    tables: dict[str, pd.DataFrame]


def save_run(key: str, kind: str, config: dict, frame: pd.DataFrame, arrays: dict[str, np.ndarray] | None = None,
             meta: dict | None = None, root: Path | None = None, tables: dict[str, pd.DataFrame] | None = None) -> Path:
    """Store a finished run under ``key`` (replacing any earlier one)."""
    root = root or runs_dir()
    final = root / key
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{key}."))
    try:
        (tmp / "config.json").write_text(json.dumps({"kind": kind, "config": config, "meta": meta or {}}, default=list, indent=1))
        frame.to_csv(tmp / "results.csv", index=False)
        np.savez_compressed(tmp / "arrays.npz", **(arrays or {}))
        for name, table in (tables or {}).items():
            if not name.isidentifier():
                raise ValueError(f"bad table name {name!r}")
            table.to_csv(tmp / f"table_{name}.csv", index=False)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def load_run(key: str, root: Path | None = None) -> SavedRun | None:
    """The saved run ``key``, or None if there is none. A damaged run raises PcdashError."""
    path = (root or runs_dir()) / key
    if not (path / "config.json").exists():
        return None
    try:
        head = json.loads((path / "config.json").read_text())
        frame = pd.read_csv(path / "results.csv")
        with np.load(path / "arrays.npz", allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        tables = {f.stem.removeprefix("table_"): pd.read_csv(f) for f in sorted(path.glob("table_*.csv"))}
    except (OSError, ValueError, KeyError) as err:
        raise PcdashError(f"saved run {key} is damaged ({err}); delete it on the Runs page") from err
    return SavedRun(key, head["kind"], head["config"], frame, arrays, head.get("meta", {}), path, tables)


def list_runs(root: Path | None = None) -> pd.DataFrame:
    """One row per saved run: key, kind, dataset, members, saved time, size."""
    rows = []
    for path in sorted((root or runs_dir()).iterdir()):
        if path.name.startswith(".") or not (path / "config.json").exists():
            continue
        try:
            head = json.loads((path / "config.json").read_text())
        except (OSError, ValueError):
            continue
        cfg = head.get("config", {})
        rows.append({
            "key": path.name, "kind": head.get("kind"), "dataset": cfg.get("dataset"),
            "arch": cfg.get("arch"), "saved": pd.Timestamp.fromtimestamp(path.stat().st_mtime),
            "size_kb": sum(f.stat().st_size for f in path.iterdir()) // 1024,
            **{k: head.get("meta", {}).get(k) for k in ("seconds", "stopped")},
        })
    return pd.DataFrame(rows)


def delete_run(key: str, root: Path | None = None) -> None:
    path = (root or runs_dir()) / key
    if path.parent != (root or runs_dir()) or not path.exists():
        raise PcdashError(f"no saved run {key!r}")
    shutil.rmtree(path)
