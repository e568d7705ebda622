"""Workbench code without a browser: the canvas adapter, inspector, runner and views."""
from __future__ import annotations

import time

import numpy as np

from simulations import compile
from simulations.examples import cuba
from workbench.app import Workbench, demo_circuit
from workbench.blocks import block_types, default_name
from workbench.editor import CircuitEditor, node_types
from workbench.runner import Runner
from workbench.views import HEATMAP_CELLS, RASTER_ROWS, Dashboard, heatmap_matrix


def make_editor():
    log = []
    editor = CircuitEditor(demo_circuit(), lambda kind: log.append(kind), lambda name: log.append(("select", name)),
                           lambda text, level: log.append((level, text)))
    return editor, log


def test_palette_and_node_types_come_from_the_registry():
    assert set(node_types()) == set(block_types())
    lif = node_types()["LIFPopulation"]
    assert [h["id"] for h in lif.inputs] == ["current"] and [h["id"] for h in lif.outputs] == ["spikes", "v"]
    assert default_name("LIFPopulation", {"lif1"}) == "lif2"


def test_refused_wire_is_removed_from_the_canvas_with_its_reason():
    editor, log = make_editor()
    edge = {"id": "x", "source": "exc", "sourceHandle": "spikes", "target": "inh", "targetHandle": "current"}
    assert "carries spikes but inh.current expects current" in editor.wire_problem(edge)
    editor.flow._process_msg({"type": "edge_added", "edge": edge})
    assert all(e["id"] != "x" for e in editor.flow.edges)
    assert log[-1][0] == "danger" and "Wire refused" in log[-1][1]
    assert len(editor.circuit.wires) == 12


def test_delete_then_undo_restores_block_and_wires():
    editor, _ = make_editor()
    before = sorted(map(str, editor.circuit.wires))
    editor.flow._process_msg({"type": "node_deleted", "node_id": "ee"})
    assert "ee" not in editor.circuit.graph and len(editor.circuit.wires) == 10
    editor.undo()
    assert sorted(map(str, editor.circuit.wires)) == before
    assert {n["id"] if isinstance(n, dict) else n.id for n in editor.flow.nodes} == set(editor.circuit.graph)


def test_inspector_refuses_out_of_range_with_params_message_and_reverts():
    wb = Workbench(circuit=demo_circuit())
    try:
        wb._select("input")
        box = wb.inspector._widgets["rate"][0]
        box.value = 5000.0
        assert "must be at most 1000" in wb.inspector.error.object
        assert box.value == 20.0 and wb.circuit.block("input").rate == 20.0
        box.value = 30.0
        assert wb.circuit.block("input").rate == 30.0 and not wb.inspector.error.visible
    finally:
        wb.close()


def test_runner_steps_in_background_pauses_and_reports_divergence():
    runner = Runner()
    try:
        runner.load(compile(demo_circuit()))
        runner.run()
        time.sleep(0.5)
        runner.pause()
        t = runner.sim.t
        assert t > 0
        time.sleep(0.3)
        assert runner.sim.t == t
        runner.step(7)
        time.sleep(0.3)
        assert runner.sim.t == t + 7
        c = demo_circuit()
        c.block("ee").weight = 1e30  # the largest magnitude a parameter takes; their product overflows
        c.block("exc").R = 1e30
        runner.load(compile(c))
        runner.run()
        deadline = time.monotonic() + 10
        while runner.error is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert runner.error is not None and not runner.running
        assert "exc" in str(runner.error) or "ee" in str(runner.error)
    finally:
        runner.close()


def test_views_bound_what_a_large_network_sends_per_frame():
    sim = compile(cuba(10000, stdp_on_ee=True), record=["exc.spikes", "inh.spikes", "ee.weights"])
    dash = Dashboard(sim, ["exc.spikes", "inh.spikes", "ee.weights"])
    sim.step(200)
    import threading

    frame = dash.read(threading.RLock(), final=True)
    dash.update(frame)
    raster = dash.views[0]
    assert max(raster.source.data["y"]) < RASTER_ROWS + 2  # a subset of neurons is drawn...
    times, neurons = sim.spikes("exc")
    drawn = neurons % raster.stride["exc.spikes"] == 0
    got = np.asarray(raster.source.data["neuron"])[np.asarray(raster.source.data["color"]) == raster.color["exc.spikes"]]
    assert len(got) == drawn.sum() > 0  # ...with every one of its spikes
    assert np.array_equal(np.bincount(got, minlength=10000), np.bincount(neurons[drawn], minlength=10000))
    m = heatmap_matrix(sim, "ee.weights")
    assert m.shape == (HEATMAP_CELLS, HEATMAP_CELLS) and np.isfinite(m).any()


def test_matrix_state_heatmap_keeps_rows_and_columns():
    from simulations import Circuit

    c = Circuit()
    c.add("digits", "ImageEncoder")
    c.add("sel", "Selectivity", n_classes=10)
    c.connect("digits.spikes", "sel.spikes")
    c.connect("digits.label", "sel.label")
    sim = compile(c).step(10)
    units = sim.probe_value("digits.spikes").shape[-1]
    assert heatmap_matrix(sim, "sel.selectivity").shape == (units, 10)  # units x classes, not a grid


def test_raster_keeps_exactly_the_visible_window_of_the_drawn_neurons():
    """Spikes drawn per neuron within the visible window equal the recorder's, frame after frame."""
    import threading

    from workbench.views import WINDOW_MS

    sim = compile(demo_circuit(), dt=0.1, seed=0)
    dash = Dashboard(sim, ["exc.spikes", "inh.spikes"])
    lock = threading.RLock()
    for _ in range(30):  # 30 frames of 1000 steps: 3 s, three windows' worth
        sim.step(1000)
        dash.update(dash.read(lock))
    raster = dash.views[0]
    now = sim.t * sim.dt
    data = {k: np.asarray(v) for k, v in raster.source.data.items()}
    for path, name in [("exc.spikes", "exc"), ("inh.spikes", "inh")]:
        times, neurons = sim.spikes(name)
        inside = (times >= now - WINDOW_MS) & (neurons % raster.stride[path] == 0)
        mine = (data["color"] == raster.color[path]) & (data["t"] >= now - WINDOW_MS)
        n = sim.probe_value(path).shape[-1]
        assert inside.sum() > 100
        assert np.array_equal(np.bincount(data["neuron"][mine], minlength=n), np.bincount(neurons[inside], minlength=n))
        assert data["t"].min() >= now - WINDOW_MS - 100.0  # nothing much older than the window is kept
