"""Figures comparing learning rules (PC algorithms page) and PC with BP (PC-vs-BP page).

Frames are the tidy rows of :func:`pcdash.experiments.comparison.run_pcn_comparison` (a ``variant``
column names each configuration). Every trace carries ``meta`` naming what it shows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pcdash.figures.style import empty_figure, rgba, style
from pcdash.pcn.algorithms import ALGORITHM_LABELS
from pcdash.pcn.network import MLP

PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#17becf",
    "#bcbd22",
)
BP_COLOR = "#111111"


def variant_label(name: str) -> str:
    return ALGORITHM_LABELS.get(name, name)


def variant_color(name: str, order: list[str]) -> str:
    if name.startswith("bp"):
        return BP_COLOR
    return PALETTE[order.index(name) % len(PALETTE)] if name in order else PALETTE[0]


def _ok(frame: pd.DataFrame | None, *cols: str) -> bool:
    return (
        frame is not None
        and len(frame) > 0
        and all(c in frame.columns for c in ("variant", "split", *cols))
    )


STEPS_COLUMNS = {
    "variant": "Model",
    "accuracy_mean": "Test accuracy (%)",
    "accuracy_std": "± std (seeds)",
    "steps_used": "Inference steps per batch",
    "epochs_to_90": "Epochs to 90% of final",
    "time_to_90": "Time to 90% (s)",
    "epoch_seconds": "s / epoch",
    "diverged": "Diverged",
}


def steps_table(table: pd.DataFrame) -> pd.DataFrame:
    """The columns of :func:`algorithm_table` that the comparison paper's Fig. 2 reports
    (accuracy, inference steps and time to convergence), under their readable names."""
    return table[list(STEPS_COLUMNS)].rename(columns=STEPS_COLUMNS)


def algorithm_table(frame: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """One row per variant: final ``split`` accuracy mean ± std over seeds (in %), members,
    diverged members, training seconds per epoch, that time relative to BP (BP-SE if present),
    the mean inference steps used per batch, and the time to convergence.

    Time to convergence is the comparison paper's (Fig. 2): the time to reach 90% of the final
    accuracy, ``epochs_to_90`` (the first epoch whose mean accuracy over seeds is at least 0.9 ×
    the final one) × the median seconds per epoch (the first epoch, which compiles, left out)."""
    cols = [
        "variant",
        "algorithm",
        "accuracy_mean",
        "accuracy_std",
        "seeds",
        "diverged",
        "epoch_seconds",
        "steps_used",
        "epochs_to_90",
        "time_to_90",
        "time_vs_bp",
    ]
    if not _ok(frame, "accuracy"):
        return pd.DataFrame(columns=cols)
    rows = frame[frame["split"] == split]
    last = rows[rows["epoch"] == rows.groupby("member")["epoch"].transform("max")]
    div = frame.groupby("member")["diverged"].any()
    out = []
    for variant, g in last.groupby("variant", sort=False):
        acc = 100 * g["accuracy"].to_numpy(float)
        finite = acc[np.isfinite(acc)]
        train = frame[(frame["variant"] == variant) & (frame["split"] == "train")]
        secs = train.groupby("epoch")["epoch_seconds"].first()
        epoch_s = float(secs.iloc[1:].median() if len(secs) > 1 else secs.median())
        curve = rows[rows["variant"] == variant].groupby("epoch")["accuracy"].mean()
        reached = (
            curve.index[curve.to_numpy() >= 0.9 * curve.iloc[-1]]
            if len(curve) and curve.iloc[-1] > 0
            else []
        )
        e90 = int(reached[0]) if len(reached) else np.nan
        used = train["steps_used"].mean() if "steps_used" in train else np.nan
        out.append(
            {
                "variant": variant,
                "algorithm": g["algorithm"].iloc[0],
                "accuracy_mean": float(finite.mean()) if len(finite) else np.nan,
                "accuracy_std": float(finite.std(ddof=1))
                if len(finite) > 1
                else 0.0
                if len(finite)
                else np.nan,
                "seeds": int(g["member"].nunique()),
                "diverged": int(div.loc[g["member"].unique()].sum()),
                "epoch_seconds": epoch_s,
                "steps_used": float(used),
                "epochs_to_90": e90,
                "time_to_90": e90 * epoch_s,
            }
        )
    table = pd.DataFrame(out, columns=cols[:-1])
    bp = table[table["algorithm"].str.startswith("bp")]
    ref = (
        bp.sort_values("algorithm", ascending=False)["epoch_seconds"].iloc[0] if len(bp) else np.nan
    )
    table["time_vs_bp"] = table["epoch_seconds"] / ref
    return table


def accuracy_curves(frame: pd.DataFrame, split: str = "test") -> go.Figure:
    """Mean ``split`` accuracy over epochs per variant, with a min–max band over seeds."""
    title = f"{split.capitalize()} accuracy: mean, band min–max over seeds"
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
        fig.add_trace(
            go.Scatter(
                x=np.r_[stats["epoch"], stats["epoch"][::-1]],
                y=100 * np.r_[stats["hi"], stats["lo"][::-1]],
                fill="toself",
                fillcolor=rgba(color, 0.15),
                line=dict(width=0),
                hoverinfo="skip",
                showlegend=False,
                legendgroup=variant,
                meta={**meta, "band": True},
            )
        )
        fig.add_trace(
            go.Scatter(
                x=stats["epoch"],
                y=100 * stats["mean"],
                mode="lines+markers",
                name=label,
                legendgroup=variant,
                line=dict(
                    color=color,
                    width=2.5 if variant.startswith("bp") else 1.8,
                    dash="dash" if variant.startswith("bp") else "solid",
                ),
                meta=meta,
            )
        )
    return style(fig, title, xaxis_title="epoch", yaxis_title="accuracy (%)", height=420)


def time_per_epoch(table: pd.DataFrame) -> go.Figure:
    """Training seconds per epoch of each variant (bars), labelled with the ratio to BP."""
    title = "Training seconds per epoch (first epoch left out)"
    if table is None or table.empty:
        return empty_figure(title=title)
    order = list(table["variant"])
    fig = go.Figure(
        go.Bar(
            x=[variant_label(v) for v in order],
            y=table["epoch_seconds"],
            marker_color=[variant_color(v, order) for v in order],
            text=[f"{r:.1f}× BP" if np.isfinite(r) else "" for r in table["time_vs_bp"]],
            textposition="outside",
            meta={"variants": order},
        )
    )
    return style(fig, title, yaxis_title="seconds per epoch", height=380, showlegend=False)


def _grid(n: int, cols: int = 3) -> tuple[int, int]:
    return -(-n // cols), min(n, cols)


def landscape_surfaces(
    alphas: np.ndarray, betas: np.ndarray, surfaces: dict[str, np.ndarray]
) -> go.Figure:
    """One 3-D surface per model (``name -> Z``) over the two filter-normalised directions, three
    models per row."""
    if not surfaces:
        return empty_figure(title="Loss landscape")
    names = list(surfaces)
    logs = {n: np.log10(np.maximum(np.asarray(z, float), 1e-8)) for n, z in surfaces.items()}
    lo = min(float(np.nanmin(z)) for z in logs.values())
    hi = max(float(np.nanmax(z)) for z in logs.values())
    rows, cols = _grid(len(names))
    fig = make_subplots(
        rows=rows,
        cols=cols,
        specs=[[{"type": "surface"}] * cols] * rows,
        subplot_titles=[variant_label(n) for n in names],
        vertical_spacing=0.06,
    )
    for i, n in enumerate(
        names
    ):  # one colour scale and one height axis for all, so the models compare
        fig.add_trace(
            go.Surface(
                x=alphas,
                y=betas,
                z=logs[n],
                colorscale="Viridis",
                cmin=lo,
                cmax=hi,
                showscale=i == len(names) - 1,
                colorbar=dict(title="log₁₀ loss"),
                meta={"model": n, "kind": "surface"},
            ),
            i // cols + 1,
            i % cols + 1,
        )
        fig.update_scenes(
            dict(xaxis_title="α", yaxis_title="β", zaxis_title="log₁₀ loss", zaxis_range=[lo, hi]),
            row=i // cols + 1,
            col=i % cols + 1,
        )
    return style(
        fig,
        "Loss landscape around the trained models (filter-normalised directions, Li et al. 2018)",
        height=420 * rows,
    )


def landscape_contours(
    alphas: np.ndarray, betas: np.ndarray, surfaces: dict[str, np.ndarray]
) -> go.Figure:
    """Contour plots of the same landscapes, three models per row, sharing their levels."""
    if not surfaces:
        return empty_figure(title="Loss landscape (contours)")
    names = list(surfaces)
    logs = {n: np.log10(np.maximum(np.asarray(z, float), 1e-8)) for n, z in surfaces.items()}
    lo = min(float(np.nanmin(z)) for z in logs.values())
    hi = max(float(np.nanmax(z)) for z in logs.values())
    rows, cols = _grid(len(names))
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[variant_label(n) for n in names],
        horizontal_spacing=0.06,
        vertical_spacing=0.12,
    )
    for i, n in enumerate(names):
        r, c = i // cols + 1, i % cols + 1
        fig.add_trace(
            go.Contour(
                x=alphas,
                y=betas,
                z=logs[n],
                colorscale="Viridis",
                zmin=lo,
                zmax=hi,
                contours=dict(start=lo, end=hi, size=(hi - lo) / 20 or 1),
                showscale=i == len(names) - 1,
                colorbar=dict(title="log₁₀ loss"),
                meta={"model": n, "kind": "contour"},
            ),
            r,
            c,
        )
        fig.update_xaxes(title_text="α", row=r, col=c)
        fig.update_yaxes(title_text="β", row=r, col=c)
    return style(fig, "Loss landscape, contours (log₁₀ of the output loss)", height=340 * rows)


def sharpness_bars(values: dict[str, float]) -> go.Figure:
    """Per model, the mean rise of log₁₀ loss over the landscape's disc (:func:`sharpness`)."""
    title = "Sharpness: mean rise of log₁₀ loss within the plotted distance of each trained model"
    if not values:
        return empty_figure(title=title)
    order = list(values)
    fig = go.Figure(
        go.Bar(
            x=[variant_label(n) for n in order],
            y=[values[n] for n in order],
            marker_color=[variant_color(n, order) for n in order],
            meta={"models": order},
        )
    )
    return style(fig, title, yaxis_title="decades of loss", height=340, showlegend=False)


