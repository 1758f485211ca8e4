"""load_dataset: validate arguments, read or generate the data, split it, scale it, cache it."""

from __future__ import annotations

import functools
import math
import numbers
import os
from dataclasses import dataclass

import numpy as np

from . import sources
from .cifar import read_cifar10_tar
from .dataset import Dataset
from .download import ensure_files, files_present, resolve_dir
from .errors import DataError
from .idx import read_idx
from .splits import stratified_split

# The test split (and the toy sample itself) never depends on the run's seed, so every
# seed is evaluated on the same test set.
FIXED_STATE = 0
TEST_FRACTION = 0.2
DEFAULT_TOY_SAMPLES = 2000
MIN_TOY_SAMPLES = 10
MAX_TOY_SAMPLES = 1_000_000
DEFAULT_NOISE = {"moons": 0.1, "circles": 0.05}
CIRCLES_FACTOR = 0.5
TOY_SETS = ("moons", "circles")


@dataclass(frozen=True, eq=False)
class _Raw:
    x_pool: np.ndarray  # train + val; uint8 pixels or already-scaled float32
    y_pool: np.ndarray
    x_test: np.ndarray  # float32, read-only
    y_test: np.ndarray


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def _to_float(x: np.ndarray) -> np.ndarray:
    """Return a new float32 array; uint8 pixels are mapped to [-1, 1]."""
    if x.dtype == np.uint8:
        out = x.astype(np.float32)
        out /= 127.5
        out -= 1.0
        return out
    return np.array(x, dtype=np.float32)


def _labels(y: np.ndarray) -> np.ndarray:
    return np.asarray(y).astype(np.int32)


def _raw_with_fixed_test(x: np.ndarray, y: np.ndarray) -> _Raw:
    keep, test = stratified_split(y, TEST_FRACTION, FIXED_STATE)
    return _Raw(x[keep], y[keep], _frozen(_to_float(x[test])), _frozen(y[test]))


def _digits() -> _Raw:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # Digit pixels are 0..16, so x/8 - 1 lands in [-1, 1].
    x = (bunch.images.astype(np.float32) / 8.0 - 1.0)[..., None]
    return _raw_with_fixed_test(x, _labels(bunch.target))


