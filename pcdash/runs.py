"""Saved runs on disk: one folder per configuration key holding ``config.json``,
``results.csv``, ``arrays.npz`` (plain arrays; never pickled objects), for runs with more than
one table ``table_<name>.csv``, and ``manifest.json``: the size and SHA-256 of every file, the
rows and columns of every table and the shape and dtype of every array.

Saving writes a new folder beside the old one and swaps the two in one step (``renameat2``
with ``RENAME_EXCHANGE`` on Linux; elsewhere the old folder is renamed aside first and put back
by :func:`sweep_stale` if the process dies in between), so a kill at any moment leaves the old
run or the new one. What killed saves and deletes leave behind is swept when a process first
uses the folder.

Loading checks the manifest, then every file against it, and turns any damage (a truncated,
empty or changed file, a missing array or column, JSON of the wrong shape) into one
:class:`DamagedRun` message. Runs saved before manifests existed load with the same structural
checks, without checksums.

A run that the user's store lacks is looked up, read-only, in the shipped results of
``assets/runs`` (:func:`assets_dir`; ``$PCDASH_ASSETS_DIR`` moves it, an empty value turns it
off): every page opens on a precomputed result, and :func:`asset_info` says when one came from
there. Saving always goes to the user's store, so a run trained live replaces the shipped one.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pcdash.errors import PcdashError
from pcdash.files import pid_alive

MANIFEST = "manifest.json"
ASSETS_ENV = "PCDASH_ASSETS_DIR"
FORMAT = 1
KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}")
_SIDE = re.compile(
    r"^\.(?P<key>[A-Za-z0-9][A-Za-z0-9_-]{0,79})\.(?P<kind>tmp|old|del)-(?P<pid>\d+)-[0-9a-f]+$"
)
_LEGACY_TMP = re.compile(
    r"^\.(?P<key>[A-Za-z0-9][A-Za-z0-9_-]{0,79})\.[a-z0-9_]{8}$"
)  # mkdtemp of old versions
STALE_S = 3600.0  # a side folder of a live process older than this is swept too
_swept: set[Path] = set()


class DamagedRun(PcdashError):
    """A saved run whose files do not hold what was saved."""


def runs_dir() -> Path:
    """``$PCDASH_RUNS_DIR``, else ``$PCDASH_CACHE_DIR/runs`` (default ``~/.cache/pcdash/runs``).
    The first call for a folder sweeps what killed saves left there."""
    root = os.environ.get("PCDASH_RUNS_DIR")
    if root:
        path = Path(root)
    else:
        path = Path(os.environ.get("PCDASH_CACHE_DIR", Path.home() / ".cache" / "pcdash")) / "runs"
    path.mkdir(parents=True, exist_ok=True)
    if path not in _swept:
        _swept.add(path)
        sweep_stale(path)
    return path


def assets_dir() -> Path | None:
    """The shipped results' run store: ``$PCDASH_ASSETS_DIR`` (empty or ``0``: none), else
    ``assets/runs`` at the top of the source tree, if it is there."""
    configured = os.environ.get(ASSETS_ENV)
    if configured is not None:
        return None if configured.strip() in ("", "0") else Path(configured)
    path = Path(__file__).resolve().parent.parent / "assets" / "runs"
    return path if path.is_dir() else None


def asset_info(key: str) -> dict | None:
    """The ``precomputed`` stamp (when, pcdash version, commit, command) of the shipped run
    ``key`` if :func:`load_run` would load it from the assets (the user's store has no such run),
    else None."""
    check_key(key)
    shipped = assets_dir()
    if (
        shipped is None
        or (runs_dir() / key).exists()
        or not (shipped / key / "config.json").is_file()
    ):
        return None
    try:
        head = json.loads((shipped / key / "config.json").read_bytes())
        stamp = head.get("meta", {}).get("precomputed")
    except (OSError, ValueError, AttributeError):
        return None
    return stamp if isinstance(stamp, dict) else {}


def check_key(key: object) -> str:
    """``key`` if it is a well-formed run id (letters, digits, ``-`` and ``_``; no dots, no
    slashes), else a PcdashError."""
    if not isinstance(key, str) or not KEY.fullmatch(key):
        from pcdash.parsing import echo

        raise PcdashError(f"{echo(key)} is not a run id")
    return key


@dataclass
class SavedRun:
    key: str
    kind: str
    config: dict
    frame: pd.DataFrame
    arrays: dict[str, np.ndarray]
    meta: dict
    path: Path
    tables: dict[str, pd.DataFrame]
    verified: bool = field(default=True)  # False: saved without a manifest (older pcdash)


# ------------------------------------------------------------------------------ saving


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write(path: Path, data: bytes) -> dict:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """``arrays`` as an ``.npz`` (what ``np.load`` reads), deflated at level 1 rather than
    ``np.savez_compressed``'s 6. Saving runs while the user waits for the job to end; on the
    Latent dimension page's default (12 MB of latent snapshots) level 6 took 0.34 s and level 1
    0.17 s, for a file 4% larger (7.0 against 6.7 MB)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, value in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, value, allow_pickle=False)
    return buffer.getvalue()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _side_name(key: str, kind: str) -> str:
    return f".{key}.{kind}-{os.getpid()}-{secrets.token_hex(4)}"


