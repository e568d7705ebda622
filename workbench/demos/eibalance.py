"""Demo: a reservoir whose units set their own inhibition to reach their own target rates,
against the same reservoir with one global E/I ratio, on memory capacity."""
from __future__ import annotations

import numpy as np

from components.ridge_readout import RidgeReadout
from simulations import Circuit

from .base import Demo, Outcome

N_UNITS = 100
LEARN, WASHOUT, N_TRAIN, N_VAL, N_TEST = 2000, 2500, 2000, 1000, 1000
STEPS = WASHOUT + N_TRAIN + N_VAL + N_TEST  # one step = 1 ms of the demo's clock
DELAYS = 40  # memory task: readouts of u(t-1) ... u(t-40)
HORIZONS = 10  # prediction task: u(t+1) ... u(t+10)
# the three rows the demo runs side by side, each at the value with the best mean test memory
# capacity over seeds 0-4 in the seed study's grid (benchmarks/eibalance.py)
ROWS = ["global E/I (beta tuned)", "self-adapting, heterogeneous targets", "self-adapting, one target"]
VARIANTS = {"res.beta": [1.1, 1.0, 1.0], "homeo.eta": [0.0, 0.001, 0.001],
            "homeo.rho_mean": [0.3, 0.35, 0.5], "homeo.rho_spread": [0.8, 0.8, 0.0]}


def build(task: str = "memory", n: int = N_UNITS, learn: int = LEARN, washout: int = WASHOUT,
          n_train: int = N_TRAIN, n_val: int = N_VAL, n_test: int = N_TEST) -> Circuit:
    """Task input -> E/I reservoir <-> inhibitory homeostasis; reservoir rates -> ridge readouts."""
    m = DELAYS if task == "memory" else HORIZONS
    c = Circuit("ei_self_adaptation")
    c.add("task", "ReservoirTask", task=task, n_targets=m, steps=washout + n_train + n_val + n_test,
          position=(0, 150))
    c.add("res", "EIRateReservoir", n=n, position=(250, 150))
    c.add("homeo", "InhibitoryHomeostasis", n=n, learn_ms=float(learn), eta=0.001, rho_mean=0.4,
          rho_spread=0.8, position=(250, 360))
    c.add("readout", "RidgeReadout", n_out=m, washout=washout, n_train=n_train, n_val=n_val, n_test=n_test,
          position=(500, 150))
    for a, b in [("task.input", "res.input"), ("res.rate", "homeo.rate"), ("homeo.inhibition", "res.inhibition"),
                 ("res.rate", "readout.features"), ("task.teacher", "readout.teacher")]:
        c.connect(a, b)
    return c


def scores(sim) -> dict[str, np.ndarray]:
    """Per batch row: memory capacity and NRMSE of the last teacher signal, validation and test."""
    state = sim.node("readout").state
    out = {}
    for part in ("val", "test"):
        r2, nrmse = RidgeReadout.scores(part, state)
        out[f"capacity_{part}"] = r2.sum(1).numpy()
        out[f"nrmse_{part}"] = nrmse[:, -1].numpy()
    return out


def live(sim) -> dict[str, list[float]]:
    rates = sim.node("res").state["r"]
    return {"mean rate": rates.mean(1).tolist(), "memory capacity so far (test)":
            sim.node("readout").state["capacity"][:, 0].tolist()}


def outcome(seconds: float | None = None) -> Outcome:
    seconds = seconds or DEMO.full_seconds
    sim = DEMO.compile(record="none")
    sim.run(seconds)
    s = scores(sim)
    rates = sim.node("res").state["r"]
    figures = {}
    lines = [f"E/I self-adaptation: {N_UNITS}-unit sigmoid reservoir, memory capacity over {DELAYS} delays, "
             f"{seconds:g} s ({int(round(seconds * 1000))} steps); readout fitted on steps "
             f"{WASHOUT}-{WASHOUT + N_TRAIN}, tested on the last {N_TEST}",
             f"{'reservoir':<40}{'capacity':>10}{'mean rate':>11}{'rate SD':>9}"]
    keys = ["global", "heterogeneous", "homogeneous"]
    for k, (key, label) in enumerate(zip(keys, ROWS)):
        figures[f"capacity_{key}"] = float(s["capacity_test"][k])
        figures[f"rate_sd_{key}"] = float(rates[k].std())
        lines.append(f"{label:<40}{s['capacity_test'][k]:>10.2f}{float(rates[k].mean()):>11.2f}{float(rates[k].std()):>9.2f}")
    lines.append("Seed study (5 seeds, every setting tuned on validation data): benchmarks/eibalance.py, docs/claims.md.")
    chart = {"kind": "bars", "title": "memory capacity (test)",
             "series": {"global": figures["capacity_global"], "hetero": figures["capacity_heterogeneous"],
                        "shared": figures["capacity_homogeneous"]}}
    return Outcome(figures, lines, chart)


DEMO = Demo(
    name="eibalance",
    title="E/I self-adaptation in a reservoir",
    paper="Srinivasan, Plenz & Girvan (2025), \"Boosting Reservoir Computing with Brain-inspired Adaptive Dynamics\"",
    teaching=(
        "Three copies of the same random reservoir of excitatory and inhibitory sigmoid units hear the same "
        "random input. The first has one global knob, beta, the strength of all inhibition, set to its best "
        "value; in the other two every unit changes its own inhibitory weights until its rate sits at its "
        "own target (heterogeneous targets in the second, one shared target in the third), for the first 2 s, "
        "and then keeps them. Linear readouts are then fitted to recall the input 1 to 40 steps back, and the "
        "plot shows the memory capacity (the sum of squared recall correlations) on held-out steps from 5.5 s "
        "to the demo's end at 6.5 s, when the input stops and the scores hold. Watch `homeo.inhibition`: units "
        "that fire too much get more inhibition. Try selecting `res`, setting `beta` to 0.6 and running again "
        "from the start: the global copy floods with excitation and its capacity falls from about 9 to 2.6, "
        "while the self-adapting copies add the inhibition they need and keep theirs (about 8 and 9.6)."
    ),
    circuit_file="ei_self_adaptation.json",
    build=build,
    outcome=outcome,
    dt=1.0,
    variants=VARIANTS,
    rows=ROWS,
    live=live,
    live_title="rates and memory capacity",
    metrics=["mean rate", "memory capacity so far (test)"],
    full_seconds=STEPS / 1000.0,
    speed="max",
)
