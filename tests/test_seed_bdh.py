"""BDH HebbianStateLayer over the shipped text, and the TokenEncoder."""
import numpy as np
import pytest
import torch

from components.hebbian_state_layer import bdh_parallel, train_bdh
from components.token_encoder import load_tokens
from simulations import Circuit, compile


def held_out():
    tokens = load_tokens()
    return tokens, int(len(tokens) * 0.9)


def bdh_circuit(offset, **params):
    c = Circuit()
    c.add("text", "TokenEncoder", offset=offset)
    c.add("bdh", "HebbianStateLayer", **params)
    c.connect("text.x", "bdh.x")
    c.connect("text.next", "bdh.next")
    return c


def test_token_encoder_reads_the_shipped_text_in_order():
    tokens, _ = held_out()
    sim = compile(bdh_circuit(0, train_steps=0), dt=1.0, record=["text.token"])
    sim.step(50)
    _, seen = sim.trace("text", "token")
    assert bytes(seen[:, 0, 0].astype(int).tolist()) == bytes(tokens[:50].tolist())
    assert bytes(tokens[:5].tolist()) == b"Alice"


def test_trained_bdh_beats_the_unigram_baseline_on_held_out_text_with_sparse_activations():
    tokens, cut = held_out()
    train, test = tokens[:cut], tokens[cut:]
    counts = torch.bincount(train, minlength=256).double() + 0.5  # add-1/2 smoothed unigram
    unigram = float(-(counts / counts.sum()).log()[test[1:]].mean())
    losses, sparsity = {}, {}
    for steps in (200, 0):  # trained vs untrained (mechanism off)
        sim = compile(bdh_circuit(cut, train_steps=steps), dt=1.0, record=["bdh.loss", "bdh.sparsity"])
        sim.step(len(test) - 1)
        losses[steps] = float(sim.trace("bdh", "loss")[1].mean())
        sparsity[steps] = float(sim.trace("bdh", "sparsity")[1].mean())
    # the recurrent block computes what the parallel (training) form computes
    w = train_bdh()
    with torch.no_grad():
        logits, xs, _ = bdh_parallel(w, test[None, :-1], 0.97, 2)
        parallel = float(torch.nn.functional.cross_entropy(logits[0], test[1:]))
    assert losses[200] == pytest.approx(parallel, rel=1e-3)
    assert losses[200] < unigram - 0.4, (losses, unigram)
    assert losses[0] > unigram  # untrained: no better than chance
    assert sparsity[200] < 0.10, sparsity  # sparse positive activations (paper: about 5%)
    assert sparsity[0] > 0.3


def test_the_synapse_a_repeated_concept_strengthens_is_the_same_across_contexts():
    tokens, _ = held_out()
    text = bytes(tokens.tolist())
    word = b"Rabbit"
    starts = [i for i in range(len(text)) if text.startswith(word, i)]
    assert len(starts) >= 5
    sim = compile(bdh_circuit(0), dt=1.0, record="none")
    lam = 0.97
    top, rho_before = [], None
    for t in range(max(starts) + len(word)):
        if t in starts:
            rho_before = sim.get_state("bdh", "rho")[-1, 0].clone()
        sim.step(1)
        if rho_before is not None and t - len(word) + 1 in starts:
            change = sim.get_state("bdh", "rho")[-1, 0] - lam ** len(word) * rho_before
            top.append(int(change.argmax()))
            rho_before = None
    # the same synapse (neuron, input dimension) is strengthened most at every occurrence
    values, counts = np.unique(top, return_counts=True)
    assert counts.max() / len(top) >= 0.8, top
