"""Modules in the app: group the selection into a module, ungroup, collapse/expand, and the
user's module library ("My modules" in the palette).

The library is a folder of module files (``$WORKBENCH_MODULES``, default
``~/.local/share/workbench/modules``), one JSON file per module, read with the same checks as
any circuit file. Every action goes through the editor, so it is one undoable edit.
"""
from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Callable

import panel as pn

from simulations import CircuitError, Module
from simulations import modules as mod
from simulations.export import safe_filename
from simulations.files import MODULE_FORMAT

MARK = "▣ "  # palette label prefix of a library module
MAX_LIBRARY = 200  # files listed from the library folder


def library_dir() -> Path:
    root = os.environ.get("WORKBENCH_MODULES") or Path.home() / ".local" / "share" / "workbench" / "modules"
    return Path(root)


def library() -> dict[str, Path]:
    """Module files in the library, by name (their file stem), sorted."""
    folder = library_dir()
    if not folder.is_dir():
        return {}
    files = sorted(p for p in folder.glob("*.json") if p.is_file())[:MAX_LIBRARY]
    return {p.stem: p for p in files}


def save_to_library(module: Module) -> Path:
    folder = library_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / safe_filename(module.name, ".json")
    path.write_text(module.to_json())
    return path


def is_module_text(text) -> bool:
    """Does this file start as a module file does (``{"format": "workbench-module"``)? Then Open
    adds it to the circuit as a module instead of opening it in the circuit's place."""
    if isinstance(text, bytes):
        text = text[:200].decode("utf-8", "replace")
    return isinstance(text, str) and re.match(r'\s*\{\s*"format"\s*:\s*"' + MODULE_FORMAT + '"', text[:200]) is not None


