"""Digits encoder, ridge/logistic readout, selectivity and the interpretability analyses."""
import numpy as np
import pytest
import torch

from components.image_encoder import digits
from components.interpretability import (
    activation_sparsity, module_communities, monosemanticity, selectivity_matrix,
)
from simulations import Circuit, compile


def encoder_circuit(count, t_present, order="sequential", **readout):
    c = Circuit()
    c.add("digits", "ImageEncoder", count=count, t_present=t_present, max_rate=100.0, order=order)
    if readout:
        c.add("readout", "Readout", t_present=t_present, **readout)
        c.connect("digits.spikes", "readout.spikes")
        c.connect("digits.label", "readout.label")
    return c


def test_image_encoder_rates_follow_pixel_intensity_and_labels_follow_the_samples():
    count, t_present, dt = 20, 100.0, 1.0
    c = encoder_circuit(count, t_present)
    c.add("sel", "Selectivity", t_present=t_present)
    c.connect("digits.spikes", "sel.spikes")
    c.connect("digits.label", "sel.label")
    sim = compile(c, dt=dt, record=["digits.spikes", "digits.label"], batch=1)
    sim.step(int(count * t_present / dt))
    steps, labels = sim.trace("digits", "label")
    images, truth = digits()
    shown = labels[:: int(t_present / dt), 0, 0].astype(int)
    assert (shown == truth[:count].numpy()).all()
    t, neuron = sim.spikes("digits")
    counts = np.zeros((count, 64))
    np.add.at(counts, ((t / t_present).astype(int), neuron.astype(int)), 1)
    expected = images[:count].numpy() * 100.0 * t_present * 1e-3  # rate * time
    # Poisson counts: total over all pixels within 3 sigma of the expectation
    assert abs(counts.sum() - expected.sum()) < 3 * np.sqrt(expected.sum())
    assert np.corrcoef(counts.ravel(), expected.ravel())[0, 1] > 0.85
    # selectivity block: per pixel x class mean count equals the offline analysis of the same spikes
    sel = sim.get_state("sel", "selectivity")[0].numpy()
    offline = selectivity_matrix(counts, truth[:count].numpy(), 10)
    seen = ~np.isnan(offline[0])
    assert np.allclose(sel[:, seen], offline[:, seen], atol=1e-5)


@pytest.mark.parametrize("method", ["ridge", "logistic"])
def test_readout_learns_digits_from_spike_counts_and_fails_without_spikes(method):
    # batch row 0: 100 Hz input; row 1: the same circuit with the input silenced (mechanism off)
    n_train, n_test, t_present, dt = 600, 200, 100.0, 2.0
    c = encoder_circuit(n_train + n_test, t_present, order="shuffled", n_train=n_train, method=method, lam=1.0)
    sim = compile(c, dt=dt, record="none", variants={"digits.max_rate": [100.0, 0.0]})
    sim.step(int((n_train + n_test) * t_present / dt))
    acc = sim.get_state("readout", "accuracy")[:, 0]
    confusion = sim.get_state("readout", "confusion")
    assert float(confusion[0].sum()) == n_test
    # reference: the same classifier on the noise-free images of the same windows scores 0.94
    assert float(acc[0]) > 0.8, float(acc[0])
    assert float(acc[1]) < 0.25, float(acc[1])
    assert float(confusion[0].trace()) / n_test == pytest.approx(float(acc[0]))


def test_monosemanticity_and_sparsity_scores():
    one_class = np.eye(10)[:5] * 3.0
    uniform = np.ones((5, 10))
    silent = np.zeros((1, 10))
    score = monosemanticity(np.vstack([one_class, uniform, silent]))
    assert np.allclose(score[:5], 1.0) and np.allclose(score[5:10], 0.0) and np.isnan(score[10])
    assert activation_sparsity(torch.tensor([[0.0, 1.0, 0.0, 0.0]])) == 0.25


def test_module_communities_recover_planted_modules_and_not_independent_noise():
    rng = np.random.default_rng(0)
    T, modules, size = 2000, 4, 15
    drivers = rng.random((T, modules)) < 0.1
    activity = np.repeat(drivers, size, axis=1) & (rng.random((T, modules * size)) < 0.7)
    communities, q = module_communities(activity.astype(float), threshold=0.2)
    planted = [set(range(m * size, (m + 1) * size)) for m in range(modules)]
    assert sorted(map(sorted, communities)) == sorted(map(sorted, planted))
    assert q > 0.6
    _, q_noise = module_communities((rng.random((T, modules * size)) < 0.07).astype(float), threshold=0.2)
    assert q_noise < 0.1
