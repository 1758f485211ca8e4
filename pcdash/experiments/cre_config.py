"""A CRE sweep's configuration, validated once for the CLI and the dashboard alike."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from pcdash import limits
from pcdash.config import Config, choice, int_at_least, require
from pcdash.cre.base import LATENT_ACTIVATIONS
from pcdash.cre.models import ARCHS, FIXED_LATENT, IMAGE_ONLY, INITS, latent_size
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
class CREConfig(Config):
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

    KIND = "cre"

    def check(self) -> None:
        choice("dataset", self.dataset, DATASETS)
        choice("architecture", self.arch, ARCHS)
        require(
            self.arch not in IMAGE_ONLY or get_source(self.dataset).is_image,
            f"architecture {self.arch!r} needs an image dataset, not {self.dataset!r}",
        )
        choice("latent activation", self.latent_activation, LATENT_ACTIVATIONS)
        choice("initialisation", self.init, INITS)
        require(len(self.lambdas) > 0, "the λ grid is empty; give at least one value in [0, 1]")
        bad = [lam for lam in self.lambdas if not (math.isfinite(lam) and 0.0 <= lam <= 1.0)]
        require(not bad, f"λ must lie in [0, 1]; got {', '.join(map(str, bad))}")
        require(
            len(set(self.lambdas)) == len(self.lambdas),
            "the λ grid repeats a value; give each λ once",
        )
        require(
            len(self.latent_dims) > 0,
            "the latent-dimension list is empty; give at least one dimension ≥ 1",
        )
        require(
            all(int(d) == d and d >= 1 for d in self.latent_dims),
            "latent dimensions must be whole numbers ≥ 1; got "
            f"{', '.join(map(str, self.latent_dims))}",
        )
        require(
            len(set(self.latent_dims)) == len(self.latent_dims),
            "the latent-dimension list repeats a value",
        )
        int_at_least("seeds", self.seeds, 1)  # (the caps: pcdash.limits)
        int_at_least("epochs", self.epochs, 1)
        int_at_least("batch size", self.batch_size, 1)
        require(
            math.isfinite(self.lr) and 0.0 < self.lr <= 10.0,
            f"learning rate must be in (0, 10]; got {self.lr}",
        )
        require(
            0.0 <= self.val_fraction < 0.5,
            f"validation fraction must be in [0, 0.5); got {self.val_fraction}",
        )
        for b in self.baselines:
            choice("baseline", b, BASELINES)
        require(
            1 <= self.points_per_class <= 1000,
            f"points per class must be between 1 and 1000; got {self.points_per_class}",
        )

    def validate(self) -> CREConfig:
        """The configuration that runs: ``self``, except that for an architecture whose latent
        is fixed (``cnn``, ``vit``) ``latent_dims`` becomes that latent's size on the dataset.
        Raises :class:`ConfigError` with one clear line when it cannot run."""
        self.check()
        return limits.check(self._with_fixed_latent() if self.arch in FIXED_LATENT else self)

    def _with_fixed_latent(self) -> CREConfig:
        size = latent_size(self.arch, get_source(self.dataset).input_shape, 0)
        dense = {"cnn": "cnn-z", "vit": "vit-z"}[self.arch]
        if len(self.latent_dims) > 1:
            raise ConfigError(
                f"{self.arch!r} has no dim(z) to vary: its latent is fixed by the architecture "
                f"({size} numbers on {self.dataset}); use {dense!r} for a dim(z) study"
            )
        if self.baselines:
            raise ConfigError(
                f"PCA and RP baselines need a dense dim(z); {self.arch!r} has a fixed latent, "
                f"use {dense!r}"
            )
        return replace(self, latent_dims=(size,))

    @property
    def n_members(self) -> int:
        return len(self.lambdas) * len(self.latent_dims) * self.seeds