def weight_layers(n_layers: int) -> list[int]:
    """The layers the comparison paper's Fig. 5 shows: the first two and the last two (all of
    them when there are four or fewer), 1-based."""
    return list(range(1, n_layers + 1)) if n_layers <= 4 else [1, 2, n_layers - 1, n_layers]


def weight_histograms(models: dict[str, MLP], bins: int = 40) -> go.Figure:
    """One row per (unstacked) model, one column per layer of :func:`weight_layers`: the
    distribution of that layer's weights."""
    if not models:
        return empty_figure(title="Weight distributions")
    names = list(models)
    layers = weight_layers(len(models[names[0]].weights))
    n_layers = len(models[names[0]].weights)
    titles = [
        f"{variant_label(n)} · layer {i}" + (" (output)" if i == n_layers else "")
        for n in names
        for i in layers
    ]
    fig = make_subplots(
        rows=len(names), cols=len(layers), subplot_titles=titles, vertical_spacing=0.3 / len(names)
    )
    for j, n in enumerate(names):
        color = variant_color(n, names)
        for c, layer in enumerate(layers, start=1):
            w = np.asarray(models[n].weights[layer - 1]).ravel()
            fig.add_trace(
                go.Histogram(
                    x=w,
                    nbinsx=bins,
                    name=variant_label(n),
                    legendgroup=n,
                    showlegend=c == 1,
                    marker_color=color,
                    histnorm="probability density",
                    meta={"model": n, "layer": layer},
                ),
                j + 1,
                c,
            )
    fig.update_annotations(font_size=11)
    return style(
        fig,
        "Weight distributions of the first two and the last two layers",
        height=170 * len(names) + 120,
    )


