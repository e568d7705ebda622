"""One browser session of the workbench: palette, canvas, inspector, run controls, live views.

Each session builds its own ``Workbench`` (own circuit, simulation process, views); closing the
tab stops its process. The process compiles and steps (``runner``); the frame tick, a periodic
callback on the event loop, only handles its messages and forwards frames to the browser, with
backpressure: the browser acknowledges painted frames and detail drops while it lags.
"""
from __future__ import annotations

import io
import time
from collections import deque
from pathlib import Path

import panel as pn
import panel_material_ui as pmui
import param

from simulations import Circuit, CircuitError

from . import store
from .blocks import block_types, summary
from .browser import COOKIE, BrowserLink
from .connectome import ConnectomeView
from .editor import PALETTE_DRAG_TYPE, CircuitEditor
from .export_menu import ExportMenu
from .gallery import DemoPanel, Gallery
from .inspector import Inspector
from .runner import Runner
from .views import Dashboard

DEMO = Path(__file__).resolve().parent.parent / "assets" / "demos" / "stdp_demo.json"
DT = 0.1  # ms
FRAME_MS = 50  # 20 frames per second at most
MAX_LAG_S = 0.25  # skip frames while the oldest unpainted frame is older than this
QUICK_PAINT_S = 0.12  # a frame painted this fast raises the detail again; slower than MAX_LAG_S lowers it
MIN_DETAIL = 0.25
ACK_GIVE_UP_S = 3.0  # a browser that never acknowledges (hidden tab) gets a frame this often
STEP_BUTTON_STEPS = 100
PALETTE_HEIGHT = 360  # px: the palette scrolls, so the inspector stays in view below it
SPEEDS = {"max": None, "1x real time": 1000.0, "0.5x": 500.0, "0.1x": 100.0, "0.01x": 10.0}

CSS = """
.wb-title { font-weight: 600; font-size: 18px; }
.wb-status { font-family: monospace; font-size: 12px; }
"""


def demo_circuit() -> Circuit:
    return Circuit.load(DEMO)


