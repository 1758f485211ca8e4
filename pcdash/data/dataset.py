"""The Dataset container handed to models, sweeps and pages."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import DataError

SPLITS = ("train", "val", "test")


# eq=False: comparing arrays field by field is ambiguous; identity is what callers need.
@dataclass(frozen=True, eq=False)
class Dataset:
    """A dataset split into train / validation / test; arrays are read-only.

    x arrays are float32 of shape (n, *input_shape) (images channels-last in [-1, 1]);
    y arrays are int32 of shape (n,).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    input_shape: tuple[int, ...]
    num_classes: int
    class_names: tuple[str, ...]
    is_image: bool

    @property
    def input_dim(self) -> int:
        """Return the number of features per example, prod(input_shape)."""
        return math.prod(self.input_shape)

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(x, y)`` of the split ``"train"``, ``"val"`` or ``"test"``."""
        if name == "train":
            return self.x_train, self.y_train
        if name == "val":
            return self.x_val, self.y_val
        if name == "test":
            return self.x_test, self.y_test
        raise DataError(f"Unknown split {name!r}. Valid splits are: {', '.join(SPLITS)}.")
