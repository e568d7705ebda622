"""Parameter sweeps on the batch dimension: CUBA with B variants of tau_m in one compile.

Prints time per step and per network-step (step time / B) against B = 1, and, when Brian2 is
installed, Brian2 cpp_standalone's per-step time for one network in the same run.

    python benchmarks/sweep.py [--batches 1,8,32] [--steps 1000] [--no-brian2]
"""
import argparse

import _common  # noqa: F401  (one thread, import path)
from _common import time_steps

from simulations import compile
from simulations.examples import cuba


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", default="1,8,32")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--no-brian2", action="store_true")
    args = parser.parse_args()
    reference = None
    if not args.no_brian2:
        try:
            from simulations.references import run_brian2

            reference = run_brian2("cuba", seconds=1.0, target="cpp_standalone")["run_seconds"] / 10_000
        except ImportError:
            print("Brian2 not installed: pip install -e .[bench] to compare")
    print(f"{'B':>4}{'us/step':>10}{'us/network-step':>17}{'vs B=1':>8}{'vs brian2 standalone':>22}  exc Hz (first, last)")
    single = None
    for batch in [int(b) for b in args.batches.split(",")]:
        taus = [15.0 + 10.0 * b / max(batch - 1, 1) for b in range(batch)]
        sim = compile(cuba(), seed=1, record=["exc.spikes"], variants={"exc.tau_m": taus})
        per_network = time_steps(sim, args.steps) / batch
        single = single or per_network
        versus = f"{per_network / reference:>21.2f}x" if reference else f"{'-':>22}"
        rates = sim.rates("exc")
        print(f"{batch:>4}{per_network * batch * 1e6:>10.1f}{per_network * 1e6:>17.2f}{single / per_network:>7.1f}x"
              f"{versus}  {rates[0]:.2f}, {rates[-1]:.2f}")
    if reference:
        print(f"brian2 cpp_standalone: {reference * 1e6:.2f} us per step (one network)")


if __name__ == "__main__":
    main()
