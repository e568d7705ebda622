"""Demo: LIF neurons on the real C. elegans wiring, driven at touch and nose sensory neurons."""
from __future__ import annotations

from functools import lru_cache

import networkx as nx
import numpy as np

from components.connectomes import celegans_graph, celegans_neurons
from simulations import Circuit, compile

from .base import Demo, Outcome, Schedule

SENSORY = ["ALML", "ALMR", "AVM", "ASHL", "ASHR"]  # anterior touch receptors and the nose's nociceptors
WINDOW_MS = 100.0
HOPS = ["sensory (0 hops)", "1 synapse away", "2 synapses away", "3 or more"]


def build(chemical: float = 6.0, gap: float = 0.1) -> Circuit:
    index = {name: i for i, name in enumerate(celegans_neurons())}
    c = Circuit("worm_connectome")
    c.add("touch", "PoissonInput", n=len(SENSORY), rate=80.0, position=(0, 150))
    c.add("sensory", "Projection", connectivity="edges", tau_syn=5.0,
          edges=[[k, index[name], 60.0] for k, name in enumerate(SENSORY)], position=(220, 150))
    c.add("worm", "LIFPopulation", n=len(index), tau_m=20.0, v_init="uniform", position=(470, 150))
    c.add("chemical", "GraphProjection", graph="celegans_chemical", weight=chemical, tau_syn=5.0, position=(470, 400))
    c.add("gap", "GapJunction", connectivity="celegans", g=gap, position=(720, 400))
    for a, b in [("touch.spikes", "sensory.spikes"), ("sensory.current", "worm.current"),
                 ("worm.spikes", "chemical.spikes"), ("chemical.current", "worm.current"),
                 ("worm.v", "gap.v"), ("gap.current", "worm.current")]:
        c.connect(a, b)
    return c


@lru_cache(maxsize=1)
def hop_distance() -> np.ndarray:
    """Per neuron: the fewest chemical synapses or gap junctions from a driven sensory neuron
    (3 stands for 3 or more; unreachable neurons too)."""
    g = nx.DiGraph(celegans_graph("chemical"))
    for a, b in celegans_graph("electrical").edges():
        g.add_edge(a, b)
        g.add_edge(b, a)
    index = {name: i for i, name in enumerate(celegans_neurons())}
    dist = nx.multi_source_dijkstra_path_length(g, [index[s] for s in SENSORY], weight=lambda *_: 1)
    return np.array([min(3, dist.get(i, 3)) for i in range(len(index))])


def active_by_hops(times_ms, neurons, since_ms: float) -> np.ndarray:
    """Fraction of neurons in each hop group that spiked after ``since_ms``."""
    hops = hop_distance()
    active = np.zeros(len(hops), bool)
    active[neurons[times_ms >= since_ms].astype(int)] = True
    return np.array([active[hops == h].mean() for h in range(4)])


def live(sim) -> dict[str, list[float]]:
    t, n = sim.spikes("worm")
    frac = active_by_hops(t, n, sim.time - WINDOW_MS)
    return {f"active, {name} (%)": [100 * f] for name, f in zip(HOPS, frac)}


def outcome(seconds: float | None = None) -> Outcome:
    seconds = seconds or DEMO.full_seconds
    results, first = {}, {}
    for label, circuit in [("wired", DEMO.circuit()), ("unwired", build(chemical=0.0, gap=0.0))]:
        sim = compile(circuit, dt=DEMO.dt, seed=DEMO.seed, record=["worm.spikes"])
        sim.run(seconds)
        t, n = sim.spikes("worm")
        results[label] = active_by_hops(t, n, 0.0)
        hops = hop_distance()
        first[label] = [float(np.median([t[n == i].min() for i in np.flatnonzero(hops == h) if (n == i).any()]))
                        if any((n == i).any() for i in np.flatnonzero(hops == h)) else float("nan")
                        for h in range(4)]
    counts = np.bincount(hop_distance(), minlength=4)
    figures = {f"active_{h}hops_{label}": 100 * results[label][h] for label in results for h in range(4)}
    figures.update({f"first_spike_{h}hops_ms": first["wired"][h] for h in range(4)})
    lines = [f"Worm connectome: 305 LIF neurons on the C. elegans chemical synapses and gap junctions, "
             f"{', '.join(SENSORY)} driven, {seconds:g} s",
             f"{'neurons':<22}{'count':>6}{'active (wired)':>16}{'median first spike':>20}{'active (no synapses)':>22}"]
    for h, name in enumerate(HOPS):
        lines.append(f"{name:<22}{counts[h]:>6}{100 * results['wired'][h]:>15.1f}%{first['wired'][h]:>17.1f} ms"
                     f"{100 * results['unwired'][h]:>21.1f}%")
    chart = {"kind": "bars", "title": "% active by synapses from sensory",
             "series": {f"{h} hops" if h < 3 else "3+": 100 * results["wired"][h] for h in range(4)}}
    return Outcome(figures, lines, chart)


DEMO = Demo(
    name="worm",
    title="Worm connectome",
    paper="White et al. (1986), \"The structure of the nervous system of the nematode Caenorhabditis elegans\"; "
          "Varshney et al. (2011)",
    teaching=(
        "Every one of the 305 neurons of the C. elegans hermaphrodite is a LIF neuron here, wired by the "
        "real chemical synapses (weight proportional to the number of contacts) and gap junctions. Only five "
        "sensory neurons are driven: the anterior touch receptors ALML, ALMR, AVM and the nose's nociceptors "
        "ASHL and ASHR, for 2 s; then the touch stops and the network falls silent (the app keeps running). "
        "Watch the raster and the demo panel: activity starts at the sensory neurons and reaches a share of "
        "the neurons one synapse away and a few two synapses away. The data give no synapse signs, so every "
        "synapse excites, and the balance is fragile: select `touch` after 2 s and set `rate` back to 80, and "
        "at about 2.5 s of drive the network ignites (about 80% of the neurons one synapse away fire), as it "
        "does at once with `worm.R` raised from 1.0 to 1.1, a reminder of what the worm's inhibition is for. "
        "Raising the gap junctions' `g` to 0.3 does the opposite: coupling to resting partners shunts the activity away."
    ),
    circuit_file="worm_connectome.json",
    build=build,
    outcome=outcome,
    dt=0.5,
    schedule=Schedule([(2000.0, "touch", "rate", 0.0)]),  # the touch lasts the demo's 2 s
    live=live,
    live_title="% of neurons active in the last 100 ms, by synapses from the driven sensory neurons",
    metrics=[f"active, {name} (%)" for name in HOPS],
    full_seconds=2.0,
    speed="1x real time",
)
