"""Gradient training (simulations/training.py): gradients against finite differences, surrogates
against snntorch's, training-path spikes against the compiled path, write-back, tasks."""
import math

import pytest
import torch

from components import native
from components.base import spike, surrogate
from simulations import compile
from simulations import training_tasks as tasks
from simulations.circuit import Circuit
from simulations.errors import CircuitError
from simulations.training import (
    SpikeCountCrossEntropy, TargetRate, TraceMSE, Trainer, restore, train, trainable_names,
)


def _chain(neuron: str = "LIFPopulation", n_in=3, n_hid=4, n_out=2, delays=False, **neuron_params) -> Circuit:
    c = Circuit("chain")
    c.add("inp", "SpikeTimes", n=n_in)
    c.add("hid", neuron, n=n_hid, tau_m=8.0, **neuron_params)
    c.add("out", "LIFPopulation", n=n_out, tau_m=8.0, t_ref=0.0)
    extra = dict(delay=1.0, delay_max=3.0) if delays else {}
    c.add("p1", "Projection", connectivity="all_to_all", weight=8.0, weight_std=6.0, tau_syn=4.0, seed=1, **extra)
    c.add("p2", "Projection", connectivity="all_to_all", weight=6.0, weight_std=6.0, tau_syn=4.0, seed=2)
    c.connect("inp.spikes", "p1.spikes")
    c.connect("p1.current", "hid.current")
    c.connect("hid.spikes", "p2.spikes")
    c.connect("p2.current", "out.current")
    return c


def _data(n=4, steps=30, width=3, p=0.3, seed=0, classes=2):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, steps, width, generator=g) < p).double()
    return x, torch.randint(0, classes, (n,), generator=g)


def _grads(trainer, x, y):
    trainer.optimiser.zero_grad(set_to_none=True)
    with native.torch_path(), torch.enable_grad():
        trainer._run(x, y, train=True)
    return [leaf.grad.clone() for t in trainer.params for leaf in t.leaves()]


def _loss(trainer, x, y):
    with native.torch_path(), torch.no_grad():
        return trainer._run(x, y, train=False)[0]


def _check_against_finite_differences(trainer, x, y, picks=3, eps=1e-6):
    """Autograd on the soft network (spikes = the smooth step forward too) against central
    differences of the same network's loss, for a few entries of every trainable leaf."""
    trainer.soft = True
    grads = _grads(trainer, x, y)
    leaves = [leaf for t in trainer.params for leaf in t.leaves()]
    checked = 0
    for leaf, grad in zip(leaves, grads):
        flat = leaf.data.view(-1)
        for i in torch.linspace(0, flat.numel() - 1, min(picks, flat.numel())).long().tolist():
            orig = flat[i].item()
            flat[i] = orig + eps
            up = _loss(trainer, x, y)
            flat[i] = orig - eps
            down = _loss(trainer, x, y)
            flat[i] = orig
            numeric = (up - down) / (2 * eps)
            assert grad.view(-1)[i].item() == pytest.approx(numeric, rel=1e-4, abs=1e-8), (leaf.shape, i)
            checked += abs(numeric) > 1e-6
    assert checked >= len(leaves)  # the check saw real gradients, not zeros everywhere


def test_lif_and_projection_gradients_match_finite_differences():
    target = torch.full((4, 30, 4), -60.0, dtype=torch.float64)
    losses = [SpikeCountCrossEntropy("out.spikes"), _Fixed(TraceMSE("hid.v", window=(5.0, 25.0)), target)]
    trainer = Trainer(_chain(), "inp", losses,
                      trainable=["p1.weights", "p2.weights", "p1.tau_syn", "hid.tau_m", "hid.v_th", "hid.R",
                                 "out.E_L", "out.v_reset"],
                      dtype=torch.float64, batch_size=4, slope=0.5)
    _check_against_finite_differences(trainer, *_data())


class _Fixed(TraceMSE):
    """A trace loss with its own target, next to a classification loss on labels."""

    def __init__(self, inner, target):
        super().__init__(inner.probe, inner.window)
        self.target = target

    def __call__(self, signal, target, t0, dt):
        return super().__call__(signal, self.target[: len(signal)], t0, dt)


