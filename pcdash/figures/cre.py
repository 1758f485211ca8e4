"""Figures of the classification–reconstruction trade-off (pages 2 and 5).

Every builder is a pure function: the tidy result frame of :mod:`pcdash.results` in, a
``plotly.graph_objects.Figure`` out. Frames may be partial (a sweep still training: fewer epochs,
members missing) or empty; a builder then returns a figure carrying a "No data yet" annotation
instead of raising. Diverged members are always left out of the statistics and counted in an
annotation named ``"diverged"``.

Conventions shared with :mod:`pcdash.figures.latent`: template ``plotly_white``; classification
is :data:`BLUE`, reconstruction :data:`ORANGE` (as the paper's Fig. 2); λ is coloured on the fixed
scale :data:`LAMBDA_COLORSCALE` over [0, 1], so a given λ has the same colour in every figure;
classes use the 10-colour :data:`CLASS_COLORS`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from pcdash.figures.style import (
    BLUE,
    ORANGE,
    ci_traces,
    empty_figure,
    has_rows,
    is_diverged,
    note_diverged,
    rgba,
    style,
)
from pcdash.results import final_rows, mean_ci

# Viridis without its last, pale-yellow part, which is hard to see on white.
_LAMBDA_STOPS = np.linspace(0.0, 1.0, 9)
LAMBDA_COLORSCALE: list[list] = [
    [float(t), c]
    for t, c in zip(
        _LAMBDA_STOPS, sample_colorscale("Viridis", list(_LAMBDA_STOPS * 0.85)), strict=True
    )
]
BASELINES: dict[str, tuple[str, str, str]] = {  # model -> (legend name, colour, dash)
    "pca": ("PCA", "#d62728", "dash"),
    "rp": ("RP", "#7f7f7f", "dot"),
    "pca-analytic": ("PCA (analytic)", "#d62728", "dashdot"),
}
METRIC_TITLES = {
    "accuracy": "Accuracy (fraction correct)",
    "mse": "MSE (per pixel, pixels in [−1, 1])",
    "ce": "Cross-entropy (nats)",
    "loss": "Encoder loss λ·MSE + (1−λ)·CE",
}
LAMBDA_AXIS = "λ (weight of the reconstruction loss)"


# --------------------------------------------------------------------------- shared helpers


def lam_label(lam: float) -> str:
    """``"λ = 0.2"``: how every figure names a λ value."""
    return f"λ = {float(lam):g}"


def lambda_color(lam: float) -> str:
    """The colour of ``lam`` (in [0, 1]) on :data:`LAMBDA_COLORSCALE`."""
    t = float(np.clip(lam, 0.0, 1.0)) if np.isfinite(lam) else 0.0
    return sample_colorscale(LAMBDA_COLORSCALE, [t])[0]


def _final_cre(
    frame: pd.DataFrame | None, split: str, latent_dim: int | None
) -> tuple[pd.DataFrame, int | None]:
    """CRE members' last-epoch ``split`` rows at one latent dimension (``None``: the only one,
    or the smallest when there are several)."""
    if not has_rows(frame):
        return pd.DataFrame(), None
    rows = final_rows(frame, split)
    if "model" in rows.columns:
        rows = rows[rows["model"] == "cre"]
    if rows.empty:
        return rows, None
    dim = None
    if "latent_dim" in rows.columns:
        dims = sorted(int(d) for d in rows["latent_dim"].dropna().unique())
        dim = int(latent_dim) if latent_dim is not None else (dims[0] if dims else None)
        if dim is not None:
            rows = rows[rows["latent_dim"] == dim]
    return rows.reset_index(drop=True), dim


def _annotatediverged(fig: go.Figure, rows: pd.DataFrame) -> None:
    """Count the diverged members of ``rows`` in an annotation named ``"diverged"``."""
    bad = rows[is_diverged(rows)].drop_duplicates("member")
    if bad.empty:
        return
    who = ", ".join(
        f"{lam_label(r.lam)} seed {int(r.seed)}"
        for r in bad.sort_values(["lam", "seed"]).itertuples()
    )
    note_diverged(fig, len(bad), who)


def _dim_suffix(dim: int | None) -> str:
    return f", dim(z) = {dim}" if dim is not None else ""


def _metric_values(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rows of non-diverged members with a finite ``metric``."""
    if metric not in rows.columns:
        return rows.iloc[0:0]
    ok = ~is_diverged(rows) & np.isfinite(pd.to_numeric(rows[metric], errors="coerce"))
    return rows[ok]


