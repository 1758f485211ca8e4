"""Shared pieces of the generative experiments (autoencoder, MCPC, memory, OOD): config keys,
progress reporting and result containers."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pcdash.engine import Progress
from pcdash.errors import ConfigError
from pcdash.runs import load_run, save_run
from pcdash.sweep import SweepProgress


def config_key(part: str, config: Any) -> str:
    """A stable hash of a (dataclass) configuration, prefixed by the part's name."""
    text = json.dumps(asdict(config), sort_keys=True, default=str)
    return f"{part}-{hashlib.sha1(text.encode()).hexdigest()[:12]}"


def check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


@dataclass
class PartResult:
    """What a part's run returns: a tidy training frame (``model``, ``epoch``, ``loss`` and more),
    arrays and tables for the figures, and whether it was stopped."""

    frame: pd.DataFrame
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    scalars: dict[str, float] = field(default_factory=dict)
    stopped: bool = False
    seconds: float = 0.0


def save_part(config: Any, result: PartResult) -> None:
    """Keep a finished part under its configuration key (kind ``generative-<part>``)."""
    part = config.key().split("-", 1)[0]
    meta = {"seconds": result.seconds, "stopped": result.stopped, "scalars": result.scalars}
    save_run(config.key(), f"generative-{part}", asdict(config), result.frame, result.arrays, meta,
             tables=result.tables)


def load_part(config: Any) -> PartResult | None:
    """The saved result of ``config``, or None if there is none."""
    saved = load_run(config.key())
    if saved is None or not saved.kind.startswith("generative-"):
        return None
    meta = saved.meta
    return PartResult(saved.frame, dict(saved.arrays), dict(saved.tables),
                      {k: float(v) for k, v in meta.get("scalars", {}).items()}, bool(meta.get("stopped")),
                      float(meta.get("seconds", 0.0)))


def loss_rows(history, model: str, members: pd.DataFrame | None = None) -> pd.DataFrame:
    """``model``, ``member``, ``epoch``, ``loss`` and each test metric from an engine history."""
    rows = []
    for rec in history:
        n = len(rec.train["loss"])
        for i in range(n):
            row = {"model": model, "member": i, "epoch": rec.epoch, "loss": float(rec.train["loss"][i])}
            for split, metrics in rec.evals.items():
                for k, v in metrics.items():
                    row[f"{split}_{k}"] = float(v[i])
            if members is not None:
                row.update(members.iloc[i].to_dict())
            rows.append(row)
    return pd.DataFrame(rows)


class Reporter:
    """Turns engine progress of successive stages into :class:`SweepProgress` for the job panel."""

    def __init__(self, on_progress: Callable[[SweepProgress], None] | None, weights: list[float]):
        self.on_progress = on_progress
        self.weights = np.asarray(weights, float) / np.sum(weights)
        self.t0 = time.perf_counter()
        self.frames: list[pd.DataFrame] = []
        self.stage = 0

    @property
    def frame(self) -> pd.DataFrame:
        return pd.concat(self.frames, ignore_index=True) if self.frames else pd.DataFrame()

    def callback(self, model: str, label: str, members: pd.DataFrame | None = None) -> Callable[[Progress], None]:
        base = float(self.weights[:self.stage].sum())
        weight = float(self.weights[self.stage])
        done = list(self.frames)
        self.stage += 1

        cache: dict[str, Any] = {"epochs": 0, "parts": [], "frame": pd.DataFrame()}

        def progress(p: Progress) -> None:
            if self.on_progress is None:
                return
            if len(p.history) != cache["epochs"]:  # only the new epochs are turned into rows
                cache["parts"].append(loss_rows(p.history[cache["epochs"]:], model, members))
                cache["epochs"] = len(p.history)
                cache["frame"] = pd.concat([*done, *cache["parts"]], ignore_index=True)
            frame = cache["frame"]
            fraction = base + weight * p.fraction
            elapsed = time.perf_counter() - self.t0
            eta = elapsed / fraction * (1 - fraction) if fraction > 0 else None
            self.on_progress(SweepProgress(fraction, elapsed, eta, frame, f"{label} · epoch {p.epoch}"))

        return progress

    def finish(self, history, model: str, members: pd.DataFrame | None = None) -> None:
        self.frames.append(loss_rows(history, model, members))

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0
