"""Demo: "what" and "when" predictions learned by an error-modulated, attention-gated
three-factor Hebbian readout of a heterogeneous Izhikevich reservoir."""
from __future__ import annotations

import numpy as np

from simulations import Circuit
from simulations.probes import SampleRecorder

from .base import Demo, Outcome

N, N_INH = 150, 30
TRIAL_MS, STIM_MS, ATTEND_FROM_MS, ATTEND_MS = 250.0, 30.0, 30.0, 200.0
DELAYS, PROBS = (60.0, 100.0, 140.0), (0.2, 0.5, 0.8)
# after the switch: stimulus 0 comes last and most often, stimulus 2 first and rarely
DELAYS_AFTER, PROBS_AFTER = (140.0, 100.0, 60.0), (0.8, 0.5, 0.2)
SWITCH_TRIAL, TRIALS = 50, 90  # the seed study's run (benchmarks/whatwhen.py, tests)
DEMO_SWITCH, DEMO_TRIALS = 24, 40  # the demo's: 10 s, the change at 6 s
ETA, TAU, TAU_EXC = 0.03, 20.0, 100.0  # TAU_EXC: slow (NMDA-like) recurrent excitation


def rows_of(delays, probs) -> list[list[float]]:
    return [[0, k, float(d), float(p)] for k, (d, p) in enumerate(zip(delays, probs))]


def build(seed: int = 0, switch_trial: int = DEMO_SWITCH, force: bool = True) -> Circuit:
    """Cue -> heterogeneous Izhikevich reservoir (Dale's law, slow synapses, background noise);
    two readouts of the same reservoir: the three-factor rule, and FORCE (its control)."""
    c = Circuit("what_and_when")
    c.add("task", "CueStimulusParadigm", n_per_cue=20, trial_ms=TRIAL_MS, stim_ms=STIM_MS, attend_from_ms=ATTEND_FROM_MS,
          attend_ms=ATTEND_MS,
          stimuli=rows_of(DELAYS, PROBS), stimuli_after=rows_of(DELAYS_AFTER, PROBS_AFTER), switch_trial=switch_trial,
          position=(0, 180))
    c.add("cue_in", "Projection", p=0.3, weight=2.0, tau_syn=5.0, position=(220, 100))
    c.add("noise", "PoissonInput", n=50, rate=20.0, position=(0, 380))
    c.add("noise_in", "Projection", p=0.1, weight=1.0, weight_std=0.2, tau_syn=5.0, position=(220, 380))
    c.add("reservoir", "HeterogeneousIzhikevich", n=N, n_inh=N_INH, seed=seed, position=(440, 240))
    c.add("exc", "Projection", p=0.2, weight=0.15, weight_std=0.075, tau_syn=TAU_EXC, sign="excitatory", autapses=False,
          position=(440, 20))
    c.add("inh", "Projection", p=0.2, weight=-1.0, weight_std=0.5, tau_syn=TAU, sign="inhibitory",
          position=(440, 440))
    c.add("readout", "Projection", connectivity="all_to_all", weight=0.0, tau_syn=TAU, position=(680, 180))
    c.add("three_factor", "ThreeFactorReadout", n_out=3, eta=ETA, tau_pre=TAU, position=(900, 180))
    wires = [("task.cue", "cue_in.spikes"), ("cue_in.current", "reservoir.current"),
             ("noise.spikes", "noise_in.spikes"), ("noise_in.current", "reservoir.current"),
             ("reservoir.spikes_exc", "exc.spikes"), ("exc.current", "reservoir.current"),
             ("reservoir.spikes_inh", "inh.spikes"), ("inh.current", "reservoir.current"),
             ("reservoir.spikes", "readout.spikes"), ("readout.current", "three_factor.prediction"),
             ("three_factor.rule", "readout.plasticity"), ("task.stimuli", "three_factor.teacher"),
             ("task.attention", "three_factor.attention")]
    if force:
        c.add("force_readout", "Projection", connectivity="all_to_all", weight=0.0, tau_syn=TAU, position=(680, 400))
        c.add("force", "ForceReadout", n_out=3, tau_pre=TAU, alpha=1.0, every=2, position=(900, 400))
        wires += [("reservoir.spikes", "force_readout.spikes"), ("force_readout.current", "force.prediction"),
                  ("force.rule", "force_readout.plasticity"), ("task.stimuli", "force.teacher"),
                  ("task.attention", "force.attention")]
    for a, b in wires:
        c.connect(a, b)
    return c