def test_delayed_projection_gradients_match_finite_differences():
    trainer = Trainer(_chain(delays=True, t_ref=0.0), "inp", SpikeCountCrossEntropy("out.spikes"),
                      trainable=["p1.weights", "p2.weights", "hid.tau_m"], dtype=torch.float64, batch_size=4,
                      surrogate="arctan", slope=0.5)
    _check_against_finite_differences(trainer, *_data())


def test_adaptive_lif_gradients_match_finite_differences():
    trainer = Trainer(_chain("AdaptiveLIF", d_theta=3.0, eta_h=2.0, target_rate=50.0), "inp",
                      [SpikeCountCrossEntropy("out.spikes"), TargetRate("hid.spikes", 40.0, weight=1e-4)],
                      trainable=["p1.weights", "hid.d_theta", "hid.tau_theta", "hid.v_th", "hid.eta_h",
                                 "hid.tau_rate"],
                      dtype=torch.float64, batch_size=4, surrogate={"hid": ("arctan", 0.5), "out": "fast_sigmoid"},
                      slope=0.5)
    _check_against_finite_differences(trainer, *_data(steps=40))


def test_elm_neuron_gradients_match_finite_differences():
    c = Circuit()
    c.add("inp", "SpikeTimes", n=3)
    c.add("elm", "ELMNeuron", n=2, n_memory=3, n_hidden=4, tau_min=2.0, tau_max=50.0)
    c.connect("inp.spikes", "elm.spikes")
    x, _ = _data(steps=20)
    target = torch.sin(torch.arange(20, dtype=torch.float64) / 3)[None, :, None].expand(4, 20, 2)
    trainer = Trainer(c, "inp", TraceMSE("elm.y"), trainable=["elm.weights"], dtype=torch.float64, batch_size=4)
    b1 = trainer.params[0].tensors["b1"]  # zero biases put relu at its kink, where one-sided slopes differ
    b1.data += 0.1 * torch.randn(b1.shape, generator=torch.Generator().manual_seed(0), dtype=b1.dtype)
    _check_against_finite_differences(trainer, x, target.contiguous(), picks=2)


@pytest.mark.parametrize("name", ["fast_sigmoid", "arctan"])
def test_surrogates_step_forward_and_match_snntorch_backward(name):
    snn_surrogate = pytest.importorskip("snntorch.surrogate")
    k = 2.0
    x = torch.linspace(-4, 4, 81, dtype=torch.float64, requires_grad=True)
    with surrogate(name, k):
        out = spike(x)
    assert torch.equal(out.detach(), (x >= 0).double())
    (grad,) = torch.autograd.grad(out.sum(), x)
    xr = x.detach().float().requires_grad_()
    theirs = (snn_surrogate.fast_sigmoid(slope=k) if name == "fast_sigmoid" else snn_surrogate.atan(alpha=k))(xr)
    (ref,) = torch.autograd.grad(theirs.sum(), xr)
    scale = k / 2 if name == "fast_sigmoid" else 1.0  # ours integrates to 1 (a relaxed step)
    assert torch.allclose(grad.float(), ref * scale, rtol=1e-5, atol=1e-7)
    assert torch.equal(spike(x.detach()), (x >= 0).double())  # outside training: a plain step


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_compiled_inference_gives_the_training_paths_spikes(dtype):
    assert native.kernel("lif_step", torch.device("cpu"), dtype) is not None, "compiled path unavailable"
    c = _chain(n_in=5, n_hid=12, n_out=3, delays=True)
    x, y = _data(n=16, steps=40, width=5, classes=3)
    trainer = Trainer(c, "inp", SpikeCountCrossEntropy("out.spikes"), lr=0.5, batch_size=8, dtype=dtype)
    before = [t.value().clone() for t in trainer.params]
    for _ in range(3):
        trainer.epoch((x, y))
    assert not torch.equal(before[0], trainer.params[0].value())
    trainer.write_back()
    for probe in ("hid.spikes", "out.spikes"):
        trained = trainer.outputs(x[:4], probe)
        assert trained.sum() > 0
        for i in range(4):
            c.block("inp").spikes = [[j, float(t)] for t, j in x[i].nonzero().tolist()]
            sim = compile(c, dt=1.0, dtype=dtype, record=[probe])
            sim.step(x.shape[1])
            events = sim.recorder(probe).events()
            compiled = torch.zeros_like(trained[i])
            compiled[events[:, 0], events[:, 2]] = 1
            assert torch.equal(compiled, trained[i]), (probe, i)


