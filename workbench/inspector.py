"""The inspector: a form generated from the selected block's param declarations.

Values are set on the block with ``setattr``, so param itself enforces bounds and types and
its own message (which names the bound) is what the user sees; the widget then goes back to
the block's value. Live parameters get a slider too, so they can be dragged while running.
"""
from __future__ import annotations

import html
import json
import math
import re
from typing import Callable

import panel as pn
import param

from components import Block

from .blocks import is_live, summary
from .model_editor import ModelEditor


SLIDER_LIMIT = 1e12  # beyond this a slider is no use (and non-finite ends break it): the box only


def slider_range(p: param.Number, value: float) -> tuple[float, float] | None:
    """A draggable range: the declared bounds where given, else around the current value;
    None where no sensible finite range exists (a huge or non-finite value)."""
    if not math.isfinite(value) or abs(value) > SLIDER_LIMIT:
        return None
    lo, hi = p.bounds or (None, None)
    span = max(abs(value) * 2.0, 1.0)
    lo = value - span if lo is None else lo
    hi = value + span if hi is None else hi
    lo, hi = float(lo), float(max(hi, lo + 1e-6))
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi - lo > 2 * SLIDER_LIMIT:
        return None
    return lo, hi


def unit(doc: str | None) -> str:
    """The unit a param's doc ends with, e.g. "membrane time constant (ms)" -> "ms"."""
    m = re.search(r"\(([^()]{1,24})\)\s*$", doc or "")
    return m.group(1) if m else ""


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


