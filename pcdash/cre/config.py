"""A CRE sweep's configuration, validated once for the CLI and the dashboard alike."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, replace

from pcdash import limits
from pcdash.cre.models import (
    ARCHS,
    FIXED_LATENT,
    IMAGE_ONLY,
    INITS,
    LATENT_ACTIVATIONS,
    latent_size,
)
from pcdash.data import DATASETS
from pcdash.data.sources import get_source
from pcdash.errors import ConfigError

BASELINES = ("pca", "rp")


def dataset_defaults(dataset: str) -> dict[str, int]:
    """Batch size and epochs for ``dataset``: the paper's (batch 512, 10 epochs = 1,170 Adam steps
    on MNIST) except on digits, whose 1,294 training images would give 2 steps per epoch at batch
    512: there batch 16 × 15 epochs = 1,200 steps, about the paper's number of steps with about
    its number of passes over the data (80 steps per epoch against MNIST's 117)."""
    if dataset == "digits":
        return {"batch_size": CREConfig.batch_size, "epochs": CREConfig.epochs}
    return {"batch_size": 512, "epochs": 10}


@dataclass(frozen=True)
class CREConfig:
    """A grid of λ values × latent dimensions × seeds for one dataset and architecture."""

    dataset: str = "digits"
    arch: str = "fc-medium"
    latent_dims: tuple[int, ...] = (3,)
    lambdas: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    seeds: int = 5
    epochs: int = 15
    batch_size: int = 16
    lr: float = 1e-3
    latent_activation: str = "relu"
    init: str = "active-latent"
    val_fraction: float = 0.1
    baselines: tuple[str, ...] = field(default=())
    points_per_class: int = 50

    def validate(self) -> CREConfig:
        """The configuration that runs: ``self``, except that for an architecture whose latent
        is fixed (``cnn``, ``vit``) ``latent_dims`` becomes that latent's size on the dataset.
        Raises :class:`ConfigError` with one clear line when it cannot run."""
        if self.dataset not in DATASETS:
            raise ConfigError(f"unknown dataset {self.dataset!r}; choose from {', '.join(DATASETS)}")
        if self.arch not in ARCHS:
            raise ConfigError(f"unknown architecture {self.arch!r}; choose from {', '.join(ARCHS)}")
        if self.arch in IMAGE_ONLY and not get_source(self.dataset).is_image:
            raise ConfigError(f"architecture {self.arch!r} needs an image dataset, not {self.dataset!r}")
        if self.latent_activation not in LATENT_ACTIVATIONS:
            raise ConfigError(f"unknown latent activation {self.latent_activation!r}; choose from {', '.join(LATENT_ACTIVATIONS)}")
        if self.init not in INITS:
            raise ConfigError(f"unknown initialisation {self.init!r}; choose from {', '.join(INITS)}")
        if not self.lambdas:
            raise ConfigError("the λ grid is empty; give at least one value in [0, 1]")
        bad = [lam for lam in self.lambdas if not (math.isfinite(lam) and 0.0 <= lam <= 1.0)]
        if bad:
            raise ConfigError(f"λ must lie in [0, 1]; got {', '.join(map(str, bad))}")
        if len(set(self.lambdas)) != len(self.lambdas):
            raise ConfigError("the λ grid repeats a value; give each λ once")
        if not self.latent_dims:
            raise ConfigError("the latent-dimension list is empty; give at least one dimension ≥ 1")
        if any(int(d) != d or d < 1 for d in self.latent_dims):
            raise ConfigError(f"latent dimensions must be whole numbers ≥ 1; got {', '.join(map(str, self.latent_dims))}")
        if len(set(self.latent_dims)) != len(self.latent_dims):
            raise ConfigError("the latent-dimension list repeats a value")
        if not 1 <= self.seeds <= 100:
            raise ConfigError(f"seeds must be between 1 and 100; got {self.seeds}")
        if not 1 <= self.epochs <= 1000:
            raise ConfigError(f"epochs must be between 1 and 1000; got {self.epochs}")
        if not 1 <= self.batch_size <= 65536:
            raise ConfigError(f"batch size must be between 1 and 65536; got {self.batch_size}")
        if not (math.isfinite(self.lr) and 0.0 < self.lr <= 10.0):
            raise ConfigError(f"learning rate must be in (0, 10]; got {self.lr}")
        if not 0.0 <= self.val_fraction < 0.5:
            raise ConfigError(f"validation fraction must be in [0, 0.5); got {self.val_fraction}")
        unknown = [b for b in self.baselines if b not in BASELINES]
        if unknown:
            raise ConfigError(f"unknown baseline {unknown[0]!r}; choose from {', '.join(BASELINES)}")
        if not 1 <= self.points_per_class <= 1000:
            raise ConfigError(f"points per class must be between 1 and 1000; got {self.points_per_class}")
        if self.arch in FIXED_LATENT:
            return limits.check(self._with_fixed_latent())
        return limits.check(self)

    def _with_fixed_latent(self) -> CREConfig:
        size = latent_size(self.arch, get_source(self.dataset).input_shape, 0)
        dense = {"cnn": "cnn-z", "vit": "vit-z"}[self.arch]
        if len(self.latent_dims) > 1:
            raise ConfigError(f"{self.arch!r} has no dim(z) to vary: its latent is fixed by the architecture "
                              f"({size} numbers on {self.dataset}); use {dense!r} for a dim(z) study")
        if self.baselines:
            raise ConfigError(f"PCA and RP baselines need a dense dim(z); {self.arch!r} has a fixed latent, "
                              f"use {dense!r}")
        return replace(self, latent_dims=(size,))

    @property
    def n_members(self) -> int:
        return len(self.lambdas) * len(self.latent_dims) * self.seeds

    def key(self) -> str:
        """A short stable hash naming this configuration (results are cached under it)."""
        blob = json.dumps({"kind": "cre", **asdict(self)}, sort_keys=True, default=list)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        return asdict(self)
