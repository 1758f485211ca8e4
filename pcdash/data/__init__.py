"""Datasets for pcdash: registry, offline-safe loading, checksums and splits (no streamlit)."""

from .dataset import Dataset
from .download import data_dir, ensure_files
from .errors import DataError
from .loading import clear_cache, dataset_available, load_dataset
from .sources import DATASETS, describe

__all__ = [
    "DATASETS",
    "DataError",
    "Dataset",
    "clear_cache",
    "data_dir",
    "dataset_available",
    "describe",
    "ensure_files",
    "load_dataset",
]
