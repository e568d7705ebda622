"""Bad values, bombs and divergence: each refused with the project's error, naming the block and
the field, before anything big is allocated; a divergence names where it began."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from components import native
from components.stdp import STDP
from components.synapses import fixed_probability
from simulations import Circuit, CircuitError, DivergenceError, compile
from simulations.errors import MissingInputError, ParameterError, ResourceLimitError
from simulations.limits import limits, parse_size

ROOT = Path(__file__).resolve().parent.parent
DEMOS = ROOT / "assets" / "demos"


def demo(name: str) -> dict:
    return json.loads((DEMOS / f"{name}.json").read_text())


def with_params(doc: dict, block: str, **params) -> str:
    for entry in doc["blocks"]:
        if entry["name"] == block:
            entry["params"].update(params)
    return json.dumps(doc, allow_nan=True)


@pytest.mark.parametrize("block, params, message", [
    ("exc", {"v_th": float("nan")}, r"exc.*v_th should be finite"),
    ("exc", {"v_th": "nan"}, r"exc.*v_th should be finite"),
    ("exc", {"tau_m": float("inf")}, r"exc.*tau_m should be finite"),
    ("exc", {"v_th": 1e308}, r"exc.*v_th is too large"),
    ("exc", {"n": True}, r"exc.*n should be a number"),
    ("exc", {"n": 2.5}, r"exc.*n"),
    ("stdp", {"w_max": float("nan")}, r"stdp.*w_max should be finite"),
    ("stdp", {"w_min": 20.0}, r"stdp.*w_min = 20.0 is more than w_max = 12.0"),
    ("ee", {"connectivity": "edges", "edges": [[0, 1, "x"]]}, r"ee.*edges\[0\] entry 2 should be a number"),
    ("ee", {"connectivity": "edges", "edges": [[0.5, 1]]}, r"ee.*edges\[0\] entry 0 should be a whole number"),
    ("ee", {"connectivity": "edges", "edges": [[-1, 1]]}, r"ee.*edges\[0\] entry 0 is a negative index"),
    ("ee", {"connectivity": "edges", "edges": [5]}, r"ee.*edges\[0\] should be a list of numbers"),
    ("ee", {"connectivity": "edges", "edges": [[0, 1, 1.0, -2.0]]}, r"ee.*negative delay"),
    ("ee", {"delay": 5.0, "delay_max": 1.0}, r"ee.*delay = 5.0 is more than delay_max = 1.0"),
])
def test_bad_values_in_a_file_are_refused_naming_block_and_field(block, params, message):
    with pytest.raises(CircuitError, match=message):
        compile(Circuit.from_json(with_params(demo("stdp_demo"), block, **params)))


@pytest.mark.parametrize("params, message", [
    ({"patterns": [[0.5, 2.0]]}, r"taskA.*patterns\[0\] entry 1 2.0 is outside \[0.0, 1.0\]"),
    ({"patterns": [[[1]]]}, r"taskA.*patterns\[0\] entry 0 should be a number"),
    ({"targets": "abc"}, r"taskA.*targets"),
    ({"t_present": float("inf")}, r"taskA.*t_present should be finite"),
])
def test_malformed_patterns_are_refused(params, message):
    with pytest.raises(CircuitError, match=message):
        compile(Circuit.from_json(with_params(demo("continual_hlop"), "taskA", **params)))


def test_python_callers_get_the_same_checks():
    c = Circuit("x")
    with pytest.raises(ParameterError, match=r"block 'a' \(LIFPopulation\): v_th should be finite"):
        c.add("a", "LIFPopulation", v_th=float("nan"))
    with pytest.raises(ParameterError, match=r"block 'r' \(STDP\): w_min = 5.0 is more than w_max = 1.0"):
        c.add("r", "STDP", w_min=5.0, w_max=1.0)
    with pytest.raises(ParameterError, match="has no parameter"):
        c.add("b", "LIFPopulation", colour="red")
    lif = c.add("ok", "LIFPopulation", n=3)
    lif.v_th = float("inf")  # set behind the circuit's back (an inspector does this): caught at validate
    with pytest.raises(ParameterError, match=r"ok \(LIFPopulation\): v_th should be finite"):
        c.validate()


def test_set_param_refuses_bad_values_with_a_sensible_message():
    sim = compile(Circuit.load(DEMOS / "stdp_demo.json"))
    with pytest.raises(ParameterError, match=r"exc \(LIFPopulation\): v_th should be a number, got str 'abc'"):
        sim.set_param("exc", "v_th", "abc")
    with pytest.raises(ParameterError, match="v_th should be finite"):
        sim.set_param("exc", "v_th", float("nan"))
    with pytest.raises(ParameterError, match=r"stdp \(STDP\): w_min would be more than w_max"):
        sim.set_param("stdp", "w_min", 13.0)
    with pytest.raises(ParameterError, match="got 2 values for a batch of 1"):
        sim.set_param("exc", "v_th", [1.0, 2.0])
    sim.set_param("exc", "v_th", -49.0)
    sim.step(20)  # still runs after the refusals


def test_ordered_pairs_are_checked_per_batch_row():
    c = Circuit.load(DEMOS / "stdp_demo.json")
    sim = compile(c, variants={"stdp.w_min": [0.0, 8.0], "stdp.w_max": [5.0, 10.0]})  # each row in order
    with pytest.raises(ParameterError, match="w_max would be more|w_min would be more"):
        sim.set_param("stdp", "w_max", [5.0, 7.0])
    with pytest.raises(ParameterError):
        compile(c, variants={"stdp.w_min": [0.0, 11.0], "stdp.w_max": [5.0, 10.0]})


@pytest.mark.parametrize("rule_demo, rule", [("stdp_demo", "stdp"), ("continual_hlop", "hlop")])
def test_a_learning_rule_with_no_target_is_a_problem_not_a_crash(rule_demo, rule):
    doc = demo(rule_demo)
    doc["wires"] = [w for w in doc["wires"] if not w["source"].startswith(f"{rule}.")]
    c = Circuit.from_json(json.dumps(doc))
    problems = c.problems()
    assert any(isinstance(p, MissingInputError) and rule in str(p) for p in problems)
    with pytest.raises(MissingInputError, match=f"{rule} .*learning rule"):
        c.validate()


@pytest.mark.parametrize("text, message", [
    ("[" * 100_000 + "]" * 100_000, "nested"),
    ('{"format": "workbench-circuit", "version": ' + "9" * 4301 + "}", "cannot be read"),
    ('{"format": "workbench-circuit", "version": 1, "blocks": ' + "[" * 40 + "]" * 40 + "}", "nested more than"),
    ('{"format": "workbench-circuit", "version": 1, "name": 5}', "'name' should be a str"),
])
def test_hostile_documents_are_refused(text, message):
    with pytest.raises(CircuitError, match=message):
        Circuit.from_json(text)


def test_a_huge_file_is_refused_before_parsing(monkeypatch):
    monkeypatch.setenv("WORKBENCH_MAX_FILE_BYTES", "1000")
    with pytest.raises(CircuitError, match="over the limit"):
        Circuit.from_json((DEMOS / "delays_motion.json").read_text())


def test_size_bombs_are_refused_with_the_estimate():
    doc = demo("stdp_demo")
    with pytest.raises(ResourceLimitError, match=r"ee \(Projection\).*PiB of memory.*WORKBENCH_MAX_MEMORY"):
        compile(Circuit.from_json(with_params(doc, "exc", n=10 ** 12)))
    with pytest.raises(ResourceLimitError, match=r"ee \(Projection\).*TiB of memory"):
        compile(Circuit.from_json(with_params(demo("stdp_demo"), "ee", delay=1e9)))
    with pytest.raises(ResourceLimitError, match=r"bdh \(HebbianStateLayer\).*work to build it"):
        compile(Circuit.from_json(with_params(demo("dragon_hatchling"), "bdh", train_steps=10 ** 6)))
    with pytest.raises(ResourceLimitError, match=r"modern \(ModernHopfield\).*work per step"):
        compile(Circuit.from_json(with_params(demo("pattern_completion"), "modern", updates=10 ** 6)))
    c = Circuit.load(DEMOS / "stdp_demo.json")
    with limits(memory=1e5):  # the limit is a setting
        with pytest.raises(ResourceLimitError, match="over the limit of 97.7 KiB"):
            compile(c)
    compile(c, batch=2)
    with limits(memory=3e6):  # the batch counts
        compile(c)
        with pytest.raises(ResourceLimitError):
            compile(c, batch=64)
    assert parse_size("512M") == 512 * 2 ** 20 and parse_size("1e9") == 1e9


def test_a_refused_size_bomb_allocates_nothing_big(tmp_path):
    """In a fresh process: peak memory after refusing n = 1e12 stays at the baseline's."""
    bomb = tmp_path / "bomb.json"
    bomb.write_text(with_params(demo("stdp_demo"), "exc", n=10 ** 12))
    code = ("import resource, sys\nfrom simulations import Circuit, compile\n"
            "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "try:\n    compile(Circuit.load(sys.argv[1]))\nexcept Exception as e:\n    print(type(e).__name__)\n"
            "print(base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n")
    out = subprocess.run([sys.executable, "-c", code, str(bomb)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    name, sizes = out.stdout.split("\n")[:2]
    base, peak = map(int, sizes.split())
    assert name == "ResourceLimitError"
    assert peak - base < 50 * 1024, (base, peak)  # KiB: under 50 MB above the imports


def test_geometric_gap_sampler_with_a_tiny_p():
    g = torch.Generator().manual_seed(0)
    pre, post = fixed_probability(1000, 1000, 1e-137, g)
    assert len(pre) == 0 and len(post) == 0
    pre, post = fixed_probability(10 ** 6, 10 ** 6, 1e-10, g)  # 1e12 pairs, ~100 synapses
    assert len(pre) < 1000 and bool((pre >= 0).all()) and bool((post >= 0).all())


class _NaNAfter50(STDP):
    """STDP that (as a numerically broken rule might) writes NaN into the weights at step 50."""

    def step(self, ctx, p, state, inputs):
        out = super().step(ctx, p, state, inputs)
        if ctx.t == 50:
            inputs["target"]["synapses"].w.fill_(float("nan"))
        return out


@pytest.mark.parametrize("fast", [True, False])
def test_divergence_is_blamed_where_it_began(fast, monkeypatch):
    monkeypatch.setattr(native, "ENABLED", fast)
    c = Circuit("blame")
    c.add("exc", "LIFPopulation", n=50, v_init="uniform")  # first in step order: read later
    c.add("drive", "PoissonInput", n=50, rate=200.0)
    c.add("inp", "Projection", connectivity="one_to_one", weight=20.0)
    c.add("ee", "Projection", connectivity="all_to_all", weight=0.5)
    c.add("stdp", _NaNAfter50())
    c.connect("drive.spikes", "inp.spikes")
    c.connect("inp.current", "exc.current")
    c.connect("exc.spikes", "ee.spikes")
    c.connect("ee.current", "exc.current")
    c.connect("exc.spikes", "stdp.post")
    c.connect("stdp.rule", "ee.plasticity")
    sim = compile(c)
    with pytest.raises(DivergenceError, match=r"ee\.w became NaN or infinite") as info:
        sim.run(1.0)
    assert info.value.block == "ee" and info.value.variable == "w"
    assert 51 <= info.value.step < 200  # as soon as a spike carries a weight into a current...
    assert bool(torch.isfinite(sim.get_state("exc", "v")).all())  # ...before the reader is infected
    with pytest.raises(DivergenceError):  # paused until reset
        sim.step()


def test_probe_buffers_count_against_the_memory_limit():
    c = Circuit("h")
    c.add("cue", "PatternCue", n=3000, n_patterns=5)
    c.add("m", "ClassicHopfield", n=3000, n_patterns=5)
    c.connect("cue.cue", "m.cue")
    with limits(memory=300e6):  # the circuit fits; ten 3000 x 3000 weight snapshots do not
        sim = compile(c)
        assert sim.skipped_probes == ["m.weights"] and "m.overlaps" in sim.recorders
        with pytest.raises(ResourceLimitError, match=r"recording m.weights would take 343.3 MiB"):
            compile(c, record=["m.weights"])
