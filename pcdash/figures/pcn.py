"""Figures of predictive-coding energy dynamics and stability (page 6, "Energy dynamics").

Every builder is a pure function: the tidy PCN result frame of :mod:`pcdash.results` (one row per
member × epoch × split, with ``optimizer``, ``state_lr`` (γ), ``width``, ``seed`` and the per-layer
energies ``energy_1`` … ``energy_L``; layer 1 is the first hidden layer, layer L the output) or an
energy trace ``(member, T + 1, L)`` in, a ``plotly.graph_objects.Figure`` out. Frames may be
partial (a sweep still training) or empty; a builder then returns
:func:`pcdash.figures.cre.empty_figure` (annotation named ``"no-data"``) instead of raising.
Diverged members (``diverged`` true on any of their rows) are left out of every statistic and
counted in an annotation named ``"diverged"``.

Conventions, shared with :mod:`pcdash.figures.cre`: template ``plotly_white``; 95% intervals are
:func:`pcdash.results.mean_ci` drawn by the same band helper (traces with ``meta["role"]``
``"ci_lower"``,
``"ci_upper"``, ``"mean"``). γ is coloured on the fixed logarithmic scale :data:`GAMMA_COLORSCALE`
over :data:`GAMMA_RANGE`, so a given γ has the same colour in every figure; weight optimisers
have the fixed colours :data:`OPTIMIZER_COLORS`; layers go from light (first hidden) to dark
(output) along :data:`LAYER_COLORSCALE`. Energies and energy ratios span many orders of magnitude,
so they are drawn on log axes; a value ≤ 0 (a hidden layer's energy is exactly 0 at step 0 after
a forward initialisation) is drawn at a floor below the smallest positive value and its hover
says so.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative, sample_colorscale
from plotly.subplots import make_subplots

from pcdash.figures.cre import METRIC_TITLES, add_member_curves, finish_training_curves
from pcdash.figures.style import (
    ci_traces,
    empty_figure,
    has_rows,
    is_diverged,
    note_above,
    note_diverged,
    style,
)
from pcdash.pcn.stability import (
    chance_accuracy,
    largest_stable_state_lr,
    member_summary,
    trained_accuracy,
)
from pcdash.results import final_rows, mean_ci

# γ is coloured by log10(γ) on a fixed range; values outside it take the end colours.
GAMMA_RANGE: tuple[float, float] = (1e-5, 1.0)
# Plasma without its last, pale-yellow part, which is hard to see on white.
_GAMMA_STOPS = np.linspace(0.0, 1.0, 9)
GAMMA_COLORSCALE: list[list] = [
    [float(t), c]
    for t, c in zip(
        _GAMMA_STOPS, sample_colorscale("Plasma", list(_GAMMA_STOPS * 0.85)), strict=True
    )
]
LAYER_COLORSCALE = "Blues"
LAYER_RANGE = (0.4, 1.0)  # the part of LAYER_COLORSCALE used: first hidden light, output dark
OPTIMIZER_COLORS: dict[str, str] = {"sgd": "#1f77b4", "adamw": "#d62728", "adam": "#ff7f0e"}
OPTIMIZER_NAMES: dict[str, str] = {"sgd": "SGD", "adamw": "AdamW", "adam": "Adam"}
BP_COLOR = "#7f7f7f"
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
GAMMA_AXIS = "γ (state learning rate)"
ENERGY_AXIS = "Energy ½‖h − μ‖² (mean per example)"
RATIO_AXIS = "First hidden ÷ output (geometric mean, 95% CI)"
ENERGY_FLOOR = 1e-30  # the lowest a clipped value is ever drawn, whatever the data
ENERGY_COLUMN = re.compile(r"^energy_(\d+)$")
MAX_NAMED = 6  # diverged members named in the annotation before "…"
MAX_PANEL_COLUMNS = 5  # small multiples per row


# --------------------------------------------------------------------------- helpers


def gamma_label(state_lr: float) -> str:
    """``"γ = 0.01"``: how every figure names a state learning rate (``"BP"`` when there is
    none)."""
    return f"γ = {float(state_lr):g}" if state_lr is not None and np.isfinite(state_lr) else "BP"


def gamma_color(state_lr: float) -> str:
    """The colour of ``state_lr`` on :data:`GAMMA_COLORSCALE` (log scale over :data:`GAMMA_RANGE`);
    :data:`BP_COLOR` for a missing γ (backprop members)."""
    if state_lr is None or not np.isfinite(state_lr) or state_lr <= 0:
        return BP_COLOR
    lo, hi = (math.log10(v) for v in GAMMA_RANGE)
    t = float(np.clip((math.log10(state_lr) - lo) / (hi - lo), 0.0, 1.0))
    return sample_colorscale(GAMMA_COLORSCALE, [t])[0]


def optimizer_label(optimizer: str) -> str:
    """``"SGD"``, ``"AdamW"`` … for a weight-optimiser name."""
    return OPTIMIZER_NAMES.get(str(optimizer).lower(), str(optimizer))


def optimizer_color(optimizer: str) -> str:
    """The fixed colour of a weight optimiser (unknown names get a stable qualitative colour)."""
    key = str(optimizer).lower()
    if key in OPTIMIZER_COLORS:
        return OPTIMIZER_COLORS[key]
    palette = qualitative.D3[3:]
    return palette[sum(map(ord, key)) % len(palette)]


def layer_label(layer: int, num_layers: int) -> str:
    """``"layer 1 (first hidden)"``, ``"layer 2"`` … ``"layer L (output)"`` (1-based)."""
    if layer == num_layers:
        return f"layer {layer} (output)"
    if layer == 1:
        return "layer 1 (first hidden)"
    return f"layer {layer}"


def layer_colors(num_layers: int) -> list[str]:
    """One colour per layer along :data:`LAYER_COLORSCALE`, light (first hidden) to dark
    (output)."""
    if num_layers <= 0:
        return []
    points = [LAYER_RANGE[1]] if num_layers == 1 else list(np.linspace(*LAYER_RANGE, num_layers))
    return sample_colorscale(LAYER_COLORSCALE, points)


def energy_columns(frame: pd.DataFrame) -> list[str]:
    """The ``energy_<l>`` columns of ``frame`` in layer order (``energy`` alone, the total, is
    not one)."""
    found = [(int(m.group(1)), c) for c in frame.columns if (m := ENERGY_COLUMN.match(str(c)))]
    return [c for _, c in sorted(found)]


def log_floor(values: np.ndarray) -> float:
    """Where a value ≤ 0 is drawn on a log axis: a decade below the smallest positive finite value
    (so zeros sit just under the data instead of stretching the axis), never below
    :data:`ENERGY_FLOOR`; ``1e-12`` when nothing is positive."""
    arr = np.asarray(values, dtype=np.float64)
    pos = arr[np.isfinite(arr) & (arr > 0)]
    return max(float(pos.min()) / 10.0, ENERGY_FLOOR) if pos.size else 1e-12


def _clip_for_log(values: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """``values`` with every finite value ≤ 0 drawn at ``floor`` (NaN stays NaN: a gap), and the
    hover note of each point (empty unless it was clipped)."""
    arr = np.asarray(values, dtype=np.float64)
    clipped = np.isfinite(arr) & (arr <= 0)
    shown = np.where(clipped, floor, arr)
    notes = np.where(clipped, f" (≤ 0: drawn at {floor:.1e} for the log scale)", "")
    return shown, notes


def _diverged_members(frame: pd.DataFrame) -> set:
    """Members flagged ``diverged`` on any row."""
    if frame is None or frame.empty or "diverged" not in frame.columns:
        return set()
    return set(frame.loc[is_diverged(frame), "member"])


def _varying(rows: pd.DataFrame, column: str) -> bool:
    return column in rows.columns and rows[column].nunique(dropna=True) > 1


def _member_label(row, widths: bool, algorithms: bool) -> str:
    parts = []
    if algorithms and hasattr(row, "algorithm"):
        parts.append(str(row.algorithm))
    if hasattr(row, "optimizer"):
        parts.append(optimizer_label(row.optimizer))
    if widths and hasattr(row, "width"):
        parts.append(f"width {int(row.width)}")
    parts.append(gamma_label(getattr(row, "state_lr", np.nan)))
    if hasattr(row, "seed"):
        parts.append(f"seed {int(row.seed)}")
    return " ".join(parts)


def _annotate_diverged(fig: go.Figure, frame: pd.DataFrame, members: set | None = None) -> None:
    """Count the diverged members of ``frame`` (restricted to ``members`` when given) in an
    annotation named ``"diverged"``."""
    bad = _diverged_members(frame)
    if members is not None:
        bad &= set(members)
    if not bad:
        return
    rows = frame[frame["member"].isin(bad)].drop_duplicates("member")
    keys = [c for c in ("algorithm", "optimizer", "width", "state_lr", "seed") if c in rows.columns]
    rows = rows.sort_values(keys) if keys else rows
    widths, algorithms = _varying(frame, "width"), _varying(frame, "algorithm")
    names = [_member_label(r, widths, algorithms) for r in rows.itertuples()]
    who = ", ".join(names[:MAX_NAMED]) + (", …" if len(names) > MAX_NAMED else "")
    note_diverged(fig, len(bad), who)


def _final_pc(frame: pd.DataFrame | None, split: str) -> pd.DataFrame:
    """Each PC member's (finite, positive γ) row at its last epoch on ``split``."""
    if not has_rows(frame, ("member", "split", "epoch", "state_lr")):
        return pd.DataFrame()
    rows = final_rows(frame, split)
    if rows.empty:
        return rows
    state_lr = pd.to_numeric(rows["state_lr"], errors="coerce")
    return rows[np.isfinite(state_lr) & (state_lr > 0)].reset_index(drop=True)


