"""CUBA benchmark (Vogels & Abbott 2005, as in Brian2's examples): 4000 LIF, 1 s at 0.1 ms.

Prints CPU seconds per biological second and mean rates for our engine and, when Brian2 is
installed (``pip install -e .[bench]``), for Brian2's numpy, cython and cpp_standalone targets in
the same process, with the ratios. One thread each. Times are the CPU time of the run (what
Brian2's cpp_standalone reports: std::clock() without OpenMP), so they compare on a busy machine
where wall time does not. Ours and cpp_standalone report the fastest of
``--repeats`` runs (on a shared machine the minimum is the least disturbed); the load average is
printed with the table.

    python benchmarks/cuba.py [--seconds 1.0] [--repeats 5] [--no-brian2] [--no-plain] [--targets numpy,cython,cpp_standalone]
"""
import argparse
import os
import time

import _common  # noqa: F401  (one thread, import path)
import torch

from components import native
from simulations import compile
from simulations.examples import cuba


def ours(seconds: float, dtype=torch.float32, repeats: int = 1, **options):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        sim = compile(cuba(), dt=0.1, seed=1, dtype=dtype, record=["exc.spikes", "inh.spikes"], **options)
        sim.step(1)  # the compiled library is loaded (or built) here, outside the timing
        built, cpu = time.perf_counter(), time.process_time()
        sim.run(seconds)
        best = min(best, time.process_time() - cpu)
    return best / seconds, built - start, sim.rates("exc")[0], sim.rates("inh")[0]


def run_brian2(seconds: float, target: str, repeats: int = 1):
    from simulations.references import run_brian2 as run_reference

    r = run_reference("cuba", seconds=seconds, seed=1, target=target, repeats=repeats)  # Brian2's example as written
    n_exc, n = r["n_exc"], 4000
    exc = (r["spike_i"] < n_exc).sum() / n_exc / seconds
    inh = (r["spike_i"] >= n_exc).sum() / (n - n_exc) / seconds
    return r["run_seconds"] / seconds, exc, inh


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--no-brian2", action="store_true")
    parser.add_argument("--targets", default="numpy,cython,cpp_standalone")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-plain", action="store_true", help="skip the (slow) plain torch run")
    args = parser.parse_args()

    rows = []
    wall, build, exc, inh = ours(args.seconds, repeats=args.repeats)
    rows.append(("ours (float32)", wall, exc, inh))
    print(f"ours: connectivity + state built in {build:.2f} s")
    wall64, _, exc64, inh64 = ours(args.seconds, dtype=torch.float64, repeats=args.repeats)
    rows.append(("ours (float64)", wall64, exc64, inh64))
    if not args.no_plain:
        native.ENABLED = False
        plain, _, exc_p, inh_p = ours(args.seconds)
        native.ENABLED = True
        rows.append(("ours (float32, plain torch)", plain, exc_p, inh_p))
    if not args.no_brian2:
        try:
            import brian2  # noqa: F401
        except ImportError:
            print("Brian2 not installed: pip install -e .[bench] to compare")
        else:
            for target in args.targets.split(","):
                b_wall, b_exc, b_inh = run_brian2(args.seconds, target, args.repeats if target == "cpp_standalone" else 1)
                rows.append((f"brian2 {target}", b_wall, b_exc, b_inh))

    reference = rows[0][1]
    print(f"\nCUBA (LIFPopulation blocks), 4000 neurons, {args.seconds:g} s biological, dt = 0.1 ms, 1 thread, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'engine':<26}{'cpu s / bio s':>15}{'vs ours f32':>13}{'exc Hz':>9}{'inh Hz':>9}")
    for name, w, e, i in rows:
        print(f"{name:<26}{w:>15.3f}{w / reference:>12.2f}x{e:>9.2f}{i:>9.2f}")


if __name__ == "__main__":
    main()
