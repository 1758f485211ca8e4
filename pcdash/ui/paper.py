"""How a page says what of its paper it shows (from :mod:`pcdash.paper_notes`), and presets
that load a paper's setting into the page's controls with one click."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from pcdash.paper_notes import PageNotes


def panel_header(notes: PageNotes, panel: str, *, extra: str = "") -> None:
    """A subheader naming the panel and the paper figure it shows, and the panel's note."""
    p = notes.panels[panel]
    st.subheader(p.title)
    st.caption(f"**{p.figure}.** " + " ".join(t for t in (p.note, extra) if t))


def settings_expander(notes: PageNotes, *, expanded: bool = False) -> None:
    """The paper's settings next to the page's defaults, and the paper's claims we test."""
    with st.expander(f"Settings and claims vs the paper ({notes.paper})", expanded=expanded):
        st.table(notes.settings_frame().set_index("setting"))  # a table wraps its long cells
        for claim in notes.claims:
            mark = "**reproduced**" if claim.reproduced else "**not reproduced**"
            st.markdown(f"- *“{claim.quote}”* — {mark}: {claim.evidence}")


def _apply(values: Mapping[str, Any]) -> None:
    for name, value in values.items():  # the remembered values: drawn into the widgets on this rerun
        st.session_state[f"v_{name}"] = value


def preset_buttons(presets: Mapping[str, Mapping[str, Any]], *, key: str, container=st) -> None:
    """One button per preset; pressing it sets the named controls (``state`` names) to its values."""
    for i, (label, values) in enumerate(presets.items()):
        container.button(label, key=f"{key}_preset_{i}", on_click=_apply, args=(dict(values),), width="stretch")
