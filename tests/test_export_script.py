"""The exported Python script is readable code that rebuilds the circuit and reproduces the
app's run (same dt and seed, same spikes)."""
from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

from simulations import Circuit, compile
from simulations.export import build_code, export_text, spike_counts, to_script

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "assets" / "demos" / "stdp_demo.json"
SECONDS = 0.2


def test_script_is_one_statement_per_block_and_wire_without_defaults():
    c = Circuit.load(DEMO)
    code = build_code(c)
    tree = ast.parse(code)
    calls = [n.value.func.attr for n in tree.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)]
    assert calls.count("add") == len(c.graph) and calls.count("connect") == len(c.wires)
    assert "tau_syn=5.0" not in code  # the default is omitted
    assert "tau_syn=10.0" in code and "'format'" not in code  # non-defaults written; no JSON blob
    namespace: dict = {}
    exec(code, namespace)
    assert namespace["circuit"].to_json() == c.to_json()  # the same document, positions included


def test_script_runs_and_reproduces_the_app_run(tmp_path):
    c = Circuit.load(DEMO)
    name, text = export_text(c, "script", seconds=SECONDS)
    assert name == "demo_stdp.py" and text == to_script(c, seconds=SECONDS)
    path = tmp_path / name
    path.write_text(text)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    printed = {m[0]: int(m[1]) for m in re.findall(r"^(\w+): (\d+) spikes", out.stdout, re.M)}
    sim = compile(c, dt=0.1, seed=0)  # what the app's Run compiles
    sim.run(SECONDS)
    expected = spike_counts(sim)
    assert printed == expected and expected["exc"] > 0


def test_extreme_and_list_values_survive_the_script():
    c = Circuit("odd")
    c.add("src", "SpikeTimes", n=3, spikes=[[0, 1.0], [2, 3.5]])
    c.add("lif", "LIFPopulation", n=2, v_th=1e30)  # non-finite values are refused on add
    c.add("p", "Projection", connectivity="edges", edges=[[0, 1, 2.5], [2, 0, -1.0]])
    c.connect("src.spikes", "p.spikes")
    c.connect("p.current", "lif.current")
    namespace: dict = {}
    exec(build_code(c), namespace)
    assert namespace["circuit"].to_json() == c.to_json()