def _member_points(
    grp: pd.DataFrame, metric: str, name: str, color: str, value_hover: str
) -> go.Scatter:
    """Every member of a series as a faint point at its γ (``meta`` role ``"members"``), its
    seed in the hover, beside the series' mean and 95% band."""
    pts = grp.sort_values(["state_lr", "seed"] if "seed" in grp.columns else ["state_lr"])
    seeds = pts["seed"].to_numpy(int) if "seed" in pts.columns else np.zeros(len(pts), int)
    return go.Scatter(
        x=pts["state_lr"].to_numpy(float),
        y=pts[metric].to_numpy(float),
        mode="markers",
        name=f"{name} members",
        legendgroup=name,
        showlegend=False,
        customdata=seeds,
        marker=dict(color=color, size=5, opacity=0.45),
        meta={"role": "members", "series": name},
        hovertemplate=f"{name}<br>γ = %{{x:g}}<br>seed "
        f"%{{customdata}}<br>{value_hover}<extra></extra>",
    )


def _series(rows: pd.DataFrame) -> list[tuple[str, str, str, pd.DataFrame]]:
    """Split rows into series: one per weight optimiser, and per algorithm and width where those
    vary (seeds are only pooled over, never different configurations). Returns
    ``(name, colour, dash, rows)``."""
    keys = ["optimizer"] if "optimizer" in rows.columns else []
    keys += [c for c in ("algorithm", "width") if _varying(rows, c)]
    if not keys:
        return [("PC", optimizer_color(""), "solid", rows)]
    out = []
    dash_of: dict[tuple, str] = {}
    for key, grp in rows.groupby(keys, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        parts = dict(zip(keys, key, strict=True))
        opt = parts.get("optimizer", "")
        rest = tuple(v for k, v in parts.items() if k != "optimizer")
        dash = dash_of.setdefault(rest, DASHES[len(dash_of) % len(DASHES)])
        words = [optimizer_label(opt)] if "optimizer" in parts else []
        if "algorithm" in parts:
            words.append(str(parts["algorithm"]).upper())
        if "width" in parts:
            words.append(f"width {int(parts['width'])}")
        name = ", ".join(words)
        out.append((name, optimizer_color(opt), dash, grp))
    return out


def _stats(rows: pd.DataFrame, value: str, geometric: bool = False) -> pd.DataFrame:
    """Mean, 95% CI and count of ``value`` per γ, over the finite values (positive ones when
    ``geometric``: the mean and interval are then taken on log10 and mapped back)."""
    out = []
    for state_lr, grp in rows.groupby("state_lr", sort=True):
        vals = pd.to_numeric(grp[value], errors="coerce").to_numpy(float)
        vals = vals[np.isfinite(vals) & (vals > 0)] if geometric else vals[np.isfinite(vals)]
        if vals.size == 0:
            continue
        mean, lo, hi = mean_ci(np.log10(vals) if geometric else vals)
        if geometric:
            mean, lo, hi = 10.0**mean, 10.0**lo, 10.0**hi
        out.append(
            {"state_lr": float(state_lr), "mean": mean, "lo": lo, "hi": hi, "n": int(vals.size)}
        )
    return pd.DataFrame(out, columns=["state_lr", "mean", "lo", "hi", "n"])


def _gamma_ticks(state_lrs: Sequence[float]) -> dict:
    state_lrs = sorted({float(g) for g in state_lrs})
    return (
        dict(tickvals=state_lrs, ticktext=[f"{g:g}" for g in state_lrs])
        if len(state_lrs) <= 12
        else {}
    )


# --------------------------------------------------------------------------- energy over inference
# steps


def _custom(*columns: np.ndarray) -> np.ndarray:
    """An object array ``(n, len(columns))`` keeping numbers numeric next to strings."""
    out = np.empty((len(columns[0]), len(columns)), dtype=object)
    for j, col in enumerate(columns):
        out[:, j] = list(col)
    return out


def _layer_traces(trace: np.ndarray, floor: float, showlegend: bool) -> list[go.Scatter]:
    """One line per layer of a ``(T + 1, L)`` energy trace on a log axis."""
    steps = np.arange(trace.shape[0])
    num_layers = trace.shape[1]
    out = []
    for layer, color in zip(range(1, num_layers + 1), layer_colors(num_layers), strict=True):
        raw = trace[:, layer - 1].astype(np.float64)
        shown, notes = _clip_for_log(raw, floor)
        name = layer_label(layer, num_layers)
        out.append(
            go.Scatter(
                x=steps,
                y=shown,
                mode="lines+markers",
                name=name,
                legendgroup=name,
                showlegend=showlegend,
                line=dict(color=color, width=2),
                marker=dict(color=color, size=5),
                customdata=_custom(raw, notes),
                meta={"layer": layer},
                hovertemplate=(
                    f"{name}<br>step %{{x}}<br>energy %{{customdata[0]:.4g}}%{{customdata[1]}}"
                    "<extra></extra>"
                ),
            )
        )
    return out


def energy_vs_step(energy_trace_member: np.ndarray, title: str = "") -> go.Figure:
    """Per-layer energy over the inference steps of one batch (paper Fig. 6b), log y.

    Args:
        energy_trace_member: ``(T + 1, L)`` energies at steps ``t = 0 … T``; column ``l - 1`` is
            layer ``l`` (layer 1 the first hidden, layer L the output).
        title: figure title (default: "Energy per layer during inference").

    Returns:
        A figure with **exactly one ``go.Scatter`` per layer**, in layer order, named
        ``"layer 1 (first hidden)"``, ``"layer 2"`` … ``"layer L (output)"`` and coloured light to
        dark along :data:`LAYER_COLORSCALE`; ``meta["layer"]`` is the 1-based layer. Values ≤ 0 (a
        hidden layer's energy is exactly 0 at t = 0 after a forward initialisation) are drawn at
        :func:`log_floor` of the trace and their hover says so; ``customdata[:, 0]`` holds the raw
        values. An empty or all-NaN trace (a diverged member) gives :func:`empty_figure`.
    """
    title = title or "Energy per layer during inference"
    arr = (
        np.asarray(energy_trace_member, dtype=np.float64)
        if energy_trace_member is not None
        else np.empty((0, 0))
    )
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.size == 0:
        return empty_figure(title=title)
    if not np.isfinite(arr).any():
        return empty_figure("No energies: this member diverged", title=title)
    fig = go.Figure(_layer_traces(arr, log_floor(arr), showlegend=True))
    fig.update_xaxes(title_text="Inference step t", dtick=1 if arr.shape[0] <= 21 else None)
    fig.update_yaxes(title_text=ENERGY_AXIS, type="log", exponentformat="power")
    return style(fig, title, height=420, hovermode="x unified")


def energy_vs_step_grid(
    energy_trace: np.ndarray, members: pd.DataFrame, by: str = "state_lr"
) -> go.Figure:
    """Small multiples of :func:`energy_vs_step`: one panel per value of ``by`` (γ by default),
    all sharing one log y axis so panels compare directly.

    Each panel shows the member with the lowest seed among those with that value whose trace is
    not all NaN (the panel title names it on two lines: ``"γ = 0.01<br><sup>seed 0</sup>"``);
    when every member with the
    value diverged, the panel is empty apart from the text ``"diverged"``, and all such members
    are counted in the annotation named ``"diverged"``. The caller filters ``members`` (width,
    optimiser, algorithm) beforehand; rows with a missing ``by`` (backprop) are skipped.

    Args:
        energy_trace: ``(member, T + 1, L)`` energies of one batch.
        members: one row per member, in the order of ``energy_trace``'s first axis, with the
            column ``by`` (and ``seed``).
        by: column whose values make the panels.

    Returns:
        One ``go.Scatter`` per layer per panel (legend entries only on the first panel; traces
        carry ``meta = {"layer": l, by: value, "seed": s}``); up to :data:`MAX_PANEL_COLUMNS` panels
        per row.

    Raises:
        ValueError: ``members`` and ``energy_trace`` disagree on the number of members.
    """
    title = "Energy per layer during inference, one panel per " + ("γ" if by == "state_lr" else by)
    arr = (
        np.asarray(energy_trace, dtype=np.float64)
        if energy_trace is not None
        else np.empty((0, 0, 0))
    )
    if (
        members is None
        or members.empty
        or arr.ndim != 3
        or arr.size == 0
        or by not in members.columns
    ):
        return empty_figure(title=title)
    if len(members) != arr.shape[0]:
        raise ValueError(
            f"members has {len(members)} rows but energy_trace has {arr.shape[0]} members"
        )
    table = members.reset_index(drop=True).assign(pcdash_pos=np.arange(len(members)))
    if "seed" not in table.columns:
        table["seed"] = 0
    table = table[table[by].notna()]
    if table.empty:
        return empty_figure(title=title)
    values = sorted(table[by].unique())
    panels = []  # (value, seed or None, trace or None)
    bad_positions = []
    for value in values:
        cand = table[table[by] == value].sort_values("seed")
        chosen = None
        for r in cand.itertuples():
            if np.isfinite(arr[r.pcdash_pos]).any():
                chosen = r
                break
            bad_positions.append(r.pcdash_pos)
        panels.append(
            (
                value,
                None if chosen is None else int(chosen.seed),
                None if chosen is None else arr[chosen.pcdash_pos],
            )
        )
    label = gamma_label if by == "state_lr" else (lambda v: f"{by} = {v}")
    shown = [p[2] for p in panels if p[2] is not None]
    floor = log_floor(np.concatenate([t.ravel() for t in shown])) if shown else 1e-12
    cols = min(len(panels), MAX_PANEL_COLUMNS)
    nrows = math.ceil(len(panels) / cols)
    # Two short lines per title, so neighbouring titles never run into each other.
    titles = [
        f"{label(v)}<br><sup>seed {s}</sup>" if s is not None else f"{label(v)}"
        for v, s, _ in panels
    ]
    fig = make_subplots(
        rows=nrows,
        cols=cols,
        shared_xaxes="all",
        shared_yaxes="all",
        subplot_titles=titles,
        horizontal_spacing=0.05,
        vertical_spacing=0.16 if nrows > 1 else 0.1,
    )
    fig.update_annotations(font_size=13)
    first = True
    for i, (value, seed, trace) in enumerate(panels):
        row, col = i // cols + 1, i % cols + 1
        if trace is None:
            axis = i + 1
            fig.add_annotation(
                text="diverged",
                name="diverged-panel",
                showarrow=False,
                xref=f"x{axis if axis > 1 else ''} domain",
                yref=f"y{axis if axis > 1 else ''} domain",
                x=0.5,
                y=0.5,
                font=dict(color="#b00020", size=14),
            )
            continue
        for tr in _layer_traces(trace, floor, showlegend=first):
            tr.meta = {
                **tr.meta,
                by: value.item() if hasattr(value, "item") else value,
                "seed": seed,
            }
            fig.add_trace(tr, row=row, col=col)
        first = False
    fig.update_yaxes(type="log", exponentformat="power")
    fig.update_yaxes(title_text="Energy", col=1)
    fig.update_xaxes(title_text="Inference step t", row=nrows)
    if bad_positions:
        bad = members.reset_index(drop=True).iloc[bad_positions].assign(diverged=True)
        if "member" not in bad.columns:
            bad["member"] = bad_positions
        _annotate_diverged(fig, bad)
    return style(fig, title, height=260 * nrows + 120, hovermode="closest")


# --------------------------------------------------------------------------- γ sweeps


def _bp_reference(
    fig: go.Figure, frame: pd.DataFrame, split: str, metric: str, x_range: tuple[float, float]
) -> None:
    """Dotted horizontal lines at the mean final ``metric`` of backprop members (no γ), one per
    weight optimiser; ``meta["role"] = "bp"``."""
    rows = final_rows(frame, split)
    if rows.empty or "state_lr" not in rows.columns:
        return
    bp = rows[~np.isfinite(pd.to_numeric(rows["state_lr"], errors="coerce"))]
    bp = bp[~bp["member"].isin(_diverged_members(frame))]
    if bp.empty or metric not in bp.columns:
        return
    groups = bp.groupby("optimizer", sort=True) if "optimizer" in bp.columns else [("", bp)]
    for opt, grp in groups:
        mean, lo, hi = mean_ci(pd.to_numeric(grp[metric], errors="coerce").to_numpy(float))
        if not np.isfinite(mean):
            continue
        algo = (
            "/".join(sorted(str(a).upper() for a in grp["algorithm"].unique()))
            if "algorithm" in grp.columns
            else "BP"
        )
        name = f"{algo}, {optimizer_label(opt)}" if opt != "" else algo
        fig.add_trace(
            go.Scatter(
                x=list(x_range),
                y=[mean, mean],
                mode="lines",
                name=name,
                legendgroup=f"bp-{opt}",
                line=dict(color=optimizer_color(opt), dash="dot", width=1.5),
                meta={"role": "bp", "series": name},
                hovertemplate=f"{name} (no γ)<br>mean {metric} {mean:.4g}<br>95% CI [{lo:.4g}, "
                f"{hi:.4g}]<br>"
                f"n = {grp[metric].notna().sum()}<extra></extra>",
            )
        )


def accuracy_vs_gamma(frame: pd.DataFrame, split: str = "test") -> go.Figure:
    """Final-epoch accuracy vs γ (log x) for each weight optimiser, 95% CI over seeds (paper
    Fig. 6c).

    Each PC member (finite γ > 0) contributes its ``split`` row at its last epoch. There is one
    series per weight optimiser (SGD, AdamW …), split further by algorithm and by width when the
    frame holds several (their name then says so; widths/algorithms are never pooled, only
    seeds). Per series four traces, in order: CI lower bound, CI upper bound
    (``fill="tonexty"``), mean (``meta["role"]`` ``"ci_lower"``, ``"ci_upper"``, ``"mean"``, from
    :func:`pcdash.results.mean_ci`, clipped to [0, 1]), then the individual members as faint
    markers (``meta["role"] = "members"``, ``customdata`` = seed). Backprop members of the frame
    (no γ) appear as dotted horizontal reference lines (``meta["role"] = "bp"``). Diverged
    members are excluded and counted in the annotation named ``"diverged"``.
    """
    title = f"Final {split} accuracy vs γ (mean, 95% CI over seeds)"
    rows = _final_pc(frame, split)
    if rows.empty or "accuracy" not in rows.columns:
        return empty_figure(title=title)
    bad = _diverged_members(frame)
    ok = rows[
        ~rows["member"].isin(bad) & np.isfinite(pd.to_numeric(rows["accuracy"], errors="coerce"))
    ]
    fig = go.Figure()
    for name, color, dash, grp in _series(ok):
        stats = _stats(grp, "accuracy")
        if stats.empty:
            continue
        for trace in ci_traces(
            stats["state_lr"], stats, name, color, name, "accuracy", showlegend=True, dash=dash
        ):
            fig.add_trace(trace)
        fig.add_trace(_member_points(grp, "accuracy", name, color, "accuracy %{y:.4g}"))
    if not fig.data:
        fig = empty_figure("Every member diverged", title=title)
        _annotate_diverged(fig, frame, members=set(rows["member"]))
        return fig
    state_lrs = rows["state_lr"].to_numpy(float)
    _bp_reference(fig, frame, split, "accuracy", (float(state_lrs.min()), float(state_lrs.max())))
    fig.update_xaxes(type="log", title_text=GAMMA_AXIS, **_gamma_ticks(state_lrs))
    fig.update_yaxes(title_text=METRIC_TITLES["accuracy"])
    _annotate_diverged(fig, frame, members=set(rows["member"]))
    return style(fig, title, height=460, hovermode="closest")


def energy_ratio_vs_gamma(frame: pd.DataFrame, min_accuracy: float | None = None) -> go.Figure:
    """Energy imbalance ``energy_1 / energy_L`` (first hidden ÷ output) at the final epoch vs γ,
    log–log, per weight optimiser, geometric mean and 95% CI over seeds (paper Fig. 6d).

    The ratio is computed **per member** from its last epoch's energies (taken from the
    ``train`` rows, where they were measured; any split when there are none), then aggregated
    per γ. The aggregate is the **geometric** mean with a Student-t interval on ``log10(ratio)``
    mapped back (:func:`pcdash.results.mean_ci` on the logs): the ratios span orders of magnitude
    and are read on a log axis, where an arithmetic mean would be dominated by the largest seed
    and its symmetric interval can go below 0, which a log axis cannot show; the geometric mean
    is the centre of the points as drawn and its interval is multiplicative (always > 0).

    Series, traces and meta as in :func:`accuracy_vs_gamma` (series split by optimiser, and by
    algorithm/width where those vary). A grey dotted line (``meta["role"] = "balanced"``)
    marks a balanced ratio of 1. Members
    whose ratio is not finite and positive (a first-hidden energy of exactly 0) cannot be drawn
    on the log axis: they are left out and counted in an annotation named ``"nonpositive"``;
    diverged ones in ``"diverged"``. With ``min_accuracy``, members whose final test accuracy
    is below it (they did not train; PCX's Fig. 6d keeps only accuracy > 0.5) are left out and
    counted in an annotation named ``"untrained"``.
    """
    title = "Energy ratio, first hidden ÷ output, vs γ"
    if not has_rows(frame, ("member", "split", "epoch", "state_lr")):
        return empty_figure(title=title)
    cols = energy_columns(frame)
    if len(cols) < 2:
        return empty_figure("No per-layer energies in these results", title=title)
    rows = _final_pc(frame, "train")
    if rows.empty:  # no training rows: each member's latest row on any split
        latest = frame.sort_values("epoch", kind="stable").groupby("member").tail(1)
        rows = _final_pc(latest.assign(split="train"), "train")
    if rows.empty:
        return empty_figure(title=title)
    pc_members = set(rows["member"])
    bad = _diverged_members(frame)
    rows = rows[~rows["member"].isin(bad)].copy()
    untrained = 0
    if min_accuracy is not None:
        test = _final_pc(frame, "test")
        acc = pd.to_numeric(
            rows["member"].map(test.set_index("member")["accuracy"]), errors="coerce"
        )
        low = ~(acc >= min_accuracy)
        untrained = int(low.sum())
        rows = rows[~low]
    first = pd.to_numeric(rows[cols[0]], errors="coerce").to_numpy(float)
    last = pd.to_numeric(rows[cols[-1]], errors="coerce").to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rows["energy_ratio"] = first / last
    good = np.isfinite(rows["energy_ratio"]) & (rows["energy_ratio"] > 0)
    measured = np.isfinite(first) & np.isfinite(last)
    dropped = rows[~good & measured]
    ok = rows[good]
    fig = go.Figure()
    for name, color, dash, grp in _series(ok):
        stats = _stats(grp, "energy_ratio", geometric=True)
        for trace in ci_traces(
            stats["state_lr"], stats, name, color, name, "energy_ratio", showlegend=True, dash=dash
        ):
            trace.hovertemplate = (trace.hovertemplate or "").replace("mean", "geometric mean", 1)
            fig.add_trace(trace)
        fig.add_trace(_member_points(grp, "energy_ratio", name, color, "ratio %{y:.3e}"))
    if not fig.data:
        fig = empty_figure("No member with a measurable energy ratio", title=title)
    else:
        # A trace, not add_hline: a shape's annotation on a log axis would need log10 coordinates.
        gam = rows["state_lr"].to_numpy(float)
        fig.add_trace(
            go.Scatter(
                x=[float(gam.min()), float(gam.max())],
                y=[1.0, 1.0],
                mode="lines",
                name="balanced (ratio 1)",
                line=dict(color="#999", dash="dot", width=1),
                meta={"role": "balanced"},
                hoverinfo="skip",
            )
        )
        fig.update_xaxes(type="log", title_text=GAMMA_AXIS, **_gamma_ticks(rows["state_lr"]))
        fig.update_yaxes(type="log", title_text=RATIO_AXIS, exponentformat="power")
    if not dropped.empty:
        note_above(
            fig,
            f"{len(dropped)} member(s) with a zero or negative ratio left out (log axis)",
            "nonpositive",
            left=True,
            color="#666",
        )
    if untrained:
        note_above(
            fig,
            f"{untrained} member(s) below accuracy {min_accuracy:g} left out (did not train)",
            "untrained",
            left=True,
            color="#666",
            yshift=44 if len(dropped) else 28,
        )
    _annotate_diverged(fig, frame, members=pc_members)
    return style(fig, title, height=460, hovermode="closest")


# --------------------------------------------------------------------------- width × γ


def width_gamma_grid(
    frame: pd.DataFrame, optimizer: str | None = None, split: str = "test"
) -> go.Figure:
    """Width × γ stability grid (paper Fig. 7): mean final accuracy over seeds as a heatmap.

    One ``go.Heatmap`` per weight optimiser (``optimizer``: only that one; ``None``: every
    optimiser in the frame, side by side, SGD first), each with x = γ as categories
    (``f"{γ:g}"``, increasing), y = width as categories (increasing upwards) and
    ``z[i][j]`` = mean ``split`` accuracy at the last epoch over the non-diverged seeds of width
    ``i`` and γ ``j``. Cell text is the value (``"0.87"``); a cell whose seeds all diverged has
    ``z = NaN`` and text ``"div"``; a cell where only some diverged is averaged over the rest
    and marked ``"*"``; a cell with no member yet (a partial sweep) is NaN with no text.
    ``customdata[i][j]`` is ``[n used, n diverged]``. The colour scale is fixed to [0, 1] so
    panels compare. Backprop members (no γ) are left out.
    """
    title = f"Width × γ stability grid: mean final accuracy over seeds ({split})"
    if not has_rows(frame, ("member", "split", "epoch", "state_lr", "width")):
        return empty_figure(title=title)
    rows = _final_pc(frame, split)
    if rows.empty or "accuracy" not in rows.columns:
        return empty_figure(title=title)
    if "optimizer" not in rows.columns:
        rows = rows.assign(optimizer="")
    if optimizer is not None:
        rows = rows[rows["optimizer"].astype(str).str.lower() == str(optimizer).lower()]
        title = (
            f"Width × γ stability grid, {optimizer_label(optimizer)}: mean final accuracy over "
            f"seeds ({split})"
        )
        if rows.empty:
            return empty_figure(title=title)
    bad = _diverged_members(frame)
    rows = rows.assign(
        _bad=rows["member"].isin(bad), accuracy=pd.to_numeric(rows["accuracy"], errors="coerce")
    )
    order = {"sgd": 0, "adamw": 1}
    opts = sorted(rows["optimizer"].unique(), key=lambda o: (order.get(str(o).lower(), 2), str(o)))
    state_lrs = sorted(float(g) for g in rows["state_lr"].unique())
    widths = sorted(int(w) for w in rows["width"].dropna().unique())
    xcats, ycats = [f"{g:g}" for g in state_lrs], [str(w) for w in widths]
    fig = make_subplots(
        rows=1,
        cols=len(opts),
        shared_yaxes=True,
        horizontal_spacing=0.06,
        subplot_titles=[optimizer_label(o) if o != "" else "" for o in opts],
    )
    for k, opt in enumerate(opts):
        sel = rows[rows["optimizer"] == opt]
        z = np.full((len(widths), len(state_lrs)), np.nan)
        text = np.full(z.shape, "", dtype=object)
        custom = np.zeros(z.shape + (2,), dtype=int)
        for (w, g), cell in sel.groupby(["width", "state_lr"]):
            i, j = widths.index(int(w)), state_lrs.index(float(g))
            good = cell[~cell["_bad"] & np.isfinite(cell["accuracy"])]
            n_bad = int(cell["_bad"].sum())
            custom[i, j] = (len(good), n_bad)
            if good.empty:
                text[i, j] = "div" if n_bad else ""
                continue
            z[i, j] = float(good["accuracy"].mean())
            text[i, j] = f"{z[i, j]:.2f}" + ("*" if n_bad else "")
        name = optimizer_label(opt) if opt != "" else "PC"
        fig.add_trace(
            go.Heatmap(
                x=xcats,
                y=ycats,
                z=z,
                text=text,
                texttemplate="%{text}",
                customdata=custom,
                name=name,
                zmin=0.0,
                zmax=1.0,
                colorscale="Viridis",
                showscale=k == len(opts) - 1,
                xgap=1,
                ygap=1,
                colorbar=dict(title="accuracy"),
                meta={"optimizer": str(opt)},
                hovertemplate=(
                    f"{name}<br>width %{{y}}<br>γ = %{{x}}<br>mean accuracy %{{z:.4g}}<br>"
                    "%{customdata[0]} seed(s) used, %{customdata[1]} diverged<extra></extra>"
                ),
            ),
            row=1,
            col=k + 1,
        )
    fig.update_xaxes(
        type="category",
        categoryorder="array",
        categoryarray=xcats,
        title_text=GAMMA_AXIS,
        showgrid=False,
    )
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=ycats, showgrid=False)
    fig.update_yaxes(title_text="Hidden width (units)", col=1)
    _annotate_diverged(fig, frame, members=set(rows["member"]))
    return style(fig, title, height=max(320, 60 * len(widths) + 200), plot_bgcolor="#eeeeee")


