"""Tasks that ship for gradient training (simulations/training.py): data as spike trains and a
circuit to train on each.

- ``digits``: scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes), each
  pixel a Bernoulli spike train whose rate follows its intensity.
- ``delayed_recall``: a cue (one of several input groups) fires briefly, a silent delay
  follows, then a "go" group fires; the circuit must say which cue it saw, from its output
  spikes in the go window. Generated, seeded.
"""
from __future__ import annotations

import torch

from .circuit import Circuit


def _split(n: int, test_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_test = int(round(n * test_fraction))
    return order[n_test:], order[:n_test]


def digits(steps: int = 25, max_prob: float = 1.0, test_fraction: float = 0.2, seed: int = 0):
    """(train, test) pairs of (spikes (samples, steps, 64) float32, labels (samples,) int64).

    Pixel intensity 0..16 sets the chance ``max_prob * intensity / 16`` of a spike per step.
    The split (shuffled by ``seed``) and the spikes (seeded by ``seed``) are reproducible."""
    from sklearn.datasets import load_digits

    data = load_digits()
    pixels = torch.tensor(data.data, dtype=torch.float32) / 16.0
    labels = torch.tensor(data.target, dtype=torch.int64)
    g = torch.Generator().manual_seed(seed)
    spikes = (torch.rand(len(pixels), steps, 64, generator=g) < max_prob * pixels[:, None, :]).float()
    train, test = _split(len(pixels), test_fraction, seed)
    return (spikes[train], labels[train]), (spikes[test], labels[test])


def delayed_recall(samples: int = 512, cues: int = 4, group: int = 8, cue_ms: int = 10, delay_ms: int = 40,
                   recall_ms: int = 20, rate: float = 0.4, noise: float = 0.01, test_fraction: float = 0.25,
                   seed: int = 0):
    """(train, test) pairs of (spikes (samples, steps, (cues + 1) * group), cue labels), dt = 1 ms.

    Group c (c < cues) fires at ``rate`` per step during the first ``cue_ms`` when the cue is
    c; the last group fires during the final ``recall_ms`` (go); every input also fires at
    ``noise`` per step throughout. The answer window is ``recall_window(...)``."""
    g = torch.Generator().manual_seed(seed)
    steps = cue_ms + delay_ms + recall_ms
    labels = torch.randint(0, cues, (samples,), generator=g)
    prob = torch.full((samples, steps, cues + 1, group), noise)
    prob[torch.arange(samples), :cue_ms, labels] = rate
    prob[:, steps - recall_ms:, cues] = rate
    spikes = (torch.rand(prob.shape, generator=g) < prob).float().reshape(samples, steps, -1)
    train, test = _split(samples, test_fraction, seed)
    return (spikes[train], labels[train]), (spikes[test], labels[test])


def recall_window(cue_ms: int = 10, delay_ms: int = 40, recall_ms: int = 20) -> tuple[float, float]:
    """The go window (ms) of ``delayed_recall`` with the same timings: where the answer is read."""
    return float(cue_ms + delay_ms), float(cue_ms + delay_ms + recall_ms)


def feedforward_circuit(n_in: int, n_hidden: int, n_out: int, weight_std: tuple[float, float] = (4.0, 4.0),
                        tau_m: float = 10.0, tau_syn: float = 5.0, recurrent: bool = False, seed: int = 0,
                        name: str = "spiking classifier") -> Circuit:
    """inputs -> hidden LIF (optionally with all-to-all recurrence) -> output LIF, all-to-all
    projections with zero-mean Gaussian weights (``weight_std`` for the input and output
    layers). The input block (``inp``, a SpikeTimes) is what training feeds data into."""
    c = Circuit(name)
    c.add("inp", "SpikeTimes", n=n_in, position=(0, 0))
    lif = dict(tau_m=tau_m, t_ref=0.0)
    c.add("hidden", "LIFPopulation", n=n_hidden, position=(300, 0), **lif)
    c.add("out", "LIFPopulation", n=n_out, position=(600, 0), **lif)
    proj = dict(connectivity="all_to_all", weight=0.0, tau_syn=tau_syn)
    c.add("w_in", "Projection", weight_std=weight_std[0], seed=seed, position=(150, 0), **proj)
    c.add("w_out", "Projection", weight_std=weight_std[1], seed=seed + 1, position=(450, 0), **proj)
    c.connect("inp.spikes", "w_in.spikes")
    c.connect("w_in.current", "hidden.current")
    c.connect("hidden.spikes", "w_out.spikes")
    c.connect("w_out.current", "out.current")
    if recurrent:
        c.add("w_rec", "Projection", weight_std=weight_std[0] / 2, seed=seed + 2, autapses=False,
              position=(300, 150), **proj)
        c.connect("hidden.spikes", "w_rec.spikes")
        c.connect("w_rec.current", "hidden.current")
    return c
