"""NIR export and import: round trips keep spikes, foreign graphs import, refusals name blocks."""
from __future__ import annotations

import numpy as np
import pytest

from simulations import Circuit, compile
from simulations.nir_io import NIRError, from_nir, read_nir, to_nir, write_nir

nir = pytest.importorskip("nir")


def lif_circuit() -> Circuit:
    """Deterministic drive, random connectivity and weights, mixed synaptic time constants."""
    rng = np.random.default_rng(3)
    spikes = [[int(i), float(t)] for i, t in zip(rng.integers(0, 50, 2000), rng.uniform(0, 200, 2000))]
    c = Circuit("nir_demo")
    c.add("drive", "SpikeTimes", n=50, spikes=spikes, position=(0, 100))
    c.add("inp", "Projection", p=0.3, weight=2.0, weight_std=0.5)
    c.add("exc", "LIFPopulation", n=40, E_L=-60.0, v_reset=-62.0, t_ref=2.0, tau_m=15.0)
    c.add("inh", "LIFPopulation", n=10, R=2.0)
    c.add("ee", "Projection", p=0.1, weight=0.5, autapses=False)
    c.add("ei", "Projection", p=0.3, weight=1.5, tau_syn=3.0)
    c.add("ie", "Projection", p=0.5, weight=-2.0, tau_syn=10.0)
    for a, b in [("drive.spikes", "inp.spikes"), ("inp.current", "exc.current"), ("exc.spikes", "ee.spikes"),
                 ("ee.current", "exc.current"), ("exc.spikes", "ei.spikes"), ("ei.current", "inh.current"),
                 ("inh.spikes", "ie.spikes"), ("ie.current", "exc.current")]:
        c.connect(a, b)
    return c


def spikes_of(circuit, seconds=0.2):
    sim = compile(circuit, dt=0.1, seed=5)
    sim.run(seconds)
    return {name: np.stack(sim.spikes(name)) for name in ("exc", "inh")}


def test_round_trip_through_a_nir_file_keeps_every_spike(tmp_path):
    c = lif_circuit()
    with pytest.warns(UserWarning, match="refractory"):
        graph = to_nir(c, seed=5)
    assert isinstance(graph.nodes["inh"], nir.CubaLIF)  # one tau_syn: the synapse lives in the neuron
    assert isinstance(graph.nodes["exc"], nir.LIF) and isinstance(graph.nodes["ie_syn"], nir.LI)  # mixed
    # seconds; forward Euler at dt = 0.1 ms with the decay e^(-dt/tau) we run: dt / (1 - e^(-dt/tau))
    assert graph.nodes["exc"].tau[0] == pytest.approx(1e-4 / -np.expm1(-0.1 / 15.0), rel=1e-12)
    assert graph.nodes["exc"].v_leak[0] == 0 and graph.nodes["exc"].v_threshold[0] == -50.0 - -60.0  # relative to E_L
    assert isinstance(graph.nodes["drive"], nir.Input) and isinstance(graph.nodes["output"], nir.Output)
    with pytest.warns(UserWarning):
        write_nir(c, tmp_path / "c.nir", seed=5)
    back = read_nir(tmp_path / "c.nir")
    assert set(back.blocks) == set(c.blocks) and back.block("exc").t_ref == 2.0
    original, again = spikes_of(c), spikes_of(back)
    assert original["exc"].shape[1] > 100 and original["inh"].shape[1] > 10
    for name in original:
        np.testing.assert_array_equal(original[name], again[name])


def test_a_hand_written_graph_imports_and_runs():
    """As snnTorch or Norse would write it: Input -> Linear -> CubaLIF -> Linear -> CubaLIF -> Output."""
    rng = np.random.default_rng(0)
    w1, w2 = rng.uniform(0, 10.0, (20, 8)), rng.uniform(0, 10.0, (4, 20))

    def cuba(n):
        return nir.CubaLIF(tau_syn=np.full(n, 0.005), tau_mem=np.full(n, 0.01), r=np.ones(n), v_leak=np.zeros(n),
                           v_threshold=np.ones(n), v_reset=np.zeros(n), w_in=np.ones(n))

    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([8])}), "fc1": nir.Linear(weight=w1), "lif1": cuba(20),
               "fc2": nir.Linear(weight=w2), "lif2": cuba(4), "output": nir.Output(output_type={"output": np.array([4])})},
        edges=[("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "output")],
    )
    c = from_nir(graph, dt=0.1)
    assert type(c.block("input")).__name__ == "SpikeTimes"
    # forward Euler's decay 1 - dt/tau, as the peers step it: e^(-dt/tau_ours) = 1 - 0.1/10
    assert c.block("lif1").tau_m == pytest.approx(-0.1 / np.log(1 - 0.1 / 10.0))
    assert c.block("fc1").tau_syn == pytest.approx(-0.1 / np.log(1 - 0.1 / 5.0))
    c.block("input").spikes = [[i, t] for i in range(8) for t in np.arange(1.0, 100.0, 2.0)]
    sim = compile(c, dt=0.1, seed=0)
    # a spike is a unit-height pulse for one step: I rises by w_in W dt / tau_syn
    np.testing.assert_allclose(sim.weights("fc1").numpy(), (w1 * 0.1 / 5.0).T, rtol=1e-6)
    sim.run(0.1)
    assert len(sim.spikes("lif1")[0]) > 0 and len(sim.spikes("lif2")[0]) > 0


def test_a_lif_fed_straight_by_spikes_keeps_the_charge_of_a_spike():
    """nir.LIF after a Linear: a spike is a unit-height pulse for one step, so v jumps by r W dt / tau."""
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([1])}), "fc": nir.Linear(weight=np.array([[0.002]])),
               "lif": nir.LIF(tau=np.array([0.02]), r=np.array([1.0]), v_leak=np.array([0.0]),
                              v_threshold=np.array([1e9]), v_reset=np.array([0.0]))},
        edges=[("input", "fc"), ("fc", "lif")],
    )
    c = from_nir(graph)
    c.block("input").spikes = [[0, 1.0]]
    sim = compile(c, dt=0.1, seed=0)
    sim.run(0.01)
    _, v = sim.trace("lif", "v")
    assert v.max() == pytest.approx(1.0 * 0.002 * 1e-4 / 0.02, rel=1e-3)  # 1e-5 mV, not 0.1 mV (a Dirac)


def test_blocks_nir_cannot_express_are_refused_by_name():
    c = lif_circuit()
    c.add("stdp", "STDP")
    c.connect("stdp.rule", "ee.plasticity")
    c.connect("exc.spikes", "stdp.post")
    with pytest.raises(NIRError, match=r"stdp \(STDP\).*ee \(plastic Projection\)"):
        to_nir(c)
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([2])}),
               "odd": nir.IF(r=np.ones(2), v_threshold=np.ones(2))},
        edges=[("input", "odd")],
    )
    with pytest.raises(NIRError, match=r"odd \(IF\)"):
        from_nir(graph)


def test_export_without_an_input_block_says_what_is_missing():
    from simulations.examples import cuba
    from simulations.nir_io import NIRError, to_nir

    with pytest.raises(NIRError, match="needs an entry point: add an input block"):
        to_nir(cuba(n=100))