class Workbench:
    """The state and widgets of one session."""

    def __init__(self, circuit: Circuit | None = None, browser_id: str | None = None):
        saved = store.load(browser_id)
        if circuit is None and saved:
            try:
                circuit = Circuit.from_json(saved)
            except CircuitError:
                circuit = None
        self.browser_id = browser_id or ""
        self.runner = Runner()
        self.dashboard: Dashboard | None = None
        self.connectome: ConnectomeView | None = None
        self.dirty = True  # the circuit changed since the simulator was compiled
        self._sent: deque[tuple[int, float]] = deque()
        self._frame = 0
        self._shown_error = None
        self._last_t = -1
        self.frames_sent = 0
        self.detail = 1.0  # what a frame carries (0.25..1): drops while the browser lags
        self._after_load = None  # what to do when the compile answers ("run", ("step", n))
        self._last_change = ""  # the last live parameter change and the simulated time it applied from
        self.demo = None  # the gallery demo open, if any: it sets dt, compared rows and schedule
        self.demo_panel: DemoPanel | None = None

        self.message = pn.pane.Alert("", alert_type="info", visible=False, css_classes=["wb-message"],
                                     sizing_mode="stretch_width", margin=(0, 5))
        self.editor = CircuitEditor(circuit or demo_circuit(), self._changed, self._select, self.notify)
        self.inspector = Inspector(self._param_changed, self._delete)
        self.link = BrowserLink(width=0, height=0, margin=0)
        self.link.param.watch(self._acked, "ack")
        self.link.param.watch(self._got_browser_id, "browser_id")
        self._build_controls()
        self.gallery = Gallery(self.open_demo)
        self.demo_area = pn.Column(sizing_mode="stretch_width")
        self.views = pn.Column(sizing_mode="stretch_width")
        self.layout = self._layout()
        self._rebuild_views()
        self._compile()  # ahead of Run, in the simulation process: Run then starts at once

    # -- widgets ---------------------------------------------------------------------------------
    def _build_controls(self) -> None:
        items = [{"label": n, "secondary": cls.category, "tooltip": summary(cls)} for n, cls in block_types().items()]
        self.palette = pmui.MenuList(items=items, draggable=True, drag_type=PALETTE_DRAG_TYPE, highlight=False,
                                     sizing_mode="stretch_width", css_classes=["wb-palette"])
        self.palette.on_click(lambda item: self._palette_clicked(item))
        b = dict(width=78, margin=(5, 3))
        self.run_button = pn.widgets.Button(label="▶ Run", button_type="success", css_classes=["wb-run"], **b)
        self.pause_button = pn.widgets.Button(label="Pause", button_type="warning", css_classes=["wb-pause"], **b)
        self.step_button = pn.widgets.Button(label="Step", css_classes=["wb-step"], **b)
        self.reset_button = pn.widgets.Button(label="Reset", css_classes=["wb-reset"], **b)
        self.undo_button = pn.widgets.Button(label="↶ Undo", css_classes=["wb-undo"], **b)
        self.speed = pn.widgets.Select(options=list(SPEEDS), value="max", width=120, margin=(5, 3),
                                       css_classes=["wb-speed"])
        self.run_button.on_click(lambda _e: self.run())
        self.pause_button.on_click(lambda _e: self.pause())
        self.step_button.on_click(lambda _e: self.step())
        self.reset_button.on_click(lambda _e: self.reset())
        self.undo_button.on_click(lambda _e: self.undo())
        self.gallery_button = pn.widgets.Button(label="Gallery", button_type="primary", button_style="outline",
                                                css_classes=["wb-gallery-button"], **b)
        self.gallery_button.on_click(lambda _e: self.gallery.panel.param.update(visible=not self.gallery.panel.visible))
        self.speed.param.watch(lambda e: self.runner.set_speed(SPEEDS[e.new]), "value")
        self.status = pn.pane.HTML("", css_classes=["wb-status"], margin=(12, 8), min_width=260)
        self.progress = pn.indicators.Progress(value=-1, active=True, width=110, height=14, margin=(14, 4),
                                               visible=False, css_classes=["wb-progress"])
        self.download = pn.widgets.FileDownload(callback=self._save, filename="circuit.json", label="Save",
                                                button_type="primary", button_style="outline", width=80,
                                                margin=(5, 3), css_classes=["wb-save"])
        self.exports = ExportMenu(lambda: self.circuit, self.notify, dt=DT, seed=0)
        self.upload = pn.widgets.FileInput(accept=".json", multiple=False, width=210, margin=(8, 3),
                                           css_classes=["wb-open"])
        self.upload.param.watch(self._opened, "value")
        self.probe_choice = pn.widgets.MultiChoice(name="Views (probes shown)", options=[], sizing_mode="stretch_width",
                                                   css_classes=["wb-probes"])
        self.probe_choice.param.watch(lambda e: self._rebuild_views(e.new), "value")

    def _layout(self):
        toolbar = pn.Row(pn.pane.HTML("<span class='wb-title'>Workbench</span>", margin=(10, 10)),
                         self.gallery_button, self.run_button, self.pause_button, self.step_button, self.reset_button, self.speed,
                         self.progress, self.status, pn.layout.HSpacer(), self.undo_button, self.download, self.exports.panel,
                         pn.pane.HTML("Open:", margin=(12, 2)), self.upload, self.link,
                         sizing_mode="stretch_width")
        sidebar = pn.Column(pn.pane.Markdown("#### Blocks\nClick to add, or drag onto the canvas.", margin=(0, 5)),
                            pn.Column(self.palette, height=PALETTE_HEIGHT, scroll=True, sizing_mode="stretch_width"),
                            pn.layout.Divider(), self.inspector.panel, width=300,
                            styles={"overflow-y": "auto"}, css_classes=["wb-sidebar"])
        main = pn.Column(self.message, self.gallery.panel, self.demo_area, pn.Column(self.editor.flow, height=430, sizing_mode="stretch_width",
                                                 css_classes=["wb-canvas"]),
                         self.probe_choice, self.views, sizing_mode="stretch_width")
        return pn.Column(pn.pane.HTML(f"<style>{CSS}</style>", width=0, height=0, margin=0), toolbar,
                         pn.Row(sidebar, main, sizing_mode="stretch_width"), sizing_mode="stretch_width")

    def notify(self, text: str, level: str = "info") -> None:
        self.message.param.update(object=text, alert_type=level, visible=bool(text))

    # -- editing ---------------------------------------------------------------------------------
    @property
    def circuit(self) -> Circuit:
        return self.editor.circuit

    def _palette_clicked(self, item) -> None:
        name = self.editor.add_block(item["label"])
        self.notify(f"Added {name} ({item['label']}); wire its ports on the canvas.", "success")

    def _changed(self, kind: str) -> None:
        if kind == "structure":
            self.dirty = True
        self._persist()

    def _select(self, name: str | None) -> None:
        block = self.circuit.block(name) if name in self.circuit.graph else None
        self.inspector.show(name if block else None, block)

    def _delete(self, name: str) -> None:
        self.editor.delete_block(name)
        self.notify(f"Deleted {name} (Undo restores it)", "info")

    def undo(self) -> None:
        what = self.editor.undo()
        self.notify("Nothing to undo" if what is None else "Undone", "info")
        self._select(None)

    def _param_changed(self, block: str, name: str, value) -> None:
        self._persist()
        if isinstance(self.circuit.block(block).param[name], param.Integer):
            self.editor.refresh()  # sizes are shown inside the node
        layout = self.runner.layout
        if not self.dirty and layout is not None and name in layout["live"].get(block, ()):
            self.runner.set_param(block, name, value)  # the process answers within a chunk (~10 ms)
            return
        self.dirty = True
        if layout is not None:
            self.notify(f"{block}.{name} shapes the circuit: it applies at the next Reset (the run starts over).",
                        "info")

    def _persist(self) -> None:
        store.save(self.browser_id, self.circuit.to_json())

    def _got_browser_id(self, event) -> None:
        if not self.browser_id:
            self.browser_id = event.new
            self._persist()

    # -- files -----------------------------------------------------------------------------------
    def _save(self):
        self.download.filename = f"{self.circuit.name}.json"
        return io.StringIO(self.circuit.to_json())

    def _opened(self, event) -> None:
        if event.new is None:
            return
        try:
            circuit = Circuit.from_json(event.new)
        except CircuitError as e:
            self.notify(f"Could not open {self.upload.filename}: {e}. The current circuit is unchanged.", "danger")
            return
        self.load_circuit(circuit)
        self.notify(f"Opened {self.upload.filename}: {len(circuit.graph)} blocks, {len(circuit.wires)} wires.",
                    "success")

    def load_circuit(self, circuit: Circuit, demo=None) -> None:
        self.runner.pause()
        self.runner.layout = None
        self.demo = demo
        self.demo_panel = DemoPanel(demo) if demo is not None else None
        self.demo_area.objects = [self.demo_panel.panel] if demo is not None else []
        self.probe_choice.param.update(options=[], value=[])  # the new circuit's defaults
        self.editor.set_circuit(circuit)
        self.dirty = True
        self._persist()
        self._rebuild_views()
        self._compile()  # ahead of Run (edits later mark it dirty: Run compiles again)

    def open_demo(self, demo) -> None:
        """Open a gallery demo: its circuit on the canvas, its teaching text and live metric."""
        self.load_circuit(demo.circuit(), demo)
        self.gallery.panel.visible = False
        if demo.speed in SPEEDS:
            self.speed.value = demo.speed
        self.notify(f"Opened the demo '{demo.title}': press Run.", "success")

    # -- running ---------------------------------------------------------------------------------
    def _compile(self, then=None) -> bool:
        """Compile the circuit in the simulation process (off the event loop); ``then`` ("run" or
        ("step", n)) follows once it is compiled. Progress shows beside the status."""
        dt = self.demo.dt if self.demo is not None else DT
        self.runner.load(self.circuit.to_json(), self.demo.name if self.demo is not None else None, dt,
                         self.probe_choice.value or None)
        self._after_load = then
        self.dirty = False
        self._shown_error = None
        self.progress.visible = True
        self._status()
        return True

    def compiled(self, then) -> bool:
        """True when the simulator is compiled from the current circuit; otherwise ``then`` ("run"
        or ("step", n)) is arranged for when the compile under way (or started now) is done."""
        if self.runner.compiling and not self.dirty:
            self._after_load = then
            return False
        if self.runner.layout is None or self.dirty:
            restarted = self.runner.layout is not None
            self._compile(then)
            self.notify("The circuit changed, so the run starts over from t = 0." if restarted else "", "info")
            return False
        return True

    def run(self) -> None:
        if not self.compiled("run"):
            return
        if self.runner.error is not None:
            self.notify(f"{self.runner.error} Press Reset to start again.", "danger")
            return
        self.runner.run()

    def pause(self) -> None:
        self.runner.pause()
        self._after_load = None if self._after_load == "run" else self._after_load
        self.tick(final=True)

    def step(self) -> None:
        self.runner.pause()
        if self.compiled(("step", STEP_BUTTON_STEPS)):
            self.runner.step(STEP_BUTTON_STEPS)

    def reset(self) -> None:
        if self.dirty or self.runner.layout is None:
            self._compile()
        else:
            self.runner.reset()
        self._shown_error = None
        self.notify("", "info")

    def _rebuild_views(self, shown=None) -> None:
        """Views for the compiled layout; a new choice of probes asks the process for a new layout."""
        layout = self.runner.layout
        if layout is None:
            self.dashboard, self.connectome = None, None
            self.views.objects = [pn.pane.Markdown("Press **Run** to watch the circuit.", styles={"color": "#666"})]
            return
        if shown is not None:
            if list(shown) != layout["shown"]:
                self.runner.show(shown)  # answered by a new layout (``loaded``)
            if self.dashboard is not None:
                return
        self.dashboard = Dashboard(layout)
        self.connectome = ConnectomeView(layout)
        self.probe_choice.param.update(options=list(layout["probes"]))
        if self.probe_choice.value != self.dashboard.shown:
            self.probe_choice.param.update(value=self.dashboard.shown)
        d = self.dashboard
        graph = [self.connectome.panel] if self.connectome.nodes else []  # no spiking neurons: no graph
        self.views.objects = [*d.wide, pn.GridBox(*d.small, ncols=2, sizing_mode="stretch_width"),
                              pn.Row(*d.side, *graph, sizing_mode="stretch_width")]

    # -- messages from the simulation process --------------------------------------------------------
    def _handle(self, msg) -> None:
        kind = msg[0]
        if kind == "loaded":
            self.progress.visible = False
            self._last_change = ""
            self._rebuild_views()
            then, self._after_load = self._after_load, None
            if then == "run":
                self.runner.run()
            elif then is not None:
                self.runner.step(then[1])
        elif kind == "error":
            self.progress.visible = False
            asked, self._after_load = self._after_load, None
            if self.runner.layout is None:
                self.dirty = True  # the compile failed: the next Run compiles again (and says why)
            if asked is not None or self.runner.layout is not None:  # not a compile ahead of Run
                self.notify(msg[1], "danger")
        elif kind == "set":
            _, block, name, problem, _sent_at, t = msg
            if problem:  # refused by the simulator
                self.notify(f"{block}.{name}: {problem}", "warning")
            elif self.runner.layout is not None:  # the status says from when it applies
                self._last_change = f"{block}.{name} changed at t = {t * self.runner.layout['dt']:.1f} ms"
        elif kind == "crashed":
            code, at = msg[1], self.runner.status.get("time", 0.0)
            self.runner.restart()
            self.progress.visible = False
            self.dashboard, self._after_load = None, None
            self._compile()
            self.notify(f"The simulation process stopped unexpectedly (exit code {code}) at t = {at:.1f} ms. "
                        "A new one was started and the circuit recompiled, unchanged: press Run to start "
                        "again from t = 0.", "danger")

    # -- the frame tick --------------------------------------------------------------------------
    def _acked(self, event) -> None:
        """The browser painted frame ``event.new``: adapt the detail to how long that took."""
        now = time.monotonic()
        while self._sent and self._sent[0][0] <= event.new:
            number, sent = self._sent.popleft()
            if number == event.new:
                if now - sent > MAX_LAG_S:
                    self.detail = max(MIN_DETAIL, self.detail * 0.7)
                elif now - sent < QUICK_PAINT_S:
                    self.detail = min(1.0, self.detail * 1.15)

    def tick(self, final: bool = False) -> None:
        """Handle the process's messages, draw the frame it sent, ask for the next (~20 Hz)."""
        runner = self.runner
        for msg in runner.poll():
            if msg[0] == "frame":
                self._draw(msg[1])
            else:
                self._handle(msg)
        if runner.error is not None and self._shown_error != runner.error:
            self._shown_error = runner.error
            self.notify(f"{runner.error} Press Reset to start again.", "danger")
            final = True
        self._status()
        if runner.layout is None or runner.compiling or (runner.frames_pending and not final):
            return
        if self._sent and not final:
            age = time.monotonic() - self._sent[0][1]
            if age > ACK_GIVE_UP_S:
                self._sent.clear()
                self.detail = max(MIN_DETAIL, self.detail * 0.7)
            elif age > MAX_LAG_S:
                return  # the browser is behind: skip this frame, the next one carries the data
        runner.request_frame(self.detail, final)

    def _draw(self, frame: dict) -> None:
        d = self.dashboard
        if d is None or frame.get("generation") != d.generation:
            return  # a frame of a layout that was replaced
        if frame["t"] == self._last_t and not frame.get("reset") and not frame.get("heatmaps") \
                and not frame.get("live"):
            return
        self._last_t = frame["t"]
        now = time.monotonic()
        with pn.io.hold():
            d.update(frame)
            if self.connectome is not None:
                self.connectome.update(frame)
            if self.demo_panel is not None:
                self.demo_panel.update(frame)
            self._frame += 1
            self._sent.append((self._frame, now))
            self.link.param.update(stamp=frame.get("stamp", 0.0), frame=self._frame)
        self.frames_sent += 1

    def _status(self) -> None:
        runner, s = self.runner, self.runner.status
        if runner.compiling:
            stage, _fraction, seconds = runner.progress or ("starting", 0, 0)
            text = f"compiling: {stage} ({seconds:.1f} s)"
        elif runner.layout is None:
            text = "not compiled"
        else:
            state = "diverged" if runner.error else ("running" if runner.running else "paused")
            text = f"{state} · t = {s['time']:.1f} ms · {s['steps_per_second']:,.0f} steps/s"
            if self.detail < 1.0:
                text += f" · detail {self.detail:.0%}"
            if self.dirty:
                text += " · edited: Reset applies"
            elif self._last_change:
                text += f" · {self._last_change}"
        html = f"<span title='simulation process {runner.pid}' data-pid='{runner.pid}'>{text}</span>"
        if self.status.object != html:
            self.status.object = html

    def close(self) -> None:
        self.runner.close()


def create_app():
    """Panel entry point: one Workbench per browser session."""
    pn.extension("jsoneditor", notifications=False)
    cookies = pn.state.cookies or {}
    wb = Workbench(browser_id=cookies.get(COOKIE))
    callback = pn.state.add_periodic_callback(wb.tick, period=FRAME_MS)

    def destroyed(_ctx):
        callback.stop()
        wb.close()

    pn.state.on_session_destroyed(destroyed)
    return wb.layout
