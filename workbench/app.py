"""One browser session of the workbench: palette, canvas, inspector, run controls, live views.

Each session builds its own ``Workbench`` (own circuit, simulation process, views); closing the
tab stops its process. The process compiles and steps (``runner``); the frame tick runs on the
event loop when a frame arrives (and on a timer for status and messages), draws it and asks for
the next, with backpressure: the browser acknowledges painted frames, no frame is asked for
while it lags (the simulation runs on; the next frame carries what it missed) and detail drops.
"""
from __future__ import annotations

import hmac
import html
import io
import time
import traceback
from collections import deque
from pathlib import Path

import panel as pn
import panel_material_ui as pmui
import param

from components.assets import ASSETS
from simulations import Circuit, CircuitError
from simulations.export import safe_filename

from . import store
from .blocks import block_types, tooltip
from .browser import SHORTCUTS, BrowserLink
from .connectome import ConnectomeView
from .editor import PALETTE_DRAG_TYPE, CircuitEditor
from .export_menu import ExportMenu
from .gallery import DemoPanel, Gallery
from .inspector import Inspector
from .modules_panel import ModulesPanel, is_module_text
from .runner import Runner
from .sweep_panel import SweepPanel
from .training_panel import TrainingPanel
from .view_cards import view_card, view_key
from .frames import MAX_PICKS, default_shown
from .views import Dashboard

DEMO = ASSETS / "demos" / "stdp_demo.json"
DT = 0.1  # ms
FRAME_MS = 50  # 20 frames per second at most
MAX_LAG_S = 0.25  # skip frames while the oldest unpainted frame is older than this
QUICK_PAINT_S = 0.12  # a frame painted this fast raises the detail again; slower than MAX_LAG_S lowers it
MIN_DETAIL = 0.25
STATUS_EVERY_S = 0.25  # least time between two updates of the running status line
ACK_GIVE_UP_S = 3.0  # a browser that never acknowledges (hidden tab) gets a frame this often
STEP_BUTTON_STEPS = 100
PALETTE_HEIGHT = 360  # px: the palette scrolls, so the inspector stays in view below it
SPEEDS = {"max": None, "1x real time": 1000.0, "0.5x": 500.0, "0.1x": 100.0, "0.01x": 10.0}

MESSAGE_SECONDS = 8.0  # an info or success message hides itself after this long
DOCS = Path(__file__).resolve().parent.parent / "docs"

CSS = """
.wb-title { font-weight: 600; font-size: 18px; }
.wb-status { font-family: monospace; font-size: 12px; }
"""

HELP = """
### Getting started
1. **Add blocks**: click a block in the palette (left) or drag it onto the canvas. Type in the
   search box to filter; hover a block for what it does and its ports.
2. **Wire**: drag from an output handle (right side of a block) to an input handle (left side).
   A wire whose kinds do not match is refused with the reason.
3. **Edit**: select a block to see its parameters (units in brackets; *live* ones change while
   running). Rename it in the *Name* box.
4. **Run** (or Space): the circuit compiles and its views appear below the canvas: spike raster,
   population rates, membrane traces, weights. Pick other probes in *Views*.
5. **Save** (Ctrl+S) downloads the circuit as `<circuit name>.json`; **Open** reads one back.
   Your work is also autosaved per tab; a reload offers to restore it.

### Shortcuts
{shortcuts}

### Documentation
- [Teaching demos](/docs/demos.md): what each gallery demo shows and measures (opens in a new tab).
- `README.md` in the repository: install, the Python quick start, the block library, exports.
- Every block's parameters, ports and probes are documented in its inspector and in `components/`.
"""


def demo_circuit() -> Circuit:
    return Circuit.load(DEMO)


