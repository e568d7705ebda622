"""The teaching gallery: a card per signature demo (thumbnail, title, paper, what to look at
and what to try), and the demo panel shown beside the views while a demo is open, with its
headline metric plotted live (one line per metric and compared batch row)."""
from __future__ import annotations

import base64
from typing import Callable

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, Range1d
from bokeh.palettes import Category10_10

from .demos import Demo, demos
from .views import _figure

LIVE_POINTS = 2000


def _thumbnail(demo: Demo, width: int = 240) -> pn.pane.HTML:
    if demo.thumbnail.exists():
        data = base64.b64encode(demo.thumbnail.read_bytes()).decode()
        return pn.pane.HTML(f"<img src='data:image/png;base64,{data}' width='{width}' alt='{demo.title}'>",
                            margin=(0, 5))
    return pn.pane.HTML(f"<div style='width:{width}px;height:150px;background:#eee'></div>", margin=(0, 5))


class Gallery:
    """The gallery page: cards in a grid; ``on_open(demo)`` is called by a card's Open button."""

    def __init__(self, on_open: Callable[[Demo], None]):
        cards = []
        for demo in demos().values():
            button = pn.widgets.Button(label=f"Open {demo.title}", button_type="primary", width=250,
                                       css_classes=["wb-open-demo", f"wb-open-demo-{demo.name}"])
            button.on_click(lambda _e, d=demo: on_open(d))
            cards.append(pn.Card(
                _thumbnail(demo),
                pn.pane.Markdown(f"*{demo.paper}*", styles={"font-size": "11px"}, width=260),
                pn.pane.Markdown(demo.teaching, styles={"font-size": "12px"}, width=260),
                button, title=demo.title, collapsible=False, width=290,
                css_classes=["wb-demo-card", f"wb-demo-card-{demo.name}"]))
        self.panel = pn.Column(
            pn.pane.Markdown("### Gallery: signature demos\nEach demo opens a circuit from a paper; press "
                             "**Run** and watch its headline behaviour appear in the demo panel."),
            pn.FlexBox(*cards), sizing_mode="stretch_width", css_classes=["wb-gallery"], visible=False)


class DemoPanel:
    """Teaching text and the demo's live metric, beside the views while the demo is open."""

    def __init__(self, demo: Demo):
        self.demo = demo
        self.source = ColumnDataSource(dict(t=[]), name=f"wb-demo-live-{demo.name}")
        # one plot per metric: metrics in different units never share an axis
        self.figs = [_figure(metric if len(demo.metrics) > 1 else (demo.live_title or metric),
                             230 if len(demo.metrics) < 2 else 170, x_range=Range1d(0, 1))
                     for metric in demo.metrics] or [_figure(demo.live_title or "live", 230, x_range=Range1d(0, 1))]
        self.fig = self.figs[0]
        self.lines: dict[str, str] = {}  # label -> column, every line drawn up front
        for metric, fig in zip(demo.metrics, self.figs):
            fig.x_range = self.fig.x_range
            fig.xaxis.axis_label = "time (ms)"
            fig.yaxis.axis_label = metric
            for row in range(len(demo.rows)):
                label = self._label(metric, row)
                key = self.lines[label] = f"y{len(self.lines)}"
                self.source.data[key] = []
                fig.line("t", key, source=self.source, legend_label=label, line_width=2,
                         line_dash="solid" if row == 0 else "dashed",
                         color=Category10_10[demo.metrics.index(metric) % 10])
            fig.legend.location, fig.legend.label_text_font_size = "top_left", "9px"
            fig.legend.background_fill_alpha = 0.6
        self.plot = pn.Column(*[pn.pane.Bokeh(f, sizing_mode="stretch_width") for f in self.figs],
                              sizing_mode="stretch_width")
        self.readout = pn.pane.HTML("", css_classes=["wb-demo-readout"], styles={"font-family": "monospace",
                                                                                "font-size": "12px"})
        rows = "" if len(demo.rows) < 2 else "Rows compared: " + "; ".join(
            f"{i}: {r}" for i, r in enumerate(demo.rows)) + " (the raster shows row 0)."
        self.panel = pn.Card(
            pn.pane.Markdown(f"*{demo.paper}*\n\n{demo.teaching}\n\n{rows}", styles={"font-size": "12px"}),
            self.plot, self.readout, title=f"Demo: {demo.title}", collapsible=True,
            sizing_mode="stretch_width", css_classes=["wb-demo-panel"])

    def _label(self, metric: str, row: int) -> str:
        return metric if len(self.demo.rows) < 2 else f"{metric} [{self.demo.rows[row]}]"

    def _columns(self, values: dict[str, list[float]]) -> dict[str, float]:
        return {self._label(metric, row): float(v) for metric, per_row in values.items()
                for row, v in enumerate(per_row)}

    def update(self, frame: dict) -> None:
        """Stream the live metric the simulation process sampled (every few frames)."""
        if frame.get("reset"):
            self.source.data = {k: [] for k in self.source.data}
        got = frame.get("live")
        if got is None or self.demo.live is None:
            return
        t, per_metric = got
        values = self._columns(per_metric)
        row = {"t": [t]}
        for label, key in self.lines.items():
            row[key] = [values.get(label, np.nan)]
        self.source.stream(row, rollover=LIVE_POINTS)
        self.fig.x_range.update(start=0, end=max(t, 1.0))
        self.readout.object = "<br>".join(f"{label}: <b>{v:.3g}</b>" for label, v in values.items())
