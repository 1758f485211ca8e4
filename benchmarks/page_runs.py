"""Every page's default run: what a page trains when Train is pressed before any control is
touched, built from where the pages take it (``CREConfig()``, ``energy_propagation_config()``,
``TABLE1_DEFAULT``, ``QUICK``, the generative defaults). The Latent dimension page's dim(z) and λ
grids are the default texts of its own inputs (``views/latent_dimension.py``), restated here.
``bench_pages.py`` times these runs.

Each :class:`DefaultRun` builds its configuration lazily (imports stay cheap) and trains it with
the same runner as the page, ``run(config, on_progress, should_stop)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

# The Latent dimension page's own grids (the sidebar's seeds, epochs, ... apply).
LATENT_DIM_PAGE_DIMS = (1, 2, 3, 4, 8, 16)
LATENT_DIM_PAGE_LAMBDAS = (0.0, 0.5, 0.9, 1.0)


@dataclass(frozen=True)
class DefaultRun:
    name: str
    pages: tuple[str, ...]  # the pages (and tabs) that train it
    config: Callable[[], Any]  # the validated configuration
    run: Callable[
        [Any, Callable | None, Callable | None], Any
    ]  # (config, on_progress, should_stop) -> output

    def __call__(
        self, on_progress: Callable | None = None, should_stop: Callable | None = None
    ) -> Any:
        return self.run(self.config(), on_progress, should_stop)


def _cre_config():
    from pcdash.experiments.cre_config import CREConfig

    return CREConfig().validate()


def _latent_dim_config():
    return replace(
        _cre_config(),
        latent_dims=LATENT_DIM_PAGE_DIMS,
        lambdas=LATENT_DIM_PAGE_LAMBDAS,
        baselines=("pca", "rp"),
    ).validate()


def _energy_config():
    from pcdash.experiments.pcx_settings import energy_propagation_config

    return energy_propagation_config().validate()


def _algorithms_config():
    from pcdash.experiments.comparison import TABLE1_DEFAULT, ComparisonConfig
    from pcdash.pcn.algorithms import ALGORITHMS

    return ComparisonConfig(
        tuple((a, replace(TABLE1_DEFAULT, algorithm=a)) for a in ALGORITHMS)
    ).validate()


def _pc_vs_bp_config():
    from pcdash.experiments.conditions import QUICK

    return QUICK.comparison().validate()


def _autoencoder_config():
    from pcdash.experiments.autoencoder import AEConfig

    return AEConfig().validate()


def _mcpc_config():
    from pcdash.experiments.mcpc import default_mcpc

    return default_mcpc("iris").validate()


def _memory_config():
    from pcdash.experiments.memory import MemoryConfig

    return MemoryConfig().validate()


def _ood_config():
    from pcdash.experiments.ood import default_ood

    return default_ood("digits", "noise", "quick").validate()


def _runner(module: str, name: str) -> Callable:
    """The ``run`` of the :class:`~pcdash.experiments.result.Experiment` ``module.name`` (the
    one the page's job panel runs)."""

    def run(config, on_progress, should_stop):
        import importlib

        return getattr(importlib.import_module(module), name).run(config, on_progress, should_stop)

    return run


CRE_PAGES = ("Home", "Trade-off", "Latent space", "Reconstructions")
_CRE = _runner("pcdash.experiments.cre_sweep", "CRE_SWEEP")
_COMPARISON = _runner("pcdash.experiments.comparison", "PCN_COMPARISON")
DEFAULT_RUNS: tuple[DefaultRun, ...] = (
    DefaultRun("cre", CRE_PAGES, _cre_config, _CRE),
    DefaultRun(
        "energy",
        ("Energy dynamics",),
        _energy_config,
        _runner("pcdash.experiments.pcn_sweep", "PCN_SWEEP"),
    ),
    DefaultRun("pc_algorithms", ("PC algorithms",), _algorithms_config, _COMPARISON),
    DefaultRun("pc_vs_bp", ("PC vs BP",), _pc_vs_bp_config, _COMPARISON),
    DefaultRun(
        "autoencoder",
        ("Autoencoder",),
        _autoencoder_config,
        _runner("pcdash.experiments.autoencoder", "AUTOENCODER"),
    ),
    DefaultRun(
        "mcpc", ("MCPC sampling",), _mcpc_config, _runner("pcdash.experiments.mcpc", "MCPC")
    ),
    DefaultRun(
        "memory",
        ("Associative memory",),
        _memory_config,
        _runner("pcdash.experiments.memory", "MEMORY"),
    ),
    DefaultRun("ood", ("OOD detection",), _ood_config, _runner("pcdash.experiments.ood", "OOD")),
    DefaultRun("latent_dim", ("Latent dimension",), _latent_dim_config, _CRE),
)
BY_NAME = {r.name: r for r in DEFAULT_RUNS}