WIDTH_COLORSCALE = "Viridis"


def accuracy_vs_gamma_by_width(frame: pd.DataFrame, num_classes: int) -> go.Figure:
    """Training stability (paper Fig. 7 and Fig. 16): final test accuracy vs γ, one line per
    width, one panel per weight optimiser (SGD first), as the paper draws it.

    Each point is the mean final test accuracy over the seeds of a (width, γ), a diverged seed
    counting as chance (it learned nothing); lines are coloured by width along
    :data:`WIDTH_COLORSCALE` (narrow dark, wide light), ``meta = {"optimizer", "width"}``. A
    dotted line (``meta["role"] = "trained_cut"``) marks
    :func:`pcdash.pcn.stability.trained_accuracy`; a ring (``meta["role"] = "stable"``) marks each
    width's largest γ such that every γ up to it trains
    (:func:`pcdash.pcn.stability.largest_stable_state_lr`). Backprop members (no γ) are left out.
    """
    title = (
        "Training stability: test accuracy vs γ per width (ring: the largest γ that still trains)"
    )
    if not has_rows(frame, ("member", "split", "epoch", "state_lr", "width", "optimizer", "seed")):
        return empty_figure(title=title)
    summary = member_summary(frame, num_classes)
    if summary.empty:
        return empty_figure(title=title)
    chance, cut = chance_accuracy(num_classes), trained_accuracy(num_classes)
    acc = (
        pd.to_numeric(summary["accuracy"], errors="coerce")
        .where(~summary["diverged"], chance)
        .fillna(chance)
    )
    summary = summary.assign(accuracy=acc)
    stable = largest_stable_state_lr(summary, num_classes).set_index(["optimizer", "width"])[
        "stable_state_lr"
    ]
    order = {"sgd": 0, "adamw": 1}
    opts = sorted(
        summary["optimizer"].unique(), key=lambda o: (order.get(str(o).lower(), 2), str(o))
    )
    widths = sorted(int(w) for w in summary["width"].unique())
    colors = sample_colorscale(
        WIDTH_COLORSCALE, list(np.linspace(0.0, 0.85, len(widths))) if len(widths) > 1 else [0.0]
    )
    state_lrs = sorted(float(g) for g in summary["state_lr"].unique())
    fig = make_subplots(
        rows=1,
        cols=len(opts),
        shared_yaxes=True,
        horizontal_spacing=0.06,
        subplot_titles=[f"PC, {optimizer_label(o)}" for o in opts],
    )
    for k, opt in enumerate(opts):
        for width, color in zip(widths, colors, strict=True):
            cell = summary[(summary["optimizer"] == opt) & (summary["width"] == width)]
            if cell.empty:
                continue
            mean = cell.groupby("state_lr")["accuracy"].mean().sort_index()
            name = f"width {width}"
            fig.add_trace(
                go.Scatter(
                    x=mean.index.to_numpy(float),
                    y=mean.to_numpy(float),
                    mode="lines+markers",
                    name=name,
                    legendgroup=name,
                    showlegend=k == 0,
                    line=dict(color=color, width=2),
                    marker=dict(color=color, size=6),
                    meta={"optimizer": str(opt), "width": width},
                    hovertemplate=f"{optimizer_label(opt)}, {name}<br>γ = %{{x:g}}<br>mean "
                    f"accuracy %{{y:.3f}}<extra></extra>",
                ),
                row=1,
                col=k + 1,
            )
            top = stable.get((opt, width), np.nan)
            if np.isfinite(top):
                fig.add_trace(
                    go.Scatter(
                        x=[top],
                        y=[float(mean.loc[top])],
                        mode="markers",
                        name=f"{name}: largest γ that trains",
                        legendgroup=name,
                        showlegend=False,
                        meta={"role": "stable", "optimizer": str(opt), "width": width},
                        marker=dict(
                            size=16, color="rgba(0,0,0,0)", line=dict(color=color, width=2.5)
                        ),
                        hovertemplate=f"{optimizer_label(opt)}, {name}<br>largest γ that trains: "
                        f"%{{x:g}}<extra></extra>",
                    ),
                    row=1,
                    col=k + 1,
                )
        fig.add_trace(
            go.Scatter(
                x=[state_lrs[0], state_lrs[-1]],
                y=[cut, cut],
                mode="lines",
                name=f"trained (accuracy ≥ {cut:.2f})",
                showlegend=k == 0,
                line=dict(color="#999", dash="dot", width=1),
                meta={"role": "trained_cut"},
                hoverinfo="skip",
            ),
            row=1,
            col=k + 1,
        )
    fig.update_xaxes(type="log", title_text=GAMMA_AXIS, **_gamma_ticks(state_lrs))
    fig.update_yaxes(range=[0, 1.02])
    fig.update_yaxes(title_text=METRIC_TITLES["accuracy"], col=1)
    _annotate_diverged(fig, frame, members=set(summary["member"]))
    return style(fig, title, height=440, hovermode="closest")