_renameat2: Any = None  # the libc function once looked up; False where there is none


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False where the
    system cannot."""
    global _renameat2
    if _renameat2 is None:
        try:
            fn = ctypes.CDLL(None, use_errno=True).renameat2
            fn.argtypes = [
                ctypes.c_int,
                ctypes.c_char_p,
                ctypes.c_int,
                ctypes.c_char_p,
                ctypes.c_uint,
            ]
            _renameat2 = fn
        except (AttributeError, OSError):
            _renameat2 = False
    if _renameat2 is False or os.environ.get("PCDASH_NO_EXCHANGE") == "1":
        return False
    at_fdcwd, rename_exchange = -100, 2
    if _renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _remove(path: Path) -> None:
    """Remove ``path``: a link or file is unlinked (never followed), a folder removed whole."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path)


def _swap_into_place(tmp: Path, final: Path) -> None:
    """Make the complete folder ``tmp`` the run at ``final``; at every moment ``final`` is the
    old run or the new one (after :func:`sweep_stale` on systems without an atomic exchange)."""
    root = final.parent
    try:
        os.rename(tmp, final)  # nothing there yet (or an empty folder)
        return
    except OSError as err:
        if err.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
            raise
    if _exchange(tmp, final):
        _fsync_dir(root)
        _remove(tmp)  # now the old run
        return
    aside = root / _side_name(final.name, "old")
    os.rename(final, aside)  # a kill here: sweep_stale puts it back
    os.rename(tmp, final)
    _fsync_dir(root)
    _remove(aside)


