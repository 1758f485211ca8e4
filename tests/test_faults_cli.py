"""Fault injection on ``python -m pcdash``: Ctrl-C at random moments (imports, compilation,
training) and in the middle of writing, SIGTERM, and a disk that fills up while the results are
written. Each ends with one line and the right exit status, no segfault, no partial output file
and no temporary file; a finished run's file has the mode an ordinary ``open()`` gives."""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "sweep",
    "--arch",
    "fc-small",
    "--latent-dims",
    "2",
    "--lambdas",
    "0,1",
    "--seeds",
    "1",
    "--epochs",
    "3",
    "--batch-size",
    "128",
    "--quiet",
]
# Writes the results slowly and says when it starts, so a signal can land in the middle of the
# write.
SLOW_WRITE = """
import signal, sys, time
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
from pcdash.cli import exit_on_signals, main
exit_on_signals()
import pandas as pd
real = pd.DataFrame.to_csv
def slow(self, fh=None, **kw):
    print("WRITING", file=sys.stderr, flush=True)
    for i in range(400):
        fh.write("partial,row\\n")
        fh.flush()
        time.sleep(0.01)
    return real(self, fh, **kw)
pd.DataFrame.to_csv = slow
sys.exit(main(sys.argv[1:]))
"""


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _signals_taken(pid: int) -> bool:
    """pcdash's first line has run: SIGINT is blocked, waiting for its watcher thread (before
    that the interpreter itself is starting, which no program can make interruptible)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("SigBlk:"):
                return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    except (OSError, ValueError):
        pass
    return False


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _start(argv: list[str], out: Path, script: str | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-c", script] if script else [sys.executable, "-m", "pcdash"]
    out.parent.mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [*cmd, *argv, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        cwd=out.parent,
    )
    t0 = time.time()
    while not _signals_taken(proc.pid):
        assert proc.poll() is None and time.time() - t0 < 120, "pcdash did not start"
        time.sleep(0.002)
    proc.seen = b""
    return proc


def _wait_for(proc: subprocess.Popen, token: bytes, timeout: float = 120.0) -> None:
    """Read the process's stderr until ``token`` appears (progress lines end in \\r, not \\n)."""
    t0 = time.time()
    while token not in proc.seen:
        assert time.time() - t0 < timeout and proc.poll() is None, proc.seen[-2000:]
        proc.seen += os.read(proc.stderr.fileno(), 4096)


def _assert_interrupted(proc: subprocess.Popen, folder: Path, code: int = 130) -> str:
    _, rest = proc.communicate(timeout=120)
    err = (proc.seen + rest).decode()
    where = f"{folder.name}: {err[-1500:]!r}"
    assert proc.returncode == code, (
        proc.returncode,
        where,
    )  # not -11 (segfault), not 1 (a traceback)
    assert "Traceback" not in err, where
    assert err.strip().splitlines()[-1] == "pcdash: interrupted; nothing written", where
    assert _leftovers(folder) == [], (
        _leftovers(folder),
        where,
    )  # no output, whole or partial, no temporary file
    return err


def test_a_finished_run_writes_its_csv_with_the_umask_mode(tmp_path):
    out = tmp_path / "r.csv"
    res = subprocess.run(
        [sys.executable, "-m", "pcdash", *TINY, "--out", str(out)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask  # mkstemp alone gives 0o600
    assert len(pd.read_csv(out)) == 2 * 3 * 3 and _leftovers(tmp_path) == ["r.csv"]


def test_signals_at_any_moment_exit_cleanly_and_leave_nothing(tmp_path):
    """Five runs side by side (to keep the test short): Ctrl-C while importing, while training
    (after the first progress line), at a random moment, and Ctrl-C and SIGTERM in the middle of
    writing the results. Each exits with 130 (143 for SIGTERM) and one line, without a
    segfault, a traceback, an output file or a temporary file."""
    verbose = [a for a in TINY if a != "--quiet"]
    longer = [
        *verbose[: verbose.index("--epochs")],
        "--epochs",
        "30",
        *verbose[verbose.index("--epochs") + 2 :],
    ]
    runs = {
        "imports": (_start(TINY, tmp_path / "imports" / "r.csv"), signal.SIGINT, 130),
        "training": (_start(longer, tmp_path / "training" / "r.csv"), signal.SIGINT, 130),
        "random": (_start(TINY, tmp_path / "random" / "r.csv"), signal.SIGINT, 130),
        "writing": (_start(TINY, tmp_path / "writing" / "r.csv", SLOW_WRITE), signal.SIGINT, 130),
        "writing-term": (
            _start(TINY, tmp_path / "writing-term" / "r.csv", SLOW_WRITE),
            signal.SIGTERM,
            143,
        ),
    }
    time.sleep(0.3)
    runs["imports"][0].send_signal(signal.SIGINT)  # jax takes seconds to import
    _wait_for(runs["training"][0], b"%")
    runs["training"][0].send_signal(signal.SIGINT)
    for name in ("writing", "writing-term"):
        proc, signum, _ = runs[name]
        _wait_for(proc, b"WRITING")
        time.sleep(0.5)  # halfway through the write
        assert [p for p in (tmp_path / name).iterdir() if p.name.endswith(".tmp")], (
            "no write in progress"
        )
        proc.send_signal(signum)
    random_proc = runs["random"][0]
    if random_proc.poll() is None:
        time.sleep(random.Random(7).uniform(0.0, 2.0))
        random_proc.send_signal(signal.SIGINT)
    for name, (proc, _, code) in runs.items():
        if (
            name == "random" and proc.wait(timeout=120) == 0
        ):  # it finished before the signal: fine, and whole
            assert len(pd.read_csv(tmp_path / name / "r.csv")) == 18
            continue
        _assert_interrupted(proc, tmp_path / name, code)


def test_a_write_that_fails_is_one_line_exit_1_and_leaves_the_old_file(
    tmp_path, capsys, monkeypatch
):
    from pcdash import files
    from pcdash.cli import main

    out = tmp_path / "r.csv"
    out.write_text("the previous results\n")

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    code = main([*TINY, "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1, err
    assert (
        err[0]
        == f"pcdash: error: could not write {out}: No space left on device; nothing was written"
    )
    assert out.read_text() == "the previous results\n" and _leftovers(tmp_path) == ["r.csv"]
