"""Demo: continual learning of two tasks with and without Hebbian orthogonal projection (HLOP)."""
from __future__ import annotations

import numpy as np

from simulations import Circuit

from .base import Demo, Outcome, Schedule

N_IN, N_CLASSES, PER_CLASS, N_SUBSPACE = 30, 4, 10, 6
TASK_A_MS, CONSOLIDATE_MS, TASK_B_MS = 1500.0, 3000.0, 3000.0
ETA = 0.02


def tasks(seed: int = 0):
    """Task A: 4 random binary class prototypes (30 channels, 30% on), 10 samples each with 3
    bits flipped (40 patterns, rank 30: more than the 6 subspace neurons can span); task B: the
    prototypes with 4 more bits flipped, sampled the same way, every label moved to the next
    class, so learning B with plain updates overwrites A."""
    rng = np.random.default_rng(seed)

    def samples(prototypes):
        x = np.repeat(prototypes, PER_CLASS, 0)
        for row in x:
            flip = rng.choice(N_IN, 3, replace=False)
            row[flip] = 1 - row[flip]
        return x

    proto_a = (rng.random((N_CLASSES, N_IN)) < 0.3).astype(float)
    xa, la = samples(proto_a), np.repeat(np.arange(N_CLASSES), PER_CLASS)
    proto_b = proto_a.copy()
    for row in proto_b:
        flip = rng.choice(N_IN, 4, replace=False)
        row[flip] = 1 - row[flip]
    return xa, la, samples(proto_b), (la + 1) % N_CLASSES


def build() -> Circuit:
    xa, la, xb, lb = tasks()
    eye = np.eye(N_CLASSES)
    c = Circuit("continual_learning_hlop")
    c.add("taskA", "PatternInput", n=N_IN, patterns=xa.tolist(), targets=eye[la].tolist(), n_targets=N_CLASSES,
          order="random", position=(0, 40))
    c.add("taskB", "PatternInput", n=N_IN, patterns=xb.tolist(), targets=eye[lb].tolist(), n_targets=N_CLASSES,
          scale=0.0, order="random", position=(0, 300))
    c.add("syn", "Projection", connectivity="all_to_all", weight=0.0, position=(260, 170))
    c.add("classes", "LIFPopulation", n=N_CLASSES, R=0.0, position=(500, 170))
    c.add("hlop", "OrthogonalProjection", n_subspace=N_SUBSPACE, eta=ETA, eta_h=0.02, position=(260, 400))
    for a, b in [("taskA.spikes", "syn.spikes"), ("taskB.spikes", "syn.spikes"), ("syn.current", "classes.current"),
                 ("hlop.rule", "syn.plasticity"), ("taskA.target", "hlop.teacher"), ("taskB.target", "hlop.teacher")]:
        c.connect(a, b)
    return c


SCHEDULE = Schedule([
    (TASK_A_MS, "hlop", "eta", 0.0),  # consolidate: the lateral neurons learn task A's input subspace
    (TASK_A_MS, "hlop", "learn_subspace", 1.0),
    (TASK_A_MS + CONSOLIDATE_MS, "hlop", "eta", ETA),  # task B
    (TASK_A_MS + CONSOLIDATE_MS, "hlop", "learn_subspace", 0.0),
    (TASK_A_MS + CONSOLIDATE_MS, "taskA", "scale", 0.0),
    (TASK_A_MS + CONSOLIDATE_MS, "taskB", "scale", 1.0),
])


def accuracies(sim) -> np.ndarray:
    """(batch rows, 2): % of task A and task B patterns the weights classify right now."""
    xa, la, xb, lb = tasks()
    out = []
    for row in range(sim.batch):
        w = sim.weights("syn", row).numpy()
        out.append([100.0 * ((xa @ w).argmax(1) == la).mean(), 100.0 * ((xb @ w).argmax(1) == lb).mean()])
    return np.array(out)