# --------------------------------------------------------------------------- page 2: trade-off


def tradeoff_boxes(
    frame: pd.DataFrame, split: str = "test", latent_dim: int | None = None
) -> go.Figure:
    """Accuracy (top, blue) and MSE (bottom, orange) per λ as box plots over seeds (paper Fig. 2).

    Each CRE member contributes its row at its last epoch on ``split``. There is **exactly one
    ``go.Box`` trace per λ per metric** (``2 × n_λ`` traces; the top row's come first, in
    increasing λ), each at the categorical x position ``f"{λ:g}"`` with every seed's value shown
    as a point (``customdata`` = seed). Diverged members are excluded and counted in an
    annotation named ``"diverged"`` ("2 diverged (excluded): ..."). ``latent_dim`` picks one
    dim(z) when the sweep has several (``None``: the smallest).
    """
    rows, dim = _final_cre(frame, split, latent_dim)
    title = f"Accuracy and MSE vs λ over seeds ({split}{_dim_suffix(dim)})"
    if rows.empty:
        return empty_figure(title=title)
    lams = sorted(float(v) for v in rows["lam"].dropna().unique())
    cats = [f"{lam:g}" for lam in lams]
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=(
            "Classification: accuracy (higher is better)",
            "Reconstruction: MSE (lower is better)",
        ),
    )
    for row, metric, color in ((1, "accuracy", BLUE), (2, "mse", ORANGE)):
        ok = _metric_values(rows, metric)
        for lam, cat in zip(lams, cats, strict=True):
            sel = ok[np.isclose(ok["lam"], lam)].sort_values("seed")
            fig.add_trace(
                go.Box(
                    x=[cat] * len(sel),
                    y=sel[metric].to_numpy(float),
                    name=lam_label(lam),
                    customdata=sel["seed"].to_numpy(int),
                    marker_color=color,
                    line_color=color,
                    fillcolor=rgba(color, 0.25),
                    boxpoints="all",
                    jitter=0.3,
                    pointpos=0,
                    showlegend=False,
                    legendgroup=metric,
                    meta={"metric": metric, "lam": lam},
                    hovertemplate=f"{lam_label(lam)}<br>seed %{{customdata}}<br>{metric} "
                    f"%{{y:.4g}}<extra></extra>",
                ),
                row=row,
                col=1,
            )
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=cats)
    fig.update_xaxes(title_text=LAMBDA_AXIS, row=2, col=1)
    fig.update_yaxes(title_text=METRIC_TITLES["accuracy"], row=1, col=1)
    fig.update_yaxes(title_text=METRIC_TITLES["mse"], row=2, col=1)
    _annotatediverged(fig, rows)
    return style(fig, title, height=560, boxmode="overlay")


def _mean_ci_by(rows: pd.DataFrame, key: str, metric: str) -> pd.DataFrame:
    """Mean, 95% CI and count of ``metric`` per value of ``key`` (non-diverged, finite only)."""
    ok = _metric_values(rows, metric)
    out = []
    for k, grp in ok.groupby(key, sort=True):
        mean, lo, hi = mean_ci(grp[metric].to_numpy(float))
        out.append({key: k, "mean": mean, "lo": lo, "hi": hi, "n": len(grp)})
    return pd.DataFrame(out, columns=[key, "mean", "lo", "hi", "n"])


