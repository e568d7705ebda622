"""Live views built from a compiled circuit's layout and fed with frames (see ``frames``).

The simulation process sends, per frame, only what the recorders gained since the previous one,
already thinned, binned and decimated; here it is streamed into Bokeh ColumnDataSources with
rollover, so the browser receives new points only and holds a bounded window. A raster of many
neurons arrives as an image (spikes per neuron bin and time bin, in Hz), replaced each frame.
A new block type needs no code here: its probes' view kinds pick the builders.
"""
from __future__ import annotations

from collections import deque

import numpy as np
import panel as pn
from bokeh.models import (BoxSelectTool, ColorBar, ColumnDataSource, CustomJS, HoverTool, LinearColorMapper, PrintfTickFormatter,
                          Range1d)
from bokeh.palettes import Category10_10, Greys256, Viridis256
from bokeh.plotting import figure

from .frames import TRACE_LINES, TRACE_POINTS_PER_FRAME, WINDOW_MS

RATE_ROLLOVER = 200
SECONDARY_EVERY = 2  # frames between redraws of rates and traces (the raster: every frame)


TOOLS = "xpan,xwheel_zoom,box_zoom,reset,save"


def _figure(title: str, height: int, tooltips=None, **kw):
    """A plot with Bokeh's toolbar (pan, zoom, reset, save PNG) and hover values."""
    fig = figure(title=title, height=height, sizing_mode="stretch_width", tools=TOOLS, toolbar_location="right",
                 output_backend="canvas", **kw)
    fig.add_tools(HoverTool(tooltips=tooltips or [("x", "$x{0.0}"), ("y", "$y{0.000}")]))
    fig.toolbar.autohide = True
    fig.grid.visible = False  # repainted 20 times a second: every visual costs the browser style lookups
    fig.title.text_font_size = "11px"
    fig.xaxis.axis_label_text_font_size = fig.yaxis.axis_label_text_font_size = "10px"
    return fig


def _scroll(x_range, now: float) -> None:
    x_range.update(start=max(0.0, now - WINDOW_MS), end=max(WINDOW_MS, now))


class RasterView:
    """All raster probes in one scrolling raster, one colour and band per population: markers,
    or for large populations an image of spikes per (neuron bin, time bin) in Hz."""

    kind = "raster"

    def __init__(self, layout: dict):
        raster, self.dt = layout["raster"], layout["dt"]
        self.paths, self.image = raster["paths"], raster["image"]
        self.colors = [Category10_10[i % 10] for i in range(len(self.paths))]
        self.x_range = Range1d(0, WINDOW_MS)
        self.window: deque[tuple[float, int]] = deque()  # (latest time of a frame's points, count)
        title = "Spike raster" + (" (rate per bin of neurons, Hz)" if self.image else
                                  " (every k-th neuron of large populations, all its spikes)" if raster["thinned"] else "")
        tooltips = None if self.image else [("t", "@t{0.0} ms"), ("neuron", "@neuron")]
        fig = _figure(title, 240, tooltips=tooltips, x_range=self.x_range,
                      y_range=Range1d(0 if self.image else -1, max(raster["rows"], 1)))
        if self.image:
            self.mapper = LinearColorMapper(palette=Greys256[::-1], low=0, high=50)
            self.source = ColumnDataSource(dict(image=[np.zeros((raster["rows"], 1), dtype=np.float32)], x=[0.0],
                                                dw=[WINDOW_MS], dh=[raster["rows"]]), name="wb-raster-image")
            fig.image(image="image", x="x", y=0, dw="dw", dh="dh", source=self.source, color_mapper=self.mapper)
            fig.add_layout(ColorBar(color_mapper=self.mapper, width=8, label_standoff=4), "right")
        else:
            self.source = ColumnDataSource(dict(t=[], y=[], neuron=[], color=[]), name="wb-raster")
            fig.scatter("t", "y", source=self.source, color="color", size=2, marker="square", line_alpha=0)
            fig.add_tools(BoxSelectTool(description="Brush neurons: show their traces"))
            # the browser names the brushed points' neurons (its indices refer to its own copy of
            # the streamed data, which the server's copy need not match point for point)
            self.brushed = ColumnDataSource(dict(neuron=[], color=[]), name="wb-raster-brushed")
            self.source.selected.js_on_change("indices", CustomJS(args=dict(s=self.source, b=self.brushed), code="""
                const i = s.selected.indices;
                if (i.length) b.data = {neuron: i.map((k) => s.data.neuron[k]), color: i.map((k) => s.data.color[k])};"""))
            self.brushed.on_change("data", lambda _a, _o, new: self._brushed(new))
        self.on_brush = None  # called with {raster probe: [neuron, ...]} when neurons are brushed
        ticks = {float(k): v for k, v in raster["ticks"].items()}
        fig.yaxis.ticker = sorted(ticks)
        fig.yaxis.major_label_overrides = ticks
        fig.xaxis.axis_label = "time (ms)"
        self.panel = pn.pane.Bokeh(fig, sizing_mode="stretch_width")
        self.points = 0

    def _brushed(self, data) -> None:
        """The neurons of the points in a box selection, per population (raster probe)."""
        if self.on_brush is None:
            return
        population = {c: p for p, c in reversed(list(zip(self.paths, self.colors)))}
        picked: dict[str, set[int]] = {}
        for neuron, color in zip(data.get("neuron", []), data.get("color", [])):
            if color in population:
                picked.setdefault(population[color], set()).add(int(neuron))
        if picked:
            self.on_brush({p: sorted(n) for p, n in picked.items()})

    def update(self, frame: dict) -> None:
        """An image frame replaces the picture; a points frame streams every spike of the drawn
        neurons and keeps exactly the points of the visible window (rollover by time, not count)."""
        now = frame["t"] * self.dt
        _scroll(self.x_range, now)
        if frame.get("reset") and not self.image:
            self.source.data = dict(t=[], y=[], neuron=[], color=[])
            self.window.clear()
        if self.image:
            got = frame.get("raster_image")
            if got is not None:
                img = got["image"]
                top = float(np.percentile(img[:, ::4], 99.5)) if img.size else 0.0  # a sample sets the scale
                self.mapper.high = max(10.0, round(top, -1))
                self.source.data = dict(image=[img], x=[got["x"]], dw=[got["dw"]], dh=[got["rows"]])
                self.points += int(img.shape[1])
            return
        got = frame.get("raster_points")
        if got is None or not len(got["t"]):
            return
        start = now - WINDOW_MS
        self.window.append((float(np.max(got["t"])), len(got["t"])))
        while self.window and self.window[0][0] < start:
            self.window.popleft()
        colors = np.array(self.colors)[got["population"]]
        # plain lists: BokehJS shrinks list columns when the rollover drops, typed arrays it does not
        self.source.stream(dict(t=np.asarray(got["t"]).tolist(), y=np.asarray(got["y"]).tolist(),
                                neuron=np.asarray(got["neuron"]).tolist(), color=colors.tolist()),
                           rollover=sum(k for _, k in self.window))
        self.points += len(got["t"])


