"""Files that nobody ever sees half-written.

A file is written to a temporary name beside its target (``.<name>.<pid>.<random>.tmp``), given
the mode an ordinary ``open()`` would give it (``0o666`` less the umask: ``mkstemp`` alone
makes it ``0o600``), flushed to disk and renamed over the target. The process id in the
temporary name lets a later run sweep what a killed one left behind.

:func:`abort_writes` is for a signal handler: it removes the temporary file being written and
holds back any rename still to come, so an interrupted program leaves either the old file or
the new one, never a part of one and never a temporary file.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

_lock = threading.Lock()  # held while a temporary file is created or renamed, and by abort_writes
_pending: set[Path] = set()
_aborted = False
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.tmp$")


def _read_umask() -> int:
    try:  # Linux ≥ 4.7 shows it without changing it
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def umask_mode() -> int:
    """``0o666 & ~umask``: the mode ``open(path, "w")`` gives a new file."""
    return 0o666 & ~_read_umask()


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine (ours counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_temp_files(folder: Path, name: str | None = None) -> list[Path]:
    """Remove temporary files in ``folder`` (of target ``name``, or all) whose writer is dead."""
    removed: list[Path] = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for path in entries:
        m = _TEMP.match(path.name)
        if m and (name is None or m["name"] == name) and not pid_alive(int(m["pid"])):
            try:
                path.unlink()
                removed.append(path)
            except OSError:
                pass
    return removed


def write_atomic(
    path: str | os.PathLike,
    write: Callable[[IO], None],
    *,
    newline: str | None = "",
    binary: bool = False,
) -> Path:
    """Call ``write(fh)`` on a temporary file beside ``path`` (a text file, or bytes with
    ``binary``), then rename it to ``path``.

    Raises:
        OSError: the folder cannot be written, the disk is full ... (``path`` is unchanged).
        KeyboardInterrupt: :func:`abort_writes` was called (``path`` is unchanged).
    """
    path = Path(path)
    with _lock:
        if _aborted:
            raise KeyboardInterrupt
        fd, tmp_name = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp"
        )
        tmp = Path(tmp_name)
        _pending.add(tmp)
    try:
        os.fchmod(fd, umask_mode())
        fh: IO[Any]
        if binary:
            fh = os.fdopen(fd, "wb")
        else:
            fh = os.fdopen(fd, "w", newline=newline, encoding="utf-8")
        with fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        with _lock:
            if _aborted:
                raise KeyboardInterrupt
            os.replace(tmp, path)
            _pending.discard(tmp)
    except BaseException:
        with _lock:
            _pending.discard(tmp)
            tmp.unlink(missing_ok=True)
        raise
    return path


def abort_writes() -> None:
    """Remove every temporary file being written and keep any from being renamed into place.
    Meant for a signal handler that exits right after: the lock stays held."""
    global _aborted
    _lock.acquire()
    _aborted = True
    for tmp in list(_pending):
        try:
            tmp.unlink()
        except OSError:
            pass
    _pending.clear()
