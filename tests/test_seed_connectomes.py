"""Graph projections (networkx generators, C. elegans), gap-junction coupling."""
import networkx as nx
import numpy as np
import pytest
import torch

from components.connectomes import celegans_edges, celegans_graph, celegans_neurons, generate_graph
from simulations import Circuit, compile


def recurrent(n, **graph):
    c = Circuit()
    c.add("pop", "LIFPopulation", n=n)
    c.add("rec", "GraphProjection", **graph)
    c.connect("pop.spikes", "rec.spikes")
    c.connect("rec.current", "pop.current")
    return c


@pytest.mark.parametrize("kind", ["erdos_renyi", "watts_strogatz", "barabasi_albert"])
def test_graph_projection_synapses_are_the_generator_edges(kind):
    n = 200
    sim = compile(recurrent(n, graph=kind, graph_p=0.05, graph_k=6, graph_m=3, graph_seed=4, weight=0.5), record="none")
    w = sim.weights("rec").numpy()
    expected = nx.to_numpy_array(generate_graph(kind, n, 0.05, 6, 3, seed=4), nodelist=range(n)) * 0.5
    assert np.array_equal(w, expected)
    degree = (w > 0).sum(0)
    if kind == "barabasi_albert":  # scale-free: hubs far above the mean degree
        assert degree.max() > 4 * degree.mean()
    if kind == "watts_strogatz":  # small world: clustering far above a random graph's
        g = nx.from_numpy_array(w)
        assert nx.average_clustering(g) > 5 * nx.density(g)


def test_celegans_connectome_is_shipped_with_its_known_size():
    neurons = celegans_neurons()
    assert len(neurons) == 305 and "AVAL" in neurons and "PVCR" in neurons
    chem, gap = celegans_edges("chemical"), celegans_edges("electrical")
    assert len(chem) > 2000 and len(gap) > 500
    g = celegans_graph("chemical")
    index = {name: i for i, name in enumerate(neurons)}
    assert g[index["ADAL"]][index["AIBR"]]["weight"] == 2  # a row of the source table
    sim = compile(recurrent(305, graph="celegans_chemical", weight=0.25), record="none")
    w = sim.weights("rec")
    assert float(w[index["ADAL"], index["AIBR"]]) == 0.5
    assert int((w > 0).sum()) == len(chem)


def test_gap_junction_couples_two_passive_neurons_to_the_analytic_steady_state():
    # neuron 0 gets a constant current I, neuron 1 none; steady state of
    # a = R I + g R (b - a), b = g R (a - b) with a, b the depolarisations (latency-free).
    R, I, E = 1.0, 10.0, -65.0
    for g in (0.5, 0.0):
        c = Circuit()
        c.add("pop", "LIFPopulation", n=2, v_th=1e6, R=R)
        c.add("gap", "GapJunction", g=g, edges=[[0, 1]])
        c.add("bias", "GapJunction", g=1.0, edges=[])  # no pairs: zero current (a second wire into current)
        c.connect("pop.v", "gap.v")
        c.connect("gap.current", "pop.current")
        c.connect("pop.v", "bias.v")
        c.connect("bias.current", "pop.current")
        sim = compile(c, dt=0.1, dtype=torch.float64, record="none")
        # clamp a constant current into neuron 0 only: set it as the bias output each step
        for _ in range(3000):
            sim.outputs[("bias", "current")] = torch.tensor([[I, 0.0]], dtype=torch.float64)
            sim.step(1)
        v = sim.get_state("pop", "v")[0]
        a, b = float(v[0]) - E, float(v[1]) - E
        gr = g * R
        assert a == pytest.approx(R * I * (1 + gr) / (1 + 2 * gr), rel=1e-6)
        assert b == pytest.approx(R * I * gr / (1 + 2 * gr), rel=1e-6, abs=1e-9)


def test_celegans_gap_junctions_spread_depolarisation_to_partners_only():
    neurons = celegans_neurons()
    index = {name: i for i, name in enumerate(neurons)}
    gap = celegans_graph("electrical")
    source = index["AVAL"]
    partners = set(gap[source])
    near = set(nx.single_source_shortest_path_length(gap, source, cutoff=2))
    far = [i for i in range(len(neurons)) if i not in near]
    rises = {}
    for g in (0.05, 0.0):
        c = Circuit()
        c.add("kick", "PoissonInput", n=1, rate=1000.0)
        c.add("syn", "Projection", connectivity="edges", edges=[[0, source, 5.0]], tau_syn=5.0)
        c.add("worm", "LIFPopulation", n=len(neurons), v_th=1e6)
        c.add("gap", "GapJunction", g=g, connectivity="celegans")
        c.connect("kick.spikes", "syn.spikes")
        c.connect("syn.current", "worm.current")
        c.connect("worm.v", "gap.v")
        c.connect("gap.current", "worm.current")
        sim = compile(c, dt=0.5, record="none").step(400)
        rises[g] = sim.get_state("worm", "v")[0].numpy() + 65.0
    on = rises[0.05]
    assert on[source] > 2.0
    assert min(on[i] for i in partners) > 0.05
    assert max(abs(on[i]) for i in far) < 0.05 * np.mean([on[i] for i in partners])
    assert max(abs(rises[0.0][i]) for i in partners) < 1e-6  # no coupling: partners stay at rest
