"""Shared helpers for the benchmark scripts: one thread, import path, memory and bandwidth."""
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

torch.set_num_threads(1)


def copy_bandwidth_gb_s(mib: int = 256, repeats: int = 5) -> float:
    """Memory bandwidth of one core: bytes read + written per second by a large tensor copy."""
    src = torch.ones(mib * 2**20 // 4)
    dst = torch.empty_like(src)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        dst.copy_(src)
        best = min(best, time.perf_counter() - start)
    return 2 * src.numel() * 4 / best / 1e9


def time_steps(sim, steps: int) -> float:
    """Seconds per step over ``steps`` steps, after a short warm-up."""
    sim.step(20)
    start = time.perf_counter()
    sim.step(steps)
    return (time.perf_counter() - start) / steps
