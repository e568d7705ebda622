"""The same circuits run on CUDA when a GPU is present (skipped on CPU-only machines)."""
import pytest
import torch

from simulations import compile
from simulations.examples import cuba

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_cuba_on_gpu_matches_cpu_rates():
    circuit = cuba(n=1000, stdp_on_ee=True)
    cpu = compile(circuit, seed=2, dtype=torch.float64).run(0.3)
    gpu = compile(circuit, seed=2, dtype=torch.float64, device="cuda").run(0.3)
    assert gpu.get_state("exc", "v").device.type == "cuda"
    for block in ("exc", "inh"):
        assert abs(gpu.rates(block)[0] - cpu.rates(block)[0]) < 0.5
