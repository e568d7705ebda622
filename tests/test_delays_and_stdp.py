"""Delays arrive exactly d steps later; STDP's pair window is exact."""
import math

import numpy as np
import pytest
import torch

from simulations import Circuit, compile


def relay(delay_ms=None, edges=None):
    c = Circuit()
    c.add("pre", "SpikeTimes", n=2, spikes=[[0, 0.5], [1, 0.5]])
    params = dict(connectivity="one_to_one", weight=1.0, tau_syn=1000.0)
    if edges is not None:
        params = dict(connectivity="edges", edges=edges, tau_syn=1000.0)
    if delay_ms is not None:
        params["delay"] = delay_ms
    c.add("syn", "Projection", **params)
    c.add("post", "LIFPopulation", n=2, R=0.0)
    c.connect("pre.spikes", "syn.spikes")
    c.connect("syn.current", "post.current")
    return compile(c, dt=0.1).step(60)


def first_arrival(sim, neuron):
    steps, values = sim.recorders["syn.current"].samples()
    return int(steps[np.argmax(values[:, 0, neuron] > 0)])


@pytest.mark.parametrize("d", [0, 1, 7, 30])
def test_spike_arrives_exactly_d_steps_later(d):
    sim = relay(delay_ms=d * 0.1)
    assert first_arrival(sim, 0) == 5 + d


def test_per_synapse_delays_from_edge_list():
    sim = relay(edges=[[0, 0, 1.0, 0.3], [1, 1, 1.0, 2.0]])
    assert first_arrival(sim, 0) == 5 + 3
    assert first_arrival(sim, 1) == 5 + 20


def pair(pre_ms, post_ms, w_min=0.0, w_max=1.0, modulation=None, modulated="both"):
    c = Circuit()
    c.add("pre", "SpikeTimes", n=1, spikes=[[0, pre_ms]])
    c.add("post", "SpikeTimes", n=1, spikes=[[0, post_ms]])
    c.add("syn", "Projection", connectivity="one_to_one", weight=0.5)
    c.add("sink", "LIFPopulation", n=1, R=0.0)
    c.add("stdp", "STDP", A_plus=0.01, A_minus=0.0105, tau_plus=20.0, tau_minus=20.0, w_min=w_min, w_max=w_max,
          modulated=modulated)
    if modulation is not None:  # a constant modulation: an astrocyte that ignores activity sits at its bias
        c.add("astro", "Astrocyte", w_in=0.0, w_liq=0.0, bias=modulation)
        c.connect("post.spikes", "astro.liquid_activity")
        c.connect("astro.modulation", "stdp.modulation")
    c.connect("pre.spikes", "syn.spikes")
    c.connect("syn.current", "sink.current")
    c.connect("stdp.rule", "syn.plasticity")
    c.connect("post.spikes", "stdp.post")
    sim = compile(c, dt=0.1, dtype=torch.float64).step(600)
    return float(sim.weights("syn")[0, 0]) - 0.5


def test_stdp_pre_before_post_potentiates_by_a_plus_window():
    assert pair(5.0, 15.0) == pytest.approx(0.01 * math.exp(-10 / 20), abs=1e-6)


def test_stdp_post_before_pre_depresses_by_a_minus_window():
    assert pair(15.0, 5.0) == pytest.approx(-0.0105 * math.exp(-10 / 20), abs=1e-6)


@pytest.mark.parametrize("modulated, up, down", [("both", 3.0, 3.0), ("depression", 1.0, 3.0)])
def test_modulation_scales_both_rates_or_only_depression(modulated, up, down):
    """NALSM's astrocyte sets only the depression rate (potentiation fixed, as its reference code)."""
    window = math.exp(-10 / 20)
    assert pair(5.0, 15.0, modulation=3.0, modulated=modulated) == pytest.approx(up * 0.01 * window, abs=1e-6)
    assert pair(15.0, 5.0, modulation=3.0, modulated=modulated) == pytest.approx(-down * 0.0105 * window, abs=1e-6)


def test_stdp_clips_weights_to_bounds():
    assert pair(5.0, 5.2) == pytest.approx(0.01 * math.exp(-0.2 / 20), abs=1e-9)  # unclipped
    assert pair(5.0, 5.2, w_max=0.505) == pytest.approx(0.005, abs=1e-12)
    assert pair(5.2, 5.0, w_min=0.498) == pytest.approx(-0.002, abs=1e-12)
