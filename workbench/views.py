"""Live views generated from the probes a circuit's blocks declare, one builder per view kind.

Each frame, ``Dashboard.update`` reads only what the recorders gained since the last frame
(under the runner's lock) and streams it into Bokeh ColumnDataSources with rollover, so the
browser receives new points only and holds a bounded window. Large populations are drawn
downsampled (every k-th neuron, a capped number of points per frame); weight matrices are
binned to a bounded image. A new block type needs no code here: its probes' view kinds pick
the builders.
"""
from __future__ import annotations

import math
from collections import deque

import numpy as np
import panel as pn
from bokeh.models import ColorBar, ColumnDataSource, HoverTool, LinearColorMapper, PrintfTickFormatter, Range1d
from bokeh.palettes import Category10_10, Viridis256
from bokeh.plotting import figure

from simulations import SampleRecorder, Simulator, SpikeRecorder

WINDOW_MS = 1000.0  # simulated time visible in scrolling views
RASTER_ROWS = 600  # neurons drawn in the raster, all populations together
TRACE_LINES = 3  # neurons drawn per trace probe
TRACE_POINTS_PER_FRAME = 80
RATE_BIN_MS = 10.0
HEATMAP_CELLS = 160  # max cells per side of a drawn matrix
HEATMAP_EVERY = 8  # frames between heatmap redraws


TOOLS = "xpan,xwheel_zoom,box_zoom,reset,save"


def _figure(title: str, height: int, tooltips=None, **kw):
    """A plot with Bokeh's toolbar (pan, zoom, reset, save PNG) and hover values."""
    fig = figure(title=title, height=height, sizing_mode="stretch_width", tools=TOOLS, toolbar_location="right",
                 output_backend="canvas", **kw)
    fig.add_tools(HoverTool(tooltips=tooltips or [("x", "$x{0.0}"), ("y", "$y{0.000}")]))
    fig.toolbar.autohide = True
    fig.title.text_font_size = "11px"
    fig.xaxis.axis_label_text_font_size = fig.yaxis.axis_label_text_font_size = "10px"
    return fig


def _thin(n: int, limit: int) -> np.ndarray:
    """Indices of at most ``limit`` evenly spaced items out of n."""
    return np.arange(n) if n <= limit else np.linspace(0, n - 1, limit).astype(np.int64)


def _last_step(sim: Simulator) -> int:
    return sim.t - 1


