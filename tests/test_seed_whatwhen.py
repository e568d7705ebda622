"""The "what and when" circuit (Yamada & Chao 2025): its blocks do what they declare, and over
seeds 0-4 the three-factor readout's claims hold against their controls (figures for every
row: benchmarks/whatwhen.py and docs/claims.md)."""
import numpy as np
import pytest
import torch

from components.izhikevich_reservoir import HeterogeneousIzhikevich
from simulations import Circuit, compile
from simulations.probes import SampleRecorder
from workbench.demos import whatwhen as ww


def paradigm_run(trials, **params):
    c = Circuit()
    c.add("task", "CueStimulusParadigm", **params)
    steps = int(trials * c.block("task").trial_ms)
    sim = compile(c, dt=1.0, record=["task.cue"])
    for path in ("task.stimuli", "task.attention"):
        sim.record(path, SampleRecorder("trace", capacity=steps))
    sim.step(steps)
    return sim


def test_paradigm_shows_each_stimulus_at_its_delay_with_its_probability_and_switches():
    rows = [[0, 0, 40.0, 0.25], [0, 1, 80.0, 0.75]]
    after = [[0, 0, 80.0, 0.75], [0, 1, 40.0, 0.25]]
    sim = paradigm_run(400, trial_ms=120.0, stim_ms=10.0, attend_from_ms=20.0, attend_ms=100.0, n_stimuli=2,
                       stimuli=rows, stimuli_after=after, switch_trial=200)
    _, shown = sim.trace("task", "stimuli")
    shown = shown[:, 0].reshape(400, 120, 2)
    onsets = shown.sum(1) / 10.0  # shown for 10 steps when it comes
    assert set(np.unique(onsets)) <= {0.0, 1.0}
    first, second = onsets[:200].mean(0), onsets[200:].mean(0)
    assert abs(first[0] - 0.25) < 0.1 and abs(first[1] - 0.75) < 0.1
    assert abs(second[0] - 0.75) < 0.1 and abs(second[1] - 0.25) < 0.1
    assert shown[:200, :, 0].sum(0)[40:50].min() > 0 and shown[:200, :, 0].sum(0)[50:].max() == 0  # at 40 ms only
    assert shown[200:, :, 0].sum(0)[80:90].min() > 0 and shown[200:, :, 0].sum(0)[:80].max() == 0  # then at 80 ms
    _, attention = sim.trace("task", "attention")
    window = attention[:120, 0, 0]
    assert window[:20].sum() == 0 and window[20:100].min() == 1 and window[100:].sum() == 0
    t, _ = sim.spikes("task", "cue")
    assert len(t) > 0 and (np.mod(t, 120) < 20).all()  # the cue only in its 20 ms


def test_paradigm_rejects_stimuli_outside_the_trial():
    c = Circuit()
    c.add("task", "CueStimulusParadigm", trial_ms=100.0, stimuli=[[0, 0, 90.0, 0.5]])
    with pytest.raises(Exception, match="outside the 100.0 ms trial"):
        compile(c, dt=1.0)


def test_heterogeneous_izhikevich_draws_the_2003_cell_types_and_splits_exc_inh():
    block = HeterogeneousIzhikevich(n=100, n_inh=20, seed=3)
    cells = {k: v[0].numpy() for k, v in block.cell_parameters().items()}
    exc, inh = slice(0, 80), slice(80, 100)
    assert np.allclose(cells["a"][exc], 0.02) and np.allclose(cells["b"][exc], 0.2)
    assert -65 <= cells["c"][exc].min() and cells["c"][exc].max() <= -50 and cells["c"][exc].std() > 1
    assert 2 <= cells["d"][exc].min() and cells["d"][exc].max() <= 8
    assert 0.02 <= cells["a"][inh].min() and cells["a"][inh].max() <= 0.1 and np.allclose(cells["d"][inh], 2.0)
    c = Circuit()
    c.add("r", "HeterogeneousIzhikevich", n=100, n_inh=20, I_e=6.0)
    sim = compile(c, dt=1.0, record=["r.spikes"])
    sim.step(200)
    t, n = sim.spikes("r")
    counts = np.bincount(n.astype(int), minlength=100)[:80]
    assert len(np.unique(counts)) > 3  # heterogeneous cells answer the same drive with different rates


def test_heterogeneity_zero_is_the_library_izhikevich_for_excitatory_cells():
    c = Circuit()
    c.add("het", "HeterogeneousIzhikevich", n=10, n_inh=1, heterogeneity=0.0, I_e=10.0)
    c.add("plain", "Izhikevich", n=10, I_e=10.0)
    sim = compile(c, dt=0.5, record=["het.spikes", "plain.spikes"])
    sim.run(0.3)
    th, nh = sim.spikes("het")
    tp, np_ = sim.spikes("plain")
    assert len(tp) > 10
    for k in range(9):  # every excitatory cell is the library's regular-spiking cell
        assert np.array_equal(th[nh == k], tp[np_ == k])


