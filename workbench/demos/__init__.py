"""The signature demos: one module per demo, each holding its title, paper, teaching text,
circuit file (assets/demos/) and a headless ``outcome``. ``python -m workbench.demos --list``."""
from __future__ import annotations

from importlib import import_module

from .base import DEMO_DIR, Demo, Outcome, Schedule

MODULES = ["nalsm", "hopfield", "bdh", "continual", "worm", "motion", "eibalance", "whatwhen"]


def demos() -> dict[str, Demo]:
    """Every demo by name, in gallery order (a demo whose blocks are missing is left out)."""
    found = {}
    for module in MODULES:
        try:
            demo = import_module(f"{__name__}.{module}").DEMO
        except ModuleNotFoundError as e:
            if e.name and e.name.startswith(__name__):
                continue
            raise
        found[demo.name] = demo
    return found


def get(name: str) -> Demo:
    found = demos()
    if name not in found:
        raise KeyError(f"no demo {name!r}; demos: {', '.join(found)}")
    return found[name]


__all__ = ["DEMO_DIR", "Demo", "Outcome", "Schedule", "demos", "get"]
