"""Figures of the Generative & memory page: PC vs BP autoencoder, MCPC samples, associative
recall and energy-based OOD detection. Pure functions of the parts' results (see
:mod:`pcdash.experiments.autoencoder`, :mod:`~pcdash.experiments.mcpc`,
:mod:`~pcdash.experiments.memory`, :mod:`~pcdash.experiments.ood`); missing data gives
:func:`~pcdash.figures.style.empty_figure`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pcdash.figures.latent import image_grid
from pcdash.figures.style import BLUE, ORANGE, TEMPLATE_OBJ, empty_figure, rgba

MODEL_COLORS = {"PC": BLUE, "BP": ORANGE, "MCPC": BLUE}
SET_COLORS = {"ID": BLUE, "OOD": ORANGE}
SCORE_NAMES = {
    "energy_before": "Energy before inference",
    "energy_after": "Energy after inference",
    "max_softmax": "Max softmax (low = OOD)",
}
SCORE_COLORS = {"energy_before": "#9467bd", "energy_after": BLUE, "max_softmax": ORANGE}


def _color(model: str) -> str:
    return MODEL_COLORS.get(model, "#2ca02c" if model.startswith("width") else "#7f7f7f")


def training_curves(
    frame: pd.DataFrame | None,
    metric: str = "loss",
    *,
    split: str = "train",
    title: str = "",
    y_title: str = "",
) -> go.Figure:
    """One line per model and member over epochs of ``metric`` on ``split`` (the tidy frame of
    :mod:`pcdash.results`; ``meta``: model, member)."""
    if frame is None or frame.empty or metric not in frame.columns or "split" not in frame.columns:
        return empty_figure(title=title)
    frame = frame[frame["split"] == split].dropna(subset=[metric])
    if frame.empty:
        return empty_figure(title=title)
    fig = go.Figure()
    for (model, member), rows in frame.groupby(["model", "member"], sort=False):
        rows = rows.sort_values("epoch")
        label = str(model)
        if "state_lr" in rows.columns and np.isfinite(rows["state_lr"].iloc[0]):
            label += f" · γ = {rows['state_lr'].iloc[0]:g}"
        if "n" in rows.columns and pd.notna(rows["n"].iloc[0]):
            label += f" · n = {int(rows['n'].iloc[0])}"
        if (
            "seed" in rows.columns
            and pd.notna(rows["seed"].iloc[0])
            and int(rows["seed"].iloc[0]) > 0
        ):
            label += f" · seed {int(rows['seed'].iloc[0])}"
        fig.add_trace(
            go.Scatter(
                x=rows["epoch"],
                y=rows[metric],
                mode="lines+markers" if len(rows) < 30 else "lines",
                name=label,
                line=dict(color=_color(str(model))),
                meta={"model": str(model), "member": int(member), "metric": metric},
            )
        )
    fig.update_layout(
        template=TEMPLATE_OBJ,
        title=title or None,
        xaxis_title="Epoch",
        yaxis_title=y_title or metric,
        yaxis_type="log",
        height=360,
    )
    return fig


def mse_bars(table: pd.DataFrame | None, title: str = "Test MSE (per pixel)") -> go.Figure:
    """Final test MSE (``mse``) of every PC member and the BP autoencoder (``meta``: model,
    state_lr)."""
    if table is None or table.empty:
        return empty_figure(title=title)
    fig = go.Figure()
    for _, r in table.iterrows():
        label = "BP autoencoder" if r["model"] == "BP" else f"PC · γ = {r['state_lr']:g}"
        label += f" · seed {int(r['seed'])}" if int(r["seed"]) > 0 else ""
        state_lr = float(r["state_lr"]) if np.isfinite(r["state_lr"]) else None
        fig.add_trace(
            go.Bar(
                x=[label],
                y=[r["mse"]],
                name=label,
                marker_color=_color(r["model"]),
                meta={"model": r["model"], "state_lr": state_lr},
                showlegend=False,
                text=[f"{r['mse']:.4f}"],
                textposition="outside",
            )
        )
    fig.update_layout(template=TEMPLATE_OBJ, title=title, yaxis_title="MSE", height=360)
    return fig


def reconstructions(
    arrays: Mapping[str, np.ndarray], title: str = "Test images and their reconstructions"
) -> go.Figure:
    """Rows: original, PC (latent inferred), BP autoencoder."""
    if "x" not in arrays:
        return empty_figure(title=title)
    rows = [("Original", arrays["x"])] + [
        (name, arrays[k]) for k, name in (("pc", "PC"), ("bp", "BP")) if k in arrays
    ]
    images = np.stack([r[1] for r in rows])
    return image_grid(
        images,
        row_labels=[r[0] for r in rows],
        col_labels=[str(i + 1) for i in range(images.shape[1])],
        title=title,
    )


def sample_grid(
    samples: np.ndarray, image_shape: Sequence[int], *, cols: int = 10, title: str = "MCPC samples"
) -> go.Figure:
    """Samples (n, d) as images, ``cols`` per row."""
    samples = np.asarray(samples)
    n = (len(samples) // cols) * cols
    if n == 0:
        return empty_figure(title=title)
    images = np.clip(samples[:n], -1, 1).reshape(n // cols, cols, *image_shape)
    return image_grid(images, row_labels=[""] * (n // cols), col_labels=[""] * cols, title=title)


def density_2d(
    data: np.ndarray,
    samples: np.ndarray,
    title: str = "MCPC samples over the data",
    *,
    axis_titles: Sequence[str] = ("x₁", "x₂"),
) -> go.Figure:
    """A 2-D density (contours) of the samples with the data as points (the paper's Fig. 4)."""
    data, samples = np.asarray(data), np.asarray(samples)
    if (
        data.ndim != 2
        or data.shape[1] != 2
        or samples.ndim != 2
        or samples.shape[1] != 2
        or not len(samples)
    ):
        return empty_figure("2-D data only", title=title)
    lo = np.minimum(data.min(0), np.percentile(samples, 1, axis=0)) - 0.3
    hi = np.maximum(data.max(0), np.percentile(samples, 99, axis=0)) + 0.3
    fig = go.Figure()
    fig.add_trace(
        go.Histogram2dContour(
            x=samples[:, 0],
            y=samples[:, 1],
            name="samples",
            colorscale="Blues",
            ncontours=12,
            showscale=False,
            contours=dict(coloring="fill"),
            meta={"role": "samples", "n": len(samples)},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=data[:, 0],
            y=data[:, 1],
            mode="markers",
            name="data",
            marker=dict(size=3, color=rgba(ORANGE, 0.6)),
            meta={"role": "data", "n": len(data)},
        )
    )
    fig.update_layout(
        template=TEMPLATE_OBJ,
        title=title,
        height=420,
        xaxis=dict(range=[lo[0], hi[0]], title=axis_titles[0]),
        yaxis=dict(range=[lo[1], hi[1]], title=axis_titles[1], scaleanchor="x"),
    )
    return fig


def recall_pictures(pictures: np.ndarray, title: str = "") -> go.Figure:
    """(3, n, H, W, C): original, corrupted, recalled."""
    pictures = np.asarray(pictures)
    if pictures.ndim < 4:
        return empty_figure(title=title)
    return image_grid(
        pictures,
        row_labels=["Stored", "Corrupted", "Recalled"],
        col_labels=[str(i + 1) for i in range(pictures.shape[1])],
        title=title,
    )


def recall_heatmap(table: pd.DataFrame, title: str = "") -> go.Figure:
    """Table 3's layout: recall MSE with one row per n and one column per width."""
    if table is None or table.empty:
        return empty_figure(title=title)
    z = table.to_numpy(np.float64)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[f"width {w}" for w in table.columns],
            y=[f"n = {n}" for n in table.index],
            colorscale="Reds",
            text=np.vectorize(lambda v: f"{v:.4f}")(z),
            texttemplate="%{text}",
            colorbar=dict(title="MSE"),
            meta={"n": [int(n) for n in table.index], "width": [int(w) for w in table.columns]},
        )
    )
    fig.update_layout(
        template=TEMPLATE_OBJ,
        title=title or None,
        height=80 + 60 * len(table),
        yaxis_autorange="reversed",
    )
    return fig


