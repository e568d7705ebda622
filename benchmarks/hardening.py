"""What hardening costs: the per-step check of value outputs (step time with and without it,
interleaved in one run), and the memory and time of refusing size bombs (fresh processes).

    python benchmarks/hardening.py
"""
import json
import subprocess
import sys
import time
from pathlib import Path

import _common  # noqa: F401  (one thread, import path)

from simulations import Circuit, Simulator, compile

ROOT = Path(__file__).resolve().parent.parent
DEMOS = ROOT / "assets" / "demos"

BOMB = """
import json, resource, sys, time
from simulations import Circuit, compile
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    compile(Circuit.from_json(sys.stdin.read()))
    outcome = "accepted"
except Exception as e:
    outcome = type(e).__name__
print(json.dumps([outcome, time.perf_counter() - start, base / 1024,
                  resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]))
"""


def per_step(sim, steps=300, repeats=5):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            sim.step(1)
        best = min(best, (time.perf_counter() - start) / steps)
    return best


def check_overhead():
    print("| demo | step, checked every step (us) | step, unchecked (us) | ratio |")
    print("|---|---|---|---|")
    checked = Simulator._outputs_finite
    for name in ("stdp_demo", "continual_hlop", "nalsm_digits", "pattern_completion", "worm_connectome"):
        sim = compile(Circuit.load(DEMOS / f"{name}.json"), record="none")
        sim.step(20)
        with_check, without = [], []
        for _ in range(3):  # interleaved, so load on the machine hits both alike
            Simulator._outputs_finite = checked
            with_check.append(per_step(sim))
            Simulator._outputs_finite = lambda self: True
            without.append(per_step(sim))
        Simulator._outputs_finite = checked
        a, b = min(with_check), min(without)
        print(f"| {name} | {a * 1e6:.0f} | {b * 1e6:.0f} | {a / b:.2f} |")


def bombs():
    doc = json.loads((DEMOS / "stdp_demo.json").read_text())

    def mutate(block, **params):
        d = json.loads(json.dumps(doc))
        for entry in d["blocks"]:
            if entry["name"] == block:
                entry["params"].update(params)
        return json.dumps(d)

    cases = {"stdp_demo as shipped": json.dumps(doc), "exc n = 1e12": mutate("exc", n=10 ** 12),
             "ee delay = 1e9 ms": mutate("ee", delay=1e9), "input n = 1e8": mutate("input", n=10 ** 8),
             "nesting bomb (100,000 deep)": "[" * 100_000 + "]" * 100_000}
    print("\n| input | outcome | time (s) | RSS after imports (MiB) | peak RSS (MiB) |")
    print("|---|---|---|---|---|")
    for label, text in cases.items():
        out = subprocess.run([sys.executable, "-c", BOMB], input=text, capture_output=True, text=True, cwd=ROOT,
                             env={"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
        outcome, seconds, base, peak = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"| {label} | {outcome} | {seconds:.3f} | {base:.0f} | {peak:.0f} |")


if __name__ == "__main__":
    check_overhead()
    bombs()
