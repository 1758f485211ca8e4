"""Reproduce a paper figure: train its experiment, draw it, write its tidy data and decide its
claims. The work behind ``python -m pcdash reproduce`` (:mod:`pcdash.paper.command`).

For each figure, in its own folder: ``<name>.csv`` (the rows behind the figure), ``<name>.html``
(the interactive figure, plotly.js inline so it opens offline), ``<name>.png`` / ``.svg`` where
plotly can export here (kaleido with a Chromium), and ``claims.json``: every claim, whether it
holds and the numbers the check used. Figures sharing an experiment share one training run.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pcdash.errors import ConfigError
from pcdash.paper import FIGURES, figure
from pcdash.paper.catalogue import OFFLINE_DATASETS, Experiment, Figure, Verdict
from pcdash.paper.runners import run, run_key, validate

IMAGE_FORMATS = ("png", "svg")


@dataclass
class Reproduction:
    """One figure reproduced: its configuration's key, the result, the claims' verdicts, and the
    seconds its experiment took to train (shared by the figures of one experiment)."""

    figure: Figure
    dataset: str
    quick: bool
    key: str
    config: Any
    result: Any
    verdicts: list[tuple[Any, Verdict]]
    seconds: float
    files: list[Path] = field(default_factory=list)

    def claims_json(self) -> dict[str, Any]:
        f = self.figure
        return {
            "figure": f.name,
            "paper": f.paper_title,
            "number": f.number,
            "title": f.title,
            "dataset": self.dataset,
            "quick": self.quick,
            "run_key": self.key,
            "train_seconds": round(self.seconds, 2),
            "claims": [
                {
                    "claim": c.text,
                    "paper_numbers": c.paper_numbers,
                    **v.to_dict(),
                    "expected_offline": c.expected,
                    "note": c.note,
                }
                for c, v in self.verdicts
            ],
            "differences": f.differences_for(self.config),
        }


def resolve(names: Sequence[str]) -> list[Figure]:
    """The figures named (``all``: every figure, in catalogue order); ConfigError on a bad name."""
    if not names:
        raise ConfigError("name a figure (see --list) or 'all'")
    if "all" in names:
        return list(FIGURES.values())
    return [figure(n) for n in dict.fromkeys(names)]


def dataset_for(experiment: Experiment, dataset: str | None, *, strict: bool) -> str:
    """The dataset ``experiment`` runs on: ``dataset`` if it can (with ``strict`` a ConfigError if
    not), else its offline default."""
    if dataset is None:
        return experiment.offline[0]
    if dataset in experiment.datasets:
        return dataset
    if strict:
        raise ConfigError(
            f"{experiment.name} runs on {', '.join(experiment.datasets)}, not {dataset!r}"
        )
    return experiment.offline[0]


def check_data(dataset: str) -> None:
    """One-line ConfigError when ``dataset`` needs files that are not here."""
    if dataset in OFFLINE_DATASETS:
        return
    from pcdash.data import dataset_available
    from pcdash.data.download import data_dir

    if not dataset_available(dataset):
        raise ConfigError(
            f"dataset {dataset} is not here: put its files in {data_dir()} (the dashboard's data "
            "page and the README say which) or choose an offline dataset"
        )


def plan(
    figures: Sequence[Figure], dataset: str | None, quick: bool
) -> list[tuple[Experiment, str, Any, list[Figure]]]:
    """``(experiment, dataset, config, figures)`` per experiment to train, every config validated
    (limits included) and its data checked, before anything trains."""
    strict = len(figures) == 1
    groups: dict[tuple[str, str], tuple[Experiment, str, Any, list[Figure]]] = {}
    for f in figures:
        exp = f.experiment
        ds = dataset_for(exp, dataset, strict=strict)
        if (exp.name, ds) not in groups:
            check_data(ds)
            config = validate(exp.kind, exp.config(ds, quick=quick))
            groups[(exp.name, ds)] = (exp, ds, config, [])
        groups[(exp.name, ds)][3].append(f)
    return list(groups.values())


def train(
    experiment: Experiment,
    config: Any,
    *,
    on_progress: Callable[[Any], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    backend: Any = None,
) -> tuple[Any, float]:
    """Train ``config``; the result and the seconds it took. A stopped run is an error here: a
    figure needs the whole run."""
    start = time.perf_counter()
    result = run(
        experiment.kind, config, on_progress=on_progress, should_stop=should_stop, backend=backend
    )
    if getattr(result, "stopped", False):
        raise ConfigError(f"{experiment.name} was stopped before it finished")
    return result, time.perf_counter() - start


def plots(f: Figure, result: Any) -> list:
    """The figure's plotly figures (a figure may have several panels)."""
    out = f.plot(result)
    return list(out) if isinstance(out, list | tuple) else [out]


