"""The verdicts recorded with the shipped results (``assets/index.json``), for an overview that
need not load and check every run: a figure's entry counts only while its run key is the one its
quick setting has now (a stale entry is left out)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from pcdash.paper.catalogue import Figure
from pcdash.paper.runners import run_key


@lru_cache(maxsize=4)
def _index(path: str, mtime: float) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return {
        e["figure"]: e for e in data.get("figures", []) if isinstance(e, dict) and "figure" in e
    }


def shipped_index() -> dict[str, Any]:
    """``{figure name: entry}`` of ``assets/index.json`` ({} when there are no assets)."""
    from pcdash.paper.assets import INDEX
    from pcdash.runs import assets_dir

    root = assets_dir()
    if root is None:
        return {}
    path = root.parent / INDEX
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return {}
    return _index(str(path), mtime)


def shipped_verdicts(figure: Figure) -> list[dict[str, Any]]:
    """The recorded verdicts (``holds``, ``summary``, ``numbers``) of ``figure``'s claims on the
    shipped quick run, in claim order; [] if none is shipped for its current quick setting."""
    entry = shipped_index().get(figure.name)
    exp = figure.experiment
    if entry is None or entry.get("run_key") != run_key(exp.kind, exp.config()):
        return []
    return list(entry.get("claims", []))