def ood_histograms(scores: pd.DataFrame | None, title: str = "ID vs OOD scores") -> go.Figure:
    """Overlaid ID/OOD histograms of the energy before and after inference and of the max
    softmax."""
    if scores is None or scores.empty:
        return empty_figure(title=title)
    fig = make_subplots(rows=1, cols=3, subplot_titles=[SCORE_NAMES[s] for s in SCORE_NAMES])
    for col, score in enumerate(SCORE_NAMES, start=1):
        for name in ("ID", "OOD"):
            v = scores.loc[scores["set"] == name, score].to_numpy()
            if score != "max_softmax":
                v = np.log10(np.maximum(v, 1e-8))
            fig.add_trace(
                go.Histogram(
                    x=v,
                    name=name,
                    marker_color=SET_COLORS[name],
                    opacity=0.6,
                    nbinsx=40,
                    legendgroup=name,
                    showlegend=col == 1,
                    meta={"set": name, "score": score},
                ),
                row=1,
                col=col,
            )
    fig.update_xaxes(title_text="log₁₀ F", row=1, col=1)
    fig.update_xaxes(title_text="log₁₀ F", row=1, col=2)
    fig.update_xaxes(title_text="max softmax", row=1, col=3)
    fig.update_layout(template=TEMPLATE_OBJ, title=title, barmode="overlay", height=380)
    return fig


