"""The data directory, checksum checks and atomic downloads from the official mirrors."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO

from . import sources
from .errors import DataError

ENV_VAR = "PCDASH_DATA_DIR"
DEFAULT_DIR = Path("~/.cache/pcdash/data")
TIMEOUT_S = 10.0
# Bigger than any file we fetch (CIFAR is 170 MB); stops a broken mirror from filling the disk.
MAX_DOWNLOAD_BYTES = 400 << 20


def data_dir() -> Path:
    """Return the data directory: ``$PCDASH_DATA_DIR`` or ``~/.cache/pcdash/data``."""
    configured = os.environ.get(ENV_VAR, "").strip()
    return Path(configured or DEFAULT_DIR).expanduser().resolve()


def resolve_dir(directory: str | os.PathLike | None) -> Path:
    """Return ``directory`` as an absolute path, or the default data directory when None."""
    return data_dir() if directory is None else Path(directory).expanduser().resolve()


def dataset_folder(name: str, directory: str | os.PathLike | None = None) -> Path:
    """Return the folder that holds the files of dataset ``name``."""
    return resolve_dir(directory) / sources.get_source(name).name


def sha256_file(path: str | os.PathLike) -> str:
    """Return the lowercase hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_url(url: str, out: BinaryIO) -> None:
    """Stream ``url`` into ``out``; return None. Raises URLError/OSError on network failure.

    Tests replace this function to stay off the network.
    """
    if not url.startswith(("https://", "http://")):
        raise urllib.error.URLError(f"refusing non-HTTP URL {url}")
    request = urllib.request.Request(url, headers={"User-Agent": "pcdash"})
    total = 0
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        while chunk := response.read(1 << 20):
            total += len(chunk)
            if total > MAX_DOWNLOAD_BYTES:
                raise OSError(f"{url} sends more than {MAX_DOWNLOAD_BYTES:,} bytes")
            out.write(chunk)


def _checksum_error(path: Path, expected: str, actual: str) -> DataError:
    return DataError(
        f"File {path} is corrupt or not the official file: expected SHA-256 {expected}, "
        f"got {actual}. Delete it and download it again."
    )


def verify_file(path: Path, expected: str | None) -> None:
    """Check a file's SHA-256 against ``expected`` (skipped when None); return None.

    Raises DataError naming the file, the expected and the actual checksum on mismatch.
    """
    if expected is None:
        return
    actual = sha256_file(path)
    if actual != expected:
        raise _checksum_error(path, expected, actual)


def _download(url: str, path: Path, expected: str | None) -> None:
    """Fetch ``url`` into ``path`` through a temporary file, so ``path`` is never partial."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            fetch_url(url, out)
            out.flush()
            os.fsync(out.fileno())
        if expected is not None:
            actual = sha256_file(tmp)
            if actual != expected:
                raise DataError(
                    f"Download of {path.name} from {url} has the wrong checksum: expected "
                    f"SHA-256 {expected}, got {actual}."
                )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _download_from_mirrors(source: sources.Source, file_name: str, path: Path) -> str | None:
    """Try each mirror in turn; return None on success, else the last failure as text."""
    expected = sources.expected_sha256(source.name, file_name)
    failure = "no mirror is known"
    for mirror in source.mirrors:
        url = mirror + file_name
        try:
            _download(url, path, expected)
            return None
        except (OSError, DataError) as exc:
            # URLError, HTTPError and socket timeouts are all OSError subclasses.
            failure = f"{url}: {exc}"
    return failure


def _missing_message(source: sources.Source, folder: Path, missing: list[str], why: str) -> str:
    listing = "; ".join(
        f"{name} (SHA-256 {sources.expected_sha256(source.name, name) or 'not recorded'})"
        for name in missing
    )
    mirrors = " or ".join(source.mirrors)
    return (
        f"Dataset '{source.name}' is not available: {len(missing)} file(s) are missing from "
        f"{folder} and could not be downloaded (last error: {why}). Download {listing} "
        f"from {mirrors} and put them in {folder} (or set {ENV_VAR} to another data directory)."
    )


def ensure_files(
    name: str, directory: str | os.PathLike | None = None, *, download: bool = True
) -> dict[str, Path]:
    """Make every file of dataset ``name`` present and verified; return {file name: path}.

    Present files are checked against their SHA-256; missing ones are downloaded (when
    ``download``) from the mirrors, checked, and written atomically. Raises one DataError
    naming every corrupt file, or every missing file with its checksum and target folder.
    """
    source = sources.get_source(name)
    folder = dataset_folder(name, directory)
    paths = {file_name: folder / file_name for file_name in source.files}

    corrupt = []
    for file_name, path in paths.items():
        if path.is_file():
            try:
                verify_file(path, sources.expected_sha256(name, file_name))
            except DataError as exc:
                corrupt.append(str(exc))
    if corrupt:
        raise DataError(" ".join(corrupt))

    missing: list[str] = []
    why = "downloads are switched off"
    folder_existed = folder.exists()
    for file_name, path in paths.items():
        if path.is_file():
            continue
        if download:
            failure = _download_from_mirrors(source, file_name, path)
            if failure is None:
                continue
            why = failure
            # When every mirror failed, assume we are offline rather than wait on each file.
            download = False
        missing.append(file_name)
    if missing:
        if not folder_existed:
            # Leave no empty folder behind a failed download; rmdir refuses non-empty ones.
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise DataError(_missing_message(source, folder, missing, why))
    return paths


def files_present(name: str, directory: str | os.PathLike | None = None) -> bool:
    """Return True when every file of dataset ``name`` exists (checksums are not read)."""
    folder = dataset_folder(name, directory)
    return all((folder / f).is_file() for f in sources.get_source(name).files)
