"""What the GUI knows about block types, read only from the registry and param declarations,
so a block added to ``components/`` shows up in the palette and inspector with no GUI edit."""
from __future__ import annotations

import re

import param

from components import REGISTRY, Block


CATEGORY_ORDER = ["inputs", "neurons", "synapses", "connectomes", "plasticity", "astrocytes", "memory",
                  "readouts"]  # the order a circuit is built in; unknown categories go last


def block_types() -> dict[str, type[Block]]:
    """Registered block classes, ordered by category (build order) then name (palette order)."""
    def key(kv):
        cat = kv[1].category
        return (CATEGORY_ORDER.index(cat) if cat in CATEGORY_ORDER else len(CATEGORY_ORDER), cat, kv[0])
    return dict(sorted(REGISTRY.items(), key=key))


def summary(cls: type[Block]) -> str:
    """First sentence of a block's docstring: the palette tooltip."""
    doc = (cls.__doc__ or "").strip().split("\n\n")[0]
    return " ".join(doc.replace("``", "").split())


def tooltip(cls: type[Block]) -> str:
    """Palette tooltip: the summary, then the ports with their kinds."""
    ins = ", ".join(f"{k} ({p.kind})" for k, p in cls.inputs.items()) or "none"
    outs = ", ".join(f"{k} ({p.kind})" for k, p in cls.outputs.items()) or "none"
    return f"{summary(cls)}\nIn: {ins}. Out: {outs}."


def port_specs(ports: dict, side: str) -> list[dict]:
    """panel-reactflow handle specs: one named handle per port, its kind as the handle type."""
    return [{"id": name, "label": f"{name} ({side})", "type": port.kind} for name, port in ports.items()]


def default_name(type_name: str, taken) -> str:
    """A fresh identifier for a new block of ``type_name``: lif1, poisson2, ..."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z][a-z]*|[a-z]+|\d+", type_name) or [type_name]
    stem = words[0].lower() if len(words[0]) > 2 else type_name.lower()
    k = 1
    while f"{stem}{k}" in taken:
        k += 1
    return f"{stem}{k}"


def is_live(block: Block | type[Block], name: str) -> bool:
    """A live parameter can change while the simulator runs (see components.base)."""
    return name in type(block).live_params() if isinstance(block, Block) else name in block.live_params()


def describe(block: Block) -> str:
    """One line shown inside a node: its type and size."""
    sizes = [f"{p}={getattr(block, p)}" for p in block.user_params()
             if isinstance(block.param[p], param.Integer) and not isinstance(block.param[p], param.Boolean)
             and getattr(block, p) is not None and p != "seed"]
    return " ".join([type(block).__name__, *sizes])
