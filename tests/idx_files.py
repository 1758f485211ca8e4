"""Small, valid IDX dataset files written by the tests themselves (no download)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from pcdash.data import sources
from pcdash.data.idx import write_idx

IMAGES = ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz")
LABELS = ("train-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def write_idx_set(
    folder: Path, monkeypatch, name: str, arrays: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Write ``arrays`` (file name → uint8 array) into ``folder`` and make the checksum table of
    dataset ``name`` trust exactly these files."""
    folder.mkdir(parents=True, exist_ok=True)
    table = {}
    for file_name, array in arrays.items():
        table[file_name] = hashlib.sha256(
            write_idx(folder / file_name, array).read_bytes()
        ).hexdigest()
    monkeypatch.setitem(sources.CHECKSUMS, name, table)
    return arrays


def idx_arrays(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray
) -> dict:
    return dict(zip(IMAGES + LABELS, (train_x, test_x, train_y, test_y), strict=True))
