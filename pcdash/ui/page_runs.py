"""Every page's default run: what a page trains when Train is pressed before any control is
touched, built from where the pages take it (``CREConfig()``, ``energy_propagation_config()``,
``TABLE1_DEFAULT``, ``QUICK``, the generative defaults; the Latent dimension page's own dim(z)
and λ inputs start from :data:`LATENT_DIM_PAGE_DIMS` and :data:`LATENT_DIM_PAGE_LAMBDAS`). The
server warms these runs up (``pcdash.ui.server``), ``benchmarks/bench_pages.py`` times them, and
``tests/test_page_runs.py`` checks that each is what its pages submit.

Each :class:`DefaultRun` builds its configuration lazily (imports stay cheap) and trains it with
the page's experiment, ``experiment.run(config, on_progress, should_stop)``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

# The Latent dimension page's own grids: its inputs' defaults (the sidebar's seeds, epochs apply).
LATENT_DIM_PAGE_DIMS = (1, 2, 3, 4, 8, 16)
LATENT_DIM_PAGE_LAMBDAS = (0.0, 0.5, 0.9, 1.0)


@dataclass(frozen=True)
class DefaultRun:
    name: str
    pages: tuple[str, ...]  # the pages (and tabs) that train it
    config: Callable[[], Any]  # the validated configuration
    experiment: str  # "module:NAME" of the Experiment whose run the page's job panel calls

    def load_experiment(self) -> Any:
        module, name = self.experiment.split(":")
        return getattr(importlib.import_module(module), name)

    def __call__(
        self, on_progress: Callable | None = None, should_stop: Callable | None = None
    ) -> Any:
        return self.load_experiment().run(self.config(), on_progress, should_stop)


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


CRE_PAGES = ("Home", "Trade-off", "Latent space", "Reconstructions")
_CRE = "pcdash.experiments.cre_sweep:CRE_SWEEP"
_COMPARISON = "pcdash.experiments.comparison:PCN_COMPARISON"
DEFAULT_RUNS: tuple[DefaultRun, ...] = (
    DefaultRun("cre", CRE_PAGES, _cre_config, _CRE),
    DefaultRun(
        "energy",
        ("Energy dynamics",),
        _energy_config,
        "pcdash.experiments.pcn_sweep:PCN_SWEEP",
    ),
    DefaultRun("pc_algorithms", ("PC algorithms",), _algorithms_config, _COMPARISON),
    DefaultRun("pc_vs_bp", ("PC vs BP",), _pc_vs_bp_config, _COMPARISON),
    DefaultRun(
        "autoencoder",
        ("Autoencoder",),
        _autoencoder_config,
        "pcdash.experiments.autoencoder:AUTOENCODER",
    ),
    DefaultRun("mcpc", ("MCPC sampling",), _mcpc_config, "pcdash.experiments.mcpc:MCPC"),
    DefaultRun(
        "memory",
        ("Associative memory",),
        _memory_config,
        "pcdash.experiments.memory:MEMORY",
    ),
    DefaultRun("ood", ("OOD detection",), _ood_config, "pcdash.experiments.ood:OOD"),
    DefaultRun("latent_dim", ("Latent dimension",), _latent_dim_config, _CRE),
)
BY_NAME = {r.name: r for r in DEFAULT_RUNS}
