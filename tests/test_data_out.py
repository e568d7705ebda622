"""Run results out of the simulator: labelled xarray data, recorders that say when they drop
data, neuron ids kept, checkpoints (no pickle) and pickling for process pools."""
from __future__ import annotations

import json
import pickle
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from components import native
from simulations import Circuit, SampleRecorder, compile, load_checkpoint
from simulations.probes import RecorderFullWarning

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "assets" / "demos" / "stdp_demo.json"


def noisy_circuit() -> Circuit:
    """Poisson drive (the seeded stream matters), recurrence and STDP (plastic weights)."""
    return Circuit.load(DEMO)


def population(c: Circuit) -> str:
    return next(n for n, b in c.blocks.items() if type(b).__name__ == "LIFPopulation")


def test_to_xarray_labels_time_neurons_batch_variants_and_units():
    xr = pytest.importorskip("xarray")
    c = Circuit("labelled")
    c.add("drive", "PoissonInput", n=50, rate=80.0)
    c.add("inp", "Projection", p=0.3, weight=3.0)
    c.add("exc", "LIFPopulation", n=400, t_ref=0.0)
    c.connect("drive.spikes", "inp.spikes")
    c.connect("inp.current", "exc.current")
    sim = compile(c, dt=0.1, seed=2, variants={"exc.tau_m": [10.0, 20.0, 30.0]}, record=["exc.spikes"])
    sim.record("exc.v", SampleRecorder("trace", neurons=[5, 100, 399]))
    sim.run(0.05)
    ds = sim.to_xarray()
    assert isinstance(ds, xr.Dataset)
    v = ds["exc.v"]
    assert v.dims == ("exc.v/time", "batch", "exc.v/neuron")
    assert list(v["exc.v/neuron"].values) == [5, 100, 399]  # the neurons' own ids
    assert v.attrs["units"] == "mV" and ds["exc.v/time"].attrs["units"] == "ms"
    np.testing.assert_allclose(ds["exc.v/time"].values[:3], [0.0, 0.1, 0.2])
    assert list(ds["exc.tau_m"].values) == [10.0, 20.0, 30.0] and ds["exc.tau_m"].dims == ("batch",)
    spikes = ds["exc.spikes"]
    assert spikes.attrs["units"] == "ms" and len(spikes) > 0
    t, i = sim.spikes("exc", row=1)
    row1 = spikes.where(ds["exc.spikes/batch"] == 1, drop=True)
    np.testing.assert_allclose(np.sort(row1.values), np.sort(t))
    assert Circuit.from_json(ds.attrs["circuit"]).to_json() == sim.circuit.to_json()
    # the pandas view keeps the ids too
    from simulations.export import trace_frame

    assert list(trace_frame(sim, "exc", "v").columns) == [5, 100, 399]


def test_a_full_recorder_warns_once_and_says_how_to_keep_more():
    c = Circuit("long")
    c.add("i", "CurrentInput", amplitude=20.0)
    c.add("p", "LIFPopulation", n=1)
    c.connect("i.current", "p.current")
    sim = compile(c, record=[])
    sim.record("p.v", SampleRecorder("trace", capacity=100))
    with pytest.warns(RecorderFullWarning, match=r"p\.v is full: it keeps the newest 100 samples.*capacity=N"):
        sim.step(150)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sim.step(150)  # once only
    steps, _ = sim.recorder("p.v").samples()
    assert steps[0] == 200 and len(steps) == 100


