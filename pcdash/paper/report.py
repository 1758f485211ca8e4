"""Self-contained HTML for reproduced figures: one figure's page, and the report of many with the
claims table. plotly.js is written inline once per file, so the files open without a network.
Every text that came from a result or a configuration is HTML-escaped."""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from typing import Any

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1150px;margin:2em auto;
padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2.2em;border-top:1px solid #ddd;padding-top:1em}
table{border-collapse:collapse;width:100%;font-size:.92em}
td,th{border:1px solid #ddd;padding:.35em .5em;
vertical-align:top;text-align:left}th{background:#f5f5f5}
.holds{color:#1a7f37;font-weight:600}.fails{color:#c62828;font-weight:600}.open{color:#8a6d00;font-weight:600}
.small{color:#555;font-size:.9em}ul{margin:.3em 0}
"""


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def verdict_html(verdict) -> str:
    cls = {True: "holds", False: "fails", None: "open"}[verdict.holds]
    return f'<span class="{cls}">{esc(verdict.label)}</span>'


def _claims_rows(reps: Sequence[Any], *, link: bool) -> str:
    rows = []
    for rep in reps:
        f = rep.figure
        name = f'<a href="#{esc(f.name)}">{esc(f.name)}</a>' if link else esc(f.name)
        for claim, verdict in rep.verdicts:
            expected = (
                ""
                if verdict.holds is None or verdict.holds == claim.expected
                else " <b>(differs from pcdash's recorded measurement)</b>"
            )
            rows.append(
                f"<tr><td>{name}</td><td>{esc(f.number)}</td><td>{esc(claim.text)}</td>"
                f"<td>{verdict_html(verdict)}{expected}</td><td class=small>{esc(verdict.summary)}"
                + (f"<br><i>{esc(claim.note)}</i>" if claim.note and not verdict.holds else "")
                + "</td></tr>"
            )
    return (
        "<table><tr><th>figure</th><th>paper</th><th>claim</th><th>on our "
        "data</th><th>numbers</th></tr>" + "".join(rows) + "</table>"
    )


def _figure_section(rep, figs: Sequence[Any], *, first_plotly: bool) -> str:
    f = rep.figure
    parts = [
        f'<h2 id="{esc(f.name)}">{esc(f.paper_title.split(",")[0])} — {esc(f.number)}: '
        f"{esc(f.title)}</h2>",
        f"<p><i>Paper's caption:</i> {esc(f.caption)}</p>",
        f"<p class=small><b>{esc(f.name)}</b> · dataset {esc(rep.dataset)} · "
        f"{'quick setting' if rep.quick else 'paper setting'} · trained in {rep.seconds:.1f} s · "
        f"run {esc(rep.key)}</p>",
    ]
    for claim, verdict in rep.verdicts:
        parts.append(
            f"<p><b>Claim:</b> {esc(claim.text)} <span class=small>(paper: "
            f"{esc(claim.paper_numbers)})</span>"
            f"<br><b>On our data:</b> {verdict_html(verdict)} — {esc(verdict.summary)}"
            + (f"<br><i>{esc(claim.note)}</i>" if claim.note else "")
            + "</p>"
        )
    for i, fig in enumerate(figs):
        parts.append(
            fig.to_html(
                full_html=False, include_plotlyjs=first_plotly and i == 0, default_width="100%"
            )
        )
    parts.append(
        f"<p><b>Paper's setting:</b> {esc(f.paper_setting)}<br><b>pcdash offline:</b> "
        f"{esc(f.offline_setting)}<br><b>pcdash with the paper's data:</b> "
        f"{esc(f.full_setting)}</p>"
    )
    parts.append(
        "<p><b>Differences from the paper:</b></p><ul>"
        + "".join(f"<li>{esc(d)}</li>" for d in rep.figure.differences_for(rep.config))
        + "</ul>"
    )
    return "\n".join(parts)


def _page(title: str, body: str) -> str:
    return (
        f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{esc(title)}</title>"
        f"<style>{STYLE}</style></head><body>{body}</body></html>\n"
    )


def _stamp() -> str:
    from pcdash.paper.assets import provenance

    p = provenance()
    return (
        f"Made {esc(p['made'])} by pcdash {esc(p['version'])}"
        + (f" (commit {esc(p['commit'])})" if p.get("commit") else "")
        + "."
    )


def figure_page(rep, figs: Sequence[Any]) -> str:
    """One reproduced figure as a self-contained HTML page."""
    body = f"<h1>{esc(rep.figure.name)}</h1><p class=small>{_stamp()}</p>" + _figure_section(
        rep, figs, first_plotly=True
    )
    return _page(f"pcdash · {rep.figure.name}", body)


def report_page(
    reps: Sequence[Any], figures_of, *, total_seconds: float, reference: str = ""
) -> str:
    """The report of many reproductions: the claims table, then every figure with its plots
    (``figures_of(rep)`` → plotly figures)."""
    counts = {True: 0, False: 0, None: 0}
    for rep in reps:
        for _, v in rep.verdicts:
            counts[v.holds] += 1
    head = (
        f"<h1>pcdash: the papers' figures reproduced</h1><p class=small>{_stamp()} {len(reps)} "
        "figures in "
        f"{total_seconds:.0f} s{esc(reference)}; generated "
        f"{esc(time.strftime('%Y-%m-%d %H:%M'))}.</p>"
        f"<p>{counts[True]} claims hold on our data, {counts[False]} do not, {counts[None]} could "
        "not be decided. "
        "A claim that does not hold is reported as such: the settings that differ from the paper's "
        "are listed "
        "under each figure.</p>"
    )
    sections = [
        _figure_section(rep, figures_of(rep), first_plotly=i == 0) for i, rep in enumerate(reps)
    ]
    return _page(
        "pcdash · reproduced paper figures",
        head + _claims_rows(reps, link=True) + "\n".join(sections),
    )