# --------------------------------------------------------------------------- over epochs (live)


def pcn_training_curves(frame: pd.DataFrame, metric: str = "accuracy") -> go.Figure:
    """Per-member ``metric`` over epochs: validation solid, train dashed, coloured by γ.

    γ is coloured on the fixed log scale :data:`GAMMA_COLORSCALE` (backprop members, with no γ,
    are grey); weight optimisers differ by marker (SGD circles, AdamW diamonds). One legend
    group per (optimiser, γ), named ``"AdamW, γ = 0.01"`` (``"AdamW, BP-SE"`` for backprop);
    clicking it toggles all its seeds, widths and both splits. Traces carry ``meta`` ``{member,
    optimizer, state_lr, seed, split}``; traces with no finite value are left out, and a diverged
    member's curve stops where it diverged and says so in its hover. Two legend-only traces
    explain the line styles.
    """
    title = f"Training curves: {metric}"
    if not has_rows(frame) or metric not in frame.columns:
        return empty_figure(title=title)
    rows = frame[frame["split"].isin(["train", "val"])]
    rows = rows[np.isfinite(pd.to_numeric(rows[metric], errors="coerce"))]
    if rows.empty:
        return empty_figure(title=title)
    for col, default in (("optimizer", ""), ("state_lr", np.nan), ("seed", 0)):
        if col not in rows.columns:
            rows = rows.assign(**{col: default})
    bad = _diverged_members(frame)
    widths = _varying(rows, "width")
    symbols = {"sgd": "circle", "adamw": "diamond", "adam": "square"}
    members = rows.drop_duplicates("member").copy()
    members["_g"] = pd.to_numeric(members["state_lr"], errors="coerce").fillna(np.inf)
    members = members.sort_values(["optimizer", "_g", "seed"])
    fig = go.Figure()
    shown: set[str] = set()
    for mem in members.itertuples():
        state_lr = float(mem.state_lr) if pd.notna(mem.state_lr) else np.nan
        color = gamma_color(state_lr)
        kind = (
            gamma_label(state_lr)
            if np.isfinite(state_lr)
            else str(getattr(mem, "algorithm", "BP")).upper()
        )
        group = f"{optimizer_label(mem.optimizer)}, {kind}" if mem.optimizer != "" else kind
        where = f", width {int(mem.width)}" if widths else ""
        add_member_curves(
            fig,
            rows,
            mem.member,
            metric,
            group=group,
            color=color,
            shown=shown,
            hover=f"{group}{where}, seed {int(mem.seed)}",
            tag=" (diverged)" if mem.member in bad else "",
            marker=dict(size=5, symbol=symbols.get(str(mem.optimizer).lower(), "circle")),
            meta={
                "member": int(mem.member),
                "optimizer": str(mem.optimizer),
                "state_lr": state_lr,
                "seed": int(mem.seed),
            },
        )
    return finish_training_curves(fig, rows, metric, title)


