"""Fused programs on several threads give exactly the spikes and state of one thread: each
thread owns a share of every population's neurons and of every projection's targets, so each
value receives its additions in the same order whatever the thread count (not timed here:
benchmarks/scale.py measures the speed-up)."""
import pytest
import torch

from components import native
from components.equation_neuron import IafPscExp
from simulations import Circuit, compile, fused
from simulations.examples import cuba


@pytest.fixture
def threads(monkeypatch):
    """Set torch's thread count (what fused programs use) for one run; restored afterwards.
    Small circuits would run on one thread: these use every thread they are given."""
    monkeypatch.setattr(fused, "NEURONS_PER_THREAD", 1)
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)


def lif_net():
    c = cuba(n=3000)
    c.add("late", "Projection", p=0.01, weight=1.5, tau_syn=3.0, delay=0.5, delay_max=2.0)  # a third input, delayed
    c.connect("exc.spikes", "late.spikes")
    c.connect("late.current", "exc.current")
    return c


def model_net():
    c = Circuit("recurrent")
    c.add("pop", IafPscExp(n=3000, I_e=390.0))
    c.add("e", "Projection", p=0.01, weight=80.0, synapse="jump", autapses=False)
    c.add("i", "Projection", p=0.01, weight=-120.0, synapse="jump", delay=0.3, delay_max=1.0)
    for name, port in (("e", "exc"), ("i", "inh")):
        c.connect("pop.spikes", f"{name}.spikes")
        c.connect(f"{name}.current", f"pop.{port}")
    return c


def run(circuit, populations, n_threads, set_threads, **options):
    set_threads(n_threads)
    sim = compile(circuit, seed=2, record=[f"{p}.spikes" for p in populations], **options)
    if "pop" in populations:
        sim.get_state("pop", "v").copy_(torch.linspace(-70.0, -56.0, 3000))
    program = fused.build(sim)
    assert program is not None and program.threads() == n_threads
    sim.step(1500)
    sim.set_param(populations[0], "v_th" if "exc" in populations else "V_th", -51.0)  # a live change between runs
    sim.step(500)
    rows = sim.nodes[populations[0]].ctx.batch
    spikes = [sim.spikes(p, row=r)[k].tolist() for p in populations for r in range(rows) for k in (0, 1)]
    state = [sim.get_state(p, "v") for p in populations]
    return spikes, state


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", ["lif", "model"])
def test_two_and_three_threads_give_the_spikes_of_one(kind, dtype, threads):
    assert native.kernel("run_program", torch.device("cpu"), dtype) is not None, "C compiler needed"
    assert native._library().native_openmp() == 1, "built without OpenMP: programs would run on one thread"
    circuit, populations = (lif_net(), ["exc", "inh"]) if kind == "lif" else (model_net(), ["pop"])
    variants = {"exc.tau_m": [18.0, 22.0]} if kind == "lif" else {"pop.tau_m": [9.0, 11.0]}
    one = run(circuit, populations, 1, threads, dtype=dtype, variants=variants)
    assert sum(len(s) for s in one[0]) > 2000
    for n in (2, 3):
        many = run(circuit, populations, n, threads, dtype=dtype, variants=variants)
        assert many[0] == one[0]
        assert all(torch.equal(a, b) for a, b in zip(many[1], one[1]))
