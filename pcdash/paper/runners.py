"""The one place where the paper catalogue reaches the experiments (:mod:`pcdash.experiments`):
run, save, load and name (the run-store key) each kind of experiment, through the one
:class:`~pcdash.experiments.result.Experiment` interface that the dashboard's job panel uses too.
Everything else in :mod:`pcdash.paper` goes through these functions.

Kinds: ``cre`` (a :class:`~pcdash.experiments.cre_config.CREConfig`), ``pcn`` (a
:class:`~pcdash.experiments.pcn_config.PCNConfig`), ``comparison`` (a
:class:`~pcdash.experiments.comparison.ComparisonConfig`, or a tuple of ``(name, PCNConfig)``
variants trained as one sweep), and the generative parts ``autoencoder``, ``mcpc``, ``memory``,
``ood`` (their own configs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pcdash.errors import ConfigError

KINDS = ("cre", "pcn", "comparison", "autoencoder", "mcpc", "memory", "ood")


def experiment(kind: str):
    """The :class:`~pcdash.experiments.result.Experiment` of ``kind``."""
    if kind not in KINDS:
        raise ConfigError(f"unknown experiment kind {kind!r}; choose from {', '.join(KINDS)}")
    if kind == "cre":
        from pcdash.experiments.cre_sweep import CRE_SWEEP

        return CRE_SWEEP
    if kind == "pcn":
        from pcdash.experiments.pcn_sweep import PCN_SWEEP

        return PCN_SWEEP
    if kind == "comparison":
        from pcdash.experiments.comparison import PCN_COMPARISON

        return PCN_COMPARISON
    if kind == "autoencoder":
        from pcdash.experiments.autoencoder import AUTOENCODER

        return AUTOENCODER
    if kind == "mcpc":
        from pcdash.experiments.mcpc import MCPC

        return MCPC
    if kind == "memory":
        from pcdash.experiments.memory import MEMORY

        return MEMORY
    from pcdash.experiments.ood import OOD

    return OOD


def configuration(kind: str, config: Any) -> Any:
    """``config`` as its experiment takes it (variants of a comparison become a
    :class:`~pcdash.experiments.comparison.ComparisonConfig`)."""
    experiment(kind)
    if kind == "comparison":
        from pcdash.experiments.comparison import ComparisonConfig

        if not isinstance(config, ComparisonConfig):
            return ComparisonConfig(tuple(config))
    return config


def run_key(kind: str, config: Any) -> str:
    """The key the run store (and the dashboard's job manager) files ``config``'s result under."""
    return configuration(kind, config).key()


def validate(kind: str, config: Any) -> Any:
    """``config`` checked (ConfigError on a bad value); what :func:`run` would train."""
    configuration(kind, config).validate()
    return config


def run(
    kind: str,
    config: Any,
    *,
    on_progress: Callable[[Any], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    backend: Any = None,
) -> Any:
    """Train ``config``; returns the experiment's result (with ``frame``, ``stopped``,
    ``seconds``) on ``backend`` (default: this process)."""
    return experiment(kind).run(
        configuration(kind, config), on_progress, should_stop, backend=backend
    )


def save(kind: str, config: Any, result: Any) -> None:
    """Keep a finished result in the run store (``$PCDASH_RUNS_DIR``) under :func:`run_key`."""
    experiment(kind).save(configuration(kind, config), result)


def load(kind: str, config: Any) -> Any | None:
    """The stored result of ``config`` (the user's run store first, then the shipped assets), or
    None. A damaged run raises :class:`~pcdash.runs.DamagedRun`."""
    return experiment(kind).load(configuration(kind, config))


# --------------------------------------------------------------------------- settings and helpers
# What the catalogue takes from the experiment modules besides running them: their default
# settings and a few analyses of their results.


def cre_config(*, paper_training: bool = False, **changes: Any):
    """A :class:`~pcdash.experiments.cre_config.CREConfig` (its defaults are the CRE pages');
    with ``paper_training`` the batch and epochs of
    :func:`~pcdash.experiments.cre_config.dataset_defaults` (the paper's, except on digits)."""
    from pcdash.experiments.cre_config import CREConfig, dataset_defaults

    if paper_training and "dataset" in changes:
        changes = {**dataset_defaults(changes["dataset"]), **changes}
    return CREConfig(**changes)


def energy_config(dataset: str, **changes: Any):
    """The Energy dynamics page's PCX §5.1 setting
    (:func:`pcdash.experiments.pcx_settings.energy_propagation_config`)."""
    from pcdash.experiments.pcx_settings import energy_propagation_config

    return energy_propagation_config(dataset, **changes)


def stability_config(dataset: str, **changes: Any):
    """The Energy dynamics page's Fig. 7 setting
    (:func:`pcdash.experiments.pcx_settings.training_stability_config`)."""
    from pcdash.experiments.pcx_settings import training_stability_config

    return training_stability_config(dataset, **changes)


def table1_default():
    """The PC algorithms page's default (:data:`pcdash.experiments.comparison.TABLE1_DEFAULT`)
    and the rules."""
    from pcdash.experiments.comparison import TABLE1_DEFAULT
    from pcdash.pcn import ALGORITHMS

    return TABLE1_DEFAULT, ALGORITHMS


def comparison_settings():
    """The PC vs BP page's quick and paper settings and
    :func:`~pcdash.experiments.conditions.condition_config`."""
    from pcdash.experiments.conditions import PAPER, QUICK, condition_config

    return QUICK, PAPER, condition_config


def part_config(kind: str, dataset: str, preset: str = "quick", **changes: Any):
    """The generative pages' default configuration of part ``kind`` for ``dataset``."""
    from dataclasses import replace

    if kind == "autoencoder":
        from pcdash.experiments.autoencoder import AEConfig

        return AEConfig(dataset=dataset, **changes)
    if kind == "mcpc":
        from pcdash.experiments.mcpc import default_mcpc

        return replace(default_mcpc(dataset, preset), **changes)
    if kind == "memory":
        from pcdash.experiments.memory import MemoryConfig

        return MemoryConfig(dataset=dataset, **changes)
    from pcdash.experiments.ood import default_ood

    ood = "fashion_mnist" if dataset == "mnist" else "noise"
    return replace(default_ood(dataset, ood, preset), **changes)


def recall_table(rows, corruption: str):
    """Table 3's layout of a memory run's recall rows
    (:func:`pcdash.experiments.memory.recall_table`)."""
    from pcdash.experiments.memory import recall_table as table

    return table(rows, corruption)


def ood_scores() -> tuple[str, ...]:
    """The OOD scores a run reports (:data:`pcdash.pcn.ood.SCORES`)."""
    from pcdash.pcn.ood import SCORES

    return SCORES