def tradeoff_means(
    frame: pd.DataFrame, split: str = "test", latent_dim: int | None = None
) -> go.Figure:
    """Mean accuracy (top, blue) and MSE (bottom, orange) vs λ with filled 95% CI bands over seeds.

    Per metric three traces, in order: CI lower bound, CI upper bound (``fill="tonexty"``), mean;
    their ``meta["role"]`` is ``"ci_lower"``, ``"ci_upper"``, ``"mean"``. The interval is
    :func:`pcdash.results.mean_ci` (Student t; zero width with one seed), clipped to the
    metric's range (:data:`METRIC_BOUNDS`).
    """
    rows, dim = _final_cre(frame, split, latent_dim)
    title = f"Mean and 95% CI over seeds ({split}{_dim_suffix(dim)})"
    if rows.empty:
        return empty_figure(title=title)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    for row, metric, color, name in ((1, "accuracy", BLUE, "accuracy"), (2, "mse", ORANGE, "MSE")):
        stats = _mean_ci_by(rows, "lam", metric)
        for trace in ci_traces(stats["lam"], stats, name, color, metric, metric, showlegend=True):
            fig.add_trace(trace, row=row, col=1)
    fig.update_xaxes(title_text=LAMBDA_AXIS, row=2, col=1)
    fig.update_yaxes(title_text=METRIC_TITLES["accuracy"], row=1, col=1)
    fig.update_yaxes(title_text=METRIC_TITLES["mse"], row=2, col=1)
    _annotatediverged(fig, rows)
    return style(fig, title, height=560, hovermode="closest")


def pareto(frame: pd.DataFrame, split: str = "test", latent_dim: int | None = None) -> go.Figure:
    """MSE (x) vs accuracy (y): one point per non-diverged CRE member, coloured by λ.

    Trace 0 holds the members: ``marker.color`` is each member's λ on the shared colour axis
    (:data:`LAMBDA_COLORSCALE`, fixed to [0, 1], with a colourbar), ``customdata`` is
    ``[λ, seed, member]`` and the hover shows λ and seed. Trace 1 connects the per-λ means in
    increasing λ (its markers are coloured by λ too).
    """
    rows, dim = _final_cre(frame, split, latent_dim)
    title = f"Pareto view: reconstruction error vs accuracy ({split}{_dim_suffix(dim)})"
    ok = _metric_values(_metric_values(rows, "accuracy"), "mse") if not rows.empty else rows
    if ok.empty:
        fig = empty_figure(title=title)
        if not rows.empty:
            _annotatediverged(fig, rows)
        return fig
    ok = ok.sort_values(["lam", "seed"])
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=ok["mse"].to_numpy(float),
            y=ok["accuracy"].to_numpy(float),
            mode="markers",
            name="member",
            marker=dict(
                color=ok["lam"].to_numpy(float),
                coloraxis="coloraxis",
                size=9,
                line=dict(width=0.5, color="#333"),
            ),
            customdata=np.stack(
                [
                    ok["lam"].to_numpy(float),
                    ok["seed"].to_numpy(float),
                    ok["member"].to_numpy(float),
                ],
                -1,
            ),
            hovertemplate="λ = %{customdata[0]:g}<br>seed %{customdata[1]:.0f}<br>MSE "
            "%{x:.4g}<br>accuracy %{y:.4g}<extra></extra>",
        )
    )
    means = ok.groupby("lam", sort=True)[["mse", "accuracy"]].mean().reset_index()
    fig.add_trace(
        go.Scatter(
            x=means["mse"],
            y=means["accuracy"],
            mode="lines+markers",
            name="mean per λ",
            line=dict(color="#555", width=1.5),
            marker=dict(
                color=means["lam"].to_numpy(float),
                coloraxis="coloraxis",
                size=13,
                symbol="diamond",
                line=dict(width=1, color="#333"),
            ),
            customdata=means["lam"].to_numpy(float),
            hovertemplate="mean at λ = %{customdata:g}<br>MSE %{x:.4g}<br>accuracy "
            "%{y:.4g}<extra></extra>",
        )
    )
    fig.update_layout(
        coloraxis=dict(colorscale=LAMBDA_COLORSCALE, cmin=0.0, cmax=1.0, colorbar=dict(title="λ")),
        legend=dict(orientation="h", y=-0.2),
    )
    fig.update_xaxes(title_text=METRIC_TITLES["mse"])
    fig.update_yaxes(title_text=METRIC_TITLES["accuracy"])
    _annotatediverged(fig, rows)
    return style(fig, title, height=480)