def save_run(
    key: str,
    kind: str,
    config: dict,
    frame: pd.DataFrame,
    arrays: dict[str, np.ndarray] | None = None,
    meta: dict | None = None,
    root: Path | None = None,
    tables: dict[str, pd.DataFrame] | None = None,
) -> Path:
    """Store a finished run under ``key``, replacing any earlier one atomically."""
    check_key(key)
    for name in tables or {}:
        if not name.isidentifier():
            raise ValueError(f"bad table name {name!r}")
    root = root or runs_dir()
    final = root / key
    tmp = root / _side_name(key, "tmp")
    tmp.mkdir()
    try:
        files: dict[str, dict] = {}
        head = {"kind": kind, "config": config, "meta": meta or {}}
        files["config.json"] = _write(
            tmp / "config.json", json.dumps(head, default=list, indent=1).encode()
        )
        for name, table in {
            "results": frame,
            **{f"table_{n}": t for n, t in (tables or {}).items()},
        }.items():
            entry = _write(tmp / f"{name}.csv", _csv_bytes(table))
            files[f"{name}.csv"] = {
                **entry,
                "rows": len(table),
                "columns": [str(c) for c in table.columns],
            }
        arrays = {k: np.asarray(v) for k, v in (arrays or {}).items()}
        files["arrays.npz"] = {
            **_write(tmp / "arrays.npz", _npz_bytes(arrays)),
            "arrays": {k: [list(v.shape), v.dtype.str] for k, v in arrays.items()},
        }
        manifest = {"format": FORMAT, "key": key, "saved": time.time(), "files": files}
        _write(tmp / MANIFEST, json.dumps(manifest, indent=1).encode())
        _fsync_dir(tmp)
        _swap_into_place(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _verified.pop((root, key), None)
    return final


# ------------------------------------------------------------------------------ loading


def _damaged(key: str, what: str) -> DamagedRun:
    what = " ".join(str(what).split())[:240]
    return DamagedRun(
        f"saved run {key} is damaged: {what}; delete it on the Runs page (or train it again)"
    )


def _read_manifest(key: str, path: Path) -> dict | None:
    file = path / MANIFEST
    if not file.exists() and not file.is_symlink():
        return None
    try:
        manifest = json.loads(file.read_bytes())
    except (OSError, ValueError) as err:
        raise _damaged(key, f"{MANIFEST} cannot be read ({err})") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if (
        not isinstance(files, dict)
        or manifest.get("format") != FORMAT
        or not all(isinstance(v, dict) and isinstance(v.get("sha256"), str) for v in files.values())
        or not {"config.json", "results.csv", "arrays.npz"} <= set(files)
    ):
        raise _damaged(key, f"{MANIFEST} has the wrong shape")
    return files


def _check_file(key: str, path: Path, name: str, entry: dict) -> bytes:
    """The bytes of ``name``, checked against its manifest entry."""
    file = path / name
    if file.is_symlink() or not file.is_file():
        raise _damaged(
            key, f"{name} is missing" if not file.exists() else f"{name} is not a regular file"
        )
    data = file.read_bytes()
    if len(data) != entry.get("bytes"):
        raise _damaged(
            key,
            f"{name} has {len(data)} bytes, {entry.get('bytes')} were saved"
            + (
                " (empty)"
                if not data
                else " (truncated)"
                if len(data) < entry.get("bytes", 0)
                else ""
            ),
        )
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise _damaged(key, f"{name} has changed since it was saved (SHA-256 mismatch)")
    return data


def _read_table(key: str, name: str, data: bytes, entry: dict | None) -> pd.DataFrame:
    if entry is None and not data.endswith(b"\n"):
        raise _damaged(key, f"{name} is truncated (its last line is cut)")
    if data == b"\n" and (entry is None or (entry.get("rows"), entry.get("columns")) == (0, [])):
        return pd.DataFrame()  # what to_csv writes for a frame without columns
    try:
        frame = pd.read_csv(io.BytesIO(data))
    except Exception as err:  # pandas raises many kinds on bad text
        raise _damaged(key, f"{name} cannot be read ({type(err).__name__}: {err})") from None
    if entry is not None:
        if len(frame) != entry.get("rows"):
            raise _damaged(key, f"{name} has {len(frame)} rows, {entry.get('rows')} were saved")
        if [str(c) for c in frame.columns] != entry.get("columns"):
            missing = [c for c in entry.get("columns", []) if c not in set(map(str, frame.columns))]
            raise _damaged(
                key,
                f"{name} lacks columns {', '.join(missing)}"
                if missing
                else f"{name} has other columns than were saved",
            )
    return frame


def _read_arrays(key: str, data: bytes, entry: dict | None) -> dict[str, np.ndarray]:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as err:  # zipfile, zlib, numpy format and pickle refusals
        raise _damaged(key, f"arrays.npz cannot be read ({type(err).__name__}: {err})") from None
    if entry is not None:
        saved = entry.get("arrays")
        if not isinstance(saved, dict):
            raise _damaged(key, f"{MANIFEST} has the wrong shape")
        missing = sorted(set(saved) - set(arrays))
        if missing:
            raise _damaged(key, f"arrays.npz lacks arrays {', '.join(missing[:5])}")
        for name, (shape, dtype) in saved.items():
            if list(arrays[name].shape) != list(shape) or arrays[name].dtype.str != dtype:
                raise _damaged(
                    key, f"array {name} has shape {arrays[name].shape}, {tuple(shape)} was saved"
                )
    return arrays


def _read_head(key: str, data: bytes) -> dict:
    try:
        head = json.loads(data)
    except ValueError as err:
        raise _damaged(key, f"config.json cannot be read ({err})") from None
    if (
        not isinstance(head, dict)
        or not isinstance(head.get("kind"), str)
        or not isinstance(head.get("config"), dict)
        or not isinstance(head.get("meta", {}), dict)
    ):
        raise _damaged(key, "config.json has the wrong shape (kind, config and meta expected)")
    return head


def _load(key: str, path: Path) -> SavedRun:
    if path.is_symlink():
        raise _damaged(key, "the run folder is a link")
    if not path.is_dir():
        raise _damaged(key, "the run is a file, not a folder")
    files = _read_manifest(key, path)
    if files is None:  # saved before manifests: structure only
        names = [p.name for p in sorted(path.glob("*.csv")) if p.name.startswith("table_")]
        entries = {n: None for n in ("config.json", "results.csv", "arrays.npz", *names)}

        def read(name: str) -> bytes:
            file = path / name
            if file.is_symlink() or not file.is_file():
                raise _damaged(key, f"{name} is missing")
            return file.read_bytes()
    else:
        entries = files

        def read(name: str) -> bytes:
            return _check_file(key, path, name, files[name])

    head = _read_head(key, read("config.json"))
    frame = _read_table(key, "results.csv", read("results.csv"), entries["results.csv"])
    arrays = _read_arrays(key, read("arrays.npz"), entries["arrays.npz"])
    tables = {}
    for name, entry in entries.items():
        if name.startswith("table_") and name.endswith(".csv"):
            tables[name.removeprefix("table_").removesuffix(".csv")] = _read_table(
                key, name, read(name), entry
            )
    return SavedRun(
        key,
        head["kind"],
        head["config"],
        frame,
        arrays,
        head.get("meta", {}),
        path,
        tables,
        verified=files is not None,
    )


def load_run(key: str, root: Path | None = None) -> SavedRun | None:
    """The saved run ``key``, or None if there is none. A damaged run raises
    :class:`DamagedRun` (a PcdashError) with one line saying what is wrong. Without ``root``
    a run missing from the user's store is looked up in the shipped assets (:func:`assets_dir`)."""
    check_key(key)
    fallback = assets_dir() if root is None else None
    root = root or runs_dir()
    path = root / key
    if not path.exists() and not path.is_symlink():
        if not _recover(root, key):
            if (
                fallback is not None
                and (fallback / key).is_dir()
                and fallback.resolve() != root.resolve()
            ):
                return load_run(key, fallback)
            return None
    try:
        before = path.lstat().st_ino
        run = _load(key, path)
        if path.lstat().st_ino != before:  # replaced by a save while it was read: read the new one
            run = _load(key, path)
    except FileNotFoundError:
        if not path.exists():
            return None
        run = _load(key, path)
    except OSError as err:
        raise _damaged(key, f"it cannot be read ({err.strerror or err})") from None
    return run


# ------------------------------------------------------------------------------ listing


_verified: dict[tuple[Path, str], tuple[tuple, str]] = {}  # (root, key) -> (fingerprint, status)


def _fingerprint(path: Path) -> tuple:
    st = path.lstat()
    inner = []
    if path.is_dir() and not path.is_symlink():
        for f in sorted(path.iterdir()):
            s = f.lstat()
            inner.append((f.name, s.st_size, s.st_mtime_ns))
    return (st.st_ino, st.st_mtime_ns, tuple(inner))


def run_status(key: str, root: Path | None = None) -> str:
    """``"ok"``, ``"unverified"`` (saved without a manifest) or the damage message of run
    ``key``; the check is remembered until the folder changes."""
    root = root or runs_dir()
    path = root / check_key(key)
    try:
        fp = _fingerprint(path)
    except OSError as err:
        return str(_damaged(key, f"it cannot be read ({err.strerror or err})"))
    hit = _verified.get((root, key))
    if hit is not None and hit[0] == fp:
        return hit[1]
    try:
        run = load_run(key, root)
        status = "ok" if run is None or run.verified else "unverified"
    except PcdashError as err:
        status = str(err)
    _verified[(root, key)] = (fp, status)
    return status


def list_runs(root: Path | None = None) -> pd.DataFrame:
    """One row per saved run: key, kind, dataset, arch, saved time, size, seconds, stopped and
    ``status`` (``ok``, ``unverified`` or what is damaged). Damaged runs are listed too."""
    root = root or runs_dir()
    rows = []
    for path in sorted(root.iterdir()):
        if path.name.startswith(".") or not KEY.fullmatch(path.name):
            continue
        status = run_status(path.name, root)
        head: dict = {}
        if status in ("ok", "unverified"):
            try:
                head = json.loads((path / "config.json").read_bytes())
            except (OSError, ValueError):
                head = {}
        cfg = head.get("config", {}) if isinstance(head.get("config"), dict) else {}
        meta = head.get("meta", {}) if isinstance(head.get("meta"), dict) else {}
        try:
            size = (
                sum(f.lstat().st_size for f in path.iterdir())
                if path.is_dir() and not path.is_symlink()
                else 0
            )
            saved = pd.Timestamp.fromtimestamp(path.lstat().st_mtime)
        except OSError:
            size, saved = 0, pd.NaT
        rows.append(
            {
                "key": path.name,
                "kind": head.get("kind", "damaged" if status not in ("ok", "unverified") else None),
                "dataset": cfg.get("dataset"),
                "arch": cfg.get("arch"),
                "saved": saved,
                "size_kb": size // 1024,
                "seconds": meta.get("seconds"),
                "stopped": meta.get("stopped"),
                "status": status,
            }
        )
    columns = ["key", "kind", "dataset", "arch", "saved", "size_kb", "seconds", "stopped", "status"]
    return pd.DataFrame(rows, columns=columns)


# ------------------------------------------------------------------------------ deleting and
# sweeping


def delete_run(key: str, root: Path | None = None) -> None:
    """Delete run ``key``: a link or file under that name is unlinked, never followed; a folder
    is renamed aside (one step, so no half-deleted run is ever listed) and removed.

    Raises:
        PcdashError: ``key`` is not a well-formed run id, there is no such run, or the system
            refused (the message says why).
    """
    check_key(key)
    root = root or runs_dir()
    path = root / key
    try:
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            path.unlink()
        elif path.is_dir():
            aside = root / _side_name(key, "del")
            os.rename(path, aside)
            shutil.rmtree(aside, ignore_errors=True)  # what is left is swept at the next start
        else:
            raise PcdashError(f"there is no saved run {key}")
    except OSError as err:
        raise PcdashError(f"could not delete run {key}: {err.strerror or err}") from None
    _verified.pop((root, key), None)


def _recover(root: Path, key: str) -> bool:
    """Put back a run that a killed save had renamed aside (systems without an atomic
    exchange); True if one was put back."""
    for path in sorted(root.glob(f".{key}.old-*")):
        m = _SIDE.match(path.name)
        if m and m["key"] == key and not pid_alive(int(m["pid"])):
            try:
                os.rename(path, root / key)
                return True
            except OSError:
                return False
    return False


def sweep_stale(root: Path | None = None) -> list[str]:
    """Clean up after killed saves and deletes: a run renamed aside whose new version never
    arrived is put back; other temporary folders of dead processes (or older than
    ``STALE_S``) are removed. Returns the names removed or restored."""
    root = root or runs_dir()
    done: list[str] = []
    try:
        entries = sorted(root.iterdir())
    except OSError:
        return done
    now = time.time()
    for path in entries:
        m = _SIDE.match(path.name) or _LEGACY_TMP.match(path.name)
        if not m:
            continue
        pid = int(m.groupdict().get("pid") or 0)
        try:
            old = now - path.lstat().st_mtime > STALE_S
        except OSError:
            continue
        if (pid and pid_alive(pid) and not old) or (not pid and not old):
            continue
        try:
            if m.groupdict().get("kind") == "old" and not (root / m["key"]).exists():
                os.rename(path, root / m["key"])
            else:
                _remove(path)
            done.append(path.name)
        except OSError:
            pass
    return done
