"""Ready-made circuits used by the quick start, benchmarks and tests."""
from __future__ import annotations

from .circuit import Circuit

# Vogels & Abbott (2005) CUBA, as in Brian2's examples (units: ms, mV).
CUBA = dict(tau_m=20.0, E_L=-49.0, v_th=-50.0, v_reset=-60.0, t_ref=5.0, tau_e=5.0, tau_i=10.0,
            w_e=60 * 0.27 / 10, w_i=-20 * 4.5 / 10, p=0.02)


def cuba(n: int = 4000, exc_fraction: float = 0.8, stdp_on_ee: bool = False, p: float = CUBA["p"]) -> Circuit:
    """The CUBA benchmark network: excitatory and inhibitory LIF populations, p = 0.02.

    v starts uniform in [v_reset, v_th); with ``stdp_on_ee`` the exc -> exc projection learns.
    ``p`` changes the connection probability (the scaling benchmark keeps n * p fixed).
    """
    c = Circuit("cuba")
    n_exc = int(round(n * exc_fraction))
    lif = dict(tau_m=CUBA["tau_m"], E_L=CUBA["E_L"], v_th=CUBA["v_th"], v_reset=CUBA["v_reset"],
               t_ref=CUBA["t_ref"], v_init="uniform")
    c.add("exc", "LIFPopulation", n=n_exc, position=(300, 50), **lif)
    c.add("inh", "LIFPopulation", n=n - n_exc, position=(300, 300), **lif)
    for name, pre, post, w, tau in [("ee", "exc", "exc", CUBA["w_e"], CUBA["tau_e"]),
                                    ("ei", "exc", "inh", CUBA["w_e"], CUBA["tau_e"]),
                                    ("ie", "inh", "exc", CUBA["w_i"], CUBA["tau_i"]),
                                    ("ii", "inh", "inh", CUBA["w_i"], CUBA["tau_i"])]:
        c.add(name, "Projection", p=p, weight=w, tau_syn=tau)
        c.connect(f"{pre}.spikes", f"{name}.spikes")
    # each population sums its excitatory input first, then its inhibitory input (ge + gi)
    for post, projections in [("exc", ("ee", "ie")), ("inh", ("ei", "ii"))]:
        for name in projections:
            c.connect(f"{name}.current", f"{post}.current")
    if stdp_on_ee:
        c.add("stdp", "STDP", w_min=0.0, w_max=2 * CUBA["w_e"], A_plus=0.01, A_minus=0.0105)
        c.connect("stdp.rule", "ee.plasticity")
        c.connect("exc.spikes", "stdp.post")
    return c
