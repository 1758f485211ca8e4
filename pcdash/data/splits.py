"""Stratified, seeded index splits."""

from __future__ import annotations

import numpy as np


def stratified_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return sorted index arrays ``(keep, held)`` that partition ``range(len(y))``.

    ``held`` has ``round(fraction * len(y))`` indices, spread over the classes in proportion
    to their sizes (largest remainders get the leftover), drawn with ``seed``.
    """
    y = np.asarray(y)
    n = len(y)
    n_held = int(round(fraction * n))
    if n_held <= 0:
        return np.arange(n), np.arange(0)
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    exact = counts * (n_held / n)
    per_class = np.floor(exact).astype(np.int64)
    leftover = n_held - int(per_class.sum())
    order = np.argsort(-(exact - per_class), kind="stable")
    per_class[order[:leftover]] += 1
    per_class = np.minimum(per_class, counts)

    rng = np.random.default_rng(seed)
    held = [
        rng.permutation(np.flatnonzero(inverse == k))[:take] for k, take in enumerate(per_class)
    ]
    held_idx = np.sort(np.concatenate(held))
    mask = np.ones(n, dtype=bool)
    mask[held_idx] = False
    return np.flatnonzero(mask), held_idx
