"""The compiled fast path gives exactly the spikes of the plain torch path."""
import os
import subprocess
import sys

import pytest
import torch

from components import native
from simulations import compile
from simulations.examples import cuba


def delayed_plastic_net():
    c = cuba(n=300, stdp_on_ee=True)
    c.add("drive", "PoissonInput", n=80, rate=30.0)
    c.add("in_exc", "Projection", p=0.2, weight=2.5, delay=0.5, delay_max=3.0)
    c.connect("drive.spikes", "in_exc.spikes")
    c.connect("in_exc.current", "exc.current")
    return c


def run(circuit, fast, monkeypatch, **options):
    monkeypatch.setattr(native, "ENABLED", fast)
    sim = compile(circuit, seed=9, **options)
    sim.run(0.25)
    sim.set_param("in_exc", "tau_syn", 3.0)  # a live change repacks the compiled arguments
    sim.run(0.05)
    return sim


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fast_and_plain_paths_give_identical_spikes(dtype, monkeypatch):
    assert native.kernel("lif_step", torch.device("cpu"), dtype) is not None, "C compiler needed for this test"
    variants = {"drive.rate": [20.0, 40.0], "exc.tau_m": [18.0, 22.0]}
    fast = run(delayed_plastic_net(), True, monkeypatch, dtype=dtype, variants=variants)
    plain = run(delayed_plastic_net(), False, monkeypatch, dtype=dtype, variants=variants)
    for row in range(2):
        for block in ("exc", "inh"):
            t_fast, i_fast = fast.spikes(block, row=row)
            t_plain, i_plain = plain.spikes(block, row=row)
            assert len(t_fast) > 20
            assert t_fast.tolist() == t_plain.tolist() and i_fast.tolist() == i_plain.tolist()
        assert torch.equal(fast.weights("ee", row), plain.weights("ee", row))
    assert torch.equal(fast.get_state("exc", "v"), plain.get_state("exc", "v"))


def test_without_a_compiler_the_plain_path_runs_after_a_notice(tmp_path):
    env = dict(os.environ, CC=str(tmp_path / "no-such-compiler"), WORKBENCH_CACHE=str(tmp_path / "cache"))
    code = ("from simulations import compile; from simulations.examples import cuba; "
            "s = compile(cuba(n=200)).run(0.05); print('rate', s.rates('exc')[0])")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "compiled fast path unavailable" in out.stderr and "using the plain torch path" in out.stderr
    assert out.stderr.count("fast path unavailable") == 1
    assert "rate" in out.stdout


def test_fused_runs_equal_step_by_step_runs(monkeypatch):
    from simulations import fused

    def spikes(sim):
        return [sim.spikes(b)[0].tolist() + sim.spikes(b)[1].tolist() for b in ("exc", "inh")]

    fast = compile(cuba(n=1000), seed=4, record=["exc.spikes", "inh.spikes"])
    assert fused.build(fast) is not None
    fast.run(0.2)
    fast.set_param("exc", "tau_m", 25.0)  # a live change between fused runs
    fast.run(0.1)
    stepwise = compile(cuba(n=1000), seed=4, record=["exc.spikes", "inh.spikes", "exc.v"])
    assert fused.build(stepwise) is None  # a trace recorder needs Python every step
    stepwise.run(0.2)
    stepwise.set_param("exc", "tau_m", 25.0)
    stepwise.run(0.1)
    monkeypatch.setattr(native, "ENABLED", False)
    plain = compile(cuba(n=1000), seed=4, record=["exc.spikes", "inh.spikes"]).run(0.2)
    plain.set_param("exc", "tau_m", 25.0)
    plain.run(0.1)
    assert len(spikes(fast)[0]) > 100
    assert spikes(fast) == spikes(stepwise) == spikes(plain)
    assert torch.equal(fast.get_state("exc", "v"), plain.get_state("exc", "v"))
    assert fast.rates("exc") == pytest.approx(plain.rates("exc"))


def test_modulated_stdp_is_identical_on_both_paths(monkeypatch):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from test_seed_astrocytes import nalsm_liquid

    results = []
    for fast in (True, False):
        monkeypatch.setattr(native, "ENABLED", fast)
        sim = compile(nalsm_liquid(astrocyte=True, modulated="both"), seed=3, variants={"astro.gain": [2.0, 4.0]}).run(0.3)
        results.append((sim.weights("rec", 0), sim.weights("rec", 1), sim.spikes("liq", row=1)[1].tolist()))
    assert not torch.equal(results[0][0], results[0][1])  # the modulation differs per row and acts
    for fast_value, plain_value in zip(*results):
        assert (torch.equal(fast_value, plain_value) if isinstance(fast_value, torch.Tensor)
                else fast_value == plain_value)
