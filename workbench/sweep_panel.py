"""Sweep a parameter of the selected block from the browser: "Sweep..." -> range and metric;
the curve (one parameter) or heatmap (two) fills in as the Dask tasks finish; clicking a point
puts that variant's values on the block in the canvas.

The sweep runs in a background thread (simulations.sweeps on the machine's LocalCluster, or
the scheduler named by ``WORKBENCH_SCHEDULER``); a periodic callback moves finished points into
the plot under the document lock, so the thread never touches a Bokeh model.
"""
from __future__ import annotations

import html
import os
import threading
from typing import Callable

import numpy as np
import panel as pn
import param
from bokeh.models import ColorBar, ColumnDataSource, LinearColorMapper, TapTool
from bokeh.palettes import Viridis256
from bokeh.plotting import figure

from components import Block
from simulations import Circuit, CircuitError
from simulations.sweeps import grid, local_client, metric_choices, sweep

NONE = "(none)"
POLL_MS = 250


class _Stopped(Exception):
    """Raised from the result callback when the user presses Stop."""


def default_range(p: param.Number, value: float) -> tuple[float, float]:
    """Half to one and a half times the current value, inside the declared bounds."""
    lo, hi = (0.5 * value, 1.5 * value) if value else (0.0, 1.0)
    lo, hi = min(lo, hi), max(lo, hi)
    low, high = p.bounds or (None, None)
    return float(lo if low is None else max(lo, low)), float(hi if high is None else min(hi, high))


