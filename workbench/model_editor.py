"""Typing a neuron model in the inspector: the fields of an equation declaration as text boxes,
checked by the model parser (components/equations.py) with each error shown under the field it
concerns, naming the symbol, the line and the column, with a caret under the spot.

Nothing typed here is evaluated: the text goes to the whitelist parser, and a model that
passes is applied as data (the block's ``model`` parameter, saved in the circuit file), as one
undoable edit. The fields follow ``NeuronModel``'s declaration; the library's models are
starting points.
"""
from __future__ import annotations

import html
import math
import re
from typing import Callable

import panel as pn

from components.equations import METHODS, EquationError, NeuronModel, compile_model
from components.neuron_models import LIBRARY

# field -> (label, what the user types); the order of the form
FIELDS = {
    "equations": ("Equations", "one per line: 'dv/dt = ... : mV', 'x = ... : pA', 'tau : ms', 'I : pA (input)'"),
    "threshold": ("Threshold", "a condition such as v > V_th"),
    "reset": ("Reset", "statements such as v = V_reset; w += b"),
    "refractory": ("Refractory period (ms)", "a number of ms or a parameter name"),
    "parameters": ("Parameter values", "one per line: name = value (in the unit the equations declare)"),
    "init": ("Initial values", "name = value or parameter, separated by ;"),
    "inputs": ("Synaptic inputs", "exc = state variable; inh = state variable (each arriving weight is added)"),
}
_POSITION = re.compile(r"line (\d+), column (\d+)")
_PAIR = re.compile(r"\s*([A-Za-z_]\w*)\s*=\s*(\S.*?)\s*")


def _pairs_text(mapping: dict, sep: str) -> str:
    return sep.join(f"{k} = {v}" for k, v in mapping.items())


def _read_pairs(text: str, field: str, numbers: bool) -> dict:
    """``name = value`` items separated by newlines or ';' (values: numbers, else names)."""
    out = {}
    for k, raw in enumerate(re.split(r"[;\n]", text), start=1):
        if not raw.strip() or raw.strip().startswith("#"):
            continue
        m = _PAIR.fullmatch(raw)
        if not m:
            raise ModelFieldError(field, f"item {k} ({raw.strip()[:40]!r}): expected 'name = value'")
        name, value = m.group(1), m.group(2)
        try:
            number = float(value)
        except ValueError:
            if numbers:
                raise ModelFieldError(field, f"{name}: {value[:40]!r} is not a number") from None
            out[name] = value
            continue
        if not math.isfinite(number):
            raise ModelFieldError(field, f"{name}: {value!r} is not a finite number")
        out[name] = number
    return out


