"""NIR with the peers: graphs snnTorch and Norse write run here as they run there, and ours run
there as they run here.

Each network is driven by the same fixed input spikes in both simulators. The peers step with
forward Euler and let a layer see the previous layer's spikes in the same step; with
``step="euler"`` our circuit runs the same map, with one step of synaptic delay per layer (our
schedule), so the k-th population's spikes are compared k steps later. Agreement is the
fraction of (step, neuron) spikes found in both trains, over the larger train.
"""
from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest

from simulations import Circuit, compile
from simulations.nir_io import from_nir, to_nir

torch = pytest.importorskip("torch")
nir = pytest.importorskip("nir")
snn = pytest.importorskip("snntorch")
norse = pytest.importorskip("norse.torch")
from snntorch import utils as snn_utils  # noqa: E402
from snntorch.export_nir import export_to_nir  # noqa: E402
from snntorch.import_nir import import_from_nir  # noqa: E402

DT = 0.1  # ms: snnTorch's fixed NIR step (1e-4 s)
STEPS = 400
N_IN, N_HID, N_OUT = 20, 12, 6
FORMS = ["leaky", "cuba"]


def drive(seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(STEPS, 1, N_IN, generator=g) < 0.15).float()


def agreement(ours: set, theirs: set) -> float:
    if not ours and not theirs:
        return 1.0
    return len(ours & theirs) / max(len(ours), len(theirs))


def train(spikes: torch.Tensor) -> set:
    """(step, neuron) pairs of a (steps, 1, n) 0/1 tensor."""
    steps, _, neurons = torch.nonzero(spikes > 0, as_tuple=True)
    return set(zip(steps.tolist(), neurons.tolist()))


def our_trains(circuit: Circuit, x: torch.Tensor, populations, step_shift=True) -> list[set]:
    """Spike trains of ``populations`` with ``x`` fed to the circuit's input block, shifted back
    by each population's depth (one step of synaptic delay per layer here)."""
    inputs = [n for n, b in circuit.blocks.items() if type(b).__name__ == "SpikeTimes"]
    assert len(inputs) == 1
    t, i = torch.nonzero(x[:, 0] > 0, as_tuple=True)
    circuit.block(inputs[0]).spikes = [[int(a), float(b) * DT] for a, b in zip(i.tolist(), t.tolist())]
    sim = compile(circuit, dt=DT, seed=0, dtype=torch.float64)
    sim.step(STEPS + len(populations))
    out = []
    for depth, name in enumerate(populations, start=1):
        times, neurons = sim.spikes(name)
        steps = np.round(times / DT).astype(int) - depth
        out.append({(s, n) for s, n in zip(steps.tolist(), neurons.tolist()) if 0 <= s < STEPS})
    return out


def run_stepwise(module, x, hooks_on, stateful=True):
    """Run a peer module step by step; returns the spikes of each hooked submodule."""
    seen = {name: [] for name in hooks_on}
    handles = []
    for name, mod in module.named_modules():
        if name in hooks_on:
            handles.append(mod.register_forward_hook(
                lambda m, i, o, name=name: seen[name].append((o[0] if isinstance(o, tuple) else o).detach().clone())))
    state = None
    with torch.no_grad():
        for t in range(STEPS):
            if stateful:
                _, state = module(x[t], state) if state is not None else module(x[t])
            else:
                module(x[t])
    for h in handles:
        h.remove()
    return [train(torch.stack(seen[name]).reshape(STEPS, 1, -1)) for name in hooks_on]