def _toy(name: str, n_samples: int, noise: float) -> _Raw:
    from sklearn.datasets import make_circles, make_moons

    if name == "moons":
        x, y = make_moons(n_samples=n_samples, noise=noise, random_state=FIXED_STATE)
    else:
        x, y = make_circles(
            n_samples=n_samples, noise=noise, factor=CIRCLES_FACTOR, random_state=FIXED_STATE
        )
    x, y = x.astype(np.float64), _labels(y)
    keep, test = stratified_split(y, TEST_FRACTION, FIXED_STATE)
    # Standardise with train+val statistics only, so nothing is fitted on test.
    mean = x[keep].mean(axis=0)
    std = x[keep].std(axis=0)
    x = ((x - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)
    return _Raw(x[keep], y[keep], _frozen(x[test]), _frozen(y[test]))


def _check_pair(
    x: np.ndarray, y: np.ndarray, shape: tuple[int, ...], num_classes: int, what: str
) -> None:
    if x.dtype != np.uint8 or x.shape[1:] != shape or len(x) == 0:
        raise DataError(
            f"{what}: expected uint8 images of shape (n, {', '.join(map(str, shape))}), "
            f"got {x.dtype} {x.shape}."
        )
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(f"{what}: {len(x)} images but labels of shape {y.shape}.")
    if y.min() < 0 or y.max() >= num_classes:
        raise DataError(f"{what}: labels must be in 0..{num_classes - 1}, found {y.max()}.")


def _idx_set(source: sources.Source, root: str) -> _Raw:
    paths = ensure_files(source.name, root)
    parts = []
    for prefix, split in (("train", "train"), ("t10k", "test")):
        x = read_idx(paths[f"{prefix}-images-idx3-ubyte.gz"])
        y = read_idx(paths[f"{prefix}-labels-idx1-ubyte.gz"])
        _check_pair(x, y, source.input_shape[:2], source.num_classes, f"{source.name} {split}")
        parts.append((x[..., None], _labels(y)))
    (x_pool, y_pool), (x_test, y_test) = parts
    return _Raw(x_pool, y_pool, _frozen(_to_float(x_test)), _frozen(y_test))


def _cifar(source: sources.Source, root: str) -> _Raw:
    paths = ensure_files(source.name, root)
    x_pool, y_pool, x_test, y_test = read_cifar10_tar(paths["cifar-10-binary.tar.gz"])
    _check_pair(x_pool, y_pool, source.input_shape, source.num_classes, "cifar10 train")
    _check_pair(x_test, y_test, source.input_shape, source.num_classes, "cifar10 test")
    return _Raw(x_pool, _labels(y_pool), _frozen(_to_float(x_test)), _frozen(_labels(y_test)))


# Raw arrays are kept separately (as uint8 for image files) so that several seeds or
# validation fractions of the same set share one read of the files.
@functools.lru_cache(maxsize=4)
def _raw(name: str, root: str | None, n_samples: int | None, noise: float | None) -> _Raw:
    source = sources.get_source(name)
    if name == "digits":
        return _digits()
    if name in TOY_SETS:
        if n_samples is None or noise is None:
            raise ValueError(f"{name} needs n_samples and noise")  # load() always passes both
        return _toy(name, n_samples, noise)
    if root is None:
        raise ValueError(f"{name} needs a data folder")  # load() resolves the default before
    if name == "cifar10":
        return _cifar(source, root)
    return _idx_set(source, root)


@functools.lru_cache(maxsize=8)
def _load(
    name: str,
    val_fraction: float,
    seed: int,
    root: str | None,
    n_samples: int | None,
    noise: float | None,
) -> Dataset:
    source = sources.get_source(name)
    raw = _raw(name, root, n_samples, noise)
    train, val = stratified_split(raw.y_pool, val_fraction, seed)
    return Dataset(
        name=name,
        x_train=_frozen(_to_float(raw.x_pool[train])),
        y_train=_frozen(raw.y_pool[train]),
        x_val=_frozen(_to_float(raw.x_pool[val])),
        y_val=_frozen(raw.y_pool[val]),
        x_test=raw.x_test,
        y_test=raw.y_test,
        input_shape=source.input_shape,
        num_classes=source.num_classes,
        class_names=source.class_names,
        is_image=source.is_image,
    )


def _check_val_fraction(value: object) -> float:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        fraction = float(value)
        if 0.0 <= fraction < 0.5:
            return fraction
    raise DataError(f"val_fraction must be a number in [0, 0.5), got {value!r}.")


def _check_int(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        number = int(value)
        if low <= number <= high:
            return number
    raise DataError(f"{what} must be an integer in [{low}, {high:,}], got {value!r}.")


def _check_noise(value: object) -> float:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        noise = float(value)
        if math.isfinite(noise) and noise >= 0.0:
            return noise
    raise DataError(f"noise must be a finite number >= 0, got {value!r}.")


def load_dataset(
    name: str,
    *,
    val_fraction: float = 0.1,
    seed: int = 0,
    data_dir: str | os.PathLike | None = None,
    n_samples: int | None = None,
    noise: float | None = None,
) -> Dataset:
    """Return dataset ``name`` split into train / val / test (cached; arrays read-only).

    The test split is fixed (official test set, or a stratified 20% drawn with a fixed
    state); validation is a stratified ``val_fraction`` of the rest, drawn with ``seed``.
    ``n_samples`` and ``noise`` shape the toy sets and are ignored for the others.
    Raises DataError for bad arguments and for missing, corrupt or truncated files.
    """
    source = sources.get_source(name)
    fraction = _check_val_fraction(val_fraction)
    seed = _check_int(seed, "seed", 0, 2**32 - 1)
    if name in TOY_SETS:
        n_samples = _check_int(
            DEFAULT_TOY_SAMPLES if n_samples is None else n_samples,
            "n_samples",
            MIN_TOY_SAMPLES,
            MAX_TOY_SAMPLES,
        )
        noise = _check_noise(DEFAULT_NOISE[name] if noise is None else noise)
    else:
        n_samples = noise = None
    root = str(resolve_dir(data_dir)) if source.needs_files else None
    return _load(name, fraction, seed, root, n_samples, noise)


def dataset_available(name: str, data_dir: str | os.PathLike | None = None) -> bool:
    """Return True when ``name`` can be loaded offline right now (its files are present).

    Only presence is checked here; checksums are verified when the set is loaded.
    """
    source = sources.get_source(name)
    return not source.needs_files or files_present(name, data_dir)


def clear_cache() -> None:
    """Drop every cached dataset, e.g. after files in the data directory changed."""
    _load.cache_clear()
    _raw.cache_clear()
