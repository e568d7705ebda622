"""Workbench code without a browser: the canvas adapter, inspector, runner and views."""
from __future__ import annotations

import os
import time

import numpy as np

from simulations import compile
from simulations.examples import cuba
from workbench.app import Workbench, demo_circuit
from workbench.blocks import block_types, default_name
from workbench.editor import CircuitEditor, node_types
from workbench.runner import Runner
from workbench.frames import (HEATMAP_CELLS, IMAGE_COLUMNS, IMAGE_ROWS, RASTER_ROWS, WINDOW_MS, FrameBuilder,
                              heatmap_matrix)


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


def _wait(runner, kind, timeout=60.0):
    """The next message of ``kind`` from the simulation process (others are dropped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for msg in runner.poll():
            if msg[0] == kind:
                return msg
            assert msg[0] not in ("error", "crashed") or kind in ("error", "crashed"), msg
        time.sleep(0.01)
    raise AssertionError(f"no {kind!r} message within {timeout} s")


def _frame(runner, **kw):
    runner.request_frame(**kw)
    return _wait(runner, "frame")[1]


def test_runner_steps_in_its_own_process_pauses_and_reports_divergence():
    runner = Runner()
    try:
        assert runner.process.pid != os.getpid() and runner.process.is_alive()
        runner.load(demo_circuit().to_json())
        layout = _wait(runner, "loaded")[1]
        assert "exc.spikes" in layout["shown"] and "rate" in layout["live"]["input"]
        runner.run()
        time.sleep(0.5)
        runner.pause()
        t = _frame(runner)["t"]
        assert t > 0
        time.sleep(0.3)
        assert _frame(runner)["t"] == t
        runner.step(7)
        time.sleep(0.3)
        assert _frame(runner)["t"] == t + 7
        runner.set_param("input", "rate", 5000.0)  # out of bounds: refused with the param's message
        assert "at most 1000" in _wait(runner, "set")[3]
        runner.set_param("input", "rate", 30.0)
        assert _wait(runner, "set")[3] is None
        c = demo_circuit()
        c.block("ee").weight = 1e30  # the largest magnitude a parameter takes; their product overflows
        c.block("exc").R = 1e30
        runner.load(c.to_json())
        _wait(runner, "loaded")
        runner.run()
        deadline = time.monotonic() + 10
        while _frame(runner)["error"] is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert runner.error is not None and not runner.running
        assert "exc" in runner.error or "ee" in runner.error
    finally:
        runner.close()


def test_a_crashed_process_is_reported_and_a_new_one_takes_the_circuit():
    runner = Runner()
    try:
        runner.load(demo_circuit().to_json())
        _wait(runner, "loaded")
        first = runner.pid
        runner.crash(70)
        assert _wait(runner, "crashed") == ("crashed", 70)
        runner.restart()
        assert runner.pid != first and runner.layout is None
        runner.load(demo_circuit().to_json())
        assert _wait(runner, "loaded")[1]["shown"]
        runner.step(20)
        time.sleep(0.3)
        assert _frame(runner)["t"] == 20
    finally:
        runner.close()


def test_a_small_raster_sends_thinned_points():
    sim = compile(cuba(1000))
    frames = FrameBuilder(sim, ["exc.spikes", "inh.spikes"])
    assert not frames.image
    sim.step(2000)
    got = frames.frame()["raster_points"]
    assert 0 < len(got["t"]) and set(np.unique(got["population"])) == {0, 1}


def test_a_thinned_raster_keeps_every_spike_of_the_neurons_it_draws():
    sim = compile(cuba(4000), record=["exc.spikes", "inh.spikes"])
    frames = FrameBuilder(sim, ["exc.spikes", "inh.spikes"])
    assert not frames.image and frames.rows <= RASTER_ROWS + 2  # a subset of neurons is drawn...
    sim.step(1500)
    got = frames.frame()["raster_points"]
    times, neurons = sim.spikes("exc")
    drawn = neurons % frames.stride["exc.spikes"] == 0
    exc = got["neuron"][got["population"] == 0]
    assert len(exc) == drawn.sum() > 0  # ...with every one of its spikes
    assert np.array_equal(np.bincount(exc, minlength=3200), np.bincount(neurons[drawn], minlength=3200))


def test_a_large_raster_is_an_image_that_counts_every_spike():
    sim = compile(cuba(10000, stdp_on_ee=True), record=["exc.spikes", "inh.spikes", "ee.weights"])
    frames = FrameBuilder(sim, ["exc.spikes", "inh.spikes", "ee.weights"])
    assert frames.image and frames.layout()["raster"]["image"]
    sim.step(300)
    first = frames.frame()
    sim.step(500)
    frame = frames.frame(final=True)
    image = frame["raster_image"]
    hz = image["image"]
    assert hz.shape == (IMAGE_ROWS, IMAGE_COLUMNS) and hz.dtype == np.float32
    # back from Hz to spike counts: every spike of the last 80 ms is in the image, once
    per_bin_s = WINDOW_MS / IMAGE_COLUMNS * 1e-3
    counted = (hz * frames.neurons_per_row[:, None] * per_bin_s).sum()
    spikes = sum(len(sim.recorders[p].events()) for p in ("exc.spikes", "inh.spikes"))
    assert spikes > 100 and abs(counted - spikes) < 1e-3 * spikes
    assert image["x"] == (sim.t * sim.dt) - WINDOW_MS  # the window ends now
    assert len(first["rates"]["t"]) == 3 and len(frame["rates"]["t"]) == 5  # 10 ms bins, completed ones
    m = frame["heatmaps"]["ee.weights"]
    assert m.shape == (HEATMAP_CELLS, HEATMAP_CELLS) and np.isfinite(m).any()


def test_lower_detail_sends_less():
    sim = compile(cuba(1000))
    frames = FrameBuilder(sim, ["exc.spikes", "inh.spikes", "exc.v"])
    sim.step(3000)
    full = frames.frame(detail=1.0)
    sim.step(3000)
    low = frames.frame(detail=0.25)  # the raster keeps every spike of its neurons at any detail
    exc = low["raster_points"]["neuron"][low["raster_points"]["population"] == 0]
    assert len(exc) > 0 and set(exc % frames.stride["exc.spikes"]) == {0}
    assert len(low["traces"]["exc.v"][0]) < len(full["traces"]["exc.v"][0])


def test_a_lower_detail_image_merges_time_bins_and_keeps_every_spike():
    sim = compile(cuba(10000), record=["exc.spikes", "inh.spikes"])
    frames = FrameBuilder(sim, ["exc.spikes", "inh.spikes"])
    sim.step(12_345)  # more than the window: the ring has wrapped
    full = frames.frame(detail=1.0)["raster_image"]
    low = frames.frame(detail=0.3)["raster_image"]  # nothing new: the same window, bins merged by 4

    def spikes(img):  # back from Hz to spike counts per cell
        return img["image"] * frames.neurons_per_row[:, None] * (img["dw"] / img["image"].shape[1]) * 1e-3

    assert full["image"].shape[1] == IMAGE_COLUMNS and low["image"].shape[1] in (IMAGE_COLUMNS // 4, IMAGE_COLUMNS // 4 + 1)
    skipped = round((low["x"] - full["x"]) / (WINDOW_MS / IMAGE_COLUMNS))
    assert 0 <= skipped < 4
    f, lo = spikes(full), spikes(low)
    assert f.sum() > 1000 and abs(lo.sum() - f[:, skipped:].sum()) < 1e-3 * f.sum()
    assert np.allclose(lo[:, 0], f[:, skipped:skipped + 4].sum(1), rtol=1e-4, atol=1e-3)


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
    from workbench.views import Dashboard

    sim = compile(demo_circuit(), dt=0.1, seed=0)
    frames = FrameBuilder(sim, ["exc.spikes", "inh.spikes"])
    dash = Dashboard(frames.layout())
    for _ in range(30):  # 30 frames of 1000 steps: 3 s, three windows' worth
        sim.step(1000)
        dash.update(frames.frame())
    raster = dash.views[0]
    now = sim.t * sim.dt
    data = {k: np.asarray(v) for k, v in raster.source.data.items()}
    for k, (path, name) in enumerate([("exc.spikes", "exc"), ("inh.spikes", "inh")]):
        times, neurons = sim.spikes(name)
        inside = (times >= now - WINDOW_MS) & (neurons % frames.stride[path] == 0)
        mine = (data["color"] == raster.colors[k]) & (data["t"] >= now - WINDOW_MS)
        n = sim.probe_value(path).shape[-1]
        assert inside.sum() > 100
        assert np.array_equal(np.bincount(data["neuron"][mine], minlength=n), np.bincount(neurons[inside], minlength=n))
        assert data["t"].min() >= now - WINDOW_MS - 100.0  # nothing much older than the window is kept
