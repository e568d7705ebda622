"""The circuit document: named blocks and the wires between their ports, on a networkx
MultiDiGraph. Every surface (Python, browser editor, files) edits a circuit through this API."""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass

import networkx as nx
import torch

from components import Block, Context, get_block_type
from components.base import short

from .errors import (
    BlockFailure,
    CircuitError,
    MissingInputError,
    ParameterError,
    PortKindError,
    SizeMismatchError,
    UnknownBlockError,
    UnknownPortError,
)
from .limits import check_budget

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")  # an identifier of at most 100 characters


@dataclass(frozen=True)
class Wire:
    """An output port of one block wired to an input port of another."""

    source: str
    output: str
    target: str
    input: str

    def __str__(self):
        return f"{self.source}.{self.output} -> {self.target}.{self.input}"


def _split(endpoint) -> tuple[str, str]:
    if isinstance(endpoint, str):
        block, dot, port = endpoint.partition(".")
        if not dot or not block or not port:
            raise CircuitError(f"endpoint {endpoint!r} should be written 'block.port'")
        return block, port
    block, port = endpoint
    return block, port


class Circuit:
    """A named collection of blocks and wires, with validation and (via simulations.files) JSON."""

    def __init__(self, name: str = "circuit"):
        self.name = name
        self.graph = nx.MultiDiGraph()
        self.modules: dict = {}  # module instance name -> simulations.modules.ModuleRecord

    # -- blocks --------------------------------------------------------------------------------
    @property
    def blocks(self) -> dict[str, Block]:
        return {name: data["block"] for name, data in self.graph.nodes(data=True)}

    def block(self, name: str) -> Block:
        if name not in self.graph:
            known = ", ".join(self.graph.nodes) or "none"
            raise UnknownBlockError(f"no block named {name!r} in the circuit (blocks: {known})")
        return self.graph.nodes[name]["block"]

    def add(self, name: str, block: Block | str, position: tuple[float, float] | None = None, **params) -> Block:
        """Add ``block`` (an instance, or a registered type name plus params) under ``name``;
        a ``Module`` is added as a sub-circuit whose blocks are named ``name__<inner>``."""
        from .modules import Module, insert

        if isinstance(block, Module):
            if params:
                raise CircuitError("a module takes no params: set its blocks' params after adding it")
            return insert(self, name, block, position)
        if not isinstance(name, str) or not NAME.match(name):
            raise CircuitError(f"block name {short(name)} must be an identifier (letters, digits, _; at most 100)")
        if name in self.graph or name in self.modules:
            raise CircuitError(f"a block or module named {name!r} already exists")
        if isinstance(block, str):
            try:
                cls = get_block_type(block)
            except KeyError as e:
                raise UnknownBlockError(e.args[0]) from None
            unknown = sorted(set(params) - set(cls.user_params()))
            if unknown:
                raise ParameterError(f"block {name!r} ({block}) has no parameter(s) {', '.join(unknown)}")
            try:
                block = cls(**params)
            except (ValueError, TypeError) as e:
                raise ParameterError(f"block {name!r} ({block}): {e}") from None
        elif params:
            raise CircuitError("pass params only with a block type name, not with a block instance")
        if not isinstance(block, Block):
            raise CircuitError(f"{name!r}: expected a Block, got {type(block).__name__}")
        problems = block.value_problems()
        if problems:
            raise ParameterError(f"block {name!r} ({type(block).__name__}): {'; '.join(problems)}")
        self.graph.add_node(name, block=block, position=position)
        return block

    def remove(self, name: str) -> tuple[Block, list[Wire]]:
        """Remove a block (or a module with its blocks) and its wires; returns both."""
        from . import modules

        if name in self.modules:
            return modules.remove(self, name)
        block = self.block(name)
        wires = [w for w in self.wires if name in (w.source, w.target)]
        self.graph.remove_node(name)
        modules.forget_block(self, name)
        return block, wires

    def rename(self, old: str, new: str) -> None:
        """Give a block or a module a new name, keeping its wires (it stays in its module)."""
        from . import modules

        if old not in self.modules:
            self.block(old)
        if (new in self.graph or new in self.modules or not isinstance(new, str) or not NAME.match(new)
                or modules.owner(self, new) != modules.owner(self, old)):
            raise CircuitError(f"cannot rename {old!r} to {short(new)}: the name is taken, not an identifier "
                               "or would move it into or out of a module")
        if old in self.modules:
            modules.check_local_name(modules.local(new, modules.owner(self, old)))
            modules.check_new_name(self, new)
            modules.relabel(self, modules.prefixed(self, old, new))
        else:
            modules.relabel(self, {old: new})

    # -- modules (sub-circuits) ----------------------------------------------------------------
    def group(self, names, name: str, label: str | None = None) -> str:
        """Make blocks (or modules) one module; crossing wires become its ports. Returns its name."""
        from .modules import group

        return group(self, names, name, label)

    def ungroup(self, name: str) -> list[str]:
        """Dissolve a module: its blocks move up one level. Returns their names."""
        from .modules import ungroup

        return ungroup(self, name)

    def expose(self, module: str, endpoint, name: str | None = None) -> str:
        """Make ``"block.port"`` (a flat name inside ``module``) one of the module's ports."""
        from .modules import expose

        if module not in self.modules:
            raise CircuitError(f"no module named {short(module)}")
        return expose(self, module, self.resolve(Wire(*_split(endpoint), *_split(endpoint)))[:2], name)

    def reorder(self, names) -> None:
        """Put the blocks in this order (every block once): it fixes the random draws."""
        from .modules import reorder

        reorder(self, names)

    def module(self, name: str):
        """Module instance ``name`` as a stand-alone ``Module`` (a copy): save it, add it elsewhere."""
        from .modules import extract

        return extract(self, name)

    def flatten(self) -> "Circuit":
        """A copy without module records (the same blocks and names): what compile runs."""
        from .modules import flatten

        return flatten(self)

    # -- wires ---------------------------------------------------------------------------------
    @property
    def wires(self) -> list[Wire]:
        return [data["wire"] for _, _, data in self.graph.edges(data=True)]

    def resolve(self, wire: Wire) -> Wire:
        """``wire`` with module ports (``m.port``) replaced by the blocks' ports behind them."""
        from .modules import resolve

        return Wire(*resolve(self, wire.source, wire.output), *resolve(self, wire.target, wire.input))

    def check_wire(self, wire: Wire) -> None:
        """Raise the specific error that forbids ``wire``, or return if it is acceptable."""
        wire = self.resolve(wire)
        src, dst = self.block(wire.source), self.block(wire.target)
        if wire.output not in src.outputs:
            raise UnknownPortError(
                f"{wire.source} ({type(src).__name__}) has no output {wire.output!r}; "
                f"outputs: {', '.join(src.outputs) or 'none'}"
            )
        if wire.input not in dst.inputs:
            raise UnknownPortError(
                f"{wire.target} ({type(dst).__name__}) has no input {wire.input!r}; "
                f"inputs: {', '.join(dst.inputs) or 'none'}"
            )
        out_port, in_port = src.outputs[wire.output], dst.inputs[wire.input]
        if out_port.kind != in_port.kind:
            raise PortKindError(
                f"cannot wire {wire}: {wire.source}.{wire.output} carries {out_port.kind} "
                f"but {wire.target}.{wire.input} expects {in_port.kind}"
            )
        if any(w == wire for w in self.wires):
            raise CircuitError(f"{wire} is already wired")
        a, b = src.port_size(out_port), dst.port_size(in_port)
        if a is not None and b is not None and a != b:
            raise SizeMismatchError(f"cannot wire {wire}: {wire.source} gives {a} values but {wire.target} takes {b}")

    def connect(self, source, target) -> Wire:
        """Wire ``"block.output"`` to ``"block.input"``; refuses with the specific error."""
        from .modules import expose_crossing

        wire = self.resolve(Wire(*_split(source), *_split(target)))
        self.check_wire(wire)
        self._add_wire(wire)
        expose_crossing(self, wire)
        return wire

    def _add_wire(self, wire: Wire) -> None:
        self.graph.add_edge(wire.source, wire.target, key=(wire.output, wire.input), wire=wire)

    def disconnect(self, source, target) -> Wire:
        wire = self.resolve(Wire(*_split(source), *_split(target)))
        if not self.graph.has_edge(wire.source, wire.target, key=(wire.output, wire.input)):
            raise CircuitError(f"there is no wire {wire}")
        self.graph.remove_edge(wire.source, wire.target, key=(wire.output, wire.input))
        return wire

    def wires_into(self, name: str, port: str) -> list[Wire]:
        return [w for w in self.wires if w.target == name and w.input == port]

    # -- validation ----------------------------------------------------------------------------
    def port_sizes(self) -> dict[tuple[str, str], int]:
        """Width of every sized port; ports without a size parameter take their wire's width."""
        sizes: dict[tuple[str, str], int] = {}
        for name, block in self.blocks.items():
            for port_name, port in {**block.inputs, **block.outputs}.items():
                if port.size is not None:
                    sizes[(name, port_name)] = block.port_size(port)
        changed = True
        while changed:
            changed = False
            for w in self.wires:
                if self.block(w.source).outputs[w.output].kind == "plasticity":
                    continue
                a, b = sizes.get((w.source, w.output)), sizes.get((w.target, w.input))
                if a is not None and b is not None and a != b:
                    raise SizeMismatchError(f"size mismatch on {w}: {w.source} gives {a} values but {w.target} takes {b}")
                if (a is None) != (b is None):
                    sizes[(w.source, w.output) if a is None else (w.target, w.input)] = a if a is not None else b
                    changed = True
        return sizes

    def _contexts(self) -> dict[str, Context]:
        """Per-block build contexts with port sizes resolved (raises if a size is unknown)."""
        sizes = self.port_sizes()
        contexts = {}
        for name, block in self.blocks.items():
            ctx_sizes = {}
            for port_name, port in {**block.inputs, **block.outputs}.items():
                if port.kind == "plasticity":
                    continue
                if (name, port_name) in sizes:
                    ctx_sizes[port_name] = sizes[(name, port_name)]
                elif port_name in block.outputs or port.required:
                    raise MissingInputError(
                        f"{name}.{port_name} is not wired, so its size is unknown: wire it to a block"
                    )
            wired = frozenset(p for p in block.inputs if self.wires_into(name, p))
            contexts[name] = Context(
                batch=1, dt=0.1, device=torch.device("cpu"), dtype=torch.float32,
                generator=torch.Generator(), sizes=ctx_sizes, wired=wired,
            )
        for w in self.wires:  # a learning rule sees the sizes of the projection it acts on
            if self.block(w.source).outputs[w.output].kind == "plasticity":
                target = contexts[w.target].sizes
                contexts[w.source].sizes.update(target_pre=target["spikes"], target_post=target["current"])
        return contexts

    def problems(self) -> list[CircuitError]:
        """Every problem that would stop this circuit from compiling, each with its message."""
        found: list[CircuitError] = []
        for w in self.wires:
            try:
                src, dst = self.block(w.source), self.block(w.target)
                if w.output not in src.outputs or w.input not in dst.inputs:
                    raise UnknownPortError(f"wire {w} names a port that does not exist")
                if src.outputs[w.output].kind != dst.inputs[w.input].kind:
                    raise PortKindError(f"wire {w} joins {src.outputs[w.output].kind} to {dst.inputs[w.input].kind}")
            except CircuitError as e:
                found.append(e)
        for name, block in self.blocks.items():
            values = block.value_problems()
            if values:
                found.append(ParameterError(f"{name} ({type(block).__name__}): {'; '.join(values)}"))
        if found:
            return found
        for name, block in self.blocks.items():
            for port_name, port in block.inputs.items():
                if port.required and not self.wires_into(name, port_name):
                    found.append(MissingInputError(
                        f"{name} ({type(block).__name__}) needs its {port_name!r} input wired"
                    ))
            for port_name, port in block.outputs.items():
                if port.kind == "plasticity" and not any(w.source == name for w in self.wires):
                    found.append(MissingInputError(
                        f"{name} ({type(block).__name__}) is a learning rule: wire its {port_name!r} output "
                        "to a projection's plasticity input"
                    ))
        if found:
            return found
        try:
            contexts = self._contexts()
            check_budget(self.blocks, contexts)  # over the limits: refused before any check allocates
        except CircuitError as e:
            return [e]
        for name, block in self.blocks.items():
            try:
                block.check(contexts[name])
            except ValueError as e:
                found.append(SizeMismatchError(f"{name} ({type(block).__name__}): {e}"))
            except (LookupError, TypeError, ArithmeticError, RuntimeError) as e:  # a case its check missed
                found.append(BlockFailure(f"{name} ({type(block).__name__}): cannot be built: {type(e).__name__}: {e}"))
        return found

    def validate(self) -> "Circuit":
        """Raise the first problem (a CircuitError subclass); return self when there is none."""
        problems = self.problems()
        if problems:
            raise problems[0]
        return self

    # -- copies and files ----------------------------------------------------------------------
    def copy(self) -> "Circuit":
        twin = Circuit(self.name)
        for name, data in self.graph.nodes(data=True):
            twin.add(name, copy.deepcopy(data["block"]), data["position"])
        for w in self.wires:
            twin._add_wire(w)
        twin.modules = copy.deepcopy(self.modules)
        return twin

    def to_json(self, indent: int | None = 1) -> str:
        from .files import circuit_to_json

        return circuit_to_json(self, indent)

    @classmethod
    def from_json(cls, text: str) -> "Circuit":
        from .files import circuit_from_json

        return circuit_from_json(text)

    def save(self, path) -> None:
        from pathlib import Path

        Path(path).write_text(self.to_json())

    @classmethod
    def load(cls, path) -> "Circuit":
        from pathlib import Path

        return cls.from_json(Path(path).read_text())

    def show(self):
        """The workbench (editor and live views) for this circuit, displayed inline in Jupyter."""
        from workbench.notebook import show  # the GUI loads only when asked for

        return show(self)

    def __repr__(self):
        mods = f", {len(self.modules)} modules" if self.modules else ""
        return f"Circuit({self.name!r}, {len(self.graph)} blocks, {self.graph.number_of_edges()} wires{mods})"
