"""Start the real workbench server in a subprocess on a free localhost port (tests, benchmarks)."""
from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int | None = None, timeout: float = 120.0, args=(), env=None) -> tuple[subprocess.Popen, str]:
    """``python app.py --port N [args]`` as a child process; returns it and its URL once it answers."""
    port = port or free_port()
    # the server's output goes to a file: an undrained pipe fills up and then blocks the server
    log = tempfile.TemporaryFile("w+")
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port), *args], cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT, text=True, env=env)
    proc.log = log
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"the workbench server exited: {log.read()[-4000:]}")
        try:
            urllib.request.urlopen(url + "liveness", timeout=5).read()  # no session (and no
            return proc, url  # simulation process) is made per try, however slow the machine
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"the workbench server did not answer on {url} within {timeout} s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def chromium_path() -> str | None:
    """A system Chromium (CI installs Debian's); None lets Playwright use its own."""
    import os
    import shutil

    return os.environ.get("WORKBENCH_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
