"""Read the CIFAR-10 binary version straight from its tar.gz archive (no extraction, no pickle)."""

from __future__ import annotations

import os
import posixpath
import tarfile
import zlib
from pathlib import Path

import numpy as np

from .errors import DataError

BATCH_DIR = "cifar-10-batches-bin"
TRAIN_MEMBERS = tuple(f"{BATCH_DIR}/data_batch_{i}.bin" for i in range(1, 6))
TEST_MEMBER = f"{BATCH_DIR}/test_batch.bin"
RECORD_BYTES = 1 + 3 * 32 * 32
NUM_CLASSES = 10
# Official batches are 30,730,000 bytes; anything far larger is not a CIFAR batch.
MAX_MEMBER_BYTES = 64 << 20


def _records(data: bytes, label: str) -> tuple[np.ndarray, np.ndarray]:
    if not data or len(data) % RECORD_BYTES:
        raise DataError(
            f"CIFAR-10 batch {label} has {len(data):,} bytes, not a positive multiple of the "
            f"{RECORD_BYTES}-byte record size; the archive is corrupt."
        )
    records = np.frombuffer(data, np.uint8).reshape(-1, RECORD_BYTES)
    labels = records[:, 0].copy()
    if labels.max() >= NUM_CLASSES:
        raise DataError(f"CIFAR-10 batch {label} has label {labels.max()}; labels must be 0..9.")
    # Each record stores the red, green and blue 32×32 planes in turn; make it channels-last.
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def read_cifar10_tar(
    path: str | os.PathLike,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(x_train, y_train, x_test, y_test)`` from ``cifar-10-binary.tar.gz``.

    Images are uint8 of shape (n, 32, 32, 3), labels uint8 of shape (n,). Only the six batch
    members are read, as regular files, in one sequential pass. Raises DataError when the
    archive is corrupt, truncated or lacks a batch.
    """
    path = Path(path)
    wanted = set(TRAIN_MEMBERS) | {TEST_MEMBER}
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(path, mode="r:*") as tar:
            for member in tar:
                name = posixpath.normpath(member.name)
                if name not in wanted:
                    continue
                if not member.isfile() or member.size > MAX_MEMBER_BYTES:
                    raise DataError(
                        f"{path}: member {name} is not a regular CIFAR-10 batch file; "
                        "the archive is not the official one."
                    )
                handle = tar.extractfile(member)
                data = handle.read() if handle is not None else b""
                if len(data) != member.size:
                    raise DataError(f"{path}: member {name} is truncated.")
                found[name] = data
                if len(found) == len(wanted):
                    break
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise DataError(
            f"Cannot read CIFAR-10 archive {path}: {exc}. The file is corrupt or truncated; "
            "delete it and download it again."
        ) from exc
    missing = sorted(wanted - found.keys())
    if missing:
        raise DataError(f"CIFAR-10 archive {path} lacks {', '.join(missing)}.")
    train = [_records(found[name], name) for name in TRAIN_MEMBERS]
    x_test, y_test = _records(found[TEST_MEMBER], TEST_MEMBER)
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return x_train, y_train, x_test, y_test
