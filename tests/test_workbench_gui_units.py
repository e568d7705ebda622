"""The pieces behind the GUI's model editor, brushed traces and view downloads, without a browser."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from components.equation_neuron import EquationNeuron
from simulations import Circuit, SampleRecorder, compile
from workbench.frames import MAX_PICKS, FrameBuilder
from workbench.model_editor import ModelEditor, field_of
from workbench.view_cards import view_csv, view_parquet, view_table
from workbench.views import HeatmapView, TraceView

GOOD = dict(equations="dv/dt = (E_L - v + I_e)/tau : mV (unless refractory)\nE_L : mV\ntau : ms\nI_e : mV\nV_th : mV",
            threshold="v > V_th", reset="v = E_L", refractory="2", parameters="E_L = -65\ntau = 10\nI_e = 20\nV_th = -50",
            init="v = E_L", inputs="")


def typed(editor: ModelEditor, **fields):
    for name, text in {**GOOD, **fields}.items():
        editor.boxes[name].param.update(value=text, value_input=text)


def shown_errors(editor):
    return {k: p.object for k, p in editor.errors.items() if p.visible}


def test_model_editor_places_each_error_under_its_field_with_symbol_and_position():
    applied = []
    editor = ModelEditor(EquationNeuron().model, applied.append)
    assert editor.check() is not None, "the block's default model checks as shown"
    typed(editor, equations=GOOD["equations"].replace("I_e)/tau", "I_e*R)/tau"))
    assert editor.check() is None
    errors = shown_errors(editor)
    assert list(errors) == ["equations"] and "undefined symbol &#x27;R&#x27;, line 1, column 24" in errors["equations"]
    assert "dv/dt = (E_L - v + I_e*R)/tau" in errors["equations"] and "^" in errors["equations"]
    cases = {"threshold": dict(threshold="v > V_x"), "reset": dict(reset="v = E_L; w = 0"),
             "refractory": dict(refractory="t_ref"), "parameters": dict(parameters="E_L = -65\ntau = ten"),
             "init": dict(init="u = 0"), "inputs": dict(inputs="exc = I_syn")}
    for field, change in cases.items():
        typed(editor, **change)
        assert editor.check() is None, field
        assert list(shown_errors(editor)) == [field], (field, shown_errors(editor))
    typed(editor, equations="du/dt = -u/tau : mV\ntau : ms", parameters="tau = 10", threshold="u > 1", reset="u = 0",
          init="")
    assert editor.check() is None and "no state variable &#x27;v&#x27;" in shown_errors(editor)["equations"]
    typed(editor)
    editor.apply()
    assert len(applied) == 1 and applied[0]["parameters"] == {"E_L": -65.0, "tau": 10.0, "I_e": 20.0, "V_th": -50.0}
    block = EquationNeuron(model=applied[0])  # the block accepts what the editor applied
    assert block.model["threshold"] == "v > V_th" and block.model["refractory"] == 2.0


@pytest.mark.parametrize("hostile", ["__import__('os').system('touch /tmp/pwned')", "v.__class__", "(lambda: 1)()",
                                     "[x for x in ()]", "open('f')", "v if v else v", "globals()", "1" * 6000])
def test_model_editor_rejects_hostile_text_without_running_it(hostile, tmp_path):
    editor = ModelEditor(EquationNeuron().model, lambda m: pytest.fail("a hostile model was applied"))
    typed(editor, equations=f"dv/dt = {hostile} : mV\nE_L : mV\ntau : ms\nI_e : mV\nV_th : mV")
    editor.apply()
    assert list(shown_errors(editor)) == ["equations"]
    typed(editor, threshold=hostile)
    editor.apply()
    assert list(shown_errors(editor)) == ["threshold"]


def test_field_of_follows_the_parser_wording():
    assert field_of("threshold: undefined symbol 'x', line 1, column 5") == "threshold"
    assert field_of("reset of 'v': undefined symbol 'q', line 1, column 5") == "reset"
    assert field_of("parameter 'a' is declared but has no value in 'parameters'") == "parameters"
    assert field_of("input 'exc': 'x' is not a state variable") == "inputs"
    assert field_of("model 'm' is not linear in its state variables, so 'exact' cannot integrate it") == "method"
    assert field_of("equation for dv/dt: undefined symbol 'R', line 1, column 20") == "equations"


def small_circuit():
    c = Circuit()
    c.add("a", "PoissonInput", n=30, rate=50.0)
    c.add("w", "Projection", weight=20.0)
    c.add("b", "LIFPopulation", n=40)
    c.connect("a.spikes", "w.spikes")
    c.connect("w.current", "b.current")
    return c


def test_brushed_neurons_are_recorded_and_drawn_exactly():
    sim = compile(small_circuit(), dt=0.1, seed=0)
    picks = [3, 17, 39, 17, 40, -1]  # duplicates and out-of-range ids are dropped
    frames = FrameBuilder(sim, ["b.spikes", "b.v"], picks={"b.v": picks, "b.spikes": [1]})
    layout = frames.layout()
    assert layout["picks"] == {"b.v": [3, 17, 39]}
    sim.step(200)
    t, ys = frames.frame()["traces"]["b.v"]
    full = compile(small_circuit(), dt=0.1, seed=0)
    full.record("b.v", SampleRecorder("trace", neurons=list(range(40))))
    full.step(200)
    times, values = full.trace("b", "v")
    at = {round(x, 6): v.reshape(-1) for x, v in zip(times, values)}
    assert ys.shape[1] == 3
    for k, tk in enumerate(t):
        assert np.allclose(ys[k], at[round(tk, 6)][[3, 17, 39]], atol=1e-5)
    view = TraceView(layout, "b.v")
    assert view.lines == 3 and [i.label.value for i in view.panel.object.legend.items] == [
        "neuron 3", "neuron 17", "neuron 39"]
    again = FrameBuilder(sim, ["b.spikes", "b.v"])  # no picks: back to the first neurons
    assert again.layout()["picks"] == {} and getattr(sim.recorders["b.v"], "picked", None) is None
    many = FrameBuilder(sim, ["b.v"], picks={"b.v": list(range(40))})
    assert len(many.picks["b.v"]) == MAX_PICKS


def test_view_data_downloads_as_csv_and_parquet_with_the_same_values():
    sim = compile(small_circuit(), dt=0.1, seed=0)
    frames = FrameBuilder(sim, ["b.v", "w.weights"])
    layout = frames.layout()
    sim.step(100)
    view = TraceView(layout, "b.v")
    view.update({**frames.frame(), "running": False})  # paused: the view holds every sample
    table = pd.read_parquet(io.BytesIO(view_parquet(view)))
    from_csv = pd.read_csv(io.StringIO(view_csv(view)))
    assert list(table.columns) == ["t", "y0", "y1", "y2"] and len(table) == len(view.source.data["t"]) > 10
    assert np.allclose(table.to_numpy(), from_csv.to_numpy(), rtol=1e-5)
    heat = HeatmapView(layout, "w.weights")
    m = view_table(heat).to_numpy()
    assert m.shape == np.asarray(heat.source.data["image"][0]).shape
    assert np.allclose(pd.read_parquet(io.BytesIO(view_parquet(heat))).to_numpy(), m, equal_nan=True)
