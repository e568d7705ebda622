"""E/I self-adaptation (Srinivasan, Plenz & Girvan 2025): units that set their own inhibition to
reach a target rate against one global E/I ratio tuned on validation data, over seeds 0-4.
The full grids are in benchmarks/eibalance.py; here each reservoir gets the values that study
picked, the global one several beta values (the best on validation is kept)."""
import numpy as np
import pytest
import torch

from components.ei_reservoir import EIRateReservoir, InhibitoryHomeostasis
from components.reservoir_task import mackey_glass
from simulations import Circuit, compile
from workbench.demos.eibalance import STEPS, build, scores

SEEDS = range(5)


def test_reservoir_wiring_obeys_dale_and_is_balanced_at_beta_one():
    c = Circuit()
    c.add("res", "EIRateReservoir", n=200, k=50)
    sim = compile(c, dt=1.0, record="none")
    E, I = sim.get_state("res", "E"), sim.get_state("res", "I")
    n_exc = EIRateReservoir(n=200).split()[0]
    assert (E >= 0).all() and (I >= 0).all()
    assert (E[:, n_exc:] == 0).all() and (I[:, :n_exc] == 0).all()  # each unit is E or I, never both
    assert ((E > 0).sum(1) == 40).all() and ((I > 0).sum(1) == 10).all()
    assert E.sum(1).mean().item() == pytest.approx(1.0, abs=0.02) and I.sum(1).mean().item() == pytest.approx(1.0, abs=0.02)


def test_homeostasis_brings_each_unit_to_its_own_target():
    c = Circuit()
    c.add("drive", "ReservoirTask", task="memory", n_targets=1, steps=3000)
    c.add("res", "EIRateReservoir", n=60, k=30, beta=0.7)  # excitation-dominated: rates near 1 without the rule
    c.add("homeo", "InhibitoryHomeostasis", n=60, eta=0.001, rho_mean=0.3, rho_spread=0.8, learn_ms=0.0)
    for a, b in [("drive.input", "res.input"), ("res.rate", "homeo.rate"), ("homeo.inhibition", "res.inhibition")]:
        c.connect(a, b)
    sim = compile(c, dt=1.0, record="none", variants={"homeo.eta": [0.001, 0.0]})
    rates = []
    sim.step(2000)
    for _ in range(300):
        sim.step(1)
        rates.append(sim.get_state("res", "r").clone())
    mean_rate = torch.stack(rates).mean(0)
    node = sim.node("homeo")
    targets = node.block.targets(node.params, node.state)[0]
    assert float(mean_rate[1].mean()) > 0.8  # no rule: saturated
    error = (mean_rate[0] - targets).abs()
    assert float(error.mean()) < 0.03 and float(targets.std()) > 0.1  # heterogeneous targets, each reached
    assert float(torch.corrcoef(torch.stack([mean_rate[0], targets]))[0, 1]) > 0.95


def test_mackey_glass_series_is_chaotic_at_tau_17_and_settles_at_small_tau():
    x = mackey_glass(3000, seed=0)
    assert 0.2 < x.min() < 0.5 and 1.2 < x.max() < 1.45  # the tau = 17 attractor's range
    nearby = mackey_glass(3000, seed=0, noise=0.01 * (1 + 1e-6))  # start histories 1e-8 apart
    assert abs(x[:100] - nearby[:100]).max() < 1e-4 and abs(x[-500:] - nearby[-500:]).max() > 0.1  # divergence
    settled = mackey_glass(500, tau=4.0, seed=0)  # below the Hopf bifurcation: the fixed point x* = 1
    assert abs(settled - 1.0).max() < 1e-3


def memory_capacities(seed):
    """Test-set capacity of the global reservoir (beta picked on validation among 1.0, 1.1, 1.25,
    the values the seed study picked), of the self-adapting one with one target 0.5 and of the
    self-adapting one with heterogeneous targets (mean 0.3 or 0.4, picked on validation)."""
    variants = {"res.beta": [1.0, 1.1, 1.25, 1.0, 1.0, 1.0], "homeo.eta": [0.0] * 3 + [0.001] * 3,
                "homeo.rho_mean": [0.3, 0.3, 0.3, 0.5, 0.3, 0.4], "homeo.rho_spread": [0.8] * 3 + [0.0, 0.8, 0.8]}
    sim = compile(build("memory"), dt=1.0, seed=seed, variants=variants, record="none")
    sim.step(STEPS)
    s = scores(sim)
    best = lambda rows: rows[int(np.argmax(s["capacity_val"][rows]))]  # noqa: E731
    return s["capacity_test"][best([0, 1, 2])], s["capacity_test"][3], s["capacity_test"][best([4, 5])]


@pytest.fixture(scope="module")
def capacities():
    return np.array([memory_capacities(seed) for seed in SEEDS])  # (seeds, [global, one target, heterogeneous])


def test_self_adapting_inhibition_beats_the_tuned_global_ratio_on_memory_capacity(capacities):
    glob, adaptive = capacities[:, 0], capacities[:, 1]
    assert (adaptive > glob).sum() >= 4, capacities
    assert adaptive.mean() - glob.mean() > 0.3, capacities  # about +0.7 (8%): far from the paper's +130%


def test_negative_result_heterogeneous_targets_lower_the_peak_capacity(capacities):
    one_target, heterogeneous = capacities[:, 1], capacities[:, 2]
    assert (heterogeneous < one_target).sum() >= 4, capacities


def test_self_adapting_inhibition_predicts_mackey_glass_better_than_the_tuned_global_ratio():
    """NRMSE 10 steps ahead at the paper's sigmoid gain (10); each reservoir chooses on validation
    among the values the seed study picked for it (beta 0.9, 1.1, 1.5; one shared target 0.25,
    0.3, 0.4). Not a claim against every control: a global reservoir whose gain is tuned too
    predicts as well (negative result, docs/claims.md)."""
    variants = {"res.beta": [0.9, 1.1, 1.5, 1.0, 1.0, 1.0], "homeo.eta": [0.0] * 3 + [0.001] * 3,
                "homeo.rho_mean": [0.3] * 3 + [0.25, 0.3, 0.4], "homeo.rho_spread": [0.0] * 6}
    errors = []
    for seed in SEEDS:
        sim = compile(build("mackey_glass"), dt=1.0, seed=seed, variants=variants, record="none")
        sim.step(STEPS)
        s = scores(sim)
        best = lambda rows: rows[int(np.argmin(s["nrmse_val"][rows]))]  # noqa: E731
        errors.append((s["nrmse_test"][best([0, 1, 2])], s["nrmse_test"][best([3, 4, 5])]))
    glob, adaptive = np.array(errors).T
    assert (adaptive < glob).sum() >= 4, errors
    assert adaptive.mean() < glob.mean() and glob.mean() < 0.2, errors  # both predict; adaptive by ~20%
