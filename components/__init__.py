"""The block library. Every module in this package is imported, so a block defined in a new
file is registered (by class name) with no other edit."""
import importlib
import pkgutil

from .base import REGISTRY, Block, Context, Params, Port, Probe

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")


def get_block_type(name: str) -> type[Block]:
    """The registered block class called ``name``; KeyError lists what exists."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown block type {name!r}; known types: {', '.join(sorted(REGISTRY))}") from None


__all__ = ["REGISTRY", "Block", "Context", "Params", "Port", "Probe", "get_block_type"]
