"""Figures of latent spaces and reconstructions (pages 3 and 4; paper Fig. 3).

Pure functions: arrays, or a :class:`pcdash.experiments.cre_sweep.Snapshot` and its members table,
in; a
``plotly.graph_objects.Figure`` out. Style, colours and the "No data yet" figure are shared with
:mod:`pcdash.figures.cre`.

A snapshot only holds members that have finished an epoch without diverging; a λ whose member is
missing is left out of the 3-D views (and named in an annotation ``"missing"``) and shown as a
column of grey tiles in :func:`reconstruction_grid`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pcdash.figures.cre import lam_label
from pcdash.figures.style import CLASS_COLORS, TEMPLATE_OBJ, empty_figure, note_above

if TYPE_CHECKING:
    from pcdash.experiments.cre_sweep import Snapshot

CAMERAS: dict[str, dict[str, dict[str, float]]] = {
    "iso": {"eye": {"x": 1.5, "y": 1.5, "z": 1.2}, "up": {"x": 0, "y": 0, "z": 1}},
    "top": {"eye": {"x": 0, "y": 0, "z": 2.4}, "up": {"x": 0, "y": 1, "z": 0}},
    "front": {"eye": {"x": 0, "y": -2.4, "z": 0}, "up": {"x": 0, "y": 0, "z": 1}},
    "side": {"eye": {"x": 2.4, "y": 0, "z": 0}, "up": {"x": 0, "y": 0, "z": 1}},
}
MISSING_TILE = 235  # grey level of a tile whose image is missing (NaN)


def _camera(camera: str | Mapping[str, Any]) -> dict:
    if isinstance(camera, Mapping):
        return dict(camera)
    if camera not in CAMERAS:
        raise ValueError(f"unknown camera {camera!r}; choose from {', '.join(CAMERAS)}")
    return CAMERAS[camera]


def project(z: np.ndarray, k: int) -> tuple[np.ndarray, list[str]]:
    """``z`` (n, d) as ``k`` columns and their axis titles.

    d > k: the first k principal components (titles ``"PC1 (62% var.)"`` ...); d ≤ k: the
    coordinates themselves (``"z1"`` ...), padded with zero columns titled ``"z3 (≡ 0: dim(z) =
    2)"``.
    """
    z = np.asarray(z, dtype=np.float64).reshape(len(z), -1)
    n, d = z.shape
    if d > k:
        from sklearn.decomposition import PCA  # imported here: it takes a while

        m = min(k, n)
        with np.errstate(all="ignore"):  # constant codes (dead units) give 0/0 variance ratios
            pca = PCA(n_components=m, svd_solver="full").fit(z)
            coords, ratios = pca.transform(z), pca.explained_variance_ratio_
        titles = [
            f"PC{i + 1} ({r:.0%} var.)" if np.isfinite(r) else f"PC{i + 1}"
            for i, r in enumerate(ratios)
        ]
        titles += [f"PC{i + 1} (≡ 0: {n} points)" for i in range(m, k)]
    else:
        coords, m = z, d
        titles = [f"z{i + 1}" for i in range(d)] + [
            f"z{i + 1} (≡ 0: dim(z) = {d})" for i in range(d, k)
        ]
    if m < k:
        coords = np.concatenate([coords, np.zeros((n, k - m))], axis=1)
    return coords, titles


def _names(class_names: Sequence[str] | None, c: int) -> str:
    return str(class_names[c]) if class_names is not None and 0 <= c < len(class_names) else str(c)


def _class_traces(
    coords: np.ndarray,
    y: np.ndarray,
    class_names: Sequence[str] | None,
    ids: np.ndarray,
    *,
    scene: str | None = None,
    showlegend: bool = True,
) -> list:
    """One trace per class present in ``y`` (sorted), coloured from :data:`CLASS_COLORS`,
    ``customdata`` = point id; 3-D when ``coords`` has 3 columns."""
    traces = []
    for c in np.unique(y):
        sel = y == c
        name, color = _names(class_names, int(c)), CLASS_COLORS[int(c) % len(CLASS_COLORS)]
        common = dict(
            name=name,
            legendgroup=f"class-{int(c)}",
            showlegend=showlegend,
            customdata=ids[sel],
            hovertemplate=f"{name}<br>point #%{{customdata}}<extra></extra>",
        )
        if coords.shape[1] == 3:
            traces.append(
                go.Scatter3d(
                    x=coords[sel, 0],
                    y=coords[sel, 1],
                    z=coords[sel, 2],
                    mode="markers",
                    marker=dict(size=3, color=color, opacity=0.85),
                    scene=scene,
                    **common,
                )
            )
        else:
            traces.append(
                go.Scatter(
                    x=coords[sel, 0],
                    y=coords[sel, 1],
                    mode="markers",
                    marker=dict(size=7, color=color, opacity=0.85),
                    **common,
                )
            )
    return traces


def _ranges(coords: Sequence[np.ndarray]) -> list[list[float]]:
    """Per-axis [lo, hi] over all ``coords``, with a 5% margin (of the widest axis for a constant
    one)."""
    stacked = np.concatenate([c for c in coords if len(c)], axis=0)
    lo, hi = stacked.min(axis=0), stacked.max(axis=0)
    span = hi - lo
    widest = float(span.max()) if span.size and span.max() > 0 else 20.0
    pad = np.where(
        span > 0, span * 0.05, widest * 0.05
    )  # a constant (dead) axis gets a visible range
    return [[float(a), float(b)] for a, b in zip(lo - pad, hi + pad, strict=True)]


def _scene(
    titles: Sequence[str], camera: dict, ranges: Sequence[Sequence[float]] | None = None
) -> dict:
    axes = {
        f"{a}axis": dict(title=dict(text=t), **({"range": list(ranges[i])} if ranges else {}))
        for i, (a, t) in enumerate(zip("xyz", titles, strict=True))
    }
    return dict(camera=camera, aspectmode="cube", **axes)


def latent_scatter_3d(
    z: np.ndarray,
    y: np.ndarray,
    class_names: Sequence[str] | None,
    title: str = "",
    camera: str | Mapping[str, Any] = "iso",
) -> go.Figure:
    """3-D scatter of latent codes ``z`` (n, d), one trace per class (``customdata`` = row index).

    d > 3 is projected on its first three principal components (axis titles ``"PC1 …"``);
    d < 3 is padded with zero axes. ``camera`` is a key of :data:`CAMERAS` or a plotly camera dict.
    """
    z, y = np.asarray(z), np.asarray(y)
    cam = _camera(camera)
    if len(z) == 0:
        return empty_figure(title=title)
    coords, titles = project(z, 3)
    fig = go.Figure(_class_traces(coords, y, class_names, np.arange(len(z))))
    fig.update_layout(
        scene=_scene(titles, cam),
        legend=dict(title="class", itemsizing="constant"),
        uirevision="latent",
        height=560,
        margin=dict(l=0, r=0, t=50 if title else 10, b=0),
    )
    return fig.update_layout(template=TEMPLATE_OBJ, title=title or None)


def _pick_members(
    snapshot: Snapshot, members: pd.DataFrame, seed: int, latent_dim: int | None
) -> tuple[int | None, list[tuple[float, int | None]]]:
    """``(dim, [(λ, member id or None if not in the snapshot), ...])`` of the CRE members with
    ``seed`` at ``latent_dim`` (``None``: 3 if present, else the smallest), sorted by λ."""
    m = members[members["model"] == "cre"] if "model" in members.columns else members
    dims = (
        sorted(int(d) for d in m["latent_dim"].dropna().unique())
        if "latent_dim" in m.columns
        else []
    )
    if not dims:
        return None, []
    dim = int(latent_dim) if latent_dim is not None else (3 if 3 in dims else dims[0])
    m = m[(m["latent_dim"] == dim) & (m["seed"] == seed)].sort_values("lam")
    return dim, [
        (float(r.lam), int(r.member) if int(r.member) in snapshot.z else None)
        for r in m.itertuples()
    ]


def _annotate_missing(fig: go.Figure, picked: list[tuple[float, int | None]]) -> None:
    missing = [lam_label(lam) for lam, mid in picked if mid is None]
    if missing:
        text = f"not available yet (training or diverged): {', '.join(missing)}"
        note_above(fig, text, "missing")


def latent_small_multiples(
    snapshot: Snapshot,
    members: pd.DataFrame,
    seed: int = 0,
    latent_dim: int | None = None,
    class_names: Sequence[str] | None = None,
    camera: str | Mapping[str, Any] = "iso",
    max_cols: int = 4,
) -> go.Figure:
    """One 3-D scene per λ (increasing, wrapping after ``max_cols``) of the members with ``seed``
    at ``latent_dim``, all scenes with the same axis ranges and camera; legend toggles a class in
    every scene. Members with d > 3 are each projected on their own first 3 principal components.
    """
    dim, picked = _pick_members(snapshot, members, seed, latent_dim)
    title = (
        f"Latent space per λ (dim(z) = {dim}, seed {seed})"
        if dim is not None
        else "Latent space per λ"
    )
    shown = [(lam, mid) for lam, mid in picked if mid is not None]
    if not shown:
        return empty_figure(title=title)
    cols = max(1, min(len(shown), max_cols))
    rows = math.ceil(len(shown) / cols)
    specs = [
        [{"type": "scene"} if r * cols + c < len(shown) else None for c in range(cols)]
        for r in range(rows)
    ]
    fig = make_subplots(
        rows=rows,
        cols=cols,
        specs=specs,
        subplot_titles=[lam_label(lam) for lam, _ in shown],
        horizontal_spacing=0.01,
        vertical_spacing=0.06,
    )
    y = np.asarray(snapshot.y)
    projected = [project(snapshot.z[mid], 3) for _, mid in shown]
    ranges = _ranges([c for c, _ in projected])
    cam = _camera(camera)
    if "eye" in cam:  # step back a little: small scenes otherwise clip their tick labels
        cam = {**cam, "eye": {k: v * 1.25 for k, v in cam["eye"].items()}}
    for i, (coords, titles) in enumerate(projected):
        scene = "scene" if i == 0 else f"scene{i + 1}"
        for tr in _class_traces(
            coords, y, class_names, np.arange(len(y)), scene=scene, showlegend=i == 0
        ):
            fig.add_trace(tr)
        fig.layout[scene].update(_scene(titles, cam, ranges))
    fig.update_scenes(
        xaxis_tickfont_size=9,
        yaxis_tickfont_size=9,
        zaxis_tickfont_size=9,
        xaxis_title_font_size=11,
        yaxis_title_font_size=11,
        zaxis_title_font_size=11,
    )
    _annotate_missing(fig, picked)
    fig.update_layout(
        template=TEMPLATE_OBJ,
        title=title,
        height=380 * rows + 60,
        legend=dict(title="class", itemsizing="constant"),
        margin=dict(l=0, r=0, t=80, b=30),
    )
    return fig


def latent_animation(
    snapshot: Snapshot,
    members: pd.DataFrame,
    seed: int = 0,
    latent_dim: int | None = None,
    class_names: Sequence[str] | None = None,
    camera: str | Mapping[str, Any] = "iso",
    frame_ms: int = 800,
) -> go.Figure:
    """A 3-D latent scatter with one plotly frame per λ (named ``"λ = …"``, increasing), a slider
    and play/pause buttons; axis ranges are fixed over all frames. The figure's own data is the
    first λ's frame."""
    dim, picked = _pick_members(snapshot, members, seed, latent_dim)
    title = (
        f"Latent space as λ changes (dim(z) = {dim}, seed {seed})"
        if dim is not None
        else "Latent space as λ changes"
    )
    shown = [(lam, mid) for lam, mid in picked if mid is not None]
    if not shown:
        return empty_figure(title=title)
    y, ids = np.asarray(snapshot.y), np.arange(len(snapshot.y))
    projected = [project(snapshot.z[mid], 3) for _, mid in shown]
    ranges = _ranges([c for c, _ in projected])
    frames = [
        go.Frame(
            name=lam_label(lam),
            data=_class_traces(coords, y, class_names, ids),
            layout=go.Layout(title_text=f"{title}: {lam_label(lam)}"),
        )
        for (lam, _), (coords, _t) in zip(shown, projected, strict=True)
    ]
    anim = dict(
        mode="immediate", frame=dict(duration=frame_ms, redraw=True), transition=dict(duration=0)
    )
    fig = go.Figure(data=frames[0].data, frames=frames)
    fig.update_layout(
        template=TEMPLATE_OBJ,
        title=f"{title}: {lam_label(shown[0][0])}",
        height=600,
        uirevision="latent",
        scene=_scene(projected[0][1], _camera(camera), ranges),
        legend=dict(title="class", itemsizing="constant"),
        updatemenus=[
            dict(
                type="buttons",
                direction="left",
                x=0,
                y=0,
                xanchor="left",
                yanchor="top",
                pad=dict(t=40, r=10),
                buttons=[
                    dict(
                        label="▶ Play", method="animate", args=[None, {**anim, "fromcurrent": True}]
                    ),
                    dict(
                        label="❚❚ Pause",
                        method="animate",
                        args=[[None], dict(mode="immediate", frame=dict(duration=0, redraw=False))],
                    ),
                ],
            )
        ],
        sliders=[
            dict(
                active=0,
                x=0.15,
                len=0.85,
                y=0,
                yanchor="top",
                currentvalue=dict(prefix=""),
                steps=[
                    dict(label=f"{lam:g}", method="animate", args=[[lam_label(lam)], anim])
                    for lam, _ in shown
                ],
            )
        ],
        margin=dict(l=0, r=0, t=50, b=80),
    )
    _annotate_missing(fig, picked)
    return fig


