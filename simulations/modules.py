"""Sub-circuits (modules): a group of blocks with exposed ports, reusable as one unit.

In memory a circuit stays flat: a module instance ``m`` is the blocks named ``m__<inner>``
plus a record (its exposed ports, label, position, collapsed flag) in ``circuit.modules``.
So the simulator, recorders, probes, views and the inspector address every block by one
name (``sim.spikes("m__exc")``), and "compile flattens the module" is the identity on the
graph. The structure is kept where people read it: the file nests modules (and a module can
be a file of its own), the Python API adds, groups and ungroups them, and the script and
notebook exports write one builder function per module.

Invariant (kept by ``connect``, ``group`` and loading): a wire that crosses a module's
boundary meets an exposed port of that module, so a module can be cut out and reused.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

from components.base import short

from .errors import CircuitError, CircuitFileError

SEP = "__"  # flat name of block ``a`` in module ``m``: ``m__a``
MAX_MODULE_DEPTH = 8  # modules inside modules inside ... (a file is refused beyond this)


@dataclass
class ModuleRecord:
    """What a circuit knows about one module instance besides its blocks."""

    ports: dict[str, tuple[str, str]] = field(default_factory=dict)  # outer name -> (flat block, port)
    label: str = "module"  # the module's own name (its definition), shown on its node
    position: tuple[float, float] | None = None
    collapsed: bool = True


def owner(circuit, name: str) -> str | None:
    """The innermost module that holds block or module ``name`` (None: the top level)."""
    best = None
    for m in circuit.modules:
        if m != name and name.startswith(m + SEP) and (best is None or len(m) > len(best)):
            best = m
    return best


def members(circuit, module: str) -> list[str]:
    """Flat names of every block inside ``module`` (nested modules included), in graph order."""
    return [n for n in circuit.graph.nodes if n.startswith(module + SEP)]


def inside(name: str, module: str | None) -> bool:
    return module is None or name.startswith(module + SEP)


def local(name: str, module: str | None) -> str:
    return name if module is None else name[len(module) + len(SEP):]


def direction(circuit, block: str, port: str) -> str:
    b = circuit.block(block)
    if port in b.inputs:
        return "input"
    if port in b.outputs:
        return "output"
    raise CircuitError(f"{block} ({type(b).__name__}) has no port {port!r}")


def resolve(circuit, block: str, port: str) -> tuple[str, str]:
    """``(m, exposed)`` -> the flat ``(block, port)`` behind it; a block endpoint as is."""
    while block in circuit.modules:
        ports = circuit.modules[block].ports
        if port not in ports:
            raise CircuitError(f"module {block!r} has no exposed port {port!r}; ports: {', '.join(ports) or 'none'}")
        block, port = ports[port]
    return block, port


def port_of(circuit, module: str, endpoint: tuple[str, str]) -> str | None:
    for outer, target in circuit.modules[module].ports.items():
        if target == endpoint:
            return outer
    return None


def expose(circuit, module: str, endpoint: tuple[str, str], name: str | None = None) -> str:
    """Make flat ``endpoint`` (inside ``module``) one of its exposed ports; returns the port name."""
    from .circuit import NAME

    block, port = endpoint
    if not inside(block, module):
        raise CircuitError(f"{block}.{port} is not inside module {module!r}")
    direction(circuit, block, port)
    found = port_of(circuit, module, endpoint)
    if found is not None:
        return found
    ports = circuit.modules[module].ports
    if name is None:
        name, k = port, 1
        if name in ports:
            name = f"{local(block, module).split(SEP)[-1]}_{port}"
        while name in ports:
            k += 1
            name = f"{port}{k}"
    if not NAME.match(name) or name in ports:
        raise CircuitError(f"port name {short(name)} is taken or not an identifier")
    ports[name] = (block, port)
    return name


def expose_crossing(circuit, wire) -> None:
    """Expose the inner end of ``wire`` on every module boundary it crosses (the invariant)."""
    for module in circuit.modules:
        a, b = inside(wire.source, module), inside(wire.target, module)
        if a != b:
            expose(circuit, module, (wire.source, wire.output) if a else (wire.target, wire.input))


def relabel(circuit, mapping: dict[str, str]) -> None:
    """Rename blocks and modules by ``mapping`` (flat names), rewiring and re-keying ports."""
    from .circuit import NAME, Wire

    if not mapping:
        return
    def new(n):
        return mapping.get(n, n)
    for old, name in mapping.items():
        if not NAME.match(name):
            raise CircuitError(f"cannot rename {old!r} to {short(name)}: not an identifier of at most 100 characters")
    nodes = list(circuit.graph.nodes(data=True))
    wires = circuit.wires
    names = [new(n) for n, _ in nodes] + [new(m) for m in circuit.modules]
    if len(set(names)) != len(names):
        raise CircuitError("those names are taken: " + ", ".join(sorted({n for n in names if names.count(n) > 1}))[:200])
    circuit.graph.clear()
    for n, data in nodes:
        circuit.graph.add_node(new(n), **data)
    for w in wires:
        circuit._add_wire(Wire(new(w.source), w.output, new(w.target), w.input))
    circuit.modules = {new(m): rec for m, rec in circuit.modules.items()}
    for rec in circuit.modules.values():
        rec.ports = {k: (new(b), p) for k, (b, p) in rec.ports.items()}


def prefixed(circuit, old_prefix: str, new_prefix: str) -> dict[str, str]:
    """The renames that move everything named ``old_prefix...`` to ``new_prefix...``."""
    names = list(circuit.graph.nodes) + list(circuit.modules)
    return {n: new_prefix + n[len(old_prefix):] for n in names if n == old_prefix or n.startswith(old_prefix + SEP)}


# -- the Module definition -----------------------------------------------------------------------
class Module:
    """A reusable sub-circuit: a Circuit (its blocks and wires, maybe modules of its own) and a
    table of exposed ports, ``{"outer_name": "inner_block.port"}`` (or ``"inner_module.port"``).

    ``circuit.add("m", module)`` puts a copy into a circuit; ``circuit.module("m")`` takes one
    out; ``Module.load``/``save`` read and write a module file.
    """

    def __init__(self, circuit, ports: dict[str, str] | None = None):
        from .circuit import NAME, Circuit, _split

        if not isinstance(circuit, Circuit):
            raise CircuitError(f"a Module wraps a Circuit, got {type(circuit).__name__}")
        self.circuit = circuit
        self.ports: dict[str, tuple[str, str]] = {}
        for name, endpoint in (ports or {}).items():
            if not isinstance(name, str) or not NAME.match(name):
                raise CircuitError(f"port name {short(name)} must be an identifier")
            if not isinstance(endpoint, (str, tuple, list)):
                raise CircuitError(f"port {name!r} should name 'block.port', got {short(endpoint)}")
            block, port = resolve(circuit, *_split(endpoint))
            direction(circuit, block, port)
            if (block, port) in self.ports.values():
                raise CircuitError(f"port {name!r}: {block}.{port} is exposed twice")
            for m in circuit.modules:  # a port deep inside passes through the modules around it
                if inside(block, m):
                    expose(circuit, m, (block, port))
            self.ports[name] = (block, port)

    @property
    def name(self) -> str:
        return self.circuit.name

    def port_directions(self) -> dict[str, str]:
        return {k: direction(self.circuit, b, p) for k, (b, p) in self.ports.items()}

    def to_dict(self) -> dict:
        from .files import module_to_dict

        return module_to_dict(self)

    def to_json(self, indent: int | None = 1) -> str:
        import json

        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text) -> "Module":
        from .files import module_from_json

        return module_from_json(text)

    def save(self, path) -> None:
        from pathlib import Path

        Path(path).write_text(self.to_json())

    @classmethod
    def load(cls, path) -> "Module":
        from pathlib import Path

        return cls.from_json(Path(path).read_bytes())

    def __repr__(self):
        return f"Module({self.name!r}, {len(self.circuit.graph)} blocks, ports {sorted(self.ports)})"


def check_local_name(name) -> None:
    from .circuit import NAME

    if not isinstance(name, str) or not NAME.match(name) or SEP in name:
        raise CircuitError(f"module name {short(name)} must be an identifier (letters, digits, _; at most 100) "
                           f"without {SEP!r}")


def check_new_name(circuit, name: str) -> None:
    if name in circuit.graph or name in circuit.modules:
        raise CircuitError(f"the name {name!r} is taken")
    if any(n.startswith(name + SEP) for n in list(circuit.graph.nodes) + list(circuit.modules)):
        raise CircuitError(f"blocks named {name}{SEP}... exist already; pick another module name")


def insert(circuit, name: str, module: Module, position=None) -> Module:
    """Add a copy of ``module`` to ``circuit`` as instance ``name`` (its blocks become ``name__b``)."""
    from .circuit import NAME

    if not isinstance(module, Module):
        raise CircuitError(f"expected a Module, got {type(module).__name__}")
    check_local_name(name)
    check_new_name(circuit, name)
    inner = module.circuit
    new = {n: name + SEP + n for n in list(inner.graph.nodes) + list(inner.modules)}
    too_long = [v for v in new.values() if not NAME.match(v)]
    if too_long:
        raise CircuitError(f"module {name!r}: the flat name {too_long[0][:120]!r} is longer than 100 characters; "
                           "use shorter names or less nesting")
    for n, data in inner.graph.nodes(data=True):
        circuit.graph.add_node(new[n], block=copy.deepcopy(data["block"]), position=data.get("position"))
    from .circuit import Wire

    for w in inner.wires:
        circuit._add_wire(Wire(new[w.source], w.output, new[w.target], w.input))
    for m, rec in inner.modules.items():
        circuit.modules[new[m]] = ModuleRecord({k: (new[b], p) for k, (b, p) in rec.ports.items()},
                                               rec.label, rec.position, rec.collapsed)
    if position is None and inner.graph.number_of_nodes():
        pos = [p for _, p in inner.graph.nodes(data="position") if p]
        position = (min(p[0] for p in pos), min(p[1] for p in pos)) if pos else None
    circuit.modules[name] = ModuleRecord({k: (new[b], p) for k, (b, p) in module.ports.items()},
                                         module.name, tuple(position) if position else None, True)
    return module


def extract(circuit, name: str) -> Module:
    """Instance ``name`` as a stand-alone Module (a copy, names local to it)."""
    from .circuit import Circuit, Wire

    if name not in circuit.modules:
        raise CircuitError(f"no module named {name!r}")
    rec = circuit.modules[name]
    inner = Circuit(rec.label)
    for n in members(circuit, name):
        data = circuit.graph.nodes[n]
        inner.graph.add_node(local(n, name), block=copy.deepcopy(data["block"]), position=data.get("position"))
    for w in circuit.wires:
        if inside(w.source, name) and inside(w.target, name):
            inner._add_wire(Wire(local(w.source, name), w.output, local(w.target, name), w.input))
    for m, sub in circuit.modules.items():
        if inside(m, name):
            inner.modules[local(m, name)] = ModuleRecord(
                {k: (local(b, name), p) for k, (b, p) in sub.ports.items()}, sub.label, sub.position, sub.collapsed)
    mod = Module(inner)
    mod.ports = {k: (local(b, name), p) for k, (b, p) in rec.ports.items()}
    return mod


def group(circuit, names, name: str, label: str | None = None) -> str:
    """Make the blocks/modules ``names`` (siblings) one module; wires crossing the selection's
    edge become its exposed ports. Returns the module's flat name."""
    names = list(dict.fromkeys(names))
    if not names:
        raise CircuitError("select at least one block to group")
    for n in names:
        if n not in circuit.graph and n not in circuit.modules:
            raise CircuitError(f"no block or module named {short(n)}")
    owners = {owner(circuit, n) for n in names}
    if len(owners) != 1:
        raise CircuitError("the blocks to group must sit at the same level (all outside modules, or in one module)")
    parent = owners.pop()
    check_local_name(name)
    flat = name if parent is None else parent + SEP + name
    check_new_name(circuit, flat)
    positions = [circuit.modules[n].position if n in circuit.modules else circuit.graph.nodes[n].get("position")
                 for n in names]
    positions = [p for p in positions if p]
    mapping = {}
    for n in names:
        mapping.update(prefixed(circuit, n, flat + SEP + local(n, parent)))
    relabel(circuit, mapping)
    circuit.modules[flat] = ModuleRecord({}, label or name,
                                         (min(p[0] for p in positions), min(p[1] for p in positions)) if positions else None)
    for w in circuit.wires:
        a, b = inside(w.source, flat), inside(w.target, flat)
        if a != b:
            expose(circuit, flat, (w.source, w.output) if a else (w.target, w.input))
    return flat


