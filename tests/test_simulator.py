"""Running circuits: reproducibility, batches, live parameters, probes, divergence."""
import numpy as np
import pytest
import torch

from simulations import Circuit, CircuitError, DivergenceError, SpikeRecorder, compile
from simulations.examples import cuba


def plastic_net():
    """Poisson drive -> exc/inh LIF with recurrent projections, STDP on exc -> exc."""
    c = cuba(n=250, stdp_on_ee=True)
    c.add("drive", "PoissonInput", n=100, rate=20.0)
    c.add("in_exc", "Projection", p=0.1, weight=2.0)
    c.connect("drive.spikes", "in_exc.spikes")
    c.connect("in_exc.current", "exc.current")
    return c


def spike_list(sim, block, row=0):
    t, i = sim.spikes(block, row=row)
    return list(zip(t.round(6).tolist(), i.tolist()))


def test_same_seed_same_spikes_and_other_seed_differs():
    a = compile(plastic_net(), seed=5).run(0.3)
    b = compile(plastic_net(), seed=5).run(0.3)
    c = compile(plastic_net(), seed=6).run(0.3)
    assert len(spike_list(a, "exc")) > 50
    assert spike_list(a, "exc") == spike_list(b, "exc")
    assert spike_list(a, "exc") != spike_list(c, "exc")
    assert torch.equal(a.weights("ee"), b.weights("ee"))


def test_json_round_trip_gives_identical_spikes():
    circuit = plastic_net()
    again = Circuit.from_json(circuit.to_json())
    a = compile(circuit, seed=2).run(0.3)
    b = compile(again, seed=2).run(0.3)
    assert spike_list(a, "exc") == spike_list(b, "exc")
    assert spike_list(a, "inh") == spike_list(b, "inh")


def test_reset_replays_the_same_run():
    sim = compile(plastic_net(), seed=1).run(0.2)
    first = spike_list(sim, "exc")
    sim.reset()
    assert sim.t == 0 and spike_list(sim, "exc") == []
    sim.run(0.2)
    assert spike_list(sim, "exc") == first


def test_stdp_changes_recurrent_weights():
    sim = compile(plastic_net(), seed=1)
    before = sim.weights("ee").clone()
    sim.run(0.3)
    changed = (sim.weights("ee") != before) & (before != 0)
    assert changed.sum() > 10


def test_batch_of_variants_equals_separate_runs():
    rates, taus = [10.0, 25.0, 40.0], [15.0, 20.0, 25.0]
    batch = compile(plastic_net(), seed=3, variants={"drive.rate": rates, "exc.tau_m": taus}).run(0.3)
    for row, (rate, tau) in enumerate(zip(rates, taus)):
        circuit = plastic_net()
        circuit.block("drive").rate = rate
        circuit.block("exc").tau_m = tau
        alone = compile(circuit, seed=3).run(0.3)
        assert spike_list(batch, "exc", row) == spike_list(alone, "exc"), row
        assert torch.equal(batch.weights("ee", row), alone.weights("ee"))
    assert spike_list(batch, "exc", 0) != spike_list(batch, "exc", 2)


def test_set_param_between_runs_changes_activity():
    c = Circuit()
    c.add("drive", "PoissonInput", n=200, rate=5.0)
    sim = compile(c, seed=0).run(0.5)
    low = sim.rates("drive")[0]
    sim.set_param("drive", "rate", 50.0)
    sim.recorders["drive.spikes"].clear()
    sim.run(0.5)
    high = sim.rates("drive")[0]
    assert low == pytest.approx(5.0, rel=0.2) and high == pytest.approx(50.0, rel=0.1)


def test_set_param_refuses_bad_values_and_structural_params():
    sim = compile(plastic_net())
    with pytest.raises(ValueError, match="at least 0"):
        sim.set_param("drive", "rate", -1.0)
    with pytest.raises(CircuitError, match="shapes the circuit's structure"):
        sim.set_param("exc", "n", 10)
    with pytest.raises(CircuitError, match="has no parameter 'speed'"):
        sim.set_param("exc", "speed", 1.0)
    with pytest.raises(CircuitError, match="no block named 'nobody'"):
        sim.set_param("nobody", "rate", 1.0)


def test_simulator_is_independent_of_later_document_edits():
    circuit = plastic_net()
    sim = compile(circuit, seed=4)
    circuit.block("drive").rate = 500.0
    circuit.remove("inh")
    sim.run(0.1)
    assert sim.nodes["drive"].block.rate == 20.0


@pytest.mark.parametrize("block, variable", [("exc", "v"), ("ee", "current"), ("ee", "w")])
def test_nan_in_state_stops_the_run_and_names_it(block, variable):
    sim = compile(plastic_net(), seed=0).run(0.01)
    state = sim.get_state(block, variable)
    state.view(-1)[:5] = float("nan")
    with pytest.raises(DivergenceError, match=f"{block}.{variable} became NaN"):
        sim.run(0.2)
    stopped_at = sim.t
    with pytest.raises(DivergenceError):
        sim.step(5)
    assert sim.t == stopped_at  # paused: no further steps
    sim.reset()
    sim.run(0.01)  # the circuit survives: a reset runs again


def test_recorders_are_bounded():
    c = Circuit()
    c.add("drive", "PoissonInput", n=100, rate=200.0)
    sim = compile(c, record=[])
    sim.record("drive.spikes", SpikeRecorder(capacity=500))
    sim.run(0.5)
    events = sim.recorders["drive.spikes"].events()
    assert 500 <= len(events) < 600
    assert events[-1, 0] == sim.t - 1 or events[-1, 0] > sim.t - 20


def test_trace_ring_buffer_keeps_newest_samples():
    sim = compile(plastic_net(), record=["exc.v"])
    sim.step(12_000)
    steps, values = sim.recorders["exc.v"].samples()
    assert len(steps) == 10_000 and steps[-1] == 11_999 and np.all(np.diff(steps) == 1)
    assert values.shape == (10_000, 1, 16)