def toy_readout(rule: str, trials: int, **params):
    """A fixed spike pattern per trial (one input neuron per time bin, a 'perfect clock'), a
    teacher that is 1 in bin 3 with probability 0.3 and in bin 6 with probability 0.7. Returns
    the readout in each bin, averaged over the second half of the trials (a rule fast enough to
    follow changes estimates a probability from its last few trials, so one snapshot is noisy)."""
    T, bins = 100, 10
    pattern = [[1.0 if t // bins == k else 0.0 for k in range(bins)] for t in range(T)]
    rng = np.random.default_rng(0)
    teach = []
    for _ in range(trials):
        a, b = rng.random() < 0.3, rng.random() < 0.7
        for t in range(T):
            teach.append([float(a and t // bins == 3), float(b and t // bins == 6)])
    c = Circuit()
    c.add("clock", "PatternInput", n=bins, patterns=pattern * trials, targets=teach, n_targets=2)
    c.add("syn", "Projection", connectivity="all_to_all", weight=0.0, tau_syn=1.0)
    kind = "ThreeFactorReadout" if rule == "three_factor" else "ForceReadout"
    c.add("rule", kind, n_out=2, tau_pre=1.0, **params)
    for a, b in [("clock.spikes", "syn.spikes"), ("syn.current", "rule.prediction"), ("rule.rule", "syn.plasticity"),
                 ("clock.target", "rule.teacher")]:
        c.connect(a, b)
    sim = compile(c, dt=1.0, record="none")
    w = []
    for _ in range(trials):
        sim.step(T)
        w.append(sim.weights("syn").numpy().reshape(bins, 2))
    x = 1.0 / (1.0 - np.exp(-1.0))  # the presynaptic trace of a neuron spiking every step (tau_pre = dt)
    return x * np.mean(w[trials // 2:], 0)  # the readout while bin k's neuron fires, over the second half


@pytest.mark.parametrize("rule,params", [("three_factor", dict(eta=0.01, tau_elig=1.0)),
                                         ("force", dict(alpha=1.0))])
def test_readout_rules_learn_the_probability_of_the_teacher_at_each_time(rule, params):
    y = toy_readout(rule, 200, **params)
    assert abs(y[3, 0] - 0.3) < 0.12 and abs(y[6, 1] - 0.7) < 0.12, y
    # elsewhere near zero (the neighbouring bins take up the traces' spill-over into the teacher's bin)
    assert np.abs(np.delete(y[:, 0], 3)).max() < 0.1 and np.abs(np.delete(y[:, 1], 6)).max() < 0.1, y


def test_without_error_modulation_the_readout_grows_past_the_probability():
    y = toy_readout("three_factor", 200, eta=0.01, tau_elig=1.0, error_modulation=0.0)
    assert y[3, 0] > 1.0 and y[6, 1] > 2.0, y


def phase_slope(y: np.ndarray, switch: int) -> float:
    """Slope of the stimulus-window readouts against the probabilities over both phases (the 10
    trials before the switch and the last 10): 1 if magnitudes equal probabilities and follow
    the change, lower if they are compressed or stuck at the old statistics."""
    values = np.concatenate([ww.window_values(y[switch - 10:switch].mean(0))[0],
                             ww.window_values(y[-10:].mean(0), ww.DELAYS_AFTER)[0]])
    probs = np.array(ww.PROBS + ww.PROBS_AFTER)
    return float(np.polyfit(probs, values, 1)[0])


@pytest.fixture(scope="module")
def seed_runs():
    """Seeds 0-4, the seed study's run (90 trials, the switch at trial 50): row 0 of
    benchmarks/whatwhen.py, i.e. the three-factor readout and FORCE as published, plus the
    no-reservoir control. About 3 minutes on one idle core."""
    torch.set_num_threads(1)
    return [(ww.run(s, ww.TRIALS, ww.SWITCH_TRIAL), ww.reservoirless(s, ww.TRIALS, ww.SWITCH_TRIAL)) for s in range(5)]


@pytest.mark.slow
def test_readouts_peak_near_their_stimulus_times_only_with_the_reservoir(seed_runs):
    sw = ww.SWITCH_TRIAL
    treated = np.array([ww.timing_error(run["three_factor"][sw - 10:sw].mean(0))[0] for run, _ in seed_runs])
    bare = np.array([ww.timing_error(b["three_factor"][sw - 10:sw].mean(0))[0] for _, b in seed_runs])
    pooled = np.sqrt((treated.var(ddof=1) + bare.var(ddof=1)) / 2)
    assert (treated < bare).sum() >= 4 and bare.mean() - treated.mean() > 3 * pooled, (treated, bare)


@pytest.mark.slow
def test_magnitudes_follow_probabilities_across_a_change_unlike_force_without_reset(seed_runs):
    sw = ww.SWITCH_TRIAL
    rule = np.array([phase_slope(run["three_factor"][:, :, 0:1], sw) for run, _ in seed_runs])
    force = np.array([phase_slope(run["force"][:, :, 0:1], sw) for run, _ in seed_runs])
    bare = np.array([phase_slope(b["three_factor"][:, :, 0:1], sw) for _, b in seed_runs])
    assert (rule > 0.1).all() and (rule > force).sum() >= 4 and (rule > bare).all(), (rule, force, bare)
