"""The connectome view: the circuit's neurons as a graph, nodes lit by recent spikes.

The simulation process samples neurons of each spiking population and lays them out
(``frames.neuron_graph``: a networkx spring layout around each block's canvas position, joined
by the synapses between them); each frame brings the sampled neurons' spike counts since the
previous frame. Node colour is the neuron's recent spike count (decaying).
"""
from __future__ import annotations

import math

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, LinearColorMapper
from bokeh.palettes import Inferno256

from .views import _figure

ACTIVITY_TAU_MS = 50.0
EVERY = 3  # frames between recolourings


class ConnectomeView:
    kind = "connectome"

    def __init__(self, layout: dict):
        self.dt, self.frames = layout["dt"], 0
        graph = layout["connectome"] or dict(nodes=[], x=[], y=[], edges=dict(x0=[], y0=[], x1=[], y1=[], color=[]),
                                             labels=[])
        self.nodes = graph["nodes"]
        self.activity = np.zeros(len(self.nodes))
        self.last_t = layout["t"]
        self.source = ColumnDataSource(dict(x=graph["x"], y=graph["y"], activity=self.activity.copy(),
                                            population=[b for b, _ in self.nodes]))
        edges = ColumnDataSource(graph["edges"])
        fig = _figure(f"Connectome: {len(self.nodes)} sampled neurons, {len(graph['edges']['x0'])} synapses "
                      "(lit by recent spikes)", 300, match_aspect=True)
        fig.segment("x0", "y0", "x1", "y1", source=edges, color="color", alpha=0.12, line_width=1)
        self.mapper = LinearColorMapper(palette=Inferno256[:230], low=0, high=3)
        fig.scatter("x", "y", source=self.source, size=7, line_color="#444", line_width=0.5,
                    fill_color={"field": "activity", "transform": self.mapper})
        for x, y, b in graph["labels"]:
            fig.text(x=[x], y=[y], text=[b], text_font_size="10px", text_align="center")
        fig.axis.visible = False
        fig.grid.visible = False
        self.panel = pn.pane.Bokeh(fig, sizing_mode="stretch_width")

    def update(self, frame: dict) -> None:
        if frame.get("reset") or frame["t"] < self.last_t:
            self.activity[:] = 0
        elapsed_ms = max(0, frame["t"] - self.last_t) * self.dt
        self.last_t = frame["t"]
        self.activity *= math.exp(-elapsed_ms / ACTIVITY_TAU_MS)
        counts = frame.get("activity")
        if counts is not None and len(counts) == len(self.activity):
            self.activity += counts
        self.frames += 1
        if self.frames % EVERY == 0 or frame.get("final"):
            self.source.patch({"activity": [(slice(0, len(self.activity)), self.activity.copy())]})
