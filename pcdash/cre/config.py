"""A CRE sweep's configuration, validated once for the CLI and the dashboard alike."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field

from pcdash import limits
from pcdash.cre.models import ARCHS, LATENT_ACTIVATIONS
from pcdash.data import DATASETS
from pcdash.errors import ConfigError

BASELINES = ("pca", "rp")


@dataclass(frozen=True)
class CREConfig:
    """A grid of λ values × latent dimensions × seeds for one dataset and architecture."""

    dataset: str = "digits"
    arch: str = "fc-medium"
    latent_dims: tuple[int, ...] = (3,)
    lambdas: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    seeds: int = 3
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    latent_activation: str = "relu"
    val_fraction: float = 0.1
    baselines: tuple[str, ...] = field(default=())
    points_per_class: int = 50

    def validate(self) -> CREConfig:
        """Returns ``self`` if it can run, else raises :class:`ConfigError` with one clear line."""
        if self.dataset not in DATASETS:
            raise ConfigError(f"unknown dataset {self.dataset!r}; choose from {', '.join(DATASETS)}")
        if self.arch not in ARCHS:
            raise ConfigError(f"unknown architecture {self.arch!r}; choose from {', '.join(ARCHS)}")
        if self.arch in ("cnn", "vit") and self.dataset in ("moons", "circles"):
            raise ConfigError(f"architecture {self.arch!r} needs an image dataset, not {self.dataset!r}")
        if self.latent_activation not in LATENT_ACTIVATIONS:
            raise ConfigError(f"unknown latent activation {self.latent_activation!r}; choose from {', '.join(LATENT_ACTIVATIONS)}")
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
        return limits.check(self)

    @property
    def n_members(self) -> int:
        return len(self.lambdas) * len(self.latent_dims) * self.seeds

    def key(self) -> str:
        """A short stable hash naming this configuration (results are cached under it)."""
        blob = json.dumps({"kind": "cre", **asdict(self)}, sort_keys=True, default=list)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        return asdict(self)
