"""Scaling: CUBA-like networks of 1k, 10k, 64k and 100k LIF neurons with ~100 synapses each.

Prints build time, time per step, the memory the simulator's tensors hold (total and per
synapse), the process's peak memory, and the step's distance from the memory-bandwidth limit
(bytes the step must move / this core's copy bandwidth, measured in the same run).

With ``--threads 1,2`` each size is also stepped on each thread count (fused programs split
neurons and synaptic targets across threads) and the speed-up over one thread is printed: wall
time, so it means something only on a machine with that many idle cores (see the load printed).

    python benchmarks/scale.py [--sizes 1000,10000,64000,100000] [--steps 500] [--threads 1,2]
"""
import argparse
import gc
import os
import resource
import time

import _common  # noqa: F401  (one thread, import path)
from _common import copy_bandwidth_gb_s, time_steps

from simulations import compile
from simulations.examples import cuba

SYNAPSES_PER_NEURON = 100


def bytes_per_step(sim) -> float:
    """Lower bound of memory traffic per step: every per-neuron array is read and written once,
    every synaptic current buffer read and written once, and each synaptic event touches its
    post index and weight (12 bytes) plus the target (read + write)."""
    n = sum(node.ctx.sizes.get("current", 0) for node in sim.nodes.values() if "v" in node.state)
    neuron_bytes = n * (4 + 4 + 4) * 2  # v, countdown, spikes
    projections = [node for node in sim.nodes.values() if "synapses" in node.state]
    current_bytes = sum(node.state["synapses"].n_post * 4 * 3 for node in projections)  # read prev, write out, LIF reads
    spikes_per_step = sum(sim.rates(b)[0] * sim.nodes[b].ctx.sizes["current"] for b in ("exc", "inh")) * sim.dt * 1e-3
    event_bytes = spikes_per_step * SYNAPSES_PER_NEURON * (12 + 8)
    return neuron_bytes + current_bytes + event_bytes


def state_bytes(sim) -> int:
    """Bytes held by the simulator's state tensors and synapse sets."""
    total = 0
    for node in sim.nodes.values():
        for value in node.state.values():
            if hasattr(value, "nbytes") and callable(value.nbytes):
                total += value.nbytes()
            elif hasattr(value, "element_size"):
                total += value.numel() * value.element_size()
    return total


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,64000,100000")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--threads", default="", help="comma-separated thread counts to compare, e.g. 1,2")
    args = parser.parse_args()
    if args.threads:
        return compare_threads([int(s) for s in args.sizes.split(",")], [int(k) for k in args.threads.split(",")],
                               args.steps)
    bandwidth = copy_bandwidth_gb_s()
    print(f"copy bandwidth of one core: {bandwidth:.1f} GB/s (read + write)")
    print(f"{'neurons':>8}{'synapses':>12}{'build s':>9}{'us/step':>9}{'state MiB':>10}{'B/syn':>7}"
          f"{'peak MiB':>9}{'rate Hz':>9}{'bound us':>10}{'x bound':>9}")
    for n in [int(s) for s in args.sizes.split(",")]:
        gc.collect()
        start = time.perf_counter()
        sim = compile(cuba(n=n, p=SYNAPSES_PER_NEURON / n), seed=0, record=["exc.spikes", "inh.spikes"])
        build = time.perf_counter() - start
        synapses = sum(len(node.state["synapses"]) for node in sim.nodes.values() if "synapses" in node.state)
        per_step = time_steps(sim, args.steps)
        memory = state_bytes(sim)
        bound = bytes_per_step(sim) / (bandwidth * 1e9)
        print(f"{n:>8}{synapses:>12}{build:>9.2f}{per_step * 1e6:>9.1f}{memory / 2**20:>10.1f}"
              f"{memory / synapses:>7.1f}{peak_rss_mib():>9.0f}{sim.rates('exc')[0]:>9.2f}{bound * 1e6:>10.1f}"
              f"{per_step / bound:>9.2f}")
        del sim


def compare_threads(sizes, counts, steps):
    import torch

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'neurons':>8}{'synapses':>12}" + "".join(f"{f'us/step {k}t':>14}" for k in counts)
          + "".join(f"{f'x {k}t':>8}" for k in counts[1:]))
    for n in sizes:
        gc.collect()
        sim = compile(cuba(n=n, p=SYNAPSES_PER_NEURON / n), seed=0, record=["exc.spikes", "inh.spikes"])
        synapses = sum(len(node.state["synapses"]) for node in sim.nodes.values() if "synapses" in node.state)
        times = {k: float("inf") for k in counts}
        for _ in range(3):  # interleaved, fastest of three: the least disturbed by other processes
            for k in counts:
                torch.set_num_threads(k)
                times[k] = min(times[k], time_steps(sim, steps))
        torch.set_num_threads(1)
        print(f"{n:>8}{synapses:>12}" + "".join(f"{times[k] * 1e6:>14.1f}" for k in counts)
              + "".join(f"{times[counts[0]] / times[k]:>7.2f}x" for k in counts[1:]))
        del sim


if __name__ == "__main__":
    main()
