"""The connectome view: the circuit's neurons as a networkx graph, nodes lit by recent spikes.

Neurons of each spiking population (a block with a raster probe) are sampled (at most
``PER_POPULATION``), placed by a networkx spring layout of their connections around their
block's position on the canvas, and joined by the synapses of every block that keeps sparse
synapses between two of them. Node colour is the neuron's recent spike count (decaying).
"""
from __future__ import annotations

import math

import networkx as nx
import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, LinearColorMapper
from bokeh.palettes import Inferno256

from simulations import Simulator

from .views import _figure, _thin

PER_POPULATION = 60
ACTIVITY_TAU_MS = 50.0
EVERY = 3  # frames between recolourings


def _populations(sim: Simulator) -> dict[str, str]:
    """Spiking block name -> its raster probe path."""
    return {p.split(".")[0]: p for p, kind in sim.probe_paths().items() if kind == "raster"}


def _projections(sim: Simulator, populations) -> list[tuple[str, str, str]]:
    """(block, pre population, post population) for blocks holding synapses between two."""
    found = []
    for name, node in sim.nodes.items():
        if getattr(node.state.get("synapses"), "pre", None) is None:
            continue
        wires = sim.circuit.wires
        pre = [w.source for w in wires if w.target == name and node.block.inputs[w.input].kind == "spikes"]
        post = [w.target for w in wires if w.source == name and node.block.outputs[w.output].kind == "current"]
        for a in pre:
            for b in post:
                if a in populations and b in populations:
                    found.append((name, a, b))
    return found


def neuron_graph(sim: Simulator) -> tuple[nx.DiGraph, dict]:
    """The sampled neuron graph and its layout (positions)."""
    pops = _populations(sim)
    sampled = {b: _thin(int(sim.probe_value(p).shape[-1]), PER_POPULATION) for b, p in pops.items()}
    g = nx.DiGraph()
    for b, idx in sampled.items():
        g.add_nodes_from(((b, int(i)) for i in idx), population=b)
    for name, a, b in _projections(sim, pops):
        syn = sim.node(name).state["synapses"]
        pre, post = syn.pre.cpu().numpy(), syn.post.cpu().numpy()
        w = syn.w[0].detach().cpu().numpy()
        keep = np.isin(pre, sampled[a]) & np.isin(post, sampled[b])
        for i, j, wt in zip(pre[keep], post[keep], w[keep]):
            g.add_edge((a, int(i)), (b, int(j)), weight=float(wt), block=name)
    pos = {}
    for b in sampled:
        x, y = sim.circuit.graph.nodes[b].get("position") or (0.0, 0.0)
        sub = g.subgraph([n for n in g if n[0] == b]).to_undirected()
        local = nx.spring_layout(sub, seed=1, scale=90.0, center=(float(x), -float(y)), iterations=40)
        pos.update(local)
    return g, pos


class ConnectomeView:
    kind = "connectome"

    def __init__(self, sim: Simulator):
        self.dt, self.frames = sim.dt, 0
        g, pos = neuron_graph(sim)
        self.nodes = list(g.nodes)
        self.index = {}
        for k, (b, i) in enumerate(self.nodes):
            self.index.setdefault(b, {})[i] = k
        self.paths = _populations(sim)
        self.activity = np.zeros(len(self.nodes))
        self.last_t = sim.t
        xs = [pos[n][0] for n in self.nodes]
        ys = [pos[n][1] for n in self.nodes]
        self.source = ColumnDataSource(dict(x=xs, y=ys, activity=self.activity.copy(),
                                            population=[n[0] for n in self.nodes]))
        e = list(g.edges(data=True))
        edges = ColumnDataSource(dict(
            x0=[pos[a][0] for a, _, _ in e], y0=[pos[a][1] for a, _, _ in e],
            x1=[pos[b][0] for _, b, _ in e], y1=[pos[b][1] for _, b, _ in e],
            color=["#3b6fb6" if d["weight"] >= 0 else "#c0392b" for _, _, d in e]))
        fig = _figure(f"Connectome: {len(self.nodes)} sampled neurons, {len(e)} synapses (lit by recent spikes)",
                      300, match_aspect=True)
        fig.segment("x0", "y0", "x1", "y1", source=edges, color="color", alpha=0.12, line_width=1)
        self.mapper = LinearColorMapper(palette=Inferno256[:230], low=0, high=3)
        fig.scatter("x", "y", source=self.source, size=7, line_color="#444", line_width=0.5,
                    fill_color={"field": "activity", "transform": self.mapper})
        for b in self.paths:
            x, y = sim.circuit.graph.nodes[b].get("position") or (0.0, 0.0)
            fig.text(x=[float(x)], y=[-float(y) + 105], text=[b], text_font_size="10px", text_align="center")
        fig.axis.visible = False
        fig.grid.visible = False
        self.panel = pn.pane.Bokeh(fig, sizing_mode="stretch_width")

    def update(self, frame) -> None:
        if frame.t < self.last_t:  # reset
            self.activity[:] = 0
        elapsed_ms = max(0, frame.t - self.last_t) * self.dt
        self.last_t = frame.t
        self.activity *= math.exp(-elapsed_ms / ACTIVITY_TAU_MS)
        for b, path in self.paths.items():
            ev = frame.events.get(path)
            if ev is None or not len(ev):
                continue
            lookup = self.index.get(b, {})
            for n in ev[ev[:, 1] == 0, 2]:
                k = lookup.get(int(n))
                if k is not None:
                    self.activity[k] += 1
        self.frames += 1
        if self.frames % EVERY == 0 or frame.final:
            self.source.patch({"activity": [(slice(0, len(self.activity)), self.activity.copy())]})
