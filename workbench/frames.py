"""What the live views show, computed in the simulation's own process, next to the simulator.

The server never holds a Simulator. After a compile it receives a *layout* (which views to
build: probe kinds and sizes, raster bands, heatmap extents, the sampled connectome), then per
frame a dict of small arrays holding what the recorders gained since the previous frame:
thinned raster points, or for large populations a binned raster image (neuron bins x time
bins, in Hz), binned population rates, decimated traces, heatmap matrices, connectome activity
and the demo's live metric. ``detail`` (0.25..1) scales what a frame carries when the browser
falls behind. No Panel or Bokeh here: this module is imported by the simulation process.
"""
from __future__ import annotations

import math
import time
import weakref

import networkx as nx
import numpy as np

from simulations import SampleRecorder, Simulator, SpikeRecorder

WINDOW_MS = 1000.0  # simulated time visible in scrolling views
RASTER_ROWS = 600  # neurons drawn as markers, all populations together
IMAGE_FROM = 10_000  # neurons in the rasters from which the raster is sent as an image
IMAGE_ROWS = 200  # neuron bins of the raster image
IMAGE_COLUMNS = 500  # time bins of the raster image at full detail (2 ms at a 1 s window)
LIVE_SPIKE_CAPACITY = 300_000  # events kept per large live raster (frames read them incrementally)
TRACE_LINES = 3  # neurons drawn per trace probe
MAX_PICKS = 10  # neurons brushed in the raster whose traces are drawn
TRACE_POINTS_PER_FRAME = 80
RATE_BIN_MS = 10.0
RATE_POINTS_PER_FRAME = 100  # = the visible window's bins
HEATMAP_CELLS = 160  # max cells per side of a drawn matrix
HEATMAP_EVERY = 8  # frames between heatmap redraws
LIVE_EVERY = 4  # frames between samples of a demo's live metric
PER_POPULATION = 60  # connectome: neurons sampled per population


def thin(n: int, limit: int) -> np.ndarray:
    """Indices of at most ``limit`` evenly spaced items out of n."""
    return np.arange(n) if n <= limit else np.linspace(0, n - 1, max(limit, 1)).astype(np.int64)


