"""Figures on a page: built once per result (:func:`memo`), drawn with a toolbar that saves them
as PNG or SVG and the data behind them as CSV below (:func:`show_figure`)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from pcdash.figures.style import TITLE_CHARS, wrap_title
from pcdash.ui import state

EXPORT_FORMATS = ("png", "svg")
T = TypeVar("T")


def memo(key: Hashable, source: object, build: Callable[[], T]) -> T:
    """``build()``, kept in the session for as long as ``source`` stays the same object.

    Result frames are replaced, never changed (a live sweep hands over a new frame when epochs
    finish). Pages build their figures through this, so a rerun that leaves the frame as it was
    (a control touched, a redraw of the finished sweep) builds no figure again: figure building
    holds the GIL that a training thread needs between its chunks.
    """
    store = st.session_state.setdefault("_pcdash_memo", {})
    hit = store.get(key)
    if hit is not None and hit[0] is source:
        return hit[1]
    value = build()
    store[key] = (source, value)
    return value


def export_format_control() -> None:
    """The format of the chart toolbar's camera button (PNG or SVG), shared by every page."""
    fmt = state.select(
        "Chart download format",
        "img",
        EXPORT_FORMATS,
        "png",
        container=st.sidebar,
        help="The camera button in each chart's toolbar saves the figure in this format",
    )
    state.sync_url({"img": fmt})


def show_figure(
    fig: go.Figure,
    data: pd.DataFrame | None,
    name: str,
    *,
    key: str,
    title_chars: int = TITLE_CHARS,
    **kwargs,
) -> Any:
    """A chart whose toolbar saves it as PNG or SVG, with its data as CSV below it. Its title is
    wrapped at ``title_chars`` characters a line (:func:`~pcdash.figures.style.wrap_title`; the
    default fits a chart in one of two columns), since Plotly cuts a title at the chart's edge."""
    fmt = st.session_state.get("w_img", "png")
    config = {
        "displaylogo": False,
        "toImageButtonOptions": {"format": fmt, "scale": 2, "filename": name},
    }
    event = st.plotly_chart(
        wrap_title(fig, title_chars), config=config, key=key, theme=None, **kwargs
    )
    if data is not None and len(data):
        csv = memo(("csv", key), data, lambda: data.to_csv(index=False).encode())
        st.download_button(
            "Data (CSV)", csv, file_name=f"{name}.csv", mime="text/csv", key=f"{key}_csv"
        )
    return event
