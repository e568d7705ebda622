"""Declared models against the references: CUBA and COBA (4000 neurons, p = 0.02, dt = 0.1 ms,
1 s) run by ours (EquationNeuron, generated C, fused), NEST 3.10 and Brian2 (numpy and
cpp_standalone), all on Brian2's connectivity and initial state, one thread each, in one
process; plus the time from typing a model to its first step.

Each engine is timed on the run alone (no network building, code generation or compilation), in
CPU seconds of its one thread (what Brian2's cpp_standalone reports: std::clock() without OpenMP;
on a busy machine wall time would measure the other processes);
ours and cpp_standalone report the fastest of ``--repeats`` runs (on a shared machine the
minimum is the least disturbed), and the load average is printed with each table.
NEST runs the same networks with delay 0.1 ms (its minimum; the others have none).

    python benchmarks/models.py [--seconds 1.0] [--repeats 5] [--targets numpy,cpp_standalone] [--no-nest]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import _common  # noqa: F401  (one thread, import path)
import numpy as np
import torch

from simulations import compile
from simulations.references import network_from, run_brian2, run_nest


def ours(reference, kind, seconds, dtype, repeats=1):
    circuit = network_from(reference, kind)
    best = float("inf")
    for _ in range(repeats):
        sim = compile(circuit, dt=0.1, dtype=dtype, record=["pop.spikes"])
        sim.set_state("pop", "v", torch.as_tensor(reference["v0"]))
        for name, value in (reference.get("state0") or {}).items():
            sim.set_state("pop", name, torch.as_tensor(value))
        sim.step(10)  # the model's C code is generated and built here, outside the timing
        start = time.process_time()
        sim.run(seconds - 0.001)
        best = min(best, time.process_time() - start)
    return best, float(sim.rates("pop")[0])


TYPED = '''
import time
start = time.perf_counter()
from simulations import Circuit, compile
from components.equation_neuron import EquationNeuron
imported = time.perf_counter()
model = dict(name="typed", equations="dv/dt = (E_L - v)/tau + I_syn/C : mV (unless refractory)\\n"
             "dI_syn/dt = -I_syn/tau_s : pA\\nE_L : mV\\ntau : ms\\ntau_s : ms\\nC : pF\\nV_th : mV",
             threshold="v > V_th", reset="v = E_L", refractory=2.0, inputs={"exc": "I_syn"},
             parameters=dict(E_L=-70.0, tau=10.0, tau_s=2.0, C=250.0, V_th=-55.0), init={"v": "E_L"})
c = Circuit("typed")
c.add("pop", EquationNeuron(n=1000, model=model))
sim = compile(c)
sim.step()
done = time.perf_counter()
print(imported - start, done - imported)
'''


def typing_to_first_step():
    """Seconds from a typed declaration to its first step in a fresh process: cold (the C code
    is generated and compiled) and warm (the built library is cached)."""
    cache = tempfile.mkdtemp(prefix="wb-typed-")
    env = dict(os.environ, WORKBENCH_CACHE=cache)
    out = []
    for _ in ("cold", "warm"):
        result = subprocess.run([sys.executable, "-c", TYPED], env=env, capture_output=True, text=True, check=True,
                                cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        out.append([float(x) for x in result.stdout.split()])
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--targets", default="numpy,cpp_standalone")
    parser.add_argument("--no-nest", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    for kind in ("cuba", "coba"):
        reference = run_brian2(kind, seed=1, seconds=args.seconds)
        rows = []
        for dtype, label in ((torch.float64, "ours (float64, C)"), (torch.float32, "ours (float32, C)")):
            wall, rate = ours(reference, kind, args.seconds, dtype, args.repeats)
            rows.append((label, wall, rate))
        if not args.no_nest:
            r = run_nest(reference, kind, seconds=args.seconds)
            model = "iaf_psc_exp" if kind == "cuba" else "iaf_cond_exp"
            rows.append((f"NEST 3.10 {model}", r["run_seconds"], len(r["steps"]) / reference["n"] / args.seconds))
        for target in args.targets.split(","):
            r = reference if target == "numpy" else run_brian2(kind, seed=1, seconds=args.seconds, target=target,
                                                                repeats=args.repeats)
            rows.append((f"Brian2 {target}", r["run_seconds"], len(r["spike_i"]) / reference["n"] / args.seconds))
        method = "exact" if kind == "cuba" else "euler"
        print(f"\n{kind.upper()} ({method}, EquationNeuron), 4000 neurons, {args.seconds:g} s biological, dt = 0.1 ms, "
              f"1 thread, load average {os.getloadavg()[0]:.1f}")
        print(f"{'engine':<30}{'cpu s / bio s':>15}{'vs ours f64':>13}{'rate Hz':>9}")
        base = rows[0][1]
        for name, wall, rate in rows:
            print(f"{name:<30}{wall / args.seconds:>15.3f}{wall / base:>12.2f}x{rate:>9.2f}")
    (cold_import, cold), (warm_import, warm) = typing_to_first_step()
    print(f"\ntyped model to first step (1000 neurons, fresh process, after imports of "
          f"{warm_import:.1f} s): {cold:.2f} s cold (C generated and compiled), {warm:.2f} s warm (cached)")


if __name__ == "__main__":
    main()
