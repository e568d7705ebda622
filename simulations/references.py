"""Reference runs in Brian2 and NEST, written as their authors publish the models, plus our
circuits built from the references' own connectivity (for the oracle tests and benchmarks).

Brian2's CUBA and COBA follow its examples (Vogels & Abbott 2005 as in Brette et al. 2007):
ge/gi are differential equations, CUBA uses ``method='exact'``, units are Brian2's own (volts,
seconds). NEST runs iaf_psc_exp / iaf_cond_exp on connectivity we hand it. Both packages are
optional: import errors surface only when a reference is asked for.
"""
from __future__ import annotations

import tempfile
import time

import numpy as np

from .circuit import Circuit

# Vogels & Abbott (2005) as in Brian2's CUBA example (mV, ms).
CUBA_EQUATIONS = """
dv/dt = (ge + gi - (v - El))/taum : mV (unless refractory)
dge/dt = -ge/taue : mV
dgi/dt = -gi/taui : mV
El : mV
taum : ms
taue : ms
taui : ms
Vt : mV
Vr : mV
"""
CUBA_PARAMETERS = dict(El=-49.0, taum=20.0, taue=5.0, taui=10.0, Vt=-50.0, Vr=-60.0)
CUBA_WEIGHTS = dict(we=60 * 0.27 / 10, wi=-20 * 4.5 / 10)  # mV

# Brette et al. (2007) COBA benchmark as in Brian2's example (mV, ms; conductances in units of g_L).
COBA_EQUATIONS = """
dv/dt = (ge*(Ee - v) + gi*(Ei - v) - (v - El))/taum : mV (unless refractory)
dge/dt = -ge/taue : 1
dgi/dt = -gi/taui : 1
El : mV
Ee : mV
Ei : mV
taum : ms
taue : ms
taui : ms
Vt : mV
Vr : mV
"""
COBA_PARAMETERS = dict(El=-60.0, Ee=0.0, Ei=-80.0, taum=20.0, taue=5.0, taui=10.0, Vt=-50.0, Vr=-60.0)
COBA_WEIGHTS = dict(we=0.6, wi=6.7)


def cuba_model(method="exact") -> dict:
    return dict(name="cuba", equations=CUBA_EQUATIONS, threshold="v > Vt", reset="v = Vr", refractory=5.0,
                parameters=dict(CUBA_PARAMETERS), inputs={"exc": "ge", "inh": "gi"}, init={"v": "Vr"},
                method=method)


def coba_model(method="euler") -> dict:
    return dict(name="coba", equations=COBA_EQUATIONS, threshold="v > Vt", reset="v = Vr", refractory=5.0,
                parameters=dict(COBA_PARAMETERS), inputs={"exc": "ge", "inh": "gi"}, init={"v": "Vr"},
                method=method)


