"""Figures of paper panels that no page drew before: PCX Fig. 6(a) (the best accuracy per state
initialisation against T) and Table 1 as bars beside the paper's numbers. Pure functions: a
tidy frame in, a plotly Figure out (:func:`~pcdash.figures.cre.empty_figure` when empty)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pcdash.figures.style import empty_figure
from pcdash.results import final_rows

INIT_COLORS = {"forward": "#1f77b4", "zero": "#d62728", "gaussian": "#2ca02c"}


def best_accuracy_by_init(frame: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """PCX Fig. 6(a)'s numbers: per state initialisation and T, the highest mean (over seeds)
    final ``split`` accuracy over the other settings (γ, optimiser); a diverged member counts as
    0. Columns ``state_init``, ``inference_steps``, ``accuracy``, ``state_lr`` (the best γ)."""
    cols = ["state_init", "inference_steps", "accuracy", "state_lr"]
    if frame is None or frame.empty or "state_init" not in frame:
        return pd.DataFrame(columns=cols)
    rows = final_rows(frame, split).copy()
    rows["accuracy"] = pd.to_numeric(rows["accuracy"], errors="coerce").fillna(0.0)
    keys = ["state_init", "inference_steps", "optimizer", "state_lr"]
    mean = rows.groupby(keys)["accuracy"].mean().reset_index()
    best = mean.loc[mean.groupby(["state_init", "inference_steps"])["accuracy"].idxmax()]
    return best[cols].sort_values(["state_init", "inference_steps"]).reset_index(drop=True)


def accuracy_vs_steps_by_init(frame: pd.DataFrame, split: str = "test") -> go.Figure:
    """PCX Fig. 6(a): the highest test accuracy of each state initialisation against the
    inference steps T used in training (log axis)."""
    best = best_accuracy_by_init(frame, split)
    if best.empty:
        return empty_figure("Train to see the accuracy per state initialisation and T")
    fig = go.Figure()
    for init, g in best.groupby("state_init", sort=False):
        fig.add_trace(
            go.Scatter(
                x=g["inference_steps"],
                y=g["accuracy"],
                mode="lines+markers",
                name=init,
                line=dict(color=INIT_COLORS.get(init)),
                customdata=g["state_lr"],
                hovertemplate="T = %{x}<br>accuracy %{y:.3f}<br>best γ = %{customdata:g}",
            )
        )
    fig.update_layout(
        template="plotly_white",
        title="Highest test accuracy per state initialisation",
        xaxis=dict(
            title="inference steps T", type="log", tickvals=sorted(best["inference_steps"].unique())
        ),
        yaxis=dict(title=f"{split} accuracy"),
        legend_title_text="initialisation",
    )
    return fig


def table1_bars(
    table: pd.DataFrame,
    paper: Mapping[str, Mapping[str, tuple[float, float]]] | None = None,
    labels: Mapping[str, str] | None = None,
) -> go.Figure:
    """PCX Table 1's MLP rows as bars: pcdash's mean test accuracy per learning rule (± std over
    seeds), beside the paper's numbers per dataset in ``paper`` (``{dataset: {rule: (mean,
    std)}}``)."""
    if table is None or table.empty:
        return empty_figure("Train to see the accuracy of every learning rule")
    names = list(table["variant"])
    labels = labels or {}
    x = [labels.get(n, n) for n in names]
    fig = go.Figure(
        go.Bar(
            x=x,
            y=table["accuracy_mean"],
            name="pcdash",
            error_y=dict(array=table["accuracy_std"]),
            hovertemplate="%{x}: %{y:.2f}%",
        )
    )
    for dataset, rows in (paper or {}).items():
        means = [rows.get(n, (np.nan, np.nan))[0] for n in names]
        stds = [rows.get(n, (np.nan, np.nan))[1] for n in names]
        fig.add_trace(
            go.Bar(
                x=x,
                y=means,
                name=f"paper, {dataset}",
                error_y=dict(array=stds),
                opacity=0.6,
                hovertemplate="%{x}: %{y:.2f}%",
            )
        )
    finite = pd.to_numeric(table["accuracy_mean"], errors="coerce").dropna()
    low = min(80.0, float(finite.min()) - 5) if len(finite) else 0.0
    fig.update_layout(
        template="plotly_white",
        barmode="group",
        title="Test accuracy per learning rule (Table 1)",
        yaxis=dict(title="test accuracy (%)", range=[max(low, 0.0), 100]),
    )
    return fig