def training_curves(
    frame: pd.DataFrame, metric: str = "accuracy", latent_dim: int | None = None
) -> go.Figure:
    """Per-member ``metric`` over epochs: train dashed, validation solid, coloured by λ.

    One legend group per λ (named ``"λ = …"``; clicking it toggles all that λ's members and
    both splits). Traces with no finite value (e.g. ``loss`` on validation) are left out; a
    diverged member's curve stops where it diverged and says so in its hover. Baselines are not
    drawn. Two legend-only traces explain the line styles.
    """
    title = f"Training curves: {metric}"
    if not has_rows(frame) or metric not in frame.columns:
        return empty_figure(title=title)
    rows = frame[frame["split"].isin(["train", "val"])]
    if "model" in rows.columns:
        rows = rows[rows["model"] == "cre"]
    dim = None
    if "latent_dim" in rows.columns and not rows.empty:
        dim = int(latent_dim) if latent_dim is not None else int(rows["latent_dim"].min())
        rows = rows[rows["latent_dim"] == dim]
    rows = rows[np.isfinite(pd.to_numeric(rows[metric], errors="coerce"))]
    title += _dim_suffix(dim)
    if rows.empty:
        return empty_figure(title=title)
    fig = go.Figure()
    shown: set[str] = set()
    members = rows.drop_duplicates("member").sort_values(["lam", "seed"])
    diverged = (
        set(frame.loc[is_diverged(frame), "member"]) if "diverged" in frame.columns else set()
    )
    for mem in members.itertuples():
        lam = float(mem.lam)
        add_member_curves(
            fig,
            rows,
            mem.member,
            metric,
            group=lam_label(lam),
            color=lambda_color(mem.lam),
            shown=shown,
            hover=f"{lam_label(lam)}, seed {int(mem.seed)}",
            tag=" (diverged)" if mem.member in diverged else "",
            meta={"member": int(mem.member), "lam": lam, "seed": int(mem.seed)},
        )
    return finish_training_curves(fig, rows, metric, title)


def add_member_curves(
    fig: go.Figure,
    rows: pd.DataFrame,
    member,
    metric: str,
    *,
    group: str,
    color: str,
    shown: set[str],
    hover: str,
    tag: str,
    meta: dict,
    marker: dict | None = None,
) -> None:
    """One member's ``metric`` over epochs: validation solid, train dashed, in legend group
    ``group`` (shown in the legend the first time the group is drawn, tracked in ``shown``).
    Each trace's ``meta`` is ``meta`` plus its ``split``; its hover reads ``"{hover},
    {split}{tag}"``."""
    for split, dash in (("val", "solid"), ("train", "dash")):
        sel = rows[(rows["member"] == member) & (rows["split"] == split)].sort_values("epoch")
        if sel.empty:
            continue
        first = group not in shown
        shown.add(group)
        fig.add_trace(
            go.Scatter(
                x=sel["epoch"].to_numpy(int),
                y=sel[metric].to_numpy(float),
                mode="lines+markers",
                name=group,
                legendgroup=group,
                showlegend=first,
                line=dict(color=color, dash=dash, width=1.5),
                marker={"color": color, "size": 4, **(marker or {})},
                meta={**meta, "split": split},
                hovertemplate=f"{hover}, {split}{tag}<br>epoch %{{x}}<br>{metric} "
                f"%{{y:.4g}}<extra></extra>",
            )
        )