# -- the networks, as each framework builds them --------------------------------------------
def snntorch_net(form: str, bias: bool):
    torch.manual_seed(1)
    lin1, lin2 = torch.nn.Linear(N_IN, N_HID, bias=bias), torch.nn.Linear(N_HID, N_OUT, bias=bias)
    with torch.no_grad():
        lin1.weight.uniform_(-0.1, 0.6)
        lin2.weight.uniform_(-0.1, 0.8)
        if bias:
            lin1.bias.uniform_(0.0, 0.05)
            lin2.bias.uniform_(-0.02, 0.04)

    def neuron(n, last):
        kw = dict(threshold=torch.ones(n), reset_mechanism="zero", reset_delay=False, init_hidden=True, output=last)
        if form == "leaky":
            return snn.Leaky(beta=torch.full((n,), 0.9), **kw)
        return snn.Synaptic(alpha=torch.full((n,), 0.7), beta=torch.full((n,), 0.9), **kw)

    return torch.nn.Sequential(lin1, neuron(N_HID, False), lin2, neuron(N_OUT, True))


def norse_net(form: str, bias: bool):
    """Norse modules whose NIR export states the intended time constants at dt = 0.1 ms.

    Norse 1.1.0's exporter writes ``tau = dt * tau_mem`` (``dt / tau_mem_inv``), so we set
    ``tau_mem_inv`` to get the graph we mean; the reference simulation is Norse's own reading
    of that graph (``norse.torch.from_nir``), which inverts the time constants correctly.
    """
    torch.manual_seed(2)
    lin1, lin2 = torch.nn.Linear(N_IN, N_HID, bias=bias), torch.nn.Linear(N_HID, N_OUT, bias=bias)
    with torch.no_grad():
        lin1.weight.uniform_(-0.5, 3.0)
        lin2.weight.uniform_(-0.5, 4.0)
        if bias:
            lin1.bias.uniform_(0.0, 0.3)
            lin2.bias.uniform_(-0.1, 0.2)
    inv = lambda tau_s: torch.tensor(DT * 1e-3 / tau_s)  # noqa: E731  (Norse's export writes dt / tau_mem_inv)
    if form == "leaky":
        cell = lambda: norse.LIFBoxCell(norse.LIFBoxParameters(tau_mem_inv=inv(0.002), v_th=torch.tensor(0.3)))  # noqa: E731
    else:
        cell = lambda: norse.LIFCell(norse.LIFParameters(tau_mem_inv=inv(0.002), tau_syn_inv=inv(0.001),  # noqa: E731
                                                         v_th=torch.tensor(0.3), v_leak=torch.tensor(0.0),
                                                         v_reset=torch.tensor(0.0)))
    return norse.SequentialState(lin1, cell(), lin2, cell())


def our_net(form: str, bias: bool) -> Circuit:
    """SpikeTimes -> Projection -> LIFPopulation -> Projection -> LIFPopulation (+ tonic drives)."""
    tau_syn = 0.01 if form == "leaky" else 0.5
    rng = np.random.default_rng(3)
    scale = 1.0 if form == "leaky" else 0.2
    c = Circuit(f"ours_{form}")
    c.add("inp", "SpikeTimes", n=N_IN)
    for k, (n_pre, n_post, pre, post, gain) in enumerate([(N_IN, N_HID, "inp", "hid", 12.0), (N_HID, N_OUT, "hid", "out", 80.0)]):
        if post not in c.blocks:
            c.add(post, "LIFPopulation", n=n_post, tau_m=2.0, E_L=-65.0, v_th=-55.0, v_reset=-65.0, t_ref=0.0)
        w = rng.uniform(-0.2, 1.0, (n_pre, n_post)) * gain * scale
        edges = [[i, j, float(w[i, j])] for i in range(n_pre) for j in range(n_post)]
        c.add(f"w{k}", "Projection", connectivity="edges", edges=edges, tau_syn=tau_syn)
        c.connect(f"{pre}.spikes", f"w{k}.spikes")
        c.connect(f"w{k}.current", f"{post}.current")
        if bias:
            c.add(f"tonic{k}", "TonicInput", n=1)
            c.add(f"b{k}", "Projection", connectivity="edges", tau_syn=tau_syn,
                  edges=[[0, j, float(x)] for j, x in enumerate(rng.uniform(0.0, 0.3, n_post) * scale)])
            c.connect(f"tonic{k}.spikes", f"b{k}.spikes")
            c.connect(f"b{k}.current", f"{post}.current")
    return c


