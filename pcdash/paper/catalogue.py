"""The figure catalogue's types: an :class:`Experiment` (what to train, on which page it lives),
a :class:`Figure` of a paper (caption, settings, how to draw it from a result) and its
:class:`Claim` s, each with a check that decides from pcdash's own result whether the claim holds
and returns the numbers it used (a :class:`Verdict`).

Plain data and pure functions: no streamlit, no training here (training goes through
:mod:`pcdash.paper.runners`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from pcdash.errors import ConfigError

PAPERS = {
    "cre": "Rathjens & Wiskott, Classification and reconstruction processes in deep predictive "
    "coding networks: "
    "antagonists or allies? (ESANN 2024)",
    "pcx": "Pinchetti et al., Benchmarking predictive coding networks — made simple (PCX)",
    "comparison": "Backpropagation and predictive coding: an experimental comparison",
}
OFFLINE_DATASETS = ("digits", "moons", "circles", "iris")


@dataclass(frozen=True)
class Verdict:
    """Whether a claim holds on a result: ``holds`` (None: this result cannot decide it, e.g. a
    model the check needs was not trained), the ``numbers`` the decision used, and one line
    saying it with those numbers."""

    holds: bool | None
    numbers: dict[str, float]
    summary: str

    @property
    def label(self) -> str:
        return {True: "holds", False: "does not hold", None: "not decided"}[self.holds]

    def to_dict(self) -> dict[str, Any]:
        numbers = {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in self.numbers.items()
        }
        return {
            "holds": self.holds,
            "verdict": self.label,
            "numbers": numbers,
            "summary": self.summary,
        }


def undecided(why: str) -> Verdict:
    """A :class:`Verdict` for a result that lacks what the check needs."""
    return Verdict(None, {}, why)


def decide(holds: bool, numbers: Mapping[str, float], summary: str) -> Verdict:
    """A :class:`Verdict` whose numbers are plain floats (NaN where missing)."""
    clean = {str(k): float(v) if v is not None else math.nan for k, v in numbers.items()}
    return Verdict(bool(holds), clean, summary)


@dataclass(frozen=True)
class Claim:
    """A claim of the paper in one sentence, the paper's own numbers for it, and ``check``:
    result → :class:`Verdict`. ``expected`` is what pcdash measured with the quick setting on
    the offline data (the tests hold it; a claim we do not reproduce keeps ``expected=False``
    and says why in ``note``)."""

    text: str
    paper_numbers: str
    check: Callable[[Any], Verdict]
    expected: bool
    note: str = ""


@dataclass(frozen=True)
class Experiment:
    """What a figure trains. ``make(dataset, quick)`` gives the configuration: with ``quick``
    the dedicated page's default for that dataset (what the shipped assets hold), without it the
    paper's setting as far as pcdash can run it. ``query(config)`` is the URL query that makes
    ``page`` train exactly that configuration."""

    name: str
    kind: str  # see pcdash.paper.runners.KINDS
    make: Callable[[str, bool], Any]
    page: str  # the page's url_path in app.py
    query: Callable[[Any], dict[str, str]]
    offline: tuple[str, ...]  # datasets that need no download, the first is the default
    downloads: tuple[str, ...] = ()  # datasets it also runs on once downloaded
    slim: Callable[[Any], Any] | None = (
        None  # the result as shipped in assets/ (big arrays left out)
    )
    # Where the page cannot train this exact run (its link opens the nearest setting it can, which
    # is not shipped): what the link opens instead, said next to the link.
    link_note: str = ""

    @property
    def datasets(self) -> tuple[str, ...]:
        return (*self.offline, *self.downloads)

    def config(self, dataset: str | None = None, *, quick: bool = True) -> Any:
        """The configuration for ``dataset`` (default: the first offline one); ConfigError for a
        dataset this experiment does not run on."""
        dataset = dataset or self.offline[0]
        if dataset not in self.datasets:
            raise ConfigError(f"{self.name} runs on {', '.join(self.datasets)}, not {dataset!r}")
        return self.make(dataset, quick)


@dataclass(frozen=True)
class Figure:
    """One reproducible figure or table of a paper."""

    name: str  # the command line's name, e.g. "pcx-fig6c"
    paper: str  # a key of PAPERS
    number: str  # "Fig. 6(c)", "Table 1 (MLP rows)"
    title: str
    caption: str  # the paper's caption, shortened
    experiment: Experiment
    claims: tuple[Claim, ...]
    paper_setting: str
    offline_setting: str  # what pcdash runs offline (the quick setting)
    full_setting: str  # what it runs on MNIST / FashionMNIST / CIFAR-10 when present
    differences: tuple[str, ...]
    plot: Callable[[Any], Any]  # result -> plotly Figure
    table: Callable[[Any], pd.DataFrame]  # result -> the tidy rows behind the figure
    page_label: str = ""  # the dedicated page's title
    shows: str = ""  # what the page's panel shows, in one sentence (printed under it)
    differences_of: Callable[[Any], list[str]] | None = (
        None  # config -> its differences, where they depend on it
    )
    extra_query: dict[str, str] = field(
        default_factory=dict
    )  # URL values for this panel of the page

    @property
    def paper_title(self) -> str:
        return PAPERS[self.paper]

    def verdicts(self, result: Any) -> list[tuple[Claim, Verdict]]:
        """Every claim and its verdict on ``result`` (a check that fails says why, undecided)."""
        if getattr(
            result, "stopped", False
        ):  # a stopped run lacks epochs or models the checks need
            reason = (
                "the run was stopped before it finished; train it to the end to decide this claim"
            )
            return [(claim, undecided(reason)) for claim in self.claims]
        out = []
        for claim in self.claims:
            try:
                verdict = claim.check(result)
            except (KeyError, ValueError, IndexError, ZeroDivisionError) as err:
                verdict = undecided(
                    f"the result lacks what the check needs ({type(err).__name__}: {err})"
                )
            out.append((claim, verdict))
        return out

    def differences_for(self, config: Any) -> list[str]:
        """How ``config`` differs from the paper's setting, one sentence each."""
        return (
            list(self.differences_of(config))
            if self.differences_of is not None
            else list(self.differences)
        )

    def query(self, config: Any) -> dict[str, str]:
        """The dedicated page's URL query for ``config`` (and this figure's panel)."""
        return {**self.experiment.query(config), **self.extra_query}


def fmt(value: Any) -> str:
    """A control's value as the pages write it into the URL (:func:`pcdash.ui.state.fmt`)."""
    if isinstance(value, list | tuple):
        return ",".join(fmt(v) for v in value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