# -- matrices ------------------------------------------------------------------------------------
def _cells(matrix_pre, matrix_post, n_pre, n_post):
    """Cell of each entry in the bounded image and how many entries each cell holds."""
    bp, bq = min(n_pre, HEATMAP_CELLS), min(n_post, HEATMAP_CELLS)
    flat = (matrix_pre * bp // max(n_pre, 1)) * bq + matrix_post * bq // max(n_post, 1)
    return flat, np.bincount(flat, minlength=bp * bq), (bp, bq)


def _binned(matrix_pre, matrix_post, weights, n_pre, n_post, cells=None):
    """Mean weight per (pre bin, post bin): a bounded image of any sized connectivity."""
    flat, count, shape = cells or _cells(matrix_pre, matrix_post, n_pre, n_post)
    total = np.bincount(flat, weights=weights, minlength=count.size)
    with np.errstate(invalid="ignore"):
        m = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return m.reshape(shape)


_CELLS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # synapses -> their cells


def _synapse_cells(syn):
    """The cells of a projection's synapses, kept while it lives and its index tensors stay the
    same: a redraw only sums the weights."""
    kept = _CELLS.get(syn)
    if kept is None or kept[0] is not syn.pre or kept[1] is not syn.post:
        kept = _CELLS[syn] = (syn.pre, syn.post, _cells(syn.pre.cpu().numpy(), syn.post.cpu().numpy(),
                                                        syn.n_pre, syn.n_post))
    return kept[2]


def _synapses_of(sim: Simulator, path: str):
    syn = sim.node(path.partition(".")[0]).state.get("synapses")
    return syn if syn is not None and getattr(syn, "w", None) is sim.probe_value(path) else None


def heatmap_matrix(sim: Simulator, path: str) -> np.ndarray:
    """What a heatmap probe shows now (batch row 0): a weight matrix (binned) where the block
    keeps sparse synapses, a matrix state (e.g. neurons x classes) as its rows and columns
    (binned), else a vector laid out as a near-square grid."""
    value = sim.probe_value(path)
    syn = _synapses_of(sim, path)
    if syn is not None:
        w = syn.w[0].detach().cpu().numpy()
        return _binned(None, None, w, syn.n_pre, syn.n_post, cells=_synapse_cells(syn))
    if value.dim() >= 3:
        m = value[0].detach().cpu().numpy().astype(np.float64)
        m = m.reshape(m.shape[0], -1)
        rows, cols = np.indices(m.shape)
        return _binned(rows.ravel(), cols.ravel(), m.ravel(), *m.shape)
    v = value[0].detach().cpu().numpy().astype(np.float64).ravel() if value.dim() > 1 else value.cpu().numpy().ravel()
    side = max(1, int(math.ceil(math.sqrt(len(v)))))
    if len(v) > HEATMAP_CELLS ** 2:
        v = v[thin(len(v), HEATMAP_CELLS ** 2)]
        side = HEATMAP_CELLS
    padded = np.full(side * math.ceil(len(v) / side), np.nan)
    padded[: len(v)] = v
    return padded.reshape(-1, side)


def heatmap_extent(sim: Simulator, path: str) -> tuple[int, int]:
    """(rows, columns) the heatmap's axes span: neuron indices for a weight matrix."""
    syn = _synapses_of(sim, path)
    if syn is not None:
        return syn.n_pre, syn.n_post
    value = sim.probe_value(path)
    if value.dim() >= 3:
        return value.shape[1], value[0].numel() // value.shape[1]
    return heatmap_matrix(sim, path).shape


# -- the connectome sample -------------------------------------------------------------------------
def spiking_populations(sim: Simulator) -> dict[str, str]:
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
        found += [(name, a, b) for a in pre for b in post if a in populations and b in populations]
    return found


def neuron_graph(sim: Simulator) -> tuple[nx.DiGraph, dict]:
    """Neurons of each spiking population (at most ``PER_POPULATION``), joined by their synapses,
    laid out by a spring layout around their block's position on the canvas."""
    pops = spiking_populations(sim)
    sampled = {b: thin(int(sim.probe_value(p).shape[-1]), PER_POPULATION) for b, p in pops.items()}
    g = nx.DiGraph()
    for b, idx in sampled.items():
        g.add_nodes_from(((b, int(i)) for i in idx), population=b)
    for name, a, b in _projections(sim, pops):
        syn = sim.node(name).state["synapses"]
        pre, post = syn.pre.cpu().numpy(), syn.post.cpu().numpy()
        w = syn.w[0].detach().cpu().numpy()
        chosen_pre, chosen_post = np.zeros(syn.n_pre, dtype=bool), np.zeros(syn.n_post, dtype=bool)
        chosen_pre[sampled[a]], chosen_post[sampled[b]] = True, True
        keep = chosen_pre[pre] & chosen_post[post]  # a lookup, not np.isin: fast for 10^7 synapses
        for i, j, wt in zip(pre[keep], post[keep], w[keep]):
            g.add_edge((a, int(i)), (b, int(j)), weight=float(wt), block=name)
    pos = {}
    for b in sampled:
        x, y = sim.circuit.graph.nodes[b].get("position") or (0.0, 0.0)
        sub = g.subgraph([n for n in g if n[0] == b]).to_undirected()
        pos.update(nx.spring_layout(sub, seed=1, scale=90.0, center=(float(x), -float(y)), iterations=40))
    return g, pos


def connectome_layout(sim: Simulator) -> dict:
    g, pos = neuron_graph(sim)
    nodes = list(g.nodes)
    e = list(g.edges(data=True))
    labels = []
    for b in spiking_populations(sim):
        x, y = sim.circuit.graph.nodes[b].get("position") or (0.0, 0.0)
        labels.append((float(x), -float(y) + 105, b))
    return dict(nodes=[(b, int(i)) for b, i in nodes], x=[float(pos[n][0]) for n in nodes],
                y=[float(pos[n][1]) for n in nodes],
                edges=dict(x0=[float(pos[a][0]) for a, _, _ in e], y0=[float(pos[a][1]) for a, _, _ in e],
                           x1=[float(pos[b][0]) for _, b, _ in e], y1=[float(pos[b][1]) for _, b, _ in e],
                           color=["#3b6fb6" if d["weight"] >= 0 else "#c0392b" for _, _, d in e]),
                labels=labels)


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


# -- frames ----------------------------------------------------------------------------------------
class FrameBuilder:
    """Turns one simulator's recorders into layouts and frames (lives in the simulation process)."""

    def __init__(self, sim: Simulator, shown: list[str] | None = None, live=None, picks=None):
        self.sim, self.live = sim, live  # live: a demo's metric function, or None
        paths = sim.probe_paths()
        self.shown = [p for p in (shown if shown is not None else default_shown(sim.circuit, paths)) if p in paths]
        self.picks = self._picked(picks or {}, paths)
        for p in self.shown:
            picked = getattr(sim.recorders.get(p), "picked", None)
            if p in self.picks and picked != self.picks[p]:  # brushed neurons: record exactly those
                sim.record(p, SampleRecorder("trace", neurons=self.picks[p]))
                sim.recorders[p].picked = self.picks[p]
            elif p not in sim.recorders or (p not in self.picks and picked is not None):
                sim.record(p)
        self.rasters = [p for p in self.shown if paths[p] == "raster"]
        self.widths = {p: int(sim.probe_value(p).shape[-1]) for p in self.rasters}
        self.image = sum(self.widths.values()) >= IMAGE_FROM
        for p in self.rasters:  # a large live raster keeps a short history: frames read it incrementally
            if self.image and isinstance(sim.recorders[p], SpikeRecorder):
                sim.record(p, SpikeRecorder(capacity=LIVE_SPIKE_CAPACITY))
        for p in self.shown:  # frames read the recorders as they go: a rolling buffer is what live views want
            if p in sim.recorders:
                sim.recorders[p].warned = True
        self.traces = [p for p in self.shown if paths[p] in ("trace", "scalar")
                       and isinstance(sim.recorders.get(p), SampleRecorder)]
        self.heatmaps = [p for p in self.shown if paths[p] in ("heatmap", "graph")]
        self.bin_steps = max(1, int(round(RATE_BIN_MS / sim.dt)))
        self._raster_rows()
        self.connectome = connectome_layout(sim) if self.rasters else None
        if self.connectome is not None:
            self.node_slot = {}  # raster path -> connectome node of each neuron (-1: not sampled)
            by_block = {p.split(".")[0]: p for p in self.rasters}
            for k, (b, i) in enumerate(self.connectome["nodes"]):
                if b in by_block:
                    p = by_block[b]
                    slots = self.node_slot.setdefault(p, np.full(self.widths[p], -1, dtype=np.int64))
                    slots[i] = k
        self.columns = IMAGE_COLUMNS  # time bins counted (at full resolution)
        self.restart()

    def _picked(self, picks: dict, paths: dict) -> dict[str, list[int]]:
        """The brushed neurons per shown trace probe (valid indices only, at most ``MAX_PICKS``)."""
        out = {}
        for p, ids in picks.items():
            if p in self.shown and paths[p] == "trace":
                width = int(self.sim.probe_value(p).shape[-1])
                ids = sorted({int(i) for i in ids if 0 <= int(i) < width})[:MAX_PICKS]
                if ids:
                    out[p] = ids
        return out

    def _raster_rows(self) -> None:
        """Bands of the raster, one per population: a row per k-th neuron (markers) or a row per
        bin of neurons (image)."""
        self.offset, self.stride, self.ticks, top = {}, {}, {}, 0
        total = max(1, sum(self.widths.values()))
        for p, w in self.widths.items():
            if self.image:
                rows = max(4, round(IMAGE_ROWS * w / total))
                self.stride[p] = rows  # image: rows of this population
            else:
                share = max(1, RASTER_ROWS // max(1, len(self.widths)))
                self.stride[p] = max(1, math.ceil(w / share))
                rows = math.ceil(w / self.stride[p])
            self.offset[p] = top
            self.ticks[top + rows / 2] = p.split(".")[0]
            top += rows
        self.rows = top
        if self.image:
            self.row_of = {p: self.offset[p] + np.arange(w, dtype=np.int64) * self.stride[p] // max(w, 1)
                           for p, w in self.widths.items()}
            per_row = np.zeros(self.rows)
            for r in self.row_of.values():
                per_row += np.bincount(r, minlength=self.rows)
            self.neurons_per_row = np.maximum(per_row, 1)

    def layout(self) -> dict:
        sim, paths = self.sim, self.sim.probe_paths()
        docs = {p: sim.node(p.partition(".")[0]).block.probes[p.partition(".")[2]].doc for p in self.shown}
        heatmaps = {}
        for p in self.heatmaps:
            h, w = heatmap_extent(sim, p)
            heatmaps[p] = dict(extent=(int(w), int(h)), matrix=heatmap_matrix(sim, p),
                               synapses=sim.node(p.partition(".")[0]).state.get("synapses") is not None)
        raster = None
        if self.rasters:
            raster = dict(paths=self.rasters, image=self.image, rows=self.rows, ticks=self.ticks,
                          thinned=self.image or any(s != 1 for s in self.stride.values()))
        return dict(dt=sim.dt, t=sim.t, probes=paths, shown=self.shown, docs=docs, raster=raster,
                    traces=self.traces, picks=self.picks, heatmaps=heatmaps, connectome=self.connectome,
                    live={name: list(node.live) for name, node in sim.nodes.items()})

    def restart(self) -> None:
        """Start reading from the simulator's current step (after a compile or a reset)."""
        t = self.sim.t
        self.read_step = t - 1
        self.frames = 0
        self.rate_next = t // self.bin_steps
        self.pending = {p: np.zeros(0, dtype=np.int64) for p in self.rasters}
        self.image_data = np.zeros((self.rows, self.columns), dtype=np.float32)
        self.image_top = -1  # newest image time bin touched
        self.was_reset = True  # the next frame tells the views to start again
        self.sampled_t = None  # step at which heatmaps / the live metric were last sent
        self.heatmap_sent = {}  # probe -> the matrix the views show

    def frame(self, detail: float = 1.0, final: bool = False) -> dict:
        """What the recorders gained since the previous frame, ready to draw."""
        sim = self.sim
        if sim.t - 1 < self.read_step:
            self.restart()
        out = dict(t=sim.t, reset=self.was_reset, final=final, stamp=time.time(), detail=detail)
        self.was_reset = False
        since, self.read_step = self.read_step, sim.t - 1
        self.frames += 1
        events = {}
        for p in self.rasters:
            ev = sim.recorders[p].events(since)
            events[p] = ev[ev[:, 1] == 0]
        if self.rasters:
            if self.image:
                out["raster_image"] = self._image(events, detail)
            else:
                out["raster_points"] = self._points(events, detail)
            out["rates"] = self._rates(events)
            out["activity"] = self._activity(events)
        traces = {}
        for p in self.traces:
            steps, values = sim.recorders[p].samples(since)
            if len(steps):
                values = values.reshape(len(steps), -1) if values.ndim <= 2 else values[:, 0].reshape(len(steps), -1)
                keep = thin(len(steps), max(8, int(TRACE_POINTS_PER_FRAME * detail)))
                ys = values[keep, :len(self.picks.get(p, ())) or TRACE_LINES].astype(np.float64)
                traces[p] = (steps[keep] * sim.dt, np.where(np.isfinite(ys), ys, np.nan))
        out["traces"] = traces
        moved = sim.t != self.sampled_t  # heatmaps and the live metric: only when the simulator moved
        if moved and self.heatmaps and (final or self.frames % HEATMAP_EVERY == 0):
            changed = {}
            for p in self.heatmaps:  # an unchanged matrix (weights nothing learns on) is not sent again
                m = heatmap_matrix(sim, p)
                if not np.array_equal(m, self.heatmap_sent.get(p), equal_nan=True):
                    changed[p] = self.heatmap_sent[p] = m
            out["heatmaps"] = changed
            self.sampled_t = sim.t
        if moved and self.live is not None and (final or self.frames % LIVE_EVERY == 0):
            out["live"] = (sim.time, self.live(sim))
            self.sampled_t = sim.t
        return out

    def _points(self, events, detail) -> dict:
        """Every spike of the drawn neurons (thinning picks every k-th neuron, never spikes; the
        same neurons at every detail level, so the visible window stays exact)."""
        ts, ys, cs, ns = [], [], [], []
        for k, p in enumerate(self.rasters):
            ev = events[p]
            ev = ev[ev[:, 2] % self.stride[p] == 0]
            ts.append(ev[:, 0] * self.sim.dt)
            ys.append(self.offset[p] + ev[:, 2] // self.stride[p])
            cs.append(np.full(len(ev), k, dtype=np.int8))
            ns.append(ev[:, 2])
        t, y, c, n = np.concatenate(ts), np.concatenate(ys), np.concatenate(cs), np.concatenate(ns)
        return dict(t=t, y=y, population=c, neuron=n)

    def _image(self, events, detail) -> dict:
        """The raster window as an image: spikes per (neuron bin, time bin), in Hz. Counted at
        full resolution; lower detail sends 2 or 4 time bins merged (aligned, so it stays steady)."""
        columns = self.columns
        per_bin = WINDOW_MS / self.sim.dt / columns  # steps per time bin
        top = int((self.sim.t - 1) // per_bin) if self.sim.t else -1
        if top > self.image_top:  # clear the columns that new time bins reuse
            fresh = range(max(self.image_top + 1, top - columns + 1), top + 1)
            self.image_data[:, [b % columns for b in fresh]] = 0
            self.image_top = top
        for p in self.rasters:
            ev = events[p]
            bins = (ev[:, 0] // per_bin).astype(np.int64)
            inside = bins > top - columns
            flat = self.row_of[p][ev[inside, 2]] * columns + bins[inside] % columns
            self.image_data += np.bincount(flat, minlength=self.rows * columns).reshape(
                self.rows, columns).astype(np.float32)
        first = top + 1 - columns  # time bin of the oldest column
        counts = self.image_data[:, (np.arange(columns) + first) % columns]
        merge = 1 if detail >= 0.75 else 2 if detail >= 0.4 else 4
        if merge > 1:
            skip = (-first) % merge  # start at a multiple of ``merge``: merged bins never shift
            counts = counts[:, skip:]
            first += skip
            pad = (-counts.shape[1]) % merge
            counts = np.pad(counts, ((0, 0), (0, pad))).reshape(self.rows, -1, merge).sum(-1)
        seconds = per_bin * merge * self.sim.dt * 1e-3
        hz = counts / (self.neurons_per_row[:, None] * seconds)
        return dict(image=hz.astype(np.float32), x=first * per_bin * self.sim.dt,
                    dw=counts.shape[1] * per_bin * merge * self.sim.dt, rows=self.rows)

    def _rates(self, events) -> dict:
        done = self.sim.t // self.bin_steps  # bins [rate_next, done) are complete
        out = {"t": (np.arange(self.rate_next, done) + 0.5) * self.bin_steps * self.sim.dt}
        for p in self.rasters:
            steps = np.concatenate([self.pending[p], events[p][:, 0]])
            bins = steps // self.bin_steps
            inside = (bins >= self.rate_next) & (bins < done)
            counts = np.bincount(bins[inside] - self.rate_next, minlength=max(0, done - self.rate_next))
            out[p] = counts / (self.widths[p] * self.bin_steps * self.sim.dt * 1e-3)
            self.pending[p] = steps[bins >= done]
        self.rate_next = max(self.rate_next, done)
        keep = thin(len(out["t"]), RATE_POINTS_PER_FRAME)  # a long frame (the browser lagged): decimated
        return {k: v[keep] for k, v in out.items()}

    def _activity(self, events) -> np.ndarray:
        """Spikes per sampled connectome neuron since the previous frame."""
        counts = np.zeros(len(self.connectome["nodes"]))
        for p in self.rasters:
            slots = self.node_slot.get(p)
            if slots is not None:
                hit = slots[events[p][:, 2]]  # a lookup per spike: no search, no Python loop
                counts += np.bincount(hit[hit >= 0], minlength=len(counts))
        return counts