def run(seed: int = 0, trials: int = TRIALS, switch_trial: int = SWITCH_TRIAL, variants: dict | None = None,
        force: bool = True, edit=None) -> dict[str, np.ndarray]:
    """Simulate ``trials`` trials; the readouts as (trials, steps per trial, batch rows, 3)
    arrays: ``three_factor``, ``force`` (if built) and the ``expected`` (ideal) prediction."""
    from simulations import compile

    c = build(seed, switch_trial, force)
    if edit is not None:
        edit(c)
    sim = compile(c, dt=1.0, seed=seed, variants=variants, record="none")
    steps, T = int(trials * TRIAL_MS), int(TRIAL_MS)
    probes = ["three_factor.y", "task.expected"] + (["force.y"] if force else [])
    for path in probes:
        sim.record(path, SampleRecorder("trace", capacity=steps))
    sim.step(steps)
    out = {}
    for path in probes:
        _, y = sim.trace(*path.split("."))
        out[path.split(".")[1] if path.startswith("task") else path.split(".")[0]] = y.reshape(trials, T, y.shape[1], -1)
    return out


def window_values(y: np.ndarray, delays=DELAYS) -> np.ndarray:
    """(rows, 3): each readout's mean over its own stimulus window, ``y`` (steps, rows, 3)."""
    w = int(STIM_MS)
    return np.stack([y[int(d):int(d) + w, :, k].mean(0) for k, d in enumerate(delays)], 1)


def peak_times(y: np.ndarray) -> np.ndarray:
    """(rows, 3): when each readout peaks in the attention window (ms after the cue)."""
    a, b = int(ATTEND_FROM_MS), int(ATTEND_MS)
    return a + y[a:b].argmax(0).astype(float)


def timing_error(y: np.ndarray, delays=DELAYS) -> np.ndarray:
    """(rows,): mean |peak time - stimulus window centre| over the readouts (ms)."""
    centre = np.asarray(delays) + STIM_MS / 2
    return np.abs(peak_times(y) - centre[None]).mean(1)


