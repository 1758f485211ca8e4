"""How a page says what of its paper it shows (the text of :mod:`pcdash.paper.pages`), whether
the claims of its figures hold on the page's own result (the checks of :mod:`pcdash.paper`),
presets that load a paper's setting into the page's controls with one click, and the verdict
boxes and links of the Paper figures page."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import streamlit as st

from pcdash.paper.pages import PageNotes
from pcdash.ui.export import memo
from pcdash.ui.state import plain


def panel_header(notes: PageNotes, panel: str, *, extra: str = "") -> None:
    """A subheader naming the panel and the paper figure it shows, and the panel's note."""
    p = notes.panels[panel]
    st.subheader(p.title)
    st.caption(f"**{p.figure}.** " + " ".join(t for t in (p.note, extra) if t))


def settings_expander(notes: PageNotes, *, expanded: bool = False) -> None:
    """The paper's settings next to the page's defaults (the claims are checked under the
    results, :func:`claims_panel`)."""
    with st.expander(f"Settings vs the paper ({notes.paper})", expanded=expanded):
        st.table(notes.settings_frame().set_index("setting"))  # a table wraps its long cells


def claims_panel(result, figures, *, title: str = "The paper's claims on this run") -> None:
    """Every claim of ``figures`` (catalogue entries whose experiment this page ran), decided on
    ``result``: holds / does not hold / not decided, with the numbers (computed once per result)."""
    figures = list(figures)
    if not figures:
        return
    with st.expander(title, expanded=False):
        for f in figures:
            verdicts = memo(("claims", f.name), result, functools.partial(f.verdicts, result))
            for claim, verdict in verdicts:
                st.markdown(f"**{f.number}.** {claim.text}")
                verdict_box(claim, verdict)
        st.caption(
            "The same checks, with each figure's settings, are on the **Paper figures** page."
        )


def _apply(values: Mapping[str, Any]) -> None:
    for (
        name,
        value,
    ) in values.items():  # the remembered values: drawn into the widgets on this rerun
        st.session_state[f"v_{name}"] = value


def preset_buttons(presets: Mapping[str, Mapping[str, Any]], *, key: str, container=st) -> None:
    """One button per preset; pressing it sets the named controls (``state`` names) to its
    values."""
    for i, (label, values) in enumerate(presets.items()):
        container.button(
            label, key=f"{key}_preset_{i}", on_click=_apply, args=(dict(values),), width="stretch"
        )


# --------------------------------------------------------------------------- the Paper figures page


VERDICT_ICONS = {True: "✅ holds", False: "❌ does not hold", None: "⏳ not decided"}


VERDICT_COLOURS = {True: "green", False: "red", None: "orange"}


def verdict_box(claim, verdict) -> None:
    """A claim's verdict on our data (a green, red or orange label) and the numbers behind it, in
    a bordered box: a verdict, not an alert (st.error stays for things that went wrong)."""
    label = (
        f":{VERDICT_COLOURS[verdict.holds]}-background[**{VERDICT_ICONS[verdict.holds]} on our "
        "data.**]"
    )
    text = f"{label} {state_plain(verdict.summary)}"
    if claim.note and verdict.holds is False:
        text += f"  \n*{state_plain(claim.note)}*"
    with st.container(border=True):
        st.markdown(text)


def state_plain(text: str) -> str:
    return plain(text)


def page_url(figure, config) -> str:
    """The dedicated page's link with ``config`` (and the figure's panel) in its query."""
    from urllib.parse import urlencode

    return f"{figure.experiment.page}?{urlencode(figure.query(config))}"
