"""Sweeps on a real dask.distributed cluster (2 worker processes): same numbers as one batched
run, resume from the cache, designs, metrics against analytic values, clear errors."""
import numpy as np
import pytest

from simulations import Circuit, CircuitError, compile
from simulations.examples import cuba
from simulations.sweeps import (
    branching,
    cv_isi,
    grid,
    latin_hypercube,
    random_samples,
    rate,
    sweep,
    synchrony,
)

SPIKES = ["exc.spikes", "inh.spikes", "drive.spikes"]


def small_net():
    """Poisson drive -> a 300-neuron CUBA network."""
    c = cuba(n=300, p=0.1)
    c.add("drive", "PoissonInput", n=100, rate=20.0)
    c.add("in_exc", "Projection", p=0.1, weight=2.0)
    c.connect("drive.spikes", "in_exc.spikes")
    c.connect("in_exc.current", "exc.current")
    return c


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def test_sweep_on_two_workers_equals_one_batched_run(client, tmp_path):
    taus, rates = [12.0, 20.0, 28.0], [10.0, 30.0]
    ds = sweep(small_net(), grid({"exc.tau_m": taus, "drive.rate": rates}), seeds=[4, 5], duration=150,
               metrics=["rate", "cv_isi", "synchrony"], client=client, cache=tmp_path, rows_per_task=2, progress=False)
    assert ds.sizes == {"exc.tau_m": 3, "drive.rate": 2, "seed": 2}
    assert ds.attrs["tasks_run"] == 6  # 3 chunks of 2 points per seed: more than one task per worker
    for seed in (4, 5):
        sim = compile(small_net(), seed=seed, record=SPIKES,
                      variants={"exc.tau_m": np.repeat(taus, 2), "drive.rate": rates * 3}).run(0.15)
        got = ds.sel(seed=seed)
        np.testing.assert_array_equal(got.rate_exc.values.ravel(), sim.rates("exc"))
        np.testing.assert_array_equal(got.rate_inh.values.ravel(), sim.rates("inh"))
        np.testing.assert_array_equal(got.cv_isi_exc.values.ravel(), cv_isi(sim, "exc"))
        np.testing.assert_array_equal(got.synchrony_exc.values.ravel(), synchrony(sim, "exc"))
    assert ds.rate_exc.sel(seed=4, **{"drive.rate": 30.0})[0] > ds.rate_exc.sel(seed=4, **{"drive.rate": 10.0})[0]
    assert not np.array_equal(ds.rate_exc.sel(seed=4).values, ds.rate_exc.sel(seed=5).values)


def test_structural_parameter_compiles_each_value_on_the_workers(client):
    ds = sweep(small_net(), {"drive.n": [50, 150], "exc.tau_m": [15.0, 25.0]}, duration=100, client=client,
               cache=False, progress=False)
    for n in (50, 150):
        c = small_net()
        c.block("drive").n = n
        sim = compile(c, seed=0, record=SPIKES, variants={"exc.tau_m": [15.0, 25.0]}).run(0.1)
        np.testing.assert_array_equal(ds.rate_exc.sel({"drive.n": n, "seed": 0}).values, sim.rates("exc"))


def test_interrupted_sweep_resumes_from_its_cache(client, tmp_path):
    design = grid({"exc.tau_m": [10.0, 14.0, 18.0, 22.0, 26.0, 30.0]})
    kwargs = dict(duration=100, client=client, rows_per_task=2, progress=False)
    seen = []

    def interrupt(rows, seed, values):
        seen.append(rows)
        raise KeyboardInterrupt  # the user stops the sweep after its first task

    with pytest.raises(KeyboardInterrupt):
        sweep(small_net(), design, cache=tmp_path, on_result=interrupt, **kwargs)
    assert len(seen) == 1 and len(list(tmp_path.glob("*.json"))) == 2
    resumed = sweep(small_net(), design, cache=tmp_path, **kwargs)
    assert resumed.attrs["runs_from_cache"] == 2 and resumed.attrs["tasks_run"] == 2
    fresh = sweep(small_net(), design, cache=False, **kwargs)
    np.testing.assert_array_equal(resumed.rate_exc.values, fresh.rate_exc.values)
    again = sweep(small_net(), design, cache=tmp_path, **kwargs)
    assert again.attrs["tasks_run"] == 0 and again.attrs["runs_from_cache"] == 6
    moved = small_net()
    moved.graph.nodes["exc"]["position"] = (1.0, 2.0)  # the canvas layout changes no result
    assert sweep(moved, design, cache=tmp_path, **kwargs).attrs["tasks_run"] == 0
    heavier = small_net()
    heavier.block("ee").weight = 2.0  # a changed circuit is a new sweep
    assert sweep(heavier, design, cache=tmp_path, **kwargs).attrs["runs_from_cache"] == 0