def roc_curves(
    roc: pd.DataFrame | None,
    auroc: Mapping[str, float],
    title: str = "OOD detection: ROC",
    empty: str = "No data yet",
) -> go.Figure:
    """One ROC curve per score with its AUROC in the legend (``meta``: score, auroc);
    ``empty`` is shown when there is no curve."""
    if roc is None or roc.empty:
        return empty_figure(empty, title=title)
    fig = go.Figure()
    for score, rows in roc.groupby("score", sort=False):
        a = auroc.get(score, float("nan"))
        fig.add_trace(
            go.Scatter(
                x=rows["fpr"],
                y=rows["tpr"],
                mode="lines",
                name=f"{SCORE_NAMES[score]} · AUROC {a:.3f}",
                line=dict(color=SCORE_COLORS[score]),
                meta={"score": score, "auroc": a},
            )
        )
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            line=dict(color="#aaa", dash="dot"),
            name="chance",
            meta={"score": "chance"},
        )
    )
    fig.update_layout(
        template=TEMPLATE_OBJ,
        title=title,
        xaxis_title="False positive rate (ID called OOD)",
        yaxis_title="True positive rate (OOD detected)",
        height=460,
        xaxis_range=[0, 1],
        yaxis_range=[0, 1.02],
        legend=dict(orientation="h", yanchor="top", y=-0.2, x=0),
    )
    return fig


def energy_vs_softmax(
    scores: pd.DataFrame | None, title: str = "Energy against max softmax"
) -> go.Figure:
    """Per example, ``log₁₀ F`` against the max softmax, before and after inference, coloured by
    set (the paper's Fig. 19b / 23): before inference the two agree (``F = −ln max softmax``),
    after it they part, most for the uncertain examples."""
    if scores is None or scores.empty:
        return empty_figure(title=title)
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=["Before inference", "After inference"], shared_yaxes=True
    )
    for col, score in enumerate(("energy_before", "energy_after"), start=1):
        for name in ("ID", "OOD"):
            rows = scores[scores["set"] == name]
            fig.add_trace(
                go.Scattergl(
                    x=rows["max_softmax"],
                    y=np.log10(np.maximum(rows[score].to_numpy(), 1e-8)),
                    mode="markers",
                    name=name,
                    marker=dict(color=SET_COLORS[name], size=4, opacity=0.5),
                    legendgroup=name,
                    showlegend=col == 1,
                    meta={"set": name, "score": score},
                ),
                row=1,
                col=col,
            )
        fig.update_xaxes(title_text="max softmax", row=1, col=col)
    fig.update_yaxes(title_text="log₁₀ F", row=1, col=1)
    fig.update_layout(template=TEMPLATE_OBJ, title=title, height=380)
    return fig