class Inspector:
    """Shows one block at a time; ``on_change(block_name, param_name, value)`` after a change
    the block accepted, ``on_delete(block_name)`` for the delete button."""

    def __init__(self, on_change: Callable[[str, str, object], None], on_delete: Callable[[str], None],
                 on_rename: Callable[[str, str], None] = lambda old, new: None):
        self.on_change, self.on_delete, self.on_rename = on_change, on_delete, on_rename
        self.name: str | None = None
        self.block: Block | None = None
        self.error = pn.pane.Alert("", alert_type="danger", visible=False, margin=(4, 5),
                                   css_classes=["wb-param-error"])
        self.body = pn.Column(sizing_mode="stretch_width")
        self.model_overlay = pn.Column(visible=False, width=660, css_classes=["wb-model-overlay"], styles={
            "position": "fixed", "top": "56px", "left": "300px", "z-index": "2400", "background": "white",
            "box-shadow": "0 2px 14px rgba(0,0,0,.3)", "padding": "8px", "border-radius": "6px",
            "max-height": "86vh", "overflow-y": "auto"})
        # the model form floats beside the sidebar: the page places ``model_overlay`` at its top level
        self.panel = pn.Column(pn.pane.Markdown("#### Inspector", margin=(0, 5)), self.error, self.body,
                               sizing_mode="stretch_width")
        self._widgets: dict[str, list[pn.widgets.Widget]] = {}
        self._setting = False
        self.show(None, None)

    def show(self, name: str | None, block: Block | None) -> None:
        self.name, self.block = name, block
        self.error.visible = False
        self._widgets = {}
        if block is None:
            self.body.objects = [pn.pane.Markdown("Select a block on the canvas to edit its parameters.",
                                                  styles={"color": "#666"})]
            return
        cls = type(block)
        rename = pn.widgets.TextInput(value=name, name=f"Name ({cls.__name__})", sizing_mode="stretch_width",
                                      margin=(2, 5), css_classes=["wb-rename"])
        rename.param.watch(lambda e, n=name: e.new != n and self.on_rename(n, e.new.strip()), "value")
        rows = [rename, pn.pane.Markdown(summary(cls), margin=(0, 5), styles={"font-size": "12px"})]
        self.model_overlay.visible = False
        for pname in block.user_params():
            if pname == "model" and isinstance(block.param[pname], param.Dict) and hasattr(block, "model_declaration"):
                rows.append(self._model_row(block))
            else:
                rows.append(self._row(block, pname))
        ports = ", ".join([f"in: {k} ({p.kind})" for k, p in cls.inputs.items()]
                          + [f"out: {k} ({p.kind})" for k, p in cls.outputs.items()])
        rows.append(pn.pane.Markdown(f"Ports: {ports or 'none'}", styles={"font-size": "11px", "color": "#555"}))
        delete = pn.widgets.Button(label=f"Delete {name}", button_type="danger", button_style="outline",
                                   css_classes=["wb-delete"], width=160)
        delete.on_click(lambda _e, n=name: self.on_delete(n))
        rows.append(delete)
        self.body.objects = rows

    def _model_row(self, block: Block):
        """A typed model: its equations shown, and a form (wider than the sidebar) to edit them."""
        m = block.model
        shown = pn.pane.HTML(f"<b>{html.escape(str(m.get('name', '')))}</b><pre style='font-size:10px;white-space:pre-wrap;"
                             f"overflow-wrap:anywhere;margin:2px 0'>{html.escape(str(m.get('equations', '')).strip())}\nthreshold: "
                             f"{html.escape(str(m.get('threshold', '')))}\nreset: {html.escape(str(m.get('reset', '')))}"
                             f"\nrefractory: {html.escape(str(m.get('refractory', '')))}</pre>",
                             sizing_mode="stretch_width", margin=(0, 5), css_classes=["wb-model-summary"])
        edit = pn.widgets.Button(label="Edit model equations…", button_type="primary", button_style="outline",
                                 css_classes=["wb-model-edit"], sizing_mode="stretch_width", margin=(2, 5))
        editor = ModelEditor(m, self._apply_model)
        close = pn.widgets.Button(label="Close", css_classes=["wb-model-close"], width=80)
        close.on_click(lambda _e: setattr(self.model_overlay, "visible", False))
        self.model_overlay.objects = [
            pn.Row(pn.pane.Markdown(f"### Model of {html.escape(self.name or '')}", margin=(0, 10)), pn.layout.HSpacer(),
                   close),
            pn.pane.Markdown("Units are fixed: time ms, voltage mV, current pA (or nA), conductance nS, "
                             "capacitance pF. Functions: exp, log, sqrt, abs, tanh, sin, cos, min, max.",
                             styles={"font-size": "12px", "color": "#555"}, margin=(0, 10)),
            editor.panel]
        edit.on_click(lambda _e: setattr(self.model_overlay, "visible", not self.model_overlay.visible))
        self.model_editor = editor
        return pn.Column(shown, edit, sizing_mode="stretch_width", margin=0)

    def _apply_model(self, model: dict) -> None:
        """A model that checked: onto the block (which checks it again), as one edit."""
        if self.block is None:
            return
        try:
            self.block.model = model
        except (ValueError, TypeError) as e:
            self.model_editor.result.object = f"<span style='color:#b00020'>Refused: {html.escape(str(e))}</span>"
            return
        name, block = self.name, self.block
        self.on_change(name, "model", block.model)
        self.show(name, block)

    def _row(self, block: Block, pname: str):
        p = block.param[pname]
        value = getattr(block, pname)
        u = unit(p.doc)
        label = f"{pname}" + (f" ({u})" if u else "") + (" · live" if is_live(block, pname) else "")
        common = dict(name=label, description=p.doc, sizing_mode="stretch_width", margin=(2, 5))
        if isinstance(p, param.Boolean):
            widget = pn.widgets.Checkbox(value=bool(value), **{k: v for k, v in common.items() if k != "description"})
        elif isinstance(p, param.Selector):
            widget = pn.widgets.Select(options=list(p.objects), value=value, **common)
        elif isinstance(p, param.Integer):
            widget = pn.widgets.IntInput(value=value, **common)
        elif isinstance(p, param.Number) and (value is None or _finite(value)):
            widget = pn.widgets.FloatInput(value=value, format="0[.]0000", **common)
        elif isinstance(p, param.Number):  # inf or NaN from a file: a text box the user can fix
            widget = pn.widgets.TextInput(value=str(value), **common)
        elif isinstance(p, param.List):
            widget = pn.widgets.TextAreaInput(value=json.dumps(value), height=60, **common)
        else:
            widget = pn.widgets.TextInput(value="" if value is None else str(value), **common)
        widget.css_classes = [f"wb-param-{pname}"]
        widgets = [widget]
        span = slider_range(p, float(value)) if is_live(block, pname) and _finite(value) else None
        if span is not None:
            lo, hi = span
            slider = pn.widgets.FloatSlider(start=lo, end=hi, value=float(value), step=(hi - lo) / 200,
                                            name="", show_value=False, sizing_mode="stretch_width",
                                            margin=(0, 10), css_classes=[f"wb-slider-{pname}"])
            widgets.append(slider)
        for w in widgets:
            w.param.watch(lambda e, n=pname, w=w: self._changed(n, w, e.new), "value")
        self._widgets[pname] = widgets
        return pn.Column(*widgets, sizing_mode="stretch_width", margin=0)

    def _changed(self, pname: str, source, raw) -> None:
        if self._setting or self.block is None:
            return
        p = self.block.param[pname]
        try:
            value = json.loads(raw) if isinstance(p, param.List) else raw
            if isinstance(p, param.Number) and not isinstance(p, param.Integer) and isinstance(value, str):
                value = float(value)
            if isinstance(p, param.String) and value == "" and p.allow_None:
                value = None
            setattr(self.block, pname, value)
        except (ValueError, TypeError) as e:  # param's own message, naming the bound
            self.error.object = f"**{self.name}.{pname}** refused: {e}"
            self.error.visible = True
            self._sync(pname)
            return
        self.error.visible = False
        self._sync(pname, skip=source)
        self.on_change(self.name, pname, getattr(self.block, pname))
        if isinstance(p, param.Number) and isinstance(source, pn.widgets.TextInput):
            self.show(self.name, self.block)  # a fixed non-finite value gets its number box and slider

    def _sync(self, pname: str, skip=None) -> None:
        """Put every widget of ``pname`` back to the block's value."""
        value = getattr(self.block, pname)
        self._setting = True
        try:
            for w in self._widgets.get(pname, []):
                if w is skip:
                    continue
                if isinstance(w, pn.widgets.FloatSlider):
                    if _finite(value):
                        w.value = min(max(float(value), w.start), w.end)
                elif isinstance(w, pn.widgets.TextAreaInput):
                    w.value = json.dumps(value)
                elif isinstance(w, pn.widgets.TextInput):
                    w.value = "" if value is None else str(value)
                else:
                    w.value = value
        finally:
            self._setting = False