class ModulesPanel:
    """Sidebar card: name + Group, the module to act on + Ungroup / Collapse / Expand /
    Save to My modules / download, and a file input to add a module file."""

    def __init__(self, editor, notify: Callable[[str, str], None], guard, palette_changed: Callable[[], None]):
        self.editor, self.notify, self.palette_changed = editor, notify, palette_changed
        b = dict(margin=(3, 2), width=128)  # two a row fit the 290 px sidebar
        self.name = pn.widgets.TextInput(value="module1", placeholder="module name", margin=(3, 2), width=128,
                                         css_classes=["wb-module-name"])
        self.group_button = pn.widgets.Button(label="Group selection", css_classes=["wb-group"], button_type="primary", **b)
        self.module = pn.widgets.Select(options=[], margin=(3, 2), width=260,
                                        css_classes=["wb-module-choice"])
        self.ungroup_button = pn.widgets.Button(label="Ungroup", css_classes=["wb-ungroup"], **b)
        self.collapse_button = pn.widgets.Button(label="Collapse/expand", css_classes=["wb-collapse"], **b)
        self.library_button = pn.widgets.Button(label="To My modules", css_classes=["wb-module-save"], **b)
        self.download = pn.widgets.FileDownload(callback=guard("Saving the module", self._download), filename="module.json",
                                                label="Download", css_classes=["wb-module-download"],
                                                button_style="outline", **b)
        self.upload = pn.widgets.FileInput(accept=".json", multiple=False, margin=(3, 2), css_classes=["wb-module-open"])
        for w, fn, what in [(self.group_button, self.group, "Grouping"), (self.ungroup_button, self.ungroup, "Ungrouping"),
                            (self.collapse_button, self.toggle, "Collapsing"),
                            (self.library_button, self.save_to_library, "Saving the module")]:
            w.on_click(guard(what, lambda _e, fn=fn: fn()))
        self.upload.param.watch(guard("Adding the module file", self._uploaded), "value")
        self.module.param.watch(lambda e: setattr(self.download, "filename", safe_filename(e.new or "module", ".json")),
                                "value")
        self.panel = pn.Card(
            pn.pane.Markdown("Select blocks on the canvas (Shift+click or drag a box), name the module, "
                             "then **Group**. Wires crossing the selection become its ports.",
                             margin=(0, 4), styles={"font-size": "12px"}),
            pn.Row(self.name, self.group_button),
            self.module, pn.Row(self.ungroup_button, self.collapse_button),
            pn.Row(self.library_button, self.download),
            pn.pane.HTML("Add a module file:", margin=(4, 4), styles={"font-size": "12px"}), self.upload,
            title="Modules", collapsed=False, sizing_mode="stretch_width", css_classes=["wb-modules-card"])
        self.sync()

    # -- state ---------------------------------------------------------------------------------
    def sync(self) -> None:
        """Keep the module list (and a fresh default name) in step with the circuit."""
        circuit = self.editor.circuit
        names = list(circuit.modules)
        picked = self._picked() or (self.module.value if self.module.value in names else None)
        self.module.param.update(options=names, value=picked if picked in names else (names[0] if names else None))
        for w in (self.ungroup_button, self.collapse_button, self.library_button, self.download):
            w.disabled = not names
        if self.name.value in circuit.modules or not self.name.value:
            self.name.value = self._fresh_name()

    def _fresh_name(self) -> str:
        taken = set(self.editor.circuit.graph.nodes) | set(self.editor.circuit.modules)
        k = 1
        while any(n == f"module{k}" or n.startswith(f"module{k}{mod.SEP}") for n in taken):
            k += 1
        return f"module{k}"

    def _picked(self) -> str | None:
        """The module the canvas selection points at: a selected module, or the module around a selected block."""
        circuit = self.editor.circuit
        for name in self.editor.selection:
            if name in circuit.modules:
                return name
            around = mod.owner(circuit, name)
            if around is not None:
                return around
        return None

    # -- actions -------------------------------------------------------------------------------
    def group(self) -> None:
        names = list(self.editor.selection)
        if not names:
            self.notify("Select the blocks to group first (Shift+click them, or drag a box with Shift).", "warning")
            return
        try:
            flat = self.editor.group(names, self.name.value.strip())
        except CircuitError as e:
            self.notify(f"Cannot group: {e}", "danger")
            return
        rec = self.editor.circuit.modules[flat]
        self.sync()
        self.module.value = flat
        self.notify(f"Grouped {len(names)} into module {flat}; ports: {', '.join(rec.ports) or 'none'}.", "success")

    def ungroup(self) -> None:
        name = self.module.value
        if name:
            try:
                moved = self.editor.ungroup(name)
            except CircuitError as e:
                self.notify(str(e), "danger")
                return
            self.sync()
            self.notify(f"Ungrouped {name}: {', '.join(moved)}", "success")

    def toggle(self) -> None:
        name = self.module.value
        if name:
            collapsed = not self.editor.circuit.modules[name].collapsed
            self.editor.set_collapsed(name, collapsed)
            self.notify(f"{'Collapsed' if collapsed else 'Expanded'} {name}", "info")

    def save_to_library(self) -> None:
        name = self.module.value
        if name:
            path = save_to_library(self.editor.circuit.module(name))
            self.palette_changed()
            self.notify(f"Saved {name} to My modules ({path.name}); add it from the palette.", "success")

    def _download(self):
        name = self.module.value
        if not name:
            return io.StringIO("")
        module = self.editor.circuit.module(name)
        self.download.filename = safe_filename(module.name, ".json")
        return io.StringIO(module.to_json())

    def add_text(self, text, filename: str = "the file", position=None) -> str | None:
        """Add a module file's module to the circuit (refused with the file's problem)."""
        try:
            module = Module.from_json(text)
        except CircuitError as e:
            self.notify(f"Could not add {filename}: {e}. The circuit is unchanged.", "danger")
            return None
        name = self.editor.add_module(module, position)
        self.sync()
        self.module.value = name
        self.notify(f"Added module {name} from {filename}; ports: {', '.join(module.ports) or 'none'}.", "success")
        return name

    def _uploaded(self, event) -> None:
        if event.new is None:
            return
        try:
            self.add_text(event.new, self.upload.filename or "the file")
        finally:
            self.upload.clear()

    # -- the palette ---------------------------------------------------------------------------
    def palette_items(self, query: str) -> list[dict]:
        q = (query or "").strip().lower()
        names = [n for n in library() if not q or q in n.lower() or q in "my modules"]
        if not names:
            return []
        return [{"label": "MY MODULES", "selectable": False, "draggable": False, "icon": "folder_open"}] + [
            {"label": MARK + n, "tooltip": f"Your module {n} (from {library_dir()})", "icon": None} for n in names]

    def add_from_library(self, label: str, position=None) -> bool:
        """A palette item (click or drop) that names a library module: add it. False if it is not one."""
        if not isinstance(label, str) or not label.startswith(MARK):
            return False
        path = library().get(label[len(MARK):])
        if path is None:
            self.notify(f"{label[len(MARK):]} is no longer in My modules ({library_dir()}).", "warning")
            return True
        self.add_text(path.read_bytes(), path.name, position)
        return True