class _Batched:
    """Streams what several frames brought in one go: the raster moves every frame, the rates
    and traces every ``SECONDARY_EVERY`` frames (more while the browser lags), so the browser
    repaints fewer plots per frame; no sample is dropped."""

    def _batch(self, frame: dict, data: dict | None) -> dict | None:
        """``data`` joined to what earlier frames left; returned when it is time to draw."""
        if data is not None and len(data["t"]):
            for k, v in data.items():
                self._pending.setdefault(k, []).append(np.asarray(v))
        self._frames += 1
        every = SECONDARY_EVERY if frame.get("detail", 1.0) >= 0.75 else 2 * SECONDARY_EVERY
        settled = frame.get("final") or not (frame.get("running", True) or frame.get("pending"))  # paused, stepped
        if not self._pending or (self._frames % every and not settled):
            return None
        out = {k: np.concatenate(v) for k, v in self._pending.items()}
        self._pending = {}
        return out


class RateView(_Batched):
    """Population rates (Hz) of every raster probe, in fixed bins of simulated time."""

    kind = "rate"

    def __init__(self, layout: dict):
        self.paths, self.dt = layout["raster"]["paths"], layout["dt"]
        self.source = ColumnDataSource(dict(t=[], **{self._col(p): [] for p in self.paths}), name="wb-rates")
        self.x_range = Range1d(0, WINDOW_MS)
        fig = _figure("Population rates (Hz)", 170, x_range=self.x_range)
        for i, p in enumerate(self.paths):
            fig.line("t", self._col(p), source=self.source, color=Category10_10[i % 10], legend_label=p.split(".")[0])
        fig.legend.location, fig.legend.label_text_font_size = "top_left", "9px"
        fig.legend.background_fill_alpha = 0.5
        self.panel = pn.pane.Bokeh(fig, sizing_mode="stretch_width")
        self._pending, self._frames = {}, 0

    @staticmethod
    def _col(path: str) -> str:
        return path.replace(".", "__")

    def update(self, frame: dict) -> None:
        if frame.get("reset"):
            self.source.data = {k: [] for k in self.source.data}
            self._pending = {}
            _scroll(self.x_range, frame["t"] * self.dt)
        got = self._batch(frame, frame.get("rates"))
        if got is None:
            return
        _scroll(self.x_range, frame["t"] * self.dt)
        self.source.stream({"t": got["t"], **{self._col(p): got[p] for p in self.paths}}, rollover=RATE_ROLLOVER)


