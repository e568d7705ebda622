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
