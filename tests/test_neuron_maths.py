"""Reference checks of the core blocks against analytic results (catalogue)."""
import math

import numpy as np
import pytest

from simulations import Circuit, compile


def lif_driven(amplitudes, t_ref=2.0):
    c = Circuit()
    c.add("drive", "CurrentInput", n=1, amplitude=amplitudes[0])
    c.add("cell", "LIFPopulation", n=1, tau_m=20.0, E_L=-65.0, v_th=-50.0, v_reset=-65.0, t_ref=t_ref)
    c.connect("drive.current", "cell.current")
    return compile(c, dt=0.1, variants={"drive.amplitude": amplitudes})


def test_lif_f_i_curve_matches_analytic_rate_within_one_percent():
    currents = [20.0, 30.0, 50.0]  # R I above v_th - E_L = 15 mV
    sim = lif_driven(currents).run(2.0)
    for row, ri in enumerate(currents):
        times, _ = sim.spikes("cell", row=row)
        assert len(times) > 20
        simulated = 1000.0 / np.mean(np.diff(times))
        analytic = 1000.0 / (2.0 + 20.0 * math.log(ri / (ri - 15.0)))
        assert simulated == pytest.approx(analytic, rel=0.01), (ri, simulated, analytic)


def test_lif_below_rheobase_never_fires():
    sim = lif_driven([14.0]).run(1.0)
    assert len(sim.spikes("cell")[0]) == 0


def test_lif_refractory_holds_v_for_t_ref():
    sim = lif_driven([200.0], t_ref=5.0).run(0.2)
    times, _ = sim.spikes("cell")
    assert np.diff(times).min() >= 5.0 - 1e-9


def test_poisson_rate_within_three_sigma():
    c = Circuit()
    c.add("src", "PoissonInput", n=20, rate=40.0)
    sim = compile(c, dt=0.1, seed=7).step(100_000)
    count = len(sim.spikes("src")[0])
    p = 40.0 * 0.1e-3
    trials = 20 * 100_000
    assert abs(count - trials * p) < 3 * math.sqrt(trials * p * (1 - p))


def test_synaptic_current_decays_with_tau_syn_exactly():
    c = Circuit()
    c.add("pre", "SpikeTimes", n=1, spikes=[[0, 1.0]])
    c.add("syn", "Projection", connectivity="one_to_one", weight=2.0, tau_syn=5.0)
    c.add("post", "LIFPopulation", n=1)
    c.connect("pre.spikes", "syn.spikes")
    c.connect("syn.current", "post.current")
    sim = compile(c, dt=0.1, dtype=__import__("torch").float64).step(200)
    steps, values = sim.recorders["syn.current"].samples()
    i = values[:, 0, 0]
    first = int(np.argmax(i > 0))
    assert steps[first] == 10 and i[first] == 2.0
    k = np.arange(len(i) - first)
    np.testing.assert_allclose(i[first:], 2.0 * np.exp(-k * 0.1 / 5.0), rtol=1e-12)
