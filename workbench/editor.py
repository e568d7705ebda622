"""A thin adapter between a Circuit and panel-reactflow: the canvas is a view of the circuit.

Every user edit on the canvas (add, wire, delete, move) goes through the Circuit API first;
an edit the circuit refuses is undone on the canvas and its message reported. Edits made on
the circuit (load, undo, redo, rename) are pushed to the canvas by ``refresh``.

Undo and redo keep whole-circuit snapshots (the circuit's own JSON): every edit, whatever its
kind (add, delete, wire, move, parameter, rename), is one ``commit`` with a label, so one
mechanism undoes all of them and the edit list shows the labels.
"""
from __future__ import annotations

import html
import re
import time
from typing import Callable

import networkx as nx
import panel as pn
from panel_reactflow import NodeType, ReactFlow

from simulations import Circuit, CircuitError, Wire
from simulations import modules as mod

from .blocks import block_types, default_name, describe, port_specs

PALETTE_DRAG_TYPE = "application/x-workbench-block"
GROUP_SECONDS = 0.6  # canvas events this close together are one user action for undo
HISTORY = 100  # undo steps kept
NODE_W, NODE_H = 200.0, 90.0  # room a node needs on the canvas (auto layout, overlap test)
LAYER_DX, ROW_DY = 260.0, 120.0


def node_types() -> dict[str, NodeType]:
    """One panel-reactflow node type per registered block type, ports as named handles."""
    return {
        name: NodeType(type=name, label=name, inputs=port_specs(cls.inputs, "in"),
                       outputs=port_specs(cls.outputs, "out"))
        for name, cls in block_types().items()
    }


MODULE_TYPE = "wbmodule_"  # node type of a collapsed module: MODULE_TYPE + its name (ports differ per module)
FRAME_TYPE = "wbframe"  # the frame drawn behind an expanded module's blocks
FRAME_PAD = 30.0


def module_node_types(circuit: Circuit) -> dict[str, NodeType]:
    """A node type per module: its exposed ports as handles, typed by the inner ports' kinds."""
    out = {FRAME_TYPE: NodeType(type=FRAME_TYPE, label="module", inputs=[], outputs=[])}
    for name, rec in circuit.modules.items():
        ins, outs = [], []
        for port, (block, inner) in rec.ports.items():
            b = circuit.block(block)
            if inner in b.inputs:
                ins.append({"id": port, "label": f"{port} (in)", "type": b.inputs[inner].kind})
            else:
                outs.append({"id": port, "label": f"{port} (out)", "type": b.outputs[inner].kind})
        out[MODULE_TYPE + name] = NodeType(type=MODULE_TYPE + name, label=rec.label, inputs=ins, outputs=outs)
    return out


def shown_as(circuit: Circuit, name: str) -> str:
    """The canvas node that shows block or module ``name``: itself, or its outermost collapsed module."""
    for m in sorted(circuit.modules, key=len):
        if m != name and mod.inside(name, m) and circuit.modules[m].collapsed:
            return m
    return name


def visible_nodes(circuit: Circuit) -> list[str]:
    """Blocks outside collapsed modules, then collapsed modules not inside another collapsed one."""
    blocks = [n for n in circuit.graph.nodes if shown_as(circuit, n) == n]
    mods = [m for m, rec in circuit.modules.items() if rec.collapsed and shown_as(circuit, m) == m]
    return blocks + mods


def edge_id(wire: Wire) -> str:
    return f"{wire.source}.{wire.output}->{wire.target}.{wire.input}"


def _wire_of(edge: dict) -> Wire:
    return Wire(edge.get("source"), edge.get("sourceHandle"), edge.get("target"), edge.get("targetHandle"))


def needs_layout(circuit: Circuit) -> bool:
    """True when a block has no position or two blocks sit on top of each other."""
    pos = [circuit.graph.nodes[n].get("position") for n in circuit.graph]
    if any(p is None for p in pos):
        return True
    return any(abs(a[0] - b[0]) < NODE_W and abs(a[1] - b[1]) < NODE_H
               for i, a in enumerate(pos) for b in pos[i + 1:])


