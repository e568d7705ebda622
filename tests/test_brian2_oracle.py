"""Cross-simulator oracle: CUBA against Brian2 with the same connectivity and initial v."""
import numpy as np
import pytest
import torch

from simulations import compile

brian2 = pytest.importorskip("brian2")
from simulations.brian2_twin import circuit_from_brian2, run_brian2_cuba  # noqa: E402


@pytest.fixture(scope="module")
def reference():
    return run_brian2_cuba(seed=11)


def ours(reference, dtype):
    sim = compile(circuit_from_brian2(reference), dt=0.1, dtype=dtype, record=["exc.spikes", "inh.spikes"])
    n_exc = reference["n_exc"]
    sim.set_state("exc", "v", torch.as_tensor(reference["v0"][:n_exc]))
    sim.set_state("inh", "v", torch.as_tensor(reference["v0"][n_exc:]))
    sim.run(1.0)
    return sim


def spikes_as_pairs(times_ms, neurons):
    steps = np.round(np.asarray(times_ms) / 0.1).astype(np.int64)
    return sorted(zip(steps.tolist(), np.asarray(neurons).tolist()))


def test_float64_spikes_equal_brian2_spike_for_spike(reference):
    sim = ours(reference, torch.float64)
    n_exc = reference["n_exc"]
    t_e, i_e = sim.spikes("exc")
    t_i, i_i = sim.spikes("inh")
    mine = spikes_as_pairs(np.r_[t_e, t_i], np.r_[i_e, i_i + n_exc])
    theirs = spikes_as_pairs(reference["spike_t_ms"], reference["spike_i"])
    assert len(theirs) > 10_000
    assert mine == theirs


def test_float32_rates_within_0_3_hz_of_brian2(reference):
    sim = ours(reference, torch.float32)
    n_exc = reference["n_exc"]
    ref_i = reference["spike_i"]
    ref_exc = np.sum(ref_i < n_exc) / n_exc
    ref_inh = np.sum(ref_i >= n_exc) / (len(reference["v0"]) - n_exc)
    assert abs(sim.rates("exc")[0] - ref_exc) < 0.3
    assert abs(sim.rates("inh")[0] - ref_inh) < 0.3
