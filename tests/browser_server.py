"""The dashboard served as a user starts it (``streamlit run serve.py``), for the browser tests,
and the Chromium they drive."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NO_CHROMIUM = "Debian's chromium is required for the browser tests: apt-get install chromium"


def serve(env: Mapping[str, str], log: Path, *, wait_s: float) -> tuple[subprocess.Popen, str]:
    """Start ``serve.py`` on a free port with ``env`` added to this environment, its output
    appended to ``log`` (a pipe nobody reads would block the server once full); returns the
    process and its URL once it accepts connections, at most ``wait_s`` seconds later."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with open(log, "a") as fh:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "serve.py",
                "--server.port",
                str(port),
                "--server.headless",
                "true",
                "--server.address",
                "127.0.0.1",
                "--browser.gatherUsageStats",
                "false",
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    deadline = time.time() + wait_s
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("streamlit did not start")
