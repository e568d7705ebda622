"""A thin adapter between a Circuit and panel-reactflow: the canvas is a view of the circuit.

Every user edit on the canvas (add, wire, delete, move) goes through the Circuit API first;
an edit the circuit refuses is undone on the canvas and its message reported. Edits made on
the circuit (load, undo, redo, rename) are pushed to the canvas by ``refresh``.

Undo and redo keep whole-circuit snapshots (the circuit's own JSON): every edit, whatever its
kind (add, delete, wire, move, parameter, rename), is one ``commit`` with a label, so one
mechanism undoes all of them and the edit list shows the labels.
"""
from __future__ import annotations

import time
from typing import Callable

import networkx as nx
import panel as pn
from panel_reactflow import NodeType, ReactFlow

from simulations import Circuit, CircuitError, Wire

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
        self.flow = ReactFlow(
            node_types=node_types(), editor_mode="toolbar", drop_types=[PALETTE_DRAG_TYPE],
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
    def _node(self, name: str, selected: bool = False) -> dict:
        block = self.circuit.block(name)
        x, y = self.circuit.graph.nodes[name].get("position") or (0.0, 0.0)
        return {"id": name, "type": type(block).__name__, "label": name, "position": {"x": float(x), "y": float(y)},
                "data": {}, "selected": selected,
                "view": pn.pane.HTML(f"<span class='wb-node-kind'>{describe(block)}</span>",
                                     margin=(0, 4), styles={"font-size": "11px"})}

    def _edge(self, wire: Wire) -> dict:
        return {"id": edge_id(wire), "source": wire.source, "target": wire.target,
                "sourceHandle": wire.output, "targetHandle": wire.input}

    def refresh(self, selected=()) -> None:
        """Redraw the whole canvas from the circuit (after load, undo or a rename)."""
        self._quiet = True
        try:
            self._edges = {edge_id(w): w for w in self.circuit.wires}
            self.flow.param.update(nodes=[self._node(n, n in selected) for n in self.circuit.graph.nodes],
                                   edges=[self._edge(w) for w in self.circuit.wires])
        finally:
            self._quiet = False

    def _arrange(self) -> None:
        if needs_layout(self.circuit):
            for name, pos in layered_positions(self.circuit).items():
                self.circuit.graph.nodes[name]["position"] = pos

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
        x = max((p[0] for p in taken), default=-LAYER_DX) + LAYER_DX
        for row in range(50):
            y = row * ROW_DY
            if not any(abs(p[0] - x) < NODE_W and abs(p[1] - y) < NODE_H for p in taken):
                return x, y
        return x, 0.0

    def delete_blocks(self, names) -> None:
        """Remove blocks and their wires from the circuit and the canvas (one undo step)."""
        names = [n for n in names if n in self.circuit.graph]
        if not names:
            return
        for name in names:
            self.circuit.remove(name)
        self.selection = []
        self.refresh()
        self.commit("Delete " + ", ".join(names))
        self.on_select(None)
        self.on_change("structure")

    def delete_block(self, name: str) -> None:
        self.delete_blocks([name])

    def rename(self, old: str, new: str) -> None:
        """Rename a block (wires follow); raises CircuitError for a taken or invalid name."""
        self.circuit.rename(old, new)
        self.refresh(selected=(new,))
        self.commit(f"Rename {old} -> {new}")
        self.on_change("structure")

    def rename_circuit(self, name: str) -> None:
        self.circuit.name = name
        self.commit(f"Rename circuit to {name}", key="circuit-name")

    def select_all(self) -> None:
        self.selection = list(self.circuit.graph.nodes)
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
            self.circuit.connect(f"{wire.source}.{wire.output}", f"{wire.target}.{wire.input}")
        except CircuitError as e:
            self._quiet = True
            try:
                self.flow.remove_edge(edge["id"])
            finally:
                self._quiet = False
            self.notify(f"Wire refused: {e}", "danger")
            return
        self._edges[edge["id"]] = wire
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
        if name in self.circuit.graph:
            _, wires = self.circuit.remove(name)
            for w in wires:
                self._edges.pop(edge_id(w), None)
            self.commit(f"Delete {name}", key="canvas-delete")
            self.on_select(None)
            self.on_change("structure")
            self.notify(f"Deleted {name} (Undo restores it)", "info")

    def _node_moved(self, payload: dict) -> None:
        name, pos = payload.get("node_id"), payload.get("position") or {}
        if name in self.circuit.graph:
            self.circuit.graph.nodes[name]["position"] = (float(pos.get("x", 0)), float(pos.get("y", 0)))
            self.commit(f"Move {name}", key=f"move-{name}")
            self.on_change("layout")

    def _selection_changed(self, payload: dict) -> None:
        nodes = payload.get("nodes") or []
        self.selection = [n for n in nodes if n in self.circuit.graph]
        self.on_select(nodes[0] if len(nodes) == 1 and nodes[0] in self.circuit.graph else None)

    selection: list[str] = []

    def _dropped(self, payload: dict) -> None:
        data = payload.get("data") or {}
        type_name = data.get("label") if isinstance(data, dict) else None
        if type_name not in block_types():
            return
        pos = payload.get("position") or {}
        name = self.add_block(type_name, (pos.get("x", 0.0), pos.get("y", 0.0)))
        self.notify(f"Added {name} ({type_name}); wire its ports on the canvas.", "success")
