"""Seed neuron blocks against their catalogue checks: AdaptiveLIF (homeostatic rate control),
DendriticNeuron (analytic false-match probability), ELMNeuron (delayed recall)."""
import numpy as np
import pytest
import param
import torch

from components import Block, Port
from components.dendritic_neuron import DendriticNeuron
from simulations import Circuit, SampleRecorder, compile


def test_adaptive_lif_homeostasis_holds_the_target_rate_for_very_different_inputs():
    c = Circuit()
    c.add("drive", "CurrentInput", n=4)
    c.add("neu", "AdaptiveLIF", n=4, target_rate=20.0, d_theta=1.0, tau_theta=100.0)
    c.connect("drive.current", "neu.current")
    # rows: weak and strong drive, each with homeostasis on and off
    sim = compile(c, dt=1.0, record=["neu.spikes"],
                  variants={"drive.amplitude": [25.0, 80.0, 25.0, 80.0], "neu.eta_h": [1.0, 1.0, 0.0, 0.0]})
    sim.run(6.0)
    sim.recorders["neu.spikes"].clear()
    sim.run(2.0)
    rates = sim.rates("neu")
    assert rates[0] == pytest.approx(20.0, rel=0.1) and rates[1] == pytest.approx(20.0, rel=0.1)
    assert rates[3] > 2.5 * rates[2] and abs(rates[2] - 20.0) > 5.0 and abs(rates[3] - 20.0) > 50.0  # off: no control
    h = sim.get_state("neu", "h")
    assert float(h[1].mean()) > float(h[0].mean()) > 0 and float(h[2:].abs().max()) == 0.0


def dendrite_circuit(n_in, a, s, theta, **extra):
    c = Circuit()
    c.add("src", "PatternInput", n=n_in, order="random_k", k=a)
    c.add("den", "DendriticNeuron", n=10, n_segments=5, s=s, theta=theta, **extra)
    c.connect("src.spikes", "den.input")
    return c


@pytest.mark.parametrize("theta", [6, 8])
def test_dendrite_false_match_rate_equals_the_analytic_probability(theta):
    n_in, a, s, steps = 200, 40, 20, 3000
    sim = compile(dendrite_circuit(n_in, a, s, theta), dt=1.0, record="none", seed=3)
    sim.record("den.segments", SampleRecorder("heatmap", every=1, capacity=steps))
    sim.step(steps)
    _, active = sim.trace("den", "segments")
    per_step = active.reshape(steps, -1).mean(1)  # segments share a step's pattern: use per-step means
    expected = DendriticNeuron.false_match_probability(n_in, a, s, theta)
    sigma = per_step.std() / np.sqrt(steps)
    assert 0.001 < expected < 0.2
    assert abs(per_step.mean() - expected) < 3 * sigma, (per_step.mean(), expected, sigma)


def test_dendrite_segment_sampled_from_a_pattern_recognises_it_despite_noise():
    n_in, a, s, theta = 200, 40, 20, 10
    rng = np.random.default_rng(0)
    stored = rng.choice(n_in, a, replace=False)
    segs = [sorted(rng.choice(stored, s, replace=False).tolist()) for _ in range(2)]
    noisy = stored.copy()
    noisy[: a // 4] = rng.choice(np.setdiff1d(np.arange(n_in), stored), a // 4, replace=False)  # 25% noise
    patterns = [np.isin(np.arange(n_in), p).astype(float).tolist() for p in (stored, noisy)]
    patterns.append(np.isin(np.arange(n_in), rng.choice(n_in, a, replace=False)).astype(float).tolist())
    c = Circuit()
    c.add("src", "PatternInput", n=n_in, patterns=patterns)
    c.add("den", "DendriticNeuron", n=1, n_segments=2, s=s, theta=theta, segment_inputs=segs)
    c.connect("src.spikes", "den.input")
    sim = compile(c, dt=1.0, record=["den.spikes"]).step(3)
    times, _ = sim.spikes("den")
    assert times.tolist() == [0.0, 1.0]  # stored and noisy pattern detected, random one not
    assert DendriticNeuron.false_match_probability(n_in, a, s, theta) < 0.01


# -- ELMNeuron -----------------------------------------------------------------------------------

def recall_task(batch, delay=20, noise=0.1, seed=0):
    """Delayed recall: a +-1 cue on channel 0 at t = 0, noise on every channel at all steps, a go
    pulse on channel 1 at t = delay; the target at the go step is the cue."""
    g = torch.Generator().manual_seed(seed)
    steps = delay + 3
    xs = noise * torch.randn(batch, steps, 3, generator=g)
    cue = torch.randint(0, 2, (batch,), generator=g).float() * 2 - 1
    xs[:, 0, 0] = cue
    xs[:, delay, 1] = 1.0
    ys = torch.zeros(batch, steps, 1)
    ys[:, delay, 0] = cue
    mask = torch.zeros(batch, steps, dtype=torch.bool)
    mask[:, delay] = True
    return xs, ys, mask, cue


class _Sequence(Block):
    """Test source: plays one stored value sequence (T, width), one row per step."""

    values = param.List(default=[])
    width = param.Integer(3)
    outputs = {"x": Port("value", size="width")}

    def step(self, ctx, p, state, inputs):
        return {"x": torch.tensor([self.values[ctx.t]], dtype=ctx.dtype).expand(ctx.batch, self.width)}


def test_elm_neuron_solves_delayed_recall_that_a_single_timescale_lif_readout_cannot():
    from components.elm_neuron import ELMNeuron

    dt, tau_min, delay = 1.0, 2.0, 20  # delay = 10x the shortest timescale
    xs, ys, mask, _ = recall_task(256, delay)
    xt, _, _, cue = recall_task(512, delay, seed=1)
    elm = ELMNeuron(n=1, n_memory=8, n_hidden=16, tau_s=tau_min, tau_min=tau_min, tau_max=1000.0)
    untrained = (elm.predict(xt)[:, delay, 0].sign() == cue).float().mean().item()
    losses = elm.fit(xs, ys, mask, dt=dt, iterations=150, lr=0.02)
    acc_elm = (elm.predict(xt)[:, delay, 0].sign() == cue).float().mean().item()

    def lif_traces(x):  # a single-timescale leaky (LIF-membrane) trace of every input, read at the go step
        k = np.exp(-dt / tau_min)
        weights = torch.tensor([k ** (delay - t) for t in range(delay + 1)], dtype=torch.float32)
        return torch.cat([(x[:, : delay + 1] * weights[None, :, None]).sum(1), torch.ones(len(x), 1)], 1)

    A, b = lif_traces(xs), ys[:, delay, 0]
    w = torch.linalg.lstsq(A, b[:, None]).solution
    acc_lif = ((lif_traces(xt) @ w)[:, 0].sign() == cue).float().mean().item()
    assert losses[-1] < 0.05 * losses[0]
    assert acc_elm > 0.95
    assert acc_lif < 0.7 and untrained < 0.7
    # the trained neuron as a block in a circuit gives the same outputs as the training maths
    c = Circuit()
    c.add("seq", _Sequence(values=xt[0].tolist(), width=3))
    c.add("elm", elm)
    c.connect("seq.x", "elm.x")
    sim = compile(c, dt=dt, record=["elm.y"]).step(delay + 1)
    _, y = sim.trace("elm", "y")
    assert np.allclose(y[:, 0, 0], elm.predict(xt[:1])[0, : delay + 1, 0].numpy(), atol=1e-5)