def trial_errors(y: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """(trials, rows): mean squared distance of the readouts from the ideal prediction
    (probability x stimulus window) over each trial's attention window."""
    a, b = int(ATTEND_FROM_MS), int(ATTEND_MS)
    return ((y[:, a:b] - expected[:, a:b, :1]) ** 2).mean(axis=(1, 3))


def reservoirless(seed: int = 0, trials: int = TRIALS, switch_trial: int = SWITCH_TRIAL,
                  variants: dict | None = None) -> dict[str, np.ndarray]:
    """Control: the same three-factor readout reading the cue neurons directly (no reservoir):
    its input holds only the synaptic trace of the cue, decaying with tau_pre after it."""
    def edit(c):
        for name in ("reservoir", "exc", "inh", "cue_in", "noise_in", "noise"):
            c.remove(name)
        c.connect("task.cue", "readout.spikes")
    return run(seed, trials, switch_trial, variants=variants, force=False, edit=edit)


def live(sim) -> dict[str, list[float]]:
    out = {"three-factor rule": sim.node("three_factor").state["mse"][:, 0].tolist()}
    if "force" in sim.circuit.blocks:
        out["FORCE (least squares, no reset)"] = sim.node("force").state["mse"][:, 0].tolist()
    return out


def outcome(seconds: float | None = None) -> Outcome:
    """Full length: 40 trials of 250 ms (10 s), the stimuli's timing and probabilities change at
    trial 24 (6 s); ``seconds`` shortens it (the switch stays at 60% of the run)."""
    seconds = seconds or DEMO.full_seconds
    trials = max(10, int(round(seconds * 1000 / TRIAL_MS)))
    switch = max(5, int(round(0.6 * trials)))
    out = run(DEMO.seed, trials, switch)
    lines = [f"What and when: {trials} trials of {TRIAL_MS:g} ms, a cue then stimuli at "
             f"{', '.join(f'{d:g}' for d in DELAYS)} ms with probabilities {', '.join(f'{p:g}' for p in PROBS)}; "
             f"from trial {switch} at {', '.join(f'{d:g}' for d in DELAYS_AFTER)} ms with "
             f"{', '.join(f'{p:g}' for p in PROBS_AFTER)}",
             f"{'readout':<20}{'values before':>20}{'values at the end':>22}{'error before':>13}{'first 5 after':>14}"]
    figures, chart = {}, {"kind": "bars", "title": "after the change: readout vs p (.8 .5 .2)", "series": {}}
    last = max(1, min(10, switch // 2))
    for name, label, short in (("three_factor", "three-factor rule", "3F"), ("force", "FORCE (no reset)", "FO")):
        y, err = out[name], trial_errors(out[name], out["expected"])
        before_values = window_values(y[switch - last:switch].mean(0))[0]
        after_values = window_values(y[-last:].mean(0), DELAYS_AFTER)[0]
        before, after = err[switch - last:switch, 0].mean(), err[switch:switch + 5, 0].mean()
        key = "tf" if name == "three_factor" else "force"
        figures.update({f"{key}_timing_error_ms": float(timing_error(y[switch - last:switch].mean(0))[0]),
                        f"{key}_error_before": float(before), f"{key}_error_after": float(after)})
        figures.update({f"{key}_before_{k}": float(v) for k, v in enumerate(before_values)})
        figures.update({f"{key}_after_{k}": float(v) for k, v in enumerate(after_values)})
        lines.append(f"{label:<20}{'  '.join(f'{v:5.2f}' for v in before_values):>20}"
                     f"{'  '.join(f'{v:5.2f}' for v in after_values):>22}{before:>12.4f}{after:>14.4f}")
        for k, v in enumerate(after_values):
            chart["series"][f"{short}{k}"] = max(float(v), 0.0)
    lines.append("Values: each readout's mean over its stimulus window (ideal: the probabilities), over the last "
                 f"{last} trials before the change and the last {last} of the run; error: mean squared distance from "
                 "the ideal prediction in the attention window (before the change, first 5 trials after).")
    return Outcome(figures, lines, chart)


DEMO = Demo(
    name="whatwhen",
    title="What and when: predicting stimuli",
    paper="Yamada & Chao (2025), \"Joint encoding of 'what' and 'when' predictions through error-modulated "
          "plasticity in reservoir spiking networks\"",
    teaching=(
        "Every 250 ms a cue excites a reservoir of 150 heterogeneous Izhikevich neurons; three stimuli may follow "
        "it, at 60, 100 and 140 ms, with probabilities 0.2, 0.5 and 0.8. Three readouts of the reservoir learn "
        "to predict them by a local rule: pre x post Hebbian eligibility, gated by attention (the window after "
        "the cue) and signed by the prediction error; a FORCE readout (recursive least squares) learns the same "
        "from the same reservoir. Watch `three_factor.y`: each readout rises around its stimulus's time, higher "
        "for the likelier one (but compressed: this small reservoir keeps time only for about 150 ms). At 6 s "
        "the timings and probabilities swap (stimulus 0 now comes last, with probability 0.8): the local rule's "
        "readouts move to the new times and probabilities, while FORCE without a reset keeps part of the old "
        "pattern; the demo panel shows the price, a local readout noisier from trial to trial (a higher error "
        "than FORCE's). Trials go on after the designed 10 s under the new statistics; try selecting "
        "`three_factor` and setting `error_modulation` to 0: the readouts grow without bound."
    ),
    circuit_file="what_and_when.json",
    build=build,
    outcome=outcome,
    dt=1.0,
    live=live,
    live_title="running mean squared prediction error",
    metrics=["three-factor rule", "FORCE (least squares, no reset)"],
    full_seconds=DEMO_TRIALS * TRIAL_MS / 1000,
    speed="max",
)
