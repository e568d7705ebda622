"""Parameter sweeps on the batch dimension: CUBA with B variants of tau_m in one compile.

Prints time per step and per network-step (step time / B) against B = 1, and, when Brian2 is
installed, Brian2 cpp_standalone's per-step time for one network in the same run.

    python benchmarks/sweep.py [--batches 1,8,32] [--steps 1000] [--no-brian2]

With ``--dask``: V variants of CUBA (``--ms`` each) run by one process in batches of
``--rows`` (the very task function the workers run, no Dask), then by ``simulations.sweeps``
on a LocalCluster of ``--workers`` single-threaded processes. Prints the scaling efficiency
(one-process time / (workers x cluster time)) and the per-task overhead, both from wall time
and from the CPU time the tasks got (the machine may be shared: the load average is printed).

    python benchmarks/sweep.py --dask [--variants 1024] [--ms 500] [--rows 128] [--workers 2]
"""
import argparse
import os
import time

import _common  # noqa: F401  (one thread, import path)
from _common import time_steps

from simulations import compile
from simulations.examples import cuba


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", default="1,8,32")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--no-brian2", action="store_true")
    parser.add_argument("--dask", action="store_true", help="one process vs a LocalCluster")
    parser.add_argument("--variants", type=int, default=1024)
    parser.add_argument("--ms", type=float, default=500.0)
    parser.add_argument("--rows", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.dask:
        return distributed_sweep(args)
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


def distributed_sweep(args):
    import json

    import numpy as np
    from distributed import Client, LocalCluster

    from simulations import Circuit
    from simulations.sweeps import resolve_metrics, run_task, sweep

    circuit, record = cuba(), ["exc.spikes", "inh.spikes"]
    taus = np.linspace(15.0, 25.0, args.variants)
    metrics = resolve_metrics(circuit, ["rate"], record)
    text = circuit.to_json()
    print(f"{args.variants} variants of CUBA (n=4000), {args.ms:g} ms each, exc.tau_m 15..25 ms; "
          f"{os.cpu_count()} cores; load average before: {os.getloadavg()[0]:.1f}")

    run_task(text, 0, {}, {"exc.tau_m": list(taus[:2])}, metrics, 0.1, 1.0, 0.0, record)  # kernel cache, imports
    start, cpu = time.perf_counter(), time.process_time()
    one = []
    for i in range(0, args.variants, args.rows):
        out = run_task(text, 0, {}, {"exc.tau_m": list(taus[i:i + args.rows])}, metrics, 0.1, args.ms, 0.0, record)
        one += out["values"]["rate_exc"]
    t_one, cpu_one = time.perf_counter() - start, time.process_time() - cpu
    print(f"one process, batches of {args.rows}: {t_one:.1f} s wall, {cpu_one:.1f} s CPU "
          f"({t_one / args.variants * 1e3:.1f} ms per variant); load {os.getloadavg()[0]:.1f}")

    start = time.perf_counter()
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    print(f"LocalCluster of {args.workers} workers up in {time.perf_counter() - start:.1f} s")
    ds = sweep(circuit, {"exc.tau_m": taus}, duration=args.ms, metrics=["rate"], record=record, client=client,
               cache=False, rows_per_task=args.rows, progress=False)
    t_two, tasks = ds.attrs["wall_seconds"], ds.attrs["tasks_run"]
    same = np.array_equal(ds.rate_exc.values[:, 0], np.array(one))
    print(f"{args.workers}-worker LocalCluster: {t_two:.1f} s wall, {tasks} tasks, task CPU "
          f"{ds.attrs['task_cpu_seconds']:.1f} s; rates equal to the one-process run: {same}; "
          f"load {os.getloadavg()[0]:.1f}")

    tiny = Circuit("tiny")
    tiny.add("drive", "PoissonInput", n=1, rate=1.0)
    empty = sweep(tiny, {"drive.rate": np.linspace(1, 2, 64)}, duration=0.1, client=client, cache=False,
                  rows_per_task=1, progress=False)
    client.close()
    cluster.close()

    w = args.workers
    efficiency = t_one / (w * t_two)
    cpu_efficiency = cpu_one / ds.attrs["task_cpu_seconds"]
    overhead = (w * t_two - ds.attrs["task_seconds"]) / tasks
    empty_overhead = w * empty.attrs["wall_seconds"] / empty.attrs["tasks_run"]
    result = {"variants": args.variants, "ms": args.ms, "rows_per_task": args.rows, "workers": w,
              "one_process_s": round(t_one, 2), "one_process_cpu_s": round(cpu_one, 2),
              "cluster_s": round(t_two, 2), "cluster_task_cpu_s": round(ds.attrs["task_cpu_seconds"], 2),
              "speedup": round(t_one / t_two, 3), "scaling_efficiency": round(efficiency, 3),
              "cpu_efficiency": round(cpu_efficiency, 3), "overhead_per_task_s": round(overhead, 3),
              "overhead_per_empty_task_s": round(empty_overhead, 4), "identical_rates": bool(same),
              "load_average_after": round(os.getloadavg()[0], 1)}
    print(f"speedup {t_one / t_two:.2f}x on {w} workers: scaling efficiency {efficiency:.0%} (wall), "
          f"{cpu_efficiency:.0%} (task CPU vs one-process CPU)")
    print(f"per-task overhead: {overhead:.3f} s (workers x wall - time inside tasks, per task); "
          f"an empty task: {empty_overhead * 1e3:.1f} ms of worker time")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