def latent_2d(
    z: np.ndarray,
    y: np.ndarray,
    class_names: Sequence[str] | None,
    point_ids: Sequence[int] | None = None,
    title: str = "",
) -> go.Figure:
    """2-D scatter of ``z`` (first two principal components when d > 2) for selecting points.

    One trace per class; every point's ``customdata`` is its id from ``point_ids`` (default: its
    row index), so a selection from ``st.plotly_chart(on_select="rerun")`` names the points.
    ``dragmode`` is ``"lasso"``.
    """
    z, y = np.asarray(z), np.asarray(y)
    if len(z) == 0:
        return empty_figure(title=title)
    ids = np.arange(len(z)) if point_ids is None else np.asarray(point_ids)
    if len(ids) != len(z):
        raise ValueError(f"point_ids has {len(ids)} entries for {len(z)} points")
    coords, titles = project(z, 2)
    fig = go.Figure(_class_traces(coords, y, class_names, ids))
    fig.update_xaxes(title_text=titles[0])
    fig.update_yaxes(title_text=titles[1])
    fig.update_layout(
        template=TEMPLATE_OBJ,
        title=title or None,
        dragmode="lasso",
        clickmode="event+select",
        legend=dict(title="class"),
        height=480,
    )
    return fig


def _to_uint8_rgb(tile: np.ndarray) -> np.ndarray:
    """An (H, W), (H, W, 1) or (H, W, 3) image in [-1, 1] as (H, W, 3) uint8; NaN becomes grey."""
    tile = np.asarray(tile, dtype=np.float64)
    if tile.ndim == 3 and tile.shape[-1] == 1:
        tile = tile[..., 0]
    if tile.ndim == 2:
        tile = np.repeat(tile[..., None], 3, axis=-1)
    if tile.ndim != 3 or tile.shape[-1] != 3:
        raise ValueError(f"images must be (H, W), (H, W, 1) or (H, W, 3); got {tile.shape}")
    out = np.clip(np.round((tile + 1.0) * 127.5), 0, 255)
    return np.where(np.isfinite(tile), out, MISSING_TILE).astype(np.uint8)


