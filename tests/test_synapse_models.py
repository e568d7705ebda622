"""Synapse options: Tsodyks-Markram short-term plasticity against NEST's tsodyks2_synapse, and
Dale's law under plasticity."""
import numpy as np
import pytest
import torch

from simulations import Circuit, compile
from simulations.examples import cuba

TRAIN = [10.0, 30.0, 35.0, 40.0, 45.0, 50.0, 100.0, 300.0, 305.0, 310.0, 700.0]  # ms
DT, TAU = 0.1, 3.0


def psc_amplitudes(trace):
    """Jumps of an exponentially decaying current: I[k] - I[k-1] e^(-dt/tau)."""
    trace = np.asarray(trace)
    jumps = trace[1:] - trace[:-1] * np.exp(-DT / TAU)
    return jumps[np.abs(jumps) > 1e-6 * np.abs(trace).max()]


def ours(U, tau_rec, tau_fac, weight=100.0):
    c = Circuit("tm")
    c.add("src", "SpikeTimes", n=1, spikes=[[0, t] for t in TRAIN])
    c.add("post", "IafPscExp", n=1, V_th=1e9, tau_syn_ex=TAU)
    c.add("syn", "Projection", connectivity="one_to_one", weight=weight, synapse="jump", stp="tsodyks_markram",
          U=U, tau_rec=tau_rec, tau_fac=tau_fac)
    c.connect("src.spikes", "syn.spikes")
    c.connect("syn.current", "post.exc")
    sim = compile(c, dt=DT, dtype=torch.float64, record="none")
    trace = [0.0]
    for _ in range(int(800 / DT)):
        sim.step()
        trace.append(float(sim.get_state("post", "I_ex")))
    # our current takes the arriving weight at the step's start and decays it over the step;
    # NEST adds it at the end of the step before: the same current, sampled one step later
    return psc_amplitudes(trace) / np.exp(-DT / TAU)


def nest_amplitudes(U, tau_rec, tau_fac, weight=100.0):
    nest = pytest.importorskip("nest")
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": DT, "local_num_threads": 1})
    gen = nest.Create("spike_generator", params={"spike_times": TRAIN})
    parrot = nest.Create("parrot_neuron")
    post = nest.Create("iaf_psc_exp", params={"V_th": 1e9, "tau_syn_ex": TAU})
    meter = nest.Create("multimeter", params={"record_from": ["I_syn_ex"], "interval": DT})
    nest.Connect(gen, parrot)
    nest.Connect(parrot, post, syn_spec={"synapse_model": "tsodyks2_synapse", "weight": weight, "delay": DT,
                                         "U": U, "u": U, "x": 1.0, "tau_rec": tau_rec, "tau_fac": tau_fac})
    nest.Connect(meter, post)
    nest.Simulate(800.0)
    return psc_amplitudes(np.r_[0.0, meter.events["I_syn_ex"]])


@pytest.mark.parametrize("U, tau_rec, tau_fac", [(0.5, 800.0, 0.0), (0.1, 100.0, 1000.0), (0.3, 50.0, 20.0)])
def test_tsodyks_markram_psc_amplitudes_equal_nest(U, tau_rec, tau_fac):
    mine, theirs = ours(U, tau_rec, tau_fac), nest_amplitudes(U, tau_rec, tau_fac)
    assert len(theirs) == len(TRAIN)
    assert len(set(np.round(theirs, 6))) > 3  # depression/facilitation changes the amplitudes
    np.testing.assert_allclose(mine, theirs, rtol=1e-9)


def test_dales_law_keeps_signs_under_stdp():
    c = cuba(n=400, stdp_on_ee=True)
    c.block("stdp").A_minus = 5.0  # strong depression: without the constraint weights cross zero
    c.block("stdp").w_min = -10.0
    free = compile(c, seed=2).run(0.3)
    assert float(free.weights("ee").min()) < 0
    c.block("ee").sign = "excitatory"
    c.block("ie").sign = "inhibitory"
    c.block("ie").weight_std = 5.0  # some initial inhibitory weights would be positive
    dale = compile(c, seed=2).run(0.3)
    ee = dale.get_state("ee", "synapses").w
    assert float(ee.min()) >= 0 and float((ee == 0).float().mean()) > 0.01
    assert float(dale.get_state("ie", "synapses").w.max()) <= 0


def stp_network():
    """A recurrent network whose excitatory synapses depress and facilitate, one with delays."""
    c = cuba(n=1500)
    for name in ("ee", "ei"):
        c.remove(name)
    c.add("ee", "Projection", p=0.02, weight=3.0, tau_syn=5.0, stp="tsodyks_markram", U=0.3, tau_rec=120.0,
          tau_fac=40.0, delay=0.2, delay_max=1.5)
    c.add("ei", "Projection", p=0.02, weight=3.0, tau_syn=5.0, stp="tsodyks_markram", U=0.5, tau_rec=300.0)
    for name, post in (("ee", "exc"), ("ei", "inh")):
        c.connect("exc.spikes", f"{name}.spikes")
        c.connect(f"{name}.current", f"{post}.current")
    return c


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_short_term_plasticity_compiled_equals_torch(dtype, monkeypatch):
    """The compiled path (fused programs on one and two threads, and step by step) releases the
    same u x at every spike as the torch path: identical spikes, currents and x, u."""
    from components import native
    from simulations import fused

    variants = {"ee.U": [0.2, 0.4]}
    monkeypatch.setattr(fused, "NEURONS_PER_THREAD", 1)
    runs = []
    for mode in ("fused", "fused2", "stepwise", "torch"):
        monkeypatch.setattr(native, "ENABLED", mode != "torch")
        torch.set_num_threads(2 if mode == "fused2" else 1)
        try:
            sim = compile(stp_network(), seed=6, dtype=dtype, variants=variants, record=["exc.spikes", "inh.spikes"])
            program = fused.build(sim)
            assert (program is not None) == (mode != "torch")
            assert program is None or program.threads() == (2 if mode == "fused2" else 1)
            if mode == "stepwise":
                for _ in range(3000):
                    sim.step()
            else:
                sim.step(3000)
        finally:
            torch.set_num_threads(1)
        state = sim.nodes["ee"].state
        runs.append(([sim.spikes(b, row=r)[k].tolist() for b in ("exc", "inh") for r in (0, 1) for k in (0, 1)],
                     [state[k].clone() for k in ("stp_x", "stp_u", "stp_last")] + [sim.get_state("exc", "v")]))
    assert sum(len(s) for s in runs[0][0]) > 1000
    assert runs[0][1][0].min() < 0.9  # the synapses did depress
    for other in runs[1:]:
        assert other[0] == runs[0][0]
        assert all(torch.equal(a, b) for a, b in zip(other[1], runs[0][1]))
