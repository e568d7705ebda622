"""Seed neuron blocks against their catalogue checks: AdaptiveLIF (homeostatic rate control),
DendriticNeuron (analytic false-match probability), ELMNeuron (delayed recall)."""
import numpy as np
import pytest
import torch

from components.dendritic_neuron import DendriticNeuron
from simulations import Circuit, SampleRecorder, compile


def test_adaptive_lif_homeostasis_holds_the_target_rate_for_very_different_inputs():
    c = Circuit()
    c.add("drive", "CurrentInput", n=4)
    c.add("neu", "AdaptiveLIF", n=4, target_rate=20.0, d_theta=1.0, tau_theta=100.0)
    c.connect("drive.current", "neu.current")
    # rows: weak and strong drive, each with homeostasis on and off
    sim = compile(c, dt=1.0, record=["neu.spikes"],
                  variants={"drive.amplitude": [25.0, 80.0, 25.0, 80.0], "neu.eta_h": [1.0, 1.0, 0.0, 0.0]})
    sim.run(6.0)
    sim.recorders["neu.spikes"].clear()
    sim.run(2.0)
    rates = sim.rates("neu")
    assert rates[0] == pytest.approx(20.0, rel=0.1) and rates[1] == pytest.approx(20.0, rel=0.1)
    assert rates[3] > 2.5 * rates[2] and abs(rates[2] - 20.0) > 5.0 and abs(rates[3] - 20.0) > 50.0  # off: no control
    h = sim.get_state("neu", "h")
    assert float(h[1].mean()) > float(h[0].mean()) > 0 and float(h[2:].abs().max()) == 0.0


def dendrite_circuit(n_in, a, s, theta, **extra):
    c = Circuit()
    c.add("src", "PatternInput", n=n_in, order="random_k", k=a)
    c.add("den", "DendriticNeuron", n=10, n_segments=5, s=s, theta=theta, **extra)
    c.connect("src.spikes", "den.input")
    return c


@pytest.mark.parametrize("theta", [6, 8])
def test_dendrite_false_match_rate_equals_the_analytic_probability(theta):
    n_in, a, s, steps = 200, 40, 20, 3000
    sim = compile(dendrite_circuit(n_in, a, s, theta), dt=1.0, record="none", seed=3)
    sim.record("den.segments", SampleRecorder("heatmap", every=1, capacity=steps))
    sim.step(steps)
    _, active = sim.trace("den", "segments")
    per_step = active.reshape(steps, -1).mean(1)  # segments share a step's pattern: use per-step means
    expected = DendriticNeuron.false_match_probability(n_in, a, s, theta)
    sigma = per_step.std() / np.sqrt(steps)
    assert 0.001 < expected < 0.2
    assert abs(per_step.mean() - expected) < 3 * sigma, (per_step.mean(), expected, sigma)


def test_dendrite_segment_sampled_from_a_pattern_recognises_it_despite_noise():
    n_in, a, s, theta = 200, 40, 20, 10
    rng = np.random.default_rng(0)
    stored = rng.choice(n_in, a, replace=False)
    segs = [sorted(rng.choice(stored, s, replace=False).tolist()) for _ in range(2)]
    noisy = stored.copy()
    noisy[: a // 4] = rng.choice(np.setdiff1d(np.arange(n_in), stored), a // 4, replace=False)  # 25% noise
    patterns = [np.isin(np.arange(n_in), p).astype(float).tolist() for p in (stored, noisy)]
    patterns.append(np.isin(np.arange(n_in), rng.choice(n_in, a, replace=False)).astype(float).tolist())
    c = Circuit()
    c.add("src", "PatternInput", n=n_in, patterns=patterns)
    c.add("den", "DendriticNeuron", n=1, n_segments=2, s=s, theta=theta, segment_inputs=segs)
    c.connect("src.spikes", "den.input")
    sim = compile(c, dt=1.0, record=["den.spikes"]).step(3)
    times, _ = sim.spikes("den")
    assert times.tolist() == [0.0, 1.0]  # stored and noisy pattern detected, random one not
    assert DendriticNeuron.false_match_probability(n_in, a, s, theta) < 0.01
