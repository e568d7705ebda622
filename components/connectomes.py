"""Connectomes: networkx graph generators and the C. elegans wiring diagram as projections.

Helpers (``generate_graph``, ``celegans_neurons``, ``celegans_graph``, ``celegans_edges``) and
the ``GraphProjection`` block: a Projection whose synapses are the edges of an Erdos-Renyi,
Watts-Strogatz (small world) or Barabasi-Albert (scale-free) graph, or the chemical synapses of
the C. elegans hermaphrodite (White et al. 1986 / Varshney et al. 2011, shipped in
assets/connectomes/, see assets/README.md). For gap junctions see ``GapJunction``.
"""
from __future__ import annotations

import csv
from functools import lru_cache

import networkx as nx
import param
import torch

from .assets import ASSETS
from .base import Probe
from .projection import Projection

CELEGANS_CSV = ASSETS / "connectomes" / "celegans_white1986.csv"
GENERATORS = ("erdos_renyi", "watts_strogatz", "barabasi_albert")


def generate_graph(kind: str, n: int, p: float = 0.1, k: int = 4, m: int = 2, seed: int = 0) -> nx.Graph:
    """An undirected networkx graph on nodes 0..n-1: ``erdos_renyi`` (each pair with
    probability p), ``watts_strogatz`` (ring of k neighbours, each edge rewired with probability
    p) or ``barabasi_albert`` (preferential attachment, m edges per new node)."""
    if kind == "erdos_renyi":
        return nx.gnp_random_graph(n, p, seed=seed)
    if kind == "watts_strogatz":
        return nx.watts_strogatz_graph(n, k, p, seed=seed)
    if kind == "barabasi_albert":
        return nx.barabasi_albert_graph(n, m, seed=seed)
    raise ValueError(f"unknown graph kind {kind!r}; expected one of {GENERATORS}")


@lru_cache(maxsize=1)
def _celegans_rows() -> tuple[tuple[str, str, str, int], ...]:
    with CELEGANS_CSV.open() as f:
        lines = [line for line in f if not line.startswith("#")]
    return tuple((r["pre"], r["post"], r["type"], int(r["synapses"])) for r in csv.DictReader(lines))


def celegans_neurons() -> list[str]:
    """The neuron names, sorted; a neuron's index in a population is its place in this list."""
    return sorted({name for row in _celegans_rows() for name in row[:2]})


def celegans_edges(kind: str = "chemical") -> list[list]:
    """Rows [pre index, post index, number of contacts] of ``chemical`` synapses (directed) or
    ``electrical`` gap junctions (one row per pair; symmetric)."""
    index = {name: i for i, name in enumerate(celegans_neurons())}
    return [[index[a], index[b], n] for a, b, t, n in _celegans_rows() if t == kind]


def celegans_graph(kind: str = "chemical") -> nx.Graph:
    """Chemical synapses as a DiGraph, gap junctions as a Graph; node i has attribute ``name``,
    edge attribute ``weight`` is the number of contacts."""
    g = nx.DiGraph() if kind == "chemical" else nx.Graph()
    for i, name in enumerate(celegans_neurons()):
        g.add_node(i, name=name)
    g.add_weighted_edges_from((a, b, float(n)) for a, b, n in celegans_edges(kind))
    return g


class GraphProjection(Projection):
    """A Projection wired by a graph: a networkx generator (Erdos-Renyi, Watts-Strogatz small
    world, Barabasi-Albert scale-free; an undirected edge gives synapses both ways) or the
    C. elegans hermaphrodite chemical synapses (White et al. 1986 as re-analysed by Varshney et
    al. 2011; weight = ``weight`` x number of contacts). Recurrent use: wire a population's
    spikes back to its own current. Synaptic maths, delays and plasticity are the Projection's.
    """

    category = "connectomes"
    graph = param.Selector(default="erdos_renyi", objects=[*GENERATORS, "celegans_chemical"], doc="graph source")
    graph_p = param.Number(0.1, bounds=(0.0, 1.0), doc="Erdos-Renyi edge / Watts-Strogatz rewiring probability")
    graph_k = param.Integer(4, bounds=(1, None), doc="Watts-Strogatz: ring neighbours")
    graph_m = param.Integer(2, bounds=(1, None), doc="Barabasi-Albert: edges per new node")
    graph_seed = param.Integer(0, doc="seed of the generator")
    structural = (*Projection.structural, "graph_p")
    probes = {**Projection.probes, "degree": Probe("in_degree", "heatmap", "in-degree of each neuron")}

    def graph_edges(self, n: int) -> list[list]:
        if self.graph == "celegans_chemical":
            return [[a, b, self.weight * c] for a, b, c in celegans_edges("chemical")]
        g = generate_graph(self.graph, n, self.graph_p, self.graph_k, self.graph_m, self.graph_seed)
        rows = [[u, v, self.weight] for u, v in g.edges() if u != v]
        return rows + [[v, u, w] for u, v, w in rows]

    def check(self, ctx):
        n_pre, n_post = ctx.sizes["spikes"], ctx.sizes["current"]
        if n_pre != n_post:
            raise ValueError(f"a graph projection needs equal pre and post sizes, got {n_pre} and {n_post}")
        if self.graph == "celegans_chemical" and n_pre != len(celegans_neurons()):
            raise ValueError(f"the C. elegans connectome has {len(celegans_neurons())} neurons, the wires give {n_pre}")
        if self.graph == "barabasi_albert" and not self.graph_m < n_pre:
            raise ValueError(f"Barabasi-Albert needs graph_m < n, got m={self.graph_m}, n={n_pre}")
        if self.graph == "watts_strogatz" and not self.graph_k < n_pre:
            raise ValueError(f"Watts-Strogatz needs graph_k < n, got k={self.graph_k}, n={n_pre}")

    def _connect(self, ctx, generator):
        rows = self.graph_edges(ctx.sizes["spikes"])
        pre = torch.tensor([r[0] for r in rows], dtype=torch.long)
        post = torch.tensor([r[1] for r in rows], dtype=torch.long)
        return pre, post, torch.tensor([float(r[2]) for r in rows], dtype=torch.float64), None

    def init_state(self, ctx, p):
        state = super().init_state(ctx, p)
        syn = state["synapses"]
        state["in_degree"] = torch.bincount(syn.post, minlength=syn.n_post).to(ctx.dtype).expand(ctx.batch, -1)
        return state