def energy_per_layer_over_epochs(frame: pd.DataFrame) -> go.Figure:
    """Per-layer energy at the end of inference (the epoch's last training batch) vs epoch, log y.

    Meant for watching a sweep train: the caller filters the frame to the subset of interest
    (say one optimiser and γ). Per layer, the value at an epoch is the **geometric** mean over
    the subset's non-diverged members, with a multiplicative 95% CI band (Student t on log10
    energy, :func:`pcdash.results.mean_ci`; zero width with one member): members with different
    γ differ by orders of magnitude, and the geometric mean is the centre of what a log axis
    shows. Per layer three traces (``meta["role"]`` ``"ci_lower"``, ``"ci_upper"``, ``"mean"``,
    ``meta["series"]`` the layer's name, ``"layer 1 (first hidden)"`` … ``"layer L (output)"``);
    energies ≤ 0 cannot enter a geometric mean and are skipped. Diverged members are counted in
    the annotation named ``"diverged"``.
    """
    title = "Energy per layer at the end of inference, over epochs (geometric mean over members)"
    if not has_rows(frame):
        return empty_figure(title=title)
    cols = energy_columns(frame)
    if not cols:
        return empty_figure("No per-layer energies in these results", title=title)
    rows = frame[frame["split"] == "train"]
    if rows.empty:
        rows = frame
    rows = rows.drop_duplicates(["member", "epoch"])
    bad = _diverged_members(frame)
    ok = rows[~rows["member"].isin(bad)]
    fig = go.Figure()
    num_layers = len(cols)
    for layer, (col, color) in enumerate(zip(cols, layer_colors(num_layers), strict=True), start=1):
        name = layer_label(layer, num_layers)
        stats = []
        for epoch, grp in ok.groupby("epoch", sort=True):
            vals = pd.to_numeric(grp[col], errors="coerce").to_numpy(float)
            vals = vals[np.isfinite(vals) & (vals > 0)]
            if vals.size:
                mean, lo, hi = (10.0**v for v in mean_ci(np.log10(vals)))
                stats.append(
                    {"epoch": int(epoch), "mean": mean, "lo": lo, "hi": hi, "n": int(vals.size)}
                )
        if not stats:
            continue
        stats = pd.DataFrame(stats)
        for trace in ci_traces(stats["epoch"], stats, name, color, name, "energy", showlegend=True):
            trace.meta = {**trace.meta, "layer": layer}
            fig.add_trace(trace)
    if not fig.data:
        fig = empty_figure("No finite energies yet", title=title)
        _annotate_diverged(fig, frame)
        return fig
    fig.update_xaxes(title_text="Epoch", dtick=1 if rows["epoch"].max() <= 20 else None)
    fig.update_yaxes(type="log", title_text=ENERGY_AXIS, exponentformat="power")
    _annotate_diverged(fig, frame)
    return style(fig, title, height=440, hovermode="closest")