class SweepPanel:
    """The sweep section under the inspector. ``on_pick(block, {param: value})`` loads a
    variant onto the canvas; ``notify(text, level)`` reports."""

    def __init__(self, get_circuit: Callable[[], Circuit], on_pick: Callable[[str, dict], None],
                 notify: Callable[[str, str], None], dt: float = 0.1):
        self.get_circuit, self.on_pick, self.notify, self.dt = get_circuit, on_pick, notify, dt
        self.block_name: str | None = None
        self.open_button = pn.widgets.Button(label="Sweep...", button_type="primary", button_style="outline",
                                             width=120, css_classes=["wb-sweep-open"])
        self.open_button.on_click(lambda _e: self._toggle())
        w = dict(sizing_mode="stretch_width", margin=(2, 5))
        self.param_x = pn.widgets.Select(name="Parameter", css_classes=["wb-sweep-param"], **w)
        self.lo = pn.widgets.FloatInput(name="from", css_classes=["wb-sweep-from"], width=90, margin=(2, 5))
        self.hi = pn.widgets.FloatInput(name="to", css_classes=["wb-sweep-to"], width=90, margin=(2, 5))
        self.points = pn.widgets.IntInput(name="points", value=8, start=1, end=64, css_classes=["wb-sweep-points"],
                                          width=70, margin=(2, 5))
        self.param_y = pn.widgets.Select(name="Second parameter (heatmap)", css_classes=["wb-sweep-param2"], **w)
        self.metric = pn.widgets.Select(name="Metric", css_classes=["wb-sweep-metric"], **w)
        self.seeds = pn.widgets.IntInput(name="seeds", value=1, start=1, end=20, width=70, margin=(2, 5),
                                         css_classes=["wb-sweep-seeds"])
        self.duration = pn.widgets.FloatInput(name="ms each", value=300.0, start=1.0, width=90, margin=(2, 5),
                                              css_classes=["wb-sweep-duration"])
        self.start_button = pn.widgets.Button(label="Start sweep", button_type="success", width=110,
                                              css_classes=["wb-sweep-start"])
        self.stop_button = pn.widgets.Button(label="Stop sweep", width=100, disabled=True,
                                             css_classes=["wb-sweep-stop"])
        self.start_button.on_click(lambda _e: self.start())
        self.stop_button.on_click(lambda _e: self.stop())
        self.param_x.param.watch(lambda _e: self._fill_range(), "value")
        self.status = pn.pane.HTML("", css_classes=["wb-sweep-status"], margin=(2, 5))
        self.plot = pn.Column(sizing_mode="stretch_width", margin=0)
        self.form = pn.Column(self.param_x, pn.Row(self.lo, self.hi, self.points), self.param_y, self.metric,
                              pn.Row(self.seeds, self.duration), pn.Row(self.start_button, self.stop_button),
                              self.status, self.plot, visible=False, sizing_mode="stretch_width", margin=0)
        self.panel = pn.Column(self.open_button, self.form, visible=False, sizing_mode="stretch_width",
                               css_classes=["wb-sweep"])
        self._lock = threading.Lock()
        self._pending: list[tuple[list[int], int, np.ndarray]] = []
        self._thread: threading.Thread | None = None
        self._callback = None
        self._stop = False
        self._outcome: str | None = None

    def _toggle(self) -> None:
        self.form.visible = not self.form.visible
        if self.form.visible and not os.environ.get("WORKBENCH_SCHEDULER"):
            threading.Thread(target=local_client, daemon=True).start()  # workers start while the user picks

    # -- choosing --------------------------------------------------------------------------------
    def show(self, name: str | None, block: Block | None) -> None:
        """Follow the inspector's selection: the numeric parameters of ``block``."""
        numeric = [] if block is None else [p for p in block.user_params() if isinstance(block.param[p], param.Number)]
        self.panel.visible = bool(numeric)
        if not numeric:
            return
        self.block_name = name
        live = block.live_params()
        numeric.sort(key=lambda p: p not in live)  # live ones first: they share one compile
        self.param_x.options = numeric
        self.param_x.value = numeric[0]
        self.param_y.options = [NONE] + numeric
        self.param_y.value = NONE
        try:
            choices = [m.name for m in metric_choices(self.get_circuit())]
        except CircuitError:
            choices = []
        self.metric.options = choices
        self._fill_range()

    def _fill_range(self) -> None:
        if self.block_name is None or not self.param_x.value:
            return
        block = self.get_circuit().block(self.block_name)
        self.lo.value, self.hi.value = default_range(block.param[self.param_x.value], float(getattr(block, self.param_x.value)))

    # -- running ---------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        if not self.metric.value:
            self._say("This circuit has nothing to measure: it needs a spiking population or a Readout.", "danger")
            return
        block = self.get_circuit().block(self.block_name)
        axes = {f"{self.block_name}.{self.param_x.value}": self._axis(block, self.param_x.value, self.lo.value, self.hi.value)}
        second = self.param_y.value not in (NONE, self.param_x.value)
        if second:
            y = self.param_y.value
            lo, hi = default_range(block.param[y], float(getattr(block, y)))
            axes[f"{self.block_name}.{y}"] = self._axis(block, y, lo, hi)
        design = grid(axes)
        self.design, self.names = design, list(axes)
        self.results = np.full((len(design.values), int(self.seeds.value)), np.nan)
        self.received = np.zeros(self.results.shape, dtype=bool)  # NaN is a result too (no spikes: no CV)
        self._build_plot(design, second)
        circuit = self.get_circuit().copy()
        metric = next(m for m in metric_choices(circuit) if m.name == self.metric.value)
        self._stop, self._outcome, self._pending = False, None, []
        self._thread = threading.Thread(target=self._work, args=(circuit, design, metric), daemon=True)
        self.start_button.disabled, self.stop_button.disabled = True, False
        self._say(f"Starting the cluster and {len(design.values) * int(self.seeds.value)} runs...", "info")
        self._thread.start()
        self._callback = pn.state.add_periodic_callback(self._drain, period=POLL_MS)
        pn.state.on_session_destroyed(lambda _ctx: self.stop())  # a closed tab sends no more tasks

    def _axis(self, block, pname, lo, hi) -> np.ndarray:
        values = np.linspace(lo, hi, int(self.points.value))
        return np.unique(np.round(values)) if isinstance(block.param[pname], param.Integer) else values

    def _work(self, circuit, design, metric) -> None:
        def received(rows, seed, values):
            with self._lock:
                self._pending.append((rows, seed, values[metric.name]))
            if self._stop:
                raise _Stopped

        try:
            sweep(circuit, design, seeds=int(self.seeds.value), duration=float(self.duration.value),
                  metrics=[metric], dt=self.dt, client=os.environ.get("WORKBENCH_SCHEDULER") or None,
                  progress=False, on_result=received, task_seconds=0.5)
            self._outcome = "done"
        except _Stopped:
            self._outcome = "stopped"
        except (CircuitError, ValueError) as e:
            self._outcome = f"error: {e}"
        except Exception as e:  # a cluster or worker failure: report it, keep the app alive
            self._outcome = f"error: {type(e).__name__}: {e}"

    def stop(self) -> None:
        self._stop = True
        self._say("Stopping after the tasks running now...", "info")

    def _drain(self) -> None:
        """Periodic: move finished points into the plot; end the sweep when the thread is done."""
        with self._lock:
            pending, self._pending = self._pending, []
        for rows, seed, values in pending:
            self.results[rows, seed] = values
            self.received[rows, seed] = True
        if pending:
            self._update_plot()
        done = int(self.received.sum())
        if self._outcome is None:
            self._say(f"{done} of {self.results.size} runs finished", "info")
            return
        self._callback.stop()
        self._thread, self._callback = None, None
        self.start_button.disabled, self.stop_button.disabled = False, True
        if self._outcome.startswith("error"):
            self._say(f"The sweep stopped with an {self._outcome}", "danger")
        else:
            self._say(f"Sweep {self._outcome}: {done} of {self.results.size} runs. Click a point to load it.",
                      "success")

    def _say(self, text: str, level: str) -> None:
        colour = {"danger": "#b00020", "success": "#1b5e20"}.get(level, "#333")
        self.status.object = f"<span style='color:{colour};font-size:12px'>{html.escape(text)}</span>"

    # -- the plot --------------------------------------------------------------------------------
    def _build_plot(self, design, heatmap: bool) -> None:
        fig = figure(height=230, sizing_mode="stretch_width", tools="tap", toolbar_location=None,
                     name="wb-sweep-plot", x_axis_label=self.names[0],
                     y_axis_label=self.names[1] if heatmap else self.metric.value)
        fig.title.text = self.metric.value if heatmap else ""
        # a new source each sweep: models not yet in the document may be edited from a button click
        x = design.values[:, 0]
        y = design.values[:, 1] if heatmap else np.full(len(x), np.nan)
        self.source = ColumnDataSource(dict(x=list(x), y=list(y), value=[np.nan] * len(x)), name="wb-sweep")
        self.source.selected.on_change("indices", self._picked)
        if heatmap:
            self.mapper = LinearColorMapper(palette=Viridis256, nan_color="#eeeeee")
            step = [np.diff(a).min() if len(a) > 1 else 1.0 for a in design.axes]
            glyph = fig.rect("x", "y", width=step[0], height=step[1], source=self.source,
                             fill_color={"field": "value", "transform": self.mapper}, line_color=None)
            fig.add_layout(ColorBar(color_mapper=self.mapper, width=8), "right")
        else:
            self.mapper = None
            fig.line("x", "y", source=self.source, color="#1f77b4")
            glyph = fig.scatter("x", "y", source=self.source, size=9, color="#1f77b4")
        fig.select_one(TapTool).renderers = [glyph]
        self.plot.objects = [pn.pane.Bokeh(fig, sizing_mode="stretch_width")]

    def _update_plot(self) -> None:
        counted = np.isfinite(self.results).sum(1)
        with np.errstate(all="ignore"):  # the mean over the seeds finished so far
            mean = np.where(counted > 0, np.nansum(self.results, 1) / counted, np.nan)
        data = dict(self.source.data)
        data["value"] = list(mean)
        if self.mapper is None:
            data["y"] = list(mean)
        elif np.isfinite(mean).any():
            self.mapper.low, self.mapper.high = float(np.nanmin(mean)), float(np.nanmax(mean)) + 1e-12
        self.source.data = data

    def _picked(self, _attr, _old, new) -> None:
        if not new:
            return
        point = self.design.values[new[0]]
        block = self.names[0].partition(".")[0]
        values = {}
        for name, v in zip(self.names, point):
            pname = name.partition(".")[2]
            integer = isinstance(self.get_circuit().block(block).param[pname], param.Integer)
            values[pname] = int(v) if integer else float(v)
        self.on_pick(block, values)
        shown = ", ".join(f"{k} = {v:.4g}" for k, v in values.items())
        self.notify(f"Loaded the variant {block}: {shown} onto the canvas.", "success")
