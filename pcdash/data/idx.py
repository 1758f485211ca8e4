"""Read and write IDX files (the MNIST format), plain or gzipped."""

from __future__ import annotations

import gzip
import io
import math
import os
import struct
import zlib
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import DataError

# Type codes of the IDX format; multi-byte values are big-endian.
_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES: dict[tuple[str, int], int] = {(dt.kind, dt.itemsize): code for code, dt in _DTYPES.items()}

# A header may claim any size; refuse absurd ones instead of trying to allocate them.
MAX_PAYLOAD_BYTES = 1 << 31
_GZIP_MAGIC = b"\x1f\x8b"


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def _read_exact(stream: _Readable, n: int) -> bytes:
    chunks = []
    while n > 0:
        chunk = stream.read(min(n, 1 << 24))
        if not chunk:
            break
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _parse(stream: _Readable, label: str) -> np.ndarray:
    head = _read_exact(stream, 4)
    if len(head) < 4:
        raise DataError(f"IDX file {label} is truncated: it ends inside the 4-byte header.")
    if head[0] != 0 or head[1] != 0 or head[2] not in _DTYPES or head[3] == 0:
        raise DataError(
            f"{label} is not an IDX file: bad magic number 0x{head.hex()} "
            "(expected 0x0000, a known type code and at least one dimension)."
        )
    dtype, ndim = _DTYPES[head[2]], head[3]
    raw_dims = _read_exact(stream, 4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise DataError(f"IDX file {label} is truncated: it ends inside the dimension list.")
    dims = struct.unpack(f">{ndim}I", raw_dims)
    nbytes = math.prod(dims) * dtype.itemsize
    if nbytes > MAX_PAYLOAD_BYTES:
        raise DataError(f"IDX file {label} claims dimensions {dims}, which is implausibly large.")
    payload = _read_exact(stream, nbytes)
    if len(payload) < nbytes:
        raise DataError(
            f"IDX file {label} is truncated: dimensions {dims} need {nbytes:,} data bytes "
            f"but only {len(payload):,} are there. Delete it and download it again."
        )
    if stream.read(1):
        raise DataError(f"IDX file {label} has extra bytes after the {nbytes:,} data bytes.")
    return np.frombuffer(payload, dtype).astype(dtype.newbyteorder("="), copy=False).reshape(dims)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Return the array stored in an IDX file (gzipped or plain, detected from its content).

    Raises DataError for a bad magic number, a truncated file or trailing bytes.
    """
    path = Path(path)
    try:
        with path.open("rb") as raw:
            is_gzip = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            if is_gzip:
                with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                    return _parse(stream, str(path))
            return _parse(raw, str(path))
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(
            f"Cannot read IDX file {path}: {exc}. The file is corrupt or truncated; "
            "delete it and download it again."
        ) from exc


def encode_idx(array: np.ndarray) -> bytes:
    """Return the IDX encoding (uncompressed) of ``array``."""
    array = np.asarray(array)
    code = _CODES.get((array.dtype.kind, array.dtype.itemsize))
    if code is None or array.ndim == 0 or array.ndim > 255:
        raise DataError(f"Cannot store a {array.dtype} array with shape {array.shape} as IDX.")
    header = struct.pack(f">BBBB{array.ndim}I", 0, 0, code, array.ndim, *array.shape)
    return header + np.ascontiguousarray(array, dtype=_DTYPES[code]).tobytes()


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file, gzipped when the name ends in ``.gz``; return the path."""
    path = Path(path)
    data = encode_idx(array)
    if path.name.endswith(".gz"):
        buffer = io.BytesIO()
        # mtime=0 keeps the bytes, and so the checksum, reproducible.
        with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:
            gz.write(data)
        data = buffer.getvalue()
    path.write_bytes(data)
    return path
