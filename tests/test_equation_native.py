"""The C step generated from a declaration gives exactly the torch path's spikes and state,
for every library model and a typed one, and the torch path runs when no compiler exists."""
import os
import subprocess
import sys

import pytest
import torch

from components import native
from components.equation_neuron import EquationNeuron
from components.neuron_models import LIBRARY
from simulations import Circuit, compile
from simulations.references import cuba_model

DRIVE = {"izhikevich": (8.0, 6.0, 2.0), "iaf_psc_delta": (400.0, 2.0, 1.0), "iaf_cond_exp": (300.0, 3.0, 2.0),
         "aeif_cond_exp": (600.0, 3.0, 2.0), "aeif_psc_exp": (800.0, 300.0, -300.0)}


def network(model, drive=(500.0, 200.0, -200.0)):
    amplitude, w_exc, w_inh = drive
    c = Circuit("net")
    c.add("noise", "PoissonInput", n=60, rate=80.0)
    c.add("step", "CurrentInput", n=40, amplitude=amplitude, mode="step", t_on=20.0)
    c.add("pop", EquationNeuron(n=40, model=model))
    c.add("e", "Projection", p=0.3, weight=w_exc, synapse="jump", delay=0.2, delay_max=1.5)
    c.add("i", "Projection", p=0.3, weight=w_inh, synapse="jump")
    c.connect("noise.spikes", "e.spikes")
    c.connect("e.current", "pop.exc")
    if EquationNeuron(n=1, model=model).compiled().currents:
        c.connect("step.current", "pop.current")
    if "inh" in model["inputs"]:
        c.connect("pop.spikes", "i.spikes")
        c.connect("i.current", "pop.inh")
    else:
        c.remove("i")
    return c


def run(circuit, fast, monkeypatch, dtype, variants=None):
    monkeypatch.setattr(native, "ENABLED", fast)
    sim = compile(circuit, seed=5, dtype=dtype, variants=variants, record=["pop.spikes"])
    sim.run(0.1)
    return sim


MODELS = {**{k: m.to_dict() for k, m in LIBRARY.items()}, "typed_cuba": cuba_model()}


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_generated_c_and_torch_give_identical_spikes(name, dtype, monkeypatch):
    model = MODELS[name]
    drive = DRIVE.get(name, (500.0, 200.0, -200.0) if name != "typed_cuba" else (20.0, 1.62, -9.0))
    block = EquationNeuron(n=1, model=model)
    assert block.native_kernel(compile(network(model, drive)).nodes["pop"].ctx) is not None, "C compiler needed"
    fast = run(network(model, drive), True, monkeypatch, dtype)
    plain = run(network(model, drive), False, monkeypatch, dtype)
    t_fast, i_fast = fast.spikes("pop")
    t_plain, i_plain = plain.spikes("pop")
    assert len(t_plain) > 10, name
    assert t_fast.tolist() == t_plain.tolist() and i_fast.tolist() == i_plain.tolist()
    for var in EquationNeuron(n=1, model=model).compiled().state:
        assert torch.equal(fast.get_state("pop", var), plain.get_state("pop", var)), var


def test_library_blocks_with_live_variants_are_identical_on_both_paths(monkeypatch):
    c = Circuit("izh")
    c.add("drive", "CurrentInput", n=20, amplitude=10.0)
    c.add("pop", "Izhikevich", n=20)
    c.connect("drive.current", "pop.current")
    variants = {"pop.a": [0.02, 0.1], "pop.d": [8.0, 2.0]}
    results = [run(c, fast, monkeypatch, torch.float64, variants) for fast in (True, False)]
    for row in range(2):
        assert results[0].spikes("pop", row=row)[0].tolist() == results[1].spikes("pop", row=row)[0].tolist()
    assert results[0].spikes("pop", row=0)[0].tolist() != results[0].spikes("pop", row=1)[0].tolist()


def test_without_a_compiler_a_model_runs_on_torch_after_one_notice(tmp_path):
    env = dict(os.environ, CC=str(tmp_path / "no-such-compiler"), WORKBENCH_CACHE=str(tmp_path / "cache"))
    code = ("from simulations import Circuit, compile\n"
            "c = Circuit('x'); c.add('d', 'CurrentInput', n=3, amplitude=10.0); c.add('p', 'Izhikevich', n=3)\n"
            "c.connect('d.current', 'p.current'); s = compile(c).run(0.2); print('rate', s.rates('p')[0])")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("compiled model unavailable") == 1 and "using the plain torch path" in out.stderr
    assert float(out.stdout.split()[-1]) > 0


def test_fused_runs_of_a_declared_model_equal_step_by_step_and_torch(monkeypatch):
    from simulations import fused

    model = MODELS["iaf_psc_exp"]
    c2 = Circuit("recurrent")
    c2.add("pop", EquationNeuron(n=200, model=dict(model, parameters=dict(model["parameters"], I_e=390.0))))
    c2.add("e", "Projection", p=0.1, weight=80.0, synapse="jump", autapses=False)
    c2.add("i", "Projection", p=0.1, weight=-120.0, synapse="jump", delay=0.3)
    for name, port in (("e", "exc"), ("i", "inh")):
        c2.connect("pop.spikes", f"{name}.spikes")
        c2.connect(f"{name}.current", f"pop.{port}")
    runs = []
    for mode in ("fused", "stepwise", "torch"):
        monkeypatch.setattr(native, "ENABLED", mode != "torch")
        sim = compile(c2, seed=1, dtype=torch.float64, record=["pop.spikes"])
        sim.get_state("pop", "v").copy_(torch.linspace(-70.0, -56.0, 200))
        assert (fused.build(sim) is not None) == (mode != "torch")  # stepwise: one step at a time
        if mode == "stepwise":
            for _ in range(2000):
                sim.step()
        else:
            sim.step(2000)
        runs.append(sim.spikes("pop")[0].tolist() + sim.spikes("pop")[1].tolist())
    assert len(runs[0]) > 200
    assert runs[0] == runs[1] == runs[2]