class TraceView(_Batched):
    """A few neurons of one sampled probe (membrane potential, synaptic current...)."""

    kind = "trace"

    def __init__(self, layout: dict, path: str):
        self.path, self.dt = path, layout["dt"]
        self.picks = layout.get("picks", {}).get(path)  # neurons brushed in the raster, else the first few
        self.lines = len(self.picks) if self.picks else TRACE_LINES
        self.source = ColumnDataSource(dict(t=[], **{f"y{i}": [] for i in range(self.lines)}), name=f"wb-trace-{path}")
        self.x_range = Range1d(0, WINDOW_MS)
        title = f"{path}: {layout['docs'][path]}" + (" (brushed neurons)" if self.picks else "")
        fig = _figure(title, 150, x_range=self.x_range)
        for i in range(self.lines):
            label = {"legend_label": f"neuron {self.picks[i]}"} if self.picks else {}
            fig.line("t", f"y{i}", source=self.source, color=Category10_10[i % 10], line_width=1, **label)
        if self.picks:
            fig.legend.location, fig.legend.label_text_font_size = "top_left", "9px"
            fig.legend.background_fill_alpha, fig.legend.orientation = 0.5, "horizontal"
        self.panel = pn.pane.Bokeh(fig, sizing_mode="stretch_width")
        self._pending, self._frames = {}, 0

    def update(self, frame: dict) -> None:
        if frame.get("reset"):
            self.source.data = {k: [] for k in self.source.data}
            self._pending = {}
            _scroll(self.x_range, frame["t"] * self.dt)
        got = frame.get("traces", {}).get(self.path)
        data = None
        if got is not None:
            t, ys = got
            data = {"t": t}
            for i in range(self.lines):
                data[f"y{i}"] = ys[:, i] if i < ys.shape[1] else np.full(len(t), np.nan)
        data = self._batch(frame, data)
        if data is None:
            return
        _scroll(self.x_range, frame["t"] * self.dt)
        self.source.stream(data, rollover=TRACE_POINTS_PER_FRAME * 40)


class ScalarView(TraceView):
    """One value over time (a scalar probe): the trace view with one line per batch row."""

    kind = "scalar"


class HeatmapView:
    """A matrix redrawn a few times a second (e.g. a plastic projection's weights)."""

    kind = "heatmap"

    def __init__(self, layout: dict, path: str):
        self.path = path
        info = layout["heatmaps"][path]
        m, (w, h) = info["matrix"], info["extent"]
        self.extent = (w, h)
        self.mapper = LinearColorMapper(palette=Viridis256, nan_color="#f4f4f4")
        self.source = ColumnDataSource(dict(image=[m], dw=[w], dh=[h]), name=f"wb-heatmap-{path}")
        fig = _figure(f"{path}: {layout['docs'][path]}", 260, x_range=Range1d(0, w), y_range=Range1d(0, h))
        fig.image(image="image", x=0, y=0, dw="dw", dh="dh", source=self.source, color_mapper=self.mapper)
        if info["synapses"]:
            fig.xaxis.axis_label, fig.yaxis.axis_label = "postsynaptic neuron", "presynaptic neuron"
        fig.add_layout(ColorBar(color_mapper=self.mapper, width=8, label_standoff=4,
                                formatter=PrintfTickFormatter(format="%.3g")), "right")
        self._range(m)
        self.panel = pn.pane.Bokeh(fig, sizing_mode="stretch_width")

    def _range(self, m):
        finite = m[np.isfinite(m)]
        if len(finite):
            lo, hi = float(finite.min()), float(finite.max())
            if hi - lo <= 1e-6 * max(1.0, abs(lo)):  # uniform: a readable band around the value
                pad = max(abs(lo) * 0.05, 1e-3)
                lo, hi = lo - pad, hi + pad
            self.mapper.update(low=lo, high=hi)

    def update(self, frame: dict) -> None:
        m = frame.get("heatmaps", {}).get(self.path)
        if m is None:
            return
        self._range(m)
        self.source.data = dict(image=[m], dw=[self.extent[0]], dh=[self.extent[1]])


class Dashboard:
    """The live views of one compiled simulator, built from its layout (``frames``)."""

    def __init__(self, layout: dict):
        self.layout, self.generation = layout, layout.get("generation", 0)
        self.shown = layout["shown"]
        self.views = []
        if layout["raster"]:
            self.views += [RasterView(layout), RateView(layout)]
        for p in self.shown:
            kind = layout["probes"][p]
            if kind == "trace" and p in layout["traces"]:
                self.views.append(TraceView(layout, p))
            elif kind == "scalar" and p in layout["traces"]:
                self.views.append(ScalarView(layout, p))
            elif kind in ("heatmap", "graph"):
                self.views.append(HeatmapView(layout, p))
        self.wide = [v.panel for v in self.views if v.kind in ("raster", "rate")]
        self.side = [v.panel for v in self.views if v.kind == "heatmap"]
        self.small = [v.panel for v in self.views if v.kind in ("trace", "scalar")]

    def update(self, frame: dict) -> None:
        for v in self.views:
            v.update(frame)

    @property
    def raster_points(self) -> int:
        """Markers (or image columns) drawn so far."""
        return sum(v.points for v in self.views if v.kind == "raster")