def image_grid(
    images: np.ndarray, *, row_labels: Sequence[str], col_labels: Sequence[str], title: str = ""
) -> go.Figure:
    """Tile ``images`` (n_rows, n_cols, H, W[, C]) with pixels in [-1, 1] into one ``go.Image``.

    Grey-scale for C = 1 (or no channel axis), RGB for C = 3; pixels map linearly to 0..255 and
    NaN tiles show light grey. Tiles are separated by white gaps of ``max(1, H // 8)`` pixels.
    Column labels sit on top, row labels on the left. ``layout.meta`` records
    ``{"grid": [n_rows, n_cols], "tile": [H, W], "gap": gap}``.
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim not in (4, 5) or 0 in images.shape[:2]:
        return empty_figure(title=title)
    n_rows, n_cols, h, w = images.shape[:4]
    if len(row_labels) != n_rows or len(col_labels) != n_cols:
        raise ValueError(
            f"need {n_rows} row labels and {n_cols} column labels; got {len(row_labels)} and "
            f"{len(col_labels)}"
        )
    gap = max(1, h // 8)
    canvas = np.full((n_rows * (h + gap) - gap, n_cols * (w + gap) - gap, 3), 255, dtype=np.uint8)
    for r in range(n_rows):
        for c in range(n_cols):
            canvas[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = (
                _to_uint8_rgb(images[r, c])
            )
    fig = go.Figure(go.Image(z=canvas, hoverinfo="skip"))
    scale = max(1.0, 64.0 / max(h, w))
    fig.update_xaxes(
        tickvals=[c * (w + gap) + (w - 1) / 2 for c in range(n_cols)],
        ticktext=list(col_labels),
        side="top",
        showgrid=False,
        zeroline=False,
        ticks="",
    )
    fig.update_yaxes(
        tickvals=[r * (h + gap) + (h - 1) / 2 for r in range(n_rows)],
        ticktext=list(row_labels),
        showgrid=False,
        zeroline=False,
        ticks="",
        scaleanchor="x",
    )
    fig.update_layout(
        template=TEMPLATE_OBJ,
        title=title or None,
        meta={"grid": [n_rows, n_cols], "tile": [h, w], "gap": gap},
        width=int(canvas.shape[1] * scale) + 140,
        height=int(canvas.shape[0] * scale) + 110,
        margin=dict(l=110, r=20, t=90 if title else 50, b=10),
    )
    return fig


def reconstruction_grid(
    snapshot: Snapshot,
    members: pd.DataFrame,
    seed: int = 0,
    per_class: int = 1,
    latent_dim: int | None = None,
    class_names: Sequence[str] | None = None,
) -> go.Figure:
    """Inputs and their reconstructions per λ (paper Fig. 3 bottom): the first column holds
    ``per_class`` inputs of every class in the snapshot (rows), each further column one λ's
    reconstructions by the member with ``seed`` at ``latent_dim`` (``None``: 3 if present, else
    the smallest). A λ without a member in the snapshot yet gets grey tiles and "(n/a)".
    Toy (non-image) datasets give a message figure."""
    dim, picked = _pick_members(snapshot, members, seed, latent_dim)
    title = (
        f"Inputs and reconstructions per λ (dim(z) = {dim}, seed {seed})"
        if dim is not None
        else "Reconstructions"
    )
    x, y = np.asarray(snapshot.x), np.asarray(snapshot.y)
    if x.ndim < 3:
        return empty_figure(
            "Reconstructions are shown as images for image datasets only.", title=title
        )
    if len(x) == 0 or not picked:
        return empty_figure(title=title)
    picks: list[int] = []
    row_labels = []
    for c in np.unique(y):
        for k, i in enumerate(np.flatnonzero(y == c)[:per_class]):
            picks.append(i)
            row_labels.append(_names(class_names, int(c)) + (f" #{k + 1}" if per_class > 1 else ""))
    idx = np.asarray(picks)
    columns = [x[idx]]
    for _, mid in picked:
        columns.append(
            np.asarray(snapshot.x_hat[mid])[idx].reshape(x[idx].shape)
            if mid is not None
            else np.full(x[idx].shape, np.nan)
        )
    col_labels = ["input"] + [
        lam_label(lam) + ("" if mid is not None else " (n/a)") for lam, mid in picked
    ]
    return image_grid(
        np.stack(columns, axis=1), row_labels=row_labels, col_labels=col_labels, title=title
    )