def ungroup(circuit, name: str) -> list[str]:
    """Dissolve module ``name``: its blocks and modules move up one level. Returns their new names."""
    if name not in circuit.modules:
        raise CircuitError(f"no module named {short(name)}")
    parent = owner(circuit, name)
    base = "" if parent is None else parent + SEP
    rec = circuit.modules.pop(name)
    mapping = {n: base + local(n, name) for n in list(circuit.graph.nodes) + list(circuit.modules) if inside(n, name)}
    taken = (set(circuit.graph.nodes) | set(circuit.modules)) - set(mapping)
    clash = sorted(set(mapping.values()) & taken)
    if clash:
        circuit.modules[name] = rec
        raise CircuitError(f"cannot ungroup {name!r}: the names {', '.join(clash)[:200]} are taken outside it")
    relabel(circuit, mapping)
    return [v for k, v in mapping.items() if owner(circuit, v) == parent]


def remove(circuit, name: str):
    """Remove module ``name`` with its blocks; returns (its Module, the wires removed)."""
    module = extract(circuit, name)
    wires = [w for w in circuit.wires if inside(w.source, name) or inside(w.target, name)]
    for n in members(circuit, name):
        circuit.graph.remove_node(n)
    for m in [m for m in circuit.modules if m == name or inside(m, name)]:
        del circuit.modules[m]
    return module, wires


