"""What every experiment shares: how it is run, kept and found again (:class:`Experiment`),
the result of the generative parts (:class:`ExperimentResult`), and the rule that a live
result has the interface of a finished one.

Every runner takes ``(config, on_progress=None, should_stop=None, backend=None)``, trains its
shape groups through one backend (:mod:`pcdash.backends`, by default
:func:`pcdash.sweep.run_groups`), and hands ``on_progress`` a
:class:`~pcdash.sweep.SweepProgress` whose ``result`` is the partial result, of the same type
as what it returns when it finishes (figures that need the trained weights are absent while
it trains). A page therefore draws ``progress.result`` and ``job.result`` with one function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from pcdash.backends import Backend
from pcdash.backends.local import LocalBackend
from pcdash.engine import TrainResult
from pcdash.results import history_to_frame
from pcdash.sweep import Group, SweepProgress, SweepRun

OnProgress = Callable[[SweepProgress], None] | None
IMAGE_DATASETS = ("digits", "mnist", "fashion_mnist")  # the generative parts' image sets


@dataclass
class ExperimentResult:
    """A generative part's result: the tidy training frame of :mod:`pcdash.results` (with a
    ``model`` column), arrays and tables for the figures, scalar findings, whether it was
    stopped and how long it took."""

    frame: pd.DataFrame
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    scalars: dict[str, float] = field(default_factory=dict)
    stopped: bool = False
    seconds: float = 0.0


def generative_frame(result: TrainResult, members: pd.DataFrame) -> pd.DataFrame:
    """Tidy rows of a generative model's history: train rows with the reconstruction ``loss``
    and the ``energy`` of the weight step, evaluation rows with the reconstruction ``mse``."""
    return history_to_frame(
        result,
        members,
        train_metrics={"loss": "loss", "energy": "energy"},
        eval_metrics={"mse": "mse"},
    )


def reporting(on_progress: OnProgress, partial: Callable[[SweepProgress], Any]) -> OnProgress:
    """``on_progress`` wrapped so that each progress carries ``result = partial(progress)``:
    the live result in the interface of the finished one."""
    if on_progress is None:
        return None

    def report(p: SweepProgress) -> None:
        on_progress(replace(p, result=partial(p)))

    return report


def train_experiment(
    groups: list[Group],
    x_train: np.ndarray,
    y_train: np.ndarray,
    *,
    eval_sets: Mapping[str, tuple[np.ndarray, np.ndarray]],
    epochs: int,
    batch_size: int,
    on_progress: OnProgress,
    should_stop: Callable[[], bool] | None,
    backend: Backend | None,
) -> SweepRun:
    """Train the groups of an experiment whose live result is an :class:`ExperimentResult` (its
    frame so far) on ``backend`` (default: this process)."""
    return (backend or LocalBackend()).run(
        groups,
        x_train,
        y_train,
        eval_sets=eval_sets,
        epochs=epochs,
        batch_size=batch_size,
        should_stop=should_stop,
        on_progress=reporting(
            on_progress, lambda p: ExperimentResult(p.frame, seconds=p.elapsed_s)
        ),
    )


@dataclass(frozen=True)
class Experiment:
    """One kind of experiment, as the dashboard's job panel and the command line use it:
    ``run(config, on_progress, should_stop, backend)``, ``save(config, result)`` (a finished
    result under ``config.key()``), ``load(config)`` (the saved result, or None) and
    ``label(config)`` (a job's name)."""

    name: str
    run: Callable[..., Any]
    save: Callable[[Any, Any], None]
    load: Callable[[Any], Any]
    label: Callable[[Any], str]


def save_result(config, result: ExperimentResult) -> None:
    """Keep a finished :class:`ExperimentResult` under ``config.key()``."""
    meta = {"seconds": result.seconds, "stopped": result.stopped, "scalars": result.scalars}
    config.save(result.frame, result.arrays, meta, tables=result.tables)


def load_result(config) -> ExperimentResult | None:
    """The saved :class:`ExperimentResult` of ``config``, or None (a result saved before the one
    result schema is read in it: :func:`upgrade_result`)."""
    saved = config.load_saved()
    if saved is None:
        return None
    meta = saved.meta
    return upgrade_result(
        ExperimentResult(
            saved.frame,
            dict(saved.arrays),
            dict(saved.tables),
            {k: float(v) for k, v in meta.get("scalars", {}).items()},
            bool(meta.get("stopped")),
            float(meta.get("seconds", 0.0)),
        )
    )


# What generative results saved before the one result schema call a column or a scalar.
OLD_NAMES = {"gamma": "state_lr", "test_mse": "mse", "pc_gamma": "pc_state_lr"}


def upgrade_result(result: ExperimentResult) -> ExperimentResult:
    """``result`` in the one result schema. Generative parts saved before it (the user's runs and
    the shipped ones) have one wide row per member and epoch, the training ``loss`` beside
    ``test_<metric>`` columns, and call γ ``gamma``: their rows become tidy train and test rows,
    and the old names the new ones (:data:`OLD_NAMES`). A result in the schema is returned as
    it is."""
    frame = result.frame
    if frame.empty or "split" in frame.columns:
        return result
    frame = frame.rename(columns=OLD_NAMES)
    evals = [c for c in frame.columns if c.startswith("test_")]
    ids = [c for c in frame.columns if c not in evals and c not in ("loss", "mse")]
    parts = [frame[[*ids, "loss"]].assign(split="train")]
    test = frame[[*ids, *evals, *(["mse"] if "mse" in frame.columns else [])]]
    if len(test.columns) > len(ids):
        parts.append(
            test.rename(columns={c: c.removeprefix("test_") for c in evals}).assign(split="test")
        )
    tidy = pd.concat(parts, ignore_index=True).sort_values("epoch", kind="stable")
    tidy["diverged"] = False
    return replace(
        result,
        frame=tidy.reset_index(drop=True),
        tables={k: t.rename(columns=OLD_NAMES) for k, t in result.tables.items()},
        scalars={OLD_NAMES.get(k, k): v for k, v in result.scalars.items()},
    )


class GenerativeKey:
    """The key format of the generative parts' configurations (mixed into their
    :class:`~pcdash.config.Config`): the part's name, ``-``, 12 hex digits of SHA-1 of the fields,
    as saved runs have it."""

    KEY_WITH_KIND = False
    KEY_HASH = "sha1"
    KEY_LENGTH = 12
    KEY_RENAMED: ClassVar[Mapping[str, str]] = {"state_lrs": "gammas", "state_lr": "gamma"}


def generative_experiment(
    name: str, run: Callable[..., ExperimentResult], label: Callable[[Any], str]
) -> Experiment:
    """An :class:`Experiment` whose result is an :class:`ExperimentResult`."""
    return Experiment(name, run, save_result, load_result, label)