class ModelFieldError(EquationError):
    """A model problem attributed to one field of the form."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def field_of(message: str) -> str:
    """Which field of the form a parser message is about (by how the parser words it)."""
    m = message.lower()
    for prefix, field in [("threshold", "threshold"), ("reset", "reset"), ("refractory", "refractory"),
                          ("parameter", "parameters"), ("init", "init"), ("input", "inputs"),
                          ("method", "method")]:
        if m.startswith(prefix):
            return field
    if "not linear" in m:
        return "method"
    return "equations"


class ModelEditor:
    """The form for one EquationNeuron's ``model``; ``on_apply(model_dict)`` once it checks."""

    def __init__(self, model: dict, on_apply: Callable[[dict], None]):
        self.on_apply = on_apply
        self.library = pn.widgets.Select(name="Start from a library model", options=["(this model)", *LIBRARY],
                                         sizing_mode="stretch_width", css_classes=["wb-model-library"])
        self.library.param.watch(self._template, "value")
        self.name = pn.widgets.TextInput(name="Model name", sizing_mode="stretch_width", css_classes=["wb-model-name"])
        self.method = pn.widgets.Select(name="Integration", options=list(METHODS), sizing_mode="stretch_width",
                                        css_classes=["wb-model-method"],
                                        description="exact: linear models (propagator exp(A dt)); else euler, rk2, rk4")
        self.boxes, self.errors = {}, {}
        mono = {"font-family": "monospace"}
        for field, (label, tip) in FIELDS.items():
            if field in ("equations", "parameters"):
                box = pn.widgets.TextAreaInput(name=label, placeholder=tip, description=tip, sizing_mode="stretch_width",
                                               height=170 if field == "equations" else 110, stylesheets=[
                                                   ":host textarea { font-family: monospace; font-size: 12px; }"])
            else:
                box = pn.widgets.TextInput(name=label, placeholder=tip, description=tip, sizing_mode="stretch_width",
                                           stylesheets=[":host input { font-family: monospace; font-size: 12px; }"])
            box.css_classes = [f"wb-model-{field}"]
            self.boxes[field] = box
            self.errors[field] = pn.pane.HTML("", visible=False, sizing_mode="stretch_width", margin=(0, 10),
                                              css_classes=[f"wb-model-error-{field}", "wb-model-error"],
                                              styles={"color": "#b00020", "font-size": "12px", **mono})
        self.errors["method"] = pn.pane.HTML("", visible=False, sizing_mode="stretch_width", margin=(0, 10),
                                             css_classes=["wb-model-error-method", "wb-model-error"],
                                             styles={"color": "#b00020", "font-size": "12px"})
        self.result = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["wb-model-result"],
                                   styles={"font-size": "12px"})
        check = pn.widgets.Button(label="Check", css_classes=["wb-model-check"], width=90)
        apply = pn.widgets.Button(label="Apply", button_type="primary", css_classes=["wb-model-apply"], width=90)
        check.on_click(lambda _e: self.check())
        apply.on_click(lambda _e: self.apply())
        form = [self.library, self.name]
        for field in FIELDS:
            form += [self.boxes[field], self.errors[field]]
        self.panel = pn.Column(*form, self.method, self.errors["method"], pn.Row(check, apply), self.result,
                               sizing_mode="stretch_width", css_classes=["wb-model-editor"])
        self.fill(model)

    def fill(self, model: dict) -> None:
        """Show a declaration in the form."""
        m = NeuronModel.from_dict(dict(model))
        self.doc = m.doc
        self.name.value = m.name
        self.method.value = m.method
        values = dict(equations=m.equations.strip("\n"), threshold=m.threshold, reset=m.reset,
                      refractory=str(m.refractory), parameters=_pairs_text(m.parameters, "\n"),
                      init=_pairs_text(m.init, "; "), inputs=_pairs_text(m.inputs, "; "))
        for field, text in values.items():
            self.boxes[field].param.update(value=text, value_input=text)
        self._show_errors(None)

    def _template(self, event) -> None:
        if event.new in LIBRARY:
            self.fill(LIBRARY[event.new].to_dict())
            self.result.object = f"Filled in from the library model <b>{html.escape(event.new)}</b>: edit, Check, Apply."

    def read(self) -> dict:
        """The declaration the form holds (as data; raises ModelFieldError for a malformed field)."""
        box = {f: b.value_input if getattr(b, "value_input", None) is not None else b.value for f, b in self.boxes.items()}
        refractory = box["refractory"].strip() or "0"
        try:
            refractory = float(refractory)
        except ValueError:
            pass
        return dict(name=self.name.value.strip() or "my_model", equations=box["equations"],
                    threshold=box["threshold"], reset=box["reset"], refractory=refractory,
                    parameters=_read_pairs(box["parameters"], "parameters", True),
                    inputs=_read_pairs(box["inputs"], "inputs", False),
                    init=_read_pairs(box["init"], "init", False), method=self.method.value, doc=self.doc)

    def check(self) -> dict | None:
        """Parse and check the form: the model, or None with the error shown under its field."""
        try:
            model = self.read()
            cm = compile_model(model)
            if "v" not in cm.state:
                raise ModelFieldError("equations", "no state variable 'v': the block's membrane potential output "
                                                   "needs 'dv/dt = ... : mV'")
        except EquationError as e:
            field = getattr(e, "field", None) or field_of(str(e))
            self._show_errors(field, str(e))
            self.result.object = ""
            return None
        self._show_errors(None)
        self.result.object = (f"<span style='color:#1b7f3b'>✓ The model checks</span>: state {', '.join(cm.state)}; "
                              f"parameters {', '.join(cm.params) or 'none'}; "
                              f"{'linear, exact integration' if cm.linear else 'nonlinear, ' + model['method']}.")
        return model

    def apply(self) -> None:
        model = self.check()
        if model is not None:
            self.on_apply(model)

    def _show_errors(self, field: str | None, message: str = "") -> None:
        for name, pane in self.errors.items():
            pane.visible = name == field
        if field is None:
            return
        text = html.escape(message)
        m = _POSITION.search(message)
        source = self.boxes[field].value if field in self.boxes else ""
        lines = source.split("\n") if field == "equations" else re.split(r"[;\n]", source) if field == "reset" \
            else [source]
        if m and field in ("equations", "threshold", "reset"):
            line, col = int(m.group(1)), int(m.group(2))
            if 1 <= line <= len(lines):
                shown = lines[line - 1]
                text += (f"<pre style='margin:2px 0;color:#333'>{html.escape(shown)}\n"
                         f"{' ' * max(col - 1, 0)}<b style='color:#b00020'>^</b></pre>")
        self.errors[field].object = f"⚠ {text}"
