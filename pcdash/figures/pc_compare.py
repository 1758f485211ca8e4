"""Figures comparing learning rules (PC algorithms page) and PC with BP (PC-vs-BP page).

Frames are the tidy rows of :func:`pcdash.pcn.compare.run_pcn_comparison` (a ``variant``
column names each configuration). Every trace carries ``meta`` naming what it shows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pcdash.figures.cre import _rgba, _style, empty_figure
from pcdash.pcn.algorithms import ALGORITHM_LABELS
from pcdash.pcn.network import MLP

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf",
           "#bcbd22")  # fmt: skip
BP_COLOR = "#111111"


def variant_label(name: str) -> str:
    return ALGORITHM_LABELS.get(name, name)


def variant_color(name: str, order: list[str]) -> str:
    if name.startswith("bp"):
        return BP_COLOR
    return PALETTE[order.index(name) % len(PALETTE)] if name in order else PALETTE[0]


def _ok(frame: pd.DataFrame | None, *cols: str) -> bool:
    return frame is not None and len(frame) > 0 and all(c in frame.columns for c in ("variant", "split", *cols))


def algorithm_table(frame: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """One row per variant: final ``split`` accuracy mean ± std over seeds (in %), members,
    diverged members, training seconds per epoch and that time relative to BP (BP-SE if present)."""
    cols = ["variant", "algorithm", "accuracy_mean", "accuracy_std", "seeds", "diverged", "epoch_seconds",
            "time_vs_bp"]  # fmt: skip
    if not _ok(frame, "accuracy"):
        return pd.DataFrame(columns=cols)
    rows = frame[frame["split"] == split]
    last = rows[rows["epoch"] == rows.groupby("member")["epoch"].transform("max")]
    div = frame.groupby("member")["diverged"].any()
    out = []
    for variant, g in last.groupby("variant", sort=False):
        acc = 100 * g["accuracy"].to_numpy(float)
        finite = acc[np.isfinite(acc)]
        secs = frame[(frame["variant"] == variant) & (frame["split"] == "train")].groupby("epoch")["epoch_seconds"].first()
        out.append({"variant": variant, "algorithm": g["algorithm"].iloc[0],
                    "accuracy_mean": float(finite.mean()) if len(finite) else np.nan,
                    "accuracy_std": float(finite.std(ddof=1)) if len(finite) > 1 else 0.0 if len(finite) else np.nan,
                    "seeds": int(g["member"].nunique()), "diverged": int(div.loc[g["member"].unique()].sum()),
                    "epoch_seconds": float(secs.iloc[1:].median() if len(secs) > 1 else secs.median())})  # fmt: skip
    table = pd.DataFrame(out, columns=cols[:-1])
    bp = table[table["algorithm"].str.startswith("bp")]
    ref = bp.sort_values("algorithm", ascending=False)["epoch_seconds"].iloc[0] if len(bp) else np.nan
    table["time_vs_bp"] = table["epoch_seconds"] / ref
    return table


def accuracy_curves(frame: pd.DataFrame, split: str = "test") -> go.Figure:
    """Mean ``split`` accuracy over epochs per variant, with a min–max band over seeds."""
    title = f"{split.capitalize()} accuracy over epochs (mean, band = min–max over seeds)"
    if not _ok(frame, "accuracy", "epoch"):
        return empty_figure(title=title)
    rows = frame[frame["split"] == split]
    order = list(dict.fromkeys(frame["variant"]))
    fig = go.Figure()
    for variant in order:
        g = rows[rows["variant"] == variant].groupby("epoch")["accuracy"]
        stats = pd.DataFrame({"mean": g.mean(), "lo": g.min(), "hi": g.max()}).reset_index()
        if stats.empty:
            continue
        color = variant_color(variant, order)
        label = variant_label(variant)
        meta = {"variant": variant, "split": split}
        fig.add_trace(go.Scatter(x=np.r_[stats["epoch"], stats["epoch"][::-1]], y=100 * np.r_[stats["hi"], stats["lo"][::-1]],
                                 fill="toself", fillcolor=_rgba(color, 0.15), line=dict(width=0), hoverinfo="skip",
                                 showlegend=False, legendgroup=variant, meta={**meta, "band": True}))  # fmt: skip
        fig.add_trace(go.Scatter(x=stats["epoch"], y=100 * stats["mean"], mode="lines+markers", name=label,
                                 legendgroup=variant, line=dict(color=color, width=2.5 if variant.startswith("bp") else 1.8,
                                 dash="dash" if variant.startswith("bp") else "solid"), meta=meta))  # fmt: skip
    return _style(fig, title, xaxis_title="epoch", yaxis_title="accuracy (%)", height=420)


def time_per_epoch(table: pd.DataFrame) -> go.Figure:
    """Training seconds per epoch of each variant (bars), labelled with the ratio to BP."""
    title = "Time per epoch (training only; first epoch, which compiles, left out)"
    if table is None or table.empty:
        return empty_figure(title=title)
    order = list(table["variant"])
    fig = go.Figure(go.Bar(
        x=[variant_label(v) for v in order], y=table["epoch_seconds"],
        marker_color=[variant_color(v, order) for v in order],
        text=[f"{r:.1f}× BP" if np.isfinite(r) else "" for r in table["time_vs_bp"]], textposition="outside",
        meta={"variants": order},
    ))  # fmt: skip
    return _style(fig, title, yaxis_title="seconds per epoch", height=380, showlegend=False)


def landscape_surfaces(alphas: np.ndarray, betas: np.ndarray, surfaces: dict[str, np.ndarray]) -> go.Figure:
    """One 3-D surface per model (``name -> Z``) over the two filter-normalised directions."""
    if not surfaces:
        return empty_figure(title="Loss landscape")
    names = list(surfaces)
    fig = make_subplots(rows=1, cols=len(names), specs=[[{"type": "surface"}] * len(names)],
                        subplot_titles=[variant_label(n) for n in names])  # fmt: skip
    for i, n in enumerate(names, start=1):
        z = np.log10(np.maximum(np.asarray(surfaces[n], float), 1e-8))
        fig.add_trace(go.Surface(x=alphas, y=betas, z=z, colorscale="Viridis", showscale=i == len(names),
                                 colorbar=dict(title="log₁₀ loss"), meta={"model": n, "kind": "surface"}), 1, i)  # fmt: skip
        fig.update_scenes(dict(xaxis_title="α (direction 1)", yaxis_title="β (direction 2)", zaxis_title="log₁₀ loss"),
                          row=1, col=i)  # fmt: skip
    return _style(fig, "Loss landscape around the trained models (filter-normalised directions, Li et al. 2018)",
                  height=480)


def landscape_contours(alphas: np.ndarray, betas: np.ndarray, surfaces: dict[str, np.ndarray]) -> go.Figure:
    """Contour plots of the same landscapes, side by side, sharing their levels."""
    if not surfaces:
        return empty_figure(title="Loss landscape (contours)")
    names = list(surfaces)
    logs = {n: np.log10(np.maximum(np.asarray(z, float), 1e-8)) for n, z in surfaces.items()}
    lo = min(float(np.nanmin(z)) for z in logs.values())
    hi = max(float(np.nanmax(z)) for z in logs.values())
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=[variant_label(n) for n in names], shared_yaxes=True)
    for i, n in enumerate(names, start=1):
        fig.add_trace(go.Contour(x=alphas, y=betas, z=logs[n], colorscale="Viridis", zmin=lo, zmax=hi,
                                 contours=dict(start=lo, end=hi, size=(hi - lo) / 20 or 1), showscale=i == len(names),
                                 colorbar=dict(title="log₁₀ loss"), meta={"model": n, "kind": "contour"}), 1, i)  # fmt: skip
        fig.update_xaxes(title_text="α", row=1, col=i)
    fig.update_yaxes(title_text="β", row=1, col=1)
    return _style(fig, "Loss landscape, contours (log₁₀ of the output loss)", height=420)


def weight_histograms(models: dict[str, MLP], bins: int = 40) -> go.Figure:
    """Per layer, overlaid histograms of the weights of each (unstacked) model."""
    if not models:
        return empty_figure(title="Weight distributions")
    names = list(models)
    n_layers = len(models[names[0]].weights)
    fig = make_subplots(rows=1, cols=n_layers, subplot_titles=[f"layer {i}" + (" (output)" if i == n_layers else "")
                                                                for i in range(1, n_layers + 1)])  # fmt: skip
    for j, n in enumerate(names):
        color = BP_COLOR if n.startswith("bp") else PALETTE[j % len(PALETTE)]
        for layer, w in enumerate(models[n].weights, start=1):
            fig.add_trace(go.Histogram(x=np.asarray(w).ravel(), nbinsx=bins, name=variant_label(n), legendgroup=n,
                                       showlegend=layer == 1, opacity=0.55, marker_color=color, histnorm="probability density",
                                       meta={"model": n, "layer": layer}), 1, layer)  # fmt: skip
    fig.update_layout(barmode="overlay")
    return _style(fig, "Weight distributions per layer", height=360)


def cosine_over_training(frame: pd.DataFrame, variant: str | None = None) -> go.Figure:
    """Per-layer cosine between the PC weight update and the BP gradient (last batch of each
    epoch; mean over seeds), one line per layer (``bp_cosine_l`` columns)."""
    title = "Alignment of the PC update with the BP gradient (cosine, per layer)"
    cols = [c for c in (frame.columns if frame is not None else []) if c.startswith("bp_cosine_")]
    if not _ok(frame, "epoch") or not cols:
        return empty_figure("No alignment recorded yet", title=title)
    rows = frame[(frame["split"] == "train") & ~frame["algorithm"].str.startswith("bp")]
    if variant is not None:
        rows = rows[rows["variant"] == variant]
    rows = rows.dropna(subset=cols, how="all")
    if rows.empty:
        return empty_figure("No alignment recorded yet", title=title)
    fig = go.Figure()
    n = len(cols)
    order = list(dict.fromkeys(rows["variant"]))
    dashes = ("solid", "dash", "dot", "dashdot")
    for vi, v in enumerate(order):
        g = rows[rows["variant"] == v].groupby("epoch")[cols].mean()
        for i, c in enumerate(sorted(cols, key=lambda c: int(c.rsplit("_", 1)[1])), start=1):
            fig.add_trace(go.Scatter(x=g.index, y=g[c], mode="lines+markers",
                                     name=f"{variant_label(v)} · layer {i}" + (" (output)" if i == n else ""),
                                     line=dict(color=PALETTE[(i - 1) % len(PALETTE)], dash=dashes[vi % 4]),
                                     meta={"variant": v, "layer": i}))  # fmt: skip
    return _style(fig, title, xaxis_title="epoch", yaxis_title="cos(Δθ_PC, ∇θ_BP)", yaxis_range=[-1.05, 1.05], height=400)


def condition_summary(table: pd.DataFrame) -> go.Figure:
    """Final test accuracy (mean ± std) of each condition, annotated with diverged members."""
    title = "Accuracy and stability as precision, relaxed convergence and weight decay are switched"
    if table is None or table.empty:
        return empty_figure(title=title)
    order = list(table["variant"])
    fig = go.Figure(go.Bar(
        x=[variant_label(v) for v in order], y=table["accuracy_mean"], error_y=dict(type="data", array=table["accuracy_std"]),
        marker_color=[variant_color(v, order) for v in order],
        text=[f"{d}/{s} diverged" if d else "" for d, s in zip(table["diverged"], table["seeds"], strict=True)],
        textposition="outside", meta={"variants": order, "diverged": [int(d) for d in table["diverged"]]},
    ))  # fmt: skip
    return _style(fig, title, yaxis_title="test accuracy (%)", height=400, showlegend=False)