def finish_training_curves(
    fig: go.Figure, rows: pd.DataFrame, metric: str, title: str
) -> go.Figure:
    """Two legend-only traces explaining the line styles, the axes and the house style."""
    for split, dash in (("validation", "solid"), ("train", "dash")):
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="lines",
                name=split,
                legendgroup="split",
                line=dict(color="#444", dash=dash),
                showlegend=True,
                hoverinfo="skip",
                meta={"role": "legend"},
            )
        )
    fig.update_xaxes(title_text="Epoch", dtick=1 if rows["epoch"].max() <= 20 else None)
    fig.update_yaxes(title_text=METRIC_TITLES.get(metric, metric))
    return style(fig, title, height=480)


# --------------------------------------------------------------------------- page 5: dim(z)


def latent_dim_curves(
    frame: pd.DataFrame, lambdas: Sequence[float] | None = None, split: str = "test"
) -> go.Figure:
    """Accuracy (top) and MSE (bottom) vs dim(z) with 95% CI bands over seeds (paper Fig. 4).

    One series per λ (``lambdas``; ``None``: every λ in the frame), plus the ``"PCA"`` and
    ``"RP"`` baselines (``model`` column) on both plots and ``"PCA (analytic)"`` on the MSE plot
    only (it has no classifier and no seeds, so no band). Each series has a legend group of its
    name; every series with seeds is drawn with :func:`~pcdash.figures.style.ci_traces` (lower,
    upper, mean). The x
    axis is logarithmic when the dimensions span more than 8×.
    """
    title = f"Trade-off vs latent dimension, 95% CI over seeds ({split})"
    if not has_rows(frame, ("member", "split", "epoch", "latent_dim")):
        return empty_figure(title=title)
    rows = final_rows(frame, split)
    if "model" not in rows.columns:
        rows = rows.assign(model="cre")
    series: list[tuple[str, pd.DataFrame, str, str, tuple[str, ...]]] = []
    cre = rows[rows["model"] == "cre"]
    lams = sorted(float(v) for v in cre["lam"].dropna().unique())
    if lambdas is not None:
        lams = [lam for lam in lams if any(np.isclose(lam, w) for w in lambdas)]
    for lam in lams:
        series.append(
            (
                lam_label(lam),
                cre[np.isclose(cre["lam"], lam)],
                lambda_color(lam),
                "solid",
                ("accuracy", "mse"),
            )
        )
    for model, (name, color, dash) in BASELINES.items():
        sel = rows[rows["model"] == model]
        if not sel.empty:
            metrics: tuple[str, ...] = ("mse",) if model == "pca-analytic" else ("accuracy", "mse")
            series.append((name, sel, color, dash, metrics))
    if not series:
        return empty_figure(title=title)
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=("Classification: accuracy", "Reconstruction: MSE"),
    )
    for name, sel, color, dash, metrics in series:
        for row, metric in ((1, "accuracy"), (2, "mse")):
            if metric not in metrics:
                continue
            stats = _mean_ci_by(sel, "latent_dim", metric)
            if stats.empty:
                continue
            first = metric == metrics[0]
            for trace in ci_traces(
                stats["latent_dim"].astype(int),
                stats,
                name,
                color,
                name,
                metric,
                showlegend=first,
                dash=dash,
                band=name != BASELINES["pca-analytic"][0],
            ):
                fig.add_trace(trace, row=row, col=1)
    dims = sorted(int(d) for d in rows["latent_dim"].dropna().unique())
    if dims and dims[0] > 0 and dims[-1] / dims[0] > 8:
        fig.update_xaxes(type="log", tickvals=dims, ticktext=[str(d) for d in dims])
    else:
        fig.update_xaxes(tickvals=dims)
    fig.update_xaxes(title_text="dim(z) (latent units)", row=2, col=1)
    fig.update_yaxes(title_text=METRIC_TITLES["accuracy"], row=1, col=1)
    fig.update_yaxes(title_text=METRIC_TITLES["mse"], row=2, col=1)
    _annotatediverged(fig, rows[rows["model"] == "cre"])
    return style(fig, title, height=620)