def run_brian2(kind="cuba", n=4000, seconds=1.0, seed=1, target="numpy", method=None, record=True, repeats=1):
    """Brian2's CUBA or COBA example as written; returns connectivity, initial v (mV), spikes
    (times in ms, indices) and ``run_seconds``: the CPU time of the run alone, without code
    generation or compilation (cpp_standalone measures it itself with std::clock(); the fastest
    of ``repeats`` runs of the built program)."""
    import brian2 as b2

    standalone = target == "cpp_standalone"
    if standalone:
        project = tempfile.mkdtemp(prefix="brian2_ref_")  # never the current folder
        b2.set_device("cpp_standalone", directory=project, build_on_run=False)
        b2.device.reinit()
        b2.device.activate(directory=project, build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = 0
    else:
        b2.set_device("runtime")
        b2.prefs.codegen.target = target
    b2.start_scope()
    b2.prefs.core.default_float_dtype = np.float64
    b2.seed(seed)
    b2.defaultclock.dt = 0.1 * b2.ms
    ms, mV = b2.ms, b2.mV
    if kind == "cuba":
        p = CUBA_PARAMETERS
        ns = dict(taum=p["taum"] * ms, taue=p["taue"] * ms, taui=p["taui"] * ms, Vt=p["Vt"] * mV, Vr=p["Vr"] * mV,
                  El=p["El"] * mV, we=CUBA_WEIGHTS["we"] * mV, wi=CUBA_WEIGHTS["wi"] * mV)
        eqs = """
        dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
        dge/dt = -ge/taue : volt
        dgi/dt = -gi/taui : volt
        """
        method = method or "exact"
    else:
        p = COBA_PARAMETERS
        ns = dict(taum=p["taum"] * ms, taue=p["taue"] * ms, taui=p["taui"] * ms, Vt=p["Vt"] * mV, Vr=p["Vr"] * mV,
                  El=p["El"] * mV, Ee=p["Ee"] * mV, Ei=p["Ei"] * mV, we=COBA_WEIGHTS["we"], wi=COBA_WEIGHTS["wi"])
        eqs = """
        dv/dt  = (ge*(Ee-v)+gi*(Ei-v)-(v-El))/taum : volt (unless refractory)
        dge/dt = -ge/taue : 1
        dgi/dt = -gi/taui : 1
        """
        method = method or "euler"
    group = b2.NeuronGroup(n, eqs, threshold="v>Vt", reset="v = Vr", refractory=5 * ms, method=method, namespace=ns)
    group.v = "Vr + rand() * (Vt - Vr)"
    if kind == "cuba":
        group.ge, group.gi = 0, 0
    else:  # Brette et al. (2007): initial conductances ~ N(4, 1.5) and N(20, 12) nS, here in units of g_L = 10 nS
        group.ge = "clip((randn() * 1.5 + 4) / 10, 0, inf)"
        group.gi = "clip((randn() * 12 + 20) / 10, 0, inf)"
    v0 = None if standalone else group.v[:] / mV
    state0 = None if standalone or kind == "cuba" else dict(ge=np.array(group.ge[:]), gi=np.array(group.gi[:]))
    n_exc = int(0.8 * n)
    ce = b2.Synapses(group, group, on_pre="ge += we", namespace=ns)
    ci = b2.Synapses(group, group, on_pre="gi += wi", namespace=ns)
    ce.connect("i<n_exc", p=0.02, namespace={"n_exc": n_exc})
    ci.connect("i>=n_exc", p=0.02, namespace={"n_exc": n_exc})
    objects = [group, ce, ci]
    monitor = b2.SpikeMonitor(group) if record else None
    if monitor is not None:
        objects.append(monitor)
    net = b2.Network(*objects)
    if standalone:
        net.run(seconds * b2.second)
        b2.device.build(directory=project, run=True, compile=True)
        run_seconds = b2.device._last_run_time
        for _ in range(repeats - 1):
            b2.device.run(directory=project, with_output=False)
            run_seconds = min(run_seconds, b2.device._last_run_time)
    else:
        net.run(0.1 * ms)  # code generation and compilation happen here, outside the timing
        start = time.process_time()
        net.run(seconds * b2.second - 0.1 * ms)
        run_seconds = time.process_time() - start
    out = dict(run_seconds=run_seconds, n=n, n_exc=n_exc, v0=v0, state0=state0, e_pre=np.asarray(ce.i[:]), e_post=np.asarray(ce.j[:]),
               i_pre=np.asarray(ci.i[:]), i_post=np.asarray(ci.j[:]))
    if monitor is not None:
        out.update(spike_i=np.asarray(monitor.i[:]), spike_t_ms=np.asarray(monitor.t[:] / ms))
    if standalone:
        b2.set_device("runtime")
    return out


def network_from(reference, kind="cuba", method=None, delay_ms=0.0) -> Circuit:
    """One EquationNeuron population with the reference's exact connectivity (edge lists)."""
    model = cuba_model(method or "exact") if kind == "cuba" else coba_model(method or "euler")
    weights = CUBA_WEIGHTS if kind == "cuba" else COBA_WEIGHTS
    c = Circuit(kind)
    c.add("pop", "EquationNeuron", n=int(reference["n"]), model=model)
    for name, pre, post, w, port in [("exc", reference["e_pre"], reference["e_post"], weights["we"], "exc"),
                                     ("inh", reference["i_pre"], reference["i_post"], weights["wi"], "inh")]:
        edges = [[int(i), int(j), float(w), float(delay_ms)] for i, j in zip(pre, post)]
        c.add(name, "Projection", connectivity="edges", edges=edges, synapse="jump")
        c.connect("pop.spikes", f"{name}.spikes")
        c.connect(f"{name}.current", f"pop.{port}")
    return c


def run_nest(reference, kind="cuba", seconds=1.0, delay_ms=0.1):
    """NEST (iaf_psc_exp for CUBA, iaf_cond_exp for COBA) on the reference's connectivity and
    initial state; returns spike steps in our convention (NEST stamps a spike at its step's end)
    and neuron indices, and the run's CPU time (one thread). NEST holds V for t_ref from that later stamp, so
    its t_ref is ours minus one step; C_m = tau_m (CUBA) makes its pA weights Brian2's mV."""
    import nest

    nest.ResetKernel()
    nest.set_verbosity("M_ERROR") if hasattr(nest, "set_verbosity") else None
    nest.SetKernelStatus({"resolution": 0.1, "local_num_threads": 1})
    if kind == "cuba":
        p, w = CUBA_PARAMETERS, CUBA_WEIGHTS
        pop = nest.Create("iaf_psc_exp", reference["n"], params=dict(
            C_m=p["taum"], tau_m=p["taum"], E_L=p["El"], V_th=p["Vt"], V_reset=p["Vr"], t_ref=5.0 - 0.1,
            tau_syn_ex=p["taue"], tau_syn_in=p["taui"], I_e=0.0))
        we, wi = w["we"], w["wi"]
    else:
        p, w, g_L = COBA_PARAMETERS, COBA_WEIGHTS, 10.0  # nS; C_m = tau_m g_L
        pop = nest.Create("iaf_cond_exp", reference["n"], params=dict(
            C_m=p["taum"] * g_L, g_L=g_L, E_L=p["El"], E_ex=p["Ee"], E_in=p["Ei"], V_th=p["Vt"], V_reset=p["Vr"],
            t_ref=5.0 - 0.1, tau_syn_ex=p["taue"], tau_syn_in=p["taui"], I_e=0.0))
        pop.g_ex = (reference["state0"]["ge"] * g_L).tolist()
        pop.g_in = (reference["state0"]["gi"] * g_L).tolist()
        we, wi = w["we"] * g_L, -w["wi"] * g_L  # NEST: a negative weight is an inhibitory conductance
    pop.V_m = reference["v0"].tolist()
    first = pop[0].global_id
    for pre, post, weight in [(reference["e_pre"], reference["e_post"], we), (reference["i_pre"], reference["i_post"], wi)]:
        nest.Connect(pre + first, post + first, "one_to_one",
                     {"weight": np.full(len(pre), float(weight)), "delay": np.full(len(pre), float(delay_ms))})
    recorder = nest.Create("spike_recorder")
    nest.Connect(pop, recorder)
    start = time.process_time()
    nest.Simulate(seconds * 1000.0)
    run_seconds = time.process_time() - start
    events = recorder.events
    return dict(steps=np.round(events["times"] / 0.1).astype(np.int64) - 1, neurons=events["senders"] - first,
                run_seconds=run_seconds)