def layered_positions(circuit: Circuit) -> dict[str, tuple[float, float]]:
    """Blocks in layers along the wires (sources left), loops collapsed, one row per block."""
    g = nx.DiGraph((w.source, w.target) for w in circuit.wires if w.source != w.target)
    g.add_nodes_from(circuit.graph.nodes)
    dag = nx.condensation(g)
    layer: dict[int, int] = {}
    for c in nx.topological_sort(dag):
        layer[c] = max((layer[p] + 1 for p in dag.predecessors(c)), default=0)
    rows: dict[int, int] = {}
    out = {}
    for name in circuit.graph.nodes:  # file order within a layer
        k = layer[dag.graph["mapping"][name]]
        out[name] = (k * LAYER_DX, rows.get(k, 0) * ROW_DY)
        rows[k] = rows.get(k, 0) + 1
    return out


class CircuitEditor:
    """Owns the canvas for one session's circuit; reports changes through callbacks.

    ``on_change(kind)`` is called after each accepted edit (kind: "structure" or "layout");
    ``on_select(name or None)`` when the selected block changes; ``notify(text, level)``
    shows a message to the user.
    """

    def __init__(self, circuit: Circuit, on_change: Callable[[str], None],
                 on_select: Callable[[str | None], None], notify: Callable[[str, str], None]):
        self.circuit = circuit
        self.on_change, self.on_select, self.notify = on_change, on_select, notify
        self._quiet = False  # True while we mutate the canvas ourselves
        self._edges: dict[str, Wire] = {}
        self.undo_stack: list[tuple[str, str]] = []  # (label, circuit JSON before the edit)
        self.redo_stack: list[tuple[str, str]] = []  # (label, circuit JSON after the edit)
        self._last = (0.0, None)  # (time, group key) of the last commit
        self.on_history: Callable[[], None] = lambda: None
        self._block_types = node_types()
        self._module_types: dict = {}
        self.flow = ReactFlow(
            node_types=self._block_types, editor_mode="toolbar", drop_types=[PALETTE_DRAG_TYPE],
            sizing_mode="stretch_both", min_height=300, min_zoom=0.2, show_minimap=False,
            default_edge_options={"type": "smoothstep"}, allow_edge_loops=True,
        )
        self.flow.add_connection_validator(self.wire_problem)
        for event, handler in [("edge_added", self._edge_added), ("edge_deleted", self._edge_deleted),
                               ("node_deleted", self._node_deleted), ("node_moved", self._node_moved),
                               ("selection_changed", self._selection_changed), ("drop", self._dropped)]:
            self.flow.on(event, self._guarded(handler))
        self._arrange()
        self._current = circuit.to_json()
        self.refresh()

    def _guarded(self, handler):
        """A canvas event that fails puts the circuit back as it was before, with a message."""
        def run(payload):
            try:
                handler(payload)
            except Exception as e:  # noqa: BLE001 - any failure is shown, the circuit survives
                self.notify(f"That edit failed ({type(e).__name__}: {e}); the circuit is as it was.", "danger")
                self.restore(self._current)
        return run

    # -- circuit -> canvas ---------------------------------------------------------------------
    def _module_node(self, name: str, selected: bool) -> dict:
        rec = self.circuit.modules[name]
        x, y = rec.position or (0.0, 0.0)
        inner = len(mod.members(self.circuit, name))
        return {"id": name, "type": MODULE_TYPE + name, "label": name, "position": {"x": float(x), "y": float(y)},
                "data": {}, "selected": selected, "className": "wb-module-node",
                "style": {"border": "2px solid #7b1fa2", "background": "#f6effa"},
                "view": pn.pane.HTML(f"<span class='wb-node-kind'>module {html.escape(rec.label)} · {inner} blocks</span>",
                                     margin=(0, 4), styles={"font-size": "11px"})}

    def _shift(self, name: str, dx: float, dy: float) -> None:
        """Move everything inside module ``name`` by (dx, dy)."""
        for n in mod.members(self.circuit, name):
            p = self.circuit.graph.nodes[n].get("position")
            if p:
                self.circuit.graph.nodes[n]["position"] = (p[0] + dx, p[1] + dy)
        for m, sub in self.circuit.modules.items():
            if mod.inside(m, name) and sub.position:
                sub.position = (sub.position[0] + dx, sub.position[1] + dy)

    def _frames(self) -> list[dict]:
        """A frame behind each expanded module, around its shown blocks (drawn first: underneath)."""
        frames = []
        for name, rec in self.circuit.modules.items():
            if rec.collapsed or shown_as(self.circuit, name) != name:
                continue
            pos = [self.circuit.graph.nodes[n].get("position") or (0.0, 0.0) for n in mod.members(self.circuit, name)]
            pos += [self.circuit.modules[m].position or (0.0, 0.0) for m in self.circuit.modules
                    if mod.inside(m, name) and m != name and self.circuit.modules[m].collapsed]
            if not pos:
                continue
            x0, y0 = min(p[0] for p in pos) - FRAME_PAD, min(p[1] for p in pos) - FRAME_PAD - 20
            x1, y1 = max(p[0] for p in pos) + NODE_W + FRAME_PAD, max(p[1] for p in pos) + NODE_H + FRAME_PAD
            frames.append({"id": f"frame:{name}", "type": FRAME_TYPE, "label": f"{name} · expanded" if rec.label == mod.local(name, mod.owner(self.circuit, name))
                           else f"{name} ({rec.label}) · expanded",
                           "position": {"x": x0, "y": y0}, "data": {}, "draggable": False, "connectable": False,
                           "deletable": False, "selected": False, "className": "wb-module-frame",
                           "style": {"width": x1 - x0, "height": y1 - y0, "background": "rgba(123,31,162,0.05)",
                                     "border": "2px dashed #7b1fa2", "zIndex": -1, "pointerEvents": "none"}})
        return frames

    def _node(self, name: str, selected: bool = False) -> dict:
        if name in self.circuit.modules:
            return self._module_node(name, selected)
        block = self.circuit.block(name)
        x, y = self.circuit.graph.nodes[name].get("position") or (0.0, 0.0)
        return {"id": name, "type": type(block).__name__, "label": name, "position": {"x": float(x), "y": float(y)},
                "data": {}, "selected": selected,
                "view": pn.pane.HTML(f"<span class='wb-node-kind'>{describe(block)}</span>",
                                     margin=(0, 4), styles={"font-size": "11px"})}

    def shown_wire(self, wire: Wire) -> Wire | None:
        """``wire`` as the canvas draws it: ends inside a collapsed module go to its port (None:
        the wire is hidden inside one collapsed module)."""
        ends = []
        for block, port in ((wire.source, wire.output), (wire.target, wire.input)):
            node = shown_as(self.circuit, block)
            ends.append((node, port if node == block else mod.port_of(self.circuit, node, (block, port))))
        if ends[0][0] == ends[1][0] and ends[0][0] in self.circuit.modules:
            return None
        return Wire(ends[0][0], ends[0][1], ends[1][0], ends[1][1])

    def _edge(self, wire: Wire) -> dict:
        return {"id": edge_id(wire), "source": wire.source, "target": wire.target,
                "sourceHandle": wire.output, "targetHandle": wire.input}

    def refresh(self, selected=()) -> None:
        """Redraw the whole canvas from the circuit (after load, undo or a rename)."""
        self._quiet = True
        try:
            shown = {w: self.shown_wire(w) for w in self.circuit.wires}
            self._edges = {edge_id(v): w for w, v in shown.items() if v is not None}
            mods = module_node_types(self.circuit)
            signature = {k: v.to_dict() for k, v in mods.items()}
            if signature != self._module_types:  # new ports, a new module: new handles
                self._module_types = signature
                self.flow.node_types = {**self._block_types, **mods}
            self.flow.param.update(nodes=self._frames() + [self._node(n, n in selected)
                                                           for n in visible_nodes(self.circuit)],
                                   edges=[self._edge(v) for v in dict.fromkeys(shown.values()) if v is not None])
        finally:
            self._quiet = False

    def _arrange(self) -> None:
        if needs_layout(self.circuit):
            for name, pos in layered_positions(self.circuit).items():
                self.circuit.graph.nodes[name]["position"] = pos
        for name, rec in self.circuit.modules.items():  # a module without a place sits where its blocks start
            inner = [self.circuit.graph.nodes[n]["position"] for n in mod.members(self.circuit, name)
                     if self.circuit.graph.nodes[n].get("position")]
            if rec.position is None and inner:
                rec.position = (min(p[0] for p in inner), min(p[1] for p in inner))

    def set_circuit(self, circuit: Circuit, label: str | None = None) -> None:
        """Show another circuit; with a label the switch is an undoable edit, else history starts over."""
        self.circuit = circuit
        self._arrange()
        if label is None:
            self.undo_stack.clear()
            self.redo_stack.clear()
            self._current = circuit.to_json()
            self.on_history()
        self.refresh()
        self.on_select(None)
        if label is not None:
            self.commit(label)

    # -- history ---------------------------------------------------------------------------------
    def commit(self, label: str, key: str | None = None) -> None:
        """Record the edit just made to the circuit. Edits with the same ``key`` within
        GROUP_SECONDS (one drag of a slider, one canvas gesture) are one undo step."""
        now = time.monotonic()
        new = self.circuit.to_json()
        if new == self._current:
            return
        last_t, last_key = self._last
        if self.undo_stack and key is not None and key == last_key and now - last_t < GROUP_SECONDS:
            old_label = self.undo_stack[-1][0]
            if label.startswith("Delete") and not old_label.startswith("Delete"):
                self.undo_stack[-1] = (label, self.undo_stack[-1][1])
        else:
            self.undo_stack.append((label, self._current))
            del self.undo_stack[:-HISTORY]
        self._last = (now, key)
        self.redo_stack.clear()
        self._current = new
        self.on_history()

    def restore(self, text: str) -> None:
        self.circuit = Circuit.from_json(text)
        self._current = text
        self.refresh()

    def undo(self) -> str | None:
        """Revert the last edit; returns its label (None when there is nothing to undo)."""
        if not self.undo_stack:
            return None
        label, before = self.undo_stack.pop()
        self.redo_stack.append((label, self._current))
        self.restore(before)
        self._last = (0.0, None)
        self.on_change("structure")
        self.on_history()
        return label

    def redo(self) -> str | None:
        if not self.redo_stack:
            return None
        label, after = self.redo_stack.pop()
        self.undo_stack.append((label, self._current))
        self.restore(after)
        self._last = (0.0, None)
        self.on_change("structure")
        self.on_history()
        return label

    # -- edits (from the palette, the inspector or the canvas) ---------------------------------
    def add_block(self, type_name: str, position: tuple[float, float] | None = None) -> str:
        """Add a new block of ``type_name`` with default params; returns its name."""
        name = default_name(type_name, set(self.circuit.graph.nodes))
        if position is None:
            position = self._free_spot()
        self.circuit.add(name, type_name, position=(float(position[0]), float(position[1])))
        self._quiet = True
        try:
            self.flow.add_node(self._node(name))
        finally:
            self._quiet = False
        self.commit(f"Add {name}")
        self.on_change("structure")
        return name

    def _free_spot(self) -> tuple[float, float]:
        """Right of the rightmost block, in the first row where nothing sits."""
        taken = [p for _, p in self.circuit.graph.nodes(data="position") if p]
        taken += [rec.position for rec in self.circuit.modules.values() if rec.position]
        x = max((p[0] for p in taken), default=-LAYER_DX) + LAYER_DX
        for row in range(50):
            y = row * ROW_DY
            if not any(abs(p[0] - x) < NODE_W and abs(p[1] - y) < NODE_H for p in taken):
                return x, y
        return x, 0.0

    def delete_blocks(self, names) -> None:
        """Remove blocks and their wires from the circuit and the canvas (one undo step)."""
        names = [n for n in names if n in self.circuit.graph or n in self.circuit.modules]
        if not names:
            return
        for name in names:
            if name in self.circuit.graph or name in self.circuit.modules:  # not gone with its module
                self.circuit.remove(name)
        self.selection = []
        self.refresh()
        self.commit("Delete " + ", ".join(names))
        self.on_select(None)
        self.on_change("structure")

    def delete_block(self, name: str) -> None:
        self.delete_blocks([name])

    def rename(self, old: str, new: str) -> str:
        """Rename a block (wires follow); raises CircuitError for a taken or invalid name. Inside a
        module the name typed is the block's own: it keeps its module's prefix."""
        around = mod.owner(self.circuit, old)
        if around is not None and not new.startswith(around + mod.SEP):
            new = around + mod.SEP + new
        self.circuit.rename(old, new)
        self.refresh(selected=(new,))
        self.commit(f"Rename {old} -> {new}")
        self.on_change("structure")
        return new

    def rename_circuit(self, name: str) -> None:
        self.circuit.name = name
        self.commit(f"Rename circuit to {name}", key="circuit-name")

    def select_all(self) -> None:
        self.selection = visible_nodes(self.circuit)
        for name in self.selection:
            self.flow.patch_node_props(name, {"selected": True})

    def connect(self, source: str, target: str) -> Wire:
        wire = self.circuit.connect(source, target)
        self._quiet = True
        try:
            self.flow.add_edge(self._edge(wire))
        finally:
            self._quiet = False
        self._edges[edge_id(wire)] = wire
        self.commit(f"Wire {wire}")
        self.on_change("structure")
        return wire

    def wire_problem(self, payload: dict) -> str | None:
        """Connection validator: the circuit's reason to refuse this wire, or None."""
        try:
            self.circuit.check_wire(_wire_of(payload))
        except CircuitError as e:
            return str(e)
        return None

    @property
    def can_undo(self) -> bool:
        return bool(self.undo_stack)

    # -- canvas events -------------------------------------------------------------------------
    def _edge_added(self, payload: dict) -> None:
        if self._quiet:
            return
        edge = payload["edge"]
        wire = _wire_of(edge)
        try:
            self.circuit.check_wire(wire)
            flat = self.circuit.connect(f"{wire.source}.{wire.output}", f"{wire.target}.{wire.input}")
        except CircuitError as e:
            self._quiet = True
            try:
                self.flow.remove_edge(edge["id"])
            finally:
                self._quiet = False
            self.notify(f"Wire refused: {e}", "danger")
            return
        self._edges[edge["id"]] = flat
        self.commit(f"Wire {wire}")
        self.notify(f"Wired {wire}", "success")
        self.on_change("structure")

    def _edge_deleted(self, payload: dict) -> None:
        if self._quiet:
            return
        wire = self._edges.pop(payload.get("edge_id"), None)
        if wire is None or wire not in self.circuit.wires:
            return
        self.circuit.disconnect(f"{wire.source}.{wire.output}", f"{wire.target}.{wire.input}")
        self.commit(f"Unwire {wire}", key="canvas-delete")
        self.on_change("structure")

    def _node_deleted(self, payload: dict) -> None:
        if self._quiet:
            return
        name = payload.get("node_id")
        if name in self.circuit.graph or name in self.circuit.modules:
            _, wires = self.circuit.remove(name)
            for w in wires:
                self._edges.pop(edge_id(w), None)
            self.commit(f"Delete {name}", key="canvas-delete")
            self.on_select(None)
            self.on_change("structure")
            self.notify(f"Deleted {name} (Undo restores it)", "info")

    def _node_moved(self, payload: dict) -> None:
        name, pos = payload.get("node_id"), payload.get("position") or {}
        if name in self.circuit.modules:  # a collapsed module carries its blocks along
            rec = self.circuit.modules[name]
            new = (float(pos.get("x", 0)), float(pos.get("y", 0)))
            dx, dy = (new[0] - rec.position[0], new[1] - rec.position[1]) if rec.position else (0.0, 0.0)
            self._shift(name, dx, dy)
            rec.position = new
            self.commit(f"Move {name}", key=f"move-{name}")
            self.on_change("layout")
        elif name in self.circuit.graph:
            self.circuit.graph.nodes[name]["position"] = (float(pos.get("x", 0)), float(pos.get("y", 0)))
            self.commit(f"Move {name}", key=f"move-{name}")
            self.on_change("layout")

    def _selection_changed(self, payload: dict) -> None:
        nodes = payload.get("nodes") or []
        self.selection = [n for n in nodes if n in self.circuit.graph or n in self.circuit.modules]
        self.on_select(nodes[0] if len(nodes) == 1 and nodes[0] in self.circuit.graph else None)

    selection: list[str] = []
    on_drop_other: Callable[[str, tuple[float, float]], None] = staticmethod(lambda label, pos: None)

    # -- modules -----------------------------------------------------------------------------------
    def group(self, names, name: str) -> str:
        """Group blocks/modules into module ``name`` (one undo step); returns its flat name."""
        flat = self.circuit.group(names, name)
        self.selection = [flat]
        self.refresh(selected=(flat,))
        self.commit(f"Group {', '.join(names)} as {flat}")
        self.on_select(None)
        self.on_change("structure")
        return flat

    def ungroup(self, name: str) -> list[str]:
        moved = self.circuit.ungroup(name)
        self.selection = moved
        self.refresh(selected=moved)
        self.commit(f"Ungroup {name}")
        self.on_select(None)
        self.on_change("structure")
        return moved

    def set_collapsed(self, name: str, collapsed: bool) -> None:
        rec = self.circuit.modules[name]
        if rec.collapsed == collapsed:
            return
        rec.collapsed = collapsed
        self.selection = [name] if collapsed else []
        self.refresh(selected=self.selection)
        self.commit(f"{'Collapse' if collapsed else 'Expand'} {name}")
        self.on_change("layout")

    def add_module(self, module, position: tuple[float, float] | None = None) -> str:
        """Add a copy of ``module`` under a fresh name, collapsed, at ``position``."""
        stem = re.sub(r"[^A-Za-z0-9]+", "_", module.name).strip("_").lower()[:40]  # an identifier, no "__"
        if not stem or not stem[0].isalpha():
            stem = f"m_{stem}".rstrip("_")
        taken = set(self.circuit.graph.nodes) | set(self.circuit.modules)
        k = 1
        while f"{stem}{k}" in taken or any(n.startswith(f"{stem}{k}{mod.SEP}") for n in taken):
            k += 1
        name = f"{stem}{k}"
        pos = position or self._free_spot()
        inner = [p for _, p in module.circuit.graph.nodes(data="position") if p]
        self.circuit.add(name, module, position=pos)
        if inner:  # its blocks keep their layout, moved to where the module lands
            x0, y0 = min(p[0] for p in inner), min(p[1] for p in inner)
            self._shift(name, pos[0] - x0, pos[1] - y0)
        self.circuit.modules[name].position = pos
        self.refresh(selected=(name,))
        self.commit(f"Add module {name}")
        self.on_change("structure")
        return name

    def _dropped(self, payload: dict) -> None:
        data = payload.get("data") or {}
        type_name = data.get("label") if isinstance(data, dict) else None
        if type_name not in block_types():
            if isinstance(type_name, str):
                pos = payload.get("position") or {}
                self.on_drop_other(type_name, (float(pos.get("x", 0.0)), float(pos.get("y", 0.0))))
            return
        pos = payload.get("position") or {}
        name = self.add_block(type_name, (pos.get("x", 0.0), pos.get("y", 0.0)))
        self.notify(f"Added {name} ({type_name}); wire its ports on the canvas.", "success")