@pytest.mark.parametrize("path", ["native", "torch"])
def test_a_restored_checkpoint_continues_with_the_same_spikes(tmp_path, monkeypatch, path):
    monkeypatch.setattr(native, "ENABLED", path == "native")
    c = noisy_circuit()
    name = population(c)
    straight = compile(c, seed=3)
    straight.run(0.3)
    first = compile(c, seed=3)
    first.run(0.1)
    first.save_checkpoint(tmp_path / "run.npz")
    with zipfile.ZipFile(tmp_path / "run.npz") as z:  # plain arrays and JSON, nothing pickled
        assert all(n.endswith(".npy") for n in z.namelist())
    resumed = load_checkpoint(tmp_path / "run.npz")
    assert resumed.t == first.t
    resumed.run(0.2)
    a, b = straight.spikes(name), resumed.spikes(name)
    assert len(a[0]) > 50
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    plastic = [n for n, blk in c.blocks.items() if c.wires_into(n, "plasticity")]
    for proj in plastic:
        torch.testing.assert_close(straight.weights(proj), resumed.weights(proj), rtol=0, atol=0)


def test_a_checkpoint_that_does_not_fit_is_refused(tmp_path):
    from simulations import CheckpointError

    (tmp_path / "bad.npz").write_bytes(b"nope")
    with pytest.raises(CheckpointError, match="not a workbench checkpoint"):
        load_checkpoint(tmp_path / "bad.npz")


def test_a_running_simulator_pickles_for_a_process_pool():
    c = noisy_circuit()
    name = population(c)
    straight = compile(c, seed=4)
    straight.run(0.2)
    sim = compile(c, seed=4)
    sim.run(0.1)  # compiled kernels packed: ctypes handles in its state
    clone = pickle.loads(pickle.dumps(sim))
    clone.run(0.1)
    sim.run(0.1)
    for other in (clone, sim):
        np.testing.assert_array_equal(straight.spikes(name)[0], other.spikes(name)[0])


def _advance(blob: bytes) -> list:
    sim = pickle.loads(blob)
    sim.run(0.05)
    return sim.spikes(population(sim.circuit))[0].tolist()


def test_a_pickled_simulator_runs_in_another_process():
    import multiprocessing as mp

    sim = compile(noisy_circuit(), seed=5)
    sim.run(0.05)
    blob = pickle.dumps(sim)
    with mp.get_context("spawn").Pool(1) as pool:
        remote = pool.apply(_advance, (blob,))
    sim.run(0.05)
    assert remote == sim.spikes(population(sim.circuit))[0].tolist() and len(remote) > 0
    json.dumps(remote)


def test_nwb_export_keeps_spikes_traces_ids_and_units(tmp_path):
    pynwb = pytest.importorskip("pynwb")
    from simulations.nwb import to_nwb

    c = Circuit("nwb")
    c.add("drive", "PoissonInput", n=20, rate=100.0)
    c.add("inp", "Projection", p=0.5, weight=4.0)
    c.add("exc", "LIFPopulation", n=30, t_ref=0.0)
    c.connect("drive.spikes", "inp.spikes")
    c.connect("inp.current", "exc.current")
    sim = compile(c, seed=1, batch=2, record=["exc.spikes"])
    sim.record("exc.v", SampleRecorder("trace", neurons=[3, 7, 29]))
    sim.run(0.05)
    to_nwb(sim, tmp_path / "run.nwb")
    with pynwb.NWBHDF5IO(str(tmp_path / "run.nwb"), "r") as io:
        f = io.read()
        units = f.units.to_dataframe()
        assert len(units) == 2 * 30
        for row in (0, 1):
            t, i = sim.spikes("exc", row=row)
            mine = units[units.batch == row]
            for neuron in (0, 5, 17):
                got = mine[mine.neuron == neuron].spike_times.iloc[0]
                np.testing.assert_allclose(got, np.sort(t[i == neuron]) * 1e-3)
        assert sum(len(s) for s in units.spike_times) == len(sim.recorder("exc.spikes").events()) > 0
        v = f.acquisition["exc.v"]
        assert v.unit == "mV" and "neuron ids [3, 7, 29]" in v.description
        np.testing.assert_allclose(v.data[:], sim.trace("exc", "v")[1].reshape(-1, 2, 3))
        assert Circuit.from_json(f.notes).to_json() == sim.circuit.to_json()
