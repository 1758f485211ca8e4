"""Fisher's iris, two of its four features, for the MCPC density of the PCX paper's Fig. 4.

PCX's ``mcpc_iris.py`` keeps sepal length and petal length (columns 0 and 2) and standardises
each to zero mean and unit variance over all 150 flowers; no split (the figure compares the
learned density with the data it was fitted to). Bundled with scikit-learn: works offline."""

from __future__ import annotations

import numpy as np

IRIS_FEATURES = (0, 2)
IRIS_FEATURE_NAMES = ("sepal length (standardised)", "petal length (standardised)")


def load_iris_2d() -> tuple[np.ndarray, np.ndarray]:
    """``(x, species)``: x of shape (150, 2), float32, standardised; species 0, 1, 2."""
    from sklearn.datasets import load_iris

    bunch = load_iris()
    x = bunch.data[:, list(IRIS_FEATURES)].astype(np.float64)
    x = (x - x.mean(0)) / x.std(0)
    return x.astype(np.float32), bunch.target.astype(np.int32)