def live(sim) -> dict[str, list[float]]:
    acc = accuracies(sim)
    return {"task A accuracy (%)": acc[:, 0].tolist(), "task B accuracy (%)": acc[:, 1].tolist()}


def outcome(seconds: float | None = None) -> Outcome:
    """Full length: task A (1.5 s), consolidation (3 s), task B (3 s); ``seconds`` scales the
    three phases together."""
    scale = 1.0 if seconds is None else seconds / DEMO.full_seconds
    phases = [TASK_A_MS * scale, CONSOLIDATE_MS * scale, TASK_B_MS * scale]
    if scale != 1.0:
        events = [(phases[0] if t == TASK_A_MS else phases[0] + phases[1], b, p, v) for t, b, p, v in SCHEDULE.events]
        schedule = Schedule(events)
    else:
        schedule = SCHEDULE
    sim = DEMO.compile(record="none", schedule=schedule)
    sim.run(phases[0] / 1000)
    after_a = accuracies(sim)
    sim.run((phases[1] + phases[2]) / 1000)
    end = accuracies(sim)
    forgetting = after_a[:, 0] - end[:, 0]
    figures = {"task_a_after_a_hlop": after_a[0, 0], "task_a_after_a_plain": after_a[1, 0],
               "task_a_end_hlop": end[0, 0], "task_a_end_plain": end[1, 0],
               "task_b_end_hlop": end[0, 1], "task_b_end_plain": end[1, 1],
               "forgetting_hlop": forgetting[0], "forgetting_plain": forgetting[1]}
    total = sum(phases) / 1000
    lines = [f"Continual learning: task A, consolidation, task B ({total:g} s; 40 patterns per task, 4 classes, "
             f"{N_SUBSPACE} subspace neurons for rank-30 inputs)",
             f"{'':<26}{'A after A':>10}{'A at end':>10}{'B at end':>10}{'forgetting':>12}"]
    for row, name in enumerate(DEMO.rows):
        lines.append(f"{name:<26}{after_a[row, 0]:>9.1f}%{end[row, 0]:>9.1f}%{end[row, 1]:>9.1f}%"
                     f"{forgetting[row]:>10.1f} pts")
    chart = {"kind": "bars", "title": "forgetting of task A (points)",
             "series": {"with HLOP": forgetting[0], "without": forgetting[1]}}
    return Outcome(figures, lines, chart)


DEMO = Demo(
    name="continual",
    title="Continual learning without forgetting",
    paper="Xiao et al. (2024), \"Hebbian Learning based Orthogonal Projection for Continual Learning of Spiking "
          "Neural Networks\" (HLOP, ICLR)",
    teaching=(
        "One layer of synapses learns task A (1.5 s), then 6 subspace neurons join: they receive the inputs and "
        "feed back onto them through lateral weights, and spend 3 s learning, Hebbian forward and anti-Hebbian back, "
        "the principal subspace of task A's inputs (6 neurons for inputs of rank 30: only the main directions are protected), then the same synapses learn task B, whose inputs overlap A's and whose "
        "labels contradict them. Two copies run side by side: with HLOP every weight update is projected "
        "away from task A's subspace, without it the plain delta rule is used. Watch the task A accuracy of the "
        "two rows when task B starts at 4.5 s: without projection it collapses, with projection it stays while "
        "task B is learned just as well. Try selecting `hlop` during task B and setting `project` to 0.5: "
        "forgetting comes back part way."
    ),
    circuit_file="continual_hlop.json",
    build=build,
    outcome=outcome,
    dt=1.0,
    variants={"hlop.project": [1.0, 0.0]},
    rows=["with orthogonal projection", "without (plain delta rule)"],
    schedule=SCHEDULE,
    live=live,
    live_title="task accuracies (%), with HLOP vs without",
    metrics=["task A accuracy (%)", "task B accuracy (%)"],
    full_seconds=7.5,
    speed="1x real time",
)