def condition_curves(frame: pd.DataFrame) -> go.Figure:
    """One panel per model, as in the comparison paper's Fig. 3: test accuracy (red, right axis)
    and the loss (blue, left axis: train dotted, test solid) over epochs, means over seeds."""
    title = "Accuracy (red) and loss (blue: train dotted, test solid) over epochs"
    if not _ok(frame, "accuracy", "loss", "epoch"):
        return empty_figure(title=title)
    names = list(dict.fromkeys(frame["variant"]))
    rows, cols = _grid(len(names))
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[variant_label(n) for n in names],
        specs=[[{"secondary_y": True}] * cols] * rows,
        horizontal_spacing=0.09,
        vertical_spacing=0.16,
    )
    for i, n in enumerate(names):
        r, c = i // cols + 1, i % cols + 1
        g = frame[frame["variant"] == n]
        for split, dash in (("train", "dot"), ("test", "solid")):
            loss = g[g["split"] == split].groupby("epoch")["loss"].mean()
            fig.add_trace(
                go.Scatter(
                    x=loss.index,
                    y=loss.to_numpy(),
                    mode="lines",
                    line=dict(color="#1f4fb4", dash=dash),
                    name=f"{split} loss",
                    legendgroup=f"{split} loss",
                    showlegend=i == 0,
                    meta={"model": n, "metric": "loss", "split": split},
                ),
                r,
                c,
                secondary_y=False,
            )
        acc = g[g["split"] == "test"].groupby("epoch")["accuracy"].mean()
        fig.add_trace(
            go.Scatter(
                x=acc.index,
                y=100 * acc.to_numpy(),
                mode="lines+markers",
                line=dict(color="#d62728"),
                name="test accuracy",
                legendgroup="acc",
                showlegend=i == 0,
                meta={"model": n, "metric": "accuracy", "split": "test"},
            ),
            r,
            c,
            secondary_y=True,
        )
        fig.update_yaxes(
            type="log", row=r, col=c, secondary_y=False, title_text="loss" if c == 1 else None
        )
        fig.update_yaxes(
            range=[0, 100],
            tickmode="linear",
            tick0=0,
            dtick=20,
            showgrid=False,
            row=r,
            col=c,
            secondary_y=True,
            title_text="accuracy (%)" if c == cols or i == len(names) - 1 else None,
        )
    return style(fig, title, height=300 * rows + 60)


