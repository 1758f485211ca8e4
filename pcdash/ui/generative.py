"""What the four generative pages share (pcdash.experiments' autoencoder, MCPC, associative
memory and OOD parts): the paper notes of a part, a configuration checked with its message
shown, and figures built once per result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from pcdash.data import dataset_available
from pcdash.errors import PcdashError
from pcdash.figures.generative import training_curves
from pcdash.figures.style import TITLE_CHARS
from pcdash.paper.pages import TABS
from pcdash.ui import state
from pcdash.ui.export import memo, show_figure

IMAGE_SETS = tuple(
    d for d in ("digits", "mnist", "fashion_mnist") if d == "digits" or dataset_available(d)
)
PRESET_LABELS = {"quick": "Quick (seconds)", "paper": "Paper setting"}


def curves(
    result, part: str, metric: str = "loss", split: str = "train", *, live: bool = False, **titles
) -> None:
    """The training curves of every member (``metric`` on ``split``), with their data; while
    the part trains (``live``) the same curves are titled "Training (live)"."""
    if live:
        titles = {"title": "Training (live)"}
    fig = memo(
        (part, "curves", metric, live),
        result.frame,
        lambda: training_curves(result.frame, metric, split=split, **titles),
    )
    name = f"{part}_live" if live else f"{part}_curves"
    show_figure(fig, result.frame, name, key=name)


def figure(
    config,
    tag: str,
    result,
    build: Callable[[], Any],
    data,
    name: str,
    key: str,
    title_chars: int = TITLE_CHARS,
) -> None:
    """A figure of ``result``, built once per result and configuration (``title_chars``: see
    :func:`~pcdash.ui.export.show_figure`)."""
    show_figure(
        memo((config.key(), tag), result, build), data, name, key=key, title_chars=title_chars
    )


def paper_notes(part: str) -> None:
    """Which figure of the paper the part shows, and how its settings differ (from
    pcdash.paper.pages)."""
    notes = TABS[part]
    st.caption(f"**Paper:** {notes.shows}")
    with st.expander(
        "Figures and settings: which panel is which paper figure, and what differs from the paper"
    ):
        st.markdown(notes.panels_markdown())
        st.table(notes.settings_frame().set_index("setting"))


def checked(make: Callable[[], Any]) -> Any:
    """``make().validate()``, or None after showing why it cannot run."""
    try:
        return make().validate()
    except PcdashError as err:
        state.error(err)
        return None
