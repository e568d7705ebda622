"""Live streaming without a browser: frames paced by the simulation process, the simulation
running on while no frame is asked for (the next one carries what it missed), batched
secondary views that drop no sample, unchanged heatmaps not resent, and the live benchmark
without a GPU."""
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from simulations import compile
from simulations.examples import cuba
from workbench.app import demo_circuit
from workbench.frames import HEATMAP_EVERY, FrameBuilder
from workbench.runner import Runner
from workbench.sim_process import FRAME_S
from workbench.views import SECONDARY_EVERY, Dashboard

ROOT = Path(__file__).resolve().parent.parent


def _wait(runner, kind, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for msg in runner.poll():
            if msg[0] == kind:
                return msg, time.monotonic()
            assert msg[0] not in ("error", "crashed"), msg
        time.sleep(0.002)
    raise AssertionError(f"no {kind!r} message within {timeout} s")


def test_the_simulation_runs_on_while_no_frame_is_asked_and_the_next_frame_carries_every_spike():
    runner = Runner()
    try:
        runner.load(demo_circuit().to_json(), shown=["exc.spikes", "inh.spikes"])
        layout = _wait(runner, "loaded")[0][1]
        assert not layout["raster"]["image"]
        runner.run()
        runner.request_frame()
        first = _wait(runner, "frame")[0][1]
        time.sleep(1.0)  # nobody asks: the browser lags, say
        runner.request_frame()
        (_, second), _ = _wait(runner, "frame")
        assert second["t"] - first["t"] > 100, "the simulation did not run on without frames"
        runner.pause()
        runner.request_frame(final=True)
        (_, last), _ = _wait(runner, "frame")
        # every spike of the drawn neurons from the first frame on arrived, across the gap
        got = np.concatenate([f["raster_points"]["t"] for f in (second, last)])
        assert len(got) > 50 and np.all(np.diff(np.sort(got)) >= 0)
        assert got.min() > first["t"] * layout["dt"] - 1e-9 - 1.0 and got.max() <= last["t"] * layout["dt"]
        # paced: asked at once after a frame, the next one while running comes FRAME_S later
        runner.run()
        runner.request_frame()
        (_, f1), _ = _wait(runner, "frame")
        runner.request_frame()
        (_, f2), _ = _wait(runner, "frame")
        assert f2["stamp"] - f1["stamp"] >= FRAME_S * 0.99 and f2["running"]  # built that far apart
    finally:
        runner.close()


def test_points_across_a_gap_equal_the_recorder():
    """The frame builder reads incrementally: frames far apart lose nothing."""
    sim = compile(demo_circuit(), dt=0.1, seed=0)
    frames = FrameBuilder(sim, ["exc.spikes"])
    got = []
    for steps in (10, 4000, 37, 2500):
        sim.step(steps)
        got.append(frames.frame()["raster_points"]["neuron"])
    times, neurons = sim.spikes("exc")
    drawn = neurons[neurons % frames.stride["exc.spikes"] == 0]
    assert np.array_equal(np.sort(np.concatenate(got)), np.sort(drawn))


def test_rates_and_traces_redraw_every_few_frames_without_dropping_a_sample():
    sim = compile(demo_circuit(), dt=0.1, seed=0)
    frames = FrameBuilder(sim, ["exc.spikes", "inh.spikes", "exc.v"])
    dash = Dashboard(frames.layout())
    rate, trace = (next(v for v in dash.views if v.kind == k) for k in ("rate", "trace"))
    sent_t, sent_rates = [], []
    for k in range(7):
        sim.step(150)
        f = frames.frame()
        sent_t.append(f["traces"]["exc.v"][0])
        sent_rates.append(f["rates"]["t"])
        dash.update(f)
        drawn = len(trace.source.data["t"])
        assert drawn == (sum(map(len, sent_t)) if (k + 1) % SECONDARY_EVERY == 0 else drawn), k
    sim.step(150)
    f = frames.frame(final=True)  # Pause: the last frame flushes what is held
    sent_t.append(f["traces"]["exc.v"][0])
    sent_rates.append(f["rates"]["t"])
    dash.update(f)
    assert np.array_equal(np.asarray(trace.source.data["t"]), np.concatenate(sent_t))
    assert np.array_equal(np.asarray(rate.source.data["t"]), np.concatenate(sent_rates))


def test_an_unchanged_heatmap_is_not_sent_again_a_learning_one_is():
    for learning in (False, True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sim = compile(cuba(1000, stdp_on_ee=learning), dt=0.1, seed=0)
            frames = FrameBuilder(sim, ["exc.spikes", "ee.weights"])
            sent = []
            for _ in range(3 * HEATMAP_EVERY):
                sim.step(50)
                sent.append("ee.weights" in frames.frame().get("heatmaps", {}))
        assert sum(sent) == (3 if learning else 1), (learning, sent)


def test_the_benchmark_reports_no_gpu_without_failing():
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "live_views.py"), "--sizes"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "10^6 neurons on a GPU: no GPU" in done.stdout
