"""Finished PCN sweeps and algorithm comparisons on disk (see :mod:`pcdash.runs`): the tidy
frame, the live energy traces and the trained weights as plain arrays, so a reloaded sweep can
still compute the energy trace of a chosen batch, or a loss landscape, without retraining."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pcdash.pcn.compare import ComparisonOutput
from pcdash.pcn.config import PCNConfig
from pcdash.pcn.network import MLP
from pcdash.pcn.sweep import PCNSweepOutput, WidthRun
from pcdash.runs import load_run, save_run


def _run_arrays(run: WidthRun, tag: str) -> dict[str, np.ndarray]:
    arrays = {f"diverged_{tag}": run.diverged}
    for layer, (w, b) in enumerate(zip(run.mlp.weights, run.mlp.biases, strict=True), start=1):
        arrays[f"weight_{tag}_l{layer}"] = np.asarray(w)
        arrays[f"bias_{tag}_l{layer}"] = np.asarray(b)
    return arrays


def _load_run(arrays, tag: str, config: PCNConfig, width: int, members: pd.DataFrame) -> WidthRun:
    layers = config.depth + 1
    weights = tuple(arrays[f"weight_{tag}_l{i}"] for i in range(1, layers + 1))
    biases = tuple(arrays[f"bias_{tag}_l{i}"] for i in range(1, layers + 1))
    algo = config.algorithm_for(width, input_dim=weights[0].shape[-1], num_classes=weights[-1].shape[1])
    return WidthRun(int(width), algo, members, MLP(weights, biases, config.activation), arrays[f"diverged_{tag}"])


def save_pcn_output(out: PCNSweepOutput) -> None:
    """Keep a finished sweep under its configuration key, replacing an earlier one."""
    arrays = {"energy_trace": out.energy_trace}
    for run in out.runs:
        arrays.update(_run_arrays(run, f"w{run.width}"))
    meta = {"seconds": out.seconds, "stopped": out.stopped, "compile_seconds": out.compile_seconds,
            "widths_trained": [run.width for run in out.runs]}  # fmt: skip
    save_run(out.config.key(), "pcn", out.config.to_dict(), out.frame, arrays, meta)


def load_pcn_output(config: PCNConfig) -> PCNSweepOutput | None:
    """The saved sweep of ``config``, or None if there is none."""
    saved = load_run(config.key())
    if saved is None or saved.kind != "pcn":
        return None
    members = pd.concat([config.members(w) for w in config.widths], ignore_index=True)
    members["member"] = np.arange(len(members))
    runs = [_load_run(saved.arrays, f"w{width}", config, width,
                      members[members["width"] == width].reset_index(drop=True))
            for width in saved.meta.get("widths_trained", [])]
    return PCNSweepOutput(
        config, saved.frame, members, saved.arrays["energy_trace"], runs,
        bool(saved.meta.get("stopped")), float(saved.meta.get("seconds", 0.0)),
        float(saved.meta.get("compile_seconds", 0.0)),
    )  # fmt: skip


def save_comparison(key: str, variants, out: ComparisonOutput) -> None:
    """Keep a finished comparison of ``(name, PCNConfig)`` variants under ``key``."""
    arrays = {}
    for i, name in enumerate(out.variants):
        if name in out.runs:
            arrays.update(_run_arrays(out.runs[name], f"v{i}"))
    config = {"dataset": variants[0][1].dataset, "variants": {n: c.to_dict() for n, c in variants}}
    meta = {"seconds": out.seconds, "stopped": out.stopped, "variants": list(out.variants),
            "trained": [name in out.runs for name in out.variants]}
    save_run(key, "pcn-comparison", config, out.frame, arrays, meta, tables={"members": out.members})


def load_comparison(key: str, variants) -> ComparisonOutput | None:
    """The saved comparison under ``key`` of these ``(name, PCNConfig)`` variants, or None."""
    saved = load_run(key)
    if saved is None or saved.kind != "pcn-comparison":
        return None
    configs = dict(variants)
    names = tuple(saved.meta.get("variants", []))
    members = saved.tables.get("members", pd.DataFrame())
    runs = {}
    for i, (name, trained) in enumerate(zip(names, saved.meta.get("trained", []), strict=True)):
        if trained and name in configs:
            width = configs[name].widths[0]
            group = members[members["variant"] == name].reset_index(drop=True) if len(members) else members
            runs[name] = _load_run(saved.arrays, f"v{i}", configs[name], width, group)
    return ComparisonOutput(names, saved.frame, members, runs, bool(saved.meta.get("stopped")),
                            float(saved.meta.get("seconds", 0.0)))