def test_samples_and_a_metric_of_the_simulator(client):
    def late_spikes(sim):
        """Spikes of each variant in the last 50 ms."""
        events = sim.recorder("exc.spikes").events()
        late = events[events[:, 0] * sim.dt >= 50.0]
        return np.bincount(late[:, 1], minlength=sim.batch)

    design = latin_hypercube({"exc.tau_m": (10.0, 30.0), "drive.rate": (5.0, 40.0)}, n=5, seed=1)
    ds = sweep(small_net(), design, duration=100, metrics=[late_spikes, "rate"], client=client, cache=False,
               progress=False)
    assert ds.late_spikes.dims == ("sample", "seed") and ds.sizes["sample"] == 5
    sim = compile(small_net(), seed=0, record=SPIKES,
                  variants={k: list(design.values[:, j]) for j, k in enumerate(design.names)}).run(0.1)
    np.testing.assert_array_equal(ds.late_spikes.values[:, 0], late_spikes(sim))
    np.testing.assert_array_equal(ds["exc.tau_m"].values, design.values[:, 0])


def test_designs_cover_their_ranges():
    lhs = latin_hypercube({"a.x": (0.0, 1.0), "b.y": (10.0, 20.0)}, n=8, seed=3)
    for j, (lo, hi) in enumerate([(0.0, 1.0), (10.0, 20.0)]):  # one point in each eighth of each range
        assert sorted(((lhs.values[:, j] - lo) / (hi - lo) * 8).astype(int)) == list(range(8))
    r = random_samples({"a.x": (2.0, 3.0)}, n=50)
    assert r.values.min() >= 2.0 and r.values.max() <= 3.0 and len(np.unique(r.values)) == 50
    g = grid({"a.x": [1, 2], "b.y": [3, 4, 5]})
    assert g.values.shape == (6, 2) and list(g.values[1]) == [1, 4]


def test_metrics_match_analytic_values_for_poisson_trains():
    c = Circuit()
    c.add("drive", "PoissonInput", n=200, rate=50.0)
    sim = compile(c, seed=0, variants={"drive.rate": [20.0, 80.0]}).run(4.0)
    np.testing.assert_allclose(rate(sim, "drive"), [20.0, 80.0], rtol=0.03)
    np.testing.assert_allclose(cv_isi(sim, "drive"), 1.0, atol=0.05)  # exponential ISIs
    np.testing.assert_allclose(synchrony(sim, "drive"), 1 / np.sqrt(200), rtol=0.1)  # independent
    np.testing.assert_allclose(branching(sim, "drive"), 0.0, atol=0.05)  # nothing propagates


def test_bad_sweeps_say_what_is_wrong():
    c = small_net()
    with pytest.raises(CircuitError, match="no parameter 'tau'"):
        sweep(c, {"exc.tau": [1.0]}, cache=False)
    with pytest.raises(CircuitError, match="no block named 'ex'"):
        sweep(c, {"ex.tau_m": [1.0]}, cache=False)
    with pytest.raises(ValueError, match="tau_m"):
        sweep(c, {"exc.tau_m": [-5.0]}, cache=False)
    with pytest.raises(ValueError, match="unknown metric 'rates'"):
        sweep(c, {"exc.tau_m": [10.0]}, metrics=["rates"], cache=False)
    with pytest.raises(CircuitError, match="Readout"):
        sweep(c, {"exc.tau_m": [10.0]}, metrics=["accuracy"], cache=False)


def test_readout_accuracy_as_a_metric(client):
    c = Circuit()
    c.add("digits", "ImageEncoder", count=200, t_present=50.0, max_rate=100.0, order="shuffled")
    c.add("readout", "Readout", t_present=50.0, n_train=150, lam=1.0)
    c.connect("digits.spikes", "readout.spikes")
    c.connect("digits.label", "readout.label")
    ds = sweep(c, {"digits.max_rate": [100.0, 0.0]}, duration=200 * 50.0, dt=2.0, metrics=["accuracy"],
               client=client, cache=False, progress=False)
    sim = compile(c, dt=2.0, record="none", variants={"digits.max_rate": [100.0, 0.0]}).run(10.0)
    expected = sim.get_state("readout", "accuracy")[:, 0].double().numpy()
    np.testing.assert_array_equal(ds.accuracy_readout.values[:, 0], expected)
    assert expected[0] > 0.6 > 0.3 > expected[1]  # learns from spikes; chance (0.1) without them
