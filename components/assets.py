"""Where the shipped data (demo circuits, connectome table, texts) lives.

In a source checkout it is ``assets/`` at the repository root; an installed wheel carries the
same folder as ``workbench/assets`` (pyproject maps it there). Only a path: nothing is imported.
"""
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent


def _find() -> Path:
    for candidate in (_ROOT / "assets", _ROOT / "workbench" / "assets"):
        if (candidate / "demos").is_dir():
            return candidate
    return _ROOT / "assets"


ASSETS = _find()
