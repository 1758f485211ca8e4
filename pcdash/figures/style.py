"""What every figure of pcdash shares: the template and colours, the empty figure a builder
returns while there is no data, small helpers (RGBA colours, the diverged mask, the 95%
confidence-interval traces) and the extraction of a figure's data for CSV export
(:func:`figure_data`). The figure modules (:mod:`~pcdash.figures.cre`,
:mod:`~pcdash.figures.latent`, :mod:`~pcdash.figures.pcn`, :mod:`~pcdash.figures.pc_compare`,
:mod:`~pcdash.figures.generative`) import from here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import qualitative

TEMPLATE = "plotly_white"
# The template object, looked up once: by name it costs a registry lookup and a copy per figure.
TEMPLATE_OBJ = pio.templates[TEMPLATE]
BLUE = "#1f77b4"
ORANGE = "#ff7f0e"
CLASS_COLORS: tuple[str, ...] = tuple(qualitative.D3)
METRIC_BOUNDS = {"accuracy": (0.0, 1.0), "mse": (0.0, None), "ce": (0.0, None)}
NO_DATA = "No data yet"


def empty_figure(message: str = NO_DATA, title: str = "") -> go.Figure:
    """A blank figure with ``message`` centred in it (annotation named ``"no-data"``)."""
    fig = go.Figure()
    fig.add_annotation(
        text=message,
        name="no-data",
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        showarrow=False,
        font=dict(size=16, color="#666"),
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(template=TEMPLATE_OBJ, title=title or None, height=320)
    return fig


def rgba(color: str, alpha: float) -> str:
    """``color`` (``#rrggbb`` or ``rgb(r, g, b)``) with opacity ``alpha``."""
    if color.startswith("#"):
        r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    else:
        r, g, b = (
            int(float(v)) for v in color[color.index("(") + 1 : color.index(")")].split(",")[:3]
        )
    return f"rgba({r}, {g}, {b}, {alpha})"


# Characters of a title line that fit a chart in one of two columns on an 1,100 px wide window:
# 312 px less the title's 16 px inset, at 9-10 px a character of Plotly's 17 px title font
# (measured in Chromium: 51 characters overflowed such a chart by 150 px, and lines of 33
# characters by up to 14 px).
TITLE_CHARS = 30


def wrap_text(text: str, width: int = TITLE_CHARS) -> str:
    """``text`` with each of its lines (``<br>``-separated) broken at spaces into lines of at most
    ``width`` characters where the words allow; markup tags count as characters. Wrapping a
    wrapped text changes nothing."""
    out = []
    for part in text.split("<br>"):
        line = ""
        for word in part.split(" "):
            if line and len(line) + 1 + len(word) > width:
                out.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        out.append(line)
    return "<br>".join(out)


def wrap_title(fig: go.Figure, width: int = TITLE_CHARS) -> go.Figure:
    """``fig`` with its title wrapped (:func:`wrap_text`; Plotly draws a title on one line, cut
    at the chart's edge). A title of several lines hangs from the figure's top, its first line
    24 px down (measured in Chromium: at 12 px the first line's top was cut by 4 px), and the
    top margin grows to hold it. Returns ``fig``, changed in place."""
    title = fig.layout.title.text
    if title:
        wrapped = wrap_text(title, width)
        if wrapped != title:
            fig.update_layout(
                title=dict(
                    text=wrapped, automargin=True, yref="container", y=1, yanchor="top", pad_t=24
                )
            )
    return fig


def style(fig: go.Figure, title: str, **layout) -> go.Figure:
    """The shared template and ``title`` (none when empty) on ``fig``, with ``layout``."""
    fig.update_layout(template=TEMPLATE_OBJ, title=title or None, **layout)
    return fig


def has_rows(
    frame: pd.DataFrame | None, columns: Iterable[str] = ("member", "split", "epoch")
) -> bool:
    """``frame`` has rows and the ``columns`` a builder needs."""
    return frame is not None and not frame.empty and all(c in frame.columns for c in columns)


def is_diverged(rows: pd.DataFrame) -> pd.Series:
    """The rows of diverged members (False where the frame has no ``diverged`` column)."""
    return (
        rows["diverged"].fillna(False).astype(bool)
        if "diverged" in rows.columns
        else pd.Series(False, index=rows.index)
    )


WARNING_RED = "#b00020"


def note_above(
    fig: go.Figure,
    text: str,
    name: str,
    *,
    left: bool = False,
    color: str = WARNING_RED,
    yshift: int = 28,
) -> None:
    """A one-line note just above the plot area, at its top right (or left): what a figure
    leaves out (diverged, missing or untrained members)."""
    fig.add_annotation(
        text=text,
        name=name,
        xref="paper",
        yref="paper",
        x=0.0 if left else 1.0,
        y=1.0,
        yshift=yshift,
        xanchor="left" if left else "right",
        yanchor="bottom",
        showarrow=False,
        font=dict(color=color, size=12),
    )


def note_diverged(fig: go.Figure, count: int, who: str) -> None:
    """The red note above a figure's top right naming the ``count`` diverged members left out."""
    note_above(fig, f"{count} diverged (excluded): {who}", "diverged")


def ci_traces(
    x: Sequence,
    stats: pd.DataFrame,
    name: str,
    color: str,
    group: str,
    metric: str,
    showlegend: bool,
    dash: str = "solid",
    band: bool = True,
) -> list[go.Scatter]:
    """Lower bound, upper bound (filled down to the lower one) and mean line of a 95% CI.

    ``stats`` has columns ``mean, lo, hi, n``; the band is clipped to the metric's range
    (:data:`METRIC_BOUNDS`: accuracy in [0, 1], errors ≥ 0), since with two or three seeds a
    Student-t interval easily leaves it. Traces carry ``meta`` ``{"role": "ci_lower" |
    "ci_upper" | "mean", "metric": metric, "series": name}``.
    """
    x = list(x)
    lo_bound, hi_bound = METRIC_BOUNDS.get(metric, (None, None))
    stats = stats.assign(
        lo=stats["lo"].clip(lower=lo_bound, upper=hi_bound),
        hi=stats["hi"].clip(lower=lo_bound, upper=hi_bound),
    )
    traces = []
    if band:
        common = dict(
            x=x,
            mode="lines",
            line=dict(width=0, color=color),
            hoverinfo="skip",
            showlegend=False,
            legendgroup=group,
        )
        traces.append(
            go.Scatter(
                y=stats["lo"].to_numpy(float),
                name=f"{name} 95% CI lower",
                meta={"role": "ci_lower", "metric": metric, "series": name},
                **common,
            )
        )
        traces.append(
            go.Scatter(
                y=stats["hi"].to_numpy(float),
                name=f"{name} 95% CI upper",
                fill="tonexty",
                fillcolor=rgba(color, 0.2),
                meta={"role": "ci_upper", "metric": metric, "series": name},
                **common,
            )
        )
    custom = np.stack([stats["lo"], stats["hi"], stats["n"]], axis=-1) if len(stats) else None
    traces.append(
        go.Scatter(
            x=x,
            y=stats["mean"].to_numpy(float),
            name=name,
            mode="lines+markers",
            legendgroup=group,
            showlegend=showlegend,
            line=dict(color=color, dash=dash, width=2),
            marker=dict(color=color, size=7),
            customdata=custom,
            meta={"role": "mean", "metric": metric, "series": name},
            hovertemplate=(
                f"{name}<br>x %{{x}}<br>mean %{{y:.4g}}<br>95% CI [%{{customdata[0]:.4g}}, "
                "%{customdata[1]:.4g}]<br>n = %{customdata[2]}<extra></extra>"
            ),
        )
    )
    return traces


def figure_data(fig: go.Figure) -> pd.DataFrame:
    """The points behind a figure's scatter-like and box traces, one row per point.

    Columns: ``frame`` (animation frame name; ``""`` without frames, and an animated figure's own
    data, a copy of its first frame, is not repeated), ``trace``
    (index), ``name``, ``type``, ``subplot`` (``"x2y2"``, ``"scene3"`` ...), then ``x``, ``y``,
    ``z``, ``color`` (per-point ``marker.color`` arrays, e.g. λ) and ``customdata_<i>`` where the
    trace has them. Traces without per-point arrays (``go.Image``, legend-only placeholders)
    are skipped; a box trace gives its raw values, not its quartiles.
    """
    blocks = []
    frames = [(f.name or str(i), f.data or ()) for i, f in enumerate(fig.frames or ())] or [
        ("", fig.data)
    ]
    for frame_name, traces in frames:
        for i, tr in enumerate(traces):
            if tr.type not in ("scatter", "scattergl", "scatter3d", "box"):
                continue
            cols = {}
            for axis in ("x", "y", "z"):
                values = getattr(tr, axis, None)
                if values is not None and not isinstance(values, str) and np.ndim(values) == 1:
                    cols[axis] = list(values)
            color = getattr(getattr(tr, "marker", None), "color", None)
            if color is not None and not isinstance(color, str) and np.ndim(color) == 1:
                cols["color"] = list(color)
            if tr.customdata is not None:
                custom = np.asarray(tr.customdata, dtype=object)
                custom = custom.reshape(len(custom), -1) if custom.ndim else custom.reshape(1, 1)
                for j in range(custom.shape[1]):
                    cols[f"customdata_{j}"] = list(custom[:, j])
            n = max((len(v) for v in cols.values()), default=0)
            cols = {k: v for k, v in cols.items() if len(v) == n}
            if n == 0 or all(v is None for v in cols.get("x", [None]) + cols.get("y", [None])):
                continue
            subplot = tr.scene if tr.type == "scatter3d" else f"{tr.xaxis or 'x'}{tr.yaxis or 'y'}"
            blocks.append(
                pd.DataFrame(
                    {
                        "frame": frame_name,
                        "trace": i,
                        "name": tr.name or "",
                        "type": tr.type,
                        "subplot": subplot or "scene",
                        **cols,
                    }
                )
            )
    if not blocks:
        return pd.DataFrame(columns=["frame", "trace", "name", "type", "subplot", "x", "y"])
    return pd.concat(blocks, ignore_index=True)
