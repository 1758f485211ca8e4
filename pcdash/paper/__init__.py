"""The papers' figures as data: which figure, the paper's setting and pcdash's, the claim, and a
check that decides from pcdash's own results whether the claim holds.

``FIGURES`` maps a figure's name (``python -m pcdash reproduce --list``) to its
:class:`~pcdash.paper.catalogue.Figure`; ``EXPERIMENTS`` the runs they share. Training goes
through :mod:`pcdash.paper.runners` only.
"""

from __future__ import annotations

from pcdash.errors import ConfigError
from pcdash.paper import comparison, cre, pcx
from pcdash.paper.catalogue import PAPERS, Claim, Experiment, Figure, Verdict
from pcdash.paper.experiments import EXPERIMENTS

FIGURES: dict[str, Figure] = {f.name: f for f in (*cre.FIGURES, *pcx.FIGURES, *comparison.FIGURES)}


def figure(name: str) -> Figure:
    """The figure called ``name``; a ConfigError listing the names otherwise."""
    try:
        return FIGURES[name]
    except KeyError:
        raise ConfigError(
            f"unknown figure {name!r}; choose from {', '.join(FIGURES)} (or 'all')"
        ) from None


def figures_on(page: str) -> tuple[Figure, ...]:
    """The figures whose experiment lives on ``page`` (an app.py url_path)."""
    return tuple(f for f in FIGURES.values() if f.experiment.page == page)


__all__ = [
    "EXPERIMENTS",
    "FIGURES",
    "PAPERS",
    "Claim",
    "Experiment",
    "Figure",
    "Verdict",
    "figure",
    "figures_on",
]