def forget_block(circuit, block: str) -> None:
    """Drop ports that name a removed block."""
    for rec in circuit.modules.values():
        rec.ports = {k: v for k, v in rec.ports.items() if v[0] != block}


def flatten(circuit):
    """A copy of ``circuit`` with the module records dropped: what compile runs (same names)."""
    twin = circuit.copy()
    twin.modules = {}
    return twin


def natural_order(circuit, scope: str | None = None) -> list[str]:
    """The block order that building level by level gives (a level's blocks, then its modules'):
    what a file or a script without an explicit order rebuilds."""
    out = [n for n in circuit.graph.nodes if owner(circuit, n) == scope]
    for m in circuit.modules:
        if owner(circuit, m) == scope:
            out += natural_order(circuit, m)
    return out


def reorder(circuit, names) -> None:
    """Put the blocks in the order ``names`` (every block once). The order fixes the random
    draws and the step order of a loop, so a grouped circuit saved and loaded runs the same."""
    from .circuit import Wire

    names = list(names)
    if len(names) != len(set(names)) or set(names) != set(circuit.graph.nodes):
        raise CircuitError("the block order must name every block of the circuit exactly once")
    nodes = dict(circuit.graph.nodes(data=True))
    wires = circuit.wires
    circuit.graph.clear()
    for n in names:
        circuit.graph.add_node(n, **nodes[n])
    for w in wires:
        circuit._add_wire(Wire(w.source, w.output, w.target, w.input))

