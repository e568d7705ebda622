"""One browser session of the workbench: palette, canvas, inspector, run controls, live views.

Each session builds its own ``Workbench`` (own circuit, simulator thread, views); closing the
tab stops its thread. Drawing happens in a periodic callback (the frame tick) that holds the
document lock; the simulator thread never touches a plot.
"""
from __future__ import annotations

import io
import time
from collections import deque

import panel as pn
import panel_material_ui as pmui
import param

from components.assets import ASSETS
from simulations import Circuit, CircuitError, compile

from . import store
from .blocks import block_types, summary
from .browser import COOKIE, BrowserLink
from .connectome import ConnectomeView
from .editor import PALETTE_DRAG_TYPE, CircuitEditor
from .export_menu import ExportMenu
from .gallery import DemoPanel, Gallery
from .inspector import Inspector
from .runner import Runner
from .sweep_panel import SweepPanel
from .training_panel import TrainingPanel
from .views import Dashboard

DEMO = ASSETS / "demos" / "stdp_demo.json"
DT = 0.1  # ms
FRAME_MS = 50  # 20 frames per second at most
MAX_LAG_S = 0.4  # skip frames while the oldest unpainted frame is older than this
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
        self.demo = None  # the gallery demo open, if any: it sets dt, compared rows and schedule
        self.demo_panel: DemoPanel | None = None

        self.message = pn.pane.Alert("", alert_type="info", visible=False, css_classes=["wb-message"],
                                     sizing_mode="stretch_width", margin=(0, 5))
        self.editor = CircuitEditor(circuit or demo_circuit(), self._changed, self._select, self.notify)
        self.inspector = Inspector(self._param_changed, self._delete)
        self.sweep = SweepPanel(lambda: self.circuit, self._variant_picked, self.notify, dt=DT)
        self.link = BrowserLink(width=0, height=0, margin=0)
        self.link.param.watch(self._acked, "ack")
        self.link.param.watch(self._got_browser_id, "browser_id")
        self._build_controls()
        self.training = TrainingPanel(lambda: self.circuit, self.load_circuit,
                                      lambda: (self.editor.refresh(), self._changed("structure")), self.notify)
        self.gallery = Gallery(self.open_demo)
        self.demo_area = pn.Column(sizing_mode="stretch_width")
        self.views = pn.Column(sizing_mode="stretch_width")
        self.layout = self._layout()
        self._rebuild_views()

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
        self.speed.param.watch(lambda e: setattr(self.runner, "speed", SPEEDS[e.new]), "value")
        self.status = pn.pane.HTML("", css_classes=["wb-status"], margin=(12, 8), min_width=260)
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
                         self.status, pn.layout.HSpacer(), self.undo_button, self.download, self.exports.panel,
                         pn.pane.HTML("Open:", margin=(12, 2)), self.upload, self.link,
                         sizing_mode="stretch_width")
        sidebar = pn.Column(pn.pane.Markdown("#### Blocks\nClick to add, or drag onto the canvas.", margin=(0, 5)),
                            pn.Column(self.palette, height=PALETTE_HEIGHT, scroll=True, sizing_mode="stretch_width"),
                            pn.layout.Divider(), self.inspector.panel, self.sweep.panel, width=300,
                            styles={"overflow-y": "auto"}, css_classes=["wb-sidebar"])
        main = pn.Column(self.message, self.gallery.panel, self.demo_area, pn.Column(self.editor.flow, height=430, sizing_mode="stretch_width",
                                                 css_classes=["wb-canvas"]),
                         self.probe_choice, self.views, self.training.panel, sizing_mode="stretch_width")
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
        self.sweep.show(name if block else None, block)

    def _variant_picked(self, name: str, values: dict) -> None:
        """A point clicked in the sweep plot: its values onto the block, as if typed."""
        for pname, value in values.items():
            setattr(self.circuit.block(name), pname, value)
            self._param_changed(name, pname, value)
        self.inspector.show(name, self.circuit.block(name))

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
        if not self.dirty and self.runner.sim is not None and name in self.runner.sim.node(block).live:
            try:
                self.runner.set_param(block, name, value)
                return
            except (CircuitError, ValueError) as e:
                self.notify(str(e), "warning")
        self.dirty = True
        if self.runner.sim is not None:
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
        self.runner.load(None)
        self.demo = demo
        self.demo_panel = DemoPanel(demo) if demo is not None else None
        self.demo_area.objects = [self.demo_panel.panel] if demo is not None else []
        self.editor.set_circuit(circuit)
        self.dirty = True
        self._persist()
        self._rebuild_views()

    def open_demo(self, demo) -> None:
        """Open a gallery demo: its circuit on the canvas, its teaching text and live metric."""
        self.load_circuit(demo.circuit(), demo)
        self.gallery.panel.visible = False
        if demo.speed in SPEEDS:
            self.speed.value = demo.speed
        self.notify(f"Opened the demo '{demo.title}': press Run.", "success")

    # -- running ---------------------------------------------------------------------------------
    def _compile(self) -> bool:
        """Build a fresh simulator from the circuit; False (and a message) if it cannot."""
        try:
            if self.demo is not None:
                try:  # the demo's dt, compared rows and schedule
                    sim = self.demo.compile(self.circuit)
                except CircuitError:  # edited beyond what the demo compares: run it plainly
                    sim = compile(self.circuit, dt=self.demo.dt, seed=0)
            else:
                sim = compile(self.circuit, dt=DT, seed=0)
        except (CircuitError, ValueError) as e:
            self.notify(f"Cannot run: {e}", "danger")
            return False
        self.runner.load(sim)
        self.dirty = False
        self._shown_error = None
        self._rebuild_views(self.probe_choice.value or None)
        return True

    def run(self) -> None:
        if self.runner.sim is None or self.dirty:
            restarted = self.runner.sim is not None
            if not self._compile():
                return
            if restarted:
                self.notify("The circuit changed, so the run starts over from t = 0.", "info")
            else:
                self.notify("", "info")
        if self.runner.error is not None:
            self.notify(f"{self.runner.error} Press Reset to start again.", "danger")
            return
        self.runner.run()

    def pause(self) -> None:
        self.runner.pause()
        self.tick(final=True)

    def step(self) -> None:
        if (self.runner.sim is None or self.dirty) and not self._compile():
            return
        self.runner.pause()
        self.runner.step(STEP_BUTTON_STEPS)

    def reset(self) -> None:
        if self.dirty:
            self.runner.load(None)
            self._compile()
        else:
            self.runner.reset()
            self._rebuild_views(self.probe_choice.value or None)
        self._shown_error = None
        self.notify("", "info")

    def _rebuild_views(self, shown=None) -> None:
        sim = self.runner.sim
        if sim is None:
            self.dashboard, self.connectome = None, None
            self.views.objects = [pn.pane.Markdown("Press **Run** to compile the circuit and watch it.",
                                                   styles={"color": "#666"})]
            return
        with self.runner.lock:
            self.dashboard = Dashboard(sim, shown)
            self.dashboard.last_step = sim.t - 1
            self.connectome = ConnectomeView(sim)
        self.probe_choice.param.update(options=list(sim.probe_paths()))
        if self.probe_choice.value != self.dashboard.shown:
            self.probe_choice.param.update(value=self.dashboard.shown)
        d = self.dashboard
        graph = [self.connectome.panel] if self.connectome.nodes else []  # no spiking neurons: no graph
        self.views.objects = [*d.wide, pn.GridBox(*d.small, ncols=2, sizing_mode="stretch_width"),
                              pn.Row(*d.side, *graph, sizing_mode="stretch_width")]

    # -- the frame tick --------------------------------------------------------------------------
    def _acked(self, event) -> None:
        while self._sent and self._sent[0][0] <= event.new:
            self._sent.popleft()

    def tick(self, final: bool = False) -> None:
        """Draw what the simulator produced since the last frame (periodic, ~20 Hz)."""
        runner, d = self.runner, self.dashboard
        if runner.error is not None and self._shown_error is not runner.error:
            self._shown_error = runner.error
            self.notify(f"{runner.error} Press Reset to start again.", "danger")
            final = True
        now = time.monotonic()
        if self._sent and not final:
            age = now - self._sent[0][1]
            if age > ACK_GIVE_UP_S:
                self._sent.clear()
            elif age > MAX_LAG_S:
                return  # the browser is behind: skip this frame, the next one carries the data
        sim = runner.sim
        if d is None or sim is None or d.sim is not sim:
            self._status()
            return
        if sim.t == self._last_t and not final:
            self._status()
            return
        frame = d.read(runner.lock, final=final)
        self._last_t = frame.t
        with pn.io.hold():
            d.update(frame)
            if self.connectome is not None:
                self.connectome.update(frame)
            if self.demo_panel is not None:
                self.demo_panel.update(sim, runner.lock, final)
            self._frame += 1
            self._sent.append((self._frame, now))
            self.link.frame = self._frame
            self._status()
        self.frames_sent += 1

    def _status(self) -> None:
        sim = self.runner.sim
        if sim is None:
            text = "not compiled"
        else:
            state = "diverged" if self.runner.error else ("running" if self.runner.running else "paused")
            text = f"{state} · t = {sim.time:.1f} ms · {self.runner.steps_per_second:,.0f} steps/s"
            if self.dirty:
                text += " · edited: Reset applies"
        if self.status.object != text:
            self.status.object = text

    def close(self) -> None:
        self.runner.close()
        self.training.close()


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
