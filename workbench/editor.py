"""A thin adapter between a Circuit and panel-reactflow: the canvas is a view of the circuit.

Every user edit on the canvas (add, wire, delete, move) goes through the Circuit API first;
an edit the circuit refuses is undone on the canvas and its message reported. Edits made on
the circuit (load, undo) are pushed to the canvas by ``refresh``.
"""
from __future__ import annotations

import time
from typing import Callable

import panel as pn
from panel_reactflow import NodeType, ReactFlow

from simulations import Circuit, CircuitError, Wire

from .blocks import block_types, default_name, describe, port_specs

PALETTE_DRAG_TYPE = "application/x-workbench-block"
GROUP_SECONDS = 0.5  # canvas events this close together are one user action for undo


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
        self._undo: list[tuple[float, list[tuple]]] = []
        self.flow = ReactFlow(
            node_types=node_types(), editor_mode="toolbar", drop_types=[PALETTE_DRAG_TYPE],
            sizing_mode="stretch_both", min_height=380, min_zoom=0.2, show_minimap=False,
            default_edge_options={"type": "smoothstep"}, allow_edge_loops=True,
        )
        self.flow.add_connection_validator(self.wire_problem)
        for event, handler in [("edge_added", self._edge_added), ("edge_deleted", self._edge_deleted),
                               ("node_deleted", self._node_deleted), ("node_moved", self._node_moved),
                               ("selection_changed", self._selection_changed), ("drop", self._dropped)]:
            self.flow.on(event, handler)
        self.refresh()

    # -- circuit -> canvas ---------------------------------------------------------------------
    def _node(self, name: str) -> dict:
        block = self.circuit.block(name)
        x, y = self.circuit.graph.nodes[name].get("position") or (0.0, 0.0)
        return {"id": name, "type": type(block).__name__, "label": name, "position": {"x": float(x), "y": float(y)},
                "data": {}, "view": pn.pane.HTML(f"<span class='wb-node-kind'>{describe(block)}</span>",
                                                 margin=(0, 4), styles={"font-size": "11px"})}

    def _edge(self, wire: Wire) -> dict:
        return {"id": edge_id(wire), "source": wire.source, "target": wire.target,
                "sourceHandle": wire.output, "targetHandle": wire.input}

    def refresh(self) -> None:
        """Redraw the whole canvas from the circuit (after load, undo or a rename)."""
        self._quiet = True
        try:
            self._edges = {edge_id(w): w for w in self.circuit.wires}
            self.flow.param.update(nodes=[self._node(n) for n in self.circuit.graph.nodes],
                                   edges=[self._edge(w) for w in self.circuit.wires])
        finally:
            self._quiet = False

    def set_circuit(self, circuit: Circuit) -> None:
        self.circuit = circuit
        self._undo.clear()
        self.refresh()
        self.on_select(None)

    # -- edits (from the palette, the inspector or the canvas) ---------------------------------
    def add_block(self, type_name: str, position: tuple[float, float] | None = None) -> str:
        """Add a new block of ``type_name`` with default params; returns its name."""
        name = default_name(type_name, set(self.circuit.graph.nodes))
        if position is None:
            xs = [p[0] for _, p in self.circuit.graph.nodes(data="position") if p] or [0.0]
            position = (max(xs) + 220.0, 40.0 * (len(self.circuit.graph) % 8))
        self.circuit.add(name, type_name, position=(float(position[0]), float(position[1])))
        self._quiet = True
        try:
            self.flow.add_node(self._node(name))
        finally:
            self._quiet = False
        self._record(("add", name))
        self.on_change("structure")
        return name

    def delete_block(self, name: str) -> None:
        """Remove a block and its wires from the circuit and the canvas (undoable)."""
        self._remove(name)
        self._quiet = True
        try:
            self.flow.remove_node(name)
        finally:
            self._quiet = False

    def _remove(self, name: str) -> None:
        position = self.circuit.graph.nodes[name].get("position")
        block, wires = self.circuit.remove(name)
        for w in wires:
            self._edges.pop(edge_id(w), None)
        self._record(("remove", name, block, wires, position))
        self.on_select(None)
        self.on_change("structure")

    def connect(self, source: str, target: str) -> Wire:
        wire = self.circuit.connect(source, target)
        self._quiet = True
        try:
            self.flow.add_edge(self._edge(wire))
        finally:
            self._quiet = False
        self._edges[edge_id(wire)] = wire
        self._record(("connect", wire))
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
        return bool(self._undo)

    def undo(self) -> str | None:
        """Revert the last user action (one canvas gesture may be several edits)."""
        if not self._undo:
            return None
        _, ops = self._undo.pop()
        for op in reversed(ops):
            if op[0] == "add":
                self.circuit.remove(op[1])
            elif op[0] == "connect":
                w = op[1]
                self.circuit.disconnect(f"{w.source}.{w.output}", f"{w.target}.{w.input}")
            elif op[0] == "disconnect":
                w = op[1]
                if w not in self.circuit.wires:
                    self.circuit.connect(f"{w.source}.{w.output}", f"{w.target}.{w.input}")
            elif op[0] == "remove":
                _, name, block, wires, position = op
                self.circuit.add(name, block, position)
                for w in wires:
                    if w.source in self.circuit.graph and w.target in self.circuit.graph and w not in self.circuit.wires:
                        self.circuit.connect(f"{w.source}.{w.output}", f"{w.target}.{w.input}")
        self.refresh()
        self.on_change("structure")
        return ops[0][0]

    def _record(self, op: tuple) -> None:
        now = time.monotonic()
        if self._undo and now - self._undo[-1][0] < GROUP_SECONDS:
            self._undo[-1][1].append(op)
            self._undo[-1] = (now, self._undo[-1][1])
        else:
            self._undo.append((now, [op]))
        del self._undo[:-50]

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
        self._record(("connect", wire))
        self.notify(f"Wired {wire}", "success")
        self.on_change("structure")

    def _edge_deleted(self, payload: dict) -> None:
        if self._quiet:
            return
        wire = self._edges.pop(payload.get("edge_id"), None)
        if wire is None or wire not in self.circuit.wires:
            return
        self.circuit.disconnect(f"{wire.source}.{wire.output}", f"{wire.target}.{wire.input}")
        self._record(("disconnect", wire))
        self.on_change("structure")

    def _node_deleted(self, payload: dict) -> None:
        if self._quiet:
            return
        name = payload.get("node_id")
        if name in self.circuit.graph:
            self._remove(name)
            self.notify(f"Deleted {name} (Undo restores it)", "info")

    def _node_moved(self, payload: dict) -> None:
        name, pos = payload.get("node_id"), payload.get("position") or {}
        if name in self.circuit.graph:
            self.circuit.graph.nodes[name]["position"] = (float(pos.get("x", 0)), float(pos.get("y", 0)))
            self.on_change("layout")

    def _selection_changed(self, payload: dict) -> None:
        nodes = payload.get("nodes") or []
        self.on_select(nodes[0] if len(nodes) == 1 and nodes[0] in self.circuit.graph else None)

    def _dropped(self, payload: dict) -> None:
        data = payload.get("data") or {}
        type_name = data.get("label") if isinstance(data, dict) else None
        if type_name not in block_types():
            return
        pos = payload.get("position") or {}
        name = self.add_block(type_name, (pos.get("x", 0.0), pos.get("y", 0.0)))
        self.notify(f"Added {name} ({type_name}); wire its ports on the canvas.", "success")
