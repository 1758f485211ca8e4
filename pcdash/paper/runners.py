"""The one place where the paper catalogue reaches the experiment runners: run, save, load and
name (the run-store key) each kind of experiment. Everything else in :mod:`pcdash.paper` goes
through these four functions, so moving a runner means editing this file only.

Kinds: ``cre`` (a :class:`~pcdash.cre.config.CREConfig`), ``pcn`` (a
:class:`~pcdash.pcn.config.PCNConfig`), ``comparison`` (a tuple of ``(name, PCNConfig)``
variants trained as one sweep), and the generative parts ``autoencoder``, ``mcpc``, ``memory``,
``ood`` (their own configs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pcdash.errors import ConfigError

KINDS = ("cre", "pcn", "comparison", "autoencoder", "mcpc", "memory", "ood")


def _check(kind: str) -> None:
    if kind not in KINDS:
        raise ConfigError(f"unknown experiment kind {kind!r}; choose from {', '.join(KINDS)}")


def run_key(kind: str, config: Any) -> str:
    """The key the run store (and the dashboard's job manager) files ``config``'s result under."""
    _check(kind)
    if kind == "comparison":
        from pcdash.pcn.compare import comparison_key

        return comparison_key(config)
    return config.key()


def validate(kind: str, config: Any) -> Any:
    """``config`` checked (ConfigError on a bad value); what :func:`run` would train."""
    _check(kind)
    if kind == "comparison":
        for _, c in config:
            c.validate()
        return config
    return config.validate()


def run(kind: str, config: Any, *, on_progress: Callable[[Any], None] | None = None,
        should_stop: Callable[[], bool] | None = None, backend: Any = None) -> Any:
    """Train ``config``; returns the runner's output (with ``frame``, ``stopped``, ``seconds``).
    ``backend`` is used by the sweeps (cre, pcn, comparison); the generative parts train here."""
    _check(kind)
    if kind == "cre":
        from pcdash.cre.sweep import run_cre_sweep

        return run_cre_sweep(config, on_progress=on_progress, should_stop=should_stop, backend=backend)
    if kind == "pcn":
        from pcdash.pcn.sweep import run_pcn_sweep

        return run_pcn_sweep(config, on_progress=on_progress, should_stop=should_stop, backend=backend)
    if kind == "comparison":
        from pcdash.pcn.compare import run_pcn_comparison

        return run_pcn_comparison(list(config), on_progress=on_progress, should_stop=should_stop, backend=backend)
    return _part_runner(kind)(config, on_progress, should_stop)


def _part_runner(kind: str) -> Callable[..., Any]:
    if kind == "autoencoder":
        from pcdash.pcn.autoencoder import run_autoencoder

        return run_autoencoder
    if kind == "mcpc":
        from pcdash.pcn.mcpc import run_mcpc

        return run_mcpc
    if kind == "memory":
        from pcdash.pcn.memory import run_memory

        return run_memory
    from pcdash.pcn.ood import run_ood

    return run_ood


def save(kind: str, config: Any, result: Any) -> None:
    """Keep a finished result in the run store (``$PCDASH_RUNS_DIR``) under :func:`run_key`."""
    _check(kind)
    if kind == "cre":
        from pcdash.cre.sweep import save_cre_output

        save_cre_output(result)
    elif kind == "pcn":
        from pcdash.pcn.saving import save_pcn_output

        save_pcn_output(result)
    elif kind == "comparison":
        from pcdash.pcn.saving import save_comparison

        save_comparison(run_key(kind, config), list(config), result)
    else:
        from pcdash.pcn.gen_common import save_part

        save_part(config, result)


def load(kind: str, config: Any) -> Any | None:
    """The stored result of ``config`` (the user's run store first, then the shipped assets), or
    None. A damaged run raises :class:`~pcdash.runs.DamagedRun`."""
    _check(kind)
    if kind == "cre":
        from pcdash.cre.sweep import load_cre_output

        return load_cre_output(config)
    if kind == "pcn":
        from pcdash.pcn.saving import load_pcn_output

        return load_pcn_output(config)
    if kind == "comparison":
        from pcdash.pcn.saving import load_comparison

        return load_comparison(run_key(kind, config), list(config))
    from pcdash.pcn.gen_common import load_part

    return load_part(config)


# --------------------------------------------------------------------------- settings and helpers
# What the catalogue takes from the experiment modules besides running them: their default
# settings and a few analyses of their results. Kept here too, so a move of those modules is an
# edit of this file alone.


def cre_config(*, paper_training: bool = False, **changes: Any):
    """A :class:`~pcdash.cre.config.CREConfig` (its defaults are the CRE pages'); with
    ``paper_training`` the batch and epochs of :func:`~pcdash.cre.config.dataset_defaults` (the
    paper's, except on digits)."""
    from pcdash.cre.config import CREConfig, dataset_defaults

    if paper_training and "dataset" in changes:
        changes = {**dataset_defaults(changes["dataset"]), **changes}
    return CREConfig(**changes)


def energy_config(dataset: str, **changes: Any):
    """The Energy dynamics page's PCX §5.1 setting (:func:`pcdash.pcn.paper_settings.energy_propagation_config`)."""
    from pcdash.pcn.paper_settings import energy_propagation_config

    return energy_propagation_config(dataset, **changes)


def stability_config(dataset: str, **changes: Any):
    """The Energy dynamics page's Fig. 7 setting (:func:`pcdash.pcn.paper_settings.training_stability_config`)."""
    from pcdash.pcn.paper_settings import training_stability_config

    return training_stability_config(dataset, **changes)


def table1_default():
    """The PC algorithms page's default (:data:`pcdash.pcn.compare.TABLE1_DEFAULT`) and the rules."""
    from pcdash.pcn import ALGORITHMS
    from pcdash.pcn.compare import TABLE1_DEFAULT

    return TABLE1_DEFAULT, ALGORITHMS


def comparison_settings():
    """The PC vs BP page's quick and paper settings and :func:`~pcdash.pcn.conditions.condition_config`."""
    from pcdash.pcn.conditions import PAPER, QUICK, condition_config

    return QUICK, PAPER, condition_config


def part_config(kind: str, dataset: str, preset: str = "quick", **changes: Any):
    """The Generative page's default configuration of part ``kind`` for ``dataset``."""
    from dataclasses import replace

    if kind == "autoencoder":
        from pcdash.pcn.autoencoder import AEConfig

        return AEConfig(dataset=dataset, **changes)
    if kind == "mcpc":
        from pcdash.pcn.mcpc import default_mcpc

        return replace(default_mcpc(dataset, preset), **changes)
    if kind == "memory":
        from pcdash.pcn.memory import MemoryConfig

        return MemoryConfig(dataset=dataset, **changes)
    from pcdash.pcn.ood import default_ood

    ood = "fashion_mnist" if dataset == "mnist" else "noise"
    return replace(default_ood(dataset, ood, preset), **changes)


def recall_table(rows, corruption: str):
    """Table 3's layout of a memory run's recall rows (:func:`pcdash.pcn.memory.recall_table`)."""
    from pcdash.pcn.memory import recall_table as table

    return table(rows, corruption)


def ood_scores() -> tuple[str, ...]:
    """The OOD scores a run reports (:data:`pcdash.pcn.ood.SCORES`)."""
    from pcdash.pcn.ood import SCORES

    return SCORES
