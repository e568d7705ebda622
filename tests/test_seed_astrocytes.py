"""Seed astrocyte blocks against their catalogue checks: AstroModulatedUnit (calcium steady
state, tripartite weight scaling) and the NALSM Astrocyte (branching factor near 1)."""
import math

import pytest
import torch

from simulations import Circuit, SampleRecorder, compile


def amsu_circuit(rate=50.0, n_domains=4, tau_ca=100.0, alpha=1.0, beta=0.5):
    c = Circuit()
    c.add("src", "PoissonInput", n=40, rate=rate)
    c.add("syn", "Projection", connectivity="all_to_all", weight=0.5, weight_std=0.1)
    c.add("sink", "LIFPopulation", n=5, R=0.0)
    c.add("astro", "AstroModulatedUnit", n_domains=n_domains, tau_ca=tau_ca, alpha=alpha, beta=beta)
    c.connect("src.spikes", "syn.spikes")
    c.connect("syn.current", "sink.current")
    c.connect("astro.rule", "syn.plasticity")
    return c


def test_amsu_calcium_reaches_the_analytic_steady_state_and_scales_weights():
    steps, dt, tau, rate, alpha, beta = 8000, 1.0, 100.0, 50.0, 1.0, 0.5
    sim = compile(amsu_circuit(rate, tau_ca=tau, alpha=alpha, beta=beta), dt=dt, record="none",
                  dtype=torch.float64, variants={"astro.beta": [beta, 0.0]})
    w0 = sim.weights("syn").clone()
    sim.record("astro.calcium", SampleRecorder("heatmap", every=1, capacity=steps))
    sim.step(steps)
    _, ca = sim.trace("astro", "calcium")
    steady = alpha * rate * dt * 1e-3 / (1 - math.exp(-dt / tau))
    assert ca[: 5].mean() < 0.3 * steady  # starts from zero
    assert ca[1000:].mean() == pytest.approx(steady, rel=0.03)
    # tripartite synapse: effective weight = w * (1 + beta * ca) of the synapse's domain
    domain = torch.arange(40) * 4 // 40
    ca_now = torch.as_tensor(ca[-1, 0])
    assert torch.allclose(sim.weights("syn", row=0), w0 * (1 + beta * ca_now[domain])[:, None], rtol=1e-9)
    assert torch.equal(sim.weights("syn", row=1), w0)  # beta = 0: calcium has no effect


def nalsm_liquid(astrocyte: bool) -> Circuit:
    """A 200-neuron LIF liquid driven by 50 Poisson inputs, recurrent synapses under STDP
    (A_plus > A_minus), and a global astrocyte that reads the liquid's connectivity."""
    c = Circuit()
    c.add("inp", "PoissonInput", n=50, rate=20.0)
    c.add("liq", "LIFPopulation", n=200, v_init="uniform")
    c.add("in_liq", "Projection", p=0.2, weight=30.0, tau_syn=2.0)
    c.add("rec", "Projection", p=0.05, weight=1.0, tau_syn=2.0, autapses=False)
    c.add("stdp", "STDP", A_plus=0.1, A_minus=0.05, w_min=0.0, w_max=12.0)
    c.add("astro", "Astrocyte", w_in=1.0, w_liq=1 / 6, tau_a=100.0, gain=4.0)
    for a, b in [("inp.spikes", "in_liq.spikes"), ("in_liq.current", "liq.current"), ("liq.spikes", "rec.spikes"),
                 ("rec.current", "liq.current"), ("stdp.rule", "rec.plasticity"), ("liq.spikes", "stdp.post"),
                 ("astro.liquid", "rec.plasticity"), ("liq.spikes", "astro.liquid_activity"),
                 ("inp.spikes", "astro.input_activity")]:
        c.connect(a, b)
    if astrocyte:
        c.connect("astro.modulation", "stdp.modulation")
    return c


def test_nalsm_astrocyte_tunes_the_liquid_to_a_branching_factor_near_one_from_both_sides():
    results = {}
    for astrocyte in (True, False):
        sim = compile(nalsm_liquid(astrocyte), dt=1.0, batch=2, seed=0, record=["astro.branching"])
        w = sim.get_state("rec", "w")
        w[0], w[1] = 0.5, 12.0  # row 0 starts sub-critical, row 1 super-critical
        sim.run(9.0)
        steps, bf = sim.trace("astro", "branching")  # running mean, one value per step and row
        start = bf[(steps >= 900) & (steps < 1000)].mean(0).ravel()
        end = bf[steps >= 7000].mean(0).ravel()
        results[astrocyte] = (start, end)
    (start, end), (_, end_without) = results[True], results[False]
    assert start[0] < 0.8 and start[1] > 1.15  # the two starts really are sub- and super-critical
    assert ((0.9 < end) & (end < 1.1)).all(), end  # with the astrocyte: near critical from both sides
    assert (end_without > 1.2).all(), end_without  # plain STDP runs away into the super-critical regime
