"""The shipped results in ``assets/``: every experiment's quick run on the offline data, in the
run-store format of :mod:`pcdash.runs` (so they load through the same code as a live run), made
small (big arrays that no page draws are left out: :attr:`~pcdash.paper.catalogue.Experiment.slim`)
and stamped with when and by which pcdash they were made. ``assets/index.json`` lists the runs,
the figures and their verdicts.

Regenerate them all with one command (it trains every experiment, a few minutes)::

    python -m pcdash reproduce all --quick --assets --out /tmp/pcdash-report
"""

from __future__ import annotations

import os
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pcdash.paper.runners import run_key, save
from pcdash.runs import ASSETS_ENV, assets_dir

INDEX = "index.json"
REGENERATE = "python -m pcdash reproduce all --quick --assets --out /tmp/pcdash-report"


def provenance() -> dict[str, str]:
    """When, by which pcdash version and (in a git checkout) which commit: the stamp of shipped
    results and reports."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        pcdash_version = version("pcdash")
    except PackageNotFoundError:
        pcdash_version = "unknown"
    commit = ""
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if out.returncode == 0:
            commit = out.stdout.strip()
            dirty = subprocess.run(
                ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
            if dirty.returncode == 0 and dirty.stdout.strip():
                commit += "+changes"
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "made": time.strftime("%Y-%m-%d %H:%M %Z"),
        "version": pcdash_version,
        "commit": commit,
        "command": REGENERATE,
    }


@contextmanager
def writing_to(root: Path):
    """Save runs into ``root`` (the run store's folder, ``$PCDASH_RUNS_DIR``) inside the block."""
    old = os.environ.get("PCDASH_RUNS_DIR")
    os.environ["PCDASH_RUNS_DIR"] = str(root)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PCDASH_RUNS_DIR", None)
        else:
            os.environ["PCDASH_RUNS_DIR"] = old


def save_asset(
    experiment, config: Any, result: Any, stamp: dict[str, str], root: Path | None = None
) -> str:
    """Keep ``result`` (slimmed) in the assets store, stamped; returns its run key."""
    from pcdash.runs import load_run, save_run

    root = Path(root or assets_dir() or Path(__file__).resolve().parents[2] / "assets" / "runs")
    root.mkdir(parents=True, exist_ok=True)
    shipped = experiment.slim(result) if experiment.slim is not None else result
    shipped = short_floats(shipped)
    key = run_key(experiment.kind, config)
    with writing_to(root):
        save(experiment.kind, config, shipped)
        saved = load_run(key, root)
        assert saved is not None
        meta = {**saved.meta, "precomputed": {**stamp, "experiment": experiment.name}}
        save_run(
            key,
            saved.kind,
            saved.config,
            saved.frame,
            saved.arrays,
            meta,
            root=root,
            tables=saved.tables,
        )
    return key


def prune(root: Path, keep: set[str]) -> list[str]:
    """Remove the shipped runs in ``root`` whose keys are not in ``keep`` (after a full
    regeneration: the runs of configurations no figure uses any more); returns their keys."""
    from pcdash.runs import KEY, delete_run

    gone = [
        p.name for p in sorted(Path(root).iterdir()) if KEY.fullmatch(p.name) and p.name not in keep
    ]
    for key in gone:
        delete_run(key, Path(root))
    return gone


def merged_index(path: Path, entries: list[dict[str, Any]], head: dict[str, Any]) -> dict[str, Any]:
    """``assets/index.json`` with ``entries`` replacing those of the same figures (a partial
    regeneration keeps the others), in catalogue order, under ``head`` (the latest stamp)."""
    import json

    from pcdash.paper import FIGURES

    try:
        old = {e["figure"]: e for e in json.loads(Path(path).read_text()).get("figures", [])}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        old = {}
    old.update({e["figure"]: e for e in entries})
    return {**head, "figures": [old[n] for n in FIGURES if n in old]}


def _short(frame):
    """``frame`` with its float columns at 6 significant digits (a third of the CSV's size)."""
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        return frame
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].map(lambda v: float(f"{v:.6g}")).astype(float)
    return out


def short_floats(result: Any) -> Any:
    """``result`` with its tidy frame and tables written at 6 significant digits (nothing a page
    draws or a check decides changes at that precision)."""
    from dataclasses import replace

    changes = {"frame": _short(result.frame)}
    if isinstance(getattr(result, "tables", None), dict):
        changes["tables"] = {k: _short(v) for k, v in result.tables.items()}
    return replace(result, **changes)


def index_entry(reps) -> list[dict[str, Any]]:
    """``assets/index.json``'s figure entries: name, run key and the verdicts."""
    return [
        {
            "figure": r.figure.name,
            "run_key": r.key,
            "experiment": r.figure.experiment.name,
            "claims": [{"claim": c.text, **v.to_dict()} for c, v in r.verdicts],
        }
        for r in reps
    ]


def shipped(key: str) -> dict[str, str] | None:
    """The stamp of the shipped result under ``key`` when pages would load it from the assets
    (the user's run store has no run of that key), else None."""
    from pcdash.runs import asset_info

    return asset_info(key)


__all__ = ["ASSETS_ENV", "INDEX", "REGENERATE", "assets_dir", "provenance", "save_asset", "shipped"]
