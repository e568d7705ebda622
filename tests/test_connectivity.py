"""Connectivity rules and inputs produce what they promise."""
import math

import networkx as nx
import numpy as np
import pytest
import torch

from components.projection import Projection
from components.synapses import fixed_probability
from simulations import Circuit, compile


def built(projection_params, n_pre=50, n_post=40, seed=0):
    c = Circuit()
    c.add("pre", "PoissonInput", n=n_pre)
    c.add("syn", "Projection", **projection_params)
    c.add("post", "LIFPopulation", n=n_post)
    c.connect("pre.spikes", "syn.spikes")
    c.connect("syn.current", "post.current")
    return compile(c, seed=seed, record="none").get_state("syn", "synapses")


def test_fixed_probability_count_within_three_sigma_and_no_duplicates():
    n_pre, n_post, p = 2000, 1500, 0.01
    pre, post = fixed_probability(n_pre, n_post, p, torch.Generator().manual_seed(3))
    total = n_pre * n_post
    assert abs(len(pre) - total * p) < 3 * math.sqrt(total * p * (1 - p))
    assert len(set(zip(pre.tolist(), post.tolist()))) == len(pre)
    assert pre.min() >= 0 and pre.max() < n_pre and post.min() >= 0 and post.max() < n_post
    # out-degrees are binomial: their variance matches n_post p (1 - p) within 10%
    degree = np.bincount(pre.numpy(), minlength=n_pre)
    assert degree.var() == pytest.approx(n_post * p * (1 - p), rel=0.1)


def test_all_to_all_one_to_one_and_autapses():
    assert len(built(dict(connectivity="all_to_all"))) == 50 * 40
    syn = built(dict(connectivity="one_to_one"), n_pre=30, n_post=30)
    assert syn.pre.tolist() == syn.post.tolist() == list(range(30))
    assert len(built(dict(connectivity="one_to_one", autapses=False), n_pre=30, n_post=30)) == 0


def test_weights_with_spread_and_seed():
    a = built(dict(connectivity="all_to_all", weight=2.0, weight_std=0.5))
    b = built(dict(connectivity="all_to_all", weight=2.0, weight_std=0.5), seed=1)
    assert a.w.mean().item() == pytest.approx(2.0, abs=0.05) and a.w.std().item() == pytest.approx(0.5, rel=0.1)
    assert not torch.equal(a.w, b.w)
    pinned = [built(dict(connectivity="fixed_probability", p=0.2, seed=42), seed=s) for s in (0, 1)]
    assert torch.equal(pinned[0].pre, pinned[1].pre) and torch.equal(pinned[0].post, pinned[1].post)


def test_projection_from_networkx_graph():
    g = nx.DiGraph()
    g.add_edge(0, 3, weight=1.5)
    g.add_edge(2, 1)
    c = Circuit()
    c.add("pre", "PoissonInput", n=4)
    c.add("syn", Projection.from_graph(g, weight=0.7))
    c.add("post", "LIFPopulation", n=4)
    c.connect("pre.spikes", "syn.spikes")
    c.connect("syn.current", "post.current")
    w = compile(c).weights("syn")
    assert w[0, 3] == 1.5 and w[2, 1] == 0.7 and w.count_nonzero() == 2
    undirected = Projection.from_graph(nx.path_graph(3))
    assert sorted(map(tuple, (e[:2] for e in undirected.edges))) == [(0, 1), (1, 0), (1, 2), (2, 1)]


@pytest.mark.parametrize("mode, expected", [
    ("constant", lambda t: np.full_like(t, 3.0)),
    ("step", lambda t: np.where((t >= 2.0) & (t < 5.0), 3.0, 0.0)),
    ("sine", lambda t: 3.0 * np.sin(2 * np.pi * 100.0 * t * 1e-3)),
])
def test_current_input_time_courses(mode, expected):
    c = Circuit()
    c.add("drive", "CurrentInput", n=2, mode=mode, amplitude=3.0, t_on=2.0, t_off=5.0, frequency=100.0)
    sim = compile(c, dtype=torch.float64).step(100)
    t, values = sim.trace("drive", "current")
    np.testing.assert_allclose(values[:, 0, 0], expected(t), atol=1e-9)
