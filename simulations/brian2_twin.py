"""CUBA in Brian2 (optional dependency), written on the schedule our simulator uses, for
cross-simulator checks (tests) and speed comparisons (benchmarks).

Variables are plain numbers in mV and ms so both simulators do the same float operations:
v is integrated exactly for the synaptic currents held over the step (Brian2 ``exact``), the
currents then decay, and spikes add to them (``on_pre``) before the reset.
"""
import math
import tempfile
import time

import numpy as np

from .examples import CUBA, cuba


def run_brian2_cuba(n=4000, seconds=1.0, seed=1, target="numpy", float_dtype="float64"):
    """Run CUBA in Brian2 with ``target`` numpy, cython or cpp_standalone.

    Returns its connectivity, initial v (runtime targets only), spikes (numpy, mV/ms) and
    ``run_seconds``: the wall time of the run alone, without code generation or compilation.
    """
    import brian2 as b2

    standalone = target == "cpp_standalone"
    project = tempfile.mkdtemp(prefix="brian2_cuba_")
    if standalone:
        b2.set_device("cpp_standalone", directory=project, build_on_run=False)
        b2.device.reinit()
        b2.device.activate(directory=project, build_on_run=False)
    else:
        b2.set_device("runtime")
        b2.prefs.codegen.target = target
    b2.start_scope()
    b2.prefs.core.default_float_dtype = getattr(np, float_dtype)
    b2.seed(seed)
    b2.defaultclock.dt = 0.1 * b2.ms
    n_exc = int(round(0.8 * n))
    namespace = dict(El=CUBA["E_L"], Vt=CUBA["v_th"], Vr=CUBA["v_reset"], taum=CUBA["tau_m"] * b2.ms,
                     decay_e=math.exp(-0.1 / CUBA["tau_e"]), decay_i=math.exp(-0.1 / CUBA["tau_i"]),
                     we=CUBA["w_e"], wi=CUBA["w_i"])
    eqs = """
    dv/dt = (I - (v - El)) / taum : 1 (unless refractory)
    I = ge + gi : 1
    ge : 1
    gi : 1
    """
    group = b2.NeuronGroup(n, eqs, threshold="v > Vt", reset="v = Vr", refractory=CUBA["t_ref"] * b2.ms,
                           method="exact", namespace=namespace)
    group.run_regularly("ge = ge * decay_e\ngi = gi * decay_i", when="groups", order=1)
    group.v = "Vr + rand() * (Vt - Vr)"
    v0 = None if standalone else group.v[:].copy()
    exc, inh = group[:n_exc], group[n_exc:]
    ce = b2.Synapses(exc, group, on_pre="ge += we", namespace=namespace)
    ci = b2.Synapses(inh, group, on_pre="gi += wi", namespace=namespace)
    ce.connect(p=CUBA["p"])
    ci.connect(p=CUBA["p"])
    monitor = b2.SpikeMonitor(group)
    net = b2.Network(group, ce, ci, monitor)
    if standalone:
        net.run(seconds * b2.second)
        b2.device.build(directory=project, run=True, compile=True)
        run_seconds = b2.device._last_run_time
        b2.set_device("runtime")
    else:
        net.run(1 * b2.ms)  # code generation and compilation happen here, outside the timing
        start = time.perf_counter()
        net.run(seconds * b2.second - 1 * b2.ms)
        run_seconds = time.perf_counter() - start
    return dict(
        run_seconds=run_seconds,
        n_exc=n_exc, v0=v0, e_pre=ce.i[:].copy(), e_post=ce.j[:].copy(), i_pre=ci.i[:].copy(),
        i_post=ci.j[:].copy(), spike_i=monitor.i[:].copy(), spike_t_ms=monitor.t[:] / b2.ms,
    )


def circuit_from_brian2(result):
    """Our CUBA circuit with Brian2's exact connectivity, as explicit edge lists."""
    n_exc = result["n_exc"]
    c = cuba(n=len(result["v0"]))
    for name, pre, post, pre_offset, to_exc in [
        ("ee", result["e_pre"], result["e_post"], 0, True), ("ei", result["e_pre"], result["e_post"], 0, False),
        ("ie", result["i_pre"], result["i_post"], 0, True), ("ii", result["i_pre"], result["i_post"], 0, False),
    ]:
        keep = (post < n_exc) if to_exc else (post >= n_exc)
        shift = 0 if to_exc else n_exc
        block = c.block(name)
        block.connectivity = "edges"
        block.edges = [[int(i), int(j) - shift] for i, j in zip(pre[keep], post[keep])]
    return c