def reproduce_group(
    experiment: Experiment,
    dataset: str,
    config: Any,
    figures: Iterable[Figure],
    quick: bool,
    *,
    on_progress=None,
    backend=None,
) -> list[Reproduction]:
    """Train one experiment and decide the claims of each of its figures."""
    result, seconds = train(experiment, config, on_progress=on_progress, backend=backend)
    key = run_key(experiment.kind, config)
    return [
        Reproduction(f, dataset, quick, key, config, result, f.verdicts(result), seconds)
        for f in figures
    ]


# --------------------------------------------------------------------------- writing


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _writer(data: bytes) -> Callable[[Any], None]:
    def write(fh) -> None:
        fh.write(data)

    return write


def write_text(path: Path, text: str) -> Path:
    from pcdash.files import write_atomic

    def write(fh) -> None:
        fh.write(text)

    return write_atomic(path, write)


def write_json(path: Path, data: Any) -> Path:
    return write_text(
        path, json.dumps(data, indent=1, default=_json_default, allow_nan=False) + "\n"
    )


def write_figure_files(rep: Reproduction, folder: Path, *, html: bool = True) -> list[Path]:
    """``<name>.csv``, ``claims.json`` and (``html``) ``<name>.html`` of one reproduction in
    ``folder``; the images are written by :func:`write_images`."""
    from pcdash.results import write_csv_atomic

    f = rep.figure
    table = f.table(rep.result)
    files = [
        write_csv_atomic(
            table if isinstance(table, pd.DataFrame) else pd.DataFrame(table),
            folder / f"{f.name}.csv",
        ),
        write_json(folder / "claims.json", rep.claims_json()),
    ]
    if html:
        from pcdash.paper.report import figure_page

        files.append(write_text(folder / f"{f.name}.html", figure_page(rep, plots(f, rep.result))))
    rep.files.extend(files)
    return files


def images_available() -> str | None:
    """None when plotly can export PNG/SVG here, else why not (one line)."""
    try:
        import kaleido  # noqa: F401
    except ImportError:
        return "kaleido is not installed (pip install -e '.[export]')"
    from shutil import which

    if not any(which(b) for b in ("chromium", "chromium-browser", "google-chrome", "chrome")):
        return "no Chromium found for kaleido (apt-get install chromium)"
    return None


def write_images(jobs: Sequence[tuple[Any, Path]], formats: Sequence[str]) -> list[Path]:
    """Export every ``(plotly figure, path without suffix)`` in each of ``formats`` through one
    kaleido browser; returns the files written. Raises OSError if the export fails."""
    if not jobs or not formats:
        return []
    import kaleido
    import plotly.io as pio

    from pcdash.files import write_atomic

    written = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kaleido.start_sync_server(silence_warnings=True)
        try:
            for fig, stem in jobs:
                for fmt in formats:
                    data = pio.to_image(fig, format=fmt, width=1000, height=600, scale=1)
                    path = stem.with_suffix(f".{fmt}")
                    written.append(write_atomic(path, _writer(data), binary=True))
        except Exception as err:  # kaleido and the browser raise many kinds
            raise OSError(f"plotly could not export images ({type(err).__name__}: {err})") from None
        finally:
            kaleido.stop_sync_server(silence_warnings=True)
    return written


def image_jobs(rep: Reproduction, folder: Path) -> list[tuple[Any, Path]]:
    figs = plots(rep.figure, rep.result)
    if len(figs) == 1:
        return [(figs[0], folder / rep.figure.name)]
    return [(fig, folder / f"{rep.figure.name}-{i}") for i, fig in enumerate(figs, start=1)]