class Workbench:
    """The state and widgets of one session."""

    def __init__(self, circuit: Circuit | None = None):
        self.browser_id = self.tab_id = ""
        self.runner = Runner()
        self.dashboard: Dashboard | None = None
        self.connectome: ConnectomeView | None = None
        self.dirty = True  # the circuit changed since the simulator was compiled
        self._sent: deque[tuple[int, float]] = deque()
        self._frame = 0
        self._shown_error = None
        self._last_t = -1
        self._message_at = 0.0
        self._status_at = 0.0
        self.frames_sent = 0
        self.detail = 1.0  # what a frame carries (0.25..1): drops while the browser lags
        self._after_load = None  # what to do when the compile answers ("run", ("step", n))
        self._last_change = ""  # the last live parameter change and the simulated time it applied from
        self.demo = None  # the gallery demo open, if any: it sets dt, compared rows and schedule
        self.demo_panel: DemoPanel | None = None
        self.extra_views: set[str] = set()  # probes the user added to the default views
        self.hidden_views: set[str] = set()  # default probes the user removed
        self.view_order: list[str] = []  # views the user moved, in the order they chose (kept this session)
        self.picks: dict[str, list[int]] = {}  # trace probe -> neurons brushed in the raster
        self._pending_restore: str | None = None
        self.selected: str | None = None

        self.message = pn.pane.Alert("", alert_type="info", css_classes=["wb-message"], margin=0,
                                     sizing_mode="stretch_width")
        close = pn.widgets.Button(label="×", width=30, margin=(4, 4), css_classes=["wb-message-close"],
                                  button_type="light")
        close.on_click(lambda _e: self.notify(""))
        self.message_box = pn.Row(self.message, close, visible=False, width=520, css_classes=["wb-toast"],
                                  styles={"position": "fixed", "top": "60px", "right": "16px", "z-index": "3000",
                                          "background": "white", "box-shadow": "0 2px 10px rgba(0,0,0,.25)",
                                          "border-radius": "6px"})
        self.editor = CircuitEditor(circuit or demo_circuit(), self._changed, self._select, self.notify)
        self.editor.on_history = self._history_changed
        self.modules = ModulesPanel(self.editor, self.notify, self._guard,
                                    lambda: self._fill_palette(self.palette_search.value_input or ""))
        self.editor.on_drop_other = self._guard("Adding the module", self.modules.add_from_library)
        self.inspector = Inspector(self._guard("Changing the parameter", self._param_changed),
                                   self._guard("Deleting", self._delete), self._guard("Renaming", self._rename))
        self.sweep = SweepPanel(lambda: self.circuit, self._guard("Loading the variant", self._variant_picked),
                                self.notify, dt=DT)
        self.link = BrowserLink(width=0, height=0, margin=0)
        self.link.param.watch(self._acked, "ack")
        self.link.param.watch(self._guard("Autosave", self._got_tab), ["tab_id", "browser_id"])
        self.link.on_command = self._guard("The shortcut", self.command)
        self.link.on_restore = self._guard("Restoring", self._restore)
        self._build_controls()
        self.training = TrainingPanel(lambda: self.circuit, self.load_circuit, self._trained_values_written, self.notify)
        self.gallery = Gallery(self._guard("Opening the demo", self.open_demo))
        self.gallery.panel.visible = False
        self.demo_area = pn.Column(sizing_mode="stretch_width")
        self.views = pn.Column(sizing_mode="stretch_width", css_classes=["wb-views"])
        self.layout = self._layout()
        self._sync_view_choice()
        self._rebuild_views()
        self._history_changed()
        self._compile()  # ahead of Run, in the simulation process: Run then starts at once

    def _guard(self, what: str, fn):
        """Wrap a callback: any exception becomes a message to the user and the circuit is kept."""
        def run(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception as e:  # noqa: BLE001 - nothing may only reach the server log
                traceback.print_exc()
                kept = self.editor._current
                if self.circuit.to_json() != kept:
                    self.editor.restore(kept)
                self.notify(f"{what} failed: {type(e).__name__}: {e}. Your circuit is unchanged.", "danger")
        return run

    # -- widgets ---------------------------------------------------------------------------------
    def _build_controls(self) -> None:
        self.palette_search = pn.widgets.TextInput(placeholder="Search blocks…", sizing_mode="stretch_width",
                                                   margin=(0, 5), css_classes=["wb-palette-search"])
        self.palette_search.param.watch(lambda e: self._fill_palette(e.new), "value_input")
        self.palette = pmui.MenuList(items=[], draggable=True, drag_type=PALETTE_DRAG_TYPE, highlight=False,
                                     sizing_mode="stretch_width", css_classes=["wb-palette"])
        self._fill_palette("")
        self.palette.on_click(self._guard("Adding the block", self._palette_clicked))
        b = dict(width=70, margin=(5, 2))

        def button(label, css, action, what, **kw):
            w = pn.widgets.Button(label=label, css_classes=[css], **{**b, **kw})
            w.on_click(self._guard(what, lambda _e: action()))
            return w

        self.run_button = button("▶ Run", "wb-run", self.run, "Run", button_type="success")
        self.pause_button = button("Pause", "wb-pause", self.pause, "Pause", button_type="warning")
        self.step_button = button("Step", "wb-step", self.step, "Step")
        self.reset_button = button("Reset", "wb-reset", self.reset, "Reset")
        self.new_button = button("New", "wb-new", self.new_circuit, "New")
        self.undo_button = button("↶ Undo", "wb-undo", self.undo, "Undo")
        self.redo_button = button("↷ Redo", "wb-redo", self.redo, "Redo")
        self.fit_button = button("Fit", "wb-fit", self.link_fit, "Fit", width=50)
        self.help_button = button("Help", "wb-help-button", self.toggle_help, "Help", button_type="primary",
                                  button_style="outline")
        self.gallery_button = button("Gallery", "wb-gallery-button", self.toggle_gallery, "Gallery",
                                     button_type="primary", button_style="outline")
        self.speed = pn.widgets.Select(options=list(SPEEDS), value="max", width=105, margin=(5, 2),
                                       css_classes=["wb-speed"])
        self.speed.param.watch(lambda e: self.runner.set_speed(SPEEDS[e.new]), "value")
        self.status = pn.pane.HTML("", css_classes=["wb-status"], margin=(12, 6), min_width=250)
        self.progress = pn.indicators.Progress(value=-1, active=True, width=110, height=14, margin=(14, 4),
                                               visible=False, css_classes=["wb-progress"])
        self.circuit_name = pn.widgets.TextInput(value=self.circuit.name, width=150, margin=(5, 2),
                                                 css_classes=["wb-circuit-name"], placeholder="circuit name")
        self.circuit_name.param.watch(self._guard("Renaming the circuit", self._circuit_renamed), "value")
        self.download = pn.widgets.FileDownload(callback=self._save, filename=safe_filename(self.circuit.name, ".json"),
                                                label="Save", button_type="primary", button_style="outline",
                                                width=70, margin=(5, 2), css_classes=["wb-save"])
        self.exports = ExportMenu(lambda: self.circuit, self.notify, dt=DT, seed=0)
        self.upload = pn.widgets.FileInput(accept=".json", multiple=False, width=190, margin=(8, 2),
                                           css_classes=["wb-open"])
        self.upload.param.watch(self._guard("Opening the file", self._opened), "value")
        self.probe_choice = pn.widgets.MultiChoice(name="Views (probes shown)", options=[], sizing_mode="stretch_width",
                                                   css_classes=["wb-probes"])
        self.probe_choice.param.watch(self._guard("Choosing views", self._views_chosen), "value")
        self.history = pn.pane.HTML("", css_classes=["wb-history"], sizing_mode="stretch_width",
                                    styles={"font-size": "12px"})
        self.help = pn.Column(
            pn.Row(pn.pane.Markdown("## Help", margin=(0, 10)), pn.layout.HSpacer(),
                   button("Close", "wb-help-close", self.toggle_help, "Help")),
            pn.pane.Markdown(HELP.format(shortcuts="\n".join(f"- **{k}**: {c.replace('run_pause', 'run / pause').replace('_', ' ')}"
                                                              for c, k in SHORTCUTS.items())),
                             css_classes=["wb-help-text"], sizing_mode="stretch_width"),
            visible=False, css_classes=["wb-help"], width=560,
            styles={"position": "fixed", "top": "60px", "right": "16px", "z-index": "2500", "background": "white",
                    "box-shadow": "0 2px 14px rgba(0,0,0,.3)", "padding": "8px", "border-radius": "6px",
                    "max-height": "80vh", "overflow-y": "auto"})

    def _fill_palette(self, query: str) -> None:
        """Blocks under their category headers, filtered by the search text (name, category, summary)."""
        q = (query or "").strip().lower()
        items, category = [], None
        for name, cls in block_types().items():
            tip = tooltip(cls)
            if q and q not in name.lower() and q not in cls.category.lower() and q not in tip.lower():
                continue
            if cls.category != category:
                category = cls.category
                items.append({"label": category.upper(), "selectable": False, "draggable": False,
                              "icon": "folder_open"})
            items.append({"label": name, "tooltip": tip, "icon": None})
        items += self.modules.palette_items(q)
        self.palette.items = items or [{"label": "no block matches", "selectable": False, "draggable": False}]

    def _layout(self):
        toolbar = pn.FlexBox(
            pn.pane.HTML("<span class='wb-title'>Workbench</span>", margin=(10, 8)),
            self.run_button, self.pause_button, self.step_button, self.reset_button, self.speed, self.progress, self.status,
            self.new_button, self.undo_button, self.redo_button, self.fit_button, self.circuit_name, self.download,
            self.exports.panel, pn.pane.HTML("Open:", margin=(12, 2)), self.upload, self.gallery_button,
            self.help_button, self.link,
            flex_wrap="wrap", align_items="center", sizing_mode="stretch_width", css_classes=["wb-toolbar"],
            styles={"border-bottom": "1px solid #ddd"})
        sidebar = pn.Column(
            pn.pane.Markdown("#### Blocks\nClick to add, or drag onto the canvas.", margin=(0, 5)),
            self.palette_search,
            pn.Column(self.palette, scroll=True, sizing_mode="stretch_width", styles={"height": "34vh"},
                      css_classes=["wb-palette-box"]),
            pn.layout.Divider(), self.inspector.panel, self.modules.panel, self.sweep.panel,
            pn.Card(self.history, title="Edits (undo list)", collapsed=True, sizing_mode="stretch_width",
                    css_classes=["wb-history-card"]),
            width=290, css_classes=["wb-sidebar"])
        canvas = pn.Column(self.editor.flow, sizing_mode="stretch_width", css_classes=["wb-canvas"],
                           styles={"height": "max(320px, calc(100vh - 330px))", "flex": "0 0 auto"})
        # the views go last: their column can grow past the height the layout first gave it
        main = pn.Column(canvas, self.probe_choice, self.demo_area, self.training.panel, self.views,
                         sizing_mode="stretch_width")
        return pn.Column(pn.pane.HTML(f"<style>{CSS}</style>", width=0, height=0, margin=0), toolbar,
                         pn.Row(sidebar, main, sizing_mode="stretch_width"), self.message_box, self.gallery_panel(),
                         self.help, self.inspector.model_overlay, sizing_mode="stretch_width")

    def gallery_panel(self):
        close = pn.widgets.Button(label="Close", css_classes=["wb-gallery-close"], width=80)
        close.on_click(lambda _e: self.toggle_gallery())
        self.gallery_overlay = pn.Column(
            pn.Row(pn.layout.HSpacer(), close), self.gallery.panel, visible=False, css_classes=["wb-gallery-overlay"],
            styles={"position": "fixed", "top": "50px", "left": "2vw", "width": "96vw", "max-height": "88vh",
                    "overflow-y": "auto", "z-index": "2000", "background": "white", "padding": "8px",
                    "box-shadow": "0 2px 16px rgba(0,0,0,.35)", "border-radius": "6px"})
        return self.gallery_overlay

    def toggle_gallery(self) -> None:
        shown = not self.gallery_overlay.visible
        self.gallery_overlay.visible = self.gallery.panel.visible = shown

    def link_fit(self) -> None:
        """Frame every block in the canvas (the browser measures the canvas and the nodes)."""
        self.link.fit()

    def toggle_help(self) -> None:
        self.help.visible = not self.help.visible

    def notify(self, text: str, level: str = "info") -> None:
        self.message.param.update(object=text, alert_type=level)
        self.message_box.visible = bool(text)
        self._message_at = time.monotonic() if level in ("info", "success") else float("inf")

    # -- commands (buttons and shortcuts) ----------------------------------------------------------
    def command(self, name: str) -> None:
        if name == "undo":
            self.undo()
        elif name == "redo":
            self.redo()
        elif name == "save":
            file_name = safe_filename(self.circuit.name, ".json")
            self.link.download(file_name, self.circuit.to_json())
            self.notify(f"Saved {file_name} (download)", "success")
        elif name == "run_pause":
            self.pause() if self.runner.running else self.run()
        elif name == "select_all":
            self.editor.select_all()
        elif name == "delete":
            self.editor.delete_blocks(list(self.editor.selection))

    # -- editing ---------------------------------------------------------------------------------
    @property
    def circuit(self) -> Circuit:
        return self.editor.circuit

    def _palette_clicked(self, item) -> None:
        if self.modules.add_from_library(item.get("label")):
            return
        if item.get("label") not in block_types():
            return
        name = self.editor.add_block(item["label"])
        self.notify(f"Added {name} ({item['label']}); wire its ports on the canvas.", "success")

    def _changed(self, kind: str) -> None:
        if kind == "structure":
            self.dirty = True
            self._sync_view_choice()
        self.modules.sync()
        self._persist()

    def _select(self, name: str | None) -> None:
        block = self.circuit.block(name) if name in self.circuit.graph else None
        self.selected = name if block else None
        self.modules.sync()
        self.inspector.show(self.selected, block)
        self.sweep.show(self.selected, block)

    def _variant_picked(self, name: str, values: dict) -> None:
        """A point clicked in the sweep plot: its values onto the block, as if typed."""
        for pname, value in values.items():
            setattr(self.circuit.block(name), pname, value)
            self._param_changed(name, pname, value)
        self.inspector.show(name, self.circuit.block(name))

    def _trained_values_written(self) -> None:
        """The training panel wrote (or took back) trained values: one undoable edit."""
        self.editor.commit("Trained values written into the circuit")
        self.editor.refresh()
        self._changed("structure")

    def _delete(self, name: str) -> None:
        self.editor.delete_block(name)
        self.notify(f"Deleted {name} (Undo restores it)", "info")

    def _rename(self, old: str, new: str) -> None:
        try:
            new = self.editor.rename(old, new)  # inside a module the name keeps its prefix
        except CircuitError as e:
            self.notify(str(e), "danger")
            self._select(old)
            return
        self._select(new)
        self.notify(f"Renamed {old} to {new}", "success")

    def _circuit_renamed(self, event) -> None:
        name = event.new.strip()
        if name and name != self.circuit.name:
            self.editor.rename_circuit(name)
            self._persist()
        self.download.filename = safe_filename(self.circuit.name, ".json")

    def new_circuit(self) -> None:
        self.demo, self.demo_panel = None, None
        self.demo_area.objects = []
        self.editor.set_circuit(Circuit("untitled"), label="New circuit")
        self._circuit_loaded()
        self.notify("New empty circuit (Undo brings the previous one back).", "info")

    def undo(self) -> None:
        what = self.editor.undo()
        self.notify("Nothing to undo" if what is None else f"Undone: {what}", "info")
        self._after_history()

    def redo(self) -> None:
        what = self.editor.redo()
        self.notify("Nothing to redo" if what is None else f"Redone: {what}", "info")
        self._after_history()

    def _after_history(self) -> None:
        self._select(self.selected)
        if self.circuit_name.value != self.circuit.name:
            self.circuit_name.value = self.circuit.name

    def _history_changed(self) -> None:
        ed = self.editor
        self.undo_button.disabled, self.redo_button.disabled = not ed.undo_stack, not ed.redo_stack
        done = [f"<li>{html.escape(label)}</li>" for label, _ in reversed(ed.undo_stack[-30:])]
        undone = [f"<li style='color:#999'>{html.escape(label)} (undone)</li>" for label, _ in ed.redo_stack[-10:]]
        self.history.object = ("<ol style='margin:0;padding-left:18px'>" + "".join(undone + done) + "</ol>"
                               if done or undone else "<i>No edits yet.</i>")

    def _param_changed(self, block: str, name: str, value) -> None:
        shown = f"model {value.get('name', '')!r}" if isinstance(value, dict) else value  # a model declaration
        self.editor.commit(f"Set {block}.{name} = {shown}", key=f"param-{block}.{name}")
        if isinstance(self.circuit.block(block).param[name], param.Integer):
            self.editor.refresh()  # sizes are shown inside the node
        self._persist()
        layout = self.runner.layout
        if not self.dirty and layout is not None and name in layout["live"].get(block, ()):
            self.runner.set_param(block, name, value)  # the process answers within a chunk (~10 ms)
            return
        self.dirty = True
        if layout is not None:
            self.notify(f"{block}.{name} shapes the circuit: it applies at the next Reset (the run starts over).",
                        "info")

    # -- autosave --------------------------------------------------------------------------------
    def _persist(self) -> None:
        if self._pending_restore is None:
            store.save(self.browser_id, self.tab_id, self.circuit.to_json())

    def _got_tab(self, *_events) -> None:
        """The browser told us its tab id: offer its autosave (shown by the browser link itself:
        layout changes made while the page renders its first models did not reach the page)."""
        if self.link.tab_id and self.link.browser_id and not self.tab_id:
            self.browser_id, self.tab_id = self.link.browser_id, self.link.tab_id
            self._offer_restore()

    def _offer_restore(self) -> None:
        """Offer this tab's autosave, else this browser's newest (a new tab), unless it is what is shown."""
        found = store.load(self.browser_id, self.tab_id) or store.latest(self.browser_id)
        if found is None or found[0] == self.circuit.to_json():
            self._persist()
            return
        text, saved_at = found
        try:
            saved = Circuit.from_json(text)
        except CircuitError:
            self._persist()
            return
        self._pending_restore = text
        self.link.offer_restore(f"Autosaved circuit <b>{html.escape(saved.name)}</b> ({len(saved.graph)} blocks, "
                                f"{len(saved.wires)} wires, saved {store.age_text(saved_at)}). Restore it?")

    def _restore(self, yes: bool) -> None:
        text, self._pending_restore = self._pending_restore, None
        if yes and text is not None:
            self.load_circuit(Circuit.from_json(text))
            self.notify("Restored the autosaved circuit.", "success")
        else:
            self._persist()

    # -- files -----------------------------------------------------------------------------------
    def _save(self):
        self.download.filename = safe_filename(self.circuit.name, ".json")
        return io.StringIO(self.circuit.to_json())

    def _opened(self, event) -> None:
        if event.new is None:
            return
        filename = self.upload.filename
        try:
            if is_module_text(event.new):  # a module file is added to the circuit, not opened in its place
                self.modules.add_text(event.new, filename)
                return
            try:
                circuit = Circuit.from_json(event.new)
            except CircuitError as e:
                self.notify(f"Could not open {filename}: {e}. The current circuit is unchanged.", "danger")
                return
            self.load_circuit(circuit, label=f"Open {filename}")
            self.notify(f"Opened {filename}: {len(circuit.graph)} blocks, {len(circuit.wires)} wires.", "success")
        finally:
            self.upload.clear()  # so the same file can be opened again

    def load_circuit(self, circuit: Circuit, demo=None, label: str | None = None) -> None:
        """Show ``circuit``; with a label this is an undoable edit (Open), else history restarts."""
        self.runner.pause()
        self.runner.layout = None
        self.demo = demo
        self.demo_panel = DemoPanel(demo) if demo is not None else None
        self.demo_area.objects = [self.demo_panel.panel] if demo is not None else []
        self.editor.set_circuit(circuit, label=label)
        self._circuit_loaded()
        self.link.fit()  # the opened circuit framed in the canvas

    def _circuit_loaded(self) -> None:
        self.dirty = True
        self.extra_views.clear()
        self.hidden_views.clear()
        self.picks.clear()
        if self.circuit_name.value != self.circuit.name:
            self.circuit_name.value = self.circuit.name
        self.download.filename = safe_filename(self.circuit.name, ".json")
        self._persist()
        self._sync_view_choice()
        self.modules.sync()
        self._rebuild_views()
        self._compile()  # ahead of Run (edits later mark it dirty: Run compiles again)

    def open_demo(self, demo) -> None:
        """Open a gallery demo: its circuit on the canvas, its teaching text and live metric."""
        self.load_circuit(demo.circuit(), demo, label=f"Open demo {demo.title}")
        self.gallery_overlay.visible = self.gallery.panel.visible = False
        if demo.speed in SPEEDS:
            self.speed.value = demo.speed
        self.notify(f"Opened the demo '{demo.title}': press Run.", "success")

    # -- views -----------------------------------------------------------------------------------
    def probe_kinds(self) -> dict[str, str]:
        """Every probe the circuit's blocks declare, ``block.probe`` -> view kind."""
        return {f"{n}.{k}": pr.view for n, b in self.circuit.blocks.items() for k, pr in b.probes.items()}

    def shown_views(self) -> list[str]:
        """The block defaults (kept in sync as blocks come and go) plus the user's picks."""
        paths = self.probe_kinds()
        default = set(default_shown(self.circuit, paths))
        return [p for p in paths if (p in default or p in self.extra_views) and p not in self.hidden_views]

    def _sync_view_choice(self) -> None:
        self._syncing = True
        try:
            self.probe_choice.param.update(options=list(self.probe_kinds()), value=self.shown_views())
        finally:
            self._syncing = False

    def _views_chosen(self, event) -> None:
        if getattr(self, "_syncing", False):
            return
        default = set(default_shown(self.circuit, self.probe_kinds()))
        chosen = set(event.new)
        self.extra_views = chosen - default
        self.hidden_views = default - chosen
        if self.runner.layout is not None:
            self._rebuild_views(self.shown_views())

    # -- running ---------------------------------------------------------------------------------
    def _compile(self, then=None) -> bool:
        """Compile the circuit in the simulation process (off the event loop); ``then`` ("run" or
        ("step", n)) follows once it is compiled. Progress shows beside the status."""
        dt = self.demo.dt if self.demo is not None else DT
        self.runner.load(self.circuit.to_json(), self.demo.name if self.demo is not None else None, dt,
                         self.shown_views(), self.picks)
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
        if self.dashboard is None:
            self._rebuild_views()
        if self.runner.error is not None:
            self.notify(f"{self.runner.error} Press Reset to start again.", "danger")
            return
        self.runner.run()

    def pause(self) -> None:
        self.runner.pause()
        self._after_load = None if self._after_load == "run" else self._after_load
        self.tick(final=True)

    def step(self, steps: int = STEP_BUTTON_STEPS) -> None:
        self.runner.pause()
        if self.compiled(("step", steps)):
            if self.dashboard is None:
                self._rebuild_views()
            self.runner.step(steps)

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
            if list(shown) != layout["shown"] or self.picks != layout.get("picks", {}):
                self.runner.show(shown, self.picks)  # answered by a new layout (``loaded``)
            if self.dashboard is not None:
                return
        self.dashboard = Dashboard(layout)
        self.connectome = ConnectomeView(layout)
        d = self.dashboard
        for v in d.views:
            if v.kind == "raster":
                v.on_brush = self._guard("Showing the brushed neurons", self._brushed)
        move = self._guard("Moving the view", self._move_view)
        cards = {view_key(v): (v.kind, view_card(v, on_move=move)) for v in d.views}
        if self.connectome.nodes:  # no spiking neurons, no connectome
            cards["connectome"] = ("connectome", view_card(self.connectome, "Connectome", on_move=move))
        self._cards = cards
        self._arrange_views()

    def _arrange_views(self, new: bool = True) -> None:
        """The cards in the user's order (views never moved keep their place). A move only sets
        each card's CSS order: the plots stay where they were drawn, nothing is rendered again."""
        keys = list(self._cards)
        order = [k for k in self.view_order if k in self._cards] + [k for k in keys if k not in self.view_order]
        for i, k in enumerate(order):
            self._cards[k][1].styles = {"order": str(i)}
        if new:
            self.views.objects = [card for _kind, card in self._cards.values()]

    def _move_view(self, key: str, step: int) -> None:
        """Move a view up (-1) or down (+1); the order holds for this session, over recompiles."""
        order = [k for k in self.view_order if k in self._cards] + [k for k in self._cards if k not in self.view_order]
        i = order.index(key)
        j = min(max(i + step, 0), len(order) - 1)
        order.insert(j, order.pop(i))
        self.view_order = order + [k for k in self.view_order if k not in order]
        self._arrange_views(new=False)

    def _brushed(self, picked: dict[str, list[int]]) -> None:
        """Neurons brushed in the raster: their traces (membrane potential, else the population's
        first trace probe), recorded from now on; the trace view shows them."""
        kinds, named, cut = self.probe_kinds(), [], False
        for raster, neurons in picked.items():
            block = raster.partition(".")[0]
            traces = [p for p, k in kinds.items() if k == "trace" and p.partition(".")[0] == block]
            if not traces:
                continue
            trace = f"{block}.v" if f"{block}.v" in traces else traces[0]
            self.picks[trace] = neurons[:MAX_PICKS]
            if trace not in self.shown_views():
                self.extra_views.add(trace)
                self.hidden_views.discard(trace)
            named.append(f"{trace} of neuron(s) {', '.join(map(str, neurons[:MAX_PICKS]))}")
            cut = cut or len(neurons) > MAX_PICKS
        if not named:
            self.notify("The brushed populations have no trace probe to show.", "info")
            return
        self._sync_view_choice()
        self.runner.show(self.shown_views(), self.picks)
        self.notify(f"Showing {'; '.join(named)}" + (f" (the first {MAX_PICKS} per population)" if cut else "") + ".",
                    "success")

    # -- messages from the simulation process --------------------------------------------------------
    def _handle(self, msg) -> None:
        kind = msg[0]
        if kind == "loaded":
            self.progress.visible = False
            self._last_change = ""
            then, self._after_load = self._after_load, None
            if then is not None or self.dashboard is not None:
                self._rebuild_views()  # a compile ahead of Run keeps "Press Run": the page may still be rendering
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
        self._request_frame()  # a frame held back while the browser lagged goes now

    def tick(self, final: bool = False) -> None:
        """Handle the process's messages, draw the frame it sent, ask for the next (~20 Hz); a
        failure pauses the run and is shown once."""
        if self.message_box.visible and time.monotonic() - self._message_at > MESSAGE_SECONDS:
            self.message_box.visible = False
        try:
            self._tick(final)
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            self.runner.pause()
            self.notify(f"Drawing the views failed: {type(e).__name__}: {e}. The run is paused.", "danger")

    def _tick(self, final: bool) -> None:
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
        self._request_frame(final)

    def _request_frame(self, final: bool = False) -> None:
        """Ask the process for the next frame unless one is on its way or the browser lags."""
        runner = self.runner
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
        # while running only the clock moves: 4 updates a second, as each one restyles the page
        steady = runner.running and self.status.object.startswith(html.partition(" · ")[0])
        if self.status.object != html and not (steady and time.monotonic() - self._status_at < STATUS_EVERY_S):
            self.status.object, self._status_at = html, time.monotonic()

    def close(self) -> None:
        self.runner.close()
        self.training.close()


def create_app(token: str | None = None):
    """Panel entry point: one Workbench per browser session. With a token, a page opened
    without ``?token=<token>`` gets only a refusal."""
    pn.extension("jsoneditor", notifications=False)
    if token:
        given = (pn.state.session_args.get("token") or [b""])[0]
        if not hmac.compare_digest(given, token.encode()):
            return pn.pane.Markdown("## Access denied\nThis workbench needs its access token: open the address "
                                    "the server printed (it ends in `?token=...`).", css_classes=["wb-denied"])
    wb = Workbench()
    callback = pn.state.add_periodic_callback(wb.tick, period=FRAME_MS)
    wb.runner.draw_frames_with(pn.state.curdoc, wb.tick)  # a frame is drawn when it arrives, not at the next tick

    def destroyed(_ctx):
        callback.stop()
        wb.close()

    pn.state.on_session_destroyed(destroyed)
    return wb.layout


def app_factory(token: str | None = None):
    """The page function ``pn.serve`` calls per session (a plain function: Panel does not call partials)."""
    def app():
        return create_app(token)
    return app
