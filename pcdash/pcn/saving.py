"""Finished PCN sweeps on disk (see :mod:`pcdash.runs`): the tidy frame, the live energy
traces and the trained weights as plain arrays, so a reloaded sweep can still compute the
energy trace of a chosen batch without retraining."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pcdash.pcn.config import PCNConfig
from pcdash.pcn.network import MLP
from pcdash.pcn.sweep import PCNSweepOutput, WidthRun
from pcdash.runs import load_run, save_run


def save_pcn_output(out: PCNSweepOutput) -> None:
    """Keep a finished sweep under its configuration key, replacing an earlier one."""
    arrays = {"energy_trace": out.energy_trace}
    for run in out.runs:
        arrays[f"diverged_w{run.width}"] = run.diverged
        for layer, (w, b) in enumerate(zip(run.mlp.weights, run.mlp.biases, strict=True), start=1):
            arrays[f"weight_w{run.width}_l{layer}"] = np.asarray(w)
            arrays[f"bias_w{run.width}_l{layer}"] = np.asarray(b)
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
    runs = []
    for width in saved.meta.get("widths_trained", []):
        group = members[members["width"] == width].reset_index(drop=True)
        layers = config.depth + 1
        weights = tuple(saved.arrays[f"weight_w{width}_l{i}"] for i in range(1, layers + 1))
        biases = tuple(saved.arrays[f"bias_w{width}_l{i}"] for i in range(1, layers + 1))
        sizes = (weights[0].shape[-1], *([width] * config.depth), weights[-1].shape[1])
        algo = config.algorithm_for(width, input_dim=sizes[0], num_classes=sizes[-1])
        mlp = MLP(weights, biases, config.activation)
        runs.append(WidthRun(int(width), algo, group, mlp, saved.arrays[f"diverged_w{width}"]))
    return PCNSweepOutput(
        config, saved.frame, members, saved.arrays["energy_trace"], runs,
        bool(saved.meta.get("stopped")), float(saved.meta.get("seconds", 0.0)),
        float(saved.meta.get("compile_seconds", 0.0)),
    )  # fmt: skip