class RasterView:
    """All raster probes in one scrolling raster, one colour and band per population."""

    kind = "raster"

    def __init__(self, sim: Simulator, paths: list[str]):
        self.paths, self.dt = paths, sim.dt
        widths = [int(sim.probe_value(p).shape[-1]) for p in paths]
        share = max(1, RASTER_ROWS // max(1, len(paths)))
        self.stride = {p: max(1, math.ceil(w / share)) for p, w in zip(paths, widths)}
        self.offset, top, ticks = {}, 0, {}
        for p, w in zip(paths, widths):
            self.offset[p] = top
            ticks[top + (w // self.stride[p]) / 2] = p.split(".")[0]
            top += math.ceil(w / self.stride[p])
        self.color = {p: Category10_10[i % 10] for i, p in enumerate(paths)}
        self.source = ColumnDataSource(dict(t=[], y=[], neuron=[], color=[]), name="wb-raster")
        self.x_range = Range1d(0, WINDOW_MS)
        self.window: deque[tuple[float, int]] = deque()  # (end time of a frame's points, count)
        fig = _figure("Spike raster" + ("" if all(s == 1 for s in self.stride.values()) else
                                        " (every k-th neuron of large populations, all its spikes)"),
                      240, tooltips=[("t", "@t{0.0} ms"), ("neuron", "@neuron")],
                      x_range=self.x_range, y_range=Range1d(-1, max(top, 1)))
        fig.scatter("t", "y", source=self.source, color="color", size=2, marker="square", line_alpha=0)
        fig.yaxis.ticker = sorted(ticks)
        fig.yaxis.major_label_overrides = {k: v for k, v in ticks.items()}
        fig.xaxis.axis_label = "time (ms)"
        self.panel = pn.pane.Bokeh(fig, sizing_mode="stretch_width")
        self.points = 0

    def update(self, frame: "Frame") -> None:
        """Stream every spike of the drawn neurons (thinning picks neurons, never spikes) and keep
        exactly the points of the visible window (rollover by time, not by count)."""
        ts, ys, ns, cs = [], [], [], []
        for p in self.paths:
            ev = frame.events.get(p)
            if ev is None or not len(ev):
                continue
            ev = ev[(ev[:, 1] == 0) & (ev[:, 2] % self.stride[p] == 0)]
            ts.append(ev[:, 0] * self.dt)
            ys.append(self.offset[p] + ev[:, 2] // self.stride[p])
            ns.append(ev[:, 2])
            cs.append(np.full(len(ev), self.color[p]))
        now = frame.t * self.dt
        start = max(0.0, now - WINDOW_MS)
        self.x_range.update(start=start, end=max(WINDOW_MS, now))
        if not ts:
            return
        t, y, n, c = np.concatenate(ts), np.concatenate(ys), np.concatenate(ns), np.concatenate(cs)
        self.window.append((float(t.max()), len(t)))
        while self.window and self.window[0][0] < start:
            self.window.popleft()
        # plain lists: BokehJS shrinks list columns when the rollover drops, typed arrays it does not
        self.source.stream(dict(t=t.tolist(), y=y.tolist(), neuron=n.tolist(), color=c.tolist()),
                           rollover=sum(k for _, k in self.window))
        self.points += len(t)


class RateView:
    """Population rates (Hz) of every raster probe, in fixed bins of simulated time."""

    kind = "rate"

    def __init__(self, sim: Simulator, paths: list[str]):
        self.paths, self.dt = paths, sim.dt
        self.bin_steps = max(1, int(round(RATE_BIN_MS / sim.dt)))
        self.width = {p: int(sim.probe_value(p).shape[-1]) for p in paths}
        self.next_bin = 0
        self.pending = {p: np.zeros((0,), dtype=np.int64) for p in paths}
        self.source = ColumnDataSource(dict(t=[], **{self._col(p): [] for p in paths}), name="wb-rates")
        self.x_range = Range1d(0, WINDOW_MS)
        fig = _figure("Population rates (Hz)", 170, x_range=self.x_range)
        for i, p in enumerate(paths):
            fig.line("t", self._col(p), source=self.source, color=Category10_10[i % 10], legend_label=p.split(".")[0])
        fig.legend.location, fig.legend.label_text_font_size = "top_left", "9px"
        fig.legend.background_fill_alpha = 0.5
        self.panel = pn.pane.Bokeh(fig, sizing_mode="stretch_width")

    @staticmethod
    def _col(path: str) -> str:
        return path.replace(".", "__")

    def update(self, frame: "Frame") -> None:
        done = (frame.t) // self.bin_steps  # bins [next_bin, done) are complete
        now = frame.t * self.dt
        self.x_range.update(start=max(0.0, now - WINDOW_MS), end=max(WINDOW_MS, now))
        if done <= self.next_bin:
            for p in self.paths:
                ev = frame.events.get(p)
                if ev is not None and len(ev):
                    self.pending[p] = np.concatenate([self.pending[p], ev[ev[:, 1] == 0, 0]])
            return
        data = {"t": (np.arange(self.next_bin, done) + 0.5) * self.bin_steps * self.dt}
        for p in self.paths:
            ev = frame.events.get(p)
            steps = self.pending[p]
            if ev is not None and len(ev):
                steps = np.concatenate([steps, ev[ev[:, 1] == 0, 0]])
            bins = steps // self.bin_steps
            inside = (bins >= self.next_bin) & (bins < done)
            counts = np.bincount(bins[inside] - self.next_bin, minlength=done - self.next_bin)
            data[self._col(p)] = counts / (self.width[p] * self.bin_steps * self.dt * 1e-3)
            self.pending[p] = steps[bins >= done]
        keep = _thin(len(data["t"]), 200)
        self.source.stream({k: v[keep] for k, v in data.items()}, rollover=int(WINDOW_MS / RATE_BIN_MS) * 2)
        self.next_bin = done


class TraceView:
    """A few neurons of one sampled probe (membrane potential, synaptic current...)."""

    kind = "trace"

    def __init__(self, sim: Simulator, path: str, doc: str):
        self.path, self.dt = path, sim.dt
        self.source = ColumnDataSource(dict(t=[], **{f"y{i}": [] for i in range(TRACE_LINES)}), name=f"wb-trace-{path}")
        self.x_range = Range1d(0, WINDOW_MS)
        fig = _figure(f"{path}: {doc}", 150, x_range=self.x_range)
        for i in range(TRACE_LINES):
            fig.line("t", f"y{i}", source=self.source, color=Category10_10[i], line_width=1)
        self.panel = pn.pane.Bokeh(fig, sizing_mode="stretch_width")

    def update(self, frame: "Frame") -> None:
        now = frame.t * self.dt
        self.x_range.update(start=max(0.0, now - WINDOW_MS), end=max(WINDOW_MS, now))
        got = frame.samples.get(self.path)
        if got is None or not len(got[0]):
            return
        steps, values = got
        values = values.reshape(len(steps), -1) if values.ndim <= 2 else values[:, 0].reshape(len(steps), -1)
        keep = _thin(len(steps), TRACE_POINTS_PER_FRAME)
        data = {"t": steps[keep] * self.dt}
        for i in range(TRACE_LINES):
            col = values[keep, i] if i < values.shape[1] else np.full(len(keep), np.nan)
            data[f"y{i}"] = np.nan_to_num(col.astype(np.float64), nan=np.nan, posinf=np.nan, neginf=np.nan)
        self.source.stream(data, rollover=TRACE_POINTS_PER_FRAME * 40)


class ScalarView(TraceView):
    """One value over time (a scalar probe): the trace view with one line per batch row."""

    kind = "scalar"


def _binned(matrix_pre, matrix_post, weights, n_pre, n_post):
    """Mean weight per (pre bin, post bin): a bounded image of any sized connectivity."""
    bp, bq = min(n_pre, HEATMAP_CELLS), min(n_post, HEATMAP_CELLS)
    i = matrix_pre * bp // max(n_pre, 1)
    j = matrix_post * bq // max(n_post, 1)
    flat = i * bq + j
    total = np.bincount(flat, weights=weights, minlength=bp * bq)
    count = np.bincount(flat, minlength=bp * bq)
    with np.errstate(invalid="ignore"):
        m = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return m.reshape(bp, bq)


def heatmap_matrix(sim: Simulator, path: str) -> np.ndarray:
    """What a heatmap probe shows now (batch row 0): a weight matrix (binned) where the block
    keeps sparse synapses, a matrix state (e.g. neurons x classes) as its rows and columns
    (binned), else a vector laid out as a near-square grid."""
    name = path.partition(".")[0]
    syn = sim.node(name).state.get("synapses")
    value = sim.probe_value(path)
    if syn is not None and getattr(syn, "w", None) is value:
        pre, post = syn.pre.cpu().numpy(), syn.post.cpu().numpy()
        w = syn.w[0].detach().cpu().numpy().astype(np.float64)
        return _binned(pre, post, w, syn.n_pre, syn.n_post)
    if value.dim() >= 3:
        m = value[0].detach().cpu().numpy().astype(np.float64)
        m = m.reshape(m.shape[0], -1)
        rows, cols = np.indices(m.shape)
        return _binned(rows.ravel(), cols.ravel(), m.ravel(), *m.shape)
    v = value[0].detach().cpu().numpy().astype(np.float64).ravel() if value.dim() > 1 else value.cpu().numpy().ravel()
    side = max(1, int(math.ceil(math.sqrt(len(v)))))
    if len(v) > HEATMAP_CELLS ** 2:
        v = v[_thin(len(v), HEATMAP_CELLS ** 2)]
        side = HEATMAP_CELLS
    padded = np.full(side * math.ceil(len(v) / side), np.nan)
    padded[: len(v)] = v
    return padded.reshape(-1, side)


def heatmap_extent(sim: Simulator, path: str) -> tuple[int, int]:
    """(rows, columns) the heatmap's axes span: neuron indices for a weight matrix."""
    syn = sim.node(path.split(".")[0]).state.get("synapses")
    value = sim.probe_value(path)
    if syn is not None and getattr(syn, "w", None) is value:
        return syn.n_pre, syn.n_post
    if value.dim() >= 3:
        return value.shape[1], value[0].numel() // value.shape[1]
    return heatmap_matrix(sim, path).shape


class HeatmapView:
    """A matrix redrawn a few times a second (e.g. a plastic projection's weights)."""

    kind = "heatmap"

    def __init__(self, sim: Simulator, path: str, doc: str):
        self.path, self.frames = path, 0
        m, (h, w) = heatmap_matrix(sim, path), heatmap_extent(sim, path)
        self.extent = (w, h)
        self.mapper = LinearColorMapper(palette=Viridis256, nan_color="#f4f4f4")
        self.source = ColumnDataSource(dict(image=[m], dw=[w], dh=[h]), name=f"wb-heatmap-{path}")
        fig = _figure(f"{path}: {doc}", 260, x_range=Range1d(0, w), y_range=Range1d(0, h))
        fig.image(image="image", x=0, y=0, dw="dw", dh="dh", source=self.source, color_mapper=self.mapper)
        if sim.node(path.split(".")[0]).state.get("synapses") is not None:
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

    def update(self, frame: "Frame") -> None:
        self.frames += 1
        if frame.sim is None or (self.frames % HEATMAP_EVERY and not frame.final):
            return
        m = frame.matrices.get(self.path)
        if m is None:
            return
        self._range(m)
        self.source.data = dict(image=[m], dw=[self.extent[0]], dh=[self.extent[1]])


class Frame:
    """What the recorders gained since the previous frame, read once under the runner's lock."""

    def __init__(self):
        self.t, self.events, self.samples, self.matrices, self.sim, self.final = 0, {}, {}, {}, None, False


class Dashboard:
    """The live views of one compiled simulator, built from its probes' view kinds."""

    def __init__(self, sim: Simulator, shown: list[str] | None = None):
        self.sim = sim
        paths = sim.probe_paths()
        self.shown = [p for p in (shown if shown is not None else default_shown(sim.circuit, paths)) if p in paths]
        self.last_step = -1
        self.views = []
        rasters = [p for p in self.shown if paths[p] == "raster"]
        if rasters:
            self.views += [RasterView(sim, rasters), RateView(sim, rasters)]
        for p in self.shown:
            name, _, probe = p.partition(".")
            doc = sim.node(name).block.probes[probe].doc
            if paths[p] in ("trace",):
                self.views.append(TraceView(sim, p, doc))
            elif paths[p] == "scalar":
                self.views.append(ScalarView(sim, p, doc))
            elif paths[p] in ("heatmap", "graph"):
                self.views.append(HeatmapView(sim, p, doc))
        self.wide = [v.panel for v in self.views if v.kind in ("raster", "rate")]
        self.side = [v.panel for v in self.views if v.kind == "heatmap"]
        self.small = [v.panel for v in self.views if v.kind in ("trace", "scalar")]

    def read(self, lock, final: bool = False) -> Frame:
        """Collect new recorder data since the last frame (call with the UI's periodic tick)."""
        frame = Frame()
        sim = self.sim
        with lock:
            frame.t, frame.sim, frame.final = sim.t, sim, final
            if sim.t - 1 < self.last_step:  # the simulator was reset
                self.last_step = -1
            for p in self.shown:
                rec = sim.recorders.get(p)
                if isinstance(rec, SpikeRecorder):
                    frame.events[p] = rec.events(self.last_step)
                elif isinstance(rec, SampleRecorder) and rec.view in ("trace", "scalar"):
                    frame.samples[p] = rec.samples(self.last_step)
            for v in self.views:
                if v.kind == "heatmap" and (final or (v.frames + 1) % HEATMAP_EVERY == 0):
                    frame.matrices[v.path] = heatmap_matrix(sim, v.path)
            self.last_step = sim.t - 1
        return frame

    def update(self, frame: Frame) -> None:
        for v in self.views:
            v.update(frame)

    @property
    def raster_points(self) -> int:
        return sum(v.points for v in self.views if v.kind == "raster")


def default_shown(circuit, paths: dict[str, str]) -> list[str]:
    """Probes shown until the user picks (``paths``: probe path -> view kind): every raster,
    scalar and graph; the heatmaps of blocks something learns on (a wired plasticity input),
    else the first heatmap; the traces of the first two blocks that also spike (membrane
    potentials), else the first two traces."""
    spiking = {p.split(".")[0] for p, k in paths.items() if k == "raster"}
    learning = {w.target for w in circuit.wires
                if w.target in circuit.graph and circuit.block(w.target).inputs[w.input].kind == "plasticity"}
    traces = [p for p, k in paths.items() if k == "trace"]
    heatmaps = [p for p, k in paths.items() if k == "heatmap"]
    chosen = ([p for p in traces if p.split(".")[0] in spiking][:2] or traces[:2]) + (
        [p for p in heatmaps if p.split(".")[0] in learning] or heatmaps[:1])
    return [p for p, k in paths.items() if k in ("raster", "scalar", "graph") or p in chosen]
