"""Autosave: the last circuit of each browser tab, kept on disk so it survives a page reload and
a server restart. One file per tab (``<browser id>_<tab id>.json``), written atomically in a
private directory (``$WORKBENCH_AUTOSAVE``, default ``~/.local/state/workbench/autosave``);
only the newest ``MAX_FILES`` are kept. Ids come from the browser, so they are checked against
a strict pattern before they name a file.
"""
from __future__ import annotations

import os
import re
import tempfile
import threading
import time
from pathlib import Path

MAX_FILES = 500
MAX_BYTES = 20_000_000  # a larger autosave is skipped (the user still has Save)
ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")

_lock = threading.Lock()


def directory() -> Path:
    root = os.environ.get("WORKBENCH_AUTOSAVE") or Path.home() / ".local" / "state" / "workbench" / "autosave"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _file(browser_id: str, tab_id: str) -> Path | None:
    if not (ID.match(browser_id or "") and ID.match(tab_id or "")):
        return None
    return directory() / f"{browser_id}_{tab_id}.json"


def save(browser_id: str, tab_id: str, circuit_json: str) -> None:
    path = _file(browser_id, tab_id)
    if path is None or len(circuit_json) > MAX_BYTES:
        return
    with _lock:
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(circuit_json)
        os.replace(tmp, path)
        files = sorted(path.parent.glob("*.json"), key=lambda p: p.stat().st_mtime)
        for old in files[:-MAX_FILES]:
            old.unlink(missing_ok=True)


def load(browser_id: str, tab_id: str) -> tuple[str, float] | None:
    """This tab's autosave (text, time saved), or None."""
    path = _file(browser_id, tab_id)
    if path is None or not path.exists():
        return None
    return path.read_text(encoding="utf-8"), path.stat().st_mtime


def latest(browser_id: str) -> tuple[str, float] | None:
    """The newest autosave of any tab of this browser (offered to a new tab), or None."""
    if not ID.match(browser_id or ""):
        return None
    files = sorted(directory().glob(f"{browser_id}_*.json"), key=lambda p: p.stat().st_mtime)
    if not files:
        return None
    return files[-1].read_text(encoding="utf-8"), files[-1].stat().st_mtime


def age_text(saved_at: float) -> str:
    minutes = (time.time() - saved_at) / 60
    return "just now" if minutes < 1 else f"{minutes:.0f} min ago" if minutes < 120 else time.strftime(
        "%Y-%m-%d %H:%M", time.localtime(saved_at))