def benchmark(table: pd.DataFrame) -> go.Figure:
    """The comparison paper's Fig. 2: final test accuracy and time to convergence (90% of the
    final accuracy) of each model, side by side."""
    title = "Accuracy and time to convergence (time to reach 90% of the final accuracy)"
    if table is None or table.empty:
        return empty_figure(title=title)
    order = list(table["variant"])
    labels = [variant_label(v) for v in order]
    colors = [variant_color(v, order) for v in order]
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=["test accuracy (%)", "time to convergence (s, log)"]
    )
    fig.add_trace(
        go.Bar(
            x=labels,
            y=table["accuracy_mean"],
            error_y=dict(type="data", array=table["accuracy_std"]),
            marker_color=colors,
            meta={"variants": order, "metric": "accuracy"},
            text=[
                f"{d}/{s} diverged" if d else ""
                for d, s in zip(table["diverged"], table["seeds"], strict=True)
            ],
            textposition="outside",
        ),
        1,
        1,
    )
    fig.add_trace(
        go.Bar(
            x=labels,
            y=table["time_to_90"],
            marker_color=colors,
            meta={"variants": order, "metric": "time"},
            text=[f"{e:.0f} ep." if np.isfinite(e) else "" for e in table["epochs_to_90"]],
            textposition="outside",
        ),
        1,
        2,
    )
    fig.update_yaxes(type="log", row=1, col=2)
    return style(fig, title, height=400, showlegend=False)


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
            fig.add_trace(
                go.Scatter(
                    x=g.index,
                    y=g[c],
                    mode="lines+markers",
                    name=f"{variant_label(v)} · layer {i}" + (" (output)" if i == n else ""),
                    line=dict(color=PALETTE[(i - 1) % len(PALETTE)], dash=dashes[vi % 4]),
                    meta={"variant": v, "layer": i},
                )
            )
    return style(
        fig,
        title,
        xaxis_title="epoch",
        yaxis_title="cos(Δθ_PC, ∇θ_BP)",
        yaxis_range=[-1.05, 1.05],
        height=400,
    )