def populations(circuit: Circuit) -> list[str]:
    return [n for n, b in circuit.blocks.items() if type(b).__name__ == "LIFPopulation"]


# -- peer -> us ------------------------------------------------------------------------------
@pytest.mark.parametrize("bias", [False, True], ids=["no_bias", "bias"])
@pytest.mark.parametrize("form", FORMS)
def test_snntorch_graphs_run_here_as_in_snntorch(form, bias):
    net, x = snntorch_net(form, bias), drive(0)
    snn_utils.reset(net)
    reference = run_stepwise(net, x, ["1", "3"], stateful=False)
    graph = export_to_nir(net, torch.zeros(1, N_IN), ignore_dims=[0])
    assert {"0", "1", "2", "3"} <= set(graph.nodes)  # snnTorch names nodes "0", "1", ...
    circuit = from_nir(graph, dt=DT)
    ours = our_trains(circuit, x, [n for n in populations(circuit)])
    for mine, theirs in zip(ours, reference):
        assert len(theirs) > 20
        assert agreement(mine, theirs) >= 0.99, (len(mine), len(theirs))


@pytest.mark.parametrize("bias", [False, True], ids=["no_bias", "bias"])
@pytest.mark.parametrize("form", FORMS)
def test_norse_graphs_run_here_as_norse_runs_them(form, bias):
    x = drive(1)
    graph = norse.to_nir(norse_net(form, bias), torch.zeros(1, N_IN), dt=DT * 1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            reference_module = norse.from_nir(graph, dt=DT * 1e-3)
        finally:
            logging.disable(logging.NOTSET)
    cell = "LIFBoxCell" if form == "leaky" else "CubaLIF"
    names = [n for n, m in reference_module.named_modules() if type(m).__name__ == cell]
    assert len(names) == 2
    reference = run_stepwise(reference_module, x, names)
    circuit = from_nir(graph, dt=DT)
    ours = our_trains(circuit, x, populations(circuit))
    for mine, theirs in zip(ours, reference):
        assert len(theirs) > 20
        assert agreement(mine, theirs) >= 0.99, (len(mine), len(theirs))


# -- us -> peer ------------------------------------------------------------------------------
@pytest.mark.parametrize("bias", [False, True], ids=["no_bias", "bias"])
@pytest.mark.parametrize("form", FORMS)
def test_our_graphs_run_in_snntorch_as_here(form, bias):
    c, x = our_net(form, bias), drive(2)
    ours = our_trains(c, x, ["hid", "out"])
    graph = to_nir(c, dt=DT)
    assert [k for k, n in graph.nodes.items() if isinstance(n, nir.Output)] == ["output"]
    module = import_from_nir(graph)
    snn_utils.reset(module)
    names = [n for n, m in module.named_modules() if isinstance(m, (snn.Leaky, snn.Synaptic))]
    theirs = run_stepwise(module, x, names)
    for mine, ref in zip(ours, theirs):
        assert len(ref) > 20
        assert agreement(mine, ref) >= 0.99, (len(mine), len(ref))


@pytest.mark.parametrize("bias", [False, True], ids=["no_bias", "bias"])
@pytest.mark.parametrize("form", FORMS)
def test_our_graphs_run_in_norse_as_here(form, bias):
    c, x = our_net(form, bias), drive(3)
    ours = our_trains(c, x, ["hid", "out"])
    module = norse.from_nir(to_nir(c, dt=DT), dt=DT * 1e-3)  # r = 1 on LIF nodes: Norse ignores r there
    cell = "LIFBoxCell" if form == "leaky" else "CubaLIF"
    names = [n for n, m in module.named_modules() if type(m).__name__ == cell]
    theirs = run_stepwise(module, x, names)
    for mine, ref in zip(ours, theirs):
        assert len(ref) > 20
        assert agreement(mine, ref) >= 0.99, (len(mine), len(ref))
