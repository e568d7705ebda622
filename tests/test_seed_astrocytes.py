"""Seed astrocyte blocks against their catalogue checks: AstroModulatedUnit (calcium steady
state, tripartite weight scaling) and the NALSM Astrocyte (sets the STDP depression from liquid vs input activity)."""
import math

import numpy as np
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


def nalsm_liquid(astrocyte: bool, modulated: str = "depression", n: int = 200) -> Circuit:
    """A LIF liquid (in-degree 10) driven by 64 Poisson inputs, recurrent synapses under
    balanced STDP (A_plus = A_minus), and a global astrocyte (block defaults, the reference
    rule) that reads the liquid's connectivity and, if ``astrocyte``, sets the STDP depression."""
    c = Circuit()
    c.add("inp", "PoissonInput", n=64, rate=20.0)
    c.add("liq", "LIFPopulation", n=n, v_init="uniform")
    c.add("in_liq", "Projection", p=0.2, weight=30.0, tau_syn=2.0)
    c.add("rec", "Projection", p=10 / n, weight=1.0, tau_syn=2.0, autapses=False)
    c.add("stdp", "STDP", A_plus=0.05, A_minus=0.05, w_min=0.0, w_max=12.0, modulated=modulated)
    c.add("astro", "Astrocyte")
    for a, b in [("inp.spikes", "in_liq.spikes"), ("in_liq.current", "liq.current"), ("liq.spikes", "rec.spikes"),
                 ("rec.current", "liq.current"), ("stdp.rule", "rec.plasticity"), ("liq.spikes", "stdp.post"),
                 ("astro.liquid", "rec.plasticity"), ("liq.spikes", "astro.liquid_activity"),
                 ("inp.spikes", "astro.input_activity")]:
        c.connect(a, b)
    if astrocyte:
        c.connect("astro.modulation", "stdp.modulation")
    return c


@pytest.mark.slow
def test_nalsm_astrocyte_depresses_a_liquid_more_active_than_its_input_over_five_seeds():
    """Row 0: the astrocyte sets the depression; row 1: the same STDP from the same super-critical
    start (w = 12) without it (the astrocyte ignores activity and sits at bias 1). The liquid
    fires more spikes than its input, so the astrocyte raises depression and the weights fall
    well below the plain STDP's. Negative result, not asserted here (docs/claims.md): the
    branching factor does not come nearer 1 than with plain STDP at 200 neurons, and a frozen
    weak liquid already reads about 1.08."""
    astro_w, plain_w = [], []
    for seed in range(5):
        sim = compile(nalsm_liquid(True), dt=1.0, seed=seed, record="none",
                      variants={"astro.w_in": [0.02, 0.0], "astro.w_liq": [0.02, 0.0]})
        sim.get_state("rec", "w")[:] = 12.0
        sim.run(2.0)
        a = sim.get_state("astro", "a")[:, 0]
        assert a[0] > 1.05 and a[1] == pytest.approx(1.0)  # more depression than the plain rate
        astro_w.append(float(sim.get_state("rec", "w")[0].mean()))
        plain_w.append(float(sim.get_state("rec", "w")[1].mean()))
    astro_w, plain_w = np.array(astro_w), np.array(plain_w)
    assert (astro_w < plain_w).all(), (astro_w, plain_w)
    assert plain_w.mean() - astro_w.mean() > 3 * np.sqrt((astro_w.var(ddof=1) + plain_w.var(ddof=1)) / 2)