def test_trained_values_are_saved_in_the_file_and_restore_undoes():
    c = _chain()
    x, y = _data(n=8)
    old_tau, old_conn = c.block("hid").tau_m, c.block("p2").connectivity
    trainer = Trainer(c, "inp", SpikeCountCrossEntropy("out.spikes"), trainable=["p2.weights", "hid.tau_m"],
                      lr={"p2.weights": 0.1, "hid.tau_m": 1.0}, batch_size=8)
    trainer.epoch((x, y))
    previous = trainer.write_back()
    loaded = Circuit.from_json(c.to_json())
    assert loaded.block("hid").tau_m == pytest.approx(trainer.values()["hid.tau_m"]) != old_tau
    edges = loaded.block("p2").edges
    assert loaded.block("p2").connectivity == "edges" and len(edges) == 4 * 2
    assert [e[2] for e in edges] == pytest.approx(trainer.values()["p2.weights"].tolist())
    restore(c, previous)
    assert c.block("hid").tau_m == old_tau and c.block("p2").connectivity == old_conn


def test_truncated_bptt_cuts_the_gradient_at_chunk_borders():
    c = _chain(t_ref=0.0)
    x, y = _data(steps=20)
    x[:, 10:] = 0  # inputs only in the first half, loss only in the second
    losses = SpikeCountCrossEntropy("out.spikes", window=(10.0, 20.0))
    full = Trainer(c, "inp", losses, trainable=["p1.weights"], dtype=torch.float64, batch_size=4)
    cut = Trainer(c, "inp", losses, trainable=["p1.weights"], dtype=torch.float64, batch_size=4, tbptt=10)
    whole = Trainer(c, "inp", losses, trainable=["p1.weights"], dtype=torch.float64, batch_size=4, tbptt=20)
    assert _grads(full, x, y)[0].abs().sum() > 0
    assert _grads(cut, x, y)[0].abs().sum() == 0
    assert torch.equal(_grads(whole, x, y)[0], _grads(full, x, y)[0])


def test_clear_errors_for_bad_requests():
    c = _chain()
    loss = SpikeCountCrossEntropy("out.spikes")
    with pytest.raises(CircuitError, match="cannot be trained.*hid.tau_m"):
        Trainer(c, "inp", loss, trainable=["hid.n"])
    with pytest.raises(CircuitError, match="no such probe"):
        Trainer(c, "inp", SpikeCountCrossEntropy("out.nothing"))
    with pytest.raises(ValueError, match="unknown optimiser"):
        Trainer(c, "inp", loss, optimiser="lbfgs2")
    with pytest.raises(ValueError, match="unknown surrogate"):
        Trainer(c, "inp", loss, surrogate="relu")
    trainer = Trainer(c, "inp", loss, trainable=["hid.t_ref"])
    with pytest.raises(CircuitError, match="hid.t_ref gets no gradient"):
        trainer.epoch(_data(n=4))
    c.add("rule", "STDP")
    c.connect("rule.rule", "p1.plasticity")
    c.connect("hid.spikes", "rule.post")
    with pytest.raises(CircuitError, match="learning rule"):
        Trainer(c, "inp", loss)
    assert "p1.weights" in trainable_names(c) and "hid.tau_m" in trainable_names(c)


@pytest.mark.slow
def test_digits_train_well_above_chance_in_three_epochs():
    (x, y), test_set = tasks.digits(seed=0)
    circuit = tasks.feedforward_circuit(64, 100, 10, weight_std=(3.0, 3.0), seed=0)
    history = train(circuit, (x[:600], y[:600]), SpikeCountCrossEntropy("out.spikes"), input="inp", epochs=3,
                    lr=0.05, slope=0.5, batch_size=32)
    assert history.loss[-1] < history.loss[0]
    assert circuit.block("w_in").connectivity == "edges"  # written back
    trainer = Trainer(circuit, "inp", SpikeCountCrossEntropy("out.spikes"), batch_size=120)  # reads the trained file
    assert trainer.evaluate(test_set)[1] > 0.6  # chance: 0.1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_training_runs_on_cuda():
    x, y = _data(n=8)
    trainer = Trainer(_chain(), "inp", SpikeCountCrossEntropy("out.spikes"), device="cuda", batch_size=8)
    trainer.epoch((x, y))
    assert math.isfinite(trainer.history.loss[-1])
    assert trainer.params[0].tensor.device.type == "cuda"
